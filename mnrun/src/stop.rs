//! Stopping a running command: SIGINT as a terminal would send it, then
//! SIGKILL for whatever of the command is left.
//!
//! The command is every descendant of the shell except the jobs it already
//! had when the request was sent (its direct children then, and their
//! descendants): earlier background jobs are never touched, even those that
//! catch SIGINT themselves (`iperf3 -s &`). Without that list (the command
//! of a killed mnrun), the processes that started since the request's
//! clock tick are the command's.
use mnnode::procfs;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::collections::HashMap;

pub struct Target {
    pub shell: i32,
    /// The request's clock tick (ticks since boot, as /proc has them).
    pub since: u64,
    /// The shell's children when the request was sent.
    pub spare: Option<Vec<i32>>,
}

impl Target {
    /// Ctrl-C: SIGINT to the shell, which, being interactive, abandons the
    /// rest of the command line, then to the command's processes.
    ///
    /// A terminal signals its whole foreground group at once; one kill()
    /// per process is not atomic, so the processes are stopped first. The
    /// shell must have its signal before any child dies (or it carries on
    /// with the line), and no child may see a sibling die before its own
    /// signal: in `sleep 100 | cat`, a `cat` that read end-of-file and
    /// exited 0 would tell bash the command handled the interrupt itself.
    /// A stopped process still dies at once of a fatal signal; the others
    /// run their handlers when continued.
    pub fn interrupt(&self) {
        self.interrupt_with(true);
    }

    /// SIGINT to the command's processes only, sparing the shell: for a
    /// command a killed mnrun left, which may have ended long ago, leaving
    /// the shell idle and about to read the next request.
    pub fn interrupt_processes(&self) {
        self.interrupt_with(false);
    }

    fn interrupt_with(&self, shell_too: bool) {
        let processes = self.processes();
        signal_all(&processes, Signal::SIGSTOP);
        if shell_too {
            let _ = kill(Pid::from_raw(self.shell), Signal::SIGINT);
        }
        signal_all(&processes, Signal::SIGINT);
        signal_all(&processes, Signal::SIGCONT);
    }

    /// SIGKILL to every process of the command (never the shell itself).
    pub fn kill(&self) {
        signal_all(&self.processes(), Signal::SIGKILL);
    }

    fn processes(&self) -> Vec<i32> {
        let stats: Vec<procfs::Stat> = procfs::pids().into_iter().filter_map(procfs::stat).collect();
        let mut children: HashMap<i32, Vec<&procfs::Stat>> = HashMap::new();
        for s in &stats {
            children.entry(s.ppid).or_default().push(s);
        }
        let spared = |s: &procfs::Stat| match &self.spare {
            Some(old) => old.contains(&s.pid) && s.start <= self.since,
            None => s.start < self.since,
        };
        let mut found = Vec::new();
        let mut todo = vec![self.shell];
        while let Some(pid) = todo.pop() {
            for child in children.get(&pid).into_iter().flatten() {
                if self.spare.is_some() && pid == self.shell && spared(child) {
                    continue; // an older job: its whole subtree is spared
                }
                if !child.is_dead() && (self.spare.is_some() || !spared(child)) {
                    found.push(child.pid);
                }
                todo.push(child.pid);
            }
        }
        found
    }
}

fn signal_all(pids: &[i32], signal: Signal) {
    for &pid in pids {
        let _ = kill(Pid::from_raw(pid), signal);
    }
}
