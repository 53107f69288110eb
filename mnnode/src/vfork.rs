//! Starting a node shell without fork's copy-on-write.
//!
//! After fork, every page the parent writes is copied once, and a page
//! fault costs tens of microseconds on a VM: forking mnnode a thousand
//! times cost it over a millisecond per node. A child created with
//! CLONE_VM | CLONE_VFORK (what posix_spawn does) shares the parent's
//! memory until it execs, and the parent waits meanwhile, so nothing is
//! copied. The child runs on a stack of its own (with a guard page),
//! applies mnexec's steps, and execs. Like posix_spawn's child it only
//! makes system calls: every path, argument and error word was made ready
//! by the parent ([`Plan`], [`mnexec::Prepared`]), since the child shares
//! the parent's allocator and errno. All signals are blocked across the
//! clone, so that no handler of the parent's ever runs in the child, which
//! resets every disposition before it unblocks them.
use mnexec::Prepared;
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
    steps: Vec<Prepared>,
    /// `mnexec: PROGRAM: `, for a failed exec.
    exec_failed: Vec<u8>,
    /// The descriptor limit to give the child (mnnode raised its own).
    nofile: libc::rlimit,
}

impl Plan {
    /// `env` is added to (or replaces in) the caller's environment;
    /// `unset` is removed from it.
    pub fn new(
        argv: &[&str],
        env: &[(&str, &OsStr)],
        unset: &[&str],
        stdio: [OwnedFd; 3],
        steps: Vec<Prepared>,
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
        let mut prepared = vec![Prepared::mark_cloexec().map_err(|f| io::Error::other(f.to_string()))?];
        prepared.extend(steps);
        let exec_failed = format!("mnexec: {}: ", program.to_string_lossy()).into_bytes();
        Ok(Plan {
            program,
            argv,
            envp,
            stdio,
            steps: prepared,
            exec_failed,
            nofile: crate::limits::original_nofile(),
        })
    }
}

/// What the child reads and writes: the plan, raw pointers for execvp,
/// and the errno it failed with (0 while all goes well).
struct Shared<'a> {
    plan: &'a Plan,
    argv: Vec<*const libc::c_char>,
    envp: Vec<*const libc::c_char>,
    error: AtomicI32,
    /// mnnode's pid: the child dies with it until it has exec'd.
    parent: libc::pid_t,
}

const STACK: usize = 256 * 1024;

/// The child's stack: mapped memory whose lowest page is inaccessible,
/// so an overflow faults instead of writing over the parent's heap.
struct Stack {
    base: *mut libc::c_void,
}

impl Stack {
    fn new() -> io::Result<Stack> {
        // SAFETY: a fresh private anonymous mapping; checked below.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                STACK,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let stack = Stack { base };
        // SAFETY: the first page of the mapping we own.
        if unsafe { libc::mprotect(base, page_size(), libc::PROT_NONE) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(stack)
    }

    /// Where the stack starts: it grows down from the mapping's end.
    fn top(&self) -> *mut libc::c_void {
        // Page-aligned, so 16-byte aligned as clone wants.
        self.base.wrapping_byte_add(STACK)
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        // SAFETY: unmapping the mapping made in `new`, no longer in use.
        unsafe { libc::munmap(self.base, STACK) };
    }
}

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if size > 0 { size as usize } else { 4096 }
}

/// Starts the plan's program; returns its pid once it has exec'd. On
/// failure the child said why on its stderr, as mnexec would.
///
/// # Safety
/// The calling process must be single-threaded (checked here, as far as
/// /proc can tell): the child shares its memory while the parent waits,
/// and another thread could change it meanwhile.
pub unsafe fn spawn(plan: &Plan) -> io::Result<i32> {
    match crate::procfs::own_threads() {
        Some(1) => {}
        n => {
            let n = n.map_or("an unknown number of".to_string(), |n| n.to_string());
            return Err(io::Error::other(format!(
                "mnnode has {n} threads; it starts shells only single-threaded"
            )));
        }
    }
    let null_terminated = |v: &[CString]| {
        v.iter().map(|s| s.as_ptr()).chain(std::iter::once(std::ptr::null())).collect::<Vec<_>>()
    };
    let shared = Shared {
        plan,
        argv: null_terminated(&plan.argv),
        envp: null_terminated(&plan.envp),
        error: AtomicI32::new(0),
        // SAFETY: getpid has no preconditions.
        parent: unsafe { libc::getpid() },
    };
    let stack = Stack::new()?;
    let mut all = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
    let mut saved = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: filling and swapping signal masks we own.
    unsafe {
        libc::sigfillset(all.as_mut_ptr());
        libc::pthread_sigmask(libc::SIG_SETMASK, all.as_ptr(), saved.as_mut_ptr());
    }
    // SAFETY: the child runs `child` on its own stack, shares our memory,
    // and we are suspended until it execs or exits (CLONE_VFORK), so
    // `shared` and `stack` outlive its use of them.
    let pid = unsafe {
        libc::clone(
            child,
            stack.top(),
            libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
            (&raw const shared).cast_mut().cast(),
        )
    };
    let clone_error = io::Error::last_os_error();
    // SAFETY: restoring the mask saved above.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, saved.as_ptr(), std::ptr::null_mut()) };
    drop(stack);
    if pid < 0 {
        return Err(clone_error);
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
    // Should mnnode be killed before we exec, we die too: a half-made
    // shell would be found by nothing (clean finds shells by the
    // environment they exec with). Unset again just before the exec.
    // SAFETY: prctl and getppid on our own process.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        if libc::getppid() != shared.parent {
            libc::_exit(127);
        }
    }
    for (target, fd) in shared.plan.stdio.iter().enumerate() {
        let (fd, target) = (fd.as_raw_fd(), target as i32);
        // SAFETY: dup2 onto our own standard descriptors. dup2 onto itself
        // keeps close-on-exec, which must go for the shell to have it.
        let rc =
            unsafe { if fd == target { libc::fcntl(fd, libc::F_SETFD, 0) } else { libc::dup2(fd, target) } };
        if rc < 0 {
            return fail(nix::errno::Errno::last_raw());
        }
    }
    if let Err(errno) = prepare(shared.plan) {
        return fail(errno);
    }
    // SAFETY: prctl and getppid on our own process.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, 0);
        if libc::getppid() != shared.parent {
            libc::_exit(127);
        }
    }
    // SAFETY: null-terminated arrays of pointers into the plan's CStrings.
    unsafe { libc::execve(shared.plan.program.as_ptr(), shared.argv.as_ptr(), shared.envp.as_ptr()) };
    let errno = nix::errno::Errno::last();
    say(&[&shared.plan.exec_failed, errno.desc().as_bytes()]);
    fail(errno as i32)
}

/// Writes one line, in pieces, to stderr (the node's log), allocating
/// nothing.
fn say(pieces: &[&[u8]]) {
    for piece in pieces.iter().chain([&b"\n"[..]].iter()) {
        // SAFETY: writing bytes we own to our own stderr.
        unsafe { libc::write(2, piece.as_ptr().cast(), piece.len()) };
    }
}

/// Default signals, inherited descriptors closed at exec, mnexec's steps,
/// then the caller's descriptor limit (last: a descriptor handed on above
/// it stays open); a failure is reported on stderr (the node's log) as
/// mnexec would.
///
/// Until the steps have made the child a session of its own (`-d`), it is
/// in its parent's process group, where a Ctrl-C at the terminal would
/// kill it: every signal is ignored until then (which discards any that
/// came while they were blocked, and drops any that comes meanwhile), and
/// only then set to its default.
fn prepare(plan: &Plan) -> Result<(), i32> {
    set_all_signals(libc::SIG_IGN);
    let empty = nix::sys::signal::SigSet::empty();
    // SAFETY: setting our own signal mask; every handler is SIG_IGN.
    unsafe { libc::sigprocmask(libc::SIG_SETMASK, empty.as_ref(), std::ptr::null_mut()) };
    for step in &plan.steps {
        if let Err(fault) = step.apply() {
            say(&[b"mnexec: ", fault.what.as_bytes(), b": ", fault.why.as_bytes()]);
            return Err(libc::EPERM);
        }
    }
    default_signals();
    // SAFETY: setting our own limit to a value the parent read.
    unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &plan.nofile) };
    Ok(())
}

/// Sets every signal's disposition (those that can be set) to `action`.
fn set_all_signals(action: libc::sighandler_t) {
    // SAFETY: all-zero is a valid sigaction; the handler is set below.
    let mut act: libc::sigaction = unsafe { std::mem::zeroed() };
    act.sa_sigaction = action;
    for sig in 1..=libc::SIGRTMAX() {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: setting a disposition in the child, signals blocked.
        unsafe { libc::sigaction(sig, &act, std::ptr::null_mut()) };
    }
}

/// A node shell must start with default signal dispositions and nothing
/// blocked, whatever its caller ignored (a background job of a script
/// ignores SIGINT, which would make the node deaf to interrupts). Every
/// handler goes too: they belong to the parent, whose memory we share.
fn default_signals() {
    // The C library's own signals refuse, harmlessly.
    set_all_signals(libc::SIG_DFL);
    let empty = nix::sys::signal::SigSet::empty();
    // SAFETY: setting our own signal mask.
    unsafe { libc::sigprocmask(libc::SIG_SETMASK, empty.as_ref(), std::ptr::null_mut()) };
}
