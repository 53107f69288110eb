//! Labs bigger than the limits they run into: descriptors, pids, bridge
//! ports, neighbour tables. Each limit is proved at a small scale by
//! lowering it for the tool under test (prlimit, a pid namespace of the
//! test's own) rather than by building thousands of nodes.
use mn_tests::{Lab, lab_with};

/// Hosts h1..hN with a unique prefix.
fn hosts(prefix: &str, count: usize) -> Vec<String> {
    (1..=count).map(|i| format!("{prefix}{i}")).collect()
}

#[test]
fn a_batch_over_more_nodes_than_descriptors_needs_no_descriptor_per_node() {
    let names = hosts("fd", 60);
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let lab = lab_with(&refs, &["fdsw"]);
    let batch: String =
        names.iter().enumerate().map(|(i, h)| format!("add {h}-eth0 fdsw-eth{}\n", i + 1)).collect();
    // 40 descriptors, soft and hard: far fewer than the 61 nodes the batch
    // visits, so mnlink must close what it no longer needs.
    lab.cmd("prlimit")
        .args(["--nofile=40:40", "--"])
        .arg(mn_tests::bin("mnlink"))
        .args(["-b", "-"])
        .stdin(batch)
        .ok();
    let ports = lab.read_in("fdsw", "/sys/class/net/fdsw/bridge/../brif/fdsw-eth60/state");
    assert!(!ports.is_empty(), "the 60th port is on the bridge");
    let out = lab
        .cmd("mnexec")
        .args(["-a", &lab.node_pid("fdsw").to_string(), "ls", "/sys/class/net/fdsw/brif"])
        .ok();
    assert_eq!(out.stdout.split_whitespace().count(), 60, "every host's link is a port: {}", out.stdout);
}

#[test]
fn an_add_of_more_nodes_than_descriptors_holds_none_per_node() {
    let lab = Lab::new();
    let names = hosts("fa", 150);
    // 100 descriptors, soft and hard (node shells need 64 of their own).
    lab.cmd("prlimit")
        .args(["--nofile=100:100", "--"])
        .arg(mn_tests::bin("mnnode"))
        .arg("add")
        .args(&names)
        .ok();
    let out = lab.cmd("mnrun").args(["fa150", "echo ready"]).ok();
    assert_eq!(out.stdout, "ready\n");
    let listed = lab.cmd("mnnode").args(["list"]).ok();
    assert_eq!(listed.stdout.lines().count(), 151, "all 150 nodes: {}", listed.stdout);
    assert_eq!(listed.stderr, "", "every node reachable");
}

#[test]
fn an_add_beyond_pid_max_says_so_before_starting() {
    // pid_max is per pid namespace from Linux 6.14 on; before, writing it
    // in the test's namespace would lower the whole machine's.
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").expect("osrelease");
    let mut version = release.split(['.', '-']).map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (version.next().unwrap_or(0), version.next().unwrap_or(0));
    if (major, minor) < (6, 14) {
        mn_tests::skip(
            "an_add_beyond_pid_max_says_so_before_starting",
            "pid_max is per pid namespace from Linux 6.14",
        );
        return;
    }
    let lab = Lab::new();
    let names = hosts("pm", 1000);
    let threads: u64 = std::fs::read_to_string("/proc/loadavg")
        .expect("loadavg")
        .split_whitespace()
        .nth(3)
        .and_then(|f| f.split('/').nth(1)?.parse().ok())
        .expect("a thread count");
    // A pid namespace of the test's own, whose pid_max leaves room for
    // what runs now and the spare pids, but not for 1000 more shells.
    let pid_max = threads + 300 + 1000 + 100;
    let script = format!("echo {pid_max} >/proc/sys/kernel/pid_max && exec \"$0\" add \"$@\"");
    let out = lab
        .cmd("unshare")
        .args(["--pid", "--fork", "--mount-proc", "sh", "-c", &script])
        .arg(mn_tests::bin("mnnode"))
        .args(&names)
        .fails();
    assert!(out.stderr.starts_with("mnnode: 1000 nodes need 1000 more processes, and "), "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!("more than kernel.pid_max ({pid_max}, less 300 reserved and 1000 to spare) allows; raise it first (sysctl -w kernel.pid_max=")),
        "{}",
        out.stderr
    );
    assert_eq!(out.stderr.lines().count(), 1);
    let listed = lab.cmd("mnnode").args(["list"]).ok();
    assert_eq!(listed.stdout.lines().count(), 1, "nothing was started: {}", listed.stdout);
}

#[test]
fn clean_reports_nothing_left_and_succeeds() {
    let lab = Lab::new();
    let names = hosts("cl", 40);
    lab.cmd("mnnode").arg("add").args(&names).ok();
    // Busy nodes: each has a child process that forks now and then.
    for h in names.iter().take(10) {
        lab.cmd("mnrun").args([h.as_str(), "(while :; do sleep 0.05; done) &"]).ok();
    }
    let out = lab.cmd("mnnode").args(["clean"]).ok();
    assert_eq!(out.stderr, "");
    let listed = lab.cmd("mnnode").args(["list"]).ok();
    assert_eq!(listed.stdout.lines().count(), 1, "no node left: {}", listed.stdout);
}

#[test]
fn mn_states_the_bridge_port_limit_before_building() {
    let lab = Lab::new();
    let out = mn_tests::mn(&lab).args(["--topo", "single,1100", "--test", "build"]).fails();
    assert_eq!(out.stderr, "mn: s1 would have 1100 ports; a Linux bridge holds at most 1023\n");
    let listed = lab.cmd("mnnode").args(["list"]).ok();
    assert_eq!(listed.stdout.lines().count(), 1, "nothing was made: {}", listed.stdout);
}

#[test]
fn clean_wait_returns_once_the_kernel_has_torn_the_namespaces_down() {
    let lab = lab_with(&["wt1", "wt2"], &["wts1"]);
    lab.cmd("mnlink").args(["-b", "-"]).stdin("add wt1-eth0 wts1-eth1\nadd wt2-eth0 wts1-eth2\n").ok();
    let out = lab.cmd("mnnode").args(["clean", "-v", "--wait"]).ok();
    let last = out.stdout.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("the kernel finished tearing down 3 namespaces ")
            && last.ends_with(" s after they were marked"),
        "{}",
        out.stdout
    );
    assert_eq!(out.stderr, "");
    // The ids clean gave the namespaces went with them: the kernel is done.
    let ids = lab.cmd("ip").args(["netns", "list-id"]).ok();
    assert!(!ids.stdout.contains(&format!("{}-wt", lab.name())), "{}", ids.stdout);
    assert_eq!(lab.cmd("mnnode").arg("list").ok().stdout.lines().count(), 1);
    // Without a lab it only waits for the kernel.
    let again = lab.cmd("mnnode").args(["clean", "-v", "--wait"]).ok();
    assert_eq!((again.stdout.as_str(), again.stderr.as_str()), ("", ""));
}

/// More entries than one goes by one: clean unmounts them side by side
/// (netns.rs), and every one goes, and --wait still sees every namespace
/// torn down.
#[test]
fn clean_of_many_lazy_nodes_removes_every_entry() {
    let lab = Lab::new();
    let names = hosts(&mn_tests::unique("mh"), 150);
    lab.cmd("mnnode").args(["add", "--lazy"]).args(&names).ok();
    assert_eq!(mn_tests::netns_entries(&lab).len(), 150);
    lab.cmd("mnrun").args([&names[70], "true"]).ok();
    let out = lab.cmd("mnnode").args(["clean", "-v", "--wait"]).ok();
    let last = out.stdout.lines().last().unwrap_or_default();
    out.check(last.starts_with("the kernel finished tearing down 150 namespaces "), "all 150 waited for");
    assert_eq!(mn_tests::netns_entries(&lab), Vec::<String>::new());
    assert_eq!(lab.cmd("mnnode").arg("list").ok().stdout.lines().count(), 1);
}
