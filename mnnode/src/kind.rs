//! Node kinds: one table of what each kind is and does. Adding a kind (an
//! Open vSwitch switch, say) means one more variant and one more row here.
use crate::netlink;
use crate::node::Node;
use crate::spawn::AddOptions;
use crate::tag::Tag;
use anyhow::{Result, anyhow, bail};
use rtnetlink::LinkBridge;
use rtnetlink::packet_route::link::{BridgeStpState, InfoBridge};
use std::fmt;
use std::fs::File;
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Host,
    Switch,
    Router,
    Ovs,
}

/// What a node does with IPv6 in its own namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ipv6 {
    /// No automatic link-local address (nor SLAAC) unless --ipv6-ll: such
    /// an address costs DAD, router solicitation and MLD multicast on every
    /// link that comes up, which bridges flood to every host.
    QuietUnlessAsked,
    /// No IPv6 stack at all: a layer-2 device (frames are still bridged).
    Off,
    /// The kernel's defaults.
    Default,
}

/// Everything a kind decides.
pub struct Spec {
    pub kind: Kind,
    pub name: &'static str,
    pub help: &'static str,
    /// Gets namespaces of its own (unless --root).
    pub namespaced: bool,
    /// Holds a Linux bridge named after the node, which its links join.
    pub bridge: bool,
    /// Forwards IPv4 and IPv6.
    pub forwarding: bool,
    pub ipv6: Ipv6,
}

pub const KINDS: [Spec; 4] = [
    Spec {
        kind: Kind::Host,
        name: "host",
        help: "an end host",
        namespaced: true,
        bridge: false,
        forwarding: false,
        ipv6: Ipv6::QuietUnlessAsked,
    },
    Spec {
        kind: Kind::Switch,
        name: "switch",
        help: "a Linux bridge named after the node",
        namespaced: true,
        bridge: true,
        forwarding: false,
        ipv6: Ipv6::Off,
    },
    Spec {
        kind: Kind::Router,
        name: "router",
        help: "a host that forwards IPv4 and IPv6",
        namespaced: true,
        bridge: false,
        forwarding: true,
        ipv6: Ipv6::Default,
    },
    // Its shell and bridge live in the lab's OVS namespace (see ovs.rs).
    Spec {
        kind: Kind::Ovs,
        name: "ovs",
        help: "an Open vSwitch bridge named after the node, in the lab's own OVS",
        namespaced: true,
        bridge: false,
        forwarding: false,
        ipv6: Ipv6::Off,
    },
];

const ALL: [Kind; 4] = [Kind::Host, Kind::Switch, Kind::Router, Kind::Ovs];

impl Kind {
    pub fn spec(self) -> &'static Spec {
        // Every kind has its row: the test below checks the table.
        KINDS.iter().find(|s| s.kind == self).unwrap_or(&KINDS[0])
    }

    pub fn as_str(self) -> &'static str {
        self.spec().name
    }

    /// Whether the node holds a bridge that its links join.
    pub fn has_bridge(self) -> bool {
        self.spec().bridge
    }

    /// Whether the node is an Open vSwitch bridge (its ports are OVS's).
    pub fn is_ovs(self) -> bool {
        self == Kind::Ovs
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Kind {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Kind> {
        match KINDS.iter().find(|spec| spec.name == s) {
            Some(spec) => Ok(spec.kind),
            None => {
                let names: Vec<&str> = KINDS.iter().map(|k| k.name).collect();
                bail!("{s:?}: not a node kind ({})", names.join(", "))
            }
        }
    }
}

impl clap::ValueEnum for Kind {
    fn value_variants<'a>() -> &'a [Self] {
        &ALL
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        let spec = self.spec();
        Some(clap::builder::PossibleValue::new(spec.name).help(spec.help))
    }
}

/// A --stp bridge's forward delay and hello time, in hundredths of a
/// second (the kernel's least forward delay; a hello a second).
pub const STP_FORWARD_DELAY: u32 = 200;
pub const STP_HELLO_TIME: u32 = 100;

/// A --stp bridge's own address, from its name: the bridge ID (priority
/// and address) then stays what it is at birth, where the kernel would
/// otherwise take the least address of its ports, changing it (and
/// electing the tree anew) as links are added; and the same lab elects
/// the same tree every time. Locally administered, unicast.
pub fn stp_address(name: &str) -> Vec<u8> {
    // FNV-1a, 64 bits: 40 of them make the address.
    let hash =
        name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    let b = hash.to_be_bytes();
    vec![0x02, b[3], b[4], b[5], b[6], b[7]]
}

/// Loopback up, the switch's bridge, a router's forwarding, and the
/// namespace's identity, over one netlink socket in the node. The
/// namespace is `made` (a lazy node's, not yet pinned) or its shell's.
pub(crate) async fn configure(
    node: &Node,
    made: Option<&File>,
    opts: &AddOptions,
    lab_id: &str,
) -> Result<Option<(u64, u64)>> {
    let (conn, id) = if opts.root {
        configure_root(node.kind)?;
        if node.bridge().is_none() {
            return Ok(None);
        }
        (netlink::connect_here()?, None)
    } else {
        let opened;
        let ns = match made {
            Some(ns) => ns,
            None => {
                opened = File::open(node.netns_path())
                    .map_err(|e| mncli::io_error(format!("{}: open its namespace", node.name), &e))?;
                &opened
            }
        };
        let inode = ns.metadata().map_err(|_| anyhow!("{}: the shell vanished", node.name))?.ino();
        let conn = netlink::in_netns(ns.as_fd(), || -> Result<netlink::Conn> {
            configure_namespace(node.kind, opts.ipv6_ll)?;
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
        let builder = if opts.down {
            rtnetlink::LinkMessageBuilder::<LinkBridge>::new(bridge)
        } else {
            LinkBridge::new(bridge)
        };
        let mut bridge_msg = builder.append_info_data(InfoBridge::MulticastSnooping(false));
        if opts.stp {
            // The kernel's least forward delay (2 s, spent in listening
            // and again in learning) instead of 15 s, and hellos every
            // second instead of two: a lab's tree settles in seconds.
            bridge_msg = bridge_msg
                .append_info_data(InfoBridge::ForwardDelay(STP_FORWARD_DELAY))
                .append_info_data(InfoBridge::HelloTime(STP_HELLO_TIME))
                .address(stp_address(&node.name));
        }
        let mut msg = bridge_msg.append_info_data(InfoBridge::StpState(stp)).build();
        if opts.root {
            // Known as ours from its birth, even before the tag below.
            msg.attributes
                .push(rtnetlink::packet_route::link::LinkAttribute::Group(crate::tag::group_of(lab_id)));
        }
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
                lab: lab_id.to_string(),
            };
            let msg = rtnetlink::LinkUnspec::new_with_name(bridge).alias(tag.format()).build();
            if let Err(e) = conn.handle.link().set(msg).execute().await {
                // Untagged, nothing would ever find it again.
                let _ = netlink::del_by_name(&conn.handle, bridge).await;
                bail!("{}: tag bridge {bridge}: {}", node.name, netlink::describe(&e));
            }
        }
    }
    Ok(id)
}

/// The sysctls of a kind, written inside the node's new network namespace.
/// (Through sysctl.rs, whose cost does not grow with the namespaces.)
fn configure_namespace(kind: Kind, ipv6_ll: bool) -> Result<()> {
    let spec = kind.spec();
    crate::sysctl::next_namespace();
    let write = crate::sysctl::write;
    // Said either way: a new namespace copies the root's IPv4 forwarding,
    // which a NAT or a router with --root may have turned on.
    let value = if spec.forwarding { "1" } else { "0" };
    write("net/ipv4/ip_forward", value)?;
    write("net/ipv6/conf/all/forwarding", value)?;
    match spec.ipv6 {
        Ipv6::Off => {
            write("net/ipv6/conf/default/disable_ipv6", "1")?;
            write("net/ipv6/conf/all/disable_ipv6", "1")?;
        }
        // Addresses given with mnlink addr or ip work as ever.
        Ipv6::QuietUnlessAsked if !ipv6_ll => {
            write("net/ipv6/conf/default/addr_gen_mode", "1")?;
        }
        Ipv6::QuietUnlessAsked | Ipv6::Default => {}
    }
    Ok(())
}

/// What a kind needs of the root namespace when its node runs there.
fn configure_root(kind: Kind) -> Result<()> {
    // The root namespace is the machine's: turned on, never off.
    if kind.spec().forwarding {
        crate::write_file("/proc/sys/net/ipv4/ip_forward", "1")?;
        crate::write_file("/proc/sys/net/ipv6/conf/all/forwarding", "1")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_row_per_kind_and_names_round_trip() {
        for kind in ALL {
            assert_eq!(kind.spec().kind, kind);
            assert_eq!(kind.as_str().parse::<Kind>().unwrap(), kind);
        }
        assert_eq!(KINDS.len(), ALL.len());
        assert_eq!(
            "hub".parse::<Kind>().unwrap_err().to_string(),
            "\"hub\": not a node kind (host, switch, router, ovs)"
        );
    }

    #[test]
    fn stp_addresses_are_the_names_own_unicast_and_local() {
        assert_eq!(stp_address("s1"), stp_address("s1"));
        let mut seen = std::collections::HashSet::new();
        for p in 1..=40 {
            for a in 1..=20 {
                for name in
                    [format!("a{p}_{a}"), format!("e{p}_{a}"), format!("c{p}_{a}"), format!("s{p}x{a}")]
                {
                    let addr = stp_address(&name);
                    assert_eq!(addr.len(), 6);
                    assert_eq!(addr[0], 0x02, "locally administered, not multicast");
                    assert!(seen.insert(addr), "{name}: an address of its own");
                }
            }
        }
    }
}
