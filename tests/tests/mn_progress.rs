//! Builds of more than 200 nodes say on a terminal how each phase went:
//! counts and the seconds it took; never on a pipe, never for small ones.
use mn_tests::{Lab, Tmux, mn, nothing_left};

/// A progress line: `*** WHAT (1.234s)`.
fn progress_lines(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| {
            l.starts_with("*** ")
                && l.strip_suffix("s)").and_then(|l| l.rsplit_once(" (")).is_some_and(|(_, t)| {
                    t.split_once('.').is_some_and(|(s, ms)| s.parse::<u64>().is_ok() && ms.len() == 3)
                })
        })
        .map(|l| l.rsplit_once(" (").map(|(what, _)| what.to_string()).unwrap_or_default())
        .collect()
}

#[test]
fn a_big_build_on_a_terminal_prints_a_line_per_phase() {
    let lab = Lab::new();
    let tmux = Tmux::start(&lab, "--topo linear,3,70 --test build");
    tmux.wait_for("MN-EXITED 0", 1);
    assert_eq!(
        progress_lines(&tmux.screen()),
        ["*** 210 hosts, 3 switches added", "*** 212 links, 210 addresses made", "*** 213 nodes removed"],
        "{}",
        tmux.screen()
    );
    nothing_left(&lab);
}

#[test]
fn no_progress_on_a_pipe_or_for_small_builds() {
    let lab = Lab::new();
    let out = mn(&lab).args(["--topo", "linear,3,70", "--test", "build"]).ok();
    assert_eq!(progress_lines(&out.stdout), Vec::<String>::new(), "{}", out.stdout);
    out.check(out.stdout.contains("*** Adding links:\n212 links\n"), "the usual lines");
    nothing_left(&lab);
    let tmux = Tmux::start(&lab, "--topo single,3 --test build");
    tmux.wait_for("MN-EXITED 0", 1);
    assert_eq!(progress_lines(&tmux.screen()), Vec::<String>::new(), "{}", tmux.screen());
    nothing_left(&lab);
}
