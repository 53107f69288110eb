//! mnnode restart: a new shell in the node's namespaces, its jobs, links
//! and addresses kept; a dead node refused.
use mn_tests::{Lab, alive, eventually, netns_entry, ns_inode};
use std::os::unix::fs::MetadataExt;
use std::time::Duration;

#[test]
fn restart_keeps_the_namespace_links_and_addresses() {
    let lab = Lab::new();
    lab.cmd("mnnode").args(["add", "h1", "h2"]).ok();
    lab.cmd("mnlink").args(["add", "h1-eth0", "h2-eth0"]).ok();
    lab.cmd("mnlink").args(["addr", "h1-eth0", "10.0.0.1/24"]).ok();
    lab.cmd("mnlink").args(["addr", "h2-eth0", "10.0.0.2/24"]).ok();
    let old = lab.node_pid("h1");
    let netns = ns_inode(old, "net");
    let job: i32 =
        lab.cmd("mnrun").args(["h1", "sleep 300 &"]).ok().stdout.trim().parse().expect("the job's pid");
    // A shell that no longer runs commands.
    lab.cmd("mnrun").args(["h1", "KEPT=1; eval() { :; }"]).ok();
    lab.cmd("mnrun").args(["h1", "echo ok"]).code(255);

    lab.cmd("mnnode").args(["restart", "h1"]).ok();
    let new = lab.node_pid("h1");
    assert_ne!(new, old, "a new shell");
    assert!(eventually(Duration::from_secs(5), || !alive(old)), "the old one ended");
    assert!(alive(job), "its job kept running");
    assert_eq!(ns_inode(new, "net"), netns, "in the same network namespace");
    assert_eq!(ns_inode(new, "mnt"), ns_inode(job, "mnt"), "and mount namespace");
    let entry = std::fs::metadata(netns_entry(&lab, "h1")).expect("ip netns entry");
    assert_eq!(Some(entry.ino()), netns, "ip netns still names it");
    let out = lab
        .cmd("mnrun")
        .args(["h1", "echo \"[${KEPT-}]\"; ping -c1 -W2 10.0.0.2 >/dev/null && echo up"])
        .ok();
    assert_eq!(out.stdout, "[]\nup\n", "a fresh state, the link and addresses as they were");
    let out = lab.cmd("mnnode").arg("list").ok();
    out.check(out.stdout.contains(&format!(" {new} ")) && !out.stdout.contains("broken"), "listed");
}

#[test]
fn restart_of_a_dead_node_is_refused() {
    let lab = Lab::new();
    lab.cmd("mnnode").args(["add", "h1"]).ok();
    let pid = lab.node_pid("h1");
    // SAFETY: killing the shell of this test's node.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    assert!(eventually(Duration::from_secs(5), || !alive(pid)));
    let out = lab.cmd("mnnode").args(["restart", "h1"]).run();
    mn_tests::assert_error(
        &out,
        "mnnode: node h1 is not running (its shell is dead); remove it with mnnode del h1 and add it again",
    );
}
