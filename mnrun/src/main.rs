//! mnrun: parse, run, exit with the command's status.
use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    match mnrun::cli::Cli::try_parse() {
        Ok(cli) => mnrun::run(cli),
        Err(err) => {
            let code = mnnode::commands::usage_error("mnrun", err);
            // Usage errors are mnrun's own failures too.
            if code == ExitCode::SUCCESS { code } else { ExitCode::from(mnrun::FAILURE) }
        }
    }
}
