//! One mnrun call, from finding the node to the exit status. See lock.rs
//! for how calls take turns, running.rs for a request in flight, and
//! mnnode's shell module for the protocol itself.
use crate::lock::{self, Turn};
use crate::relay::{self, Feed};
use crate::running::{Exchange, Running, Stopping, poll_timeout};
use crate::signals::Signals;
use crate::stdio::{self, Route};
use crate::{health, stop};
use anyhow::{Context, Result, anyhow, bail};
use mnnode::lab::{LOCK, Lab, NodeDir};
use mnnode::{Node, procfs, shell};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

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
    /// The command ended the shell (`set -e` and a failure, `builtin
    /// exit`) with this status; a fresh shell took its place.
    ShellExited(u8),
}

pub fn call(req: &Request) -> Result<Ending> {
    // -t bounds the whole call: the wait for our turn, and the interrupt
    // of what a killed mnrun left, too.
    let deadline = req.timeout.map(|t| Instant::now() + t);
    let lab = Lab::open_for(&req.node)?;
    // A lazy node's shell starts now, before anything here makes a thread
    // (starting a shell needs mnrun single-threaded).
    if mnnode::lazy::ensure_shell_by(&lab, &req.node, deadline)?.is_none() {
        return Ok(Ending::TimedOut);
    }
    let dir = lab.node_dir(&req.node)?;
    let record = || dir.record().with_context(|| format!("node {}", req.node));
    record()?.check_protocol()?;
    let not_running = || anyhow!("node {} is not running", req.node);
    if !record()?.is_running() {
        return Err(not_running());
    }
    let signals = Signals::new()?;
    let lock = dir.open(LOCK, OFlag::O_RDWR | OFlag::O_CREAT, Mode::S_IRUSR | Mode::S_IWUSR)?;
    match lock::take_turn(&lock, &signals, deadline)? {
        Turn::Ours => {}
        Turn::Interrupted => return Ok(Ending::Interrupted),
        Turn::TimedOut => return Ok(Ending::TimedOut),
    }
    // Read again: the shell may have been restarted while we queued. As a
    // pollable handle, its identity is checked once held.
    let node = record()?;
    let shell = pidfd(node.pid).ok_or_else(not_running)?;
    if !node.is_running() {
        return Err(not_running());
    }
    let fifo = health::open_fifo(&dir, &node)?;
    let mut channel = Channel { dir: &dir, node: &node, shell, fifo, lock, signals, deadline };

    if let Some(left) = lock::read_record(&channel.lock) {
        let idle = Request {
            node: req.node.clone(),
            command: Vec::new(),
            no_stdin: true,
            timeout: None,
            background: false,
        };
        let exchange = channel.exchange(&idle, Some(left))?;
        if let ending @ (Ending::Interrupted | Ending::TimedOut) = exchange.ending {
            return Ok(ending);
        }
    }
    let exchange = channel.exchange(req, None)?;
    match exchange.ending {
        Ending::Status(status) if req.background => match exchange.background_pid {
            Some(pid) => Ok(match writeln!(std::io::stdout(), "{pid}") {
                Ok(()) => Ending::Status(status),
                Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => Ending::BrokenPipe,
                Err(err) => return Err(err).context("write the job's pid"),
            }),
            None => bail!(
                "{}: no background job started (status {status}; see {})",
                node.name,
                dir.path.join(mnnode::lab::LOG).display()
            ),
        },
        ending => Ok(ending),
    }
}

/// What a call holds while it has its turn on the node.
pub struct Channel<'a> {
    pub dir: &'a NodeDir,
    pub node: &'a Node,
    pub shell: OwnedFd,
    pub fifo: OwnedFd,
    lock: OwnedFd,
    pub signals: Signals,
    deadline: Option<Instant>,
}

impl Channel<'_> {
    /// Sends one request and waits for its status. With `left` (the start
    /// of a command a killed mnrun left running), that command is
    /// interrupted first.
    fn exchange(&mut self, req: &Request, left: Option<lock::Left>) -> Result<Exchange> {
        let sentinel = mncli::random_hex(12)?;
        let nonce = mncli::random_hex(12)?;
        let command = memfd(&shell::command_file(&nonce, &sentinel, &req.command))?;
        let (status_r, status_w) =
            nix::unistd::pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK).context("pipe")?;
        let orphan = left.is_some();
        let (since, spare) = match left {
            Some(left) => (left.since, left.older),
            None => (procfs::now_ticks(), procfs::children(self.node.pid)),
        };
        let record = lock::record(since, spare.as_deref());
        let target = stop::Target { shell: self.node.pid, since, spare };
        let mut run = Running::new(target, self.deadline, nonce.clone(), sentinel);
        // The shell opens these by path: they must live until the status.
        let mut keep = Vec::new();
        let io = if req.background {
            None
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
            run.outputs = [relay::relay(stdout, 1, &mut keep), relay::relay(stderr, 2, &mut keep)]
                .into_iter()
                .flatten()
                .collect();
            run.stdin = Feed::new(relay::relay(stdin, 0, &mut keep));
            Some(io)
        };
        let line = shell::request(
            &nonce,
            &stdio::proc_path(command.as_raw_fd()),
            &stdio::proc_path(status_w.as_raw_fd()),
            io.as_ref(),
        );
        keep.extend([command, status_w]);

        if orphan {
            // The shell itself is left alone unless it stays busy: idle, a
            // SIGINT could cut short the line we are about to send.
            run.target.interrupt_processes();
            run.stopping = Stopping::Orphan(Instant::now() + Duration::from_secs(1));
        }
        // Should we die from here on, the next caller finds this record.
        lock::write_record(&self.lock, &record)?;
        let sent =
            relay::write_all_until(&self.fifo, line.as_bytes(), poll_timeout(self.deadline, Instant::now()))
                .map_err(|_| anyhow!("node {} is not running", self.node.name))?;
        if !sent {
            // The shell takes no input; nothing of ours is in its hands.
            return Ok(Exchange { ending: Ending::TimedOut, background_pid: None });
        }
        match run.wait(self, &status_r)? {
            Some((status, background_pid)) => {
                lock::clear_record(&self.lock);
                if let Ending::Status(_) = run.exchange.ending {
                    run.exchange.ending = Ending::Status(status);
                }
                run.exchange.background_pid = background_pid;
            }
            // Abandoned: the record stays for the next caller to settle.
            None => {
                if let Ending::Status(_) = run.exchange.ending {
                    run.exchange.ending = Ending::Interrupted;
                }
            }
        }
        drop(keep);
        if !matches!(run.exchange.ending, Ending::BrokenPipe) {
            relay::hand_off(&run.outputs);
        }
        Ok(run.exchange)
    }
}

fn pidfd(pid: i32) -> Option<OwnedFd> {
    // SAFETY: pidfd_open returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    // SAFETY: a descriptor we just received and now own.
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

fn memfd(content: &[u8]) -> Result<OwnedFd> {
    // SAFETY: a NUL-terminated name and valid flags.
    let fd = unsafe { libc::memfd_create(c"mnrun-command".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        bail!("memfd_create: {}", Errno::last().desc());
    }
    // SAFETY: a descriptor we just received and now own.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    relay::write_all(&fd, content).context("write the command")?;
    Ok(fd)
}
