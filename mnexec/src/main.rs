//! mnexec: parse Mininet-style flags, apply them in order, exec the command.
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<_> = std::env::args_os().collect();
    mnexec::run(&args)
}
