//! Whether the node's shell can take a request, and whether it still
//! reports: what tells a shell busy with a command from one that will
//! never answer.
use anyhow::{Result, anyhow};
use mnnode::lab::{FIFO, NodeDir};
use mnnode::{Node, procfs, shell};
use nix::fcntl::OFlag;
use nix::sys::stat::{Mode, fstat};
use std::os::fd::OwnedFd;

/// Opens the node's FIFO for writing, once it is sure to be the one the
/// shell reads: never a file someone put in its place.
pub fn open_fifo(dir: &NodeDir, node: &Node) -> Result<OwnedFd> {
    let problem = |why: String| anyhow!("{}: {why}; restart it with mnnode restart {}", node.name, node.name);
    if let Some(why) = shell::fifo_problem(dir, node.pid) {
        return Err(problem(why));
    }
    let fifo = dir
        .open(FIFO, OFlag::O_WRONLY | OFlag::O_NONBLOCK, Mode::empty())
        .map_err(|_| anyhow!("node {} is not running", node.name))?;
    // The same file as checked, not one swapped in meanwhile.
    if let Some(why) = shell::fifo_problem(dir, node.pid).or_else(|| same_as_shell(&fifo, node.pid)) {
        return Err(problem(why));
    }
    Ok(fifo)
}

fn same_as_shell(fifo: &OwnedFd, pid: i32) -> Option<String> {
    let ours = fstat(fifo).ok()?;
    (!shell::is_shells_fifo(&ours, pid)).then(|| "its FIFO was replaced while mnrun opened it".to_string())
}

/// Whether the shell sits idle without having reported: blocked reading
/// fd 0 (read(2), first argument 0), which is its FIFO, with nothing left
/// in the FIFO to read. It has taken the whole request and waits for the
/// next: no status is coming. Independent of load: a busy shell is never
/// in that state.
pub fn idle(pid: i32, fifo: &OwnedFd) -> bool {
    let Ok(call) = std::fs::read_to_string(format!("/proc/{pid}/syscall")) else { return false };
    if !call.starts_with(&format!("{} 0x0 ", libc::SYS_read)) {
        return false;
    }
    let (Ok(ours), Ok(input)) = (fstat(fifo), nix::sys::stat::stat(format!("/proc/{pid}/fd/0").as_str()))
    else {
        return false;
    };
    (ours.st_dev, ours.st_ino) == (input.st_dev, input.st_ino) && crate::relay::unread(fifo) == 0
}

/// A shell stopped by its own command (`kill -STOP $$`) can never report:
/// it is continued. (mnrun's own stops last only inside an interrupt.)
pub fn continue_if_stopped(pid: i32) {
    if procfs::stat(pid).is_some_and(|s| s.state == b'T') {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGCONT);
    }
}

pub fn not_reporting(node: &str) -> anyhow::Error {
    anyhow!(
        "{node}: the node's shell no longer reports status (its hooks were changed); \
         restart it with mnnode restart {node}"
    )
}

pub fn did_not_run(node: &str) -> anyhow::Error {
    anyhow!(
        "{node}: the node's shell did not run the command (its eval was changed); \
         restart it with mnnode restart {node}"
    )
}

/// The shell went away: killed, or replaced by `mnnode restart` (the
/// record then names another shell, alive).
pub fn died(dir: &NodeDir, node: &Node) -> anyhow::Error {
    let name = &node.name;
    match dir.record() {
        Ok(now) if now.pid != node.pid && now.is_running() => {
            anyhow!("{name}: the node's shell was replaced (mnnode restart) while running the command")
        }
        _ => {
            anyhow!("{name}: the node's shell died; the node is dead (mnnode del {name}, then add it again)")
        }
    }
}

pub fn killed_by(node: &str, signal: &str) -> anyhow::Error {
    anyhow!("{node}: the node's shell died of SIG{signal}; it was restarted")
}
