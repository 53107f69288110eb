//! mnexec: Mininet's exec helper, flag for flag.
//!
//! `run` parses the whole line first (see [`getopt`]), then applies each
//! step in the order given, then executes the command in mnexec's place.
pub mod cli;
pub mod getopt;
pub mod prepared;
mod steps;

pub use getopt::Step;
pub use prepared::{Fault, Prepared};
use std::ffi::OsString;
use std::fmt;
use std::process::ExitCode;
pub use steps::{Next, is_cgroup2};

/// A failed step, printed as `mnexec: what: why`.
#[derive(Debug)]
pub struct Failure {
    what: String,
    why: String,
}

impl Failure {
    fn new(what: impl Into<String>, why: impl Into<String>) -> Self {
        Failure { what: what.into(), why: why.into() }
    }

    fn errno(what: impl Into<String>, errno: nix::errno::Errno) -> Self {
        Failure::new(what, errno.desc())
    }

    fn io(what: impl Into<String>, err: &std::io::Error) -> Self {
        Failure::new(what, mncli::os_error(err))
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.what, self.why)
    }
}

pub fn run(args: &[OsString]) -> ExitCode {
    let line = match getopt::parse(args) {
        Ok(line) => line,
        Err(getopt::UsageError(message)) => {
            eprintln!("mnexec: {message}");
            return usage_error();
        }
    };
    for step in &line.steps {
        match step {
            Step::Version => return print(&format!("mnexec {}\n", env!("CARGO_PKG_VERSION"))),
            Step::Help => return print(&cli::command().render_long_help().to_string()),
            _ => {}
        }
        match apply(step) {
            Ok(Next::Continue) => {}
            Ok(Next::Exit(status)) => return ExitCode::from(status),
            Err(failure) => return fail(&failure),
        }
    }
    if line.command.is_empty() {
        eprintln!("mnexec: no command given");
        return usage_error();
    }
    fail(&steps::exec(&line.command))
}

/// Applies one step to mnexec's own process before exec. Not for other
/// programs: `-d` may fork, which is sound only in a single-threaded
/// process such as mnexec; a vfork child uses [`Prepared`] instead.
fn apply(step: &Step) -> Result<Next, Failure> {
    match step {
        Step::CloseFds => steps::close_fds(),
        Step::Detach => steps::detach(),
        Step::NewNamespaces => steps::new_namespaces(),
        Step::PrintPid => steps::print_pid(),
        Step::Attach(target) => steps::attach(target),
        Step::Cgroup(group) => steps::cgroup(group),
        Step::RtPrio(priority) => steps::rtprio(*priority),
        Step::Version | Step::Help => Ok(Next::Continue),
    }
}

/// Prints to stdout; a reader that went away ends mnexec quietly.
fn print(text: &str) -> ExitCode {
    use std::io::Write;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::from(mncli::BROKEN_PIPE),
        _ => ExitCode::SUCCESS,
    }
}

fn fail(failure: &Failure) -> ExitCode {
    eprintln!("mnexec: {failure}");
    ExitCode::FAILURE
}

fn usage_error() -> ExitCode {
    eprint!("{}", cli::command().render_usage());
    eprintln!("\nTry 'mnexec --help' for more information.");
    ExitCode::FAILURE
}
