//! Kernel features some tests need, and the gate that skips those tests
//! on a kernel without them (the VM leg runs them).
use crate::skip;
use std::path::Path;
use std::process::{Command, Stdio};

/// A kernel feature some tests need, and that some kernels lack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feature {
    /// The netem qdisc (sch_netem): delay, jitter, loss.
    Netem,
    /// The unified cgroup hierarchy (v2) at /sys/fs/cgroup.
    Cgroup2,
}

impl Feature {
    /// Whether this kernel has it, probed without touching the host's own
    /// interfaces.
    pub fn present(self) -> bool {
        match self {
            Feature::Netem => Command::new("unshare")
                .args(["-n", "tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success()),
            Feature::Cgroup2 => mnexec::is_cgroup2(Path::new("/sys/fs/cgroup")),
        }
    }

    fn absent_reason(self) -> &'static str {
        match self {
            Feature::Netem => "this kernel has no sch_netem (runs in the VM leg)",
            Feature::Cgroup2 => "/sys/fs/cgroup is not cgroup v2 (runs in the VM leg)",
        }
    }
}

/// Whether `test` can run here: when `feature` is absent, says so on
/// stderr (SKIPPED test: why) and returns false.
pub fn require(test: &str, feature: Feature) -> bool {
    let present = feature.present();
    if !present {
        skip(test, feature.absent_reason());
    }
    present
}
