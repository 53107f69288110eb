//! One test's lab: its own `MN_DIR`, a watchdog, and cleanup on drop.
use crate::{Cmd, bin, bin_dir, require_root, unique};
use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// One test's lab: a fresh `MN_DIR`, removed with everything in it (nodes,
/// processes, `ip netns` entries) when the lab is dropped, panics included.
pub struct Lab {
    pub dir: PathBuf,
    parent: PathBuf,
    children: Vec<Child>,
    /// Tells the watchdog the test is over.
    done: Arc<AtomicBool>,
}

/// A test still running after this long is stuck: the watchdog ends the
/// whole run, naming it, long before CI's own time limit would.
const STUCK: Duration = Duration::from_secs(300);

impl Lab {
    pub fn new() -> Lab {
        Lab::named(&unique("t"))
    }

    /// A lab whose MN_DIR ends in `name` (in a fresh parent directory):
    /// labs of the same name in different directories must not meet.
    pub fn named(name: &str) -> Lab {
        require_root();
        let parent = std::env::temp_dir().join(unique("mntest"));
        std::fs::create_dir_all(&parent).expect("create lab parent");
        // The last component names the lab (`ip netns` shows LAB-NODE).
        let dir = parent.join(name);
        let done = Arc::new(AtomicBool::new(false));
        watchdog(done.clone(), dir.clone());
        Lab { dir, parent, children: Vec::new(), done }
    }

    /// The lab's id, from the marker mnnode writes when it makes the lab.
    pub fn id(&self) -> String {
        let marker = std::fs::read_to_string(self.dir.join(".mn-lab")).expect("the lab's marker");
        marker.lines().find_map(|l| l.strip_prefix("id=")).expect("an id in the marker").to_string()
    }

    /// The directory the lab's directory is in (removed with the lab).
    pub fn parent(&self) -> &Path {
        &self.parent
    }

    /// The lab's name: the last component of its MN_DIR.
    pub fn name(&self) -> String {
        self.dir.file_name().expect("lab dir has a name").to_string_lossy().into_owned()
    }

    /// A command for one of the tools (or any program), run in this lab.
    pub fn cmd(&self, program: impl AsRef<OsStr>) -> Cmd {
        let program = program.as_ref();
        let path = match program.to_str() {
            Some(tool @ ("mnexec" | "mnnode" | "mnlink" | "mnrun")) => bin(tool),
            _ => PathBuf::from(program),
        };
        let mut cmd = Cmd::new(path);
        cmd.command.env("MN_DIR", &self.dir);
        // Temporary files of the tools (mn's) go with the lab, even those
        // of a process a test kills with SIGKILL.
        cmd.command.env("TMPDIR", &self.parent);
        cmd
    }

    /// Keeps a process this test started, to kill and reap it when the lab
    /// ends; returns its pid.
    pub fn track(&mut self, child: Child) -> i32 {
        let pid = child.id() as i32;
        self.children.push(child);
        pid
    }

    /// A file as a node sees it (its sysfs, its /proc/sys), trimmed.
    pub fn read_in(&self, node: &str, path: &str) -> String {
        let pid = self.node_pid(node).to_string();
        self.cmd("mnexec").args(["-a", &pid, "cat", path]).ok().stdout.trim().to_string()
    }

    pub fn node_pid(&self, node: &str) -> i32 {
        self.cmd("mnnode").args(["pid", node]).ok().stdout.trim().parse().expect("mnnode pid prints a number")
    }
}

impl Default for Lab {
    fn default() -> Self {
        Lab::new()
    }
}

/// Ends the test run if the test that owns this lab is still running
/// after [`STUCK`], cleaning up its lab and saying where it hung.
fn watchdog(done: Arc<AtomicBool>, dir: PathBuf) {
    let test = std::thread::current().name().unwrap_or("a test").to_string();
    let started = Instant::now();
    std::thread::spawn(move || {
        while !done.load(Ordering::Relaxed) {
            if started.elapsed() > STUCK {
                let _ = writeln!(std::io::stderr(), "\n{test}: stuck for {STUCK:?}; ending the test run");
                let _ = Command::new(bin_dir().join("mnnode")).arg("clean").env("MN_DIR", &dir).status();
                std::process::exit(101);
            }
            std::thread::sleep(Duration::from_secs(1));
        }
    });
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.done.store(true, Ordering::Relaxed);
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        let mnnode = bin_dir().join("mnnode");
        let clean = || {
            Command::new(&mnnode)
                .arg("clean")
                .env("MN_DIR", &self.dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        if mnnode.exists() && self.dir.exists() && !clean() {
            // A test that took the marker away (and failed before putting
            // it back) still gets its nodes ended; a stranger's file a
            // test left in a node directory goes too.
            let marker = self.dir.join(".mn-lab");
            if !marker.exists() {
                let _ = std::fs::write(&marker, "mn-lab 1\nid=0000000000000000\n");
            }
            for node in std::fs::read_dir(&self.dir).into_iter().flatten().flatten() {
                for file in std::fs::read_dir(node.path()).into_iter().flatten().flatten() {
                    let name = file.file_name();
                    if !mnnode::lab::OWN_FILES.iter().any(|own| name == *own) {
                        let _ = std::fs::remove_file(file.path());
                    }
                }
            }
            clean();
        }
        let _ = std::fs::remove_dir_all(&self.parent);
    }
}

/// Pids in the namespace `inode` that started before `since` (see
/// [`ticks`]): once a namespace is freed, the next one made (by another
/// test) may get its inode, and its processes are not the test's.
pub fn survivors(kind: &str, inode: u64, since: u64) -> Vec<i32> {
    crate::pids_in_ns(kind, inode)
        .into_iter()
        .filter(|&pid| mnnode::procfs::stat(pid).is_some_and(|s| s.start < since))
        .collect()
}

/// Now, in the unit of process start times.
pub fn ticks() -> u64 {
    mnnode::procfs::now_ticks()
}
