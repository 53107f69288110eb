//! `mnlink capture`: packets of one or more interfaces as pcapng.
//!
//! One tcpdump per interface, started in the interface's network namespace
//! (libpcap compiles the BPF filter and says what is wrong with a bad one),
//! writing classic pcap into a pipe of ours; we merge the streams in time
//! order into one pcapng section, one interface block per endpoint, named.
//! The tcpdumps are ours alone: a process group of their own (a terminal's
//! Ctrl-C reaches only mnlink, which stops them in order), killed with
//! mnlink if it dies (PR_SET_PDEATHSIG), stopped by pid and waited for.
use crate::Interrupts;
use crate::endpoint::Endpoint;
use crate::links::Links;
use anyhow::{Result, anyhow, bail};
use mnnode::Lab;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::time::{Duration, Instant, SystemTime};

/// How long a packet waits for a possibly earlier one from another
/// interface before it is written: the streams arrive a little apart.
const HOLD: Duration = Duration::from_millis(200);
/// How long tcpdump may take to start listening (a loaded machine).
const START: Duration = Duration::from_secs(30);

pub struct Request {
    pub ends: Vec<String>,
    pub write: PathBuf,
    pub filter: Option<String>,
    pub count: Option<u64>,
}

/// What the readers of the tcpdumps report.
enum Event {
    /// tcpdump's stderr: a line.
    Line(usize, String),
    /// The pcap header: link type, snap length.
    Header(usize, u16, u32),
    Packet(Packet),
    /// The pcap stream ended (tcpdump exited or closed it).
    End(usize),
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Packet {
    ns: u64,
    seq: u64,
    iface: usize,
    orig_len: u32,
    data: Vec<u8>,
}

pub fn run(req: Request, signals: &Interrupts) -> Result<ExitCode> {
    let mut ends: Vec<Endpoint> = Vec::new();
    for text in &req.ends {
        let end = Endpoint::parse(text)?;
        if !ends.contains(&end) {
            ends.push(end);
        }
    }
    let count = req.count;
    if count == Some(0) {
        bail!("-c 0: not a packet count (1 or more)");
    }
    let tcpdump =
        find_program("tcpdump").ok_or_else(|| anyhow!("tcpdump not found (Debian package: tcpdump)"))?;
    // Every endpoint checked before anything starts.
    let rt = mnnode::netlink::runtime()?;
    let namespaces: Vec<Option<OwnedFd>> = rt.block_on(async {
        let lab = Lab::open()?
            .ok_or_else(|| mnnode::lab::no_such_node(&ends[0].node, &mnnode::lab::dir_from_env()))?;
        let mut links = Links::new(lab);
        let mut found = Vec::new();
        for end in &ends {
            found.push(links.capture_netns(end).await?);
        }
        Ok::<_, anyhow::Error>(found)
    })?;
    drop(rt);
    let mut output = Output::open(&req.write)?;
    let (tx, rx) = channel();
    let mut dumps: Vec<Dump> = Vec::new();
    for (i, (end, ns)) in ends.iter().zip(&namespaces).enumerate() {
        match Dump::start(i, &tcpdump, end, ns.as_ref(), req.filter.as_deref(), &tx) {
            Ok(d) => dumps.push(d),
            Err(e) => {
                stop(&mut dumps);
                output.discard();
                return Err(e);
            }
        }
    }
    drop(tx);
    drop(namespaces);
    let early = match wait_listening(&rx, &ends, req.filter.as_deref(), signals) {
        Ok(early) => early,
        Err(e) => {
            stop(&mut dumps);
            output.discard();
            return Err(e);
        }
    };
    let names: Vec<String> = ends.iter().map(|e| e.to_string()).collect();
    eprintln!("capturing on {}", names.join(" "));
    let result = merge(&mut output, &rx, early, &ends, count, signals, &mut dumps);
    stop(&mut dumps);
    // What the tcpdumps flushed as they ended, then everything in order.
    let written = result.and_then(|mut merger| {
        let deadline = Instant::now() + Duration::from_secs(5);
        while merger.ended < ends.len() {
            match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(event) => merger.take(event),
                Err(_) => break,
            }
        }
        merger.flush_all(&mut output)?;
        output.flush()?;
        Ok(merger.written)
    });
    let written = written.map_err(|e| crate::plain(&e))?;
    eprintln!("{written} packets captured");
    Ok(ExitCode::SUCCESS)
}

/// Waits until every tcpdump listens; the first one that fails says why.
/// Returns the stream events that came meanwhile (pcap headers).
fn wait_listening(
    rx: &Receiver<Event>,
    ends: &[Endpoint],
    filter: Option<&str>,
    signals: &Interrupts,
) -> Result<Vec<Event>> {
    let mut early = Vec::new();
    let mut listening = vec![false; ends.len()];
    let mut said: Vec<Option<String>> = vec![None; ends.len()];
    let deadline = Instant::now() + START;
    while listening.iter().any(|l| !l) {
        if let Some(sig) = signals.taken() {
            bail!("interrupted by {} before the capture started", sig.as_str());
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            bail!("tcpdump did not start listening within {}s", START.as_secs());
        }
        match rx.recv_timeout(left.min(Duration::from_millis(50))) {
            Ok(Event::Line(i, line)) => {
                if line.contains("listening on ") {
                    listening[i] = true;
                } else if said[i].is_none() && !line.trim().is_empty() {
                    said[i] = Some(line);
                }
            }
            Ok(Event::End(i)) if !listening[i] => {
                // Its last words come on the other pipe: give them a moment.
                let until = Instant::now() + Duration::from_millis(500);
                while said[i].is_none() && Instant::now() < until {
                    if let Ok(Event::Line(j, line)) = rx.recv_timeout(Duration::from_millis(50)) {
                        if said[j].is_none() && !line.trim().is_empty() {
                            said[j] = Some(line);
                        }
                    }
                }
                let why = said[i].take().unwrap_or_else(|| "tcpdump exited".into());
                let why = why.trim().trim_start_matches("tcpdump: ").to_string();
                if why.contains("filter expression") || why.contains("syntax error") {
                    bail!("-f {:?}: {why}", filter.unwrap_or(""));
                }
                bail!("{}: tcpdump: {why}", ends[i]);
            }
            Ok(event) => early.push(event),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => bail!("tcpdump ended before it listened"),
        }
    }
    Ok(early)
}

/// The merge: packets held back for [`HOLD`], then written in time order.
struct Merger<'a> {
    ends: &'a [Endpoint],
    heap: BinaryHeap<Reverse<Packet>>,
    /// The pcapng interface id of each tcpdump, once its header came.
    ids: Vec<Option<u32>>,
    headers: Vec<(usize, u16, u32)>,
    next_id: u32,
    seq: u64,
    received: u64,
    written: u64,
    count: Option<u64>,
    ended: usize,
}

impl Merger<'_> {
    fn take(&mut self, event: Event) {
        match event {
            Event::Header(i, linktype, snaplen) => self.headers.push((i, linktype, snaplen)),
            Event::Packet(mut p) => {
                self.seq += 1;
                p.seq = self.seq;
                self.received += 1;
                self.heap.push(Reverse(p));
            }
            Event::End(_) => self.ended += 1,
            Event::Line(..) => {}
        }
    }

    /// Writes the interface blocks that arrived, and the packets older
    /// than `before` (all of them for `None`).
    fn flush(&mut self, out: &mut Output, before: Option<u64>) -> Result<()> {
        for (i, linktype, snaplen) in self.headers.drain(..) {
            let end = &self.ends[i];
            out.write(&idb(
                linktype,
                snaplen,
                &end.to_string(),
                &format!("{} in node {}", end.ifname, end.node),
            ))?;
            self.ids[i] = Some(self.next_id);
            self.next_id += 1;
        }
        while let Some(Reverse(p)) = self.heap.peek() {
            if before.is_some_and(|b| p.ns > b) || self.count.is_some_and(|c| self.written >= c) {
                break;
            }
            let Some(Reverse(p)) = self.heap.pop() else { break };
            let Some(id) = self.ids[p.iface] else { continue };
            out.write(&epb(id, p.ns, &p.data, p.orig_len))?;
            self.written += 1;
        }
        Ok(())
    }

    fn flush_all(&mut self, out: &mut Output) -> Result<()> {
        self.flush(out, None)
    }
}

fn merge<'a>(
    out: &mut Output,
    rx: &Receiver<Event>,
    early: Vec<Event>,
    ends: &'a [Endpoint],
    count: Option<u64>,
    signals: &Interrupts,
    dumps: &mut [Dump],
) -> Result<Merger<'a>> {
    let mut m = Merger {
        ends,
        heap: BinaryHeap::new(),
        ids: vec![None; ends.len()],
        headers: Vec::new(),
        next_id: 0,
        seq: 0,
        received: 0,
        written: 0,
        count,
        ended: 0,
    };
    for event in early {
        m.take(event);
    }
    out.write(&shb())?;
    out.flush()?;
    loop {
        if signals.taken().is_some() || count.is_some_and(|c| m.received >= c) || m.ended == ends.len() {
            return Ok(m);
        }
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(event) => m.take(event),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return Ok(m),
        }
        let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
        let before = m.written;
        m.flush(out, Some(now.saturating_sub(HOLD.as_nanos() as u64)))?;
        if m.written != before || !m.headers.is_empty() {
            out.flush()?;
        }
        // A tcpdump that died on its own (its interface deleted) ends the
        // capture when it was the last.
        for d in dumps.iter_mut() {
            d.reap();
        }
    }
}

/// One tcpdump of ours.
struct Dump {
    child: Option<Child>,
}

impl Dump {
    fn start(
        i: usize,
        tcpdump: &Path,
        end: &Endpoint,
        ns: Option<&OwnedFd>,
        filter: Option<&str>,
        tx: &Sender<Event>,
    ) -> Result<Dump> {
        let mut cmd = Command::new(tcpdump);
        cmd.args(["-i", &end.ifname, "-w", "-", "-U", "-n", "--immediate-mode"]).args([
            "--time-stamp-precision=nano",
            "-s",
            "262144",
        ]);
        if let Some(f) = filter {
            cmd.arg("--").arg(f);
        }
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let ns_fd = ns.map(|n| n.as_raw_fd());
        // SAFETY: between fork and exec only async-signal-safe calls.
        let parent = unsafe { libc::getpid() };
        unsafe {
            cmd.pre_exec(move || {
                // Ours alone: no terminal's Ctrl-C, and gone with mnlink.
                libc::setpgid(0, 0);
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 || libc::getppid() != parent {
                    libc::_exit(1);
                }
                if let Some(fd) = ns_fd {
                    if libc::setns(fd, libc::CLONE_NEWNET) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                let mut none: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut none);
                libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
                libc::signal(libc::SIGPIPE, libc::SIG_DFL);
                Ok(())
            });
        }
        let mut child = cmd.spawn().map_err(|e| crate::io(format!("{end}: run tcpdump"), &e))?;
        let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            bail!("{end}: tcpdump's pipes are missing");
        };
        let lines = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if lines.send(Event::Line(i, line)).is_err() {
                    break;
                }
            }
        });
        let packets = tx.clone();
        std::thread::spawn(move || {
            read_pcap(i, stdout, &packets);
            let _ = packets.send(Event::End(i));
        });
        Ok(Dump { child: Some(child) })
    }

    /// Collects a tcpdump that has exited by itself.
    fn reap(&mut self) {
        if let Some(child) = &mut self.child {
            if matches!(child.try_wait(), Ok(Some(_))) {
                self.child = None;
            }
        }
    }
}

/// Stops every tcpdump by its pid (SIGTERM: it writes what it holds and
/// exits), killing one that lingers, and waits for each.
fn stop(dumps: &mut [Dump]) {
    for d in dumps.iter() {
        if let Some(child) = &d.child {
            // SAFETY: a child of ours, not yet waited for.
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        }
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    for d in dumps.iter_mut() {
        let Some(mut child) = d.child.take() else { continue };
        loop {
            match child.try_wait() {
                Ok(Some(_)) | Err(_) => break,
                Ok(None) if Instant::now() > deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    }
}

/// Reads one classic pcap stream (as tcpdump -w - writes it, in this
/// machine's byte order, or swapped) into events, up to its end.
fn read_pcap(i: usize, pipe: impl Read, tx: &Sender<Event>) {
    let mut r = BufReader::new(pipe);
    let mut head = [0u8; 24];
    if r.read_exact(&mut head).is_err() {
        return;
    }
    let magic = u32::from_ne_bytes([head[0], head[1], head[2], head[3]]);
    let (swapped, nanos) = match magic {
        0xa1b2_c3d4 => (false, false),
        0xa1b2_3c4d => (false, true),
        0xd4c3_b2a1 => (true, false),
        0x4d3c_b2a1 => (true, true),
        _ => return,
    };
    let word = |b: &[u8]| {
        let w = u32::from_ne_bytes([b[0], b[1], b[2], b[3]]);
        if swapped { w.swap_bytes() } else { w }
    };
    let snaplen = word(&head[16..20]);
    let linktype = (word(&head[20..24]) & 0xffff) as u16;
    if tx.send(Event::Header(i, linktype, snaplen)).is_err() {
        return;
    }
    let mut rec = [0u8; 16];
    while r.read_exact(&mut rec).is_ok() {
        let (sec, frac, incl, orig) =
            (word(&rec[0..4]), word(&rec[4..8]), word(&rec[8..12]), word(&rec[12..16]));
        if incl > 0x0400_0000 {
            return;
        }
        let mut data = vec![0u8; incl as usize];
        if r.read_exact(&mut data).is_err() {
            return;
        }
        let ns = u64::from(sec) * 1_000_000_000 + u64::from(frac) * if nanos { 1 } else { 1000 };
        if tx.send(Event::Packet(Packet { ns, seq: 0, iface: i, orig_len: orig, data })).is_err() {
            return;
        }
    }
}

/// Where the pcapng goes. A file is made (or kept) before any capture
/// starts, emptied only once they all listen, and removed again if it was
/// new and the capture never started.
enum Output {
    Stdout(std::io::Stdout),
    File { file: std::io::BufWriter<File>, path: PathBuf, created: bool, started: bool },
}

impl Output {
    fn open(path: &Path) -> Result<Output> {
        if path.as_os_str() == "-" {
            use std::io::IsTerminal;
            if std::io::stdout().is_terminal() {
                bail!("stdout is a terminal: give -w FILE, or pipe into tcpdump -r - or wireshark -k -i -");
            }
            return Ok(Output::Stdout(std::io::stdout()));
        }
        let what = || format!("-w {}", path.display());
        let (file, created) = match OpenOptions::new().write(true).create_new(true).open(path) {
            Ok(f) => (f, true),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                match OpenOptions::new().write(true).open(path) {
                    Ok(f) => (f, false),
                    Err(e) => return Err(crate::io(what(), &e)),
                }
            }
            Err(e) => return Err(crate::io(what(), &e)),
        };
        if !file.metadata().is_ok_and(|m| m.is_file()) {
            bail!("{}: not a regular file", what());
        }
        let file = std::io::BufWriter::new(file);
        Ok(Output::File { file, path: path.to_path_buf(), created, started: false })
    }

    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        let result = match self {
            Output::Stdout(out) => out.lock().write_all(bytes),
            Output::File { file, started, .. } => {
                if !*started {
                    *started = true;
                    file.get_ref().set_len(0).map_err(|e| crate::io("empty the file", &e))?;
                }
                file.write_all(bytes)
            }
        };
        result.map_err(|e| self.error(&e))
    }

    fn flush(&mut self) -> Result<()> {
        let result = match self {
            Output::Stdout(out) => out.lock().flush(),
            Output::File { file, .. } => file.flush(),
        };
        result.map_err(|e| self.error(&e))
    }

    fn error(&self, e: &std::io::Error) -> anyhow::Error {
        match self {
            _ if e.kind() == std::io::ErrorKind::BrokenPipe => {
                anyhow::Error::from(std::io::Error::from(e.kind()))
            }
            Output::Stdout(_) => crate::io("write to stdout", e),
            Output::File { path, .. } => crate::io(path.display(), e),
        }
    }

    /// A capture that never started leaves no new file behind.
    fn discard(&mut self) {
        if let Output::File { path, created: true, started: false, .. } = self {
            let _ = std::fs::remove_file(&*path);
        }
    }
}

fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(name)).find(|p| p.is_file())
}

// --- pcapng (https://www.ietf.org/archive/id/draft-ietf-opsawg-pcapng) ---

fn block(kind: u32, body: &[u8]) -> Vec<u8> {
    let len = (12 + body.len()) as u32;
    let mut b = Vec::with_capacity(len as usize);
    b.extend(kind.to_ne_bytes());
    b.extend(len.to_ne_bytes());
    b.extend(body);
    b.extend(len.to_ne_bytes());
    b
}

fn option(b: &mut Vec<u8>, code: u16, value: &[u8]) {
    b.extend(code.to_ne_bytes());
    b.extend((value.len() as u16).to_ne_bytes());
    b.extend(value);
    b.resize(b.len().next_multiple_of(4), 0);
}

fn end_of_options(b: &mut Vec<u8>) {
    b.extend([0u8; 4]);
}

/// The section header: this machine's byte order, length unknown.
fn shb() -> Vec<u8> {
    let mut b = Vec::new();
    b.extend(0x1a2b_3c4du32.to_ne_bytes());
    b.extend(1u16.to_ne_bytes());
    b.extend(0u16.to_ne_bytes());
    b.extend(u64::MAX.to_ne_bytes());
    option(&mut b, 4, b"mnlink capture");
    end_of_options(&mut b);
    block(0x0a0d_0d0a, &b)
}

/// An interface: its name and description, nanosecond timestamps.
fn idb(linktype: u16, snaplen: u32, name: &str, description: &str) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend(linktype.to_ne_bytes());
    b.extend(0u16.to_ne_bytes());
    b.extend(snaplen.to_ne_bytes());
    option(&mut b, 2, name.as_bytes());
    option(&mut b, 3, description.as_bytes());
    option(&mut b, 9, &[9]);
    end_of_options(&mut b);
    block(1, &b)
}

/// An enhanced packet block.
fn epb(iface: u32, ns: u64, data: &[u8], orig_len: u32) -> Vec<u8> {
    let mut b = Vec::with_capacity(20 + data.len() + 3);
    b.extend(iface.to_ne_bytes());
    b.extend(((ns >> 32) as u32).to_ne_bytes());
    b.extend((ns as u32).to_ne_bytes());
    b.extend((data.len() as u32).to_ne_bytes());
    b.extend(orig_len.to_ne_bytes());
    b.extend(data);
    b.resize(b.len().next_multiple_of(4), 0);
    block(6, &b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_padded_and_framed() {
        let e = epb(1, (7u64 << 32) | 5, &[1, 2, 3], 60);
        assert_eq!(e.len(), 12 + 20 + 4);
        assert_eq!(&e[4..8], &(36u32).to_ne_bytes());
        assert_eq!(&e[e.len() - 4..], &(36u32).to_ne_bytes());
        assert_eq!(&e[12..16], &(7u32).to_ne_bytes());
        let i = idb(1, 262_144, "h1-eth0", "h1-eth0 in node h1");
        assert_eq!(i.len() % 4, 0);
        assert!(i.windows(7).any(|w| w == b"h1-eth0"));
        assert_eq!(shb().len() % 4, 0);
    }
}
