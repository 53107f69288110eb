//! What each flag does to the process before the command is executed.
use crate::Failure;
use nix::errno::Errno;
use nix::mount::{MsFlags, mount};
use nix::sched::{CloneFlags, setns, unshare};
use nix::unistd::{ForkResult, fork, getpgrp, getpid, setsid};
use std::ffi::{OsStr, OsString};
use std::fs::{File, OpenOptions};
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

/// `-c` for a process about to exec from a Rust parent: descriptors above 2
/// are marked close-on-exec rather than closed, so that the runtime's own
/// exec-status pipe keeps working until the exec.
pub fn mark_fds_cloexec() -> Result<Next, Failure> {
    const CLOSE_RANGE_CLOEXEC: u32 = 1 << 2;
    // SAFETY: close_range with CLOEXEC only changes descriptor flags.
    let rc = unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, CLOSE_RANGE_CLOEXEC) };
    if rc != 0 {
        // Kernels before 5.11: set the flag on what /proc/self/fd lists.
        // SAFETY: F_SETFD on a descriptor number changes only its flags.
        for_each_inherited_fd(|fd| unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) })?;
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
    setsid().map_err(|e| Failure::errno("setsid", e))?;
    Ok(Next::Continue)
}

pub fn new_namespaces() -> Result<Next, Failure> {
    unshare(CloneFlags::CLONE_NEWNET | CloneFlags::CLONE_NEWNS).map_err(|e| Failure::errno("unshare", e))?;
    // Keep our mounts (the new /sys) from propagating back to the host.
    mount(None::<&str>, "/", None::<&str>, MsFlags::MS_REC | MsFlags::MS_PRIVATE, None::<&str>)
        .map_err(|e| Failure::errno("make / private", e))?;
    // A fresh sysfs shows the new network namespace's interfaces.
    mount(Some("sysfs"), "/sys", Some("sysfs"), MsFlags::empty(), None::<&str>)
        .map_err(|e| Failure::errno("mount sysfs on /sys", e))?;
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
    let shown = group.to_string_lossy();
    let what = || format!("cgroup {shown}");
    let rel = Path::new(group);
    if rel.is_absolute() || rel.components().any(|c| matches!(c, std::path::Component::ParentDir)) {
        return Err(Failure::new(what(), "a group is a path relative to the cgroup root"));
    }
    let root = Path::new("/sys/fs/cgroup");
    let targets: Vec<_> = if is_cgroup2(root) {
        vec![root.join(rel).join("cgroup.procs")]
    } else {
        let mut v1: Vec<_> =
            ["cpu", "cpuacct", "cpuset"].iter().map(|h| root.join(h).join(rel).join("tasks")).collect();
        v1.push(root.join("unified").join(rel).join("cgroup.procs"));
        v1
    };
    let pid = format!("{}\n", getpid());
    let mut joined = 0;
    let mut last_error = None;
    for target in targets.iter().filter(|t| t.parent().is_some_and(Path::exists)) {
        match OpenOptions::new().write(true).open(target).and_then(|mut f| f.write_all(pid.as_bytes())) {
            Ok(()) => joined += 1,
            Err(e) => last_error = Some(e),
        }
    }
    match (joined, last_error) {
        (0, None) => Err(Failure::new(what(), "no such cgroup")),
        (0, Some(e)) => Err(Failure::io(what(), &e)),
        _ => Ok(Next::Continue),
    }
}

/// Whether `path` is a cgroup v2 (unified) mount.
pub fn is_cgroup2(path: &Path) -> bool {
    nix::sys::statfs::statfs(path).is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC)
}

pub fn rtprio(priority: i32) -> Result<Next, Failure> {
    let param = libc::sched_param { sched_priority: priority };
    // SAFETY: a plain syscall on our own process with a valid parameter.
    if unsafe { libc::sched_setscheduler(0, libc::SCHED_RR, &param) } != 0 {
        return Err(Failure::errno(format!("-r {priority}"), Errno::last()));
    }
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
