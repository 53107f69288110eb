//! `mnnode add`: many node shells started concurrently, each with mnexec's
//! `-cdn` steps (`-cd` for --root), ready when its shell says so; all of a
//! call or nothing.
use crate::cgroup;
use crate::lab::{FIFO, LOG, Lab, NodeDir};
use crate::netlink;
use crate::node::{Kind, Node};
use crate::shell;
use crate::{kind, name, netns, procfs, reap, vfork};
use anyhow::{Context, Result, anyhow, bail};
use mnexec::Prepared;
use nix::fcntl::OFlag;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigSet, SigmaskHow, Signal, sigprocmask};
use nix::sys::stat::Mode;
use std::collections::HashSet;
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
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
    /// A switch's bridge is made down (--down).
    pub down: bool,
    /// Hosts get IPv6 link-local addresses (the kernel's default).
    pub ipv6_ll: bool,
    /// A network namespace the shells join instead of making their own
    /// (the lab's OVS namespace), open in the caller.
    pub shared_netns: Option<std::os::fd::RawFd>,
    /// More environment for the shells (OVS's directories).
    pub env: Vec<(&'static str, std::ffi::OsString)>,
    /// Make only the namespaces; each shell starts when first needed.
    pub lazy: bool,
}

/// A node of this call, from claim to ready.
struct Starting {
    node: Node,
    /// Open until the node is registered: a call of thousands of nodes
    /// must not hold a descriptor per node.
    dir: Option<NodeDir>,
    /// The shell, our child until this call ends.
    child: Option<i32>,
    ready: Option<OwnedFd>,
    said: Vec<u8>,
    since: Instant,
}

/// Adds the nodes; `names` and `opts` have passed [`validate`]. mnnode is
/// single-threaded here, which makes the work between fork and exec sound.
pub(crate) fn add(lab: &Lab, names: &[String], opts: &AddOptions) -> Result<()> {
    if opts.lazy {
        return crate::lazy::add(lab, names, opts);
    }
    let hierarchy = check(lab, names, opts)?;
    // A current-thread runtime starts no thread: spawning stays sound.
    let rt = netlink::runtime()?;
    let (signals, saved) = block_signals()?;
    let mut nodes: Vec<Starting> = Vec::with_capacity(names.len());
    let result = (|| {
        let template =
            if opts.root { None } else { Some(netns::prepare().and_then(|()| netns::template())?) };
        let pty = shell::shared_pty();
        let call =
            Call { lab, opts, hierarchy: hierarchy.as_ref(), template: template.as_ref(), pty: pty.as_ref() };
        start_all(&call, names, &signals, &rt, &mut nodes)
    })();
    if result.is_err() {
        rollback(lab, &rt, &mut nodes);
    }
    let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&saved), None);
    result
}

/// Everything about the lab that can be checked before anything is made
/// (the names themselves passed [`validate`]).
pub(crate) fn check(lab: &Lab, names: &[String], opts: &AddOptions) -> Result<Option<cgroup::Hierarchy>> {
    crate::scale::check_pids(names.len())?;
    for name in names {
        if lab.has(name) {
            bail!("{name}: a node of that name exists in {}", lab.dir.display());
        }
        if !opts.root {
            let entry = lab.netns_entry(name);
            // An entry that holds no namespace is a crashed run's.
            if let netns::Holds::Unmounted | netns::Holds::Symlink = netns::holds(&entry) {
                netns::remove(&entry, None)?;
            }
            if netns::taken(&entry) {
                bail!(
                    "{name}: ip netns name {} is taken (by another lab named {}?); give this lab another MN_DIR name",
                    lab.netns_name(name),
                    lab.name
                );
            }
        }
    }
    if opts.cpu.is_none() {
        return Ok(None);
    }
    let hierarchy = cgroup::detect()?;
    for name in names {
        // The id makes the group this lab's: one left by a node of this
        // name that was never cleaned up.
        let group = lab.cgroup_name(name);
        if hierarchy.exists(&group) && std::fs::remove_dir(hierarchy.dir(&group)).is_err() {
            bail!(
                "{name}: cgroup {group} of an earlier node of that name still has processes; mnnode clean ends them"
            );
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
    if opts.kind.has_bridge() || opts.kind.is_ovs() {
        if let Some(long) = names.iter().find(|n| n.len() > 15) {
            bail!("{long}: a switch's bridge is named after it, and interface names are at most 15 bytes");
        }
    }
    if let Some(cpu) = opts.cpu {
        cgroup::check_fraction(cpu)?;
    }
    Ok(())
}

/// Holds off Ctrl-C while nodes are half-made; a signal that arrives is
/// noticed at the next checkpoint and undoes the whole call. Returns the
/// signals held off and the mask to restore.
pub(crate) fn block_signals() -> Result<(SigSet, SigSet)> {
    let mut set = SigSet::empty();
    for sig in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        set.add(sig);
    }
    let mut saved = SigSet::empty();
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), Some(&mut saved))
        .map_err(|e| anyhow!("block signals: {}", e.desc()))?;
    Ok((set, saved))
}

pub(crate) fn checkpoint(set: &SigSet) -> Result<()> {
    let mut pending = SigSet::empty();
    // SAFETY: sigpending fills the set we own.
    if unsafe { libc::sigpending((&raw mut pending).cast()) } == 0 && set.iter().any(|s| pending.contains(s))
    {
        bail!("interrupted; nothing was added");
    }
    Ok(())
}

/// What every node of one call shares.
struct Call<'a> {
    lab: &'a Lab,
    opts: &'a AddOptions,
    hierarchy: Option<&'a cgroup::Hierarchy>,
    /// The mount namespace node namespaces are copied from.
    template: Option<&'a File>,
    /// The terminal the shells share (shell::PTY_FD).
    pty: Option<&'a OwnedFd>,
}

fn start_all(
    call: &Call,
    names: &[String],
    signals: &SigSet,
    rt: &tokio::runtime::Runtime,
    nodes: &mut Vec<Starting>,
) -> Result<()> {
    let (lab, opts) = (call.lab, call.opts);
    let mut next = names.iter();
    let mut waiting: Vec<usize> = Vec::new();
    let window = crate::scale::window(WINDOW)?;
    loop {
        checkpoint(signals)?;
        while waiting.len() < window {
            let Some(name) = next.next() else { break };
            start(call, name, nodes)?;
            waiting.push(nodes.len() - 1);
        }
        if waiting.is_empty() {
            return Ok(());
        }
        // Each node is finished as soon as its shell is ready, while the
        // other shells are still starting on the other CPUs.
        for i in wait_some(nodes, &mut waiting)? {
            let id = rt.block_on(kind::configure(&nodes[i].node, None, opts, &lab.id))?;
            if let Some((inode, cookie)) = id {
                nodes[i].node.netns = Some(inode);
                nodes[i].node.cookie = Some(cookie);
            }
            register(lab, &nodes[i])?;
            nodes[i].dir = None;
        }
    }
}

fn start(call: &Call, name: &str, nodes: &mut Vec<Starting>) -> Result<()> {
    let (lab, opts, hierarchy, template) = (call.lab, call.opts, call.hierarchy, call.template);
    let dir = lab.claim(name)?;
    // From here on the node is in `nodes`, for the rollback of the call
    // to undo whatever of it was made.
    nodes.push(Starting {
        node: Node::unmade(name, opts, None),
        dir: Some(dir),
        child: None,
        ready: None,
        said: Vec::new(),
        since: Instant::now(),
    });
    let last = nodes.len() - 1;
    let starting = &mut nodes[last];
    let made = (|| -> Result<()> {
        let dir = starting.dir.as_ref().ok_or_else(|| anyhow!("the node directory is closed"))?;
        nix::unistd::mkfifoat(dir.fd(), FIFO, Mode::S_IRUSR | Mode::S_IWUSR)
            .map_err(|e| anyhow!("{}: {}", dir.path.join(FIFO).display(), e.desc()))?;
        let fifo = dir.open(FIFO, OFlag::O_RDWR, Mode::empty())?;
        let log =
            dir.open(LOG, OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_APPEND, Mode::S_IRUSR | Mode::S_IWUSR)?;
        let (ready_r, ready_w) =
            nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| anyhow!("pipe: {}", e.desc()))?;
        // mnexec -cdn's steps, applied in the forked child itself: the same
        // process state as exec'ing mnexec, at one exec per node instead of
        // two (an exec costs about a millisecond on a VM).
        let mut steps = Vec::new();
        if let (Some(h), Some(cpu)) = (hierarchy, opts.cpu) {
            let group = lab.cgroup_name(name);
            starting.node.cgroup = Some(h.create(&group, cpu)?);
            // Before -n: the fresh sysfs hides the cgroup tree.
            steps.push(Prepared::cgroup(group.as_ref()).map_err(|f| anyhow!("{f}"))?);
        }
        steps.push(Prepared::Detach);
        if !opts.root {
            steps.push(match (template, opts.shared_netns) {
                (Some(fd), Some(net)) => Prepared::SharedNetFrom { net, template: fd.as_raw_fd() },
                (Some(fd), None) => Prepared::NewNamespacesFrom { template: fd.as_raw_fd() },
                (None, _) => Prepared::NewNamespaces,
            });
        }
        if let Some(pty) = call.pty {
            steps.push(Prepared::Give { from: pty.as_raw_fd(), to: shell::PTY_FD });
        }
        let fifo_path = dir.path.join(FIFO);
        let log_path = dir.path.join(LOG);
        let env = shell::environment(name, &fifo_path, &log_path);
        let env: Vec<(&str, &std::ffi::OsStr)> =
            env.iter().chain(&opts.env).map(|(k, v)| (*k, v.as_os_str())).collect();
        let plan = vfork::Plan::new(&shell_argv()?, &env, &["TMOUT"], [fifo, ready_w, log], steps)
            .map_err(|e| mncli::io_error("prepare the shell", &e))?;
        // SAFETY: mnnode is single-threaded while it starts shells.
        let pid = unsafe { vfork::spawn(&plan) }.map_err(|e| match last_line(dir) {
            Some(why) => anyhow!("{why}"),
            None => anyhow!("start bash: {}", mncli::os_error(&e)),
        })?;
        starting.child = Some(pid);
        let start =
            procfs::stat(pid).map(|s| s.start).ok_or_else(|| anyhow!("the shell vanished at once"))?;
        // The record is written once, when the node is complete; should
        // mnnode die before that, clean finds the shell by its environment.
        (starting.node.pid, starting.node.start) = (pid, start);
        nix::fcntl::fcntl(&ready_r, nix::fcntl::FcntlArg::F_SETFL(OFlag::O_NONBLOCK))
            .map_err(|e| anyhow!("fcntl: {}", e.desc()))?;
        starting.ready = Some(ready_r);
        starting.since = Instant::now();
        Ok(())
    })();
    made.with_context(|| name.to_string())
}

/// The last non-empty line of a node's log, trimmed.
pub(crate) fn last_line(dir: &NodeDir) -> Option<String> {
    let log = dir.open(LOG, OFlag::O_RDONLY, Mode::empty()).ok()?;
    let mut text = String::new();
    std::io::Read::read_to_string(&mut File::from(log), &mut text).ok()?;
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
        if let Some(Ok(log)) = s.dir.as_ref().map(|d| d.open(LOG, OFlag::O_WRONLY, Mode::empty())) {
            let _ = nix::unistd::ftruncate(&log, 0);
        }
        return Ok(true);
    }
    // mnexec or bash said why it could not start, in the log.
    let why = s.dir.as_ref().and_then(last_line).unwrap_or_else(|| "the shell exited at once".into());
    bail!("{}: {why}", s.node.name)
}

/// The node's record, and its `ip netns` entry: the node is complete.
fn register(lab: &Lab, s: &Starting) -> Result<()> {
    let dir = s.dir.as_ref().ok_or_else(|| anyhow!("{}: the node directory is closed", s.node.name))?;
    dir.write_record(&s.node)?;
    if s.node.root {
        return Ok(());
    }
    // The namespace the shell is in now, and the one configured.
    let name = &s.node.name;
    let ns = File::open(s.node.netns_path()).map_err(|_| anyhow!("{name}: the shell vanished"))?;
    let inode = ns.metadata().map_err(|e| mncli::io_error(s.node.netns_path(), &e))?.ino();
    if Some(inode) != s.node.netns {
        bail!("{name}: the shell left its namespace");
    }
    netns::bind(&lab.netns_entry(name), ns.as_fd()).with_context(|| name.to_string())
}

/// Undoes every node of this call.
fn rollback(lab: &Lab, rt: &tokio::runtime::Runtime, nodes: &mut [Starting]) {
    let made: Vec<Node> = nodes.iter().filter(|s| s.node.pid > 0).map(|s| s.node.clone()).collect();
    let _ = reap::end_processes(&made);
    // A root switch's bridge outlives its shell.
    let roots: Vec<&str> = nodes.iter().filter(|s| s.node.root).map(|s| s.node.name.as_str()).collect();
    if !roots.is_empty() {
        rt.block_on(async {
            reap::delete_root_links(lab, &roots).await;
            reap::delete_untagged_root_bridges(lab, &roots).await;
        });
    }
    for s in nodes.iter_mut() {
        if let Some(pid) = s.child.take() {
            // SAFETY: killing and reaping the child this call started.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, std::ptr::null_mut(), 0);
            }
        }
        if !s.node.root && s.node.netns.is_some() {
            let _ = netns::remove(&lab.netns_entry(&s.node.name), s.node.netns);
        }
        if let Some(group) = &s.node.cgroup {
            let _ = cgroup::remove(group);
        }
        let _ = lab.remove_node_dir(&s.node.name);
    }
}
