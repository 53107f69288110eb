//! Link emulation measured: delay, jitter, loss, rate limits and the rest
//! of what netem offers, on real links between nodes, plus what the kernel
//! holds read back with `tc -j`.
//!
//! Tests that need the netem qdisc are gated (`SKIPPED ...` on a kernel
//! without it; the VM leg runs them under a stock Debian kernel, software
//! emulated, so bounds allow for a slow guest but still tell a working
//! option from a missing one). The byte-FIFO test runs everywhere; the
//! bad-input tests are in netem_input.rs.
use mn_tests::{Feature, Lab, eventually, lab_with, mnlink, qdiscs, require};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// The tests of this file take turns: in a software-emulated guest two at
/// once (iperf3 beside 500 pings a second) starve each other and measure
/// the guest instead of the link.
static TURN: Mutex<()> = Mutex::new(());

fn turn() -> MutexGuard<'static, ()> {
    TURN.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Whether `test` can run here (netem present), and its turn.
fn netem_turn(test: &str) -> Option<MutexGuard<'static, ()>> {
    require(test, Feature::Netem).then(turn)
}

/// h1 - h2 directly, addressed 10.0.0.1 and .2; `shaping` on both ends.
fn pair(shaping: &[&str]) -> Lab {
    let lab = lab_with(&["h1", "h2"], &[]);
    mnlink(&lab, &[&["add", "h1-eth0", "h2-eth0"][..], shaping].concat());
    mnlink(&lab, &["addr", "h1-eth0", "10.0.0.1/24"]);
    mnlink(&lab, &["addr", "h2-eth0", "10.0.0.2/24"]);
    lab
}

/// h1 - s1 - h2, `shaping` on every end of both links.
fn two_hops(shaping: &[&str]) -> Lab {
    let lab = lab_with(&["h1", "h2"], &["s1"]);
    mnlink(&lab, &[&["add", "h1-eth0", "s1-eth1"][..], shaping].concat());
    mnlink(&lab, &[&["add", "h2-eth0", "s1-eth2"][..], shaping].concat());
    mnlink(&lab, &["addr", "h1-eth0", "10.0.0.1/24"]);
    mnlink(&lab, &["addr", "h2-eth0", "10.0.0.2/24"]);
    lab
}

/// What one ping run saw.
#[derive(Debug)]
struct Pings {
    sent: u32,
    received: u32,
    duplicates: u32,
    /// Each reply's RTT in ms, in arrival order.
    rtts: Vec<f64>,
}

impl Pings {
    fn loss(&self) -> u32 {
        self.sent - self.received
    }

    fn min(&self) -> f64 {
        self.rtts.iter().copied().fold(f64::INFINITY, f64::min)
    }

    fn median(&self) -> f64 {
        let mut sorted = self.rtts.clone();
        sorted.sort_by(f64::total_cmp);
        sorted[sorted.len() / 2]
    }

    fn stddev(&self) -> f64 {
        let n = self.rtts.len() as f64;
        let mean = self.rtts.iter().sum::<f64>() / n;
        (self.rtts.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / n).sqrt()
    }

    fn below(&self, ms: f64) -> usize {
        self.rtts.iter().filter(|r| **r < ms).count()
    }
}

/// Pings h2 (10.0.0.2) from h1 `count` times, every `interval` seconds,
/// after one ping that resolves the address (ARP).
fn ping(lab: &Lab, count: u32, interval: &str) -> Pings {
    lab.cmd("mnrun").args(["h1", "ping -c1 -W5 10.0.0.2"]).run();
    let out = lab.cmd("mnrun").args(["h1", &format!("ping -n -c {count} -i {interval} -W 1 10.0.0.2")]).run();
    let number_before = |word: &str| -> Option<u32> {
        let summary = out.stdout.lines().find(|l| l.contains("packets transmitted"))?;
        let words: Vec<&str> = summary.split([' ', ',']).filter(|w| !w.is_empty()).collect();
        let at = words.iter().position(|w| *w == word)?;
        words[at - 1].trim_start_matches('+').parse().ok()
    };
    let rtts =
        out.stdout.lines().filter_map(|l| l.split_once("time=")?.1.split(' ').next()?.parse().ok()).collect();
    Pings {
        sent: number_before("packets").unwrap_or_else(|| panic!("no ping summary: {out:?}")),
        received: number_before("received").unwrap_or_else(|| panic!("no ping summary: {out:?}")),
        duplicates: number_before("duplicates").unwrap_or(0),
        rtts,
    }
}

/// iperf3 from h1 to h2 for `secs` seconds (the first one omitted: slow
/// start); the received rate in Mbit/s.
fn iperf_mbits(lab: &Lab, secs: u32) -> f64 {
    lab.cmd("mnrun").args(["h2", "iperf3 -s -1 >/dev/null 2>&1 &"]).ok();
    let listening = || lab.cmd("mnrun").args(["h2", "ss -ltn | grep -q :5201"]).run().status.success();
    assert!(eventually(Duration::from_secs(10), listening), "iperf3 listens in h2");
    let out = lab.cmd("mnrun").args(["h1", &format!("iperf3 -c 10.0.0.2 -t {secs} -O 1 -J")]).ok();
    let json: serde_json::Value = serde_json::from_str(&out.stdout).expect("iperf3 json");
    json["end"]["sum_received"]["bits_per_second"].as_f64().expect("a rate") / 1e6
}

// ---- Everywhere: the byte FIFO ----

#[test]
fn a_queue_alone_is_a_byte_fifo_in_the_kernel() {
    let _turn = turn();
    let lab = lab_with(&["h1", "h2"], &[]);
    mnlink(&lab, &["add", "h1-eth0", "h2-eth0", "--queue", "50"]);
    let q = qdiscs(&lab, "h1", "h1-eth0");
    assert_eq!(q.len(), 1, "one root qdisc: {q:?}");
    assert_eq!(q[0]["kind"], "bfifo", "bytes, not packets: {q:?}");
    assert_eq!(q[0]["options"]["limit"], 50 * 1514, "50 full-size frames: {q:?}");
    // Mininet's name for it.
    mnlink(&lab, &["set", "h2-eth0", "--max-queue-size", "20"]);
    let q = qdiscs(&lab, "h2", "h2-eth0");
    assert_eq!((q[0]["kind"].as_str(), q[0]["options"]["limit"].as_u64()), (Some("bfifo"), Some(20 * 1514)));
    let out = mnlink(&lab, &["list"]);
    out.check(out.stdout.contains("h1-eth0: queue=50; h2-eth0: queue=20"), "list reads both back");
}

// ---- With netem ----

#[test]
fn delay_20ms_per_link_gives_80ms_rtt_over_two_hops() {
    let Some(_turn) = netem_turn("delay_20ms_per_link_gives_80ms_rtt_over_two_hops") else { return };
    // Each of the four crossings (h1>s1>h2 and back) leaves through an
    // end delayed by 20 ms.
    // netem's delay is a floor and a slow (emulated) guest only adds to
    // it, so the smallest RTT is the one that measures the links; the
    // median is shown for the record.
    let lab = two_hops(&["--delay", "20ms"]);
    let pings = ping(&lab, 20, "0.1");
    let min = pings.min();
    eprintln!("rtt over two hops: min {min:.1} ms, median {:.1} ms", pings.median());
    assert_eq!(pings.loss(), 0, "{pings:?}");
    assert!((72.0..=88.0).contains(&min), "80 ms expected within 10 %: {pings:?}");
}

#[test]
fn jitter_widens_the_rtt_spread() {
    let Some(_turn) = netem_turn("jitter_widens_the_rtt_spread") else { return };
    // 50 ms on h1's end: no RTT below 50 ms without jitter. With uniform
    // ±25 ms, 40 % of RTTs would fall below 45 ms, 40 ± 5 of 100 (fewer in
    // a slow guest, which only adds); at least 10 is 6 deviations away.
    // The standard deviations are shown, not compared: one stall of the
    // emulated guest can outweigh the jitter.
    let steady = pair(&["--delay", "50ms"]);
    mnlink(&steady, &["set", "h2-eth0"]);
    let steady = ping(&steady, 100, "0.02");
    let jittery = pair(&["--delay", "50ms", "--jitter", "25ms"]);
    mnlink(&jittery, &["set", "h2-eth0"]);
    let jittery = ping(&jittery, 100, "0.02");
    let (a, b) = (steady.below(45.0), jittery.below(45.0));
    eprintln!(
        "--jitter 25ms: {a} of 100 RTTs below 45 ms without jitter, {b} with; stddev {:.2} vs {:.2} ms",
        steady.stddev(),
        jittery.stddev()
    );
    assert_eq!(a, 0, "the delay is a floor: {steady:?}");
    assert!(b >= 10, "jitter spreads RTTs below it: {jittery:?}");
}

#[test]
fn loss_10_percent_within_binomial_bounds() {
    let Some(_turn) = netem_turn("loss_10_percent_within_binomial_bounds") else { return };
    // Loss on h1's end only, so that each ping is lost with p = 0.1 (on
    // both ends it would be 1 - 0.9², 19 %). Of n = 1000 pings, the number
    // lost has mean 100 and standard deviation √(n·p·(1-p)) ≈ 9.5; the
    // bound 50..150 is more than 5 deviations wide each side (a false
    // failure less than once in a million runs), and still far from 0 and
    // from 19 %.
    let lab = pair(&["--loss", "10%"]);
    mnlink(&lab, &["set", "h2-eth0"]);
    let pings = ping(&lab, 1000, "0.002");
    eprintln!("--loss 10%: {} of {} lost", pings.loss(), pings.sent);
    assert_eq!(pings.sent, 1000, "{pings:?}");
    assert!((50..=150).contains(&pings.loss()), "about 100 of 1000 lost: {}", pings.loss());
}

#[test]
fn bw_10_gives_10_mbits_with_and_without_delay() {
    let Some(_turn) = netem_turn("bw_10_gives_10_mbits_with_and_without_delay") else { return };
    let lab = pair(&["--bw", "10"]);
    let plain = mbits_within(&lab, "--bw 10", 9.0..=11.0);
    assert!((9.0..=11.0).contains(&plain), "10 Mbit/s within 10 %: {plain:.2}");
    // tbf root, netem child: the rate holds over a 40 ms RTT too.
    mnlink(&lab, &["set", "h1-eth0", "--bw", "10", "--delay", "20ms"]);
    mnlink(&lab, &["set", "h2-eth0", "--bw", "10", "--delay", "20ms"]);
    let q = qdiscs(&lab, "h1", "h1-eth0");
    let kinds: Vec<&str> = q.iter().filter_map(|q| q["kind"].as_str()).collect();
    assert_eq!(kinds, ["tbf", "netem"], "{q:?}");
    let delayed = mbits_within(&lab, "--bw 10 --delay 20ms", 9.0..=11.0);
    assert!((9.0..=11.0).contains(&delayed), "10 Mbit/s within 10 % with delay: {delayed:.2}");
}

/// iperf3's rate, measured a second time when the first falls outside
/// `bounds`: a token bucket loses the tokens of any wait longer than its
/// burst (12 ms at 10 Mbit/s), and a software-emulated guest on a busy
/// machine can stall that long. A broken limit fails both.
fn mbits_within(lab: &Lab, what: &str, bounds: std::ops::RangeInclusive<f64>) -> f64 {
    let first = iperf_mbits(lab, 4);
    eprintln!("{what}: {first:.2} Mbit/s");
    if bounds.contains(&first) {
        return first;
    }
    let second = iperf_mbits(lab, 4);
    eprintln!("{what}: {second:.2} Mbit/s (second try)");
    second
}

#[test]
fn set_changes_a_live_link() {
    let Some(_turn) = netem_turn("set_changes_a_live_link") else { return };
    // The smallest RTT measures the links (see the two-hop test).
    let lab = pair(&["--delay", "10ms"]);
    let before = ping(&lab, 20, "0.05").min();
    mnlink(&lab, &["set", "h1-eth0", "--delay", "60ms"]);
    let after = ping(&lab, 20, "0.05").min();
    eprintln!("set: rtt min {before:.1} ms, then {after:.1} ms");
    assert!((20.0..=25.0).contains(&before), "10 + 10 ms: {before:.1}");
    assert!((70.0..=77.0).contains(&after), "60 + 10 ms: {after:.1}");
    let out = mnlink(&lab, &["list"]);
    out.check(out.stdout.contains("h1-eth0: delay=60ms queue=1000; h2-eth0: delay=10ms queue=1000"), "list");
    // A set replaces everything: nothing of the old netem survives.
    mnlink(&lab, &["set", "h1-eth0", "--loss", "1"]);
    let q = qdiscs(&lab, "h1", "h1-eth0");
    assert!(q[0]["options"].get("delay").is_none(), "the delay is gone: {q:?}");
    mnlink(&lab, &["set", "h1-eth0"]);
    let out = mnlink(&lab, &["list"]);
    out.check(out.stdout.contains("h1-eth0: -; h2-eth0: delay=10ms"), "h1's end cleared");
    let q = qdiscs(&lab, "h1", "h1-eth0");
    assert!(q.iter().all(|q| q["kind"] == "noqueue"), "no shaping left in the kernel: {q:?}");
}

#[test]
fn list_and_json_show_what_the_kernel_holds() {
    let Some(_turn) = netem_turn("list_and_json_show_what_the_kernel_holds") else { return };
    let lab = pair(&[
        "--delay",
        "20ms",
        "--jitter",
        "5ms",
        "--delay-distribution",
        "pareto",
        "--loss",
        "10%",
        "--reorder",
        "25",
        "--duplicate",
        "2",
        "--corrupt",
        "3",
        "--rate",
        "5",
        "--max-queue-size",
        "77",
    ]);
    let q = qdiscs(&lab, "h1", "h1-eth0");
    assert_eq!(q.len(), 1, "{q:?}");
    let o = &q[0]["options"];
    assert_eq!(q[0]["kind"], "netem");
    assert_eq!(o["limit"], 77);
    assert_eq!((o["delay"]["delay"].as_f64(), o["delay"]["jitter"].as_f64()), (Some(0.02), Some(0.005)));
    assert_eq!(o["loss-random"]["loss"].as_f64(), Some(0.1));
    assert_eq!(o["reorder"]["reorder"].as_f64(), Some(0.25));
    assert_eq!(o["duplicate"]["duplicate"].as_f64(), Some(0.02));
    assert_eq!(o["corrupt"]["corrupt"].as_f64(), Some(0.03));
    assert_eq!(o["rate"]["rate"].as_u64(), Some(5_000_000 / 8), "bytes per second");
    let shown = "delay=20ms jitter=5ms loss=10% reorder=25% duplicate=2% corrupt=3% rate=5Mbit queue=77";
    let out = mnlink(&lab, &["list"]);
    out.check(
        out.stdout.lines().any(|l| l.contains(" up ") && l.ends_with(shown)),
        "list: the same on both ends",
    );
    let out = mnlink(&lab, &["list", "--json"]);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
    assert_eq!(json[0]["a"]["shaping"], shown);
    assert_eq!(json[0]["b"]["shaping"], shown);
}

#[test]
fn reorder_sends_some_packets_ahead() {
    let Some(_turn) = netem_turn("reorder_sends_some_packets_ahead") else { return };
    // h1's end delays 50 ms but sends half the packets at once: about half
    // the RTTs are short. Of 200, the short ones number 100 ± 7 (binomial);
    // 60..140 is over 5 deviations each side.
    let lab = pair(&["--delay", "50ms", "--reorder", "50%"]);
    mnlink(&lab, &["set", "h2-eth0"]);
    let pings = ping(&lab, 200, "0.01");
    let early = pings.below(25.0);
    eprintln!("reorder: {early} of {} replies skipped the 50 ms delay", pings.rtts.len());
    assert_eq!(pings.loss(), 0, "{pings:?}");
    assert!((60..=140).contains(&early), "about half skip the delay: {early}");
}

#[test]
fn duplicate_shows_as_ping_duplicates() {
    let Some(_turn) = netem_turn("duplicate_shows_as_ping_duplicates") else { return };
    // Half of h1's requests are sent twice, each copy answered: 100 ± 7
    // duplicates of 200; 60..140 is over 5 deviations each side.
    let lab = pair(&["--duplicate", "50"]);
    mnlink(&lab, &["set", "h2-eth0"]);
    let pings = ping(&lab, 200, "0.01");
    eprintln!("--duplicate 50: {} duplicates of {}", pings.duplicates, pings.sent);
    assert_eq!(pings.loss(), 0, "{pings:?}");
    assert!((60..=140).contains(&pings.duplicates), "about 100 duplicates: {}", pings.duplicates);
}

#[test]
fn corrupt_packets_fail_their_checksums() {
    let Some(_turn) = netem_turn("corrupt_packets_fail_their_checksums") else { return };
    // A flipped bit in a ping's IP header, ICMP header or payload fails a
    // checksum and the packet is dropped; in the Ethernet source address
    // (6 of 98 bytes) it goes unnoticed. 30 % corrupt: about 28 % lost,
    // 84 ± 8 of 300; 40..130 is over 5 deviations each side.
    let lab = pair(&["--corrupt", "30"]);
    mnlink(&lab, &["set", "h2-eth0"]);
    let pings = ping(&lab, 300, "0.01");
    eprintln!("--corrupt 30: {} of {} lost", pings.loss(), pings.sent);
    assert!((40..=130).contains(&pings.loss()), "corrupt packets dropped: {}", pings.loss());
}

#[test]
fn rate_limits_like_a_slow_link() {
    let Some(_turn) = netem_turn("rate_limits_like_a_slow_link") else { return };
    let lab = pair(&["--rate", "5"]);
    let q = qdiscs(&lab, "h1", "h1-eth0");
    assert_eq!((q.len(), q[0]["kind"].as_str()), (1, Some("netem")), "netem alone, no tbf: {q:?}");
    let mbits = mbits_within(&lab, "--rate 5", 4.5..=5.5);
    assert!((4.5..=5.5).contains(&mbits), "5 Mbit/s within 10 %: {mbits:.2}");
    // Serialization delay: a 1000-byte ping waits 1042·8 bits / 5 Mbit/s
    // ≈ 1.7 ms on each end, a 56-byte one 0.16 ms.
    let out = lab.cmd("mnrun").args(["h1", "ping -n -c 10 -i 0.05 -s 1000 10.0.0.2"]).ok();
    out.check(out.stdout.contains("10 received"), "large pings pass");
}

#[test]
fn delay_distribution_normal_spreads_beyond_the_jitter() {
    let Some(_turn) = netem_turn("delay_distribution_normal_spreads_beyond_the_jitter") else { return };
    // netem's default jitter is uniform within delay ± jitter, so no RTT
    // is below delay - jitter (80 ms here; a slow guest only adds). Normal
    // has jitter as its deviation: about 16 % fall below, 32 ± 5 of 200;
    // at least 8 is over 4 deviations away.
    let uniform = pair(&["--delay", "100ms", "--jitter", "20ms"]);
    mnlink(&uniform, &["set", "h2-eth0"]);
    let uniform = ping(&uniform, 200, "0.01");
    let normal = pair(&["--delay", "100ms", "--jitter", "20ms", "--delay-distribution", "normal"]);
    mnlink(&normal, &["set", "h2-eth0"]);
    let normal = ping(&normal, 200, "0.01");
    let (u, n) = (uniform.below(79.9), normal.below(79.9));
    eprintln!("below delay - jitter: {u} of 200 uniform, {n} of 200 normal");
    assert_eq!(u, 0, "{uniform:?}");
    assert!(n >= 8, "normal has tails beyond the jitter: {n} of 200");
    for name in ["pareto", "paretonormal"] {
        let lab = pair(&["--delay", "10ms", "--jitter", "2ms", "--delay-distribution", name]);
        let q = qdiscs(&lab, "h1", "h1-eth0");
        let o = &q[0]["options"];
        assert_eq!((o["delay"]["delay"].as_f64(), o["delay"]["jitter"].as_f64()), (Some(0.01), Some(0.002)));
    }
}
