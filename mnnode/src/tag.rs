//! The tag mnlink puts on each end of a veth pair (as the interface alias):
//! which node it belongs to and where its peer is. It lives in the kernel
//! with the link, so it can never go stale; it lets any tool find a link's
//! other end, and lets `del` find a `--root` node's ends in the root
//! namespace.
//!
//! Format: `mn:NODE:PEERNODE:PEERIF:LAB`, LAB being the lab's id from its
//! marker (16 hex digits, unique per lab directory: two labs whose MN_DIRs
//! end alike never take each other's links). Node and interface names never
//! contain `:`.

/// The longest alias the kernel accepts (IFALIASZ - 1).
const MAX_ALIAS: usize = 255;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    pub node: String,
    pub peer_node: String,
    pub peer_if: String,
    pub lab: String,
}

impl Tag {
    pub fn format(&self) -> String {
        let mut alias = format!("mn:{}:{}:{}:{}", self.node, self.peer_node, self.peer_if, self.lab);
        if alias.len() > MAX_ALIAS {
            let mut cut = MAX_ALIAS;
            while !alias.is_char_boundary(cut) {
                cut -= 1;
            }
            alias.truncate(cut);
        }
        alias
    }

    pub fn parse(alias: &str) -> Option<Tag> {
        let mut parts = alias.strip_prefix("mn:")?.splitn(4, ':');
        Some(Tag {
            node: parts.next()?.to_string(),
            peer_node: parts.next()?.to_string(),
            peer_if: parts.next()?.to_string(),
            lab: parts.next()?.to_string(),
        })
    }

    /// Whether this end belongs to `node` of the lab with id `lab` (a lab
    /// cut short to fit the alias still matches its beginning).
    pub fn is_of(&self, lab: &str, node: &str) -> bool {
        let truncated = self.format().len() == MAX_ALIAS;
        self.node == node && (self.lab == lab || (truncated && lab.starts_with(&self.lab)))
    }
}

/// The interface group (IFLA_GROUP) a `--root` switch's bridge is created
/// in, derived from the lab id. The kernel ignores an alias given in the
/// request that creates a link, but not a group: a bridge left untagged by
/// an add killed between creating and tagging it is still known as this
/// lab's by its group and its name (a node directory never finished).
pub fn group_of(lab_id: &str) -> u32 {
    let bits = lab_id.get(..8).and_then(|h| u32::from_str_radix(h, 16).ok()).unwrap_or(0);
    // Never group 0, every interface's default.
    bits.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_colons_in_lab() {
        let tag =
            Tag { node: "h1".into(), peer_node: "s1".into(), peer_if: "s1-eth1".into(), lab: "a:b".into() };
        assert_eq!(tag.format(), "mn:h1:s1:s1-eth1:a:b");
        assert_eq!(Tag::parse(&tag.format()), Some(tag.clone()));
        assert!(tag.is_of("a:b", "h1"));
        assert!(!tag.is_of("a:b", "s1"));
        assert!(!tag.is_of("a:bc", "h1"), "another lab whose name starts the same");
        assert_eq!(Tag::parse("uplink"), None);
    }

    #[test]
    fn groups_come_from_the_lab_id_and_are_never_the_default() {
        assert_eq!(group_of("00000a0b1c2d3e4f"), 0xa0b);
        assert_eq!(group_of("0000000000000000"), 1);
        assert_eq!(group_of("ffffffff00000000"), u32::MAX);
        assert_eq!(group_of("short"), 1);
    }

    #[test]
    fn long_labs_are_truncated_to_fit() {
        let tag =
            Tag { node: "h1".into(), peer_node: "s1".into(), peer_if: "eth0".into(), lab: "x".repeat(400) };
        let alias = tag.format();
        assert_eq!(alias.len(), 255);
        assert!(Tag::parse(&alias).is_some_and(|t| t.is_of(&"x".repeat(400), "h1")));
    }
}
