//! `mnnode list --porcelain` and `mnlink list --porcelain`: the formats
//! scripts (scripts/mn among them) read: a line per item, tab-separated,
//! no header, the documented columns.
use mn_tests::{Lab, lab_with, mnlink};

#[test]
fn mnnode_list_porcelain_has_the_documented_columns() {
    let lab = lab_with(&["h1"], &["s1"]);
    let out = lab.cmd("mnnode").args(["list", "--porcelain"]).ok();
    let (h1, s1) = (lab.node_pid("h1"), lab.node_pid("s1"));
    let name = lab.name();
    assert_eq!(
        out.stdout,
        format!("h1\thost\t{h1}\trunning\t{name}-h1\ns1\tswitch\t{s1}\trunning\t{name}-s1\n")
    );
    let out = lab.cmd("mnnode").args(["list", "--porcelain", "--json"]).code(2);
    out.check(out.stderr.contains("'--porcelain' cannot be used with '--json'"), "one format at a time");
}

#[test]
fn porcelain_lists_of_no_lab_are_empty() {
    let lab = Lab::new();
    assert_eq!(lab.cmd("mnnode").args(["list", "--porcelain"]).ok().stdout, "");
    assert_eq!(lab.cmd("mnlink").args(["list", "--porcelain"]).ok().stdout, "");
}

#[test]
fn mnlink_list_porcelain_has_the_documented_columns() {
    let lab = lab_with(&["h1", "h2"], &["s1"]);
    mnlink(&lab, &["add", "h1-eth0", "s1-eth1"]);
    mnlink(&lab, &["add", "h2-eth0", "s1-eth2", "--bw", "10"]);
    mnlink(&lab, &["add", "h1:uplink", "h2:bar"]);
    mnlink(&lab, &["down", "h1:uplink"]);
    let out = mnlink(&lab, &["list", "--porcelain"]);
    assert_eq!(
        out.stdout,
        "h1\th1-eth0\ts1\ts1-eth1\tup\t1500\t-\t-\n\
         h1\tuplink\th2\tbar\tdown\t1500\t-\t-\n\
         h2\th2-eth0\ts1\ts1-eth2\tup\t1500\tbw=10Mbit queue=1000\tbw=10Mbit queue=1000\n"
    );
    // One node's links, with its peers' side.
    let out = mnlink(&lab, &["list", "--porcelain", "s1"]);
    let rows: Vec<Vec<&str>> = out.stdout.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(rows.len(), 2, "{}", out.stdout);
    assert!(rows.iter().all(|r| r.len() == 8 && r[2] == "s1"), "{}", out.stdout);
}
