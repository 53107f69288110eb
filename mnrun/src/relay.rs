//! Copying between mnrun's own stdio and the pipes it relays through (see
//! stdio.rs for when it relays), without ever blocking the call's loop.
use crate::stdio::Route;
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

/// How much output one wakeup copies, so that a command writing without
/// pause cannot keep mnrun from its signals and status.
pub const COPY_BUDGET: usize = 16 * 65536;

/// Our end of a relay pipe, and the standard descriptor it serves.
pub struct Relay {
    pub pipe: OwnedFd,
    fd: i32,
}

/// Splits a route into the relay we serve (if any) and the end the shell
/// opens, which must stay open until the call ends.
pub fn relay(route: Route, fd: i32, keep: &mut Vec<OwnedFd>) -> Option<Relay> {
    match route {
        Route::Direct(_) => None,
        Route::Relay { read, write, .. } => {
            let (ours, theirs) = if fd == 0 { (write, read) } else { (read, write) };
            keep.push(theirs);
            Some(Relay { pipe: ours, fd })
        }
    }
}

impl Relay {
    /// Copies up to `budget` bytes from the relay pipe to our own stdout or
    /// stderr; an error when that cannot be written any more.
    pub fn copy_out(&self, mut budget: usize) -> nix::Result<()> {
        // SAFETY: our stdout and stderr stay open for the life of the process.
        let out = unsafe { BorrowedFd::borrow_raw(self.fd) };
        let mut buf = [0u8; 65536];
        while budget > 0 {
            let want = budget.min(buf.len());
            match nix::unistd::read(&self.pipe, &mut buf[..want]) {
                Ok(0) | Err(Errno::EAGAIN) => return Ok(()),
                Err(Errno::EINTR) => {}
                Err(e) => return Err(e),
                Ok(n) => {
                    write_all(out, &buf[..n])?;
                    budget -= n;
                }
            }
        }
        Ok(())
    }

    /// Copies what the command left in the pipe, and no more: a job it
    /// started may hold it open and write on.
    pub fn drain(&self) {
        let _ = self.copy_out(unread(&self.pipe));
    }
}

/// Our stdin, fed to the command's pipe a bit at a time. Our stdin is read
/// only once the command has taken the last of it: nothing waits on a full
/// pipe inside the call's loop.
pub struct Feed {
    relay: Option<Relay>,
    /// Read from our stdin, not yet taken by the command.
    pending: Vec<u8>,
}

impl Feed {
    pub fn new(relay: Option<Relay>) -> Feed {
        Feed { relay, pending: Vec::new() }
    }

    /// What to wait for: room in the command's pipe, or our stdin's data.
    pub fn poll_fd(&self) -> Option<PollFd<'_>> {
        let relay = self.relay.as_ref()?;
        if self.pending.is_empty() {
            // SAFETY: fd 0 stays open for the life of the process.
            let our_stdin = unsafe { BorrowedFd::borrow_raw(0) };
            Some(PollFd::new(our_stdin, PollFlags::POLLIN))
        } else {
            Some(PollFd::new(relay.pipe.as_fd(), PollFlags::POLLOUT))
        }
    }

    /// Moves data from our stdin to the command's pipe.
    pub fn feed(&mut self) {
        let Some(relay) = &self.relay else { return };
        if self.pending.is_empty() {
            let mut buf = vec![0u8; 65536];
            match nix::unistd::read(std::io::stdin(), &mut buf) {
                Ok(n @ 1..) => {
                    buf.truncate(n);
                    self.pending = buf;
                }
                Err(Errno::EAGAIN | Errno::EINTR) => {}
                // End of our stdin: closing our end ends theirs.
                Ok(0) | Err(_) => self.relay = None,
            }
            return;
        }
        match nix::unistd::write(&relay.pipe, &self.pending) {
            Ok(n) => {
                self.pending.drain(..n);
            }
            Err(Errno::EAGAIN | Errno::EINTR) => {}
            // The command closed its stdin: the rest of ours is not wanted.
            Err(_) => self.relay = None,
        }
    }
}

/// How many bytes wait in a pipe (or FIFO).
pub fn unread(pipe: &impl AsRawFd) -> usize {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD stores an int through the pointer we pass.
    let rc = unsafe { libc::ioctl(pipe.as_raw_fd(), libc::FIONREAD, &mut n) };
    if rc == 0 { n.max(0) as usize } else { 0 }
}

/// Writes everything, waiting when the descriptor is non-blocking and full.
pub fn write_all(fd: impl AsFd, bytes: &[u8]) -> nix::Result<()> {
    write_all_until(fd, bytes, PollTimeout::NONE).map(|_| ())
}

/// Writes everything, waiting at most `timeout` at a time for room; false
/// when that ran out.
pub fn write_all_until(fd: impl AsFd, mut bytes: &[u8], timeout: PollTimeout) -> nix::Result<bool> {
    let fd = fd.as_fd();
    while !bytes.is_empty() {
        match nix::unistd::write(fd, bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(Errno::EINTR) => {}
            Err(Errno::EAGAIN) => {
                let mut fds = [PollFd::new(fd, PollFlags::POLLOUT)];
                if poll(&mut fds, timeout)? == 0 {
                    return Ok(false);
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// Output that jobs the command left in the background write after the
/// call: a terminal or pipe was handed to them and gets it; a relayed file
/// or socket gets it too, through a child left to copy until the last job
/// closes the pipe. One behaviour, whatever our stdout is.
pub fn hand_off(outputs: &[Relay]) {
    let held: Vec<&Relay> = outputs
        .iter()
        .filter(|relay| {
            relay.drain();
            let mut fds = [PollFd::new(relay.pipe.as_fd(), PollFlags::POLLIN)];
            let hung_up = poll(&mut fds, PollTimeout::ZERO).is_ok()
                && fds[0].revents().is_some_and(|r| r.contains(PollFlags::POLLHUP));
            !hung_up
        })
        .collect();
    if held.is_empty() {
        return;
    }
    // SAFETY: the child only polls, reads, writes and exits (no allocation,
    // no lock), which is sound even if another thread held one at the fork.
    if unsafe { libc::fork() } != 0 {
        return; // the parent (or a failed fork: the output is lost)
    }
    copy_until_closed(&held);
    // SAFETY: ending the child without running the parent's exit code.
    unsafe { libc::_exit(0) };
}

/// Copies from (at most two) relay pipes until each has no writer left.
/// Runs in a forked child: no allocation.
fn copy_until_closed(relays: &[&Relay]) {
    let n = relays.len().min(2);
    let mut live = [true; 2];
    let mut buf = [0u8; 65536];
    while (0..n).any(|i| live[i]) {
        // A negative descriptor is skipped by poll.
        let mut fds = [libc::pollfd { fd: -1, events: libc::POLLIN, revents: 0 }; 2];
        for i in (0..n).filter(|&i| live[i]) {
            fds[i].fd = relays[i].pipe.as_raw_fd();
        }
        // SAFETY: poll on an array of pollfd we own, of length n <= 2.
        if unsafe { libc::poll(fds.as_mut_ptr(), n as libc::nfds_t, -1) } < 0 {
            if Errno::last() == Errno::EINTR {
                continue;
            }
            return;
        }
        for i in 0..n {
            if !live[i] || fds[i].revents == 0 {
                continue;
            }
            // SAFETY: our stdout and stderr stay open in this child.
            let out = unsafe { BorrowedFd::borrow_raw(relays[i].fd) };
            match nix::unistd::read(&relays[i].pipe, &mut buf) {
                Ok(0) => live[i] = false,
                Ok(got) => live[i] = write_all(out, &buf[..got]).is_ok(),
                Err(Errno::EINTR | Errno::EAGAIN) => {}
                Err(_) => live[i] = false,
            }
        }
    }
}
