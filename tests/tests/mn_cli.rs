//! scripts/mn's CLI: driven through tmux (commands, Ctrl-C, link down and
//! up), cleaning up after a killed mn, and CLI input from a pipe.
use mn_tests::{Lab, Tmux, eventually, mn, nothing_left};
use std::time::Duration;

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
    // the pings to and from it wait 3 s each. pingall's calls run in the
    // background, where SIGINT is ignored and mnrun keeps it so: mn passes
    // Ctrl-C on, and the prompt comes back once every call has stopped.
    // The pings Ctrl-C stopped were not lost: no list, no count of drops.
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
    let after = &screen[screen.rfind("mininet> pingall").expect("the command")..];
    assert!(after.contains("*** Interrupted\n"), "{screen}");
    assert!(!after.contains("*** Results:") && !after.contains(" -> "), "{screen}");
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
fn cli_input_from_a_pipe_is_never_eaten_by_a_node() {
    let lab = Lab::new();
    let out = mn(&lab).args(["--topo", "minimal"]).stdin("h1 cat\nnodes\nexit\n").ok();
    out.check(out.stdout.contains("available nodes are:"), "the line after `h1 cat` still ran");
    nothing_left(&lab);
}
