//! Relays between the lab's OVS namespace and the namespace mnnode runs
//! in (the root one, usually): a vswitchd in a namespace of its own cannot
//! reach a controller on the root's 127.0.0.1, nor can `ovs-ofctl` in the
//! root reach a `ptcp:` listener inside. Unix sockets cross namespaces, so
//! each relay joins a Unix socket in `$MN_DIR/.ovs/` to a TCP socket in
//! mnnode's namespace, one thread per connection.
//!
//! A relay is a child forked from mnnode (single-threaded at that moment),
//! in a session of its own, recorded as `relay-KEY` (`pid start`) for
//! `del` and `clean` to kill by pid.
use crate::procfs;
use anyhow::{Result, anyhow};
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

/// What a relay accepts, and where it forwards each connection.
pub enum Relay {
    /// vswitchd connects here; forwarded to a controller on TCP.
    ToTcp(UnixListener, SocketAddr),
    /// `ovs-ofctl tcp:...` connects here; forwarded to a bridge's socket.
    ToUnix(TcpListener, PathBuf),
}

/// The record of a relay: `relay-KEY` in the OVS directory.
pub fn record(dir: &Path, key: &str) -> PathBuf {
    dir.join(format!("relay-{key}"))
}

/// The pid of a live relay recorded under `key`.
pub fn alive(dir: &Path, key: &str) -> Option<i32> {
    let text = std::fs::read_to_string(record(dir, key)).ok()?;
    let mut words = text.split_whitespace();
    let pid: i32 = words.next()?.parse().ok()?;
    let start: u64 = words.next()?.parse().ok()?;
    procfs::stat(pid).filter(|s| s.start == start && !s.is_dead()).map(|_| pid)
}

/// Kills the relay recorded under `key`, if it lives, and removes its record.
pub fn kill(dir: &Path, key: &str) {
    if let Some(pid) = alive(dir, key) {
        // SAFETY: a signal to the process the record names, proved ours by its start time.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    let _ = std::fs::remove_file(record(dir, key));
}

/// Every relay key recorded in the directory.
pub fn keys(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.strip_prefix("relay-").map(str::to_string))
        .collect()
}

/// Forks the relay and records it. The caller is single-threaded.
pub fn start(dir: &Path, key: &str, relay: Relay) -> Result<()> {
    let keep = match &relay {
        Relay::ToTcp(l, _) => l.as_raw_fd(),
        Relay::ToUnix(l, _) => l.as_raw_fd(),
    };
    // SAFETY: mnnode is single-threaded here; the child only makes system
    // calls until it has closed what it inherited, then starts afresh.
    match unsafe { nix::unistd::fork() }.map_err(|e| anyhow!("fork a relay: {}", e.desc()))? {
        nix::unistd::ForkResult::Child => {
            detach(keep);
            serve(relay);
        }
        nix::unistd::ForkResult::Parent { child } => {
            let pid = child.as_raw();
            let start = procfs::stat(pid).map(|s| s.start).unwrap_or(0);
            let path = record(dir, key);
            if let Err(e) = std::fs::write(&path, format!("{pid} {start}\n")) {
                // SAFETY: the child we just forked.
                unsafe { libc::kill(pid, libc::SIGKILL) };
                return Err(mncli::io_error(path.display(), &e));
            }
            Ok(())
        }
    }
}

/// The child's start: its own session, no signal blocked, nothing of
/// mnnode's open but the listener (a lock held by mnnode must not live on
/// in the relay), standard descriptors on /dev/null.
fn detach(keep: i32) {
    // SAFETY: plain system calls in the freshly forked child.
    unsafe {
        libc::setsid();
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        for fd in 0..3 {
            libc::dup2(null, fd);
        }
        let max = libc::sysconf(libc::_SC_OPEN_MAX).clamp(64, 65536) as i32;
        for fd in 3..max {
            if fd != keep {
                libc::close(fd);
            }
        }
    }
}

fn serve(relay: Relay) -> ! {
    match relay {
        Relay::ToTcp(listener, target) => {
            for conn in listener.incoming().flatten() {
                std::thread::spawn(move || {
                    // A controller that is down: the switch sees the
                    // connection close and tries again later.
                    if let Ok(tcp) = TcpStream::connect(target) {
                        let _ = tcp.set_nodelay(true);
                        splice(conn, tcp);
                    }
                });
            }
        }
        Relay::ToUnix(listener, target) => {
            for conn in listener.incoming().flatten() {
                let target = target.clone();
                std::thread::spawn(move || {
                    if let Ok(unix) = UnixStream::connect(&target) {
                        let _ = conn.set_nodelay(true);
                        splice(unix, conn);
                    }
                });
            }
        }
    }
    std::process::exit(0)
}

/// Copies both ways until either side ends.
fn splice(unix: UnixStream, tcp: TcpStream) {
    let (Ok(unix2), Ok(tcp2)) = (unix.try_clone(), tcp.try_clone()) else { return };
    let back = std::thread::spawn(move || {
        copy(tcp2, unix2, |u| {
            let _ = u.shutdown(Shutdown::Write);
        })
    });
    copy(unix, tcp, |t| {
        let _ = t.shutdown(Shutdown::Write);
    });
    let _ = back.join();
}

fn copy<R: Read, W: Write>(mut from: R, mut to: W, done: impl FnOnce(&W)) {
    let mut buf = [0u8; 16384];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    done(&to);
}
