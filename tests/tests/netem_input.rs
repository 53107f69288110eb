//! Bad link-emulation input, refused before anything is made, and the
//! netem options failing cleanly on a kernel without sch_netem. These run
//! everywhere; the measured netem tests are in netem.rs.
use mn_tests::{Feature, assert_error, lab_with, mnlink};

#[test]
fn bad_shaping_fails_before_anything_is_made() {
    let lab = lab_with(&["h1", "h2"], &[]);
    mnlink(&lab, &["add", "h1-eth0", "h2-eth0", "--bw", "10"]);
    for (options, message) in [
        (&["--delay", "-5ms"][..], "--delay -5ms: out of range (0 to 60s)"),
        (&["--delay", "2min"][..], "--delay 2min: not a time (such as 5ms, 1.5s or 100us)"),
        (&["--delay", "5ms", "--jitter", "90s"][..], "--jitter 90s: out of range (0 to 60s)"),
        (&["--loss", "101%"][..], "--loss 101%: not a percentage from 0 to 100"),
        (&["--duplicate", "-1"][..], "--duplicate -1: not a percentage from 0 to 100"),
        (&["--corrupt", "lots"][..], "--corrupt lots: not a percentage from 0 to 100"),
        (&["--delay", "5ms", "--reorder", "200"][..], "--reorder 200: not a percentage from 0 to 100"),
        (&["--rate", "-1"][..], "--rate -1: not a rate (a positive number of Mbit/s, such as 10 or 0.5)"),
        (&["--max-queue-size", "0"][..], "--queue 0: not a number of packets (1 to 1000000)"),
        (&["--jitter", "1ms"][..], "--jitter needs --delay (the jitter varies the delay)"),
        (
            &["--reorder", "25%"][..],
            "--reorder needs --delay (reordered packets are the ones sent without it)",
        ),
        (
            &["--delay", "5ms", "--delay-distribution", "normal"][..],
            "--delay-distribution needs --jitter (it shapes how the jitter is drawn)",
        ),
        (
            &["--delay", "5ms", "--jitter", "1ms", "--delay-distribution", "gauss"][..],
            "--delay-distribution gauss: not a distribution (normal, pareto or paretonormal)",
        ),
    ] {
        let out = lab.cmd("mnlink").args(["add", "h1-eth1", "h2-eth1"]).args(options).code(1);
        assert_error(&out, &format!("mnlink: {message}"));
        let out = lab.cmd("mnlink").args(["set", "h1-eth0"]).args(options).code(1);
        assert_error(&out, &format!("mnlink: {message}"));
    }
    let pid = lab.node_pid("h1").to_string();
    let out = lab.cmd("mnexec").args(["-a", &pid, "ls", "/sys/class/net"]).ok();
    assert_eq!(out.stdout, "h1-eth0\nlo\n", "no link was made");
    let out = mnlink(&lab, &["list"]);
    out.check(out.stdout.contains(" bw=10Mbit queue=1000\n"), "the old shaping stands");
}

#[test]
fn new_netem_options_fail_cleanly_without_netem() {
    if Feature::Netem.present() {
        mn_tests::skip(
            "new_netem_options_fail_cleanly_without_netem",
            "this kernel has sch_netem (the tests of netem.rs cover it)",
        );
        return;
    }
    let lab = lab_with(&["h1", "h2"], &[]);
    for (options, named) in [
        (&["--delay", "5ms", "--reorder", "10"][..], "--delay"),
        (&["--delay", "5ms", "--jitter", "1ms", "--delay-distribution", "pareto"][..], "--delay"),
        (&["--duplicate", "1"][..], "--duplicate"),
        (&["--corrupt", "1"][..], "--corrupt"),
        (&["--rate", "5"][..], "--rate"),
        (&["--bw", "10", "--rate", "5", "--queue", "10"][..], "--rate"),
    ] {
        let out = lab.cmd("mnlink").args(["add", "h1-eth0", "h2-eth0"]).args(options).code(1);
        assert_error(
            &out,
            &format!("mnlink: {named} needs the netem qdisc, which this kernel lacks (sch_netem)"),
        );
    }
    let pid = lab.node_pid("h1").to_string();
    let out = lab.cmd("mnexec").args(["-a", &pid, "ls", "/sys/class/net"]).ok();
    assert_eq!(out.stdout, "lo\n", "no link was made");
}
