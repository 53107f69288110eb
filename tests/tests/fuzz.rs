//! Issue 11, "Done when": kill -9 and SIGINT at random moments into
//! `mnnode add` (with and without --cpu), `mnlink -b`, `mnrun` and
//! `mnnode clean`; then one `mnnode clean` must leave nothing behind: no
//! `ip netns` entry, no veth or bridge in the root namespace, no cgroup, no
//! process, no file.
//!
//! Bounded: 50 trials, each in a fresh lab. The delays come from a seeded
//! PRNG; a failure prints MN_SEED, and `MN_SEED=N cargo test --test fuzz`
//! repeats the run.
use mn_tests::{Lab, Rng, Started, eventually, netns_entries, unique};
use std::path::{Path, PathBuf};
use std::time::Duration;

const TRIALS: usize = 50;

/// Sub-case known to fail for a defect outside mnlink, reported to the core
/// branch: SIGKILL into `mnnode add` while its shells start (about 1 trial
/// in 10) leaves a node shell that `mnnode clean` does not end (clean says
/// "removed LAB/h3: a directory without a node", yet the shell, ppid 1, in
/// its own namespace, fd 0 on h3/fifo, MN_NODE=h3, lives on) and, with
/// --cpu, that shell's cgroup (mn-LAB-c3). Its leftovers are printed, and
/// removed by the test, but do not fail it. Set to true once core lands.
const ADD_SIGKILL_ASSERTED: bool = true;

/// What a trial interrupts.
#[derive(Debug, Clone, Copy)]
enum Case {
    AddHosts,
    AddSwitches,
    AddRootSwitch,
    AddCpu,
    LinkBatch,
    Run,
    Clean,
}

const CASES: [Case; 7] = [
    Case::AddHosts,
    Case::AddSwitches,
    Case::AddRootSwitch,
    Case::AddCpu,
    Case::LinkBatch,
    Case::Run,
    Case::Clean,
];

/// One trial's lab and the names it chose in the root namespace.
struct Trial {
    lab: Lab,
    /// Prefix of every interface the trial makes in the root namespace.
    base: String,
    /// The bridge of a `--root` switch (in the root namespace).
    switch: String,
}

impl Trial {
    fn new() -> Trial {
        let base = unique("z");
        Trial { lab: Lab::new(), switch: format!("{base}w"), base }
    }

    fn mnnode(&self, args: &[&str]) {
        self.lab.cmd("mnnode").args(args).ok();
    }

    /// Nodes of every kind, linked, busy, some in cgroups: what `clean`
    /// has to take apart.
    fn populate(&self) {
        self.mnnode(&["add", "h1", "h2", "h3"]);
        self.mnnode(&["add", "--kind", "switch", "s1"]);
        self.mnnode(&["add", "--root", "r1"]);
        self.mnnode(&["add", "--root", "--kind", "switch", &self.switch]);
        if cgroups_usable() {
            self.mnnode(&["add", "--cpu", "0.5", "c1"]);
        }
    }

    /// A batch of links of every sort: host to switch, --root node to
    /// host, --root node to --root switch, shaped and not.
    fn batch(&self) -> String {
        let (b, w) = (&self.base, &self.switch);
        let mut text = String::new();
        for i in 1..=3 {
            text += &format!("add h{i}-eth0 s1-eth{i} --bw 10\naddr h{i}-eth0 10.0.0.{i}/24\n");
        }
        // Ends in the root namespace cost more (see mnlink's links.rs): two.
        text + &format!("add r1:{b}r1 h1-eth1\nadd {w}:{b}w1 r1:{b}s1 --bw 5\n")
    }

    /// Starts the command this case interrupts, after its setup; the
    /// longest a run of it takes here, roughly, to spread the delays over.
    fn start(&self, case: Case) -> (Started, u64) {
        let lab = &self.lab;
        match case {
            Case::AddHosts => {
                let hosts: Vec<String> = (1..=6).map(|i| format!("h{i}")).collect();
                (lab.cmd("mnnode").arg("add").args(&hosts).start(), 100_000)
            }
            Case::AddSwitches => {
                (lab.cmd("mnnode").args(["add", "--kind", "switch", "s1", "s2", "s3", "s4"]).start(), 100_000)
            }
            Case::AddRootSwitch => {
                self.mnnode(&["add", "h1"]);
                let cmd = lab.cmd("mnnode").args(["add", "--root", "--kind", "switch", &self.switch]);
                (cmd.start(), 20_000)
            }
            Case::AddCpu => {
                (lab.cmd("mnnode").args(["add", "--cpu", "0.5", "c1", "c2", "c3", "c4"]).start(), 100_000)
            }
            Case::LinkBatch => {
                self.populate();
                (lab.cmd("mnlink").args(["-b", "-"]).stdin(self.batch()).start(), 200_000)
            }
            Case::Run => {
                self.populate();
                lab.cmd("mnlink").args(["-b", "-"]).stdin(self.batch()).ok();
                let script = "sleep 30 >/dev/null 2>&1 & sleep 0.2; echo started; sleep 0.2";
                (lab.cmd("mnrun").args(["h1", script]).start(), 500_000)
            }
            Case::Clean => {
                self.populate();
                lab.cmd("mnlink").args(["-b", "-"]).stdin(self.batch()).ok();
                lab.cmd("mnrun").args(["h2", "sleep 30 &"]).ok();
                (lab.cmd("mnnode").arg("clean").start(), 150_000)
            }
        }
    }

    /// Ends what a trial left, so that it cannot disturb the next: the
    /// processes this lab started, then its cgroups, then a second clean.
    fn remove_leftovers(&self) {
        for pid in self.processes() {
            // SAFETY: a process this test's lab started (it has the lab's
            // MN_DIR in its environment).
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        let keys = lab_keys(&self.lab);
        eventually(Duration::from_secs(5), || {
            let mut all_gone = true;
            for root in CGROUP_ROOTS {
                for name in names_in(Path::new(root)) {
                    if keys.iter().any(|k| name.starts_with(&format!("mn-{k}-"))) {
                        all_gone &= std::fs::remove_dir(Path::new(root).join(name)).is_ok();
                    }
                }
            }
            all_gone
        });
        self.lab.cmd("mnnode").arg("clean").run();
    }

    /// Live processes with this lab's MN_DIR in their environment.
    fn processes(&self) -> Vec<i32> {
        let env = format!("MN_DIR={}", self.lab.dir.display());
        mnnode::procfs::pids()
            .into_iter()
            .filter(|&pid| {
                let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
                environ.split(|&b| b == 0).any(|v| v == env.as_bytes()) && mn_tests::alive(pid)
            })
            .collect()
    }

    /// Everything of this lab still on the machine, described.
    fn leftovers(&self) -> Vec<String> {
        let lab = &self.lab;
        let mut left: Vec<String> = netns_entries(lab).into_iter().map(|e| format!("ip netns {e}")).collect();
        let keys = lab_keys(lab);
        for (name, alias) in root_ifaces() {
            let tagged = alias.starts_with("mn:") && keys.iter().any(|k| alias.ends_with(&format!(":{k}")));
            if name.starts_with(&self.base) || tagged {
                left.push(format!("interface {name} ({alias:?}) in the root namespace"));
            }
        }
        for root in CGROUP_ROOTS {
            for name in names_in(Path::new(root)) {
                if keys.iter().any(|k| name.starts_with(&format!("mn-{k}-"))) {
                    left.push(format!("cgroup {root}/{name}"));
                }
            }
        }
        for pid in self.processes() {
            let name = mn_tests::command_name(pid).unwrap_or_default();
            left.push(format!("process {pid} ({name})"));
        }
        // The lab marker may stay; node directories and their files may not,
        // nor temporary files beside the lab (TMPDIR is its parent).
        for name in names_in(&lab.dir) {
            if name != ".mn-lab" {
                left.push(format!("file {}", lab.dir.join(name).display()));
            }
        }
        if let Some(parent) = lab.dir.parent() {
            for name in names_in(parent).into_iter().filter(|n| *n != lab.name()) {
                left.push(format!("file {}", parent.join(name).display()));
            }
        }
        left
    }
}

/// Where `mnnode add --cpu` may make cgroups (v2, v1 cpu, hybrid).
const CGROUP_ROOTS: [&str; 3] = ["/sys/fs/cgroup", "/sys/fs/cgroup/cpu", "/sys/fs/cgroup/unified"];

/// The names tags and cgroups give this lab: its directory's name, and
/// its id once labs have one (`id=` in the .mn-lab marker).
fn lab_keys(lab: &Lab) -> Vec<String> {
    let mut keys = vec![lab.name()];
    let marker = std::fs::read_to_string(lab.dir.join(".mn-lab")).unwrap_or_default();
    keys.extend(marker.lines().filter_map(|l| l.strip_prefix("id=")).map(String::from));
    keys
}

fn names_in(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok()?.file_name().into_string().ok()).collect())
        .unwrap_or_default()
}

/// Every interface of the root namespace, with its alias.
fn root_ifaces() -> Vec<(String, String)> {
    names_in(Path::new("/sys/class/net"))
        .into_iter()
        .filter_map(|name| {
            let alias =
                std::fs::read_to_string(PathBuf::from("/sys/class/net").join(&name).join("ifalias")).ok()?;
            Some((name, alias.trim().to_string()))
        })
        .collect()
}

/// Whether `mnnode add --cpu` can work here (a cpu controller).
fn cgroups_usable() -> bool {
    Path::new("/sys/fs/cgroup/cpu/cpu.cfs_quota_us").exists()
        || std::fs::read_to_string("/sys/fs/cgroup/cgroup.controllers").is_ok_and(|c| c.contains("cpu"))
}

#[test]
fn kills_and_interrupts_then_clean_leave_nothing() {
    let mut rng = Rng::for_test("kills_and_interrupts_then_clean_leave_nothing");
    let mut failures = Vec::new();
    for trial in 0..TRIALS {
        let case = CASES[trial % CASES.len()];
        if matches!(case, Case::AddCpu) && !cgroups_usable() {
            continue;
        }
        let (signal, signame) =
            if rng.below(2) == 0 { (libc::SIGKILL, "SIGKILL") } else { (libc::SIGINT, "SIGINT") };
        let t = Trial::new();
        let trial_begun = std::time::Instant::now();
        let (started, span_us) = t.start(case);
        let setup = trial_begun.elapsed();
        let delay = rng.below(span_us);
        std::thread::sleep(Duration::from_micros(delay));
        started.signal(signal);
        let out = started.finish_within(Duration::from_secs(30));
        let killed = trial_begun.elapsed();
        let clean = t.lab.cmd("mnnode").arg("clean").run();
        let cleaned = trial_begun.elapsed();
        let mut left = Vec::new();
        if !clean.status.success() {
            left.push(format!("mnnode clean failed: {}", clean.stderr.trim()));
        }
        // Namespaces, cgroups and dying processes go a moment after.
        let begun = std::time::Instant::now();
        eventually(Duration::from_secs(3), || t.leftovers().is_empty());
        eprintln!(
            "trial {trial}: {case:?}, {signame} after {delay} us; set up in {setup:?}, killed at {killed:?}, \
             cleaned at {cleaned:?}, settled {:?} later",
            begun.elapsed()
        );
        left.extend(t.leftovers());
        if !left.is_empty() {
            let report = format!(
                "trial {trial}: {case:?}, {signame} after {delay} us (status {}, stderr {:?}): {}",
                out.status,
                out.stderr.trim(),
                left.join("; ")
            );
            let known = signal == libc::SIGKILL
                && matches!(case, Case::AddHosts | Case::AddSwitches | Case::AddRootSwitch | Case::AddCpu);
            if known && !ADD_SIGKILL_ASSERTED {
                eprintln!("KNOWN (core branch, see ADD_SIGKILL_ASSERTED): {report}");
            } else {
                failures.push(report);
            }
            t.remove_leftovers();
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {TRIALS} trials left something:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
