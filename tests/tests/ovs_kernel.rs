//! OVS switches on the kernel's datapath (`system`), where the kernel has
//! the openvswitch module: the VM leg (Debian's kernel). Where it has not
//! (this machine's host leg), the kernel datapath is refused in one line
//! and the rest is skipped, saying so.
use mn_tests::{Lab, assert_error, mn, mnlink, nothing_left, skip};
use std::path::Path;
use std::process::{Command, Stdio};

/// Whether the kernel has the openvswitch module (loaded on demand).
fn kernel_datapath() -> bool {
    let _ = Command::new("modprobe").args(["-q", "openvswitch"]).stderr(Stdio::null()).status();
    Path::new("/sys/module/openvswitch").exists()
}

fn have_ovs(test: &str) -> bool {
    let found = ["/usr/sbin/ovs-vswitchd", "/sbin/ovs-vswitchd"].iter().any(|p| Path::new(p).is_file());
    if !found {
        skip(test, "Open vSwitch is not installed (scripts/setup --dev installs openvswitch-switch)");
    }
    found
}

#[test]
fn kernel_datapath_switches_forward_and_go_with_the_lab() {
    let test = "kernel_datapath_switches_forward_and_go_with_the_lab";
    if !have_ovs(test) {
        return;
    }
    let lab = Lab::new();
    if !kernel_datapath() {
        let out = lab.cmd("mnnode").args(["add", "--kind", "ovs", "--datapath", "kernel", "s1"]).code(1);
        assert_error(
            &out,
            "mnnode: --datapath kernel: this kernel has no openvswitch module; use --datapath user",
        );
        assert!(!lab.dir.exists(), "nothing made");
        skip(test, "this kernel has no openvswitch module (runs in the VM leg)");
        return;
    }
    // auto picks the kernel's datapath where the module is.
    lab.cmd("mnnode").args(["add", "--kind", "ovs", "s1"]).ok();
    lab.cmd("mnnode").args(["add", "h1", "h2"]).ok();
    mnlink(&lab, &["add", "h1-eth0", "s1-eth1"]);
    mnlink(&lab, &["add", "h2-eth0", "s1-eth2"]);
    mnlink(&lab, &["addr", "h1-eth0", "10.0.0.1/24"]);
    mnlink(&lab, &["addr", "h2-eth0", "10.0.0.2/24"]);
    let show = lab.cmd("mnrun").args(["s1", "ovs-vsctl show"]).ok();
    show.check(show.stdout.contains("datapath_type: system"), "the kernel datapath");
    let dp = lab.cmd("mnrun").args(["s1", "ovs-appctl dpctl/show"]).ok();
    dp.check(
        dp.stdout.contains("system@ovs-system") && dp.stdout.contains("s1-eth2"),
        "the kernel's datapath holds the ports",
    );
    let ping = lab.cmd("mnrun").args(["h1", "ping -c3 -i0.2 -W2 10.0.0.2"]).run();
    ping.check(ping.status.success(), "h1 reaches h2 through the kernel datapath");
    // ovs-system lives in the lab's OVS namespace, never in ours.
    let here = Command::new("ip").args(["-o", "link", "show", "s1"]).output().expect("ip");
    assert!(!here.status.success(), "no s1 device in the root namespace");
    lab.cmd("mnnode").arg("clean").ok();
    assert!(!lab.dir.join(".ovs").exists(), "the lab's OVS is gone");
}

#[test]
fn kernel_datapath_ref_pingall_through_mn() {
    let test = "kernel_datapath_ref_pingall_through_mn";
    if !have_ovs(test) {
        return;
    }
    if !kernel_datapath() {
        skip(test, "this kernel has no openvswitch module (runs in the VM leg)");
        return;
    }
    let lab = Lab::new();
    // Under qemu without KVM the controller's first round (ARP, then a
    // flow per pair) can outlast ping's 1 s: the second pingall counts.
    let out = mn(&lab)
        .args(["--topo", "tree,2,2", "--switch", "ovsk", "--controller", "ref"])
        .stdin("pingall\npingall\n")
        .ok();
    let results: Vec<&str> = out.stdout.lines().filter(|l| l.contains("Results")).collect();
    out.check(results.len() == 2, "two pingalls");
    out.check(
        results[1] == "*** Results: 0% dropped (12/12 received)",
        "every ping answered the second time",
    );
    eprintln!("{test}: {}", results.join("; "));
    nothing_left(&lab);
}
