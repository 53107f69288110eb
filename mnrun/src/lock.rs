//! Calls to one node take turns on `$MN_DIR/NODE/lock`, which also records
//! the command the shell is running for the holder (`PID TICKS`, cleared
//! when its status comes back). A record found by the next holder means an
//! mnrun was killed mid-command: the command it left is interrupted, and
//! the shell seen idle, before the new command is sent.
use crate::signals::Signals;
use anyhow::{Context, Result, bail};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::poll::{PollFd, PollFlags, poll};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::Instant;

/// How waiting for our turn ended.
pub enum Turn {
    Ours,
    Interrupted,
    TimedOut,
}

/// Waits for our turn on the node, until `deadline` at most.
pub fn take_turn(lock: &OwnedFd, signals: &Signals, deadline: Option<Instant>) -> Result<Turn> {
    // SAFETY: flock on a descriptor we own.
    if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
        return Ok(Turn::Ours);
    }
    if Errno::last() != Errno::EWOULDBLOCK {
        bail!("lock the node: {}", Errno::last().desc());
    }
    // Wait in a thread, so that Ctrl-C and -t still work while we queue.
    // The thread's descriptor shares the lock's open file: the lock it
    // takes is ours, and it goes when the process does.
    let (done_r, done_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).context("pipe")?;
    let theirs = lock.try_clone().context("dup")?;
    std::thread::spawn(move || {
        // SAFETY: flock on a descriptor this thread owns.
        unsafe { libc::flock(theirs.as_raw_fd(), libc::LOCK_EX) };
        let _ = nix::unistd::write(&done_w, b"x");
    });
    loop {
        let mut fds =
            [PollFd::new(done_r.as_fd(), PollFlags::POLLIN), PollFd::new(signals.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, crate::running::poll_timeout(deadline, Instant::now())) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => bail!("poll: {}", e.desc()),
        }
        let [done, sig] = fds.map(|f| f.revents().is_some_and(|r| !r.is_empty()));
        if done {
            return Ok(Turn::Ours);
        }
        if sig && signals.take() > 0 {
            return Ok(Turn::Interrupted);
        }
        if deadline.is_some_and(|d| d <= Instant::now()) {
            return Ok(Turn::TimedOut);
        }
    }
}

/// The clock tick of the command a killed mnrun left, if any.
pub fn read_record(lock: &OwnedFd) -> Option<u64> {
    let mut buf = [0u8; 64];
    let n = nix::sys::uio::pread(lock, &mut buf, 0).ok()?;
    let text = std::str::from_utf8(&buf[..n]).ok()?;
    text.split_whitespace().nth(1)?.parse().ok()
}

pub fn write_record(lock: &OwnedFd, record: &str) -> Result<()> {
    // Written over the old record, then cut to length: never seen empty.
    nix::sys::uio::pwrite(lock, record.as_bytes(), 0).context("write the lock record")?;
    nix::unistd::ftruncate(lock, record.len() as i64).context("write the lock record")?;
    Ok(())
}

pub fn clear_record(lock: &OwnedFd) {
    let _ = nix::unistd::ftruncate(lock, 0);
}
