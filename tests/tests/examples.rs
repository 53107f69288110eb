//! The Makefile-driven bufferbloat experiment, shortened: it must build,
//! measure, plot, tear down, and show RTT growing with the queue.
use mn_tests::{Cmd, bin_dir, netns_with_prefix, repo};

/// The median RTT the experiment reports for one queue size.
fn reported_median(stdout: &str, queue: u32) -> f64 {
    let label = format!("rtt-q{queue}.csv: median RTT ");
    stdout
        .lines()
        .find_map(|l| l.split_once(&label)?.1.strip_suffix(" ms")?.parse().ok())
        .unwrap_or_else(|| panic!("no median RTT for queue {queue} in:\n{stdout}"))
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
