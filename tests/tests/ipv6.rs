//! IPv6 and jumbo frames across a switch: hosts with link-local addresses
//! on request (`mnnode add --ipv6-ll`), a v6 address per host, `ping -6`;
//! `mnlink add --mtu 9000` and a ping of a full 9000-byte packet that must
//! not fragment. Nothing special is needed from the kernel: these run in
//! both legs (the host's and tests/vm/run's).
use mn_tests::{Lab, eventually};
use std::time::Duration;

/// h1 and h2 behind switch s1, with `host_args` given to `mnnode add` and
/// `link_args` to both `mnlink add`.
fn two_hosts_one_switch(host_args: &[&str], link_args: &[&str]) -> Lab {
    let lab = Lab::new();
    lab.cmd("mnnode").arg("add").args(host_args).args(["h1", "h2"]).ok();
    lab.cmd("mnnode").args(["add", "--kind", "switch", "s1"]).ok();
    lab.cmd("mnlink").args(["add", "h1-eth0", "s1-eth1"]).args(link_args).ok();
    lab.cmd("mnlink").args(["add", "h2-eth0", "s1-eth2"]).args(link_args).ok();
    lab
}

/// A node's IPv6 addresses on an interface of scope `scope`, as `ip` shows
/// them (with flags such as `tentative`).
fn v6_lines(lab: &Lab, node: &str, ifname: &str, scope: &str) -> Vec<String> {
    let out = lab.cmd("mnrun").args([node, &format!("ip -6 -o addr show dev {ifname} scope {scope}")]).ok();
    out.stdout.lines().map(String::from).collect()
}

/// The address of an `ip -o addr` line, without its prefix length.
fn address(line: &str) -> String {
    let cidr = line.split_whitespace().skip_while(|w| *w != "inet6").nth(1).expect("an inet6 address");
    cidr.split('/').next().expect("an address").to_string()
}

#[test]
fn ping6_across_a_switch_link_local_and_global() {
    let lab = two_hosts_one_switch(&["--ipv6-ll"], &[]);
    // Link-local addresses come up once duplicate address detection ends.
    let mut ll = [String::new(), String::new()];
    for (i, (node, ifname)) in [("h1", "h1-eth0"), ("h2", "h2-eth0")].into_iter().enumerate() {
        assert!(
            eventually(Duration::from_secs(20), || {
                let lines = v6_lines(&lab, node, ifname, "link");
                lines.len() == 1 && !lines[0].contains("tentative")
            }),
            "{node}: one usable link-local address: {:?}",
            v6_lines(&lab, node, ifname, "link")
        );
        ll[i] = address(&v6_lines(&lab, node, ifname, "link")[0]);
        assert!(ll[i].starts_with("fe80::"), "{node}: {}", ll[i]);
    }
    let out = lab.cmd("mnrun").args(["h1", &format!("ping -6 -c2 -W5 {}%h1-eth0", ll[1])]).run();
    out.check(
        out.status.success() && out.stdout.contains(" 0% packet loss"),
        "h1 reaches h2's link-local address",
    );

    lab.cmd("mnlink").args(["addr", "h1-eth0", "fd00::1/64"]).ok();
    lab.cmd("mnlink").args(["addr", "h2-eth0", "fd00::2/64"]).ok();
    assert_eq!(
        v6_lines(&lab, "h2", "h2-eth0", "global").iter().map(|l| address(l)).collect::<Vec<_>>(),
        ["fd00::2"]
    );
    let out = lab.cmd("mnrun").args(["h1", "ping -6 -c2 -W5 fd00::2"]).run();
    out.check(out.status.success() && out.stdout.contains(" 0% packet loss"), "h1 reaches fd00::2 across s1");
    let out = lab.cmd("mnrun").args(["h2", "ping -6 -c2 -W5 fd00::1"]).run();
    out.check(out.status.success() && out.stdout.contains(" 0% packet loss"), "and back");
}

#[test]
fn hosts_have_no_link_local_address_unless_asked() {
    let lab = two_hosts_one_switch(&[], &[]);
    assert_eq!(v6_lines(&lab, "h1", "h1-eth0", "link"), Vec::<String>::new(), "no fe80:: on h1-eth0");
    // Asked-for addresses work all the same, at once.
    lab.cmd("mnlink").args(["addr", "h1-eth0", "fd00::1/64"]).ok();
    lab.cmd("mnlink").args(["addr", "h2-eth0", "fd00::2/64"]).ok();
    let out = lab.cmd("mnrun").args(["h1", "ping -6 -c1 -W5 fd00::2"]).run();
    out.check(out.status.success(), "h1 reaches fd00::2 across s1");
}

#[test]
fn jumbo_frames_cross_a_switch_with_mtu_9000() {
    let lab = two_hosts_one_switch(&[], &["--mtu", "9000"]);
    for (node, ifname) in [("h1", "h1-eth0"), ("s1", "s1-eth1"), ("s1", "s1-eth2"), ("h2", "h2-eth0")] {
        assert_eq!(lab.read_in(node, &format!("/sys/class/net/{ifname}/mtu")), "9000", "{node}:{ifname}");
    }
    for (end, addr) in [
        ("h1-eth0", "10.0.0.1/24"),
        ("h2-eth0", "10.0.0.2/24"),
        ("h1-eth0", "fd00::1/64"),
        ("h2-eth0", "fd00::2/64"),
    ] {
        lab.cmd("mnlink").args(["addr", end, addr]).ok();
    }
    // 8972 bytes of ICMP payload + 8 of ICMP header + 20 of IPv4 header =
    // 9000, with fragmentation forbidden (-M do); for IPv6 the header is 40.
    let out = lab.cmd("mnrun").args(["h1", "ping -c2 -W5 -s 8972 -M do 10.0.0.2"]).run();
    out.check(
        out.status.success() && out.stdout.contains("8980 bytes from 10.0.0.2"),
        "a 9000-byte IPv4 packet",
    );
    let out = lab.cmd("mnrun").args(["h1", "ping -6 -c2 -W5 -s 8952 -M do fd00::2"]).run();
    out.check(
        out.status.success() && out.stdout.contains("8960 bytes from fd00::2"),
        "a 9000-byte IPv6 packet",
    );
    // One byte more does not fit, and is not fragmented.
    let out = lab.cmd("mnrun").args(["h1", "ping -c1 -W5 -s 8973 -M do 10.0.0.2"]).run();
    out.check(
        !out.status.success() && out.stderr.contains("mtu=9000"),
        "9001 bytes refused at h1 (mtu=9000)",
    );
}

#[test]
fn default_mtu_refuses_jumbo_frames() {
    let lab = two_hosts_one_switch(&[], &[]);
    assert_eq!(lab.read_in("h1", "/sys/class/net/h1-eth0/mtu"), "1500");
    lab.cmd("mnlink").args(["addr", "h1-eth0", "10.0.0.1/24"]).ok();
    lab.cmd("mnlink").args(["addr", "h2-eth0", "10.0.0.2/24"]).ok();
    let out = lab.cmd("mnrun").args(["h1", "ping -c1 -W5 -s 1472 -M do 10.0.0.2"]).run();
    out.check(out.status.success(), "a full 1500-byte packet");
    let out = lab.cmd("mnrun").args(["h1", "ping -c1 -W5 -s 8972 -M do 10.0.0.2"]).run();
    out.check(
        !out.status.success() && out.stderr.contains("mtu=1500"),
        "a 9000-byte packet refused (mtu=1500)",
    );
}
