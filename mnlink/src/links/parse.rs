//! Addresses as mnlink takes them on the command line.
use anyhow::{Result, anyhow, bail};
use std::net::IpAddr;

pub(super) fn parse_mac(text: &str) -> Result<[u8; 6]> {
    let bad = || anyhow!("{text:?}: not a MAC address (such as 00:00:00:00:00:01)");
    let parts: Vec<u8> = text
        .split(':')
        .map(|p| u8::from_str_radix(p, 16).ok().filter(|_| p.len() == 2))
        .collect::<Option<_>>()
        .ok_or_else(bad)?;
    let mac: [u8; 6] = parts.try_into().map_err(|_| bad())?;
    if mac[0] & 1 == 1 {
        bail!("{text}: a multicast address cannot name an interface");
    }
    Ok(mac)
}

pub(super) fn parse_cidr(text: &str) -> Result<(IpAddr, u8)> {
    let bad = || anyhow!("{text:?}: not an address with a prefix length (such as 10.0.0.1/8 or fd00::1/64)");
    let (ip, prefix) = match text.split_once('/') {
        Some((ip, prefix)) => (ip, Some(prefix)),
        None => (text, None),
    };
    let ip: IpAddr = ip.parse().map_err(|_| bad())?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        None => max,
        Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(bad)?,
    };
    Ok((ip, prefix))
}

#[cfg(test)]
mod tests {
    use super::{parse_cidr, parse_mac};

    #[test]
    fn macs() {
        assert_eq!(parse_mac("00:00:00:00:00:0a").unwrap(), [0, 0, 0, 0, 0, 10]);
        for bad in ["00:00:00:00:00", "01:00:00:00:00:00", "0:0:0:0:0:1", "zz:00:00:00:00:00", ""] {
            assert!(parse_mac(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cidrs() {
        assert_eq!(parse_cidr("10.0.0.1/8").unwrap().1, 8);
        assert_eq!(parse_cidr("10.0.0.1").unwrap().1, 32);
        assert_eq!(parse_cidr("fd00::1/64").unwrap().1, 64);
        for bad in ["10.0.0.300/8", "10.0.0.1/33", "fd00::1/129", "x/8", "10.0.0.1/", "10.0.0.1/-1", ""] {
            assert!(parse_cidr(bad).is_err(), "{bad}");
        }
    }
}
