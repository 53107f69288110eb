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
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::MetadataExt;
use std::time::{Duration, Instant};

/// How long processes may keep appearing (a fork bomb) before we give up.
const KILL_DEADLINE: Duration = Duration::from_secs(10);

/// Sends SIGKILL to every process of these nodes until none is left.
pub fn end_processes(nodes: &[Node]) -> Result<()> {
    let me = std::process::id() as i32;
    let own_ns = procfs::ns_inode(me, "net");
    // inode -> Some(cookie) while it still has to be proved ours.
    let mut namespaces: HashMap<u64, Option<u64>> = HashMap::new();
    // A --root shell by pid and start: (pid, start).
    let mut roots: Vec<(i32, u64)> = Vec::new();
    for node in nodes {
        let alive = node.is_running();
        // An OVS switch shares the lab's OVS namespace: its processes are
        // its shell's, as a --root node's (the namespace's go with OVS).
        if node.root || node.kind.is_ovs() {
            if alive {
                roots.push((node.pid, node.start));
            }
        } else if alive {
            if let Some(inode) = procfs::ns_inode(node.pid, "net") {
                namespaces.insert(inode, None);
            }
        } else if let (Some(inode), Some(cookie)) = (node.netns, node.cookie) {
            namespaces.entry(inode).or_insert(Some(cookie));
        }
    }
    if let Some(own) = own_ns {
        namespaces.remove(&own);
    }
    let deadline = Instant::now() + KILL_DEADLINE;
    let mut pause = Duration::from_micros(500);
    loop {
        // A killed shell's pid may be taken by a stranger meanwhile (a new
        // session leader, say, with the same sid): its sessions are no
        // longer ours to follow.
        roots.retain(|&(pid, start)| procfs::stat(pid).is_none_or(|s| s.start == start));
        let pids: Vec<i32> = roots.iter().map(|&(pid, _)| pid).collect();
        let victims = find_victims(me, &mut namespaces, &pids);
        if victims.is_empty() {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("{} processes are still being started in the nodes; gave up killing them", victims.len());
        }
        for pid in victims {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

fn find_victims(me: i32, namespaces: &mut HashMap<u64, Option<u64>>, roots: &[i32]) -> Vec<i32> {
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
                Some(None) => victims.push(pid),
                Some(Some(_)) => unproven.entry(inode).or_default().push(pid),
                None => {}
            }
        }
        // A dead node's namespace is known by inode, and inodes are reused:
        // only its cookie proves that these processes are the node's.
        for (inode, pids) in unproven {
            let want = namespaces.get(&inode).copied().flatten();
            if want.is_some() && cookie_of(pids[0]) == want {
                namespaces.insert(inode, None);
                victims.extend(pids);
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
        victims.extend(tree.sessions(roots).into_iter().filter(|&p| p != me));
    }
    victims
}

fn cookie_of(pid: i32) -> Option<u64> {
    let ns = File::open(format!("/proc/{pid}/ns/net")).ok()?;
    netlink::in_netns(ns.as_fd(), || {
        let socket = std::os::unix::net::UnixDatagram::unbound().ok()?;
        netlink::netns_cookie(socket.as_raw_fd()).ok()
    })
    .ok()
    .flatten()
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
    if let Err(e) = end_processes(nodes) {
        // Keep the records: without them nothing could find those
        // processes again.
        bail!("{e}; the nodes are kept, try again");
    }
    // The entries hold the namespaces: they go first, for the kernel to
    // tear the namespaces and their links down.
    for node in nodes.iter().filter(|n| !n.root) {
        if let Err(e) = crate::netns::remove(&lab.netns_entry(&node.name), node.netns) {
            errors.push(e.to_string());
        }
    }
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
        let conn = if node.is_running() {
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
