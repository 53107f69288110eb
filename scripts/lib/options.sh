# shellcheck shell=bash
# Sourced by scripts/mn: the command line, the help, and output at
# Mininet's verbosity levels.
# The parts share mn's globals; `shellcheck -x scripts/mn` checks them together.
# shellcheck disable=SC2034,SC2154

usage() {
	cat <<'EOF'
Usage: mn [options]
       mn save FILE [--force]   write the running lab as a topology file

Build a network of namespaced hosts and switches (Linux bridges, or Open
vSwitch with --switch ovs), then run a test or open the CLI.

Options:
  --topo TOPO        minimal | single,N | linear,K[,N] | tree,DEPTH[,FANOUT]
                     | reversed,N | torus,X,Y[,N] | fattree,K (K even)
                     | FILE (a shell script using host, switch, router, link)
                     | NAME[,ARGS] from a --custom file
                     (default: minimal; at most 10000 hosts, 12000 nodes;
                     torus and fattree have loops: spanning tree runs)
  --custom FILE      a Mininet custom topology file (Python: Topo classes
                     and topos = {'NAME': ...}), read without Mininet
  --switch SWITCH    lxbr (Linux bridges, the default) | lxbr,stp=1
  --controller C     none (Linux bridges need no controller)
  --host HOST        process (default) | cfs[,cpu=F]: each host limited to
                     F of the machine (all its cores, as Mininet)
  --nat              a NAT node nat0 on the first switch: hosts reach the
                     root namespace's networks through it (masqueraded)
  --arp              static ARP entries between every pair of hosts
  --pre FILE         CLI commands to run before the test or CLI
  --post FILE        CLI commands to run after the test or CLI
  --wait             accepted: switches are ready once built
  --innamespace      not supported: every node has namespaces of its own
  --link tc,OPTS     shape every link: bw=MBIT delay=T jitter=T loss=PCT
                     queue=PKTS, comma-separated (tc,bw=10,delay=5ms)
  --ipbase CIDR      host addresses come from here (default: 10.0.0.0/8)
  --switch TYPE      lxbr (Linux bridges, the default) | ovs (Open vSwitch,
                     the kernel datapath if its module loads, else userspace)
                     | ovsk (kernel) | user (userspace) | ovsbr (OVS,
                     standalone, no controller); options after commas:
                     protocols=OpenFlow13,..., datapath=user|kernel,
                     failMode=secure|standalone (ovs,protocols=OpenFlow13)
  --controller TYPE  ref (the lab's ovs-testcontroller; the default with OVS)
                     | remote[,ip=IP][,port=PORT] (default 127.0.0.1:6653)
                     | none; a controller asks for OVS switches
  --mac              MAC addresses from host numbers (00:00:00:00:00:01, ...)
  --ipv6-ll          give hosts IPv6 link-local addresses (and SLAAC)
  --test TEST        pingall | pingallfull | pingpair | iperf | build | none:
                     run it, tear down, exit non-zero if it failed
  --keep             leave the network running on exit (clean with mn -c)
  --cluster A,B[,C]  spread the nodes over these machines of the hosts file
                     (see mnnode --help, Machines); links between machines
                     are VXLAN tunnels
  --placement P      block | random | switchbin (default): how nodes are
                     spread; switchbin keeps hosts with their switches
  -c, --clean        remove everything a crashed run left in MN_DIR
  -v, --verbosity L  debug | info | output | warning | error (default info;
                     output: only results; debug: also the tools' calls)
  --version          print the version
  -h, --help         this help

Programs:
  mn checks bash 5, ping, tc (shaped links), iperf3 (--test iperf), python3
  (--custom) and nft (--nat) before building anything; scripts/setup
  installs the missing ones (Debian).

CLI (without --test; `help` and `help CMD` at the mininet> prompt):
  nodes net links intfs ports dump pingall pingallfull pingpair pingpairfull
  iperf iperfudp link switch wait time xterm x py px sh source noecho exit,
  and NODE CMD; Tab completes commands and node names.

Exit status:
  0 success; 1 bad options or topology, a missing program, a network that
  could not be built, or a test that failed (pingall: any ping dropped or
  unable to run); 130 interrupted; 141 output closed early.

Environment:
  MN_DIR   the lab directory (default /run/mn)
  MN_HOSTS the machines for --cluster (default $MN_DIR/hosts)
  MN_BIN   where mnnode, mnlink and mnrun are (default: PREFIX/bin when
           installed, else beside this script's target/*/release, else PATH)
EOF
}

# --- output ---------------------------------------------------------------------

# Mininet's levels: debug info output warning error.
levels=(debug info output warning error)
level=1

die() { printf '%s: %s\n' "$prog" "$*" >&2; exit 1; }
say() { ((level > 1)) || printf '*** %s\n' "$*"; }
info() { ((level > 1)) || printf '%s\n' "$*"; }
output() { ((level > 2)) || printf '%s\n' "$*"; }
debug() { # TOOL ARGS...: a tool's call, shortened
	((level == 0)) || return 0
	if (($# > 12)); then
		printf '*** %s ... (%d more)\n' "${*:1:12}" $(($# - 12)) >&2
	else
		printf '*** %s\n' "$*" >&2
	fi
}

set_level() { # NAME
	local i
	for i in "${!levels[@]}"; do
		[[ ${levels[i]} == "$1" ]] && { level=$i; return 0; }
	done
	die "--verbosity $1: not a level (debug, info, output, warning, error)"
}

# --- the command line -------------------------------------------------------------

topo=minimal test_name='' clean=0 opt_link='' ipbase=10.0.0.0/8 use_mac=0 ipv6_ll=0 keep=0 version=0

parse_options() {
	local opt value
	while (($#)); do
		opt=$1 value=''
		case $opt in
		--topo | --link | --ipbase | --test | --verbosity | -v | --custom | --switch | --controller | --host | --pre | --post | --cluster | --placement)
			(($# >= 2)) || die "$opt needs a value (see mn --help)"
			value=$2
			shift ;;
		--topo=* | --link=* | --ipbase=* | --test=* | --verbosity=* | --custom=* | --switch=* | --controller=* | --host=* | --pre=* | --post=* | --cluster=* | --placement=*)
			value=${opt#*=} opt=${opt%%=*} ;;
		-v?*) value=${opt#-v} opt=-v ;;
		esac
		case $opt in
		--topo | --link | --ipbase | --test | --verbosity | -v | --custom | --switch | --controller | --host | --pre | --post | --cluster | --placement) [[ -n $value ]] || die "$opt needs a value (see mn --help)" ;;
		esac
		case $opt in
		--topo) topo=$value ;;
		--link) opt_link=$value ;;
		--ipbase) ipbase=$value ;;
		--switch) opt_switch=$value ;;
		--controller) opt_controller=$value ;;
		--test) test_name=$value ;;
		--cluster) cluster=$value ;;
		--placement) placement=$value ;;
		-v | --verbosity) set_level "$value" ;;
		--mac) use_mac=1 ;;
		--ipv6-ll) ipv6_ll=1 ;;
		--keep) keep=1 ;;
		-c | --clean) clean=1 ;;
		--custom) custom_files+=("$value") ;;
		--host) parse_host_option "$value" ;;
		--pre) pre_script=$value ;;
		--post) post_script=$value ;;
		--nat) nat=1 ;;
		--arp) static_arp=1 ;;
		--wait) opt_wait=1 ;;
		--innamespace) die "--innamespace: not supported (every node already has namespaces of its own; there is no control network)" ;;
		--version) version=1 ;;
		-h | --help) usage; exit 0 ;;
		*) die "unknown option $opt (see mn --help)" ;;
		esac
		shift
	done
	case $test_name in
	'' | pingall | pingallfull | pingpair | iperf | build | none) ;;
	*) die "--test $test_name: not a test (pingall, pingallfull, pingpair, iperf, build, none)" ;;
	esac
}
