//! Open vSwitch switches (`--kind ovs`): the lab's own ovsdb-server and
//! ovs-vswitchd, and one OVS bridge per switch node.
//!
//! ```text
//! $MN_DIR/.ovs/            0700: everything of the lab's Open vSwitch
//!   netns                  the OVS namespace's inode (written before its entry)
//!   lock                   taken by add, del and clean while they change OVS
//!   conf.db db.sock        the database and ovsdb-server's socket
//!   *.pid *.log *.ctl      the daemons' pid files, logs and control sockets
//!   NAME.mgmt              each bridge's OpenFlow socket (ovs-ofctl NAME)
//!   tcp-IP-PORT.sock       a controller relay's socket; relay-KEY its record
//!   ref-FIRST.sock         an ovs-testcontroller of the lab's (--controller ref),
//!                          one per 16 switches (its limit), named after the first
//! /run/netns/LAB-.ovs      the OVS namespace, pinned
//! ```
//!
//! The daemons, and every OVS switch node's shell, run in one network
//! namespace of the lab's, as Mininet's switches share the root one: the
//! datapath's devices (`ovs-netdev` and a tap per bridge for the userspace
//! datapath, `ovs-system` for the kernel one) are the lab's alone and go
//! with the namespace. `clean` ends every process in it and unpins it.
pub mod relay;

use crate::lab::Lab;
use crate::node::{Kind, Node};
use crate::{netlink, netns, procfs};
use anyhow::{Result, anyhow, bail};
use nix::sched::{CloneFlags, setns, unshare};
use std::ffi::OsString;
use std::fs::File;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The lab's OVS directory, in MN_DIR.
pub const DIR: &str = ".ovs";
/// What follows `LAB-` in the OVS namespace's `ip netns` name: never a node name.
const ENTRY: &str = ".ovs";
/// The controller port Mininet and OVS use by default.
pub const DEFAULT_PORT: u16 = 6653;
/// What ovs-vsctl may take before we call OVS stuck.
const VSCTL_TIMEOUT: &str = "--timeout=30";

/// The programs OVS switches need, with their Debian packages.
pub const PROGRAMS: [(&str, &str); 4] = [
    ("ovs-vswitchd", "openvswitch-switch"),
    ("ovsdb-server", "openvswitch-switch"),
    ("ovsdb-tool", "openvswitch-common"),
    ("ovs-vsctl", "openvswitch-switch"),
];
const TESTCONTROLLER: (&str, &str) = ("ovs-testcontroller", "openvswitch-testcontroller");
/// How many switches one ovs-testcontroller serves (its MAX_SWITCHES): the
/// 17th's connection fails ("Protocol error"), as with Mininet's one
/// OVSController for every switch.
const REF_SWITCHES: usize = 16;

/// The files of the ref controller whose group of switches starts with
/// `first`: ref-FIRST.{sock,pid,log}.
fn ref_key(first: &str) -> String {
    format!("ref-{first}")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FailMode {
    /// No controller, no forwarding: only the controller's flows.
    Secure,
    /// No controller: a learning switch, as OVS is on its own.
    Standalone,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Datapath {
    /// The kernel's when its openvswitch module loads, else userspace.
    #[default]
    Auto,
    /// The userspace (netdev) datapath, in ovs-vswitchd itself.
    User,
    /// The kernel's (system) datapath: needs the openvswitch module.
    Kernel,
}

/// Where a switch connects to a controller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Controller {
    /// A controller on TCP in mnnode's namespace, reached through a relay.
    Tcp(SocketAddrV4),
    /// A Unix socket (any namespace reaches it).
    Unix(PathBuf),
    /// The lab's own ovs-testcontroller.
    Ref,
}

/// What `--kind ovs` adds to `mnnode add`.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub dpid: Option<String>,
    pub protocols: Option<String>,
    pub fail_mode: Option<FailMode>,
    pub controllers: Vec<Controller>,
    /// `ptcp:PORT[:IP]`: a TCP port in mnnode's namespace for ovs-ofctl.
    pub listen: Option<SocketAddrV4>,
    pub datapath: Datapath,
}

const PROTOCOLS: [&str; 6] =
    ["OpenFlow10", "OpenFlow11", "OpenFlow12", "OpenFlow13", "OpenFlow14", "OpenFlow15"];

pub fn parse_protocols(text: &str) -> Result<String> {
    let mut seen = Vec::new();
    for p in text.split(',') {
        if !PROTOCOLS.contains(&p) {
            bail!("--protocols {text}: {p:?} is not an OpenFlow version ({})", PROTOCOLS.join(", "));
        }
        if !seen.contains(&p) {
            seen.push(p);
        }
    }
    Ok(seen.join(","))
}

pub fn parse_controller(text: &str) -> Result<Controller> {
    let bad = || anyhow!("--controller {text}: not a controller (tcp:IP[:PORT], unix:PATH or ref)");
    if text == "ref" {
        return Ok(Controller::Ref);
    }
    if let Some(path) = text.strip_prefix("unix:") {
        if !path.starts_with('/') {
            bail!("--controller {text}: the socket's path must be absolute");
        }
        return Ok(Controller::Unix(PathBuf::from(path)));
    }
    let rest = text.strip_prefix("tcp:").ok_or_else(bad)?;
    let (ip, port) = match rest.split_once(':') {
        Some((ip, port)) => (ip, port.parse::<u16>().ok().filter(|&p| p > 0).ok_or_else(bad)?),
        None => (rest, DEFAULT_PORT),
    };
    let ip: Ipv4Addr = ip.parse().map_err(|_| bad())?;
    Ok(Controller::Tcp(SocketAddrV4::new(ip, port)))
}

/// `ptcp:PORT[:IP]`, as OVS writes a passive TCP target.
pub fn parse_listen(text: &str) -> Result<SocketAddrV4> {
    let bad = || anyhow!("--listen {text}: not a listening address (ptcp:PORT or ptcp:PORT:IP)");
    let rest = text.strip_prefix("ptcp:").ok_or_else(bad)?;
    let (port, ip) = match rest.split_once(':') {
        Some((port, ip)) => (port, ip.parse::<Ipv4Addr>().map_err(|_| bad())?),
        None => (rest, Ipv4Addr::LOCALHOST),
    };
    let port = port.parse::<u16>().ok().filter(|&p| p > 0).ok_or_else(bad)?;
    Ok(SocketAddrV4::new(ip, port))
}

/// `--dpid`: 1 to 16 hex digits, not all zero, as 16 digits.
pub fn parse_dpid(text: &str) -> Result<String> {
    let hex = text.strip_prefix("0x").unwrap_or(text);
    if hex.is_empty() || hex.len() > 16 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        bail!("--dpid {text}: not a datapath id (1 to 16 hex digits)");
    }
    if hex.bytes().all(|b| b == b'0') {
        bail!("--dpid {text}: a datapath id cannot be zero");
    }
    Ok(format!("{:0>16}", hex.to_ascii_lowercase()))
}

/// Mininet's default: the first number in the name, in hex (s1 ->
/// 0000000000000001, s10 -> 000000000000000a).
pub fn dpid_of(name: &str) -> Result<String> {
    let digits: String =
        name.chars().skip_while(|c| !c.is_ascii_digit()).take_while(|c| c.is_ascii_digit()).collect();
    match digits.parse::<u64>() {
        Ok(n) if n > 0 => Ok(format!("{n:016x}")),
        _ => bail!("{name}: no number in the name to derive a datapath id from (as s1 has); give --dpid"),
    }
}

/// A program in PATH.
fn find(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).map(|d| d.join(program)).find(|p| p.is_file())
}

fn require((program, package): (&str, &str)) -> Result<PathBuf> {
    find(program).ok_or_else(|| {
        anyhow!("{program} not found: OVS switches need Open vSwitch (Debian package: {package})")
    })
}

/// The checks that need no lab: programs and the names' datapath ids.
pub fn validate(names: &[String], opts: &Options) -> Result<()> {
    for p in PROGRAMS {
        require(p)?;
    }
    if opts.controllers.contains(&Controller::Ref) {
        require(TESTCONTROLLER)?;
    }
    if opts.dpid.is_some() && names.len() > 1 {
        bail!("--dpid names one switch's datapath id; add the switches one by one");
    }
    let dpids = dpids(names, opts)?;
    for (i, (name, dpid)) in dpids.iter().enumerate() {
        if let Some((other, _)) = dpids[..i].iter().find(|(_, d)| d == dpid) {
            bail!("{name}: datapath id {dpid} is {other}'s too; give one of them --dpid");
        }
    }
    if opts.datapath == Datapath::Kernel && !kernel_datapath() {
        bail!("--datapath kernel: this kernel has no openvswitch module; use --datapath user");
    }
    Ok(())
}

fn dpids(names: &[String], opts: &Options) -> Result<Vec<(String, String)>> {
    names
        .iter()
        .map(|n| {
            Ok((
                n.clone(),
                match &opts.dpid {
                    Some(d) => d.clone(),
                    None => dpid_of(n)?,
                },
            ))
        })
        .collect()
}

/// Whether the kernel's openvswitch module is there (loaded on demand).
fn kernel_datapath() -> bool {
    let loaded = || Path::new("/sys/module/openvswitch").exists();
    if !loaded() {
        if let Some(modprobe) = find("modprobe").or_else(|| Some(PathBuf::from("/sbin/modprobe"))) {
            let _ = Command::new(modprobe)
                .args(["-q", "openvswitch"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status();
        }
    }
    loaded()
}

/// The lab's Open vSwitch: its directory and namespace.
pub struct Ovs {
    pub dir: PathBuf,
    entry: PathBuf,
}

/// The lock on the lab's OVS, held while it changes.
pub struct Locked(#[allow(dead_code)] File);

impl Ovs {
    pub fn of(lab: &Lab) -> Ovs {
        Ovs { dir: lab.dir.join(DIR), entry: netns::DIR.join(format!("{}-{ENTRY}", lab.name)) }
    }

    /// The environment that makes ovs-vsctl, ovs-ofctl and ovs-appctl talk
    /// to the lab's OVS: given to OVS switch nodes' shells.
    pub fn environment(&self) -> Vec<(&'static str, OsString)> {
        ["OVS_RUNDIR", "OVS_DBDIR", "OVS_LOGDIR"].into_iter().map(|k| (k, self.dir.clone().into())).collect()
    }

    fn db(&self) -> String {
        format!("unix:{}", self.dir.join("db.sock").display())
    }

    /// The directory, made if missing (0700), and the lock on it.
    fn lock(&self) -> Result<Locked> {
        match std::fs::DirBuilder::new().mode(0o700).create(&self.dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(mncli::io_error(self.dir.display(), &e)),
        }
        let meta =
            std::fs::symlink_metadata(&self.dir).map_err(|e| mncli::io_error(self.dir.display(), &e))?;
        if !meta.is_dir() || meta.mode() & 0o022 != 0 {
            bail!("{}: not the lab's OVS directory; refusing to use it", self.dir.display());
        }
        let path = self.dir.join("lock");
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| mncli::io_error(path.display(), &e))?;
        // SAFETY: flock on a descriptor we own; released when it closes.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
            bail!("{}: lock: {}", path.display(), nix::errno::Errno::last().desc());
        }
        Ok(Locked(file))
    }

    /// The lock, if the directory exists (del and clean make nothing).
    fn lock_existing(&self) -> Option<Locked> {
        if std::fs::symlink_metadata(&self.dir).is_ok_and(|m| m.is_dir()) { self.lock().ok() } else { None }
    }

    /// The namespace's inode as recorded, if any.
    fn recorded_inode(&self) -> Option<u64> {
        std::fs::read_to_string(self.dir.join("netns")).ok()?.trim().parse().ok()
    }

    /// The OVS namespace, if the lab has one.
    pub fn namespace(&self) -> Option<File> {
        netns::open(&self.entry, Some(self.recorded_inode()?))
    }

    /// The pid of a daemon of the lab (from its pid file), if it runs in
    /// the lab's OVS namespace.
    fn daemon(&self, program: &str, ns: u64) -> Option<i32> {
        let text = std::fs::read_to_string(self.dir.join(format!("{program}.pid"))).ok()?;
        let pid: i32 = text.trim().parse().ok()?;
        let alive = procfs::stat(pid).is_some_and(|s| !s.is_dead());
        (alive && procfs::ns_inode(pid, "net") == Some(ns)).then_some(pid)
    }

    /// Whether the lab's ovs-vswitchd runs: its switches forward.
    pub fn is_up(&self) -> bool {
        let Some(ns) = self.namespace() else { return false };
        let Ok(meta) = ns.metadata() else { return false };
        self.daemon("ovs-vswitchd", meta.ino()).is_some()
    }

    /// Runs ovs-vsctl on the lab's database; its complaint is the error.
    pub fn vsctl(&self, args: &[String]) -> Result<String> {
        let out = self.vsctl_command(args)?.output().map_err(|e| mncli::io_error("run ovs-vsctl", &e))?;
        if !out.status.success() {
            bail!("{}", complaint("ovs-vsctl", &out.stderr));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn vsctl_command(&self, args: &[String]) -> Result<Command> {
        let mut cmd = Command::new(require(PROGRAMS[3])?);
        cmd.arg(format!("--db={}", self.db()))
            .arg(VSCTL_TIMEOUT)
            .args(args)
            .envs(self.environment())
            .stdin(std::process::Stdio::null());
        Ok(cmd)
    }

    /// Starts the lab's OVS unless it runs, and whatever `opts` needs of
    /// it (ovs-testcontroller, controller relays), after binding the
    /// `--listen` ports: a port in use is found before anything is made.
    /// The lock is held until [`Started::finish`].
    pub fn start(&self, lab: &Lab, names: &[String], opts: &Options) -> Result<Started> {
        let lock = self.lock()?;
        let listeners = self.bind_listeners(names, opts);
        let result = listeners.and_then(|listeners| {
            let (ns, mut starting) = match self.namespace() {
                Some(ns) => {
                    let ino = ns.metadata().map_err(|e| mncli::io_error(self.entry.display(), &e))?.ino();
                    if self.daemon("ovs-vswitchd", ino).is_none() {
                        bail!(
                            "the lab's ovs-vswitchd is not running (killed?); mnnode clean removes the lab"
                        );
                    }
                    (ns, Vec::new())
                }
                None => self.make()?,
            };
            // The daemons start side by side: each takes tens of ms.
            let fresh = !starting.is_empty();
            let controllers = self.controllers(&ns, names, opts, &mut starting);
            let started = finish(starting);
            controllers.and(started)?;
            if !fresh {
                self.check_dpids(lab, names, opts)?;
            }
            Ok((ns, listeners))
        });
        match result {
            Ok((ns, listeners)) => Ok(Started { lock, ns, listeners }),
            Err(e) => {
                if !has_ovs_nodes(lab, &[]) {
                    self.stop(&lock);
                }
                Err(e)
            }
        }
    }

    fn bind_listeners(
        &self,
        names: &[String],
        opts: &Options,
    ) -> Result<Vec<(String, std::net::TcpListener)>> {
        let Some(first) = opts.listen else { return Ok(Vec::new()) };
        let mut out = Vec::new();
        for (i, name) in names.iter().enumerate() {
            // One port per switch, counting up, as Mininet's --listenport.
            let port = first
                .port()
                .checked_add(i as u16)
                .ok_or_else(|| anyhow!("{name}: --listen: out of ports"))?;
            let addr = SocketAddrV4::new(*first.ip(), port);
            let listener = std::net::TcpListener::bind(addr)
                .map_err(|e| anyhow!("{name}: --listen ptcp:{port}: {addr}: {}", mncli::os_error(&e)))?;
            out.push((name.clone(), listener));
        }
        Ok(out)
    }

    /// Makes the namespace and starts ovsdb-server and ovs-vswitchd in it;
    /// ovs-vswitchd is still starting (see [`finish`]).
    fn make(&self) -> Result<(File, Vec<Starting>)> {
        netns::prepare()?;
        if netns::taken(&self.entry) {
            // A crashed run's entry that holds nothing is ours to reuse.
            match netns::holds(&self.entry) {
                netns::Holds::Unmounted | netns::Holds::Symlink => {
                    netns::remove(&self.entry, None)?;
                }
                _ => bail!(
                    "ip netns name {} is taken (by another lab named the same?); give this lab another MN_DIR name",
                    self.entry.file_name().unwrap_or_default().to_string_lossy()
                ),
            }
        }
        let ns = new_netns()?;
        let ino = ns.metadata().map_err(|e| mncli::io_error("the new namespace", &e))?.ino();
        // Recorded first: an entry is only ever removed when it holds this.
        crate::write_file(self.dir.join("netns"), &format!("{ino}\n"))?;
        netns::bind(&self.entry, ns.as_fd())?;
        let rt = netlink::runtime()?;
        rt.block_on(async {
            let conn = netlink::connect_in(ns.as_fd())?;
            netlink::set_up(&conn.handle, 1)
                .await
                .map_err(|e| anyhow!("OVS namespace: bring lo up: {}", netlink::describe(&e)))
        })?;
        netlink::in_netns(ns.as_fd(), || -> Result<()> {
            crate::write_file("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1")?;
            crate::write_file("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1")
        })??;
        let db = self.dir.join("conf.db");
        let _ = std::fs::remove_file(&db);
        self.run(&ns, require(PROGRAMS[2])?, &["create".into(), db.display().to_string()])?;
        let d = |f: &str| self.dir.join(f).display().to_string();
        self.run(
            &ns,
            require(PROGRAMS[1])?,
            &[
                db.display().to_string(),
                format!("--remote=punix:{}", d("db.sock")),
                format!("--pidfile={}", d("ovsdb-server.pid")),
                format!("--log-file={}", d("ovsdb-server.log")),
                format!("--unixctl={}", d("ovsdb-server.ctl")),
                "--detach".into(),
                "--no-chdir".into(),
            ],
        )?;
        self.vsctl(&["--no-wait".into(), "init".into()])?;
        if kernel_datapath() {
            // OVS 3.1 started within ~10 s of boot (a fresh VM) gets no
            // upcall handler threads on the kernel datapath and drops
            // every packet that misses a flow: wait that out.
            wait_for_uptime(Duration::from_secs(12));
        }
        let vswitchd = self.spawn(
            &ns,
            require(PROGRAMS[0])?,
            &[
                self.db(),
                format!("--pidfile={}", d("ovs-vswitchd.pid")),
                format!("--log-file={}", d("ovs-vswitchd.log")),
                "--detach".into(),
                "--no-chdir".into(),
            ],
        )?;
        Ok((ns, vec![vswitchd]))
    }

    /// Runs an OVS program in the lab's OVS namespace (its own mount
    /// namespace, with a sysfs of that network namespace and without the
    /// host's `ip netns` entries); a daemon detaches itself.
    fn run(&self, ns: &File, program: PathBuf, args: &[String]) -> Result<()> {
        finish(vec![self.spawn(ns, program, args)?])
    }

    /// Starts [`Ovs::run`]'s program; [`finish`] waits for it (a daemon
    /// has detached, ready, when its first process exits).
    fn spawn(&self, ns: &File, program: PathBuf, args: &[String]) -> Result<Starting> {
        let name = program.file_name().unwrap_or_default().to_string_lossy().into_owned();
        let net = ns.as_raw_fd();
        let mut cmd = Command::new(&program);
        cmd.args(args).envs(self.environment()).current_dir(&self.dir).stdin(std::process::Stdio::null());
        // SAFETY: only system calls run between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                let fail = || Err(std::io::Error::last_os_error());
                let none: *const libc::c_char = std::ptr::null();
                if libc::setsid() < 0
                    || libc::setns(net, libc::CLONE_NEWNET) < 0
                    || libc::unshare(libc::CLONE_NEWNS) < 0
                {
                    return fail();
                }
                if libc::mount(none, c"/".as_ptr(), none, libc::MS_REC | libc::MS_PRIVATE, std::ptr::null())
                    < 0
                {
                    return fail();
                }
                let sysfs = c"sysfs".as_ptr();
                if libc::mount(sysfs, c"/sys".as_ptr(), sysfs, 0, std::ptr::null()) < 0 {
                    return fail();
                }
                // The host's entries would keep other labs' namespaces alive.
                libc::umount2(c"/run/netns".as_ptr(), libc::MNT_DETACH);
                let mut none_set: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut none_set);
                libc::sigprocmask(libc::SIG_SETMASK, &none_set, std::ptr::null_mut());
                Ok(())
            });
        }
        cmd.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::piped());
        let child = cmd.spawn().map_err(|e| mncli::io_error(format!("run {name}"), &e))?;
        Ok(Starting { name, child })
    }

    /// The lab's ovs-testcontrollers and the relays the controllers need.
    fn controllers(
        &self,
        ns: &File,
        names: &[String],
        opts: &Options,
        starting: &mut Vec<Starting>,
    ) -> Result<()> {
        for c in &opts.controllers {
            match c {
                Controller::Ref => {
                    let ino = ns.metadata().map_err(|e| mncli::io_error(self.entry.display(), &e))?.ino();
                    for chunk in names.chunks(REF_SWITCHES) {
                        let key = ref_key(&chunk[0]);
                        if self.daemon(&key, ino).is_some() {
                            continue;
                        }
                        let d = |ext: &str| self.dir.join(format!("{key}.{ext}")).display().to_string();
                        let _ = std::fs::remove_file(d("sock"));
                        let controller = self.spawn(
                            ns,
                            require(TESTCONTROLLER)?,
                            &[
                                "--protocols=OpenFlow10,OpenFlow11,OpenFlow12,OpenFlow13".into(),
                                format!("--pidfile={}", d("pid")),
                                format!("--log-file={}", d("log")),
                                "--detach".into(),
                                "--no-chdir".into(),
                                format!("punix:{}", d("sock")),
                            ],
                        )?;
                        starting.push(controller);
                    }
                }
                Controller::Tcp(addr) => {
                    let key = tcp_key(addr);
                    if relay::alive(&self.dir, &key).is_some() {
                        continue;
                    }
                    let sock = self.dir.join(format!("{key}.sock"));
                    let _ = std::fs::remove_file(&sock);
                    let listener = std::os::unix::net::UnixListener::bind(&sock)
                        .map_err(|e| anyhow!("{}: {}", sock.display(), mncli::os_error(&e)))?;
                    relay::start(&self.dir, &key, relay::Relay::ToTcp(listener, SocketAddr::V4(*addr)))?;
                }
                Controller::Unix(_) => {}
            }
        }
        Ok(())
    }

    /// Ends the ref controllers that no bridge left connects to.
    fn end_unused_refs(&self, ns: &File) {
        let Ok(ino) = ns.metadata().map(|m| m.ino()) else { return };
        let list = ["--bare", "--columns=target", "list", "controller"].map(String::from);
        let Ok(targets) = self.vsctl(&list) else { return };
        let Ok(entries) = std::fs::read_dir(&self.dir) else { return };
        for entry in entries.flatten() {
            let file = entry.file_name().to_string_lossy().into_owned();
            let Some(key) = file.strip_suffix(".pid").filter(|k| k.starts_with("ref-")) else { continue };
            if targets.contains(&format!("/{key}.sock")) {
                continue;
            }
            if let Some(pid) = self.daemon(key, ino) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            for ext in ["pid", "sock"] {
                let _ = std::fs::remove_file(self.dir.join(format!("{key}.{ext}")));
            }
        }
    }

    /// What vswitchd connects to for a controller; `first`: the first
    /// switch of the switch's group of 16 (ref).
    fn target(&self, c: &Controller, first: &str) -> String {
        match c {
            Controller::Ref => {
                format!("unix:{}", self.dir.join(format!("{}.sock", ref_key(first))).display())
            }
            Controller::Unix(path) => format!("unix:{}", path.display()),
            Controller::Tcp(addr) => {
                format!("unix:{}", self.dir.join(format!("{}.sock", tcp_key(addr))).display())
            }
        }
    }

    /// Refuses a datapath id another switch of the lab has.
    fn check_dpids(&self, lab: &Lab, names: &[String], opts: &Options) -> Result<()> {
        if !has_ovs_nodes(lab, &[]) {
            return Ok(());
        }
        let listed = self.vsctl(
            &[
                "--format=csv",
                "--data=bare",
                "--no-headings",
                "--columns=name,other_config",
                "list",
                "bridge",
            ]
            .map(String::from),
        )?;
        let taken: Vec<(String, String)> = listed
            .lines()
            .filter_map(|line| {
                let (bridge, rest) = line.split_once(',')?;
                let dpid = rest.split([' ', '"']).find_map(|w| w.strip_prefix("datapath-id="))?;
                Some((bridge.to_string(), dpid.to_string()))
            })
            .collect();
        for (name, dpid) in dpids(names, opts)? {
            if let Some((other, _)) = taken.iter().find(|(_, d)| *d == dpid) {
                bail!("{name}: datapath id {dpid} is {other}'s already; give --dpid");
            }
        }
        Ok(())
    }

    /// Starts making the bridges of new switch nodes, in one transaction,
    /// for ovs-vswitchd to make them while the caller makes the nodes;
    /// [`Bridges::finish`] waits for them.
    pub fn add_bridges(&self, names: &[String], opts: &Options) -> Result<Bridges> {
        let kernel = match opts.datapath {
            Datapath::Kernel => true,
            Datapath::User => false,
            Datapath::Auto => kernel_datapath(),
        };
        let fail_mode = match opts.fail_mode {
            Some(FailMode::Secure) => "secure",
            Some(FailMode::Standalone) => "standalone",
            None if opts.controllers.is_empty() => "standalone",
            None => "secure",
        };
        if !kernel {
            need_tun()?;
        }
        let mut args: Vec<String> = Vec::new();
        for (i, (name, dpid)) in dpids(names, opts)?.into_iter().enumerate() {
            let first = &names[i - i % REF_SWITCHES];
            args.extend(["--".into(), "add-br".into(), name.clone()]);
            args.extend(["--".into(), "set".into(), "bridge".into(), name.clone()]);
            args.push(format!("datapath_type={}", if kernel { "system" } else { "netdev" }));
            args.push(format!("fail_mode={fail_mode}"));
            args.push(format!("other-config:datapath-id={dpid}"));
            // Mininet's: no hidden flows for a controller on a data port.
            args.push("other-config:disable-in-band=true".into());
            if let Some(p) = &opts.protocols {
                args.push(format!("protocols={p}"));
            }
            if !opts.controllers.is_empty() {
                args.extend(["--".into(), "set-controller".into(), name.clone()]);
                args.extend(opts.controllers.iter().map(|c| self.target(c, first)));
            }
        }
        let child = self
            .vsctl_command(&args)?
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .map_err(|e| mncli::io_error("run ovs-vsctl", &e))?;
        Ok(Bridges { names: names.to_vec(), making: Some(Starting { name: "ovs-vsctl".into(), child }) })
    }

    /// Deletes these bridges, if they exist, in one transaction.
    fn del_bridges<'a>(&self, names: impl IntoIterator<Item = &'a str>) -> Result<()> {
        let mut args = Vec::new();
        for name in names {
            args.extend(["--".into(), "--if-exists".into(), "del-br".into(), name.to_string()]);
        }
        if args.is_empty() {
            return Ok(());
        }
        self.vsctl(&args).map(drop)
    }

    /// The last error ovs-vswitchd logged, without its prefixes.
    fn last_error(&self) -> Option<String> {
        let log = std::fs::read_to_string(self.dir.join("ovs-vswitchd.log")).ok()?;
        let line = log.lines().rfind(|l| l.contains("|ERR|") || l.contains("|WARN|"))?;
        Some(line.rsplit('|').next()?.trim().to_string())
    }

    /// Removes switches' bridges and links and their `--listen` relays
    /// (before their shells are ended). When they are the lab's last, the
    /// bridges and links go with the OVS namespace instead, at once.
    pub fn remove_switches(&self, lab: &Lab, nodes: &[&Node]) {
        if nodes.is_empty() {
            return;
        }
        for node in nodes {
            relay::kill(&self.dir, &listen_key(&node.name));
        }
        let going: Vec<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
        if !has_ovs_nodes(lab, &going) {
            return;
        }
        let Some(ns) = self.namespace() else { return };
        if self.is_up() {
            let _ = self.del_bridges(nodes.iter().map(|n| n.name.as_str()));
            self.end_unused_refs(&ns);
        }
        // Their links do not go with a namespace: the OVS one stays.
        let names: Vec<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
        if let Ok(rt) = netlink::runtime() {
            rt.block_on(async {
                let Ok(conn) = netlink::connect_in(ns.as_fd()) else { return };
                for link in netlink::links(&conn.handle).await.unwrap_or_default() {
                    let tag = netlink::link_alias(&link).and_then(crate::tag::Tag::parse);
                    if tag.is_some_and(|t| names.contains(&t.node.as_str())) {
                        let _ = conn.handle.link().del(link.header.index).execute().await;
                    }
                }
            });
        }
    }

    /// Stops the lab's OVS once no OVS switch node is left but `going`
    /// (checked again under the lock: an `add` may be making one): every
    /// process in its namespace, the relays, the namespace's entry, the
    /// directory. Whatever a crash left included.
    pub fn stop_if_unused(&self, lab: &Lab, going: &[&str]) -> Result<()> {
        if has_ovs_nodes(lab, going) || std::fs::symlink_metadata(&self.dir).is_err() {
            return Ok(());
        }
        let lock = self.lock_existing();
        if has_ovs_nodes(lab, going) {
            return Ok(());
        }
        match lock {
            Some(lock) => self.stop(&lock),
            None => self.stop_unlocked(),
        }
        let problems = self.leftovers();
        if !problems.is_empty() {
            bail!("{}", problems.join("; "));
        }
        Ok(())
    }

    fn stop(&self, _lock: &Locked) {
        self.stop_unlocked();
    }

    fn stop_unlocked(&self) {
        for key in relay::keys(&self.dir) {
            relay::kill(&self.dir, &key);
        }
        if let Some(ns) = self.namespace() {
            if let Ok(meta) = ns.metadata() {
                kill_namespace(meta.ino());
            }
        }
        let _ = netns::remove(&self.entry, self.recorded_inode());
        let _ = std::fs::remove_dir_all(&self.dir);
    }

    fn leftovers(&self) -> Vec<String> {
        let mut out = Vec::new();
        if std::fs::symlink_metadata(&self.dir).is_ok() {
            out.push(format!("{}: could not be removed", self.dir.display()));
        }
        if matches!(netns::holds(&self.entry), netns::Holds::Namespace(i) if Some(i) == self.recorded_inode())
        {
            out.push(format!("{}: could not be removed", self.entry.display()));
        }
        out
    }
}

/// What [`Ovs::start`] made ready: the lock, the namespace, the bound
/// `--listen` ports.
pub struct Started {
    lock: Locked,
    pub ns: File,
    listeners: Vec<(String, std::net::TcpListener)>,
}

/// Bridges [`Ovs::add_bridges`] is making.
pub struct Bridges {
    names: Vec<String>,
    making: Option<Starting>,
}

impl Bridges {
    /// Waits until the bridges are made: ovs-vsctl returns once
    /// ovs-vswitchd has applied the transaction.
    pub fn finish(mut self, ovs: &Ovs) -> Result<()> {
        finish(self.making.take().into_iter().collect())?;
        // ovs-vsctl succeeds even when ovs-vswitchd cannot make a bridge;
        // a made bridge has its OpenFlow socket.
        for name in &self.names {
            if !ovs.dir.join(format!("{name}.mgmt")).exists() {
                let why = ovs.last_error().unwrap_or_else(|| "see its log".into());
                bail!("{name}: ovs-vswitchd could not make the bridge: {why}");
            }
        }
        Ok(())
    }

    /// Undoes them (the nodes could not be made): whatever ovs-vsctl
    /// made once it has returned.
    pub fn undo(mut self, ovs: &Ovs) {
        let _ = finish(self.making.take().into_iter().collect());
        let _ = ovs.del_bridges(self.names.iter().map(String::as_str));
    }
}

impl Drop for Bridges {
    fn drop(&mut self) {
        // Never left running behind an early return.
        if let Some(mut making) = self.making.take() {
            let _ = making.child.wait();
        }
    }
}

impl Started {
    /// Relays the `--listen` ports to the bridges' OpenFlow sockets, and
    /// lets go of the lock.
    pub fn finish(self, ovs: &Ovs) -> Result<()> {
        for (name, listener) in self.listeners {
            let mgmt = ovs.dir.join(format!("{name}.mgmt"));
            relay::start(&ovs.dir, &listen_key(&name), relay::Relay::ToUnix(listener, mgmt))?;
        }
        drop(self.lock);
        Ok(())
    }
}

fn tcp_key(addr: &SocketAddrV4) -> String {
    format!("tcp-{}-{}", addr.ip(), addr.port())
}

fn listen_key(node: &str) -> String {
    format!("listen-{node}")
}

/// Whether the lab holds an OVS switch node other than `except`.
pub fn has_ovs_nodes(lab: &Lab, except: &[&str]) -> bool {
    lab.node_names()
        .unwrap_or_default()
        .iter()
        .filter(|n| !except.contains(&n.as_str()))
        .any(|n| lab.node(n).is_ok_and(|node| node.kind == Kind::Ovs))
}

/// A new network namespace, held by the returned descriptor; this thread
/// stays in its own.
fn new_netns() -> Result<File> {
    let open = |what: &str| File::open("/proc/thread-self/ns/net").map_err(|e| mncli::io_error(what, &e));
    let home = open("open our network namespace")?;
    unshare(CloneFlags::CLONE_NEWNET).map_err(|e| anyhow!("make the OVS namespace: {}", e.desc()))?;
    let made = open("open the OVS namespace");
    if let Err(e) = setns(home.as_fd(), CloneFlags::CLONE_NEWNET) {
        mncli::report("mnnode", &anyhow!("cannot return to our own network namespace: {}", e.desc()));
        std::process::exit(1);
    }
    made
}

/// SIGKILL to every process in the namespace (pinned by its entry, so
/// its inode cannot name another) until none is left.
fn kill_namespace(ino: u64) {
    let me = std::process::id() as i32;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let victims: Vec<i32> = procfs::pids()
            .into_iter()
            .filter(|&p| p != me && procfs::ns_inode(p, "net") == Some(ino))
            .collect();
        if victims.is_empty() || Instant::now() > deadline {
            return;
        }
        for pid in victims {
            // SAFETY: a signal to a process in the lab's own namespace.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The userspace datapath's devices are tap devices: /dev/net/tun, which
/// a system without udev's static nodes (a fresh VM) has only once the tun
/// module is loaded.
fn need_tun() -> Result<()> {
    let tun = Path::new("/dev/net/tun");
    if !tun.exists() {
        if let Some(modprobe) = find("modprobe").or_else(|| Some(PathBuf::from("/sbin/modprobe"))) {
            let _ = Command::new(modprobe).args(["-q", "tun"]).stderr(std::process::Stdio::null()).status();
        }
    }
    if !tun.exists() {
        let _ = std::fs::create_dir_all("/dev/net");
        let dev = libc::makedev(10, 200);
        // SAFETY: mknod with a static path and a valid mode.
        unsafe { libc::mknod(c"/dev/net/tun".as_ptr(), libc::S_IFCHR | 0o666, dev) };
    }
    if !tun.exists() {
        bail!("the userspace datapath needs /dev/net/tun (the kernel's tun module)");
    }
    Ok(())
}

fn wait_for_uptime(at_least: Duration) {
    let uptime = || -> Option<f64> {
        std::fs::read_to_string("/proc/uptime").ok()?.split_whitespace().next()?.parse().ok()
    };
    while uptime().is_some_and(|u| u < at_least.as_secs_f64()) {
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// An OVS program started by [`Ovs::spawn`].
struct Starting {
    name: String,
    child: std::process::Child,
}

/// Waits for every program started; the first one's complaint is the
/// error.
fn finish(starting: Vec<Starting>) -> Result<()> {
    let mut first = None;
    for Starting { name, child } in starting {
        let failed = match child.wait_with_output() {
            Ok(out) if out.status.success() => None,
            Ok(out) => Some(anyhow!("{}", complaint(&name, &out.stderr))),
            Err(e) => Some(mncli::io_error(format!("run {name}"), &e)),
        };
        first = first.or(failed);
    }
    first.map_or(Ok(()), Err)
}

/// An OVS program's complaint as one line: its last message, without the
/// program's name and log prefixes.
fn complaint(program: &str, stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let line = text.lines().map(str::trim).rfind(|l| !l.is_empty()).unwrap_or("failed");
    // "2026-11-30T16:00:00Z|00001|vlog|ERR|..." from a daemon's log to stderr.
    let line = line.rsplit('|').next().unwrap_or(line).trim();
    let line = line.strip_prefix(&format!("{program}: ")).unwrap_or(line);
    format!("{program}: {line}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dpids_like_mininet() {
        assert_eq!(dpid_of("s1").unwrap(), "0000000000000001");
        assert_eq!(dpid_of("s10").unwrap(), "000000000000000a");
        assert_eq!(dpid_of("sw2a7").unwrap(), "0000000000000002");
        assert!(dpid_of("sw").is_err());
        assert_eq!(parse_dpid("1A").unwrap(), "000000000000001a");
        assert!(parse_dpid("12345678901234567").is_err());
        assert!(parse_dpid("xyz").is_err());
        assert!(parse_dpid("0").is_err());
    }

    #[test]
    fn controllers_and_listeners() {
        assert_eq!(
            parse_controller("tcp:127.0.0.1").unwrap(),
            Controller::Tcp("127.0.0.1:6653".parse().unwrap())
        );
        assert_eq!(
            parse_controller("tcp:10.0.0.1:6633").unwrap(),
            Controller::Tcp("10.0.0.1:6633".parse().unwrap())
        );
        assert_eq!(parse_controller("ref").unwrap(), Controller::Ref);
        for bad in ["tcp:", "tcp:1.2.3.4:0", "tcp:1.2.3:6653", "ssl:1.2.3.4", "unix:rel", "127.0.0.1:6653"] {
            assert!(parse_controller(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_listen("ptcp:6634").unwrap(), "127.0.0.1:6634".parse().unwrap());
        assert!(parse_listen("tcp:6634").is_err());
        assert_eq!(parse_protocols("OpenFlow13,OpenFlow10").unwrap(), "OpenFlow13,OpenFlow10");
        assert_eq!(
            parse_protocols("OpenFlow13,OF10").unwrap_err().to_string(),
            "--protocols OpenFlow13,OF10: \"OF10\" is not an OpenFlow version \
             (OpenFlow10, OpenFlow11, OpenFlow12, OpenFlow13, OpenFlow14, OpenFlow15)"
        );
    }
}
