//! A lab across machines: the machines a lab may use (its hosts file),
//! ssh to them, and the records of nodes that live on them.
//!
//! The home machine (where the user runs the tools) keeps a record for
//! every node, `machine=NAME` for one that lives elsewhere; the node itself
//! is an ordinary node in that machine's own lab directory, made and run
//! by the same tools over ssh. No daemon: ssh, with one multiplexed
//! connection per machine (ControlMaster) so that a call pays no handshake.
//!
//! The hosts file (`$MN_HOSTS`, else `$MN_DIR/hosts`) names each machine
//! on a line: `NAME SSH-DESTINATION UNDERLAY-ADDRESS [dir=PATH] [bin=DIR]`.
use crate::lab::{self, Lab};
use crate::name;
use anyhow::{Result, anyhow};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The lab's own hosts file, used when MN_HOSTS is not set.
pub const HOSTS: &str = "hosts";
/// The home lab's directory of ssh control sockets.
pub const SSH_DIR: &str = ".ssh";
/// What a lab directory may hold besides nodes and still count as empty
/// (a hosts file written before the first node).
pub const LAB_FILES: [&str; 2] = [HOSTS, SSH_DIR];
/// How long an idle control master waits for the next call.
const PERSIST_SECS: u32 = 600;

/// One machine of the lab.
#[derive(Debug, Clone, PartialEq)]
pub struct Machine {
    pub name: String,
    /// What ssh is given: a host, user@host, or a Host alias of ssh_config.
    pub dest: String,
    /// The address tunnels to this machine's nodes go to.
    pub underlay: IpAddr,
    /// The lab directory on that machine (default: the home MN_DIR's path).
    pub dir: Option<PathBuf>,
    /// Where the tools are on that machine (default: its PATH).
    pub bin: Option<String>,
}

/// The hosts file in use.
pub fn hosts_path() -> PathBuf {
    match std::env::var_os("MN_HOSTS") {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => lab::dir_from_env().join(HOSTS),
    }
}

/// Every machine the hosts file names; none without a hosts file.
pub fn machines() -> Result<Vec<Machine>> {
    let path = hosts_path();
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(mncli::io_error(path.display(), &e)),
    };
    parse_hosts(&text).map_err(|e| anyhow!("{}: {e}", path.display()))
}

/// The machine called `name`; an error names the hosts file.
pub fn machine(name: &str) -> Result<Machine> {
    machines()?
        .into_iter()
        .find(|m| m.name == name)
        .ok_or_else(|| anyhow!("no machine named {name} in {}", hosts_path().display()))
}

pub fn parse_hosts(text: &str) -> Result<Vec<Machine>> {
    let mut machines: Vec<Machine> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let words: Vec<&str> = line.split('#').next().unwrap_or("").split_whitespace().collect();
        if words.is_empty() {
            continue;
        }
        let at = |why: String| anyhow!("line {}: {why}", i + 1);
        let [name, dest, underlay, options @ ..] = words.as_slice() else {
            return Err(at("expected NAME SSH-DESTINATION UNDERLAY-ADDRESS [dir=PATH] [bin=DIR]".into()));
        };
        if !name::is_valid(name) {
            return Err(at(format!("{name}: not a machine name (a letter, then letters, digits or _)")));
        }
        // `-` is this machine: its nodes are made here, and links to it
        // need its underlay address.
        if dest.starts_with('-') && *dest != "-" {
            return Err(at(format!("{dest}: not an ssh destination")));
        }
        let underlay: IpAddr =
            underlay.parse().map_err(|_| at(format!("{underlay}: not an IPv4 or IPv6 address")))?;
        let mut machine =
            Machine { name: name.to_string(), dest: dest.to_string(), underlay, dir: None, bin: None };
        for option in options {
            match option.split_once('=') {
                Some(("dir", dir)) if dir.starts_with('/') => machine.dir = Some(PathBuf::from(dir)),
                Some(("bin", bin)) if bin.starts_with('/') => machine.bin = Some(bin.to_string()),
                _ => return Err(at(format!("{option}: expected dir=/PATH or bin=/DIR"))),
            }
        }
        if let Some(other) = machines.iter().find(|m| m.name == machine.name) {
            return Err(at(format!("machine {} is named twice", other.name)));
        }
        if let Some(other) = machines.iter().find(|m| m.underlay == machine.underlay) {
            return Err(at(format!("{underlay}: also the underlay address of machine {}", other.name)));
        }
        machines.push(machine);
    }
    Ok(machines)
}

/// A word for a POSIX shell, quoted.
pub fn quote(word: &str) -> String {
    if !word.is_empty() && word.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./=:@%+,".contains(&b)) {
        return word.to_string();
    }
    format!("'{}'", word.replace('\'', r"'\''"))
}

impl Machine {
    /// How errors name it: `machine b (root@10.0.0.2)`.
    pub fn describe(&self) -> String {
        format!("machine {} ({})", self.name, self.dest)
    }

    /// The lab directory on the machine.
    pub fn dir(&self) -> PathBuf {
        self.dir.clone().unwrap_or_else(lab::dir_from_env)
    }

    /// The shell command that runs one of the tools there, in its lab.
    pub fn tool_line(&self, tool: &str, args: &[String]) -> String {
        let program = match &self.bin {
            Some(bin) => Path::new(bin).join(tool).display().to_string(),
            None => tool.to_string(),
        };
        let mut line = format!("env MN_DIR={} {}", quote(&self.dir().display().to_string()), quote(&program));
        for arg in args {
            line.push(' ');
            line.push_str(&quote(arg));
        }
        line
    }

    /// ssh to the machine running `line` there: `$MN_SSH` (default ssh)
    /// with a control master per machine, whose socket lives in the home
    /// lab, kept for a while after the last call.
    pub fn ssh(&self, line: &str) -> Result<Command> {
        let mut cmd = ssh_command(&[])?;
        cmd.arg("--").arg(&self.dest).arg(line);
        Ok(cmd)
    }

    /// Runs a tool there, without stdin; its stdout on success, else its
    /// last line of complaint as the error, naming the machine.
    pub fn run(&self, tool: &str, args: &[String]) -> Result<String> {
        let mut cmd = self.ssh(&self.tool_line(tool, args))?;
        let out = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .map_err(|e| anyhow!("{}: run ssh: {}", self.describe(), mncli::os_error(&e)))?;
        if out.status.success() {
            return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
        }
        Err(self.failure(tool, out.status.code(), &String::from_utf8_lossy(&out.stderr)))
    }

    /// The error for a failed ssh call: the last line it (or the tool)
    /// printed, without the tool's own `tool: ` prefix.
    pub fn failure(&self, tool: &str, code: Option<i32>, stderr: &str) -> anyhow::Error {
        let last = stderr.lines().rev().map(str::trim).find(|l| !l.is_empty()).unwrap_or("");
        let last = last.strip_prefix(&format!("{tool}: ")).unwrap_or(last);
        match code {
            Some(127) => anyhow!("{}: {tool} is not installed there ({last})", self.describe()),
            Some(255) if last.is_empty() => anyhow!("{}: ssh failed", self.describe()),
            None => anyhow!("{}: ssh was killed", self.describe()),
            _ => anyhow!("{}: {last}", self.describe()),
        }
    }

    /// Ends the control master of this machine, if there is one.
    pub fn stop_master(&self) {
        if self.dest == "-" {
            return;
        }
        if let Ok(mut cmd) = ssh_command(&["-O", "exit"]) {
            let _ = cmd
                .arg("--")
                .arg(&self.dest)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// `$MN_SSH` split into words (default `ssh`), with the lab's control
/// master options and `extra`.
fn ssh_command(extra: &[&str]) -> Result<Command> {
    let words = std::env::var("MN_SSH").unwrap_or_default();
    let mut words = words.split_whitespace();
    let mut cmd = Command::new(words.next().unwrap_or("ssh"));
    cmd.args(words);
    let sockets = control_dir()?;
    cmd.args(["-o", "ControlMaster=auto", "-o"])
        .arg(format!("ControlPath={}/%C", sockets.display()))
        .args(["-o", &format!("ControlPersist={PERSIST_SECS}"), "-o", "BatchMode=yes"])
        .args(["-o", "ConnectTimeout=10"])
        .args(extra);
    Ok(cmd)
}

/// The home lab's directory of control sockets (0700), made on first use.
fn control_dir() -> Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    let dir = lab::dir_from_env().join(SSH_DIR);
    match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
        Ok(()) => Ok(dir),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(dir),
        Err(e) => Err(mncli::io_error(dir.display(), &e)),
    }
}

/// A node that lives on another machine, as its home record says.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteNode {
    pub name: String,
    pub kind: String,
    pub machine: String,
}

/// The record of a node on another machine: no shell here, so no pid;
/// an older mnnode reads it as an unfinished node and never acts on a
/// local process for it.
pub fn record(name: &str, kind: &str, root: bool, machine: &str) -> String {
    format!(
        "protocol={}\nname={name}\nkind={kind}\nroot={}\nmachine={machine}\n",
        crate::node::PROTOCOL,
        root as u8
    )
}

/// The machine a node lives on, when it is not this one.
pub fn remote_node(lab: &Lab, name: &str) -> Option<RemoteNode> {
    let text = lab.node_dir(name).ok()?.record_text().ok()?;
    let value =
        |key: &str| text.lines().find_map(|l| l.strip_prefix(key)?.strip_prefix('=')).map(String::from);
    Some(RemoteNode { name: value("name")?, kind: value("kind")?, machine: value("machine")? })
}

/// The lab's remote nodes by machine.
pub fn remote_nodes(lab: &Lab) -> Result<BTreeMap<String, Vec<RemoteNode>>> {
    let mut by_machine: BTreeMap<String, Vec<RemoteNode>> = BTreeMap::new();
    for name in lab.node_names()? {
        if let Some(node) = remote_node(lab, &name) {
            by_machine.entry(node.machine.clone()).or_default().push(node);
        }
    }
    Ok(by_machine)
}

/// The remote node `name` and its machine, when the lab has one.
pub fn lookup(name: &str) -> Result<Option<(RemoteNode, Machine)>> {
    let Some(lab) = Lab::open()? else { return Ok(None) };
    let Some(node) = remote_node(&lab, name) else { return Ok(None) };
    let machine =
        machine(&node.machine).map_err(|e| anyhow!("node {name} lives on machine {}: {e}", node.machine))?;
    Ok(Some((node, machine)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_lines() {
        let m = parse_hosts("# lab\na - 10.0.0.1\n\nb b 10.0.0.2 dir=/run/mn-b bin=/opt/mn # two\n").unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(m[1].dir.as_deref(), Some(Path::new("/run/mn-b")));
        assert_eq!(m[1].bin.as_deref(), Some("/opt/mn"));
        assert_eq!(m[0].dest, "-", "this machine");
        let err = |text: &str| parse_hosts(text).unwrap_err().to_string();
        assert_eq!(err("a -x 10.0.0.1"), "line 1: -x: not an ssh destination");
        assert_eq!(
            err("a b\n"),
            "line 1: expected NAME SSH-DESTINATION UNDERLAY-ADDRESS [dir=PATH] [bin=DIR]"
        );
        assert_eq!(err("a b 10.0.0.300"), "line 1: 10.0.0.300: not an IPv4 or IPv6 address");
        assert_eq!(err("a x 10.0.0.1\na y 10.0.0.2"), "line 2: machine a is named twice");
        assert_eq!(
            err("a x 10.0.0.1\nb y 10.0.0.1"),
            "line 2: 10.0.0.1: also the underlay address of machine a"
        );
        assert_eq!(err("a x 10.0.0.1 dir=rel"), "line 1: dir=rel: expected dir=/PATH or bin=/DIR");
    }

    #[test]
    fn quoting() {
        assert_eq!(quote("h1"), "h1");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), "'it'\\''s'");
        assert_eq!(quote(""), "''");
    }
}
