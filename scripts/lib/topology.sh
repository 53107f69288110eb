# shellcheck shell=bash
# Sourced by scripts/mn: the topology (built-in or a file), its size bound,
# and the addresses. A topology runs in its own process (topo-run.sh) and
# comes back as records; this side checks their shape and numbers ports as
# Mininet does. Names, addresses and shaping values are checked by mnnode
# and mnlink only; their errors come back with the line that caused them.
# The parts share mn's globals; `shellcheck -x scripts/mn` checks them together.
# shellcheck disable=SC2154

# The size bound, checked before anything is made. This machine (24 GB,
# pid_max 32768) holds tree,4,10 (10000 hosts, 1111 switches): a node is a
# bash shell (about 0.45 MB PSS) and a network namespace; the limits such a
# lab meets (pid_max, bridge ports, neighbour tables, the input backlog)
# are checked by check_scale (build.sh).
max_hosts=10000
max_nodes=12000
max_links=50000

# The topology, as the records define it.
hosts=() switches=() routers=()
declare -A kind=() port=() ip=() mac=() first_if=() node_at=()
links=() link_at=()  # "add A_IF B_IF OPTIONS..." lines for the batch, and where each came from
addrs=() addr_at=()  # "IF CIDR"
macs=() mac_at=()    # "IF MAC"
cmds=() cmd_at=()    # "NODE<TAB>COMMAND" to run once built
link_opts=()         # --link shaping, as mnlink options
line=0               # the topology file's line of the record being read

# Where AT (a topology line, 0 for a built-in topology, or an option)
# came from, in $origin.
origin() { # AT
	case $1 in
	-*) origin=$1 ;;
	0) origin="--topo $topo" ;;
	*) origin=${topo_file:-$topo}:$1 ;;
	esac
}

# One line and exit 1: `FILE:LINE: what` as compilers say it, or
# `mn: --option: what`.
fail_at() { # AT MESSAGE
	origin "$1"
	if [[ $origin == -* ]]; then
		printf '%s: %s: %s\n' "$prog" "$origin" "$2" >&2
	else
		printf '%s: %s\n' "$origin" "$2" >&2
	fi
	exit 1
}

topo_fail() { fail_at "$line" "$1"; }

# --- numbers past 2^63, as digit strings -----------------------------------------

big_norm() { # DIGITS: $big without leading zeros
	big=${1##+(0)}
	big=${big:-0}
}

big_limbs() { # ARRAY DIGITS: 4-digit limbs, least significant first
	local -n into=$1
	local d=$2
	into=()
	while ((${#d} > 4)); do
		into+=($((10#${d: -4})))
		d=${d:0:${#d}-4}
	done
	into+=($((10#$d)))
}

big_join() { # ARRAY: $big from limbs
	local -n from=$1
	local i s=''
	for ((i = ${#from[@]} - 1; i >= 0; i--)); do printf -v s '%s%04d' "$s" "${from[i]:-0}"; done
	big_norm "$s"
}

big_mul() { # A B: $big = A * B
	local -a x y r=()
	local i j t c
	big_limbs x "$1"
	big_limbs y "$2"
	for ((i = 0; i < ${#x[@]}; i++)); do
		c=0
		for ((j = 0; j < ${#y[@]}; j++)); do
			t=$((${r[i + j]:-0} + x[i] * y[j] + c))
			r[i + j]=$((t % 10000)) c=$((t / 10000))
		done
		r[i + j]=$c
	done
	big_join r
}

big_add() { # A B: $big = A + B
	local -a x y r=()
	local i t c=0
	big_limbs x "$1"
	big_limbs y "$2"
	for ((i = 0; i < ${#x[@]} || i < ${#y[@]} || c; i++)); do
		t=$((${x[i]:-0} + ${y[i]:-0} + c))
		r[i]=$((t % 10000)) c=$((t / 10000))
	done
	big_join r
}

big_gt() { # A B: A > B (no leading zeros)
	local a=$1 b=$2 i
	((${#a} == ${#b})) || { ((${#a} > ${#b})); return; }
	for ((i = 0; i < ${#a}; i += 18)); do
		((10#${a:i:18} == 10#${b:i:18})) || { ((10#${a:i:18} > 10#${b:i:18})); return; }
	done
	return 1
}

# The hosts and switches a built-in topology makes, exact to 100 digits
# (size_hosts is empty past that), without making anything.
topo_size() { # NAME ARGS...
	local d f p=1 s=0 i=0
	case $1 in
	minimal) size_hosts=2 size_switches=1 ;;
	single) big_norm "$2"; size_hosts=$big size_switches=1 ;;
	linear)
		big_norm "$2"; size_switches=$big
		big_mul "$2" "$3"; size_hosts=$big ;;
	tree)
		big_norm "$2"; d=$big
		big_norm "$3"; f=$big
		if [[ $f == 1 ]]; then
			size_hosts=1 size_switches=$d
			return 0
		fi
		while big_gt "$d" "$i"; do
			big_add "$s" "$p"; s=$big
			big_mul "$p" "$f"; p=$big
			i=$((i + 1))
			((${#p} <= 100)) || { p=''; break; }
		done
		size_hosts=$p size_switches=$s ;;
	*) topolib_size "$@" ;;
	esac
}

check_size() { # NAME ARGS...
	topo_size "$@"
	if [[ -z $size_hosts ]]; then
		die "--topo $topo would make more than 10^100 hosts; the limit is $max_hosts"
	elif big_gt "$size_hosts" "$max_hosts"; then
		die "--topo $topo would make $size_hosts hosts; the limit is $max_hosts"
	fi
	big_add "$size_hosts" "$size_switches"
	if big_gt "$big" "$max_nodes"; then
		die "--topo $topo would make $big nodes ($size_hosts hosts and $size_switches switches); the limit is $max_nodes"
	fi
}

# --- reading a topology ---------------------------------------------------------

builtins='minimal, single,N, linear,K[,N], tree,DEPTH[,FANOUT], reversed,N, torus,X,Y[,N], fattree,K'

load_topology() {
	local name args=() want=() a
	name=${topo%%,*}
	! custom_topology || return 0
	case $name in
	minimal | single | linear | tree | reversed | torus | fattree)
		IFS=, read -r -a args <<<"${topo#"$name"}"
		args=("${args[@]:1}")
		case $name in
		minimal) want=() ;;
		single) want=(3) ;;
		linear) want=(2 1) ;;
		tree) want=(2 2) ;;
		reversed) want=(3) ;;
		torus) want=(3 3 1) ;;
		fattree) want=(4) ;;
		esac
		((${#args[@]} <= ${#want[@]})) || die "--topo $topo: too many numbers (topologies: $builtins)"
		for a in "${!want[@]}"; do
			[[ ${args[a]=${want[a]}} =~ ^[0-9]*[1-9][0-9]*$ ]] || die "--topo $topo: '${args[a]}' is not a positive number"
			big_norm "${args[a]}"
			args[a]=$big
		done
		topolib_check "$name" "${args[@]}"
		check_size "$name" "${args[@]}"
		run_topology builtin "$name" "${args[@]}"
		;;
	*)
		[[ -e $topo ]] || die "--topo $topo: not a topology ($builtins) nor a file"
		[[ -f $topo && -r $topo ]] || die "--topo $topo: not a readable file"
		local src=$topo why
		# Line ends from Windows: the \r would end up in names, unseen.
		if grep -q $'\r' "$topo"; then
			src=$tmp/topology
			sed 's/\r$//' "$topo" >"$src"
		fi
		if ! why=$("$BASH" -n "$src" 2>&1); then
			why=${why%%$'\n'*}
			[[ $why =~ ^.*:\ line\ ([0-9]+):\ (.*)$ ]] && fail_at "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}"
			die "--topo $topo: $why"
		fi
		run_topology file "$src"
		;;
	esac
	((${#hosts[@]} + ${#switches[@]} + ${#routers[@]})) || die "--topo $topo: no nodes"
}

run_topology() { # MODE ARGS...
	local rc=0 verb a b rest more
	# (made: custom.sh's shim has written the records already.)
	[[ $1 == made ]] || "$BASH" "$lib/topo-run.sh" "$tmp/records" "$max_hosts" "$max_nodes" "$max_links" "$@" </dev/null || rc=$?
	while IFS=$'\x1f' read -r line verb a b rest; do
		# Thousands of records: plain hosts and links stay inline.
		case $verb in
		host)
			if [[ -z $b && -n $a && -z ${kind[$a]:-} ]]; then
				kind[$a]=host node_at[$a]=$line port[$a]=0
				hosts+=("$a")
				continue
			fi ;;
		link)
			if [[ -z $rest && -n $a && -n $b && -n ${kind[$a]:-} && -n ${kind[$b]:-} ]]; then
				add_link "$a" "$b" "$a-eth${port[$a]}" "$b-eth${port[$b]}"
				continue
			fi ;;
		esac
		more=()
		[[ -z $rest ]] || IFS=$'\x1f' read -r -a more <<<"$rest"
		case $verb in
		host) topo_host "$a" ${b:+"$b"} "${more[@]}" ;;
		switch | router) topo_node "$verb" "$a" ${b:+"$b"} "${more[@]}" ;;
		link) topo_link "$a" ${b:+"$b"} "${more[@]}" ;;
		cmd) topo_cmd "$a" ${b:+"$b"} "${more[@]}" ;;
		error) topo_fail "$a" ;;
		*) topo_fail "$verb: not a topology record" ;;
		esac
	done <"$tmp/records"
	((rc == 0)) || die "--topo $topo: the topology exited with status $rc"
}

new_node() { # KIND NAME
	[[ -n $2 ]] || topo_fail "$1: needs a name"
	[[ -z ${kind[$2]:-} ]] || topo_fail "$1 $2: $2 is defined twice"
	kind[$2]=$1 node_at[$2]=$line
	case $1 in
	host) hosts+=("$2"); port[$2]=0 ;;
	switch) switches+=("$2"); port[$2]=1 ;;
	router) routers+=("$2"); port[$2]=0 ;;
	esac
}

# host NAME [ip=CIDR|none] [mac=MAC]
topo_host() {
	new_node host "${1:-}"
	local name=$1 opt
	shift
	for opt in "$@"; do
		case $opt in
		ip=none) ip[$name]=none ;; # no address of --ipbase (mn save writes it)
		ip=*) batch_word "host $name" "$opt"; ip[$name]=${opt#ip=} ;;
		mac=*) batch_word "host $name" "$opt"; mac[$name]=${opt#mac=} ;;
		*) topo_fail "host $name: unknown option $opt (ip=CIDR, mac=MAC)" ;;
		esac
	done
}

# switch NAME, router NAME
topo_node() { # KIND NAME...
	(($# == 2)) || topo_fail "$1 ${2:-}: takes only a name"
	new_node "$1" "$2"
}

# A word for mnlink's batch, which splits at blanks and ends at `#`.
batch_word() { # WHAT KEY=VALUE
	local value=${2#*=}
	[[ -n $value && $value != *[[:space:]#]* ]] || topo_fail "$1: $2: a value needs no blanks and no #"
}

# key=value shaping, as mnlink options in $option (mnlink checks the value).
shaping_option() { # KEY=VALUE
	local key=${1%%=*}
	case $key in
	bw | delay | jitter | loss | queue | mtu | rate | reorder | duplicate | corrupt) ;;
	max_queue_size) key=queue ;;
	*) return 1 ;;
	esac
	option=("--$key" "${1#*=}")
}

# link A B [bw=MBIT delay=T jitter=T loss=PCT queue=PKTS mtu=N
#           rate=MBIT reorder=PCT duplicate=PCT corrupt=PCT
#           intf1=NAME intf2=NAME ip1=CIDR[,CIDR...] ip2=CIDR[,...]
#           mac1=MAC mac2=MAC]
topo_link() {
	(($# >= 2)) || topo_fail "link: needs two nodes"
	local a=$1 b=$2 opt opts=() if1='' if2='' ip1='' ip2='' mac1='' mac2='' cidr
	shift 2
	[[ -n $a && -n ${kind[$a]:-} ]] || topo_fail "link $a $b: no node '$a' (define nodes before their links)"
	[[ -n $b && -n ${kind[$b]:-} ]] || topo_fail "link $a $b: no node '$b' (define nodes before their links)"
	for opt in "$@"; do
		batch_word "link $a $b" "$opt"
		case $opt in
		intf1=*) if1=$a:${opt#intf1=} ;;
		intf2=*) if2=$b:${opt#intf2=} ;;
		ip1=*) ip1=${opt#ip1=} ;;
		ip2=*) ip2=${opt#ip2=} ;;
		mac1=*) mac1=${opt#mac1=} ;;
		mac2=*) mac2=${opt#mac2=} ;;
		*=*)
			shaping_option "$opt" ||
				topo_fail "link $a $b: unknown option $opt (bw, delay, jitter, loss, queue, mtu, intf1, intf2, ip1, ip2, mac1, mac2)"
			opts+=("${option[@]}") ;;
		*) topo_fail "link $a $b: $opt is not key=value" ;;
		esac
	done
	[[ -n $if1 ]] || if1=$a-eth${port[$a]}
	[[ -n $if2 ]] || if2=$b-eth${port[$b]}
	add_link "$a" "$b" "$if1" "$if2" "${opts[@]}"
	for cidr in ${ip1//,/ }; do addrs+=("$if1 $cidr") addr_at+=("$line"); done
	for cidr in ${ip2//,/ }; do addrs+=("$if2 $cidr") addr_at+=("$line"); done
	[[ -z $mac1 ]] || { macs+=("$if1 $mac1"); mac_at+=("$line"); }
	[[ -z $mac2 ]] || { macs+=("$if2 $mac2"); mac_at+=("$line"); }
}

# A link as the batch makes it; the next ports, and first interfaces.
add_link() { # A B IF1 IF2 OPTIONS...
	local at=$line
	port[$1]=$((port[$1] + 1)) port[$2]=$((port[$2] + 1))
	if (($# == 4 && ${#link_opts[@]})); then
		set -- "$@" "${link_opts[@]}"
		# A built-in topology's links are shaped by --link only.
		((line)) || at="--link $opt_link"
	fi
	links+=("add ${*:3}") link_at+=("$at")
	[[ -n ${first_if[$1]:-} ]] || first_if[$1]=$3
	[[ -n ${first_if[$2]:-} ]] || first_if[$2]=$4
}

# cmd NODE COMMAND...: run in NODE once the network is up (routes, daemons)
topo_cmd() {
	(($# >= 2)) || topo_fail "cmd: needs a node and a command"
	[[ -n $1 && -n ${kind[$1]:-} ]] || topo_fail "cmd $1: no node '$1'"
	local node=$1
	shift
	cmds+=("$node"$'\t'"$*") cmd_at+=("$line")
}

# --link tc,KEY=VALUE,...: shaping for every link without its own.
parse_link_option() {
	local parts p
	[[ -n ${opt_link:-} ]] || return 0
	IFS=, read -r -a parts <<<"$opt_link"
	[[ ${parts[0]:-} == tc || ${parts[0]:-} == default ]] || die "--link $opt_link: only tc links exist here (tc,bw=10,delay=5ms)"
	for p in "${parts[@]:1}"; do
		[[ $p == *=* ]] || die "--link $opt_link: $p is not key=value"
		[[ -n ${p#*=} && ${p#*=} != *[[:space:]#]* ]] || die "--link $opt_link: $p: a value needs no blanks and no #"
		shaping_option "$p" || die "--link $opt_link: ${p%%=*} is not a link option (bw, delay, jitter, loss, queue, mtu)"
		link_opts+=("${option[@]}")
	done
}

# --- addresses ------------------------------------------------------------------

# Into the variable named first: no subshell (a fork per host adds up).
ip2int() { local IFS=. a b c d; read -r a b c d <<<"$2"; printf -v "$1" '%d' $(((a << 24) | (b << 16) | (c << 8) | d)); }
int2ip() { printf -v "$1" '%d.%d.%d.%d' $(($2 >> 24 & 255)) $(($2 >> 16 & 255)) $(($2 >> 8 & 255)) $(($2 & 255)); }

# Hosts without an ip= get the next address of --ipbase, in order; each
# goes on the host's first interface, as Mininet does.
assign_addresses() {
	local base=${ipbase%/*} prefix=${ipbase#*/} h n=0 net size addr at
	local octet valid=1
	[[ $base =~ ^([0-9]{1,3}\.){3}[0-9]{1,3}$ && $prefix =~ ^[0-9]+$ ]] && ((prefix >= 1 && prefix <= 30)) || valid=0
	for octet in ${base//./ }; do ((10#$octet <= 255)) || valid=0; done
	((valid)) || die "--ipbase $ipbase: not an IPv4 network such as 10.0.0.0/8"
	size=$((1 << (32 - prefix)))
	ip2int net "$base"
	net=$((net & ~(size - 1) & 0xffffffff))
	for h in "${hosts[@]}"; do
		n=$((n + 1))
		at=${node_at[$h]}
		if [[ -z ${ip[$h]:-} ]]; then
			((n < size - 1)) || die "--ipbase $ipbase: too small for ${#hosts[@]} hosts"
			int2ip addr $((net + n))
			ip[$h]=$addr/$prefix
			at="--ipbase $ipbase"
		fi
		if [[ ${ip[$h]} == none ]]; then
			unset "ip[$h]"
		elif [[ -n ${first_if[$h]:-} ]]; then
			addrs+=("${first_if[$h]} ${ip[$h]}") addr_at+=("$at")
		fi
		at=${node_at[$h]}
		if ((use_mac)) && [[ -z ${mac[$h]:-} ]]; then
			printf -v "mac[$h]" '00:00:%02x:%02x:%02x:%02x' $((n >> 24 & 255)) $((n >> 16 & 255)) $((n >> 8 & 255)) $((n & 255))
			at=--mac
		fi
		[[ -n ${mac[$h]:-} && -n ${first_if[$h]:-} ]] && macs+=("${first_if[$h]} ${mac[$h]}") mac_at+=("$at")
	done
	return 0
}
