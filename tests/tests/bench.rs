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
    for workload in
        ["linear,3 up", "tree,2,2 down", "mnrun h1 true, median", "iperf3 h1→s1→h2", "memory (RSS) per host"]
    {
        run.check(rows.iter().any(|r| r.contains(workload)), workload);
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).expect("results.json"))
            .expect("json");
    let measured =
        json["rows"].as_array().expect("rows").iter().filter(|r| r["ours"]["median"].is_number()).count();
    assert!(measured >= 10, "every workload of ours measured");
    assert!(std::fs::read_to_string(out.join("results.csv")).expect("csv").lines().count() > 10);
    let _ = std::fs::remove_dir_all(&out);
}
