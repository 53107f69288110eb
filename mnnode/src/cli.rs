//! The command line of mnnode.
use crate::Kind;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};

/// Nodes as persistent shells in network namespaces.
///
/// Each node is a long-lived bash, started through `mnexec -cdn`, that
/// reads commands from a FIFO in $MN_DIR/NAME/ (use mnrun to talk to it).
/// There is no daemon: a node lives on by itself until `del` or `clean`.
#[derive(Parser, Debug)]
#[command(name = "mnnode", version, after_long_help = AFTER_HELP)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create nodes, all at once, and return when every one is ready.
    ///
    /// A host gets its own network and mount namespaces with a private /sys
    /// and lo up; a switch also holds a Linux bridge named after it (STP off
    /// unless --stp), which mnlink enslaves its ports to; a router is a host
    /// with IPv4 and IPv6 forwarding on; an ovs switch is an Open vSwitch
    /// bridge in the lab's own ovsdb-server and ovs-vswitchd, which the
    /// first one starts (see OVS switches below). Each namespaced node is known to
    /// `ip netns` as LAB-NAME, LAB being the last component of MN_DIR. If
    /// any node cannot be made, none of the call is.
    Add(AddArgs),
    /// End nodes: every process in their namespaces, their links, their
    /// `ip netns` entries and directories.
    Del {
        /// The nodes to remove.
        #[arg(required = true, value_name = "NAME")]
        names: Vec<String>,
    },
    /// List the nodes of this lab: NAME KIND PID STATE.
    List {
        /// Print a JSON array of objects instead.
        #[arg(long)]
        json: bool,
        /// For scripts: a line per node, no header, tab-separated columns
        /// NAME KIND PID STATE NETNS (PID, KIND and NETNS are `-` when
        /// unknown or none). Columns are only ever added at the end.
        #[arg(long, conflicts_with = "json")]
        porcelain: bool,
    },
    /// Print a node's shell pid (for `mnexec -a $(mnnode pid h1) ...`),
    /// starting a lazy node's shell; one line per node named.
    Pid {
        #[arg(required = true, value_name = "NAME")]
        names: Vec<String>,
    },
    /// Print a node's first IPv4 address; an error when it has none.
    Ip {
        #[arg(value_name = "NAME")]
        name: String,
    },
    /// Give a node a new shell: same name, namespaces, links and
    /// addresses, a fresh shell state. For a shell that no longer answers
    /// mnrun (its hooks changed, its FIFO replaced); the old shell is
    /// killed, the jobs it started keep running.
    Restart {
        #[arg(value_name = "NAME")]
        name: String,
    },
    /// Remove every node of this lab, running or dead, and whatever a
    /// crashed run left: directories, `ip netns` entries, cgroups.
    Clean {
        /// Say what was removed.
        #[arg(short, long)]
        verbose: bool,
        /// Return only once the kernel has finished tearing the lab's
        /// namespaces down (and any it was tearing down before), so that
        /// the next lab is built at full speed and timings are honest.
        /// Without a lab, just wait for the kernel.
        #[arg(long)]
        wait: bool,
    },
}

#[derive(Args, Debug)]
pub struct AddArgs {
    /// What the nodes are.
    #[arg(long, value_enum, default_value_t = Kind::Host)]
    pub kind: Kind,
    /// Run in the root namespaces instead of new ones.
    #[arg(long)]
    pub root: bool,
    /// Start no shell yet: make and configure each node's network
    /// namespace, pinned by its `ip netns` entry; the shell (with its own
    /// mount namespace and sysfs) starts on the first mnrun, `mnnode pid`
    /// or `restart` of the node (an OVS switch's entry pins the lab's OVS
    /// namespace, where its shell starts). Not for --root.
    #[arg(long)]
    pub lazy: bool,
    /// Limit each node to this fraction of one CPU (cgroup CPU bandwidth).
    #[arg(long, value_name = "FRACTION", allow_negative_numbers = true)]
    pub cpu: Option<f64>,
    /// Turn on spanning tree on switches' bridges (the kernel's STP), with
    /// its least forward delay (2 s) and a hello every second, and a
    /// bridge ID fixed at birth (an address made from the name), so that a
    /// lab's tree settles in seconds, is not elected anew as links are
    /// added, and comes out the same every time. See `mnlink stp`.
    #[arg(long)]
    pub stp: bool,
    /// With --stp: make each bridge down, so that it forwards nothing and
    /// its spanning tree does not start until `mnlink stp --start ROOT`
    /// brings the lab's bridges up together, the root first: the tree is
    /// then elected in one wave once every link exists.
    #[arg(long, requires = "stp")]
    pub down: bool,
    /// Give hosts' interfaces IPv6 link-local addresses (and SLAAC), as the
    /// kernel does by default. Without it hosts stay silent when links come
    /// up: their autoconfiguration multicast would be flooded to every host.
    #[arg(long = "ipv6-ll")]
    pub ipv6_ll: bool,
    /// Make the nodes on this machine of the hosts file, over ssh (see
    /// "Machines" below).
    #[arg(long, value_name = "MACHINE")]
    pub on: Option<String>,
    /// The node names: a letter, then letters, digits or _; at most 32 bytes.
    #[arg(required = true, value_name = "NAME")]
    pub names: Vec<String>,
    /// ovs: the datapath id, 1 to 16 hex digits (default: the first number
    /// in the name, as Mininet: s1 is 0000000000000001).
    #[arg(long, value_name = "HEX", help_heading = "OVS switches")]
    pub dpid: Option<String>,
    /// ovs: the OpenFlow versions, comma-separated (OpenFlow10 to
    /// OpenFlow15; default: OVS's, OpenFlow10 up to OpenFlow14).
    #[arg(long, value_name = "LIST", help_heading = "OVS switches")]
    pub protocols: Option<String>,
    /// ovs: without a controller, secure forwards nothing, standalone
    /// learns as a switch (default: secure with --controller, else standalone).
    #[arg(long = "fail-mode", value_enum, value_name = "MODE", help_heading = "OVS switches")]
    pub fail_mode: Option<crate::ovs::FailMode>,
    /// ovs: a controller to connect to, repeatable: tcp:IP[:PORT] (in the
    /// namespace mnnode runs in, port 6653 by default), unix:PATH, or ref
    /// (the lab's own ovs-testcontroller).
    #[arg(long = "controller", value_name = "TARGET", help_heading = "OVS switches")]
    pub controllers: Vec<String>,
    /// ovs: ptcp:PORT[:IP], a port (on 127.0.0.1 by default) where
    /// `ovs-ofctl CMD tcp:127.0.0.1:PORT` reaches the switch, as Mininet's
    /// --listenport; several switches get PORT, PORT+1, ...
    #[arg(long, value_name = "ptcp:PORT", help_heading = "OVS switches")]
    pub listen: Option<String>,
    /// ovs: the datapath: auto (the kernel's when its openvswitch module
    /// loads, else userspace), user (netdev) or kernel (system).
    #[arg(long, value_enum, default_value_t, value_name = "DATAPATH", help_heading = "OVS switches")]
    pub datapath: crate::ovs::Datapath,
}

const AFTER_HELP: &str = "\
Environment:
  MN_DIR   the lab's directory (default /run/mn); labs with different
           MN_DIRs never see each other. It must be owned by the caller
           and closed to others (0700 when mnnode creates it), and no
           directory on the way may be writable by others (unless sticky,
           as /tmp) nor a symlink another user owns.
  MN_HOSTS the lab's hosts file (default $MN_DIR/hosts; see Machines).
  MN_SSH   the ssh command (default ssh, split on spaces).

Files:
  $MN_DIR/.mn-lab     the marker that makes MN_DIR a lab, with the lab's
                      random id (link tags and cgroups mn-ID-NAME use it);
                      del and clean refuse a directory without it, and
                      remove only node directories and the files mnnode
                      makes in them (a stranger's file is reported, left)
  $MN_DIR/NAME/node   the node's record (protocol, pid, kind, namespace)
  $MN_DIR/NAME/fifo   the shell's command FIFO (0600)
  $MN_DIR/NAME/log    the shell's own output, and background jobs'
  $MN_DIR/NAME/fifo.new  a restart's new FIFO, until it takes fifo's name
  $MN_DIR/.pty        names a lazily started shell whose pty the next
                      lazy shells share (add --lazy)
  /run/netns/LAB-NAME a bind mount of the node's network namespace, as
                      `ip netns add` makes: it keeps meaning that namespace
                      even after the shell died (list says dead), until
                      del or clean; node mount namespaces detach /run/netns

Nodes:
  A node's shell is bash -i without a prompt or a terminal, started with
  mnexec's -cdn steps (-cd for --root) applied in the child itself. Hosts
  have no automatic IPv6 link-local address unless --ipv6-ll; switches
  have no IPv6 stack of their own (they bridge IPv6 all the same) and
  flood multicast instead of snooping it. A --root node's processes are
  its shell's descendants and the members of its session (a daemon that
  forked twice is found); one that called setsid escapes del and clean,
  and so does everything once the shell itself has died (its pid may
  name another process by then). `restart` gives a node a new shell in
  the same namespaces and cgroup, on a new FIFO: for a shell mnrun says
  no longer reports (see mnrun(1)). list shows a node whose FIFO is
  missing or replaced as broken, and says why on stderr. A node added
  with --lazy has no shell (list shows `-` for its pid) until the first
  mnrun, pid or restart starts one, with the caller's environment; until
  then it is up while its ip netns entry holds its namespace.

Machines:
  A lab may span machines. The hosts file ($MN_HOSTS, else
  $MN_DIR/hosts) names them, one a line:
    NAME SSH-DESTINATION UNDERLAY-ADDRESS [dir=PATH] [bin=DIR]
  (`#` starts a comment): ssh's destination, the address tunnels reach
  the machine on, the lab's directory there (default: the same path as
  MN_DIR here; it must be this lab's alone) and where the tools are
  (default: ssh's PATH there). `add --on NAME` makes nodes there with
  `ssh DEST mnnode add`; the lab here keeps a record naming the machine,
  so names stay unique across the lab. list, del, pid, ip, restart and
  clean act on every machine; list shows a MACHINE column and marks the
  nodes of a machine it cannot reach unknown; clean reports a machine it
  could not reach and keeps its records, so that clean again finishes.
  ssh is $MN_SSH (default ssh, split on spaces) with the user's keys and
  config, BatchMode, and one control master per machine (socket in
  $MN_DIR/.ssh, 10 minutes idle; clean stops them). The login shell there
  must be a POSIX shell. Every machine needs the same tools, copied once:
    scp target/x86_64-unknown-linux-gnu/release/mn{node,link,run,exec} \\
        root@10.1.0.2:/usr/local/bin/

OVS switches:
  `mnnode add --kind ovs s1` starts the lab's own ovsdb-server and
  ovs-vswitchd (the first OVS switch does; the last del and clean stop
  them) in a network namespace of the lab's, /run/netns/LAB-.ovs, where
  every OVS switch's shell and ports live; their database, sockets, pid
  files and logs are in $MN_DIR/.ovs/. The system's openvswitch-switch
  service, if any, is neither used nor touched. An OVS switch's shell has
  OVS_RUNDIR, OVS_DBDIR and OVS_LOGDIR set, so `mnrun s1 ovs-vsctl show`
  and `mnrun s1 ovs-ofctl dump-flows s1` work as typed. mnlink makes a
  link end on it an OVS port whose OpenFlow port number is the number in
  the interface's name (s1-eth3 is port 3). A tcp: controller is reached
  through a relay in mnnode's namespace: the switch connects to
  $MN_DIR/.ovs/tcp-IP-PORT.sock. list shows an OVS switch as down while
  the lab's ovs-vswitchd is not running.

Exit status:
  0 on success; 1 on any error, printed as `mnnode: what: why`;
  2 for a command line that does not parse.

Examples:
  mnnode add h1 h2 && mnnode add --kind switch s1
  mnnode add --kind ovs --controller tcp:127.0.0.1:6653 --protocols OpenFlow13 s2
  mnnode list
  ip netns exec mn-h1 ip addr
  mnnode del h1; mnnode clean";

/// The command line: subcommands take `--help` but no `-h`, so that a
/// mistyped `mnnode add -h1` is an error rather than help and success.
pub fn command() -> clap::Command {
    let mut cmd = Cli::command();
    let names: Vec<String> = cmd.get_subcommands().map(|c| c.get_name().to_string()).collect();
    for name in names {
        cmd = cmd.mut_subcommand(name, |sub| {
            sub.disable_help_flag(true)
                .arg(clap::Arg::new("help").long("help").action(clap::ArgAction::HelpLong).help("Print help"))
        });
    }
    cmd
}

/// Parses the process's arguments.
pub fn parse() -> Result<Cli, clap::Error> {
    Cli::from_arg_matches(&command().try_get_matches()?)
}
