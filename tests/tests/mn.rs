//! scripts/mn: the launcher's tests, topologies, the CLI (driven through
//! tmux), cleaning up after a crash, and bad input.
use mn_tests::{Cmd, Lab, bin_dir, eventually, netns_entries, repo, unique};
use std::time::Duration;

fn mn(lab: &Lab) -> Cmd {
    lab.cmd(repo().join("scripts/mn"))
        .env("MN_BIN", bin_dir())
        .env("MN_HISTORY", lab.dir.with_file_name("history"))
}

/// Nothing of the lab is left: no nodes, no ip netns entries.
fn nothing_left(lab: &Lab) {
    let out = lab.cmd("mnnode").arg("list").ok();
    out.check(out.stdout.lines().count() == 1, "no nodes left");
    assert!(netns_entries(lab).is_empty(), "ip netns entries left: {:?}", netns_entries(lab));
}

#[test]
fn pingall_on_the_builtin_topologies() {
    let lab = Lab::new();
    for (topo, pairs) in [("minimal", 2), ("single,4", 12), ("linear,4", 12), ("tree,2,2", 12)] {
        let out = mn(&lab).args(["--topo", topo, "--test", "pingall"]).ok();
        let want = format!("*** Results: 0% dropped ({pairs}/{pairs} received)");
        out.check(out.stdout.contains(&want), &want);
        nothing_left(&lab);
    }
}

#[test]
fn mininet_names_ports_and_addresses() {
    let lab = Lab::new();
    let out = mn(&lab).args(["--topo", "linear,3,2", "--keep", "--test", "build"]).ok();
    out.check(out.stdout.contains("h1s1 h2s1 h1s2 h2s2 h1s3 h2s3"), "linear,K,N host names");
    let links = lab.cmd("mnlink").arg("list").ok().stdout;
    for pair in ["h1s1-eth0  s1-eth1", "h2s1-eth0  s1-eth2", "s1-eth3    s2-eth3"] {
        assert!(links.contains(pair), "{pair} in\n{links}");
    }
    assert_eq!(lab.cmd("mnnode").args(["ip", "h2s3"]).ok().stdout, "10.0.0.6\n");
    mn(&lab).arg("-c").ok();
    nothing_left(&lab);
    mn(&lab)
        .args(["--topo", "single,2", "--ipbase", "192.168.5.0/24", "--mac", "--keep", "--test", "build"])
        .ok();
    assert_eq!(lab.cmd("mnnode").args(["ip", "h2"]).ok().stdout, "192.168.5.2\n");
    let mac = lab.cmd("mnrun").args(["h2", "cat /sys/class/net/h2-eth0/address"]).ok();
    assert_eq!(mac.stdout, "00:00:00:00:00:02\n");
}

#[test]
fn iperf_over_a_shaped_link() {
    let lab = Lab::new();
    let out = mn(&lab).args(["--topo", "single,2", "--link", "tc,bw=10", "--test", "iperf"]).ok();
    let line = out.stdout.lines().find(|l| l.starts_with("*** Results: ['")).expect("a results line");
    let server: f64 = line
        .split('\'')
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .expect("a rate");
    assert!((8.5..=11.5).contains(&server), "{line}");
    nothing_left(&lab);
}

#[test]
fn build_and_custom_topology_with_routers() {
    let lab = Lab::new();
    let out = mn(&lab).args(["--test", "build"]).ok();
    out.check(out.stdout.contains("*** Done") && out.stdout.contains("completed in"), "a build");
    let topo = repo().join("scripts/topologies/tworouters.sh");
    let out = mn(&lab).arg("--topo").arg(&topo).args(["--test", "pingall"]).ok();
    out.check(
        out.stdout.contains("0% dropped (2/2 received)"),
        "h1 and h2 reach each other through two routers",
    );
    nothing_left(&lab);
}

#[test]
fn bad_input_creates_nothing() {
    let lab = Lab::new();
    std::fs::create_dir_all(lab.dir.with_file_name("topos")).expect("dir");
    let broken = lab.dir.with_file_name("topos").join("broken.sh");
    std::fs::write(&broken, "host h1\nif then\n").expect("write");
    let unknown = lab.dir.with_file_name("topos").join("unknown.sh");
    std::fs::write(&unknown, "host h1\nlink h1 h9\n").expect("write");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec!["--topo".into(), "linear,0".into()], "linear,0"),
        (vec!["--topo".into(), "nosuch".into()], "nosuch"),
        (vec!["--link".into(), "tc,bw=abc".into()], "bw=abc"),
        (vec!["--topo".into(), broken.display().to_string()], "syntax error"),
        (vec!["--topo".into(), unknown.display().to_string()], "no node h9"),
        (vec!["--test".into(), "nosuch".into()], "nosuch"),
        (vec!["--frobnicate".into()], "unknown option"),
    ];
    for (args, says) in cases {
        let out = mn(&lab).args(["--test", "build"]).args(&args).code(1);
        let lines: Vec<&str> = out.stderr.lines().collect();
        out.check(
            lines.len() == 1 && lines[0].starts_with("mn: ") && lines[0].contains(says),
            "one clear line",
        );
        out.check(!out.stdout.contains("Creating network"), "nothing built");
    }
    assert!(!lab.dir.exists() || std::fs::read_dir(&lab.dir).map(|d| d.count()).unwrap_or(0) == 0);
    assert!(netns_entries(&lab).is_empty());
}

/// A tmux server of our own, killed with the test.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(lab: &Lab, mn_args: &str) -> Tmux {
        let socket = unique("mntmux");
        let script = repo().join("scripts/mn");
        let command = format!(
            "env MN_DIR={} MN_BIN={} MN_HISTORY={} TMPDIR={} {} {mn_args}; echo MN-EXITED $?; sleep 600",
            lab.dir.display(),
            bin_dir().display(),
            lab.dir.with_file_name("history").display(),
            lab.dir.with_file_name("").display(),
            script.display()
        );
        Cmd::new("tmux").args(["-L", &socket, "new-session", "-d", "-x", "160", "-y", "50", &command]).ok();
        Tmux { socket }
    }

    fn screen(&self) -> String {
        Cmd::new("tmux").args(["-L", &self.socket, "capture-pane", "-p", "-S", "-1000"]).run().stdout
    }

    fn send(&self, keys: &[&str]) {
        Cmd::new("tmux").args(["-L", &self.socket, "send-keys"]).args(keys).ok();
    }

    /// Types a line and waits until `expect` has appeared `times` times.
    fn line(&self, text: &str, expect: &str) {
        let before = self.screen().matches(expect).count();
        self.send(&[text, "Enter"]);
        self.wait_for(expect, before + 1);
    }

    fn wait_for(&self, text: &str, times: usize) {
        let seen = eventually(Duration::from_secs(60), || self.screen().matches(text).count() >= times);
        assert!(seen, "waited for {text:?} ({times}x) in:\n{}", self.screen());
    }

    /// The pid of mn itself (the pane runs a shell that runs mn).
    fn mn_pid(&self) -> i32 {
        let out = Cmd::new("tmux").args(["-L", &self.socket, "display-message", "-p", "#{pane_pid}"]).ok();
        let pane: i32 = out.stdout.trim().parse().expect("pane pid");
        let children =
            std::fs::read_to_string(format!("/proc/{pane}/task/{pane}/children")).expect("children");
        children.split_whitespace().next().and_then(|p| p.parse().ok()).expect("mn's pid")
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Cmd::new("tmux").args(["-L", &self.socket, "kill-server"]).run();
    }
}

#[test]
fn the_cli() {
    let lab = Lab::new();
    let tmux = Tmux::start(&lab, "--topo single,2");
    tmux.wait_for("mininet>", 1);
    tmux.line("nodes", "h1 h2 s1");
    tmux.line("h1 ping -c1 h2", "1 received");
    tmux.line("net", "h1 h1-eth0:s1-eth1");
    tmux.line("bogus", "*** Unknown command: bogus");
    // Ctrl-C stops a running command and the CLI carries on.
    tmux.send(&["h1 ping h2", "Enter"]);
    tmux.wait_for("icmp_seq=2", 1);
    let prompts = tmux.screen().matches("mininet>").count();
    tmux.send(&["C-c"]);
    tmux.wait_for("mininet>", prompts + 1);
    tmux.line("h1 echo after-interrupt", "after-interrupt\n");
    // A link down makes pingall fail; up restores it.
    tmux.line("link s1 h1 down", "mininet>");
    tmux.line("pingall", "dropped");
    assert!(tmux.screen().contains("*** Results: 100% dropped (0/2 received)"), "{}", tmux.screen());
    tmux.line("link s1 h1 up", "mininet>");
    tmux.line("pingall", "0% dropped (2/2 received)");
    tmux.line("exit", "MN-EXITED 0");
    nothing_left(&lab);
}

/// The mnrun processes mn has running, at any depth.
fn mnruns_of(mn: i32) -> Vec<i32> {
    use mnnode::procfs;
    let descends = |mut pid: i32| {
        while let Some(stat) = procfs::stat(pid) {
            if stat.ppid == mn {
                return true;
            }
            if stat.ppid <= 1 {
                break;
            }
            pid = stat.ppid;
        }
        false
    };
    let is_mnrun = |pid: i32| mn_tests::command_name(pid).is_some_and(|name| name == "mnrun");
    procfs::pids().into_iter().filter(|&pid| is_mnrun(pid) && descends(pid)).collect()
}

#[test]
fn ctrl_c_stops_a_pingall() {
    // h1 cut off from its switch (its port out of the bridge, its link up):
    // each of its 7 pings waits a second. pingall's calls run in the
    // background, where SIGINT is ignored and mnrun keeps it so: mn passes
    // Ctrl-C on, and the prompt comes back once every call has stopped,
    // having sent far fewer than the 56 pings of a whole run.
    let lab = Lab::new();
    let tmux = Tmux::start(&lab, "--topo single,8");
    tmux.wait_for("mininet>", 1);
    tmux.line("s1 ip link set s1-eth1 nomaster", "mininet>");
    let prompts = tmux.screen().matches("mininet>").count();
    tmux.send(&["pingall", "Enter"]);
    let mn = tmux.mn_pid();
    assert!(eventually(Duration::from_secs(10), || mnruns_of(mn).len() == 8), "pingall runs");
    tmux.send(&["C-c"]);
    tmux.wait_for("mininet>", prompts + 1);
    assert_eq!(mnruns_of(mn), Vec::<i32>::new(), "calls left running:\n{}", tmux.screen());
    let screen = tmux.screen();
    let sent = screen
        .lines()
        .rev()
        .find_map(|l| l.split_once("*** Results:").and_then(|(_, r)| r.split_once('/')))
        .and_then(|(_, r)| r.split_whitespace().next()?.parse::<u32>().ok())
        .unwrap_or_else(|| panic!("a results line in:\n{screen}"));
    assert!(sent < 56, "pingall was interrupted, yet sent {sent}:\n{screen}");
    tmux.line("h1 echo after-interrupt", "after-interrupt\n");
    tmux.line("exit", "MN-EXITED 0");
    nothing_left(&lab);
}

#[test]
fn clean_after_a_killed_mn() {
    let lab = Lab::new();
    let tmux = Tmux::start(&lab, "--topo single,3");
    tmux.wait_for("mininet>", 1);
    let inodes: Vec<u64> =
        ["h1", "h2", "s1"].iter().filter_map(|n| mn_tests::ns_inode(lab.node_pid(n), "net")).collect();
    // SAFETY: killing the mn this test's tmux started.
    unsafe { libc::kill(tmux.mn_pid(), libc::SIGKILL) };
    let out = mn(&lab).arg("-c").ok();
    out.check(
        out.stdout.contains("removed host h1") && out.stdout.contains("removed switch s1"),
        "says what it removed",
    );
    nothing_left(&lab);
    for inode in inodes {
        assert!(mn_tests::pids_in_ns("net", inode).is_empty());
    }
}

#[test]
fn scripts_are_shellcheck_clean() {
    let scripts = [
        "scripts/mn",
        "scripts/examples/bufferbloat/run.sh",
        "scripts/examples/bufferbloat/summary.sh",
        "scripts/topologies/tworouters.sh",
        "scripts/topologies/dumbbell.sh",
        ".ci/run",
    ];
    let which = Cmd::new("sh").args(["-c", "command -v shellcheck"]).run();
    if !which.status.success() {
        mn_tests::skip("scripts_are_shellcheck_clean", "shellcheck is not installed");
        return;
    }
    let out = Cmd::new("shellcheck").args(["-s", "bash"]).args(scripts.map(|s| repo().join(s))).run();
    out.check(out.status.success(), "no shellcheck findings");
}

#[test]
fn cli_input_from_a_pipe_is_never_eaten_by_a_node() {
    let lab = Lab::new();
    let out = mn(&lab).args(["--topo", "minimal"]).stdin("h1 cat\nnodes\nexit\n").ok();
    out.check(out.stdout.contains("available nodes are:"), "the line after `h1 cat` still ran");
    nothing_left(&lab);
}

#[test]
fn closing_mns_output_early_still_tears_down() {
    let lab = Lab::new();
    let script = format!("{} --topo linear,3 --test pingall | head -1", repo().join("scripts/mn").display());
    let out = lab.cmd("sh").args(["-c", &script]).env("MN_BIN", bin_dir()).ok();
    assert_eq!(out.stdout, "*** Creating network\n");
    assert!(
        eventually(Duration::from_secs(10), || netns_entries(&lab).is_empty()),
        "left: {:?}",
        netns_entries(&lab)
    );
    nothing_left(&lab);
}
