//! `mnlink add`: a veth pair, both ends tagged, in their nodes' namespaces.
//!
//! A veth end is tagged (its alias, see mnnode::tag) so that `list`, `del`
//! and `mnnode clean` can find it. The kernel ignores IFLA_IFALIAS in the
//! RTM_NEWLINK that creates a link (for the link and for its veth peer:
//! checked on 6.18), so the tag cannot be set in the creating request.
//! Instead an end bound for the root namespace (a `--root` node's) is born
//! in a private staging namespace that only this process holds, is tagged
//! there, and is moved home already tagged: if mnlink dies at any point,
//! the staging namespace dies with it and takes the untagged pair along.
//! An end in a node's own namespace needs no staging: that namespace, and
//! every link in it, goes when the node goes.
use super::Links;
use crate::endpoint::Endpoint;
use crate::shaping::Shaping;
use anyhow::{Result, anyhow, bail};
use mnnode::netlink::{self, Conn};
use mnnode::tag::Tag;
use nix::errno::Errno;
use nix::sched::{CloneFlags, setns, unshare};
use rtnetlink::packet_route::link::{InfoData, InfoKind, InfoVeth, LinkAttribute, LinkInfo, LinkMessage};
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

/// Ports a Linux bridge can hold (BR_MAX_PORTS less port 0, which is
/// reserved); the next one fails with EXFULL.
const BRIDGE_PORTS: usize = 1023;

/// The private namespace where ends bound for the root namespace are born
/// and tagged; it lives only as long as this process.
pub(super) struct Staging {
    ns: OwnedFd,
    /// Our own (root) namespace, where staged ends go once tagged.
    home: OwnedFd,
    conn: Conn,
}

impl Links {
    /// The staging namespace, made on first need.
    fn staging(&mut self) -> Result<&Staging> {
        if self.staging.is_none() {
            self.staging = Some(make_staging()?);
        }
        self.staging.as_ref().ok_or_else(|| anyhow!("no staging namespace"))
    }

    /// Makes a veth pair: both ends tagged, in their nodes' namespaces
    /// (switch ends in their bridges), shaped, and only then up. All or
    /// nothing: on failure the pair is deleted again.
    pub async fn add(
        &mut self,
        a: &Endpoint,
        b: &Endpoint,
        shaping: &Shaping,
        mtu: Option<u32>,
    ) -> Result<()> {
        if a == b {
            bail!("both ends are {a}");
        }
        self.check_netem(shaping)?;
        let kind_a = self.place(&a.node).await?.node.kind;
        let kind_b = self.place(&b.node).await?.node.kind;
        // The end created first can join its bridge in the same request.
        let (first, second) = if kind_b.has_bridge() && !kind_a.has_bridge() { (b, a) } else { (a, b) };
        let ends = [first, second];
        let root = [self.place(&first.node).await?.node.root, self.place(&second.node).await?.node.root];
        if root == [true, true] && first.ifname == second.ifname {
            bail!("{first} and {second} would both be {} in the root namespace", first.ifname);
        }
        let bridges = [self.bridge(&first.node).await?, self.bridge(&second.node).await?];
        let lab = self.lab_key();
        let tags = [0, 1].map(|i| {
            let (me, peer) = (ends[i], ends[1 - i]);
            Tag {
                node: me.node.clone(),
                peer_node: peer.node.clone(),
                peer_if: peer.ifname.clone(),
                lab: lab.clone(),
            }
            .format()
        });

        // Where each end is born: its node's namespace, or staging.
        let mut born: Vec<OwnedFd> = Vec::new();
        for end in ends {
            let fd = match self.netns(&end.node).await? {
                Some(ns) => ns,
                None => self.staging()?.ns.try_clone().map_err(|e| crate::io("staging namespace", &e))?,
            };
            born.push(fd);
        }
        let mut peer = LinkMessage::default();
        peer.attributes.push(LinkAttribute::IfName(second.ifname.clone()));
        peer.attributes.push(LinkAttribute::NetNsFd(born[1].as_raw_fd()));
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(first.ifname.clone()));
        msg.attributes.push(LinkAttribute::NetNsFd(born[0].as_raw_fd()));
        if let Some(mtu) = mtu {
            msg.attributes.push(LinkAttribute::Mtu(mtu));
            peer.attributes.push(LinkAttribute::Mtu(mtu));
        }
        if let (Some(index), false) = (bridges[0], root[0]) {
            msg.attributes.push(LinkAttribute::Controller(index));
        }
        msg.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::Veth),
            LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer))),
        ]));
        let handle = self.place(&first.node).await?.conn.handle.clone();
        let created = handle.link().add(msg).execute().await;
        drop(born);
        if let Err(err) = created {
            if netlink::errno(&err) == Some(Errno::EXFULL) {
                return Err(bridge_full(&first.node));
            }
            return Err(self.add_error(first, second, &err).await);
        }

        let mut moved = [false; 2];
        let mut result = self.configure(ends, root, bridges, &tags, shaping, &mut moved).await;
        // Ends on OVS switches become ports of their bridges, last.
        let mut ports = Vec::new();
        for end in ends {
            if self.place(&end.node).await?.node.kind.is_ovs() {
                ports.push(end.clone());
            }
        }
        if result.is_ok() && !ports.is_empty() {
            result = self.checksums_for_ovs(ends, &ports).await;
            if result.is_ok() {
                if let Some(pending) = self.ports.as_mut() {
                    // A batch adds its ports in one transaction (see flush_ports).
                    pending.push(Pending { line: 0, ports, first: first.clone() });
                    return Ok(());
                }
                result = super::ovs::add_ports(&self.lab, &ports);
                if result.is_err() {
                    super::ovs::del_ports(&self.lab, &ports);
                }
            }
        }
        if let Err(err) = result {
            // Delete the pair through an end surely ours: one still in
            // staging, else the first end where it now lives.
            let staged = (0..2).find(|&i| root[i] && !moved[i]);
            let (handle, name) = match (staged, &self.staging) {
                (Some(i), Some(staging)) => (staging.conn.handle.clone(), ends[i].ifname.clone()),
                _ => (self.place(&first.node).await?.conn.handle.clone(), first.ifname.clone()),
            };
            let _ = netlink::del_by_name(&handle, &name).await;
            return Err(err);
        }
        Ok(())
    }

    /// Everything after the pair exists: tags, the move home of staged
    /// ends, bridge ports, shaping, and last, both ends up.
    async fn configure(
        &mut self,
        ends: [&Endpoint; 2],
        root: [bool; 2],
        bridges: [Option<u32>; 2],
        tags: &[String; 2],
        shaping: &Shaping,
        moved: &mut [bool; 2],
    ) -> Result<()> {
        let (first, second) = (ends[0], ends[1]);
        let failed = |e: rtnetlink::Error| anyhow!("set up {first} {second}: {}", netlink::describe(&e));
        // The handle that reaches each end where it was born.
        let mut born = Vec::new();
        for i in 0..2 {
            born.push(match (root[i], &self.staging) {
                (true, Some(staging)) => staging.conn.handle.clone(),
                _ => self.place(&ends[i].node).await?.conn.handle.clone(),
            });
        }
        // Tags first: before an end leaves staging, before it is up. The
        // second end joins its bridge here unless it has to move first.
        let tag_request = |i: usize| {
            let mut set = rtnetlink::LinkUnspec::new_with_name(&ends[i].ifname).alias(tags[i].clone());
            if let (1, Some(index), false) = (i, bridges[1], root[1]) {
                set = set.controller(index);
            }
            born[i].link().set(set.build()).execute()
        };
        let (r0, r1) = futures::future::join(tag_request(0), tag_request(1)).await;
        for r in [r0, r1] {
            r.map_err(|e| match netlink::errno(&e) {
                Some(Errno::EXFULL) => bridge_full(&second.node),
                _ => failed(e),
            })?;
        }
        // Staged ends go home, tagged, and there join their bridge.
        for i in (0..2).filter(|&i| root[i]) {
            let home = self.staging()?.home.as_raw_fd();
            let set = rtnetlink::LinkUnspec::new_with_name(&ends[i].ifname).setns_by_fd(home).build();
            born[i].link().set(set).execute().await.map_err(|e| match netlink::errno(&e) {
                Some(Errno::EEXIST) => anyhow!("{} already exists in node {}", ends[i].ifname, ends[i].node),
                _ => failed(e),
            })?;
            moved[i] = true;
            if let Some(index) = bridges[i] {
                let handle = self.place(&ends[i].node).await?.conn.handle.clone();
                let set = rtnetlink::LinkUnspec::new_with_name(&ends[i].ifname).controller(index).build();
                handle.link().set(set).execute().await.map_err(|e| match netlink::errno(&e) {
                    Some(Errno::EXFULL) => bridge_full(&ends[i].node),
                    _ => failed(e),
                })?;
            }
        }
        if !shaping.is_empty() {
            self.shape(first, shaping).await?;
            self.shape(second, shaping).await?;
        }
        let mut up = Vec::new();
        for end in ends {
            up.push(self.place(&end.node).await?.conn.handle.clone());
        }
        let up_request = |i: usize| {
            up[i].link().set(rtnetlink::LinkUnspec::new_with_name(&ends[i].ifname).up().build()).execute()
        };
        let (r0, r1) = futures::future::join(up_request(0), up_request(1)).await;
        r0.and(r1).map_err(failed)
    }

    /// The end facing an OVS switch on the userspace datapath computes its
    /// own checksums (see ovs::tx_checksum_off).
    async fn checksums_for_ovs(&mut self, ends: [&Endpoint; 2], ports: &[Endpoint]) -> Result<()> {
        for i in 0..2 {
            let (me, peer) = (ends[i], ends[1 - i]);
            if ports.contains(me) || !ports.contains(peer) || !super::ovs::userspace(&self.lab, &peer.node) {
                continue;
            }
            match self.netns(&me.node).await? {
                Some(ns) => netlink::in_netns(ns.as_fd(), || super::ovs::tx_checksum_off(&me.ifname))??,
                None => super::ovs::tx_checksum_off(&me.ifname)?,
            }
        }
        Ok(())
    }

    /// Makes the OVS ports of the batch lines done since the last flush,
    /// in one ovsdb transaction: one per link costs an ovs-vsctl run that
    /// reads the whole database, so a batch of N links took O(N²) (40 s
    /// of tree,3,10's 41 s). Should the transaction fail, the lines are
    /// tried one by one, so that the first failing line is the one named,
    /// the lines before it stay done and it and the lines after it are
    /// undone: a batch still stops at its first failing line.
    pub async fn flush_ports(&mut self) -> Result<(), (usize, Option<usize>, anyhow::Error)> {
        let Some(pending) = self.ports.as_mut().map(std::mem::take) else { return Ok(()) };
        if pending.is_empty() {
            return Ok(());
        }
        let all: Vec<Endpoint> = pending.iter().flat_map(|p| p.ports.iter().cloned()).collect();
        if super::ovs::add_ports(&self.lab, &all).is_ok() {
            return Ok(());
        }
        let failed = pending
            .iter()
            .enumerate()
            .find_map(|(i, p)| super::ovs::add_ports(&self.lab, &p.ports).err().map(|e| (i, e)));
        let Some((i, err)) = failed else { return Ok(()) };
        super::ovs::del_ports(&self.lab, &pending[i].ports);
        for p in &pending[i..] {
            if let Ok(place) = self.place(&p.first.node).await {
                let handle = place.conn.handle.clone();
                let _ = netlink::del_by_name(&handle, &p.first.ifname).await;
            }
        }
        let before = i.checked_sub(1).map(|b| pending[b].line);
        Err((pending[i].line, before, err))
    }

    /// How many OVS ports wait for [`Links::flush_ports`].
    pub fn pending_ports(&self) -> usize {
        self.ports.iter().flatten().map(|p| p.ports.len()).sum()
    }

    /// Names the batch line whose links wait for their ports.
    pub fn ports_of_line(&mut self, line: usize) {
        for p in self.ports.iter_mut().flatten().filter(|p| p.line == 0) {
            p.line = line;
        }
    }

    /// Says which end's name is taken, or what else went wrong.
    async fn add_error(
        &mut self,
        first: &Endpoint,
        second: &Endpoint,
        err: &rtnetlink::Error,
    ) -> anyhow::Error {
        if netlink::errno(err) == Some(Errno::EEXIST) {
            for end in [first, second] {
                if let Ok(place) = self.place(&end.node).await {
                    if let Ok(Some(_)) = netlink::link_by_name(&place.conn.handle, &end.ifname).await {
                        return anyhow!("{} already exists in node {}", end.ifname, end.node);
                    }
                }
            }
        }
        anyhow!("add {first} {second}: {}", netlink::describe(err))
    }
}

/// A batch line's link whose ends on OVS switches are not ports yet.
pub(super) struct Pending {
    /// The batch line (0 until the batch names it).
    line: usize,
    ports: Vec<Endpoint>,
    /// The end made first, through which the pair is deleted if undone.
    first: Endpoint,
}

/// A private network namespace held only by this process (and the thread
/// back in ours).
fn make_staging() -> Result<Staging> {
    let open = |what| -> Result<OwnedFd> {
        File::open("/proc/thread-self/ns/net").map(OwnedFd::from).map_err(|e| crate::io(what, &e))
    };
    let home = open("open our network namespace")?;
    unshare(CloneFlags::CLONE_NEWNET).map_err(|e| anyhow!("make a staging namespace: {}", e.desc()))?;
    let made = open("open the staging namespace").and_then(|ns| Ok((ns, netlink::connect_here()?)));
    if let Err(e) = setns(home.as_fd(), CloneFlags::CLONE_NEWNET) {
        // Carrying on in the wrong namespace would act on the wrong links.
        mncli::report("mnlink", &anyhow!("cannot return to our own network namespace: {}", e.desc()));
        std::process::exit(1);
    }
    let (ns, conn) = made.map_err(|e| anyhow!("staging namespace: {}", crate::plain(&e)))?;
    Ok(Staging { ns, home, conn })
}

/// EXFULL from a bridge: no port number is left.
fn bridge_full(switch: &str) -> anyhow::Error {
    anyhow!("{switch} has {BRIDGE_PORTS} ports, the Linux bridge limit")
}
