//! mnrun and the node's shell around the protocol itself: the FIFO it
//! writes to, the protocol version, a reborn shell's descriptors, and
//! output that jobs write after the call.
use mn_tests::{Lab, alive, assert_error, eventually};
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::time::Duration;

fn lab_h1() -> Lab {
    let lab = Lab::new();
    lab.cmd("mnnode").args(["add", "h1"]).ok();
    lab
}

#[test]
fn a_replaced_or_missing_fifo_is_refused_and_listed_broken() {
    let lab = lab_h1();
    let fifo = lab.dir.join("h1/fifo");
    for (make, why) in [
        (true, format!("{} is a regular file, not the node's FIFO", fifo.display())),
        (false, format!("{} is missing", fifo.display())),
    ] {
        std::fs::remove_file(&fifo).expect("remove the FIFO");
        if make {
            std::fs::write(&fifo, "").expect("a regular file in its place");
        }
        let out = lab.cmd("mnrun").args(["h1", "echo ok"]).run();
        assert_error(&out, &format!("mnrun: h1: {why}; restart it with mnnode restart h1"));
        if make {
            assert_eq!(std::fs::read(&fifo).expect("the file"), b"", "nothing written into it");
        }
        let out = lab.cmd("mnnode").arg("list").ok();
        out.check(out.stdout.lines().nth(1).is_some_and(|l| l.ends_with(" broken")), "h1 broken");
        out.check(out.stderr == format!("mnnode: h1: {why}; restart it with mnnode restart h1\n"), "why");
        lab.cmd("mnnode").args(["restart", "h1"]).ok();
        assert_eq!(lab.cmd("mnrun").args(["h1", "echo ok"]).ok().stdout, "ok\n");
    }
}

#[test]
fn a_record_of_another_protocol_is_refused() {
    let lab = lab_h1();
    let record = lab.dir.join("h1/node");
    let text = std::fs::read_to_string(&record).expect("record");
    std::fs::write(&record, text.replace("protocol=2\n", "protocol=1\n")).expect("write");
    let out = lab.cmd("mnrun").args(["h1", "true"]).run();
    assert_error(
        &out,
        "mnrun: node h1 was started by another version of mnnode (protocol 1, this one speaks 2); \
         remove it with mnnode del h1 and add it again",
    );
}

/// Sends a raw line to the shell through the FIFO it holds on fd 63.
fn say_to_shell(pid: i32, line: &str) {
    let mut fifo =
        std::fs::OpenOptions::new().write(true).open(format!("/proc/{pid}/fd/63")).expect("the shell's FIFO");
    fifo.write_all(line.as_bytes()).expect("write a line");
}

#[test]
fn a_reborn_shell_reopens_no_path() {
    let lab = lab_h1();
    let pid = lab.node_pid("h1");
    let fifo = lab.dir.join("h1/fifo");
    let ours = std::fs::metadata(&fifo).expect("fifo").ino();
    // Someone swaps the FIFO's path for another FIFO, then the shell ends.
    let other = lab.dir.join("h1/other");
    lab.cmd("mkfifo").arg(&other).ok();
    std::fs::rename(&other, &fifo).expect("swap");
    say_to_shell(pid, "\nbuiltin exit 0\n");
    let reads = || std::fs::metadata(format!("/proc/{pid}/fd/0")).map(|m| m.ino()).ok();
    assert!(eventually(Duration::from_secs(5), || {
        std::fs::read_to_string(format!("/proc/{pid}/environ")).is_ok_and(|e| e.contains("__MN_REBORN"))
    }));
    assert!(alive(pid), "reborn in the same process");
    assert_eq!(reads(), Some(ours), "on the FIFO it had, not the one at the path");
    let out = lab.cmd("mnrun").args(["h1", "true"]).run();
    assert_error(
        &out,
        &format!(
            "mnrun: h1: {} is not the FIFO the node's shell reads; restart it with mnnode restart h1",
            fifo.display()
        ),
    );
}

#[test]
fn a_shell_without_its_fifo_descriptor_dies_rather_than_open_a_path() {
    let lab = lab_h1();
    let pid = lab.node_pid("h1");
    // The last use of fd 63 before it closes, then an exit.
    say_to_shell(pid, "\nexec 63>&-; builtin exit 0\n");
    assert!(eventually(Duration::from_secs(5), || !alive(pid)), "the shell ended");
    assert_error(&lab.cmd("mnrun").args(["h1", "true"]).run(), "mnrun: node h1 is not running");
}

#[test]
fn late_output_of_background_jobs_reaches_files_and_pipes_alike() {
    let lab = lab_h1();
    let file = lab.dir.join("late-out");
    let command = "(sleep 0.3; echo late) & echo now";
    lab.cmd("bash").args(["-c", &format!("mnrun h1 '{command}' >{} 2>/dev/null", file.display())]).ok();
    assert!(
        eventually(Duration::from_secs(10), || std::fs::read_to_string(&file)
            .is_ok_and(|t| t == "now\nlate\n")),
        "a file gets the late line: {:?}",
        std::fs::read_to_string(&file)
    );
    let out = lab.cmd("bash").args(["-c", &format!("mnrun h1 '{command}' 2>/dev/null | cat")]).ok();
    assert_eq!(out.stdout, "now\nlate\n", "a pipe gets it too");
}

#[test]
fn background_jobs_go_to_the_log() {
    let lab = lab_h1();
    let out =
        lab.cmd("mnrun").args(["h1", "{ head -c 10000000 /dev/zero | tr '\\0' x; echo bg-done; } &"]).ok();
    let pid: i32 = out.stdout.trim().parse().expect("a pid, bare digits");
    assert!(out.stdout.ends_with('\n') && out.stderr.is_empty());
    // Later calls see only their own output, while the job writes.
    for i in 0..5 {
        assert_eq!(lab.cmd("mnrun").args(["h1", &format!("echo {i}")]).ok().stdout, format!("{i}\n"));
    }
    let log = lab.dir.join("h1/log");
    assert!(eventually(Duration::from_secs(60), || !alive(pid)), "the job ends");
    let text = std::fs::read(&log).expect("log");
    let xs = text.iter().filter(|&&b| b == b'x').count();
    let done = text.windows(8).any(|w| w == b"bg-done\n");
    assert!(xs == 10_000_000 && done, "the job's output is in the log: {xs} bytes, done: {done}");
    // A background job survives a later interrupt.
    let out = lab.cmd("mnrun").args(["h1", "sleep 100 &"]).ok();
    let job: i32 = out.stdout.trim().parse().expect("pid");
    lab.cmd("mnrun").args(["-t", "0.2", "h1", "sleep 50"]).code(124);
    assert!(alive(job), "the background job was not interrupted");
}

#[test]
fn a_call_whose_shell_is_restarted_says_so() {
    let lab = lab_h1();
    let started = lab.cmd("mnrun").args(["h1", "sleep 30"]).start();
    let shell = lab.node_pid("h1");
    assert!(eventually(Duration::from_secs(5), || mnnode::procfs::children(shell)
        .is_some_and(|c| c.iter().any(|&p| mn_tests::command_name(p).is_some_and(|n| n == "sleep")))));
    // A call queued behind it runs in the new shell.
    let queued = lab.cmd("mnrun").args(["h1", "echo queued"]).start();
    lab.cmd("mnnode").args(["restart", "h1"]).ok();
    assert_error(
        &started.finish(),
        "mnrun: h1: the node's shell was replaced (mnnode restart) while running the command",
    );
    let out = queued.finish();
    out.check(out.code() == Some(0) && out.stdout == "queued\n", "the queued call ran");
    assert_eq!(lab.cmd("mnrun").args(["h1", "echo ok"]).ok().stdout, "ok\n");
}

#[test]
fn settling_a_killed_calls_command_spares_what_older_jobs_start_later() {
    let lab = lab_h1();
    // An older job that keeps starting children which heed SIGINT, and
    // notes how each ended (2: killed by SIGINT).
    let log = lab.parent().join("job-log");
    let job = format!(
        "perl -e '$SIG{{INT}} = q(DEFAULT); while (1) {{ my $r = system(q(sleep 0.05)); \
         open(my $f, q(>>), q({})); print $f qq($r\\n); close $f }}' &",
        log.display()
    );
    let job: i32 = lab.cmd("mnrun").args(["h1", &job]).ok().stdout.trim().parse().expect("pid");
    let shell = lab.node_pid("h1");
    let call = lab.cmd("mnrun").args(["h1", "sleep 100"]).start();
    assert!(eventually(Duration::from_secs(5), || mnnode::procfs::children(shell)
        .is_some_and(|c| c.iter().any(|&p| mn_tests::command_name(p).is_some_and(|n| n == "sleep")))));
    call.signal(libc::SIGKILL);
    call.finish();
    // The next call stops the left command: sleep 100, and nothing of the job.
    assert_eq!(lab.cmd("mnrun").args(["h1", "echo next"]).ok().stdout, "next\n");
    assert!(alive(job), "the older job lives");
    let ends = std::fs::read_to_string(&log).expect("the job's log");
    assert!(ends.lines().count() > 1 && ends.lines().all(|l| l == "0"), "the job's children: {ends:?}");
}

/// The pty a shell holds on fd 255, by its index (fdinfo's tty-index).
fn pty_index(pid: i32) -> Option<String> {
    let info = std::fs::read_to_string(format!("/proc/{pid}/fdinfo/255")).ok()?;
    info.lines().find_map(|l| l.strip_prefix("tty-index:")).map(|i| i.trim().to_string())
}

#[test]
fn the_shells_of_one_add_share_one_pty() {
    let lab = Lab::new();
    lab.cmd("mnnode").args(["add", "p1", "p2", "p3"]).ok();
    let ptys: Vec<Option<String>> = ["p1", "p2", "p3"].iter().map(|n| pty_index(lab.node_pid(n))).collect();
    assert!(ptys[0].is_some(), "p1 holds a pty on fd 255: {ptys:?}");
    assert!(ptys.iter().all(|p| *p == ptys[0]), "one pty for the three: {ptys:?}");
    // A reborn shell keeps it, and a killed command leaves no complaint.
    let out = lab.cmd("mnrun").args(["p1", "builtin exit 3"]).code(3);
    assert!(!out.stderr.contains("tcsetattr"), "{}", out.stderr);
    // (Once the reborn shell has read a request: its hooks run first.)
    lab.cmd("mnrun").args(["p1", "true"]).ok();
    assert_eq!(pty_index(lab.node_pid("p1")), ptys[0], "the reborn shell's pty");
    let out = lab.cmd("mnrun").args(["p2", "sh -c 'kill -INT $$'; echo after"]).ok();
    assert_eq!((out.stdout.as_str(), out.stderr.as_str()), ("after\n", ""));
}
