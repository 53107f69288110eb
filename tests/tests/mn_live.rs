//! scripts/mn on a running lab: the CLI's graph, capture and changes
//! (addhost, addswitch, addlink, dellink, delnode, set link), and save and
//! rebuild, compared field by field through `mnlink graph --format json`.
use mn_tests::{Cmd, Lab, bin_dir, eventually, mn, nothing_left, repo, unique};
use std::path::Path;
use std::time::Duration;

fn graph_json(lab: &Lab) -> serde_json::Value {
    let out = lab.cmd("mnlink").args(["graph", "--format", "json"]).ok();
    let mut g: serde_json::Value = serde_json::from_str(&out.stdout).expect("graph json");
    // Pids differ between two labs; everything else must not.
    for n in g["nodes"].as_array_mut().expect("nodes") {
        n.as_object_mut().expect("a node").remove("pid");
    }
    g
}

#[test]
fn change_a_running_lab_from_the_cli() {
    let lab = Lab::new();
    let script = "\
addswitch s9
addhost h3 s9
addhost h3 s1
addlink s9 s1 bw=10
addlink s1-eth1 h3
addlink zz h1
addlink h1 s1 speed=5
net
dump
pingall
set link s9 s1 bw=5
sh mnlink list s9
graph --format mermaid
dellink s9 s1
pingall
addlink s9 s1
delnode h2
nodes
pingall
exit
";
    let out = mn(&lab).args(["--topo", "single,2", "--keep"]).stdin(script).ok();
    let o = &out.stdout;
    for line in [
        "*** Added switch s9\n",
        "*** Added host h3 (10.0.0.3/8): h3-eth0 <-> s9-eth1\n",
        "*** Error: h3 already exists\n",
        "*** Added link s9-eth2 <-> s1-eth3 (--bw 10)\n",
        "*** Error: s1-eth1 is already in use in s1\n",
        "*** Error: no node zz\n",
        "*** Error: speed=5: not a link option (bw, delay, jitter, loss, queue, rate, reorder, duplicate, corrupt, mtu)\n",
        // net and dump see the new nodes at once.
        "h3 h3-eth0:s9-eth1\n",
        "s9 s9-eth1:h3-eth0 s9-eth2:s1-eth3\n",
        "<Host h3: h3-eth0:10.0.0.3 pid=",
        "<Switch s9: s9-eth1:None,s9-eth2:None pid=",
        "*** Results: 0% dropped (6/6 received)\n",
        "s1-eth3  s9-eth2  up     bw=5Mbit queue=1000\n",
        "  n_s1 ---|\"s1-eth3 — s9-eth2 (bw=5Mbit queue=1000)\"| n_s9\n",
        // Without s9-s1, h3 is cut off.
        "*** Results: 66% dropped (2/6 received)\n",
        "available nodes are:\nh1 h3 s1 s9 \n",
        "*** Results: 0% dropped (2/2 received)\n",
    ] {
        out.check(o.contains(line), line);
    }
    // The changes are the lab's: the tools see them too.
    let g = graph_json(&lab);
    let names: Vec<&str> = g["nodes"].as_array().unwrap().iter().filter_map(|n| n["name"].as_str()).collect();
    assert_eq!(names, ["h1", "h3", "s1", "s9"]);
    assert_eq!(g["links"].as_array().map(Vec::len), Some(3), "{g:#}");
    mn(&lab).arg("-c").ok();
    nothing_left(&lab);
}

#[test]
fn addhost_numbers_macs_as_mac_does() {
    let lab = Lab::new();
    let script = "addhost h7 s1\nh7 cat /sys/class/net/h7-eth0/address\npingall\nexit\n";
    let out = mn(&lab).args(["--topo", "minimal", "--mac"]).stdin(script).ok();
    for line in [
        "*** Added host h7 (10.0.0.3/8): h7-eth0 <-> s1-eth3\n",
        "00:00:00:00:00:03\n",
        "0% dropped (6/6 received)",
    ] {
        out.check(out.stdout.contains(line), line);
    }
    nothing_left(&lab);
}

#[test]
fn capture_from_the_cli() {
    let lab = Lab::new();
    let file = lab.parent().join("cli.pcapng");
    let script = format!("capture h1-eth0 -w {} -f icmp -c 6\nexit\n", file.display());
    let run = mn(&lab).args(["--topo", "minimal"]).stdin(script).start();
    let listening =
        eventually(Duration::from_secs(60), || std::fs::metadata(&file).is_ok_and(|m| m.len() >= 28));
    assert!(listening, "the capture started");
    lab.cmd("mnrun").args(["h1", "ping -c3 -i0.2 10.0.0.2"]).ok();
    let out = run.finish();
    out.check(out.status.success() && out.stdout.contains("*** Capturing into"), "a capture");
    let read = Cmd::new("tcpdump").arg("-n").arg("-r").arg(&file).ok();
    assert_eq!(read.stdout.matches("ICMP echo").count(), 6, "{}", read.stdout);
    nothing_left(&lab);
}

/// Ctrl-C in a terminal stops the CLI's capture (the tcpdumps, in groups
/// of their own, are stopped by mnlink) and the file is whole.
#[test]
fn ctrl_c_stops_a_cli_capture() {
    let lab = Lab::new();
    let socket = unique("mnlivetmux");
    let dir = lab.parent().to_path_buf();
    let command = format!(
        "cd {} && env MN_DIR={} MN_BIN={} MN_HISTORY={} {} --topo minimal; echo MN-EXITED $?; sleep 600",
        dir.display(),
        lab.dir.display(),
        bin_dir().display(),
        dir.join("history").display(),
        repo().join("scripts/mn").display()
    );
    let tmux = |args: &[&str]| Cmd::new("tmux").args(["-L", &socket]).args(args).run();
    struct Kill(String);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = Cmd::new("tmux").args(["-L", &self.0, "kill-server"]).run();
        }
    }
    let _kill = Kill(socket.clone());
    tmux(&["new-session", "-d", "-x", "160", "-y", "50", &command]).check(true, "");
    let screen = || tmux(&["capture-pane", "-p", "-S", "-200"]).stdout;
    let wait = |text: &str| {
        assert!(
            eventually(Duration::from_secs(60), || screen().contains(text)),
            "{text:?} in:\n{}",
            screen()
        );
    };
    wait("mininet>");
    tmux(&["send-keys", "capture h1-eth0 -f icmp", "Enter"]);
    wait("capturing on h1-eth0");
    lab.cmd("mnrun").args(["h1", "ping -c3 -i0.2 10.0.0.2"]).ok();
    tmux(&["send-keys", "C-c"]);
    wait("6 packets captured");
    tmux(&["send-keys", "exit", "Enter"]);
    wait("MN-EXITED 0");
    let read = Cmd::new("tcpdump").arg("-n").arg("-r").arg(dir.join("h1-eth0.pcapng")).ok();
    assert_eq!(read.stdout.matches("ICMP echo").count(), 6, "{}", read.stdout);
    nothing_left(&lab);
}

#[test]
fn save_and_rebuild_give_the_same_lab() {
    let lab = Lab::new();
    let dir = lab.parent();
    let (cli_file, mn_file, again) = (dir.join("cli.topo"), dir.join("mn.topo"), dir.join("again.topo"));
    // A tree with shaped links, changed: a host added, a host-to-host link
    // with addresses of its own (one IPv6), a link reshaped.
    let script = format!(
        "addhost h5 s2\naddlink h1 h2\nsh mnlink addr h1-eth1 192.168.9.1/24\nsh mnlink addr h2-eth1 fc00::2/64\n\
         set link h5 s2 bw=3\nsave {}\nexit\n",
        cli_file.display()
    );
    let out = mn(&lab).args(["--topo", "tree,2,2", "--link", "tc,bw=10", "--keep"]).stdin(script).ok();
    out.check(out.stdout.contains("*** Saved the lab in "), "a save");
    let original = graph_json(&lab);
    mn(&lab).arg("save").arg(&mn_file).ok();
    let saved = std::fs::read_to_string(&mn_file).expect("mn save wrote");
    assert_eq!(std::fs::read_to_string(&cli_file).expect("save wrote"), saved, "CLI save and mn save agree");
    assert!(saved.contains("\nhost h5 ip=10.0.0.5/8\n"), "{saved}");
    assert!(saved.contains(" ip1=192.168.9.1/24 "), "{saved}");
    assert!(saved.contains(" ip2=fc00::2/64\n"), "{saved}");
    assert!(saved.contains(" bw=3 queue=1000\n"), "{saved}");
    // An existing file stays unless --force.
    let out = mn(&lab).arg("save").arg(&mn_file).run();
    mn_tests::assert_error(
        &out,
        &format!("mn: save: {}: exists (save --force to replace it)", mn_file.display()),
    );
    mn(&lab).arg("save").arg(&mn_file).arg("--force").ok();
    mn(&lab).arg("-c").ok();
    nothing_left(&lab);

    mn(&lab).arg("--topo").arg(&mn_file).args(["--keep", "--test", "pingall"]).ok();
    let rebuilt = graph_json(&lab);
    compare(&original, &rebuilt);
    assert_eq!(original, rebuilt);
    mn(&lab).arg("save").arg(&again).ok();
    assert_eq!(std::fs::read_to_string(&again).expect("saved again"), saved, "the save of the rebuilt lab");
    mn(&lab).arg("-c").ok();
    nothing_left(&lab);
}

/// Routes added in nodes are saved as `cmd` lines: two LANs behind two
/// routers still reach each other once rebuilt.
#[test]
fn save_and_rebuild_keep_routes() {
    let lab = Lab::new();
    let file = lab.parent().join("routers.topo");
    let topo = repo().join("scripts/topologies/tworouters.sh");
    mn(&lab).arg("--topo").arg(&topo).args(["--keep", "--test", "build"]).ok();
    let original = graph_json(&lab);
    let r1 = original["nodes"].as_array().unwrap().iter().find(|n| n["name"] == "r1").cloned();
    assert_eq!(
        r1.map(|n| n["routes"].clone()),
        Some(serde_json::json!(["10.2.0.0/24 via 10.12.0.2 dev r1-eth1"]))
    );
    mn(&lab).arg("save").arg(&file).ok();
    let saved = std::fs::read_to_string(&file).expect("saved");
    assert!(saved.contains("\ncmd h1 ip route add default via 10.1.0.1 dev h1-eth0\n"), "{saved}");
    mn(&lab).arg("-c").ok();
    let out = mn(&lab).arg("--topo").arg(&file).args(["--keep", "--test", "pingall"]).ok();
    out.check(out.stdout.contains("0% dropped (2/2 received)"), "h1 and h2 reach each other");
    compare(&original, &graph_json(&lab));
    mn(&lab).arg("-c").ok();
    nothing_left(&lab);
}

#[test]
fn save_and_rebuild_keep_netem_shaping() {
    if !mn_tests::require("save_and_rebuild_keep_netem_shaping", mn_tests::Feature::Netem) {
        return;
    }
    let lab = Lab::new();
    let file = lab.parent().join("netem.topo");
    let script = format!("set link h2 s1 delay=7ms,loss=2,rate=20\nsave {}\nexit\n", file.display());
    let link = "tc,bw=10,delay=5ms,jitter=1ms,loss=1,queue=50";
    mn(&lab).args(["--topo", "minimal", "--link", link, "--keep"]).stdin(script).ok();
    let original = graph_json(&lab);
    let shaping = &original["links"][0]["a"]["shaping"];
    assert_eq!(shaping, "bw=10Mbit delay=5ms jitter=1ms loss=1% queue=50", "{original:#}");
    assert_eq!(original["links"][1]["a"]["shaping"], "delay=7ms loss=2% rate=20Mbit queue=1000");
    mn(&lab).arg("-c").ok();
    mn(&lab).arg("--topo").arg(&file).args(["--keep", "--test", "build"]).ok();
    compare(&original, &graph_json(&lab));
    mn(&lab).arg("-c").ok();
    nothing_left(&lab);
}

/// Says which field differs, not just that the two differ.
fn compare(a: &serde_json::Value, b: &serde_json::Value) {
    fn walk(path: &str, a: &serde_json::Value, b: &serde_json::Value, diffs: &mut Vec<String>) {
        match (a, b) {
            (serde_json::Value::Object(x), serde_json::Value::Object(y)) => {
                for k in x.keys().chain(y.keys().filter(|k| !x.contains_key(*k))) {
                    let null = serde_json::Value::Null;
                    walk(&format!("{path}.{k}"), x.get(k).unwrap_or(&null), y.get(k).unwrap_or(&null), diffs);
                }
            }
            (serde_json::Value::Array(x), serde_json::Value::Array(y)) if x.len() == y.len() => {
                for (i, (p, q)) in x.iter().zip(y).enumerate() {
                    walk(&format!("{path}[{i}]"), p, q, diffs);
                }
            }
            _ if a != b => diffs.push(format!("{path}: {a} != {b}")),
            _ => {}
        }
    }
    let mut diffs = Vec::new();
    walk("", a, b, &mut diffs);
    assert!(diffs.is_empty(), "the rebuilt lab differs:\n{}", diffs.join("\n"));
}

#[test]
fn save_refuses_what_it_cannot_write() {
    let lab = Lab::new();
    let file = lab.parent().join("none.topo");
    let out = mn(&lab).arg("save").arg(&file).run();
    mn_tests::assert_error(&out, "mn: save: the lab has no nodes to save");
    assert!(!file.exists());
    let out = mn(&lab).args(["save", "/nonexistent-mn/x.topo"]).run();
    mn_tests::assert_error(&out, "mn: save: /nonexistent-mn/x.topo: cannot write there");
    // Ends shaped differently cannot be said in a topology file.
    let script = format!("sh mnlink set h1-eth0 --bw 1\nsave {}\nexit\n", file.display());
    let out = mn(&lab).args(["--topo", "minimal", "--link", "tc,bw=10"]).stdin(script).ok();
    let want = "*** Error: save: link h1-eth0 s1-eth1: its ends are shaped differently, which a topology file cannot say\n";
    out.check(out.stdout.contains(want), want);
    assert!(!file.exists() && no_partial(lab.parent()), "nothing half-made");
    nothing_left(&lab);
}

fn no_partial(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .map(|d| d.flatten().all(|e| !e.file_name().to_string_lossy().starts_with("none.topo")))
        .unwrap_or(true)
}
