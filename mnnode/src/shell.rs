//! The node shell and the protocol mnrun speaks to it.
//!
//! A node is `bash --norc --noprofile --noediting -i` reading its FIFO. It
//! runs interactive (without a prompt or a terminal) for one reason: on
//! SIGINT an interactive shell abandons the whole command line, loops and
//! functions included, and reads the next one, which is exactly Ctrl-C.
//!
//! `PROMPT_COMMAND` comes in through the environment and runs [`INIT`]
//! (`shell/init.bash`, read it for the shell's side) before the first line
//! is read. Each mnrun call then writes one line, after an empty one:
//!
//! ```text
//!
//! \__mn NONCE CMDFILE STATUS IN OUT ERR; \eval "$__mn_c" <"$__mn_i" >"$__mn_o" 2>"$__mn_e" 60<&- 61>&-
//! ```
//!
//! where the paths are mnrun's own descriptors seen through
//! `/proc/MNRUN/fd/N`: the command file (a memfd: the nonce, then the text
//! to evaluate), the status pipe, and the command's stdin, stdout and
//! stderr. The backslashes keep aliases out. `eval` runs at top level, so
//! `cd`, variables and functions persist. `__mn` writes [`ACK`] to the
//! status pipe once the line is read whole; mnrun holds an interrupt back
//! until then, as SIGINT while the shell reads would throw away part of the
//! line. After the line ends (or is interrupted) the prompt hook writes the
//! status line, `NONCE st RC BGPID|- SENTINEL|-`. The empty line first is a
//! spare: a late SIGINT from the previous call, landing as the shell starts
//! to read (it reads a pipe a byte at a time), costs nothing. Output never
//! passes through the FIFO, so no byte the command writes can be mistaken
//! for the end of its output.
//!
//! The status line cannot be forged by the command: it starts with the
//! nonce, which the hook reads again from the command file when it writes
//! the line, and the command runs with neither that file nor the status
//! pipe open (a command would have to dig them out of the shell's or
//! mnrun's descriptors in /proc, which nothing does by accident). That the
//! command really ran, and not some
//! redefined `eval`, shows in the sentinel: the text evaluated starts by
//! setting it, to a value of the call's own.
//!
//! A background request (the command ends in `&`) leaves stdout and stderr
//! alone, so the job writes to the node's log.
//!
//! The node must outlive its commands. `exit` is a function that ends the
//! command line and keeps the shell; any other way out (`set -e` and a
//! failure, `builtin exit`) runs the EXIT trap, and a signal that would kill
//! the shell (SIGHUP, SIGXFSZ...) a trap of its own: both report how the
//! shell ended (`NONCE exit RC`, `NONCE sig NAME`) and re-execute a fresh
//! shell in the same process and namespaces, on the FIFO and log descriptors
//! the first shell kept aside (fds 63 and 62): nothing is reopened by path.
//! The node lives on with its shell state reset. Traps on INT, PIPE, EXIT
//! and those signals are restored after every command.

use crate::lab::{FIFO, NodeDir};
use nix::errno::Errno;
use nix::fcntl::AtFlags;
use nix::sys::stat::SFlag;
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

/// The shell keeps its FIFO on this descriptor, for a reborn shell and for
/// mnrun to check that the FIFO in the node directory is the one it reads.
pub const FIFO_FD: i32 = 63;

/// The shell's own code: runs once, from PROMPT_COMMAND, before the shell
/// reads its first line (and again in a shell reborn after an exit).
pub const INIT: &str = include_str!("shell/init.bash");

/// The node shell's command line, after `mnexec` and its flags.
pub const SHELL: [&str; 5] = ["bash", "--norc", "--noprofile", "--noediting", "-i"];

/// Where a shell finds the terminal shared by the shells of one `mnnode
/// add` (init.bash moves it to fd 255, where bash restores the terminal's
/// modes after a command killed by a signal). One pty per shell would use
/// up kernel.pty.max (4096) at a few thousand nodes, leaving none for the
/// user's own terminals.
pub const PTY_FD: i32 = 59;

/// A pty master for the shells of one call to share: nothing reads it;
/// it only takes their terminal modes. None when none is left (each shell
/// then tries for its own, else writes them to its log).
pub fn shared_pty() -> Option<std::os::fd::OwnedFd> {
    nix::fcntl::open(
        "/dev/ptmx",
        nix::fcntl::OFlag::O_RDWR | nix::fcntl::OFlag::O_NOCTTY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .ok()
}

/// The environment a node shell starts with, on top of the caller's. The
/// paths are for people reading `/proc/PID/environ`; the shell opens none.
pub fn environment(node: &str, fifo: &Path, log: &Path) -> [(&'static str, OsString); 7] {
    [
        ("MN_NODE", node.into()),
        ("PS1", OsString::new()),
        ("PS2", OsString::new()),
        ("PROMPT_COMMAND", INIT.into()),
        ("__MN_FIFO", fifo.into()),
        ("__MN_LOG", log.into()),
        // The descriptors the hooks need even after a `ulimit -n 5`.
        ("__MN_NOFILE", nofile().to_string().into()),
    ]
}

/// The descriptor limit the shell's hooks restore before each command:
/// the caller's, from before mnnode raised its own.
fn nofile() -> u64 {
    let limit = crate::limits::original_nofile();
    if limit.rlim_cur != libc::RLIM_INFINITY { limit.rlim_cur.max(64) } else { 1024 }
}

/// Where a foreground command's stdio comes from and goes to.
pub struct Stdio {
    pub stdin: String,
    pub stdout: String,
    pub stderr: String,
}

/// One request line. `stdio` is `None` for a background command.
pub fn request(nonce: &str, command_file: &str, status: &str, stdio: Option<&Stdio>) -> String {
    let run = "\\eval \"$__mn_c\"";
    match stdio {
        Some(io) => format!(
            "\n\\__mn {nonce} {command_file} {status} {} {} {}; {run} <\"$__mn_i\" >\"$__mn_o\" 2>\"$__mn_e\" 60<&- 61>&-\n",
            io.stdin, io.stdout, io.stderr
        ),
        None => format!("\n\\__mn {nonce} {command_file} {status}; {run} </dev/null 60<&- 61>&-\n"),
    }
}

/// The command file's content: the nonce line, the sentinel's assignment
/// (out of `set -x`'s sight), then the command.
pub fn command_file(nonce: &str, sentinel: &str, command: &[u8]) -> Vec<u8> {
    let mut out = format!("{nonce}\n{{ __mn_ran={sentinel}; }} 2>/dev/null\n").into_bytes();
    out.extend_from_slice(command);
    out
}

/// How the shell says a request ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Report {
    /// The command line ended: its status, the pid of the job it started
    /// last (if new), and whether the text evaluated was really ours.
    Status { rc: u8, background: Option<i32>, ran: bool },
    /// The shell exited with this status and was reborn.
    Exited(u8),
    /// A signal (its name, without SIG) would have killed the shell; it was
    /// reborn.
    Signalled(String),
}

/// Whether the status pipe's content starts with the acknowledgement.
pub fn acked(status: &[u8]) -> bool {
    status.starts_with(ACK.as_bytes())
}

/// Finds this request's status line in what the status pipe held: a whole
/// line led by the nonce. Lines without it are not the shell's.
pub fn find_report(status: &[u8], nonce: &str, sentinel: &str) -> Option<Report> {
    let text = String::from_utf8_lossy(status);
    let mut lines: Vec<&str> = text.split('\n').collect();
    lines.pop(); // not (yet) a whole line
    lines.into_iter().find_map(|line| parse_report(line.trim_start_matches('+'), nonce, sentinel))
}

fn parse_report(line: &str, nonce: &str, sentinel: &str) -> Option<Report> {
    let mut fields = line.strip_prefix(nonce)?.strip_prefix(' ')?.split(' ');
    let kind = fields.next()?;
    let value = fields.next()?;
    let number = |text: &str| text.parse::<i64>().ok().map(|rc| (rc & 0xff) as u8);
    match kind {
        "st" => {
            let background = fields.next()?.parse().ok();
            let ran = fields.next()? == sentinel;
            Some(Report::Status { rc: number(value)?, background, ran })
        }
        "exit" => Some(Report::Exited(number(value)?)),
        "sig" => Some(Report::Signalled(value.to_string())),
        _ => None,
    }
}

/// What is wrong with a running node's FIFO, if anything: it must be a
/// FIFO, and the one its shell keeps on [`FIFO_FD`]. mnrun and `mnnode list`
/// both ask this, and agree.
pub fn fifo_problem(dir: &NodeDir, pid: i32) -> Option<String> {
    let path = dir.path.join(FIFO);
    let st = match nix::sys::stat::fstatat(dir.fd(), FIFO, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) => st,
        Err(Errno::ENOENT) => return Some(format!("{} is missing", path.display())),
        Err(e) => return Some(format!("{}: {}", path.display(), e.desc())),
    };
    let kind = SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits());
    if kind != SFlag::S_IFIFO {
        let what = match kind {
            SFlag::S_IFREG => "a regular file",
            SFlag::S_IFLNK => "a symlink",
            SFlag::S_IFDIR => "a directory",
            _ => "not a FIFO",
        };
        return Some(format!("{} is {what}, not the node's FIFO", path.display()));
    }
    if is_shells_fifo(&st, pid) {
        None
    } else {
        Some(format!("{} is not the FIFO the node's shell reads", path.display()))
    }
}

/// Whether the file `st` describes is the FIFO the shell `pid` reads (the
/// one it keeps on [`FIFO_FD`]).
pub fn is_shells_fifo(st: &nix::sys::stat::FileStat, pid: i32) -> bool {
    nix::sys::stat::stat(format!("/proc/{pid}/fd/{FIFO_FD}").as_str())
        .is_ok_and(|held| (held.st_dev, held.st_ino) == (st.st_dev, st.st_ino))
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
            fg.starts_with("\n\\__mn n1 /proc/9/fd/3 /proc/9/fd/4 /proc/9/fd/0 /proc/9/fd/5 /proc/9/fd/2;")
        );
        let bg = request("n1", "/proc/9/fd/3", "/proc/9/fd/4", None);
        assert!(bg.ends_with("</dev/null 60<&- 61>&-\n"));
    }

    #[test]
    fn status_lines_need_the_nonce() {
        let st = |rc, background, ran| Some(Report::Status { rc, background, ran });
        assert_eq!(find_report(b"+n1 st 0 - s1\n", "n1", "s1"), st(0, None, true));
        assert_eq!(find_report(b"+n1 st 130 - -\n", "n1", "s1"), st(130, None, false));
        assert_eq!(find_report(b"+n1 st 0 4242 s1\n", "n1", "s1"), st(0, Some(4242), true));
        assert_eq!(find_report(b"+n1 st 0 4242 s1", "n1", "s1"), None);
        assert_eq!(find_report(b"++0 \nn1 exit 3\n", "n1", "s1"), Some(Report::Exited(3)));
        assert_eq!(find_report(b"+n1 sig HUP\n", "n1", "s1"), Some(Report::Signalled("HUP".into())));
        assert_eq!(find_report(b"+0 \n+n2 st 0 - s1\n", "n1", "s1"), None);
        assert_eq!(find_report(b"garbage\n", "n1", "s1"), None);
    }
}
