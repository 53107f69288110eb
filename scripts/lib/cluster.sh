# shellcheck shell=bash
# Sourced by scripts/mn: a network over several machines (--cluster,
# --placement, Mininet cluster edition's spelling). The machines are the
# lab's hosts file's (see mnnode(1), "Machines"); nodes are placed over
# them, made there with `mnnode add --on`, and links between machines
# become VXLAN tunnels (mnlink does that).
# The parts share mn's globals; `shellcheck -x scripts/mn` checks them together.
# shellcheck disable=SC2034,SC2154

cluster='' placement=switchbin
machines=()
declare -A machine_of=()
cross_links=0

# --cluster A,B[,C]: each a machine of the hosts file, none twice.
check_cluster() {
	[[ -n $cluster ]] || return 0
	case $placement in
	block | random | switchbin) ;;
	*) die "--placement $placement: not a placement (block, random, switchbin)" ;;
	esac
	local file=${MN_HOSTS:-${MN_DIR:-/run/mn}/hosts} m name rest known=()
	[[ -r $file ]] || die "--cluster: no hosts file $file (see mnnode --help, Machines)"
	while read -r name rest; do
		[[ -z $name || $name == '#'* ]] || known+=("$name")
	done <"$file"
	IFS=, read -ra machines <<<"$cluster"
	((${#machines[@]})) || die "--cluster needs machine names (--cluster a,b)"
	local seen=" "
	for m in "${machines[@]}"; do
		[[ " ${known[*]} " == *" $m "* ]] || die "--cluster: no machine named $m in $file"
		[[ $seen != *" $m "* ]] || die "--cluster: machine $m is named twice"
		seen+="$m "
	done
}

# Nodes of one kind into evenly sized bins, in order.
place_block() { # NAMES...
	local n=$# k=${#machines[@]} i=0 size name
	size=$(((n + k - 1) / k))
	((size > 0)) || size=1
	for name in "$@"; do
		machine_of[$name]=${machines[i / size]}
		i=$((i + 1))
	done
}

place_random() { # NAMES...
	local name
	for name in "$@"; do machine_of[$name]=${machines[RANDOM % ${#machines[@]}]}; done
}

# Switches and routers in bins; each host with the first switch or router
# it is linked to (a tree's hosts then never cross machines).
place_switchbin() {
	place_block "${switches[@]}"
	place_block "${routers[@]}"
	local l a b unplaced=() h
	for l in "${links[@]}"; do
		read -r _ a b _ <<<"$l"
		a=${a%%[-:]*} b=${b%%[-:]*}
		[[ ${kind[$a]:-} == host && -z ${machine_of[$a]:-} && -n ${machine_of[$b]:-} ]] && machine_of[$a]=${machine_of[$b]}
		[[ ${kind[$b]:-} == host && -z ${machine_of[$b]:-} && -n ${machine_of[$a]:-} ]] && machine_of[$b]=${machine_of[$a]}
	done
	for h in "${hosts[@]}"; do [[ -n ${machine_of[$h]:-} ]] || unplaced+=("$h"); done
	place_block "${unplaced[@]}"
}

place_nodes() {
	[[ -n $cluster ]] || return 0
	case $placement in
	block) place_block "${hosts[@]}"; place_block "${switches[@]}"; place_block "${routers[@]}" ;;
	random) place_random "${hosts[@]}" "${switches[@]}" "${routers[@]}" ;;
	switchbin) place_switchbin ;;
	esac
	local l a b
	cross_links=0
	for l in "${links[@]}"; do
		read -r _ a b _ <<<"$l"
		a=${a%%[-:]*} b=${b%%[-:]*}
		[[ ${machine_of[$a]} == "${machine_of[$b]}" ]] || cross_links=$((cross_links + 1))
	done
	say "Placing nodes over ${#machines[@]} machines ($placement): links between machines: $cross_links"
	local m names
	for m in "${machines[@]}"; do
		names=()
		for a in "${hosts[@]}" "${switches[@]}" "${routers[@]}"; do
			[[ ${machine_of[$a]} != "$m" ]] || names+=("$a")
		done
		info "$m: ${#names[@]} nodes"
	done
}

# add_nodes for a cluster: one `mnnode add --on` per machine, all at once.
add_nodes_cluster() { # KIND NAMES...
	local k=$1 m name extra=()
	shift
	[[ $k == host ]] && ((ipv6_ll)) && extra=(--ipv6-ll)
	# The tree runs across machines too (BPDUs cross the tunnels), but a
	# bridge is up from birth: --start reaches only one machine's bridges.
	[[ $k == switch ]] && ((stp)) && extra=(--stp)
	local -A on=()
	for name in "$@"; do on[${machine_of[$name]}]+=" $name"; done
	(
		pids=()
		for m in "${!on[@]}"; do
			# shellcheck disable=SC2086 # the names are words
			mnnode add --on "$m" --kind "$k" "${extra[@]}" ${on[$m]} &
			pids+=($!)
		done
		rc=0
		for m in "${pids[@]}"; do wait "$m" || rc=1; done
		exit "$rc"
	) 2>"$tmp/add-$k" &
	adding+=($!) adding_kind+=("$k")
}

# The link batch for a cluster: one batch per machine, run there by one
# mnlink over one ssh call, all machines at once. A link between machines
# becomes a `tunnel` line on each side (what `mnlink add` does for one
# link, see mnlink/src/links/tunnel.rs), with VNIs counted up from a
# random base; they come first, then the machine's own links, addresses
# and MACs, tunnel ends' included.
build_links_cluster() {
	local -A batch=() origin=() tunnels=() tunnel_at=() underlay=()
	local i a b na nb rest m name dest addr vni pids=() ms=() failed=''
	while read -r name dest addr _; do
		[[ -z $name || $name == '#'* ]] || underlay[$name]=$addr
	done <"${MN_HOSTS:-${MN_DIR:-/run/mn}/hosts}"
	vni=$(((RANDOM << 8 | RANDOM) % 15000000 + 1))
	for i in "${!links[@]}"; do
		read -r _ a b rest <<<"${links[i]}"
		na=${a%%[-:]*} nb=${b%%[-:]*}
		if [[ ${machine_of[$na]} == "${machine_of[$nb]}" ]]; then
			m=${machine_of[$na]}
			batch[$m]+=${links[i]}$'\n' origin[$m]+=${link_at[i]}$'\n'
			continue
		fi
		vni=$((vni + 1))
		m=${machine_of[$na]}
		tunnels[$m]+="tunnel $a $b --vni $vni --local ${underlay[$m]} --remote ${underlay[${machine_of[$nb]}]} $rest"$'\n'
		tunnel_at[$m]+=${link_at[i]}$'\n'
		m=${machine_of[$nb]}
		tunnels[$m]+="tunnel $b $a --vni $vni --local ${underlay[$m]} --remote ${underlay[${machine_of[$na]}]} $rest"$'\n'
		tunnel_at[$m]+=${link_at[i]}$'\n'
	done
	for i in "${!addrs[@]}"; do
		m=${machine_of[${addrs[i]%%[-:]*}]}
		batch[$m]+="addr ${addrs[i]}"$'\n' origin[$m]+=${addr_at[i]}$'\n'
	done
	for i in "${!macs[@]}"; do
		m=${machine_of[${macs[i]%%[-:]*}]}
		batch[$m]+="mac ${macs[i]}"$'\n' origin[$m]+=${mac_at[i]}$'\n'
	done
	for m in "${machines[@]}"; do
		[[ -n ${tunnels[$m]:-}${batch[$m]:-} ]] || continue
		printf '%s' "${tunnels[$m]:-}" "${batch[$m]:-}" | mnlink --on "$m" -b - 2>"$tmp/links-$m.err" &
		pids+=($!) ms+=("$m")
	done
	for i in "${!pids[@]}"; do
		wait "${pids[i]}" || failed=${failed:-${ms[i]}}
	done
	for m in "${ms[@]}"; do
		[[ $m == "$failed" || ! -s $tmp/links-$m.err ]] || cat "$tmp/links-$m.err" >&2
	done
	if [[ -n $failed ]]; then
		cp "$tmp/links-$failed.err" "$tmp/links.err"
		local at=()
		mapfile -t at <<<"${tunnel_at[$failed]:-}${origin[$failed]%$'\n'}"
		batch_error "${at[@]}"
	fi
}
