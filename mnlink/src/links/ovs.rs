//! Link ends on Open vSwitch switches: ports of their bridges, made and
//! removed with ovs-vsctl on the lab's own database (see mnnode::ovs).
use crate::endpoint::Endpoint;
use anyhow::{Result, anyhow};
use mnnode::Lab;
use mnnode::ovs::Ovs;
use std::sync::Mutex;

/// The lab whose OVS got new or removed ports without waiting for
/// ovs-vswitchd: it reconfigures once for a whole batch at [`sync`]
/// instead of once per link (each reconfiguration costs more the more
/// bridges there are: 0.35 s with 50).
static PENDING: Mutex<Option<Ovs>> = Mutex::new(None);

fn pending(lab: &Lab) {
    if let Ok(mut p) = PENDING.lock() {
        p.get_or_insert_with(|| Ovs::of(lab));
    }
}

/// Waits until ovs-vswitchd has applied every port change of this run.
pub fn sync() -> Result<()> {
    let Some(ovs) = PENDING.lock().ok().and_then(|mut p| p.take()) else { return Ok(()) };
    if !ovs.is_up() {
        return Ok(());
    }
    // Any change makes ovs-vsctl wait for the reconfiguration.
    let stamp = format!("external_ids:mn-sync={}", std::process::id());
    ovs.vsctl(&["set".into(), "Open_vSwitch".into(), ".".into(), stamp])
        .map(|_| ())
        .map_err(|e| anyhow!("wait for ovs-vswitchd to take the new ports: {e}"))
}

/// The OpenFlow port number an interface asks for: the number its name
/// ends in (s1-eth3 is port 3), as Mininet numbers ports.
fn ofport(ifname: &str) -> Option<u32> {
    let digits = ifname.len() - ifname.bytes().rev().take_while(u8::is_ascii_digit).count();
    ifname[digits..].parse().ok().filter(|&n| (1..0xff00).contains(&n))
}

/// Whether a switch's bridge is on the userspace datapath. Every bridge's
/// datapath is asked at once, the first time and again for a bridge not
/// seen yet: one ovs-vsctl per switch cost more than making its ports.
pub fn userspace(lab: &Lab, switch: &str) -> bool {
    static KNOWN: Mutex<Vec<(String, bool)>> = Mutex::new(Vec::new());
    let Ok(mut known) = KNOWN.lock() else { return false };
    if let Some(&(_, user)) = known.iter().find(|(s, _)| s == switch) {
        return user;
    }
    let args = ["--format=csv", "--no-headings", "--columns=name,datapath_type", "list", "bridge"];
    let listed = Ovs::of(lab).vsctl(&args.map(String::from)).unwrap_or_default();
    known.clear();
    for line in listed.lines() {
        if let Some((name, datapath)) = line.split_once(',') {
            known.push((name.trim_matches('"').to_string(), datapath.trim_matches('"') == "netdev"));
        }
    }
    known.iter().any(|(s, user)| s == switch && *user)
}

/// Turns transmit checksum offload off on an interface (in the current
/// thread's namespace): the userspace datapath reads frames from an
/// AF_PACKET socket and sends them on as they are, so a frame whose
/// checksum the sender left to the "hardware" (a veth's default) would
/// reach the other host with a bad one, and TCP would never get through.
pub fn tx_checksum_off(ifname: &str) -> Result<()> {
    const SIOCETHTOOL: libc::c_ulong = 0x8946;
    const ETHTOOL_STXCSUM: u32 = 0x17;
    #[repr(C)]
    struct Value {
        cmd: u32,
        data: u32,
    }
    #[repr(C)]
    struct Ifreq {
        name: [u8; libc::IFNAMSIZ],
        data: *mut Value,
        _pad: [u8; 16],
    }
    let mut value = Value { cmd: ETHTOOL_STXCSUM, data: 0 };
    let mut req = Ifreq { name: [0; libc::IFNAMSIZ], data: &mut value, _pad: [0; 16] };
    let bytes = ifname.as_bytes();
    req.name[..bytes.len().min(libc::IFNAMSIZ - 1)]
        .copy_from_slice(&bytes[..bytes.len().min(libc::IFNAMSIZ - 1)]);
    // SAFETY: a datagram socket we close below, an ioctl with a valid
    // ifreq whose data points at a live ethtool_value.
    let rc = unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(anyhow!("{ifname}: socket: {}", nix::errno::Errno::last().desc()));
        }
        let rc = libc::ioctl(fd, SIOCETHTOOL as _, &mut req);
        let errno = nix::errno::Errno::last();
        libc::close(fd);
        if rc < 0 { Err(errno) } else { Ok(()) }
    };
    rc.map_err(|e| anyhow!("{ifname}: turn checksum offload off: {}", e.desc()))
}

/// Makes each end a port of its switch's bridge, in one transaction.
pub fn add_ports(lab: &Lab, ends: &[Endpoint]) -> Result<()> {
    pending(lab);
    let mut args: Vec<String> = vec!["--no-wait".into()];
    for end in ends {
        args.extend(["--", "--may-exist", "add-port", &end.node, &end.ifname].map(String::from));
        if let Some(n) = ofport(&end.ifname) {
            args.extend(
                ["--", "set", "interface", &end.ifname, &format!("ofport_request={n}")].map(String::from),
            );
        }
    }
    let names: Vec<String> = ends.iter().map(ToString::to_string).collect();
    Ovs::of(lab).vsctl(&args).map(|_| ()).map_err(|e| anyhow!("{}: add the port: {e}", names.join(" ")))
}

/// Removes the ends' ports from their bridges, if they are there.
pub fn del_ports(lab: &Lab, ends: &[Endpoint]) {
    if ends.is_empty() {
        return;
    }
    let ovs = Ovs::of(lab);
    if !ovs.is_up() {
        return;
    }
    pending(lab);
    let mut args: Vec<String> = vec!["--no-wait".into()];
    for end in ends {
        args.extend(["--", "--if-exists", "del-port", &end.node, &end.ifname].map(String::from));
    }
    let _ = ovs.vsctl(&args);
}

#[cfg(test)]
mod tests {
    #[test]
    fn port_numbers_come_from_the_name() {
        assert_eq!(super::ofport("s1-eth3"), Some(3));
        assert_eq!(super::ofport("s1-eth12"), Some(12));
        assert_eq!(super::ofport("uplink"), None);
        assert_eq!(super::ofport("s1-eth0"), None);
    }
}
