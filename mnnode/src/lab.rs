//! The lab: one `MN_DIR` and the node directories in it.
//!
//! This is the only code that knows the layout:
//!
//! ```text
//! $MN_DIR/            0700, owned by the caller
//!   .mn-lab           the marker: "mn-lab 1" and the lab's id
//!   NAME/             0700
//!     node            the record (see node.rs)
//!     fifo            0600: the shell reads commands from it
//!     log             0600: the shell's stdout and stderr
//!     lock            mnrun's lock and record of the running call
//! ```
//!
//! A node's shell runs as root, so whoever can write its FIFO owns the
//! machine: the directory must belong to us and be closed to others, it is
//! opened once (see pin.rs), and nothing in it is opened through a symlink.
//!
//! Nothing is deleted outside a directory that carries the marker, and in
//! one only node directories (those holding a record or a FIFO) and only
//! the files the tools make in them.
use crate::marker::{read_marker, write_marker};
use crate::name;
use crate::node::Node;
use anyhow::{Context, Result, anyhow, bail};
use nix::errno::Errno;
use nix::fcntl::{OFlag, openat};
use nix::sys::stat::{Mode, SFlag, fstat, fstatat, mkdirat};
use nix::unistd::{UnlinkatFlags, unlinkat};
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
pub const DEFAULT_DIR: &str = "/run/mn";
/// The marker that makes a directory a lab, written when the lab is made.
pub const MARKER: &str = ".mn-lab";
const RECORD: &str = "node";
const RECORD_NEW: &str = "node.new";
pub const FIFO: &str = "fifo";
pub const LOG: &str = "log";
pub const LOCK: &str = "lock";
/// Every file the tools make in a node directory: the only ones removed.
pub const OWN_FILES: [&str; 6] = [RECORD, RECORD_NEW, FIFO, crate::restart::FIFO_NEW, LOG, LOCK];

pub struct Lab {
    pub dir: PathBuf,
    /// The last component of MN_DIR: only for `ip netns` names (LAB-NODE).
    pub name: String,
    /// The marker's random id, unique per lab: link tags and cgroups use it.
    pub id: String,
    fd: OwnedFd,
}

/// An open node directory: files in it are opened relative to it and never
/// through symlinks.
pub struct NodeDir {
    pub path: PathBuf,
    fd: OwnedFd,
}

/// What a directory in the lab holds.
pub enum Entry {
    /// A node's record.
    Node(Node),
    /// A FIFO but no readable record, or nothing at all: a node whose
    /// `add` never finished.
    Unfinished,
    /// Neither: not the tools' to touch.
    Foreign,
}

/// `$MN_DIR` (made absolute: node shells keep its paths), or `/run/mn`.
pub fn dir_from_env() -> PathBuf {
    match std::env::var_os("MN_DIR") {
        Some(dir) if !dir.is_empty() => std::path::absolute(&dir).unwrap_or_else(|_| PathBuf::from(dir)),
        _ => PathBuf::from(DEFAULT_DIR),
    }
}

fn lab_name(dir: &Path) -> Result<String> {
    let name = dir
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| anyhow!("{}: MN_DIR needs a last component to name the lab", dir.display()))?;
    Ok(name.to_string())
}

/// The error for a node that the lab in `dir` does not hold.
pub fn no_such_node(name: &str, dir: &Path) -> anyhow::Error {
    anyhow!("no node named {name} in {}", dir.display())
}

/// What the command that opens a lab will do with it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Read,
    Delete,
}

impl Lab {
    /// Opens the lab named by the environment; `None` when the directory
    /// does not exist or is empty (a lab without nodes).
    pub fn open() -> Result<Option<Lab>> {
        Lab::open_at(&dir_from_env(), Purpose::Read)
    }

    /// Opens the lab for a command that deletes: a directory without the
    /// marker is refused.
    pub fn open_to_delete() -> Result<Option<Lab>> {
        Lab::open_at(&dir_from_env(), Purpose::Delete)
    }

    /// The lab to look node `name` up in: without a lab, that node does
    /// not exist, and the error says so.
    pub fn open_for(name: &str) -> Result<Lab> {
        Lab::open()?.ok_or_else(|| no_such_node(name, &dir_from_env()))
    }

    pub fn open_at(dir: &Path, purpose: Purpose) -> Result<Option<Lab>> {
        let Some(fd) = crate::pin::open_dir(dir, false)? else { return Ok(None) };
        check_private(fd.as_fd(), dir, "MN_DIR")?;
        match read_marker(fd.as_fd(), dir)? {
            Some(id) => Ok(Some(Lab { dir: dir.to_path_buf(), name: lab_name(dir)?, id, fd })),
            None if is_empty_lab(fd.as_fd(), dir)? => Ok(None),
            None if is_older_lab(fd.as_fd(), dir)? => {
                let id = write_marker(fd.as_fd(), dir)?;
                Ok(Some(Lab { dir: dir.to_path_buf(), name: lab_name(dir)?, id, fd }))
            }
            None if purpose == Purpose::Delete => {
                bail!(
                    "{}: not a lab directory (no {MARKER} marker); refusing to delete anything",
                    dir.display()
                )
            }
            None => bail!("{}: not a lab directory (no {MARKER} marker)", dir.display()),
        }
    }

    /// Opens the lab, creating and marking its directory (0700) when
    /// missing or empty.
    pub fn create() -> Result<Lab> {
        let dir = dir_from_env();
        let name = lab_name(&dir)?;
        let mut fd = crate::pin::open_dir(&dir, true)?
            .ok_or_else(|| anyhow!("{}: vanished while being created", dir.display()))?;
        check_private(fd.as_fd(), &dir, "MN_DIR")?;
        if let Some(id) = read_marker(fd.as_fd(), &dir)? {
            return Ok(Lab { dir, name, id, fd });
        }
        // Under a disk /run, on a tmpfs of its own (memfs.rs): ours, or
        // another add's made meanwhile, so the directory is opened again.
        let reopen = || crate::pin::open_dir(&dir, false).ok().flatten();
        if crate::memfs::give_tmpfs(fd.as_fd(), &dir, 0o700, reopen) {
            fd = crate::pin::open_dir(&dir, false)?
                .ok_or_else(|| anyhow!("{}: vanished while being created", dir.display()))?;
            check_private(fd.as_fd(), &dir, "MN_DIR")?;
        }
        // Two mnnode adds at once (mn adds hosts and switches so) take
        // turns here: the other's marker may be half made, visible only
        // as its temporary file where there is no O_TMPFILE (overlayfs),
        // and its first node may already be claimed.
        let turn = DirTurn::take(fd.as_fd(), &dir)?;
        let id = match read_marker(fd.as_fd(), &dir)? {
            Some(id) => id,
            None if is_empty_lab(fd.as_fd(), &dir)? => write_marker(fd.as_fd(), &dir)?,
            None if is_older_lab(fd.as_fd(), &dir)? => write_marker(fd.as_fd(), &dir)?,
            None => bail!(
                "{}: not a lab directory (no {MARKER} marker) and not empty; refusing to make a lab in it",
                dir.display()
            ),
        };
        drop(turn);
        Ok(Lab { dir, name, id, fd })
    }

    /// The name `ip netns` knows the node by: LAB-NAME.
    pub fn netns_name(&self, node: &str) -> String {
        format!("{}-{node}", self.name)
    }

    /// A node's `ip netns` entry.
    pub fn netns_entry(&self, node: &str) -> PathBuf {
        crate::netns::DIR.join(self.netns_name(node))
    }

    /// A node's cgroup: `mn-ID-NODE`.
    pub fn cgroup_name(&self, node: &str) -> String {
        format!("mn-{}-{node}", self.id)
    }

    /// Every directory in MN_DIR with a node's name, sorted.
    pub fn node_names(&self) -> Result<Vec<String>> {
        let mut names: Vec<String> = entries(self.fd.as_fd(), &self.dir)?
            .into_iter()
            .filter(|(name, is_dir)| *is_dir && name::is_valid(name))
            .map(|(name, _)| name)
            .collect();
        names.sort_by(|a, b| name::natural_cmp(a, b));
        Ok(names)
    }

    /// Opens a node's directory; an error names the node and the lab.
    pub fn node_dir(&self, name: &str) -> Result<NodeDir> {
        name::check(name)?;
        let flags = OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        let fd = openat(self.fd.as_fd(), name, flags, Mode::empty()).map_err(|e| match e {
            Errno::ENOENT => no_such_node(name, &self.dir),
            Errno::ELOOP | Errno::ENOTDIR => {
                anyhow!("{}: not a node directory", self.dir.join(name).display())
            }
            e => anyhow!("{}: {}", self.dir.join(name).display(), e.desc()),
        })?;
        check_private(fd.as_fd(), &self.dir.join(name), "node directory")?;
        Ok(NodeDir { path: self.dir.join(name), fd })
    }

    /// A node's record.
    pub fn node(&self, name: &str) -> Result<Node> {
        let node = self.node_dir(name)?.record().with_context(|| format!("node {name}"))?;
        // Everything done to a node goes by its record's name: it must be
        // the directory's, or del would act on another node.
        if node.name != name {
            bail!(
                "{}: the record names another node ({})",
                self.dir.join(name).join(RECORD).display(),
                node.name
            );
        }
        Ok(node)
    }

    /// What the directory `name` holds.
    pub fn entry(&self, name: &str) -> Result<Entry> {
        let dir = self.node_dir(name)?;
        if let Ok(node) = self.node(name) {
            return Ok(Entry::Node(node));
        }
        let fifo = fstatat(dir.fd(), FIFO, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW);
        let is_fifo = fifo.is_ok_and(|st| st.st_mode & SFlag::S_IFMT.bits() == SFlag::S_IFIFO.bits());
        let has_record = fstatat(dir.fd(), RECORD, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW).is_ok();
        // Empty: an add killed between claiming the name and making its
        // FIFO (removing an empty directory loses nothing of anyone's).
        let empty = !is_fifo && !has_record && is_empty(dir.fd(), &dir.path)?;
        Ok(if is_fifo || has_record || empty { Entry::Unfinished } else { Entry::Foreign })
    }

    /// A node whose shell is alive, or why not.
    pub fn running_node(&self, name: &str) -> Result<Node> {
        let node = self.node(name)?;
        if !node.is_running() {
            bail!("node {name} is not running");
        }
        Ok(node)
    }

    /// A running node that speaks this version's protocol: what mnrun and
    /// mnlink may use.
    pub fn usable_node(&self, name: &str) -> Result<Node> {
        let node = self.running_node(name)?;
        node.check_protocol()?;
        Ok(node)
    }

    /// Creates a node's directory (0700): the atomic claim on the name.
    pub fn claim(&self, name: &str) -> Result<NodeDir> {
        name::check(name)?;
        match mkdirat(self.fd.as_fd(), name, Mode::S_IRWXU) {
            Ok(()) => self.node_dir(name),
            Err(Errno::EEXIST) => {
                bail!("{name}: a node of that name exists in {}", self.dir.display())
            }
            Err(e) => bail!("{}: {}", self.dir.join(name).display(), e.desc()),
        }
    }

    /// A small file of the lab's own (not a node's), if it is there.
    pub fn read_lab_file(&self, file: &str) -> Option<String> {
        let flags = OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        let fd = openat(self.fd.as_fd(), file, flags, Mode::empty()).ok()?;
        let mut text = String::new();
        std::fs::File::from(fd).read_to_string(&mut text).ok()?;
        Some(text)
    }

    /// Writes a small file of the lab's own atomically (FILE.new renamed).
    pub fn write_lab_file(&self, file: &str, text: &str) -> Result<()> {
        let dir = NodeDir {
            path: self.dir.clone(),
            fd: self.fd.try_clone().map_err(|e| mncli::io_error(self.dir.display(), &e))?,
        };
        dir.write_text(file, &format!("{file}.new"), text)
    }

    /// Removes a small file of the lab's own; gone already is fine.
    pub fn remove_lab_file(&self, file: &str) -> Result<()> {
        match unlinkat(self.fd.as_fd(), file, UnlinkatFlags::NoRemoveDir) {
            Ok(()) | Err(Errno::ENOENT) => Ok(()),
            Err(e) => bail!("{}: {}", self.dir.join(file).display(), e.desc()),
        }
    }

    /// Whether anything of this name is in the lab directory.
    pub fn has(&self, name: &str) -> bool {
        fstatat(self.fd.as_fd(), name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW).is_ok()
    }

    /// Removes a node's directory: the files the tools make in it, then the
    /// directory. One holding anything else is left whole, and the error
    /// says what is in it. Gone already is fine.
    pub fn remove_node_dir(&self, name: &str) -> Result<()> {
        let dir = match self.node_dir(name) {
            Ok(dir) => dir,
            Err(_) if !self.has(name) => return Ok(()),
            Err(e) => return Err(e),
        };
        let strangers: Vec<String> = entries(dir.fd(), &dir.path)?
            .into_iter()
            .map(|(file, _)| file)
            .filter(|file| !OWN_FILES.contains(&file.as_str()))
            .collect();
        let left = |strangers: &[String]| {
            anyhow!(
                "{}: holds files mnnode did not make ({}); left it in place",
                dir.path.display(),
                strangers.join(", ")
            )
        };
        if !strangers.is_empty() {
            return Err(left(&strangers));
        }
        for file in OWN_FILES {
            match unlinkat(dir.fd(), file, UnlinkatFlags::NoRemoveDir) {
                Ok(()) | Err(Errno::ENOENT) => {}
                Err(e) => bail!("{}: {}", dir.path.join(file).display(), e.desc()),
            }
        }
        match unlinkat(self.fd.as_fd(), name, UnlinkatFlags::RemoveDir) {
            Ok(()) | Err(Errno::ENOENT) => Ok(()),
            Err(Errno::ENOTEMPTY) => {
                let now: Vec<String> = entries(dir.fd(), &dir.path)?.into_iter().map(|(f, _)| f).collect();
                Err(left(&now))
            }
            Err(e) => bail!("{}: {}", dir.path.display(), e.desc()),
        }
    }
}

/// The names in a directory (without . and ..) and whether each is a
/// directory.
fn entries(fd: BorrowedFd, path: &Path) -> Result<Vec<(String, bool)>> {
    let flags = OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC;
    let mut dir = nix::dir::Dir::openat(fd, ".", flags, Mode::empty())
        .map_err(|e| anyhow!("{}: {}", path.display(), e.desc()))?;
    let mut out = Vec::new();
    for entry in dir.iter() {
        let entry = entry.map_err(|e| anyhow!("{}: {}", path.display(), e.desc()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == "." || name == ".." {
            continue;
        }
        let is_dir = match entry.file_type() {
            Some(t) => t == nix::dir::Type::Directory,
            None => fstatat(fd, name.as_str(), nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW)
                .is_ok_and(|st| st.st_mode & SFlag::S_IFMT.bits() == SFlag::S_IFDIR.bits()),
        };
        out.push((name, is_dir));
    }
    Ok(out)
}

/// Whether a directory is a lab of an mnnode from before the marker:
/// nothing in it but node directories, each with a record. Nothing a user
/// mistook for MN_DIR looks like that; such a lab gets its marker.
fn is_older_lab(fd: BorrowedFd, path: &Path) -> Result<bool> {
    let flags = OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    for (name, is_dir) in entries(fd, path)? {
        if !is_dir || !name::is_valid(&name) {
            return Ok(false);
        }
        let Ok(dir) = openat(fd, name.as_str(), flags, Mode::empty()) else { return Ok(false) };
        let dir = NodeDir { path: path.join(&name), fd: dir };
        if dir.record().is_err() {
            return Ok(false);
        }
    }
    Ok(true)
}

/// An exclusive `flock` of a directory, let go on drop.
pub(crate) struct DirTurn<F: AsFd>(F);

impl<F: AsFd> DirTurn<F> {
    pub(crate) fn take(fd: F, path: &Path) -> Result<DirTurn<F>> {
        loop {
            // SAFETY: flock on a descriptor the turn keeps open.
            if unsafe { libc::flock(fd.as_fd().as_raw_fd(), libc::LOCK_EX) } == 0 {
                return Ok(DirTurn(fd));
            }
            let e = Errno::last();
            if e != Errno::EINTR {
                bail!("{}: lock: {}", path.display(), e.desc());
            }
        }
    }
}

impl<F: AsFd> Drop for DirTurn<F> {
    fn drop(&mut self) {
        // SAFETY: unlocking the descriptor locked in take.
        unsafe { libc::flock(self.0.as_fd().as_raw_fd(), libc::LOCK_UN) };
    }
}

fn is_empty(fd: BorrowedFd, path: &Path) -> Result<bool> {
    Ok(entries(fd, path)?.is_empty())
}

/// A lab directory without nodes: a hosts file (and control sockets) may
/// come before the first node (see remote.rs).
fn is_empty_lab(fd: BorrowedFd, path: &Path) -> Result<bool> {
    Ok(entries(fd, path)?.iter().all(|(name, _)| crate::remote::LAB_FILES.contains(&name.as_str())))
}

impl NodeDir {
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Opens a file in the node directory, never through a symlink.
    pub fn open(&self, file: &str, flags: OFlag, mode: Mode) -> Result<OwnedFd> {
        openat(self.fd.as_fd(), file, flags | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC, mode)
            .map_err(|e| anyhow!("{}: {}", self.path.join(file).display(), e.desc()))
    }

    /// The node's record, with the `ip netns` entry that pins its
    /// namespace (the lab names it: see [`Lab::netns_entry`]).
    pub fn record(&self) -> Result<Node> {
        let mut node = Node::from_record(&self.record_text()?)?;
        if !node.root {
            let lab = self.path.parent().and_then(Path::file_name).and_then(|n| n.to_str());
            node.pin = lab.map(|lab| crate::netns::DIR.join(format!("{lab}-{}", node.name)));
        }
        Ok(node)
    }

    /// The record as text (a remote node's has no shell to parse).
    pub fn record_text(&self) -> Result<String> {
        let fd = self.open(RECORD, OFlag::O_RDONLY, Mode::empty())?;
        let mut text = String::new();
        std::fs::File::from(fd)
            .read_to_string(&mut text)
            .map_err(|e| mncli::io_error(self.path.join(RECORD).display(), &e))?;
        Ok(text)
    }

    /// Writes the record atomically (a new file renamed into place).
    pub fn write_record(&self, node: &Node) -> Result<()> {
        self.write_record_text(&node.to_record())
    }

    /// Writes a record's text atomically.
    pub fn write_record_text(&self, text: &str) -> Result<()> {
        self.write_text(RECORD, RECORD_NEW, text)
    }

    /// Writes `file` atomically: `tmp` renamed over it.
    fn write_text(&self, file: &str, tmp: &str, text: &str) -> Result<()> {
        let _ = unlinkat(self.fd.as_fd(), tmp, UnlinkatFlags::NoRemoveDir);
        let flags = OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL;
        let fd = self.open(tmp, flags, Mode::S_IRUSR | Mode::S_IWUSR)?;
        std::fs::File::from(fd)
            .write_all(text.as_bytes())
            .map_err(|e| mncli::io_error(self.path.join(tmp).display(), &e))?;
        nix::fcntl::renameat(self.fd.as_fd(), tmp, self.fd.as_fd(), file)
            .map_err(|e| anyhow!("{}: {}", self.path.join(file).display(), e.desc()))
    }
}

/// Refuses a directory that others could write to or that is not ours.
fn check_private(fd: BorrowedFd, path: &Path, what: &str) -> Result<()> {
    let st = fstat(fd).map_err(|e| anyhow!("{}: {}", path.display(), e.desc()))?;
    let me = nix::unistd::geteuid().as_raw();
    if st.st_uid != me {
        bail!(
            "{}: {what} is owned by uid {}, not by us (uid {me}); refusing to use it",
            path.display(),
            st.st_uid
        );
    }
    if st.st_mode & 0o022 != 0 {
        bail!(
            "{}: {what} is writable by others (mode {:04o}); refusing to use it",
            path.display(),
            st.st_mode & 0o7777
        );
    }
    Ok(())
}
