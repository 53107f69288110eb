//! `ip netns` entries: bind mounts of a node's network namespace on a file
//! in /run/netns, as `ip netns add` makes them. The entry pins the
//! namespace itself, so it can never come to mean another one (a symlink
//! to /proc/PID/ns/net did, once the pid was reused).
//!
//! /run/netns is made a shared mount point of its own, as iproute2 does,
//! and every node's mount namespace detaches it (mnexec -n): a node never
//! holds copies of the other nodes' entries, which would keep their
//! namespaces (and links) alive after they are deleted.
use anyhow::{Result, anyhow, bail};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sched::{CloneFlags, setns, unshare};
use nix::sys::stat::Mode;
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

pub static DIR: LazyLock<&'static Path> = LazyLock::new(|| Path::new("/run/netns"));

/// Makes /run/netns exist and be a shared mount point: where /run is a
/// disk and /run/netns is empty, a tmpfs (memfs.rs) rather than the
/// directory bound onto itself.
pub fn prepare() -> Result<()> {
    let dir: &Path = &DIR;
    std::fs::create_dir_all(dir).map_err(|e| mncli::io_error(dir.display(), &e))?;
    give_tmpfs(dir);
    let shared = MsFlags::MS_SHARED | MsFlags::MS_REC;
    match mount(None::<&str>, dir, Some("none"), shared, None::<&str>) {
        Ok(()) => return Ok(()),
        // Not a mount point yet: make it one.
        Err(Errno::EINVAL) => {}
        Err(e) => bail!("{}: make it a shared mount: {}", dir.display(), e.desc()),
    }
    mount(Some(dir), dir, Some("none"), MsFlags::MS_BIND | MsFlags::MS_REC, None::<&str>)
        .map_err(|e| anyhow!("{}: bind it onto itself: {}", dir.display(), e.desc()))?;
    mount(None::<&str>, dir, Some("none"), shared, None::<&str>)
        .map_err(|e| anyhow!("{}: make it a shared mount: {}", dir.display(), e.desc()))
}

fn give_tmpfs(dir: &Path) {
    let flags = OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let open = || nix::fcntl::open(dir, flags, Mode::empty()).ok();
    if let Some(fd) = open() {
        crate::memfs::give_tmpfs(fd.as_fd(), dir, 0o755, open);
    }
}

/// A mount namespace to copy node namespaces from: the caller's, with
/// /run/netns detached. Copying the caller's own would copy every entry
/// (one mount per node of every lab) only for each node to detach them
/// again, which costs milliseconds per node once there are hundreds.
/// mnnode itself stays where it was.
pub fn template() -> Result<File> {
    let home = File::open("/proc/self/ns/mnt").map_err(|e| mncli::io_error("/proc/self/ns/mnt", &e))?;
    let cwd = File::open(".").ok();
    unshare(CloneFlags::CLONE_NEWNS).map_err(|e| anyhow!("unshare a mount namespace: {}", e.desc()))?;
    let made = (|| {
        mount(None::<&str>, "/", None::<&str>, MsFlags::MS_REC | MsFlags::MS_PRIVATE, None::<&str>)
            .map_err(|e| anyhow!("make / private: {}", e.desc()))?;
        match umount2(*DIR, MntFlags::MNT_DETACH) {
            Ok(()) | Err(Errno::EINVAL) | Err(Errno::ENOENT) => {}
            Err(e) => bail!("{}: detach: {}", DIR.display(), e.desc()),
        }
        File::open("/proc/self/ns/mnt").map_err(|e| mncli::io_error("/proc/self/ns/mnt", &e))
    })();
    // Back home whatever happened: entries must be made in the host's
    // mount namespace.
    setns(home.as_fd(), CloneFlags::CLONE_NEWNS)
        .map_err(|e| anyhow!("return to our own mount namespace: {}", e.desc()))?;
    if let Some(cwd) = cwd {
        let _ = nix::unistd::fchdir(cwd.as_fd());
    }
    made
}

/// Makes `entry` hold the namespace `ns`. A name already taken is an error.
pub fn bind(entry: &Path, ns: BorrowedFd) -> Result<()> {
    let flags = OFlag::O_RDONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_CLOEXEC;
    match nix::fcntl::open(entry, flags, Mode::empty()) {
        Ok(_) => {}
        Err(Errno::EEXIST) => bail!(
            "ip netns name {} is taken (by another lab named the same?); give this lab another MN_DIR name",
            file_name(entry)
        ),
        Err(e) => bail!("{}: {}", entry.display(), e.desc()),
    }
    let source = format!("/proc/self/fd/{}", ns.as_raw_fd());
    if let Err(e) = mount(Some(source.as_str()), entry, None::<&str>, MsFlags::MS_BIND, None::<&str>) {
        let _ = std::fs::remove_file(entry);
        bail!("{}: bind the namespace: {}", entry.display(), e.desc());
    }
    Ok(())
}

/// Whether `entry` is taken by anything (an entry, a file, a symlink).
pub fn taken(entry: &Path) -> bool {
    entry.symlink_metadata().is_ok()
}

/// What an entry holds now.
pub enum Holds {
    Nothing,
    /// A namespace, by inode.
    Namespace(u64),
    /// An empty file: an entry whose mount never happened (or was undone).
    Unmounted,
    /// An older mnnode's symlink to /proc/PID/ns/net.
    Symlink,
}

pub fn holds(entry: &Path) -> Holds {
    let Ok(meta) = entry.symlink_metadata() else { return Holds::Nothing };
    if meta.file_type().is_symlink() {
        return Holds::Symlink;
    }
    // A bind-mounted namespace shows as a file of the nsfs filesystem.
    match nix::sys::statfs::statfs(entry) {
        Ok(fs) if fs.filesystem_type() == nix::sys::statfs::NSFS_MAGIC => Holds::Namespace(meta.ino()),
        _ if meta.is_file() && meta.len() == 0 => Holds::Unmounted,
        _ => Holds::Nothing,
    }
}

/// Opens the namespace an entry holds, if it is the one with this inode.
pub fn open(entry: &Path, inode: Option<u64>) -> Option<File> {
    let file = File::open(entry).ok()?;
    let meta = file.metadata().ok()?;
    let is_ns =
        nix::sys::statfs::fstatfs(&file).is_ok_and(|fs| fs.filesystem_type() == nix::sys::statfs::NSFS_MAGIC);
    (is_ns && Some(meta.ino()) == inode).then_some(file)
}

/// Removes a node's entry if it holds the namespace `inode` (or nothing
/// at all); an entry that holds another namespace is left alone. Returns
/// whether an entry went.
pub fn remove(entry: &Path, inode: Option<u64>) -> Result<bool> {
    match holds(entry) {
        Holds::Nothing => return Ok(false),
        Holds::Namespace(ino) if Some(ino) != inode => return Ok(false),
        Holds::Namespace(_) => match umount2(entry, MntFlags::MNT_DETACH) {
            Ok(()) | Err(Errno::EINVAL) => {}
            Err(e) => bail!("{}: unmount: {}", entry.display(), e.desc()),
        },
        // An older mnnode's symlink: ours if it leads to that namespace,
        // or nowhere.
        Holds::Symlink => {
            if std::fs::metadata(entry).is_ok_and(|m| Some(m.ino()) != inode) {
                return Ok(false);
            }
        }
        Holds::Unmounted => {}
    }
    match std::fs::remove_file(entry) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(mncli::io_error(entry.display(), &e)),
    }
}

/// [`remove`] for many entries, side by side: each unmount waits for an
/// RCU grace period once it has let go of the mount lock, and unmounts at
/// once share theirs (one by one, 11,111 entries took 3.3 s here).
///
/// In their order, about: `clean --wait` marks the namespaces with
/// ascending ids (settle.rs), and the kernel forgets the ids of each run
/// of dying namespaces newest first, so they go from the end of the list
/// it dumps, and a dump in parts misses none of those left.
pub fn remove_all(entries: &[(PathBuf, Option<u64>)]) -> Vec<Result<()>> {
    const SIDE_BY_SIDE: usize = 8;
    let remove = |(entry, inode): &(PathBuf, Option<u64>)| remove(entry, *inode).map(drop);
    if entries.len() <= 8 * SIDE_BY_SIDE {
        return entries.iter().map(remove).collect();
    }
    let stripe = move |k: usize| -> Vec<Result<()>> {
        entries.iter().skip(k).step_by(SIDE_BY_SIDE).map(remove).collect()
    };
    std::thread::scope(|scope| {
        // A thread that cannot be made (a pids limit) leaves its stripe to us.
        let workers: Vec<_> = (0..SIDE_BY_SIDE)
            .map(|k| std::thread::Builder::new().spawn_scoped(scope, move || stripe(k)).map_err(|_| k))
            .collect();
        workers
            .into_iter()
            .flat_map(|w| match w {
                Ok(w) => w
                    .join()
                    .unwrap_or_else(|_| vec![Err(anyhow!("remove ip netns entries: a thread panicked"))]),
                Err(k) => stripe(k),
            })
            .collect()
    })
}

fn file_name(entry: &Path) -> String {
    entry.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}
