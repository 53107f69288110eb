//! Endpoints: `NODE-IFNAME` or `NODE:IFNAME`.
use anyhow::{Result, bail};
use mnnode::name;
use std::fmt;

/// The kernel's limit on interface names (IFNAMSIZ - 1).
pub const MAX_IFNAME: usize = 15;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Endpoint {
    pub node: String,
    pub ifname: String,
}

impl Endpoint {
    pub fn parse(text: &str) -> Result<Endpoint> {
        let (node, ifname) = if let Some((node, ifname)) = text.split_once(':') {
            (node, ifname)
        } else if let Some((node, _)) = text.split_once('-') {
            (node, text)
        } else {
            bail!("{text:?}: not an endpoint (NODE-IFNAME such as h1-eth0, or NODE:IFNAME)");
        };
        name::check(node).map_err(|e| anyhow::anyhow!("{text}: {e}"))?;
        check_ifname(ifname)?;
        Ok(Endpoint { node: node.to_string(), ifname: ifname.to_string() })
    }
}

/// Shown as typed for the usual form, NODE:IFNAME otherwise.
impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ifname.strip_prefix(&self.node).is_some_and(|rest| rest.starts_with('-')) {
            f.write_str(&self.ifname)
        } else {
            write!(f, "{}:{}", self.node, self.ifname)
        }
    }
}

pub fn check_ifname(ifname: &str) -> Result<()> {
    if ifname.is_empty() || ifname == "." || ifname == ".." {
        bail!("{ifname:?}: not an interface name");
    }
    if ifname.len() > MAX_IFNAME {
        bail!("{ifname}: interface names are at most {MAX_IFNAME} bytes, this one is {}", ifname.len());
    }
    if ifname.chars().any(|c| c == '/' || c == ':' || c.is_whitespace() || c.is_control()) {
        bail!("{ifname:?}: an interface name cannot hold '/', ':' or spaces");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms() {
        let e = Endpoint::parse("h1-eth0").unwrap();
        assert_eq!((e.node.as_str(), e.ifname.as_str()), ("h1", "h1-eth0"));
        assert_eq!(e.to_string(), "h1-eth0");
        let e = Endpoint::parse("h1:eth0").unwrap();
        assert_eq!((e.node.as_str(), e.ifname.as_str()), ("h1", "eth0"));
        assert_eq!(e.to_string(), "h1:eth0");
        let e = Endpoint::parse("s10-eth12").unwrap();
        assert_eq!(e.node, "s10");
    }

    #[test]
    fn bad_endpoints() {
        for bad in ["h1", "", "-eth0", "h1:", "1h-eth0", "h1:a/b", "h1:a b", "h1-ethernet000000"] {
            assert!(Endpoint::parse(bad).is_err(), "{bad}");
        }
        let err = Endpoint::parse("h1-ethernet00000").unwrap_err().to_string();
        assert!(err.contains("at most 15 bytes, this one is 16"), "{err}");
    }
}
