//! The benchmark runs end to end on tiny topologies, so it cannot rot.
//! (It measures; nothing here asserts a time.)
use mn_tests::{Cmd, bin_dir, repo, unique};

#[test]
fn bench_smoke_run() {
    mn_tests::require_root();
    let out = std::env::temp_dir().join(unique("benchsmoke"));
    let run = Cmd::new(repo().join("scripts/bench/run"))
        .arg("--smoke")
        .arg("--out")
        .arg(&out)
        .env("MN_BIN", bin_dir())
        .ok();
    let rows: Vec<&str> =
        run.stdout.lines().filter(|l| l.starts_with("| ") && !l.starts_with("| workload")).collect();
    run.check(rows.len() >= 10, "a row per workload");
    for workload in [
        "linear,3 up",
        "tree,2,2 down",
        "mnrun h1 true, median",
        "iperf3 h1→s1→h2",
        "memory (RSS) per host",
        "linear,3 down, until the kernel finished",
        "linear,3 cycle (--test build, 2 back to back)",
        "linear,3 cycle (--test pingall, 2 back to back)",
        "tree,2,2 cycle (--test build): the kernel's teardown",
        "tree,2,2 memory: PSS of every node + kernel slab growth",
        "tree,2,2: h1 pings every 100th host, answered",
    ] {
        run.check(rows.iter().any(|r| r.contains(workload)), workload);
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).expect("results.json"))
            .expect("json");
    let measured =
        json["rows"].as_array().expect("rows").iter().filter(|r| r["ours"]["median"].is_number()).count();
    assert!(measured >= 10, "every workload of ours measured");
    let cycles = json["cycles"]["linear,3 build"].as_array().expect("the cycles, one by one");
    assert_eq!(cycles.len(), 2, "two cycles back to back");
    assert!(cycles.iter().all(|c| c["kernel"].is_number() && c["cycle"].is_number()));
    let huge = &json["huge"][0];
    assert_eq!(huge["pings"], huge["pinged"], "h1 reached every host it pinged");
    assert!(std::fs::read_to_string(out.join("results.csv")).expect("csv").lines().count() > 10);
    let _ = std::fs::remove_dir_all(&out);
}
