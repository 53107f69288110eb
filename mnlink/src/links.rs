//! What mnlink does to the kernel, over one netlink socket per namespace.
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
use crate::endpoint::Endpoint;
use crate::shaping::{self, Shaping};
use anyhow::{Context, Result, anyhow, bail};
use mnnode::netlink::{self, Conn};
use mnnode::tag::Tag;
use mnnode::{Lab, Node};
use nix::errno::Errno;
use nix::sched::{CloneFlags, setns, unshare};
use rtnetlink::packet_route::address::{AddressAttribute, AddressFlags};
use rtnetlink::packet_route::link::{InfoData, InfoKind, InfoVeth, LinkAttribute, LinkInfo, LinkMessage};
use std::collections::HashMap;
use std::fs::File;
use std::net::IpAddr;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

/// Ports a Linux bridge can hold (BR_MAX_PORTS less port 0, which is
/// reserved); the next one fails with EXFULL.
const BRIDGE_PORTS: usize = 1023;

/// A node as mnlink needs it: its record and a netlink socket inside its
/// namespace. The namespace itself is opened only when a request or tc
/// needs it, so that a node costs one descriptor.
struct Place {
    node: Node,
    conn: Conn,
    bridge: Option<u32>,
}

/// The private namespace where ends bound for the root namespace are born
/// and tagged; it lives only as long as this process.
struct Staging {
    ns: OwnedFd,
    /// Our own (root) namespace, where staged ends go once tagged.
    home: OwnedFd,
    conn: Conn,
}

pub struct Links {
    lab: Lab,
    places: HashMap<String, Place>,
    /// How many places to keep connected: a batch over more nodes than
    /// this reconnects rather than running out of descriptors.
    max_places: usize,
    staging: Option<Staging>,
    netem: Option<bool>,
}

impl Links {
    pub fn new(lab: Lab) -> Links {
        let limit = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
            .map_or(1024, |(soft, _)| soft);
        // Half the limit, less what the rest of mnlink and tc need.
        let max_places = (limit.saturating_sub(64) / 2).clamp(1, 1 << 20) as usize;
        Links { lab, places: HashMap::new(), max_places, staging: None, netem: None }
    }

    pub fn lab(&self) -> &Lab {
        &self.lab
    }

    /// What tags name this lab by: its id, unique per lab directory.
    fn lab_key(&self) -> String {
        self.lab.id.clone()
    }

    /// The node's place, connected on first use.
    async fn place(&mut self, name: &str) -> Result<&mut Place> {
        if !self.places.contains_key(name) {
            if self.places.len() >= self.max_places {
                self.forget_places().await;
            }
            let node = self.lab.usable_node(name)?;
            let conn = if node.root {
                netlink::connect_here().map_err(|e| anyhow!("node {name}: {}", crate::plain(&e)))?
            } else {
                let ns = open_netns(&node)?;
                netlink::connect_in(ns.as_fd()).map_err(|e| anyhow!("node {name}: {}", crate::plain(&e)))?
            };
            self.places.insert(name.to_string(), Place { node, conn, bridge: None });
        }
        self.places.get_mut(name).ok_or_else(|| anyhow!("node {name} vanished"))
    }

    /// Closes every node's socket. A socket closes when its connection
    /// task sees its last handle gone: let those tasks run.
    async fn forget_places(&mut self) {
        self.places.clear();
        for _ in 0..4 {
            tokio::task::yield_now().await;
        }
    }

    /// Closes one node's socket (`list` visits each node once).
    pub async fn forget(&mut self, name: &str) {
        if self.places.remove(name).is_some() {
            tokio::task::yield_now().await;
        }
    }

    /// The node's network namespace, opened for one request or one tc run;
    /// `None` for a `--root` node, whose namespace is ours.
    async fn netns(&mut self, name: &str) -> Result<Option<OwnedFd>> {
        let node = &self.place(name).await?.node;
        if node.root { Ok(None) } else { open_netns(node).map(Some) }
    }

    /// The ifindex of a switch's bridge, looked up once.
    async fn bridge(&mut self, name: &str) -> Result<Option<u32>> {
        let place = self.place(name).await?;
        let Some(bridge) = place.node.bridge().map(str::to_string) else { return Ok(None) };
        if place.bridge.is_none() {
            let link = netlink::link_by_name(&place.conn.handle, &bridge)
                .await
                .map_err(|e| anyhow!("{name}: find bridge {bridge}: {}", netlink::describe(&e)))?
                .ok_or_else(|| anyhow!("{name}: the switch has no bridge {bridge}"))?;
            place.bridge = Some(link.header.index);
        }
        Ok(place.bridge)
    }

    fn check_netem(&mut self, shaping: &Shaping) -> Result<()> {
        let Some(option) = shaping.netem_option() else { return Ok(()) };
        let present = match self.netem {
            Some(known) => known,
            None => *self.netem.insert(shaping::kernel_has_netem()?),
        };
        if !present {
            bail!("{option} needs the netem qdisc, which this kernel lacks (sch_netem)");
        }
        Ok(())
    }

    /// The link an endpoint names; an error when there is none. In the root
    /// namespace (a `--root` node) only links that mnlink made for that node
    /// count: the host's own interfaces are not the node's to change.
    async fn link(&mut self, end: &Endpoint) -> Result<LinkMessage> {
        let lab = self.lab_key();
        let place = self.place(&end.node).await?;
        let link = netlink::link_by_name(&place.conn.handle, &end.ifname)
            .await
            .map_err(|e| anyhow!("{end}: {}", netlink::describe(&e)))?
            .ok_or_else(|| anyhow!("no interface {} in node {}", end.ifname, end.node))?;
        let tagged =
            netlink::link_alias(&link).and_then(Tag::parse).is_some_and(|t| t.is_of(&lab, &end.node));
        if place.node.root && !tagged {
            bail!(
                "{} is not a link of node {} (a --root node may change only its own links)",
                end.ifname,
                end.node
            );
        }
        Ok(link)
    }

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
        let result = self.configure(ends, root, bridges, &tags, shaping, &mut moved).await;
        if let Err(err) = result {
            // Delete the pair through an end surely ours: one still in
            // staging, else the first end where it now lives.
            let staged = (0..2).find(|&i| root[i] && !moved[i]);
            let (handle, name) = match (staged, &self.staging) {
                (Some(i), Some(staging)) => (staging.conn.handle.clone(), ends[i].ifname.clone()),
                _ => (self.place(&first.node).await?.conn.handle.clone(), first.ifname.clone()),
            };
            let del = rtnetlink::LinkUnspec::new_with_name(&name).build();
            let _ = handle.link().del_with_message(del).execute().await;
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

    async fn shape(&mut self, end: &Endpoint, shaping: &Shaping) -> Result<()> {
        let ns = self.netns(&end.node).await?;
        shaping::tc(ns.as_ref().map(|n| n.as_fd()), &shaping.tc_script(&end.ifname))
            .with_context(|| end.to_string())
    }

    pub async fn del(&mut self, end: &Endpoint) -> Result<()> {
        let index = self.link(end).await?.header.index;
        let handle = self.place(&end.node).await?.conn.handle.clone();
        handle.link().del(index).execute().await.map_err(|e| anyhow!("del {end}: {}", netlink::describe(&e)))
    }

    /// Brings both ends of the pair up or down, as Mininet's `link` does.
    pub async fn set_state(&mut self, end: &Endpoint, up: bool) -> Result<()> {
        let link = self.link(end).await?;
        let peer = netlink::link_alias(&link)
            .and_then(Tag::parse)
            .map(|t| Endpoint { node: t.peer_node, ifname: t.peer_if })
            .filter(|p| self.lab.node(&p.node).is_ok_and(|n| n.is_running()));
        let mut ends = vec![(end.clone(), link.header.index)];
        if let Some(peer) = peer {
            let index = self.link(&peer).await?.header.index;
            ends.push((peer, index));
        }
        for (e, index) in ends {
            let handle = self.place(&e.node).await?.conn.handle.clone();
            let msg = rtnetlink::LinkUnspec::new_with_index(index);
            let msg = if up { msg.up() } else { msg.down() };
            handle
                .link()
                .set(msg.build())
                .execute()
                .await
                .map_err(|err| anyhow!("{e}: {}", netlink::describe(&err)))?;
        }
        Ok(())
    }

    /// Replaces one end's shaping: the old qdiscs go first (a qdisc of
    /// another kind cannot replace them in place). On failure the end is
    /// left unshaped, never half-shaped.
    pub async fn set_shaping(&mut self, end: &Endpoint, shaping: &Shaping) -> Result<()> {
        self.check_netem(shaping)?;
        self.link(end).await?;
        let ns = self.netns(&end.node).await?;
        let ns = ns.as_ref().map(|n| n.as_fd());
        let _ = shaping::tc(ns, &Shaping::default().tc_script(&end.ifname));
        if shaping.is_empty() {
            return Ok(());
        }
        let result = shaping::tc(ns, &shaping.tc_script(&end.ifname)).with_context(|| end.to_string());
        if result.is_err() {
            let _ = shaping::tc(ns, &Shaping::default().tc_script(&end.ifname));
        }
        result
    }

    pub async fn addr(&mut self, end: &Endpoint, cidr: &str) -> Result<()> {
        let (ip, prefix) = parse_cidr(cidr)?;
        let index = self.link(end).await?.header.index;
        let handle = self.place(&end.node).await?.conn.handle.clone();
        let mut req = handle.address().add(index, ip, prefix);
        if ip.is_ipv6() {
            // An emulated network has no duplicates to detect; skipping DAD
            // makes the address usable at once.
            req.message_mut().attributes.push(AddressAttribute::Flags(AddressFlags::Nodad));
        }
        req.execute().await.map_err(|e| match netlink::errno(&e) {
            Some(Errno::EEXIST) => anyhow!("{end} already has {cidr}"),
            _ => anyhow!("addr {end} {cidr}: {}", netlink::describe(&e)),
        })
    }

    pub async fn mac(&mut self, end: &Endpoint, text: &str) -> Result<()> {
        let mac = parse_mac(text)?;
        let index = self.link(end).await?.header.index;
        let handle = self.place(&end.node).await?.conn.handle.clone();
        let msg = rtnetlink::LinkUnspec::new_with_index(index).address(mac.to_vec()).build();
        handle
            .link()
            .set(msg)
            .execute()
            .await
            .map_err(|e| anyhow!("mac {end} {text}: {}", netlink::describe(&e)))
    }

    /// Every tagged veth end in the nodes' namespaces, read from the kernel.
    pub async fn ends(&mut self, nodes: &[String]) -> Result<Vec<End>> {
        let mut ends = Vec::new();
        for name in nodes {
            let lab = self.lab_key();
            let place = self.place(name).await?;
            let links = netlink::links(&place.conn.handle)
                .await
                .map_err(|e| anyhow!("{name}: list links: {}", netlink::describe(&e)))?;
            let mut shaped = false;
            let mut found = Vec::new();
            for link in &links {
                let Some(tag) = netlink::link_alias(link).and_then(Tag::parse) else { continue };
                if !tag.is_of(&lab, name) || netlink::link_kind(link) != Some(&InfoKind::Veth) {
                    continue;
                }
                let qdisc = link.attributes.iter().find_map(|a| match a {
                    LinkAttribute::Qdisc(q) => Some(q.as_str()),
                    _ => None,
                });
                shaped |= qdisc.is_some_and(|q| q != "noqueue");
                found.push(End {
                    end: Endpoint {
                        node: name.clone(),
                        ifname: netlink::link_name(link).unwrap_or_default().to_string(),
                    },
                    peer: Endpoint { node: tag.peer_node, ifname: tag.peer_if },
                    up: netlink::link_is_up(link),
                    mtu: netlink::link_mtu(link),
                    shaping: Shaping::default(),
                });
            }
            if shaped {
                let ns = self.netns(name).await?;
                let mut by_dev =
                    shaping::read_all(ns.as_ref().map(|n| n.as_fd())).with_context(|| name.clone())?;
                for end in &mut found {
                    end.shaping = by_dev.remove(&end.end.ifname).unwrap_or_default();
                }
            }
            ends.extend(found);
            // list visits each node once: one socket at a time is enough.
            self.forget(name).await;
        }
        Ok(ends)
    }
}

/// A node's network namespace, checked to be the one its record names (a
/// pid can be reused).
fn open_netns(node: &Node) -> Result<OwnedFd> {
    let path = node.netns_path();
    let not_running = || anyhow!("node {} is not running", node.name);
    let ns: OwnedFd = match File::open(&path) {
        Ok(file) => file.into(),
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ESRCH)) => return Err(not_running()),
        Err(e) => bail!("node {}: open its namespace: {}", node.name, mncli::os_error(&e)),
    };
    match (node.netns, nix::sys::stat::fstat(ns.as_fd())) {
        (Some(inode), Ok(st)) if st.st_ino != inode => Err(not_running()),
        _ => Ok(ns),
    }
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

/// One end of a link, as the kernel has it.
#[derive(Debug, Clone)]
pub struct End {
    pub end: Endpoint,
    pub peer: Endpoint,
    pub up: bool,
    pub mtu: Option<u32>,
    pub shaping: Shaping,
}

fn parse_mac(text: &str) -> Result<[u8; 6]> {
    let bad = || anyhow!("{text:?}: not a MAC address (such as 00:00:00:00:00:01)");
    let parts: Vec<u8> = text
        .split(':')
        .map(|p| u8::from_str_radix(p, 16).ok().filter(|_| p.len() == 2))
        .collect::<Option<_>>()
        .ok_or_else(bad)?;
    let mac: [u8; 6] = parts.try_into().map_err(|_| bad())?;
    if mac[0] & 1 == 1 {
        bail!("{text}: a multicast address cannot name an interface");
    }
    Ok(mac)
}

fn parse_cidr(text: &str) -> Result<(IpAddr, u8)> {
    let bad = || anyhow!("{text:?}: not an address with a prefix length (such as 10.0.0.1/8 or fd00::1/64)");
    let (ip, prefix) = match text.split_once('/') {
        Some((ip, prefix)) => (ip, Some(prefix)),
        None => (text, None),
    };
    let ip: IpAddr = ip.parse().map_err(|_| bad())?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        None => max,
        Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(bad)?,
    };
    Ok((ip, prefix))
}

#[cfg(test)]
mod tests {
    use super::{parse_cidr, parse_mac};

    #[test]
    fn macs() {
        assert_eq!(parse_mac("00:00:00:00:00:0a").unwrap(), [0, 0, 0, 0, 0, 10]);
        for bad in ["00:00:00:00:00", "01:00:00:00:00:00", "0:0:0:0:0:1", "zz:00:00:00:00:00", ""] {
            assert!(parse_mac(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cidrs() {
        assert_eq!(parse_cidr("10.0.0.1/8").unwrap().1, 8);
        assert_eq!(parse_cidr("10.0.0.1").unwrap().1, 32);
        assert_eq!(parse_cidr("fd00::1/64").unwrap().1, 64);
        for bad in ["10.0.0.300/8", "10.0.0.1/33", "fd00::1/129", "x/8", "10.0.0.1/", "10.0.0.1/-1", ""] {
            assert!(parse_cidr(bad).is_err(), "{bad}");
        }
    }
}
