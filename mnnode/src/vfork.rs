//! Starting a node shell without fork's copy-on-write.
//!
//! After fork, every page the parent writes is copied once, and a page
//! fault costs tens of microseconds on a VM: forking mnnode a thousand
//! times cost it over a millisecond per node. A child created with
//! CLONE_VM | CLONE_VFORK (what posix_spawn does) shares the parent's
//! memory until it execs, and the parent waits meanwhile, so nothing is
//! copied. The child runs on a stack of its own, applies mnexec's steps,
//! and execs; only syscalls on its success path.
use mnexec::{Next, Step};
use std::ffi::{CString, OsStr};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::sync::atomic::{AtomicI32, Ordering};

/// Everything the child needs, made ready by the parent.
pub struct Plan {
    program: CString,
    argv: Vec<CString>,
    envp: Vec<CString>,
    stdio: [OwnedFd; 3],
    steps: Vec<Step>,
}

impl Plan {
    /// `env` is added to (or replaces in) the caller's environment;
    /// `unset` is removed from it.
    pub fn new(
        argv: &[&str],
        env: &[(&str, &OsStr)],
        unset: &[&str],
        stdio: [OwnedFd; 3],
        steps: Vec<Step>,
    ) -> io::Result<Plan> {
        let c = |bytes: &[u8]| CString::new(bytes).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL));
        let argv: Vec<CString> = argv.iter().map(|a| c(a.as_bytes())).collect::<io::Result<_>>()?;
        let program = argv.first().cloned().ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
        let mut envp = Vec::new();
        for (key, value) in std::env::vars_os() {
            let key = key.as_bytes();
            if env.iter().any(|(k, _)| k.as_bytes() == key) || unset.iter().any(|u| u.as_bytes() == key) {
                continue;
            }
            envp.push(c(&[key, b"=", value.as_bytes()].concat())?);
        }
        for (key, value) in env {
            envp.push(c(&[key.as_bytes(), b"=", value.as_bytes()].concat())?);
        }
        Ok(Plan { program, argv, envp, stdio, steps })
    }
}

/// What the child reads and writes: the plan, raw pointers for execvp,
/// and the errno it failed with (0 while all goes well).
struct Shared<'a> {
    plan: &'a Plan,
    argv: Vec<*const libc::c_char>,
    envp: Vec<*const libc::c_char>,
    error: AtomicI32,
}

const STACK: usize = 256 * 1024;

/// Starts the plan's program; returns its pid once it has exec'd. On
/// failure the child said why on its stderr, as mnexec would.
///
/// # Safety
/// The calling process must be single-threaded: the child shares its
/// memory and may allocate (to report a failure) while the parent waits.
pub unsafe fn spawn(plan: &Plan) -> io::Result<i32> {
    let null_terminated = |v: &[CString]| {
        v.iter().map(|s| s.as_ptr()).chain(std::iter::once(std::ptr::null())).collect::<Vec<_>>()
    };
    let shared = Shared {
        plan,
        argv: null_terminated(&plan.argv),
        envp: null_terminated(&plan.envp),
        error: AtomicI32::new(0),
    };
    let mut stack = vec![0u8; STACK];
    // The stack grows down; clone wants its top, 16-byte aligned.
    let top = (stack.as_mut_ptr() as usize + STACK) & !15;
    // SAFETY: the child runs `child` on its own stack, shares our memory,
    // and we are suspended until it execs or exits (CLONE_VFORK), so
    // `shared` and `stack` outlive its use of them.
    let pid = unsafe {
        libc::clone(
            child,
            top as *mut libc::c_void,
            libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
            (&raw const shared).cast_mut().cast(),
        )
    };
    drop(stack);
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    match shared.error.load(Ordering::SeqCst) {
        0 => Ok(pid),
        errno => {
            // SAFETY: reaping the child we just made, which has exited.
            unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
            Err(io::Error::from_raw_os_error(errno))
        }
    }
}

extern "C" fn child(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `arg` is the `Shared` the parent keeps alive while waiting.
    let shared = unsafe { &*(arg as *const Shared) };
    let fail = |errno: i32| -> libc::c_int {
        shared.error.store(errno.max(1), Ordering::SeqCst);
        // SAFETY: leaving the child without running the parent's exit code.
        unsafe { libc::_exit(127) }
    };
    for (target, fd) in shared.plan.stdio.iter().enumerate() {
        // SAFETY: dup2 onto our own standard descriptors.
        if unsafe { libc::dup2(fd.as_raw_fd(), target as i32) } < 0 {
            return fail(io::Error::last_os_error().raw_os_error().unwrap_or(libc::EBADF));
        }
    }
    if let Err(errno) = prepare(&shared.plan.steps) {
        return fail(errno);
    }
    // SAFETY: null-terminated arrays of pointers into the plan's CStrings.
    unsafe { libc::execve(shared.plan.program.as_ptr(), shared.argv.as_ptr(), shared.envp.as_ptr()) };
    let errno = io::Error::last_os_error().raw_os_error().unwrap_or(libc::ENOEXEC);
    let line = format!(
        "mnexec: {}: {}\n",
        shared.plan.program.to_string_lossy(),
        nix::errno::Errno::from_raw(errno).desc()
    );
    // SAFETY: writing to our own stderr.
    unsafe { libc::write(2, line.as_ptr().cast(), line.len()) };
    fail(errno)
}

/// Default signals, inherited descriptors closed at exec, then mnexec's
/// steps; a failure is reported on stderr (the node's log) as mnexec would.
fn prepare(steps: &[Step]) -> Result<(), i32> {
    default_signals();
    let fail = |f: mnexec::Failure| {
        let line = format!("mnexec: {f}\n");
        // SAFETY: writing to our own stderr.
        unsafe { libc::write(2, line.as_ptr().cast(), line.len()) };
        libc::EPERM
    };
    mnexec::mark_fds_cloexec().map_err(fail)?;
    for step in steps {
        // Exit would mean -d forked (we were a group leader, which a new
        // child never is): never exec the shell twice.
        if let Next::Exit(_) = mnexec::apply(step).map_err(fail)? {
            return Err(libc::ECHILD);
        }
    }
    Ok(())
}

/// A node shell must start with default signal dispositions and nothing
/// blocked, whatever its caller ignored (a background job of a script
/// ignores SIGINT, which would make the node deaf to interrupts).
fn default_signals() {
    for sig in [
        libc::SIGINT,
        libc::SIGQUIT,
        libc::SIGTERM,
        libc::SIGHUP,
        libc::SIGPIPE,
        libc::SIGCHLD,
        libc::SIGTSTP,
        libc::SIGTTIN,
        libc::SIGTTOU,
    ] {
        // SAFETY: resetting a disposition; no handler of ours runs in the
        // child (the parent's handlers are not reset for it).
        unsafe { libc::signal(sig, libc::SIG_DFL) };
    }
    let empty = nix::sys::signal::SigSet::empty();
    // SAFETY: setting our own signal mask.
    unsafe { libc::sigprocmask(libc::SIG_SETMASK, empty.as_ref(), std::ptr::null_mut()) };
}
