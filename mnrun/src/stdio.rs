//! How the command reaches mnrun's stdin, stdout and stderr.
//!
//! The node's shell opens them by path, through `/proc/MNRUN/fd/N`. That
//! hands over the very same pipe or terminal, so output flows straight to
//! its reader and a terminal stays a terminal (colours, line buffering).
//! Where reopening would change meaning, mnrun relays through a pipe of its
//! own instead: a regular file (a reopened file has its own offset, and
//! would overwrite what others wrote), a socket (cannot be reopened) or a
//! named FIFO (reopening may block).
use anyhow::{Context, Result};
use nix::fcntl::OFlag;
use nix::sys::stat::{SFlag, fstat};
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

const PIPEFS_MAGIC: i64 = 0x5049_5045;

pub enum Route {
    /// The shell opens this path.
    Direct(String),
    /// A pipe between the command and mnrun: mnrun copies.
    Relay { read: OwnedFd, write: OwnedFd, path: String },
}

impl Route {
    pub fn path(&self) -> &str {
        match self {
            Route::Direct(path) | Route::Relay { path, .. } => path,
        }
    }
}

/// The path by which the node shell opens one of our descriptors.
pub fn proc_path(fd: i32) -> String {
    format!("/proc/{}/fd/{fd}", std::process::id())
}

/// Decides the route for one of our standard descriptors. `input` is true
/// for stdin (a regular file is then opened afresh, which only resets the
/// offset: better than mnrun reading ahead and eating a loop's input).
pub fn route(fd: BorrowedFd, input: bool) -> Result<Route> {
    let Ok(st) = fstat(fd) else {
        return Ok(Route::Direct("/dev/null".into()));
    };
    let kind = SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits());
    let anonymous_pipe = kind == SFlag::S_IFIFO
        && nix::sys::statfs::fstatfs(fd).is_ok_and(|s| s.filesystem_type().0 == PIPEFS_MAGIC);
    let direct = anonymous_pipe || kind == SFlag::S_IFCHR || (input && kind == SFlag::S_IFREG);
    if direct {
        return Ok(Route::Direct(proc_path(fd.as_raw_fd())));
    }
    let (read, write) = nix::unistd::pipe2(OFlag::O_CLOEXEC).context("pipe")?;
    // Our own end is read (output) or written (input) without blocking.
    let ours = if input { &write } else { &read };
    nix::fcntl::fcntl(ours, nix::fcntl::FcntlArg::F_SETFL(OFlag::O_NONBLOCK)).context("fcntl")?;
    let theirs = if input { read.as_raw_fd() } else { write.as_raw_fd() };
    Ok(Route::Relay { path: proc_path(theirs), read, write })
}
