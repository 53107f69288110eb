//! Shaping meets the kernel: tc run in a node's namespace, its complaints
//! turned into our errors, and what the kernel really holds read back.
use super::{FRAME, Shaping};
use anyhow::{Context, Result, anyhow, bail};
use std::collections::HashMap;
use std::io::Write;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

/// Runs a tc batch in a network namespace (ours when `ns` is None).
pub fn tc(ns: Option<BorrowedFd>, script: &str) -> Result<()> {
    run_tc(ns, &["-batch", "-"], Some(script)).map(drop)
}

/// Runs tc; its stdout, or its complaint.
fn run_tc(ns: Option<BorrowedFd>, args: &[&str], input: Option<&str>) -> Result<Vec<u8>> {
    let mut cmd = Command::new("tc");
    cmd.args(args)
        .stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(ns) = ns {
        let fd = ns.as_raw_fd();
        // SAFETY: setns is async-signal-safe; the descriptor is open in the
        // parent and inherited across fork.
        unsafe {
            cmd.pre_exec(move || {
                if libc::setns(fd, libc::CLONE_NEWNET) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    let mut child =
        cmd.spawn().map_err(|e| anyhow!("run tc: {} (is iproute2 installed?)", mncli::os_error(&e)))?;
    if let (Some(script), Some(mut stdin)) = (input, child.stdin.take()) {
        stdin.write_all(script.as_bytes()).context("feed tc")?;
    }
    let out = child.wait_with_output().context("wait for tc")?;
    if !out.status.success() {
        bail!(tc_error(&String::from_utf8_lossy(&out.stderr)));
    }
    Ok(out.stdout)
}

/// tc's complaint, without its batch-mode noise.
fn tc_error(stderr: &str) -> String {
    let line = stderr
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with("Command failed"))
        .unwrap_or("tc failed");
    let line = line.trim_start_matches("Error: ").trim_end_matches('.');
    format!("tc: {line}")
}

/// Whether this kernel has the netem qdisc, asked once, in a throwaway
/// namespace so that no real interface is touched. An error when tc itself
/// cannot run.
pub fn kernel_has_netem() -> Result<bool> {
    let mut cmd = Command::new("tc");
    cmd.args(["qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms"])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: unshare is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            if libc::unshare(libc::CLONE_NEWNET) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    match cmd.status() {
        Ok(status) => Ok(status.success()),
        Err(e) => bail!("run tc: {} (is iproute2 installed?)", mncli::os_error(&e)),
    }
}

/// The shaping of every interface in a namespace, from `tc -j qdisc show`.
pub fn read_all(ns: Option<BorrowedFd>) -> Result<HashMap<String, Shaping>> {
    let out = run_tc(ns, &["-j", "qdisc", "show"], None)?;
    let qdiscs: serde_json::Value = serde_json::from_slice(&out).context("parse tc -j output")?;
    let mut found: HashMap<String, Shaping> = HashMap::new();
    for q in qdiscs.as_array().into_iter().flatten() {
        let (Some(dev), Some(kind)) = (q["dev"].as_str(), q["kind"].as_str()) else { continue };
        let opts = &q["options"];
        let s = found.entry(dev.to_string()).or_default();
        match kind {
            "tbf" => s.rate = opts["rate"].as_u64().map(|bytes| bytes * 8),
            "pfifo" => s.queue = opts["limit"].as_u64().map(|n| n as u32),
            "bfifo" => s.queue = opts["limit"].as_u64().map(|bytes| (bytes / u64::from(FRAME)) as u32),
            "netem" => read_netem(opts, s),
            _ => {}
        }
    }
    found.retain(|_, s| !s.is_empty());
    Ok(found)
}

/// netem's options as tc 6.1 prints them: times in seconds, percentages as
/// fractions, the rate in bytes per second. The delay distribution is not
/// among them (the kernel does not report its table).
fn read_netem(opts: &serde_json::Value, s: &mut Shaping) {
    let micros = |secs: f64| (secs * 1e6).round() as u64;
    let percent = |fraction: &serde_json::Value| {
        fraction.as_f64().filter(|f| *f > 0.0).map(|f| (f * 100.0 * 1e4).round() / 1e4)
    };
    s.queue = opts["limit"].as_u64().map(|n| n as u32);
    s.delay = opts["delay"]["delay"].as_f64().map(micros);
    s.jitter = opts["delay"]["jitter"].as_f64().filter(|j| *j > 0.0).map(micros);
    s.loss = percent(&opts["loss-random"]["loss"]);
    s.reorder = percent(&opts["reorder"]["reorder"]);
    s.duplicate = percent(&opts["duplicate"]["duplicate"]);
    s.corrupt = percent(&opts["corrupt"]["corrupt"]);
    s.netem_rate = opts["rate"]["rate"].as_u64().filter(|r| *r > 0).map(|bytes| bytes * 8);
}
