//! Writing a new node namespace's sysctls at a cost that does not grow
//! with the number of namespaces there are.
//!
//! Under /proc/sys, `net/ipv4` and `net/ipv6` are dentries of their own
//! for every network namespace, hashed under one parent with the same
//! name: the first lookup of each in a new namespace walks one entry per
//! namespace that looked it up before (scripts/bench/TEARDOWN.md), which
//! made every node of a big lab slower to add than the last. A procfs
//! instance of our own (fsopen/fsmount: a mount attached nowhere, seen by
//! no one) holds only the dentries of the namespaces written through it,
//! and a fresh one is made every [`FRESH_EVERY`] namespaces; closing the
//! old one frees its dentries. The same files are written, with the same
//! values: /proc/sys resolves `net` by the writing thread's namespace,
//! whichever procfs instance the path goes through. Where the kernel has
//! no fsopen (before 5.2) or refuses it, /proc/sys is used.
use anyhow::{Result, anyhow};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::Mutex;

/// Namespaces written through one procfs instance before a fresh one.
const FRESH_EVERY: usize = 64;

struct Instance {
    /// The root of a detached procfs mount.
    root: OwnedFd,
    /// Namespaces written through it so far.
    used: usize,
}

static PROC: Mutex<Option<Instance>> = Mutex::new(None);

/// A new procfs mount attached nowhere; None where the kernel cannot.
fn private_proc() -> Option<OwnedFd> {
    const FSOPEN_CLOEXEC: libc::c_uint = 1;
    const FSCONFIG_CMD_CREATE: libc::c_uint = 6;
    const FSMOUNT_CLOEXEC: libc::c_uint = 1;
    // SAFETY: fsopen with a static C string; returns a descriptor or -1.
    let fs = unsafe { libc::syscall(libc::SYS_fsopen, c"proc".as_ptr(), FSOPEN_CLOEXEC) };
    // SAFETY: a descriptor fsopen just gave us.
    let fs = (fs >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fs as i32) })?;
    let null = std::ptr::null::<libc::c_char>();
    // SAFETY: fsconfig CREATE on our fs context, no key or value.
    let created =
        unsafe { libc::syscall(libc::SYS_fsconfig, fs.as_raw_fd(), FSCONFIG_CMD_CREATE, null, null, 0) };
    if created < 0 {
        return None;
    }
    // SAFETY: fsmount of our configured context; a descriptor or -1.
    let root = unsafe { libc::syscall(libc::SYS_fsmount, fs.as_raw_fd(), FSMOUNT_CLOEXEC, 0) };
    // SAFETY: a descriptor fsmount just gave us.
    (root >= 0).then(|| unsafe { OwnedFd::from_raw_fd(root as i32) })
}

/// Says that the writes after it are for another namespace: every
/// [`FRESH_EVERY`] namespaces the procfs instance is replaced.
pub(crate) fn next_namespace() {
    let Ok(mut proc) = PROC.lock() else { return };
    match proc.as_mut() {
        Some(p) if p.used < FRESH_EVERY => p.used += 1,
        _ => *proc = private_proc().map(|root| Instance { root, used: 1 }),
    }
}

/// Writes `value` to `/proc/sys/PATH` (PATH relative, `net/ipv4/...`) of
/// the calling thread's network namespace; an error names the file.
pub(crate) fn write(path: &str, value: &str) -> Result<()> {
    let shown = format!("/proc/sys/{path}");
    let root = PROC.lock().ok().and_then(|p| p.as_ref().and_then(|p| p.root.try_clone().ok()));
    let Some(root) = root else { return crate::write_file(&shown, value) };
    let flags = nix::fcntl::OFlag::O_WRONLY | nix::fcntl::OFlag::O_CLOEXEC;
    let fd = nix::fcntl::openat(&root, format!("sys/{path}").as_str(), flags, nix::sys::stat::Mode::empty())
        .map_err(|e| anyhow!("{shown}: {}", e.desc()))?;
    match nix::unistd::write(&fd, value.as_bytes()) {
        Ok(n) if n == value.len() => Ok(()),
        Ok(_) => Err(anyhow!("{shown}: a short write")),
        Err(e) => Err(anyhow!("{shown}: {}", e.desc())),
    }
}
