//! mnlink: parse, run, report.
use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match mnlink::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return mnnode::commands::usage_error("mnlink", err),
    };
    match mnlink::run(cli) {
        Ok(code) => code,
        Err(err) => {
            mnnode::commands::report("mnlink", &err);
            ExitCode::FAILURE
        }
    }
}
