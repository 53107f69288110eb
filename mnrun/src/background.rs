//! Whether a command ends in `&`, i.e. starts a background job and should
//! return at once. A small shell lexer: quotes, escapes and comments are
//! honoured, so `echo '&'`, `echo \&`, `a && b` and `x # &` are foreground.

pub fn is_background(command: &[u8]) -> bool {
    let mut last: Option<u8> = None; // last significant byte outside quotes and comments
    let mut before_last: Option<u8> = None;
    let mut quote: Option<u8> = None;
    let mut escaped = false;
    let mut in_comment = false;
    let mut at_word_start = true;
    for &b in command {
        if in_comment {
            if b == b'\n' {
                in_comment = false;
                at_word_start = true;
            }
            continue;
        }
        if escaped {
            escaped = false;
            before_last = last;
            last = Some(b'a'); // an escaped byte is a plain word byte
            at_word_start = false;
            continue;
        }
        if let Some(q) = quote {
            if b == q {
                quote = None;
            } else if b == b'\\' && q == b'"' {
                escaped = true;
            }
            continue;
        }
        match b {
            b'\\' => escaped = true,
            b'\'' | b'"' => {
                quote = Some(b);
                before_last = last;
                last = Some(b'a');
                at_word_start = false;
            }
            b'#' if at_word_start => in_comment = true,
            b' ' | b'\t' | b'\n' => at_word_start = true,
            _ => {
                before_last = last;
                last = Some(b);
                at_word_start = matches!(b, b';' | b'&' | b'|' | b'(' | b')');
            }
        }
    }
    quote.is_none()
        && last == Some(b'&')
        && before_last != Some(b'&')
        && before_last != Some(b'|')
        && before_last != Some(b'>')
}

#[cfg(test)]
mod tests {
    use super::is_background;

    #[test]
    fn background_commands() {
        for cmd in ["iperf3 -s &", "sleep 1&", "a && b &", "x & ", "(sleep 1) &", "a; b &\n", "echo '&' &"] {
            assert!(is_background(cmd.as_bytes()), "{cmd}");
        }
    }

    #[test]
    fn foreground_commands() {
        for cmd in [
            "true",
            "a && b",
            "echo '&'",
            "echo \"&\"",
            "echo \\&",
            "x # &",
            "a &&",
            "a |&",
            "cmd >&",
            "a & b",
            "'a &",
        ] {
            assert!(!is_background(cmd.as_bytes()), "{cmd}");
        }
    }
}
