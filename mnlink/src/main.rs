//! mnlink: parse, run, report.
use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    match mnlink::cli::Cli::try_parse() {
        Ok(cli) => mncli::finish("mnlink", mnlink::run(cli), 1),
        Err(err) => mncli::usage_error("mnlink", err, mncli::USAGE),
    }
}
