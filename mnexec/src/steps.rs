//! What each flag does to the process before the command is executed.
use crate::Failure;
use crate::prepared::Prepared;
use nix::errno::Errno;
use nix::sched::{CloneFlags, setns};
use nix::unistd::{ForkResult, fork, getpgrp, getpid};
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// What happens after a step: carry on, or end mnexec with a status.
pub enum Next {
    Continue,
    Exit(u8),
}

pub fn close_fds() -> Result<Next, Failure> {
    // One syscall instead of a close() loop up to the descriptor limit,
    // which costs milliseconds per spawn when the limit is large.
    // SAFETY: close_range only closes descriptors; none is in use by Rust.
    let rc = unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) };
    if rc != 0 {
        // Kernels before 5.9: close what /proc/self/fd lists.
        // SAFETY: closing a descriptor number; EBADF for the directory
        // handle that listed them is irrelevant here.
        for_each_inherited_fd(|fd| unsafe { libc::close(fd) })?;
    }
    Ok(Next::Continue)
}

fn for_each_inherited_fd(mut act: impl FnMut(i32) -> i32) -> Result<(), Failure> {
    let fds: Vec<i32> = std::fs::read_dir("/proc/self/fd")
        .map_err(|e| Failure::io("/proc/self/fd", &e))?
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .filter(|&fd| fd > 2)
        .collect();
    for fd in fds {
        act(fd);
    }
    Ok(())
}

pub fn detach() -> Result<Next, Failure> {
    if getpgrp() == getpid() {
        // A group leader cannot call setsid(): continue in a child.
        // SAFETY: mnexec is single-threaded; the child only makes syscalls.
        match unsafe { fork() }.map_err(|e| Failure::errno("fork", e))? {
            ForkResult::Parent { .. } => return Ok(Next::Exit(0)),
            ForkResult::Child => {}
        }
    }
    Prepared::Detach.apply()?;
    Ok(Next::Continue)
}

pub fn new_namespaces() -> Result<Next, Failure> {
    Prepared::NewNamespaces.apply()?;
    Ok(Next::Continue)
}

pub fn print_pid() -> Result<Next, Failure> {
    let line = format!("\x01{}\n", getpid());
    let mut out = std::io::stdout().lock();
    out.write_all(line.as_bytes()).and_then(|()| out.flush()).map_err(|e| Failure::io("stdout", &e))?;
    Ok(Next::Continue)
}

/// `-a PID` joins the network and mount namespaces and working directory of
/// PID, as Mininet does; `-a PATH` joins the network namespace in PATH.
pub fn attach(target: &OsStr) -> Result<Next, Failure> {
    let shown = target.to_string_lossy();
    let bytes = target.as_bytes();
    if !bytes.is_empty() && bytes.iter().all(u8::is_ascii_digit) {
        return attach_pid(&shown);
    }
    if !bytes.contains(&b'/') && !Path::new(target).exists() {
        return Err(Failure::new(format!("-a {shown}"), "not a pid or a namespace file"));
    }
    let ns = File::open(target).map_err(|e| Failure::io(format!("-a {shown}"), &e))?;
    setns(&ns, CloneFlags::CLONE_NEWNET).map_err(|e| match e {
        Errno::EINVAL => Failure::new(format!("-a {shown}"), "not a network namespace"),
        e => Failure::errno(format!("-a {shown}"), e),
    })?;
    Ok(Next::Continue)
}

fn attach_pid(pid: &str) -> Result<Next, Failure> {
    let what = || format!("-a {pid}");
    let proc = format!("/proc/{pid}");
    let net = File::open(format!("{proc}/ns/net")).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Failure::new(what(), "no such process"),
        _ => Failure::io(what(), &e),
    })?;
    setns(&net, CloneFlags::CLONE_NEWNET).map_err(|e| Failure::errno(what(), e))?;
    // Plan A: the mount namespace; plan B (as Mininet): its root directory.
    let joined_mounts = File::open(format!("{proc}/ns/mnt"))
        .ok()
        .is_some_and(|mnt| setns(&mnt, CloneFlags::CLONE_NEWNS).is_ok());
    if !joined_mounts {
        nix::unistd::chroot(format!("{proc}/root").as_str())
            .map_err(|e| Failure::errno(format!("chroot {proc}/root"), e))?;
    }
    nix::unistd::chdir(format!("{proc}/cwd").as_str())
        .map_err(|e| Failure::errno(format!("chdir {proc}/cwd"), e))?;
    Ok(Next::Continue)
}

/// Joins GROUP in cgroup v2, or in each v1 hierarchy Mininet uses that has
/// it; an error only when it could be joined nowhere.
pub fn cgroup(group: &OsStr) -> Result<Next, Failure> {
    Prepared::cgroup(group)?.apply()?;
    Ok(Next::Continue)
}

/// Whether `path` is a cgroup v2 (unified) mount.
pub fn is_cgroup2(path: &Path) -> bool {
    nix::sys::statfs::statfs(path).is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC)
}

pub fn rtprio(priority: i32) -> Result<Next, Failure> {
    Prepared::RtPrio { what: format!("-r {priority}"), priority }.apply()?;
    Ok(Next::Continue)
}

/// Replaces mnexec with the command; returns only on failure.
pub fn exec(command: &[OsString]) -> Failure {
    let shown = command[0].to_string_lossy().into_owned();
    let argv: Result<Vec<_>, _> = command.iter().map(|a| std::ffi::CString::new(a.as_bytes())).collect();
    let Ok(argv) = argv else {
        return Failure::new(shown, "an argument contains a NUL byte");
    };
    match nix::unistd::execvp(&argv[0], &argv) {
        Err(e) => Failure::errno(shown, e),
        Ok(never) => match never {},
    }
}
