//! The node shell and the protocol mnrun speaks to it.
//!
//! A node is `bash --norc --noprofile --noediting -i` reading its FIFO. It
//! runs interactive (without a prompt or a terminal) for one reason: on
//! SIGINT an interactive shell abandons the whole command line, loops and
//! functions included, and reads the next one, which is exactly Ctrl-C.
//!
//! `PROMPT_COMMAND` comes in through the environment and runs [`INIT`]
//! before the first line is read. Each mnrun call then writes one line,
//! after an empty one:
//!
//! ```text
//!
//! __mn NONCE CMDFILE STATUS IN OUT ERR; eval "$__mn_c" <"$__mn_i" >"$__mn_o" 2>"$__mn_e"
//! ```
//!
//! where the paths are mnrun's own descriptors seen through
//! `/proc/MNRUN/fd/N`: the command text (a memfd starting with the nonce),
//! the status pipe, and the command's stdin, stdout and stderr. `eval` runs
//! at top level, so `cd`, variables and functions persist. `__mn` writes
//! [`ACK`] to the status pipe once the line is read whole; mnrun holds an
//! interrupt back until then, as SIGINT while the shell reads would throw
//! away part of the line. After the line ends (or is interrupted) the
//! prompt hook writes `STATUS [BGPID]\n` to the status pipe. The empty line
//! first is a spare: a late SIGINT from the previous call, landing as the
//! shell starts to read (it reads a pipe a byte at a time), costs nothing. Output never passes through the FIFO, so no byte the
//! command writes can be mistaken for the end of its output.
//!
//! A background request (the command ends in `&`) leaves stdout and stderr
//! alone, so the job writes to the node's log.
//!
//! The node must outlive its commands. `exit` is a function that ends the
//! command line and keeps the shell; any other way out (`set -e` and a
//! failure, `builtin exit`) runs the EXIT trap, which reports the status
//! and re-executes a fresh shell on the same FIFO, in the same process and
//! namespaces: the node lives on with its shell state reset. Traps on INT,
//! PIPE and EXIT are restored after every command.
//!
//! A child the shell forks keeps the EXIT trap until it resets its traps,
//! just before exec. A signal landing in that moment (Ctrl-C right as a
//! pipeline starts) makes the child run the trap: there it only dies of
//! that signal, as the program it was about to become would have. Else the
//! child would become a second shell on the FIFO, and the shell, seeing a
//! child that exited instead of dying of SIGINT, would run the rest of the
//! line.

use std::ffi::OsString;
use std::path::Path;

/// What the shell writes on its stdout (a pipe to mnnode) once ready; its
/// stdout then joins stderr in the log. (Not stderr: an interactive bash
/// keeps a copy of stderr on fd 255, which would hold the pipe open.)
pub const READY: &[u8] = b"\x01mnready\n";

/// What the shell writes on the status pipe once it has read a request
/// line whole and is about to run the command: from then on an interrupt
/// cannot cut the line short.
pub const ACK: &str = "+";

/// Runs once, from PROMPT_COMMAND, before the shell reads its first line
/// (and again in a shell reborn after an exit, see below).
pub const INIT: &str = r#"__mn_init=$PROMPT_COMMAND __mn_fifo=$__MN_FIFO __mn_log=$__MN_LOG
export -n PROMPT_COMMAND PS1 PS2 __MN_FIFO __MN_LOG
unset HISTFILE MAIL MAILPATH MAILCHECK TMOUT
set +o history
__mn_rc=0 __mn_s=
__mn() {
  __mn_c= __mn_s= __mn_i=/dev/null __mn_o=/dev/null __mn_e=/dev/null __mn_bg=$!
  local nonce=
  { IFS= read -r nonce; IFS= read -r -d '' __mn_c; } <"$2"
  if [[ $nonce != "$1" ]]; then __mn_c=; return 0; fi
  __mn_s=$3 __mn_i=${4:-/dev/null} __mn_o=${5:-/dev/null} __mn_e=${6:-/dev/null}
  printf + 1<>"$3"
  return $__mn_rc
}
__mn_done() {
  local rc=$? bg=
  trap - INT; trap : PIPE; trap __mn_reborn EXIT
  if [[ ${__mn_x+set} ]]; then rc=$__mn_x; unset __mn_x; fi
  __mn_rc=$rc
  [[ $__mn_s ]] || return 0
  [[ $! != "$__mn_bg" ]] && bg=$!
  printf '%s %s\n' "$rc" "$bg" 1<>"$__mn_s"
  __mn_s= __mn_c= __mn_i=/dev/null __mn_o=/dev/null __mn_e=/dev/null
}
exit() {
  if [[ $BASHPID != "$$" ]]; then builtin exit "$@"; fi
  local s=${1-$?}
  [[ $s =~ ^-?[0-9]+$ ]] || s=2
  __mn_x=$(( s & 255 ))
  kill -INT $$
}
__mn_reborn() {
  local rc=$?
  if [[ $BASHPID != "$$" ]]; then
    trap - EXIT
    if ((rc > 128 && rc < 192)); then
      trap : $((rc - 128)); trap - $((rc - 128)); kill -$((rc - 128)) $BASHPID
    fi
    return
  fi
  [[ $__mn_s ]] && printf '%s \n' "$rc" 1<>"$__mn_s"
  export PROMPT_COMMAND=$__mn_init PS1= PS2= __MN_FIFO=$__mn_fifo __MN_LOG=$__mn_log __MN_REBORN=1
  exec bash --norc --noprofile --noediting -i <>"$__mn_fifo" >>"$__mn_log" 2>&1
}
trap - INT; trap : PIPE; trap __mn_reborn EXIT
PROMPT_COMMAND=__mn_done
if [[ $__MN_REBORN ]]; then unset __MN_REBORN; else printf '\1mnready\n'; exec 1>&2; fi
"#;

/// The node shell's command line, after `mnexec` and its flags.
pub const SHELL: [&str; 5] = ["bash", "--norc", "--noprofile", "--noediting", "-i"];

/// The environment a node shell starts with, on top of the caller's.
pub fn environment(node: &str, fifo: &Path, log: &Path) -> [(&'static str, OsString); 6] {
    [
        ("MN_NODE", node.into()),
        ("PS1", OsString::new()),
        ("PS2", OsString::new()),
        ("PROMPT_COMMAND", INIT.into()),
        ("__MN_FIFO", fifo.into()),
        ("__MN_LOG", log.into()),
    ]
}

/// Where a foreground command's stdio comes from and goes to.
pub struct Stdio {
    pub stdin: String,
    pub stdout: String,
    pub stderr: String,
}

/// One request line. `stdio` is `None` for a background command.
pub fn request(nonce: &str, command_file: &str, status: &str, stdio: Option<&Stdio>) -> String {
    match stdio {
        Some(io) => format!(
            "\n__mn {nonce} {command_file} {status} {} {} {}; eval \"$__mn_c\" <\"$__mn_i\" >\"$__mn_o\" 2>\"$__mn_e\"\n",
            io.stdin, io.stdout, io.stderr
        ),
        None => format!("\n__mn {nonce} {command_file} {status}; eval \"$__mn_c\" </dev/null\n"),
    }
}

/// The command file's content: the nonce line, then the command.
pub fn command_file(nonce: &str, command: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(nonce.len() + 1 + command.len());
    out.extend_from_slice(nonce.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(command);
    out
}

/// Parses what the status pipe held: the acknowledgement, then the status
/// line `RC [BGPID]`.
pub fn parse_status(line: &str) -> Option<(u8, Option<i32>)> {
    let mut fields = line.strip_prefix(ACK).unwrap_or(line).split_whitespace();
    let rc: i64 = fields.next()?.parse().ok()?;
    let bg = fields.next().and_then(|p| p.parse().ok());
    Some(((rc & 0xff) as u8, bg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_lines_are_single_lines() {
        let io = Stdio {
            stdin: "/proc/9/fd/0".into(),
            stdout: "/proc/9/fd/5".into(),
            stderr: "/proc/9/fd/2".into(),
        };
        let fg = request("n1", "/proc/9/fd/3", "/proc/9/fd/4", Some(&io));
        assert_eq!(fg.matches('\n').count(), 2);
        assert!(
            fg.starts_with("\n__mn n1 /proc/9/fd/3 /proc/9/fd/4 /proc/9/fd/0 /proc/9/fd/5 /proc/9/fd/2;")
        );
        let bg = request("n1", "/proc/9/fd/3", "/proc/9/fd/4", None);
        assert!(bg.ends_with("</dev/null\n"));
    }

    #[test]
    fn status_lines() {
        assert_eq!(parse_status("0 \n"), Some((0, None)));
        assert_eq!(parse_status("130 \n"), Some((130, None)));
        assert_eq!(parse_status("0 4242\n"), Some((0, Some(4242))));
        assert_eq!(parse_status("+2 \n"), Some((2, None)));
        assert_eq!(parse_status("garbage"), None);
    }
}
