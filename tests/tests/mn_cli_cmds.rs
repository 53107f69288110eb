//! scripts/mn's CLI commands beyond the basics, in Mininet's names and
//! output shapes, driven through tmux: intfs, ports, dump, pingpairfull,
//! time, wait, switch, iperfudp, py/px, x/xterm, help CMD, node commands
//! that keep their quoting, and Tab completion.
use mn_tests::{Lab, Tmux, eventually, mn, nothing_left};
use std::time::Duration;

/// The lines a command printed: those after the last prompt that shows it,
/// up to the next prompt (waited for: the command must have finished).
fn answer(tmux: &Tmux, command: &str) -> Vec<String> {
    let typed = format!("mininet> {command}");
    let after = || {
        let screen = tmux.screen();
        screen.rsplit_once(&typed).map(|(_, rest)| rest.to_string()).unwrap_or_default()
    };
    let done =
        eventually(Duration::from_secs(60), || after().lines().skip(1).any(|l| l.starts_with("mininet>")));
    assert!(done, "no prompt after {command:?}:\n{}", tmux.screen());
    after().lines().skip(1).take_while(|l| !l.starts_with("mininet>")).map(String::from).collect()
}

#[test]
fn listing_commands_in_mininet_shapes() {
    let lab = Lab::new();
    let tmux = Tmux::start(&lab, "--topo single,2");
    tmux.wait_for("mininet>", 1);
    tmux.line("intfs", "s1: s1-eth1,s1-eth2");
    assert_eq!(answer(&tmux, "intfs"), ["h1: h1-eth0", "h2: h2-eth0", "s1: s1-eth1,s1-eth2"]);
    tmux.line("ports", "s1 s1-eth1:1 s1-eth2:2");
    tmux.line("dump", "<Switch s1:");
    let (h1, h2, s1) = (lab.node_pid("h1"), lab.node_pid("h2"), lab.node_pid("s1"));
    assert_eq!(
        answer(&tmux, "dump"),
        [
            format!("<Host h1: h1-eth0:10.0.0.1 pid={h1}>"),
            format!("<Host h2: h2-eth0:10.0.0.2 pid={h2}>"),
            format!("<Switch s1: s1-eth1:None,s1-eth2:None pid={s1}>"),
        ]
    );
    tmux.line("help iperfudp", "UDP bandwidth at rate BW");
    assert_eq!(
        answer(&tmux, "help iperfudp"),
        ["iperfudp BW [A B]         UDP bandwidth at rate BW (such as 10M)"]
    );
    tmux.line("help x", "a shell in NODE (tmux window, xterm)");
    tmux.line("help frob", "*** No help on frob");
    tmux.line("help [", "*** No help on [");
    tmux.line("exit", "MN-EXITED 0");
    nothing_left(&lab);
}

#[test]
fn node_commands_keep_their_quoting_and_whitespace() {
    let lab = Lab::new();
    let tmux = Tmux::start(&lab, "--topo single,2");
    tmux.wait_for("mininet>", 1);
    // Only bare words that are a node's name become its IP, as in Mininet.
    let command = r"h1 printf '[%s]\n' 'a  b' h2 'h2' h2x  h2";
    tmux.line(command, "[h2x]");
    assert_eq!(answer(&tmux, command), ["[a  b]", "[10.0.0.2]", "[h2]", "[h2x]", "[10.0.0.2]"]);
    tmux.line("h1 echo \"two  spaces\"", "two  spaces\n");
    tmux.line("exit", "MN-EXITED 0");
    nothing_left(&lab);
}

#[test]
fn pingpairfull_time_wait_switch_and_iperfudp() {
    let lab = Lab::new();
    let tmux = Tmux::start(&lab, "--topo single,3");
    tmux.wait_for("mininet>", 1);
    tmux.line("pingpairfull", "*** Results: 0% dropped (2/2 received)");
    let lines = answer(&tmux, "pingpairfull");
    assert!(lines.iter().any(|l| l.starts_with("h1 -> h2: 1/1, rtt min/avg/max/mdev ")), "{lines:?}");
    assert!(lines.iter().any(|l| l.starts_with("h2 -> h1: 1/1, rtt min/avg/max/mdev ")), "{lines:?}");
    tmux.line("time h1 echo timed", "*** Elapsed time: ");
    let lines = answer(&tmux, "time h1 echo timed");
    assert_eq!(lines[0], "timed");
    assert!(
        lines[1].strip_prefix("*** Elapsed time: ").and_then(|r| r.strip_suffix(" secs")).is_some_and(|t| t
            .split_once('.')
            .is_some_and(|(s, f)| s.parse::<u64>().is_ok() && f.len() == 6)),
        "{lines:?}"
    );
    tmux.line("wait", "*** Waiting for switches to connect");
    // A stopped switch forwards nothing; started, it does again.
    tmux.line("switch s1 stop", "mininet>");
    tmux.line("pingpair", "*** Results: 100% dropped (0/2 received)");
    tmux.line("switch s1 start", "mininet>");
    tmux.line("pingpair", "*** Results: 0% dropped (2/2 received)");
    tmux.line("switch h1 stop", "*** Error: invalid switch: h1");
    tmux.line("switch s1", "usage: switch NAME start|stop");
    tmux.line("iperfudp 5M h1 h3", "*** Results: ['5M', '");
    let lines = answer(&tmux, "iperfudp 5M h1 h3");
    assert_eq!(lines[0], "*** Iperf: testing UDP bandwidth between h1 and h3");
    let rates = lines[1].strip_prefix("*** Results: ['5M', '").unwrap_or_default();
    assert_eq!(rates.matches(" Mbits/sec'").count(), 2, "{lines:?}");
    tmux.line("iperfudp 5M h1 h9", "*** Error: node 'h9' not in network");
    tmux.line("iperfudp lots", "usage: iperfudp BW [A B] (BW such as 10M)");
    tmux.line("exit", "MN-EXITED 0");
    nothing_left(&lab);
}

#[test]
fn py_answers_the_common_forms_and_explains_the_rest() {
    let lab = Lab::new();
    let tmux = Tmux::start(&lab, "--topo single,2");
    tmux.wait_for("mininet>", 1);
    tmux.line("py h2.IP()", "10.0.0.2\n");
    let mac = lab.cmd("mnrun").args(["h1", "cat /sys/class/net/h1-eth0/address"]).ok().stdout;
    tmux.line("py h1.MAC()", &mac);
    tmux.line("py s1.intfNames()", "['s1-eth1', 's1-eth2']");
    let (h1, h2) = (lab.node_pid("h1"), lab.node_pid("h2"));
    tmux.line(
        "py net.hosts",
        &format!("[<Host h1: h1-eth0:10.0.0.1 pid={h1}>, <Host h2: h2-eth0:10.0.0.2 pid={h2}>]"),
    );
    tmux.line("py net.switches", "[<Switch s1: s1-eth1:None,s1-eth2:None pid=");
    tmux.line("py h1.cmd('ip -4 addr')", "*** py: this CLI is a shell, not Python; use: h1 ip -4 addr");
    tmux.line("py [n for n in net]", "*** for the rest run shell commands: NODE CMD (h1 ip -4 addr), sh CMD");
    assert_eq!(
        answer(&tmux, "py [n for n in net]")[0],
        "*** py: this CLI is a shell, not Python; py knows NODE.IP(), NODE.MAC(), NODE.intfNames(), net.hosts, net.switches"
    );
    tmux.line("px x = 1", "*** px: this CLI is a shell, not Python");
    tmux.line("exit", "MN-EXITED 0");
    nothing_left(&lab);
}

#[test]
fn x_opens_a_shell_in_the_node_in_a_tmux_window() {
    let lab = Lab::new();
    let tmux = Tmux::start(&lab, "--topo single,2");
    tmux.wait_for("mininet>", 1);
    tmux.send(&["xterm h2", "Enter"]);
    assert!(
        eventually(Duration::from_secs(20), || tmux.windows().contains(&"h2".into())),
        "{:?}",
        tmux.windows()
    );
    // The window's shell is in h2's namespaces: it sees h2's interface.
    tmux.send_to("h2", &["ip -br -4 addr show h2-eth0; echo MN_NODE=$MN_NODE", "Enter"]);
    let seen = eventually(Duration::from_secs(20), || {
        let screen = tmux.window_screen("h2");
        screen.contains("10.0.0.2/8") && screen.contains("MN_NODE=h2")
    });
    assert!(seen, "{}", tmux.window_screen("h2"));
    tmux.send_to("h2", &["exit", "Enter"]);
    tmux.line("x h9", "*** Error: node 'h9' not in network");
    tmux.line("exit", "MN-EXITED 0");
    nothing_left(&lab);
}

#[test]
fn x_without_tmux_or_display_says_so() {
    let lab = Lab::new();
    let out = mn(&lab).env("TMUX", "").env("DISPLAY", "").stdin("x h1\nexit\n").ok();
    out.check(
        out.stdout.contains(
            "*** Error: no terminal to open for h1: run mn inside tmux, or with a DISPLAY (or use: h1 CMD)",
        ),
        "a clear message",
    );
    nothing_left(&lab);
}

#[test]
fn tab_completes_commands_and_node_names() {
    let lab = Lab::new();
    let tmux = Tmux::start(&lab, "--topo single,2");
    tmux.wait_for("mininet>", 1);
    // One candidate: completed, with a space.
    tmux.send(&["intf", "Tab"]);
    assert!(
        eventually(Duration::from_secs(10), || tmux.screen().contains("mininet> intfs")),
        "{}",
        tmux.screen()
    );
    tmux.send(&["Enter"]);
    tmux.wait_for("s1: s1-eth1,s1-eth2", 1);
    // Several: listed above the prompt.
    tmux.send(&["pingp", "Tab"]);
    tmux.wait_for("mininet> pingp\npingpair pingpairfull\nmininet> pingpair", 1);
    tmux.send(&["C-u"]);
    // A node name in a later word (the directory holds no file named s*).
    tmux.send(&["h1 echo s", "Tab"]);
    assert!(
        eventually(Duration::from_secs(10), || tmux.screen().contains("h1 echo s1")),
        "{}",
        tmux.screen()
    );
    tmux.send(&["completed", "Enter"]);
    tmux.wait_for("s1 completed\n", 1);
    // After help, a command.
    tmux.send(&["help iperfu", "Tab"]);
    assert!(
        eventually(Duration::from_secs(10), || tmux.screen().contains("help iperfudp")),
        "{}",
        tmux.screen()
    );
    tmux.send(&["Enter"]);
    tmux.wait_for("UDP bandwidth at rate BW", 1);
    tmux.line("exit", "MN-EXITED 0");
    nothing_left(&lab);
}

#[test]
fn mn_help_and_man_page_list_the_cli_commands() {
    let lab = Lab::new();
    let help = mn(&lab).arg("--help").ok().stdout;
    let man = std::fs::read_to_string(mn_tests::repo().join("man/mn.1")).expect("man/mn.1");
    let cli_help = mn(&lab).stdin("help\n").ok().stdout;
    let commands = [
        "intfs",
        "ports",
        "dump",
        "iperfudp",
        "pingpairfull",
        "switch",
        "wait",
        "time",
        "xterm",
        "x",
        "py",
        "px",
    ];
    for command in commands {
        assert!(help.split_whitespace().any(|w| w.trim_end_matches(',') == command), "mn --help: {command}");
        assert!(man.contains(&format!("\\fB{command}\\fR")), "mn(1) documents {command}");
        assert!(cli_help.contains(&format!(" {command} ")), "the CLI's help lists {command}");
    }
    nothing_left(&lab);
}

#[test]
fn xterm_with_a_display_starts_an_xterm_in_the_node() {
    // A stand-in xterm that writes down how it was called.
    let lab = Lab::new();
    let stubs = lab.dir.with_file_name("xbin");
    std::fs::create_dir_all(&stubs).expect("dir");
    let called = lab.dir.with_file_name("xterm-called");
    let stub =
        format!("#!/bin/sh\nprintf '%s|' \"$@\" >>{}\necho >>{}\n", called.display(), called.display());
    std::fs::write(stubs.join("xterm"), stub).expect("stub");
    mn_tests::Cmd::new("chmod").arg("+x").arg(stubs.join("xterm")).ok();
    let path = format!("{}:{}", stubs.display(), std::env::var("PATH").unwrap_or_default());
    let out = mn(&lab)
        .env("TMUX", "")
        .env("DISPLAY", ":99")
        .env("PATH", path)
        .stdin("xterm h1\nx h2 ping -c1 h1\nsh sleep 1\nh1 echo pid $MN_NODE $$\nexit\n")
        .ok();
    let pid = out.stdout.lines().find_map(|l| l.strip_prefix("pid h1 ")).expect("h1's pid").to_string();
    let mnexec = mn_tests::bin_dir().join("mnexec").display().to_string();
    let calls = std::fs::read_to_string(&called).expect("xterm was called");
    let mut calls: Vec<&str> = calls.lines().collect();
    calls.sort();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert_eq!(calls[0], format!("-title|Node: h1|-e|{mnexec}|-a|{pid}|env|MN_NODE=h1|bash|"));
    assert!(
        calls[1].starts_with("-title|Node: h2|-e|")
            && calls[1].ends_with("|env|MN_NODE=h2|bash|-c|ping -c1 10.0.0.1|")
    );
    nothing_left(&lab);
}

#[test]
fn dump_and_py_show_every_interface_of_a_router() {
    let lab = Lab::new();
    let topo = mn_tests::repo().join("scripts/topologies/tworouters.sh");
    let out = mn(&lab)
        .arg("--topo")
        .arg(&topo)
        .args(["-v", "output"])
        .stdin("dump\npy r1.IP()\npy r2.intfNames()\nintfs\nexit\n")
        .ok();
    let r1 = line_starting(&out.stdout, "<Router r1: ");
    assert_eq!(
        r1.split_once(" pid=").map(|(a, _)| a),
        Some("<Router r1: r1-eth0:10.1.0.1,r1-eth1:10.12.0.1")
    );
    out.check(out.stdout.contains("\n10.1.0.1\n"), "r1's first interface's address");
    out.check(out.stdout.contains("\n['r2-eth0', 'r2-eth1']\n"), "r2's interfaces");
    out.check(out.stdout.contains("\nr1: r1-eth0,r1-eth1\n"), "intfs");
    nothing_left(&lab);
}

#[test]
fn dump_and_py_know_interfaces_the_topology_names() {
    // intf1=up0: the batch's end is h1:up0; dump and py showed up0:None
    // and looked for /sys/class/net/h1:up0.
    let lab = Lab::new();
    let dir = mn_tests::topologies(
        &lab,
        &[("named.sh", "host h1\nhost h2\nswitch s1\nlink h1 s1 intf1=up0\nlink h2 s1\n")],
    );
    let out = mn(&lab)
        .arg("--topo")
        .arg(dir.join("named.sh"))
        .args(["-v", "output"])
        .stdin("dump\npy h1.IP()\npy h1.MAC()\nh1 cat /sys/class/net/up0/address\nexit\n")
        .ok();
    let h1 = line_starting(&out.stdout, "<Host h1: ");
    assert_eq!(h1.split_once(" pid=").map(|(a, _)| a), Some("<Host h1: up0:10.0.0.1"));
    let lines: Vec<&str> = out.stdout.lines().collect();
    let at = lines.iter().position(|l| l.starts_with("<Switch s1: ")).expect("dump's last line") + 1;
    assert_eq!(lines[at], "10.0.0.1", "{}", out.stdout);
    assert_eq!(lines[at + 1].len(), 17, "a MAC address: {}", out.stdout);
    assert_eq!(lines[at + 1], lines[at + 2], "py h1.MAC() is up0's");
    out.check(out.stderr.is_empty(), "no error");
    nothing_left(&lab);
}

#[test]
fn a_switch_started_again_forwards_at_once() {
    // While s1 is stopped, h1's ARP for h2 fails. A pingall that gave up
    // before the kernel did (ping -W3, three 1 s probes) left that failing
    // resolution for the next ping to join: pingpair right after `switch
    // s1 start` was dropped with it. Several rounds, as a user would.
    let lab = Lab::new();
    let round = "switch s1 stop\npingpair\nswitch s1 start\npingpair\n";
    let out = mn(&lab).args(["--topo", "single,3", "-v", "output"]).stdin(round.repeat(3)).ok();
    let results: Vec<&str> = out.stdout.lines().filter(|l| l.starts_with("*** Results:")).collect();
    let (stopped, started) =
        ("*** Results: 100% dropped (0/2 received)", "*** Results: 0% dropped (2/2 received)");
    assert_eq!(results, [stopped, started, stopped, started, stopped, started], "{}", out.stdout);
    nothing_left(&lab);
}

/// The line of `text` that starts with `start`.
fn line_starting<'a>(text: &'a str, start: &str) -> &'a str {
    text.lines().find(|l| l.starts_with(start)).unwrap_or_else(|| panic!("no {start:?} in:\n{text}"))
}

#[test]
fn commands_on_unknown_nodes_say_one_line_and_the_cli_goes_on() {
    // Each says one line, changes nothing, and the CLI reads on; mn exits 0
    // (a CLI session's status is its teardown's, as mn(1) says).
    let lab = Lab::new();
    let cases = [
        ("h9 ls", "*** Unknown command: h9 ls"),
        ("iperf h1 h9", "*** Error: node 'h9' not in network"),
        ("iperf h9", "usage: iperf [A B]"),
        ("iperfudp 5M h9 h1", "*** Error: node 'h9' not in network"),
        ("link h1 h9 down", "*** Error: no link between h1 and h9"),
        ("switch s9 stop", "*** Error: invalid switch: s9"),
        ("noecho h9 ls", "*** Error: node 'h9' not in network"),
        ("x h9", "*** Error: node 'h9' not in network"),
        ("xterm h1 h9", "*** Error: node 'h9' not in network"),
        ("py h9.IP()", "*** Error: node 'h9' not in network"),
        ("help h9", "*** No help on h9"),
        ("source /", "*** Error: cannot read /"),
    ];
    let mut input = String::new();
    for (command, _) in &cases {
        input.push_str(&format!("{command}\nsh echo next\n"));
    }
    input.push_str("pingall\n");
    let out = mn(&lab).args(["--topo", "minimal", "-v", "output"]).stdin(input).ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    for (i, (command, says)) in cases.iter().enumerate() {
        assert_eq!(lines[2 * i..2 * i + 2], [*says, "next"], "{command}:\n{}", out.stdout);
    }
    out.check(out.stdout.contains("*** Results: 0% dropped (2/2 received)"), "the network is whole");
    out.check(out.stderr.is_empty(), "nothing on stderr");
    nothing_left(&lab);
}
