//! mnnode: parse, run, report.
use std::process::ExitCode;

fn main() -> ExitCode {
    match mnnode::cli::parse() {
        Ok(cli) => mncli::finish("mnnode", mnnode::commands::run(cli), 1),
        Err(err) => mncli::usage_error("mnnode", err, mncli::USAGE),
    }
}
