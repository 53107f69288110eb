//! Hostile changes to a node shell's state, made through mnrun, one node
//! each: after every one the node still answers, or every call says in one
//! line what is wrong (and `mnnode restart` brings it back). Never a hang:
//! every call has -t 2 and a bound well past it; never a false success.
use mn_tests::{Lab, Output};
use std::time::Duration;

/// Far past -t 2 and its interrupt: a call still running then hangs.
const HANG: Duration = Duration::from_secs(30);

/// What later calls do after the change.
enum After {
    /// They run: `echo ok` prints ok, `false` fails.
    Answers,
    /// Every one fails with this line (`{n}` is the node's name).
    Says(&'static str),
}

use After::{Answers, Says};

const NO_STATUS: &str = "mnrun: {n}: the node's shell no longer reports status (its hooks were changed); \
                         restart it with mnnode restart {n}";
const NO_EVAL: &str = "mnrun: {n}: the node's shell did not run the command (its eval was changed); \
                       restart it with mnnode restart {n}";
const NOT_RUNNING: &str = "mnrun: node {n} is not running";

/// The change, what the changing call itself says last (if anything of
/// mnrun's), and what later calls do.
const CASES: &[(&str, Option<&str>, After)] = &[
    ("set -u", None, Answers),
    ("set -e", None, Answers),
    ("set -euo pipefail; echo ok", None, Answers),
    ("PS4=$(printf %0100000d 0); set -x", None, Answers),
    ("set -v", None, Answers),
    ("set -o posix", None, Answers),
    ("set -C", None, Answers),
    ("set -f", None, Answers),
    ("set -m", None, Answers),
    // Line editing on a FIFO ends the shell: it says so and is reborn.
    (
        "set -o vi",
        Some("mnrun: {n}: the node's shell exited (status 0); it was restarted, its state reset"),
        Answers,
    ),
    ("shopt -s extdebug; trap false DEBUG", Some(NO_STATUS), Says(NO_STATUS)),
    ("trap : DEBUG; set -T", None, Answers),
    ("trap - DEBUG RETURN ERR", None, Answers),
    ("readonly KEPT=1 BASH_ENV=/nonexistent", None, Answers),
    ("set -T; trap false RETURN", None, Answers),
    ("set -E; trap 'echo err >&2' ERR", None, Answers),
    ("trap '' INT", None, Answers),
    ("trap 'echo bye' EXIT", None, Answers),
    ("trap - EXIT PIPE HUP", None, Answers),
    ("PROMPT_COMMAND=", None, Answers),
    ("unset -f __mn __mn_done exit", None, Answers),
    ("alias eval=true __mn=true builtin=true", None, Answers),
    ("eval() { :; }", None, Says(NO_EVAL)),
    ("printf() { :; }; read() { return 1; }; kill() { :; }; trap() { :; }", None, Answers),
    ("builtin() { :; }", Some(NO_STATUS), Says(NO_STATUS)),
    ("enable -n printf read", Some(NO_STATUS), Says(NO_STATUS)),
    ("enable -n eval", None, Says(NO_EVAL)),
    ("IFS=1", None, Answers),
    ("IFS=1; exit 3", None, Answers),
    ("ulimit -n 5", None, Answers),
    ("ulimit -u 1", None, Answers),
    ("umask 777", None, Answers),
    ("mkdir -p {d}/{n}.d && cd {d}/{n}.d && rm -rf {d}/{n}.d", None, Answers),
    ("exec 1>&-", None, Answers),
    ("exec 2>&-", None, Answers),
    ("exec 0</dev/null", None, Answers),
    ("HISTFILE={d}/{n}.hist; set -o history", None, Answers),
    ("TMOUT=1", None, Answers),
    ("PS1='$(sleep 100)'", None, Answers),
    ("readonly __mn_c", None, Says(NO_STATUS)),
    ("kill -STOP $$", None, Answers),
    ("kill -HUP $$", Some("mnrun: {n}: the node's shell died of SIGHUP; it was restarted"), Answers),
    ("kill -USR1 $$", Some("mnrun: {n}: the node's shell died of SIGUSR1; it was restarted"), Answers),
    ("kill -ALRM $$", Some("mnrun: {n}: the node's shell died of SIGALRM; it was restarted"), Answers),
    ("kill -XCPU $$", Some("mnrun: {n}: the node's shell died of SIGXCPU; it was restarted"), Answers),
    (
        "ulimit -f 0; echo x >{d}/{n}.f",
        Some("mnrun: {n}: the node's shell died of SIGXFSZ; it was restarted"),
        Answers,
    ),
    (
        "builtin exit 4",
        Some("mnrun: {n}: the node's shell exited (status 4); it was restarted, its state reset"),
        Answers,
    ),
    (
        "exec sleep 0",
        Some("mnrun: {n}: the node's shell died; the node is dead (mnnode del {n}, then add it again)"),
        Says(NOT_RUNNING),
    ),
    (
        "kill -9 $$",
        Some("mnrun: {n}: the node's shell died; the node is dead (mnnode del {n}, then add it again)"),
        Says(NOT_RUNNING),
    ),
    ("printf '+0 \\n' 1<>\"$__mn_s\"; printf '+0 \\n' >&61; sleep 0.3; exit 7", None, Answers),
    ("shopt -u expand_aliases; shopt -s failglob nullglob", None, Answers),
    ("GLOBIGNORE='*'", None, Answers),
    ("PATH=", None, Answers),
    ("exec 60>/dev/null 61>/dev/null", None, Answers),
    ("BASH_XTRACEFD=7; exec 7>/dev/null; set -x", None, Answers),
];

fn mnrun(lab: &Lab, node: &str, command: &str) -> Output {
    let started = lab.cmd("mnrun").args(["-t", "2", node, command]).stdin(Vec::new()).start();
    started.finish_within(HANG)
}

/// mnrun's own lines on stderr (the command's may come before them).
fn mnrun_lines(out: &Output) -> Vec<&str> {
    out.stderr.lines().filter(|l| l.starts_with("mnrun: ")).collect()
}

/// A call either does what it should or says exactly `says`, one line.
fn check(out: &Output, node: &str, after: &After, ok: impl Fn(&Output) -> bool, what: &str) {
    match after {
        Answers => out.check(ok(out), &format!("after the change, {what}")),
        Says(line) => {
            let line = line.replace("{n}", node);
            out.check(
                out.code() == Some(255) && out.stdout.is_empty() && mnrun_lines(out) == [line.as_str()],
                &format!("after the change, every call to say `{line}`"),
            );
        }
    }
}

#[test]
fn hostile_shell_state_never_wedges_a_node_or_fakes_success() {
    let lab = Lab::new();
    let names: Vec<String> = (1..=CASES.len()).map(|i| format!("h{i}")).collect();
    lab.cmd("mnnode").arg("add").args(&names).ok();
    for ((change, says, after), node) in CASES.iter().zip(&names) {
        // Files the changes make go in the lab directory.
        let change = change.replace("{n}", node).replace("{d}", &lab.dir.display().to_string());
        let out = mnrun(&lab, node, &change);
        let ours = mnrun_lines(&out);
        match says {
            Some(line) => {
                let line = line.replace("{n}", node);
                // A shell that exited passes its status on; one that died, 255.
                let code_ok = !line.contains(" died") || out.code() == Some(255);
                out.check(code_ok && ours == [line.as_str()], &format!("`{line}`"));
            }
            None => out.check(ours.is_empty(), "no word from mnrun itself"),
        }
        if change.ends_with("exit 7") {
            out.check(out.code() == Some(7), "the command's own status despite forged ones");
        }
        for _ in 0..2 {
            let out = mnrun(&lab, node, "echo ok");
            check(&out, node, after, |o| o.code() == Some(0) && o.stdout == "ok\n", "`echo ok` to print ok");
            let out = mnrun(&lab, node, "false");
            check(&out, node, after, |o| o.code() == Some(1), "`false` to fail");
        }
        if matches!(after, Says(line) if *line != NOT_RUNNING) {
            lab.cmd("mnnode").args(["restart", node]).ok();
            let out = mnrun(&lab, node, "echo ok");
            out.check(out.code() == Some(0) && out.stdout == "ok\n", "a restarted node to answer");
        }
    }
}

/// A lab with node h1, and a way to run a command there.
fn lab_h1() -> Lab {
    let lab = Lab::new();
    lab.cmd("mnnode").args(["add", "h1"]).ok();
    lab
}

fn run(lab: &Lab, command: &str) -> Output {
    lab.cmd("mnrun").args(["h1", command]).stdin(Vec::new()).start().finish_within(HANG)
}

#[test]
fn set_u_and_set_e_in_a_command_leave_the_node_usable() {
    let lab = lab_h1();
    let out = run(&lab, "set -u; echo ok");
    out.check(out.code() == Some(0) && out.stdout == "ok\n" && out.stderr.is_empty(), "ok, status 0");
    let out = run(&lab, "echo ${unset_variable}");
    out.check(out.code() == Some(1) && out.stderr == "bash: unset_variable: unbound variable\n", "set -u");
    let out = run(&lab, "set -eo pipefail; echo ok");
    out.check(out.code() == Some(0) && out.stdout == "ok\n" && out.stderr.is_empty(), "ok, status 0");
    // set -e then a failure ends the shell, as in bash: said, status kept.
    let out = run(&lab, "KEPT=1; false");
    out.check(out.code() == Some(1), "the command's status");
    mn_tests::assert_error(
        &out,
        "mnrun: h1: the node's shell exited (status 1); it was restarted, its state reset",
    );
    assert_eq!(run(&lab, "echo \"[${KEPT-}]\"; false").code(), Some(1));
}

#[test]
fn prompt_command_cannot_be_cleared() {
    let lab = lab_h1();
    let out = run(&lab, "PROMPT_COMMAND=");
    out.check(out.stderr.ends_with("PROMPT_COMMAND: readonly variable\n"), "a readonly variable");
    assert_eq!(run(&lab, "echo ok").stdout, "ok\n");
}

#[test]
fn aliases_and_functions_named_like_builtins_do_not_touch_the_hooks() {
    let lab = lab_h1();
    run(&lab, "alias eval=true __mn=true; printf() { :; }; read() { return 1; }; unset -f __mn");
    let out = run(&lab, "echo ok; exit 3");
    out.check(out.code() == Some(3) && out.stdout == "ok\n", "ok, status 3");
}

#[test]
fn a_redefined_eval_never_reports_success() {
    let lab = lab_h1();
    run(&lab, "eval() { :; }");
    let out = run(&lab, "echo ok");
    out.check(out.stdout.is_empty(), "nothing run");
    mn_tests::assert_error(
        &out,
        "mnrun: h1: the node's shell did not run the command (its eval was changed); \
         restart it with mnnode restart h1",
    );
    lab.cmd("mnnode").args(["restart", "h1"]).ok();
    assert_eq!(run(&lab, "echo ok").stdout, "ok\n");
}

#[test]
fn exit_with_a_digit_in_ifs_ends_the_right_command() {
    let lab = lab_h1();
    run(&lab, "IFS=1");
    assert_eq!(run(&lab, "exit 3").code(), Some(3));
    assert_eq!(run(&lab, "echo ok").stdout, "ok\n");
}

#[test]
fn a_low_descriptor_limit_leaves_the_node_usable() {
    let lab = lab_h1();
    run(&lab, "ulimit -n 5");
    let out = run(&lab, "echo ok");
    out.check(out.code() == Some(0) && out.stdout == "ok\n", "ok");
}

#[test]
fn a_forged_status_line_is_not_taken() {
    let lab = lab_h1();
    let out = run(&lab, "printf '+0 \\n' 1<>\"$__mn_s\"; printf '0 \\n' >&61; sleep 0.2; echo done; exit 7");
    out.check(out.code() == Some(7) && out.stdout == "done\n", "the real status, after the real end");
}

#[test]
fn a_fatal_signal_to_the_shell_exits_255_and_says_so() {
    let lab = lab_h1();
    let xfsz = format!("ulimit -f 0; echo x >{}/xfsz", lab.dir.display());
    for (command, signal) in [
        ("echo before; false; kill -HUP $$; echo after", "SIGHUP"),
        ("kill -XCPU $$", "SIGXCPU"),
        ("kill -USR1 $$", "SIGUSR1"),
        ("kill -ALRM $$", "SIGALRM"),
        (xfsz.as_str(), "SIGXFSZ"),
    ] {
        run(&lab, "KEPT=1");
        let out = run(&lab, command);
        out.check(out.code() == Some(255) && !out.stdout.contains("after"), "255, the rest not run");
        let said: Vec<&str> = out.stderr.lines().filter(|l| l.starts_with("mnrun:")).collect();
        let line = format!("mnrun: h1: the node's shell died of {signal}; it was restarted");
        out.check(said == [line.as_str()], &line);
        assert_eq!(run(&lab, "echo \"[${KEPT-}]\"").stdout, "[]\n", "a fresh shell");
    }
}

#[test]
fn a_killed_shell_is_reported_dead() {
    let lab = lab_h1();
    let out = run(&lab, "kill -9 $$");
    mn_tests::assert_error(
        &out,
        "mnrun: h1: the node's shell died; the node is dead (mnnode del h1, then add it again)",
    );
    mn_tests::assert_error(&run(&lab, "true"), "mnrun: node h1 is not running");
}

#[test]
fn a_stopped_shell_is_continued() {
    let lab = lab_h1();
    let out = run(&lab, "kill -STOP $$; echo after");
    out.check(out.code() == Some(0) && out.stdout == "after\n", "the command goes on");
}

#[test]
fn builtin_exit_is_said_and_the_shell_comes_back() {
    let lab = lab_h1();
    let out = run(&lab, "builtin exit 4");
    out.check(out.code() == Some(4), "status 4");
    out.check(
        out.stderr
            .ends_with("mnrun: h1: the node's shell exited (status 4); it was restarted, its state reset\n"),
        "said",
    );
    assert_eq!(run(&lab, "echo ok").stdout, "ok\n");
}

#[test]
fn a_command_killed_by_sigpipe_leaves_no_bash_noise() {
    let lab = lab_h1();
    for _ in 0..3 {
        let out = lab.cmd("bash").args(["-c", "mnrun h1 yes | head -c4"]).ok();
        out.check(out.stdout == "y\ny\n" && out.stderr.is_empty(), "no tcsetattr complaint");
    }
    run(&lab, "builtin exit 0");
    let out = lab.cmd("bash").args(["-c", "mnrun h1 yes | head -c4"]).ok();
    out.check(out.stderr.is_empty(), "none in a reborn shell either");
}

#[test]
fn timeouts_bound_the_wait_for_another_call() {
    let lab = lab_h1();
    let first = lab.cmd("mnrun").args(["h1", "sleep 5; echo first"]).start();
    assert!(mn_tests::eventually(Duration::from_secs(5), || std::fs::read(lab.dir.join("h1/lock"))
        .is_ok_and(|r| !r.is_empty())));
    lab.cmd("mnrun").args(["-t", "0.2", "h1", "echo second"]).code(124);
    assert!(mn_tests::alive(first.pid()), "the first call still runs: the second did not wait for it");
    first.signal(libc::SIGINT);
    first.finish();
}

#[test]
fn timeouts_bound_interrupting_what_a_killed_mnrun_left() {
    let lab = lab_h1();
    // A command that neither SIGINT nor killing its processes ends: the
    // shell itself loops with SIGINT ignored.
    let mut child = lab
        .cmd("mnrun")
        .args(["h1", "trap '' INT; while :; do sleep 0.05; done"])
        .command()
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("mnrun");
    let shell = lab.node_pid("h1");
    let sleeping = || {
        let children = mnnode::procfs::children(shell).unwrap_or_default();
        children.into_iter().any(|c| mn_tests::command_name(c).is_some_and(|n| n == "sleep"))
    };
    assert!(mn_tests::eventually(Duration::from_secs(5), sleeping), "the loop runs");
    child.kill().expect("SIGKILL the mnrun");
    child.wait().expect("reap it");
    // Without -t this call would try for GRACE + GIVE_UP, then fail.
    lab.cmd("mnrun").args(["-t", "0.5", "h1", "echo x"]).code(124);
}

#[test]
fn exit_ends_the_command_even_where_it_trapped_or_ignored_sigint() {
    let lab = lab_h1();
    for trap in ["trap '' INT", "trap 'echo caught' INT"] {
        let out = run(&lab, &format!("{trap}; false || exit 3; echo after"));
        out.check(out.code() == Some(3) && out.stdout.is_empty(), &format!("{trap}: exit 3, nothing after"));
    }
    assert_eq!(run(&lab, "echo ok").stdout, "ok\n");
}

#[test]
fn commands_get_the_callers_descriptor_limit_not_mnnodes_raised_one() {
    let lab = Lab::new();
    // A soft limit below the hard one, as most shells have it.
    lab.cmd("prlimit")
        .args(["--nofile=1000:4096", "--"])
        .arg(mn_tests::bin("mnnode"))
        .args(["add", "h1"])
        .ok();
    let out = run(&lab, "ulimit -Sn; ulimit -Hn");
    assert_eq!(out.stdout, "1000\n4096\n");
}
