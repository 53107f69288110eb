//! Ending nodes: every process of a node, its links' far ends, its files.
//!
//! A namespaced node owns every process in its network namespace, daemons
//! that called setsid and visitors that joined with `mnexec -a` included.
//! A `--root` node owns its shell and the shell's descendants.
use crate::lab::Lab;
use crate::netlink;
use crate::node::Node;
use crate::tag::Tag;
use crate::{cgroup, procfs};
use anyhow::{Result, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;
use std::time::{Duration, Instant};

/// How long the processes left may go without getting fewer before we
/// give up on them: a fork bomb, or processes the kernel cannot end (stuck
/// in an uninterruptible sleep). Thousands of shells dying at once on a
/// busy machine keep getting fewer, however slowly: that is progress.
const STALL: Duration = Duration::from_secs(10);
/// The bound on the whole, progress or not.
const KILL_LIMIT: Duration = Duration::from_secs(120);

/// Sends SIGKILL to every process of these nodes until none is left; an
/// error says which nodes still have processes (see [`end_all`]).
pub fn end_processes(nodes: &[Node]) -> Result<()> {
    let left = end_all(nodes);
    if left.is_empty() {
        return Ok(());
    }
    bail!("{}", describe_left(&left))
}

/// The processes of one node that outlived [`end_all`].
pub struct Left {
    pub node: String,
    pub pids: Vec<i32>,
}

/// Sends SIGKILL to every process of these nodes until none is left, or
/// until they stop getting fewer for [`STALL`] (at most [`KILL_LIMIT`] in
/// all). Returns the nodes that still have processes, and those.
pub fn end_all(nodes: &[Node]) -> Vec<Left> {
    let me = std::process::id() as i32;
    let own_ns = procfs::ns_inode(me, "net");
    // inode -> (the node, Some(cookie) while it still has to be proved ours).
    let mut namespaces: HashMap<u64, (usize, Option<u64>)> = HashMap::new();
    let mut roots: Vec<(i32, usize)> = Vec::new();
    for (i, node) in nodes.iter().enumerate() {
        // A lazy node without a shell is found by its namespace, as a
        // dead node's (there may be visitors from `ip netns exec`).
        let alive = node.shell_alive();
        // An OVS switch shares the lab's OVS namespace: its processes are
        // its shell's, as a --root node's (the namespace's go with OVS).
        if node.root || node.kind.is_ovs() {
            if alive {
                roots.push((node.pid, i));
            }
        } else if alive {
            if let Some(inode) = procfs::ns_inode(node.pid, "net") {
                namespaces.insert(inode, (i, None));
            }
        } else if let (Some(inode), Some(cookie)) = (node.netns, node.cookie) {
            namespaces.entry(inode).or_insert((i, Some(cookie)));
        }
    }
    if let Some(own) = own_ns {
        namespaces.remove(&own);
    }
    let started = Instant::now();
    let mut fewest = usize::MAX;
    let mut progress = started;
    let mut pause = Duration::from_micros(500);
    loop {
        // A killed shell's pid may be taken by a stranger meanwhile (a new
        // session leader, say, with the same sid): its sessions are no
        // longer ours to follow.
        roots.retain(|&(pid, i)| procfs::stat(pid).is_none_or(|s| s.start == nodes[i].start));
        let victims = find_victims(me, &mut namespaces, &roots);
        if victims.is_empty() {
            return Vec::new();
        }
        if victims.len() < fewest {
            (fewest, progress) = (victims.len(), Instant::now());
        }
        if progress.elapsed() > STALL || started.elapsed() > KILL_LIMIT {
            let mut left: Vec<Left> = Vec::new();
            for (pid, i) in victims {
                match left.iter_mut().find(|l| l.node == nodes[i].name) {
                    Some(l) => l.pids.push(pid),
                    None => left.push(Left { node: nodes[i].name.clone(), pids: vec![pid] }),
                }
            }
            for l in &mut left {
                l.pids.sort_unstable();
            }
            left.sort_by(|a, b| crate::name::natural_cmp(&a.node, &b.node));
            return left;
        }
        for (pid, _) in victims {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

/// What outlived SIGKILL, node by node, in one line.
pub fn describe_left(left: &[Left]) -> String {
    let nodes: Vec<String> = left
        .iter()
        .map(|l| {
            let shown: Vec<String> = l.pids.iter().take(5).map(i32::to_string).collect();
            let more =
                if l.pids.len() > 5 { format!(" and {} more", l.pids.len() - 5) } else { String::new() };
            let word = if l.pids.len() == 1 { "pid" } else { "pids" };
            format!("{} ({word} {}{more})", l.node, shown.join(" "))
        })
        .collect();
    let count: usize = left.iter().map(|l| l.pids.len()).sum();
    format!(
        "{count} processes outlived SIGKILL (still appearing, or stuck in the kernel) in {}: {}",
        if left.len() == 1 { "node" } else { "nodes" },
        nodes.join(", ")
    )
}

/// The processes to kill now, each with the index of its node.
fn find_victims(
    me: i32,
    namespaces: &mut HashMap<u64, (usize, Option<u64>)>,
    roots: &[(i32, usize)],
) -> Vec<(i32, usize)> {
    let pids = procfs::pids();
    let mut victims = Vec::new();
    if !namespaces.is_empty() {
        let mut unproven: HashMap<u64, Vec<i32>> = HashMap::new();
        for &pid in &pids {
            if pid == me {
                continue;
            }
            let Some(inode) = procfs::ns_inode(pid, "net") else { continue };
            match namespaces.get(&inode) {
                Some(&(i, None)) => victims.push((pid, i)),
                Some((_, Some(_))) => unproven.entry(inode).or_default().push(pid),
                None => {}
            }
        }
        // A dead node's namespace is known by inode, and inodes are reused:
        // only its cookie proves that these processes are the node's.
        for (inode, pids) in unproven {
            let Some(&(i, want)) = namespaces.get(&inode) else { continue };
            if want.is_some() && cookie_of(pids[0]) == want {
                namespaces.insert(inode, (i, None));
                victims.extend(pids.into_iter().map(|p| (p, i)));
            } else {
                namespaces.remove(&inode);
            }
        }
    }
    if !roots.is_empty() {
        // A --root node's processes: its shell's descendants, and its
        // session's (a double-forked daemon is no one's child but keeps
        // the session); a daemon that called setsid escapes both.
        let tree = procfs::Tree::snapshot();
        for &(root, i) in roots {
            victims.extend(tree.sessions(&[root]).into_iter().filter(|&p| p != me).map(|p| (p, i)));
        }
    }
    victims
}

fn cookie_of(pid: i32) -> Option<u64> {
    let ns = File::open(format!("/proc/{pid}/ns/net")).ok()?;
    netlink::cookie_of(ns.as_fd())
}

/// Shells of node directories that have no record (mnnode died between
/// starting them and registering them): found by the FIFO path in their
/// environment, in one pass over /proc, and ended with everything in their
/// namespaces.
///
/// Returns the network namespace inode of each node found, by name.
pub fn end_unregistered(lab: &Lab, names: &[String]) -> HashMap<String, u64> {
    let mut found = HashMap::new();
    if names.is_empty() {
        return found;
    }
    let wanted: HashMap<Vec<u8>, &String> = names
        .iter()
        .map(|name| {
            let var = format!("__MN_FIFO={}", lab.dir.join(name).join(crate::lab::FIFO).display());
            (var.into_bytes(), name)
        })
        .collect();
    let me = std::process::id() as i32;
    let me_uid = nix::unistd::geteuid().as_raw();
    let own = procfs::ns_inode(me, "net");
    let mut nodes = Vec::new();
    for pid in procfs::pids().into_iter().filter(|&pid| pid != me) {
        let Ok(env) = std::fs::read(format!("/proc/{pid}/environ")) else { continue };
        let Some(name) = env.split(|&b| b == 0).find_map(|var| wanted.get(var)) else { continue };
        let (Some(stat), Some(netns)) = (procfs::stat(pid), procfs::ns_inode(pid, "net")) else { continue };
        // A node shell leads its own session and runs as us: anything else
        // that merely carries the variable (a program started from a node,
        // another user's) is not a shell of ours.
        let ours = std::fs::metadata(format!("/proc/{pid}")).is_ok_and(|m| m.uid() == me_uid);
        if stat.sid != pid || !ours {
            continue;
        }
        let root = Some(netns) == own;
        if !root {
            found.insert(name.to_string(), netns);
        }
        nodes.push(Node {
            name: name.to_string(),
            kind: crate::Kind::Host,
            root,
            pid,
            start: stat.start,
            netns: None,
            cookie: None,
            cpu: None,
            cgroup: None,
            protocol: 0,
            pin: None,
        });
    }
    let _ = end_processes(&nodes);
    found
}

/// Ends nodes and removes every trace of them: processes, the far ends of
/// their links (waited for, so a name can be reused at once), `ip netns`
/// entries, cgroups and directories. Keeps going after an error and
/// reports them all.
pub fn remove(lab: &Lab, nodes: &[Node], wait_for_peers: bool) -> Result<()> {
    let mut errors = Vec::new();
    let rt = netlink::runtime()?;
    // Links from the root namespace do not die with any namespace: delete
    // them; note where the far ends of the others are.
    let peers = rt.block_on(root_links_and_peers(lab, nodes, wait_for_peers));
    let ovs = crate::ovs::Ovs::of(lab);
    ovs.remove_switches(lab, &nodes.iter().filter(|n| n.kind.is_ovs()).collect::<Vec<_>>());
    let left = end_all(nodes);
    let nodes: Vec<Node> = if left.is_empty() {
        nodes.to_vec()
    } else {
        // Keep the records of the nodes that still have processes: without
        // them nothing could find those processes again. The rest go.
        let names: Vec<&str> = left.iter().map(|l| l.node.as_str()).collect();
        errors.push(format!("{}; kept {} for another try", describe_left(&left), names.join(" ")));
        nodes.iter().filter(|n| !names.contains(&n.name.as_str())).cloned().collect()
    };
    let nodes = &nodes[..];
    // The entries hold the namespaces: they go first, for the kernel to
    // tear the namespaces and their links down.
    let entries: Vec<_> =
        nodes.iter().filter(|n| !n.root).map(|n| (lab.netns_entry(&n.name), n.netns)).collect();
    errors.extend(
        crate::netns::remove_all(&entries).into_iter().filter_map(Result::err).map(|e| e.to_string()),
    );
    // The last OVS switch takes the lab's OVS along, and the far ends of
    // its links in the OVS namespace with it.
    if nodes.iter().any(|n| n.kind.is_ovs()) {
        let going: Vec<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
        if let Err(e) = ovs.stop_if_unused(lab, &going) {
            errors.push(e.to_string());
        }
    }
    if wait_for_peers {
        rt.block_on(wait_gone(lab, &peers));
    }
    for node in nodes {
        // Only a group mnnode names (mn-...) under a cgroup root.
        if let Some(group) = node.cgroup.as_ref().filter(|g| cgroup::is_ours(g)) {
            if let Err(e) = cgroup::remove(group) {
                errors.push(e.to_string());
            }
        }
        if let Err(e) = lab.remove_node_dir(&node.name) {
            errors.push(e.to_string());
        }
    }
    if !errors.is_empty() {
        bail!("{}", errors.join("; "));
    }
    Ok(())
}

/// Deletes what `--root` nodes made in the root namespace (their link ends
/// and a switch's bridge, all tagged); returns, when asked, the far ends
/// (node, interface) of the namespaced nodes' links.
async fn root_links_and_peers(lab: &Lab, nodes: &[Node], want_peers: bool) -> Vec<(String, String)> {
    let going: HashSet<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
    let roots: Vec<&str> = nodes.iter().filter(|n| n.root).map(|n| n.name.as_str()).collect();
    delete_root_links(lab, &roots).await;
    let mut peers = Vec::new();
    if !want_peers {
        return peers;
    }
    for node in nodes.iter().filter(|n| !n.root) {
        // A dead node's namespace lives on in its entry until we remove it.
        let conn = if node.shell_alive() {
            netlink::connect_node(node)
        } else {
            match crate::netns::open(&lab.netns_entry(&node.name), node.netns) {
                Some(ns) => netlink::connect_in(ns.as_fd()),
                None => continue,
            }
        };
        let Ok(conn) = conn else { continue };
        for link in netlink::links(&conn.handle).await.unwrap_or_default() {
            if let Some(tag) = netlink::link_alias(&link).and_then(Tag::parse) {
                // The OVS namespace holds every OVS switch's links.
                if tag.node == node.name && !going.contains(tag.peer_node.as_str()) {
                    peers.push((tag.peer_node, tag.peer_if));
                }
            }
        }
    }
    peers
}

/// Deletes the links and bridges these `--root` nodes made in the root
/// namespace, found by their tags.
pub async fn delete_root_links(lab: &Lab, roots: &[&str]) {
    if roots.is_empty() {
        return;
    }
    let Ok(conn) = netlink::connect_here() else { return };
    for link in netlink::links(&conn.handle).await.unwrap_or_default() {
        let tag = netlink::link_alias(&link).and_then(Tag::parse);
        if tag.is_some_and(|t| roots.iter().any(|&n| t.is_of(&lab.id, n))) {
            if let Some(name) = netlink::link_name(&link) {
                let _ = netlink::del_by_name(&conn.handle, name).await;
            }
        }
    }
}

/// Deletes the bridges in the root namespace that `--root` switches of
/// unfinished nodes left untagged (an add killed between creating and
/// tagging): bridges named after one of `names`, without an alias, in
/// this lab's interface group.
pub async fn delete_untagged_root_bridges(lab: &Lab, names: &[&str]) {
    if names.is_empty() {
        return;
    }
    let Ok(conn) = netlink::connect_here() else { return };
    let group = crate::tag::group_of(&lab.id);
    for link in netlink::links(&conn.handle).await.unwrap_or_default() {
        let ours = netlink::link_name(&link).is_some_and(|n| names.contains(&n))
            && netlink::link_alias(&link).is_none_or(str::is_empty)
            && netlink::link_kind(&link) == Some(&rtnetlink::packet_route::link::InfoKind::Bridge)
            && link
                .attributes
                .iter()
                .any(|a| matches!(a, rtnetlink::packet_route::link::LinkAttribute::Group(g) if *g == group));
        if let (true, Some(name)) = (ours, netlink::link_name(&link)) {
            let _ = netlink::del_by_name(&conn.handle, name).await;
        }
    }
}

/// Waits (briefly) until the kernel has removed these interfaces, which it
/// does when their peers' namespaces are torn down.
async fn wait_gone(lab: &Lab, peers: &[(String, String)]) {
    let deadline = Instant::now() + Duration::from_secs(5);
    // One connection per peer node, however many of its links go.
    let mut by_node: HashMap<&str, Vec<&str>> = HashMap::new();
    for (node, ifname) in peers {
        by_node.entry(node).or_default().push(ifname);
    }
    for (node, ifnames) in by_node {
        let Ok(node) = lab.running_node(node) else { continue };
        let Ok(conn) = netlink::connect_node(&node) else { continue };
        for ifname in ifnames {
            while Instant::now() < deadline {
                match netlink::link_by_name(&conn.handle, ifname).await {
                    Ok(Some(_)) => tokio::time::sleep(Duration::from_millis(1)).await,
                    _ => break,
                }
            }
        }
    }
}
