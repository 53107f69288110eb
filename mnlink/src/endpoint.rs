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

/// Checks an interface name as the kernel's dev_valid_name does (1 to 15
/// bytes, not `.` or `..`, no `/`, `:` or whitespace, which for the kernel
/// includes byte 0xA0), and also refuses `%` (the kernel reads `eth%d` as a
/// pattern and picks the name itself), what mnlink's batch lines and tc's
/// batch input cannot carry (`#` starts a comment, a quote starts a quoted
/// word) and what would garble a listing (control characters).
pub fn check_ifname(ifname: &str) -> Result<()> {
    if ifname.is_empty() {
        bail!("an interface name cannot be empty");
    }
    if ifname == "." || ifname == ".." {
        bail!("{ifname:?}: not an interface name (. and .. are not allowed)");
    }
    if ifname.len() > MAX_IFNAME {
        bail!("{ifname}: interface names are at most {MAX_IFNAME} bytes, this one is {}", ifname.len());
    }
    let kernel_space = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | 0xa0);
    if ifname.chars().any(char::is_whitespace) || ifname.bytes().any(|b| kernel_space(&b)) {
        bail!("{ifname:?}: an interface name cannot hold whitespace");
    }
    if let Some(c) = ifname.chars().find(|c| matches!(c, '/' | ':' | '%' | '#' | '\'' | '"')) {
        bail!("{ifname:?}: an interface name cannot hold {c:?}");
    }
    if ifname.chars().any(char::is_control) {
        bail!("{ifname:?}: an interface name cannot hold control characters");
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
        let err = |text: &str| Endpoint::parse(text).unwrap_err().to_string();
        assert_eq!(
            err("h1-ethernet00000"),
            "h1-ethernet00000: interface names are at most 15 bytes, this one is 16"
        );
        assert_eq!(err("h1:"), "an interface name cannot be empty");
        assert_eq!(err("h1:.."), "\"..\": not an interface name (. and .. are not allowed)");
        assert_eq!(err("h1-a#b"), "\"h1-a#b\": an interface name cannot hold '#'");
        assert_eq!(err("h1:a'b"), "\"a'b\": an interface name cannot hold '\\''");
        assert_eq!(err("h1:eth%d"), "\"eth%d\": an interface name cannot hold '%'");
        assert_eq!(err("h1:a:b"), "\"a:b\": an interface name cannot hold ':'");
        assert_eq!(err("h1:a\u{a0}b"), "\"a\\u{a0}b\": an interface name cannot hold whitespace");
        // U+00E0 is C3 A0 in UTF-8: the kernel sees a space in it.
        assert_eq!(err("h1:\u{e0}"), "\"\u{e0}\": an interface name cannot hold whitespace");
        assert_eq!(err("h1:a\u{1}"), "\"a\\u{1}\": an interface name cannot hold control characters");
        // Fifteen bytes and anything else the kernel takes is fine.
        assert!(Endpoint::parse("h1:eth-0_x.y@z+~=!!").is_err(), "16 bytes");
        assert!(Endpoint::parse("h1:eth-0_x.y@z+~=!").is_ok());
        assert!(Endpoint::parse("h1:\u{e9}t\u{e9}").is_ok(), "UTF-8 without a 0xA0 byte");
    }
}
