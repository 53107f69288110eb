//! cgroup v2, the unified hierarchy every current distribution uses:
//! `mnnode add --cpu` holds a node to its share of a CPU (measured from the
//! kernel's own accounting, cpu.stat), `mnexec -g` joins a v2 group, and
//! `clean` removes the nodes' groups. Where /sys/fs/cgroup is not v2 these
//! say SKIPPED; the VM leg (tests/vm/run) runs them on a v2 kernel.
use mn_tests::{Feature, Lab, alive, assert_error, eventually, require, unique};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const ROOT: &str = "/sys/fs/cgroup";

/// The v2 group a process is in, from /proc/PID/cgroup (`0::/PATH`).
fn group_of(pid: i32) -> PathBuf {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).expect("read /proc/PID/cgroup");
    let rel = text.lines().find_map(|l| l.strip_prefix("0::")).expect("a v2 entry in /proc/PID/cgroup");
    Path::new(ROOT).join(rel.trim_start_matches('/'))
}

/// The CPU time a group's tasks have used, in microseconds.
fn usage_usec(group: &Path) -> u64 {
    let stat = std::fs::read_to_string(group.join("cpu.stat")).expect("read cpu.stat");
    stat.lines()
        .find_map(|l| l.strip_prefix("usage_usec "))
        .and_then(|v| v.trim().parse().ok())
        .expect("usage_usec in cpu.stat")
}

/// A figure for the CI log: libtest captures what passing tests print, but
/// not direct writes to stderr.
fn measured(line: &str) {
    let _ = std::io::stderr().write_all(format!("measured: {line}\n").as_bytes());
}

#[test]
fn cpu_fraction_holds_a_busy_loop_to_its_share() {
    if !require("cpu_fraction_holds_a_busy_loop_to_its_share", Feature::Cgroup2) {
        return;
    }
    let lab = Lab::new();
    lab.cmd("mnnode").args(["add", "--cpu", "0.2", "h1"]).ok();
    let group = group_of(lab.node_pid("h1"));
    assert_eq!(std::fs::read_to_string(group.join("cpu.max")).expect("cpu.max"), "20000 100000\n");
    lab.cmd("mnrun").args(["h1", "sh -c 'while :; do :; done' &"]).ok();
    // The loop is running once the group's usage grows.
    let start = usage_usec(&group);
    assert!(
        eventually(Duration::from_secs(10), || usage_usec(&group) > start + 10_000),
        "the busy loop never ran in {}",
        group.display()
    );
    // 50 periods of 100 ms: the share is the kernel's accounting of CPU
    // time over wall time, not the speed of a loop.
    let (used0, t0) = (usage_usec(&group), Instant::now());
    std::thread::sleep(Duration::from_secs(5));
    let (used1, t1) = (usage_usec(&group), Instant::now());
    let share = (used1 - used0) as f64 / (t1 - t0).as_micros() as f64;
    measured(&format!("--cpu 0.2: a busy loop used {:.1} % of one CPU over {:?}", share * 100.0, t1 - t0));
    assert!(
        (0.15..=0.25).contains(&share),
        "a busy loop under --cpu 0.2 used {:.1} % of one CPU",
        share * 100.0
    );
}

/// A group made for one test (with a group inside it), removed afterwards.
struct TestGroup {
    outer: PathBuf,
    inner: PathBuf,
}

impl TestGroup {
    fn new() -> TestGroup {
        let outer = Path::new(ROOT).join(unique("mntestcg"));
        let inner = outer.join("inner");
        std::fs::create_dir(&outer).expect("create a test cgroup");
        std::fs::create_dir(&inner).expect("create a test cgroup inside it");
        TestGroup { outer, inner }
    }
}

impl Drop for TestGroup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.inner);
        let _ = std::fs::remove_dir(&self.outer);
    }
}

#[test]
fn mnexec_g_joins_a_v2_group() {
    if !require("mnexec_g_joins_a_v2_group", Feature::Cgroup2) {
        return;
    }
    let lab = Lab::new();
    let group = TestGroup::new();
    let rel = group.inner.strip_prefix(ROOT).expect("under the root").to_string_lossy().into_owned();
    let out = lab.cmd("mnexec").args(["-g", &rel, "cat", "/proc/self/cgroup"]).ok();
    assert_eq!(out.stdout, format!("0::/{rel}\n"), "the command runs in the nested v2 group, and only there");
    let procs = std::fs::read_to_string(group.inner.join("cgroup.procs")).expect("cgroup.procs");
    assert_eq!(procs, "", "it left the group when it ended");

    let missing = format!("{rel}/nosuch");
    let out = lab.cmd("mnexec").args(["-g", &missing, "true"]).code(1);
    assert_error(&out, &format!("mnexec: cgroup {missing}: no such cgroup"));
}

#[test]
fn clean_removes_the_groups_of_live_and_dead_nodes() {
    if !require("clean_removes_the_groups_of_live_and_dead_nodes", Feature::Cgroup2) {
        return;
    }
    let lab = Lab::new();
    lab.cmd("mnnode").args(["add", "--cpu", "0.5", "h1", "h2"]).ok();
    let groups: Vec<PathBuf> = ["h1", "h2"].iter().map(|n| group_of(lab.node_pid(n))).collect();
    for group in &groups {
        assert_eq!(std::fs::read_to_string(group.join("cpu.max")).expect("cpu.max"), "50000 100000\n");
    }
    // h2's shell dies behind the tools' back: its group stays until clean.
    let pid = lab.node_pid("h2");
    // SAFETY: killing the node shell this test started.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    assert!(eventually(Duration::from_secs(5), || !alive(pid)), "h2's shell died");
    assert!(groups[1].exists(), "a dead node's group outlives its shell");
    lab.cmd("mnnode").arg("clean").ok();
    for group in &groups {
        assert!(!group.exists(), "clean removed {}", group.display());
    }
}
