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
    ("mkdir -p /tmp/{n}.d && cd /tmp/{n}.d && rm -rf /tmp/{n}.d", None, Answers),
    ("exec 1>&-", None, Answers),
    ("exec 2>&-", None, Answers),
    ("exec 0</dev/null", None, Answers),
    ("HISTFILE=/tmp/{n}.hist; set -o history", None, Answers),
    ("TMOUT=1", None, Answers),
    ("PS1='$(sleep 100)'", None, Answers),
    ("readonly __mn_c", None, Says(NO_STATUS)),
    ("kill -STOP $$", None, Answers),
    ("kill -HUP $$", Some("mnrun: {n}: the node's shell died of SIGHUP; it was restarted"), Answers),
    ("kill -USR1 $$", Some("mnrun: {n}: the node's shell died of SIGUSR1; it was restarted"), Answers),
    ("kill -ALRM $$", Some("mnrun: {n}: the node's shell died of SIGALRM; it was restarted"), Answers),
    ("kill -XCPU $$", Some("mnrun: {n}: the node's shell died of SIGXCPU; it was restarted"), Answers),
    (
        "ulimit -f 0; echo x >/tmp/{n}.f",
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
        let change = change.replace("{n}", node);
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
