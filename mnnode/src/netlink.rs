//! Netlink sockets bound to node namespaces, and the link facts the tools
//! read back from the kernel.
//!
//! A netlink socket belongs to the namespace it was created in. To talk to
//! a node we enter its namespace, open the socket and return at once,
//! before any `.await`, on a current-thread runtime.
use anyhow::{Result, anyhow, bail};
use futures::TryStreamExt;
use nix::sched::{CloneFlags, setns};
use rtnetlink::Handle;
use rtnetlink::packet_route::address::AddressAttribute;
use rtnetlink::packet_route::link::{InfoKind, LinkAttribute, LinkFlags, LinkInfo, LinkMessage};
use std::fs::File;
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::sync::atomic::{AtomicBool, Ordering};

/// The single-threaded runtime the tools run netlink on.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(|e| mncli::io_error("start tokio", &e))
}

/// Set once a return from another namespace failed: from then on this
/// thread is in the wrong namespace, and acting there would change the
/// wrong links, so every later call refuses.
static STRANDED: AtomicBool = AtomicBool::new(false);

fn check_home() -> Result<()> {
    if STRANDED.load(Ordering::SeqCst) {
        bail!("stranded in another network namespace after an earlier error; stopped");
    }
    Ok(())
}

/// Runs `f` inside the network namespace `ns`, then returns to ours. If
/// the return fails, the error says so and no later netlink work is done.
pub fn in_netns<T>(ns: BorrowedFd, f: impl FnOnce() -> T) -> Result<T> {
    check_home()?;
    let home = File::open("/proc/thread-self/ns/net")
        .map_err(|e| mncli::io_error("open our own network namespace", &e))?;
    setns(ns, CloneFlags::CLONE_NEWNET).map_err(|e| anyhow!("enter network namespace: {}", e.desc()))?;
    let value = f();
    if let Err(e) = setns(home.as_fd(), CloneFlags::CLONE_NEWNET) {
        STRANDED.store(true, Ordering::SeqCst);
        bail!("cannot return to our own network namespace: {}", e.desc());
    }
    Ok(value)
}

/// Makes a new network namespace and returns it open, staying in ours:
/// nothing but the returned file holds it.
pub fn new_netns() -> Result<File> {
    check_home()?;
    let home = File::open("/proc/thread-self/ns/net")
        .map_err(|e| mncli::io_error("open our own network namespace", &e))?;
    nix::sched::unshare(CloneFlags::CLONE_NEWNET)
        .map_err(|e| anyhow!("make a network namespace: {}", e.desc()))?;
    let made = File::open("/proc/thread-self/ns/net")
        .map_err(|e| mncli::io_error("open the new network namespace", &e));
    if let Err(e) = setns(home.as_fd(), CloneFlags::CLONE_NEWNET) {
        STRANDED.store(true, Ordering::SeqCst);
        bail!("cannot return to our own network namespace: {}", e.desc());
    }
    made
}

/// A netlink connection bound to one network namespace.
pub struct Conn {
    pub handle: Handle,
    /// The namespace's cookie: unique for the life of the system.
    pub cookie: u64,
    /// The task that owns the socket; it ends, closing the socket, once
    /// every handle is gone.
    task: tokio::task::JoinHandle<()>,
}

impl Conn {
    /// Closes the socket now rather than whenever the runtime next polls
    /// its task: a tool that visits thousands of namespaces keeps its
    /// descriptors bounded this way. Clones of the handle must be gone.
    pub async fn close(self) {
        drop(self.handle);
        let _ = self.task.await;
    }
}

/// Connects to the namespace of the current thread. Must be called inside
/// the runtime (the socket registers with its reactor).
pub fn connect_here() -> Result<Conn> {
    check_home()?;
    let (mut connection, handle, _) =
        rtnetlink::new_connection().map_err(|e| mncli::io_error("open a netlink socket", &e))?;
    let cookie = netns_cookie(connection.socket_mut().as_raw_fd())?;
    let task = tokio::spawn(connection);
    Ok(Conn { handle, cookie, task })
}

/// Connects to the network namespace in `ns` (e.g. /proc/PID/ns/net).
pub fn connect_in(ns: BorrowedFd) -> Result<Conn> {
    in_netns(ns, connect_here)?
}

/// Connects to a node's namespace (ours, for a `--root` node).
pub fn connect_node(node: &crate::Node) -> Result<Conn> {
    if node.root {
        return connect_here();
    }
    let ns = File::open(node.netns_path()).map_err(|_| anyhow!("node {} is not running", node.name))?;
    connect_in(ns.as_fd())
}

/// The cookie of the network namespace open at `ns`: system-unique for
/// as long as the system runs, unlike its inode number.
pub fn cookie_of(ns: BorrowedFd) -> Option<u64> {
    in_netns(ns, || {
        let socket = std::os::unix::net::UnixDatagram::unbound().ok()?;
        netns_cookie(socket.as_raw_fd()).ok()
    })
    .ok()
    .flatten()
}

/// The cookie of the namespace a socket belongs to.
pub fn netns_cookie(fd: i32) -> Result<u64> {
    let mut cookie: u64 = 0;
    let mut len = std::mem::size_of::<u64>() as libc::socklen_t;
    // SAFETY: a plain getsockopt into a u64 of the advertised size.
    let rc = unsafe {
        libc::getsockopt(fd, libc::SOL_SOCKET, libc::SO_NETNS_COOKIE, (&raw mut cookie).cast(), &mut len)
    };
    if rc != 0 {
        return Err(anyhow!("read the namespace cookie: {}", nix::errno::Errno::last().desc()));
    }
    Ok(cookie)
}

/// The errno a netlink request failed with, if it was the kernel's answer.
pub fn errno(err: &rtnetlink::Error) -> Option<nix::errno::Errno> {
    match err {
        rtnetlink::Error::NetlinkError(msg) => msg.code.map(|c| nix::errno::Errno::from_raw(-c.get())),
        _ => None,
    }
}

/// A netlink error in words (the errno's description when there is one).
pub fn describe(err: &rtnetlink::Error) -> String {
    match errno(err) {
        Some(e) => e.desc().to_string(),
        None => err.to_string(),
    }
}

pub async fn set_up(handle: &Handle, index: u32) -> Result<(), rtnetlink::Error> {
    handle.link().set(rtnetlink::LinkUnspec::new_with_index(index).up().build()).execute().await
}

/// Every link in the namespace.
pub async fn links(handle: &Handle) -> Result<Vec<LinkMessage>, rtnetlink::Error> {
    handle.link().get().execute().try_collect().await
}

/// The link with this name, or `None`.
pub async fn link_by_name(handle: &Handle, name: &str) -> Result<Option<LinkMessage>, rtnetlink::Error> {
    match handle.link().get().match_name(name.to_string()).execute().try_next().await {
        Ok(link) => Ok(link),
        Err(e) if errno(&e) == Some(nix::errno::Errno::ENODEV) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Deletes the link of this name. In a namespace several labs share (the
/// root), never by a dumped index: an end moved in from a private
/// namespace keeps its index there when it is free, so an index read a
/// moment ago may already name another lab's new end.
pub async fn del_by_name(handle: &Handle, name: &str) -> Result<(), rtnetlink::Error> {
    handle.link().del_with_message(rtnetlink::LinkUnspec::new_with_name(name).build()).execute().await
}

/// The first IPv4 address outside loopback, in interface order.
pub async fn first_ipv4(handle: &Handle) -> Result<Option<Ipv4Addr>, rtnetlink::Error> {
    let addrs: Vec<_> = handle.address().get().execute().try_collect().await?;
    let mut found: Vec<(u32, Ipv4Addr)> = addrs
        .iter()
        .flat_map(|msg| {
            msg.attributes.iter().filter_map(move |attr| match attr {
                AddressAttribute::Local(IpAddr::V4(ip)) if !ip.is_loopback() => Some((msg.header.index, *ip)),
                _ => None,
            })
        })
        .collect();
    found.sort_by_key(|&(index, _)| index);
    Ok(found.first().map(|&(_, ip)| ip))
}

pub fn link_name(link: &LinkMessage) -> Option<&str> {
    link.attributes.iter().find_map(|a| match a {
        LinkAttribute::IfName(name) => Some(name.as_str()),
        _ => None,
    })
}

pub fn link_alias(link: &LinkMessage) -> Option<&str> {
    link.attributes.iter().find_map(|a| match a {
        LinkAttribute::IfAlias(alias) => Some(alias.as_str()),
        _ => None,
    })
}

pub fn link_kind(link: &LinkMessage) -> Option<&InfoKind> {
    link_info(link, |i| match i {
        LinkInfo::Kind(kind) => Some(kind),
        _ => None,
    })
}

/// The first of a link's IFLA_LINKINFO entries that `pick` takes.
pub fn link_info<'a, T: ?Sized>(
    link: &'a LinkMessage,
    pick: impl Fn(&'a LinkInfo) -> Option<&'a T>,
) -> Option<&'a T> {
    link.attributes.iter().find_map(|a| match a {
        LinkAttribute::LinkInfo(infos) => infos.iter().find_map(&pick),
        _ => None,
    })
}

pub fn link_is_up(link: &LinkMessage) -> bool {
    link.header.flags.contains(LinkFlags::Up)
}

pub fn link_mtu(link: &LinkMessage) -> Option<u32> {
    link.attributes.iter().find_map(|a| match a {
        LinkAttribute::Mtu(mtu) => Some(*mtu),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_netns_reports_errors_instead_of_exiting() {
        // Not a namespace: an error the caller can act on, and the closure
        // never runs.
        let not_ns = File::open("/dev/null").expect("/dev/null");
        let mut ran = false;
        let err = in_netns(not_ns.as_fd(), || ran = true).expect_err("not a namespace");
        assert!(err.to_string().starts_with("enter network namespace: "), "{err}");
        assert!(!ran);
        assert!(!STRANDED.load(Ordering::SeqCst));
    }
}
