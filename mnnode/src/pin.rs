//! Opening MN_DIR once, safely, and keeping it open.
//!
//! A node's shell runs as root and reads its FIFO in MN_DIR: whoever could
//! swap a directory or a symlink on the way to MN_DIR could hand root a
//! FIFO of theirs. So the path is walked a component at a time from `/`,
//! each opened with O_NOFOLLOW relative to the last, as a careful
//! `mkdir -p` would: a symlink is followed only when we or root own it, and
//! no directory passed through may be writable by others, except a sticky
//! one (such as /tmp) whose next component is ours. The directory found is
//! kept open; everything in it is reached with `*at` calls from that
//! descriptor, never by path again.
use anyhow::{Result, anyhow, bail};
use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, openat, readlinkat};
use nix::sys::stat::{FileStat, Mode, SFlag, fstat, fstatat, mkdirat};
use std::ffi::OsString;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

/// As the kernel's own limit on symlinks in one lookup.
const MAX_LINKS: usize = 40;

/// Opens the directory `path` (absolute). `None` when it does not exist
/// and `create` is false; with `create`, missing directories are made
/// (0755, the last one 0700).
pub fn open_dir(path: &Path, create: bool) -> Result<Option<OwnedFd>> {
    let me = nix::unistd::geteuid().as_raw();
    let trusted = |uid: u32| uid == me || uid == 0;
    let flags = OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let root = || nix::fcntl::open("/", flags, Mode::empty()).map_err(|e| anyhow!("/: {}", e.desc()));
    let mut cur = root()?;
    let mut cur_st = fstat(cur.as_fd()).map_err(|e| anyhow!("/: {}", e.desc()))?;
    let mut shown = PathBuf::from("/");
    let mut todo: Vec<OsString> = Vec::new();
    push_components(&mut todo, path);
    let mut links = 0;
    while let Some(name) = todo.pop() {
        let next = shown.join(&name);
        let last = todo.is_empty();
        let st = match fstatat(cur.as_fd(), name.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(Errno::ENOENT) if create => {
                check_passage(&cur_st, true, &shown)?;
                let mode = if last { Mode::S_IRWXU } else { Mode::from_bits_truncate(0o755) };
                match mkdirat(cur.as_fd(), name.as_os_str(), mode) {
                    Ok(()) | Err(Errno::EEXIST) => {}
                    Err(e) => bail!("{}: cannot create MN_DIR: {}", next.display(), e.desc()),
                }
                fstatat(cur.as_fd(), name.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW)
                    .map_err(|e| anyhow!("{}: {}", next.display(), e.desc()))?
            }
            Err(Errno::ENOENT) => return Ok(None),
            Err(e) => bail!("{}: {}", next.display(), e.desc()),
        };
        check_passage(&cur_st, st.st_uid == me, &shown)?;
        match SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits()) {
            SFlag::S_IFLNK => {
                if !trusted(st.st_uid) {
                    bail!(
                        "{}: a symlink owned by uid {}, neither us nor root; refusing to follow it",
                        next.display(),
                        st.st_uid
                    );
                }
                links += 1;
                if links > MAX_LINKS {
                    bail!("{}: {}", path.display(), Errno::ELOOP.desc());
                }
                let target = readlinkat(cur.as_fd(), name.as_os_str())
                    .map_err(|e| anyhow!("{}: {}", next.display(), e.desc()))?;
                let target = PathBuf::from(target);
                if target.is_absolute() {
                    cur = root()?;
                    cur_st = fstat(cur.as_fd()).map_err(|e| anyhow!("/: {}", e.desc()))?;
                    shown = PathBuf::from("/");
                }
                push_components(&mut todo, &target);
            }
            SFlag::S_IFDIR => {
                let fd = openat(cur.as_fd(), name.as_os_str(), flags, Mode::empty())
                    .map_err(|e| anyhow!("{}: {}", next.display(), e.desc()))?;
                let opened = fstat(fd.as_fd()).map_err(|e| anyhow!("{}: {}", next.display(), e.desc()))?;
                if (opened.st_dev, opened.st_ino) != (st.st_dev, st.st_ino) {
                    bail!("{}: replaced while being opened; refusing to use it", next.display());
                }
                if !trusted(opened.st_uid) && !last {
                    bail!(
                        "{}: a directory owned by uid {} on the way to MN_DIR; refusing to use it",
                        next.display(),
                        opened.st_uid
                    );
                }
                cur = fd;
                cur_st = opened;
                shown = if name == ".." { shown.parent().unwrap_or(&shown).to_path_buf() } else { next };
            }
            _ => bail!("{}: {}", next.display(), Errno::ENOTDIR.desc()),
        }
    }
    Ok(Some(cur))
}

/// Pushes a path's components on the stack, first on top.
fn push_components(todo: &mut Vec<OsString>, path: &Path) {
    let names: Vec<OsString> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some("..".into()),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => None,
        })
        .collect();
    todo.extend(names.into_iter().rev());
}

/// Refuses to pass through a directory that others may write to (they
/// could swap what comes next), unless it is sticky and the next
/// component is ours (no one else may rename or remove it).
fn check_passage(dir: &FileStat, next_is_ours: bool, shown: &Path) -> Result<()> {
    let writable = dir.st_mode & 0o022 != 0;
    let sticky = dir.st_mode & 0o1000 != 0;
    if writable && !(sticky && next_is_ours) {
        bail!(
            "{}: a directory writable by others (mode {:04o}) on the way to MN_DIR; refusing to use it",
            shown.display(),
            dir.st_mode & 0o7777
        );
    }
    Ok(())
}
