//! Node names: `[A-Za-z][A-Za-z0-9_]*`, at most 32 bytes, never a `-`, so
//! that an endpoint such as `h1-eth0` names node `h1` unambiguously.
use anyhow::{Result, bail};

pub const MAX_NAME: usize = 32;

pub fn check(name: &str) -> Result<()> {
    if name.is_empty() {
        bail!("a node name cannot be empty");
    }
    if name.len() > MAX_NAME {
        bail!("{name}: node names are at most {MAX_NAME} bytes, this one is {}", name.len());
    }
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        bail!("{name:?}: not a node name (a letter, then letters, digits or _)");
    }
    Ok(())
}

pub fn is_valid(name: &str) -> bool {
    check(name).is_ok()
}

/// Orders names as people count: h2 before h10.
pub fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    fn key(s: &str) -> Vec<(String, u64)> {
        let mut parts = Vec::new();
        let mut text = String::new();
        let mut digits = String::new();
        for c in s.chars() {
            if c.is_ascii_digit() {
                digits.push(c);
            } else {
                if !digits.is_empty() {
                    parts.push((std::mem::take(&mut text), digits.parse().unwrap_or(u64::MAX)));
                    digits.clear();
                }
                text.push(c);
            }
        }
        parts.push((text, digits.parse().unwrap_or(0)));
        parts
    }
    key(a).cmp(&key(b)).then_with(|| a.cmp(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_rejects() {
        for ok in ["h1", "s1", "r", "H_2", &"a".repeat(32)] {
            assert!(is_valid(ok), "{ok}");
        }
        for bad in ["", "1h", "h-1", "h/1", "h 1", "_h", "h.1", &"a".repeat(33), "hé"] {
            assert!(!is_valid(bad), "{bad}");
        }
    }

    #[test]
    fn natural_order() {
        let mut names = vec!["h10", "h2", "s1", "h1", "h1a"];
        names.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(names, ["h1", "h1a", "h2", "h10", "s1"]);
    }
}
