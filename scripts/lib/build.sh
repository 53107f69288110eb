# shellcheck shell=bash
# Sourced by scripts/mn: the tools and programs mn needs, building the
# network (one `mnnode add` per kind, one `mnlink -b` batch), tearing it
# down.
# The parts share mn's globals; `shellcheck -x scripts/mn` checks them together.
# shellcheck disable=SC2154

# --- the tools and the system's programs ------------------------------------------

find_tools() {
	bin=${MN_BIN:-}
	local built tool
	if [[ -z $bin ]]; then
		# Installed (make install): mn in PREFIX/lib/mn-tools, the tools in PREFIX/bin.
		[[ $here != */lib/mn-tools ]] || built=$here/../../bin
		[[ ! -x ${built:-}/mnnode ]] || bin=$(cd "$built" && pwd)
	fi
	if [[ -z $bin ]]; then
		for built in "$here"/../target/*/release/mnnode "$here"/../target/release/mnnode; do
			if [[ -x $built ]]; then bin=${built%/mnnode}; break; fi
		done
	fi
	# type -P: mnnode is also the name of a function below.
	if [[ -z $bin ]] && built=$(type -P mnnode); then bin=${built%/mnnode}; fi
	for tool in mnnode mnlink mnrun; do
		[[ -x ${bin:-/nonexistent}/$tool ]] || die "$tool not found (build with cargo build --release, or set MN_BIN)"
	done
}

mnnode() { debug mnnode "$@"; "$bin/mnnode" "$@"; }
mnlink() { debug mnlink "$@"; "$bin/mnlink" "$@"; }
mnrun() { debug mnrun "$@"; "$bin/mnrun" "$@"; }

# Each program mn runs, or runs in nodes, must be there before anything is
# made: `mn: ping not found (Debian package: iputils-ping)`. The packages
# come from the list scripts/setup installs.
need() { # COMMAND...
	local c p pkg
	for c in "$@"; do
		have "$c" && continue
		pkg=''
		for p in "${run_packages[@]}" "${dev_packages[@]}"; do [[ ${p%%:*} == "$c" ]] && pkg=${p#*:}; done
		die "$c not found${pkg:+ (Debian package: $pkg)}"
	done
}

check_programs() {
	need bash ping
	# The node shells are the bash in PATH; they use bash 5's features.
	local v=${BASH_VERSINFO[0]}
	[[ $(type -P bash) -ef $BASH ]] || v=$(bash -c 'echo "${BASH_VERSINFO[0]}"') || v=0
	((v >= 5)) || die "bash $v: the node shells need bash 5 or later"
	[[ ${links[*]} != *--* ]] || need tc
	[[ $test_name != iperf ]] || need iperf3 ss
	check_switch_programs
}

# As Mininet does: the kernel's neighbour table is shared by all
# namespaces, and its default size (1024 entries) overflows when more than
# about 30 hosts ping each other ("No buffer space available"). Raise it,
# never lower it.
fix_limits() {
	local knob want have family f
	for knob in gc_thresh1:4096 gc_thresh2:8192 gc_thresh3:16384; do
		want=${knob#*:} knob=${knob%:*}
		for family in ipv4 ipv6; do
			f=/proc/sys/net/$family/neigh/default/$knob
			[[ -w $f ]] || continue
			have=$(<"$f")
			((have >= want)) || echo "$want" >"$f"
		done
	done
	check_scale
}

# Limits a big topology meets, stated before anything is made: a Linux
# bridge holds 1023 ports; a broadcast flooded through the switches queues
# a copy per port on one CPU's backlog, which drops what is beyond
# net.core.netdev_max_backlog (1000 by default: most of tree,4,10's hosts
# never saw an ARP request); pingall fills the shared neighbour table with
# an entry per pair of hosts. (mnnode add checks pid_max itself.)
check_scale() {
	local s n f have
	for s in "${switches[@]}"; do
		n=${port[$s]} n=$((n - 1))
		((n <= 1023)) || die "$s would have $n ports; a Linux bridge holds at most 1023"
	done
	n=$((2 * (${#hosts[@]} + ${#switches[@]} + ${#routers[@]})))
	f=/proc/sys/net/core/netdev_max_backlog
	if [[ -w $f ]] && have=$(<"$f") && ((have < n)); then
		echo "$n" >"$f" || die "a broadcast to ${#hosts[@]} hosts needs net.core.netdev_max_backlog=$n; raise it (sysctl -w)"
	fi
	[[ $test_name == pingall || $test_name == pingallfull ]] || return 0
	n=${#hosts[@]} n=$((n * (n - 1)))
	for f in /proc/sys/net/ipv{4,6}/neigh/default/gc_thresh{2,3}; do
		[[ -w $f ]] || continue
		have=$(<"$f")
		((have >= n)) || echo "$n" >"$f" ||
			die "pingall of ${#hosts[@]} hosts needs $n neighbour entries; raise ${f#/proc/sys/} (sysctl -w)"
	done
}

# --- build and teardown ---------------------------------------------------------

built=0 ran=0
adding=()      # pids of the mnnode add calls in flight
adding_kind=() # their kinds

# Names, or a count for big topologies.
show() { # LABEL NAMES...
	local label=$1
	shift
	say "Adding $label:"
	if (($# <= 64)); then info "$*"; else info "$# $label"; fi
}

add_nodes() { # KIND LABEL NAMES...: starts the call, in the background
	local k=$1 label=$2
	shift 2
	(($#)) || return 0
	show "$label" "$@"
	[[ -z $cluster ]] || { add_nodes_cluster "$k" "$@"; return 0; }
	local extra=(--kind "$k")
	[[ $k == host ]] && ((ipv6_ll)) && extra+=(--ipv6-ll)
	[[ $k == host ]] && extra+=("${host_opts[@]}")
	[[ $k == switch ]] && extra=(--kind "$switch_kind" "${switch_args[@]}")
	# Down until stp_settle starts the tree, root first (stp.sh).
	[[ $k == switch && $switch_kind == switch ]] && ((stp)) && extra+=(--stp --down)
	# A host's or switch's shell starts when first used (mnrun, mnnode
	# pid): a lab of thousands costs no shell per idle node.
	[[ $k == host || $k == switch ]] && extra+=(--lazy)
	mnnode add "${extra[@]}" "$@" 2>"$tmp/add-$k" &
	adding+=($!) adding_kind+=("$k")
}

# A tool's error about a node or a batch line, with the topology line
# that made it: `mytopo.sh:3: mnlink: --delay 5parsecs: not a time ...`.
node_error() { # KIND
	local msg rest name
	{ IFS= read -r msg; rest=$(cat); } <"$tmp/add-$1"
	local -n names=${1}s
	for name in "${names[@]}"; do
		if [[ $msg == "mnnode: $name:"* || $msg == "mnnode: \"$name\":"* ]]; then
			[[ -z $rest ]] || printf '%s\n' "$rest" >&2
			fail_at "${node_at[$name]}" "$msg"
		fi
	done
	printf '%s\n' "$msg" ${rest:+"$rest"} >&2
	exit 1
}

batch_error() { # BATCH_ORIGINS...
	local msg rest
	{ IFS= read -r msg; rest=$(cat); } <"$tmp/links.err"
	[[ -z $rest ]] || printf '%s\n' "$rest" >&2
	if [[ $msg =~ ^mnlink:\ line\ ([0-9]+):\ (.*)$ ]] && ((BASH_REMATCH[1] <= $#)); then
		local n=${BASH_REMATCH[1]} why=${BASH_REMATCH[2]}
		fail_at "${!n}" "mnlink: $why"
	fi
	printf '%s\n' "${msg:-mnlink: the link batch failed}" >&2
	exit 1
}

build() {
	say "Creating network"
	# One mnnode add per kind, all at once: each keeps both CPUs busy only
	# part of the time.
	local i failed=''
	built=1 ran=1
	progress_start $((${#hosts[@]} + ${#switches[@]} + ${#routers[@]}))
	add_nodes host hosts "${hosts[@]}"
	add_nodes switch switches "${switches[@]}"
	add_nodes router routers "${routers[@]}"
	nat_add
	for i in "${!adding[@]}"; do
		wait "${adding[i]}" || failed=${failed:-${adding_kind[i]}}
	done
	for i in "${adding_kind[@]}"; do
		[[ $i == "$failed" || ! -s $tmp/add-$i ]] || cat "$tmp/add-$i" >&2
	done
	[[ -z $failed ]] || node_error "$failed"
	progress "$(counted hosts=${#hosts[@]} switches=${#switches[@]} routers=${#routers[@]}) added"
	stp_start_line
	say "Adding links:"
	if ((${#links[@]} <= 64)); then
		local l a b pairs=''
		for l in "${links[@]}"; do
			read -r _ a b _ <<<"$l"
			pairs+="(${a%%[-:]*}, ${b%%[-:]*}) "
		done
		info "$pairs"
	else
		info "${#links[@]} links"
	fi
	say "Configuring hosts"
	if [[ -n $cluster ]]; then
		build_links_cluster
	else
		{
			printf '%s\n' "${links[@]}"
			((${#stp_lines[@]} == 0)) || printf '%s\n' "${stp_lines[@]}"
			((${#addrs[@]} == 0)) || printf 'addr %s\n' "${addrs[@]}"
			((${#macs[@]} == 0)) || printf 'mac %s\n' "${macs[@]}"
		} | mnlink -b - 2>"$tmp/links.err" || batch_error "${link_at[@]}" "${stp_at[@]}" "${addr_at[@]}" "${mac_at[@]}"
		[[ ! -s $tmp/links.err ]] || cat "$tmp/links.err" >&2
	fi
	progress "$(counted links=${#links[@]} addresses=${#addrs[@]} MACs=${#macs[@]}) made"
	local c node rc
	for i in "${!cmds[@]}"; do
		c=${cmds[i]} node=${c%%$'\t'*}
		rc=0
		mnrun -n "$node" "${c#*$'\t'}" || rc=$?
		((rc == 0)) || fail_at "${cmd_at[i]}" "cmd $node ${c#*$'\t'}: exit status $rc"
	done
	((${#cmds[@]} == 0)) || progress "$(counted commands=${#cmds[@]}) run"
}

teardown() {
	((built)) || return 0
	built=0
	# Nodes still being added must be there for clean to remove them.
	((${#adding[@]})) && wait "${adding[@]}" 2>/dev/null
	if ((keep)); then
		say "Leaving the network running (--keep); remove it with: mn -c"
		return 0
	fi
	say "Stopping network"
	progress_start $((${#hosts[@]} + ${#switches[@]} + ${#routers[@]}))
	mnnode clean
	progress "$(counted nodes=$((${#hosts[@]} + ${#switches[@]} + ${#routers[@]}))) removed"
	nat_clean
	say "Done"
}

finish() {
	local rc=$?
	# Tear down whatever happens, a closed stdout included.
	set +e
	trap - EXIT INT TERM HUP
	trap '' PIPE
	teardown
	rm -rf "$tmp"
	((ran == 0)) || output "completed in $(seconds_since "$started") seconds"
	exit "$rc"
}

seconds_since() { # EPOCHREALTIME: seconds since, without bc
	local now=${EPOCHREALTIME/./} then=${1/./}
	local d=$((10#$now - 10#$then))
	printf '%d.%03d' $((d / 1000000)) $((d % 1000000 / 1000))
}
