//! One mnrun call, from finding the node to the exit status.
//!
//! Calls to one node take turns on `$MN_DIR/NODE/lock`, which also records
//! the command the shell is running for the holder (`PID TICKS`, cleared
//! when its status comes back). A record found by the next holder means an
//! mnrun was killed mid-command: the command it left is interrupted, and
//! the shell seen idle, before the new command is sent. See mnnode's shell
//! module for the protocol itself.
use crate::stdio::{self, Route};
use crate::stop;
use anyhow::{Context, Result, anyhow, bail};
use mnnode::lab::{FIFO, LOCK, Lab};
use mnnode::{Node, procfs, shell};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::stat::Mode;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

/// How long an interrupted command may take to stop before SIGKILL.
const GRACE: Duration = Duration::from_secs(1);
/// How long after SIGKILL we wait for the shell before giving up.
const GIVE_UP: Duration = Duration::from_secs(5);
/// How often an interrupt is followed up until the command ends.
const RECHECK: Duration = Duration::from_millis(20);

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
    let lab = Lab::open_for(&req.node)?;
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
    // The shell as a pollable handle; its identity re-checked once held.
    let shell = pidfd(node.pid).ok_or_else(not_running)?;
    if !node.is_running() {
        return Err(not_running());
    }
    let fifo =
        dir.open(FIFO, OFlag::O_WRONLY | OFlag::O_NONBLOCK, Mode::empty()).map_err(|_| not_running())?;
    let mut channel = Channel { node: &node, shell, fifo, lock, signals };

    if let Some(left) = read_record(&channel.lock) {
        let idle = Request {
            node: req.node.clone(),
            command: Vec::new(),
            no_stdin: true,
            timeout: None,
            background: false,
        };
        let exchange = channel.exchange(&idle, Some(left))?;
        if exchange.interrupted {
            return Ok(Ending::Interrupted);
        }
    }
    let exchange = channel.exchange(req, None)?;
    Ok(if exchange.broken_pipe {
        Ending::BrokenPipe
    } else if exchange.timed_out {
        Ending::TimedOut
    } else if exchange.interrupted {
        Ending::Interrupted
    } else {
        if req.background {
            match exchange.background_pid {
                Some(pid) => {
                    if let Err(err) = writeln!(std::io::stdout(), "{pid}") {
                        if err.kind() == std::io::ErrorKind::BrokenPipe {
                            return Ok(Ending::BrokenPipe);
                        }
                        return Err(err).context("write the job's pid");
                    }
                }
                None => bail!(
                    "{}: no background job started (status {}; see {})",
                    node.name,
                    exchange.status,
                    dir.path.join(mnnode::lab::LOG).display()
                ),
            }
        }
        Ending::Status(exchange.status)
    })
}

/// What a call holds while it has its turn on the node.
struct Channel<'a> {
    node: &'a Node,
    shell: OwnedFd,
    fifo: OwnedFd,
    lock: OwnedFd,
    signals: Signals,
}

/// How one request ended.
struct Exchange {
    status: u8,
    background_pid: Option<i32>,
    interrupted: bool,
    timed_out: bool,
    broken_pipe: bool,
}

impl Channel<'_> {
    /// Sends one request and waits for its status. With `left` (the start
    /// of a command a killed mnrun left running), that command is
    /// interrupted first.
    fn exchange(&mut self, req: &Request, left: Option<u64>) -> Result<Exchange> {
        let nonce = nonce()?;
        let command = memfd(&shell::command_file(&nonce, &req.command))?;
        let (status_r, status_w) =
            nix::unistd::pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK).context("pipe")?;
        // The shell opens these by path: they must live until the status.
        let mut keep = Vec::new();
        let (stdin, outputs, io) = if req.background {
            (None, Vec::new(), None)
        } else {
            let stdin = if req.no_stdin {
                Route::Direct("/dev/null".into())
            } else {
                stdio::route(std::io::stdin().as_fd(), true)?
            };
            let stdout = stdio::route(std::io::stdout().as_fd(), false)?;
            let stderr = stdio::route(std::io::stderr().as_fd(), false)?;
            let io = shell::Stdio {
                stdin: stdin.path().into(),
                stdout: stdout.path().into(),
                stderr: stderr.path().into(),
            };
            let outputs =
                [relay(stdout, 1, &mut keep), relay(stderr, 2, &mut keep)].into_iter().flatten().collect();
            (relay(stdin, 0, &mut keep), outputs, Some(io))
        };
        let line = shell::request(
            &nonce,
            &stdio::proc_path(command.as_raw_fd()),
            &stdio::proc_path(status_w.as_raw_fd()),
            io.as_ref(),
        );
        keep.extend([command, status_w]);

        let since = left.unwrap_or_else(procfs::now_ticks);
        // A command left by a killed mnrun is known only by its start.
        let spare = if left.is_some() { None } else { mnnode::procfs::children(self.node.pid) };
        let target = stop::Target { shell: self.node.pid, since, spare };
        let stopping = if left.is_some() {
            // The shell itself is left alone unless it stays busy: idle, a
            // SIGINT could cut short the line we are about to send.
            target.interrupt_processes();
            Stopping::Orphan(Instant::now() + GRACE)
        } else {
            Stopping::No
        };
        let mut run = Running {
            target,
            deadline: req.timeout.map(|t| Instant::now() + t),
            stopping,
            acked: false,
            last: stop::Interrupt::default(),
            recheck: Instant::now(),
            stdin,
            pending: Vec::new(),
            outputs,
            exchange: Exchange {
                status: 0,
                background_pid: None,
                interrupted: false,
                timed_out: false,
                broken_pipe: false,
            },
        };
        // Should we die from here on, the next caller finds this record.
        write_record(&self.lock, &format!("{} {since}\n", std::process::id()))?;
        write_all(&self.fifo, line.as_bytes())
            .map_err(|_| anyhow!("node {} is not running", self.node.name))?;
        match run.wait(self, &status_r)? {
            Some((status, background_pid)) => {
                let _ = nix::unistd::ftruncate(&self.lock, 0);
                run.exchange.status = status;
                run.exchange.background_pid = background_pid;
            }
            // Abandoned: the record stays for the next caller to settle.
            None => run.exchange.interrupted = true,
        }
        drop(keep);
        Ok(run.exchange)
    }
}

/// The signals that interrupt a command, as bytes on a pipe.
struct Signals {
    read: OwnedFd,
}

impl Signals {
    fn new() -> Result<Signals> {
        let (read, write) = nix::unistd::pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK).context("pipe")?;
        for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            // Ignored when we started (`nohup`, a script's `&` job): the
            // caller wants us to outlive it, and it stays ignored, as ssh does.
            if ignored(sig) {
                continue;
            }
            let end = write.try_clone().context("dup")?;
            signal_hook::low_level::pipe::register(sig, end).context("install a signal handler")?;
        }
        Ok(Signals { read })
    }

    /// How many signals arrived since last asked.
    fn take(&self) -> usize {
        let mut buf = [0u8; 64];
        let mut n = 0;
        while let Ok(got @ 1..) = nix::unistd::read(&self.read, &mut buf) {
            n += got;
        }
        n
    }
}

fn ignored(sig: i32) -> bool {
    let mut old = std::mem::MaybeUninit::<libc::sigaction>::zeroed();
    // SAFETY: with no new action, sigaction only fills in the current one.
    let rc = unsafe { libc::sigaction(sig, std::ptr::null(), old.as_mut_ptr()) };
    // SAFETY: zeroed, then filled by sigaction when it succeeded.
    rc == 0 && unsafe { old.assume_init() }.sa_sigaction == libc::SIG_IGN
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
    // Wait in a thread, so that Ctrl-C still works while we queue. The
    // thread's descriptor shares the lock's open file: the lock it takes
    // is ours, and it goes when the process does.
    let (done_r, done_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).context("pipe")?;
    let theirs = lock.try_clone().context("dup")?;
    std::thread::spawn(move || {
        // SAFETY: flock on a descriptor this thread owns.
        unsafe { libc::flock(theirs.as_raw_fd(), libc::LOCK_EX) };
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
    // Written over the old record, then cut to length: never seen empty.
    nix::sys::uio::pwrite(lock, record.as_bytes(), 0).context("write the lock record")?;
    nix::unistd::ftruncate(lock, record.len() as i64).context("write the lock record")?;
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

/// Writes everything, waiting when the descriptor is non-blocking and full.
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
fn relay(route: Route, fd: i32, keep: &mut Vec<OwnedFd>) -> Option<Relay> {
    match route {
        Route::Direct(_) => None,
        Route::Relay { read, write, .. } => {
            let (ours, theirs) = if fd == 0 { (write, read) } else { (read, write) };
            keep.push(theirs);
            Some(Relay { pipe: ours, fd })
        }
    }
}

/// Where stopping the command stands.
#[derive(Clone, Copy, PartialEq)]
enum Stopping {
    No,
    /// Asked for before the shell acknowledged the request: held back until
    /// it does, as a SIGINT while the shell reads would cut the line.
    Held,
    /// A killed mnrun's command was sent SIGINT; the shell too if the
    /// request is not acknowledged by then.
    Orphan(Instant),
    /// SIGINT sent; SIGKILL follows at this instant.
    Interrupted(Instant),
    /// SIGKILL sent; we give up waiting at this instant.
    Killed(Instant),
}

/// How much output one wakeup copies, so that a command writing without
/// pause cannot keep mnrun from its signals and status.
const COPY_BUDGET: usize = 16 * 65536;

/// A request in flight.
struct Running {
    /// The command's processes, for interrupts.
    target: stop::Target,
    deadline: Option<Instant>,
    stopping: Stopping,
    /// Whether the shell has read the request line whole.
    acked: bool,
    /// The last interrupt, to follow up, and when to.
    last: stop::Interrupt,
    recheck: Instant,
    stdin: Option<Relay>,
    /// Read from our stdin, not yet taken by the command.
    pending: Vec<u8>,
    outputs: Vec<Relay>,
    exchange: Exchange,
}

/// What a wakeup decided.
enum Next {
    Wait,
    Status(u8, Option<i32>),
    /// Stop waiting and leave the command to the next caller.
    Abandon,
}

impl Running {
    /// Ctrl-C the first time (once the shell has the request), SIGKILL the
    /// second. `user` tells a signal from us from a timeout or a broken pipe.
    fn stop(&mut self, user: bool) -> Next {
        match self.stopping {
            Stopping::No if !self.acked => self.stopping = Stopping::Held,
            Stopping::No => self.interrupt(),
            // Twice before the shell even answered: do not wait for it.
            Stopping::Held if user => return Next::Abandon,
            Stopping::Orphan(_) if user => return Next::Abandon,
            Stopping::Interrupted(_) => self.kill(),
            Stopping::Held | Stopping::Orphan(_) | Stopping::Killed(_) => {}
        }
        Next::Wait
    }

    fn interrupt(&mut self) {
        self.last = self.target.interrupt();
        self.recheck = Instant::now() + RECHECK;
        self.stopping = Stopping::Interrupted(Instant::now() + GRACE);
    }

    /// Sees that the interrupt takes; the deadline for SIGKILL stays. Not
    /// more often than RECHECK: bash has a moment, as it starts waiting for
    /// a child, where a SIGINT sends it into an endless loop of raising
    /// SIGINT at itself; each SIGINT more is another chance to hit it.
    fn follow_up(&mut self, now: Instant) {
        if self.signalled() && now >= self.recheck {
            if let Some(again) = self.target.follow_up(&self.last) {
                self.last = again;
            }
            self.recheck = Instant::now() + RECHECK;
        }
    }

    /// Whether the command has been sent SIGINT (or SIGKILL since).
    fn signalled(&self) -> bool {
        matches!(self.stopping, Stopping::Interrupted(_) | Stopping::Killed(_))
    }

    fn kill(&mut self) {
        self.target.kill();
        self.stopping = Stopping::Killed(Instant::now() + GIVE_UP);
    }

    /// Once an interrupted command's status is in, sees the processes the
    /// shell left behind end too: followed up, then killed after the grace.
    fn settle(&self) {
        if !self.signalled() {
            return;
        }
        let grace = Instant::now() + GRACE;
        let mut kill = false;
        while self.target.left_behind(&self.last, kill) {
            let now = Instant::now();
            if now >= grace + GRACE {
                break; // unkillable (a process in the D state): leave it
            }
            kill = now >= grace;
            std::thread::sleep(RECHECK);
        }
    }

    /// When the current stop escalates.
    fn escalation(&self) -> Option<Instant> {
        match self.stopping {
            Stopping::Orphan(at) | Stopping::Interrupted(at) | Stopping::Killed(at) => Some(at),
            Stopping::No | Stopping::Held => None,
        }
    }

    /// Relays until the status arrives and returns it; None if abandoned.
    fn wait(&mut self, channel: &Channel, status: &OwnedFd) -> Result<Option<(u8, Option<i32>)>> {
        let node = &channel.node.name;
        let mut line = Vec::new();
        loop {
            let now = Instant::now();
            if self.deadline.is_some_and(|d| d <= now) {
                self.deadline = None;
                self.exchange.timed_out = true;
                self.stop(false);
            }
            match self.stopping {
                Stopping::Orphan(at) | Stopping::Interrupted(at) if at <= now => {
                    if let Stopping::Orphan(_) = self.stopping {
                        self.interrupt();
                    } else {
                        self.kill();
                    }
                }
                Stopping::Killed(at) if at <= now => {
                    bail!("{node}: the command would not stop; the node stays busy until it ends")
                }
                _ => {}
            }
            self.follow_up(now);
            let recheck = self.signalled().then_some(self.recheck);
            let wake = [self.deadline, self.escalation(), recheck].into_iter().flatten().min();
            let timeout = match wake {
                Some(at) => {
                    PollTimeout::try_from(at.saturating_duration_since(now) + Duration::from_millis(1))
                        .unwrap_or(PollTimeout::MAX)
                }
                None => PollTimeout::NONE,
            };
            match self.wake(channel, status, &mut line, timeout)? {
                Next::Wait => {}
                Next::Status(rc, bg) => {
                    self.settle();
                    return Ok(Some((rc, bg)));
                }
                Next::Abandon => return Ok(None),
            }
        }
    }

    /// Waits once for something to happen, and handles it.
    fn wake(
        &mut self,
        channel: &Channel,
        status: &OwnedFd,
        line: &mut Vec<u8>,
        timeout: PollTimeout,
    ) -> Result<Next> {
        let node = &channel.node.name;
        let mut fds = vec![
            PollFd::new(status.as_fd(), PollFlags::POLLIN),
            PollFd::new(channel.signals.read.as_fd(), PollFlags::POLLIN),
            PollFd::new(channel.shell.as_fd(), PollFlags::POLLIN),
        ];
        for relay in &self.outputs {
            fds.push(PollFd::new(relay.pipe.as_fd(), PollFlags::POLLIN));
        }
        // Our stdin is read only once the command has taken the last of
        // it: nothing waits on a full pipe inside this loop.
        // SAFETY: fd 0 stays open for the life of the process.
        let our_stdin = unsafe { BorrowedFd::borrow_raw(0) };
        let feeding = match &self.stdin {
            Some(relay) if !self.pending.is_empty() => {
                Some(PollFd::new(relay.pipe.as_fd(), PollFlags::POLLOUT))
            }
            Some(_) => Some(PollFd::new(our_stdin, PollFlags::POLLIN)),
            None => None,
        };
        fds.extend(feeding);
        match poll(&mut fds, timeout) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => bail!("poll: {}", e.desc()),
        }
        let ready: Vec<bool> = fds.iter().map(|f| f.revents().is_some_and(|r| !r.is_empty())).collect();
        drop(fds);
        if ready[1] && channel.signals.take() > 0 {
            self.exchange.interrupted = true;
            if let Next::Abandon = self.stop(true) {
                return Ok(Next::Abandon);
            }
        }
        let mut broken = false;
        for (i, relay) in self.outputs.iter().enumerate() {
            if ready[3 + i] {
                broken |= copy_out(relay, COPY_BUDGET).is_err();
            }
        }
        if broken && !self.exchange.broken_pipe {
            self.exchange.broken_pipe = true;
            self.stop(false);
        }
        if self.stdin.is_some() && ready[3 + self.outputs.len()] {
            self.feed_stdin();
        }
        if ready[0] {
            let complete = read_status(status, line);
            if !self.acked && line.starts_with(shell::ACK.as_bytes()) {
                self.acked = true;
                match self.stopping {
                    // (Not when the status came along: the shell is idle.)
                    Stopping::Held if !complete => self.interrupt(),
                    // The left command is over: the shell read our line.
                    Stopping::Orphan(_) => self.stopping = Stopping::No,
                    _ => {}
                }
            }
            if complete {
                self.drain_outputs();
                let text = String::from_utf8_lossy(line);
                return match shell::parse_status(&text) {
                    Some((rc, bg)) => Ok(Next::Status(rc, bg)),
                    None => bail!("{node}: a garbled status: {text:?}"),
                };
            }
        }
        if ready[2] {
            self.drain_outputs();
            bail!("node {node} stopped while running the command");
        }
        Ok(Next::Wait)
    }

    /// Copies what the command left in the relay pipes, and no more: a job
    /// it started may hold them open and write on.
    fn drain_outputs(&self) {
        for relay in &self.outputs {
            let _ = copy_out(relay, unread(&relay.pipe));
        }
    }

    /// Moves data from our stdin to the command's pipe, a bit at a time.
    fn feed_stdin(&mut self) {
        let Some(relay) = &self.stdin else { return };
        if self.pending.is_empty() {
            let mut buf = vec![0u8; 65536];
            match nix::unistd::read(std::io::stdin(), &mut buf) {
                Ok(n @ 1..) => {
                    buf.truncate(n);
                    self.pending = buf;
                }
                Err(Errno::EAGAIN | Errno::EINTR) => {}
                // End of our stdin: closing our end ends theirs.
                Ok(0) | Err(_) => self.stdin = None,
            }
            return;
        }
        match nix::unistd::write(&relay.pipe, &self.pending) {
            Ok(n) => {
                self.pending.drain(..n);
            }
            Err(Errno::EAGAIN | Errno::EINTR) => {}
            // The command closed its stdin: the rest of ours is not wanted.
            Err(_) => self.stdin = None,
        }
    }
}

/// Reads the status pipe; true once a whole line is in.
fn read_status(fd: &OwnedFd, line: &mut Vec<u8>) -> bool {
    let mut buf = [0u8; 64];
    while let Ok(n @ 1..) = nix::unistd::read(fd, &mut buf) {
        line.extend_from_slice(&buf[..n]);
    }
    line.ends_with(b"\n")
}

/// How many bytes wait in a pipe.
fn unread(pipe: &OwnedFd) -> usize {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD stores an int through the pointer we pass.
    let rc = unsafe { libc::ioctl(pipe.as_raw_fd(), libc::FIONREAD, &mut n) };
    if rc == 0 { n.max(0) as usize } else { 0 }
}

/// Copies up to `budget` bytes from a relay pipe to our own stdout or
/// stderr; an error when that cannot be written any more.
fn copy_out(relay: &Relay, mut budget: usize) -> nix::Result<()> {
    // SAFETY: our stdout and stderr stay open for the life of the process.
    let out = unsafe { BorrowedFd::borrow_raw(relay.fd) };
    let mut buf = [0u8; 65536];
    while budget > 0 {
        let want = budget.min(buf.len());
        match nix::unistd::read(&relay.pipe, &mut buf[..want]) {
            Ok(0) | Err(Errno::EAGAIN) => return Ok(()),
            Err(Errno::EINTR) => {}
            Err(e) => return Err(e),
            Ok(n) => {
                write_all(out, &buf[..n])?;
                budget -= n;
            }
        }
    }
    Ok(())
}
