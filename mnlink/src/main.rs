//! mnlink: parse, run, report.
use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    // First of all, so that a signal kills mnlink only before it has done
    // anything (run() blocks them again, reporting a failure).
    mnlink::hold_signals();
    match mnlink::cli::Cli::try_parse() {
        Ok(cli) => mncli::finish("mnlink", mnlink::run(cli), 1),
        Err(err) => mncli::usage_error("mnlink", err, mncli::USAGE),
    }
}
