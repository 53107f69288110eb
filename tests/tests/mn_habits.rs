//! scripts/mn as a Mininet user drives it: the torus, reversed and fattree
//! topologies, Mininet custom topology files (--custom), and the launcher
//! options --nat, --arp, --pre/--post, --host, --switch, --controller,
//! --wait and --innamespace.
use mn_tests::{Cmd, Lab, assert_error, mn, mn_in, nothing_left, nothing_made, topologies};

/// `mnlink list` as "A B" pairs, whitespace-insensitive.
fn link_pairs(lab: &Lab) -> Vec<String> {
    let out = lab.cmd("mnlink").arg("list").ok();
    out.stdout.lines().skip(1).map(|l| l.split_whitespace().take(2).collect::<Vec<_>>().join(" ")).collect()
}

fn has_pair(pairs: &[String], a: &str, b: &str) -> bool {
    pairs.iter().any(|p| *p == format!("{a} {b}") || *p == format!("{b} {a}"))
}

#[test]
fn torus_has_mininets_names_and_ports_and_pings_through_its_loops() {
    let lab = Lab::new();
    let out = mn(&lab).args(["--topo", "torus,3,3", "--keep", "--test", "pingall"]).ok();
    out.check(out.stdout.contains("h1x1 h1x2 h1x3 h2x1 h2x2 h2x3 h3x1 h3x2 h3x3\n"), "Mininet's host names");
    out.check(out.stdout.contains("s1x1 s1x2 s1x3 s2x1 s2x2 s2x3 s3x1 s3x2 s3x3\n"), "and switch names");
    out.check(out.stdout.contains("*** Waiting for the spanning tree to settle on 9 switches\n"), "STP");
    // 18 switch links, a spanning tree of 9 switches keeps 8.
    out.check(out.stdout.contains("\n10 ports blocked\n"), "one port of each redundant link blocked");
    out.check(out.stdout.contains("*** Results: 0% dropped (72/72 received)"), "every pair reaches");
    // TorusTopo's order: the host on port 1, then right and down
    // neighbours; the wrap-around links come last.
    let pairs = link_pairs(&lab);
    for (a, b) in [
        ("h1x1-eth0", "s1x1-eth1"),
        ("s1x1-eth2", "s1x2-eth2"),
        ("s1x1-eth3", "s2x1-eth2"),
        ("s1x3-eth3", "s1x1-eth4"),
        ("s3x1-eth4", "s1x1-eth5"),
    ] {
        assert!(has_pair(&pairs, a, b), "{a} {b} in {pairs:?}");
    }
    assert_eq!(pairs.len(), 27, "9 host links and 18 switch links");
    assert_eq!(lab.cmd("mnnode").args(["ip", "h3x3"]).ok().stdout, "10.0.0.9\n");
    // The first switch is the root (priority 4096), and the tree was
    // started and waited for without a switch's shell.
    let out = lab.cmd("mnlink").args(["stp", "s1x1", "--json"]).ok();
    let json: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON");
    let id = json[0]["bridge_id"].as_str().expect("a bridge ID").to_string();
    assert!(id.starts_with("1000."), "{id}");
    assert_eq!(json[0]["root_id"], id.as_str());
    let out = lab.cmd("mnnode").args(["list", "--porcelain"]).ok();
    for line in out.stdout.lines().filter(|l| l.starts_with('s')) {
        assert_eq!(line.split('\t').nth(2), Some("-"), "no shell: {line}");
    }
    mn(&lab).arg("-c").ok();
    nothing_left(&lab);
}

#[test]
fn reversed_numbers_the_switch_ports_backwards() {
    let lab = Lab::new();
    let out = mn(&lab).args(["--topo", "reversed,3", "--keep", "--test", "pingall"]).ok();
    out.check(out.stdout.contains("*** Results: 0% dropped (6/6 received)"), "a working network");
    let pairs = link_pairs(&lab);
    assert_eq!(pairs, ["h1-eth0 s1-eth3", "h2-eth0 s1-eth2", "h3-eth0 s1-eth1"]);
    mn(&lab).arg("-c").ok();
    nothing_left(&lab);
}

#[test]
fn a_fat_tree_of_k_4_has_16_hosts_and_20_switches_and_pings() {
    let lab = Lab::new();
    let out = mn(&lab).args(["--topo", "fattree,4", "--keep", "--test", "pingall"]).ok();
    out.check(out.stdout.contains("*** Starting 20 switches"), "5k^2/4 switches");
    out.check(out.stdout.contains("*** Results: 0% dropped (240/240 received)"), "16 hosts reach each other");
    // 48 links for 36 nodes: 13 redundant links blocked.
    out.check(out.stdout.contains("\n13 ports blocked\n"), "the spanning tree");
    let pairs = link_pairs(&lab);
    assert_eq!(pairs.len(), 48);
    for (a, b) in [
        ("h1-eth0", "e1_1-eth1"),
        ("h2-eth0", "e1_1-eth2"),
        ("e1_1-eth3", "a1_1-eth1"),
        ("e1_2-eth4", "a1_2-eth2"),
        ("a1_1-eth3", "c1_1-eth1"),
        ("a4_2-eth4", "c2_2-eth4"),
        ("h16-eth0", "e4_2-eth2"),
    ] {
        assert!(has_pair(&pairs, a, b), "{a} {b} in {pairs:?}");
    }
    mn(&lab).arg("-c").ok();
    nothing_left(&lab);
}

#[test]
fn bad_topology_arguments_say_one_line_and_make_nothing() {
    let lab = Lab::new();
    let dir = topologies(&lab, &[]);
    let cases = [
        ("torus,2,3", "mn: --topo torus,2,3: a torus needs X and Y of 3 or more"),
        ("torus,3,0", "mn: --topo torus,3,0: '0' is not a positive number"),
        ("fattree,3", "mn: --topo fattree,3: K must be even (k/2 hosts per edge switch)"),
        ("fattree,36", "mn: --topo fattree,36 would make 11664 hosts; the limit is 10000"),
        (
            "fattree,34,1",
            "mn: --topo fattree,34,1: too many numbers (topologies: minimal, single,N, linear,K[,N], \
             tree,DEPTH[,FANOUT], reversed,N, torus,X,Y[,N], fattree,K)",
        ),
        ("torus,100,101", "mn: --topo torus,100,101 would make 10100 hosts; the limit is 10000"),
        (
            "torus,50,50,4",
            "mn: --topo torus,50,50,4 would make 12500 nodes (10000 hosts and 2500 switches); the limit is 12000",
        ),
        ("reversed,10001", "mn: --topo reversed,10001 would make 10001 hosts; the limit is 10000"),
        (
            "torus,3,99999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999",
            "mn: --topo torus,3,99999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999 \
             would make more than 10^100 hosts; the limit is 10000",
        ),
    ];
    for (topo, says) in cases {
        let out = mn_in(&lab, &dir).args(["--test", "build", "--topo", topo]).code(1);
        assert_error(&out, says);
        out.check(out.stdout.is_empty(), "nothing printed, nothing built");
    }
    nothing_made(&lab);
}

// --- Mininet custom topology files (--custom) -----------------------------

/// A custom file as Mininet users write them: build() with arguments,
/// TCLink with shaping, explicit ports and interface names, ip= and mac=,
/// an old-style __init__ topology, and a main block that never runs here.
const SITES: &str = r#"#!/usr/bin/env python3
"""Two sites joined by a shaped WAN link."""
from mininet.topo import Topo
from mininet.net import Mininet
from mininet.link import TCLink
from mininet.node import OVSKernelSwitch, Host
from mininet.cli import CLI
from mininet.log import setLogLevel, info
from mininet.util import irange, dumpNodeConnections


class TwoSites(Topo):
    "n hosts on each of two switches; the switches share a shaped link."

    def build(self, n=2, bw=10):
        left = self.addSwitch('s1', dpid='0000000000000001')
        right = self.addSwitch('s2')
        for i in irange(1, n):
            self.addLink(self.addHost('h%d' % i), left)
        for i in irange(n + 1, 2 * n):
            host = self.addHost('h%d' % i, ip='10.0.1.%d/8' % i, mac='00:00:00:00:01:%02x' % i)
            self.addLink(host, right, port2=10 + i)
        self.addLink(left, right, cls=TCLink, bw=bw, loss=0, max_queue_size=100,
                     intfName1='s1-wan', intfName2='s2-wan')


class Pair(Topo):
    "Old style: everything in __init__."

    def __init__(self, **opts):
        Topo.__init__(self, **opts)
        a = self.addHost('alice', cls=Host, defaultRoute='via 10.0.0.254')
        b = self.addHost('bob')
        sw = self.addSwitch('sw1')
        self.addLink(a, sw, port1=3)
        self.addLink(sw, b)


topos = {
    'sites': (lambda n=2, bw=10: TwoSites(n=n, bw=bw)),
    'pair': (lambda: Pair()),
}

if __name__ == '__main__':
    setLogLevel('info')
    net = Mininet(topo=TwoSites(), link=TCLink)
    net.start()
    CLI(net)
"#;

/// Three switches in a ring, with a host each: a loop.
const RING: &str = r#"from mininet.topo import Topo

class Ring(Topo):
    def build(self, k=3):
        switches = [self.addSwitch('s%d' % i) for i in range(1, k + 1)]
        for i, s in enumerate(switches):
            self.addLink(self.addHost('h%d' % (i + 1)), s)
        for i in range(k):
            self.addLink(switches[i], switches[(i + 1) % k])

topos = {'ring': Ring}
"#;

#[test]
fn a_custom_file_builds_as_mininet_would() {
    let lab = Lab::new();
    let dir = topologies(&lab, &[("sites.py", SITES)]);
    let out = mn_in(&lab, &dir)
        .args(["--custom", "sites.py", "--topo", "sites,3,bw=5", "--keep", "--test", "pingall"])
        .ok();
    out.check(out.stdout.contains("h1 h2 h3 h4 h5 h6\n"), "hosts in Mininet's natural order");
    out.check(out.stdout.contains("*** Results: 0% dropped (30/30 received)"), "every pair reaches");
    let pairs = link_pairs(&lab);
    for (a, b) in
        [("h1-eth0", "s1-eth1"), ("h3-eth0", "s1-eth3"), ("h4-eth0", "s2-eth14"), ("h6-eth0", "s2-eth16")]
    {
        assert!(has_pair(&pairs, a, b), "{a} {b} in {pairs:?}");
    }
    let list = lab.cmd("mnlink").arg("list").ok().stdout;
    let wan = list.lines().find(|l| l.starts_with("s1-wan")).expect("the WAN link");
    assert_eq!(
        wan.split_whitespace().collect::<Vec<_>>(),
        ["s1-wan", "s2-wan", "up", "bw=5Mbit", "queue=100"]
    );
    assert_eq!(lab.cmd("mnnode").args(["ip", "h2"]).ok().stdout, "10.0.0.2\n");
    assert_eq!(lab.cmd("mnnode").args(["ip", "h5"]).ok().stdout, "10.0.1.5\n");
    let mac = lab.cmd("mnrun").args(["h5", "cat /sys/class/net/h5-eth0/address"]).ok();
    assert_eq!(mac.stdout, "00:00:00:00:01:05\n");
    mn(&lab).arg("-c").ok();
    nothing_left(&lab);

    // Old style, a port of our choosing, defaultRoute; a built-in
    // topology still works beside the file.
    let out = mn_in(&lab, &dir)
        .args(["--custom", "sites.py", "--topo", "pair", "--keep", "--test", "pingall"])
        .ok();
    out.check(out.stdout.contains("*** Results: 0% dropped (2/2 received)"), "alice and bob");
    assert!(has_pair(&link_pairs(&lab), "alice-eth3", "sw1-eth1"), "port1=3");
    let route = lab.cmd("mnrun").args(["alice", "ip route show default"]).ok();
    assert_eq!(route.stdout.split_whitespace().take(3).collect::<Vec<_>>(), ["default", "via", "10.0.0.254"]);
    mn(&lab).arg("-c").ok();
    let out =
        mn_in(&lab, &dir).args(["--custom", "sites.py", "--topo", "single,2", "--test", "pingall"]).ok();
    out.check(out.stdout.contains("*** Results: 0% dropped (2/2 received)"), "a built-in topology");
    nothing_left(&lab);
}

#[test]
fn a_custom_topology_with_a_loop_runs_spanning_tree() {
    let lab = Lab::new();
    let dir = topologies(&lab, &[("ring.py", RING)]);
    let out = mn_in(&lab, &dir).args(["--custom", "ring.py", "--topo", "ring,4", "--test", "pingall"]).ok();
    out.check(out.stdout.contains("*** Waiting for the spanning tree to settle on 4 switches\n"), "STP");
    out.check(out.stdout.contains("\n1 ports blocked\n"), "the ring is cut once");
    out.check(out.stdout.contains("*** Results: 0% dropped (12/12 received)"), "every pair reaches");
    nothing_left(&lab);
}

#[test]
fn custom_files_with_mistakes_say_one_line_and_make_nothing() {
    let lab = Lab::new();
    let head = "from mininet.topo import Topo\nfrom mininet.link import TCLink\n\n";
    let files: Vec<(String, String)> = [
        ("htb.py", "class T(Topo):\n    def build(self):\n        h = self.addHost('h1')\n        s = self.addSwitch('s1')\n        self.addLink(h, s, cls=TCLink, bw=10,\n                     use_htb=True)\n\ntopos = {'t': lambda: T()}\n"),
        ("cpu.py", "class T(Topo):\n    def build(self):\n        self.addHost('h1', cpu=0.5)\n\ntopos = {'t': lambda: T()}\n"),
        ("ovs.py", "class T(Topo):\n    def build(self):\n        self.addSwitch('s1', protocols='OpenFlow13')\n\ntopos = {'t': lambda: T()}\n"),
        ("raises.py", "class T(Topo):\n    def build(self, n):\n        for i in range(n):\n            self.addHost('h%d' % i)\n        raise ValueError('n is too small: %d' % n)\n\ntopos = {'t': lambda n=1: T(n)}\n"),
        ("name.py", "class T(Topo):\n    def build(self):\n        self.addHost(nme)\n\ntopos = {'t': lambda: T()}\n"),
        ("syntax.py", "topos = {\n"),
        ("nolink.py", "class T(Topo):\n    def build(self):\n        self.addHost('h1')\n        self.addLink('h1', 's9')\n\ntopos = {'t': lambda: T()}\n"),
        ("runs.py", "from mininet.net import Mininet\nnet = Mininet()\ntopos = {}\n"),
        ("twice.py", "class T(Topo):\n    def build(self):\n        self.addHost('h1')\n        self.addHost('h-2')\n\ntopos = {'t': lambda: T()}\n"),
        ("runaway.py", "class T(Topo):\n    def build(self):\n        i = 0\n        while True:\n            i += 1\n            self.addHost('h%d' % i)\n\ntopos = {'t': lambda: T()}\n"),
    ]
    .iter()
    .map(|(name, body)| (name.to_string(), format!("{head}{body}")))
    .collect();
    let refs: Vec<(&str, &str)> = files.iter().map(|(n, b)| (n.as_str(), b.as_str())).collect();
    let dir = topologies(&lab, &refs);
    let topos = "minimal, single,N, linear,K[,N], tree,DEPTH[,FANOUT], reversed,N, torus,X,Y[,N], fattree,K";
    let cases: Vec<(&str, &str, String)> = vec![
        ("htb.py", "t", "htb.py:8: addLink('h1', 's1'): unsupported parameter use_htb=True".into()),
        (
            "cpu.py",
            "t",
            "cpu.py:6: addHost('h1'): unsupported parameter cpu=0.5 (use mn --host cfs,cpu=F for every host)".into(),
        ),
        (
            "ovs.py",
            "t",
            "ovs.py:6: addSwitch('s1'): unsupported parameter protocols='OpenFlow13' (mn builds Linux bridges)".into(),
        ),
        ("raises.py", "t,2", "raises.py:8: ValueError: n is too small: 2".into()),
        ("name.py", "t", "name.py:6: NameError: name 'nme' is not defined".into()),
        ("syntax.py", "t", "syntax.py:4: SyntaxError: '{' was never closed".into()),
        ("nolink.py", "t", "nolink.py:7: addLink('h1', 's9'): no node 's9' (add nodes before their links)".into()),
        (
            "runs.py",
            "t",
            "runs.py:5: Mininet(...) is not available under mn --custom: mn reads the file for its topos and builds the network itself".into(),
        ),
        ("twice.py", "t", "twice.py:7: mnnode: \"h-2\": ".into()),
        (
            "runaway.py",
            "t",
            "runaway.py:9: host h10001: the topology would make more than 10000 hosts; the limit is 10000".into(),
        ),
        ("htb.py", "nosuch", format!("mn: --topo nosuch: not a topology of htb.py (t) nor built in ({topos})")),
    ];
    for (file, topo, says) in cases {
        let out = mn_in(&lab, &dir).args(["--custom", file, "--topo", topo, "--test", "build"]).code(1);
        if says.ends_with(": ") {
            out.check(out.stderr.lines().count() == 1 && out.stderr.starts_with(&says), &says);
            nothing_left(&lab);
        } else {
            assert_error(&out, &says);
            out.check(out.stdout.is_empty(), "nothing printed, nothing built");
        }
    }
    let out = mn_in(&lab, &dir).args(["--custom", "nofile.py", "--test", "build"]).code(1);
    assert_error(&out, "mn: --custom nofile.py: not a readable file");
    mn(&lab).arg("-c").ok();
    nothing_left(&lab);
}

#[test]
fn custom_link_delay_jitter_and_loss_reach_netem() {
    if !mn_tests::require("custom_link_delay_jitter_and_loss_reach_netem", mn_tests::Feature::Netem) {
        return;
    }
    let lab = Lab::new();
    let topo = "from mininet.topo import Topo\nfrom mininet.link import TCLink\n\n\
        class Wan(Topo):\n    def build(self, delay='5ms'):\n        a, b = self.addHost('a'), self.addHost('b')\n\
        \x20       s = self.addSwitch('s1')\n        self.addLink(a, s, cls=TCLink, delay=delay, jitter='1ms', loss=1)\n\
        \x20       self.addLink(b, s)\n\ntopos = {'wan': lambda delay='5ms': Wan(delay)}\n";
    let dir = topologies(&lab, &[("wan.py", topo)]);
    let out = mn_in(&lab, &dir)
        .args(["--custom", "wan.py", "--topo", "wan,20ms", "--keep", "--test", "build"])
        .ok();
    out.check(out.stdout.contains("(a, s1) (b, s1)"), "built");
    let list = lab.cmd("mnlink").arg("list").ok().stdout;
    let line = list.lines().find(|l| l.starts_with("a-eth0")).expect("a's link");
    for want in ["delay=20ms", "jitter=1ms", "loss=1%"] {
        assert!(line.contains(want), "{want} in {line}");
    }
    mn(&lab).arg("-c").ok();
    nothing_left(&lab);
}

// --- the launcher options -------------------------------------------------

/// A namespace outside every lab, linked to the root namespace: the
/// "internet" a NAT node reaches. Removed on drop, with the lab's NAT table.
struct Outside {
    ns: String,
    veth: String,
    table: Option<String>,
}

impl Outside {
    fn new(net: &str) -> Outside {
        let ns = mn_tests::unique("mnout");
        let veth = format!("mo{}", std::process::id() % 100_000);
        let o = Outside { ns: ns.clone(), veth: veth.clone(), table: None };
        let sh = format!(
            "ip netns add {ns} && ip link add {veth} type veth peer name out0 netns {ns} && \
             ip addr add {net}.1/24 dev {veth} && ip link set {veth} up && \
             ip -n {ns} addr add {net}.2/24 dev out0 && ip -n {ns} link set out0 up"
        );
        Cmd::new("sh").args(["-c", &sh]).ok();
        o
    }
}

impl Drop for Outside {
    fn drop(&mut self) {
        let _ = Cmd::new("ip").args(["link", "del", &self.veth]).run();
        let _ = Cmd::new("ip").args(["netns", "del", &self.ns]).run();
        if let Some(table) = &self.table {
            let _ = Cmd::new("nft").args(["delete", "table", "ip", table]).run();
        }
    }
}

#[test]
fn nat_gives_hosts_a_way_out_and_goes_with_clean() {
    let lab = Lab::new();
    let mut outside = Outside::new("198.51.100");
    let forward = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").expect("ip_forward");
    // nat0 is a host, the last, as Mininet's addNAT makes it: the CLI lists
    // it and pingall pings it and from it.
    let dir = topologies(&lab, &[("look.cli", "nodes\ndump\nintfs\nnet\npy net.hosts\n")]);
    let out = mn_in(&lab, &dir)
        .args(["--nat", "--topo", "single,2", "--keep", "--pre", "look.cli", "--test", "pingall"])
        .ok();
    out.check(out.stdout.contains("*** Starting NAT nat0 (10.0.0.3/8)"), "the NAT node");
    out.check(out.stdout.contains("available nodes are:\nh1 h2 nat0 s1 \n"), "nodes lists nat0");
    let dump = out.stdout.lines().find(|l| l.starts_with("<NAT nat0: ")).unwrap_or_default();
    out.check(dump.starts_with("<NAT nat0: nat0-eth0:10.0.0.3 pid="), "dump shows nat0 as Mininet");
    out.check(out.stdout.contains("\nnat0: nat0-eth0\n"), "intfs");
    out.check(out.stdout.contains("\nnat0 nat0-eth0:s1-eth3\n"), "net");
    out.check(out.stdout.contains(", <NAT nat0: nat0-eth0:10.0.0.3 pid="), "py net.hosts");
    for line in ["h1 -> h2 nat0", "h2 -> h1 nat0", "nat0 -> h1 h2", "*** Results: 0% dropped (6/6 received)"]
    {
        out.check(out.stdout.lines().any(|l| l == line), line);
    }
    let table = format!("mn-nat-{}", lab.id());
    outside.table = Some(table.clone());
    let route = lab.cmd("mnrun").args(["h2", "ip route show default"]).ok();
    assert_eq!(route.stdout.split_whitespace().take(3).collect::<Vec<_>>(), ["default", "via", "10.0.0.3"]);
    // The outside namespace has no route back to 10/8: only a masqueraded
    // ping is answered.
    let ping = lab.cmd("mnrun").args(["h2", "ping -c1 -W5 198.51.100.2"]).ok();
    ping.check(ping.stdout.contains("1 received"), "h2 reaches the outside through nat0");
    let rules = Cmd::new("nft").args(["list", "table", "ip", &table]).ok();
    rules.check(rules.stdout.contains("masquerade"), "MASQUERADE in the lab's table");
    // One network with --nat at a time: nat0-eth0 lives in the root namespace.
    let other = Lab::new();
    let out = mn(&other).args(["--nat", "--test", "build"]).code(1);
    assert_error(
        &out,
        "mn: --nat: nat0-eth0 already exists in the root namespace (another network's NAT? mn -c removes it)",
    );
    mn(&lab).arg("-c").ok();
    nothing_left(&lab);
    let gone = Cmd::new("nft").args(["list", "table", "ip", &table]).run();
    gone.check(!gone.status.success(), "the table went with mn -c");
    let gone = Cmd::new("ip").args(["link", "show", "nat0-eth0"]).run();
    gone.check(!gone.status.success(), "nat0's end went with mn -c");
    assert_eq!(std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").expect("ip_forward"), forward);
    // Without --keep the teardown removes it all the same.
    let out = mn(&lab).args(["--nat", "--test", "build"]).ok();
    out.check(out.stdout.contains("*** Starting NAT nat0"), "built");
    let gone = Cmd::new("nft").args(["list", "table", "ip", &table]).run();
    gone.check(!gone.status.success(), "the table went with the teardown");
    nothing_left(&lab);
}

#[test]
fn static_arp_pre_and_post_scripts_and_a_cpu_share() {
    let lab = Lab::new();
    let dir = topologies(
        &lab,
        &[
            ("pre.cli", "# before the test\nh1 ip neigh show nud permanent\nh1 echo pre-ran\n"),
            ("post.cli", "sh echo post-ran\n"),
        ],
    );
    let out = mn_in(&lab, &dir)
        .args(["--topo", "single,3", "--arp", "--pre", "pre.cli", "--post", "post.cli"])
        .args(["--host", "cfs,cpu=0.25", "--switch", "lxbr", "--controller", "none", "--wait", "--keep"])
        .args(["--test", "pingall"])
        .ok();
    let text = &out.stdout;
    let at = |s: &str| text.find(s).unwrap_or_else(|| panic!("{s:?} in\n{text}"));
    // --pre's commands ran before the test, --post's after.
    assert!(at("*** Running --pre pre.cli") < at("pre-ran") && at("pre-ran") < at("*** Ping:"));
    assert!(at("*** Results: 0% dropped (6/6 received)") < at("*** Running --post post.cli"));
    assert!(at("*** Running --post post.cli") < at("post-ran"));
    // Every host knows every other's MAC before any ping: 2 permanent entries.
    let permanent: Vec<&str> = text.lines().map(str::trim_end).filter(|l| l.ends_with("PERMANENT")).collect();
    assert_eq!(permanent.len(), 2, "{text}");
    let mac = lab.cmd("mnrun").args(["h2", "cat /sys/class/net/h2-eth0/address"]).ok().stdout;
    assert!(
        permanent.iter().any(|l| l.starts_with("10.0.0.2 dev h1-eth0 lladdr ") && l.contains(mac.trim()))
    );
    // cpu=F is Mininet's share of the whole machine; mnnode's is of one CPU.
    let cores =
        Cmd::new("getconf").arg("_NPROCESSORS_ONLN").ok().stdout.trim().parse::<f64>().expect("cores");
    let record = std::fs::read_to_string(lab.dir.join("h3/node")).expect("h3's record");
    let cpu: f64 =
        record.lines().find_map(|l| l.strip_prefix("cpu=")).expect("a cpu limit").parse().expect("a number");
    assert!((cpu - 0.25 * cores).abs() < 0.001, "cpu={cpu} for {cores} cores");
    mn(&lab).arg("-c").ok();
    // A failed test still runs --post, and keeps its status.
    let dir = topologies(&lab, &[("down.cli", "link s1 h1 down\n")]);
    let out =
        mn_in(&lab, &dir).args(["--pre", "down.cli", "--post", "post.cli", "--test", "pingall"]).code(1);
    out.check(out.stdout.contains("*** Results: 100% dropped (0/2 received)"), "the test failed");
    out.check(out.stdout.contains("post-ran"), "--post ran all the same");
    nothing_left(&lab);
}

#[test]
fn bad_launcher_options_say_one_line_and_make_nothing() {
    let lab = Lab::new();
    let dir = topologies(&lab, &[]);
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["--innamespace"],
            "mn: --innamespace: not supported (every node already has namespaces of its own; there is no control network)",
        ),
        (vec!["--switch", "nox"], "mn: --switch nox: not a switch (lxbr, ovs, ovsk, ovsbr, user)"),
        (
            vec!["--switch", "lxbr,stp=2"],
            "mn: --switch lxbr,stp=2: stp=2: not an option of Linux bridges (stp=0|1)",
        ),
        (
            vec!["--controller", "pox"],
            "mn: --controller pox: not a controller (none, ref, remote[,ip=IP][,port=PORT])",
        ),
        (
            vec!["--host", "rt"],
            "mn: --host rt: real-time scheduling (rt) is not supported (process, cfs[,cpu=F])",
        ),
        (vec!["--host", "vm"], "mn: --host vm: not a host class (process, cfs[,cpu=F])"),
        (
            vec!["--host", "cfs,cpu=2"],
            "mn: --host cfs,cpu=2: cpu=2 is not a fraction of the machine (0 < F <= 1)",
        ),
        (
            vec!["--host", "cfs,cpu=x"],
            "mn: --host cfs,cpu=x: cpu=x is not a fraction of the machine (0 < F <= 1)",
        ),
        (vec!["--host", "cfs,mem=1"], "mn: --host cfs,mem=1: mem=1 is not an option of cfs (cpu=F)"),
        (vec!["--host", "process,cpu=.5"], "mn: --host process,cpu=.5: cpu= needs cfs (--host cfs,cpu=.5)"),
        (vec!["--pre", "nofile"], "mn: --pre nofile: not a readable file"),
        (vec!["--post", "."], "mn: --post .: not a readable file"),
        (vec!["--custom"], "mn: --custom needs a value (see mn --help)"),
        (vec!["--switch="], "mn: --switch needs a value (see mn --help)"),
        (
            vec!["--nat", "--topo", "topo.sh"],
            "mn: --nat: the topology has no switch to attach the NAT node to",
        ),
        (
            vec!["--nat", "--ipbase", "10.0.0.0/30"],
            "mn: --nat: --ipbase 10.0.0.0/30 has no address left for nat0",
        ),
        (vec!["--arp", "extra"], "mn: unknown option extra (see mn --help)"),
    ];
    std::fs::write(dir.join("topo.sh"), "host h1\nhost h2\nlink h1 h2\n").expect("topo.sh");
    for (args, says) in cases {
        let out = mn_in(&lab, &dir).args(["--test", "build"]).args(&args).code(1);
        assert_error(&out, says);
        out.check(out.stdout.is_empty(), "nothing printed, nothing built");
    }
    nothing_made(&lab);
}

#[test]
fn help_and_man_page_document_the_new_options_and_topologies() {
    let lab = Lab::new();
    let help = mn(&lab).arg("--help").ok().stdout;
    let man = std::fs::read_to_string(mn_tests::repo().join("man/mn.1")).expect("man/mn.1");
    for option in [
        "--custom",
        "--switch",
        "--controller",
        "--host",
        "--nat",
        "--arp",
        "--pre",
        "--post",
        "--wait",
        "--innamespace",
        "reversed,N",
        "torus,X,Y[,N]",
        "fattree,K",
    ] {
        assert!(help.contains(option), "--help documents {option}:\n{help}");
        let roff = option.replace('-', "\\-").replace(",N", ",\\fR\\fIN").replace(",X", ",\\fR\\fIX");
        let bare = option.split([',', '[']).next().unwrap_or(option).replace('-', "\\-");
        assert!(man.contains(&roff) || man.contains(&format!("\\fB{bare}")), "mn(1) documents {option}");
    }
}

#[test]
fn switch_lxbr_stp_1_turns_on_a_quick_spanning_tree() {
    let lab = Lab::new();
    let out =
        mn(&lab).args(["--switch", "lxbr,stp=1", "--topo", "linear,2", "--keep", "--test", "pingall"]).ok();
    out.check(
        out.stdout.contains("*** Waiting for the spanning tree to settle on 2 switches\n0 ports blocked\n"),
        "STP",
    );
    out.check(out.stdout.contains("*** Results: 0% dropped (2/2 received)"), "a working network");
    // The kernel's STP, with the shortest forward delay it allows (2 s, in
    // hundredths) and hellos every second.
    let bridge = lab
        .cmd("mnrun")
        .args(["s2", "cd /sys/class/net/s2/bridge && cat stp_state forward_delay hello_time"])
        .ok();
    assert_eq!(bridge.stdout.split_whitespace().collect::<Vec<_>>(), ["1", "200", "100"]);
    mn(&lab).arg("-c").ok();
    nothing_left(&lab);
}
