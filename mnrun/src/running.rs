//! A request in flight: relaying output and input until the shell reports,
//! and stopping the command on Ctrl-C, -t or a broken pipe.
use crate::call::{Channel, Ending};
use crate::health;
use crate::relay::{COPY_BUDGET, Feed, Relay};
use crate::stop;
use anyhow::{Result, bail};
use mnnode::shell::{self, Report};
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

/// How long an interrupted command may take to stop before SIGKILL.
const GRACE: Duration = Duration::from_secs(1);
/// How long after SIGKILL we wait for the shell before giving up.
const GIVE_UP: Duration = Duration::from_secs(5);
/// How often an interrupt is followed up until the command ends.
const RECHECK: Duration = Duration::from_millis(20);
/// How often a shell that has not reported is checked for being idle.
const HEALTH: Duration = Duration::from_millis(50);

/// Where stopping the command stands.
#[derive(Clone, Copy, PartialEq)]
pub enum Stopping {
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

/// How one request ended.
pub struct Exchange {
    pub ending: Ending,
    pub background_pid: Option<i32>,
}

/// What a wakeup decided.
enum Next {
    Wait,
    Status(u8, Option<i32>),
    /// Stop waiting and leave the command to the next caller.
    Abandon,
}

/// Which of the descriptors a wakeup polled are ready.
struct Ready {
    status: bool,
    signals: bool,
    shell_ended: bool,
    outputs: Vec<bool>,
    stdin: bool,
}

pub struct Running {
    /// The command's processes, for interrupts.
    pub target: stop::Target,
    /// When -t runs out, and when we stop waiting even for the interrupt.
    pub deadline: Option<Instant>,
    pub hard_stop: Option<Instant>,
    pub stopping: Stopping,
    /// Whether the shell has read the request line whole.
    acked: bool,
    /// The last interrupt, to follow up, and when to.
    last: stop::Interrupt,
    recheck: Instant,
    health: Instant,
    pub stdin: Feed,
    pub outputs: Vec<Relay>,
    pub exchange: Exchange,
    nonce: String,
    sentinel: String,
    /// What the status pipe held so far.
    status: Vec<u8>,
}

/// A poll timeout that wakes at `at` (never, without one).
pub fn poll_timeout(at: Option<Instant>, now: Instant) -> PollTimeout {
    match at {
        Some(at) => PollTimeout::try_from(at.saturating_duration_since(now) + Duration::from_millis(1))
            .unwrap_or(PollTimeout::MAX),
        None => PollTimeout::NONE,
    }
}

impl Running {
    pub fn new(target: stop::Target, deadline: Option<Instant>, nonce: String, sentinel: String) -> Running {
        Running {
            target,
            deadline,
            // After -t, a second for the interrupt, a second for SIGKILL.
            hard_stop: deadline.map(|d| d + 2 * GRACE),
            stopping: Stopping::No,
            acked: false,
            last: stop::Interrupt::default(),
            recheck: Instant::now(),
            health: Instant::now() + Duration::from_millis(5),
            stdin: Feed::new(None),
            outputs: Vec::new(),
            exchange: Exchange { ending: Ending::Status(0), background_pid: None },
            nonce,
            sentinel,
            status: Vec::new(),
        }
    }

    /// Notes why the call stops; a broken pipe outranks a timeout, which
    /// outranks an interrupt.
    fn stopped(&mut self, why: Ending) {
        let rank = |e: &Ending| match e {
            Ending::BrokenPipe => 3,
            Ending::TimedOut => 2,
            Ending::Interrupted => 1,
            _ => 0,
        };
        if rank(&why) > rank(&self.exchange.ending) {
            self.exchange.ending = why;
        }
    }

    fn was_stopped(&self) -> bool {
        matches!(self.exchange.ending, Ending::BrokenPipe | Ending::TimedOut | Ending::Interrupted)
    }

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

    pub fn interrupt(&mut self) {
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
    pub fn wait(&mut self, channel: &Channel, status: &OwnedFd) -> Result<Option<(u8, Option<i32>)>> {
        let node = &channel.node.name;
        loop {
            let now = Instant::now();
            if self.deadline.is_some_and(|d| d <= now) {
                self.deadline = None;
                self.stopped(Ending::TimedOut);
                self.stop(false);
            }
            if self.hard_stop.is_some_and(|d| d <= now) {
                return Ok(None);
            }
            match self.stopping {
                Stopping::Orphan(at) if at <= now => self.interrupt(),
                Stopping::Interrupted(at) if at <= now => self.kill(),
                Stopping::Killed(at) if at <= now => {
                    bail!("{node}: the command would not stop; the node stays busy until it ends")
                }
                _ => {}
            }
            self.follow_up(now);
            if now >= self.health {
                if let Some(next) = self.check_health(channel, status)? {
                    return Ok(Some(next));
                }
                self.health = Instant::now() + HEALTH;
            }
            let recheck = self.signalled().then_some(self.recheck);
            let wake = [self.deadline, self.hard_stop, self.escalation(), recheck, Some(self.health)]
                .into_iter()
                .flatten()
                .min();
            match self.wake(channel, status, poll_timeout(wake, now))? {
                Next::Wait => {}
                Next::Status(rc, bg) => {
                    self.settle();
                    return Ok(Some((rc, bg)));
                }
                Next::Abandon => return Ok(None),
            }
        }
    }

    /// A shell idle without a status will never send one; one stopped by
    /// its own command is continued.
    fn check_health(&mut self, channel: &Channel, status: &OwnedFd) -> Result<Option<(u8, Option<i32>)>> {
        let pid = channel.node.pid;
        health::continue_if_stopped(pid);
        if !health::idle(pid, &channel.fifo) {
            return Ok(None);
        }
        // Idle, so whatever it reported is in the pipe by now.
        match self.read_status(channel, status)? {
            Next::Status(rc, bg) => Ok(Some((rc, bg))),
            // Only a killed mnrun's command gets the shell signalled before
            // it has our line: a SIGINT that cut the line short. The shell
            // is idle now, which is all that request was for.
            _ if !self.acked && self.signalled() => Ok(Some((130, None))),
            _ => Err(health::not_reporting(&channel.node.name)),
        }
    }

    /// Waits once for something to happen, and handles it.
    fn wake(&mut self, channel: &Channel, status: &OwnedFd, timeout: PollTimeout) -> Result<Next> {
        let ready = {
            let mut fds = vec![
                PollFd::new(status.as_fd(), PollFlags::POLLIN),
                PollFd::new(channel.signals.as_fd(), PollFlags::POLLIN),
                PollFd::new(channel.shell.as_fd(), PollFlags::POLLIN),
            ];
            fds.extend(self.outputs.iter().map(|r| PollFd::new(r.pipe.as_fd(), PollFlags::POLLIN)));
            let feeding = self.stdin.poll_fd();
            let has_stdin = feeding.is_some();
            fds.extend(feeding);
            match poll(&mut fds, timeout) {
                Ok(_) | Err(Errno::EINTR) => {}
                Err(e) => bail!("poll: {}", e.desc()),
            }
            let mut is: Vec<bool> = fds.iter().map(|f| f.revents().is_some_and(|r| !r.is_empty())).collect();
            let stdin = has_stdin && is.pop().unwrap_or(false);
            let outputs = is.split_off(3);
            Ready { status: is[0], signals: is[1], shell_ended: is[2], outputs, stdin }
        };
        if ready.signals && channel.signals.take() > 0 {
            self.stopped(Ending::Interrupted);
            if let Next::Abandon = self.stop(true) {
                return Ok(Next::Abandon);
            }
        }
        let mut broken = false;
        for (relay, _) in self.outputs.iter().zip(&ready.outputs).filter(|(_, ready)| **ready) {
            broken |= relay.copy_out(COPY_BUDGET).is_err();
        }
        if broken && !matches!(self.exchange.ending, Ending::BrokenPipe) {
            self.stopped(Ending::BrokenPipe);
            self.stop(false);
        }
        if ready.stdin {
            self.stdin.feed();
        }
        if ready.status {
            if let next @ Next::Status(..) = self.read_status(channel, status)? {
                return Ok(next);
            }
        }
        if ready.shell_ended {
            // What it said before it went, if anything, still counts.
            if let next @ Next::Status(..) = self.read_status(channel, status)? {
                return Ok(next);
            }
            self.drain_outputs();
            return Err(health::died(channel.dir, channel.node));
        }
        Ok(Next::Wait)
    }

    /// Reads the status pipe and acts on the acknowledgement and report.
    fn read_status(&mut self, channel: &Channel, fd: &OwnedFd) -> Result<Next> {
        let node = &channel.node.name;
        let mut buf = [0u8; 256];
        while let Ok(n @ 1..) = nix::unistd::read(fd, &mut buf) {
            self.status.extend_from_slice(&buf[..n]);
        }
        let report = shell::find_report(&self.status, &self.nonce, &self.sentinel);
        if !self.acked && shell::acked(&self.status) {
            self.acked = true;
            match self.stopping {
                // (Not when the status came along: the shell is idle.)
                Stopping::Held if report.is_none() => self.interrupt(),
                // The left command is over: the shell read our line.
                Stopping::Orphan(_) => self.stopping = Stopping::No,
                _ => {}
            }
        }
        let Some(report) = report else { return Ok(Next::Wait) };
        self.drain_outputs();
        match report {
            Report::Status { rc, background, ran } => {
                // Interrupted before the text began is fine; else it must
                // have run.
                if !ran && !self.was_stopped() {
                    return Err(health::did_not_run(node));
                }
                Ok(Next::Status(rc, background))
            }
            Report::Exited(rc) => {
                if !self.was_stopped() {
                    self.exchange.ending = Ending::ShellExited(rc);
                }
                Ok(Next::Status(rc, None))
            }
            Report::Signalled(signal) => Err(health::killed_by(node, &signal)),
        }
    }

    fn drain_outputs(&self) {
        for relay in &self.outputs {
            relay.drain();
        }
    }
}
