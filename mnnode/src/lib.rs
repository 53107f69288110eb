//! mnnode: nodes as persistent shells in network namespaces, and the
//! registry every mn tool uses to find them.
//!
//! [`lab`] is the one owner of the `MN_DIR` layout; [`shell`] holds the
//! protocol between a node's shell and mnrun; [`netlink`] opens sockets
//! inside node namespaces for mnnode and mnlink.
pub mod cgroup;
pub mod cli;
pub mod commands;
pub mod lab;
pub mod name;
pub mod netlink;
pub mod node;
pub mod procfs;
pub mod reap;
pub mod restart;
pub mod shell;
pub mod spawn;
pub mod tag;
mod vfork;

pub use lab::Lab;
pub use node::{Kind, Node, State};

use std::path::PathBuf;

/// Where `ip netns` looks for named namespaces.
pub fn netns_dir() -> PathBuf {
    PathBuf::from("/run/netns")
}

/// Writes a small file (a sysctl, a cgroup knob); an error names it.
pub(crate) fn write_file(path: impl AsRef<std::path::Path>, value: &str) -> anyhow::Result<()> {
    let path = path.as_ref();
    std::fs::write(path, value).map_err(|e| anyhow::anyhow!("{}: {}", path.display(), mncli::os_error(&e)))
}

/// Refuses to go on without root, whose powers every tool needs.
pub fn require_root() -> anyhow::Result<()> {
    if !nix::unistd::geteuid().is_root() {
        anyhow::bail!("must be run as root (namespaces and links need it)");
    }
    Ok(())
}
