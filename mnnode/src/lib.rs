//! mnnode: nodes as persistent shells in network namespaces, and the
//! registry every mn tool uses to find them.
//!
//! [`lab`] is the one owner of the `MN_DIR` layout; [`shell`] holds the
//! protocol between a node's shell and mnrun; [`netlink`] opens sockets
//! inside node namespaces for mnnode and mnlink.
pub mod cgroup;
pub mod cli;
pub mod cluster;
pub mod commands;
pub mod kind;
pub mod lab;
pub mod lazy;
mod marker;
mod memfs;
pub mod name;
pub mod netlink;
pub mod netns;
pub mod node;
pub mod ovs;
mod pin;
pub mod procfs;
pub mod reap;
pub mod remote;
pub mod restart;
pub mod scale;
pub mod settle;
pub mod shell;
pub mod spawn;
mod sysctl;
pub mod tag;
mod vfork;

pub use lab::Lab;
pub use node::{Kind, Node, State};

/// The descriptor limit mnnode started with, and raising it.
pub mod limits {
    use std::sync::OnceLock;

    static ORIGINAL: OnceLock<libc::rlimit> = OnceLock::new();

    fn get() -> libc::rlimit {
        let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: getrlimit fills the struct we own.
        unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
        limit
    }

    /// Raises the soft limit on open descriptors to the hard one, as
    /// systemd and ssh do: a lab of thousands of nodes needs a few per
    /// node. Node shells get the original limit back.
    pub fn raise_nofile() {
        let limit = *ORIGINAL.get_or_init(get);
        let raised = libc::rlimit { rlim_cur: limit.rlim_max, rlim_max: limit.rlim_max };
        // SAFETY: setrlimit reads the struct we own; failure leaves the limit as it was.
        unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) };
    }

    /// The limit before [`raise_nofile`].
    pub(crate) fn original_nofile() -> libc::rlimit {
        *ORIGINAL.get_or_init(get)
    }
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
