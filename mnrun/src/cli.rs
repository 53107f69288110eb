//! The command line of mnrun.
use clap::{CommandFactory, Parser};
use std::ffi::OsString;

/// Run a command in a node's persistent shell.
///
/// COMMAND is one shell string, or several words joined with spaces (as
/// ssh does). It runs in the node's long-lived shell, so `cd`, variables
/// and functions persist between calls. Its stdout and stderr stream live
/// to mnrun's, kept apart; its stdin is mnrun's. End of output is known
/// from a separate status channel, so any bytes at all pass through.
///
/// A command ending in `&` starts in the background: mnrun prints the job's
/// pid and returns at once; the job's output goes to the node's log.
#[derive(Parser, Debug)]
#[command(name = "mnrun", version, after_long_help = AFTER_HELP, trailing_var_arg = true)]
pub struct Cli {
    /// Give the command /dev/null as stdin instead of mnrun's.
    #[arg(short = 'n')]
    pub no_stdin: bool,

    /// Interrupt the command after SECS seconds (fractions allowed) and
    /// exit 124. The time counts from mnrun's start: waits for the node
    /// (another call's turn, a lazy shell's start) count too.
    #[arg(short = 't', value_name = "SECS")]
    pub timeout: Option<String>,

    /// The node to run in.
    #[arg(value_name = "NODE")]
    pub node: String,

    /// The command: a shell string, or words joined with spaces.
    #[arg(value_name = "COMMAND", required = true, allow_hyphen_values = true)]
    pub command: Vec<OsString>,
}

const AFTER_HELP: &str = "\
Interrupts:
  Ctrl-C (SIGINT), SIGTERM or SIGHUP interrupt the whole running command,
  pipelines and loops included, as Ctrl-C in a terminal does, and mnrun
  exits 130. Should the command go on all the same (a program caught the
  interrupt and exited normally), what it starts next is interrupted too.
  A second signal, or a command still running a second after the first,
  is killed with SIGKILL. The node is usable at once. Jobs the
  node had in the background before the command are never touched. A
  signal that was ignored when mnrun started (nohup, a script's background
  job) stays ignored, as with ssh. -t bounds the whole call: waiting for
  another call to the node, and interrupting what a killed mnrun left.

The shell:
  `exit` ends the command, not the node, and keeps the shell's state.
  Commands run as in an interactive bash without a terminal: a job put in
  the background in the middle of a command prints `[N] PID` on stderr.
  What the command changes in the shell (options, aliases, functions,
  traps, IFS, limits) never changes how the node's own code runs.
  PROMPT_COMMAND, PS0, PS1, PS2 and TMOUT are readonly; ulimit sets soft
  limits (the shell takes back the descriptors it needs after each call).
  Output that jobs a command left in the background write after the call
  goes where the command's output went, a file as much as a pipe.

When the shell ends:
  A command that ends the shell (set -e and a failure, builtin exit, which
  prints `exit` as bash does) gets a fresh shell in its place, in the same
  namespaces; mnrun says so on stderr and exits with the command's status.
  A signal that would kill the shell (SIGHUP, SIGXCPU, SIGXFSZ as with
  `ulimit -f 0`, SIGUSR1, SIGALRM...) also gets it a fresh shell, and mnrun
  exits 255: `mnrun: h1: the node's shell died of SIGHUP; it was
  restarted`. A shell that is gone (exec, kill -9) leaves the node dead.
  A shell that can no longer report (its hooks or eval redefined, its FIFO
  replaced) is named as such at once, every call, with the fix:
  `mnnode restart NODE`. mnrun never reports success for a command that
  did not run to its end.

Several mnruns to one node:
  They take turns: each gets exactly its own output and status. If an
  mnrun is killed with SIGKILL, the next call interrupts the command it
  left running before its own starts.

A node on another machine (mnnode add --on, see mnnode(1)):
  mnrun runs mnrun there over ssh (the lab's control master), with the
  same contract: output streamed, stdin passed unless -n, -t, the exit
  status. Ctrl-C, SIGTERM or SIGHUP are passed on as SIGINT to the remote
  mnrun, which interrupts the command and exits 130. ssh's own failure
  is one line naming the machine, and exit 255.

Exit status:
  The command's own status; 130 after an interrupt; 124 after -t expired;
  255 for mnrun's own failures (no such node, node not running, a command
  line that does not parse) and for a shell that died or stopped
  reporting, printed as `mnrun: what: why`.

Environment:
  MN_DIR   the lab's directory (default /run/mn).
  MN_HOSTS, MN_SSH  the lab's machines and ssh (see mnnode(1)).

Examples:
  mnrun h1 ping -c1 10.0.0.2
  mnrun h1 'iperf3 -s &'
  mnrun -t 5 h2 iperf3 -c 10.0.0.1
  echo hi | mnrun h1 cat";

pub fn command() -> clap::Command {
    Cli::command()
}
