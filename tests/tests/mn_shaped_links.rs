//! scripts/mn builds shaped links end to end: `--link tc,delay=...` on a
//! built-in topology and per-link options in a topology file reach the
//! kernel, as `mnlink list --json` reads them back. Needs sch_netem: gated,
//! run in the VM leg.
use mn_tests::{Feature, Lab, listed, mn, nothing_left, qdiscs, require, topologies};

/// Whether an end's shaping, as listed, holds this exact delay.
fn has_delay(end: &serde_json::Value, delay: &str) -> bool {
    let shaping = end["shaping"].as_str().unwrap_or_default();
    shaping.split(' ').any(|word| word == format!("delay={delay}"))
}

/// The delay of the netem qdisc on a node's interface, in seconds, as the
/// kernel reports it (tc -j); None without a netem qdisc.
fn kernel_delay(lab: &Lab, node: &str, dev: &str) -> Option<f64> {
    let netem = qdiscs(lab, node, dev).into_iter().find(|q| q["kind"] == "netem")?;
    netem["options"]["delay"]["delay"].as_f64()
}

#[test]
fn mn_builds_shaped_links_end_to_end() {
    if !require("mn_builds_shaped_links_end_to_end", Feature::Netem) {
        return;
    }
    let lab = Lab::new();

    // --link: every link of a built-in topology, both ends.
    let out = mn(&lab)
        .args(["--topo", "linear,2", "--link", "tc,delay=10ms,loss=0", "--keep", "--test", "build"])
        .ok();
    out.check(out.stdout.contains("*** Leaving the network running (--keep)"), "a build, kept");
    let links = listed(&lab);
    assert_eq!(links.len(), 3, "h1-s1, h2-s2, s1-s2: {links:?}");
    for link in &links {
        assert_eq!(link["state"], "up", "{link}");
        assert!(has_delay(&link["a"], "10ms") && has_delay(&link["b"], "10ms"), "both ends delayed: {link}");
    }
    assert_eq!(kernel_delay(&lab, "h1", "h1-eth0"), Some(0.01), "the kernel's netem on h1-eth0");
    lab.cmd("mnnode").arg("clean").ok();
    nothing_left(&lab);

    // A topology file: the options of one link shape that link only.
    let topo = "host h1\nhost h2\nswitch s1\nlink h1 s1 delay=15ms\nlink h2 s1\n";
    let dir = topologies(&lab, &[("shaped.sh", topo)]);
    let out = mn(&lab).arg("--topo").arg(dir.join("shaped.sh")).args(["--keep", "--test", "build"]).ok();
    out.check(out.stdout.contains("*** Leaving the network running (--keep)"), "a build, kept");
    let links = listed(&lab);
    assert_eq!(links.len(), 2, "{links:?}");
    let of = |node: &str| {
        links
            .iter()
            .find(|l| l["a"]["node"] == node || l["b"]["node"] == node)
            .unwrap_or_else(|| panic!("a link of {node} in {links:?}"))
    };
    let (h1, h2) = (of("h1"), of("h2"));
    assert!(has_delay(&h1["a"], "15ms") && has_delay(&h1["b"], "15ms"), "h1's link delayed: {h1}");
    assert_eq!(
        (&h2["a"]["shaping"], &h2["b"]["shaping"]),
        (&"".into(), &"".into()),
        "h2's link not shaped: {h2}"
    );
    assert_eq!(kernel_delay(&lab, "h1", "h1-eth0"), Some(0.015), "the kernel's netem on h1-eth0");
    assert_eq!(kernel_delay(&lab, "h2", "h2-eth0"), None, "no netem on h2-eth0");
    lab.cmd("mnnode").arg("clean").ok();
    nothing_left(&lab);
}
