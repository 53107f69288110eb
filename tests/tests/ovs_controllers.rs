//! OVS switches against OpenFlow controllers no one here wrote, through
//! scripts/mn: ovs-testcontroller (`--controller ref`) and Faucet (from
//! PyPI, in the virtualenv scripts/setup --dev makes) as a remote
//! controller on 127.0.0.1.
use mn_tests::{Lab, Started, mn, nothing_left, skip};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where scripts/setup --dev puts Faucet (scripts/lib/packages.sh).
const FAUCET_VENV: &str = "/opt/mn-faucet";

fn have(test: &str, program: &str, package: &str) -> bool {
    let found = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .chain([PathBuf::from("/usr/sbin")])
        .any(|d| d.join(program).is_file());
    if !found {
        skip(test, &format!("{program} is not installed (scripts/setup --dev installs {package})"));
    }
    found
}

#[test]
fn ref_controller_pingall_on_tree_2_2() {
    let test = "ref_controller_pingall_on_tree_2_2";
    if !have(test, "ovs-vswitchd", "openvswitch-switch")
        || !have(test, "ovs-testcontroller", "openvswitch-testcontroller")
    {
        return;
    }
    let lab = Lab::new();
    let out = mn(&lab)
        .args([
            "--topo",
            "tree,2,2",
            "--switch",
            "ovs,protocols=OpenFlow10,OpenFlow13,datapath=user",
            "--controller",
            "ref",
            "--test",
            "pingall",
        ])
        .ok();
    out.check(out.stdout.contains("*** Results: 0% dropped (12/12 received)"), "every ping answered");
    eprintln!("{test}: {}", out.stdout.lines().find(|l| l.contains("Results")).unwrap_or(""));
    nothing_left(&lab);
    assert!(!lab.dir.join(".ovs").exists(), "the lab's OVS is gone");
}

#[test]
fn ref_controllers_serve_more_than_16_switches() {
    let test = "ref_controllers_serve_more_than_16_switches";
    if !have(test, "ovs-vswitchd", "openvswitch-switch")
        || !have(test, "ovs-testcontroller", "openvswitch-testcontroller")
    {
        return;
    }
    // One ovs-testcontroller takes 16 switches; a 17th is refused.
    let lab = Lab::new();
    let args = ["--topo", "linear,20", "--switch", "ovs,datapath=user", "--controller", "ref"];
    let out = mn(&lab).args(args).args(["--keep", "--test", "pingall"]).ok();
    out.check(out.stdout.contains("*** Results: 0% dropped (380/380 received)"), "every ping answered");
    let ovs = lab.dir.join(".ovs");
    assert!(ovs.join("ref-s1.pid").exists() && ovs.join("ref-s17.pid").exists(), "two controllers");
    // The second goes with the last of its switches.
    lab.cmd("mnnode").args(["del", "s17", "s18", "s19"]).ok();
    assert!(ovs.join("ref-s17.pid").exists(), "s20 still uses it");
    lab.cmd("mnnode").args(["del", "s20"]).ok();
    assert!(
        !ovs.join("ref-s17.pid").exists() && ovs.join("ref-s1.pid").exists(),
        "only the unused one ended"
    );
    mn(&lab).arg("-c").ok();
    nothing_left(&lab);
}

#[test]
fn mn_refuses_bad_switch_and_controller_options() {
    let lab = Lab::new();
    for (args, line) in [
        (&["--switch", "hub"][..], "mn: --switch hub: not a switch (lxbr, ovs, ovsk, ovsbr, user)"),
        (
            &["--switch", "ovs,speed=9"],
            "mn: --switch ovs,speed=9: speed: not an option (protocols, datapath, failMode)",
        ),
        (
            &["--switch", "ovs,datapath=fast"],
            "mn: --switch ovs,datapath=fast: datapath=fast: not user or kernel",
        ),
        (
            &["--switch", "lxbr,protocols=OpenFlow13"],
            "mn: --switch lxbr,protocols=OpenFlow13: protocols=OpenFlow13: not an option of Linux bridges (stp=0|1)",
        ),
        (
            &["--controller", "nox"],
            "mn: --controller nox: not a controller (none, ref, remote[,ip=IP][,port=PORT])",
        ),
        (
            &["--controller", "remote,port=70000"],
            "mn: --controller remote,port=70000: port=70000: not a port number",
        ),
        (
            &["--switch", "ovsbr", "--controller", "ref"],
            "mn: --switch ovsbr: an OVS bridge has no controller (--controller ref)",
        ),
        (
            &["--switch", "ovs,protocols=OpenFlow13,OpenFlow99"],
            "mn: --switch ovs,protocols=OpenFlow13,OpenFlow99: OpenFlow99: not an OpenFlow version (OpenFlow10 to OpenFlow15)",
        ),
    ] {
        let out = mn(&lab).args(args).args(["--test", "build"]).code(1);
        out.check(
            out.stderr.lines().last() == Some(line),
            &format!("the last line of stderr saying `{line}`"),
        );
    }
    // The kernel's datapath asked for where there is none: said before
    // anything is made (the VM leg's kernel has it: ovs_kernel.rs).
    let _ = mn_tests::Cmd::new("modprobe").args(["-q", "openvswitch"]).run();
    if !std::path::Path::new("/sys/module/openvswitch").exists() {
        let out = mn(&lab).args(["--switch", "ovsk", "--test", "build"]).code(1);
        assert_eq!(
            out.stderr,
            "mn: --switch ovsk: this kernel has no openvswitch module; use --switch ovs,datapath=user\n"
        );
        assert!(!lab.dir.exists(), "nothing made");
    }
    // Without Open vSwitch: mn names the package before it builds anything.
    let dir = lab.dir.with_file_name("nobin");
    std::fs::create_dir_all(&dir).unwrap();
    for tool in ["bash", "ping", "mktemp", "cat", "rm", "readlink", "tail", "sed", "tr", "sort"] {
        if let Some(p) = which(tool) {
            let _ = std::os::unix::fs::symlink(p, dir.join(tool));
        }
    }
    let out = mn(&lab).env("PATH", &dir).args(["--switch", "ovs", "--test", "build"]).code(1);
    out.check(
        out.stderr.lines().last() == Some("mn: ovs-vswitchd not found (Debian package: openvswitch-switch)"),
        "mn naming the package",
    );
    assert!(!lab.dir.exists(), "nothing made");
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// A TCP port on 127.0.0.1 that nothing listens on right now.
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    l.local_addr().expect("its address").port()
}

/// Faucet, started in the background on 127.0.0.1:PORT with CONFIG;
/// killed (with its process group) when dropped.
struct Faucet(Started);

impl Drop for Faucet {
    fn drop(&mut self) {
        let pid = self.0.pid();
        // SAFETY: signals to the process group of the Faucet we started.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
            libc::kill(pid, libc::SIGKILL);
        }
    }
}

fn start_faucet(lab: &Lab, config: &Path, port: u16) -> Faucet {
    let dir = config.parent().expect("a directory");
    let venv_bin = Path::new(FAUCET_VENV).join("bin");
    let path = std::env::join_paths(
        std::iter::once(venv_bin.clone())
            .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
    )
    .expect("PATH");
    let mut cmd = lab
        .cmd(venv_bin.join("faucet"))
        .env("PATH", path)
        .env("FAUCET_CONFIG", config)
        .env("FAUCET_LOG", dir.join("faucet.log"))
        .env("FAUCET_EXCEPTION_LOG", dir.join("faucet.exception.log"))
        .env("FAUCET_PROMETHEUS_ADDR", "127.0.0.1")
        .env("FAUCET_PROMETHEUS_PORT", free_port().to_string())
        .args(["--ryu-ofp-listen-host=127.0.0.1", &format!("--ryu-ofp-tcp-listen-port={port}")]);
    // A process group of its own, so that it can be killed whole.
    // SAFETY: setpgid is async-signal-safe.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(cmd.command(), || {
            libc::setpgid(0, 0);
            Ok(())
        });
    }
    let faucet = Faucet(cmd.start());
    let listening = mn_tests::eventually(Duration::from_secs(60), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    assert!(listening, "Faucet listens on 127.0.0.1:{port} within a minute");
    faucet
}

#[test]
fn faucet_as_remote_controller_pingall_and_its_flows() {
    let test = "faucet_as_remote_controller_pingall_and_its_flows";
    if !have(test, "ovs-vswitchd", "openvswitch-switch") {
        return;
    }
    if !Path::new(FAUCET_VENV).join("bin/faucet").is_file() {
        skip(test, &format!("Faucet is not installed in {FAUCET_VENV} (scripts/setup --dev installs it)"));
        return;
    }
    let lab = Lab::new();
    let dir = lab.dir.with_file_name("faucet");
    std::fs::create_dir_all(&dir).expect("faucet dir");
    let config = dir.join("faucet.yaml");
    // One VLAN, the switch's dpid (s1: 1) and its two ports.
    std::fs::write(
        &config,
        "vlans:\n  lab:\n    vid: 100\ndps:\n  s1:\n    dp_id: 0x1\n    hardware: \"Open vSwitch\"\n    \
         interfaces:\n      1:\n        native_vlan: lab\n      2:\n        native_vlan: lab\n",
    )
    .expect("write faucet.yaml");
    let port = free_port();
    let _faucet = start_faucet(&lab, &config, port);
    let out = mn(&lab)
        .args([
            "--topo",
            "single,2",
            "--switch",
            "ovs,protocols=OpenFlow13,datapath=user",
            "--controller",
            &format!("remote,ip=127.0.0.1,port={port}"),
        ])
        // Faucet programs a switch some time after it connects (longer on
        // a loaded machine): wait for its flows (its cookie) first.
        .stdin(
            "s1 for i in $(seq 100); do ovs-ofctl -O OpenFlow13 dump-flows s1 | grep -q 0x5adc15c0 && break; \
             sleep 0.1; done\npingall\ndpctl dump-flows\n",
        )
        .ok();
    out.check(out.stdout.contains("*** Results: 0% dropped (2/2 received)"), "pingall through Faucet");
    // Faucet's flows: its cookie, the VLAN it pushes, its learned hosts.
    let flows: Vec<&str> = out.stdout.lines().filter(|l| l.contains("cookie=0x5adc15c0")).collect();
    out.check(flows.len() >= 10, "Faucet's flows in dpctl dump-flows");
    out.check(flows.iter().any(|l| l.contains("set_field:4196->vlan_vid")), "the VLAN 100 Faucet pushes");
    out.check(flows.iter().any(|l| l.contains("dl_vlan=100,dl_dst=")), "hosts Faucet learned");
    eprintln!(
        "{test}: {}; Faucet installed {} flows",
        out.stdout.lines().find(|l| l.contains("Results")).unwrap_or(""),
        flows.len()
    );
    nothing_left(&lab);
}
