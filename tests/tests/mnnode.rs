//! mnnode against the real kernel: the node lifecycle, kinds, cleaning up,
//! labs side by side, and bad input.
use mn_tests::{
    Lab, alive, assert_error, eventually, netns_entries, netns_entry, ns_inode, pids_in_ns, survivors, ticks,
};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::time::Duration;

#[test]
fn add_list_pid_and_ip_netns() {
    let lab = Lab::new();
    lab.cmd("mnnode").args(["add", "h1", "h2"]).ok();
    let out = lab.cmd("mnnode").arg("list").ok();
    let lines: Vec<Vec<&str>> = out.stdout.lines().map(|l| l.split_whitespace().collect()).collect();
    out.check(lines[0] == ["NAME", "KIND", "PID", "STATE"], "a header");
    out.check(lines.len() == 3 && lines[1][0] == "h1" && lines[2][0] == "h2", "h1 and h2");
    out.check(lines[1..].iter().all(|l| l[1] == "host" && l[3] == "running"), "running hosts");

    let pid = lab.node_pid("h1");
    assert!(alive(pid));
    let own = ns_inode(std::process::id() as i32, "net");
    assert_ne!(ns_inode(pid, "net"), own, "h1 has its own network namespace");
    assert_ne!(ns_inode(pid, "mnt"), ns_inode(std::process::id() as i32, "mnt"), "and mount namespace");
    assert_ne!(ns_inode(pid, "net"), ns_inode(lab.node_pid("h2"), "net"), "h1 and h2 differ");

    // ip netns knows it, and sees the same namespace.
    let entry = netns_entry(&lab, "h1");
    assert_eq!(std::fs::metadata(&entry).expect("ip netns entry").ino(), ns_inode(pid, "net").unwrap());
    let out = lab.cmd("ip").args(["-n", &format!("{}-h1", lab.name()), "-o", "link", "show", "lo"]).ok();
    out.check(out.stdout.contains("UP"), "lo up, seen through ip -n");
    out.check(lab.read_in("h1", "/sys/class/net/lo/operstate") == "unknown", "h1's /sys shows its own lo");

    let environ = std::fs::read(format!("/proc/{pid}/environ")).expect("environ");
    assert!(environ.split(|&b| b == 0).any(|v| v == b"MN_NODE=h1"), "MN_NODE=h1 in the shell's environment");

    let json: serde_json::Value =
        serde_json::from_str(&lab.cmd("mnnode").args(["list", "--json"]).ok().stdout).expect("json");
    assert_eq!(json[0]["name"], "h1");
    assert_eq!(json[0]["kind"], "host");
    assert_eq!(json[0]["pid"], pid);
    assert_eq!(json[0]["state"], "running");
}

#[test]
fn files_are_private() {
    let lab = Lab::new();
    lab.cmd("mnnode").args(["add", "h1"]).ok();
    let mode = |p: &std::path::Path| std::fs::metadata(p).expect("exists").permissions().mode() & 0o777;
    assert_eq!(mode(&lab.dir), 0o700);
    assert_eq!(mode(&lab.dir.join("h1")), 0o700);
    assert_eq!(mode(&lab.dir.join("h1/fifo")), 0o600);
    assert_eq!(mode(&lab.dir.join("h1/log")), 0o600);
}

#[test]
fn kinds_switch_and_router() {
    let lab = Lab::new();
    lab.cmd("mnnode").args(["add", "--kind", "switch", "s1"]).ok();
    lab.cmd("mnnode").args(["add", "--kind", "switch", "--stp", "s2"]).ok();
    lab.cmd("mnnode").args(["add", "--kind", "router", "r1"]).ok();
    lab.cmd("mnnode").args(["add", "h1"]).ok();
    assert_eq!(
        lab.read_in("s1", "/sys/class/net/s1/bridge/stp_state"),
        "0",
        "a bridge named after the switch, STP off"
    );
    assert_eq!(
        lab.read_in("s1", "/sys/class/net/s1/operstate"),
        "unknown",
        "the bridge is up (no ports yet)"
    );
    assert_eq!(lab.read_in("s2", "/sys/class/net/s2/bridge/stp_state"), "1", "--stp turns STP on");
    assert_eq!(lab.read_in("r1", "/proc/sys/net/ipv4/ip_forward"), "1");
    assert_eq!(lab.read_in("r1", "/proc/sys/net/ipv6/conf/all/forwarding"), "1");
    assert_eq!(lab.read_in("h1", "/proc/sys/net/ipv4/ip_forward"), "0", "hosts do not forward");
    let out = lab.cmd("mnnode").arg("list").ok();
    out.check(out.stdout.contains("switch") && out.stdout.contains("router"), "kinds listed");
}

#[test]
fn stp_switches_get_the_shortest_timers_and_an_id_that_links_do_not_change() {
    let lab = Lab::new();
    lab.cmd("mnnode").args(["add", "--kind", "switch", "--stp", "--lazy", "s1"]).ok();
    lab.cmd("mnnode").args(["add", "--kind", "switch", "s2"]).ok();
    lab.cmd("mnnode").args(["add", "--lazy", "h1"]).ok();
    let bridge = |node: &str, file: &str| lab.read_in(node, &format!("/sys/class/net/{node}/{file}"));
    let timers = ["bridge/stp_state", "bridge/forward_delay", "bridge/hello_time"].map(|f| bridge("s1", f));
    assert_eq!(
        timers,
        ["1", "200", "100"],
        "STP on, forward delay 2 s and hellos every second (in hundredths)"
    );
    // The address is made from the name (NET_ADDR_SET, 3): the kernel
    // keeps it as ports come and go.
    let address =
        mnnode::kind::stp_address("s1").iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":");
    assert!(address.starts_with("02:"), "locally administered: {address}");
    assert_eq!(bridge("s1", "address"), address);
    assert_eq!(bridge("s1", "addr_assign_type"), "3");
    assert_eq!(bridge("s1", "bridge/bridge_id"), format!("8000.{}", address.replace(':', "")));
    lab.cmd("mnlink").args(["add", "h1-eth0", "s1-eth1"]).ok();
    lab.cmd("mnlink").args(["mac", "s1-eth1", "00:00:00:00:00:01"]).ok();
    assert_eq!(bridge("s1", "address"), address, "a port with a lesser address does not change the bridge's");
    // --down: made down, for `mnlink stp --start`; only with --stp.
    lab.cmd("mnnode").args(["add", "--kind", "switch", "--stp", "--down", "--lazy", "s3"]).ok();
    let flags = bridge("s3", "flags");
    assert_eq!(u32::from_str_radix(flags.trim_start_matches("0x"), 16).expect("hex flags") & 1, 0, "down");
    assert_eq!(bridge("s3", "bridge/forward_delay"), "200");
    let out = lab.cmd("mnnode").args(["add", "--kind", "switch", "--down", "s5"]).code(2);
    out.check(out.stderr.contains("--stp"), "--down needs --stp");
    // Without --stp the kernel's defaults stand.
    assert_eq!(bridge("s2", "bridge/stp_state"), "0");
    assert_eq!(bridge("s2", "bridge/forward_delay"), "1500");
    assert_ne!(bridge("s2", "addr_assign_type"), "3", "the kernel's own address");
}

/// Leaves three processes in a node that are not the shell's children: a
/// background job of a process that exited, a setsid daemon, and a
/// visitor that joined with `mnexec -a`.
fn squatters(lab: &Lab, node: &str) {
    let pid = lab.node_pid(node).to_string();
    let quiet = "exec >/dev/null 2>&1 </dev/null;";
    lab.cmd("mnexec")
        .args(["-a", &pid, "sh", "-c", &format!("{quiet} sleep 1000 & setsid -f sleep 1001")])
        .ok();
    let visitor = format!("{quiet} mnexec -a {pid} sleep 1002 &");
    lab.cmd("sh").args(["-c", &visitor]).ok();
}

#[test]
fn del_ends_every_process_and_removes_everything() {
    let lab = Lab::new();
    lab.cmd("mnnode").args(["add", "h1", "h2"]).ok();
    squatters(&lab, "h1");
    let inode = ns_inode(lab.node_pid("h1"), "net").expect("netns");
    assert!(eventually(Duration::from_secs(5), || pids_in_ns("net", inode).len() >= 4), "squatters started");
    let since = ticks();
    lab.cmd("mnnode").args(["del", "h1"]).ok();
    assert_eq!(survivors("net", inode, since), Vec::<i32>::new(), "no process left in h1's namespace");
    assert!(!netns_entry(&lab, "h1").exists(), "no ip netns entry");
    assert!(!lab.dir.join("h1").exists(), "no directory");
    let out = lab.cmd("mnnode").arg("list").ok();
    out.check(!out.stdout.contains("h1") && out.stdout.contains("h2"), "h2 untouched");
    assert!(alive(lab.node_pid("h2")));
}

#[test]
fn dead_node_is_listed_dead_and_removed_fully() {
    let lab = Lab::new();
    lab.cmd("mnnode").args(["add", "h1", "h2"]).ok();
    squatters(&lab, "h1");
    let pid = lab.node_pid("h1");
    let inode = ns_inode(pid, "net").expect("netns");
    assert!(eventually(Duration::from_secs(5), || pids_in_ns("net", inode).len() >= 4), "squatters started");
    // SAFETY: killing the shell this test's lab started.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    assert!(eventually(Duration::from_secs(5), || !alive(pid)));
    let out = lab.cmd("mnnode").arg("list").ok();
    out.check(out.stdout.lines().any(|l| l.starts_with("h1") && l.ends_with("dead")), "h1 dead");
    let out = lab.cmd("mnnode").args(["pid", "h1"]).code(1);
    assert_error(&out, "mnnode: node h1 is not running");
    let since = ticks();
    lab.cmd("mnnode").args(["del", "h1"]).ok();
    assert_eq!(survivors("net", inode, since), Vec::<i32>::new(), "the daemons of a dead node are gone too");
    assert!(!lab.dir.join("h1").exists() && !netns_entry(&lab, "h1").exists());
}

#[test]
fn clean_removes_all_and_is_idempotent() {
    let lab = Lab::new();
    lab.cmd("mnnode").args(["add", "h1", "h2"]).ok();
    lab.cmd("mnnode").args(["add", "--kind", "switch", "s1"]).ok();
    squatters(&lab, "h2");
    let inodes: Vec<u64> =
        ["h1", "h2", "s1"].iter().map(|n| ns_inode(lab.node_pid(n), "net").unwrap()).collect();
    // SAFETY: killing a shell this lab started: clean must handle the dead.
    unsafe { libc::kill(lab.node_pid("h1"), libc::SIGKILL) };
    let since = ticks();
    let out = lab.cmd("mnnode").args(["clean", "-v"]).ok();
    out.check(
        out.stdout.contains("removed host h1") && out.stdout.contains("removed switch s1"),
        "says what it removed",
    );
    for inode in inodes {
        assert_eq!(survivors("net", inode, since), Vec::<i32>::new());
    }
    assert!(netns_entries(&lab).is_empty(), "no ip netns entries: {:?}", netns_entries(&lab));
    assert_eq!(std::fs::read_dir(&lab.dir).expect("MN_DIR kept").count(), 1, "the marker only");
    let out = lab.cmd("mnnode").args(["clean", "-v"]).ok();
    out.check(out.stdout.is_empty(), "nothing left to remove");
    let out = lab.cmd("mnnode").arg("list").ok();
    out.check(out.stdout.lines().count() == 1, "only the header");
}

#[test]
fn clean_ends_the_shells_of_nodes_without_a_record() {
    // As if mnnode had died between starting the shells and registering
    // them: the directories hold no record.
    let lab = Lab::new();
    lab.cmd("mnnode").args(["add", "u1", "u2"]).ok();
    let inodes: Vec<u64> = ["u1", "u2"].iter().map(|n| ns_inode(lab.node_pid(n), "net").unwrap()).collect();
    for node in ["u1", "u2"] {
        std::fs::remove_file(lab.dir.join(node).join("node")).expect("remove the record");
    }
    let since = ticks();
    let out = lab.cmd("mnnode").args(["clean", "-v"]).ok();
    out.check(out.stdout.matches("a node that was never finished").count() == 2, "says what it removed");
    for inode in inodes {
        assert_eq!(survivors("net", inode, since), Vec::<i32>::new());
    }
    assert!(netns_entries(&lab).is_empty(), "no ip netns entries: {:?}", netns_entries(&lab));
    assert_eq!(std::fs::read_dir(&lab.dir).expect("MN_DIR kept").count(), 1, "the marker only");
}

#[test]
fn clean_and_list_are_safe_without_a_lab() {
    let lab = Lab::new();
    lab.cmd("mnnode").arg("clean").ok();
    assert!(!lab.dir.exists(), "clean creates nothing");
    let out = lab.cmd("mnnode").arg("list").ok();
    out.check(out.stdout.trim() == "NAME  KIND  PID  STATE", "a header only");
    assert_eq!(lab.cmd("mnnode").args(["list", "--json"]).ok().stdout.trim(), "[]");
    let out = lab.cmd("mnnode").args(["del", "h1"]).code(1);
    assert_error(&out, &format!("mnnode: no node named h1 in {}", lab.dir.display()));
}

#[test]
fn two_labs_with_the_same_names_stay_apart() {
    let a = Lab::new();
    let b = Lab::new();
    a.cmd("mnnode").args(["add", "h1", "h2"]).ok();
    b.cmd("mnnode").args(["add", "h1", "h2"]).ok();
    assert_ne!(ns_inode(a.node_pid("h1"), "net"), ns_inode(b.node_pid("h1"), "net"));
    a.cmd("mnnode").args(["del", "h1"]).ok();
    assert!(alive(b.node_pid("h1")), "b's h1 untouched by a's del");
    a.cmd("mnnode").arg("clean").ok();
    let out = b.cmd("mnnode").arg("list").ok();
    out.check(out.stdout.matches("running").count() == 2, "b's nodes untouched by a's clean");
    assert_eq!(netns_entries(&b).len(), 2);
}

#[test]
fn two_hundred_hosts_in_one_call() {
    let lab = Lab::new();
    let names: Vec<String> = (1..=200).map(|i| format!("h{i}")).collect();
    lab.cmd("mnnode").arg("add").args(&names).ok();
    let out = lab.cmd("mnnode").arg("list").ok();
    out.check(out.stdout.matches("running").count() == 200, "200 running");
    // By pid and start time: the namespaces' inodes are free for other
    // tests' namespaces once these are gone.
    let shells: Vec<mnnode::procfs::Stat> =
        names.iter().map(|n| mnnode::procfs::stat(lab.node_pid(n)).expect("stat")).collect();
    lab.cmd("mnnode").arg("clean").ok();
    assert!(netns_entries(&lab).is_empty());
    let left: Vec<i32> = shells
        .iter()
        .filter(|s| mnnode::procfs::stat(s.pid).is_some_and(|now| now.start == s.start && !now.is_dead()))
        .map(|s| s.pid)
        .collect();
    assert!(left.is_empty(), "shells left: {left:?}");
}

#[test]
fn root_node_sees_the_root_namespace() {
    let lab = Lab::new();
    lab.cmd("mnnode").args(["add", "--root", "r1"]).ok();
    let pid = lab.node_pid("r1");
    assert_eq!(ns_inode(pid, "net"), ns_inode(std::process::id() as i32, "net"));
    assert!(!netns_entry(&lab, "r1").exists(), "no ip netns entry for a root node");
    // A child of the root node goes with it; nothing else does.
    let child = lab.cmd("mnexec").args(["-a", &pid.to_string(), "true"]).run();
    child.check(child.status.success(), "attach to a root node");
    lab.cmd("mnnode").args(["del", "r1"]).ok();
    assert!(!alive(pid));
}

#[test]
fn cpu_limit_through_cgroups() {
    let lab = Lab::new();
    lab.cmd("mnnode").args(["add", "--cpu", "0.5", "h1"]).ok();
    let pid = lab.node_pid("h1");
    let cgroups = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).expect("cgroup");
    let group = format!("mn-{}-h1", lab.id());
    assert!(cgroups.contains(&group), "{cgroups}");
    let v1 = std::path::Path::new("/sys/fs/cgroup/cpu").join(&group);
    let v2 = std::path::Path::new("/sys/fs/cgroup").join(&group);
    let quota = if v1.exists() {
        std::fs::read_to_string(v1.join("cpu.cfs_quota_us")).expect("quota").trim().to_string()
    } else {
        std::fs::read_to_string(v2.join("cpu.max"))
            .expect("cpu.max")
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_string()
    };
    assert_eq!(quota, "50000", "half of a 100 ms period");
    lab.cmd("mnnode").args(["del", "h1"]).ok();
    assert!(!v1.exists() && !v2.exists(), "the cgroup goes with the node");
}

#[test]
fn ip_prints_the_first_ipv4_address() {
    let lab = Lab::new();
    lab.cmd("mnnode").args(["add", "h1"]).ok();
    let out = lab.cmd("mnnode").args(["ip", "h1"]).code(1);
    assert_error(&out, "mnnode: h1 has no IPv4 address");
    out.check(out.stdout.is_empty(), "no output");
    let ns = format!("{}-h1", lab.name());
    lab.cmd("ip").args(["-n", &ns, "link", "add", "v0", "type", "veth", "peer", "v1"]).ok();
    lab.cmd("ip").args(["-n", &ns, "addr", "add", "10.9.8.7/24", "dev", "v1"]).ok();
    let out = lab.cmd("mnnode").args(["ip", "h1"]).ok();
    assert_eq!(out.stdout, "10.9.8.7\n");
}

/// Asserts a bad `mnnode add` fails with exactly `error` and creates nothing.
fn rejected(lab: &Lab, args: &[&str], error: &str) {
    let before = lab.dir.exists().then(|| std::fs::read_dir(&lab.dir).map(|d| d.count()).unwrap_or(0));
    let out = lab.cmd("mnnode").args(args).fails();
    assert_error(&out, &format!("mnnode: {error}"));
    let after = lab.dir.exists().then(|| std::fs::read_dir(&lab.dir).map(|d| d.count()).unwrap_or(0));
    assert_eq!(before, after, "{args:?} changed MN_DIR");
}

#[test]
fn bad_names_and_options_create_nothing() {
    let lab = Lab::new();
    let long = "a".repeat(33);
    for bad in ["h-1", "h/1", "h 1", "1h"] {
        rejected(
            &lab,
            &["add", "h1", bad],
            &format!("{bad:?}: not a node name (a letter, then letters, digits or _)"),
        );
    }
    rejected(&lab, &["add", "h1", ""], "a node name cannot be empty");
    rejected(
        &lab,
        &["add", "h1", &long],
        &format!("{long}: node names are at most 32 bytes, this one is 33"),
    );
    assert!(!lab.dir.exists(), "no MN_DIR made for bad input");
    rejected(&lab, &["add", "h1", "h1"], "h1: named twice in this call");
    let kinds = "invalid value 'hub' for '--kind <KIND>' [possible values: host, switch, router, ovs]";
    rejected(&lab, &["add", "--kind", "hub", "h1"], kinds);
    for cpu in ["0", "-1"] {
        rejected(
            &lab,
            &["add", "--cpu", cpu, "h1"],
            &format!("--cpu {cpu}: must be a positive fraction of a CPU, such as 0.5"),
        );
    }
    rejected(
        &lab,
        &["add", "--cpu", "abc", "h1"],
        "invalid value 'abc' for '--cpu <FRACTION>': invalid float literal",
    );
    assert!(netns_entries(&lab).is_empty());

    lab.cmd("mnnode").args(["add", "h1"]).ok();
    let exists = format!("h1: a node of that name exists in {}", lab.dir.display());
    rejected(&lab, &["add", "h2", "h1"], &exists);
    assert!(!lab.dir.join("h2").exists(), "h2 not made when h1 is taken");
    for args in [&["del", "h9"][..], &["pid", "h9"], &["ip", "h9"], &["del", "h1", "h9"]] {
        let out = lab.cmd("mnnode").args(args).code(1);
        assert_error(&out, &format!("mnnode: no node named h9 in {}", lab.dir.display()));
    }
    assert!(alive(lab.node_pid("h1")), "del with an unknown name deletes nothing");
}

#[test]
fn add_dash_h1_is_an_error_not_help() {
    let lab = Lab::new();
    let out = lab.cmd("mnnode").args(["add", "-h1"]).code(2);
    assert_error(&out, "mnnode: unexpected argument '-h' found");
    out.check(out.stdout.is_empty(), "no help printed");
    assert!(!lab.dir.exists());
    let help = lab.cmd("mnnode").args(["add", "--help"]).ok();
    help.check(help.stdout.starts_with("Create nodes"), "--help still helps");
}

#[test]
fn unsafe_or_unusable_mn_dir_is_refused() {
    let lab = Lab::new();
    std::fs::create_dir_all(&lab.dir).expect("lab dir");
    std::fs::set_permissions(&lab.dir, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let open = format!("{}: MN_DIR is writable by others (mode 0777); refusing to use it", lab.dir.display());
    rejected(&lab, &["add", "h1"], &open);
    std::fs::set_permissions(&lab.dir, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    lab.cmd("mnnode").args(["add", "h0"]).ok();

    // A symlink planted in MN_DIR is never followed.
    let elsewhere = lab.dir.with_file_name("elsewhere");
    std::fs::create_dir_all(&elsewhere).expect("dir");
    std::os::unix::fs::symlink(&elsewhere, lab.dir.join("h1")).expect("symlink");
    let out = lab.cmd("mnnode").args(["pid", "h1"]).code(1);
    assert_error(&out, &format!("mnnode: {}: not a node directory", lab.dir.join("h1").display()));
    rejected(&lab, &["add", "h1"], &format!("h1: a node of that name exists in {}", lab.dir.display()));
    assert_eq!(std::fs::read_dir(&elsewhere).expect("dir").count(), 0, "nothing written through the symlink");

    let file = lab.cmd("mnnode").args(["add", "h1"]).env("MN_DIR", "/etc/hostname/lab").fails();
    assert_error(&file, "mnnode: /etc/hostname: Not a directory");
    let ro = lab.cmd("mnnode").args(["add", "h1"]).env("MN_DIR", "/proc/mnlab").fails();
    assert_error(&ro, "mnnode: /proc/mnlab: cannot create MN_DIR: No such file or directory");
}

#[test]
fn not_root_is_refused() {
    let lab = Lab::new();
    let out = lab
        .cmd("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(mn_tests::bin("mnnode"))
        .args(["add", "h1"])
        .fails();
    assert_error(&out, "mnnode: must be run as root (namespaces and links need it)");
    assert!(!lab.dir.exists());
}

#[test]
fn clean_leaves_a_same_named_lab_alone() {
    let a = Lab::new();
    a.cmd("mnnode").args(["add", "h1"]).ok();
    // Another MN_DIR whose last component, the lab's name, is the same.
    let twin = a.dir.parent().expect("parent").with_file_name(mn_tests::unique("twin")).join(a.name());
    std::fs::create_dir_all(twin.parent().expect("parent")).expect("dir");
    a.cmd("mnnode").arg("clean").env("MN_DIR", &twin).ok();
    assert!(netns_entry(&a, "h1").exists(), "a's live ip netns entry is not b's to remove");
    assert!(alive(a.node_pid("h1")));
    let _ = std::fs::remove_dir_all(twin.parent().expect("parent"));
}

#[test]
fn records_carry_the_protocol_and_older_nodes_are_refused_but_removable() {
    let lab = Lab::new();
    lab.cmd("mnnode").args(["add", "h1", "h2"]).ok();
    let record = lab.dir.join("h1/node");
    let text = std::fs::read_to_string(&record).expect("record");
    assert!(text.starts_with("protocol=2\n"), "{text}");
    std::fs::write(&record, text.replace("protocol=2\n", "")).expect("an older mnnode's record");
    let out = lab.cmd("mnlink").args(["add", "h1-eth0", "h2-eth0"]).code(1);
    assert_error(
        &out,
        "mnlink: node h1 was started by another version of mnnode (protocol 1, this one speaks 2); \
         remove it with mnnode del h1 and add it again",
    );
    lab.cmd("mnnode").args(["del", "h1"]).ok();
    assert!(!lab.dir.join("h1").exists());
}

#[test]
fn clean_ends_a_double_forked_daemon_of_a_root_node() {
    let lab = Lab::new();
    lab.cmd("mnnode").args(["add", "--root", "r1"]).ok();
    let out = lab.cmd("mnrun").args(["r1", "(sleep 778 </dev/null >/dev/null 2>&1 & echo $!)"]).ok();
    let daemon: i32 = out.stdout.trim().parse().expect("the daemon's pid");
    assert!(alive(daemon));
    let stat = mnnode::procfs::stat(daemon).expect("stat");
    assert_ne!(stat.ppid, lab.node_pid("r1"), "no child of the shell");
    lab.cmd("mnnode").arg("clean").ok();
    assert!(eventually(Duration::from_secs(5), || !alive(daemon)), "the daemon went with its session");
}

#[test]
fn mnnode_raises_its_descriptor_limit_and_shells_keep_the_callers() {
    let lab = Lab::new();
    let names: Vec<String> = (1..=40).map(|i| format!("f{i}")).collect();
    // Forty nodes take more descriptors than a soft limit of 32.
    lab.cmd("prlimit")
        .args(["--nofile=32:4096", "--"])
        .arg(mn_tests::bin("mnnode"))
        .arg("add")
        .args(&names)
        .ok();
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", lab.node_pid("f1"))).expect("limits");
    let line = limits.lines().find(|l| l.starts_with("Max open files")).expect("the limit");
    assert_eq!(line.split_whitespace().collect::<Vec<_>>()[3..5], ["32", "4096"], "{line}");
}
