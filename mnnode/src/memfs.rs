//! What the tools keep under /run goes on a memory file system.
//!
//! /run is a tmpfs wherever the FHS is followed, and what the tools keep
//! there (lab directories, `ip netns` entries) lives only as long as the
//! processes and namespaces it describes. Where /run is a disk file system
//! instead, every node costs disk inodes made and freed again, and an ext4
//! without a journal skips each inode freed in the last one to six minutes
//! when it looks for a free one (`recently_deleted()` in fs/ext4/ialloc.c):
//! labs made back to back each took longer to add their nodes than the one
//! before (scripts/bench/TEARDOWN.md). There, a directory the tools make
//! under /run gets a tmpfs of its own while it is new and empty, as if /run
//! were what it should be. The tools never unmount it: a lab's directory
//! stays what it is for as long as the machine runs, and nothing is ever
//! hidden under it, since only an empty directory gets one.
use anyhow::{Result, anyhow};
use nix::fcntl::OFlag;
use nix::mount::{MsFlags, mount};
use nix::sys::stat::Mode;
use nix::sys::statfs::{FsType, TMPFS_MAGIC, fstatfs};
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;

/// ramfs, which libc does not name (include/uapi/linux/magic.h).
const RAMFS_MAGIC: FsType = FsType(0x8584_58f6);

/// Whether the directory open at `fd` lies on a memory file system.
pub fn on_memory(fd: BorrowedFd) -> bool {
    // Where it cannot be told, as if it were: nothing is mounted then.
    fstatfs(fd).map_or(true, |fs| {
        let kind = fs.filesystem_type();
        kind == TMPFS_MAGIC || kind == RAMFS_MAGIC
    })
}

/// Whether the empty directory open at `fd` should get a tmpfs: it is
/// under /run (where it really is, past any symlink) on a disk.
pub fn wanted(fd: BorrowedFd) -> bool {
    if on_memory(fd) || !is_empty(fd) {
        return false;
    }
    std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))
        .is_ok_and(|real| real.starts_with("/run/"))
}

/// Mounts a tmpfs (mode `mode`, owned by us) on the directory open at
/// `fd`; `path` only names it in an error. The caller opens it again to
/// see the tmpfs.
pub fn mount_on(fd: BorrowedFd, path: &Path, mode: u32) -> Result<()> {
    let target = format!("/proc/self/fd/{}", fd.as_raw_fd());
    let (uid, gid) = (nix::unistd::geteuid(), nix::unistd::getegid());
    let data = format!("mode={mode:o},uid={uid},gid={gid}");
    mount(
        Some("tmpfs"),
        target.as_str(),
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some(data.as_str()),
    )
    .map_err(|e| anyhow!("{}: mount a tmpfs on it: {}", path.display(), e.desc()))
}

/// The directory that holds the one open at `fd`: whose `flock` is the
/// turn to decide whether to mount on it (the directory's own descriptor
/// cannot serve: the one opened after the mount is another directory).
pub fn parent(fd: BorrowedFd, path: &Path) -> Result<OwnedFd> {
    let flags = OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC;
    nix::fcntl::openat(fd, "..", flags, Mode::empty())
        .map_err(|e| anyhow!("{}/..: {}", path.display(), e.desc()))
}

fn is_empty(fd: BorrowedFd) -> bool {
    let flags = OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC;
    let Ok(mut dir) = nix::dir::Dir::openat(fd, ".", flags, Mode::empty()) else { return false };
    dir.iter().flatten().all(|e| matches!(e.file_name().to_bytes(), b"." | b".."))
}
