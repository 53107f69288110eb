//! Steps made ready in advance, then applied with system calls only.
//!
//! mnnode starts node shells in a vfork-style child that shares its
//! parent's memory (and allocator, and errno) until it execs: that child
//! may make system calls and nothing else. Building a [`Prepared`] does all the
//! formatting, path building and directory reading beforehand;
//! [`Prepared::apply`] allocates nothing. mnexec applies its own steps
//! through the same code, so both start processes identically.
use crate::Failure;
use std::ffi::{CStr, CString, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path};

/// A step with every path and word it needs made ready.
#[derive(Debug)]
pub enum Prepared {
    /// `-c` in a process about to exec from a Rust parent: descriptors
    /// above 2 marked close-on-exec (up to `last`, on kernels without
    /// close_range's CLOEXEC flag).
    MarkCloexec { last: i32 },
    /// `-d`, for a process that is not a process group leader.
    Detach,
    /// `-n`.
    NewNamespaces,
    /// `-n` made from a template mount namespace (a descriptor open in the
    /// child) instead of the caller's: one without the `ip netns` entries
    /// is cheap to copy, however many entries the host has.
    NewNamespacesFrom { template: std::os::fd::RawFd },
    /// `-n` but into an existing network namespace (a descriptor open in
    /// the child): a new mount namespace copied from the template, with a
    /// fresh sysfs that shows that network namespace. Open vSwitch switch
    /// nodes share their lab's OVS namespace this way.
    SharedNetFrom { net: std::os::fd::RawFd, template: std::os::fd::RawFd },
    /// `-a PID` for a vfork child: the network and mount namespaces and the
    /// working directory of a process, as descriptors the caller opened
    /// and keeps open.
    Join { net: std::os::fd::RawFd, mnt: std::os::fd::RawFd, cwd: std::os::fd::RawFd },
    /// `-g GROUP`: the files to write our pid to, one per hierarchy.
    Cgroup { what: String, targets: Vec<CString> },
    /// `-r PRIORITY`.
    RtPrio { what: String, priority: i32 },
    /// A descriptor the caller keeps open, handed to the program as `to`
    /// (kept across exec).
    Give { from: std::os::fd::RawFd, to: std::os::fd::RawFd },
}

/// A prepared step that failed: what it was doing, and why, in words
/// fixed before it ran.
#[derive(Debug)]
pub struct Fault<'a> {
    pub what: &'a str,
    pub why: &'static str,
}

impl From<Fault<'_>> for Failure {
    fn from(fault: Fault<'_>) -> Failure {
        Failure::new(fault.what, fault.why)
    }
}

fn errno() -> &'static str {
    nix::errno::Errno::last().desc()
}

impl Prepared {
    /// Marks every descriptor above 2 close-on-exec (`-c` for a child
    /// about to exec).
    pub fn mark_cloexec() -> Result<Prepared, Failure> {
        let last = std::fs::read_dir("/proc/self/fd")
            .map_err(|e| Failure::io("/proc/self/fd", &e))?
            .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
            .max()
            .unwrap_or(2);
        Ok(Prepared::MarkCloexec { last })
    }

    /// Joins GROUP in cgroup v2, or in each v1 hierarchy Mininet uses that
    /// has it.
    pub fn cgroup(group: &OsStr) -> Result<Prepared, Failure> {
        let what = format!("cgroup {}", group.to_string_lossy());
        let rel = Path::new(group);
        if rel.is_absolute() || rel.components().any(|c| matches!(c, Component::ParentDir)) {
            return Err(Failure::new(what, "a group is a path relative to the cgroup root"));
        }
        let root = Path::new("/sys/fs/cgroup");
        let paths: Vec<_> = if crate::is_cgroup2(root) {
            vec![root.join(rel).join("cgroup.procs")]
        } else {
            let mut v1: Vec<_> =
                ["cpu", "cpuacct", "cpuset"].iter().map(|h| root.join(h).join(rel).join("tasks")).collect();
            v1.push(root.join("unified").join(rel).join("cgroup.procs"));
            v1
        };
        let targets = paths
            .iter()
            .map(|p| CString::new(p.as_os_str().as_bytes()))
            .collect::<Result<_, _>>()
            .map_err(|_| Failure::new(what.clone(), "contains a NUL byte"))?;
        Ok(Prepared::Cgroup { what, targets })
    }

    /// Applies the step to the calling process. Allocates nothing: only
    /// system calls, which makes it sound in a vfork child.
    pub fn apply(&self) -> Result<(), Fault<'_>> {
        match self {
            Prepared::MarkCloexec { last } => {
                mark_cloexec(*last);
                Ok(())
            }
            Prepared::Detach => {
                // SAFETY: plain system calls on our own process.
                if unsafe { libc::setsid() } < 0 {
                    return Err(Fault { what: "setsid", why: errno() });
                }
                Ok(())
            }
            Prepared::NewNamespaces => new_namespaces(libc::CLONE_NEWNET | libc::CLONE_NEWNS),
            Prepared::NewNamespacesFrom { template } => {
                // SAFETY: setns on a descriptor the caller keeps open.
                if unsafe { libc::setns(*template, libc::CLONE_NEWNS) } < 0 {
                    return Err(Fault { what: "enter the template mount namespace", why: errno() });
                }
                new_namespaces(libc::CLONE_NEWNET | libc::CLONE_NEWNS)
            }
            Prepared::SharedNetFrom { net, template } => {
                // SAFETY: setns on descriptors the caller keeps open.
                unsafe {
                    if libc::setns(*net, libc::CLONE_NEWNET) < 0 {
                        return Err(Fault { what: "join the network namespace", why: errno() });
                    }
                    if libc::setns(*template, libc::CLONE_NEWNS) < 0 {
                        return Err(Fault { what: "enter the template mount namespace", why: errno() });
                    }
                }
                new_namespaces(libc::CLONE_NEWNS)
            }
            Prepared::Join { net, mnt, cwd } => {
                // SAFETY: setns and fchdir on descriptors the caller keeps open.
                unsafe {
                    if libc::setns(*net, libc::CLONE_NEWNET) < 0 {
                        return Err(Fault { what: "join the network namespace", why: errno() });
                    }
                    if libc::setns(*mnt, libc::CLONE_NEWNS) < 0 {
                        return Err(Fault { what: "join the mount namespace", why: errno() });
                    }
                    if libc::fchdir(*cwd) < 0 {
                        return Err(Fault { what: "enter the working directory", why: errno() });
                    }
                }
                Ok(())
            }
            Prepared::Cgroup { what, targets } => join_cgroup(what, targets),
            Prepared::Give { from, to } => {
                // SAFETY: dup2 of a descriptor the caller keeps open.
                if unsafe { libc::dup2(*from, *to) } < 0 {
                    return Err(Fault { what: "pass a descriptor on", why: errno() });
                }
                Ok(())
            }
            Prepared::RtPrio { what, priority } => {
                let param = libc::sched_param { sched_priority: *priority };
                // SAFETY: a plain syscall on our own process with a valid parameter.
                if unsafe { libc::sched_setscheduler(0, libc::SCHED_RR, &param) } != 0 {
                    return Err(Fault { what, why: errno() });
                }
                Ok(())
            }
        }
    }
}

fn mark_cloexec(last: i32) {
    const CLOSE_RANGE_CLOEXEC: u32 = 1 << 2;
    // SAFETY: close_range with CLOEXEC only changes descriptor flags.
    let rc = unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, CLOSE_RANGE_CLOEXEC) };
    if rc != 0 {
        // Kernels before 5.11: every descriptor the parent had open.
        for fd in 3..=last {
            // SAFETY: F_SETFD on a descriptor number changes only its flags.
            unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
        }
    }
}

fn new_namespaces(flags: libc::c_int) -> Result<(), Fault<'static>> {
    let call =
        |rc: libc::c_int, what: &'static str| if rc < 0 { Err(Fault { what, why: errno() }) } else { Ok(()) };
    // SAFETY: system calls on our own process, with static C strings.
    unsafe {
        call(libc::unshare(flags), "unshare")?;
        // Keep our mounts (the new /sys) from propagating back to the host.
        let none: *const libc::c_char = std::ptr::null();
        call(
            libc::mount(none, c"/".as_ptr(), none, libc::MS_REC | libc::MS_PRIVATE, std::ptr::null()),
            "make / private",
        )?;
        // A fresh sysfs shows the new network namespace's interfaces.
        let sysfs = c"sysfs".as_ptr();
        call(libc::mount(sysfs, c"/sys".as_ptr(), sysfs, 0, std::ptr::null()), "mount sysfs on /sys")?;
        // Our copies of the `ip netns` entries would keep every other
        // node's namespace alive: let them go (nothing there is ours).
        if libc::umount2(c"/run/netns".as_ptr(), libc::MNT_DETACH) < 0 {
            let e = nix::errno::Errno::last();
            if e != nix::errno::Errno::EINVAL && e != nix::errno::Errno::ENOENT {
                return Err(Fault { what: "detach /run/netns", why: e.desc() });
            }
        }
    }
    Ok(())
}

fn join_cgroup<'a>(what: &'a str, targets: &[CString]) -> Result<(), Fault<'a>> {
    // Our pid in decimal, on the stack.
    let mut buf = [0u8; 24];
    // SAFETY: getpid has no preconditions.
    let pid = decimal(unsafe { libc::getpid() } as u64, &mut buf);
    let mut joined = 0;
    let mut last_error = None;
    for target in targets {
        if let Err(errno) = write_file(target, pid) {
            // A hierarchy without the group: not one to join.
            if errno != libc::ENOENT {
                last_error = Some(nix::errno::Errno::from_raw(errno).desc());
            }
        } else {
            joined += 1;
        }
    }
    match (joined, last_error) {
        (0, None) => Err(Fault { what, why: "no such cgroup" }),
        (0, Some(why)) => Err(Fault { what, why }),
        _ => Ok(()),
    }
}

fn write_file(path: &CStr, bytes: &[u8]) -> Result<(), i32> {
    // SAFETY: open, write and close on a descriptor we own.
    unsafe {
        let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
        if fd < 0 {
            return Err(nix::errno::Errno::last_raw());
        }
        let n = libc::write(fd, bytes.as_ptr().cast(), bytes.len());
        let errno = nix::errno::Errno::last_raw();
        libc::close(fd);
        if n != bytes.len() as isize {
            return Err(if n < 0 { errno } else { libc::EIO });
        }
    }
    Ok(())
}

/// Formats `n` in decimal into `buf`, without allocating.
fn decimal(mut n: u64, buf: &mut [u8; 24]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[i..];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_without_allocation() {
        let mut buf = [0u8; 24];
        assert_eq!(decimal(0, &mut buf), b"0");
        assert_eq!(decimal(4242, &mut buf), b"4242");
        assert_eq!(decimal(u64::MAX, &mut buf), b"18446744073709551615");
    }
}
