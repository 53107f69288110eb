//! Helpers for the tests of scripts/mn, the launcher: running it in a lab
//! with the built tools, topology files, and checking it left nothing.
use crate::{Cmd, Lab, bin_dir, netns_entries, repo};

/// scripts/mn run in the lab, with the workspace's tools (MN_BIN) and a
/// history file of the lab's own.
pub fn mn(lab: &Lab) -> Cmd {
    lab.cmd(repo().join("scripts/mn"))
        .env("MN_BIN", bin_dir())
        .env("MN_HISTORY", lab.dir.with_file_name("history"))
}

/// Nothing of the lab is left: no nodes, no ip netns entries.
pub fn nothing_left(lab: &Lab) {
    let out = lab.cmd("mnnode").arg("list").ok();
    out.check(out.stdout.lines().count() == 1, "no nodes left");
    assert!(netns_entries(lab).is_empty(), "ip netns entries left: {:?}", netns_entries(lab));
}

/// A directory of topology files beside the lab; mn runs in it, so that
/// messages name the files as the user typed them.
pub fn topologies(lab: &Lab, files: &[(&str, &str)]) -> std::path::PathBuf {
    let dir = lab.dir.with_file_name("topos");
    std::fs::create_dir_all(&dir).expect("topology dir");
    for (name, text) in files {
        std::fs::write(dir.join(name), text).expect("write topology");
    }
    dir
}
