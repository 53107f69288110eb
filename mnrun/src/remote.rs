//! A call to a node on another machine (see mnnode's remote.rs): mnrun
//! there, over ssh, with the same contract as here. stdout is ssh's, so
//! it stays byte-exact and live; stdin is ours unless -n; the exit status
//! is the remote mnrun's (ssh passes it on).
//!
//! ssh cannot carry a signal to the remote command, and an ssh killed by
//! Ctrl-C only closes its connection, leaving the command to run on. So
//! ssh is started with SIGINT, SIGTERM and SIGHUP ignored (ssh keeps
//! ignored signals ignored), the remote shell first prints its pid on
//! stderr and then becomes mnrun, and a signal to us is passed on as
//! `kill -INT PID` over the same control master: the remote mnrun
//! interrupts the command and exits 130, as a local one does.
use crate::cli::Cli;
use crate::signals::Signals;
use anyhow::{Result, anyhow};
use mnnode::remote::Machine;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long after passing an interrupt on we wait for the remote mnrun
/// (which kills what is left after a second) before giving up on it.
const GRACE: Duration = Duration::from_secs(10);

pub fn run(cli: &Cli, machine: &Machine) -> Result<ExitCode> {
    let mut command = Vec::new();
    for word in &cli.command {
        let word = word
            .to_str()
            .ok_or_else(|| anyhow!("{}: a command for another machine must be UTF-8 text", cli.node))?;
        command.push(word);
    }
    let mut args = Vec::new();
    if cli.no_stdin {
        args.push("-n".to_string());
    }
    if let Some(t) = &cli.timeout {
        args.push(format!("-t{t}"));
    }
    args.extend(["--".to_string(), cli.node.clone(), command.join(" ")]);
    let line = format!("printf '%s\\n' \"$$\" >&2 && exec {}", machine.tool_line("mnrun", &args));
    let signals = Signals::new()?;
    let mut ssh = machine.ssh(&line)?;
    ssh.stdin(if cli.no_stdin { Stdio::null() } else { Stdio::inherit() }).stderr(Stdio::piped());
    // SAFETY: only signal(), which is async-signal-safe, between fork and exec.
    unsafe {
        ssh.pre_exec(|| {
            for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
                libc::signal(sig, libc::SIG_IGN);
            }
            Ok(())
        });
    }
    let mut child =
        ssh.spawn().map_err(|e| anyhow!("{}: run ssh: {}", machine.describe(), mncli::os_error(&e)))?;
    let pid = Arc::new(AtomicI32::new(0));
    let (said_tx, said) = mpsc::channel();
    if let Some(stderr) = child.stderr.take() {
        let pid = pid.clone();
        std::thread::spawn(move || relay_stderr(stderr, &pid, &said_tx));
    }
    let status = wait(&mut child, machine, &pid, &signals)?;
    let early = said.recv_timeout(Duration::from_secs(2)).unwrap_or_default();
    match status {
        Waited::Status(code) if pid.load(Ordering::Relaxed) == 0 && code != 0 => {
            // ssh failed before the remote shell ran: say so as mnrun.
            mncli::report(
                "mnrun",
                &anyhow!("{}: {}", cli.node, machine.failure("mnrun", Some(code), &early)),
            );
            Ok(ExitCode::from(crate::FAILURE))
        }
        Waited::Status(code) => Ok(ExitCode::from(code.clamp(0, 255) as u8)),
        Waited::Killed => Ok(ExitCode::from(crate::FAILURE)),
        Waited::GaveUp => Ok(ExitCode::from(130)),
    }
}

enum Waited {
    Status(i32),
    Killed,
    /// Interrupted, and the remote side did not answer in time.
    GaveUp,
}

/// Waits for ssh, passing each signal we get on to the remote mnrun.
fn wait(child: &mut Child, machine: &Machine, pid: &AtomicI32, signals: &Signals) -> Result<Waited> {
    let mut pending = 0;
    let mut since: Option<Instant> = None;
    loop {
        if let Some(status) =
            child.try_wait().map_err(|e| anyhow!("wait for ssh: {}", mncli::os_error(&e)))?
        {
            return Ok(match status.code() {
                Some(code) => Waited::Status(code),
                None => Waited::Killed,
            });
        }
        pending += signals.take();
        let remote = pid.load(Ordering::Relaxed);
        if pending > 0 && remote > 0 {
            pending = 0;
            since.get_or_insert_with(Instant::now);
            let _ = machine.ssh(&format!("kill -INT {remote}")).map(|mut kill| {
                kill.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).status()
            });
        }
        if since.is_some_and(|t| t.elapsed() > GRACE) {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(Waited::GaveUp);
        }
        let mut fds =
            [nix::poll::PollFd::new(std::os::fd::AsFd::as_fd(signals), nix::poll::PollFlags::POLLIN)];
        let _ = nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(20u8));
    }
}

/// Reads the remote pid off ssh's stderr, then passes the rest on as it
/// comes. Without a pid first, ssh itself failed: its words are kept for
/// the one-line error instead.
fn relay_stderr(stderr: impl Read, pid: &AtomicI32, said: &mpsc::Sender<String>) {
    let mut reader = BufReader::new(stderr);
    let mut first = String::new();
    if reader.read_line(&mut first).unwrap_or(0) == 0 {
        let _ = said.send(String::new());
        return;
    }
    match first.trim_end().parse::<i32>() {
        Ok(remote) if remote > 0 => pid.store(remote, Ordering::Relaxed),
        _ => {
            let mut rest = String::new();
            let _ = reader.read_to_string(&mut rest);
            let _ = said.send(first + &rest);
            return;
        }
    }
    let mut buf = [0u8; 8192];
    let mut out = std::io::stderr();
    while let Ok(n @ 1..) = reader.read(&mut buf) {
        if out.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    // Relayed to the end: mnrun may exit now.
    let _ = said.send(String::new());
}
