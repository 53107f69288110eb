//! Link ends on Open vSwitch switches: ports of their bridges, made and
//! removed with ovs-vsctl on the lab's own database (see mnnode::ovs).
use crate::endpoint::Endpoint;
use anyhow::{Result, anyhow};
use mnnode::Lab;
use mnnode::ovs::Ovs;

/// The OpenFlow port number an interface asks for: the number its name
/// ends in (s1-eth3 is port 3), as Mininet numbers ports.
fn ofport(ifname: &str) -> Option<u32> {
    let digits = ifname.len() - ifname.bytes().rev().take_while(u8::is_ascii_digit).count();
    ifname[digits..].parse().ok().filter(|&n| (1..0xff00).contains(&n))
}

/// Makes each end a port of its switch's bridge, in one transaction.
pub fn add_ports(lab: &Lab, ends: &[Endpoint]) -> Result<()> {
    let mut args: Vec<String> = Vec::new();
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
    let mut args: Vec<String> = Vec::new();
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
