//! The documented command line of mnexec, for `--help` and the man page.
//!
//! Parsing itself is done by [`crate::getopt`], which follows Mininet's
//! `getopt("+cdnpa:g:r:vh")` exactly (bundled flags, stop at the first
//! non-option, each flag acting in the order given); a unit test keeps the
//! two in agreement.
use clap::{CommandFactory, Parser};
use std::ffi::OsString;

/// Run a command in new or existing namespaces, detached, in a cgroup.
///
/// mnexec is a drop-in replacement for Mininet's mnexec. Flags may be
/// bundled (-cdnp) and act in the order given; the first argument that is
/// not a flag starts the command, which mnexec then executes in its own
/// place, so its exit status is the command's.
#[derive(Parser, Debug)]
#[command(
    name = "mnexec",
    version,
    override_usage = "mnexec [-cdnpv] [-a PID|NSPATH] [-g GROUP] [-r RTPRIO] CMD [ARG]...",
    after_long_help = AFTER_HELP,
    disable_help_flag = true,
    disable_version_flag = true
)]
pub struct Cli {
    /// Close every file descriptor except stdin, stdout and stderr.
    #[arg(short = 'c')]
    pub close_fds: bool,

    /// Detach: start a new session with setsid(2), forking first when
    /// already a process group leader (the parent then exits 0).
    #[arg(short = 'd')]
    pub detach: bool,

    /// Enter new network and mount namespaces, make / recursively private
    /// and mount a fresh sysfs on /sys, so it shows the new namespace; the
    /// copy of /run/netns (the `ip netns` entries) is detached, so that the
    /// new namespace keeps no other namespace alive.
    #[arg(short = 'n')]
    pub new_namespaces: bool,

    /// Print ^A (\001), the process id and a newline on stdout, flushed
    /// before exec, so the printed pid is the command's own.
    #[arg(short = 'p')]
    pub print_pid: bool,

    /// Attach to the network namespace of PID (and its mount namespace and
    /// working directory), or to the network namespace of a namespace file
    /// such as /run/netns/NAME or /proc/PID/ns/net.
    #[arg(short = 'a', value_name = "PID|NSPATH")]
    pub attach: Vec<OsString>,

    /// Join cgroup GROUP: cgroup v2 /sys/fs/cgroup/GROUP, or with cgroup v1
    /// every one of /sys/fs/cgroup/{cpu,cpuacct,cpuset}/GROUP that exists.
    #[arg(short = 'g', value_name = "GROUP")]
    pub cgroup: Vec<OsString>,

    /// Run with the SCHED_RR real-time policy at priority RTPRIO (1-99).
    #[arg(short = 'r', value_name = "RTPRIO")]
    pub rtprio: Vec<i32>,

    /// Print the version and exit.
    #[arg(short = 'v', long = "version")]
    pub version: bool,

    /// Print this help and exit.
    #[arg(short = 'h', long = "help")]
    pub help: bool,

    /// The command to execute, and its arguments.
    #[arg(value_name = "CMD", trailing_var_arg = true)]
    pub command: Vec<OsString>,
}

const AFTER_HELP: &str = "\
Exit status:
  The command's own status: mnexec replaces itself with the command.
  1 when a flag fails, the command is missing or cannot be executed;
    the error is printed as `mnexec: what: why`.

Examples:
  mnexec -cdn -p bash --norc     a shell in fresh namespaces, pid first
  mnexec -a 4242 ip addr         run ip in the namespaces of process 4242
  mnexec -a /run/netns/mn-h1 ping -c1 10.0.0.2";

/// The clap command used for `--help` and for the man page.
pub fn command() -> clap::Command {
    Cli::command()
}
