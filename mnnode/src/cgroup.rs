//! CPU bandwidth limits (`--cpu`), through whichever cgroup hierarchy
//! holds the cpu controller: v2 `cpu.max`, or v1 `cpu.cfs_quota_us`.
use anyhow::{Result, anyhow, bail};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const ROOT: &str = "/sys/fs/cgroup";
const PERIOD_US: u64 = 100_000;
/// The kernel refuses quotas below 1 ms.
const MIN_QUOTA_US: u64 = 1_000;

#[derive(Debug, Clone)]
pub enum Hierarchy {
    V2(PathBuf),
    V1(PathBuf),
}

pub fn detect() -> Result<Hierarchy> {
    let root = Path::new(ROOT);
    if mnexec::is_cgroup2(root) {
        let controllers = std::fs::read_to_string(root.join("cgroup.controllers")).unwrap_or_default();
        if !controllers.split_whitespace().any(|c| c == "cpu") {
            bail!("--cpu: cgroup v2 at {ROOT} has no cpu controller");
        }
        // Child groups get cpu.max only when the root hands the controller down.
        let subtree = root.join("cgroup.subtree_control");
        let enabled = std::fs::read_to_string(&subtree).unwrap_or_default();
        if !enabled.split_whitespace().any(|c| c == "cpu") {
            std::fs::write(&subtree, "+cpu").map_err(|e| {
                anyhow!("--cpu: enable the cpu controller in {}: {}", subtree.display(), mncli::os_error(&e))
            })?;
        }
        return Ok(Hierarchy::V2(root.to_path_buf()));
    }
    let v1 = root.join("cpu");
    if v1.join("cpu.cfs_quota_us").exists() {
        return Ok(Hierarchy::V1(v1));
    }
    bail!("--cpu: no cgroup cpu controller on this machine (neither v2 cpu.max nor v1 cpu.cfs_quota_us)")
}

/// Checks a `--cpu` fraction: the share of one CPU, 0.01 or more.
pub fn check_fraction(fraction: f64) -> Result<()> {
    if !fraction.is_finite() || fraction <= 0.0 {
        bail!("--cpu {fraction}: must be a positive fraction of a CPU, such as 0.5");
    }
    if quota_us(fraction) < MIN_QUOTA_US {
        bail!("--cpu {fraction}: below the kernel's minimum of 0.01 CPU");
    }
    if fraction > 1024.0 {
        bail!("--cpu {fraction}: more CPUs than any machine has");
    }
    Ok(())
}

fn quota_us(fraction: f64) -> u64 {
    (fraction * PERIOD_US as f64).round() as u64
}

impl Hierarchy {
    pub fn dir(&self, group: &str) -> PathBuf {
        match self {
            Hierarchy::V2(root) | Hierarchy::V1(root) => root.join(group),
        }
    }

    /// Whether a group of this name already exists.
    pub fn exists(&self, group: &str) -> bool {
        self.dir(group).exists()
    }

    /// Creates `group` limited to `fraction` of a CPU; returns its directory.
    pub fn create(&self, group: &str, fraction: f64) -> Result<PathBuf> {
        let dir = self.dir(group);
        std::fs::create_dir(&dir).map_err(|e| anyhow!("{}: {}", dir.display(), mncli::os_error(&e)))?;
        let quota = quota_us(fraction);
        let written = match self {
            Hierarchy::V2(_) => crate::write_file(dir.join("cpu.max"), &format!("{quota} {PERIOD_US}")),
            Hierarchy::V1(_) => crate::write_file(dir.join("cpu.cfs_period_us"), &PERIOD_US.to_string())
                .and_then(|()| crate::write_file(dir.join("cpu.cfs_quota_us"), &quota.to_string())),
        };
        if let Err(e) = written {
            let _ = std::fs::remove_dir(&dir);
            return Err(e);
        }
        Ok(dir)
    }
}

/// How long a group's tasks may take to go after SIGKILL.
const REMOVE_DEADLINE: Duration = Duration::from_secs(5);

/// Removes a group of mnnode's, ending what is still in it, once its last
/// task has gone (which takes a moment after SIGKILL); gone already is
/// fine. Gives up after a few seconds, saying how many processes are
/// still in it.
pub fn remove(dir: &Path) -> Result<()> {
    let deadline = Instant::now() + REMOVE_DEADLINE;
    let mut pause = Duration::from_millis(1);
    loop {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                // Anything still in a group of ours is a node's: a shell
                // that joined it after its node's processes were ended.
                kill_all(dir);
                if Instant::now() >= deadline {
                    let tasks = ["cgroup.procs", "tasks"]
                        .iter()
                        .find_map(|f| std::fs::read_to_string(dir.join(f)).ok())
                        .map_or(0, |t| t.lines().count());
                    bail!(
                        "{}: still busy after {}s ({tasks} processes in it); left in place",
                        dir.display(),
                        REMOVE_DEADLINE.as_secs()
                    );
                }
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            Err(e) => bail!("{}: {}", dir.display(), mncli::os_error(&e)),
        }
    }
}

/// Whether a record's cgroup path is one mnnode makes: `mn-...` directly
/// under a cgroup root.
pub fn is_ours(dir: &Path) -> bool {
    let named = dir.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("mn-"));
    named && dir.parent().is_some_and(|p| roots().iter().any(|r| r == p))
}

/// SIGKILL to every process in a group (a node's, left by a crash).
pub fn kill_all(dir: &Path) {
    for file in ["cgroup.procs", "tasks"] {
        let Ok(text) = std::fs::read_to_string(dir.join(file)) else { continue };
        for pid in text.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
            let _ =
                nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
        }
    }
}

/// The cgroup directories of every hierarchy this machine might use, for
/// sweeping groups left by a crash.
pub fn roots() -> Vec<PathBuf> {
    vec![PathBuf::from(ROOT), Path::new(ROOT).join("cpu")]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_mn_groups_under_a_root_are_ours() {
        assert!(is_ours(Path::new("/sys/fs/cgroup/cpu/mn-0123456789abcdef-h1")));
        assert!(is_ours(Path::new("/sys/fs/cgroup/mn-0123456789abcdef-h1")));
        assert!(!is_ours(Path::new("/etc")));
        assert!(!is_ours(Path::new("/sys/fs/cgroup/system.slice")));
        assert!(!is_ours(Path::new("/sys/fs/cgroup/a/mn-x")));
    }

    #[test]
    fn fractions() {
        assert!(check_fraction(0.5).is_ok());
        assert!(check_fraction(2.0).is_ok());
        assert!(check_fraction(0.01).is_ok());
        for bad in [0.0, -1.0, 0.001, f64::NAN, f64::INFINITY, 5000.0] {
            assert!(check_fraction(bad).is_err(), "{bad}");
        }
        assert_eq!(quota_us(0.5), 50_000);
    }
}
