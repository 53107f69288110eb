//! mnrun against real nodes: state, streaming, separation, status, byte
//! exactness, stdin, interrupts, background jobs, concurrency, failures.
use mn_tests::{Cmd, Lab, alive, assert_error, eventually, ns_inode, pids_in_ns, unique};
use mnnode::procfs::Disposition;
use std::io::Read;
use std::process::Stdio;
use std::time::Duration;

fn lab_with(nodes: &[&str]) -> Lab {
    let lab = Lab::new();
    lab.cmd("mnnode").arg("add").args(nodes).ok();
    lab
}

fn mnrun(lab: &Lab, node: &str, command: &str) -> Cmd {
    lab.cmd("mnrun").args([node, command])
}

/// Runs `command` in `node`, and once the node has `processes` processes
/// besides its shell, Ctrl-C to that mnrun; what it printed.
fn ctrl_c(lab: &Lab, node: &str, command: &str, processes: usize) -> mn_tests::Output {
    let started = mnrun(lab, node, command).start();
    assert!(
        eventually(Duration::from_secs(5), || others_in(lab, node).len() >= processes),
        "{command}: started"
    );
    started.signal(libc::SIGINT);
    started.finish()
}

/// Processes in a node other than its shell.
fn others_in(lab: &Lab, node: &str) -> Vec<i32> {
    let shell = lab.node_pid(node);
    let inode = ns_inode(shell, "net").expect("netns");
    pids_in_ns("net", inode).into_iter().filter(|&p| p != shell).collect()
}

#[test]
fn shell_state_persists_between_calls() {
    let lab = lab_with(&["h1"]);
    mnrun(&lab, "h1", "cd /tmp").ok();
    assert_eq!(mnrun(&lab, "h1", "pwd").ok().stdout, "/tmp\n");
    mnrun(&lab, "h1", "export X=1; Y=2; f() { echo f$1; }").ok();
    assert_eq!(mnrun(&lab, "h1", "echo $X$Y; f 3; sh -c 'echo $X'").ok().stdout, "12\nf3\n1\n");
    // Several words are joined with spaces, as ssh does.
    assert_eq!(lab.cmd("mnrun").args(["h1", "echo", "a", "b"]).ok().stdout, "a b\n");
    assert_eq!(mnrun(&lab, "h1", "echo $MN_NODE").ok().stdout, "h1\n");
}

#[test]
fn output_streams_live() {
    let lab = lab_with(&["h1"]);
    let gate = lab.dir.join("gate");
    // The second line is only written once the test has read the first:
    // if mnrun held output back, this would never finish.
    let script = format!("echo one; while [ ! -e {0} ]; do sleep 0.01; done; echo two", gate.display());
    let mut started = mnrun(&lab, "h1", &script).start();
    started.expect_stdout("one\n", Duration::from_secs(10));
    std::fs::write(&gate, "").expect("open the gate");
    started.expect_stdout("one\ntwo\n", Duration::from_secs(10));
    let out = started.finish();
    out.check(out.status.success(), "success");
}

#[test]
fn stdout_and_stderr_stay_apart() {
    let lab = lab_with(&["h1"]);
    let out = mnrun(&lab, "h1", "echo out; echo err >&2; ls /nope").code(2);
    assert_eq!(out.stdout, "out\n");
    assert!(out.stderr.starts_with("err\n") && out.stderr.contains("/nope"), "{}", out.stderr);
}

#[test]
fn exit_status_is_the_commands() {
    let lab = lab_with(&["h1"]);
    mnrun(&lab, "h1", "false").code(1);
    mnrun(&lab, "h1", "exit 3").code(3);
    mnrun(&lab, "h1", "(exit 4)").code(4);
    mnrun(&lab, "h1", "sh -c 'exit 5'").code(5);
    // exit ends the command, not the node; the state survives.
    mnrun(&lab, "h1", "Z=kept; exit 6; echo not-here").code(6);
    assert_eq!(mnrun(&lab, "h1", "echo $Z").ok().stdout, "kept\n");
    // A syntax error: bash's message, status 2, the node still serves.
    let out = mnrun(&lab, "h1", "if").code(2);
    out.check(out.stderr.contains("syntax error"), "bash's error");
    // Even errexit, which ends an interactive bash, leaves a node behind.
    mnrun(&lab, "h1", "set -e; false; echo not-here").code(1);
    assert_eq!(mnrun(&lab, "h1", "echo alive").ok().stdout, "alive\n");
}

fn sha(bytes: &[u8]) -> String {
    let out = Cmd::new("sha256sum").stdin(bytes).ok();
    out.stdout.split_whitespace().next().unwrap_or_default().to_string()
}

#[test]
fn any_bytes_pass_through_exactly() {
    let lab = lab_with(&["h1"]);
    std::fs::create_dir_all(&lab.dir).expect("dir");
    let mut data = vec![0x7f, 0x01, 0x00, b'\n', 0xff, 0xfe];
    let mut random = vec![0u8; 1 << 20];
    std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut random)).expect("random");
    data.extend(&random);
    data.extend(b"\x01\x7fno final newline");
    let file = lab.dir.join("random.bin");
    std::fs::write(&file, &data).expect("write");
    let cat = format!("cat {}", file.display());
    // Through a pipe (handed to the command directly)...
    let out = mnrun(&lab, "h1", &cat).ok();
    assert_eq!(out.raw_stdout.len(), data.len());
    assert_eq!(sha(&out.raw_stdout), sha(&data));
    // ...and into a regular file (relayed by mnrun), appended after our own
    // output as the shell's offset requires.
    let copy = lab.dir.join("copy.bin");
    let script = format!("{{ printf head; mnrun h1 {cat}; printf tail; }} > {}", copy.display());
    lab.cmd("sh").args(["-c", &script]).ok();
    let got = std::fs::read(&copy).expect("copy");
    let mut want = b"head".to_vec();
    want.extend(&data);
    want.extend(b"tail");
    assert_eq!(sha(&got), sha(&want), "relayed output is byte-exact and in place");
}

#[test]
fn a_hundred_megabytes_in_bounded_memory() {
    let lab = lab_with(&["h1"]);
    std::fs::create_dir_all(&lab.dir).expect("dir");
    let sink = lab.dir.join("sink");
    // stdout a regular file: mnrun relays every byte itself.
    let mut cmd = mnrun(&lab, "h1", "head -c 100000000 /dev/zero | tr '\\0' x");
    let child = cmd.command().stdout(std::fs::File::create(&sink).expect("sink")).spawn().expect("mnrun");
    // Reaped below by wait4, with its own resource usage (not that of every
    // child the tests ever had, as RUSAGE_CHILDREN would give).
    let pid = child.id() as i32;
    drop(child);
    let mut status = 0;
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: waiting for the child this test started; wait4 fills both.
    let reaped = eventually(mn_tests::TIMEOUT, || unsafe {
        libc::wait4(pid, &mut status, libc::WNOHANG, usage.as_mut_ptr()) == pid
    });
    if !reaped {
        // SAFETY: ending and reaping the mnrun this test started.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
            libc::waitpid(pid, std::ptr::null_mut(), 0);
        }
    }
    assert!(reaped && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "mnrun succeeded");
    assert_eq!(std::fs::metadata(&sink).expect("sink").len(), 100_000_000);
    // SAFETY: zeroed, then filled by wait4.
    let max_rss_kb = unsafe { usage.assume_init() }.ru_maxrss;
    assert!(max_rss_kb < 64 * 1024, "mnrun used {max_rss_kb} kB");
}

#[test]
fn stdin_is_mnruns_or_dev_null() {
    let lab = lab_with(&["h1"]);
    assert_eq!(mnrun(&lab, "h1", "cat").stdin("hi\n").ok().stdout, "hi\n");
    std::fs::create_dir_all(&lab.dir).expect("dir");
    let src = lab.dir.join("src");
    let dst = lab.dir.join("dst");
    std::fs::write(&src, b"some\x00file\n").expect("write");
    let copy = format!("mnrun h1 'cat > {}' < {}", dst.display(), src.display());
    lab.cmd("sh").args(["-c", &copy]).ok();
    assert_eq!(std::fs::read(&dst).expect("dst"), b"some\x00file\n");
    // -n: /dev/null, even when our stdin has data.
    assert_eq!(lab.cmd("mnrun").args(["-n", "h1", "cat; echo done"]).stdin("data\n").ok().stdout, "done\n");
    // A command that reads all its stdin never eats the next command.
    mnrun(&lab, "h1", "cat > /dev/null").stdin("echo injected\n").ok();
    assert_eq!(mnrun(&lab, "h1", "echo next").ok().stdout, "next\n");
    // A socket as stdin is relayed.
    let out = lab
        .cmd("sh")
        .args(["-c", "echo via-socket | socat - EXEC:'mnrun h1 cat' 2>/dev/null || echo no-socat"])
        .run();
    if out.stdout.contains("no-socat") {
        mn_tests::skip("stdin_is_mnruns_or_dev_null/socket", "socat is not installed");
    } else {
        assert_eq!(out.stdout, "via-socket\n");
    }
}

fn signal_interrupts(sig: i32) {
    let lab = lab_with(&["h1"]);
    let mut started = mnrun(&lab, "h1", "echo started; sleep 100 | cat; echo not-here").start();
    started.expect_stdout("started\n", Duration::from_secs(10));
    // Both running their programs: a child signalled while still bash,
    // between fork and exec, can lose the signal as it would in bash itself
    // (interrupts_take_even_as_the_shell_forks covers that moment).
    let running = || {
        let names: Vec<String> =
            others_in(&lab, "h1").into_iter().filter_map(mn_tests::command_name).collect();
        names.iter().any(|n| n == "sleep") && names.iter().any(|n| n == "cat")
    };
    assert!(eventually(Duration::from_secs(5), running), "the pipeline started");
    started.signal(sig);
    let out = started.finish();
    assert_eq!(out.code(), Some(130));
    assert_eq!(out.stdout, "started\n", "the rest of the command line did not run");
    assert!(others_in(&lab, "h1").is_empty(), "the pipeline is gone: {:?}", others_in(&lab, "h1"));
    assert_eq!(mnrun(&lab, "h1", "echo next").ok().stdout, "next\n");
}

#[test]
fn sigint_interrupts_the_whole_command() {
    signal_interrupts(libc::SIGINT);
}

#[test]
fn sigterm_and_sighup_interrupt_too() {
    signal_interrupts(libc::SIGTERM);
    signal_interrupts(libc::SIGHUP);
}

#[test]
fn interrupts_take_even_as_the_shell_forks() {
    // A loop that forks without pause: Ctrl-C often lands on a child the
    // shell has just forked, which still runs the shell's own handlers and
    // traps. The interrupt must still end the loop, and that child must
    // neither live on nor become a second shell on the node's FIFO.
    let lab = lab_with(&["h1"]);
    let shell = lab.node_pid("h1");
    mnrun(&lab, "h1", "KEPT=yes").ok();
    let command = "while :; do /bin/true | /bin/cat; done; echo not-here";
    for round in 0..40u64 {
        let started = mnrun(&lab, "h1", command).start();
        assert!(eventually(Duration::from_secs(5), || !others_in(&lab, "h1").is_empty()), "round {round}");
        std::thread::sleep(Duration::from_micros(round % 8 * 1500));
        started.signal(libc::SIGINT);
        let out = started.finish_within(Duration::from_secs(20));
        out.check(out.code() == Some(130) && out.stdout.is_empty(), &format!("round {round}: interrupted"));
        let left = others_in(&lab, "h1");
        assert!(left.is_empty(), "round {round}: left {left:?}");
    }
    assert_eq!(lab.node_pid("h1"), shell);
    assert_eq!(mnrun(&lab, "h1", "echo $KEPT").ok().stdout, "yes\n", "the shell kept its state");
}

#[test]
fn signals_ignored_at_start_stay_ignored() {
    // nohup, or a script's background job: the caller wants mnrun to
    // outlive those signals, as ssh does.
    let lab = lab_with(&["h1"]);
    let gate = lab.dir.join("gate");
    let command = format!("echo up; while [ ! -e {} ]; do sleep 0.01; done; echo done", gate.display());
    let script = format!("trap '' INT HUP; exec mnrun h1 '{command}'");
    let mut started = lab.cmd("sh").args(["-c", &script]).start();
    started.expect_stdout("up\n", Duration::from_secs(10));
    let disposition = |sig| mnnode::procfs::disposition(started.pid(), sig);
    assert_eq!(disposition(libc::SIGINT), Some(Disposition::Ignored));
    assert_eq!(disposition(libc::SIGHUP), Some(Disposition::Ignored));
    assert_eq!(disposition(libc::SIGTERM), Some(Disposition::Caught), "SIGTERM still interrupts");
    started.signal(libc::SIGINT);
    started.signal(libc::SIGHUP);
    std::fs::write(&gate, "").expect("open the gate");
    let out = started.finish();
    out.check(out.code() == Some(0) && out.stdout == "up\ndone\n", "the command ran to its end");
}

#[test]
fn interrupt_breaks_loops_and_functions() {
    let lab = lab_with(&["h1"]);
    let out = ctrl_c(&lab, "h1", "f() { while :; do sleep 1; done; }; echo go; f; echo not-here", 1);
    assert_eq!(out.code(), Some(130));
    assert_eq!(out.stdout, "go\n");
}

#[test]
fn commands_that_ignore_sigint_are_killed() {
    let lab = lab_with(&["h1"]);
    for command in ["trap '' INT; sleep 100", "bash -c \"trap '' INT; sleep 100\""] {
        let out = ctrl_c(&lab, "h1", command, 1);
        assert_eq!(out.code(), Some(130), "{command}");
        assert!(others_in(&lab, "h1").is_empty(), "{command}: left {:?}", others_in(&lab, "h1"));
    }
    // The shell's own trap was restored: a plain command interrupts again.
    assert_eq!(ctrl_c(&lab, "h1", "sleep 100", 1).code(), Some(130));
}

#[test]
fn timeout_interrupts_and_exits_124() {
    let lab = lab_with(&["h1"]);
    lab.cmd("mnrun").args(["-t", "0.3", "h1", "sleep 100"]).code(124);
    assert!(others_in(&lab, "h1").is_empty());
    assert_eq!(mnrun(&lab, "h1", "echo next").ok().stdout, "next\n");
    assert_eq!(lab.cmd("mnrun").args(["-t", "30", "h1", "echo quick"]).ok().stdout, "quick\n");
}

#[test]
fn concurrent_calls_get_their_own_output() {
    let lab = lab_with(&["h1"]);
    let children: Vec<_> = (0..20)
        .map(|i| {
            let token = unique(&format!("tok{i}x"));
            let started =
                mnrun(&lab, "h1", &format!("for i in $(seq 1000); do echo {token}; done; exit {}", i % 7))
                    .start();
            (token, i % 7, started)
        })
        .collect();
    for (token, code, started) in children {
        let out = started.finish();
        assert_eq!(out.code(), Some(code));
        let lines: Vec<&str> = out.stdout.lines().collect();
        assert_eq!(lines.len(), 1000, "{token}");
        assert!(lines.iter().all(|l| *l == token), "{token}: foreign output");
    }
}

/// Starts `command` in h1 and SIGKILLs its mnrun once the command runs.
fn kill_mnrun_midway(lab: &Lab, command: &str) {
    let mut child = mnrun(lab, "h1", command)
        .command()
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("mnrun");
    assert!(eventually(Duration::from_secs(5), || !others_in(lab, "h1").is_empty()));
    child.kill().expect("SIGKILL the mnrun");
    child.wait().expect("reap it");
}

#[test]
fn a_killed_mnrun_leaves_nothing_behind() {
    let lab = lab_with(&["h1"]);
    for command in ["sleep 100", "yes"] {
        kill_mnrun_midway(&lab, command);
        // The next call interrupts what was left and sees only its own output.
        assert_eq!(mnrun(&lab, "h1", "echo mine").ok().stdout, "mine\n", "after {command}");
        assert!(others_in(&lab, "h1").is_empty(), "after {command}: {:?}", others_in(&lab, "h1"));
    }
}

#[test]
fn broken_pipe_ends_quietly() {
    let lab = lab_with(&["h1"]);
    let out = lab.cmd("sh").args(["-c", "mnrun h1 yes | head -2"]).ok();
    assert_eq!(out.stdout, "y\ny\n");
    assert_eq!(mnrun(&lab, "h1", "echo fine").ok().stdout, "fine\n");
}

#[test]
fn failures_exit_255_at_once() {
    let lab = lab_with(&["h1"]);
    let out = mnrun(&lab, "h9", "true").code(255);
    assert_eq!(out.stderr, format!("mnrun: no node named h9 in {}\n", lab.dir.display()));
    let pid = lab.node_pid("h1");
    // SAFETY: killing the shell of this test's node.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    assert!(eventually(Duration::from_secs(5), || !alive(pid)));
    let out = mnrun(&lab, "h1", "true").code(255);
    assert_eq!(out.stderr, "mnrun: node h1 is not running\n");
    let out = lab.cmd("mnrun").args(["-t", "x", "h1", "true"]).code(255);
    assert_error(&out, "mnrun: -t x: not a number of seconds");
}

#[test]
fn the_call_after_a_killed_mnrun_keeps_its_own_command() {
    let lab = lab_with(&["h1"]);
    kill_mnrun_midway(&lab, "sleep 100");
    // Longer than the grace after which a stuck command gets SIGKILL: the
    // left-over command is stopped, this one runs to its end.
    let out = mnrun(&lab, "h1", "sleep 1.5; echo finished").ok();
    assert_eq!(out.stdout, "finished\n");
}

#[test]
fn interrupts_spare_older_background_jobs_even_with_handlers() {
    let lab = lab_with(&["h1"]);
    // A job that catches SIGINT itself, as iperf3 -s does, started just
    // before the command that gets interrupted.
    let out = mnrun(&lab, "h1", "perl -e '$SIG{INT} = sub { exit 9 }; sleep 100' &").ok();
    let job: i32 = out.stdout.trim().parse().expect("pid");
    lab.cmd("mnrun").args(["-t", "0.3", "h1", "sleep 50"]).code(124);
    assert!(alive(job), "the background job survived the interrupt");
    assert_eq!(ctrl_c(&lab, "h1", "sleep 50", 2).code(), Some(130));
    assert!(alive(job), "and a Ctrl-C");
}

#[test]
fn a_command_that_ignores_a_relayed_stdin_can_still_be_stopped() {
    let lab = lab_with(&["h1"]);
    // A socket as stdin with more data than any pipe holds, for a command
    // that never reads it: mnrun must keep serving signals and timeouts.
    let script =
        "head -c 10000000 /dev/zero | socat -u - EXEC:'mnrun -t 0.5 h1 sleep 30' 2>/dev/null; echo rc=$?";
    let out = lab.cmd("sh").args(["-c", script]).ok();
    if out.stdout.contains("rc=127") || out.stdout.is_empty() {
        mn_tests::skip(
            "a_command_that_ignores_a_relayed_stdin_can_still_be_stopped",
            "socat is not installed",
        );
        return;
    }
    assert!(others_in(&lab, "h1").is_empty(), "the command was stopped");
    assert_eq!(mnrun(&lab, "h1", "echo next").ok().stdout, "next\n");
}

#[test]
fn interrupts_at_any_moment_leave_the_shell_intact() {
    let lab = lab_with(&["h1"]);
    mnrun(&lab, "h1", "KEPT=yes").ok();
    // Timeouts and signals landing before, while and after the shell reads
    // the request: whatever the call's own fate, the shell's state stays.
    for (i, t) in ["0.0001", "0.0005", "0.001", "0.002", "0.005"].iter().cycle().take(20).enumerate() {
        let out = lab.cmd("mnrun").args(["-t", t, "h1", "echo x"]).run();
        assert!(matches!(out.code(), Some(0 | 124)), "-t {t}: {:?} {}", out.code(), out.stderr);
        let started = mnrun(&lab, "h1", "echo y").start();
        if i % 2 == 1 {
            std::thread::sleep(Duration::from_micros(500 * (i as u64 % 4)));
        }
        started.signal(libc::SIGINT);
        let _ = started.finish();
        assert_eq!(mnrun(&lab, "h1", "echo $KEPT").ok().stdout, "yes\n", "round {i}");
    }
}

#[test]
fn the_call_after_a_killed_mnrun_finds_the_shell_idle() {
    let lab = lab_with(&["h1"]);
    mnrun(&lab, "h1", "KEPT=yes").ok();
    // The command ends by itself after its mnrun died: the record it left
    // names a command that is over, and the shell waits for its next line.
    kill_mnrun_midway(&lab, "sleep 0.2");
    assert!(eventually(Duration::from_secs(5), || others_in(&lab, "h1").is_empty()));
    for _ in 0..5 {
        assert_eq!(mnrun(&lab, "h1", "echo $KEPT").ok().stdout, "yes\n");
    }
}

#[test]
fn a_background_pid_into_a_closed_pipe() {
    let lab = lab_with(&["h1"]);
    let err = lab.dir.join("bg-err");
    // The reader is gone before mnrun prints the job's pid.
    let script = format!(
        "set -o pipefail; {{ sleep 0.2; mnrun h1 'sleep 5 &' 2>{}; }} | true; echo $?",
        err.display()
    );
    let out = lab.cmd("bash").args(["-c", &script]).ok();
    assert_eq!(out.stdout, "141\n");
    assert_eq!(std::fs::read_to_string(&err).expect("stderr file"), "");
}
