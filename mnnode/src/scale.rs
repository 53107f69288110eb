//! What a lab of thousands of nodes needs of the system, checked before
//! anything is made: descriptors (raised as systemd raises them, see
//! [`crate::limits`]) and pids. A limit that cannot be met is refused with
//! the limit and the setting to change, never discovered halfway.
use anyhow::{Result, bail};

/// Pids the kernel keeps for itself below pid_max (RESERVED_PIDS).
const RESERVED_PIDS: u64 = 300;
/// Pids left free for what the nodes run besides their shells (a ping,
/// a daemon): a lab that fills pid_max with shells cannot fork.
const SPARE_PIDS: u64 = 1000;
/// Descriptors mnnode holds whatever the number of nodes: the lab, the
/// template namespace, netlink, the runtime, std streams, /proc listings.
const FIXED_FDS: u64 = 24;
/// Descriptors each shell being started holds until it is ready: its
/// readiness pipe and its node directory (and briefly its FIFO and log).
const FDS_PER_STARTING: u64 = 4;

/// The soft limit on open descriptors now.
fn nofile() -> u64 {
    nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).map_or(1024, |(soft, _)| soft)
}

/// How many shells to start at once: `want`, or fewer when the descriptor
/// limit allows fewer. Descriptors are needed only for shells starting,
/// never per node, so any limit that allows one shell allows any lab.
pub fn window(want: usize) -> Result<usize> {
    let limit = nofile();
    let fits = limit.saturating_sub(FIXED_FDS) / FDS_PER_STARTING;
    if fits == 0 {
        bail!(
            "the descriptor limit is {limit} and starting a node needs {}: raise it (ulimit -n)",
            FIXED_FDS + FDS_PER_STARTING
        );
    }
    Ok(want.min(fits as usize))
}

/// The threads in the system now (each holds a pid): from /proc/loadavg.
fn threads() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    text.split_whitespace().nth(3)?.split('/').nth(1)?.parse().ok()
}

/// The pid limit of our pid namespace.
fn pid_max() -> Option<u64> {
    std::fs::read_to_string("/proc/sys/kernel/pid_max").ok()?.trim().parse().ok()
}

/// Refuses to start `count` shells that the pid space cannot hold (with
/// room to spare for what they run).
pub fn check_pids(count: usize) -> Result<()> {
    let (Some(max), Some(used)) = (pid_max(), threads()) else { return Ok(()) };
    check_pids_against(count as u64, used, max)
}

fn check_pids_against(count: u64, used: u64, max: u64) -> Result<()> {
    let need = used + count + SPARE_PIDS;
    let room = max.saturating_sub(RESERVED_PIDS);
    if need > room {
        let want = (need + RESERVED_PIDS).next_multiple_of(1024);
        bail!(
            "{count} nodes need {count} more processes, and {used} exist: more than kernel.pid_max ({max}, \
             less {RESERVED_PIDS} reserved and {SPARE_PIDS} to spare) allows; raise it first \
             (sysctl -w kernel.pid_max={want})"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pid_max_is_stated_before_starting() {
        check_pids_against(10_000, 200, 32_768).expect("fits");
        let err = check_pids_against(40_000, 200, 32_768).expect_err("too many").to_string();
        assert_eq!(
            err,
            "40000 nodes need 40000 more processes, and 200 exist: more than kernel.pid_max (32768, \
             less 300 reserved and 1000 to spare) allows; raise it first (sysctl -w kernel.pid_max=41984)"
        );
        assert!(threads().is_some_and(|t| t > 0), "/proc/loadavg counts threads");
    }
}
