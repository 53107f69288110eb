//! mnnode: parse, run, report.
use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match mnnode::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return mnnode::commands::usage_error("mnnode", err),
    };
    match mnnode::commands::run(cli) {
        Ok(code) => code,
        Err(err) => {
            mnnode::commands::report("mnnode", &err);
            ExitCode::FAILURE
        }
    }
}
