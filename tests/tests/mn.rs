//! scripts/mn: the launcher's tests, topologies, bad input, its scripts,
//! help and man page. The CLI is tested in mn_cli.rs.
use mn_tests::{
    Cmd, Lab, assert_error, bin_dir, eventually, mn, mn_in, netns_entries, nothing_left, nothing_made, repo,
    topologies, unique,
};
use std::time::Duration;

#[test]
fn pingall_on_the_builtin_topologies() {
    let lab = Lab::new();
    for (topo, pairs) in [("minimal", 2), ("single,4", 12), ("linear,4", 12), ("tree,2,2", 12)] {
        let out = mn(&lab).args(["--topo", topo, "--test", "pingall"]).ok();
        let want = format!("*** Results: 0% dropped ({pairs}/{pairs} received)");
        out.check(out.stdout.contains(&want), &want);
        nothing_left(&lab);
    }
}

#[test]
fn mininet_names_ports_and_addresses() {
    let lab = Lab::new();
    let out = mn(&lab).args(["--topo", "linear,3,2", "--keep", "--test", "build"]).ok();
    out.check(out.stdout.contains("h1s1 h2s1 h1s2 h2s2 h1s3 h2s3"), "linear,K,N host names");
    let links = lab.cmd("mnlink").arg("list").ok().stdout;
    for pair in ["h1s1-eth0  s1-eth1", "h2s1-eth0  s1-eth2", "s1-eth3    s2-eth3"] {
        assert!(links.contains(pair), "{pair} in\n{links}");
    }
    assert_eq!(lab.cmd("mnnode").args(["ip", "h2s3"]).ok().stdout, "10.0.0.6\n");
    mn(&lab).arg("-c").ok();
    nothing_left(&lab);
    mn(&lab)
        .args(["--topo", "single,2", "--ipbase", "192.168.5.0/24", "--mac", "--keep", "--test", "build"])
        .ok();
    assert_eq!(lab.cmd("mnnode").args(["ip", "h2"]).ok().stdout, "192.168.5.2\n");
    let mac = lab.cmd("mnrun").args(["h2", "cat /sys/class/net/h2-eth0/address"]).ok();
    assert_eq!(mac.stdout, "00:00:00:00:00:02\n");
}

#[test]
fn iperf_over_a_shaped_link() {
    let lab = Lab::new();
    let out = mn(&lab).args(["--topo", "single,2", "--link", "tc,bw=10", "--test", "iperf"]).ok();
    let line = out.stdout.lines().find(|l| l.starts_with("*** Results: ['")).expect("a results line");
    let server: f64 = line
        .split('\'')
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .expect("a rate");
    assert!((8.5..=11.5).contains(&server), "{line}");
    nothing_left(&lab);
}

#[test]
fn build_and_custom_topology_with_routers() {
    let lab = Lab::new();
    let out = mn(&lab).args(["--test", "build"]).ok();
    out.check(out.stdout.contains("*** Done") && out.stdout.contains("completed in"), "a build");
    let topo = repo().join("scripts/topologies/tworouters.sh");
    let out = mn(&lab).arg("--topo").arg(&topo).args(["--test", "pingall"]).ok();
    out.check(
        out.stdout.contains("0% dropped (2/2 received)"),
        "h1 and h2 reach each other through two routers",
    );
    nothing_left(&lab);
}

#[test]
fn bad_options_say_one_line_and_make_nothing() {
    let lab = Lab::new();
    let dir = topologies(&lab, &[]);
    let topos = "minimal, single,N, linear,K[,N], tree,DEPTH[,FANOUT], reversed,N, torus,X,Y[,N], fattree,K";
    let cases: Vec<(Vec<&str>, String)> = vec![
        (vec!["--topo"], "mn: --topo needs a value (see mn --help)".into()),
        (vec!["--topo="], "mn: --topo needs a value (see mn --help)".into()),
        (vec!["--test", "build", "--test"], "mn: --test needs a value (see mn --help)".into()),
        (vec!["--topo", "linear,0"], "mn: --topo linear,0: '0' is not a positive number".into()),
        (vec!["--topo", "tree,a"], "mn: --topo tree,a: 'a' is not a positive number".into()),
        (
            vec!["--topo", "tree,2,2,2"],
            format!("mn: --topo tree,2,2,2: too many numbers (topologies: {topos})"),
        ),
        (vec!["--topo", "nosuch"], format!("mn: --topo nosuch: not a topology ({topos}) nor a file")),
        (vec!["--topo", "."], "mn: --topo .: not a readable file".into()),
        (
            vec!["--link", "tc,foo=1"],
            "mn: --link tc,foo=1: foo is not a link option (bw, delay, jitter, loss, queue, mtu)".into(),
        ),
        (
            vec!["--link", "htb,bw=1"],
            "mn: --link htb,bw=1: only tc links exist here (tc,bw=10,delay=5ms)".into(),
        ),
        (
            vec!["--test", "nosuch"],
            "mn: --test nosuch: not a test (pingall, pingallfull, pingpair, iperf, build, none)".into(),
        ),
        (vec!["--frobnicate"], "mn: unknown option --frobnicate (see mn --help)".into()),
        (
            vec!["-v", "loud"],
            "mn: --verbosity loud: not a level (debug, info, output, warning, error)".into(),
        ),
        (
            vec!["--ipbase", "10.0.0.0/33"],
            "mn: --ipbase 10.0.0.0/33: not an IPv4 network such as 10.0.0.0/8".into(),
        ),
    ];
    for (args, says) in cases {
        let out = mn_in(&lab, &dir).args(["--test", "build"]).args(&args).code(1);
        assert_error(&out, &says);
        out.check(out.stdout.is_empty(), "nothing printed, nothing built");
    }
    nothing_made(&lab);
}

#[test]
fn the_size_bound_is_checked_before_anything_is_made() {
    let lab = Lab::new();
    let runaway = "for ((i = 1; ; i++)); do\n  host h$i\ndone\n";
    let dir = topologies(&lab, &[("runaway.sh", runaway)]);
    let cases = [
        ("single,99999999999999999999", "would make 99999999999999999999 hosts; the limit is 10000"),
        ("tree,20,20", "would make 104857600000000000000000000 hosts; the limit is 10000"),
        ("tree,99999999999999999999,2", "would make more than 10^100 hosts; the limit is 10000"),
        ("linear,100,101", "would make 10100 hosts; the limit is 10000"),
        ("tree,12000,1", "would make 12001 nodes (1 hosts and 12000 switches); the limit is 12000"),
    ];
    for (topo, says) in cases {
        let out = mn_in(&lab, &dir).args(["--test", "build", "--topo", topo]).code(1);
        assert_error(&out, &format!("mn: --topo {topo} {says}"));
    }
    let out = mn_in(&lab, &dir).args(["--test", "build", "--topo", "runaway.sh"]).code(1);
    assert_error(
        &out,
        "runaway.sh:2: host h10001: the topology would make more than 10000 hosts; the limit is 10000",
    );
    nothing_made(&lab);
}

#[test]
fn a_deep_tree_is_made_without_recursion() {
    // tree,5000,1 is 5000 switches in a chain and one host: bash's own
    // recursion would crash long before that depth.
    let out_file = std::env::temp_dir().join(unique("records"));
    let run = Cmd::new("bash")
        .arg(repo().join("scripts/lib/topo-run.sh"))
        .arg(&out_file)
        .args(["10000", "12000", "50000", "builtin", "tree", "5000", "1"])
        .ok();
    let records = std::fs::read_to_string(&out_file).expect("records");
    let _ = std::fs::remove_file(&out_file);
    let count = |verb: &str| records.lines().filter(|l| l.split('\x1f').nth(1) == Some(verb)).count();
    run.check(count("switch") == 5000 && count("host") == 1 && count("link") == 5000, "the whole chain");
    let last: Vec<&str> = records.lines().last().expect("a record").split('\x1f').collect();
    assert_eq!(last, ["0", "link", "s1", "s2"], "the root's link comes last, as Mininet orders it");
}

#[test]
fn topology_file_errors_name_the_file_and_line() {
    let lab = Lab::new();
    let dir = topologies(
        &lab,
        &[
            ("unknown.sh", "host h1\nfrobnicate h2\nhost h3\n"),
            ("syntax.sh", "host h1\nif then\n"),
            ("nonode.sh", "host h1\nlink h1 h9\n"),
            ("twice.sh", "host h1\nswitch s1\n\nhost h1\n"),
            ("option.sh", "host h1\nswitch s1\nlink h1 s1 speed=5\n"),
            ("blank.sh", "host h1\nswitch s1\nlink h1 s1 'bw=1 0'\n"),
            ("infunction.sh", "row() {\n  host \"$1\"\n  link \"$1\" s9\n}\nswitch s1\nrow h1\n"),
            ("exits.sh", "host h1\nexit 3\n"),
            ("noname.sh", "host h1\nswitch s1\nlink '' s1\n"),
            ("onelink.sh", "host h1\nlink h1\n"),
            ("nocmd.sh", "host h1\ncmd h1\n"),
            ("empty.sh", "# nothing\n"),
        ],
    );
    let cases = [
        (
            "unknown.sh",
            "unknown.sh:2: frobnicate: not a command (topology files use host, switch, router, link and cmd)",
        ),
        ("syntax.sh", "syntax.sh:2: syntax error near unexpected token `then'"),
        ("nonode.sh", "nonode.sh:2: link h1 h9: no node 'h9' (define nodes before their links)"),
        ("twice.sh", "twice.sh:4: host h1: h1 is defined twice"),
        (
            "option.sh",
            "option.sh:3: link h1 s1: unknown option speed=5 (bw, delay, jitter, loss, queue, mtu, intf1, intf2, ip1, ip2, mac1, mac2)",
        ),
        ("blank.sh", "blank.sh:3: link h1 s1: bw=1 0: a value needs no blanks and no #"),
        ("infunction.sh", "infunction.sh:3: link h1 s9: no node 's9' (define nodes before their links)"),
        ("exits.sh", "mn: --topo exits.sh: the topology exited with status 3"),
        ("noname.sh", "noname.sh:3: link  s1: no node '' (define nodes before their links)"),
        ("onelink.sh", "onelink.sh:2: link: needs two nodes"),
        ("nocmd.sh", "nocmd.sh:2: cmd: needs a node and a command"),
        ("empty.sh", "mn: --topo empty.sh: no nodes"),
    ];
    for (file, says) in cases {
        let out = mn_in(&lab, &dir).args(["--test", "build", "--topo", file]).code(1);
        assert_error(&out, says);
        out.check(out.stdout.is_empty(), "nothing built");
    }
    nothing_made(&lab);
}

#[test]
fn tool_errors_come_back_with_the_topology_line() {
    // Names and shaping values are checked by mnnode and mnlink only; mn
    // says which line of the file made the value they refused.
    let lab = Lab::new();
    let dir = topologies(
        &lab,
        &[
            ("delay.sh", "host h1\nhost h2\nswitch s1\nlink h1 s1 delay=5parsecs\nlink h2 s1\n"),
            ("name.sh", "host h1\nhost h-2\nswitch s1\n"),
            ("addr.sh", "host h1 ip=10.0.0.300/8\nswitch s1\nlink h1 s1\n"),
        ],
    );
    let cases = [
        ("delay.sh", "delay.sh:4: mnlink: --delay 5parsecs: "),
        ("name.sh", "name.sh:2: mnnode: \"h-2\": "),
        ("addr.sh", "addr.sh:1: mnlink: \"10.0.0.300/8\": "),
    ];
    for (file, starts) in cases {
        let out = mn_in(&lab, &dir).args(["--test", "build", "--topo", file]).code(1);
        out.check(out.stderr.lines().count() == 1 && out.stderr.starts_with(starts), starts);
        nothing_left(&lab);
    }
    let out = mn_in(&lab, &dir).args(["--test", "build", "--link", "tc,bw=abc"]).code(1);
    out.check(out.stderr.starts_with("mn: --link tc,bw=abc: mnlink: --bw abc: "), "the option named");
    nothing_left(&lab);
}

#[test]
fn a_topology_file_cannot_clobber_mn() {
    // Today's names of mn's own variables and functions, set and defined
    // by a topology: it runs in a process of its own.
    let clobber = "bin=/nonexistent\nhosts=()\nlinks=()\nkind=\nprog=x\ntmp=/\nlib=/\n\
        build() { echo clobbered; }\nmnnode() { :; }\nfail_at() { :; }\nset +e\n\
        host h1\nhost h2\nswitch s1\nlink h1 s1\nlink h2 s1\n[[ -n ${NOPE:-} ]] && echo never\n";
    let lab = Lab::new();
    let dir = topologies(&lab, &[("clobber.sh", clobber)]);
    let out = mn_in(&lab, &dir).args(["--topo", "clobber.sh", "--test", "pingall"]).ok();
    out.check(out.stdout.contains("*** Results: 0% dropped (2/2 received)"), "mn unharmed");
    out.check(!out.stdout.contains("clobbered"), "mn's build ran");
    nothing_left(&lab);
}

#[test]
fn a_topology_file_with_crlf_line_ends_works() {
    let lab = Lab::new();
    let dir =
        topologies(&lab, &[("dos.sh", "host h1\r\nhost h2\r\nswitch s1\r\nlink h1 s1\r\nlink h2 s1\r\n")]);
    let out = mn_in(&lab, &dir).args(["--topo", "dos.sh", "--test", "pingall"]).ok();
    out.check(out.stdout.contains("h1 -> h2\n"), "names without \\r");
    out.check(out.stdout.contains("*** Results: 0% dropped (2/2 received)"), "a working network");
    nothing_left(&lab);
}

/// A PATH with everything the system has but ping.
fn path_without_ping(lab: &Lab) -> std::path::PathBuf {
    let dir = lab.dir.with_file_name("nopingbin");
    std::fs::create_dir_all(&dir).expect("dir");
    for from in ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"] {
        let Ok(entries) = std::fs::read_dir(from) else { continue };
        for entry in entries.flatten() {
            let name = entry.file_name();
            if name != "ping" && !dir.join(&name).exists() {
                let _ = std::os::unix::fs::symlink(entry.path(), dir.join(&name));
            }
        }
    }
    dir
}

#[test]
fn missing_programs_are_named_before_anything_is_made() {
    let lab = Lab::new();
    let path = path_without_ping(&lab);
    let out = mn(&lab).env("PATH", &path).args(["--test", "pingall"]).code(1);
    assert_error(&out, "mn: ping not found (Debian package: iputils-ping)");
    out.check(out.stdout.is_empty(), "nothing built");
    nothing_made(&lab);
    // A file named ping that cannot run is no ping (`command -v` says it is).
    let noexec = lab.dir.with_file_name("noexec");
    std::fs::create_dir_all(&noexec).expect("dir");
    std::fs::write(noexec.join("ping"), "#!/bin/sh\nexit 0\n").expect("ping without its x bit");
    let with_noexec = format!("{}:{}", noexec.display(), path.display());
    let out = mn(&lab).env("PATH", &with_noexec).args(["--test", "pingall"]).code(1);
    assert_error(&out, "mn: ping not found (Debian package: iputils-ping)");
    nothing_made(&lab);
    let setup = Cmd::new(repo().join("scripts/setup")).env("PATH", &with_noexec).arg("--check").code(1);
    assert_eq!(setup.stdout, "setup: missing: iputils-ping\n");
    // The node shells are the PATH's bash, whatever bash runs mn.
    let old_bash = lab.dir.with_file_name("oldbash");
    std::fs::create_dir_all(&old_bash).expect("dir");
    std::fs::write(old_bash.join("bash"), "#!/bin/sh\necho 4\n").expect("fake bash");
    Cmd::new("chmod").arg("+x").arg(old_bash.join("bash")).ok();
    let old_path = format!("{}:{}", old_bash.display(), std::env::var("PATH").unwrap_or_default());
    let out = lab
        .cmd("/bin/bash")
        .arg(repo().join("scripts/mn"))
        .env("MN_BIN", bin_dir())
        .env("PATH", old_path)
        .code(1);
    assert_error(&out, "mn: bash 4: the node shells need bash 5 or later");
    nothing_made(&lab);
    // scripts/setup reads the same list: it would install exactly that.
    let setup = Cmd::new(repo().join("scripts/setup")).env("PATH", &path).arg("--check").code(1);
    assert_eq!(setup.stdout, "setup: missing: iputils-ping\n");
}

/// The fresh-machine check, in CI with the rest: the README's first command,
/// exactly as written, on a machine where ping is not installed. In a mount
/// namespace of the test's own, each directory of PATH that holds a ping
/// gets an overlay whose whiteout removes it; `cargo` is a stub (the tools
/// are built). mn must name the package, exit 1 and make nothing.
#[test]
fn the_readmes_first_command_on_a_machine_without_ping() {
    let lab = Lab::new();
    let readme = std::fs::read_to_string(repo().join("README.md")).expect("README.md");
    let command = readme
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("cargo build --release && scripts/mn "))
        .expect("the README's first command");
    let stubs = lab.dir.with_file_name("fresh-bin");
    std::fs::create_dir_all(&stubs).expect("dir");
    std::fs::write(stubs.join("cargo"), "#!/bin/sh\nexit 0\n").expect("cargo stub");
    Cmd::new("chmod").arg("+x").arg(stubs.join("cargo")).ok();
    let layers = lab.dir.with_file_name("fresh-layers");
    std::fs::create_dir_all(&layers).expect("dir");
    let script = format!(
        r#"d={layers}
mount -t tmpfs tmpfs "$d" || exit 99
for p in $(type -ap ping); do
    dir=$(cd "${{p%/*}}" && pwd -P) || exit 99
    [ -e "$d/u$dir/ping" ] && continue
    mkdir -p "$d/u$dir" "$d/w$dir" && mknod "$d/u$dir/ping" c 0 0 &&
        mount -t overlay overlay -o "lowerdir=$dir,upperdir=$d/u$dir,workdir=$d/w$dir" "$dir" || exit 99
done
! type -P ping || exit 98
cd {repo}
{command}
"#,
        layers = layers.display(),
        repo = repo().display()
    );
    let path = format!("{}:{}", stubs.display(), std::env::var("PATH").unwrap_or_default());
    let out = lab
        .cmd("unshare")
        .args(["-m", "--propagation", "private", "bash", "-c", &script])
        .env("PATH", path)
        .env("MN_BIN", bin_dir())
        .code(1);
    assert_error(&out, "mn: ping not found (Debian package: iputils-ping)");
    out.check(out.stdout.is_empty(), "nothing built, nothing said but the error");
    nothing_made(&lab);
}

#[test]
fn a_reply_after_an_arp_retry_is_not_a_drop() {
    // Each host's first ARP request is dropped where it arrives, as by a
    // port not forwarding yet or a starved machine: the kernel asks again
    // a second later and sends the one echo request it held. That ping is
    // delivered; Mininet's pingall waits for it, and so must mn's (with
    // ping -W1 it was reported dropped).
    let lab = Lab::new();
    let nft = "nft 'add table arp t; add chain arp t in { type filter hook input priority 0; }; \
               add rule arp t in quota until 28 bytes drop'";
    let topo =
        format!("host h1\nhost h2\nswitch s1\nlink h1 s1\nlink h2 s1\ncmd h1 \"{nft}\"\ncmd h2 \"{nft}\"\n");
    let dir = topologies(&lab, &[("arp.sh", &topo)]);
    let out = mn_in(&lab, &dir).args(["--topo", "arp.sh", "--test", "pingall", "-v", "output"]).ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        lines[..3],
        ["h1 -> h2", "h2 -> h1", "*** Results: 0% dropped (2/2 received)"],
        "{}",
        out.stdout
    );
    nothing_left(&lab);
}

#[test]
fn a_ping_that_cannot_run_is_an_error_not_a_drop() {
    // h1's shell loses ping (its PATH); its pings are errors, reported
    // with ping's own words, never counted as dropped; the test fails.
    let lab = Lab::new();
    let topo = "host h1\nhost h2\nswitch s1\nlink h1 s1\nlink h2 s1\ncmd h1 PATH=/nonexistent\n";
    let dir = topologies(&lab, &[("noping.sh", topo)]);
    let out = mn_in(&lab, &dir).args(["--topo", "noping.sh", "--test", "pingall", "-v", "output"]).code(1);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        lines[..4],
        [
            "h1 -> ?",
            "h2 -> h1",
            "*** Error: h1: ping could not run: ping: command not found",
            "*** Results: 0% dropped (1/1 received); 1 pings could not run",
        ],
        "{}",
        out.stdout
    );
    nothing_left(&lab);
}

#[test]
fn version_and_verbosity_levels() {
    let lab = Lab::new();
    let out = mn(&lab).arg("--version").ok();
    assert_eq!(out.stdout, format!("mn {} (mn tools)\n", env!("CARGO_PKG_VERSION")));
    // Run through a symlink (as an installed `mn` would be), mn finds its parts.
    let link = lab.dir.with_file_name("mn");
    std::os::unix::fs::symlink(repo().join("scripts/mn"), &link).expect("symlink");
    let out = lab.cmd(&link).env("MN_BIN", bin_dir()).arg("--version").ok();
    assert_eq!(out.stdout, format!("mn {} (mn tools)\n", env!("CARGO_PKG_VERSION")));
    // output: the results only.
    let out = mn(&lab).args(["--test", "pingall", "-v", "output"]).ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines[..3], ["h1 -> h2", "h2 -> h1", "*** Results: 0% dropped (2/2 received)"]);
    out.check(lines.len() == 4 && lines[3].starts_with("completed in "), "nothing else");
    // warning: nothing at all on success; debug: the tools' calls too.
    let out = mn(&lab).args(["--test", "pingall", "--verbosity=warning"]).ok();
    assert_eq!(out.stdout, "");
    let out = mn(&lab).args(["--test", "build", "-vdebug"]).ok();
    out.check(out.stderr.contains("*** mnnode add --kind host --lazy h1 h2\n"), "the tools' calls on stderr");
    out.check(out.stdout.contains("*** Creating network"), "info too");
    nothing_left(&lab);
}

#[test]
fn scripts_are_shellcheck_clean() {
    let mut scripts: Vec<std::path::PathBuf> = [
        "scripts/mn",
        "scripts/setup",
        "scripts/examples/bufferbloat/run.sh",
        "scripts/examples/bufferbloat/summary.sh",
        "scripts/examples/rtt-fairness/run.sh",
        "scripts/examples/rtt-fairness/summary.sh",
        "tests/vm/run",
        "scripts/topologies/tworouters.sh",
        "scripts/topologies/dumbbell.sh",
        ".ci/run",
        "completions/bash/mn",
    ]
    .iter()
    .map(|s| repo().join(s))
    .collect();
    let lib = std::fs::read_dir(repo().join("scripts/lib")).expect("scripts/lib");
    // Its shell parts: the Python shim for --custom lives there too.
    scripts.extend(lib.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "sh")));
    let which = Cmd::new("sh").args(["-c", "command -v shellcheck"]).run();
    if !which.status.success() {
        mn_tests::skip("scripts_are_shellcheck_clean", "shellcheck is not installed");
        return;
    }
    // -x: mn's parts are checked as mn sources them.
    let mut check = Cmd::new("shellcheck").args(["-x", "-s", "bash"]).args(&scripts);
    check.command().current_dir(repo());
    let out = check.run();
    out.check(out.status.success(), "no shellcheck findings");
}

#[test]
fn closing_mns_output_early_still_tears_down() {
    let lab = Lab::new();
    let script = format!("{} --topo linear,3 --test pingall | head -1", repo().join("scripts/mn").display());
    let out = lab.cmd("sh").args(["-c", &script]).env("MN_BIN", bin_dir()).ok();
    assert_eq!(out.stdout, "*** Creating network\n");
    assert!(
        eventually(Duration::from_secs(10), || netns_entries(&lab).is_empty()),
        "left: {:?}",
        netns_entries(&lab)
    );
    nothing_left(&lab);
}

#[test]
fn help_and_man_page_document_options_and_exit_status() {
    let lab = Lab::new();
    let help = mn(&lab).arg("--help").ok().stdout;
    let man = std::fs::read_to_string(repo().join("man/mn.1")).expect("man/mn.1");
    for option in ["--verbosity", "--version", "--topo", "--test", "--keep", "--clean"] {
        assert!(help.contains(option), "--help documents {option}:\n{help}");
        assert!(man.contains(&option.replace('-', "\\-")), "mn(1) documents {option}");
    }
    assert!(
        help.contains("Exit status:\n  0 success; 1 ") && help.contains("130 interrupted; 141"),
        "{help}"
    );
    assert!(man.contains(".SH EXIT STATUS") && man.contains("141"), "mn(1) lists the exit statuses");
    assert!(
        help.contains("at most 10000 hosts, 12000 nodes") && man.contains("at most 10000"),
        "the size bound"
    );
}
