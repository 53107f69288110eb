//! The command line of mnlink (also the grammar of batch lines).
use clap::{Args, CommandFactory, Parser, Subcommand};
use std::path::PathBuf;

/// Links between nodes: veth pairs, bridge ports, addresses, shaping.
///
/// An endpoint is NODE-IFNAME (`h1-eth0`: node h1, interface h1-eth0) or
/// NODE:IFNAME (`h1:eth0`: node h1, interface eth0). A veth pair is made
/// with each end born in its node's namespace (an end of a --root node in
/// a private namespace, where it is tagged before it moves to the root
/// namespace), both ends up; an end on a switch becomes a port of the
/// switch's bridge; on an OVS switch (mnnode add --kind ovs), a port of its
/// Open vSwitch bridge whose OpenFlow port number is the number the
/// interface name ends in (s1-eth3: port 3), in effect when mnlink returns.
/// Interface names follow the kernel's rules (1 to 15
/// bytes; no `/`, `:`, `%` or whitespace) and hold no `#` or quotes, which
/// batch lines cannot carry.
#[derive(Parser, Debug)]
#[command(name = "mnlink", version, after_long_help = AFTER_HELP, args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// Run the subcommands in FILE (or stdin for -), one per line; `#`
    /// starts a comment. The first failing line stops the batch.
    #[arg(short = 'b', long = "batch", value_name = "FILE")]
    pub batch: Option<PathBuf>,

    /// Run the batch on this machine of the hosts file instead, over one
    /// ssh call (see mnnode(1), section Machines): for lines whose nodes
    /// all live there.
    #[arg(long, value_name = "MACHINE", requires = "batch")]
    pub on: Option<String>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create a veth pair between two nodes, optionally shaped.
    ///
    /// Shaping applies to both ends' egress, as Mininet's TCLink does.
    Add {
        #[arg(value_name = "A")]
        a: String,
        #[arg(value_name = "B")]
        b: String,
        #[command(flatten)]
        shaping: ShapingArgs,
        /// The MTU of both ends.
        #[arg(long, value_name = "N")]
        mtu: Option<String>,
    },
    /// Delete the pair A belongs to.
    Del {
        #[arg(value_name = "A")]
        a: String,
    },
    /// Bring both ends of A's pair up.
    Up {
        #[arg(value_name = "A")]
        a: String,
    },
    /// Bring both ends of A's pair down (traffic stops until `up`).
    Down {
        #[arg(value_name = "A")]
        a: String,
    },
    /// Replace the shaping of one end (no options: remove it).
    Set {
        #[arg(value_name = "A")]
        a: String,
        #[command(flatten)]
        shaping: ShapingArgs,
    },
    /// Add an IPv4 or IPv6 address (CIDR, such as 10.0.0.1/8) to an end.
    Addr {
        #[arg(value_name = "A")]
        a: String,
        #[arg(value_name = "CIDR")]
        cidr: String,
    },
    /// Set an end's MAC address (such as 00:00:00:00:00:01).
    Mac {
        #[arg(value_name = "A")]
        a: String,
        #[arg(value_name = "MAC")]
        mac: String,
    },
    /// One end of a link between machines, made on this machine by the
    /// home machine's mnlink (over ssh): a VXLAN device in the node's
    /// namespace.
    #[command(hide = true)]
    Tunnel {
        #[arg(value_name = "A")]
        a: String,
        /// The other end, on the other machine (for the tag).
        #[arg(value_name = "PEER")]
        peer: String,
        #[arg(long, value_name = "N")]
        vni: u32,
        /// This machine's underlay address.
        #[arg(long, value_name = "IP")]
        local: std::net::IpAddr,
        /// The other machine's underlay address.
        #[arg(long, value_name = "IP")]
        remote: std::net::IpAddr,
        #[arg(long, value_name = "PORT", default_value_t = 4789)]
        port: u16,
        #[command(flatten)]
        shaping: ShapingArgs,
        #[arg(long, value_name = "N")]
        mtu: Option<String>,
    },
    /// List links, each once: both ends, state, shaping (from the kernel).
    List {
        /// Only the links of this node.
        #[arg(value_name = "NODE")]
        node: Option<String>,
        /// Print a JSON array instead.
        #[arg(long)]
        json: bool,
        /// For scripts: a line per link, no header, tab-separated columns
        /// A_NODE A_IF B_NODE B_IF STATE MTU A_SHAPING B_SHAPING (`-` for
        /// none or unknown). Columns are only ever added at the end.
        #[arg(long, conflicts_with = "json")]
        porcelain: bool,
    },
    /// Show the spanning tree of the lab's switches (Linux bridges): each
    /// port's state and role, as the kernel has them.
    ///
    /// Roles: root (towards the root bridge), designated (forwards for its
    /// segment), alternate (blocks: another way is better), `-` (no STP,
    /// or the port is down). A lazy switch's shell is not started.
    Stp {
        /// Only this switch.
        #[arg(value_name = "SWITCH")]
        node: Option<String>,
        /// Start the spanning tree of bridges made with `mnnode add --stp
        /// --down`: ROOT's bridge gets priority 4096 (the least bridge ID:
        /// the root) and comes up first, the lab's other down STP bridges
        /// 50 ms later. Nothing has spoken yet, so the root's first hello
        /// crosses the lab in one wave and elects the tree at once; ports
        /// forward or block 4 s (twice the forward delay) later. Prints
        /// nothing unless --wait.
        #[arg(long, value_name = "ROOT", conflicts_with = "node")]
        start: Option<String>,
        /// First wait until the tree has settled: no port listening or
        /// learning, and nothing changed for one hello time and a second
        /// (the hold time's reach), which passes while ports still learn.
        #[arg(long)]
        wait: bool,
        /// Give up waiting after this many seconds (an error).
        #[arg(long, value_name = "SECONDS", default_value_t = 120, requires = "wait")]
        timeout: u64,
        /// Print a JSON array of switches instead: bridge_id, root_id,
        /// root_path_cost, root_port and ports (interface, state, role).
        #[arg(long)]
        json: bool,
        /// For scripts: a line per port, no header, tab-separated columns
        /// SWITCH PORT STATE ROLE.
        #[arg(long, conflicts_with = "json")]
        porcelain: bool,
    },
    /// Print the lab as a picture: nodes, links with both interface names,
    /// addresses and shaping, as the kernel has them.
    ///
    /// DOT draws each level of switches (hops from the nearest host) as a
    /// cluster of one rank, root on top; `topo` is a topology file that
    /// `mn --topo FILE` rebuilds the lab from (what `mn save` writes).
    Graph {
        /// dot (Graphviz), mermaid, json, or topo (an mn topology file).
        #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
        format: GraphFormat,
        /// Render to a PNG file with Graphviz's dot instead of printing.
        #[arg(long, value_name = "FILE", conflicts_with_all = ["svg", "format"])]
        png: Option<PathBuf>,
        /// Render to an SVG file with Graphviz's dot instead of printing.
        #[arg(long, value_name = "FILE", conflicts_with = "format")]
        svg: Option<PathBuf>,
    },
    /// Capture packets on endpoints into pcapng (merged in time order,
    /// each interface named), for Wireshark or `tcpdump -r`.
    ///
    /// tcpdump runs in each endpoint's namespace; Ctrl-C, SIGTERM, SIGHUP,
    /// -c or a closed output stop every capture and leave a complete file
    /// (stopped by a signal, mnlink exits 0: it is the usual end). stderr
    /// says `capturing on ...` once every tcpdump listens, and at the end
    /// `N packets captured`.
    Capture {
        /// The interfaces to capture on (h1-eth0, s1:s1 for a bridge).
        #[arg(required = true, value_name = "ENDPOINT")]
        ends: Vec<String>,
        /// Where the pcapng goes: a file, or - for stdout (the default).
        #[arg(short = 'w', value_name = "FILE", default_value = "-")]
        write: PathBuf,
        /// A BPF filter in tcpdump's syntax, such as 'icmp'.
        #[arg(short = 'f', long = "filter", value_name = "FILTER")]
        filter: Option<String>,
        /// Stop after N packets in all.
        #[arg(short = 'c', long = "count", value_name = "N")]
        count: Option<u64>,
    },
}

/// What `graph` prints.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum GraphFormat {
    Dot,
    Mermaid,
    Json,
    Topo,
}

/// Shaping options; values are checked by the shaping module so that every
/// bad value gets the same one-line error, on the command line or in a batch.
#[derive(Args, Debug, Default, Clone)]
pub struct ShapingArgs {
    /// Rate limit in Mbit/s (a token bucket with a byte queue; see mnlink --help).
    #[arg(long, value_name = "MBIT", allow_hyphen_values = true)]
    pub bw: Option<String>,
    /// One-way delay, 0 to 60s, such as 5ms (needs the netem qdisc).
    #[arg(long, value_name = "T", allow_hyphen_values = true)]
    pub delay: Option<String>,
    /// Delay jitter, 0 to 60s, such as 1ms (needs --delay).
    #[arg(long, value_name = "T", allow_hyphen_values = true)]
    pub jitter: Option<String>,
    /// How the jitter is drawn: normal, pareto or paretonormal (uniform when
    /// not given; needs --jitter).
    #[arg(long, value_name = "NAME", allow_hyphen_values = true)]
    pub delay_distribution: Option<String>,
    /// Random loss in percent, 0 to 100 (needs netem).
    #[arg(long, value_name = "PCT", allow_hyphen_values = true)]
    pub loss: Option<String>,
    /// Percent of packets sent at once, ahead of delayed ones (needs --delay).
    #[arg(long, value_name = "PCT", allow_hyphen_values = true)]
    pub reorder: Option<String>,
    /// Percent of packets sent twice (needs netem).
    #[arg(long, value_name = "PCT", allow_hyphen_values = true)]
    pub duplicate: Option<String>,
    /// Percent of packets with one random bit flipped (needs netem).
    #[arg(long, value_name = "PCT", allow_hyphen_values = true)]
    pub corrupt: Option<String>,
    /// netem's own rate in Mbit/s: no bursts, a packet queue (see mnlink --help).
    #[arg(long, value_name = "MBIT", allow_hyphen_values = true)]
    pub rate: Option<String>,
    /// Queue limit in full-size packets (default 1000 when shaping;
    /// Mininet's max_queue_size).
    #[arg(long, visible_alias = "max-queue-size", value_name = "PKTS", allow_hyphen_values = true)]
    pub queue: Option<String>,
}

const AFTER_HELP: &str = "\
Batch files:
  One subcommand per line, as on the command line without `mnlink`:
    add h1-eth0 s1-eth1 --bw 10
    addr h1-eth0 10.0.0.1/8
  Each line is all or nothing; lines before a failing line stay done,
  lines after it are not run. One netlink socket per namespace is kept
  for the whole batch (fewer when the descriptor limit is low).

Signals:
  SIGINT, SIGTERM and SIGHUP never stop mnlink halfway through a command
  or batch line: the line at hand is finished (or, if it fails, undone),
  then mnlink exits, saying on stderr which line was the last done. Even
  SIGKILL leaves no link that `mnnode clean` cannot find: an end in the
  root namespace (of a --root node) arrives there already tagged.

Shaping:
  Shaping applies to an end's egress. --bw is a token bucket filter (TBF)
  whose queue holds --queue full-size (1514-byte) frames: it counts bytes,
  because with GSO the kernel queues TCP data in packets of up to 64 KB.
  Its bucket holds 4 ms of traffic (at least 15000 bytes): on a machine
  that stalls for longer (a loaded or software-emulated one) --bw falls
  short of its rate, where --rate does not.
  --delay, --jitter, --delay-distribution, --loss, --reorder, --duplicate,
  --corrupt and --rate need the kernel's netem qdisc; on a kernel without
  it they fail with a clear error before anything is made. With netem,
  --queue is netem's limit in packets (Mininet's max_queue_size), and a
  GSO packet of up to 64 KB counts as one.
  --rate is netem's own rate: each packet leaves after its transmission
  time, without bursts, in the same qdisc as the delay; use it to model a
  slow link's serialization. Use --bw for a bottleneck whose queue
  matters (bufferbloat, fairness): its queue counts bytes.
  --reorder sends that share of packets at once, ahead of the delayed
  ones. Times take us, ms or s (ms when bare); percentages take an
  optional %. The kernel does not report the delay distribution, so
  `list` cannot show it.

Links between machines:
  When the ends' nodes live on different machines (see mnnode(1),
  section Machines), `add` makes a VXLAN tunnel between the machines'
  underlay addresses: each end a VXLAN device whose UDP socket (port
  4789) is in its machine's root namespace, born in its node's namespace
  under the requested name, with a VNI drawn for the link (another is
  drawn when a machine has it in use). The inner MTU is the underlay
  device's less 50 bytes (70 over IPv6): 1450 over a 1500-byte underlay,
  so `ping -s 1422 -M do` passes and 1423 fails at once, never
  fragmented. --mtu sets it otherwise. Shaping applies to each end as
  for local links. list, del, up, down, set, addr and mac act on either
  machine. A link between nodes of one other machine is made there as
  usual. A node of this machine can be linked to other machines when the
  hosts file names this machine with destination `-`.

Exit status:
  0 on success; 1 on any error, printed as `mnlink: what: why` (in a
  batch, `mnlink: line N: what: why`); 2 for a command line that does not
  parse; 128+N when stopped by signal N (130 for SIGINT, 143 for SIGTERM,
  129 for SIGHUP), except `capture`, for which a signal is the usual end
  (0); 141 when the output was closed.

Environment:
  MN_DIR   the lab's directory (default /run/mn).
  MN_HOSTS, MN_SSH  the lab's machines and ssh (see mnnode(1)).

Examples:
  mnlink add h1-eth0 s1-eth1 --bw 10 --queue 100
  mnlink add h1-eth0 s1-eth1 --delay 20ms --jitter 5ms --loss 1%
  mnlink addr h1-eth0 10.0.0.1/8
  mnlink down h1-eth0; mnlink up h1-eth0
  mnlink list s1
  mnlink stp --wait
  mnlink graph --png lab.png
  mnlink capture s1-eth1 | wireshark -k -i -
  mnlink -b links.txt";

pub fn command() -> clap::Command {
    Cli::command()
}
