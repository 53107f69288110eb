//! mnlink interrupted: SIGINT, SIGTERM and SIGHUP mid-batch finish or undo
//! the line at hand, SIGKILL leaves only what `mnnode clean` finds, and a
//! signal while waiting for input or during one command.
use mn_tests::{Fifo, Rng, assert_error, eventually, ifnames, lab_with, listed, unique};
use std::time::Duration;

/// Whether the signal killed mnlink outright: possible only before main
/// has blocked it (on a busy machine the delay can end that early), when
/// nothing has been done yet.
fn killed_before_starting(out: &mn_tests::Output, signal: i32) -> bool {
    use std::os::unix::process::ExitStatusExt;
    out.status.signal() == Some(signal) && out.stderr.is_empty()
}

/// Interfaces of the root namespace whose names start with `prefix`, with
/// their aliases (tags).
fn root_ifaces(prefix: &str) -> Vec<(String, String)> {
    let Ok(dir) = std::fs::read_dir("/sys/class/net") else { return Vec::new() };
    dir.filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| name.starts_with(prefix))
        .filter_map(|name| {
            let alias = std::fs::read_to_string(format!("/sys/class/net/{name}/ifalias")).ok()?;
            Some((name, alias.trim().to_string()))
        })
        .collect()
}

#[test]
fn signals_mid_batch_finish_or_undo_the_line() {
    let mut rng = Rng::for_test("signals_mid_batch_finish_or_undo_the_line");
    let signals = [(libc::SIGINT, "SIGINT"), (libc::SIGTERM, "SIGTERM"), (libc::SIGHUP, "SIGHUP")];
    // Far more lines than can run before the signal: the batch is always
    // interrupted (after at least 0 lines).
    let lines = 3000;
    for trial in 0..6 {
        let (signal, name) = signals[trial % 3];
        let lab = lab_with(&["h1", "h2"], &[]);
        lab.cmd("mnnode").args(["add", "--root", "x1", "x2"]).ok();
        // Odd lines link two --root nodes (ends in the root namespace),
        // even lines two hosts; all shaped, so that a line takes a while.
        let base = unique("q");
        let mut batch = String::new();
        for i in 1..=lines {
            batch += &if i % 2 == 1 {
                format!("add x1:{base}a{i} x2:{base}b{i} --bw 10\n")
            } else {
                format!("add h1:e{i} h2:e{i} --bw 10\n")
            };
        }
        // Every other trial signals the whole process group, as a
        // terminal's Ctrl-C does: tc, when running, gets it too (and keeps
        // it blocked, as mnlink does); were it killed, its line would fail
        // and be undone, and stderr would say so.
        let group = trial % 2 == 1;
        let mut cmd = lab.cmd("mnlink").args(["-b", "-"]).stdin(batch);
        if group {
            use std::os::unix::process::CommandExt;
            cmd.command().process_group(0);
        }
        let started = cmd.start();
        std::thread::sleep(Duration::from_millis(rng.below(900)));
        if group {
            // SAFETY: signalling the process group of a child we started.
            unsafe { libc::kill(-started.pid(), signal) };
        } else {
            started.signal(signal);
        }
        let out = started.finish();
        eprintln!("trial {trial}: {name}{}: {}", if group { " to the group" } else { "" }, out.stderr.trim());
        if killed_before_starting(&out, signal) {
            assert_eq!(listed(&lab).len(), 0, "trial {trial}: killed before it began, it made nothing");
            continue;
        }
        let said =
            out.stderr.strip_prefix(&format!("mnlink: interrupted by {name}; ")).unwrap_or("").trim_end();
        out.check(out.code() == Some(128 + signal), "exit 128+N");
        let done = if said == "no line was done" {
            0
        } else {
            said.strip_suffix(" was the last done")
                .and_then(|s| s.rsplit("line ").next())
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("trial {trial}: unexpected stderr {:?}", out.stderr))
        };
        if said.contains("failed") {
            let failed = format!("line {} failed (", done + 1);
            out.check(
                said.starts_with(&failed) || said.starts_with("no line"),
                "the failed line follows the last done",
            );
        }
        out.check(out.stderr.lines().count() <= 1, "at most one line of stderr");
        // Exactly the lines done, each whole: both ends up, tagged, shaped.
        let links = listed(&lab);
        assert_eq!(links.len(), done, "trial {trial}: {name} after line {done}: {links:?}");
        for link in &links {
            assert_eq!(link["state"], "up", "{link}");
            assert_eq!(link["a"]["shaping"], "bw=10Mbit queue=1000", "{link}");
            assert_eq!(link["b"]["shaping"], "bw=10Mbit queue=1000", "{link}");
        }
        let root = root_ifaces(&base);
        assert_eq!(root.len(), done.div_ceil(2) * 2, "trial {trial}: root ends of the lines done: {root:?}");
        assert!(root.iter().all(|(_, alias)| alias.starts_with("mn:x")), "all tagged: {root:?}");
        assert_eq!(ifnames(&lab, "h1").len(), done / 2 + 1, "h1: the host links done and lo");
    }
}

#[test]
fn sigkill_mid_batch_leaves_nothing_clean_cannot_find() {
    let mut rng = Rng::for_test("sigkill_mid_batch_leaves_nothing_clean_cannot_find");
    // Trial 0 runs whole, to learn how long a batch takes: the kills land
    // at random points within that span.
    let mut span = Duration::ZERO;
    for trial in 0..10 {
        let lab = lab_with(&["h1"], &[]);
        lab.cmd("mnnode").args(["add", "--root", "x1", "x2"]).ok();
        let switch = unique("ks");
        lab.cmd("mnnode").args(["add", "--root", "--kind", "switch", &switch]).ok();
        // Pairs between --root nodes (a switch among them, so ends join a
        // bridge in the root namespace), and from a --root node to a host.
        let base = unique("k");
        let mut batch = String::new();
        for i in 1..=10 {
            batch += &format!("add x1:{base}a{i} x2:{base}b{i}\n");
            batch += &format!("add {switch}:{base}s{i} x2:{base}d{i}\n");
            batch += &format!("add x1:{base}c{i} h1:e{i} --bw 5\n");
        }
        let started = lab.cmd("mnlink").args(["-b", "-"]).stdin(batch).start();
        if trial == 0 {
            let begun = std::time::Instant::now();
            started.finish().check(true, "");
            span = begun.elapsed();
            assert_eq!(listed(&lab).len(), 30, "the whole batch");
        } else {
            std::thread::sleep(Duration::from_micros(rng.below(span.as_micros() as u64 + 1)));
            started.signal(libc::SIGKILL);
            started.finish();
        }
        // Whatever the kill interrupted: in the root namespace only tagged
        // ends remain (an untagged pair dies with mnlink's staging
        // namespace, which the kernel tears down a moment later).
        let tagged_only = || root_ifaces(&base).iter().all(|(_, alias)| alias.starts_with("mn:"));
        assert!(eventually(Duration::from_secs(10), tagged_only), "trial {trial}: {:?}", root_ifaces(&base));
        lab.cmd("mnnode").arg("clean").ok();
        let gone = || root_ifaces(&base).is_empty();
        assert!(
            eventually(Duration::from_secs(10), gone),
            "trial {trial}: clean left {:?}",
            root_ifaces(&base)
        );
    }
}

#[test]
fn a_signal_while_waiting_for_batch_input_ends_the_run_at_once() {
    use std::io::Write;
    let lab = lab_with(&["h1", "h2"], &[]);
    let fifo = Fifo::new();
    let started = lab.cmd("mnlink").arg("-b").arg(&fifo.0).start();
    let mut writer = fifo.writer();
    writer.write_all(b"add h1-eth0 h2-eth0 --bw 10\n# more to come\n").expect("write");
    let made = || listed(&lab).first().is_some_and(|l| l["b"]["shaping"] == "bw=10Mbit queue=1000");
    assert!(eventually(Duration::from_secs(10), made), "line 1 done");
    started.signal(libc::SIGINT);
    let out = started.finish();
    out.check(out.code() == Some(130), "exit 130");
    assert_error(&out, "mnlink: interrupted by SIGINT; line 1 was the last done");
    // Nothing was read past the signal: a later line changes nothing.
    let _ = writer.write_all(b"add h1-eth1 h2-eth1\n");
    assert_eq!(ifnames(&lab, "h1"), ["h1-eth0", "lo"]);
}

#[test]
fn a_signal_during_one_command_lets_it_finish() {
    let mut rng = Rng::for_test("a_signal_during_one_command_lets_it_finish");
    let lab = lab_with(&["h1", "h2"], &[]);
    lab.cmd("mnnode").args(["add", "--root", "x1"]).ok();
    let base = unique("c");
    let mut made = 0;
    for i in 0..6 {
        let a = format!("x1:{base}{i}");
        let b = format!("h1:e{i}");
        let started = lab.cmd("mnlink").args(["add", &a, &b, "--bw", "10"]).start();
        std::thread::sleep(Duration::from_micros(rng.below(60_000)));
        started.signal(libc::SIGTERM);
        let out = started.finish();
        match out.code() {
            Some(0) => assert_eq!(out.stderr, ""),
            Some(143) => assert_error(&out, "mnlink: interrupted by SIGTERM; the command was done"),
            _ if killed_before_starting(&out, libc::SIGTERM) => {}
            _ => panic!("{out:?}"),
        }
        made += usize::from(!killed_before_starting(&out, libc::SIGTERM));
        let links = listed(&lab);
        assert_eq!(links.len(), made, "the command was done, or never begun: {links:?}");
        assert!(links.iter().all(|l| l["state"] == "up" && l["a"]["shaping"] == "bw=10Mbit queue=1000"));
    }
}
