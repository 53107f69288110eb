//! mnexec against the real kernel: namespaces, pid printing, attach,
//! descriptors, sessions, cgroups, real-time priority and bad input.
use mn_tests::{Cmd, Lab, assert_error, bin, eventually, ns_inode, unique};
use std::os::unix::process::CommandExt;
use std::time::Duration;

fn mnexec() -> Cmd {
    mn_tests::require_root();
    Cmd::new(bin("mnexec"))
}

fn self_ns(kind: &str) -> u64 {
    ns_inode(std::process::id() as i32, kind).expect("own namespace")
}

/// Starts `mnexec -n sleep` and returns its pid once it is in its own
/// network namespace.
fn namespace_holder(lab: &mut Lab) -> i32 {
    let pid = lab.track(lab.cmd("mnexec").args(["-n", "sleep", "60"]).spawn());
    let root = self_ns("net");
    assert!(
        eventually(Duration::from_secs(5), || ns_inode(pid, "net").is_some_and(|ino| ino != root)),
        "mnexec -n never entered a new namespace"
    );
    pid
}

#[test]
fn new_namespace_has_only_loopback() {
    let out = mnexec().args(["-n", "ip", "-o", "link"]).ok();
    let names: Vec<&str> = out.stdout.lines().filter_map(|l| l.split(": ").nth(1)).collect();
    out.check(names == ["lo"], "only lo in `ip -o link`");

    let out = mnexec().args(["-n", "ls", "/sys/class/net"]).ok();
    out.check(out.stdout.split_whitespace().eq(["lo"]), "only lo in /sys/class/net");

    let out = mnexec().args(["-n", "readlink", "/proc/self/ns/net"]).ok();
    let root = std::fs::read_link("/proc/self/ns/net").expect("own netns");
    out.check(out.stdout.trim() != root.to_string_lossy(), "a network namespace other than the root's");
}

#[test]
fn new_mounts_do_not_leak_to_the_host() {
    let out = mnexec().args(["-n", "readlink", "/proc/self/ns/mnt"]).ok();
    let root = std::fs::read_link("/proc/self/ns/mnt").expect("own mntns");
    out.check(out.stdout.trim() != root.to_string_lossy(), "a new mount namespace");
    // The sysfs mounted inside must not appear in the host's mount table.
    // (Only mounts on /sys are counted: other tests add and remove `ip
    // netns` entries, which are mounts too, all the while.)
    let on_sys = || {
        let table = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
        table.lines().filter(|l| l.split(' ').nth(4) == Some("/sys")).count()
    };
    let before = on_sys();
    mnexec().args(["-n", "true"]).ok();
    assert_eq!(before, on_sys(), "mnexec -n changed the host's mounts on /sys");
}

/// The mount points under /run/netns in a mount table.
fn netns_mounts(mountinfo: &str) -> usize {
    mountinfo.lines().filter(|l| l.split(' ').nth(4).is_some_and(|m| m.starts_with("/run/netns/"))).count()
}

#[test]
fn new_namespace_detaches_the_ip_netns_entries() {
    // A node makes an entry (a bind mount); a new mount namespace must not
    // keep a copy of it, which would keep that node's namespace alive.
    let lab = Lab::new();
    lab.cmd("mnnode").args(["add", "h1"]).ok();
    let host = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    assert!(netns_mounts(&host) >= 1, "the host has the entry");
    let out = mnexec().args(["-n", "cat", "/proc/self/mountinfo"]).ok();
    assert_eq!(netns_mounts(&out.stdout), 0, "no entries in a new mount namespace");
}

#[test]
fn print_pid_is_the_commands_pid() {
    let out = mnexec().args(["-p", "sh", "-c", "echo $$"]).ok();
    let mut lines = out.stdout.lines();
    let printed = lines.next().unwrap_or_default();
    let own = lines.next().unwrap_or_default();
    out.check(printed.strip_prefix('\u{1}') == Some(own) && !own.is_empty(), "\\001PID then the same PID");

    let out = mnexec().args(["-p", "echo", "hi"]).ok();
    let text = &out.raw_stdout;
    let pid = String::from_utf8_lossy(&text[1..text.len() - 4]).into_owned();
    out.check(
        text[0] == 1 && text.ends_with(b"\nhi\n") && pid.parse::<u32>().is_ok(),
        "exactly \\001<pid>\\nhi\\n",
    );
}

#[test]
fn attach_by_pid_and_by_namespace_file() {
    let mut lab = Lab::new();
    let holder = namespace_holder(&mut lab);
    let want_net = ns_inode(holder, "net").expect("holder netns");
    let want_mnt = ns_inode(holder, "mnt").expect("holder mntns");

    let out = mnexec()
        .args(["-a", &holder.to_string(), "sh", "-c", "stat -L -c %i /proc/self/ns/net /proc/self/ns/mnt"])
        .ok();
    let inodes: Vec<u64> = out.stdout.split_whitespace().filter_map(|s| s.parse().ok()).collect();
    out.check(inodes == [want_net, want_mnt], "the holder's network and mount namespaces");

    let path = format!("/proc/{holder}/ns/net");
    let out = mnexec().args(["-a", &path, "stat", "-L", "-c", "%i", "/proc/self/ns/net"]).ok();
    out.check(out.stdout.trim() == want_net.to_string(), "the holder's network namespace");
}

#[test]
fn flags_act_in_the_order_given() {
    let mut lab = Lab::new();
    let holder = namespace_holder(&mut lab);
    let holder_net = ns_inode(holder, "net").expect("holder netns").to_string();
    let pid = holder.to_string();
    let stat = ["stat", "-L", "-c", "%i", "/proc/self/ns/net"];

    let out = mnexec().args(["-n", "-a", &pid]).args(stat).ok();
    out.check(out.stdout.trim() == holder_net, "-n then -a ends in the holder's namespace");
    let out = mnexec().args(["-a", &pid, "-n"]).args(stat).ok();
    out.check(out.stdout.trim() != holder_net, "-a then -n ends in a new namespace");
}

#[test]
fn close_fds_closes_inherited_descriptors() {
    let file = std::fs::File::open("/proc/self/status").expect("open a file");
    let with_fd5 = |flags: &[&str]| {
        let mut cmd = mnexec().args(flags).args(["ls", "/proc/self/fd"]);
        let raw = std::os::fd::AsRawFd::as_raw_fd(&file);
        // SAFETY: dup2 and fcntl are async-signal-safe. Should the file be
        // fd 5 already, dup2 does nothing: FD_CLOEXEC is cleared either way.
        unsafe {
            cmd.command().pre_exec(move || {
                if libc::dup2(raw, 5) < 0 || libc::fcntl(5, libc::F_SETFD, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        cmd.ok()
    };
    let kept = with_fd5(&[]);
    kept.check(kept.stdout.lines().any(|l| l == "5"), "fd 5 inherited without -c (control)");
    let closed = with_fd5(&["-c"]);
    let fds: Vec<u32> = closed.stdout.lines().filter_map(|l| l.parse().ok()).collect();
    // ls opens one descriptor of its own to list the directory.
    closed.check(fds.iter().all(|&fd| fd <= 3) && !fds.contains(&5), "only 0-2 and ls's own fd");
}

/// The session and pid fields of a /proc/PID/stat line.
fn session_and_pid(stat: &str) -> (String, String) {
    // pid (comm) state ppid pgrp session ...
    let stat = stat.trim();
    let after_comm = &stat[stat.rfind(')').map_or(0, |i| i + 2)..];
    let fields: Vec<&str> = after_comm.split(' ').collect();
    let pid = stat.split(' ').next().unwrap_or_default().to_string();
    (fields.get(3).copied().unwrap_or_default().to_string(), pid)
}

#[test]
fn detach_starts_a_new_session() {
    let out = mnexec().args(["-d", "cat", "/proc/self/stat"]).ok();
    let (session, pid) = session_and_pid(&out.stdout);
    out.check(session == pid, "the command leads its own session");

    let out = mnexec().args(["cat", "/proc/self/stat"]).ok();
    let (session, pid) = session_and_pid(&out.stdout);
    out.check(session != pid, "without -d the session is inherited (control)");
}

#[test]
fn detach_forks_when_already_a_group_leader() {
    let lab = Lab::new();
    std::fs::create_dir_all(&lab.dir).expect("lab dir");
    let marker = lab.dir.join("stat");
    let script = format!("exec cat /proc/self/stat > {}", marker.display());
    let mut cmd = mnexec().args(["-d", "sh", "-c", &script]);
    cmd.command().process_group(0);
    let out = cmd.ok();
    out.check(out.stdout.is_empty(), "the parent exits 0 at once");
    assert!(eventually(Duration::from_secs(5), || std::fs::read_to_string(&marker)
        .is_ok_and(|s| s.ends_with('\n'))));
    let stat = std::fs::read_to_string(&marker).expect("marker");
    let (session, pid) = session_and_pid(&stat);
    assert_eq!(session, pid, "the forked child leads a new session");
}

/// A cgroup made for one test, removed afterwards.
struct TestCgroup(Vec<std::path::PathBuf>, String);

impl TestCgroup {
    fn new() -> TestCgroup {
        let name = unique("mntestcg");
        let root = std::path::Path::new("/sys/fs/cgroup");
        let v2 = std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap_or_default()
            .lines()
            .any(|l| l.contains(" /sys/fs/cgroup ") && l.contains(" - cgroup2 "));
        let dirs = if v2 { vec![root.join(&name)] } else { vec![root.join("cpu").join(&name)] };
        for dir in &dirs {
            std::fs::create_dir(dir).expect("create a test cgroup");
        }
        TestCgroup(dirs, name)
    }
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        for dir in &self.0 {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

#[test]
fn cgroup_join_and_missing_cgroup() {
    let group = TestCgroup::new();
    let out = mnexec().args(["-g", &group.1, "cat", "/proc/self/cgroup"]).ok();
    out.check(out.stdout.lines().any(|l| l.ends_with(&format!("/{}", group.1))), "the command in the cgroup");

    let missing = unique("nosuchgroup");
    let out = mnexec().args(["-g", &missing, "true"]).code(1);
    assert_error(&out, &format!("mnexec: cgroup {missing}: no such cgroup"));
}

#[test]
fn rtprio_sets_sched_rr() {
    let out = mnexec().args(["-r", "1", "chrt", "-p", "0"]).ok();
    out.check(
        out.stdout.contains("SCHED_RR") && out.stdout.contains("priority: 1"),
        "SCHED_RR at priority 1",
    );
}

#[test]
fn bad_input() {
    let out = mnexec().args(["-x", "true"]).code(1);
    out.check(
        out.stderr.contains("invalid option -- 'x'") && out.stderr.contains("Usage: mnexec"),
        "getopt's message and the usage",
    );

    let out = mnexec().arg("-c").code(1);
    out.check(out.stderr.contains("Usage: mnexec"), "usage when the command is missing");

    let out = mnexec().args(["-a", "999999999", "true"]).code(1);
    assert_eq!(out.stderr, "mnexec: -a 999999999: no such process\n");

    let out = mnexec().args(["-a", "notapid", "true"]).code(1);
    assert_eq!(out.stderr, "mnexec: -a notapid: not a pid or a namespace file\n");

    let out = mnexec().args(["-a", "/etc/hostname", "true"]).code(1);
    assert_eq!(out.stderr, "mnexec: -a /etc/hostname: not a network namespace\n");

    let out = mnexec().arg("nosuchcmd").code(1);
    assert_eq!(out.stderr, "mnexec: nosuchcmd: No such file or directory\n");

    let out = mnexec().args(["-r", "soon", "true"]).code(1);
    out.check(
        out.stderr.starts_with("mnexec: -r soon: not a priority (a number from 1 to 99)\n"),
        "a clear -r error, then the usage",
    );
}

#[test]
fn runs_the_command_with_its_own_status() {
    let out = mnexec().args(["sh", "-c", "exit 7"]).run();
    out.check(out.code() == Some(7), "the command's exit status");
    let out = mnexec().arg("-v").ok();
    out.check(out.stdout.starts_with("mnexec "), "a version line");
    let out = mnexec().arg("--help").ok();
    out.check(out.stdout.contains("-a <PID|NSPATH>"), "help text");
}
