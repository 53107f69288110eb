//! Traffic shaping on one end of a link, through `tc`.
//!
//! netlink-packet-route models neither tbf nor netem, so the qdiscs are
//! made by `tc` run inside the end's namespace, behind this one module that
//! also turns tc's complaints into our own one-line errors.
//!
//! Layout, by what is asked:
//!   --bw           tbf (rate, burst) with a byte FIFO child of --queue frames
//!   netem options  netem (delay, jitter, loss, limit --queue)
//!   both           tbf root with a netem child holding the queue
//!   --queue alone  byte FIFO root
//!
//! The FIFO counts bytes, --queue full-size (1514-byte) frames of them: with
//! GSO a TCP sender hands the qdisc packets of up to 64 KB, so a packet
//! count would let the queue (and the delay it causes) grow many times over.
use crate::cli::ShapingArgs;
use anyhow::{Context, Result, anyhow, bail};
use std::fmt;
use std::io::Write;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

/// Packets queued when shaping without --queue (a veth's txqueuelen).
pub const DEFAULT_QUEUE: u32 = 1000;
/// A full-size Ethernet frame: the unit of --queue for byte FIFOs.
const FRAME: u32 = 1514;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Shaping {
    /// bit/s
    pub rate: Option<u64>,
    /// microseconds
    pub delay: Option<u64>,
    pub jitter: Option<u64>,
    /// percent
    pub loss: Option<f64>,
    /// packets
    pub queue: Option<u32>,
}

impl Shaping {
    pub fn parse(args: &ShapingArgs) -> Result<Shaping> {
        let rate = args.bw.as_deref().map(parse_bw).transpose()?;
        let delay = args.delay.as_deref().map(|t| parse_time("--delay", t)).transpose()?;
        let jitter = args.jitter.as_deref().map(|t| parse_time("--jitter", t)).transpose()?;
        let loss = args.loss.as_deref().map(parse_loss).transpose()?;
        let queue = args.queue.as_deref().map(parse_queue).transpose()?;
        if jitter.is_some() && delay.is_none() {
            bail!("--jitter needs --delay");
        }
        Ok(Shaping { rate, delay, jitter, loss, queue })
    }

    pub fn is_empty(&self) -> bool {
        *self == Shaping::default()
    }

    /// The first option that needs netem, as written on the command line.
    pub fn netem_option(&self) -> Option<&'static str> {
        [
            (self.delay.is_some(), "--delay"),
            (self.jitter.is_some(), "--jitter"),
            (self.loss.is_some(), "--loss"),
        ]
        .into_iter()
        .find_map(|(set, name)| set.then_some(name))
    }

    /// tc batch lines that shape `dev` (or clear it when empty).
    pub fn tc_script(&self, dev: &str) -> String {
        let queue = self.queue.unwrap_or(DEFAULT_QUEUE);
        let netem = self.netem_option().map(|_| {
            let mut s = String::from("netem");
            if let Some(d) = self.delay {
                s += &format!(" delay {d}us");
                if let Some(j) = self.jitter {
                    s += &format!(" {j}us");
                }
            }
            if let Some(l) = self.loss {
                s += &format!(" loss {l}%");
            }
            s + &format!(" limit {queue}")
        });
        match (self.rate, netem) {
            (Some(rate), netem) => {
                // A burst of at least 4 ms of traffic, and never below
                // what one full-size packet needs.
                let burst = (rate / 8 / 250).max(15_000);
                let child =
                    netem.unwrap_or_else(|| format!("bfifo limit {}", u64::from(queue) * u64::from(FRAME)));
                format!(
                    "qdisc replace dev {dev} root handle 1: tbf rate {rate}bit burst {burst} limit {}\n\
                     qdisc replace dev {dev} parent 1:1 handle 10: {child}\n",
                    burst * 2
                )
            }
            (None, Some(netem)) => format!("qdisc replace dev {dev} root handle 1: {netem}\n"),
            (None, None) if self.queue.is_some() => {
                format!("qdisc replace dev {dev} root handle 1: pfifo limit {queue}\n")
            }
            // Deleting what is not there fails: callers ignore that.
            (None, None) => format!("qdisc delete dev {dev} root\n"),
        }
    }
}

/// Shaping as read back from the kernel, for `list`.
impl fmt::Display for Shaping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(r) = self.rate {
            parts.push(format!("bw={}", rate_text(r)));
        }
        if let Some(d) = self.delay {
            parts.push(format!("delay={}", time_text(d)));
        }
        if let Some(j) = self.jitter {
            parts.push(format!("jitter={}", time_text(j)));
        }
        if let Some(l) = self.loss {
            parts.push(format!("loss={l}%"));
        }
        if let Some(q) = self.queue {
            parts.push(format!("queue={q}"));
        }
        f.write_str(&parts.join(" "))
    }
}

fn rate_text(bits: u64) -> String {
    let mbit = bits as f64 / 1e6;
    if mbit >= 1.0 { format!("{}Mbit", trim(mbit)) } else { format!("{}kbit", trim(bits as f64 / 1e3)) }
}

fn time_text(us: u64) -> String {
    if us >= 1000 { format!("{}ms", trim(us as f64 / 1000.0)) } else { format!("{us}us") }
}

fn trim(x: f64) -> String {
    let s = format!("{x:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn parse_bw(text: &str) -> Result<u64> {
    match text.parse::<f64>() {
        Ok(mbit) if mbit.is_finite() && mbit > 0.0 && mbit <= 1e6 && mbit * 1e6 >= 8.0 => {
            Ok((mbit * 1e6).round() as u64)
        }
        _ => bail!("--bw {text}: not a rate (a positive number of Mbit/s, such as 10 or 0.5)"),
    }
}

fn parse_loss(text: &str) -> Result<f64> {
    match text.trim_end_matches('%').parse::<f64>() {
        Ok(pct) if (0.0..=100.0).contains(&pct) => Ok(pct),
        _ => bail!("--loss {text}: not a percentage from 0 to 100"),
    }
}

fn parse_queue(text: &str) -> Result<u32> {
    match text.parse::<u32>() {
        Ok(n) if (1..=1_000_000).contains(&n) => Ok(n),
        _ => bail!("--queue {text}: not a number of packets (1 to 1000000)"),
    }
}

/// `5ms`, `1.5s`, `100us`, or bare milliseconds; into microseconds.
pub fn parse_time(option: &str, text: &str) -> Result<u64> {
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let scale = match unit {
        "" | "ms" | "msec" => 1e3,
        "us" | "usec" => 1.0,
        "s" | "sec" => 1e6,
        _ => f64::NAN,
    };
    match number.parse::<f64>() {
        Ok(n) if n.is_finite() && scale.is_finite() && n * scale <= 1e9 => Ok((n * scale).round() as u64),
        _ => bail!("{option} {text}: not a time (such as 5ms, 1.5s or 100us)"),
    }
}

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
pub fn read_all(ns: Option<BorrowedFd>) -> Result<std::collections::HashMap<String, Shaping>> {
    let out = run_tc(ns, &["-j", "qdisc", "show"], None)?;
    let qdiscs: serde_json::Value = serde_json::from_slice(&out).context("parse tc -j output")?;
    let mut found: std::collections::HashMap<String, Shaping> = std::collections::HashMap::new();
    for q in qdiscs.as_array().into_iter().flatten() {
        let (Some(dev), Some(kind)) = (q["dev"].as_str(), q["kind"].as_str()) else { continue };
        let opts = &q["options"];
        let s = found.entry(dev.to_string()).or_default();
        match kind {
            "tbf" => s.rate = opts["rate"].as_u64().map(|bytes| bytes * 8),
            "pfifo" => s.queue = opts["limit"].as_u64().map(|n| n as u32),
            "bfifo" => s.queue = opts["limit"].as_u64().map(|bytes| (bytes / u64::from(FRAME)) as u32),
            "netem" => {
                s.queue = opts["limit"].as_u64().map(|n| n as u32);
                s.delay = opts["delay"]["delay"].as_f64().map(|secs| (secs * 1e6).round() as u64);
                s.jitter = opts["delay"]["jitter"]
                    .as_f64()
                    .filter(|j| *j > 0.0)
                    .map(|secs| (secs * 1e6).round() as u64);
                s.loss = opts["loss-random"]["loss"].as_f64().map(|p| p * 100.0);
            }
            _ => {}
        }
    }
    found.retain(|_, s| !s.is_empty());
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shaping(
        bw: Option<&str>,
        delay: Option<&str>,
        loss: Option<&str>,
        queue: Option<&str>,
    ) -> Result<Shaping> {
        Shaping::parse(&ShapingArgs {
            bw: bw.map(String::from),
            delay: delay.map(String::from),
            jitter: None,
            loss: loss.map(String::from),
            queue: queue.map(String::from),
        })
    }

    #[test]
    fn values() {
        assert_eq!(shaping(Some("10"), None, None, None).unwrap().rate, Some(10_000_000));
        assert_eq!(shaping(Some("0.5"), None, None, None).unwrap().rate, Some(500_000));
        assert_eq!(parse_time("--delay", "5ms").unwrap(), 5000);
        assert_eq!(parse_time("--delay", "1.5s").unwrap(), 1_500_000);
        assert_eq!(parse_time("--delay", "100us").unwrap(), 100);
        assert_eq!(parse_time("--delay", "7").unwrap(), 7000);
        for bad in ["0", "-5", "abc", "inf", "NaN"] {
            assert!(shaping(Some(bad), None, None, None).is_err(), "--bw {bad}");
        }
        for bad in ["5parsecs", "ms", "-1ms", "1e99s"] {
            assert!(parse_time("--delay", bad).is_err(), "--delay {bad}");
        }
        for bad in ["150", "-1", "x"] {
            assert!(shaping(None, None, Some(bad), None).is_err(), "--loss {bad}");
        }
        assert!(shaping(None, None, None, Some("0")).is_err());
        let err = shaping(None, Some("5parsecs"), None, None).unwrap_err().to_string();
        assert_eq!(err, "--delay 5parsecs: not a time (such as 5ms, 1.5s or 100us)");
    }

    #[test]
    fn scripts() {
        let s = shaping(Some("10"), None, None, Some("100")).unwrap();
        let script = s.tc_script("h1-eth0");
        assert!(script.contains("root handle 1: tbf rate 10000000bit burst 15000"), "{script}");
        assert!(script.contains("parent 1:1 handle 10: bfifo limit 151400"), "{script}");
        let s = shaping(Some("10"), Some("5ms"), Some("1"), None).unwrap();
        assert!(s.tc_script("x").contains("handle 10: netem delay 5000us loss 1% limit 1000"));
        assert_eq!(Shaping::default().tc_script("x"), "qdisc delete dev x root\n");
        assert_eq!(s.netem_option(), Some("--delay"));
        assert_eq!(s.to_string(), "bw=10Mbit delay=5ms loss=1%");
    }
}
