//! Helpers for the tests that build links between nodes (mnlink, netem):
//! a lab with nodes, mnlink runs, what a node's namespace holds, and a
//! batch file written while mnlink reads it.
use crate::{Lab, Output, eventually, unique};
use std::time::Duration;

/// A lab with these hosts and switches.
pub fn lab_with(hosts: &[&str], switches: &[&str]) -> Lab {
    let lab = Lab::new();
    if !hosts.is_empty() {
        lab.cmd("mnnode").arg("add").args(hosts).ok();
    }
    if !switches.is_empty() {
        lab.cmd("mnnode").args(["add", "--kind", "switch"]).args(switches).ok();
    }
    lab
}

/// Runs mnlink in the lab and asserts success.
pub fn mnlink(lab: &Lab, args: &[&str]) -> Output {
    lab.cmd("mnlink").args(args).ok()
}

/// Interface names in a node's namespace.
pub fn ifnames(lab: &Lab, node: &str) -> Vec<String> {
    let pid = lab.node_pid(node).to_string();
    let out = lab.cmd("mnexec").args(["-a", &pid, "ls", "/sys/class/net"]).ok();
    out.stdout.split_whitespace().map(String::from).collect()
}

/// The links `mnlink list --json` shows.
pub fn listed(lab: &Lab) -> Vec<serde_json::Value> {
    let out = mnlink(lab, &["list", "--json"]);
    let links: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
    links.as_array().cloned().unwrap_or_default()
}

/// The qdiscs of one interface, as the kernel reports them (tc -j).
pub fn qdiscs(lab: &Lab, node: &str, dev: &str) -> Vec<serde_json::Value> {
    let out = lab.cmd("mnrun").args([node, &format!("tc -j qdisc show dev {dev}")]).ok();
    let json: serde_json::Value = serde_json::from_str(&out.stdout).expect("tc -j output");
    json.as_array().expect("a qdisc array").clone()
}

/// A batch file that mnlink reads as it is written.
pub struct Fifo(pub std::path::PathBuf);

impl Fifo {
    pub fn new() -> Fifo {
        let path = std::env::temp_dir().join(unique("mnfifo"));
        let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).expect("path");
        // SAFETY: a valid C string.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
        Fifo(path)
    }

    /// The write end, once a reader has it open.
    pub fn writer(&self) -> std::fs::File {
        use std::os::unix::fs::OpenOptionsExt;
        let mut file = None;
        let opened = eventually(Duration::from_secs(10), || {
            file = std::fs::OpenOptions::new().write(true).custom_flags(libc::O_NONBLOCK).open(&self.0).ok();
            file.is_some()
        });
        assert!(opened, "mnlink opened the batch");
        file.expect("writer")
    }
}

impl Default for Fifo {
    fn default() -> Self {
        Fifo::new()
    }
}

impl Drop for Fifo {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
