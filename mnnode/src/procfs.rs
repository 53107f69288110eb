//! The few facts about processes the tools need, read from /proc.
use std::collections::{HashMap, HashSet};
use std::os::unix::fs::MetadataExt;

/// Fields of /proc/PID/stat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    pub pid: i32,
    pub state: u8,
    pub ppid: i32,
    /// The session (the pid of its leader).
    pub sid: i32,
    /// Start time in clock ticks since boot: with the pid, it identifies a
    /// process across pid reuse.
    pub start: u64,
}

impl Stat {
    /// Exited (a zombie or being reaped): no longer running.
    pub fn is_dead(&self) -> bool {
        matches!(self.state, b'Z' | b'X' | b'x')
    }
}

pub fn stat(pid: i32) -> Option<Stat> {
    let text = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text)
}

fn parse_stat(text: &[u8]) -> Option<Stat> {
    // The command name may hold spaces and parentheses: fields resume after
    // the last ')'.
    let close = text.iter().rposition(|&b| b == b')')?;
    let pid = std::str::from_utf8(&text[..text.iter().position(|&b| b == b' ')?]).ok()?.parse().ok()?;
    let rest = std::str::from_utf8(text.get(close + 2..)?).ok()?;
    let fields: Vec<&str> = rest.split(' ').collect();
    // rest[0] is field 3 (state); starttime is field 22.
    Some(Stat {
        pid,
        state: *fields.first()?.as_bytes().first()?,
        ppid: fields.get(1)?.parse().ok()?,
        sid: fields.get(3)?.parse().ok()?,
        start: fields.get(19)?.parse().ok()?,
    })
}

/// Every process at one moment, by parent: the one process-tree walker of
/// the tools (mnnode's reaper, mnrun's interrupts).
pub struct Tree {
    stats: Vec<Stat>,
    children: HashMap<i32, Vec<usize>>,
}

impl Tree {
    pub fn snapshot() -> Tree {
        let stats: Vec<Stat> = pids().into_iter().filter_map(stat).collect();
        let mut children: HashMap<i32, Vec<usize>> = HashMap::new();
        for (i, s) in stats.iter().enumerate() {
            children.entry(s.ppid).or_default().push(i);
        }
        Tree { stats, children }
    }

    /// A process's children (zombies included).
    pub fn children(&self, pid: i32) -> impl Iterator<Item = &Stat> {
        self.children.get(&pid).into_iter().flatten().map(|&i| &self.stats[i])
    }

    /// The live processes in the trees under `roots`, roots included.
    pub fn descendants(&self, roots: &[i32]) -> Vec<i32> {
        let alive: HashSet<i32> = self.stats.iter().filter(|s| !s.is_dead()).map(|s| s.pid).collect();
        let mut out = Vec::new();
        let mut todo: Vec<i32> = roots.to_vec();
        let mut seen = HashSet::new();
        while let Some(pid) = todo.pop() {
            if !seen.insert(pid) {
                continue;
            }
            if alive.contains(&pid) {
                out.push(pid);
            }
            todo.extend(self.children(pid).map(|s| s.pid));
        }
        out
    }

    /// The live processes of the sessions these leaders lead (a daemon
    /// that forked twice but never called setsid), with their
    /// descendants, leaders included.
    pub fn sessions(&self, leaders: &[i32]) -> Vec<i32> {
        let mut roots: Vec<i32> = leaders.to_vec();
        roots.extend(self.stats.iter().filter(|s| leaders.contains(&s.sid)).map(|s| s.pid));
        self.descendants(&roots)
    }
}

/// The number of threads of this process.
pub fn own_threads() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|l| l.strip_prefix("Threads:"))?.trim().parse().ok()
}

/// What a process does with a signal now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Dies of it (or stops, or whatever the default is).
    Default,
    Blocked,
    Ignored,
    Caught,
}

/// A process's disposition of a signal (None where /proc cannot say).
pub fn disposition(pid: i32, signal: i32) -> Option<Disposition> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_disposition(&text, signal)
}

fn parse_disposition(status: &str, signal: i32) -> Option<Disposition> {
    let bit = 1u64 << (signal - 1);
    let mask = |key: &str| {
        let line = status.lines().find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))?;
        u64::from_str_radix(line.trim(), 16).ok().map(|m| m & bit != 0)
    };
    Some(if mask("SigBlk")? {
        Disposition::Blocked
    } else if mask("SigIgn")? {
        Disposition::Ignored
    } else if mask("SigCgt")? {
        Disposition::Caught
    } else {
        Disposition::Default
    })
}

/// A process's direct children now (None where the kernel cannot say).
pub fn children(pid: i32) -> Option<Vec<i32>> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).ok()?;
    Some(text.split_whitespace().filter_map(|p| p.parse().ok()).collect())
}

/// Every pid in /proc, in no particular order.
pub fn pids() -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).collect()
}

/// The inode of a process's namespace of a kind (`net`, `mnt`, ...).
pub fn ns_inode(pid: i32, kind: &str) -> Option<u64> {
    std::fs::metadata(format!("/proc/{pid}/ns/{kind}")).ok().map(|m| m.ino())
}

/// The current time in the unit of [`Stat::start`]; a process that starts
/// after this call has a start time at least this large.
pub fn now_ticks() -> u64 {
    let ns = match nix::time::clock_gettime(nix::time::ClockId::CLOCK_BOOTTIME) {
        Ok(now) => now.tv_sec() as u64 * 1_000_000_000 + now.tv_nsec() as u64,
        Err(_) => return 0,
    };
    // SAFETY: sysconf has no preconditions.
    let hz = u64::try_from(unsafe { libc::sysconf(libc::_SC_CLK_TCK) }).unwrap_or(100).max(1);
    ns / (1_000_000_000 / hz)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_with_spaces_and_parens() {
        let line = b"42 (a (b) c) S 1 42 42 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 12345 1000 10\n";
        let s = parse_stat(line).expect("parses");
        assert_eq!((s.pid, s.state, s.ppid, s.sid, s.start), (42, b'S', 1, 42, 12345));
    }

    #[test]
    fn reads_signal_dispositions() {
        let status = |blk: &str, ign: &str, cgt: &str| {
            format!("Name:\tx\nSigBlk:\t{blk}\nSigIgn:\t{ign}\nSigCgt:\t{cgt}\n")
        };
        let int = libc::SIGINT;
        let of = |blk, ign, cgt| parse_disposition(&status(blk, ign, cgt), int);
        assert_eq!(
            of("0000000000000000", "0000000000000004", "0000000000000400"),
            Some(Disposition::Default)
        );
        assert_eq!(of("0000000000000002", "0", "0"), Some(Disposition::Blocked));
        assert_eq!(of("0", "0000000000000002", "0"), Some(Disposition::Ignored));
        assert_eq!(of("0", "0", "000000004b813efb"), Some(Disposition::Caught));
        assert_eq!(parse_disposition("Name:\tx\n", int), None);
    }

    #[test]
    fn reads_our_own_process() {
        let me = stat(std::process::id() as i32).expect("own stat");
        assert!(!me.is_dead());
        assert!(me.start <= now_ticks());
    }
}
