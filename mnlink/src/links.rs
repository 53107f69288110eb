//! What mnlink does to the kernel, over one netlink socket per namespace:
//! the places (nodes) it talks to, and every subcommand but `add`, which
//! lives in [`create`].

mod create;
mod ovs;
mod parse;
pub mod tunnel;

pub use ovs::sync as sync_ovs;

use crate::endpoint::Endpoint;
use crate::shaping::{self, Shaping};
use anyhow::{Context, Result, anyhow, bail};
use create::{Pending, Staging};
use mnnode::netlink::{self, Conn};
use mnnode::tag::Tag;
use mnnode::{Lab, Node};
use nix::errno::Errno;
use parse::{parse_cidr, parse_mac};
use rtnetlink::packet_route::address::{AddressAttribute, AddressFlags};
use rtnetlink::packet_route::link::{InfoKind, LinkAttribute, LinkMessage};
use std::collections::HashMap;
use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};

/// A node as mnlink needs it: its record and a netlink socket inside its
/// namespace. The namespace itself is opened only when a request or tc
/// needs it, so that a node costs one descriptor.
struct Place {
    node: Node,
    conn: Conn,
    bridge: Option<u32>,
    /// The command that used it last (see [`Links::begin`]).
    used: u64,
}

/// The most places kept connected at once, whatever the descriptor limit:
/// reconnecting costs tens of microseconds, a descriptor per node of a
/// 10,000-node lab ran out of them.
const MAX_PLACES: usize = 512;

pub struct Links {
    lab: Lab,
    places: HashMap<String, Place>,
    /// How many places to keep connected: a batch over more nodes than
    /// this closes the least recently used ones rather than running out
    /// of descriptors.
    max_places: usize,
    /// The command being run, counted from 1.
    command: u64,
    staging: Option<Staging>,
    netem: Option<bool>,
    /// In a batch: the links whose OVS ports are still to be made.
    ports: Option<Vec<Pending>>,
}

impl Links {
    pub fn new(lab: Lab) -> Links {
        let limit = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
            .map_or(1024, |(soft, _)| soft);
        // Half the limit, less what the rest of mnlink and tc need; a
        // command needs two places at once (a link's ends).
        let max_places = (limit.saturating_sub(64) / 2).clamp(2, MAX_PLACES as u64) as usize;
        Links { lab, places: HashMap::new(), max_places, command: 0, staging: None, netem: None, ports: None }
    }

    /// Links for a batch, whose OVS ports wait for [`Links::flush_ports`].
    pub fn for_batch(lab: Lab) -> Links {
        Links { ports: Some(Vec::new()), ..Links::new(lab) }
    }

    /// Starts a command: places it has not used yet may be closed to make
    /// room, those it used may not (it may hold clones of their handles).
    pub fn begin(&mut self) {
        self.command += 1;
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
                self.close_oldest().await;
            }
            let node = self.lab.usable_node(name)?;
            let conn = if node.root {
                netlink::connect_here().map_err(|e| anyhow!("node {name}: {}", crate::plain(&e)))?
            } else {
                let ns = open_netns(&node)?;
                let conn = netlink::connect_in(ns.as_fd())
                    .map_err(|e| anyhow!("node {name}: {}", crate::plain(&e)))?;
                // A freed namespace's inode number is given out again; its
                // cookie never is: another namespace is not the node's.
                if node.cookie.is_some_and(|cookie| cookie != conn.cookie) {
                    bail!("node {name} is not running");
                }
                conn
            };
            self.places.insert(name.to_string(), Place { node, conn, bridge: None, used: 0 });
        }
        let command = self.command;
        let place = self.places.get_mut(name).ok_or_else(|| anyhow!("node {name} vanished"))?;
        place.used = command;
        Ok(place)
    }

    /// Closes the sockets of the least recently used half of the places
    /// the current command has not touched, and waits until they are
    /// closed: their descriptors are free when this returns.
    async fn close_oldest(&mut self) {
        let mut idle: Vec<(u64, String)> = self
            .places
            .iter()
            .filter(|(_, p)| p.used < self.command)
            .map(|(name, p)| (p.used, name.clone()))
            .collect();
        idle.sort_unstable();
        let count = idle.len().min(self.places.len().div_ceil(2));
        for (_, name) in idle.into_iter().take(count) {
            if let Some(place) = self.places.remove(&name) {
                place.conn.close().await;
            }
        }
    }

    /// Every interface in a node's namespace, as the kernel dumps them (a
    /// lazy node's pinned namespace: its shell is not started).
    pub(crate) async fn dump(&mut self, name: &str) -> Result<Vec<LinkMessage>> {
        let place = self.place(name).await?;
        netlink::links(&place.conn.handle)
            .await
            .map_err(|e| anyhow!("{name}: list links: {}", netlink::describe(&e)))
    }

    /// Sets a switch's bridge's STP priority (0 to 65535: the high part of
    /// its bridge ID).
    pub(crate) async fn set_bridge_priority(&mut self, name: &str, priority: u16) -> Result<()> {
        use rtnetlink::packet_route::link::InfoBridge;
        let msg = rtnetlink::LinkMessageBuilder::<rtnetlink::LinkBridge>::new(name)
            .append_info_data(InfoBridge::Priority(priority))
            .build();
        self.change_bridge(name, msg, &format!("set the priority of bridge {name}")).await
    }

    /// Brings a switch's bridge up.
    pub(crate) async fn bridge_up(&mut self, name: &str) -> Result<()> {
        let msg = rtnetlink::LinkUnspec::new_with_name(name).up().build();
        self.change_bridge(name, msg, &format!("bring bridge {name} up")).await
    }

    /// Applies a change to the bridge of switch `name`, in its namespace;
    /// an error says `NAME: WHAT: why`.
    async fn change_bridge(&mut self, name: &str, msg: LinkMessage, what: &str) -> Result<()> {
        let place = self.place(name).await?;
        place
            .conn
            .handle
            .link()
            .change(msg)
            .execute()
            .await
            .map_err(|e| anyhow!("{name}: {what}: {}", netlink::describe(&e)))
    }

    /// Closes one node's socket (`list` visits each node once).
    pub async fn forget(&mut self, name: &str) {
        if let Some(place) = self.places.remove(name) {
            place.conn.close().await;
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
        if place.node.kind.is_ovs() && !tagged {
            bail!(
                "{} is not a link of node {} (OVS switches share a namespace; each changes only its own links)",
                end.ifname,
                end.node
            );
        }
        Ok(link)
    }

    async fn shape(&mut self, end: &Endpoint, shaping: &Shaping) -> Result<()> {
        let ns = self.netns(&end.node).await?;
        shaping::tc(ns.as_ref().map(|n| n.as_fd()), &shaping.tc_script(&end.ifname))
            .with_context(|| end.to_string())
    }

    /// The namespace to capture an endpoint's packets in (`None`: ours,
    /// for a `--root` node), once the interface is known to be there.
    pub async fn capture_netns(&mut self, end: &Endpoint) -> Result<Option<OwnedFd>> {
        self.link(end).await?;
        self.netns(&end.node).await
    }

    pub async fn del(&mut self, end: &Endpoint) -> Result<()> {
        let link = self.link(end).await?;
        // An OVS switch's end is a port of its bridge too: it goes first.
        let peer = netlink::link_alias(&link)
            .and_then(Tag::parse)
            .map(|t| Endpoint { node: t.peer_node, ifname: t.peer_if });
        let mut ports = Vec::new();
        for e in std::iter::once(end.clone()).chain(peer) {
            if self.lab.node(&e.node).is_ok_and(|n| n.kind.is_ovs()) {
                ports.push(e);
            }
        }
        ovs::del_ports(&self.lab, &ports);
        let handle = self.place(&end.node).await?.conn.handle.clone();
        netlink::del_by_name(&handle, &end.ifname)
            .await
            .map_err(|e| anyhow!("del {end}: {}", netlink::describe(&e)))
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

    /// The routes someone added in a node (protocol boot or static, the
    /// main table), as `ip route add` takes them: `10.2.0.0/24 via
    /// 10.12.0.2 dev r1-eth1`; sorted. Routes the kernel makes for
    /// addresses are left out.
    pub async fn routes(&mut self, name: &str) -> Result<Vec<String>> {
        use futures::TryStreamExt;
        use rtnetlink::RouteMessageBuilder;
        use rtnetlink::packet_route::route::{RouteAddress, RouteAttribute, RouteProtocol, RouteType};
        let handle = self.place(name).await?.conn.handle.clone();
        let failed = |e: rtnetlink::Error| anyhow!("{name}: list routes: {}", netlink::describe(&e));
        let names: HashMap<u32, String> = netlink::links(&handle)
            .await
            .map_err(failed)?
            .iter()
            .filter_map(|l| Some((l.header.index, netlink::link_name(l)?.to_string())))
            .collect();
        let mut msgs: Vec<_> = handle
            .route()
            .get(RouteMessageBuilder::<std::net::Ipv4Addr>::new().build())
            .execute()
            .try_collect()
            .await
            .map_err(failed)?;
        let v6: Vec<_> = handle
            .route()
            .get(RouteMessageBuilder::<std::net::Ipv6Addr>::new().build())
            .execute()
            .try_collect()
            .await
            .map_err(failed)?;
        msgs.extend(v6);
        let addr = |a: &RouteAddress| match a {
            RouteAddress::Inet(ip) => Some(ip.to_string()),
            RouteAddress::Inet6(ip) => Some(ip.to_string()),
            _ => None,
        };
        let mut routes = Vec::new();
        for m in &msgs {
            let table = m
                .attributes
                .iter()
                .find_map(|a| match a {
                    RouteAttribute::Table(t) => Some(*t),
                    _ => None,
                })
                .unwrap_or(u32::from(m.header.table));
            if table != 254
                || m.header.kind != RouteType::Unicast
                || !matches!(m.header.protocol, RouteProtocol::Boot | RouteProtocol::Static)
            {
                continue;
            }
            let mut route = match m.attributes.iter().find_map(|a| match a {
                RouteAttribute::Destination(d) => addr(d),
                _ => None,
            }) {
                Some(dst) => format!("{dst}/{}", m.header.destination_prefix_length),
                None => "default".to_string(),
            };
            for a in &m.attributes {
                match a {
                    RouteAttribute::Gateway(g) => {
                        if let Some(g) = addr(g) {
                            route += &format!(" via {g}");
                        }
                    }
                    RouteAttribute::Oif(i) => {
                        if let Some(dev) = names.get(i) {
                            route += &format!(" dev {dev}");
                        }
                    }
                    _ => {}
                }
            }
            if m.header.protocol == RouteProtocol::Static {
                route += " proto static";
            }
            routes.push(route);
        }
        routes.sort();
        Ok(routes)
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
                let kind = netlink::link_kind(link);
                if !tag.is_of(&lab, name) || !matches!(kind, Some(&InfoKind::Veth | &InfoKind::Vxlan)) {
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
                    mac: link_mac(link),
                    addresses: Vec::new(),
                    index: link.header.index,
                    shown: None,
                });
            }
            if !found.is_empty() {
                let mut by_index = addresses(&self.place(name).await?.conn.handle)
                    .await
                    .map_err(|e| anyhow!("{name}: list addresses: {}", netlink::describe(&e)))?;
                for end in &mut found {
                    end.addresses = by_index.remove(&end.index).unwrap_or_default();
                }
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

/// One end of a link, as the kernel has it.
#[derive(Debug, Clone)]
pub struct End {
    pub end: Endpoint,
    pub peer: Endpoint,
    pub up: bool,
    pub mtu: Option<u32>,
    pub shaping: Shaping,
    /// The MAC address, as aa:bb:cc:dd:ee:ff.
    pub mac: Option<String>,
    /// Addresses as CIDR, IPv4 first; IPv6 link-local ones left out (the
    /// kernel makes them from the MAC).
    pub addresses: Vec<String>,
    /// The interface's index in its namespace.
    pub index: u32,
    /// The shaping as another machine's mnlink listed it.
    pub shown: Option<String>,
}

impl End {
    /// The shaping, as `list` shows it.
    pub fn shaping_text(&self) -> String {
        self.shown.clone().unwrap_or_else(|| self.shaping.to_string())
    }
}

fn link_mac(link: &LinkMessage) -> Option<String> {
    link.attributes.iter().find_map(|a| match a {
        LinkAttribute::Address(bytes) if bytes.len() == 6 => {
            Some(bytes.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":"))
        }
        _ => None,
    })
}

/// Every address in a namespace, by interface index, in the kernel's order.
async fn addresses(handle: &rtnetlink::Handle) -> Result<HashMap<u32, Vec<String>>, rtnetlink::Error> {
    use futures::TryStreamExt;
    let msgs: Vec<_> = handle.address().get().execute().try_collect().await?;
    let mut found: HashMap<u32, Vec<(bool, String)>> = HashMap::new();
    for msg in &msgs {
        let local = msg.attributes.iter().find_map(|a| match a {
            AddressAttribute::Local(ip) => Some(*ip),
            _ => None,
        });
        let address = msg.attributes.iter().find_map(|a| match a {
            AddressAttribute::Address(ip) => Some(*ip),
            _ => None,
        });
        let Some(ip) = local.or(address) else { continue };
        if let std::net::IpAddr::V6(v6) = ip {
            if v6.segments()[0] & 0xffc0 == 0xfe80 {
                continue;
            }
        }
        let entry = found.entry(msg.header.index).or_default();
        entry.push((ip.is_ipv6(), format!("{ip}/{}", msg.header.prefix_len)));
    }
    Ok(found
        .into_iter()
        .map(|(index, mut list)| {
            list.sort_by_key(|(v6, _)| *v6);
            (index, list.into_iter().map(|(_, a)| a).collect())
        })
        .collect())
}

#[cfg(test)]
impl End {
    /// An up, unshaped end, as the kernel would list it.
    pub fn for_test(end: Endpoint, peer: Endpoint, addresses: Vec<String>) -> End {
        End {
            end,
            peer,
            up: true,
            mtu: Some(1500),
            shaping: Shaping::default(),
            mac: None,
            addresses,
            index: 0,
            shown: None,
        }
    }
}
