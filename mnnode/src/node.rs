//! A node's record: what `mnnode add` wrote to `$MN_DIR/NAME/node`, and
//! whether the node is running.
pub use crate::kind::Kind;
use crate::procfs;
use anyhow::{Context, Result, anyhow, bail};
use std::path::PathBuf;

/// The node protocol this mnnode speaks (see shell.rs): stored in each
/// record, so that tools never talk to a shell they do not understand.
pub const PROTOCOL: u32 = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Running,
    Dead,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Running => "running",
            State::Dead => "dead",
        }
    }
}

/// One node, as recorded in `$MN_DIR/NAME/node` (`key=value` lines).
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub name: String,
    pub kind: Kind,
    /// Runs in the root namespaces (`--root`).
    pub root: bool,
    /// The shell's pid and start time (ticks since boot), which together
    /// identify it even after the pid is reused. Both 0 for a lazy node
    /// whose shell has not started yet (`pid=-` in the record): see
    /// [`Node::has_shell`].
    pub pid: i32,
    pub start: u64,
    /// The network namespace's inode and cookie (the cookie is unique for
    /// the life of the system; inodes are reused).
    pub netns: Option<u64>,
    pub cookie: Option<u64>,
    pub cpu: Option<f64>,
    pub cgroup: Option<PathBuf>,
    /// The protocol its shell speaks; 1 for records written before there
    /// was a version.
    pub protocol: u32,
    /// The node's `ip netns` entry, which pins its network namespace (not
    /// in the record: the lab names it, see `NodeDir::record`). A lazy
    /// node is reached through it until its shell starts.
    pub pin: Option<PathBuf>,
}

impl Node {
    /// A node about to be made by `add`: no shell, namespace or cgroup yet.
    pub(crate) fn unmade(name: &str, opts: &crate::spawn::AddOptions, pin: Option<PathBuf>) -> Node {
        Node {
            name: name.to_string(),
            kind: opts.kind,
            root: opts.root,
            pid: 0,
            start: 0,
            netns: None,
            cookie: None,
            cpu: opts.cpu,
            cgroup: None,
            protocol: PROTOCOL,
            pin,
        }
    }

    /// Whether the node is up: its shell alive (same pid, same start
    /// time, not a zombie), or, for a lazy node without a shell yet, its
    /// namespace still pinned by its entry.
    pub fn state(&self) -> State {
        if !self.has_shell() {
            let pinned = match (&self.pin, self.netns) {
                (Some(pin), Some(inode)) => {
                    matches!(crate::netns::holds(pin), crate::netns::Holds::Namespace(ino) if ino == inode)
                }
                _ => false,
            };
            return if pinned { State::Running } else { State::Dead };
        }
        match procfs::stat(self.pid) {
            Some(s) if s.start == self.start && !s.is_dead() => State::Running,
            _ => State::Dead,
        }
    }

    /// Whether a shell was ever started for the node: false for a lazy
    /// node until its first `mnrun`, `mnnode pid` or `restart`.
    pub fn has_shell(&self) -> bool {
        self.pid > 0
    }

    /// Whether the node has a shell and it is alive.
    pub fn shell_alive(&self) -> bool {
        self.has_shell() && self.is_running()
    }

    /// Refuses a node whose shell speaks another version of the node
    /// protocol than these tools.
    pub fn check_protocol(&self) -> Result<()> {
        if self.protocol != PROTOCOL {
            bail!(
                "node {} was started by another version of mnnode (protocol {}, this one speaks {PROTOCOL}); \
                 remove it with mnnode del {} and add it again",
                self.name,
                self.protocol,
                self.name
            );
        }
        Ok(())
    }

    pub fn is_running(&self) -> bool {
        self.state() == State::Running
    }

    /// The bridge a switch node keeps in its namespace: named after it.
    pub fn bridge(&self) -> Option<&str> {
        self.kind.has_bridge().then_some(self.name.as_str())
    }

    /// Where the node's network namespace can be opened: its shell's, or,
    /// before a lazy node's shell starts, its entry (check the inode).
    pub fn netns_path(&self) -> String {
        match &self.pin {
            Some(pin) if !self.has_shell() => pin.display().to_string(),
            _ => format!("/proc/{}/ns/net", self.pid),
        }
    }

    pub fn to_record(&self) -> String {
        // A lazy node without a shell yet: `pid=-`, `start=-`.
        let (pid, start) = match self.has_shell() {
            true => (self.pid.to_string(), self.start.to_string()),
            false => ("-".to_string(), "-".to_string()),
        };
        let mut out = format!(
            "protocol={}\nname={}\nkind={}\nroot={}\npid={pid}\nstart={start}\n",
            self.protocol, self.name, self.kind, self.root as u8
        );
        if let Some(ino) = self.netns {
            out += &format!("netns={ino}\n");
        }
        if let Some(cookie) = self.cookie {
            out += &format!("cookie={cookie}\n");
        }
        if let Some(cpu) = self.cpu {
            out += &format!("cpu={cpu}\n");
        }
        if let Some(cgroup) = &self.cgroup {
            out += &format!("cgroup={}\n", cgroup.display());
        }
        out
    }

    pub fn from_record(text: &str) -> Result<Node> {
        let mut name = None;
        let mut kind = None;
        let mut root = false;
        let mut pid = None;
        let mut start = None;
        let mut netns = None;
        let mut cookie = None;
        let mut cpu = None;
        let mut cgroup = None;
        let mut protocol = 1;
        let mut machine = None;
        for line in text.lines() {
            let Some((key, value)) = line.split_once('=') else { continue };
            let number = || value.parse::<u64>().with_context(|| format!("{key}={value}"));
            match key {
                "name" => name = Some(value.to_string()),
                "kind" => kind = Some(value.parse()?),
                "root" => root = value == "1",
                "pid" if value == "-" => pid = Some(0),
                "pid" => {
                    pid = Some(
                        value
                            .parse::<i32>()
                            .ok()
                            .filter(|&p| p > 0)
                            .with_context(|| format!("pid={value}"))?,
                    )
                }
                "start" if value == "-" => start = Some(0),
                "start" => start = Some(number()?),
                "netns" => netns = Some(number()?),
                "cookie" => cookie = Some(number()?),
                "cpu" => cpu = value.parse().ok(),
                "cgroup" => cgroup = Some(PathBuf::from(value)),
                "protocol" => protocol = value.parse().with_context(|| format!("protocol={value}"))?,
                "machine" => machine = Some(value),
                _ => {}
            }
        }
        // A node on another machine has no shell here (see remote.rs).
        let missing = |what| match machine {
            Some(m) => anyhow!("it lives on machine {m}"),
            None => anyhow!("record has no {what}"),
        };
        Ok(Node {
            name: name.ok_or_else(|| missing("name"))?,
            kind: kind.ok_or_else(|| missing("kind"))?,
            root,
            pid: pid.ok_or_else(|| missing("pid"))?,
            start: start.ok_or_else(|| missing("start"))?,
            netns,
            cookie,
            cpu,
            cgroup,
            protocol,
            pin: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_round_trips() {
        let node = Node {
            name: "s1".into(),
            kind: Kind::Switch,
            root: false,
            pid: 42,
            start: 7,
            netns: Some(4026532247),
            cookie: Some(9),
            cpu: Some(0.5),
            cgroup: Some("/sys/fs/cgroup/cpu/mn-0123456789abcdef-s1".into()),
            protocol: PROTOCOL,
            pin: None,
        };
        assert_eq!(Node::from_record(&node.to_record()).unwrap(), node);
        // A lazy node: no shell yet, and never pid 0 from a record.
        let lazy = Node { pid: 0, start: 0, ..node.clone() };
        let text = lazy.to_record();
        assert!(text.contains("\npid=-\nstart=-\n"), "{text}");
        assert_eq!(Node::from_record(&text).unwrap(), lazy);
        assert!(!lazy.has_shell());
        assert!(Node::from_record("name=h1\nkind=host\npid=0\nstart=1\n").is_err());
        assert!(Node::from_record("name=h1\nkind=host\n").is_err());
        assert!(Node::from_record("name=h1\nkind=hub\npid=1\nstart=1\n").is_err());
        let old = Node::from_record("name=h1\nkind=host\nroot=0\npid=1\nstart=1\n").unwrap();
        assert_eq!(old.protocol, 1, "a record from before the protocol had a version");
        // A node on another machine has no shell here: never a local pid.
        let remote = crate::remote::record("h9", "host", false, "b");
        let err = Node::from_record(&remote).unwrap_err().to_string();
        assert_eq!(err, "it lives on machine b");
    }
}
