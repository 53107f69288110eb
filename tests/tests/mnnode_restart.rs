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

/// A restart whose record cannot be written (a full file system) kills
/// the shell it made: no process is left that no record leads to, the
/// error says what to do, and a restart once there is room works.
#[test]
fn a_restart_that_cannot_record_its_shell_leaves_none() {
    let lab = Lab::new();
    let small = lab.parent().join("small");
    std::fs::create_dir(&small).expect("mkdir");
    let h = mn_tests::unique("h");
    let script = r#"
        set -e
        mount -t tmpfs -o size=64k,mode=700 tmpfs "$SMALL"
        export MN_DIR="$SMALL/lab"
        trap 'mnnode clean >/dev/null; umount "$SMALL"' EXIT
        mnnode add "$H"
        old=$(mnnode pid "$H")
        dd if=/dev/zero of="$SMALL/fill" bs=4k 2>/dev/null || true
        mnnode restart "$H" 2>&1 && echo "restarted, with a full file system"
        echo "old shell alive: $(kill -0 "$old" && echo yes)"
        echo "processes in the node: $(ip netns pids "lab-$H" | wc -l)"
        rm "$SMALL/fill"
        mnnode restart "$H"
        [ "$(mnnode pid "$H")" != "$old" ] && echo "a new shell"
        mnrun "$H" 'echo it answers'
        echo "processes in the node: $(ip netns pids "lab-$H" | wc -l)"
    "#;
    let out = lab.cmd("bash").args(["-c", script]).env("SMALL", &small).env("H", &h).ok();
    let expected = format!(
        "mnnode: {h}: record the new shell (restart it again): {}/lab/{h}/node.new: No space left on device\n\
         old shell alive: yes\nprocesses in the node: 1\na new shell\nit answers\nprocesses in the node: 1\n",
        small.display()
    );
    out.check(out.stdout == expected, &format!("this story:\n{expected}"));
}
