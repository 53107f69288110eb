//! `mnnode restart NAME`: a new shell for a node, in the old shell's
//! network and mount namespaces and cgroup, on a new FIFO; the node keeps
//! its name, links and addresses. For a shell that no longer answers (its
//! hooks changed, its FIFO replaced): only the shell and its state are new.
//!
//! The old shell is killed once the new one is ready. Jobs it started are
//! left running (they are the node's processes, as after `exit`); `mnnode
//! del` ends them with the node.
use crate::lab::{FIFO, LOCK, LOG, Lab, NodeDir};
use crate::node::Node;
use crate::{procfs, shell, spawn, vfork};
use anyhow::{Context, Result, anyhow, bail};
use mnexec::Prepared;
use nix::fcntl::OFlag;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{Signal, kill};
use nix::sys::stat::Mode;
use nix::unistd::{Pid, UnlinkatFlags, unlinkat};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

/// The new FIFO until it takes the old one's name.
pub const FIFO_NEW: &str = "fifo.new";
/// How long the new shell may take to become ready.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// Replaces the shell of node `name`. mnnode must be single-threaded.
pub fn restart(lab: &Lab, name: &str) -> Result<()> {
    let dir = lab.node_dir(name)?;
    // Not while a lazy node's first shell is being started.
    crate::lazy::lock_start(&dir)?;
    let mut node = lab.node(name)?;
    // A lazy node without a shell yet: its first shell is the new one.
    if !node.has_shell() && !node.root {
        if !node.is_running() {
            bail!(
                "node {name} is not running (its namespace is gone); remove it with mnnode del {name} and add it again"
            );
        }
        crate::lazy::start(lab, &dir, node)?;
        return Ok(());
    }
    if !node.is_running() {
        bail!(
            "node {name} is not running (its shell is dead); remove it with mnnode del {name} and add it again"
        );
    }
    // A call stuck on the old shell keeps the lock: go on without it.
    let lock = dir.open(LOCK, OFlag::O_RDWR | OFlag::O_CREAT, Mode::S_IRUSR | Mode::S_IWUSR)?;
    // SAFETY: flock on a descriptor we own.
    unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };

    // The old shell's network and mount namespaces (and directory), open
    // until the child has joined them.
    let mut joined = Vec::new();
    let mut join = None;
    if !node.root {
        let open = |what: &str, flags: OFlag| {
            nix::fcntl::open(
                format!("/proc/{}/{what}", node.pid).as_str(),
                flags | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| anyhow!("{name}: open the shell's {what}: {}", e.desc()))
        };
        let net = open("ns/net", OFlag::O_RDONLY)?;
        let mnt = open("ns/mnt", OFlag::O_RDONLY)?;
        let cwd = open("cwd", OFlag::O_PATH | OFlag::O_DIRECTORY)?;
        // Still the shell the record names: its pid was not taken by
        // another process while we opened them.
        if !node.is_running() {
            bail!("node {name} is not running (its shell ended while it was being restarted)");
        }
        join = Some(Prepared::Join { net: net.as_raw_fd(), mnt: mnt.as_raw_fd(), cwd: cwd.as_raw_fd() });
        joined.extend([net, mnt, cwd]);
    }
    let (pid, start) = start_shell(lab, &dir, &node, join, shell::shared_pty())?;
    drop(joined);

    // The switch: the FIFO took the name, the record takes the new shell.
    let old = node.clone();
    (node.pid, node.start) = (pid, start);
    // Unrecorded, the new shell would be one nothing leads to: it goes
    // again, and a next restart makes another (the old one's FIFO is gone).
    if let Err(e) = dir.write_record(&node) {
        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        // SAFETY: reaping the child start_shell started.
        unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
        return Err(e.context(format!("{name}: record the new shell (restart it again)")));
    }
    if !node.root {
        repoint_netns_entry(lab, &old.name, old.pid, pid)?;
    }
    // The command a killed mnrun left was the old shell's.
    let _ = nix::unistd::ftruncate(&lock, 0);
    if procfs::stat(old.pid).is_some_and(|s| s.start == old.start) {
        let _ = kill(Pid::from_raw(old.pid), Signal::SIGKILL);
    }
    Ok(())
}

/// Starts a new shell for `node` (mnexec's `-cd` steps, its cgroup, then
/// `join`: the namespaces to enter, made ready by the caller, who keeps
/// their descriptors open) on a new FIFO, which takes the name `fifo` once
/// the shell is ready, with `pty` as its terminal (shell::PTY_FD).
/// Returns its pid and start time; the caller writes the record. mnnode
/// must be single-threaded.
pub(crate) fn start_shell(
    lab: &Lab,
    dir: &NodeDir,
    node: &Node,
    join: Option<Prepared>,
    pty: Option<OwnedFd>,
) -> Result<(i32, u64)> {
    let name = &node.name;
    let _ = unlinkat(dir.fd(), FIFO_NEW, UnlinkatFlags::NoRemoveDir);
    nix::unistd::mkfifoat(dir.fd(), FIFO_NEW, Mode::S_IRUSR | Mode::S_IWUSR)
        .map_err(|e| anyhow!("{}: {}", dir.path.join(FIFO_NEW).display(), e.desc()))?;
    let fifo = dir.open(FIFO_NEW, OFlag::O_RDWR, Mode::empty())?;
    let log =
        dir.open(LOG, OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_APPEND, Mode::S_IRUSR | Mode::S_IWUSR)?;
    let (ready_r, ready_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).context("pipe")?;
    let mut steps = Vec::new();
    if let Some(group) = node.cgroup.as_ref().and_then(|g| g.file_name()) {
        steps.push(Prepared::cgroup(group).map_err(|f| anyhow!("{f}"))?);
    }
    steps.push(Prepared::Detach);
    steps.extend(join);
    if let Some(pty) = &pty {
        steps.push(Prepared::Give { from: pty.as_raw_fd(), to: shell::PTY_FD });
    }
    let env = shell::environment(name, &dir.path.join(FIFO), &dir.path.join(LOG));
    // An OVS switch's shell finds the lab's OVS as before.
    let ovs_env = if node.kind.is_ovs() { crate::ovs::Ovs::of(lab).environment() } else { Vec::new() };
    let env: Vec<(&str, &std::ffi::OsStr)> =
        env.iter().chain(&ovs_env).map(|(k, v)| (*k, v.as_os_str())).collect();
    let plan = vfork::Plan::new(&spawn::shell_argv()?, &env, &["TMOUT"], [fifo, ready_w, log], steps)
        .context("prepare the shell")?;
    // SAFETY: mnnode is single-threaded here (no runtime, no thread).
    let pid = unsafe { vfork::spawn(&plan) }.map_err(|e| {
        let _ = unlinkat(dir.fd(), FIFO_NEW, UnlinkatFlags::NoRemoveDir);
        match spawn::last_line(dir) {
            Some(why) => anyhow!("{name}: {why}"),
            None => anyhow!("{name}: start bash: {}", mncli::os_error(&e)),
        }
    })?;
    // Our copies of the shell's FIFO, log and readiness pipe go now: a
    // shell that dies before it is ready must be seen to (end of file).
    drop(plan);
    let start = procfs::stat(pid).map(|s| s.start);
    if let Err(e) = wait_ready(&ready_r).map_err(|why| anyhow!("{name}: the new shell {why}")) {
        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        // SAFETY: reaping the child this call started.
        unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
        let _ = unlinkat(dir.fd(), FIFO_NEW, UnlinkatFlags::NoRemoveDir);
        return Err(e);
    }
    let start = start.ok_or_else(|| anyhow!("{name}: the new shell vanished at once"))?;
    // The new FIFO takes the name.
    nix::fcntl::renameat(dir.fd(), FIFO_NEW, dir.fd(), FIFO)
        .map_err(|e| anyhow!("{}: {}", dir.path.join(FIFO).display(), e.desc()))?;
    Ok((pid, start))
}

/// Waits for the shell's READY line; why not, if it does not come.
fn wait_ready(ready: &OwnedFd) -> std::result::Result<(), String> {
    let deadline = Instant::now() + READY_TIMEOUT;
    let mut said = Vec::new();
    let mut buf = [0u8; 256];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!("did not become ready within {}s", READY_TIMEOUT.as_secs()));
        }
        let mut fds = [PollFd::new(ready.as_fd(), PollFlags::POLLIN)];
        let polled = poll(&mut fds, PollTimeout::try_from(left).unwrap_or(PollTimeout::MAX));
        // Read only what is there: a read that blocks would outlast the
        // deadline.
        if !matches!(polled, Ok(1..)) {
            continue;
        }
        match nix::unistd::read(ready, &mut buf) {
            Ok(0) => break,
            Ok(n) => said.extend_from_slice(&buf[..n]),
            Err(nix::errno::Errno::EINTR | nix::errno::Errno::EAGAIN) => {}
            Err(e) => return Err(format!("could not be read from: {}", e.desc())),
        }
        if said.ends_with(shell::READY) {
            return Ok(());
        }
    }
    if said.ends_with(shell::READY) { Ok(()) } else { Err("exited at once".into()) }
}

/// An `ip netns` entry that is a symlink to the old shell's namespace
/// file is pointed at the new shell's (atomically: a new link renamed
/// over it). An entry that is a mount of the namespace needs nothing.
fn repoint_netns_entry(lab: &Lab, name: &str, old: i32, new: i32) -> Result<()> {
    let entry = lab.netns_entry(name);
    let old_target = format!("/proc/{old}/ns/net");
    if std::fs::read_link(&entry).ok().is_none_or(|t| t != std::path::Path::new(&old_target)) {
        return Ok(());
    }
    let tmp = entry.with_extension("new");
    let _ = std::fs::remove_file(&tmp);
    let fail = |e: std::io::Error| anyhow!("{}: {}", entry.display(), mncli::os_error(&e));
    std::os::unix::fs::symlink(format!("/proc/{new}/ns/net"), &tmp).map_err(fail)?;
    std::fs::rename(&tmp, &entry).map_err(fail)
}
