//! The signals that interrupt a call, as bytes on a pipe that the call's
//! poll loops watch.
use anyhow::{Context, Result};
use nix::fcntl::OFlag;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

pub struct Signals {
    read: OwnedFd,
}

impl Signals {
    pub fn new() -> Result<Signals> {
        let (read, write) = nix::unistd::pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK).context("pipe")?;
        for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            // Ignored when we started (`nohup`, a script's `&` job): the
            // caller wants us to outlive it, and it stays ignored, as ssh does.
            if ignored(sig) {
                continue;
            }
            let end = write.try_clone().context("dup")?;
            signal_hook::low_level::pipe::register(sig, end).context("install a signal handler")?;
        }
        Ok(Signals { read })
    }

    /// How many signals arrived since last asked.
    pub fn take(&self) -> usize {
        let mut buf = [0u8; 64];
        let mut n = 0;
        while let Ok(got @ 1..) = nix::unistd::read(&self.read, &mut buf) {
            n += got;
        }
        n
    }
}

impl AsFd for Signals {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.read.as_fd()
    }
}

fn ignored(sig: i32) -> bool {
    let mut old = std::mem::MaybeUninit::<libc::sigaction>::zeroed();
    // SAFETY: with no new action, sigaction only fills in the current one.
    let rc = unsafe { libc::sigaction(sig, std::ptr::null(), old.as_mut_ptr()) };
    // SAFETY: zeroed, then filled by sigaction when it succeeded.
    rc == 0 && unsafe { old.assume_init() }.sa_sigaction == libc::SIG_IGN
}
