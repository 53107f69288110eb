//! mnrun: parse, run, exit with the command's status.
use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    match mnrun::cli::Cli::try_parse() {
        Ok(cli) => mnrun::run(cli),
        // Usage errors are mnrun's own failures too.
        Err(err) => mncli::usage_error("mnrun", err, mnrun::FAILURE),
    }
}
