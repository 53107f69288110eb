//! Stopping a running command: SIGINT as a terminal would send it, then
//! SIGKILL for whatever of the command is left.
//!
//! The command is every descendant of the shell except the jobs it already
//! had when the request was sent (its direct children then, and their
//! descendants): earlier background jobs are never touched, even those that
//! catch SIGINT themselves (`iperf3 -s &`). The list outlives a killed
//! mnrun in the lock's record; without it (a record of an older mnrun), the
//! shell's children started since the request's clock tick, and their
//! descendants, are the command's.
use mnnode::procfs;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::time::Duration;

pub struct Target {
    pub shell: i32,
    /// The request's clock tick (ticks since boot, as /proc has them).
    pub since: u64,
    /// The shell's children when the request was sent.
    pub spare: Option<Vec<i32>>,
}

/// What one interrupt signalled, to follow it up.
#[derive(Default)]
pub struct Interrupt {
    /// The shell's children then, dead ones included.
    children: Vec<i32>,
    /// The command's processes then.
    processes: Vec<procfs::Stat>,
}

impl Target {
    /// Ctrl-C: SIGINT to the shell, which, being interactive, abandons the
    /// rest of the command line, then to the command's processes.
    ///
    /// A terminal signals its whole foreground group at once; one kill()
    /// per process is not atomic, so everything is stopped first. The shell
    /// stops before its processes are listed, so that it cannot fork one
    /// the list misses (a fork with a signal pending is restarted). It must
    /// have its signal before any child dies (or it carries on with the
    /// line), and no child may see a sibling die before its own signal: in
    /// `sleep 100 | cat`, a `cat` that read end-of-file and exited 0 would
    /// tell bash the command handled the interrupt itself. A stopped
    /// process still dies at once of a fatal signal; the others run their
    /// handlers when continued.
    pub fn interrupt(&self) -> Interrupt {
        let shell = Pid::from_raw(self.shell);
        // Stopped where it sleeps, in wait4 most likely: stopped in its own
        // code, it may sit in the moment where bash loops forever on a
        // SIGINT (see Running::follow_up), and get its SIGINT right there.
        self.until_state(|state| state != b'R');
        let _ = kill(shell, Signal::SIGSTOP);
        self.until_state(|state| state == b'T');
        // Dead ones too: a zombie reaped later is not a new child.
        let children = procfs::children(self.shell).unwrap_or_default();
        let processes = self.processes();
        signal_all(&processes, Signal::SIGSTOP);
        let _ = kill(shell, Signal::SIGINT);
        signal_all(&processes, Signal::SIGINT);
        signal_all(&processes, Signal::SIGCONT);
        let _ = kill(shell, Signal::SIGCONT);
        Interrupt { children, processes }
    }

    /// Waits (10 ms at most) for the shell's state to satisfy `done`: to be
    /// stopped, say, as SIGSTOP takes effect only when it next runs, and
    /// until then it may fork.
    fn until_state(&self, done: impl Fn(u8) -> bool) {
        for _ in 0..200 {
            match procfs::stat(self.shell) {
                Some(s) if !done(s.state) && !s.is_dead() => std::thread::sleep(Duration::from_micros(50)),
                _ => return,
            }
        }
    }

    /// SIGINT to the command's processes only, sparing the shell: for a
    /// command a killed mnrun left, which may have ended long ago, leaving
    /// the shell idle and about to read the next request. (The shell is
    /// continued, in case that mnrun died in the middle of an interrupt.)
    pub fn interrupt_processes(&self) {
        let processes = self.processes();
        signal_all(&processes, Signal::SIGSTOP);
        signal_all(&processes, Signal::SIGINT);
        signal_all(&processes, Signal::SIGCONT);
        let _ = kill(Pid::from_raw(self.shell), Signal::SIGCONT);
    }

    /// Makes sure an interrupt takes, while the command has not ended:
    /// a new interrupt when there is a new one to make.
    ///
    /// bash decides whether an interrupt ends the line by how the last
    /// child it reaps ended: one that exited normally "handled" SIGINT. A
    /// child forked a moment before the interrupt still runs the shell's
    /// own SIGINT handler and may lose the signal, then exec its program
    /// and live on. So a process that SIGINT would now kill and that is
    /// still alive gets it again, and a shell that went on with the line
    /// anyway (`while :; do true | cat; done` seeing `cat` exit 0) is
    /// interrupted again.
    pub fn follow_up(&self, last: &Interrupt) -> Option<Interrupt> {
        let now = procfs::children(self.shell).unwrap_or_default();
        if now.iter().any(|pid| !last.children.contains(pid)) {
            return Some(self.interrupt());
        }
        self.heeding(last, Signal::SIGINT);
        None
    }

    /// Whether processes of the last interrupt still run that the shell
    /// no longer waits for, its status being in: one forked as the
    /// interrupt landed, say. They are followed up, then killed after the
    /// grace; jobs that ignore SIGINT (put in the background) are not.
    pub fn left_behind(&self, last: &Interrupt, kill: bool) -> bool {
        let signal = if kill { Signal::SIGKILL } else { Signal::SIGINT };
        !self.heeding(last, signal).is_empty()
    }

    /// Processes of the last interrupt that still run and do not ignore
    /// SIGINT; those it would now kill (or all, for SIGKILL) get `signal`.
    fn heeding(&self, last: &Interrupt, signal: Signal) -> Vec<i32> {
        let mut found = Vec::new();
        for p in &last.processes {
            if !procfs::stat(p.pid).is_some_and(|s| s.start == p.start && !s.is_dead()) {
                continue;
            }
            let disposition = procfs::disposition(p.pid, libc::SIGINT);
            if disposition == Some(procfs::Disposition::Ignored) {
                continue;
            }
            if signal == Signal::SIGKILL || disposition == Some(procfs::Disposition::Default) {
                let _ = kill(Pid::from_raw(p.pid), signal);
            }
            found.push(p.pid);
        }
        found
    }

    /// SIGKILL to every process of the command (never the shell itself).
    pub fn kill(&self) {
        signal_all(&self.processes(), Signal::SIGKILL);
    }

    /// The command's running processes.
    fn processes(&self) -> Vec<procfs::Stat> {
        let tree = procfs::Tree::snapshot();
        // An older job is a child of the shell's from before the request;
        // what it starts later is its own, never the command's.
        let older_job = |s: &procfs::Stat| match &self.spare {
            Some(old) => old.contains(&s.pid) && s.start <= self.since,
            None => s.start < self.since,
        };
        let mut found = Vec::new();
        let mut todo = vec![self.shell];
        while let Some(pid) = todo.pop() {
            for child in tree.children(pid) {
                if pid == self.shell && older_job(child) {
                    continue; // its whole subtree is spared
                }
                if !child.is_dead() {
                    found.push(*child);
                }
                todo.push(child.pid);
            }
        }
        found
    }
}

fn signal_all(processes: &[procfs::Stat], signal: Signal) {
    for p in processes {
        let _ = kill(Pid::from_raw(p.pid), signal);
    }
}
