//! Stopping a running command: SIGINT as a terminal would send it, then
//! SIGKILL for whatever of the command is left.
use mnnode::procfs;
use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use std::collections::{HashMap, HashSet};

/// Ctrl-C: SIGINT to the shell's process group. The command's processes
/// die; the interactive shell abandons the rest of the command line;
/// background jobs ignore it, as in any shell without job control.
pub fn interrupt(shell: i32) {
    let _ = killpg(Pid::from_raw(shell), Signal::SIGINT);
}

/// SIGKILL to every process the command started: descendants of the shell
/// (or members of its process group) that started at or after `since`
/// (clock ticks since boot). Older background jobs are left alone.
pub fn kill_command(shell: i32, since: u64) -> usize {
    let stats: Vec<procfs::Stat> = procfs::pids().into_iter().filter_map(procfs::stat).collect();
    let mut children: HashMap<i32, Vec<&procfs::Stat>> = HashMap::new();
    for s in &stats {
        children.entry(s.ppid).or_default().push(s);
    }
    let mut doomed: HashSet<i32> = stats
        .iter()
        .filter(|s| s.pgrp == shell && s.pid != shell && s.start >= since && !s.is_dead())
        .map(|s| s.pid)
        .collect();
    let mut todo = vec![shell];
    while let Some(pid) = todo.pop() {
        for child in children.get(&pid).into_iter().flatten() {
            if child.start >= since && !child.is_dead() {
                doomed.insert(child.pid);
            }
            todo.push(child.pid);
        }
    }
    for &pid in &doomed {
        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
    }
    doomed.len()
}
