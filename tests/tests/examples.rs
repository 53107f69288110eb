//! The Makefile-driven bufferbloat experiment, shortened: it must build,
//! measure, plot, tear down, and show RTT growing with the queue.
use mn_tests::{Cmd, bin_dir, repo};

fn median(csv: &str) -> f64 {
    // Samples once the flow has had a second to fill the queue.
    let mut rtts: Vec<f64> = csv
        .lines()
        .filter_map(|l| l.split_once(','))
        .filter(|(t, _)| t.parse::<f64>().is_ok_and(|t| t >= 1.0))
        .filter_map(|(_, rtt)| rtt.parse().ok())
        .collect();
    rtts.sort_by(f64::total_cmp);
    assert!(!rtts.is_empty(), "no samples in:\n{csv}");
    rtts[rtts.len() / 2]
}

#[test]
fn bufferbloat_shows_rtt_growing_with_the_queue() {
    mn_tests::require_root();
    let out = std::env::temp_dir().join(mn_tests::unique("bufferbloat"));
    let example = repo().join("scripts/examples/bufferbloat");
    let make = |target: &str| {
        Cmd::new("make")
            .arg("-C")
            .arg(&example)
            .arg(target)
            .arg(format!("OUT={}", out.display()))
            .arg(format!("BIN={}", bin_dir().display()))
            .args(["QUEUES=10 200", "DURATION=5"])
            .ok()
    };
    let run = make("all");
    let small = median(&std::fs::read_to_string(out.join("rtt-q10.csv")).expect("q10 csv"));
    let large = median(&std::fs::read_to_string(out.join("rtt-q200.csv")).expect("q200 csv"));
    run.check(
        large > 3.0 * small && large > 20.0,
        &format!("RTT grows with the queue: {small} ms vs {large} ms"),
    );
    let png = std::fs::read(out.join("rtt.png")).expect("a plot");
    assert!(png.starts_with(b"\x89PNG"), "rtt.png is a PNG");
    assert!(netns_entries_left().is_empty(), "the runs tore down: {:?}", netns_entries_left());
    make("clean");
    assert!(!out.exists(), "make clean removes the results");
}

/// `ip netns` entries of the experiment's labs.
fn netns_entries_left() -> Vec<String> {
    std::fs::read_dir("/run/netns")
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| n.starts_with("bufferbloat-"))
                .collect()
        })
        .unwrap_or_default()
}
