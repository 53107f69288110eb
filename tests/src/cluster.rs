//! Stand-in machines for a lab across machines: each is a network
//! namespace with a mount namespace of its own, running OpenSSH's sshd on
//! a private underlay address, with host keys and a client key made for
//! the test. The underlay is a bridge in a "home" namespace, where ssh
//! runs (MN_SSH enters it); the tools under test run in the test's own
//! namespaces, and every node lives on a stand-in machine. Nothing leaves
//! these namespaces.
use crate::{Cmd, Lab, bin_dir, eventually, unique};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

pub struct Machine {
    pub name: String,
    /// The machine's network namespace (`ip netns` name).
    pub ns: String,
    pub addr: String,
    /// Its lab directory.
    pub dir: PathBuf,
    config: PathBuf,
    pidfile: PathBuf,
    /// sshd's pid while it runs; its mount namespace is the machine's.
    pub sshd: Option<i32>,
    /// The mount namespace, kept open so the machine outlives its sshd.
    mnt: Option<std::fs::File>,
}

pub struct Cluster {
    pub lab: Lab,
    pub dir: PathBuf,
    pub home_ns: String,
    pub machines: Vec<Machine>,
    pub hosts: PathBuf,
    pub ssh: String,
}

fn sh(args: &[&str]) {
    let out = Command::new(args[0]).args(&args[1..]).output().unwrap_or_else(|e| panic!("{args:?}: {e}"));
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// Whether this system can run the stand-ins (sshd installed).
pub fn sshd_present() -> bool {
    std::path::Path::new("/usr/sbin/sshd").exists()
}

impl Cluster {
    /// Machines named `names`, each with sshd running. The hosts file also
    /// names a machine `down` whose address answers but runs no sshd, and
    /// `home` (destination `-`): the home namespace.
    pub fn new(names: &[&str]) -> Cluster {
        let lab = Lab::new();
        let dir = lab.parent().join("cluster");
        std::fs::create_dir_all(&dir).expect("cluster dir");
        let key = dir.join("id");
        sh(&["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "mntest", "-f", &key.to_string_lossy()]);
        std::fs::copy(dir.join("id.pub"), dir.join("authorized_keys")).expect("authorized_keys");
        let home_ns = unique("mncl");
        sh(&["ip", "netns", "add", &home_ns]);
        sh(&["ip", "-n", &home_ns, "link", "add", "br0", "type", "bridge"]);
        sh(&["ip", "-n", &home_ns, "addr", "add", "10.99.0.254/24", "dev", "br0"]);
        sh(&["ip", "-n", &home_ns, "link", "set", "br0", "up"]);
        sh(&["ip", "-n", &home_ns, "link", "set", "lo", "up"]);
        let _ = std::fs::create_dir_all("/run/sshd");
        let mut cluster = Cluster {
            lab,
            hosts: dir.join("hosts"),
            ssh: format!("nsenter --net=/run/netns/{home_ns} ssh -F {}", dir.join("ssh_config").display()),
            dir,
            home_ns,
            machines: Vec::new(),
        };
        let mut ssh_config = String::new();
        let mut known = String::new();
        let mut hosts = String::new();
        for (i, name) in names.iter().enumerate() {
            let addr = format!("10.99.0.{}", i + 1);
            let m = cluster.machine(name, &addr, i);
            let pubkey =
                std::fs::read_to_string(cluster.dir.join(format!("host_{name}.pub"))).expect("host key");
            known += &format!("{addr} {pubkey}");
            ssh_config += &cluster.client_entry(name, &addr);
            hosts += &format!("{name} {name} {addr} dir={} bin={}\n", m.dir.display(), bin_dir().display());
            cluster.machines.push(m);
        }
        ssh_config += &cluster.client_entry("down", "10.99.0.254");
        hosts += &format!("down down 10.99.0.254 dir={}\n", cluster.dir.join("m-down").display());
        // The home machine itself, on the underlay as 10.99.0.250.
        sh(&["ip", "-n", &cluster.home_ns, "addr", "add", "10.99.0.250/24", "dev", "br0"]);
        hosts += "home - 10.99.0.250\n";
        std::fs::write(cluster.dir.join("ssh_config"), ssh_config).expect("ssh_config");
        std::fs::write(cluster.dir.join("known_hosts"), known).expect("known_hosts");
        std::fs::write(&cluster.hosts, hosts).expect("hosts");
        for i in 0..cluster.machines.len() {
            cluster.start_sshd(i);
        }
        cluster
    }

    fn client_entry(&self, name: &str, addr: &str) -> String {
        format!(
            "Host {name}\n  HostName {addr}\n  User root\n  IdentityFile {}\n  IdentitiesOnly yes\n  \
             UserKnownHostsFile {}\n  StrictHostKeyChecking yes\n  LogLevel ERROR\n",
            self.dir.join("id").display(),
            self.dir.join("known_hosts").display()
        )
    }

    fn machine(&self, name: &str, addr: &str, i: usize) -> Machine {
        let ns = format!("{}m{i}", self.home_ns);
        sh(&["ip", "netns", "add", &ns]);
        let port = format!("v{i}");
        sh(&[
            "ip",
            "-n",
            &self.home_ns,
            "link",
            "add",
            &port,
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            &ns,
        ]);
        sh(&["ip", "-n", &self.home_ns, "link", "set", &port, "master", "br0", "up"]);
        sh(&["ip", "-n", &ns, "addr", "add", &format!("{addr}/24"), "dev", "eth0"]);
        sh(&["ip", "-n", &ns, "link", "set", "eth0", "up"]);
        sh(&["ip", "-n", &ns, "link", "set", "lo", "up"]);
        let key = self.dir.join(format!("host_{name}"));
        sh(&["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", &key.to_string_lossy()]);
        let config = self.dir.join(format!("sshd_{name}"));
        let pidfile = self.dir.join(format!("sshd_{name}.pid"));
        let text = format!(
            "ListenAddress {addr}\nHostKey {}\nPidFile {}\nAuthorizedKeysFile {}\nPermitRootLogin prohibit-password\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nPrintMotd no\n\
             MaxSessions 100\nMaxStartups 100\n",
            key.display(),
            pidfile.display(),
            self.dir.join("authorized_keys").display()
        );
        std::fs::write(&config, text).expect("sshd config");
        Machine {
            name: name.to_string(),
            ns,
            addr: addr.to_string(),
            dir: self.dir.join(format!("m-{name}")),
            config,
            pidfile,
            sshd: None,
            mnt: None,
        }
    }

    /// Starts machine i's sshd: in the machine's mount namespace once it
    /// has one, else in a new one (a slave of ours: what its nodes mount
    /// stays there) with a /run/netns of its own.
    pub fn start_sshd(&mut self, i: usize) {
        let m = &mut self.machines[i];
        let _ = std::fs::remove_file(&m.pidfile);
        let net = format!("--net=/run/netns/{}", m.ns);
        let sshd = ["/usr/sbin/sshd", "-f", &m.config.to_string_lossy(), "-E"].map(String::from);
        let log = self.dir.join(format!("sshd_{}.log", m.name)).display().to_string();
        let mut cmd = Command::new("nsenter");
        cmd.arg(&net);
        match &m.mnt {
            Some(_) => {
                cmd.arg(format!("--mount=/proc/{}/fd/{}", std::process::id(), fd_of(m.mnt.as_ref())));
            }
            // Its own /run/netns too: entries are files, and a file made
            // in a shared /run would be seen (and collide) on every machine.
            None => {
                cmd.args(["unshare", "--mount", "--propagation", "slave", "sh", "-c"]);
                cmd.args(["mkdir -p /run/netns && mount -t tmpfs mntest /run/netns && exec \"$@\"", "sh"]);
            }
        }
        let out = cmd.args(sshd).arg(log).stdin(Stdio::null()).output().expect("start sshd");
        assert!(out.status.success(), "sshd: {}", String::from_utf8_lossy(&out.stderr));
        let mut pid = None;
        eventually(Duration::from_secs(10), || {
            pid = std::fs::read_to_string(&m.pidfile).ok().and_then(|t| t.trim().parse::<i32>().ok());
            pid.is_some()
        });
        let pid = pid.expect("sshd wrote its pid");
        m.sshd = Some(pid);
        if m.mnt.is_none() {
            m.mnt = std::fs::File::open(format!("/proc/{pid}/ns/mnt")).ok();
        }
    }

    /// Kills machine i's sshd (connections already made live on).
    pub fn stop_sshd(&mut self, i: usize) {
        if let Some(pid) = self.machines[i].sshd.take() {
            // SAFETY: signalling the sshd this test started.
            unsafe { libc::kill(pid, libc::SIGTERM) };
            eventually(Duration::from_secs(10), || !crate::alive(pid));
        }
    }

    /// Ends the lab's ssh control master to a machine.
    pub fn stop_master(&self, name: &str) {
        let words: Vec<&str> = self.ssh.split_whitespace().collect();
        let path = format!("ControlPath={}/.ssh/%C", self.lab.dir.display());
        let _ = Command::new(words[0]).args(&words[1..]).args(["-o", &path, "-O", "exit", name]).output();
    }

    /// A tool run in the home namespace (on the underlay): what makes a
    /// tunnel end of a home node must run there.
    pub fn home(&self, tool: &str) -> Cmd {
        self.cmd("nsenter").arg(format!("--net=/run/netns/{}", self.home_ns)).arg(crate::bin(tool))
    }

    /// A tool (or program) run on the home machine, in the lab.
    pub fn cmd(&self, program: &str) -> Cmd {
        self.lab.cmd(program).env("MN_HOSTS", &self.hosts).env("MN_SSH", &self.ssh)
    }

    /// A program run on machine i, in its namespaces, with its MN_DIR.
    pub fn on(&self, i: usize, args: &[&str]) -> Cmd {
        let m = &self.machines[i];
        let mnt = format!("--mount=/proc/{}/fd/{}", std::process::id(), fd_of(m.mnt.as_ref()));
        Cmd::new("nsenter")
            .arg(format!("--net=/run/netns/{}", m.ns))
            .arg(mnt)
            .args(args)
            .env("MN_DIR", &m.dir)
    }

    /// The node directories left on machine i.
    pub fn nodes_on(&self, i: usize) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.machines[i].dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with('.'))
            .collect();
        names.sort();
        names
    }

    /// The `ip netns` entries of machine i's lab.
    pub fn netns_on(&self, i: usize) -> Vec<String> {
        let out = self.on(i, &["ls", "/run/netns"]).run();
        let prefix = format!("m-{}-", self.machines[i].name);
        out.stdout.split_whitespace().filter(|n| n.starts_with(&prefix)).map(String::from).collect()
    }
}

fn fd_of(file: Option<&std::fs::File>) -> i32 {
    use std::os::fd::AsRawFd;
    file.map_or(-1, |f| f.as_raw_fd())
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let quiet = |mut cmd: Command| {
            let _ = cmd.stdout(Stdio::null()).stderr(Stdio::null()).status();
        };
        let mnnode = bin_dir().join("mnnode");
        let mut home = Command::new(&mnnode);
        home.arg("clean").env("MN_DIR", &self.lab.dir).env("MN_HOSTS", &self.hosts).env("MN_SSH", &self.ssh);
        quiet(home);
        for i in 0..self.machines.len() {
            // Whatever ssh could not reach, cleaned from inside.
            if self.machines[i].mnt.is_some() {
                let mut clean = Command::new("nsenter");
                let m = &self.machines[i];
                clean
                    .arg(format!("--net=/run/netns/{}", m.ns))
                    .arg(format!("--mount=/proc/{}/fd/{}", std::process::id(), fd_of(m.mnt.as_ref())))
                    .arg(&mnnode)
                    .arg("clean")
                    .env("MN_DIR", &m.dir);
                quiet(clean);
            }
            self.stop_sshd(i);
        }
        for m in &self.machines {
            quiet({
                let mut c = Command::new("ip");
                c.args(["netns", "del", &m.ns]);
                c
            });
        }
        let mut c = Command::new("ip");
        c.args(["netns", "del", &self.home_ns]);
        quiet(c);
    }
}
