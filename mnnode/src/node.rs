//! A node's record: what `mnnode add` wrote to `$MN_DIR/NAME/node`, and
//! whether the node is running.
use crate::procfs;
use anyhow::{Context, Result, anyhow, bail};
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    Host,
    Switch,
    Router,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Host => "host",
            Kind::Switch => "switch",
            Kind::Router => "router",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Kind {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Kind> {
        match s {
            "host" => Ok(Kind::Host),
            "switch" => Ok(Kind::Switch),
            "router" => Ok(Kind::Router),
            other => bail!("{other:?}: not a node kind (host, switch or router)"),
        }
    }
}

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
    /// identify it even after the pid is reused.
    pub pid: i32,
    pub start: u64,
    /// The network namespace's inode and cookie (the cookie is unique for
    /// the life of the system; inodes are reused).
    pub netns: Option<u64>,
    pub cookie: Option<u64>,
    pub cpu: Option<f64>,
    pub cgroup: Option<PathBuf>,
}

impl Node {
    /// Whether the shell is alive: same pid, same start time, not a zombie.
    pub fn state(&self) -> State {
        match procfs::stat(self.pid) {
            Some(s) if s.start == self.start && !s.is_dead() => State::Running,
            _ => State::Dead,
        }
    }

    pub fn is_running(&self) -> bool {
        self.state() == State::Running
    }

    /// The bridge a switch node keeps in its namespace: named after it.
    pub fn bridge(&self) -> Option<&str> {
        (self.kind == Kind::Switch).then_some(self.name.as_str())
    }

    pub fn netns_path(&self) -> String {
        format!("/proc/{}/ns/net", self.pid)
    }

    pub fn to_record(&self) -> String {
        let mut out = format!(
            "name={}\nkind={}\nroot={}\npid={}\nstart={}\n",
            self.name, self.kind, self.root as u8, self.pid, self.start
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
        for line in text.lines() {
            let Some((key, value)) = line.split_once('=') else { continue };
            let number = || value.parse::<u64>().with_context(|| format!("{key}={value}"));
            match key {
                "name" => name = Some(value.to_string()),
                "kind" => kind = Some(value.parse()?),
                "root" => root = value == "1",
                "pid" => pid = Some(value.parse::<i32>().with_context(|| format!("pid={value}"))?),
                "start" => start = Some(number()?),
                "netns" => netns = Some(number()?),
                "cookie" => cookie = Some(number()?),
                "cpu" => cpu = value.parse().ok(),
                "cgroup" => cgroup = Some(PathBuf::from(value)),
                _ => {}
            }
        }
        let missing = |what| anyhow!("record has no {what}");
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
            cgroup: Some("/sys/fs/cgroup/cpu/mn-lab-s1".into()),
        };
        assert_eq!(Node::from_record(&node.to_record()).unwrap(), node);
        assert!(Node::from_record("name=h1\nkind=host\n").is_err());
        assert!(Node::from_record("name=h1\nkind=hub\npid=1\nstart=1\n").is_err());
    }
}
