//! Lazy nodes (`mnnode add --lazy`): a node whose shell has never been
//! used costs no shell. `add` makes and configures the node's network
//! namespace in mnnode itself (no process at all), pins it with the
//! node's `ip netns` entry and writes a record without a pid (`pid=-`).
//! The first call that needs the shell ([`ensure_shell`]: mnrun,
//! `mnnode pid`, `restart`) starts it, as `restart` starts a shell: in the
//! pinned network namespace, with a fresh mount namespace and sysfs (the
//! `-n` steps, made then), its cgroup, a FIFO and log made then too.
//!
//! Concurrent first calls take turns on an exclusive `flock` of the node's
//! directory (no file of its own: nothing more to make or remove), read
//! the record again once they hold it, and find the shell made by the
//! first. Everything that needs only the namespace (mnlink, `mnnode ip`,
//! `ip netns exec`, list) goes through the entry and starts nothing.
//!
//! A lazy OVS switch has no namespace of its own: its entry pins the
//! lab's OVS namespace (`opts.shared_netns`), where its first shell
//! starts, as an eager OVS switch's does.
use crate::lab::{Lab, NodeDir};
use crate::node::Node;
use crate::spawn::{self, AddOptions};
use crate::{cgroup, kind, netlink, netns, procfs, reap, restart, shell};
use anyhow::{Context, Result, anyhow, bail};
use mnexec::Prepared;
use nix::sys::signal::{SigmaskHow, sigprocmask};
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

/// Adds lazy nodes: each a configured network namespace, pinned, and a
/// record; no shell. All of the call or nothing.
pub(crate) fn add(lab: &Lab, names: &[String], opts: &AddOptions) -> Result<()> {
    if opts.root {
        bail!("--lazy is for nodes with namespaces of their own; a --root node has no namespace to pin");
    }
    let hierarchy = spawn::check(lab, names, opts)?;
    netns::prepare()?;
    let rt = netlink::runtime()?;
    let shared = match opts.shared_netns {
        // SAFETY: the caller keeps the descriptor open for the call.
        Some(fd) => Some(File::from(
            unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) }
                .try_clone_to_owned()
                .map_err(|e| mncli::io_error("the OVS namespace", &e))?,
        )),
        None => None,
    };
    let mut namespace = Namespace { shared: shared.as_ref(), id: None };
    let (signals, saved) = spawn::block_signals()?;
    let mut made: Vec<Node> = Vec::with_capacity(names.len());
    let result = (|| {
        for name in names {
            spawn::checkpoint(&signals)?;
            let node = add_one(lab, name, opts, hierarchy.as_ref(), &rt, &mut namespace, &mut made);
            node.with_context(|| name.clone())?;
        }
        Ok(())
    })();
    if result.is_err() {
        rollback(lab, &made);
    }
    let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&saved), None);
    result
}

/// The namespace shared by the nodes of a call (OVS switches), once
/// configured: its inode and cookie.
struct Namespace<'a> {
    shared: Option<&'a File>,
    id: Option<(u64, u64)>,
}

fn add_one(
    lab: &Lab,
    name: &str,
    opts: &AddOptions,
    hierarchy: Option<&cgroup::Hierarchy>,
    rt: &tokio::runtime::Runtime,
    namespace: &mut Namespace,
    made: &mut Vec<Node>,
) -> Result<()> {
    let dir = lab.claim(name)?;
    // opts.root is refused above: a lazy node has a namespace of its own.
    made.push(Node::unmade(name, opts, Some(lab.netns_entry(name))));
    let node = made.last_mut().ok_or_else(|| anyhow!("no node"))?;
    if let (Some(h), Some(cpu)) = (hierarchy, opts.cpu) {
        // Made now, so that del and clean find it; the shell joins it.
        node.cgroup = Some(h.create(&lab.cgroup_name(name), cpu)?);
    }
    let fresh;
    let ns = match namespace.shared {
        Some(shared) => shared,
        None => {
            fresh = netlink::new_netns()?;
            &fresh
        }
    };
    let (inode, cookie) = match namespace.id {
        Some(id) => id,
        None => rt
            .block_on(kind::configure(node, Some(ns), opts, &lab.id))?
            .ok_or_else(|| anyhow!("the namespace has no identity"))?,
    };
    if namespace.shared.is_some() {
        namespace.id = Some((inode, cookie));
    }
    (node.netns, node.cookie) = (Some(inode), Some(cookie));
    // The record first: should mnnode die before the entry is made, the
    // namespace dies with it and clean finds a record whose entry holds
    // nothing; the other way round, an entry no record leads to.
    dir.write_record(node)?;
    netns::bind(&lab.netns_entry(name), ns.as_fd())
}

/// Undoes the nodes of a failed call.
fn rollback(lab: &Lab, made: &[Node]) {
    // Visitors (`ip netns exec`) would keep a namespace alive.
    let _ = reap::end_processes(made);
    for node in made {
        if node.netns.is_some() {
            let _ = netns::remove(&lab.netns_entry(&node.name), node.netns);
        }
        if let Some(group) = &node.cgroup {
            let _ = cgroup::remove(group);
        }
        let _ = lab.remove_node_dir(&node.name);
    }
}

/// The lab file naming a lazily started shell (`PID START`) whose
/// terminal (its [`shell::PTY_FD`]) the next lazy shells share: one pty
/// per shell would use up `kernel.pty.max` (4096) in a big lab, leaving
/// the machine's users no terminal. A hint only: checked, and replaced
/// when that shell is gone.
pub const PTY_HINT: &str = ".pty";

/// The terminal of the shell the lab's hint names, taken with
/// pidfd_getfd; None when there is no such shell (or kernel support).
fn borrowed_pty(lab: &Lab) -> Option<OwnedFd> {
    let (pid, start) = named_process(lab, PTY_HINT)?;
    // SAFETY: pidfd_open returns a new descriptor or -1.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    // SAFETY: a descriptor pidfd_open just gave us.
    let pidfd = (pidfd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(pidfd as i32) })?;
    // Still that shell, now that the pidfd pins its pid.
    if !lives(pid, start) {
        return None;
    }
    // SAFETY: pidfd_getfd returns a new descriptor (close-on-exec) or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), shell::PTY_FD, 0) };
    // SAFETY: a descriptor pidfd_getfd just gave us.
    let fd = (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd as i32) })?;
    nix::unistd::isatty(&fd).unwrap_or(false).then_some(fd)
}

/// The lab file `clean` writes (`PID START`) while it ends the lab: a
/// first start that finds it, under the node's start lock, refuses, so no
/// shell starts behind clean's back (after it has looked for processes,
/// before it unmounts the entry) with no record left to lead to it. A
/// clean that died leaves a marker naming no live process: ignored.
pub const CLEANING: &str = ".cleaning";

/// The pid of the clean running in the lab, if any.
fn cleaning(lab: &Lab) -> Option<i32> {
    named_process(lab, CLEANING).map(|(pid, _)| pid)
}

/// The process a lab file names (`PID START`), while it lives.
fn named_process(lab: &Lab, file: &str) -> Option<(i32, u64)> {
    let text = lab.read_lab_file(file)?;
    let mut words = text.split_whitespace();
    let pid: i32 = words.next()?.parse().ok()?;
    let start: u64 = words.next()?.parse().ok()?;
    (pid > 0 && lives(pid, start)).then_some((pid, start))
}

fn lives(pid: i32, start: u64) -> bool {
    procfs::stat(pid).is_some_and(|s| s.start == start && !s.is_dead())
}

/// Held by `clean` while it ends the lab: no lazy node's first shell
/// starts meanwhile. Made before clean reads what to end; it waits for
/// starts in progress (each shell-less node's start lock, taken and let
/// go) and returns the nodes as they are once those are done.
pub struct NoStarts<'a> {
    lab: &'a Lab,
    mark: String,
}

impl<'a> NoStarts<'a> {
    pub fn hold(lab: &'a Lab, nodes: &mut [Node]) -> Result<NoStarts<'a>> {
        let me = std::process::id() as i32;
        let start = procfs::stat(me).map(|s| s.start).ok_or_else(|| anyhow!("read our own start time"))?;
        let mark = format!("{me} {start}\n");
        lab.write_lab_file(CLEANING, &mark)?;
        let held = NoStarts { lab, mark };
        for node in nodes.iter_mut().filter(|n| !n.has_shell() && !n.root) {
            let Ok(dir) = lab.node_dir(&node.name) else { continue };
            lock_start(&dir)?;
            // A start that held the lock before us has recorded its shell.
            if let Ok(now) = lab.node(&node.name) {
                *node = now;
            }
        }
        Ok(held)
    }
}

impl Drop for NoStarts<'_> {
    fn drop(&mut self) {
        // Another clean's mark is its own to remove.
        if self.lab.read_lab_file(CLEANING).as_deref() == Some(self.mark.as_str()) {
            let _ = self.lab.remove_lab_file(CLEANING);
        }
    }
}

/// Holds the node's start lock (an exclusive `flock` of its directory)
/// until `dir` is closed: lazy starts and restarts take turns on it.
pub(crate) fn lock_start(dir: &NodeDir) -> Result<()> {
    lock_start_by(dir, None).map(drop)
}

/// [`lock_start`] until `deadline` at most; false once it has passed.
fn lock_start_by(dir: &NodeDir, deadline: Option<Instant>) -> Result<bool> {
    let Some(deadline) = deadline else {
        return lock_start_blocking(dir).map(|()| true);
    };
    loop {
        // SAFETY: flock on a descriptor we own.
        if unsafe { libc::flock(dir.fd().as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
            return Ok(true);
        }
        let e = nix::errno::Errno::last();
        if e != nix::errno::Errno::EWOULDBLOCK && e != nix::errno::Errno::EINTR {
            bail!("{}: lock: {}", dir.path.display(), e.desc());
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(false);
        }
        // A start takes milliseconds: look again soon.
        std::thread::sleep(left.min(Duration::from_millis(5)));
    }
}

fn lock_start_blocking(dir: &NodeDir) -> Result<()> {
    loop {
        // SAFETY: flock on a descriptor we own.
        if unsafe { libc::flock(dir.fd().as_raw_fd(), libc::LOCK_EX) } == 0 {
            return Ok(());
        }
        let e = nix::errno::Errno::last();
        if e != nix::errno::Errno::EINTR {
            bail!("{}: lock: {}", dir.path.display(), e.desc());
        }
    }
}

/// The node `name`, with its shell started if it is a lazy node that has
/// none yet: what every caller that needs the shell's pid or FIFO calls
/// first. A node that has (or had) a shell is returned as it is, alive or
/// not, for the caller to judge. The caller must be single-threaded.
pub fn ensure_shell(lab: &Lab, name: &str) -> Result<Node> {
    ensure_shell_by(lab, name, None)?.ok_or_else(|| anyhow!("{name}: the shell's start timed out"))
}

/// [`ensure_shell`], waiting for another call's start of the shell until
/// `deadline` at most (`mnrun -t`): `None` once it has passed.
pub fn ensure_shell_by(lab: &Lab, name: &str, deadline: Option<Instant>) -> Result<Option<Node>> {
    let dir = lab.node_dir(name)?;
    let node = lab.node(name)?;
    if node.has_shell() || node.root {
        return Ok(Some(node));
    }
    if !lock_start_by(&dir, deadline)? {
        return Ok(None);
    }
    // Another call may have started it while we waited.
    let node = lab.node(name)?;
    if node.has_shell() {
        return Ok(Some(node));
    }
    start(lab, &dir, node).map(Some)
}

/// Starts a lazy node's first shell; the caller holds the start lock.
/// Ctrl-C is held off meanwhile: a caller killed between the shell's
/// start and its record would leave a shell nothing leads to (until del
/// or clean), and the next call would start another.
pub(crate) fn start(lab: &Lab, dir: &NodeDir, node: Node) -> Result<Node> {
    let (_, saved) = spawn::block_signals()?;
    let started = start_held(lab, dir, node);
    let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&saved), None);
    started
}

fn start_held(lab: &Lab, dir: &NodeDir, mut node: Node) -> Result<Node> {
    let name = node.name.clone();
    node.check_protocol()?;
    if let Some(pid) = cleaning(lab) {
        bail!("node {name} is being removed (mnnode clean, pid {pid} is ending the lab)");
    }
    let gone = || {
        anyhow!("node {name} is not running (its namespace is gone: the ip netns entry no longer holds it)")
    };
    let pin = node.pin.clone().ok_or_else(gone)?;
    let net = netns::open(&pin, node.netns).ok_or_else(gone)?;
    // The inode of a freed namespace is given out again, its cookie never.
    if let Some(cookie) = node.cookie {
        match netlink::cookie_of(net.as_fd()) {
            Some(now) if now == cookie => {}
            Some(_) => return Err(gone()),
            None => bail!("node {name}: could not read its namespace's cookie"),
        }
    }
    // The shell's mount namespace is made now, copied from ours, as
    // `mnexec -n` makes it: / private, a fresh sysfs, /run/netns detached.
    let own = File::open("/proc/self/ns/mnt").map_err(|e| mncli::io_error("/proc/self/ns/mnt", &e))?;
    let join = Prepared::SharedNetFrom { net: net.as_raw_fd(), template: own.as_raw_fd() };
    let borrowed = borrowed_pty(lab);
    let lent = borrowed.is_none();
    let pty = borrowed.or_else(shell::shared_pty);
    let (pid, start) = restart::start_shell(lab, dir, &node, Some(join), pty)?;
    drop((net, own));
    if lent {
        // The next lazy shells share this one's terminal.
        let _ = lab.write_lab_file(PTY_HINT, &format!("{pid} {start}\n"));
    }
    (node.pid, node.start) = (pid, start);
    // The shell must be in the node's namespace, not a stranger's that
    // took the entry's place.
    if crate::procfs::ns_inode(pid, "net") != node.netns {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
        bail!("node {name}: its new shell is not in the node's namespace");
    }
    // Unrecorded, the shell would be one nothing leads to (the next call
    // would start another): it goes again.
    if let Err(e) = dir.write_record(&node) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
        return Err(e);
    }
    Ok(node)
}
