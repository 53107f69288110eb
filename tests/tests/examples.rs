//! The Makefile-driven experiments, shortened: each must build, measure,
//! plot, tear down, and show its effect (bufferbloat: RTT growing with the
//! queue; RTT fairness, where netem exists: the shorter RTT's larger share).
use mn_tests::{Cmd, bin_dir, netns_with_prefix, repo};

/// The median RTT the experiment reports for one queue size.
fn reported_median(stdout: &str, queue: u32) -> f64 {
    let label = format!("rtt-q{queue}.csv: median RTT ");
    stdout
        .lines()
        .find_map(|l| l.split_once(&label)?.1.strip_suffix(" ms")?.parse().ok())
        .unwrap_or_else(|| panic!("no median RTT for queue {queue} in:\n{stdout}"))
}

/// Runs `make TARGET` in an example's directory, its results in `out`, the
/// tools from this build, and `vars` on top; asserts success.
fn make(out: &std::path::Path, example: &str, target: &str, vars: &[&str]) -> mn_tests::Output {
    Cmd::new("make")
        .arg("-C")
        .arg(repo().join("scripts/examples").join(example))
        .arg(target)
        .arg(format!("OUT={}", out.display()))
        .arg(format!("BIN={}", bin_dir().display()))
        .args(vars)
        .ok()
}

#[test]
fn bufferbloat_shows_rtt_growing_with_the_queue() {
    mn_tests::require_root();
    let out = std::env::temp_dir().join(mn_tests::unique("bufferbloat"));
    let make = |target: &str| make(&out, "bufferbloat", target, &["QUEUES=10 200", "DURATION=5"]);
    let run = make("all");
    let (small, large) = (reported_median(&run.stdout, 10), reported_median(&run.stdout, 200));
    run.check(
        large > 3.0 * small && large > 20.0,
        &format!("RTT grows with the queue: {small} ms vs {large} ms"),
    );
    let png = std::fs::read(out.join("rtt.png")).expect("a plot");
    assert!(png.starts_with(b"\x89PNG"), "rtt.png is a PNG");
    let left = netns_with_prefix("bufferbloat-");
    assert!(left.is_empty(), "the runs tore down: {left:?}");
    make("clean");
    assert!(!out.exists(), "make clean removes the results");
}

/// A flow's measured throughput as the RTT-fairness summary prints it.
fn reported_mbits(stdout: &str, rtt: u32) -> f64 {
    let label = format!("flow-rtt{rtt}.json: ");
    stdout
        .lines()
        .find_map(|l| l.split_once(&label)?.1.split_once(" Mbit/s measured")?.0.parse().ok())
        .unwrap_or_else(|| panic!("no throughput for the {rtt} ms flow in:\n{stdout}"))
}

#[test]
fn rtt_fairness_favours_the_shorter_rtt() {
    mn_tests::require_root();
    if !mn_tests::require("rtt_fairness_favours_the_shorter_rtt", mn_tests::Feature::Netem) {
        return;
    }
    let out = std::env::temp_dir().join(mn_tests::unique("rtt-fairness"));
    let make = |target: &str| make(&out, "rtt-fairness", target, &["DURATION=10"]);
    let run = make("all");
    let (short, long) = (reported_mbits(&run.stdout, 10), reported_mbits(&run.stdout, 80));
    eprintln!("rtt-fairness: {short} Mbit/s at 10 ms, {long} Mbit/s at 80 ms");
    // Reno over a shared drop-tail queue: Mathis predicts a share inverse
    // to the RTT. Bounds loose for a short run: the 10 ms flow gets clearly
    // more, and the two together never more than the bottleneck.
    run.check(short > 1.5 * long, "the shorter RTT takes more");
    run.check(short + long <= 10.5, "both fit in the 10 Mbit/s bottleneck");
    let csv = std::fs::read_to_string(out.join("throughput.csv")).expect("a CSV");
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("seconds,10 ms,80 ms"));
    let rows: Vec<Vec<f64>> =
        lines.map(|l| l.split(',').map(|x| x.parse().expect("a number")).collect()).collect();
    assert!(rows.len() >= 15 && rows.iter().all(|r| r.len() == 3), "a row per half second: {csv}");
    let png = std::fs::read(out.join("throughput.png")).expect("a plot");
    assert!(png.starts_with(b"\x89PNG"), "throughput.png is a PNG");
    let left = netns_with_prefix("rtt-fairness-");
    assert!(left.is_empty(), "the run tore down: {left:?}");
    make("clean");
    assert!(!out.exists(), "make clean removes the results");
}
