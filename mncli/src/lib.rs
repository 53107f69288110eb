//! The plumbing every mn tool shares: errors as one line (`tool: what:
//! why`), clap usage errors, exit codes, aligned tables, and standard
//! output that a closed pipe ends quietly instead of with a panic.
use std::io::{self, Write};
use std::process::ExitCode;

/// Exit status when our reader went away (`mnnode list | head -1`), as a
/// shell reports a process killed by SIGPIPE.
pub const BROKEN_PIPE: u8 = 141;

/// Exit status of a command line that does not parse.
pub const USAGE: u8 = 2;

/// An OS error in words, as strerror says it, without Rust's
/// "(os error N)" suffix.
pub fn os_error(err: &io::Error) -> String {
    match err.raw_os_error() {
        Some(code) => nix::errno::Errno::from_raw(code).desc().to_string(),
        None => err.to_string(),
    }
}

/// `what: why` for an I/O error about `what` (a path, an action).
pub fn io_error(what: impl std::fmt::Display, err: &io::Error) -> anyhow::Error {
    anyhow::anyhow!("{what}: {}", os_error(err))
}

/// `bytes` random bytes from the kernel, as lowercase hex: nonces, ids.
pub fn random_hex(bytes: usize) -> anyhow::Result<String> {
    let mut buf = vec![0u8; bytes];
    let mut filled = 0;
    while filled < bytes {
        // SAFETY: getrandom fills the part of the buffer we own.
        let n = unsafe { libc::getrandom(buf[filled..].as_mut_ptr().cast(), bytes - filled, 0) };
        match n {
            n if n > 0 => filled += n as usize,
            _ if nix::errno::Errno::last() == nix::errno::Errno::EINTR => {}
            _ => anyhow::bail!("getrandom: {}", nix::errno::Errno::last().desc()),
        }
    }
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// Whether an error comes down to a closed pipe on our side.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause.downcast_ref::<io::Error>().is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
            || cause.downcast_ref::<nix::errno::Errno>() == Some(&nix::errno::Errno::EPIPE)
    })
}

/// Ends a tool: the exit code of its run, or its error printed as one line
/// (`tool: what: why`) and `failure`; a closed stdout exits quietly.
pub fn finish(tool: &str, result: anyhow::Result<ExitCode>, failure: u8) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(err) if is_broken_pipe(&err) => ExitCode::from(BROKEN_PIPE),
        Err(err) => {
            report(tool, &err);
            ExitCode::from(failure)
        }
    }
}

/// Prints an error the way every tool does: `tool: what: why`, one line.
pub fn report(tool: &str, err: &anyhow::Error) {
    let mut line = format!("{err:#}");
    line.retain(|c| c != '\n');
    let _ = writeln!(io::stderr().lock(), "{tool}: {line}");
}

/// Prints a clap usage error on one line, `tool: what`, and picks the exit
/// code: 0 for help and version (printed to stdout as usual), else
/// `failure`.
pub fn usage_error(tool: &str, err: clap::Error, failure: u8) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(err.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        return match write!(io::stdout().lock(), "{}", err.render()) {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::from(BROKEN_PIPE),
            _ => ExitCode::SUCCESS,
        };
    }
    let mut stderr = io::stderr().lock();
    let _ = if err.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        writeln!(stderr, "{tool}: a subcommand is needed (see {tool} --help)")
    } else {
        writeln!(stderr, "{tool}: {}", usage_line(&err))
    };
    ExitCode::from(failure)
}

/// A clap error as one line, without its usage and hint.
pub fn usage_line(err: &clap::Error) -> String {
    let text = err.render().to_string();
    let text = text.strip_prefix("error: ").unwrap_or(&text);
    let message = text.split("\n\n").next().unwrap_or(text);
    message.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ")
}

/// Writes one line to stdout; a closed pipe comes back as an error that
/// [`finish`] turns into a quiet exit.
pub fn say(line: impl std::fmt::Display) -> anyhow::Result<()> {
    writeln!(io::stdout().lock(), "{line}")?;
    Ok(())
}

/// Prints rows as columns two spaces apart (the first row a header).
pub fn print_table(out: &mut impl Write, rows: &[Vec<String>]) -> io::Result<()> {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|i| rows.iter().filter_map(|r| r.get(i)).map(String::len).max().unwrap_or(0))
        .collect();
    for row in rows {
        let cells: Vec<String> = row.iter().zip(&widths).map(|(cell, w)| format!("{cell:w$}")).collect();
        writeln!(out, "{}", cells.join("  ").trim_end())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broken_pipes_are_recognised_through_context() {
        let err = anyhow::Error::from(io::Error::from(io::ErrorKind::BrokenPipe)).context("write the list");
        assert!(is_broken_pipe(&err));
        assert!(is_broken_pipe(&anyhow::Error::from(nix::errno::Errno::EPIPE)));
        assert!(!is_broken_pipe(&anyhow::anyhow!("no node named h1")));
    }

    #[test]
    fn os_errors_read_as_strerror() {
        assert_eq!(os_error(&io::Error::from_raw_os_error(libc_enoent())), "No such file or directory");
    }

    fn libc_enoent() -> i32 {
        nix::errno::Errno::ENOENT as i32
    }

    #[test]
    fn tables_align() {
        let mut out = Vec::new();
        let rows = vec![vec!["NAME".into(), "KIND".into()], vec!["h10".into(), "host".into()]];
        print_table(&mut out, &rows).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "NAME  KIND\nh10   host\n");
    }
}
