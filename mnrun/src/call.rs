//! One mnrun call, from finding the node to the exit status.
//!
//! Calls to one node take turns on `$MN_DIR/NODE/lock`, which also records
//! the running call (`PID TICKS`); a record left behind means its mnrun was
//! killed, and the command it left running is interrupted first. See
//! mnnode's shell module for the protocol itself.
use crate::stdio::{self, Route};
use crate::stop;
use anyhow::{Context, Result, anyhow, bail};
use mnnode::lab::{FIFO, LOCK, Lab, dir_from_env};
use mnnode::{procfs, shell};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::stat::Mode;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

/// How long an interrupted command may take to stop before SIGKILL.
const GRACE: Duration = Duration::from_secs(1);
/// How long after SIGKILL we wait for the shell before giving up.
const GIVE_UP: Duration = Duration::from_secs(5);

pub struct Request {
    pub node: String,
    pub command: Vec<u8>,
    pub no_stdin: bool,
    pub timeout: Option<Duration>,
    pub background: bool,
}

/// How the call ended.
pub enum Ending {
    Status(u8),
    Interrupted,
    TimedOut,
    /// Our stdout or stderr went away (`mnrun h1 yes | head`).
    BrokenPipe,
}

pub fn call(req: &Request) -> Result<Ending> {
    let lab =
        Lab::open()?.ok_or_else(|| anyhow!("no node named {} in {}", req.node, dir_from_env().display()))?;
    let dir = lab.node_dir(&req.node)?;
    let node = dir.record().with_context(|| format!("node {}", req.node))?;
    let not_running = || anyhow!("node {} is not running", node.name);
    if !node.is_running() {
        return Err(not_running());
    }
    let signals = Signals::new()?;
    let lock = dir.open(LOCK, OFlag::O_RDWR | OFlag::O_CREAT, Mode::S_IRUSR | Mode::S_IWUSR)?;
    if !take_turn(&lock, &signals)? {
        return Ok(Ending::Interrupted);
    }
    let orphan = read_record(&lock);
    let since = procfs::now_ticks();
    write_record(&lock, &format!("{} {since}\n", std::process::id()))?;

    // The shell as a pollable handle; re-check its identity once held.
    let shell = pidfd(node.pid).ok_or_else(not_running)?;
    if !node.is_running() {
        return Err(not_running());
    }
    let fifo = match dir.open(FIFO, OFlag::O_WRONLY | OFlag::O_NONBLOCK, Mode::empty()) {
        Ok(fd) => fd,
        Err(_) => return Err(not_running()),
    };

    let nonce = nonce()?;
    let command = memfd(&shell::command_file(&nonce, &req.command))?;
    let (status_r, status_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK).context("pipe")?;
    let me = std::process::id();
    let path = |fd: BorrowedFd| format!("/proc/{me}/fd/{}", fd.as_raw_fd());
    let (stdin, stdout, stderr) = if req.background {
        (None, None, None)
    } else {
        let stdin = if req.no_stdin {
            Route::Direct("/dev/null".into())
        } else {
            stdio::route(std::io::stdin().as_fd(), true)?
        };
        (
            Some(stdin),
            Some(stdio::route(std::io::stdout().as_fd(), false)?),
            Some(stdio::route(std::io::stderr().as_fd(), false)?),
        )
    };
    let io = match (&stdin, &stdout, &stderr) {
        (Some(i), Some(o), Some(e)) => {
            Some(shell::Stdio { stdin: i.path().into(), stdout: o.path().into(), stderr: e.path().into() })
        }
        _ => None,
    };
    let line = shell::request(&nonce, &path(command.as_fd()), &path(status_w.as_fd()), io.as_ref());

    let mut keep = vec![command, status_w];
    let mut run = Running {
        shell_pid: node.pid,
        shell,
        status: status_r,
        signals,
        stdin: relay(stdin, 0, &mut keep),
        outputs: [relay(stdout, 1, &mut keep), relay(stderr, 2, &mut keep)].into_iter().flatten().collect(),
        deadline: req.timeout.map(|t| Instant::now() + t),
        kill_from: since,
        stopping: None,
        timed_out: false,
        interrupted: false,
        broken_pipe: false,
    };
    if let Some(old) = orphan {
        // A killed mnrun's command may still run: stop it before ours.
        run.kill_from = old;
        run.stop();
    }
    write_all(&fifo, line.as_bytes()).map_err(|_| not_running())?;
    drop(fifo);
    let ended = run.wait(&node.name);
    // The shell opened these by path: they had to live until now.
    drop(keep);
    let (status, bg) = ended?;
    let _ = nix::unistd::ftruncate(&lock, 0);
    if run.broken_pipe {
        return Ok(Ending::BrokenPipe);
    }
    if run.timed_out {
        return Ok(Ending::TimedOut);
    }
    if run.interrupted {
        return Ok(Ending::Interrupted);
    }
    if req.background {
        match bg {
            Some(pid) => println!("{pid}"),
            None => bail!(
                "{}: no background job started (status {status}; see {})",
                node.name,
                dir.path.join(mnnode::lab::LOG).display()
            ),
        }
    }
    Ok(Ending::Status(status))
}

/// The signals that interrupt a command, as bytes on a pipe.
struct Signals {
    read: OwnedFd,
}

impl Signals {
    fn new() -> Result<Signals> {
        let (read, write) = nix::unistd::pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK).context("pipe")?;
        for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            let end = write.try_clone().context("dup")?;
            signal_hook::low_level::pipe::register(sig, end).context("install a signal handler")?;
        }
        Ok(Signals { read })
    }

    /// How many signals arrived since last asked.
    fn take(&self) -> usize {
        let mut buf = [0u8; 64];
        let mut n = 0;
        while let Ok(got) = nix::unistd::read(&self.read, &mut buf) {
            if got == 0 {
                break;
            }
            n += got;
        }
        n
    }
}

/// Waits for our turn on the node; false if interrupted meanwhile.
fn take_turn(lock: &OwnedFd, signals: &Signals) -> Result<bool> {
    // SAFETY: flock on a descriptor we own.
    if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
        return Ok(true);
    }
    if Errno::last() != Errno::EWOULDBLOCK {
        bail!("lock the node: {}", Errno::last().desc());
    }
    // Wait in a thread, so that Ctrl-C still works while we queue.
    let (done_r, done_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).context("pipe")?;
    let raw = lock.as_raw_fd();
    std::thread::spawn(move || {
        // SAFETY: the descriptor outlives this thread (the process exits
        // before the lock is closed, or the lock is taken first).
        unsafe { libc::flock(raw, libc::LOCK_EX) };
        let _ = nix::unistd::write(&done_w, b"x");
    });
    loop {
        let mut fds = [
            PollFd::new(done_r.as_fd(), PollFlags::POLLIN),
            PollFd::new(signals.read.as_fd(), PollFlags::POLLIN),
        ];
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => bail!("poll: {}", e.desc()),
        }
        let [done, sig] = fds.map(|f| f.revents().is_some_and(|r| !r.is_empty()));
        if done {
            return Ok(true);
        }
        if sig && signals.take() > 0 {
            return Ok(false);
        }
    }
}

fn read_record(lock: &OwnedFd) -> Option<u64> {
    let mut buf = [0u8; 64];
    let n = nix::sys::uio::pread(lock, &mut buf, 0).ok()?;
    let text = std::str::from_utf8(&buf[..n]).ok()?;
    text.split_whitespace().nth(1)?.parse().ok()
}

fn write_record(lock: &OwnedFd, record: &str) -> Result<()> {
    nix::unistd::ftruncate(lock, 0).context("write the lock record")?;
    nix::sys::uio::pwrite(lock, record.as_bytes(), 0).context("write the lock record")?;
    Ok(())
}

fn pidfd(pid: i32) -> Option<OwnedFd> {
    // SAFETY: pidfd_open returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    // SAFETY: a descriptor we just received and now own.
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

fn nonce() -> Result<String> {
    let mut bytes = [0u8; 12];
    // SAFETY: getrandom fills the buffer we own.
    let n = unsafe { libc::getrandom(bytes.as_mut_ptr().cast(), bytes.len(), 0) };
    if n != bytes.len() as isize {
        bail!("getrandom: {}", Errno::last().desc());
    }
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn memfd(content: &[u8]) -> Result<OwnedFd> {
    // SAFETY: a NUL-terminated name and valid flags.
    let fd = unsafe { libc::memfd_create(c"mnrun-command".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        bail!("memfd_create: {}", Errno::last().desc());
    }
    // SAFETY: a descriptor we just received and now own.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    write_all(&fd, content).context("write the command")?;
    Ok(fd)
}

fn write_all(fd: impl AsFd, mut bytes: &[u8]) -> nix::Result<()> {
    let fd = fd.as_fd();
    while !bytes.is_empty() {
        match nix::unistd::write(fd, bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(Errno::EINTR) => {}
            Err(Errno::EAGAIN) => {
                let mut fds = [PollFd::new(fd, PollFlags::POLLOUT)];
                poll(&mut fds, PollTimeout::NONE)?;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Our end of a relay pipe, and the standard descriptor it serves.
struct Relay {
    pipe: OwnedFd,
    fd: i32,
}

/// Splits a route into the relay we serve (if any) and the end the shell
/// opens, which must stay open until the call ends.
fn relay(route: Option<Route>, fd: i32, keep: &mut Vec<OwnedFd>) -> Option<Relay> {
    match route? {
        Route::Direct(_) => None,
        Route::Relay { read, write, .. } => {
            let (ours, theirs) = if fd == 0 { (write, read) } else { (read, write) };
            keep.push(theirs);
            Some(Relay { pipe: ours, fd })
        }
    }
}

struct Running {
    shell_pid: i32,
    shell: OwnedFd,
    status: OwnedFd,
    signals: Signals,
    stdin: Option<Relay>,
    outputs: Vec<Relay>,
    deadline: Option<Instant>,
    /// Processes started at or after this tick are the command's.
    kill_from: u64,
    /// When the current stop escalates: to SIGKILL, then to giving up.
    stopping: Option<(Instant, bool)>,
    timed_out: bool,
    interrupted: bool,
    broken_pipe: bool,
}

impl Running {
    /// Ctrl-C, the first time; SIGKILL after that.
    fn stop(&mut self) {
        match self.stopping {
            None => {
                stop::interrupt(self.shell_pid);
                self.stopping = Some((Instant::now() + GRACE, false));
            }
            Some((_, false)) => self.kill(),
            Some((_, true)) => {}
        }
    }

    fn kill(&mut self) {
        stop::kill_command(self.shell_pid, self.kill_from);
        self.stopping = Some((Instant::now() + GIVE_UP, true));
    }

    fn wait(&mut self, node: &str) -> Result<(u8, Option<i32>)> {
        let mut line = Vec::new();
        loop {
            let now = Instant::now();
            if let Some(deadline) = self.deadline.filter(|d| *d <= now) {
                let _ = deadline;
                self.deadline = None;
                self.timed_out = true;
                self.stop();
            }
            match self.stopping {
                Some((at, false)) if at <= now => self.kill(),
                Some((at, true)) if at <= now => {
                    bail!("{node}: the command would not stop; the node stays busy until it ends")
                }
                _ => {}
            }
            let wake = [self.deadline, self.stopping.map(|(at, _)| at)].into_iter().flatten().min();
            let timeout = match wake {
                Some(at) => {
                    PollTimeout::try_from(at.saturating_duration_since(now) + Duration::from_millis(1))
                        .unwrap_or(PollTimeout::MAX)
                }
                None => PollTimeout::NONE,
            };
            let mut fds = vec![
                PollFd::new(self.status.as_fd(), PollFlags::POLLIN),
                PollFd::new(self.signals.read.as_fd(), PollFlags::POLLIN),
                PollFd::new(self.shell.as_fd(), PollFlags::POLLIN),
            ];
            for relay in &self.outputs {
                fds.push(PollFd::new(relay.pipe.as_fd(), PollFlags::POLLIN));
            }
            // SAFETY: fd 0 stays open for the life of the process.
            let stdin = unsafe { BorrowedFd::borrow_raw(0) };
            if self.stdin.is_some() {
                fds.push(PollFd::new(stdin, PollFlags::POLLIN));
            }
            match poll(&mut fds, timeout) {
                Ok(_) | Err(Errno::EINTR) => {}
                Err(e) => bail!("poll: {}", e.desc()),
            }
            let ready: Vec<bool> = fds.iter().map(|f| f.revents().is_some_and(|r| !r.is_empty())).collect();
            drop(fds);
            if ready[1] && self.signals.take() > 0 {
                self.interrupted = true;
                self.stop();
            }
            let mut broken = false;
            for (i, relay) in self.outputs.iter().enumerate() {
                if ready[3 + i] {
                    broken |= copy_out(relay).is_err();
                }
            }
            if broken && !self.broken_pipe {
                self.broken_pipe = true;
                self.stop();
            }
            if self.stdin.is_some() && ready[3 + self.outputs.len()] {
                self.feed_stdin();
            }
            if ready[0] && read_status(&self.status, &mut line) {
                for relay in &self.outputs {
                    let _ = copy_out(relay);
                }
                let text = String::from_utf8_lossy(&line);
                return shell::parse_status(&text)
                    .ok_or_else(|| anyhow!("{node}: a garbled status: {text:?}"));
            }
            if ready[2] {
                for relay in &self.outputs {
                    let _ = copy_out(relay);
                }
                bail!("node {node} stopped while running the command");
            }
        }
    }

    /// Copies what is available on our stdin into the command's pipe.
    fn feed_stdin(&mut self) {
        let Some(relay) = &self.stdin else { return };
        let mut buf = [0u8; 65536];
        match nix::unistd::read(std::io::stdin(), &mut buf) {
            Ok(0) | Err(_) => self.stdin = None, // EOF: closing our end ends theirs
            Ok(n) => {
                if write_all(&relay.pipe, &buf[..n]).is_err() {
                    self.stdin = None;
                }
            }
        }
    }
}

/// Reads the status pipe; true once a whole line is in.
fn read_status(fd: &OwnedFd, line: &mut Vec<u8>) -> bool {
    let mut buf = [0u8; 64];
    while let Ok(n) = nix::unistd::read(fd, &mut buf) {
        if n == 0 {
            break;
        }
        line.extend_from_slice(&buf[..n]);
    }
    line.ends_with(b"\n")
}

/// Drains a relay pipe into our own stdout or stderr; an error when that
/// cannot be written any more.
fn copy_out(relay: &Relay) -> nix::Result<()> {
    // SAFETY: our stdout and stderr stay open for the life of the process.
    let out = unsafe { BorrowedFd::borrow_raw(relay.fd) };
    let mut buf = [0u8; 65536];
    loop {
        match nix::unistd::read(&relay.pipe, &mut buf) {
            Ok(0) | Err(Errno::EAGAIN) => return Ok(()),
            Err(Errno::EINTR) => {}
            Err(e) => return Err(e),
            Ok(n) => write_all(out, &buf[..n])?,
        }
    }
}
