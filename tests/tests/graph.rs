//! mnlink graph: the running lab as JSON, DOT, Mermaid and a topology
//! file, read from the kernel; PNG through Graphviz. The renderer at
//! tree,3,10's size (1,111 nodes) is a unit test in mnlink/src/graph.rs.
use mn_tests::{Cmd, Lab, assert_error, bin_dir, lab_with, mnlink, unique};

/// h1 and h2 on s1, h1's link shaped (a token bucket: no netem needed).
fn small_lab() -> (Lab, String, String, String) {
    let (h1, h2, s1) = (unique("h"), unique("h"), unique("s"));
    let lab = lab_with(&[&h1, &h2], &[&s1]);
    mnlink(&lab, &["add", &format!("{h1}-eth0"), &format!("{s1}-eth1"), "--bw", "10"]);
    mnlink(&lab, &["add", &format!("{h2}-eth0"), &format!("{s1}-eth2")]);
    mnlink(&lab, &["addr", &format!("{h1}-eth0"), "10.0.0.1/8"]);
    mnlink(&lab, &["addr", &format!("{h2}-eth0"), "10.0.0.2/8"]);
    mnlink(&lab, &["addr", &format!("{h2}-eth0"), "fc00::2/64"]);
    mnlink(&lab, &["mac", &format!("{h1}-eth0"), "00:00:00:00:00:01"]);
    (lab, h1, h2, s1)
}

#[test]
fn json_has_both_ends_addresses_macs_and_shaping() {
    let (lab, h1, h2, s1) = small_lab();
    let out = mnlink(&lab, &["graph", "--format", "json"]);
    let g: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
    let nodes = g["nodes"].as_array().expect("nodes");
    let kind = |n: &str| nodes.iter().find(|x| x["name"] == n).map(|x| x["kind"].clone());
    assert_eq!(kind(&h1), Some("host".into()));
    assert_eq!(kind(&s1), Some("switch".into()));
    let level = |n: &str| nodes.iter().find(|x| x["name"] == n).map(|x| x["level"].clone());
    assert_eq!(level(&s1), Some(1.into()));
    let links = g["links"].as_array().expect("links");
    assert_eq!(links.len(), 2, "{links:#?}");
    let l1 = &links[0];
    assert_eq!(l1["a"]["interface"], format!("{h1}-eth0"));
    assert_eq!(l1["b"]["interface"], format!("{s1}-eth1"));
    assert_eq!(l1["a"]["addresses"], serde_json::json!(["10.0.0.1/8"]));
    assert_eq!(l1["a"]["mac"], "00:00:00:00:00:01");
    assert_eq!(l1["a"]["shaping"], "bw=10Mbit queue=1000");
    assert_eq!(l1["b"]["shaping"], "bw=10Mbit queue=1000");
    assert_eq!(l1["a"]["shaping_values"]["bw_bits"], 10_000_000);
    assert_eq!(l1["state"], "up");
    let l2 = &links[1];
    assert_eq!(l2["a"]["node"], h2.as_str());
    assert_eq!(l2["a"]["addresses"], serde_json::json!(["10.0.0.2/8", "fc00::2/64"]));
    assert_eq!(l2["b"]["addresses"], serde_json::json!([]));
}

#[test]
fn dot_mermaid_and_topology_name_every_end() {
    let (lab, h1, h2, s1) = small_lab();
    let dot = mnlink(&lab, &["graph"]).stdout;
    assert!(dot.starts_with("graph lab {\n") && dot.ends_with("}\n"), "{dot}");
    assert!(dot.contains("subgraph cluster_level1 {"), "{dot}");
    assert!(
        dot.contains(&format!(
            "\"{s1}\":\"p_{s1}-eth1\":s -- \"{h1}\":\"p_{h1}-eth0\":n [label=\"bw=10Mbit queue=1000\""
        )),
        "{dot}"
    );
    assert!(dot.contains(&format!(">{h2}-eth0<BR/>10.0.0.2/8<BR/>fc00::2/64</TD>")), "{dot}");
    let mermaid = mnlink(&lab, &["graph", "--format", "mermaid"]).stdout;
    assert!(mermaid.starts_with("flowchart TB\n"), "{mermaid}");
    assert!(
        mermaid.contains(&format!("  n_{s1} ---|\"{s1}-eth2 — {h2}-eth0 10.0.0.2/8 fc00::2/64\"| n_{h2}\n")),
        "{mermaid}"
    );
    let topo = mnlink(&lab, &["graph", "--format", "topo"]).stdout;
    assert!(topo.contains(&format!("\nhost {h1} ip=10.0.0.1/8\n")), "{topo}");
    assert!(topo.contains(&format!("\nswitch {s1}\n")), "{topo}");
    let want = format!("\nlink {h1} {s1} intf1={h1}-eth0 intf2={s1}-eth1 mac1=00:00:00:00:00:01 mac2=");
    assert!(topo.contains(&want), "{topo}");
    assert!(topo.contains(" bw=10 queue=1000\n"), "{topo}");
    assert!(topo.contains(" ip1=fc00::2/64 mac2="), "h2's other address on its link: {topo}");
}

#[test]
fn png_through_graphviz_and_a_clear_line_without_it() {
    let (lab, ..) = small_lab();
    let png = lab.parent().join("lab.png");
    if Cmd::new("sh").args(["-c", "command -v dot"]).run().status.success() {
        mnlink(&lab, &["graph", "--png", png.to_str().expect("utf-8")]);
        let bytes = std::fs::read(&png).expect("a PNG");
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    } else {
        mn_tests::skip("png_through_graphviz", "dot (graphviz) is not installed");
    }
    // Only the tools on PATH: no dot.
    let svg = lab.parent().join("x.svg");
    let out = lab.cmd("mnlink").args(["graph", "--svg"]).arg(&svg).env("PATH", bin_dir()).run();
    assert_error(&out, &format!("mnlink: --svg {}: dot not found (Debian package: graphviz)", svg.display()));
    assert!(!svg.exists());
}

#[test]
fn an_empty_lab_is_an_empty_graph() {
    let lab = Lab::new();
    let out = lab.cmd("mnlink").args(["graph", "--format", "json"]).ok();
    assert_eq!(out.stdout, "{\"links\":[],\"nodes\":[]}\n");
}
