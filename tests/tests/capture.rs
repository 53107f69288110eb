//! mnlink capture: pcapng of endpoints, read back with tcpdump -r and with
//! a small pcapng reader of our own (interface names, merge order).
use mn_tests::{Cmd, Lab, assert_error, eventually, lab_with, mnlink, pids_in_ns, unique};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// h1 and h2 on s1, addressed.
fn two_hosts() -> (Lab, String, String, String) {
    let (h1, h2, s1) = (unique("h"), unique("h"), unique("s"));
    let lab = lab_with(&[&h1, &h2], &[&s1]);
    mnlink(&lab, &["add", &format!("{h1}-eth0"), &format!("{s1}-eth1")]);
    mnlink(&lab, &["add", &format!("{h2}-eth0"), &format!("{s1}-eth2")]);
    mnlink(&lab, &["addr", &format!("{h1}-eth0"), "10.0.0.1/8"]);
    mnlink(&lab, &["addr", &format!("{h2}-eth0"), "10.0.0.2/8"]);
    (lab, h1, h2, s1)
}

fn file(lab: &Lab, name: &str) -> PathBuf {
    lab.parent().join(name)
}

/// The capture writes its section header once every tcpdump listens.
fn wait_listening(path: &Path) {
    let listening =
        eventually(Duration::from_secs(60), || std::fs::metadata(path).is_ok_and(|m| m.len() >= 28));
    assert!(listening, "{} never got its section header", path.display());
}

fn ping(lab: &Lab, from: &str) {
    lab.cmd("mnrun").args([from, "ping -c3 -i0.2 10.0.0.2"]).ok();
}

/// `tcpdump -r FILE -n`'s lines, asserting it read the file cleanly.
fn read_back(path: &Path) -> Vec<String> {
    let out = Cmd::new("tcpdump").arg("-r").arg(path).arg("-n").ok();
    out.check(!out.stderr.contains("truncated") && !out.stderr.contains("error"), "a clean read");
    out.stdout.lines().map(String::from).collect()
}

/// No tcpdump left in the node's namespace.
fn no_tcpdump(lab: &Lab, node: &str) {
    let inode = mn_tests::ns_inode(lab.node_pid(node), "net").expect("the node's netns");
    let gone = eventually(Duration::from_secs(10), || {
        pids_in_ns("net", inode).into_iter().all(|p| mn_tests::command_name(p).is_none_or(|c| c != "tcpdump"))
    });
    assert!(gone, "a tcpdump was left in {node}");
}

#[test]
fn six_icmp_packets_of_a_ping() {
    let (lab, h1, _h2, _) = two_hosts();
    let path = file(&lab, "ping.pcapng");
    let end = format!("{h1}-eth0");
    let capture = lab.cmd("mnlink").args(["capture", &end, "-f", "icmp", "-c", "6", "-w"]).arg(&path).start();
    wait_listening(&path);
    ping(&lab, &h1);
    let out = capture.finish();
    out.check(out.status.success() && out.stderr.contains("6 packets captured"), "six packets");
    let lines = read_back(&path);
    assert_eq!(lines.iter().filter(|l| l.contains("ICMP echo")).count(), 6, "{lines:#?}");
    let blocks = pcapng(&path);
    assert_eq!(blocks.names, vec![end]);
    no_tcpdump(&lab, &h1);
}

#[test]
fn two_interfaces_merged_in_time_order() {
    let (lab, h1, h2, _) = two_hosts();
    let path = file(&lab, "two.pcapng");
    let (e1, e2) = (format!("{h1}-eth0"), format!("{h2}-eth0"));
    let capture =
        lab.cmd("mnlink").args(["capture", &e1, &e2, "-f", "icmp", "-c", "12", "-w"]).arg(&path).start();
    wait_listening(&path);
    ping(&lab, &h1);
    capture.finish().check(true, "");
    let blocks = pcapng(&path);
    let mut names = blocks.names.clone();
    names.sort();
    let mut want = vec![e1, e2];
    want.sort();
    assert_eq!(names, want, "an interface block per endpoint, named");
    assert_eq!(blocks.packets.len(), 12);
    for iface in 0..2 {
        assert_eq!(blocks.packets.iter().filter(|(i, _)| *i == iface).count(), 6, "six on interface {iface}");
    }
    let times: Vec<u64> = blocks.packets.iter().map(|(_, t)| *t).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "in time order: {times:?}");
    assert_eq!(read_back(&path).len(), 12);
}

#[test]
fn ctrl_c_leaves_a_readable_file_and_no_tcpdump() {
    let (lab, h1, _h2, _) = two_hosts();
    let path = file(&lab, "stopped.pcapng");
    let end = format!("{h1}-eth0");
    let capture = lab.cmd("mnlink").args(["capture", &end, "-f", "icmp", "-w"]).arg(&path).start();
    wait_listening(&path);
    ping(&lab, &h1);
    // Packets still held back for the merge are written by the stop.
    capture.signal(libc::SIGINT);
    let out = capture.finish();
    out.check(out.status.success(), "a clean stop on SIGINT");
    assert_eq!(read_back(&path).iter().filter(|l| l.contains("ICMP echo")).count(), 6);
    no_tcpdump(&lab, &h1);
}

#[test]
fn to_stdout_into_tcpdump() {
    let (lab, h1, _h2, _) = two_hosts();
    let copy = file(&lab, "copy.pcapng");
    let script = format!(
        "mnlink capture {h1}-eth0 -f icmp -c 6 | tee {} | tcpdump -r - -n 2>/dev/null",
        copy.display()
    );
    let capture = lab.cmd("sh").args(["-c", &script]).start();
    wait_listening(&copy);
    ping(&lab, &h1);
    let out = capture.finish();
    out.check(out.stdout.matches("ICMP echo").count() == 6, "tcpdump -r - read six packets");
}

#[test]
fn a_closed_output_stops_the_capture() {
    let (lab, h1, _h2, _) = two_hosts();
    let status = file(&lab, "status");
    // head takes the section header and leaves: the next write fails.
    let script = format!(
        "mnlink capture {h1}-eth0 -f icmp | head -c 28 >/dev/null; echo ${{PIPESTATUS[0]}} >{}",
        status.display()
    );
    let capture = lab.cmd("bash").args(["-c", &script]).start();
    let stopped = eventually(Duration::from_secs(60), || {
        lab.cmd("mnrun").args([&h1, "ping -c1 -W1 10.0.0.2"]).run();
        status.exists()
    });
    assert!(stopped, "the capture saw its output closed");
    capture.finish().check(true, "");
    assert_eq!(std::fs::read_to_string(&status).expect("status").trim(), "141");
    no_tcpdump(&lab, &h1);
}

#[test]
fn bad_input_makes_nothing_and_leaves_nothing_running() {
    let (lab, h1, _h2, _) = two_hosts();
    let path = file(&lab, "never.pcapng");
    let out = lab.cmd("mnlink").args(["capture", &format!("{h1}-eth9"), "-w"]).arg(&path).run();
    assert_error(&out, &format!("mnlink: no interface {h1}-eth9 in node {h1}"));
    let out = lab.cmd("mnlink").args(["capture", "nosuchnode-eth0"]).run();
    assert_error(&out, &format!("mnlink: no node named nosuchnode in {}", lab.dir.display()));
    let out =
        lab.cmd("mnlink").args(["capture", &format!("{h1}-eth0"), "-w", "/nonexistent-mn/x.pcapng"]).run();
    assert_error(&out, "mnlink: -w /nonexistent-mn/x.pcapng: No such file or directory");
    let out =
        lab.cmd("mnlink").args(["capture", &format!("{h1}-eth0"), "-f", "icmpp or", "-w"]).arg(&path).run();
    assert_error(&out, "mnlink: -f \"icmpp or\": can't parse filter expression: syntax error");
    assert!(!path.exists(), "a capture that never started leaves no file");
    // pcapng is not for a terminal (script gives mnlink one).
    let out =
        lab.cmd("script").args(["-qc", &format!("mnlink capture {h1}-eth0; echo rc=$?"), "/dev/null"]).ok();
    let want =
        "mnlink: stdout is a terminal: give -w FILE, or pipe into tcpdump -r - or wireshark -k -i -\r\nrc=1";
    out.check(out.stdout.contains(want), want);
    // A file that was there stays as it was.
    std::fs::write(&path, "keep me").expect("write");
    lab.cmd("mnlink").args(["capture", &format!("{h1}-eth0"), "-f", "icmpp or", "-w"]).arg(&path).fails();
    assert_eq!(std::fs::read_to_string(&path).expect("read"), "keep me");
    no_tcpdump(&lab, &h1);
}

/// What a pcapng file holds: interface names, and (interface, ns) per packet.
struct Blocks {
    names: Vec<String>,
    packets: Vec<(u32, u64)>,
}

fn pcapng(path: &Path) -> Blocks {
    let bytes = std::fs::read(path).expect("read the capture");
    let word = |at: usize| u32::from_ne_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
    assert_eq!(word(0), 0x0a0d_0d0a, "starts with a section header");
    let mut blocks = Blocks { names: Vec::new(), packets: Vec::new() };
    let mut at = 0;
    while at + 12 <= bytes.len() {
        let (kind, len) = (word(at), word(at + 4) as usize);
        assert!(len >= 12 && at + len <= bytes.len(), "a whole block at {at}");
        assert_eq!(word(at + len - 4) as usize, len, "the block's trailing length");
        match kind {
            1 => {
                // Options after link type, reserved, snap length.
                let mut o = at + 16;
                while o + 4 <= at + len - 4 {
                    let code = u16::from_ne_bytes([bytes[o], bytes[o + 1]]);
                    let olen = u16::from_ne_bytes([bytes[o + 2], bytes[o + 3]]) as usize;
                    if code == 0 {
                        break;
                    }
                    if code == 2 {
                        blocks.names.push(String::from_utf8_lossy(&bytes[o + 4..o + 4 + olen]).into_owned());
                    }
                    o += 4 + olen.next_multiple_of(4);
                }
            }
            6 => {
                let ns = (u64::from(word(at + 12)) << 32) | u64::from(word(at + 16));
                blocks.packets.push((word(at + 8), ns));
            }
            _ => {}
        }
        at += len;
    }
    assert_eq!(at, bytes.len(), "no partial block at the end");
    blocks
}
