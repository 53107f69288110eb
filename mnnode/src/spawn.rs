//! `mnnode add`: many node shells started concurrently, each with mnexec's
//! `-cdn` steps (`-cd` for --root), ready when its shell says so; all of a
//! call or nothing.
use crate::cgroup;
use crate::lab::{FIFO, LOG, Lab, NodeDir};
use crate::netlink;
use crate::node::{Kind, Node};
use crate::shell;
use crate::tag::Tag;
use crate::{name, netns_dir, procfs, reap, vfork};
use anyhow::{Context, Result, anyhow, bail};
use mnexec::Step;
use nix::fcntl::OFlag;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigSet, SigmaskHow, Signal, sigprocmask};
use nix::sys::stat::Mode;
use rtnetlink::LinkBridge;
use rtnetlink::packet_route::link::{BridgeStpState, InfoBridge};
use std::collections::HashSet;
use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::time::{Duration, Instant};

/// Shells starting at once; more only queue up on the kernel's locks.
const WINDOW: usize = 32;
/// How long a shell may take to become ready.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
pub struct AddOptions {
    pub kind: Kind,
    pub root: bool,
    pub cpu: Option<f64>,
    pub stp: bool,
    /// Hosts get IPv6 link-local addresses (the kernel's default).
    pub ipv6_ll: bool,
}

/// A node of this call, from claim to ready.
struct Starting {
    node: Node,
    dir: NodeDir,
    /// The shell, our child until this call ends.
    child: Option<i32>,
    ready: Option<OwnedFd>,
    said: Vec<u8>,
    since: Instant,
}

/// Adds the nodes; `names` and `opts` have passed [`validate`]. mnnode is
/// single-threaded here, which makes the work between fork and exec sound.
pub(crate) fn add(lab: &Lab, names: &[String], opts: &AddOptions) -> Result<()> {
    let hierarchy = check(lab, names, opts)?;
    // A current-thread runtime starts no thread: spawning stays sound.
    let rt = netlink::runtime()?;
    let (signals, saved) = block_signals()?;
    let mut nodes: Vec<Starting> = Vec::with_capacity(names.len());
    let result = start_all(lab, names, opts, hierarchy.as_ref(), &signals, &rt, &mut nodes);
    if result.is_err() {
        rollback(lab, &rt, &mut nodes);
    }
    let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&saved), None);
    result
}

/// Everything about the lab that can be checked before anything is made
/// (the names themselves passed [`validate`]).
fn check(lab: &Lab, names: &[String], opts: &AddOptions) -> Result<Option<cgroup::Hierarchy>> {
    for name in names {
        if lab.dir.join(name).symlink_metadata().is_ok() {
            bail!("{name}: a node of that name exists in {}", lab.dir.display());
        }
        if !opts.root {
            let entry = lab.netns_entry(name);
            // A dangling entry is a crashed run's: ours to replace.
            if entry.metadata().is_ok() {
                bail!("{}: the ip netns name is taken (by another lab of the same name?)", entry.display());
            }
        }
    }
    if opts.cpu.is_none() {
        return Ok(None);
    }
    let hierarchy = cgroup::detect()?;
    for name in names {
        let group = cgroup_name(lab, name);
        if hierarchy.exists(&group) {
            bail!("cgroup {group} exists already (by another lab of the same name?)");
        }
    }
    Ok(Some(hierarchy))
}

/// The checks that need no lab, made before MN_DIR is created.
pub fn validate(names: &[String], opts: &AddOptions) -> Result<()> {
    if names.is_empty() {
        bail!("no node names given");
    }
    let mut seen = HashSet::new();
    for name in names {
        name::check(name)?;
        if !seen.insert(name.as_str()) {
            bail!("{name}: named twice in this call");
        }
    }
    if opts.kind == Kind::Switch {
        if let Some(long) = names.iter().find(|n| n.len() > 15) {
            bail!("{long}: a switch's bridge is named after it, and interface names are at most 15 bytes");
        }
    }
    if let Some(cpu) = opts.cpu {
        cgroup::check_fraction(cpu)?;
    }
    Ok(())
}

pub fn cgroup_name(lab: &Lab, node: &str) -> String {
    format!("mn-{}", lab.netns_name(node))
}

/// Holds off Ctrl-C while nodes are half-made; a signal that arrives is
/// noticed at the next checkpoint and undoes the whole call. Returns the
/// signals held off and the mask to restore.
fn block_signals() -> Result<(SigSet, SigSet)> {
    let mut set = SigSet::empty();
    for sig in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        set.add(sig);
    }
    let mut saved = SigSet::empty();
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), Some(&mut saved)).context("block signals")?;
    Ok((set, saved))
}

fn checkpoint(set: &SigSet) -> Result<()> {
    let mut pending = SigSet::empty();
    // SAFETY: sigpending fills the set we own.
    if unsafe { libc::sigpending((&raw mut pending).cast()) } == 0 && set.iter().any(|s| pending.contains(s))
    {
        bail!("interrupted; nothing was added");
    }
    Ok(())
}

fn start_all(
    lab: &Lab,
    names: &[String],
    opts: &AddOptions,
    hierarchy: Option<&cgroup::Hierarchy>,
    signals: &SigSet,
    rt: &tokio::runtime::Runtime,
    nodes: &mut Vec<Starting>,
) -> Result<()> {
    if !opts.root {
        let netns = netns_dir();
        std::fs::create_dir_all(&netns)
            .map_err(|e| anyhow!("{}: {}", netns.display(), mncli::os_error(&e)))?;
    }
    let mut next = names.iter();
    let mut waiting: Vec<usize> = Vec::new();
    loop {
        checkpoint(signals)?;
        while waiting.len() < WINDOW {
            let Some(name) = next.next() else { break };
            start(lab, name, opts, hierarchy, nodes)?;
            waiting.push(nodes.len() - 1);
        }
        if waiting.is_empty() {
            return Ok(());
        }
        // Each node is finished as soon as its shell is ready, while the
        // other shells are still starting on the other CPUs.
        for i in wait_some(nodes, &mut waiting)? {
            let id = rt.block_on(configure(&nodes[i].node, opts, &lab.name))?;
            if let Some((inode, cookie)) = id {
                nodes[i].node.netns = Some(inode);
                nodes[i].node.cookie = Some(cookie);
            }
            register(lab, &nodes[i])?;
        }
    }
}

fn start(
    lab: &Lab,
    name: &str,
    opts: &AddOptions,
    hierarchy: Option<&cgroup::Hierarchy>,
    nodes: &mut Vec<Starting>,
) -> Result<()> {
    let dir = lab.claim(name)?;
    // From here on the node is in `nodes`, for the rollback of the call
    // to undo whatever of it was made.
    nodes.push(Starting {
        node: Node {
            name: name.to_string(),
            kind: opts.kind,
            root: opts.root,
            pid: 0,
            start: 0,
            netns: None,
            cookie: None,
            cpu: opts.cpu,
            cgroup: None,
        },
        dir,
        child: None,
        ready: None,
        said: Vec::new(),
        since: Instant::now(),
    });
    let last = nodes.len() - 1;
    let starting = &mut nodes[last];
    let made = (|| -> Result<()> {
        nix::unistd::mkfifoat(starting.dir.fd(), FIFO, Mode::S_IRUSR | Mode::S_IWUSR)
            .map_err(|e| anyhow!("{}: {}", starting.dir.path.join(FIFO).display(), e.desc()))?;
        let fifo = starting.dir.open(FIFO, OFlag::O_RDWR, Mode::empty())?;
        let log = starting.dir.open(
            LOG,
            OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_APPEND,
            Mode::S_IRUSR | Mode::S_IWUSR,
        )?;
        let (ready_r, ready_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).context("pipe")?;
        // mnexec -cdn's steps, applied in the forked child itself: the same
        // process state as exec'ing mnexec, at one exec per node instead of
        // two (an exec costs about a millisecond on a VM).
        let mut steps = Vec::new();
        if let (Some(h), Some(cpu)) = (hierarchy, opts.cpu) {
            let group = cgroup_name(lab, name);
            starting.node.cgroup = Some(h.create(&group, cpu)?);
            // Before -n: the fresh sysfs hides the cgroup tree.
            steps.push(Step::Cgroup(group.into()));
        }
        steps.push(Step::Detach);
        if !opts.root {
            steps.push(Step::NewNamespaces);
        }
        let fifo_path = starting.dir.path.join(FIFO);
        let log_path = starting.dir.path.join(LOG);
        let env = shell::environment(name, &fifo_path, &log_path);
        let env: Vec<(&str, &std::ffi::OsStr)> = env.iter().map(|(k, v)| (*k, v.as_os_str())).collect();
        let plan = vfork::Plan::new(&shell_argv()?, &env, &["TMOUT"], [fifo, ready_w, log], steps)
            .context("prepare the shell")?;
        // SAFETY: mnnode is single-threaded while it starts shells.
        let pid = unsafe { vfork::spawn(&plan) }.map_err(|e| match last_line(&log_path) {
            Some(why) => anyhow!("{why}"),
            None => anyhow!("start bash: {}", mncli::os_error(&e)),
        })?;
        starting.child = Some(pid);
        let start =
            procfs::stat(pid).map(|s| s.start).ok_or_else(|| anyhow!("the shell vanished at once"))?;
        // The record is written once, when the node is complete; should
        // mnnode die before that, clean finds the shell by its environment.
        (starting.node.pid, starting.node.start) = (pid, start);
        nix::fcntl::fcntl(&ready_r, nix::fcntl::FcntlArg::F_SETFL(OFlag::O_NONBLOCK)).context("fcntl")?;
        starting.ready = Some(ready_r);
        starting.since = Instant::now();
        Ok(())
    })();
    made.with_context(|| name.to_string())
}

/// The last non-empty line of a file (a log), trimmed.
pub(crate) fn last_line(path: &std::path::Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines().map(str::trim).rfind(|l| !l.is_empty()).map(str::to_string)
}

/// The shell's argv with bash found in PATH once (execve does not search).
pub(crate) fn shell_argv() -> Result<Vec<&'static str>> {
    static BASH: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    let bash = BASH.get_or_init(|| {
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into()))
            .map(|dir| dir.join(shell::SHELL[0]))
            .find(|p| p.is_file())
            .and_then(|p| p.to_str().map(str::to_string))
    });
    let bash = bash.as_deref().ok_or_else(|| anyhow!("bash not found in PATH"))?;
    Ok(std::iter::once(bash).chain(shell::SHELL[1..].iter().copied()).collect())
}

/// Waits until at least one starting shell is ready (or failed).
/// Returns those that are.
fn wait_some(nodes: &mut [Starting], waiting: &mut Vec<usize>) -> Result<Vec<usize>> {
    let oldest = waiting.iter().map(|&i| nodes[i].since).min().unwrap_or_else(Instant::now);
    let left = READY_TIMEOUT.saturating_sub(oldest.elapsed());
    if left.is_zero() {
        let i = waiting.iter().copied().find(|&i| nodes[i].since == oldest).unwrap_or(waiting[0]);
        bail!("{}: the shell did not become ready within {}s", nodes[i].node.name, READY_TIMEOUT.as_secs());
    }
    let mut fds: Vec<PollFd> = waiting
        .iter()
        .filter_map(|&i| nodes[i].ready.as_ref().map(|fd| PollFd::new(fd.as_fd(), PollFlags::POLLIN)))
        .collect();
    let timeout = PollTimeout::try_from(left.min(Duration::from_millis(500))).unwrap_or(PollTimeout::MAX);
    match poll(&mut fds, timeout) {
        Ok(_) | Err(nix::errno::Errno::EINTR) => {}
        Err(e) => bail!("poll: {}", e.desc()),
    }
    drop(fds);
    let mut still = Vec::with_capacity(waiting.len());
    let mut ready = Vec::new();
    for &i in waiting.iter() {
        if drain(&mut nodes[i])? { ready.push(i) } else { still.push(i) }
    }
    *waiting = still;
    Ok(ready)
}

/// Reads what the shell said; true once it is done (ready, or an error).
fn drain(s: &mut Starting) -> Result<bool> {
    let Some(fd) = s.ready.as_ref() else { return Ok(true) };
    let mut buf = [0u8; 4096];
    loop {
        match nix::unistd::read(fd, &mut buf) {
            Ok(0) => break,
            Ok(n) => s.said.extend_from_slice(&buf[..n]),
            Err(nix::errno::Errno::EAGAIN) => return Ok(false),
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => bail!("{}: read from the shell: {}", s.node.name, e.desc()),
        }
    }
    s.ready = None;
    if s.said.ends_with(shell::READY) {
        // What bash says about job control on start-up is noise.
        if let Ok(log) = s.dir.open(LOG, OFlag::O_WRONLY, Mode::empty()) {
            let _ = nix::unistd::ftruncate(&log, 0);
        }
        return Ok(true);
    }
    // mnexec or bash said why it could not start, in the log.
    let why = last_line(&s.dir.path.join(LOG)).unwrap_or_else(|| "the shell exited at once".into());
    bail!("{}: {why}", s.node.name)
}

/// Loopback up, the switch's bridge, a router's forwarding, and the
/// namespace's identity, over one netlink socket in the node.
async fn configure(node: &Node, opts: &AddOptions, lab_name: &str) -> Result<Option<(u64, u64)>> {
    let router = opts.kind == Kind::Router;
    let (conn, id) = if opts.root {
        if router {
            enable_forwarding()?;
        }
        if node.bridge().is_none() {
            return Ok(None);
        }
        (netlink::connect_here()?, None)
    } else {
        let ns =
            File::open(node.netns_path()).with_context(|| format!("{}: open its namespace", node.name))?;
        let inode = ns.metadata().map_err(|_| anyhow!("{}: the shell vanished", node.name))?.ino();
        let conn = netlink::in_netns(ns.as_fd(), || -> Result<netlink::Conn> {
            if router {
                enable_forwarding()?;
            }
            match node.kind {
                Kind::Switch => layer2_only()?,
                Kind::Host if !opts.ipv6_ll => no_link_local()?,
                _ => {}
            }
            netlink::connect_here()
        })??;
        netlink::set_up(&conn.handle, 1)
            .await
            .map_err(|e| anyhow!("{}: bring lo up: {}", node.name, netlink::describe(&e)))?;
        let cookie = conn.cookie;
        (conn, Some((inode, cookie)))
    };
    if let Some(bridge) = node.bridge() {
        let stp = if opts.stp { BridgeStpState::KernelStp } else { BridgeStpState::Disabled };
        // Multicast is flooded, as Open vSwitch does by default: snooping
        // the MLD reports every new port sends costs more than it saves.
        let msg = LinkBridge::new(bridge)
            .append_info_data(InfoBridge::StpState(stp))
            .append_info_data(InfoBridge::MulticastSnooping(false))
            .build();
        conn.handle
            .link()
            .add(msg)
            .execute()
            .await
            .map_err(|e| anyhow!("{}: create bridge {bridge}: {}", node.name, netlink::describe(&e)))?;
        if opts.root {
            // A bridge in the root namespace does not die with any node:
            // tag it, so that del and clean find it.
            let tag = Tag {
                node: node.name.clone(),
                peer_node: String::new(),
                peer_if: String::new(),
                lab: lab_name.to_string(),
            };
            let msg = rtnetlink::LinkUnspec::new_with_name(bridge).alias(tag.format()).build();
            if let Err(e) = conn.handle.link().set(msg).execute().await {
                // Untagged, nothing would ever find it again.
                if let Ok(Some(link)) = netlink::link_by_name(&conn.handle, bridge).await {
                    let _ = conn.handle.link().del(link.header.index).execute().await;
                }
                bail!("{}: tag bridge {bridge}: {}", node.name, netlink::describe(&e));
            }
        }
    }
    Ok(id)
}

/// A switch is a layer-2 device: no IPv6 stack of its own on the bridge or
/// its ports (frames of every kind are still bridged). This spares every
/// new port the IPv6 link-local address, DAD and MLD traffic.
fn layer2_only() -> Result<()> {
    crate::write_file("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1")?;
    crate::write_file("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1")
}

/// Hosts' interfaces get no automatic IPv6 link-local address (nor SLAAC):
/// without one they send no DAD, router solicitation or MLD report when
/// they come up, multicast that every bridge floods to every host (for a
/// tree of 1000 hosts, 3 s of CPU while linking). Addresses given with
/// mnlink addr or ip work as ever; --ipv6-ll brings the kernel default back.
fn no_link_local() -> Result<()> {
    crate::write_file("/proc/sys/net/ipv6/conf/default/addr_gen_mode", "1")
}

/// IPv4 and IPv6 forwarding in the current network namespace.
fn enable_forwarding() -> Result<()> {
    crate::write_file("/proc/sys/net/ipv4/ip_forward", "1")?;
    crate::write_file("/proc/sys/net/ipv6/conf/all/forwarding", "1")
}

/// The node's record, and its `ip netns` entry: the node is complete.
fn register(lab: &Lab, s: &Starting) -> Result<()> {
    s.dir.write_record(&s.node)?;
    if s.node.root {
        return Ok(());
    }
    let entry = lab.netns_entry(&s.node.name);
    let _ = std::fs::remove_file(&entry);
    std::os::unix::fs::symlink(s.node.netns_path(), &entry)
        .map_err(|e| anyhow!("{}: {}", entry.display(), mncli::os_error(&e)))
}

/// Undoes every node of this call.
fn rollback(lab: &Lab, rt: &tokio::runtime::Runtime, nodes: &mut [Starting]) {
    let made: Vec<Node> = nodes.iter().filter(|s| s.node.pid > 0).map(|s| s.node.clone()).collect();
    let _ = reap::end_processes(&made);
    // A root switch's bridge outlives its shell.
    let roots: Vec<&str> = nodes.iter().filter(|s| s.node.root).map(|s| s.node.name.as_str()).collect();
    if !roots.is_empty() {
        rt.block_on(reap::delete_root_links(lab, &roots));
    }
    for s in nodes.iter_mut() {
        if let Some(pid) = s.child.take() {
            // SAFETY: killing and reaping the child this call started.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, std::ptr::null_mut(), 0);
            }
        }
        if !s.node.root {
            let entry = lab.netns_entry(&s.node.name);
            if std::fs::read_link(&entry).is_ok_and(|t| t == std::path::Path::new(&s.node.netns_path())) {
                let _ = std::fs::remove_file(&entry);
            }
        }
        if let Some(group) = &s.node.cgroup {
            let _ = cgroup::remove(group);
        }
        let _ = lab.remove_node_dir(&s.node.name);
    }
}
