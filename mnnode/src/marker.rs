//! The marker that makes a directory a lab: `$MN_DIR/.mn-lab`, holding
//! `mn-lab 1` and the lab's random id (16 hex digits).
use crate::lab::MARKER;
use anyhow::{Result, anyhow, bail};
use nix::errno::Errno;
use nix::fcntl::{OFlag, openat};
use nix::sys::stat::Mode;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, BorrowedFd};
use std::path::Path;

/// The lab's id, from its marker; `None` without one.
pub(crate) fn read_marker(fd: BorrowedFd, dir: &Path) -> Result<Option<String>> {
    let path = dir.join(MARKER);
    let file = match openat(fd, MARKER, OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC, Mode::empty())
    {
        Ok(file) => file,
        Err(Errno::ENOENT) => return Ok(None),
        Err(e) => bail!("{}: {}", path.display(), e.desc()),
    };
    let mut text = String::new();
    std::fs::File::from(file)
        .take(4096)
        .read_to_string(&mut text)
        .map_err(|e| mncli::io_error(path.display(), &e))?;
    let mut lines = text.lines();
    let id = match (lines.next(), lines.next().and_then(|l| l.strip_prefix("id="))) {
        (Some("mn-lab 1"), Some(id)) if id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit()) => id,
        _ => bail!("{}: not a marker mnnode wrote; refusing to use this directory", path.display()),
    };
    Ok(Some(id.to_string()))
}

/// Marks a directory as a lab with a fresh random id; returns the id (the
/// one another mnnode wrote first, should two race).
pub(crate) fn write_marker(fd: BorrowedFd, dir: &Path) -> Result<String> {
    let id = mncli::random_hex(8)?;
    let path = dir.join(MARKER);
    let text = format!("mn-lab 1\nid={id}\n");
    // Written whole before it gets its name: no one ever reads a marker
    // half-written. A nameless file (O_TMPFILE) where the filesystem has
    // them; else a file named after the id, linked, then unlinked.
    let flags = OFlag::O_TMPFILE | OFlag::O_WRONLY | OFlag::O_CLOEXEC;
    let linked = match openat(fd, ".", flags, Mode::S_IRUSR | Mode::S_IWUSR) {
        Ok(file) => {
            let mut file = std::fs::File::from(file);
            file.write_all(text.as_bytes()).map_err(|e| mncli::io_error(path.display(), &e))?;
            // SAFETY: linking our own open file into our open directory.
            let rc = unsafe {
                libc::linkat(
                    file.as_raw_fd(),
                    c"".as_ptr(),
                    fd.as_raw_fd(),
                    c".mn-lab".as_ptr(),
                    libc::AT_EMPTY_PATH,
                )
            };
            Errno::result(rc).map(drop)
        }
        // overlayfs, NFS and others have no O_TMPFILE.
        Err(Errno::EOPNOTSUPP | Errno::EISDIR | Errno::EINVAL) => link_named(fd, dir, &id, &text)?,
        Err(e) => bail!("{}: {}", path.display(), e.desc()),
    };
    match linked {
        Ok(()) => Ok(id),
        Err(Errno::EEXIST) => read_marker(fd, dir)?.ok_or_else(|| anyhow!("{}: vanished", path.display())),
        Err(e) => bail!("{}: {}", path.display(), e.desc()),
    }
}

/// Writes the marker as `.mn-lab.ID`, links it to `.mn-lab` (which fails if
/// another mnnode got there first) and removes the temporary name. The
/// outer error is about the temporary file; the inner one is the link's.
fn link_named(fd: BorrowedFd, dir: &Path, id: &str, text: &str) -> Result<std::result::Result<(), Errno>> {
    let temp = format!("{MARKER}.{id}");
    let flags = OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let file = openat(fd, temp.as_str(), flags, Mode::S_IRUSR | Mode::S_IWUSR)
        .map_err(|e| anyhow!("{}: {}", dir.join(&temp).display(), e.desc()))?;
    let written = std::fs::File::from(file).write_all(text.as_bytes());
    let linked = match &written {
        Ok(()) => nix::unistd::linkat(fd, temp.as_str(), fd, MARKER, nix::fcntl::AtFlags::empty()),
        Err(_) => Ok(()),
    };
    let _ = nix::unistd::unlinkat(fd, temp.as_str(), nix::unistd::UnlinkatFlags::NoRemoveDir);
    written.map_err(|e| mncli::io_error(dir.join(&temp).display(), &e))?;
    Ok(linked)
}
