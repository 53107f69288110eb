//! mnnode must never delete what is not its own, never be led through
//! another user's symlink, never leave an `ip netns` name that means
//! another namespace, and never let two labs meet (issue 11).
use mn_tests::{Lab, alive, assert_error, eventually, netns_entry, ns_inode, survivors, ticks};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

#[test]
fn clean_and_del_refuse_a_directory_without_the_lab_marker() {
    let lab = Lab::new();
    // The issue's repro: `cd /tmp/p; MN_DIR=. mnnode clean -v`.
    let p = lab.parent().join("p");
    std::fs::create_dir_all(p.join("src")).expect("mkdir");
    std::fs::write(p.join("src/f"), "x").expect("write");
    chmod(&p, 0o700);
    let mut clean = lab.cmd("mnnode").args(["clean", "-v"]).env("MN_DIR", ".");
    clean.command().current_dir(&p);
    let out = clean.code(1);
    let refusal = format!(
        "mnnode: {}: not a lab directory (no .mn-lab marker); refusing to delete anything",
        p.display()
    );
    assert_error(&out, &refusal);
    out.check(out.stdout.is_empty(), "nothing said removed");
    assert_eq!(std::fs::read_to_string(p.join("src/f")).expect("f kept"), "x");
    assert_error(&lab.cmd("mnnode").args(["del", "src"]).env("MN_DIR", &p).code(1), &refusal);
    let out = lab.cmd("mnnode").args(["add", "h1"]).env("MN_DIR", &p).code(1);
    let not_empty = "not a lab directory (no .mn-lab marker) and not empty; refusing to make a lab in it";
    assert_error(&out, &format!("mnnode: {}: {not_empty}", p.display()));
    assert!(p.join("src/f").exists() && !p.join("h1").exists() && !p.join(".mn-lab").exists());
    let out = lab.cmd("mnnode").arg("list").env("MN_DIR", &p).code(1);
    assert_error(&out, &format!("mnnode: {}: not a lab directory (no .mn-lab marker)", p.display()));

    // An empty directory becomes a lab, and is marked.
    std::fs::create_dir(&lab.dir).expect("mkdir");
    chmod(&lab.dir, 0o700);
    lab.cmd("mnnode").args(["add", "h1"]).ok();
    assert_eq!(lab.id().len(), 16);
    let marker = lab.dir.join(".mn-lab");
    assert_eq!(std::fs::metadata(&marker).expect("marker").permissions().mode() & 0o777, 0o600);
    lab.cmd("mnnode").arg("clean").ok();
    assert!(marker.exists(), "clean keeps the lab a lab");
}

#[test]
fn clean_removes_only_node_directories_and_only_the_tools_files() {
    let lab = Lab::new();
    lab.cmd("mnnode").args(["add", "h1", "h2"]).ok();
    let h1 = lab.node_pid("h1");
    std::fs::write(lab.dir.join("h1/notes"), "mine").expect("a stranger's file");
    std::fs::create_dir(lab.dir.join("src")).expect("a directory that is not a node");
    std::fs::write(lab.dir.join("src/f"), "x").expect("write");
    let out = lab.cmd("mnnode").args(["clean", "-v"]).code(1);
    let h1_dir = lab.dir.join("h1");
    assert_error(
        &out,
        &format!("mnnode: {}: holds files mnnode did not make (notes); left it in place", h1_dir.display()),
    );
    out.check(
        out.stdout.contains(&format!("left {}: not a node directory", lab.dir.join("src").display())),
        "src",
    );
    assert_eq!(std::fs::read_to_string(lab.dir.join("h1/notes")).expect("kept"), "mine");
    assert!(lab.dir.join("h1/node").exists(), "h1's directory left whole");
    assert!(lab.dir.join("src/f").exists());
    assert!(!lab.dir.join("h2").exists(), "h2 removed");
    assert!(!alive(h1), "h1's processes end all the same");
    let out = lab.cmd("mnnode").arg("list").ok();
    out.check(out.stdout.lines().any(|l| l.starts_with("h1") && l.ends_with("dead")), "h1 listed dead");

    std::fs::remove_file(lab.dir.join("h1/notes")).expect("rm");
    lab.cmd("mnnode").arg("clean").ok();
    assert!(!lab.dir.join("h1").exists());
    assert!(lab.dir.join("src/f").exists(), "a directory without a record is never removed");
}

#[test]
fn mn_dir_through_another_users_symlink_is_refused() {
    let lab = Lab::new();
    let real = lab.parent().join("real");
    std::fs::create_dir(&real).expect("mkdir");
    let link = lab.parent().join("link");
    std::os::unix::fs::symlink(&real, &link).expect("symlink");
    let chown = lab.cmd("chown").args(["-h", "65534:65534"]).arg(&link).ok();
    chown.check(std::fs::symlink_metadata(&link).expect("link").uid() == 65534, "the symlink is nobody's");
    let name = mn_tests::unique("lab");
    let out = lab.cmd("mnnode").args(["add", "h1"]).env("MN_DIR", link.join(&name)).code(1);
    assert_error(
        &out,
        &format!(
            "mnnode: {}: a symlink owned by uid 65534, neither us nor root; refusing to follow it",
            link.display()
        ),
    );
    assert_eq!(std::fs::read_dir(&real).expect("dir").count(), 0, "nothing made through it");

    // Our own symlink is followed.
    lab.cmd("chown").args(["-h", "0:0"]).arg(&link).ok();
    lab.cmd("mnnode").args(["add", "h1"]).env("MN_DIR", link.join(&name)).ok();
    assert!(real.join(&name).join("h1/node").exists());
    lab.cmd("mnnode").arg("clean").env("MN_DIR", link.join(&name)).ok();
}

#[test]
fn mn_dir_under_a_directory_writable_by_others_is_refused() {
    let lab = Lab::new();
    let shared = lab.parent().join("shared");
    std::fs::create_dir(&shared).expect("mkdir");
    chmod(&shared, 0o775);
    let name = mn_tests::unique("lab");
    let out = lab.cmd("mnnode").args(["add", "h1"]).env("MN_DIR", shared.join(&name)).code(1);
    assert_error(
        &out,
        &format!(
            "mnnode: {}: a directory writable by others (mode 0775) on the way to MN_DIR; refusing to use it",
            shared.display()
        ),
    );
    assert!(!shared.join(&name).exists());

    // Sticky, as /tmp, with our own directory next: fine.
    chmod(&shared, 0o1777);
    lab.cmd("mnnode").args(["add", "h1"]).env("MN_DIR", shared.join(&name)).ok();
    lab.cmd("mnnode").arg("clean").env("MN_DIR", shared.join(&name)).ok();
}

fn mount_points_under(mountinfo: &str, dir: &str) -> Vec<String> {
    mountinfo
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|m| m.starts_with(dir))
        .map(String::from)
        .collect()
}

/// Starts a process (tracked by the lab) with the pid `pid`, by setting
/// the kernel's last pid just before forking; false if other processes
/// kept taking it.
fn reuse_pid(lab: &mut Lab, pid: i32) -> bool {
    // Free once reaped, not before.
    let proc = PathBuf::from(format!("/proc/{pid}"));
    if !eventually(Duration::from_secs(10), || !proc.exists()) {
        return false;
    }
    for _ in 0..200 {
        if std::fs::write("/proc/sys/kernel/ns_last_pid", (pid - 1).to_string()).is_err() {
            return false;
        }
        let child = lab.cmd("sleep").arg("600").spawn();
        let got = child.id() as i32;
        lab.track(child);
        if got == pid {
            return true;
        }
    }
    false
}

#[test]
fn ip_netns_entry_pins_the_nodes_namespace_after_its_shell_dies() {
    let mut lab = Lab::new();
    lab.cmd("mnnode").args(["add", "h1", "h2"]).ok();
    let pid = lab.node_pid("h1");
    let inode = ns_inode(pid, "net").expect("netns");
    let ns = format!("{}-h1", lab.name());
    lab.cmd("ip").args(["-n", &ns, "link", "add", "pin0", "type", "veth", "peer", "pin1"]).ok();
    // SAFETY: killing the shell this test's lab started.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    assert!(eventually(Duration::from_secs(5), || !alive(pid)));
    let entry = netns_entry(&lab, "h1");
    assert_eq!(std::fs::metadata(&entry).expect("entry").ino(), inode, "the entry holds h1's namespace");
    // Force the pid's reuse by a process in the root namespace: the name
    // still means h1's namespace, which it holds (a symlink to
    // /proc/PID/ns/net came to mean the root namespace).
    let reused = reuse_pid(&mut lab, pid);
    assert!(reused, "pid {pid} reused by a process of the root namespace");
    let out = lab.cmd("ip").args(["-n", &ns, "-o", "link", "show"]).ok();
    out.check(out.stdout.contains("pin0") && out.stdout.lines().count() == 3, "lo, pin0, pin1: h1's links");
    let out = lab.cmd("mnnode").arg("list").ok();
    out.check(out.stdout.lines().any(|l| l.starts_with("h1") && l.ends_with("dead")), "h1 listed dead");

    // No node's mount namespace keeps copies of the entries.
    let theirs =
        std::fs::read_to_string(format!("/proc/{}/mountinfo", lab.node_pid("h2"))).expect("mountinfo");
    assert_eq!(mount_points_under(&theirs, "/run/netns"), Vec::<String>::new());

    let since = ticks();
    lab.cmd("mnnode").args(["del", "h1"]).ok();
    assert!(!entry.exists(), "the entry is removed");
    let ours = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    assert!(
        !mount_points_under(&ours, &entry.to_string_lossy()).iter().any(|m| m == &*entry.to_string_lossy())
    );
    assert_eq!(survivors("net", inode, since), Vec::<i32>::new());
}

#[test]
fn labs_of_the_same_name_in_different_directories_never_touch_each_other() {
    let a = Lab::named("lab");
    let b = Lab::named("lab");
    let (x, y) = (mn_tests::unique("x"), mn_tests::unique("y"));
    let ra = format!("{x}a");
    for (lab, peer) in [(&a, &x), (&b, &y)] {
        lab.cmd("mnnode").args(["add", "--root", "--cpu", "0.5", &ra, peer]).ok();
    }
    // The same node name in both labs, different interfaces in the root namespace.
    a.cmd("mnlink").args(["add", &format!("{ra}-eth0"), &format!("{x}-eth0")]).ok();
    b.cmd("mnlink").args(["add", &format!("{ra}-eth1"), &format!("{y}-eth0")]).ok();
    assert_ne!(a.id(), b.id());
    a.cmd("mnlink").args(["down", &format!("{ra}-eth0")]).ok();
    let link = |ifname: String| a.cmd("ip").args(["-o", "link", "show", &ifname]);
    let out = link(format!("{ra}-eth1")).run();
    out.check(out.status.success() && out.stdout.contains(",UP"), "b's link untouched by a's down");

    a.cmd("mnnode").args(["del", &ra]).ok();
    link(format!("{ra}-eth0")).fails();
    link(format!("{ra}-eth1")).ok();
    assert!(alive(b.node_pid(&ra)), "b's node of the same name lives");
    let group = |lab: &Lab| format!("mn-{}-{ra}", lab.id());
    let groups = std::fs::read_to_string(format!("/proc/{}/cgroup", b.node_pid(&ra))).expect("cgroup");
    assert!(groups.contains(&group(&b)), "{groups}");
    a.cmd("mnnode").arg("clean").ok();
    link(format!("{ra}-eth1")).ok();
    let out = b.cmd("mnnode").arg("list").ok();
    out.check(out.stdout.matches("running").count() == 2, "b's nodes untouched by a's clean");

    // Namespaced nodes of the same name would share an `ip netns` name.
    let h = mn_tests::unique("h");
    a.cmd("mnnode").args(["add", &h]).ok();
    let out = b.cmd("mnnode").args(["add", &h]).code(1);
    let taken = format!(
        "mnnode: {h}: ip netns name lab-{h} is taken (by another lab named lab?); give this lab another MN_DIR name"
    );
    assert_error(&out, &taken);
    assert!(alive(a.node_pid(&h)));
}

fn cpu_cgroup_root() -> PathBuf {
    let v1 = Path::new("/sys/fs/cgroup/cpu");
    if v1.join("cpu.cfs_quota_us").exists() { v1.to_path_buf() } else { PathBuf::from("/sys/fs/cgroup") }
}

fn groups_of(lab: &Lab) -> Vec<String> {
    let prefix = format!("mn-{}-", lab.id());
    std::fs::read_dir(cpu_cgroup_root())
        .expect("cgroup root")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with(&prefix))
        .collect()
}

/// Live processes started as shells of this lab's nodes.
fn shells_of(lab: &Lab) -> Vec<i32> {
    let var = format!("__MN_FIFO={}/", lab.dir.display()).into_bytes();
    mnnode::procfs::pids()
        .into_iter()
        .filter(|&pid| alive(pid))
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|&b| b == 0).any(|v| v.starts_with(&var)))
        })
        .collect()
}

#[test]
fn clean_after_kill_9_of_add_with_cpu_removes_the_cgroups() {
    let lab = Lab::new();
    lab.cmd("mnnode").args(["add", "first"]).ok();
    let names: Vec<String> = (1..=40).map(|i| format!("c{i}")).collect();
    // Killed early, midway and late in the call.
    for made in [1, 8, 20] {
        let add = lab.cmd("mnnode").args(["add", "--cpu", "0.1"]).args(&names).start();
        let some = eventually(Duration::from_secs(60), || groups_of(&lab).len() >= made);
        add.signal(libc::SIGKILL);
        let _ = add.finish();
        assert!(some, "the add got as far as making {made} cgroups");
        lab.cmd("mnnode").arg("clean").ok();
        assert_eq!(groups_of(&lab), Vec::<String>::new(), "no cgroup left after {made}");
        assert_eq!(std::fs::read_dir(&lab.dir).expect("lab").count(), 1, "only the marker is left");
        assert_eq!(mn_tests::netns_entries(&lab), Vec::<String>::new(), "no ip netns entry left");
        assert_eq!(shells_of(&lab), Vec::<i32>::new(), "no shell left");
    }
    lab.cmd("mnnode").args(["add", "--cpu", "0.1", "c1"]).ok();
    assert_eq!(groups_of(&lab), vec![format!("mn-{}-c1", lab.id())]);
}

#[test]
fn clean_reports_a_cgroup_it_cannot_remove() {
    let lab = Lab::new();
    lab.cmd("mnnode").args(["add", "h1"]).ok();
    let group = cpu_cgroup_root().join(format!("mn-{}-h9", lab.id()));
    std::fs::create_dir_all(group.join("sub")).expect("a group with a child group cannot be removed");
    let out = lab.cmd("mnnode").args(["clean"]).code(1);
    let _ = std::fs::remove_dir(group.join("sub"));
    assert_error(
        &out,
        &format!("mnnode: {}: still busy after 5s (0 processes in it); left in place", group.display()),
    );
    assert!(!lab.dir.join("h1").exists(), "everything else was removed");
    lab.cmd("mnnode").arg("clean").ok();
    assert!(!group.exists());
}

#[test]
fn a_lab_of_an_older_mnnode_without_a_marker_is_adopted_only_if_it_holds_nothing_but_nodes() {
    let lab = Lab::new();
    lab.cmd("mnnode").args(["add", "h1", "h2"]).ok();
    let h1 = lab.node_pid("h1");
    let marker = lab.dir.join(".mn-lab");
    std::fs::remove_file(&marker).expect("as an older mnnode left it");
    std::fs::write(lab.dir.join("notes"), "mine").expect("write");
    let out = lab.cmd("mnnode").arg("clean").code(1);
    let refusal = "not a lab directory (no .mn-lab marker); refusing to delete anything";
    assert_error(&out, &format!("mnnode: {}: {refusal}", lab.dir.display()));
    assert!(alive(h1));

    std::fs::remove_file(lab.dir.join("notes")).expect("rm");
    let out = lab.cmd("mnnode").args(["clean", "-v"]).ok();
    out.check(out.stdout.contains("removed host h1") && out.stdout.contains("removed host h2"), "cleaned");
    assert!(marker.exists(), "now marked");
}

#[test]
fn a_cgroup_left_in_use_is_named_on_add_and_emptied_by_clean() {
    let mut lab = Lab::new();
    lab.cmd("mnnode").args(["add", "h1"]).ok();
    let group = format!("mn-{}-c9", lab.id());
    let dir = cpu_cgroup_root().join(&group);
    std::fs::create_dir(&dir).expect("a group an earlier c9 left");
    let sleeper = lab.track(lab.cmd("sleep").arg("1000").spawn());
    let tasks = if dir.join("tasks").exists() { "tasks" } else { "cgroup.procs" };
    std::fs::write(dir.join(tasks), sleeper.to_string()).expect("a process left in it");
    let out = lab.cmd("mnnode").args(["add", "--cpu", "0.2", "c9"]).code(1);
    assert_error(
        &out,
        &format!(
            "mnnode: c9: cgroup {group} of an earlier node of that name still has processes; mnnode clean ends them"
        ),
    );
    lab.cmd("mnnode").arg("clean").ok();
    assert!(!dir.exists(), "clean ended the process and removed the group");
    lab.cmd("mnnode").args(["add", "--cpu", "0.2", "c9"]).ok();
}

#[test]
fn a_record_naming_another_node_or_a_foreign_cgroup_is_not_acted_on() {
    let lab = Lab::new();
    lab.cmd("mnnode").args(["add", "h1", "h2"]).ok();
    let h2 = lab.node_pid("h2");
    let record = lab.dir.join("h1/node");
    let text = std::fs::read_to_string(&record).expect("record");
    std::fs::write(&record, text.replace("name=h1", "name=h2")).expect("write");
    let out = lab.cmd("mnnode").args(["del", "h1"]).code(1);
    assert_error(&out, &format!("mnnode: {}: the record names another node (h2)", record.display()));
    assert!(alive(h2) && lab.dir.join("h2").exists(), "h2 untouched");

    // A record's cgroup is removed only if mnnode could have made it.
    let decoy = lab.parent().join("mn-decoy");
    std::fs::create_dir(&decoy).expect("an empty directory");
    let text = std::fs::read_to_string(lab.dir.join("h2/node")).expect("record");
    std::fs::write(lab.dir.join("h2/node"), format!("{text}cgroup={}\n", decoy.display())).expect("write");
    lab.cmd("mnnode").args(["del", "h2"]).ok();
    assert!(decoy.exists(), "an empty directory named in a record is left alone");
}

#[test]
fn ctrl_c_during_add_undoes_the_whole_call() {
    let lab = Lab::new();
    let names: Vec<String> = (1..=150).map(|i| format!("i{i}")).collect();
    let add = lab.cmd("mnnode").arg("add").args(&names).start();
    let begun = eventually(Duration::from_secs(60), || mn_tests::netns_entries(&lab).len() >= 3);
    add.signal(libc::SIGINT);
    let out = add.finish();
    assert!(begun, "the add got as far as registering nodes");
    // Undone, then ended by the signal itself (a shell says 130), as an
    // interrupted program should.
    out.check(out.status.signal() == Some(libc::SIGINT), "mnnode ended by SIGINT");
    assert_eq!(mn_tests::netns_entries(&lab), Vec::<String>::new(), "no ip netns entry left");
    assert_eq!(shells_of(&lab), Vec::<i32>::new(), "no shell left");
    assert_eq!(std::fs::read_dir(&lab.dir).expect("lab").count(), 1, "only the marker is left");
}

#[test]
fn concurrent_adds_into_a_new_lab_share_its_marker() {
    // mn adds hosts and switches at once into a lab that does not exist
    // yet: the one that marks it second must find the marker, not take the
    // directory for a stranger's.
    for round in 0..5 {
        let lab = Lab::new();
        let hosts = lab.cmd("mnnode").args(["add", "a1", "a2"]).start();
        let switches = lab.cmd("mnnode").args(["add", "--kind", "switch", "b1"]).start();
        for out in [hosts.finish(), switches.finish()] {
            out.check(out.status.success(), &format!("both adds succeed (round {round})"));
        }
        let list = lab.cmd("mnnode").arg("list").ok();
        assert_eq!(list.stdout.lines().count(), 4, "{}", list.stdout);
    }
}

/// An overlay mount for one test, unmounted when dropped.
struct Overlay(PathBuf);

impl Drop for Overlay {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_lab_on_a_filesystem_without_o_tmpfile_is_marked_all_the_same() {
    // overlayfs (a container's /run, the VM leg's /tmp) has no O_TMPFILE.
    let lab = Lab::new();
    let base = lab.parent().join("ovl");
    for part in ["lower", "upper", "work", "merged"] {
        std::fs::create_dir_all(base.join(part)).expect("mkdir");
    }
    let opts = format!(
        "lowerdir={},upperdir={},workdir={}",
        base.join("lower").display(),
        base.join("upper").display(),
        base.join("work").display()
    );
    let merged = base.join("merged");
    let mounted = std::process::Command::new("mount")
        .args(["-t", "overlay", "overlay", "-o", &opts])
        .arg(&merged)
        .status()
        .expect("run mount");
    assert!(mounted.success(), "mount an overlay");
    let _overlay = Overlay(merged.clone());
    let dir = merged.join("lab");
    lab.cmd("mnnode").env("MN_DIR", &dir).args(["add", "h1"]).ok();
    let marker = std::fs::read_to_string(dir.join(".mn-lab")).expect("the marker");
    assert!(marker.starts_with("mn-lab 1\nid="), "{marker}");
    let names: Vec<String> = std::fs::read_dir(&dir)
        .expect("lab")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into())
        .collect();
    assert_eq!(names.len(), 2, "the marker and h1, no temporary file: {names:?}");
    let out = lab.cmd("mnrun").env("MN_DIR", &dir).args(["h1", "echo ok"]).ok();
    assert_eq!(out.stdout, "ok\n");
    lab.cmd("mnnode").env("MN_DIR", &dir).arg("clean").ok();
}

#[test]
fn clean_ends_only_session_leaders_that_look_like_an_unfinished_nodes_shell() {
    let lab = Lab::new();
    lab.cmd("mnnode").args(["add", "h1"]).ok();
    // An unfinished node: a directory with a FIFO and no record, as an add
    // killed mid-start leaves it.
    let dir = lab.dir.join("u1");
    std::fs::create_dir(&dir).expect("mkdir");
    chmod(&dir, 0o700);
    assert!(std::process::Command::new("mkfifo").arg(dir.join("fifo")).status().expect("mkfifo").success());
    // A process that merely carries that node's variable, in no session of
    // its own (a program a user started with it, say).
    let mut bystander = std::process::Command::new("sleep")
        .arg("300")
        .env("__MN_FIFO", dir.join("fifo"))
        .spawn()
        .expect("start sleep");
    let pid = bystander.id() as i32;
    lab.cmd("mnnode").arg("clean").ok();
    let survived = alive(pid);
    let _ = bystander.kill();
    let _ = bystander.wait();
    assert!(survived, "clean left a process that is not a node shell alone");
    assert!(!dir.exists(), "the unfinished node's directory went");
}

#[test]
fn clean_removes_the_empty_directory_of_an_add_killed_right_after_claiming_a_name() {
    let lab = Lab::new();
    lab.cmd("mnnode").args(["add", "h1"]).ok();
    // What an add killed between mkdir and mkfifo leaves.
    let claimed = lab.dir.join("c1");
    std::fs::create_dir(&claimed).expect("mkdir");
    chmod(&claimed, 0o700);
    lab.cmd("mnnode").arg("clean").ok();
    assert!(!claimed.exists(), "the claimed name is free again");
    assert_eq!(std::fs::read_dir(&lab.dir).expect("lab").count(), 1, "only the marker is left");
}

/// Two adds at once into a new MN_DIR make one lab, as mn's adds of hosts
/// and switches do. Where the filesystem has no O_TMPFILE (overlayfs
/// before Linux 6.6: the VM leg's /tmp) the marker is written under a
/// temporary name first, and the other add used to find the directory
/// "not a lab directory and not empty".
#[test]
fn two_adds_at_once_make_one_lab() {
    let lab = Lab::new();
    for round in 0..30 {
        let dir = lab.parent().join(mn_tests::unique("two"));
        let hosts = lab.cmd("mnnode").args(["add", "--lazy", "h1", "h2"]).env("MN_DIR", &dir).start();
        let switch =
            lab.cmd("mnnode").args(["add", "--lazy", "--kind", "switch", "s1"]).env("MN_DIR", &dir).start();
        let (hosts, switch) = (hosts.finish(), switch.finish());
        hosts.check(hosts.status.success(), &format!("round {round}: the hosts' add"));
        switch.check(switch.status.success(), &format!("round {round}: the switch's add"));
        let list = lab.cmd("mnnode").arg("list").env("MN_DIR", &dir).ok();
        list.check(list.stdout.lines().count() == 4, "one lab with all three nodes");
        lab.cmd("mnnode").arg("clean").env("MN_DIR", &dir).ok();
    }
}

/// Where /run is a disk (this machine's: its ext4 without a journal made
/// each lab made back to back slower to add than the last), a new lab's
/// directory under /run and /run/netns get a tmpfs of their own; a
/// directory that holds anything is left as it is, so nothing is hidden,
/// and a lab elsewhere is never mounted on. Run in a mount namespace of
/// its own whose /run is a directory of this test's.
#[test]
fn a_new_lab_under_a_disk_run_gets_a_tmpfs() {
    let lab = Lab::new();
    if fs_name(lab.parent()) == "tmpfs" {
        mn_tests::skip(
            "a_new_lab_under_a_disk_run_gets_a_tmpfs",
            "the test's directories are on a tmpfs already",
        );
        return;
    }
    let run = lab.parent().join("run");
    std::fs::create_dir(&run).expect("mkdir");
    let (h1, h2, s1) = (mn_tests::unique("h"), mn_tests::unique("h"), mn_tests::unique("s"));
    let script = r#"
        set -e
        mount --bind "$RUN" /run
        export MN_DIR=/run/lab
        trap 'mnnode clean >/dev/null' EXIT
        mnnode add --lazy "$H1" "$H2" & a=$!
        mnnode add --lazy --kind switch "$S1" & s=$!
        wait $a && wait $s
        echo "lab $(stat -f -c %T /run/lab) netns $(stat -f -c %T /run/netns) nodes $(mnnode list | tail -n +2 | wc -l)"
        echo "mounted $(findmnt -n /run/lab | wc -l) beneath $(ls -A "$RUN/lab" | wc -l)"
        mnrun "$H1" 'echo shell ok'
        mkdir -m 700 /run/held && echo mine >/run/held/notes
        MN_DIR=/run/held mnnode add --lazy "$H1" 2>&1 || true
        echo "held $(stat -f -c %T /run/held) $(cat /run/held/notes)"
        MN_DIR="$ELSEWHERE" mnnode add --lazy "$H2"
        echo "elsewhere $(findmnt -n "$ELSEWHERE" | wc -l)"
        MN_DIR="$ELSEWHERE" mnnode clean >/dev/null
        mnnode clean >/dev/null
        echo "cleaned: still mounted $(findmnt -n /run/lab | wc -l), entries $(ls -A /run/netns | wc -l)"
    "#;
    let out = lab
        .cmd("unshare")
        .args(["-m", "--propagation", "private", "bash", "-c", script])
        .env("RUN", &run)
        .env("ELSEWHERE", lab.parent().join("elsewhere"))
        .env("H1", &h1)
        .env("H2", &h2)
        .env("S1", &s1)
        .ok();
    let refused = "mnnode: /run/held: not a lab directory (no .mn-lab marker) and not empty; refusing to make a lab in it";
    let expected = format!(
        "lab tmpfs netns tmpfs nodes 3\nmounted 1 beneath 0\nshell ok\n{refused}\nheld {} mine\nelsewhere 0\ncleaned: still mounted 1, entries 0\n",
        fs_name(&run)
    );
    out.check(out.stdout == expected, &format!("this story:\n{expected}"));
    // Nothing of the lab was ever on the disk beneath.
    out.check(
        std::fs::read_dir(run.join("lab")).expect("lab dir").next().is_none(),
        "the disk's lab directory empty",
    );
}

/// What `stat -f -c %T` calls the file system of `path`.
fn fs_name(path: &Path) -> String {
    let out = mn_tests::Cmd::new("stat").args(["-f", "-c", "%T"]).arg(path).ok();
    out.stdout.trim().to_string()
}
