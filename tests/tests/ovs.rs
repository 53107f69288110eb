//! Open vSwitch switch nodes (`mnnode add --kind ovs`): the lab's own
//! ovsdb-server and ovs-vswitchd in a namespace of the lab's, ports made by
//! mnlink, bad input, a killed vswitchd, labs side by side, fail modes.
//! The userspace datapath (all this machine's kernel allows); the kernel
//! datapath runs in the VM leg (ovs_kernel.rs).
use mn_tests::{Lab, alive, assert_error, bin_dir, eventually, mnlink, netns_entries, pids_in_ns, skip};
use std::path::Path;
use std::time::Duration;

/// Whether Open vSwitch is installed; says why the test is skipped if not.
fn have_ovs(test: &str) -> bool {
    let found = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .chain([Path::new("/usr/sbin").to_path_buf()])
        .any(|d| d.join("ovs-vswitchd").is_file());
    if !found {
        skip(test, "Open vSwitch is not installed (scripts/setup --dev installs openvswitch-switch)");
    }
    found
}

/// A lab with OVS switches (`add` args after --kind ovs) and hosts h1, h2
/// with 10.0.0.1 and .2, h1 on s1-eth1 and h2 on the last switch's eth2.
fn two_hosts(lab: &Lab, add: &[&str], switches: &[&str]) {
    lab.cmd("mnnode").args(["add", "--kind", "ovs"]).args(add).args(switches).ok();
    lab.cmd("mnnode").args(["add", "h1", "h2"]).ok();
    let last = switches[switches.len() - 1];
    mnlink(lab, &["add", "h1-eth0", &format!("{}-eth1", switches[0])]);
    mnlink(lab, &["add", "h2-eth0", &format!("{last}-eth2")]);
    for pair in switches.windows(2) {
        mnlink(lab, &["add", &format!("{}-eth3", pair[0]), &format!("{}-eth3", pair[1])]);
    }
    mnlink(lab, &["addr", "h1-eth0", "10.0.0.1/24"]);
    mnlink(lab, &["addr", "h2-eth0", "10.0.0.2/24"]);
}

fn ping(lab: &Lab) -> bool {
    lab.cmd("mnrun").args(["h1", "ping -c1 -W1 10.0.0.2"]).run().status.success()
}

/// The OVS namespace's inode, from the lab's record of it.
fn ovs_netns(lab: &Lab) -> u64 {
    std::fs::read_to_string(lab.dir.join(".ovs/netns"))
        .expect("the OVS namespace's record")
        .trim()
        .parse()
        .unwrap()
}

fn vswitchd(lab: &Lab) -> i32 {
    std::fs::read_to_string(lab.dir.join(".ovs/ovs-vswitchd.pid"))
        .expect("vswitchd's pid file")
        .trim()
        .parse()
        .unwrap()
}

/// Nothing of the lab's OVS is left: no directory, entry or process.
fn no_ovs_left(lab: &Lab, ns: u64) {
    assert!(!lab.dir.join(".ovs").exists(), "the OVS directory is left");
    let entries = netns_entries(lab);
    assert!(!entries.iter().any(|e| e.ends_with("-.ovs")), "the OVS namespace's entry is left: {entries:?}");
    assert!(
        eventually(Duration::from_secs(5), || pids_in_ns("net", ns).is_empty()),
        "processes left in the OVS namespace: {:?}",
        pids_in_ns("net", ns)
    );
}

#[test]
fn ovs_switch_forwards_and_its_tools_work_as_typed() {
    if !have_ovs("ovs_switch_forwards_and_its_tools_work_as_typed") {
        return;
    }
    let lab = Lab::new();
    two_hosts(&lab, &["--datapath", "user"], &["s1", "s2"]);
    assert!(eventually(Duration::from_secs(10), || ping(&lab)), "h1 reaches h2 through two OVS switches");
    let show = lab.cmd("mnrun").args(["s1", "ovs-vsctl show"]).ok();
    show.check(show.stdout.contains("Bridge s1") && show.stdout.contains("Bridge s2"), "both bridges");
    show.check(show.stdout.contains("datapath_type: netdev"), "the userspace datapath");
    show.check(show.stdout.contains("fail_mode: standalone"), "standalone without a controller");
    let ports = lab.cmd("mnrun").args(["s1", "ovs-ofctl show s1"]).ok();
    ports.check(
        ports.stdout.contains(" 1(s1-eth1)") && ports.stdout.contains(" 3(s1-eth3)"),
        "OpenFlow port numbers from the interface names",
    );
    let flows = lab.cmd("mnrun").args(["s2", "ovs-ofctl dump-flows s2"]).ok();
    flows.check(flows.stdout.contains("actions=NORMAL"), "a standalone bridge's NORMAL flow");
    for (s, dpid) in [("s1", "0000000000000001"), ("s2", "0000000000000002")] {
        let out =
            lab.cmd("mnrun").args([s, &format!("ovs-vsctl get bridge {s} other-config:datapath-id")]).ok();
        assert_eq!(out.stdout.trim(), format!("\"{dpid}\""), "{s}'s datapath id");
    }
    let list = lab.cmd("mnnode").arg("list").ok();
    list.check(
        list.stdout.lines().any(|l| l.starts_with("s1 ") && l.contains(" ovs ") && l.ends_with("running")),
        "s1 listed",
    );

    // A link's end on a switch is its port: deleting the link removes it.
    mnlink(&lab, &["del", "s2-eth2"]);
    let ports = lab.cmd("mnrun").args(["s2", "ovs-vsctl list-ports s2"]).ok();
    assert_eq!(
        ports.stdout.split_whitespace().collect::<Vec<_>>(),
        ["s2-eth3"],
        "s2-eth2 left OVS with its link"
    );

    // The last switch takes the lab's OVS with it; the hosts stay.
    let ns = ovs_netns(&lab);
    let daemon = vswitchd(&lab);
    lab.cmd("mnnode").args(["del", "s1"]).ok();
    assert!(alive(daemon), "OVS stays while s2 is there");
    let s2 = lab.cmd("mnrun").args(["s2", "ovs-vsctl list-br; ip -o link show s2-eth3"]).run();
    s2.check(s2.stdout.trim() == "s2", "s2's bridge is the only one, and s1's link went with s1");
    lab.cmd("mnnode").args(["del", "s2"]).ok();
    no_ovs_left(&lab, ns);
    let h1 = lab.cmd("mnrun").args(["h1", "ls /sys/class/net"]).ok();
    assert_eq!(h1.stdout.split_whitespace().collect::<Vec<_>>(), ["lo"], "h1's link went with its switch");
}

#[test]
fn bad_input_is_refused_in_one_line_and_nothing_is_made() {
    if !have_ovs("bad_input_is_refused_in_one_line_and_nothing_is_made") {
        return;
    }
    let lab = Lab::new();
    let refused = |args: &[&str], line: &str| {
        let out = lab.cmd("mnnode").args(["add"]).args(args).code(1);
        assert_error(&out, &format!("mnnode: {line}"));
    };
    // Without Open vSwitch in PATH: the package is named, nothing made.
    let out = lab.cmd("mnnode").env("PATH", bin_dir()).args(["add", "--kind", "ovs", "s1"]).code(1);
    assert_error(
        &out,
        "mnnode: ovs-vswitchd not found: OVS switches need Open vSwitch (Debian package: openvswitch-switch)",
    );
    assert!(!lab.dir.exists(), "no MN_DIR made");
    refused(
        &["--kind", "ovs", "--protocols", "OpenFlow13,OpenFlow99", "s1"],
        "--protocols OpenFlow13,OpenFlow99: \"OpenFlow99\" is not an OpenFlow version \
         (OpenFlow10, OpenFlow11, OpenFlow12, OpenFlow13, OpenFlow14, OpenFlow15)",
    );
    for bad in ["127.0.0.1:6653", "tcp:127.0.0.1:99999", "tcp:localhost", "ssl:10.0.0.1:6653"] {
        refused(
            &["--kind", "ovs", "--controller", bad, "s1"],
            &format!("--controller {bad}: not a controller (tcp:IP[:PORT], unix:PATH or ref)"),
        );
    }
    refused(
        &["--kind", "ovs", "--listen", "tcp:6634", "s1"],
        "--listen tcp:6634: not a listening address (ptcp:PORT or ptcp:PORT:IP)",
    );
    refused(&["--kind", "ovs", "--dpid", "xyz", "s1"], "--dpid xyz: not a datapath id (1 to 16 hex digits)");
    refused(
        &["--kind", "ovs", "--dpid", "12345678901234567", "s1"],
        "--dpid 12345678901234567: not a datapath id (1 to 16 hex digits)",
    );
    refused(&["--kind", "ovs", "--dpid", "0", "s1"], "--dpid 0: a datapath id cannot be zero");
    refused(
        &["--kind", "ovs", "sw"],
        "sw: no number in the name to derive a datapath id from (as s1 has); give --dpid",
    );
    refused(
        &["--kind", "ovs", "s1", "sw1"],
        "sw1: datapath id 0000000000000001 is s1's too; give one of them --dpid",
    );
    refused(
        &["--kind", "ovs", "--dpid", "5", "s1", "s2"],
        "--dpid names one switch's datapath id; add the switches one by one",
    );
    refused(&["--dpid", "1", "s1"], "--dpid is for OVS switches (--kind ovs)");
    refused(
        &["--kind", "switch", "--controller", "ref", "s1"],
        "--controller is for OVS switches (--kind ovs)",
    );
    refused(
        &["--kind", "ovs", "--root", "s1"],
        "an OVS switch lives in the lab's OVS namespace; --root is not for --kind ovs",
    );
    assert!(!lab.dir.exists(), "no MN_DIR made for bad input");

    // A port in use: found before anything is made.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let port = taken.local_addr().unwrap().port();
    refused(
        &["--kind", "ovs", "--listen", &format!("ptcp:{port}"), "s1"],
        &format!("s1: --listen ptcp:{port}: 127.0.0.1:{port}: Address already in use"),
    );
    assert!(!lab.dir.join(".ovs").exists(), "no OVS started for a refused switch");
    assert!(netns_entries(&lab).is_empty(), "nothing in ip netns: {:?}", netns_entries(&lab));
    let list = lab.cmd("mnnode").arg("list").ok();
    assert_eq!(list.stdout.lines().count(), 1, "no node");

    // A datapath id another switch of the lab has.
    lab.cmd("mnnode").args(["add", "--kind", "ovs", "s1"]).ok();
    refused(
        &["--kind", "ovs", "--dpid", "0x1", "s7"],
        "s7: datapath id 0000000000000001 is s1's already; give --dpid",
    );
    let brs = lab.cmd("mnrun").args(["s1", "ovs-vsctl list-br"]).ok();
    assert_eq!(brs.stdout.trim(), "s1", "no bridge for the refused switch");
    assert!(!lab.dir.join("s7").exists(), "no node s7");

    // --listen makes ovs-ofctl reach the switch over TCP from here.
    let free = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let port = free.local_addr().unwrap().port();
    drop(free);
    lab.cmd("mnnode").args(["add", "--kind", "ovs", "--listen", &format!("ptcp:{port}"), "s8"]).ok();
    let flows = lab.cmd("ovs-ofctl").args(["dump-flows", &format!("tcp:127.0.0.1:{port}")]).ok();
    flows.check(flows.stdout.contains("actions=NORMAL"), "s8's flows over its --listen port");
}

#[test]
fn killed_vswitchd_shows_switches_down_and_clean_removes_everything() {
    if !have_ovs("killed_vswitchd_shows_switches_down_and_clean_removes_everything") {
        return;
    }
    let lab = Lab::new();
    two_hosts(&lab, &["--controller", "ref"], &["s1"]);
    assert!(eventually(Duration::from_secs(10), || ping(&lab)), "h1 reaches h2 through the ref controller");
    let ns = ovs_netns(&lab);
    let daemon = vswitchd(&lab);
    // SAFETY: a signal to the lab's own vswitchd.
    unsafe { libc::kill(daemon, libc::SIGKILL) };
    assert!(eventually(Duration::from_secs(5), || !alive(daemon)), "vswitchd died");
    let list = lab.cmd("mnnode").arg("list").ok();
    list.check(list.stdout.lines().any(|l| l.starts_with("s1 ") && l.ends_with(" down")), "s1 listed down");
    list.check(
        list.stdout.lines().any(|l| l.starts_with("h1 ") && l.ends_with(" running")),
        "h1 still running",
    );
    let out = lab.cmd("mnnode").args(["add", "--kind", "ovs", "s2"]).code(1);
    assert_error(
        &out,
        "mnnode: the lab's ovs-vswitchd is not running (killed?); mnnode clean removes the lab",
    );
    let json = lab.cmd("mnnode").args(["list", "--json"]).ok();
    json.check(json.stdout.contains("\"state\":\"down\""), "down in JSON too");
    let clean = lab.cmd("mnnode").args(["clean", "-v"]).ok();
    clean.check(clean.stdout.contains("removed ovs s1"), "clean says it removed s1");
    no_ovs_left(&lab, ns);
    assert!(netns_entries(&lab).is_empty(), "entries left: {:?}", netns_entries(&lab));
}

#[test]
fn two_labs_never_see_each_others_bridges_flows_or_databases() {
    if !have_ovs("two_labs_never_see_each_others_bridges_flows_or_databases") {
        return;
    }
    let a = Lab::new();
    let b = Lab::new();
    two_hosts(&a, &[], &["s1"]);
    two_hosts(&b, &[], &["s1"]);
    a.cmd("mnrun").args(["s1", "ovs-ofctl add-flow s1 priority=999,ip,nw_dst=10.9.9.9,actions=drop"]).ok();
    for (lab, mine) in [(&a, true), (&b, false)] {
        let brs = lab.cmd("mnrun").args(["s1", "ovs-vsctl list-br"]).ok();
        assert_eq!(brs.stdout.trim(), "s1");
        let flows = lab.cmd("mnrun").args(["s1", "ovs-ofctl dump-flows s1"]).ok();
        assert_eq!(flows.stdout.contains("10.9.9.9"), mine, "only lab a has its flow: {}", flows.stdout);
        let db = lab.cmd("mnrun").args(["s1", "echo $OVS_RUNDIR"]).ok();
        assert_eq!(Path::new(db.stdout.trim()), lab.dir.join(".ovs"), "the lab's own OVS directory");
        assert!(eventually(Duration::from_secs(10), || ping(lab)), "each lab forwards on its own");
    }
    assert_ne!(ovs_netns(&a), ovs_netns(&b), "each lab's OVS has a namespace of its own");
    let ns = ovs_netns(&a);
    a.cmd("mnnode").arg("clean").ok();
    no_ovs_left(&a, ns);
    let brs = b.cmd("mnrun").args(["s1", "ovs-vsctl list-br"]).ok();
    assert_eq!(brs.stdout.trim(), "s1", "lab b's OVS outlives lab a's clean");
    assert!(ping(&b) || eventually(Duration::from_secs(5), || ping(&b)), "lab b still forwards");
}

#[test]
fn controller_down_secure_drops_and_standalone_forwards() {
    if !have_ovs("controller_down_secure_drops_and_standalone_forwards") {
        return;
    }
    // A port nothing listens on.
    let free = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let target = format!("tcp:127.0.0.1:{}", free.local_addr().unwrap().port());
    drop(free);
    let secure = Lab::new();
    two_hosts(&secure, &["--fail-mode", "secure", "--controller", &target], &["s1"]);
    let standalone = Lab::new();
    two_hosts(&standalone, &["--fail-mode", "standalone", "--controller", &target], &["s1"]);
    // Standalone takes over once the controller has been unreachable for
    // three probe intervals (about 15 s).
    assert!(
        eventually(Duration::from_secs(60), || ping(&standalone)),
        "standalone forwards without its controller"
    );
    for _ in 0..3 {
        assert!(!ping(&secure), "secure forwards nothing without its controller");
    }
    let show = secure.cmd("mnrun").args(["s1", "ovs-vsctl show"]).ok();
    show.check(show.stdout.contains("fail_mode: secure"), "secure");
    show.check(
        show.stdout.contains(&format!("tcp-127.0.0.1-{}.sock", &target[14..])),
        "the relay's socket as the controller",
    );
}

#[test]
fn tcp_crosses_a_userspace_switch() {
    if !have_ovs("tcp_crosses_a_userspace_switch") {
        return;
    }
    // The userspace datapath sends frames on as it read them: the hosts'
    // ends compute their own checksums, or TCP never gets through.
    let lab = Lab::new();
    two_hosts(&lab, &["--datapath", "user"], &["s1"]);
    // A loaded machine drops frames in the userspace datapath (iperf3
    // shows retransmissions): a stalled run is tried again, bounded.
    let mut received = 0.0;
    for port in 5201..5204 {
        lab.cmd("mnrun").args(["h2", &format!("iperf3 -s -1 -p {port} >/dev/null 2>&1 &")]).ok();
        let listening =
            || lab.cmd("mnrun").args(["h2", &format!("ss -ltn | grep -q ':{port} '")]).run().status.success();
        assert!(eventually(Duration::from_secs(10), listening), "iperf3 listens");
        let out =
            lab.cmd("mnrun").args(["h1", &format!("timeout 20 iperf3 -c 10.0.0.2 -p {port} -t 1 -J")]).run();
        let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap_or_default();
        received = json["end"]["sum_received"]["bytes"].as_f64().unwrap_or(0.0);
        if received > 0.0 {
            break;
        }
    }
    assert!(received > 0.0, "TCP data crossed the userspace datapath");
    let csum = lab
        .cmd("mnrun")
        .args(["h1", "ethtool -k h1-eth0 2>/dev/null | grep '^tx-checksumming' || true"])
        .ok();
    assert!(!csum.stdout.contains(": on"), "h1's end computes its own checksums: {}", csum.stdout);
}

/// A batch makes its OVS ports in one transaction, yet still stops at its
/// first failing line: the lines before it are done (ports made), it and
/// the lines after it are not (no pair left, no port).
#[test]
fn a_batch_makes_its_ports_together_and_stops_at_the_failing_line() {
    if !have_ovs("a_batch_makes_its_ports_together_and_stops_at_the_failing_line") {
        return;
    }
    let lab = Lab::new();
    lab.cmd("mnnode").args(["add", "--kind", "ovs", "--datapath", "user", "s1", "s2"]).ok();
    lab.cmd("mnnode").args(["add", "h1", "h2", "h3", "h4"]).ok();
    // A port named s1-eth5 on s2 in the database: OVS refuses another
    // port of that name, and only OVS can tell.
    lab.cmd("mnrun").args(["s2", "ovs-vsctl add-port s2 s1-eth5"]).ok();
    let batch =
        "add h1-eth0 s1-eth1\nadd h2-eth0 s1-eth2\n# a comment\nadd h3-eth0 s1-eth5\nadd h4-eth0 s1-eth4\n";
    let out = lab.cmd("mnlink").args(["-b", "-"]).stdin(batch).fails();
    out.check(out.stderr.starts_with("mnlink: line 4: "), "the failing line is named");
    out.check(out.stderr.contains("s1-eth5") && out.stderr.lines().count() == 1, "one line naming the port");
    let ports = lab.cmd("mnrun").args(["s1", "ovs-vsctl list-ports s1"]).ok();
    assert_eq!(
        ports.stdout.split_whitespace().collect::<Vec<_>>(),
        ["s1-eth1", "s1-eth2"],
        "the lines before the failing one made their ports, it and the next did not"
    );
    let links = lab.cmd("mnlink").arg("list").ok();
    for (end, made) in [("h1-eth0", true), ("h2-eth0", true), ("h3-eth0", false), ("h4-eth0", false)] {
        assert_eq!(links.stdout.contains(end), made, "{end} in mnlink list:\n{}", links.stdout);
    }

    // The same batch without the clash makes every port, numbered.
    lab.cmd("mnrun").args(["s2", "ovs-vsctl del-port s2 s1-eth5"]).ok();
    let rest =
        "add h3-eth0 s1-eth5\nadd h4-eth0 s1-eth4\naddr h3-eth0 10.0.0.3/24\naddr h4-eth0 10.0.0.4/24\n";
    lab.cmd("mnlink").args(["-b", "-"]).stdin(rest).ok();
    let ports = lab.cmd("mnrun").args(["s1", "ovs-ofctl show s1"]).ok();
    ports
        .check(ports.stdout.contains(" 5(s1-eth5)") && ports.stdout.contains(" 4(s1-eth4)"), "ports 4 and 5");
    assert!(
        eventually(Duration::from_secs(10), || {
            lab.cmd("mnrun").args(["h3", "ping -c1 -W1 10.0.0.4"]).run().status.success()
        }),
        "h3 reaches h4 through the ports the batch made"
    );
}

/// The pid column of a node in `mnnode list`.
fn listed_pid(lab: &Lab, node: &str) -> String {
    let list = lab.cmd("mnnode").arg("list").ok();
    let line = list.stdout.lines().find(|l| l.split_whitespace().next() == Some(node));
    line.and_then(|l| l.split_whitespace().nth(2))
        .unwrap_or_else(|| panic!("{node} listed: {}", list.stdout))
        .into()
}

#[test]
fn lazy_switches_forward_before_their_shells_start() {
    if !have_ovs("lazy_switches_forward_before_their_shells_start") {
        return;
    }
    let lab = Lab::new();
    two_hosts(&lab, &["--lazy", "--datapath", "user"], &["s1", "s2"]);
    assert!(
        eventually(Duration::from_secs(10), || ping(&lab)),
        "h1 reaches h2 through two lazy OVS switches"
    );
    assert_eq!(listed_pid(&lab, "s1"), "-", "s1 forwards without a shell");
    assert_eq!(listed_pid(&lab, "s2"), "-", "s2 forwards without a shell");
    let ns = ovs_netns(&lab);
    let entries = netns_entries(&lab);
    assert!(entries.iter().any(|e| e.ends_with("-s1")), "s1's entry: {entries:?}");

    // The first mnrun starts s1's shell, in the lab's OVS namespace.
    let ports = lab.cmd("mnrun").args(["s1", "ovs-ofctl show s1; echo shell=$$"]).ok();
    ports.check(ports.stdout.contains(" 1(s1-eth1)"), "s1's ports from its first shell");
    let shell: i32 = ports.stdout.lines().find_map(|l| l.strip_prefix("shell=")).unwrap().parse().unwrap();
    assert_eq!(listed_pid(&lab, "s1"), shell.to_string(), "s1's shell recorded");
    assert_eq!(mn_tests::ns_inode(shell, "net"), Some(ns), "s1's shell is in the OVS namespace");
    let pid = lab.cmd("mnnode").args(["pid", "s2"]).ok();
    assert_eq!(pid.stdout.trim(), listed_pid(&lab, "s2"), "mnnode pid starts s2's shell");

    // A switch that cannot be made leaves no bridge behind (the bridges
    // are made while the nodes are).
    let out = lab
        .cmd("mnnode")
        .args(["add", "--kind", "ovs", "--lazy", "--dpid", "00000000000000aa", "h1"])
        .code(1);
    out.check(out.stderr.starts_with("mnnode: h1: a node of that name exists in "), "h1 is taken");
    let bridges = lab.cmd("mnrun").args(["s2", "ovs-vsctl list-br"]).ok();
    assert_eq!(bridges.stdout.split_whitespace().collect::<Vec<_>>(), ["s1", "s2"], "no bridge h1 left");

    // Deleting a lazy switch ends neither OVS nor the other switch.
    lab.cmd("mnnode").args(["del", "s1"]).ok();
    let daemon = vswitchd(&lab);
    assert!(alive(daemon), "OVS stays while s2 is there");
    let bridges = lab.cmd("mnrun").args(["s2", "ovs-vsctl list-br"]).ok();
    assert_eq!(bridges.stdout.trim(), "s2", "s1's bridge went with it");
    lab.cmd("mnnode").arg("clean").ok();
    no_ovs_left(&lab, ns);
    assert!(netns_entries(&lab).is_empty(), "entries left: {:?}", netns_entries(&lab));
}

/// A failed add of OVS switches undoes only what it made: the lab's new
/// OVS, not an existing node it named (this used to remove h9).
#[test]
fn a_lazy_switch_that_cannot_be_made_takes_the_labs_new_ovs_with_it() {
    if !have_ovs("a_lazy_switch_that_cannot_be_made_takes_the_labs_new_ovs_with_it") {
        return;
    }
    let lab = Lab::new();
    lab.cmd("mnnode").args(["add", "--lazy", "h9"]).ok();
    let out =
        lab.cmd("mnnode").args(["add", "--kind", "ovs", "--lazy", "--datapath", "user", "s1", "h9"]).code(1);
    out.check(out.stderr.starts_with("mnnode: h9: a node of that name exists in "), "h9 is taken");
    assert!(!lab.dir.join(".ovs").exists(), "the lab's OVS went with the failed call");
    assert!(lab.cmd("mnnode").args(["pid", "s1"]).run().status.code() == Some(1), "no s1");
    let entries = netns_entries(&lab);
    assert_eq!(entries, [format!("{}-h9", lab.name())], "h9's entry is kept, and only it");
    let h9 = lab.cmd("mnrun").args(["h9", "echo here"]).ok();
    assert_eq!(h9.stdout, "here\n", "h9 still works");
}
