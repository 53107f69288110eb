//! The lab: one `MN_DIR` and the node directories in it.
//!
//! This is the only code that knows the layout:
//!
//! ```text
//! $MN_DIR/            0700, owned by the caller
//!   NAME/             0700
//!     node            the record (see node.rs)
//!     fifo            0600: the shell reads commands from it
//!     log             0600: the shell's stdout and stderr
//!     lock            mnrun's lock and record of the running call
//! ```
//!
//! A node's shell runs as root, so whoever can write its FIFO owns the
//! machine: the directory must belong to us and be closed to others, and
//! nothing in it is opened through a symlink.
use crate::name;
use crate::node::Node;
use anyhow::{Context, Result, anyhow, bail};
use nix::fcntl::{OFlag, openat};
use nix::sys::stat::{Mode, fstat, mkdirat};
use std::io::{Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

pub const DEFAULT_DIR: &str = "/run/mn";
const RECORD: &str = "node";
pub const FIFO: &str = "fifo";
pub const LOG: &str = "log";
pub const LOCK: &str = "lock";

pub struct Lab {
    pub dir: PathBuf,
    pub name: String,
    fd: OwnedFd,
}

/// An open node directory: files in it are opened relative to it and never
/// through symlinks.
pub struct NodeDir {
    pub path: PathBuf,
    fd: OwnedFd,
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

impl Lab {
    /// Opens the lab named by the environment; `None` when the directory
    /// does not exist (a lab without nodes).
    pub fn open() -> Result<Option<Lab>> {
        Lab::open_at(&dir_from_env())
    }

    /// The lab to look node `name` up in: without a lab, that node does
    /// not exist, and the error says so.
    pub fn open_for(name: &str) -> Result<Lab> {
        Lab::open()?.ok_or_else(|| no_such_node(name, &dir_from_env()))
    }

    pub fn open_at(dir: &Path) -> Result<Option<Lab>> {
        match nix::fcntl::open(dir, OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty()) {
            Ok(fd) => Lab::checked(dir, fd).map(Some),
            Err(nix::errno::Errno::ENOENT) => Ok(None),
            Err(e) => Err(anyhow!("{}: {}", dir.display(), e.desc())),
        }
    }

    /// Opens the lab, creating its directory (0700) when missing.
    pub fn create() -> Result<Lab> {
        let dir = dir_from_env();
        lab_name(&dir)?;
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| anyhow!("{}: {}", parent.display(), mncli::os_error(&e)))?;
        }
        match nix::unistd::mkdir(&dir, Mode::S_IRWXU) {
            Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
            Err(e) => bail!("{}: cannot create MN_DIR: {}", dir.display(), e.desc()),
        }
        Lab::open_at(&dir)?.ok_or_else(|| anyhow!("{}: vanished while being created", dir.display()))
    }

    fn checked(dir: &Path, fd: OwnedFd) -> Result<Lab> {
        check_private(fd.as_fd(), dir, "MN_DIR")?;
        Ok(Lab { dir: dir.to_path_buf(), name: lab_name(dir)?, fd })
    }

    /// The name `ip netns` knows the node by: LAB-NAME.
    pub fn netns_name(&self, node: &str) -> String {
        format!("{}-{node}", self.name)
    }

    /// A node's `ip netns` entry.
    pub fn netns_entry(&self, node: &str) -> PathBuf {
        crate::netns_dir().join(self.netns_name(node))
    }

    /// Every entry of MN_DIR that looks like a node directory, sorted.
    pub fn node_names(&self) -> Result<Vec<String>> {
        let mut names: Vec<String> = std::fs::read_dir(&self.dir)
            .map_err(|e| anyhow!("{}: {}", self.dir.display(), mncli::os_error(&e)))?
            .filter_map(|entry| {
                let entry = entry.ok()?;
                let name = entry.file_name().into_string().ok()?;
                (name::is_valid(&name) && entry.file_type().ok()?.is_dir()).then_some(name)
            })
            .collect();
        names.sort_by(|a, b| name::natural_cmp(a, b));
        Ok(names)
    }

    /// Opens a node's directory; an error names the node and the lab.
    pub fn node_dir(&self, name: &str) -> Result<NodeDir> {
        name::check(name)?;
        let flags = OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        let fd = openat(self.fd.as_fd(), name, flags, Mode::empty()).map_err(|e| match e {
            nix::errno::Errno::ENOENT => no_such_node(name, &self.dir),
            nix::errno::Errno::ELOOP | nix::errno::Errno::ENOTDIR => {
                anyhow!("{}: not a node directory", self.dir.join(name).display())
            }
            e => anyhow!("{}: {}", self.dir.join(name).display(), e.desc()),
        })?;
        check_private(fd.as_fd(), &self.dir.join(name), "node directory")?;
        Ok(NodeDir { path: self.dir.join(name), fd })
    }

    /// A node's record.
    pub fn node(&self, name: &str) -> Result<Node> {
        self.node_dir(name)?.record().with_context(|| format!("node {name}"))
    }

    /// A node whose shell is alive, or why not.
    pub fn running_node(&self, name: &str) -> Result<Node> {
        let node = self.node(name)?;
        if !node.is_running() {
            bail!("node {name} is not running");
        }
        Ok(node)
    }

    /// Creates a node's directory (0700): the atomic claim on the name.
    pub fn claim(&self, name: &str) -> Result<NodeDir> {
        name::check(name)?;
        match mkdirat(self.fd.as_fd(), name, Mode::S_IRWXU) {
            Ok(()) => self.node_dir(name),
            Err(nix::errno::Errno::EEXIST) => {
                bail!("{name}: a node of that name exists in {}", self.dir.display())
            }
            Err(e) => bail!("{}: {}", self.dir.join(name).display(), e.desc()),
        }
    }

    /// Removes a node's directory and everything in it (never following
    /// symlinks). Gone already is fine.
    pub fn remove_node_dir(&self, name: &str) -> Result<()> {
        let path = self.dir.join(name);
        match std::fs::remove_dir_all(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => bail!("{}: {}", path.display(), mncli::os_error(&e)),
        }
    }
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

    pub fn record(&self) -> Result<Node> {
        let fd = self.open(RECORD, OFlag::O_RDONLY, Mode::empty())?;
        let mut text = String::new();
        std::fs::File::from(fd).read_to_string(&mut text).context("read the record")?;
        Node::from_record(&text)
    }

    /// Writes the record atomically (a new file renamed into place).
    pub fn write_record(&self, node: &Node) -> Result<()> {
        let tmp = "node.new";
        let _ = nix::unistd::unlinkat(self.fd.as_fd(), tmp, nix::unistd::UnlinkatFlags::NoRemoveDir);
        let flags = OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL;
        let fd = self.open(tmp, flags, Mode::S_IRUSR | Mode::S_IWUSR)?;
        std::fs::File::from(fd).write_all(node.to_record().as_bytes()).context("write the record")?;
        nix::fcntl::renameat(self.fd.as_fd(), tmp, self.fd.as_fd(), RECORD)
            .map_err(|e| anyhow!("{}: {}", self.path.join(RECORD).display(), e.desc()))
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
