//! The test harness: find the workspace binaries, give each test a fresh
//! lab (its own `MN_DIR`), run commands with a timeout, and clean up even
//! when a test panics.
//!
//! Failed assertions print the command, its status, stdout and stderr.
use std::ffi::OsStr;
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::{Receiver, TryRecvError};
use std::time::{Duration, Instant};

pub mod cluster;
mod feature;
mod lab;
mod launcher;
mod links;
pub mod man;
mod rng;
mod tmux;

pub use feature::{Feature, require};
pub use lab::{Lab, survivors, ticks};
pub use launcher::{mn, mn_in, nothing_left, nothing_made, topologies};
pub use links::{Fifo, ifnames, lab_with, listed, mnlink, qdiscs};
pub use rng::Rng;
pub use tmux::Tmux;

/// More output than any test needs: the rest is dropped.
const MAX_OUTPUT: usize = 256 << 20;

/// How long any single command may run before the test fails.
pub const TIMEOUT: Duration = Duration::from_secs(120);

/// The directory holding the workspace binaries (`target/debug`): the
/// parent of the `deps` directory this test executable lives in.
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let deps = exe.parent().expect("test executable has a directory");
    let dir = if deps.ends_with("deps") { deps.parent().unwrap_or(deps) } else { deps };
    dir.to_path_buf()
}

/// A workspace binary; panics with a hint when it has not been built.
pub fn bin(name: &str) -> PathBuf {
    let path = bin_dir().join(name);
    assert!(
        path.exists(),
        "{} is missing: build the workspace first (cargo test --workspace)",
        path.display()
    );
    path
}

/// The repository root (for scripts/ and man/).
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_path_buf()
}

/// The tests drive the kernel and need root. As anyone else the test
/// binary says so once and ends, instead of failing every test.
pub fn require_root() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        static SAID: std::sync::Once = std::sync::Once::new();
        SAID.call_once(|| skip("every test", "the mn tests drive the kernel and need root"));
        std::process::exit(0);
    }
}

/// Reports a skipped check so that it shows in the test run's output even
/// though libtest captures what tests print.
pub fn skip(test: &str, reason: &str) {
    let line = format!("SKIPPED {test}: {reason}\n");
    let _ = std::io::stderr().write_all(line.as_bytes());
}

static SERIAL: AtomicU32 = AtomicU32::new(0);

/// A name no other test of this run (or of a concurrent run) uses.
pub fn unique(prefix: &str) -> String {
    let n = SERIAL.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}{:x}{n}", std::process::id())
}

fn path_with_bins() -> std::ffi::OsString {
    let mut paths = vec![bin_dir()];
    paths.extend(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()));
    std::env::join_paths(paths).expect("PATH joins")
}

/// A command under test, with a timeout (TIMEOUT) and readable failures.
pub struct Cmd {
    command: Command,
    stdin: Option<Vec<u8>>,
}

/// What a finished command did.
#[derive(Debug)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub raw_stdout: Vec<u8>,
    shown: String,
}

impl Output {
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// Panics with the whole story unless `ok` holds.
    pub fn check(&self, ok: bool, expectation: &str) {
        assert!(
            ok,
            "expected {expectation}\n  command: {}\n  status: {}\n  stdout: {}\n  stderr: {}",
            self.shown, self.status, self.stdout, self.stderr
        );
    }
}

impl Cmd {
    pub fn new(program: impl AsRef<OsStr>) -> Cmd {
        let mut command = Command::new(program);
        command.env("PATH", path_with_bins());
        // A test run started as a script's background job has SIGINT
        // ignored, and mnrun keeps an inherited ignore: the tools under
        // test start with the default dispositions whatever ours are.
        // SAFETY: only signal(), which is async-signal-safe, runs between
        // fork and exec.
        unsafe {
            command.pre_exec(|| {
                for sig in [libc::SIGINT, libc::SIGQUIT, libc::SIGHUP, libc::SIGTERM] {
                    libc::signal(sig, libc::SIG_DFL);
                }
                Ok(())
            });
        }
        Cmd { command, stdin: None }
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Cmd {
        self.command.arg(arg);
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Cmd
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.command.args(args);
        self
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Cmd {
        self.command.env(key, value);
        self
    }

    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Cmd {
        self.stdin = Some(bytes.into());
        self
    }

    /// The underlying command, for tests that need to manage the child.
    pub fn command(&mut self) -> &mut Command {
        &mut self.command
    }

    fn shown(&self) -> String {
        let mut parts = vec![self.command.get_program().to_string_lossy().into_owned()];
        parts.extend(self.command.get_args().map(|a| format!("{:?}", a.to_string_lossy())));
        parts.join(" ")
    }

    pub fn spawn(mut self) -> Child {
        self.command.stdin(if self.stdin.is_some() { Stdio::piped() } else { Stdio::null() });
        self.command.stdout(Stdio::piped()).stderr(Stdio::piped());
        self.command.spawn().unwrap_or_else(|e| panic!("cannot start {}: {e}", self.shown()))
    }

    /// Starts the command in the background, feeding it its stdin.
    pub fn start(self) -> Started {
        let shown = self.shown();
        let stdin = self.stdin.clone();
        let mut child = self.spawn();
        if let (Some(bytes), Some(mut pipe)) = (stdin, child.stdin.take()) {
            std::thread::spawn(move || {
                let _ = pipe.write_all(&bytes);
            });
        }
        Started::new(child, shown)
    }

    pub fn run(self) -> Output {
        self.start().finish()
    }

    /// Runs and asserts success.
    pub fn ok(self) -> Output {
        let out = self.run();
        out.check(out.status.success(), "success");
        out
    }

    /// Runs and asserts a non-zero exit.
    pub fn fails(self) -> Output {
        let out = self.run();
        out.check(!out.status.success() && out.code().is_some(), "a non-zero exit");
        out
    }

    /// Runs and asserts the exit code.
    pub fn code(self, code: i32) -> Output {
        let out = self.run();
        out.check(out.code() == Some(code), &format!("exit code {code}"));
        out
    }
}

/// A command running in the background, its output read as it comes:
/// nothing here waits without a deadline.
pub struct Started {
    child: Child,
    shown: String,
    stdout: Receiver<Vec<u8>>,
    stderr: Receiver<Vec<u8>>,
    raw_stdout: Vec<u8>,
    raw_stderr: Vec<u8>,
}

impl Started {
    pub fn new(mut child: Child, shown: String) -> Started {
        let stdout = reader(child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
        let stderr = reader(child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
        Started { child, shown, stdout, stderr, raw_stdout: Vec::new(), raw_stderr: Vec::new() }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Sends a signal to the command.
    pub fn signal(&self, signal: i32) {
        // SAFETY: signalling a child we started and have not reaped.
        unsafe { libc::kill(self.pid(), signal) };
    }

    /// Waits until the command has printed `text` (all its stdout so far),
    /// panicking after `limit`.
    pub fn expect_stdout(&mut self, text: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        while self.raw_stdout.len() < text.len() {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stdout.recv_timeout(left) {
                Ok(chunk) => self.raw_stdout.extend(chunk),
                Err(_) => break,
            }
        }
        assert_eq!(String::from_utf8_lossy(&self.raw_stdout), text, "{}: stdout so far", self.shown);
    }

    /// Waits for the command to end, for `timeout` at most, and collects the
    /// rest of its output: until its pipes close, or for a moment more when
    /// a daemon it started keeps them open.
    pub fn finish_within(mut self, timeout: Duration) -> Output {
        let deadline = Instant::now() + timeout;
        let status = loop {
            self.take_output();
            if let Some(status) = self.child.try_wait().expect("wait for child") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("timed out after {timeout:?}: {}", self.shown);
            }
            std::thread::sleep(Duration::from_millis(1));
        };
        // Both pipes are watched at once: a daemon holding stdout open must
        // not use up the time in which stderr's last words arrive.
        let linger = Instant::now() + Duration::from_secs(2);
        while !self.take_output() && Instant::now() < linger {
            std::thread::sleep(Duration::from_millis(1));
        }
        Output {
            status,
            stdout: String::from_utf8_lossy(&self.raw_stdout).into_owned(),
            stderr: String::from_utf8_lossy(&self.raw_stderr).into_owned(),
            raw_stdout: self.raw_stdout,
            shown: self.shown,
        }
    }

    pub fn finish(self) -> Output {
        self.finish_within(TIMEOUT)
    }

    /// Collects the output read so far; whether both pipes have closed.
    fn take_output(&mut self) -> bool {
        let mut closed = true;
        for (rx, buf) in [(&self.stdout, &mut self.raw_stdout), (&self.stderr, &mut self.raw_stderr)] {
            loop {
                match rx.try_recv() {
                    Ok(chunk) if buf.len() < MAX_OUTPUT => buf.extend(chunk),
                    Ok(_) => {}
                    Err(TryRecvError::Empty) => {
                        closed = false;
                        break;
                    }
                    Err(TryRecvError::Disconnected) => break,
                }
            }
        }
        closed
    }
}

/// Reads a pipe in a thread, handing over what comes.
fn reader(pipe: Option<Box<dyn Read + Send>>) -> Receiver<Vec<u8>> {
    let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
    std::thread::spawn(move || {
        let mut buf = [0u8; 65536];
        if let Some(mut pipe) = pipe {
            while let Ok(n @ 1..) = pipe.read(&mut buf) {
                if tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        }
    });
    rx
}

/// Asserts that the command failed with exactly this one line on stderr.
pub fn assert_error(out: &Output, line: &str) {
    out.check(
        !out.status.success() && out.stderr == format!("{line}\n"),
        &format!("a failure saying exactly `{line}`"),
    );
}

/// The inode of a process's namespace of the given kind (`net`, `mnt`...).
pub fn ns_inode(pid: i32, kind: &str) -> Option<u64> {
    mnnode::procfs::ns_inode(pid, kind)
}

/// Pids of every process whose namespace of `kind` has this inode.
pub fn pids_in_ns(kind: &str, inode: u64) -> Vec<i32> {
    mnnode::procfs::pids().into_iter().filter(|&pid| ns_inode(pid, kind) == Some(inode)).collect()
}

/// Polls `done` until it holds or `limit` passes; returns whether it held.
/// For waiting on asynchronous kernel work, never for timing assertions.
pub fn eventually(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if done() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The `ip netns` entry of a node of a lab.
pub fn netns_entry(lab: &Lab, node: &str) -> PathBuf {
    PathBuf::from("/run/netns").join(format!("{}-{node}", lab.name()))
}

/// `ip netns` entries belonging to a lab.
pub fn netns_entries(lab: &Lab) -> Vec<String> {
    netns_with_prefix(&format!("{}-", lab.name()))
}

/// The `ip netns` entries whose names start with `prefix`.
pub fn netns_with_prefix(prefix: &str) -> Vec<String> {
    std::fs::read_dir("/run/netns")
        .map(|dir| {
            dir.filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| n.starts_with(prefix))
                .collect()
        })
        .unwrap_or_default()
}

/// A process's command name (its `comm`), if it still exists.
pub fn command_name(pid: i32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).ok().map(|name| name.trim().to_string())
}

/// Whether a process is alive (not gone, not a zombie).
pub fn alive(pid: i32) -> bool {
    mnnode::procfs::stat(pid).is_some_and(|s| !s.is_dead())
}
