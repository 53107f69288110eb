//! Waiting until the kernel has finished tearing a lab down
//! (`mnnode clean --wait`).
//!
//! Killing a node's last process and unmounting its `ip netns` entry only
//! drops the last reference to its network namespace: the kernel's netns
//! workqueue tears it down later (`cleanup_net`), holding the RTNL lock
//! for much of it, and whatever needs that lock next (the next lab's
//! build) waits. Most of that time is one `rcu_barrier()` per Linux bridge
//! (see scripts/bench/TEARDOWN.md).
//!
//! The signal is the namespaces' ids (nsids) in our own namespace: an id
//! refers to a namespace without holding it, and `cleanup_net` removes it
//! at the start of the run that takes the namespace up. So: give every
//! node's namespace an id before the kill; after it, drop a first empty
//! sentinel namespace with an id of its own (it joins whatever is queued);
//! wait until all those ids are gone (every namespace of ours is in a run
//! that has started); then drop a second sentinel. The netns work is one
//! item on an ordered workqueue, so the second sentinel is taken up only
//! by a run after the one in progress: once its id is gone, every run that
//! held a namespace of ours has returned, its final `rcu_barrier()` and
//! frees included.
use crate::lab::Lab;
use crate::netlink;
use crate::node::Node;
use anyhow::{Result, anyhow, bail};
use futures::StreamExt;
use nix::sched::{CloneFlags, setns, unshare};
use rtnetlink::Handle;
use rtnetlink::packet_core::{NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST, NetlinkMessage, NetlinkPayload};
use rtnetlink::packet_route::RouteNetlinkMessage;
use rtnetlink::packet_route::nsid::{NsidAttribute, NsidMessage};
use std::collections::HashSet;
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::time::{Duration, Instant};

/// How long the kernel may take before `--wait` gives up saying so.
const LIMIT: Duration = Duration::from_secs(300);

/// The ids given to the lab's namespaces, to watch them go.
pub struct Marks {
    ids: Vec<i32>,
}

impl Marks {
    /// No namespace: [`wait`] then waits for what the kernel was doing.
    pub fn none() -> Marks {
        Marks { ids: Vec::new() }
    }

    pub fn count(&self) -> usize {
        self.ids.len()
    }
}

/// Gives each namespaced node's namespace an id in ours (one request per
/// node; its namespace is opened for that request only).
pub fn mark(lab: &Lab, nodes: &[Node]) -> Result<Marks> {
    let rt = netlink::runtime()?;
    rt.block_on(async {
        let conn = netlink::connect_here()?;
        let mut handle = conn.handle.clone();
        let mut taken = ids(&mut handle).await?;
        let mut ids = Vec::new();
        for node in nodes.iter().filter(|n| !n.root) {
            let Some(ns) = crate::netns::open(&lab.netns_entry(&node.name), node.netns) else { continue };
            if let Some(id) = give_free_id(&mut handle, ns.as_fd(), &mut taken).await? {
                ids.push(id);
            }
        }
        drop(handle);
        conn.close().await;
        Ok(Marks { ids })
    })
}

/// Waits until the kernel has finished with the marked namespaces and
/// with every namespace it was tearing down before; returns how long that
/// took. An error says how many namespaces are still going after
/// [`LIMIT`].
pub fn wait(marks: &Marks) -> Result<Duration> {
    let started = Instant::now();
    let rt = netlink::runtime()?;
    rt.block_on(async {
        let conn = netlink::connect_here()?;
        let mut handle = conn.handle.clone();
        // The first sentinel is taken up with whatever is queued before
        // it (unmarked namespaces included): its id going means that run
        // has started. Dropped now, it would share the lab's run, whose
        // ids go at its start, not its end.
        let mut ours: HashSet<i32> = marks.ids.iter().copied().collect();
        ours.insert(sentinel(&mut handle).await?);
        let left = wait_gone(&mut handle, &ours, started).await?;
        if left > 0 {
            bail!(
                "the kernel is still tearing down {left} of the lab's namespaces after {} s",
                LIMIT.as_secs()
            );
        }
        let sentinel = sentinel(&mut handle).await?;
        if wait_gone(&mut handle, &HashSet::from([sentinel]), started).await? > 0 {
            bail!("the kernel is still tearing down namespaces after {} s", LIMIT.as_secs());
        }
        drop(handle);
        conn.close().await;
        Ok(started.elapsed())
    })
}

/// Polls until none of `ids` is left, or [`LIMIT`] since `started`;
/// returns how many are left.
async fn wait_gone(handle: &mut Handle, ids: &HashSet<i32>, started: Instant) -> Result<usize> {
    let mut pause = Duration::from_millis(1);
    // A dump in parts while the kernel forgets ids may miss some that are
    // left (each part resumes by position): none left, twice over.
    let mut none_before = false;
    loop {
        let left = ids.intersection(&self::ids(handle).await?).count();
        if (left == 0 && none_before) || started.elapsed() > LIMIT {
            return Ok(left);
        }
        none_before = left == 0;
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(10));
    }
}

/// A new, empty namespace with an id in ours, dropped at once: the kernel
/// takes it up in its next cleanup run. Returns its id.
async fn sentinel(handle: &mut Handle) -> Result<i32> {
    let ns = empty_namespace()?;
    // Any free id, the kernel's choice: a list of ids dumped while the
    // kernel forgets others may miss some that are taken.
    let given = give_id(handle, ns.as_fd(), AUTO).await?;
    drop(ns);
    given.ok_or_else(|| anyhow!("give the sentinel namespace an id: it has none"))
}

/// Gives `ns` the first id not in `taken` (adding it there), or keeps the
/// one it has. An id found taken meanwhile (another process's veth pairs
/// across namespaces take ids all the time: Mininet's do) is skipped and
/// the next tried, a bounded number of times.
async fn give_free_id(
    handle: &mut Handle,
    ns: BorrowedFd<'_>,
    taken: &mut HashSet<i32>,
) -> Result<Option<i32>> {
    let mut next = 0;
    for _ in 0..1024 {
        while taken.contains(&next) {
            next += 1;
        }
        match give_id(handle, ns, next).await? {
            Some(id) => {
                taken.insert(id);
                return Ok(Some(id));
            }
            None => {
                taken.insert(next);
            }
        }
    }
    Ok(None)
}

/// A new network namespace no process is in: only the descriptor holds it.
fn empty_namespace() -> Result<File> {
    let home =
        File::open("/proc/thread-self/ns/net").map_err(|e| mncli::io_error("open our namespace", &e))?;
    unshare(CloneFlags::CLONE_NEWNET).map_err(|e| anyhow!("make a sentinel namespace: {}", e.desc()))?;
    let made = File::open("/proc/thread-self/ns/net")
        .map_err(|e| mncli::io_error("open the sentinel namespace", &e));
    if let Err(e) = setns(home.as_fd(), CloneFlags::CLONE_NEWNET) {
        // Carrying on in the wrong namespace would act on the wrong links.
        mncli::report("mnnode", &anyhow!("cannot return to our own network namespace: {}", e.desc()));
        std::process::exit(1);
    }
    made
}

/// NETNSA_NSID's "any free id".
const AUTO: i32 = -1;

/// Gives the namespace `ns` the id `id` (or [`AUTO`]) in ours; one that
/// has an id already keeps it. Returns its id (`None`: it has none, and
/// `id` was taken by another namespace).
async fn give_id(handle: &mut Handle, ns: BorrowedFd<'_>, id: i32) -> Result<Option<i32>> {
    let mut msg = NsidMessage::default();
    msg.attributes.push(NsidAttribute::Fd(ns.as_raw_fd() as u32));
    msg.attributes.push(NsidAttribute::Id(id));
    let mut req = NetlinkMessage::from(RouteNetlinkMessage::NewNsId(msg));
    req.header.flags = NLM_F_REQUEST | NLM_F_ACK;
    match answer(handle, req).await? {
        Ok(_) if id != AUTO => return Ok(Some(id)),
        Ok(_) => {}
        Err(code) if code == -libc::EEXIST => {}
        Err(code) => bail!("give a namespace an id: {}", nix::errno::Errno::from_raw(-code).desc()),
    }
    let mut msg = NsidMessage::default();
    msg.attributes.push(NsidAttribute::Fd(ns.as_raw_fd() as u32));
    let mut req = NetlinkMessage::from(RouteNetlinkMessage::GetNsId(msg));
    req.header.flags = NLM_F_REQUEST;
    match answer(handle, req).await? {
        Ok(msgs) => Ok(msgs.iter().find_map(id_of).filter(|&id| id >= 0)),
        Err(code) => bail!("read a namespace's id: {}", nix::errno::Errno::from_raw(-code).desc()),
    }
}

/// Every id in our namespace.
async fn ids(handle: &mut Handle) -> Result<HashSet<i32>> {
    let mut req = NetlinkMessage::from(RouteNetlinkMessage::GetNsId(NsidMessage::default()));
    req.header.flags = NLM_F_REQUEST | NLM_F_DUMP;
    match answer(handle, req).await? {
        Ok(msgs) => Ok(msgs.iter().filter_map(id_of).collect()),
        Err(code) => bail!("list namespace ids: {}", nix::errno::Errno::from_raw(-code).desc()),
    }
}

fn id_of(msg: &NsidMessage) -> Option<i32> {
    msg.attributes.iter().find_map(|a| match a {
        NsidAttribute::Id(id) => Some(*id),
        _ => None,
    })
}

/// The kernel's answer: the nsid messages, or the (negative) errno.
async fn answer(
    handle: &mut Handle,
    req: NetlinkMessage<RouteNetlinkMessage>,
) -> Result<std::result::Result<Vec<NsidMessage>, i32>> {
    let mut stream = handle.request(req).map_err(|e| anyhow!("netlink: {e}"))?;
    let mut msgs = Vec::new();
    while let Some(msg) = stream.next().await {
        match msg.payload {
            NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewNsId(m)) => msgs.push(m),
            NetlinkPayload::Error(err) => {
                if let Some(code) = err.code {
                    return Ok(Err(code.get()));
                }
            }
            _ => {}
        }
    }
    Ok(Ok(msgs))
}
