//! Mininet's option grammar: `getopt("+cdnpa:g:r:vh")`.
//!
//! Flags may be bundled (`-cdnp`), an option's value may be glued on
//! (`-a4242`) or be the next argument, `--` ends the options, and the first
//! argument that does not start with `-` starts the command. The whole line
//! is parsed before anything acts, so a bad flag late in the line leaves
//! nothing half-done; the steps then run in the order they were given.
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

/// The option letters, in getopt's notation (`:` marks a value).
pub const SPEC: &str = "cdnpa:g:r:vh";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    CloseFds,
    Detach,
    NewNamespaces,
    PrintPid,
    Attach(OsString),
    Cgroup(OsString),
    RtPrio(i32),
    Version,
    Help,
}

#[derive(Debug, PartialEq, Eq)]
pub struct Line {
    pub steps: Vec<Step>,
    pub command: Vec<OsString>,
}

/// A usage error, worded like getopt's own messages.
#[derive(Debug, PartialEq, Eq)]
pub struct UsageError(pub String);

pub fn parse(args: &[OsString]) -> Result<Line, UsageError> {
    let mut steps = Vec::new();
    let mut i = 1;
    while i < args.len() {
        let arg = args[i].as_bytes();
        match arg {
            b"--" => {
                i += 1;
                break;
            }
            b"--help" => steps.push(Step::Help),
            b"--version" => steps.push(Step::Version),
            _ if arg.len() > 1 && arg[0] == b'-' && arg[1] != b'-' => {
                i = parse_cluster(args, i, &mut steps)?;
            }
            _ if arg.starts_with(b"--") => {
                let name = String::from_utf8_lossy(&arg[2..]);
                return Err(UsageError(format!("unrecognized option '--{name}'")));
            }
            _ => break,
        }
        i += 1;
    }
    Ok(Line { steps, command: args[i..].to_vec() })
}

/// Parses the flags bundled in `args[i]`; returns the index of the last
/// argument consumed (a value may be the next argument).
fn parse_cluster(args: &[OsString], mut i: usize, steps: &mut Vec<Step>) -> Result<usize, UsageError> {
    let cluster = args[i].as_bytes();
    let mut j = 1;
    while j < cluster.len() {
        let flag = cluster[j];
        j += 1;
        let step = match flag {
            b'c' => Step::CloseFds,
            b'd' => Step::Detach,
            b'n' => Step::NewNamespaces,
            b'p' => Step::PrintPid,
            b'v' => Step::Version,
            b'h' => Step::Help,
            b'a' | b'g' | b'r' => {
                let value = if j < cluster.len() {
                    OsStr::from_bytes(&cluster[j..]).to_os_string()
                } else {
                    i += 1;
                    args.get(i).cloned().ok_or_else(|| {
                        UsageError(format!("option requires an argument -- '{}'", flag as char))
                    })?
                };
                j = cluster.len();
                match flag {
                    b'a' => Step::Attach(value),
                    b'g' => Step::Cgroup(value),
                    _ => Step::RtPrio(parse_prio(&value)?),
                }
            }
            other => {
                let shown = String::from_utf8_lossy(&[other]).into_owned();
                return Err(UsageError(format!("invalid option -- '{shown}'")));
            }
        };
        steps.push(step);
    }
    Ok(i)
}

fn parse_prio(value: &OsStr) -> Result<i32, UsageError> {
    let text = value.to_string_lossy();
    text.parse().map_err(|_| UsageError(format!("-r {text}: not a priority (a number from 1 to 99)")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        std::iter::once("mnexec").chain(list.iter().copied()).map(OsString::from).collect()
    }

    fn steps(list: &[&str]) -> Vec<Step> {
        parse(&args(list)).expect("parses").steps
    }

    #[test]
    fn bundled_flags_act_in_order() {
        assert_eq!(
            steps(&["-cdnp", "true"]),
            vec![Step::CloseFds, Step::Detach, Step::NewNamespaces, Step::PrintPid]
        );
        assert_eq!(steps(&["-pc", "true"]), vec![Step::PrintPid, Step::CloseFds]);
    }

    #[test]
    fn values_glued_or_separate() {
        assert_eq!(steps(&["-a42", "x"]), vec![Step::Attach("42".into())]);
        assert_eq!(steps(&["-ca", "42", "x"]), vec![Step::CloseFds, Step::Attach("42".into())]);
        assert_eq!(steps(&["-r", "5", "x"]), vec![Step::RtPrio(5)]);
        assert_eq!(steps(&["-gmn", "x"]), vec![Step::Cgroup("mn".into())]);
    }

    #[test]
    fn stops_at_first_non_option_and_after_double_dash() {
        let line = parse(&args(&["-c", "ls", "-l", "-n"])).unwrap();
        assert_eq!(line.steps, vec![Step::CloseFds]);
        assert_eq!(line.command, vec![OsString::from("ls"), "-l".into(), "-n".into()]);
        let line = parse(&args(&["-p", "--", "-weird"])).unwrap();
        assert_eq!(line.command, vec![OsString::from("-weird")]);
    }

    #[test]
    fn lone_dash_is_a_command() {
        let line = parse(&args(&["-", "x"])).unwrap();
        assert!(line.steps.is_empty());
        assert_eq!(line.command.len(), 2);
    }

    #[test]
    fn errors_read_like_getopt() {
        assert_eq!(parse(&args(&["-x"])), Err(UsageError("invalid option -- 'x'".into())));
        assert_eq!(parse(&args(&["-a"])), Err(UsageError("option requires an argument -- 'a'".into())));
        assert!(parse(&args(&["-r", "high", "x"])).unwrap_err().0.contains("-r high"));
        assert!(parse(&args(&["--bogus"])).unwrap_err().0.contains("--bogus"));
    }

    #[test]
    fn spec_matches_documented_flags() {
        let cmd = crate::cli::command();
        let mut documented: Vec<String> = cmd
            .get_arguments()
            .filter_map(|a| {
                let short = a.get_short()?;
                let takes_value = a.get_action().takes_values();
                Some(format!("{short}{}", if takes_value { ":" } else { "" }))
            })
            .collect();
        let mut spec: Vec<String> = Vec::new();
        for c in SPEC.chars() {
            if c == ':' {
                if let Some(last) = spec.last_mut() {
                    last.push(':');
                }
            } else {
                spec.push(c.to_string());
            }
        }
        documented.sort();
        spec.sort();
        assert_eq!(documented, spec);
    }
}
