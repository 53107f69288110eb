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
use nix::fcntl::OFlag;
use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sys::stat::{Mode, fstat};
use nix::sys::statfs::{FsType, TMPFS_MAGIC, fstatfs};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

/// ramfs, which libc does not name (include/uapi/linux/magic.h).
const RAMFS_MAGIC: FsType = FsType(0x8584_58f6);

/// Whether the directory open at `fd` lies on a memory file system.
fn on_memory(fd: BorrowedFd) -> bool {
    // Where it cannot be told, as if it were: nothing is mounted then.
    fstatfs(fd).map_or(true, |fs| {
        let kind = fs.filesystem_type();
        kind == TMPFS_MAGIC || kind == RAMFS_MAGIC
    })
}

/// Where it is wanted (see [`wanted`]), mounts a tmpfs (mode `mode`,
/// ours) on the empty directory `path`, open at `fd`; `open` opens it
/// again. Returns whether `fd` may no longer be what `path` leads to
/// (our tmpfs, or another call's, is there now): the caller then opens
/// it again to see it.
///
/// Two calls at once take turns on the parent directory's `flock` (the
/// directory's own cannot serve: the one opened after the mount is
/// another), and the second finds the first's tmpfs. A tool that takes no
/// turns (`ip netns add`) may make an entry between the look and the
/// mount: the directory beneath is looked at again through the descriptor
/// opened before the mount, and if it holds anything the tmpfs goes again.
/// Best effort: where anything fails, the directory stays as it is.
pub fn give_tmpfs(fd: BorrowedFd, path: &Path, mode: u32, open: impl Fn() -> Option<OwnedFd>) -> bool {
    if !wanted(fd) {
        return false;
    }
    mount_when_still_wanted(fd, path, mode, open);
    true
}

fn mount_when_still_wanted(fd: BorrowedFd, path: &Path, mode: u32, open: impl Fn() -> Option<OwnedFd>) {
    let flags = OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC;
    let Ok(parent) = nix::fcntl::openat(fd, "..", flags, Mode::empty()) else { return };
    let Ok(_turn) = crate::lab::DirTurn::take(parent, path) else { return };
    let Some(below) = open().filter(|fd| wanted(fd.as_fd())) else { return };
    let Ok(real) = real_path(below.as_fd()) else { return };
    let (uid, gid) = (nix::unistd::geteuid(), nix::unistd::getegid());
    // As systemd sizes /run.
    let data = format!("mode={mode:o},uid={uid},gid={gid},size=20%");
    let target = format!("/proc/self/fd/{}", below.as_raw_fd());
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
    if mount(Some("tmpfs"), target.as_str(), Some("tmpfs"), flags, Some(data.as_str())).is_ok()
        && !is_empty(below.as_fd())
    {
        let _ = umount2(&real, MntFlags::MNT_DETACH);
    }
}

/// Whether the empty directory open at `fd` should get a tmpfs: it is
/// below /run (where it really is, past any symlink), on /run's own disk
/// file system (not another mounted below it: a USB stick's).
fn wanted(fd: BorrowedFd) -> bool {
    if on_memory(fd) || !is_empty(fd) {
        return false;
    }
    let below_run = real_path(fd).is_ok_and(|real| real.starts_with("/run") && real != Path::new("/run"));
    let same_disk = match (fstat(fd), nix::sys::stat::stat("/run")) {
        (Ok(here), Ok(run)) => here.st_dev == run.st_dev,
        _ => false,
    };
    below_run && same_disk
}

fn real_path(fd: BorrowedFd) -> std::io::Result<PathBuf> {
    std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

fn is_empty(fd: BorrowedFd) -> bool {
    let flags = OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC;
    let Ok(mut dir) = nix::dir::Dir::openat(fd, ".", flags, Mode::empty()) else { return false };
    dir.iter().flatten().all(|e| matches!(e.file_name().to_bytes(), b"." | b".."))
}
