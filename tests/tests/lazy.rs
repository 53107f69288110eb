//! Lazy nodes (`mnnode add --lazy`): a configured, pinned network
//! namespace and no shell until the first call that needs one.
use mn_tests::{Lab, alive, assert_error, netns_entries, netns_entry, ns_inode, pids_in_ns};
use std::os::unix::fs::MetadataExt;

/// The inode of the namespace a node's `ip netns` entry holds.
fn pinned(lab: &Lab, node: &str) -> u64 {
    std::fs::metadata(netns_entry(lab, node)).expect("the node's ip netns entry").ino()
}

/// The list's porcelain line of a node, as columns.
fn listed(lab: &Lab, node: &str) -> Vec<String> {
    let out = lab.cmd("mnnode").args(["list", "--porcelain"]).ok();
    let line = out.stdout.lines().find(|l| l.split('\t').next() == Some(node));
    line.unwrap_or_else(|| panic!("{node} listed in {:?}", out.stdout))
        .split('\t')
        .map(String::from)
        .collect()
}

/// Whether the entry is still a mount in our mount namespace.
fn mounted(entry: &std::path::Path) -> bool {
    let table = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    let entry = entry.to_string_lossy();
    table.lines().any(|l| l.split(' ').nth(4) == Some(&*entry))
}

#[test]
fn lazy_add_starts_no_process_and_ip_netns_sees_the_namespace() {
    let lab = Lab::new();
    lab.cmd("mnnode").args(["add", "--lazy", "h1", "h2"]).ok();
    lab.cmd("mnnode").args(["add", "--lazy", "--kind", "switch", "s1"]).ok();
    for node in ["h1", "h2", "s1"] {
        let inode = pinned(&lab, node);
        assert_ne!(
            Some(inode),
            ns_inode(std::process::id() as i32, "net"),
            "{node} has a namespace of its own"
        );
        assert_eq!(pids_in_ns("net", inode), Vec::<i32>::new(), "no process in {node}'s namespace");
        assert_eq!(listed(&lab, node)[2..4], ["-", "running"], "{node} is up without a shell");
    }
    // Only the record: FIFO, log and locks come with the shell.
    let files: Vec<String> = std::fs::read_dir(lab.dir.join("h1"))
        .expect("h1's directory")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files, ["node"]);
    let record = std::fs::read_to_string(lab.dir.join("h1/node")).expect("record");
    assert!(record.contains("\npid=-\nstart=-\n"), "{record}");

    // Configured as an eager node is: lo up, the kinds' settings.
    let ns = format!("{}-h1", lab.name());
    let out = lab.cmd("ip").args(["netns", "exec", &ns, "ip", "-o", "link", "show", "lo"]).ok();
    out.check(out.stdout.contains("LOWER_UP"), "lo up, through ip netns exec");
    let out = lab
        .cmd("ip")
        .args(["netns", "exec", &ns, "cat", "/proc/sys/net/ipv6/conf/default/addr_gen_mode"])
        .ok();
    assert_eq!(out.stdout.trim(), "1", "a host makes no IPv6 link-local address");
    let sw = format!("{}-s1", lab.name());
    let out = lab.cmd("ip").args(["-n", &sw, "-d", "link", "show", "s1"]).ok();
    out.check(out.stdout.contains("bridge"), "the switch's bridge");
    assert_eq!(pids_in_ns("net", pinned(&lab, "h1")), Vec::<i32>::new(), "still no shell");

    let json: serde_json::Value =
        serde_json::from_str(&lab.cmd("mnnode").args(["list", "--json"]).ok().stdout).expect("json");
    assert_eq!(json[0]["name"], "h1");
    assert_eq!(json[0]["pid"], serde_json::Value::Null);
    assert_eq!(json[0]["state"], "running");
    let out = lab.cmd("mnnode").arg("list").ok();
    let h1: Vec<&str> = out.stdout.lines().nth(1).expect("a row").split_whitespace().collect();
    assert_eq!(h1, ["h1", "host", "-", "running"]);
    // mnnode ip needs the namespace only.
    lab.cmd("mnnode").args(["ip", "h1"]).code(1);
    assert_eq!(pids_in_ns("net", pinned(&lab, "h1")), Vec::<i32>::new(), "ip started no shell");
}

#[test]
fn first_mnrun_starts_exactly_one_shell() {
    let lab = Lab::new();
    lab.cmd("mnnode").args(["add", "--lazy", "h1"]).ok();
    let inode = pinned(&lab, "h1");
    let out = lab.cmd("mnrun").args(["h1", "echo $MN_NODE; cd /tmp; x=kept"]).ok();
    assert_eq!(out.stdout, "h1\n");
    let shells = pids_in_ns("net", inode);
    assert_eq!(shells.len(), 1, "one shell in the namespace: {shells:?}");
    let pid = shells[0];
    assert_eq!(listed(&lab, "h1")[2], pid.to_string());
    // The shell's state persists; a second call starts nothing.
    let out = lab.cmd("mnrun").args(["h1", "echo $x $PWD"]).ok();
    assert_eq!(out.stdout, "kept /tmp\n");
    assert_eq!(pids_in_ns("net", inode), [pid]);
    // Its own mount namespace, with a sysfs of its network namespace.
    assert_ne!(ns_inode(pid, "mnt"), ns_inode(std::process::id() as i32, "mnt"));
    let out = lab.cmd("mnrun").args(["h1", "ls /sys/class/net"]).ok();
    assert_eq!(out.stdout, "lo\n");
    let environ = std::fs::read(format!("/proc/{pid}/environ")).expect("environ");
    assert!(environ.split(|&b| b == 0).any(|v| v == b"MN_NODE=h1"));
}

#[test]
fn concurrent_first_calls_start_one_shell() {
    let lab = Lab::new();
    lab.cmd("mnnode").args(["add", "--lazy", "h1"]).ok();
    let inode = pinned(&lab, "h1");
    let calls: Vec<_> =
        (0..8).map(|i| lab.cmd("mnrun").args(["h1", &format!("echo call{i}")]).start()).collect();
    for (i, call) in calls.into_iter().enumerate() {
        let out = call.finish();
        out.check(out.status.success() && out.stdout == format!("call{i}\n"), "every call answered");
    }
    let shells = pids_in_ns("net", inode);
    assert_eq!(shells.len(), 1, "exactly one shell: {shells:?}");
    assert_eq!(listed(&lab, "h1")[2], shells[0].to_string());
}

#[test]
fn mnnode_pid_starts_the_shell_for_mnexec_a() {
    let lab = Lab::new();
    lab.cmd("mnnode").args(["add", "--lazy", "h1", "h2"]).ok();
    let out = lab.cmd("mnnode").args(["pid", "h1", "h2"]).ok();
    let pids: Vec<i32> = out.stdout.lines().map(|l| l.parse().expect("a pid")).collect();
    assert_eq!(pids.len(), 2);
    assert!(pids.iter().all(|&p| alive(p)));
    assert_eq!(ns_inode(pids[0], "net"), Some(pinned(&lab, "h1")));
    assert_eq!(ns_inode(pids[1], "net"), Some(pinned(&lab, "h2")));
    // The same pid again: started once.
    assert_eq!(lab.node_pid("h1"), pids[0]);
    let out = lab.cmd("mnexec").args(["-a", &pids[0].to_string(), "cat", "/sys/class/net/lo/operstate"]).ok();
    assert_eq!(out.stdout, "unknown\n", "mnexec -a sees the node's own sysfs");
}

#[test]
fn mnlink_joins_lazy_nodes_without_starting_shells() {
    let lab = Lab::new();
    lab.cmd("mnnode").args(["add", "--lazy", "h1", "h2"]).ok();
    lab.cmd("mnnode").args(["add", "--lazy", "--kind", "switch", "s1"]).ok();
    lab.cmd("mnlink")
        .args(["-b", "-"])
        .stdin(
            "add h1-eth0 s1-eth1\nadd h2-eth0 s1-eth2\naddr h1-eth0 10.0.0.1/24\naddr h2-eth0 10.0.0.2/24\n",
        )
        .ok();
    for node in ["h1", "h2", "s1"] {
        assert_eq!(
            pids_in_ns("net", pinned(&lab, node)),
            Vec::<i32>::new(),
            "mnlink started no shell in {node}"
        );
    }
    let out = lab.cmd("mnlink").arg("list").ok();
    out.check(out.stdout.contains("h1-eth0") && out.stdout.contains("s1-eth2"), "both links listed");
    let out = lab.cmd("mnnode").args(["ip", "h2"]).ok();
    assert_eq!(out.stdout, "10.0.0.2\n");
    let out = lab.cmd("mnrun").args(["h1", "ping -c1 -W5 10.0.0.2 >/dev/null && echo reached"]).ok();
    assert_eq!(out.stdout, "reached\n");
    // Only h1 needed a shell.
    assert_eq!(listed(&lab, "h2")[2], "-");
    assert_eq!(listed(&lab, "s1")[2], "-");
    lab.cmd("mnlink").args(["del", "h1-eth0"]).ok();
    let out = lab.cmd("mnlink").arg("list").ok();
    out.check(!out.stdout.contains("h1-eth0"), "the link went");
}

#[test]
fn del_and_clean_leave_nothing() {
    let mut lab = Lab::new();
    lab.cmd("mnnode").args(["add", "--lazy", "h1", "h2", "h3", "h4"]).ok();
    lab.cmd("mnrun").args(["h2", "sleep 100 &"]).ok();
    // A visitor in a node that never had a shell.
    let visitor =
        lab.cmd("ip").args(["netns", "exec", &format!("{}-h3", lab.name()), "sleep", "100"]).spawn();
    let visitor = lab.track(visitor);
    let inodes: Vec<u64> = ["h1", "h2", "h3", "h4"].iter().map(|n| pinned(&lab, n)).collect();
    assert!(
        mn_tests::eventually(std::time::Duration::from_secs(10), || pids_in_ns("net", inodes[2]).len() == 1)
    );

    lab.cmd("mnnode").args(["del", "h1"]).ok();
    assert!(!netns_entry(&lab, "h1").exists() && !mounted(&netns_entry(&lab, "h1")));
    assert!(!lab.dir.join("h1").exists());

    let out = lab.cmd("mnnode").args(["clean", "--wait", "-v"]).ok();
    out.check(out.stdout.contains("removed host h3 (running)"), "clean names the lazy node");
    assert_eq!(netns_entries(&lab), Vec::<String>::new(), "no ip netns entry left");
    for node in ["h2", "h3", "h4"] {
        assert!(!mounted(&netns_entry(&lab, node)), "{node}'s entry unmounted");
        assert!(!lab.dir.join(node).exists());
    }
    assert!(!alive(visitor), "the visitor was ended");
    for inode in inodes {
        assert_eq!(pids_in_ns("net", inode), Vec::<i32>::new());
    }
}

#[test]
fn restart_of_a_lazy_node() {
    let lab = Lab::new();
    lab.cmd("mnnode").args(["add", "--lazy", "h1"]).ok();
    let inode = pinned(&lab, "h1");
    // Never started: restart starts its first shell.
    lab.cmd("mnnode").args(["restart", "h1"]).ok();
    let first = pids_in_ns("net", inode);
    assert_eq!(first.len(), 1);
    assert_eq!(listed(&lab, "h1")[2], first[0].to_string());
    // Started: restart replaces it, as for any node.
    lab.cmd("mnnode").args(["restart", "h1"]).ok();
    let second = lab.node_pid("h1");
    assert_ne!(second, first[0]);
    assert!(mn_tests::eventually(std::time::Duration::from_secs(10), || !alive(first[0])));
    assert_eq!(pids_in_ns("net", inode), [second]);
    let out = lab.cmd("mnrun").args(["h1", "echo $MN_NODE"]).ok();
    assert_eq!(out.stdout, "h1\n");
}

#[test]
fn a_lazy_node_whose_namespace_is_gone_says_so() {
    let lab = Lab::new();
    lab.cmd("mnnode").args(["add", "--lazy", "h1"]).ok();
    let entry = netns_entry(&lab, "h1");
    // Someone unmounted the entry: nothing holds the namespace any more.
    lab.cmd("umount").arg("-l").arg(&entry).ok();
    assert_eq!(listed(&lab, "h1")[2..4], ["-", "dead"]);
    let why = "node h1 is not running (its namespace is gone: the ip netns entry no longer holds it)";
    let out = lab.cmd("mnrun").args(["h1", "true"]).code(255);
    assert_error(&out, &format!("mnrun: {why}"));
    let out = lab.cmd("mnnode").args(["pid", "h1"]).fails();
    assert_error(&out, &format!("mnnode: {why}"));
    let out = lab.cmd("mnnode").args(["restart", "h1"]).fails();
    assert_error(
        &out,
        "mnnode: node h1 is not running (its namespace is gone); remove it with mnnode del h1 and add it again",
    );
    lab.cmd("mnnode").args(["del", "h1"]).ok();
    assert!(!entry.exists() && !lab.dir.join("h1").exists());
}

/// An inode number of a freed namespace is given to the next one made;
/// its cookie never is. A record whose cookie is not the namespace's
/// (as after a reuse; here the record is changed instead) names a node
/// whose namespace is gone: no shell starts in the other namespace and
/// no link is made there.
#[test]
fn a_namespace_with_another_cookie_is_not_the_nodes() {
    let lab = Lab::new();
    lab.cmd("mnnode").args(["add", "--lazy", "h1", "h2"]).ok();
    let inode = pinned(&lab, "h1");
    let record = lab.dir.join("h1/node");
    let text = std::fs::read_to_string(&record).expect("the record");
    let cookie: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("cookie="))
        .and_then(|c| c.parse().ok())
        .expect("a cookie in the record");
    let other = text.replace(&format!("cookie={cookie}\n"), &format!("cookie={}\n", cookie + 1));
    std::fs::write(&record, other).expect("write the record");
    let out = lab.cmd("mnrun").args(["h1", "echo ran"]).code(255);
    assert_error(
        &out,
        "mnrun: node h1 is not running (its namespace is gone: the ip netns entry no longer holds it)",
    );
    let out = lab.cmd("mnlink").args(["add", "h1-eth0", "h2-eth0"]).fails();
    assert_error(&out, "mnlink: node h1 is not running");
    assert_eq!(pids_in_ns("net", inode), Vec::<i32>::new(), "no shell started");
    let out = lab.cmd("mnrun").args(["h2", "ls /sys/class/net"]).ok();
    assert_eq!(out.stdout, "lo\n", "no link made");
    std::fs::write(&record, text).expect("restore the record");
    assert_eq!(lab.cmd("mnrun").args(["h1", "echo ran"]).ok().stdout, "ran\n");
}

#[test]
fn lazy_is_refused_where_there_is_no_namespace_to_pin() {
    let lab = Lab::new();
    let out = lab.cmd("mnnode").args(["add", "--lazy", "--root", "h1"]).fails();
    assert_error(
        &out,
        "mnnode: --lazy is for nodes with namespaces of their own; a --root node has no namespace to pin",
    );
    assert!(!lab.dir.join("h1").exists());
}

#[test]
fn a_lazy_nodes_cgroup_is_made_at_add_and_joined_by_its_shell() {
    let lab = Lab::new();
    let out = lab.cmd("mnnode").args(["add", "--lazy", "--cpu", "0.5", "h1"]).run();
    if !out.status.success() {
        mn_tests::skip("a_lazy_nodes_cgroup_is_made_at_add_and_joined_by_its_shell", &out.stderr);
        return;
    }
    let record = std::fs::read_to_string(lab.dir.join("h1/node")).expect("record");
    let group = record.lines().find_map(|l| l.strip_prefix("cgroup=")).expect("a cgroup in the record");
    let group = std::path::PathBuf::from(group);
    assert!(group.is_dir(), "made at add: {}", group.display());
    let name = group.file_name().expect("a name").to_string_lossy().into_owned();
    let out = lab.cmd("mnrun").args(["h1", "cat /proc/self/cgroup"]).ok();
    out.check(out.stdout.contains(&format!("/{name}\n")), "the shell's command runs in the node's cgroup");
    lab.cmd("mnnode").arg("clean").ok();
    assert!(!group.exists(), "clean removed it");
}

/// The pty a shell keeps on fd 59, by its index (None where the kernel's
/// fdinfo does not say).
fn pty_index(pid: i32) -> Option<String> {
    let info = std::fs::read_to_string(format!("/proc/{pid}/fdinfo/59")).ok()?;
    info.lines().find_map(|l| l.strip_prefix("tty-index:")).map(|i| i.trim().to_string())
}

#[test]
fn lazy_shells_share_one_pty() {
    let lab = Lab::new();
    lab.cmd("mnnode").args(["add", "--lazy", "h1", "h2", "h3"]).ok();
    for node in ["h1", "h2", "h3"] {
        lab.cmd("mnrun").args([node, "true"]).ok();
    }
    let ptys: Vec<Option<String>> = ["h1", "h2", "h3"].iter().map(|n| pty_index(lab.node_pid(n))).collect();
    if ptys[0].is_none() {
        mn_tests::skip("lazy_shells_share_one_pty", "this kernel's fdinfo shows no tty-index");
        return;
    }
    assert!(ptys.iter().all(|p| *p == ptys[0]), "one pty for the lab's lazy shells: {ptys:?}");
    // The shell lending it gone, the next one lends its own.
    lab.cmd("mnnode").args(["del", "h1"]).ok();
    lab.cmd("mnnode").args(["add", "--lazy", "h4"]).ok();
    lab.cmd("mnrun").args(["h4", "true"]).ok();
    assert!(pty_index(lab.node_pid("h4")).is_some(), "h4 has a terminal");
    lab.cmd("mnnode").arg("clean").ok();
    assert!(!lab.dir.join(".pty").exists(), "clean removed the lab's pty hint");
}

#[test]
fn every_node_of_a_big_call_gets_its_kinds_sysctls() {
    // More nodes than one private procfs instance serves (sysctl.rs).
    let lab = Lab::new();
    let hosts: Vec<String> = (1..=70).map(|i| format!("h{i}")).collect();
    lab.cmd("mnnode").arg("add").arg("--lazy").args(&hosts).ok();
    lab.cmd("mnnode").args(["add", "--lazy", "--kind", "switch", "s1"]).ok();
    lab.cmd("mnnode").args(["add", "--kind", "router", "r1"]).ok();
    let files = "/proc/sys/net/ipv4/ip_forward /proc/sys/net/ipv6/conf/all/forwarding \
                 /proc/sys/net/ipv6/conf/default/addr_gen_mode /proc/sys/net/ipv6/conf/all/disable_ipv6";
    let script = format!(
        "for n in {} s1 r1; do echo $n $(ip netns exec {}-$n cat {files}); done",
        hosts.join(" "),
        lab.name()
    );
    let out = lab.cmd("bash").args(["-c", &script]).ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 72);
    for (i, host) in hosts.iter().enumerate() {
        assert_eq!(
            lines[i],
            format!("{host} 0 0 1 0"),
            "a host forwards nothing and makes no link-local address"
        );
    }
    assert_eq!(lines[70], "s1 0 0 0 1", "a switch has no IPv6 of its own");
    assert_eq!(lines[71], "r1 1 1 0 0", "a router forwards");
}

#[test]
fn ctrl_c_at_the_terminal_during_a_first_start_spares_the_shell() {
    use std::os::unix::process::CommandExt;
    let lab = Lab::new();
    let names: Vec<String> = (1..=8).map(|i| format!("h{i}")).collect();
    lab.cmd("mnnode").arg("add").arg("--lazy").args(&names).ok();
    for name in &names {
        let mut cmd = lab.cmd("mnrun").args([name.as_str(), "echo started"]);
        // As pingall's calls: background jobs (SIGINT ignored) in the
        // terminal's foreground process group, which Ctrl-C signals whole.
        // SAFETY: only setpgid and signal, async-signal-safe, before exec.
        unsafe {
            cmd.command().pre_exec(|| {
                libc::setpgid(0, 0);
                libc::signal(libc::SIGINT, libc::SIG_IGN);
                Ok(())
            });
        }
        let call = cmd.start();
        let group = call.pid();
        // Ctrl-C after Ctrl-C while the call runs (until it is a zombie,
        // which keeps its group from being reused); a call that hangs is
        // left to finish() to report.
        let ctrl_c = std::thread::spawn(move || {
            let since = std::time::Instant::now();
            while alive(group) && since.elapsed() < std::time::Duration::from_secs(30) {
                // SAFETY: signalling the process group of our own child.
                unsafe { libc::kill(-group, libc::SIGINT) };
                std::thread::sleep(std::time::Duration::from_micros(50));
            }
        });
        ctrl_c.join().expect("the signalling thread");
        let out = call.finish();
        out.check(out.status.success() && out.stdout == "started\n", "the call went through");
        let shell = lab.node_pid(name);
        assert!(alive(shell), "{name}'s shell survived the Ctrl-Cs");
    }
}

/// `clean` marks the lab while it ends it (`.cleaning`: its pid and start
/// time); a first start under that mark refuses, and a mark whose process
/// is gone (a clean that died) is ignored.
#[test]
fn no_first_shell_starts_while_clean_ends_the_lab() {
    let lab = Lab::new();
    lab.cmd("mnnode").args(["add", "--lazy", "h1"]).ok();
    let me = std::process::id() as i32;
    let start = mnnode::procfs::stat(me).expect("our own stat").start;
    std::fs::write(lab.dir.join(".cleaning"), format!("{me} {start}\n")).unwrap();
    let out = lab.cmd("mnrun").args(["h1", "true"]).code(255);
    assert_error(
        &out,
        &format!("mnrun: node h1 is being removed (mnnode clean, pid {me} is ending the lab)"),
    );
    let out = lab.cmd("mnnode").args(["pid", "h1"]).code(1);
    assert_error(
        &out,
        &format!("mnnode: node h1 is being removed (mnnode clean, pid {me} is ending the lab)"),
    );
    assert_eq!(listed(&lab, "h1")[2], "-", "no shell was started");

    // A clean that died: its mark names a process that is gone.
    let mut gone = std::process::Command::new("true").spawn().unwrap();
    let pid = gone.id();
    gone.wait().unwrap();
    std::fs::write(lab.dir.join(".cleaning"), format!("{pid} 1\n")).unwrap();
    let out = lab.cmd("mnrun").args(["h1", "echo up"]).ok();
    assert_eq!(out.stdout, "up\n", "a stale mark is ignored");
    std::fs::remove_file(lab.dir.join(".cleaning")).unwrap();
}

/// First calls racing a clean: every shell they start is one clean ends,
/// and nothing is left in any node's namespace.
#[test]
fn first_calls_racing_clean_leave_nothing_behind() {
    let lab = Lab::new();
    let names: Vec<String> = (1..=24).map(|i| format!("h{i}")).collect();
    lab.cmd("mnnode").args(["add", "--lazy"]).args(&names).ok();
    let inodes: Vec<u64> = names.iter().map(|n| pinned(&lab, n)).collect();
    let callers: Vec<_> = names.iter().map(|n| lab.cmd("mnrun").args([n.as_str(), "true"]).spawn()).collect();
    lab.cmd("mnnode").arg("clean").ok();
    for mut caller in callers {
        // Each either ran or was refused; none may hang.
        let _ = caller.wait();
    }
    // A shell started after clean looked would still be there now.
    for (name, inode) in names.iter().zip(inodes) {
        assert!(
            mn_tests::eventually(std::time::Duration::from_secs(5), || pids_in_ns("net", inode).is_empty()),
            "{name}'s namespace still has processes: {:?}",
            pids_in_ns("net", inode)
        );
    }
    assert!(netns_entries(&lab).is_empty(), "entries left: {:?}", netns_entries(&lab));
    assert!(!lab.dir.join(".cleaning").exists(), "clean removed its mark");
}

/// Kills the process group it leads on drop, whatever the test did.
struct Holder(std::process::Child);

impl Drop for Holder {
    fn drop(&mut self) {
        // SAFETY: signalling the group of a child we started, not reaped yet.
        unsafe { libc::kill(-(self.0.id() as i32), libc::SIGKILL) };
        let _ = self.0.wait();
    }
}

/// `mnrun -t` bounds the wait on another call's start of the shell too.
/// With the node's start lock held (as a first start in progress holds
/// it), it gives up with 124, starts no shell of its own and runs
/// nothing; once the lock is let go, the node answers as usual.
#[test]
fn mnrun_t_bounds_the_wait_for_another_calls_first_start() {
    use std::io::BufRead;
    use std::os::unix::process::CommandExt;
    let lab = Lab::new();
    lab.cmd("mnnode").args(["add", "--lazy", "h1"]).ok();
    let inode = pinned(&lab, "h1");
    let mut holder = Holder(
        std::process::Command::new("flock")
            .arg(lab.dir.join("h1"))
            .args(["-c", "echo held; exec sleep 60"])
            .stdout(std::process::Stdio::piped())
            .process_group(0)
            .spawn()
            .expect("flock(1)"),
    );
    let mut held = String::new();
    let stdout = holder.0.stdout.take().expect("flock's stdout");
    std::io::BufReader::new(stdout).read_line(&mut held).expect("read");
    assert_eq!(held, "held\n");
    let out = lab.cmd("mnrun").args(["-t", "0.3", "h1", "echo ran"]).code(124);
    out.check(out.stdout.is_empty() && out.stderr.is_empty(), "nothing ran, nothing said");
    assert_eq!(pids_in_ns("net", inode), Vec::<i32>::new(), "no shell started");
    assert_eq!(listed(&lab, "h1")[2], "-");
    drop(holder);
    assert_eq!(lab.cmd("mnrun").args(["-t", "10", "h1", "echo ran"]).ok().stdout, "ran\n");
    assert_eq!(pids_in_ns("net", inode).len(), 1, "one shell");
}
