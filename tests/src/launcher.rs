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

/// scripts/mn run from `dir` (where it finds the topology files named).
pub fn mn_in(lab: &Lab, dir: &std::path::Path) -> Cmd {
    let mut cmd = mn(lab);
    cmd.command().current_dir(dir);
    cmd
}

/// Nothing was made: no lab contents, no ip netns entries.
pub fn nothing_made(lab: &Lab) {
    let entries = std::fs::read_dir(&lab.dir).map(|d| d.count()).unwrap_or(0);
    assert_eq!(entries, 0, "nothing in {}", lab.dir.display());
    assert!(netns_entries(lab).is_empty(), "ip netns entries: {:?}", netns_entries(lab));
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
