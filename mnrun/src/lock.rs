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

/// What a killed mnrun left: its command's clock tick and, when it knew
/// them, the shell's children (older jobs) at that moment.
pub struct Left {
    pub since: u64,
    pub older: Option<Vec<i32>>,
}

/// The record a call keeps while its command runs: `PID SINCE : [OLDER...]`,
/// or `PID SINCE -` when the shell's children could not be listed.
pub fn record(since: u64, older: Option<&[i32]>) -> String {
    let mut text = format!("{} {since}", std::process::id());
    match older {
        Some(pids) => {
            text += " :";
            for pid in pids {
                text += &format!(" {pid}");
            }
        }
        None => text += " -",
    }
    text + "\n"
}

/// The command a killed mnrun left, if any.
pub fn read_record(lock: &OwnedFd) -> Option<Left> {
    let mut text = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n @ 1..) = nix::sys::uio::pread(lock, &mut buf, text.len() as i64) {
        text.extend_from_slice(&buf[..n]);
    }
    let text = std::str::from_utf8(&text).ok()?;
    let mut words = text.split_whitespace().skip(1);
    let since = words.next()?.parse().ok()?;
    // Without the list (`-`, or a record of an older mnrun), the start
    // alone tells older jobs.
    let older = match words.next() {
        Some(":") => words.map(|p| p.parse().ok()).collect(),
        _ => None,
    };
    Some(Left { since, older })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Option<Left> {
        let file = OwnedFd::from(tempfile_with(text));
        read_record(&file)
    }

    fn tempfile_with(text: &str) -> std::fs::File {
        let path =
            std::env::temp_dir().join(format!("mnrun-lock-test-{}-{}", std::process::id(), text.len()));
        std::fs::write(&path, text).expect("write");
        let file = std::fs::File::open(&path).expect("open");
        let _ = std::fs::remove_file(&path);
        file
    }

    #[test]
    fn records_keep_the_older_jobs() {
        let left = read(&record(42, Some(&[7, 8]))).expect("a record");
        assert_eq!((left.since, left.older), (42, Some(vec![7, 8])));
        let left = read(&record(42, Some(&[]))).expect("a record");
        assert_eq!((left.since, left.older), (42, Some(vec![])));
        let left = read(&record(42, None)).expect("a record");
        assert_eq!((left.since, left.older), (42, None));
        let left = read("123 42\n").expect("an older mnrun's record");
        assert_eq!((left.since, left.older), (42, None));
        assert!(read("").is_none());
        assert!(read("123 x\n").is_none());
    }
}
