//! mnlink: veth links born in their nodes' namespaces, bridge ports,
//! addresses, shaping, and batches of all of these.
mod capture;
pub mod cli;
pub mod endpoint;
mod graph;
pub mod links;
mod list;
pub mod shaping;
mod stp;

use anyhow::{Result, anyhow, bail};
use clap::Parser;
use cli::{Cli, Command, GraphFormat};
use endpoint::Endpoint;
use links::Links;
use mnnode::Lab;
use nix::sys::signal::{SigSet, Signal};
use shaping::Shaping;
use std::io::BufRead;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc::{Receiver, RecvTimeoutError};

/// Runs mnlink; every error comes back as one plain sentence.
pub fn run(cli: Cli) -> Result<ExitCode> {
    run_cli(cli).map_err(|e| plain(&e))
}

fn run_cli(cli: Cli) -> Result<ExitCode> {
    if let (Some(on), Some(file)) = (&cli.on, &cli.batch) {
        return links::tunnel::batch_there(on, file);
    }
    mnnode::require_root()?;
    mnnode::limits::raise_nofile();
    let signals = Interrupts::block()?;
    if let (None, Some(Command::Capture { ends, write, filter, count })) = (&cli.batch, &cli.command) {
        let req = capture::Request {
            ends: ends.clone(),
            write: write.clone(),
            filter: filter.clone(),
            count: *count,
        };
        return capture::run(req, &signals);
    }
    let rt = mnnode::netlink::runtime()?;
    let outcome = match (cli.batch, cli.command) {
        (Some(file), _) => rt.block_on(batch(&file, &signals)),
        (None, Some(command)) => {
            let result = rt.block_on(run_one(&mut None, command, false)).map_err(|e| plain(&e));
            match (signals.taken(), result) {
                (None, result) => result.map(|()| Outcome::Done),
                (Some(sig), Ok(())) => Ok(Outcome::Interrupted(sig, "the command was done".into())),
                (Some(sig), Err(e)) => Ok(Outcome::Interrupted(sig, format!("the command failed: {e}"))),
            }
        }
        (None, None) => bail!("nothing to do: give a subcommand or -b FILE (see mnlink --help)"),
    };
    // OVS applies the run's new ports at once, before mnlink returns.
    let synced = links::sync_ovs();
    let outcome = match (outcome, synced) {
        (Ok(Outcome::Done), Err(e)) => Err(e),
        (outcome, _) => outcome,
    };
    match outcome? {
        Outcome::Done => Ok(ExitCode::SUCCESS),
        Outcome::Interrupted(sig, what) => {
            mncli::report("mnlink", &anyhow!("interrupted by {}; {what}", sig.as_str()));
            Ok(ExitCode::from(128 + sig as u8))
        }
    }
}

/// Blocks the signals [`run`] takes between lines, as early as main can.
pub fn hold_signals() {
    let _ = Interrupts::block();
}

/// How a run ended, short of an error.
enum Outcome {
    Done,
    /// Stopped by a signal once the command or line at hand was finished
    /// or undone; says which.
    Interrupted(Signal, String),
}

/// An error as one sentence: I/O and nix errors in strerror's words, with
/// neither "(os error N)" nor "EMFILE: ". A closed pipe stays recognisable.
pub fn plain(err: &anyhow::Error) -> anyhow::Error {
    if mncli::is_broken_pipe(err) {
        return anyhow!(std::io::Error::from(std::io::ErrorKind::BrokenPipe));
    }
    let parts: Vec<String> = err
        .chain()
        .map(|cause| {
            if let Some(e) = cause.downcast_ref::<std::io::Error>() {
                mncli::os_error(e)
            } else if let Some(e) = cause.downcast_ref::<nix::errno::Errno>() {
                e.desc().to_string()
            } else {
                sentence(&cause.to_string())
            }
        })
        .collect();
    anyhow!(parts.join(": "))
}

/// Text that a library formatted from an OS error, made a sentence:
/// without io's " (os error N)" and nix's "EMFILE: " before the words.
fn sentence(text: &str) -> String {
    let mut text = text.to_string();
    while let Some(start) = text.find(" (os error ") {
        match text[start..].find(')') {
            Some(end) => text.replace_range(start..start + end + 1, ""),
            None => break,
        }
    }
    if text.contains(": ") {
        for code in 1..134 {
            let errno = nix::errno::Errno::from_raw(code);
            text = text.replace(&format!("{errno:?}: {}", errno.desc()), errno.desc());
        }
    }
    text
}

/// `what: why` for an I/O error.
pub(crate) fn io(what: impl std::fmt::Display, err: &std::io::Error) -> anyhow::Error {
    mncli::io_error(what, err)
}

/// SIGINT, SIGTERM and SIGHUP, held back for the whole run so that none
/// can stop mnlink between two requests of one line (a link up but not yet
/// shaped, or not yet tagged): each is taken between lines, or after the
/// command, and ends the run there. They are blocked before any thread
/// exists, so every thread keeps them blocked, and so does tc, which
/// inherits the mask (observed: std leaves it as is): a terminal's Ctrl-C,
/// sent to the whole process group, cannot kill tc halfway through a line.
struct Interrupts(SigSet);

impl Interrupts {
    fn block() -> Result<Interrupts> {
        let mut set = SigSet::empty();
        for sig in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
            set.add(sig);
        }
        set.thread_block().map_err(|e| anyhow!("block signals: {}", e.desc()))?;
        Ok(Interrupts(set))
    }

    /// A signal that has arrived, taken; `None` when there is none.
    fn taken(&self) -> Option<Signal> {
        let zero = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: a valid set, no siginfo wanted, a valid timeout.
        let sig = unsafe { libc::sigtimedwait(self.0.as_ref(), std::ptr::null_mut(), &zero) };
        Signal::try_from(sig).ok()
    }
}

/// Runs one command, opening the lab on first need: without one, there
/// are no links to list and no node to name.
async fn run_one(links: &mut Option<Links>, command: Command, batch: bool) -> Result<()> {
    let links = match links {
        Some(links) => links,
        None => match Lab::open()? {
            Some(lab) => links.insert(if batch { Links::for_batch(lab) } else { Links::new(lab) }),
            None => {
                return match command {
                    Command::List { node: None, json, porcelain } => {
                        list::print_none(list::Format::new(json, porcelain))
                    }
                    Command::Graph { format, png, svg } => {
                        graph_print(&graph::Graph::default(), format, png, svg)
                    }
                    Command::Stp { node: None, start: None, json, porcelain, .. } => {
                        stp::print(&[], list::Format::new(json, porcelain))
                    }
                    command => Err(no_lab(&command)),
                };
            }
        },
    };
    execute(links, command).await
}

/// What a command says of its first node when there is no lab.
fn no_lab(command: &Command) -> anyhow::Error {
    let first_node = match command {
        Command::Add { a, .. }
        | Command::Del { a }
        | Command::Up { a }
        | Command::Down { a }
        | Command::Set { a, .. }
        | Command::Addr { a, .. }
        | Command::Mac { a, .. }
        | Command::Tunnel { a, .. } => Endpoint::parse(a).map(|e| e.node).unwrap_or_default(),
        Command::List { node, .. } => node.clone().unwrap_or_default(),
        Command::Stp { node, start, .. } => start.clone().or(node.clone()).unwrap_or_default(),
        Command::Graph { .. } => String::new(),
        Command::Capture { ends, .. } => {
            ends.first().and_then(|e| Endpoint::parse(e).ok()).map(|e| e.node).unwrap_or_default()
        }
    };
    mnnode::lab::no_such_node(&first_node, &mnnode::lab::dir_from_env())
}

async fn execute(links: &mut Links, command: Command) -> Result<()> {
    links.begin();
    // A command about nodes on other machines is done there (links/tunnel.rs).
    if links::tunnel::route(links, &command).await? {
        return Ok(());
    }
    match command {
        Command::Tunnel { a, peer, vni, local, remote, port, shaping, mtu } => {
            let (a, peer) = (Endpoint::parse(&a)?, Endpoint::parse(&peer)?);
            let shaping = Shaping::parse(&shaping)?;
            let mtu = mtu.as_deref().map(parse_mtu).transpose()?;
            links.tunnel_end(&a, &peer, vni, local, remote, port, &shaping, mtu).await
        }
        Command::Add { a, b, shaping, mtu } => {
            let (a, b) = (Endpoint::parse(&a)?, Endpoint::parse(&b)?);
            let shaping = Shaping::parse(&shaping)?;
            let mtu = mtu.as_deref().map(parse_mtu).transpose()?;
            links.add(&a, &b, &shaping, mtu).await
        }
        Command::Del { a } => links.del(&Endpoint::parse(&a)?).await,
        Command::Up { a } => links.set_state(&Endpoint::parse(&a)?, true).await,
        Command::Down { a } => links.set_state(&Endpoint::parse(&a)?, false).await,
        Command::Set { a, shaping } => {
            let end = Endpoint::parse(&a)?;
            links.set_shaping(&end, &Shaping::parse(&shaping)?).await
        }
        Command::Addr { a, cidr } => links.addr(&Endpoint::parse(&a)?, &cidr).await,
        Command::Mac { a, mac } => links.mac(&Endpoint::parse(&a)?, &mac).await,
        Command::List { node, json, porcelain } => {
            list::print(links, node.as_deref(), list::Format::new(json, porcelain)).await
        }
        Command::Stp { node, start, wait, timeout, json, porcelain } => {
            let switches = stp::switches(links, node.as_deref())?;
            if let Some(root) = &start {
                stp::start(links, root, &switches).await?;
            }
            let bridges = if wait {
                stp::wait(links, &switches, std::time::Duration::from_secs(timeout)).await?
            } else if start.is_some() {
                // A start says nothing (a line of mn's batch).
                return Ok(());
            } else {
                stp::read_all(links, &switches).await?
            };
            stp::print(&bridges, list::Format::new(json, porcelain))
        }
        Command::Graph { format, png, svg } => {
            if let Some((f, file)) = render_target(&png, &svg) {
                graph::check_dot(f, file)?;
            }
            let routes = render_target(&png, &svg).is_none()
                && matches!(format, GraphFormat::Json | GraphFormat::Topo);
            let graph = graph::read(links, routes).await?;
            graph_print(&graph, format, png, svg)
        }
        Command::Capture { .. } => bail!("capture cannot run in a batch"),
    }
}

fn render_target<'a>(png: &'a Option<PathBuf>, svg: &'a Option<PathBuf>) -> Option<(&'static str, &'a Path)> {
    match (png, svg) {
        (Some(file), _) => Some(("png", file)),
        (None, Some(file)) => Some(("svg", file)),
        (None, None) => None,
    }
}

/// Prints the graph, or renders it to a file with Graphviz.
fn graph_print(
    graph: &graph::Graph,
    format: cli::GraphFormat,
    png: Option<PathBuf>,
    svg: Option<PathBuf>,
) -> Result<()> {
    match render_target(&png, &svg) {
        Some((f, file)) => graph::render_file(&graph.dot(), f, file),
        None => {
            let text = graph.render(format)?;
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())?;
            out.flush()?;
            Ok(())
        }
    }
}

fn parse_mtu(text: &str) -> Result<u32> {
    match text.parse::<u32>() {
        Ok(mtu) if (68..=65535).contains(&mtu) => Ok(mtu),
        _ => bail!("--mtu {text}: not an MTU (68 to 65535)"),
    }
}

/// Runs a batch file; the first failing line stops it, and so does a
/// signal, once the line at hand is done (or, failing, undone).
///
/// The OVS ports of consecutive `add` lines are made together (see
/// Links::flush_ports): before any other line, when the input pauses, at
/// the end, on a signal and every [`PORTS_AT_ONCE`] ports.
async fn batch(file: &Path, signals: &Interrupts) -> Result<Outcome> {
    let lines = read_lines(file)?;
    let mut run = Batch { links: None, last_done: None, settled: None };
    loop {
        if let Some(sig) = signals.taken() {
            return run.stop(sig, None).await;
        }
        // Wait for the next line, watching for signals meanwhile (stdin
        // can be slow: a terminal, a pipe from a script).
        let (number, line) = match lines.recv_timeout(std::time::Duration::from_millis(20)) {
            Ok(Ok(next)) => next,
            Ok(Err(e)) => {
                run.settle().await?;
                return Err(e);
            }
            Err(RecvTimeoutError::Timeout) => {
                run.settle().await?;
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => {
                run.settle().await?;
                return Ok(Outcome::Done);
            }
        };
        let words: Vec<&str> = line.split('#').next().unwrap_or("").split_whitespace().collect();
        if words.is_empty() {
            continue;
        }
        let parsed = Cli::try_parse_from(std::iter::once("mnlink").chain(words.iter().copied()));
        if !matches!(parsed, Ok(Cli { command: Some(Command::Add { .. }), .. })) {
            if let Err(e) = run.settle().await {
                return match signals.taken() {
                    Some(sig) => run.stop(sig, Some(e)).await,
                    None => Err(e.into()),
                };
            }
        }
        let result = match parsed {
            Ok(Cli { command: Some(command), batch: None, on: None }) => {
                run_one(&mut run.links, command, true).await
            }
            Ok(_) => Err(anyhow!("a batch line holds one subcommand")),
            Err(err) => Err(anyhow!(mncli::usage_line(&err))),
        };
        let failed = match result {
            Ok(()) => {
                run.done(number);
                None
            }
            // The lines before it are done: their ports are made first.
            Err(e) => match run.settle().await {
                Ok(()) => Some(LineError { line: number, why: plain(&e).to_string() }),
                Err(earlier) => Some(earlier),
            },
        };
        if let Some(sig) = signals.taken() {
            return run.stop(sig, failed).await;
        }
        if let Some(e) = failed {
            return Err(e.into());
        }
        if run.links.as_ref().is_some_and(|l| l.pending_ports() >= PORTS_AT_ONCE) {
            run.settle().await?;
        }
    }
}

/// The most OVS ports a batch leaves waiting: a failing transaction is
/// retried line by line, which should stay short.
const PORTS_AT_ONCE: usize = 4096;

/// A batch under way: which lines are done, and which of them surely so
/// (their OVS ports made).
struct Batch {
    links: Option<Links>,
    last_done: Option<usize>,
    settled: Option<usize>,
}

impl Batch {
    fn done(&mut self, line: usize) {
        self.last_done = Some(line);
        if let Some(links) = self.links.as_mut() {
            links.ports_of_line(line);
        }
    }

    /// Makes the waiting OVS ports; if that fails, the line it names and
    /// those after it are undone, and the error names that line.
    async fn settle(&mut self) -> Result<(), LineError> {
        if let Some(Err((line, before, e))) = match self.links.as_mut() {
            Some(links) => Some(links.flush_ports().await),
            None => None,
        } {
            self.last_done = before.or(self.settled);
            self.settled = self.last_done;
            return Err(LineError { line, why: plain(&e).to_string() });
        }
        self.settled = self.last_done;
        Ok(())
    }

    /// Stops the batch for a signal, once what is done is made whole.
    async fn stop(&mut self, sig: Signal, failed: Option<LineError>) -> Result<Outcome> {
        let failed = match self.settle().await {
            Ok(()) => failed,
            Err(e) => Some(e),
        };
        let done = match self.last_done {
            Some(n) => format!("line {n} was the last done"),
            None => "no line was done".to_string(),
        };
        let what = match failed {
            Some(LineError { line, why }) => format!("line {line} failed ({why}); {done}"),
            None => done,
        };
        Ok(Outcome::Interrupted(sig, what))
    }
}

/// A batch line that failed, and why: `mnlink: line N: why`.
#[derive(Debug)]
struct LineError {
    line: usize,
    why: String,
}

impl std::fmt::Display for LineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.why)
    }
}

impl std::error::Error for LineError {}

type Line = Result<(usize, String)>;

/// The batch's lines, numbered from 1, read by a thread so that waiting
/// for them never holds back a signal. A line that is not UTF-8 ends the
/// batch with its number.
fn read_lines(file: &Path) -> Result<Receiver<Line>> {
    let mut reader: Box<dyn BufRead + Send> = if file.as_os_str() == "-" {
        Box::new(std::io::BufReader::new(std::io::stdin()))
    } else {
        let f = std::fs::File::open(file).map_err(|e| io(file.display(), &e))?;
        if f.metadata().is_ok_and(|m| m.is_dir()) {
            bail!("{}: a directory, not a batch file", file.display());
        }
        Box::new(std::io::BufReader::new(f))
    };
    let (tx, rx) = std::sync::mpsc::sync_channel::<Line>(64);
    let name = file.display().to_string();
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        for number in 1.. {
            buf.clear();
            let line = match reader.read_until(b'\n', &mut buf) {
                Ok(0) => return,
                Ok(_) => match std::str::from_utf8(&buf) {
                    Ok(text) => Ok((number, text.to_string())),
                    Err(_) => Err(anyhow!("line {number}: not UTF-8 text")),
                },
                Err(e) => Err(io(format!("{name}: read line {number}"), &e)),
            };
            let failed = line.is_err();
            if tx.send(line).is_err() || failed {
                return;
            }
        }
    });
    Ok(rx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_read_as_sentences() {
        let io = anyhow::Error::from(std::io::Error::from_raw_os_error(24)).context("open a netlink socket");
        assert_eq!(plain(&io).to_string(), "open a netlink socket: Too many open files");
        let nix = anyhow::Error::from(nix::errno::Errno::EMFILE).context("h508");
        assert_eq!(plain(&nix).to_string(), "h508: Too many open files");
        let baked = anyhow!("read the namespace cookie: {}", std::io::Error::from_raw_os_error(9));
        assert_eq!(plain(&baked).to_string(), "read the namespace cookie: Bad file descriptor");
        let baked = anyhow!("h1: {}", nix::errno::Errno::EMFILE);
        assert_eq!(plain(&baked).to_string(), "h1: Too many open files");
        let pipe = anyhow::Error::from(std::io::Error::from(std::io::ErrorKind::BrokenPipe));
        assert!(mncli::is_broken_pipe(&plain(&pipe)));
    }
}
