//! Traffic shaping on one end of a link, through `tc`.
//!
//! netlink-packet-route models neither tbf nor netem, so the qdiscs are
//! made by `tc` run inside the end's namespace (the `kernel` module), which
//! also turns tc's complaints into our own one-line errors.
//!
//! Layout, by what is asked:
//!   --bw           tbf (rate, burst) with a byte FIFO child of --queue frames
//!   netem options  netem (delay, jitter, loss, ..., limit --queue packets)
//!   both           tbf root with a netem child holding the queue
//!   --queue alone  byte FIFO root of --queue frames
//!
//! The FIFOs count bytes, --queue full-size (1514-byte) frames of them: with
//! GSO a TCP sender hands the qdisc packets of up to 64 KB, so a packet
//! count would let the queue (and the delay it causes) grow many times over.
//! netem's limit can only count packets; under tbf that is harmless (tbf
//! splits GSO packets larger than its burst before its child sees them), and
//! it is Mininet's `max_queue_size`, which is the netem limit too.
use crate::cli::ShapingArgs;
use anyhow::{Result, bail};
use std::fmt;

mod kernel;
pub use kernel::{kernel_has_netem, read_all, tc};

/// Packets queued when shaping without --queue (a veth's txqueuelen).
pub const DEFAULT_QUEUE: u32 = 1000;
/// A full-size Ethernet frame: the unit of --queue for byte FIFOs.
const FRAME: u32 = 1514;
/// The longest --delay or --jitter, in microseconds. tc's own limit is
/// about 274 s (2^32 ticks of 64 ns); no path on Earth needs a minute.
const MAX_TIME_US: u64 = 60_000_000;

/// How netem draws the jitter around the delay; uniform when not given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Distribution {
    Normal,
    Pareto,
    ParetoNormal,
}

impl Distribution {
    const ALL: [Distribution; 3] = [Distribution::Normal, Distribution::Pareto, Distribution::ParetoNormal];

    /// The name tc knows it by (the table /usr/lib/tc/NAME.dist).
    pub fn name(self) -> &'static str {
        match self {
            Distribution::Normal => "normal",
            Distribution::Pareto => "pareto",
            Distribution::ParetoNormal => "paretonormal",
        }
    }

    fn parse(text: &str) -> Result<Distribution> {
        match Distribution::ALL.into_iter().find(|d| d.name() == text) {
            Some(d) => Ok(d),
            None => bail!("--delay-distribution {text}: not a distribution (normal, pareto or paretonormal)"),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Shaping {
    /// tbf rate (--bw), bit/s
    pub rate: Option<u64>,
    /// microseconds
    pub delay: Option<u64>,
    pub jitter: Option<u64>,
    /// Not read back: the kernel does not report it.
    pub distribution: Option<Distribution>,
    /// percent
    pub loss: Option<f64>,
    pub reorder: Option<f64>,
    pub duplicate: Option<f64>,
    pub corrupt: Option<f64>,
    /// netem's own rate (--rate), bit/s
    pub netem_rate: Option<u64>,
    /// packets
    pub queue: Option<u32>,
}

impl Shaping {
    /// Every value checked, and every option that needs another, before
    /// anything is made.
    pub fn parse(args: &ShapingArgs) -> Result<Shaping> {
        let time =
            |option: &str, text: &Option<String>| text.as_deref().map(|t| parse_time(option, t)).transpose();
        let pct =
            |option: &str, text: &Option<String>| text.as_deref().map(|t| parse_pct(option, t)).transpose();
        let s = Shaping {
            rate: args.bw.as_deref().map(|t| parse_rate("--bw", t)).transpose()?,
            delay: time("--delay", &args.delay)?,
            jitter: time("--jitter", &args.jitter)?,
            distribution: args.delay_distribution.as_deref().map(Distribution::parse).transpose()?,
            loss: pct("--loss", &args.loss)?,
            reorder: pct("--reorder", &args.reorder)?,
            duplicate: pct("--duplicate", &args.duplicate)?,
            corrupt: pct("--corrupt", &args.corrupt)?,
            netem_rate: args.rate.as_deref().map(|t| parse_rate("--rate", t)).transpose()?,
            queue: args.queue.as_deref().map(parse_queue).transpose()?,
        };
        if s.jitter.is_some() && s.delay.is_none() {
            bail!("--jitter needs --delay (the jitter varies the delay)");
        }
        if s.reorder.is_some() && s.delay.is_none() {
            bail!("--reorder needs --delay (reordered packets are the ones sent without it)");
        }
        if s.distribution.is_some() && s.jitter.is_none() {
            bail!("--delay-distribution needs --jitter (it shapes how the jitter is drawn)");
        }
        Ok(s)
    }

    pub fn is_empty(&self) -> bool {
        *self == Shaping::default()
    }

    /// The first option that needs netem, as written on the command line.
    pub fn netem_option(&self) -> Option<&'static str> {
        [
            (self.delay.is_some(), "--delay"),
            (self.jitter.is_some(), "--jitter"),
            (self.distribution.is_some(), "--delay-distribution"),
            (self.loss.is_some(), "--loss"),
            (self.reorder.is_some(), "--reorder"),
            (self.duplicate.is_some(), "--duplicate"),
            (self.corrupt.is_some(), "--corrupt"),
            (self.netem_rate.is_some(), "--rate"),
        ]
        .into_iter()
        .find_map(|(set, name)| set.then_some(name))
    }

    /// The netem qdisc's parameters, when any netem option is given.
    fn netem(&self, queue: u32) -> Option<String> {
        self.netem_option()?;
        let mut s = String::from("netem");
        if let Some(d) = self.delay {
            s += &format!(" delay {d}us");
            if let Some(j) = self.jitter {
                s += &format!(" {j}us");
                if let Some(dist) = self.distribution {
                    s += &format!(" distribution {}", dist.name());
                }
            }
        }
        for (name, p) in self.percentages() {
            s += &format!(" {name} {p}%");
        }
        if let Some(r) = self.netem_rate {
            s += &format!(" rate {r}bit");
        }
        Some(s + &format!(" limit {queue}"))
    }

    /// The netem percentages that are set, by their tc names.
    fn percentages(&self) -> impl Iterator<Item = (&'static str, f64)> {
        [
            ("loss", self.loss),
            ("reorder", self.reorder),
            ("duplicate", self.duplicate),
            ("corrupt", self.corrupt),
        ]
        .into_iter()
        .filter_map(|(name, pct)| Some((name, pct?)))
    }

    /// tc batch lines that shape `dev` (or clear it when empty).
    pub fn tc_script(&self, dev: &str) -> String {
        let queue = self.queue.unwrap_or(DEFAULT_QUEUE);
        let bfifo = format!("bfifo limit {}", u64::from(queue) * u64::from(FRAME));
        match (self.rate, self.netem(queue)) {
            (Some(rate), netem) => {
                // A burst of at least 4 ms of traffic, and never below
                // what one full-size packet needs.
                let burst = (rate / 8 / 250).max(15_000);
                format!(
                    "qdisc replace dev {dev} root handle 1: tbf rate {rate}bit burst {burst} limit {}\n\
                     qdisc replace dev {dev} parent 1:1 handle 10: {}\n",
                    burst * 2,
                    netem.unwrap_or(bfifo)
                )
            }
            (None, Some(netem)) => format!("qdisc replace dev {dev} root handle 1: {netem}\n"),
            (None, None) if self.queue.is_some() => {
                format!("qdisc replace dev {dev} root handle 1: {bfifo}\n")
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
        if let Some(d) = self.distribution {
            parts.push(format!("delay-distribution={}", d.name()));
        }
        for (name, p) in self.percentages() {
            parts.push(format!("{name}={}%", trim(p)));
        }
        if let Some(r) = self.netem_rate {
            parts.push(format!("rate={}", rate_text(r)));
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
    let s = format!("{x:.4}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Mbit/s, into bit/s.
fn parse_rate(option: &str, text: &str) -> Result<u64> {
    match text.parse::<f64>() {
        Ok(mbit) if mbit.is_finite() && mbit > 0.0 && mbit <= 1e6 && mbit * 1e6 >= 8.0 => {
            Ok((mbit * 1e6).round() as u64)
        }
        _ => bail!("{option} {text}: not a rate (a positive number of Mbit/s, such as 10 or 0.5)"),
    }
}

/// `10`, `10%` or `0.5`: percent.
fn parse_pct(option: &str, text: &str) -> Result<f64> {
    match text.strip_suffix('%').unwrap_or(text).parse::<f64>() {
        Ok(pct) if (0.0..=100.0).contains(&pct) => Ok(pct),
        _ => bail!("{option} {text}: not a percentage from 0 to 100"),
    }
}

fn parse_queue(text: &str) -> Result<u32> {
    match text.parse::<u32>() {
        Ok(n) if (1..=1_000_000).contains(&n) => Ok(n),
        _ => bail!("--queue {text}: not a number of packets (1 to 1000000)"),
    }
}

/// `5ms`, `1.5s`, `100us`, or bare milliseconds; into microseconds, from
/// 0 to a minute.
pub fn parse_time(option: &str, text: &str) -> Result<u64> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let split = digits.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(digits.len());
    let (number, unit) = digits.split_at(split);
    let scale = match unit {
        "" | "ms" | "msec" => 1e3,
        "us" | "usec" => 1.0,
        "s" | "sec" => 1e6,
        _ => f64::NAN,
    };
    match number.parse::<f64>().map(|n| n * scale) {
        Ok(us) if us.is_finite() && digits.len() == text.len() && us <= MAX_TIME_US as f64 => {
            Ok(us.round() as u64)
        }
        Ok(us) if us.is_finite() => bail!("{option} {text}: out of range (0 to 60s)"),
        _ => bail!("{option} {text}: not a time (such as 5ms, 1.5s or 100us)"),
    }
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
            loss: loss.map(String::from),
            queue: queue.map(String::from),
            ..ShapingArgs::default()
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

    fn args(pairs: &[(&str, &str)]) -> Result<Shaping> {
        let mut a = ShapingArgs::default();
        for (name, value) in pairs {
            let slot = match *name {
                "bw" => &mut a.bw,
                "delay" => &mut a.delay,
                "jitter" => &mut a.jitter,
                "delay-distribution" => &mut a.delay_distribution,
                "loss" => &mut a.loss,
                "reorder" => &mut a.reorder,
                "duplicate" => &mut a.duplicate,
                "corrupt" => &mut a.corrupt,
                "rate" => &mut a.rate,
                "queue" => &mut a.queue,
                _ => panic!("{name}"),
            };
            *slot = Some(value.to_string());
        }
        Shaping::parse(&a)
    }

    #[test]
    fn bad_values_name_the_option_and_the_range() {
        for (pairs, message) in [
            (&[("delay", "-5ms")][..], "--delay -5ms: out of range (0 to 60s)"),
            (&[("delay", "61s")][..], "--delay 61s: out of range (0 to 60s)"),
            (&[("delay", "5ms"), ("jitter", "-1ms")][..], "--jitter -1ms: out of range (0 to 60s)"),
            (&[("loss", "101%")][..], "--loss 101%: not a percentage from 0 to 100"),
            (&[("delay", "5ms"), ("reorder", "-1")][..], "--reorder -1: not a percentage from 0 to 100"),
            (&[("duplicate", "x%")][..], "--duplicate x%: not a percentage from 0 to 100"),
            (&[("corrupt", "100.5")][..], "--corrupt 100.5: not a percentage from 0 to 100"),
            (&[("rate", "0")][..], "--rate 0: not a rate (a positive number of Mbit/s, such as 10 or 0.5)"),
            (&[("jitter", "1ms")][..], "--jitter needs --delay (the jitter varies the delay)"),
            (
                &[("reorder", "25")][..],
                "--reorder needs --delay (reordered packets are the ones sent without it)",
            ),
            (
                &[("delay", "5ms"), ("delay-distribution", "normal")][..],
                "--delay-distribution needs --jitter (it shapes how the jitter is drawn)",
            ),
            (
                &[("delay", "5ms"), ("jitter", "1ms"), ("delay-distribution", "lognormal")][..],
                "--delay-distribution lognormal: not a distribution (normal, pareto or paretonormal)",
            ),
        ] {
            assert_eq!(args(pairs).unwrap_err().to_string(), message, "{pairs:?}");
        }
        assert_eq!(parse_time("--delay", "60s").unwrap(), 60_000_000);
        assert_eq!(parse_time("--delay", "0").unwrap(), 0);
    }

    #[test]
    fn every_netem_option_in_one_qdisc() {
        let s = args(&[
            ("delay", "20ms"),
            ("jitter", "5ms"),
            ("delay-distribution", "paretonormal"),
            ("loss", "10%"),
            ("reorder", "25"),
            ("duplicate", "2"),
            ("corrupt", "0.5%"),
            ("rate", "5"),
            ("queue", "77"),
        ])
        .unwrap();
        assert_eq!(
            s.tc_script("a"),
            "qdisc replace dev a root handle 1: netem delay 20000us 5000us distribution paretonormal \
             loss 10% reorder 25% duplicate 2% corrupt 0.5% rate 5000000bit limit 77\n"
        );
        assert_eq!(s.netem_option(), Some("--delay"));
        assert_eq!(args(&[("rate", "5")]).unwrap().netem_option(), Some("--rate"));
        assert_eq!(args(&[("corrupt", "1")]).unwrap().netem_option(), Some("--corrupt"));
        assert_eq!(
            s.to_string(),
            "delay=20ms jitter=5ms delay-distribution=paretonormal loss=10% reorder=25% duplicate=2% \
             corrupt=0.5% rate=5Mbit queue=77"
        );
    }

    #[test]
    fn a_queue_alone_is_a_byte_fifo() {
        let s = args(&[("queue", "50")]).unwrap();
        assert_eq!(s.tc_script("x"), "qdisc replace dev x root handle 1: bfifo limit 75700\n");
    }
}
