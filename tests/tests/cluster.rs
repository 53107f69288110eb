//! A lab across machines: stand-in machines (namespaces running sshd, see
//! tests/src/cluster.rs), nodes on them, mnrun over ssh, links between
//! machines, and the launcher's --cluster.
use mn_tests::cluster::{Cluster, sshd_present};
use mn_tests::{alive, assert_error, eventually, skip};
use std::time::Duration;

fn cluster(test: &str, names: &[&str]) -> Option<Cluster> {
    if !sshd_present() {
        skip(test, "/usr/sbin/sshd is missing (Debian package openssh-server)");
        return None;
    }
    Some(Cluster::new(names))
}

/// Processes whose command line is exactly `cmdline` (NULs as spaces).
fn processes(cmdline: &str) -> Vec<i32> {
    mnnode::procfs::pids()
        .into_iter()
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
                String::from_utf8_lossy(&c).trim_end_matches('\0').replace('\0', " ") == cmdline
            })
        })
        .collect()
}

#[test]
fn nodes_on_two_machines_run_commands_over_ssh() {
    let Some(c) = cluster("nodes_on_two_machines_run_commands_over_ssh", &["a", "b"]) else { return };
    c.cmd("mnnode").args(["add", "--on", "a", "h1", "h2"]).ok();
    c.cmd("mnnode").args(["add", "--on", "b", "--kind", "switch", "s1"]).ok();
    c.cmd("mnnode").args(["add", "h3"]).ok();
    assert_eq!(c.nodes_on(0), ["h1", "h2"]);
    assert_eq!(c.nodes_on(1), ["s1"]);

    // list: every node, its machine; the remote pid is the remote shell's.
    let out = c.cmd("mnnode").arg("list").ok();
    let rows: Vec<Vec<&str>> = out.stdout.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows[0], ["NAME", "KIND", "PID", "STATE", "MACHINE"]);
    let row = |name: &str| rows.iter().find(|r| r[0] == name).cloned().unwrap_or_default();
    assert_eq!((row("h1")[1], row("h1")[3], row("h1")[4]), ("host", "running", "a"));
    assert_eq!((row("s1")[1], row("s1")[3], row("s1")[4]), ("switch", "running", "b"));
    assert_eq!((row("h3")[3], row("h3")[4]), ("running", "-"));
    let pid: i32 = row("h1")[2].parse().expect("a pid");
    let remote =
        c.on(0, &["env", &format!("PATH={}", mn_tests::bin_dir().display()), "mnnode", "pid", "h1"]).ok();
    assert_eq!(remote.stdout.trim(), pid.to_string());
    assert_eq!(c.cmd("mnnode").args(["pid", "h1"]).ok().stdout.trim(), pid.to_string());
    let json: serde_json::Value =
        serde_json::from_str(&c.cmd("mnnode").args(["list", "--json"]).ok().stdout).unwrap();
    assert_eq!(json[0]["machine"], "a");

    // mnrun: output kept apart, the status, stdin, shell state between calls.
    let out = c.cmd("mnrun").args(["h1", "cd /tmp; echo out; echo err >&2; exit 3"]).code(3);
    assert_eq!((out.stdout.as_str(), out.stderr.as_str()), ("out\n", "err\n"));
    assert_eq!(c.cmd("mnrun").args(["h1", "pwd"]).ok().stdout, "/tmp\n");
    let out = c.cmd("mnrun").args(["h2", "tr", "a-z", "A-Z"]).stdin("it's stdin\n").ok();
    assert_eq!(out.stdout, "IT'S STDIN\n");
    assert_eq!(c.cmd("mnrun").args(["-n", "h2", "cat"]).ok().stdout, "");
    // The node is the remote machine's: a namespace of its own there.
    let out = c.cmd("mnrun").args(["s1", "ip -o link show s1 | wc -l"]).ok();
    assert_eq!(out.stdout.trim(), "1", "the switch's bridge");

    // -t: the remote command is interrupted, 124.
    c.cmd("mnrun").args(["-t", "0.5", "h1", "sleep 100"]).code(124);
    // Ctrl-C: the remote command is interrupted, 130, the node usable.
    let marker = "sleep 4242.4242";
    let call = c.cmd("mnrun").args(["h2", &format!("{marker}; echo never")]).start();
    assert!(eventually(Duration::from_secs(30), || !processes(marker).is_empty()), "the remote sleep runs");
    let sleeps = processes(marker);
    call.signal(libc::SIGINT);
    let out = call.finish();
    out.check(out.code() == Some(130) && !out.stdout.contains("never"), "exit 130 after Ctrl-C");
    assert!(
        eventually(Duration::from_secs(10), || sleeps.iter().all(|&p| !alive(p))),
        "the remote sleep is gone"
    );
    assert_eq!(c.cmd("mnrun").args(["h2", "echo again"]).ok().stdout, "again\n");

    // del: a remote node goes there and here.
    c.cmd("mnnode").args(["del", "h2"]).ok();
    assert_eq!(c.nodes_on(0), ["h1"]);
    assert_error(
        &c.cmd("mnrun").args(["h2", "true"]).code(255),
        &format!("mnrun: no node named h2 in {}", c.lab.dir.display()),
    );

    // clean: every machine left empty, the control masters gone.
    let shells: Vec<i32> = ["h1", "s1"]
        .iter()
        .map(|n| c.cmd("mnnode").args(["pid", n]).ok())
        .map(|o| o.stdout.trim().parse().unwrap())
        .collect();
    assert_eq!(c.netns_on(0), ["m-a-h1"], "the node's ip netns entry is machine a's");
    c.cmd("mnnode").arg("clean").ok();
    assert_eq!(c.nodes_on(0), Vec::<String>::new());
    assert_eq!(c.nodes_on(1), Vec::<String>::new());
    assert!(c.netns_on(0).is_empty() && c.netns_on(1).is_empty(), "no ip netns entries left there");
    assert!(eventually(Duration::from_secs(10), || shells.iter().all(|&p| !alive(p))), "remote shells ended");
    assert!(!c.lab.dir.join(".ssh").exists(), "control masters stopped, their directory gone");
    assert_eq!(c.cmd("mnnode").arg("list").ok().stdout, "NAME  KIND  PID  STATE\n");
}

#[test]
fn bad_machines_make_nothing() {
    let Some(mut c) = cluster("bad_machines_make_nothing", &["a", "b"]) else { return };
    let hosts = c.hosts.display().to_string();
    // Unknown machine: no lab made at all.
    assert_error(
        &c.cmd("mnnode").args(["add", "--on", "zz", "h1"]).fails(),
        &format!("mnnode: no machine named zz in {hosts}"),
    );
    assert!(!c.lab.dir.join("h1").exists());
    // Unreachable machine: one line naming it, nothing left here.
    assert_error(
        &c.cmd("mnnode").args(["add", "--on", "down", "h1", "h2"]).fails(),
        "mnnode: machine down (down): ssh: connect to host 10.99.0.254 port 22: Connection refused",
    );
    assert!(!c.lab.dir.join("h1").exists() && !c.lab.dir.join("h2").exists());
    assert_error(
        &c.cmd("mnlink").args(["--on", "down", "-b", "-"]).stdin("add h1-eth0 h2-eth0\n").fails(),
        "mnlink: machine down (down): ssh: connect to host 10.99.0.254 port 22: Connection refused",
    );
    // A key the machine does not know (before any master to b exists).
    let other = c.dir.join("other_id");
    let keygen = ["-q", "-t", "ed25519", "-N", "", "-f"];
    c.cmd("ssh-keygen").args(keygen).arg(&other).ok();
    let config = std::fs::read_to_string(c.dir.join("ssh_config")).unwrap();
    let id = format!("IdentityFile {}\n", c.dir.join("id").display());
    std::fs::write(
        c.dir.join("ssh_config.wrong"),
        config.replace(&id, &format!("IdentityFile {}\n", other.display())),
    )
    .unwrap();
    let wrong = c.ssh.replace("ssh_config", "ssh_config.wrong");
    assert_error(
        &c.cmd("mnnode").args(["add", "--on", "b", "h4"]).env("MN_SSH", wrong).fails(),
        "mnnode: machine b (b): root@10.99.0.2: Permission denied (publickey).",
    );
    assert!(!c.lab.dir.join("h4").exists());
    // One name, two machines: refused before ssh.
    c.cmd("mnnode").args(["add", "--on", "a", "h1"]).ok();
    assert_error(
        &c.cmd("mnnode").args(["add", "--on", "b", "h1"]).fails(),
        &format!("mnnode: h1: a node of that name exists in {}", c.lab.dir.display()),
    );
    assert!(c.nodes_on(1).is_empty());
    // A machine whose tools are missing.
    let text = std::fs::read_to_string(&c.hosts).unwrap();
    let broken = text.replace(&format!("bin={}", mn_tests::bin_dir().display()), "bin=/nonexistent");
    let out = c.cmd("mnnode").args(["add", "--on", "b", "h5"]).env("MN_HOSTS", {
        let path = c.dir.join("hosts.broken");
        std::fs::write(&path, broken).unwrap();
        path
    });
    let out = out.fails();
    out.check(
        out.stderr.starts_with("mnnode: machine b (b): mnnode is not installed there ("),
        "names the missing tool",
    );
    assert!(!c.lab.dir.join("h5").exists());

    // A machine lost mid-lab: its nodes listed unknown, clean cleans the
    // rest and names it, and clean again finishes once it is back.
    c.cmd("mnnode").args(["add", "--on", "b", "h6"]).ok();
    c.stop_sshd(1);
    // The control master still reaches b: end it, as a lost machine would.
    c.stop_master("b");
    let out = c.cmd("mnnode").arg("list").ok();
    let h6: Vec<&str> =
        out.stdout.lines().find(|l| l.starts_with("h6 ")).unwrap_or("").split_whitespace().collect();
    assert_eq!(h6, ["h6", "host", "-", "unknown", "b"]);
    out.check(
        out.stderr.starts_with("mnnode: list: machine b (b): ssh: connect to host 10.99.0.2"),
        "says why",
    );
    let out = c.cmd("mnrun").args(["h6", "true"]).code(255);
    out.check(
        out.stderr.starts_with("mnrun: h6: machine b (b): ssh: connect to host 10.99.0.2"),
        "names the machine",
    );
    let out = c.cmd("mnnode").arg("clean").fails();
    out.check(
        out.stderr.starts_with("mnnode: could not clean machine b (b): ssh: connect to host 10.99.0.2")
            && out.stderr.ends_with("its nodes are kept, clean again to finish\n"),
        "names the machine it could not clean",
    );
    assert!(c.nodes_on(0).is_empty(), "machine a cleaned");
    assert_eq!(c.nodes_on(1), ["h6"]);
    assert!(c.lab.dir.join("h6").exists(), "its record kept");
    c.start_sshd(1);
    c.cmd("mnnode").arg("clean").ok();
    assert!(c.nodes_on(1).is_empty() && !c.lab.dir.join("h6").exists());
}

/// The interfaces of a node (on whatever machine), without lo.
fn links_of(c: &Cluster, node: &str) -> Vec<String> {
    let out = c.cmd("mnrun").args([node, "ls /sys/class/net"]).ok();
    out.stdout.split_whitespace().filter(|n| *n != "lo").map(String::from).collect()
}

#[test]
fn a_link_between_machines_is_a_vxlan_tunnel() {
    let Some(c) = cluster("a_link_between_machines_is_a_vxlan_tunnel", &["a", "b"]) else { return };
    c.cmd("mnnode").args(["add", "--on", "a", "h1", "h3"]).ok();
    c.cmd("mnnode").args(["add", "--on", "b", "h2"]).ok();
    c.cmd("mnnode").args(["add", "--on", "b", "--kind", "switch", "s1"]).ok();
    c.cmd("mnlink").args(["add", "h1-eth0", "h2-eth0"]).ok();
    c.cmd("mnlink").args(["addr", "h1-eth0", "10.0.0.1/24"]).ok();
    c.cmd("mnlink").args(["addr", "h2-eth0", "10.0.0.2/24"]).ok();
    c.cmd("mnrun").args(["h1", "ping -c1 -W5 10.0.0.2"]).ok();
    assert_eq!(c.cmd("mnnode").args(["ip", "h2"]).ok().stdout, "10.0.0.2\n", "mnnode ip asks the machine");

    // Each end is a VXLAN device in its node's namespace, one VNI for both.
    let vni = |node: &str, dev: &str| {
        let out = c.cmd("mnrun").args([node, &format!("ip -d -o link show {dev}")]).ok();
        let words: Vec<&str> = out.stdout.split_whitespace().collect();
        let at = words.iter().position(|w| *w == "vxlan").expect("a vxlan device");
        assert_eq!(words[at + 1], "id", "{}", out.stdout);
        words[at + 2].to_string()
    };
    assert_eq!(vni("h1", "h1-eth0"), vni("h2", "h2-eth0"));

    // MTU: the underlay's 1500 less 50: 1422 bytes of ICMP data fit, 1423 do not.
    assert_eq!(c.cmd("mnrun").args(["h1", "cat /sys/class/net/h1-eth0/mtu"]).ok().stdout, "1450\n");
    c.cmd("mnrun").args(["h1", "ping -c1 -W5 -M do -s 1422 10.0.0.2"]).ok();
    for size in ["1423", "1472"] {
        let out = c.cmd("mnrun").args(["h1", &format!("ping -c1 -W5 -M do -s {size} 10.0.0.2")]).fails();
        out.check(out.stderr.contains("message too long, mtu=1450"), "refused at once, not fragmented");
    }

    // A shaped link to a switch, and a second VNI.
    c.cmd("mnlink").args(["add", "h3-eth0", "s1-eth1", "--bw", "10"]).ok();
    assert_ne!(vni("h3", "h3-eth0"), vni("h1", "h1-eth0"), "a VNI per link");
    let qdisc =
        |node: &str, dev: &str| c.cmd("mnrun").args([node, &format!("tc qdisc show dev {dev}")]).ok().stdout;
    assert!(qdisc("h3", "h3-eth0").contains("tbf"), "{}", qdisc("h3", "h3-eth0"));
    assert!(qdisc("s1", "s1-eth1").contains("tbf"));
    let out = c.cmd("mnrun").args(["s1", "cat /sys/class/net/s1-eth1/master/uevent"]).ok();
    assert!(out.stdout.contains("INTERFACE=s1"), "a port of the switch's bridge: {}", out.stdout);

    // graph names each node's machine, and the links across.
    let out = c.cmd("mnlink").args(["graph", "--format", "json"]).ok();
    let g: serde_json::Value = serde_json::from_str(&out.stdout).expect("graph JSON");
    let machines: Vec<(String, String)> = g["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| (n["name"].as_str().unwrap_or("").into(), n["machine"].as_str().unwrap_or("-").into()))
        .collect();
    let want =
        [("h1", "a"), ("h2", "b"), ("h3", "a"), ("s1", "b")].map(|(n, m)| (n.to_string(), m.to_string()));
    assert_eq!(machines, want, "{}", out.stdout);
    assert_eq!(g["links"].as_array().map(Vec::len), Some(2), "{}", out.stdout);
    let out = c.cmd("mnlink").args(["graph", "--format", "dot"]).ok();
    assert!(out.stdout.contains("<B>h2</B> on b"), "{}", out.stdout);

    // list: each link once, across machines.
    let out = c.cmd("mnlink").arg("list").ok();
    let rows: Vec<Vec<&str>> = out.stdout.lines().skip(1).map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows.len(), 2, "{}", out.stdout);
    assert_eq!(rows[0][..3], ["h1-eth0", "h2-eth0", "up"]);
    assert_eq!(rows[1][..3], ["h3-eth0", "s1-eth1", "up"]);
    assert!(rows[1][3..].join(" ").contains("10"), "the shaping shows: {}", out.stdout);
    let out = c.cmd("mnlink").args(["list", "h2", "--json"]).ok();
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(json.as_array().map(Vec::len), Some(1));
    assert_eq!((json[0]["a"]["mtu"].as_u64(), json[0]["b"]["mtu"].as_u64()), (Some(1450), Some(1450)));

    // A link within one other machine is made there, a veth pair.
    c.cmd("mnlink").args(["add", "h1-eth1", "h3-eth1"]).ok();
    let out = c.cmd("mnrun").args(["h3", "ip -d -o link show h3-eth1"]).ok();
    out.check(out.stdout.contains(" veth "), "a veth pair on machine a");
    assert_eq!(c.cmd("mnlink").arg("list").ok().stdout.lines().count(), 4, "three links");
    c.cmd("mnlink").args(["del", "h3-eth1"]).ok();
    assert_eq!(links_of(&c, "h1"), ["h1-eth0"]);

    // down and up, from either end, act on both.
    c.cmd("mnlink").args(["down", "h2-eth0"]).ok();
    let state = || c.cmd("mnlink").args(["list", "h1", "--json"]).ok().stdout;
    assert!(state().contains("\"state\":\"down\""), "{}", state());
    c.cmd("mnrun").args(["h1", "ping -c1 -W1 10.0.0.2"]).fails();
    c.cmd("mnlink").args(["up", "h1-eth0"]).ok();
    assert!(state().contains("\"state\":\"up\""), "{}", state());
    c.cmd("mnrun").args(["h1", "ping -c1 -W5 10.0.0.2"]).ok();
    // set and addr reach the remote end.
    c.cmd("mnlink").args(["set", "s1-eth1"]).ok();
    assert!(!qdisc("s1", "s1-eth1").contains("tbf"), "shaping removed");
    // del: both ends go.
    c.cmd("mnlink").args(["del", "s1-eth1"]).ok();
    assert_eq!(links_of(&c, "h3"), Vec::<String>::new());
    assert_eq!(links_of(&c, "s1"), ["s1"]);

    // A VNI in use on a machine is refused by its kernel, in words that
    // make mnlink add draw another.
    let used = vni("h1", "h1-eth0");
    let line = format!("tunnel h3:x1 h2:y1 --vni {used} --local 10.99.0.1 --remote 10.99.0.2\n");
    assert_error(
        &c.cmd("mnlink").args(["--on", "a", "-b", "-"]).stdin(line).fails(),
        &format!("mnlink: line 1: VNI {used} on UDP port 4789 is in use on this machine"),
    );
    assert_eq!(links_of(&c, "h3"), Vec::<String>::new());

    // Faults: a --root node, a wrong underlay address; nothing half-made.
    c.cmd("mnnode").args(["add", "--on", "a", "--root", "r1"]).ok();
    assert_error(
        &c.cmd("mnlink").args(["add", "h2-eth5", "r1-eth5"]).fails(),
        "mnlink: machine a (a): r1 is a --root node: links between machines join namespaced nodes only",
    );
    assert_eq!(links_of(&c, "h2"), ["h2-eth0"], "the first end went again");
    let wrong = std::fs::read_to_string(&c.hosts).unwrap().replace("b b 10.99.0.2", "b b 10.99.0.77");
    let hosts = c.dir.join("hosts.wrong");
    std::fs::write(&hosts, wrong).unwrap();
    assert_error(
        &c.cmd("mnlink").args(["add", "h3-eth1", "h2-eth1"]).env("MN_HOSTS", &hosts).fails(),
        "mnlink: machine b (b): this machine has no address 10.99.0.77 (its underlay address in the hosts file)",
    );
    assert_eq!(links_of(&c, "h3"), Vec::<String>::new());
}

#[test]
fn mn_cluster_builds_a_tree_over_three_machines_and_pings_across() {
    let Some(c) = cluster("mn_cluster_builds_a_tree_over_three_machines_and_pings_across", &["a", "b", "c"])
    else {
        return;
    };
    let mn = |args: &[&str]| {
        c.cmd(mn_tests::repo().join("scripts/mn").to_str().unwrap())
            .env("MN_BIN", mn_tests::bin_dir())
            .env("MN_HISTORY", c.dir.join("history"))
            .args(args)
    };
    // switchbin: a switch on each machine, hosts with their switch; only
    // the root's two links cross machines.
    let out = mn(&["--cluster", "a,b,c", "--topo", "tree,2,2", "--test", "pingall"]).ok();
    out.check(
        out.stdout.contains("*** Placing nodes over 3 machines (switchbin): links between machines: 2"),
        "placement",
    );
    out.check(out.stdout.contains("*** Results: 0% dropped (12/12 received)"), "pingall across machines");
    for i in 0..3 {
        assert!(c.nodes_on(i).is_empty(), "machine {i} left empty: {:?}", c.nodes_on(i));
    }
    // block: hosts and switches in bins of their own.
    let out = mn(&["--cluster=a,b", "--placement=block", "--topo", "tree,2,2", "--test", "pingall"]).ok();
    out.check(
        out.stdout.contains("*** Placing nodes over 2 machines (block): links between machines: 1"),
        "placement",
    );
    out.check(out.stdout.contains("*** Results: 0% dropped (12/12 received)"), "pingall across machines");
    assert!(c.nodes_on(0).is_empty() && c.nodes_on(1).is_empty());
    // The CLI, its input from a pipe: a node's command never eats it,
    // even over ssh; h2 is on machine b, past a tunnel.
    let input = "h1 cat\nh1 ping -c1 -W5 h2\nnodes\nexit\n";
    let out = mn(&["--cluster", "a,b", "--placement", "block", "--topo", "minimal"]).stdin(input).ok();
    out.check(out.stdout.contains("1 received") && out.stdout.contains("h1 h2"), "the CLI across machines");
    // A machine that fails mid-build: mn names it, the rest is undone.
    let out = mn(&["--cluster", "a,down", "--placement", "block", "--topo", "tree,2,2", "--test", "pingall"])
        .fails();
    out.check(
        out.stderr.contains(
            "mnnode: machine down (down): ssh: connect to host 10.99.0.254 port 22: Connection refused",
        ),
        "names the machine",
    );
    assert!(c.nodes_on(0).is_empty(), "machine a undone: {:?}", c.nodes_on(0));
    assert_eq!(c.cmd("mnnode").arg("list").ok().stdout, "NAME  KIND  PID  STATE\n");
    // Bad input: one line, nothing made.
    let out = mn(&["--cluster", "a,zz", "--topo", "minimal"]).fails();
    assert_eq!(out.stderr, format!("mn: --cluster: no machine named zz in {}\n", c.hosts.display()));
    let out = mn(&["--cluster", "a", "--placement", "round", "--topo", "minimal"]).fails();
    assert_eq!(out.stderr, "mn: --placement round: not a placement (block, random, switchbin)\n");
}

#[test]
fn a_node_of_the_home_machine_links_to_another_machine() {
    let Some(c) = cluster("a_node_of_the_home_machine_links_to_another_machine", &["a"]) else { return };
    // --on the home machine (destination -) is an ordinary add.
    c.cmd("mnnode").args(["add", "--on", "home", "h0"]).ok();
    assert!(c.lab.dir.join("h0/fifo").exists() && c.nodes_on(0).is_empty());
    c.cmd("mnnode").args(["add", "--on", "a", "h1"]).ok();
    c.home("mnlink").args(["add", "h0-eth0", "h1-eth0"]).ok();
    c.cmd("mnlink").args(["addr", "h0-eth0", "10.0.0.1/24"]).ok();
    c.cmd("mnlink").args(["addr", "h1-eth0", "10.0.0.2/24"]).ok();
    c.cmd("mnrun").args(["h0", "ping -c1 -W5 10.0.0.2"]).ok();
    let out = c.cmd("mnlink").arg("list").ok();
    let rows: Vec<Vec<&str>> = out.stdout.lines().skip(1).map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows, [vec!["h0-eth0", "h1-eth0", "up"]], "{}", out.stdout);
    let out = c.cmd("mnnode").arg("list").ok();
    out.check(out.stdout.lines().any(|l| l.starts_with("h0 ") && l.ends_with(" -")), "h0 on this machine");
    // del from the other machine's end takes the home end too.
    c.home("mnlink").args(["del", "h1-eth0"]).ok();
    assert_eq!(links_of(&c, "h0"), Vec::<String>::new());
    assert_eq!(links_of(&c, "h1"), Vec::<String>::new());
    // Without a line for the home machine there is no underlay address.
    let hosts = c.dir.join("hosts.nohome");
    std::fs::write(&hosts, std::fs::read_to_string(&c.hosts).unwrap().replace("home - 10.99.0.250\n", ""))
        .unwrap();
    assert_error(
        &c.home("mnlink").args(["add", "h0-eth1", "h1-eth1"]).env("MN_HOSTS", &hosts).fails(),
        "mnlink: h0-eth1 is on this machine, which the hosts file does not name: \
         give it a line with destination - and its underlay address to link it to other machines",
    );
    assert_eq!(links_of(&c, "h1"), Vec::<String>::new());
}

#[test]
fn a_lazy_node_on_another_machine_starts_its_shell_there() {
    let Some(c) = cluster("a_lazy_node_on_another_machine_starts_its_shell_there", &["a"]) else { return };
    c.cmd("mnnode").args(["add", "--on", "a", "--lazy", "h1"]).ok();
    let out = c.cmd("mnnode").arg("list").ok();
    let row: Vec<&str> = out.stdout.lines().nth(1).expect("a row").split_whitespace().collect();
    assert_eq!(row, ["h1", "host", "-", "running", "a"], "no shell yet, up all the same");
    let out = c.cmd("mnrun").args(["h1", "echo $MN_NODE"]).ok();
    assert_eq!(out.stdout, "h1\n");
    let pid = c.cmd("mnnode").args(["pid", "h1"]).ok().stdout.trim().to_string();
    assert!(pid.parse::<i32>().is_ok_and(|p| p > 0 && alive(p)), "a shell there now: {pid}");
    c.cmd("mnnode").arg("clean").ok();
    assert!(c.nodes_on(0).is_empty());
}

/// A topology with loops over machines runs the spanning tree across
/// them: the BPDUs cross the tunnels, some ports block, and every host
/// reaches every other (without the tree, the first broadcast would
/// circle the torus for ever).
#[test]
fn mn_cluster_runs_the_spanning_tree_across_machines() {
    let Some(c) = cluster("mn_cluster_runs_the_spanning_tree_across_machines", &["a", "b"]) else { return };
    let out = c
        .cmd(mn_tests::repo().join("scripts/mn").to_str().unwrap())
        .env("MN_BIN", mn_tests::bin_dir())
        .env("MN_HISTORY", c.dir.join("history"))
        .args(["--cluster", "a,b", "--topo", "torus,3,3", "--test", "pingall"])
        .ok();
    out.check(out.stdout.contains("*** Placing nodes over 2 machines (switchbin)"), "placement");
    let blocked = out
        .stdout
        .lines()
        .find_map(|l| l.strip_suffix(" ports blocked"))
        .and_then(|n| n.trim().parse::<u32>().ok());
    // A 3 by 3 torus: 18 switch links, a tree of 8, so 10 left over.
    out.check(blocked == Some(10), "10 ports blocked, read on both machines");
    out.check(out.stdout.contains("*** Results: 0% dropped (72/72 received)"), "pingall across machines");
    assert!(c.nodes_on(0).is_empty() && c.nodes_on(1).is_empty(), "the machines left empty");
}
