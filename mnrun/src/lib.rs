//! mnrun: send a command to a node's shell, stream its output, pass on its
//! exit status, forward Ctrl-C.
pub mod background;
pub mod call;
pub mod cli;
mod health;
mod lock;
mod relay;
mod remote;
mod running;
mod signals;
mod stdio;
mod stop;

use anyhow::{Result, bail};
use std::os::unix::ffi::OsStrExt;
use std::process::ExitCode;
use std::time::Duration;

/// mnrun's own failures.
pub const FAILURE: u8 = 255;

pub fn run(cli: cli::Cli) -> ExitCode {
    // A node on another machine: mnrun there, over ssh.
    match mnnode::remote::lookup(&cli.node) {
        Ok(Some((_, machine))) => return mncli::finish("mnrun", remote::run(&cli, &machine), FAILURE),
        Ok(None) => {}
        Err(err) => return mncli::finish("mnrun", Err(err), FAILURE),
    }
    match request(&cli).and_then(|req| call::call(&req)) {
        Ok(call::Ending::Status(status)) => ExitCode::from(status),
        Ok(call::Ending::Interrupted) => ExitCode::from(130),
        Ok(call::Ending::TimedOut) => ExitCode::from(124),
        Ok(call::Ending::BrokenPipe) => ExitCode::from(141),
        Ok(call::Ending::ShellExited(status)) => {
            mncli::report(
                "mnrun",
                &anyhow::anyhow!(
                    "{}: the node's shell exited (status {status}); it was restarted, its state reset",
                    cli.node
                ),
            );
            ExitCode::from(status)
        }
        Err(err) => mncli::finish("mnrun", Err(err), FAILURE),
    }
}

fn request(cli: &cli::Cli) -> Result<call::Request> {
    let mut command = Vec::new();
    for (i, word) in cli.command.iter().enumerate() {
        if i > 0 {
            command.push(b' ');
        }
        command.extend_from_slice(word.as_bytes());
    }
    let timeout = match &cli.timeout {
        None => None,
        Some(text) => Some(parse_seconds(text)?),
    };
    Ok(call::Request {
        node: cli.node.clone(),
        background: background::is_background(&command),
        command,
        no_stdin: cli.no_stdin,
        timeout,
    })
}

fn parse_seconds(text: &str) -> Result<Duration> {
    match text.parse::<f64>() {
        Ok(secs) if secs.is_finite() && secs > 0.0 && secs < 1e9 => Ok(Duration::from_secs_f64(secs)),
        _ => bail!("-t {text}: not a number of seconds"),
    }
}
