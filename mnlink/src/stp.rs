//! `mnlink stp`: the spanning tree of the lab's switches (Linux bridges),
//! port by port, as the kernel has it; with `--wait`, once it has settled.
//! One netlink dump per switch, in its namespace (a lazy switch's pinned
//! one: no shell is started).
use crate::links::Links;
use crate::list::Format;
use anyhow::{Result, anyhow, bail};
use mnnode::netlink;
use rtnetlink::packet_route::link::{
    BridgeId, BridgePortState, BridgeStpState, InfoBridge, InfoBridgePort, InfoData, InfoPortData,
    LinkAttribute, LinkInfo, LinkMessage,
};
use std::io::Write;
use std::time::{Duration, Instant};

/// How often `--wait` looks.
const POLL: Duration = Duration::from_millis(250);

/// A switch's bridge, as its spanning tree sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Bridge {
    pub switch: String,
    pub stp: bool,
    pub id: Option<BridgeId>,
    pub root: Option<BridgeId>,
    pub cost: u32,
    /// The root port's number (0: none, the bridge is the root).
    pub root_port: u16,
    /// The hello time, in hundredths of a second.
    pub hello: u32,
    /// Administratively up (a bridge made with `mnnode add --down` is not).
    pub up: bool,
    pub ports: Vec<Port>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Port {
    pub ifname: String,
    pub state: BridgePortState,
    /// The port's number on its bridge (what the bridge's root port names).
    pub number: u16,
    /// Priority and number, as BPDUs carry them.
    pub id: u16,
    /// The bridge and port that are designated on the port's segment.
    pub designated_bridge: Option<BridgeId>,
    pub designated_port: u16,
    /// What is left of the forward-delay timer, in hundredths of a second.
    pub timer: u64,
}

impl Port {
    pub fn state_str(&self) -> &'static str {
        match self.state {
            BridgePortState::Disabled => "disabled",
            BridgePortState::Listening => "listening",
            BridgePortState::Learning => "learning",
            BridgePortState::Forwarding => "forwarding",
            BridgePortState::Blocking => "blocking",
            _ => "unknown",
        }
    }

    /// Listening or learning: on its way to forwarding.
    fn in_transition(&self) -> bool {
        matches!(self.state, BridgePortState::Listening | BridgePortState::Learning)
    }

    /// The port's role in the tree, as the kernel decides it
    /// (br_is_designated_port); `-` without STP.
    pub fn role(&self, bridge: &Bridge) -> &'static str {
        if !bridge.stp || self.state == BridgePortState::Disabled {
            "-"
        } else if self.number == bridge.root_port {
            "root"
        } else if self.designated_bridge.is_some()
            && self.designated_bridge == bridge.id
            && self.designated_port == self.id
        {
            "designated"
        } else {
            "alternate"
        }
    }
}

/// A bridge ID as brctl writes it: priority, a dot, the MAC in hex.
pub fn id_text(id: &BridgeId) -> String {
    let mac: String = id.address.iter().map(|b| format!("{b:02x}")).collect();
    format!("{:04x}.{mac}", id.priority)
}

/// The lab's Linux-bridge switches (lazy ones too), or the one named.
pub fn switches(links: &Links, node: Option<&str>) -> Result<Vec<String>> {
    let lab = links.lab();
    if let Some(name) = node {
        let n = lab.running_node(name)?;
        if n.bridge().is_none() {
            bail!("{name}: not a switch with a Linux bridge (mnnode add --kind switch)");
        }
        return Ok(vec![name.to_string()]);
    }
    Ok(lab
        .node_names()?
        .into_iter()
        .filter(|n| lab.node(n).is_ok_and(|node| node.bridge().is_some() && node.is_running()))
        .collect())
}

/// One switch's bridge and ports, read from the kernel.
pub async fn read(links: &mut Links, switch: &str) -> Result<Bridge> {
    let dump = links.dump(switch).await?;
    let br = dump
        .iter()
        .find(|l| netlink::link_name(l) == Some(switch))
        .ok_or_else(|| anyhow!("{switch}: the switch has no bridge {switch}"))?;
    let mut bridge = Bridge {
        switch: switch.to_string(),
        stp: false,
        id: None,
        root: None,
        cost: 0,
        root_port: 0,
        hello: 0,
        up: netlink::link_is_up(br),
        ports: Vec::new(),
    };
    for info in bridge_info(br) {
        match info {
            InfoBridge::StpState(s) => bridge.stp = *s != BridgeStpState::Disabled,
            InfoBridge::BridgeId(id) => bridge.id = Some(id.clone()),
            InfoBridge::RootId(id) => bridge.root = Some(id.clone()),
            InfoBridge::RootPathCost(c) => bridge.cost = *c,
            InfoBridge::RootPort(p) => bridge.root_port = *p,
            InfoBridge::HelloTime(h) => bridge.hello = *h,
            _ => {}
        }
    }
    let index = br.header.index;
    for link in &dump {
        if !link.attributes.iter().any(|a| matches!(a, LinkAttribute::Controller(i) if *i == index)) {
            continue;
        }
        let Some(infos) = port_info(link) else { continue };
        let mut port = Port {
            ifname: netlink::link_name(link).unwrap_or_default().to_string(),
            state: BridgePortState::Disabled,
            number: 0,
            id: 0,
            designated_bridge: None,
            designated_port: 0,
            timer: 0,
        };
        for info in infos {
            match info {
                InfoBridgePort::State(s) => port.state = *s,
                InfoBridgePort::PortNumber(n) => port.number = *n,
                InfoBridgePort::PortId(n) => port.id = *n,
                InfoBridgePort::BridgeId(id) => port.designated_bridge = Some(id.clone()),
                InfoBridgePort::DesignatedPort(n) => port.designated_port = *n,
                InfoBridgePort::ForwardDelayTimer(t) => port.timer = *t,
                _ => {}
            }
        }
        bridge.ports.push(port);
    }
    bridge.ports.sort_by(|a, b| mnnode::name::natural_cmp(&a.ifname, &b.ifname));
    Ok(bridge)
}

fn bridge_info(link: &LinkMessage) -> &[InfoBridge] {
    netlink::link_info(link, |i| match i {
        LinkInfo::Data(InfoData::Bridge(data)) => Some(data.as_slice()),
        _ => None,
    })
    .unwrap_or(&[])
}

fn port_info(link: &LinkMessage) -> Option<&[InfoBridgePort]> {
    netlink::link_info(link, |i| match i {
        LinkInfo::PortData(InfoPortData::BridgePort(data)) => Some(data.as_slice()),
        _ => None,
    })
}

/// The root's priority: the least bridge ID of a lab where the others
/// keep the kernel's 32768, and what network people give a root.
pub const ROOT_PRIORITY: u16 = 4096;

/// How long the others wait for the root: their first hellos (a hello
/// time after each comes up) must leave after the root's.
const ROOT_LEAD: Duration = Duration::from_millis(50);

/// Starts the spanning tree of the lab's down STP bridges (`mnnode add
/// --stp --down`): the root's bridge gets the least ID and comes up
/// first, the others 50 ms later, all in one pass. No bridge has sent a
/// BPDU yet, so no port's hold timer runs: the root's first hello, a hello
/// time on, is passed on by each bridge the moment it arrives and crosses
/// the lab in one wave ahead of anyone else's, and every bridge takes its
/// place in the final tree at once. (Bridges up since their birth elect
/// as their links come, a hop a second, sending ports that were blocked
/// back to listening: on a 12 by 12 torus that took 10 s after the last
/// link, against 4.3 s here.) The ports listen and learn meanwhile, so
/// nothing forwards before the tree stands.
pub async fn start(links: &mut Links, root: &str, switches: &[String]) -> Result<()> {
    if !switches.iter().any(|s| s == root) {
        bail!("stp --start {root}: {root} is not a switch with a Linux bridge (mnnode add --kind switch)");
    }
    let bridges = read_all(links, switches).await?;
    if bridges.iter().any(|b| b.switch == root && !b.stp) {
        bail!("stp --start {root}: {root}'s bridge runs no spanning tree (mnnode add --stp)");
    }
    links.set_bridge_priority(root, ROOT_PRIORITY).await?;
    links.bridge_up(root).await?;
    tokio::time::sleep(ROOT_LEAD).await;
    for b in bridges.iter().filter(|b| b.stp && !b.up && b.switch != root) {
        links.bridge_up(&b.switch).await?;
    }
    Ok(())
}

pub async fn read_all(links: &mut Links, switches: &[String]) -> Result<Vec<Bridge>> {
    links.begin();
    let mut bridges = Vec::with_capacity(switches.len());
    for s in switches {
        bridges.push(read(links, s).await?);
    }
    Ok(bridges)
}

/// A bridge's root, root path cost, root port, and whether each port blocks.
type View = (Option<BridgeId>, u32, u16, Vec<(u16, bool)>);

/// What a change of the tree shows in: each bridge's root, cost and root
/// port, and which of its ports block. (A port's way from listening to
/// forwarding is its own timer's, not news that travels.)
fn tree(bridges: &[Bridge]) -> Vec<View> {
    bridges
        .iter()
        .map(|b| {
            let ports = b.ports.iter().map(|p| (p.number, p.state == BridgePortState::Blocking)).collect();
            (b.root.clone(), b.cost, b.root_port, ports)
        })
        .collect()
}

/// Waits until the spanning tree has settled: no port listening or
/// learning, and the tree unchanged for a while.
///
/// How long: a bridge sends what it learnt on its designated ports at
/// once, unless the port sent in the last second (BR_HOLD_TIME: the BPDU
/// is then held until that timer expires, which the kernel rounds to a
/// whole second, up to 0.75 s later); a port new to a segment hears its
/// neighbour at the root's next hello at the latest (every hello time,
/// relayed down the tree). So news reaches the next bridge within one
/// hello time and 0.75 s, and a tree unchanged for that long and one more
/// look has nothing left in flight: 2 s with mn's hello of 1 s. The
/// window runs while ports still listen and learn (twice the forward
/// delay, 4 s at the least), so it seldom adds to the wait.
pub async fn wait(links: &mut Links, switches: &[String], timeout: Duration) -> Result<Vec<Bridge>> {
    let start = Instant::now();
    let mut last = None;
    let mut since = start;
    loop {
        let look = Instant::now();
        let bridges = read_all(links, switches).await?;
        let now = tree(&bridges);
        if last.as_ref() != Some(&now) {
            last = Some(now);
            since = look;
        }
        // Without STP anywhere there is no news to wait for.
        let window = match bridges.iter().filter(|b| b.stp).map(|b| b.hello).max() {
            Some(hello) => Duration::from_millis(u64::from(hello) * 10 + 750) + POLL,
            None => Duration::ZERO,
        };
        let moving = bridges.iter().flat_map(|b| &b.ports).filter(|p| p.in_transition()).count();
        if moving == 0 && look.duration_since(since) >= window {
            return Ok(bridges);
        }
        if start.elapsed() >= timeout {
            bail!(
                "the spanning tree did not settle in {} s ({moving} ports listening or learning)",
                timeout.as_secs_f64()
            );
        }
        tokio::time::sleep(next_look(&bridges).saturating_sub(look.elapsed())).await;
    }
}

/// When to look again: every POLL, or when the last learning port's
/// timer runs out if that is sooner (every port learning: the tree is
/// done but for that).
fn next_look(bridges: &[Bridge]) -> Duration {
    let ports = || bridges.iter().flat_map(|b| &b.ports);
    if ports().any(|p| p.state == BridgePortState::Listening) {
        return POLL;
    }
    match ports().filter(|p| p.state == BridgePortState::Learning).map(|p| p.timer).max() {
        Some(left) => POLL.min(Duration::from_millis(left.saturating_mul(10).saturating_add(20))),
        None => POLL,
    }
}

pub fn print(bridges: &[Bridge], format: Format) -> Result<()> {
    let mut out = std::io::stdout().lock();
    if format == Format::Json {
        let items: Vec<serde_json::Value> = bridges.iter().map(to_json).collect();
        writeln!(out, "{}", serde_json::Value::Array(items))?;
        return Ok(());
    }
    let mut table = Vec::new();
    if format == Format::Table {
        table.push(["SWITCH", "PORT", "STATE", "ROLE"].map(String::from).to_vec());
    }
    for b in bridges {
        for p in &b.ports {
            table.push(vec![b.switch.clone(), p.ifname.clone(), p.state_str().into(), p.role(b).into()]);
        }
    }
    if format == Format::Porcelain {
        for row in &table {
            writeln!(out, "{}", row.join("\t"))?;
        }
        return Ok(());
    }
    mncli::print_table(&mut out, &table)?;
    Ok(())
}

fn to_json(b: &Bridge) -> serde_json::Value {
    let root_port = b.ports.iter().find(|p| b.root_port != 0 && p.number == b.root_port).map(|p| &p.ifname);
    let ports: Vec<serde_json::Value> = b
        .ports
        .iter()
        .map(|p| serde_json::json!({ "interface": p.ifname, "state": p.state_str(), "role": p.role(b) }))
        .collect();
    serde_json::json!({
        "switch": b.switch,
        "stp": b.stp,
        "bridge_id": b.id.as_ref().map(id_text),
        "root_id": b.root.as_ref().map(id_text),
        "root_path_cost": b.cost,
        "root_port": root_port,
        "ports": ports,
    })
}
