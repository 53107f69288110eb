//! What mnlink does to the kernel, over one netlink socket per namespace.
use crate::endpoint::Endpoint;
use crate::shaping::{self, Shaping};
use anyhow::{Context, Result, anyhow, bail};
use mnnode::netlink::{self, Conn};
use mnnode::tag::Tag;
use mnnode::{Lab, Node};
use nix::errno::Errno;
use rtnetlink::packet_route::address::{AddressAttribute, AddressFlags};
use rtnetlink::packet_route::link::{
    InfoData, InfoKind, InfoVeth, LinkAttribute, LinkFlags, LinkInfo, LinkMessage,
};
use std::collections::HashMap;
use std::fs::File;
use std::net::IpAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

/// A node as mnlink needs it: its record, a handle on its namespace, a
/// netlink socket inside it.
struct Place {
    node: Node,
    ns: File,
    conn: Conn,
    bridge: Option<u32>,
}

impl Place {
    /// The namespace tc must enter; none for a `--root` node, whose
    /// namespace is ours.
    fn tc_ns(&self) -> Option<BorrowedFd<'_>> {
        (!self.node.root).then(|| self.ns.as_fd())
    }
}

pub struct Links {
    lab: Lab,
    places: HashMap<String, Place>,
    netem: Option<bool>,
}

impl Links {
    pub fn new(lab: Lab) -> Links {
        Links { lab, places: HashMap::new(), netem: None }
    }

    pub fn lab(&self) -> &Lab {
        &self.lab
    }

    /// The node's place, connected on first use.
    fn place(&mut self, name: &str) -> Result<&mut Place> {
        if !self.places.contains_key(name) {
            let node = self.lab.usable_node(name)?;
            let path = if node.root { "/proc/thread-self/ns/net".to_string() } else { node.netns_path() };
            let ns = File::open(&path).map_err(|_| anyhow!("node {name} is not running"))?;
            let conn = if node.root { netlink::connect_here()? } else { netlink::connect_in(ns.as_fd())? };
            self.places.insert(name.to_string(), Place { node, ns, conn, bridge: None });
        }
        self.places.get_mut(name).ok_or_else(|| anyhow!("node {name} vanished"))
    }

    /// The ifindex of a switch's bridge, looked up once.
    async fn bridge(&mut self, name: &str) -> Result<Option<u32>> {
        let place = self.place(name)?;
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
        let lab = self.lab.id.clone();
        let place = self.place(&end.node)?;
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
        let kind_a = self.place(&a.node)?.node.kind;
        let kind_b = self.place(&b.node)?.node.kind;
        // The end created first can join its bridge in the same request.
        let (first, second) = if kind_b.has_bridge() && !kind_a.has_bridge() { (b, a) } else { (a, b) };
        let first_bridge = self.bridge(&first.node).await?;
        let second_bridge = self.bridge(&second.node).await?;
        let tag = |me: &Endpoint, peer: &Endpoint| {
            Tag {
                node: me.node.clone(),
                peer_node: peer.node.clone(),
                peer_if: peer.ifname.clone(),
                lab: self.lab.id.clone(),
            }
            .format()
        };
        let (first_tag, second_tag) = (tag(first, second), tag(second, first));

        let mut peer = LinkMessage::default();
        peer.attributes.push(LinkAttribute::IfName(second.ifname.clone()));
        peer.attributes.push(LinkAttribute::NetNsFd(self.place(&second.node)?.ns.as_raw_fd()));
        let mut msg = LinkMessage::default();
        msg.header.flags = LinkFlags::Up;
        msg.header.change_mask = LinkFlags::Up;
        msg.attributes.push(LinkAttribute::IfName(first.ifname.clone()));
        msg.attributes.push(LinkAttribute::NetNsFd(self.place(&first.node)?.ns.as_raw_fd()));
        if let Some(mtu) = mtu {
            msg.attributes.push(LinkAttribute::Mtu(mtu));
            peer.attributes.push(LinkAttribute::Mtu(mtu));
        }
        if let Some(index) = first_bridge {
            msg.attributes.push(LinkAttribute::Controller(index));
        }
        msg.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::Veth),
            LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer))),
        ]));
        let created = self.place(&first.node)?.conn.handle.link().add(msg).execute().await;
        if let Err(err) = created {
            return Err(self.add_error(first, second, &err).await);
        }

        // The peer cannot be brought up in the same request (its other end
        // does not exist yet when the kernel configures it).
        let finish = async {
            let set_first = rtnetlink::LinkUnspec::new_with_name(&first.ifname).alias(first_tag).build();
            let mut set_second = rtnetlink::LinkUnspec::new_with_name(&second.ifname).up().alias(second_tag);
            if let Some(index) = second_bridge {
                set_second = set_second.controller(index);
            }
            let first_handle = self.place(&first.node)?.conn.handle.clone();
            let second_handle = self.place(&second.node)?.conn.handle.clone();
            let (r1, r2) = futures::future::join(
                first_handle.link().set(set_first).execute(),
                second_handle.link().set(set_second.build()).execute(),
            )
            .await;
            r1.and(r2).map_err(|e| anyhow!("set up {first} {second}: {}", netlink::describe(&e)))?;
            if !shaping.is_empty() {
                self.shape(first, shaping)?;
                self.shape(second, shaping)?;
            }
            Ok(())
        };
        if let Err(err) = finish.await {
            // All or nothing: take the half-made pair away again.
            let handle = self.place(&first.node)?.conn.handle.clone();
            let del = rtnetlink::LinkUnspec::new_with_name(&first.ifname).build();
            let _ = handle.link().del_with_message(del).execute().await;
            return Err(err);
        }
        Ok(())
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
                if let Ok(place) = self.place(&end.node) {
                    if let Ok(Some(_)) = netlink::link_by_name(&place.conn.handle, &end.ifname).await {
                        return anyhow!("{} already exists in node {}", end.ifname, end.node);
                    }
                }
            }
        }
        anyhow!("add {first} {second}: {}", netlink::describe(err))
    }

    fn shape(&mut self, end: &Endpoint, shaping: &Shaping) -> Result<()> {
        let ns = self.place(&end.node)?.tc_ns();
        shaping::tc(ns, &shaping.tc_script(&end.ifname)).with_context(|| end.to_string())
    }

    pub async fn del(&mut self, end: &Endpoint) -> Result<()> {
        let index = self.link(end).await?.header.index;
        let handle = self.place(&end.node)?.conn.handle.clone();
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
            let handle = self.place(&e.node)?.conn.handle.clone();
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
        let ns = self.place(&end.node)?.tc_ns();
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
        let handle = self.place(&end.node)?.conn.handle.clone();
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
        let handle = self.place(&end.node)?.conn.handle.clone();
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
            let lab = self.lab.id.clone();
            let place = self.place(name)?;
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
                let mut by_dev = shaping::read_all(place.tc_ns()).with_context(|| name.clone())?;
                for end in &mut found {
                    end.shaping = by_dev.remove(&end.end.ifname).unwrap_or_default();
                }
            }
            ends.extend(found);
        }
        Ok(ends)
    }
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
