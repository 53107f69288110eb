//! scripts/mn as a Mininet user drives it: the torus, reversed and fattree
//! topologies.
use mn_tests::{Cmd, Lab, assert_error, mn, netns_entries, nothing_left, topologies};

fn mn_in(lab: &Lab, dir: &std::path::Path) -> Cmd {
    let mut cmd = mn(lab);
    cmd.command().current_dir(dir);
    cmd
}

/// Nothing was made: no lab contents, no ip netns entries.
fn nothing_made(lab: &Lab) {
    let entries = std::fs::read_dir(&lab.dir).map(|d| d.count()).unwrap_or(0);
    assert_eq!(entries, 0, "nothing in {}", lab.dir.display());
    assert!(netns_entries(lab).is_empty(), "ip netns entries: {:?}", netns_entries(lab));
}

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
