# shellcheck shell=bash
# Sourced by scripts/mn: the CLI commands that look at and change the
# running lab (graph, capture, addhost, addswitch, addlink, dellink,
# delnode, set link, save), and `mn save`. Each change is made by the
# tools first and only then written into mn's arrays (hosts, switches,
# kind, ip, first_if, port), so that net, dump and pingall see it at once;
# a change that fails halfway is undone, and says why in one line.
# The parts share mn's globals; `shellcheck -x scripts/mn` checks them together.
# kind, port, ip and first_if are associative (declared in topology.sh):
# their keys need the $.
# shellcheck disable=SC2154,SC2004

edit_error() { echo "*** Error: $*"; }

# NAME: the interfaces of NODE that links use now, one per line.
node_ifs() { # NODE
	mnlink list "$1" 2>/dev/null | tail -n +2 | while read -r a b _; do
		local e
		for e in "$a" "$b"; do
			if [[ $e == *:* ]]; then
				[[ ${e%%:*} == "$1" ]] && echo "${e#*:}"
			elif [[ ${e%%-*} == "$1" ]]; then
				echo "$e"
			fi
		done
	done
}

# The next NODE-ethN that no link of NODE uses, in $free_if; counts on.
next_if() { # NODE
	local n=${port[$1]:-0} used
	used=$'\n'$(node_ifs "$1")$'\n'
	while [[ $used == *$'\n'"$1-eth$n"$'\n'* ]]; do n=$((n + 1)); done
	free_if=$1-eth$n
	port[$1]=$((n + 1))
}

# The next free address of --ipbase, in $free_ip (CIDR).
next_ip() {
	local base=${ipbase%/*} prefix=${ipbase#*/} net size n used=' ' h addr
	size=$((1 << (32 - prefix)))
	ip2int net "$base"
	net=$((net & ~(size - 1) & 0xffffffff))
	for h in "${!ip[@]}"; do used+="${ip[$h]%/*} "; done
	for ((n = 1; n < size - 1; n++)); do
		int2ip addr $((net + n))
		if [[ $used != *" $addr "* ]]; then
			free_ip=$addr/$prefix free_n=$n
			return 0
		fi
	done
	return 1
}

# Shaping words (bw=10,delay=5ms or bw=10 delay=5ms) as mnlink options,
# in $shape_opts; an error line and 1 when one is not a link option.
shaping_words() { # WORDS...
	local w parts words=()
	shape_opts=()
	for w in "$@"; do
		IFS=, read -r -a parts <<<"$w"
		words+=("${parts[@]}")
	done
	for w in "${words[@]}"; do
		if [[ $w != *=* || -z ${w#*=} ]] || ! shaping_option "$w"; then
			edit_error "$w: not a link option (bw, delay, jitter, loss, queue, rate, reorder, duplicate, corrupt, mtu)"
			return 1
		fi
		shape_opts+=("${option[@]}")
	done
}

forget_node() { # NAME: out of mn's arrays
	local n list=()
	case ${kind[$1]} in
	host) for n in "${hosts[@]}"; do [[ $n == "$1" ]] || list+=("$n"); done; hosts=("${list[@]}") ;;
	switch) for n in "${switches[@]}"; do [[ $n == "$1" ]] || list+=("$n"); done; switches=("${list[@]}") ;;
	router) for n in "${routers[@]}"; do [[ $n == "$1" ]] || list+=("$n"); done; routers=("${list[@]}") ;;
	esac
	unset "kind[$1]" "ip[$1]" "mac[$1]" "first_if[$1]" "port[$1]"
}

# A link end's first interface gone: its node has none until the next link.
forget_ends() { # ENDPOINT...
	local e node ifname
	for e in "$@"; do
		if [[ $e == *:* ]]; then node=${e%%:*} ifname=${e#*:}; else node=${e%%-*} ifname=$e; fi
		[[ ${first_if[$node]:-} != "$node:$ifname" && ${first_if[$node]:-} != "$ifname" ]] || unset "first_if[$node]"
	done
}

cli_addhost() { # NAME SWITCH
	(($# == 2)) || { echo "usage: addhost NAME SWITCH"; return 0; }
	local h=$1 s=$2
	[[ -z ${kind[$h]:-} ]] || { edit_error "$h already exists"; return 0; }
	[[ ${kind[$s]:-} == switch ]] || { edit_error "no switch $s"; return 0; }
	next_ip || { edit_error "--ipbase $ipbase has no free address left"; return 0; }
	local extra=()
	((ipv6_ll)) && extra=(--ipv6-ll)
	mnnode add "${extra[@]}" "$h" || return 0
	local keep_port=${port[$s]:-1}
	next_if "$s"
	local lines=("add $h-eth0 $free_if" "addr $h-eth0 $free_ip")
	if ((use_mac)); then
		# As --mac numbers hosts: from the address's place in --ipbase.
		printf -v "mac[$h]" '00:00:%02x:%02x:%02x:%02x' $((free_n >> 24 & 255)) $((free_n >> 16 & 255)) $((free_n >> 8 & 255)) $((free_n & 255))
		lines+=("mac $h-eth0 ${mac[$h]}")
	fi
	if ! printf '%s\n' "${lines[@]}" | mnlink -b -; then
		mnnode del "$h"
		port[$s]=$keep_port
		return 0
	fi
	hosts+=("$h")
	kind[$h]=host port[$h]=1 ip[$h]=$free_ip first_if[$h]=$h-eth0
	[[ -n ${first_if[$s]:-} ]] || first_if[$s]=$free_if
	echo "*** Added host $h ($free_ip): $h-eth0 <-> $free_if"
}

cli_addswitch() { # NAME
	(($# == 1)) || { echo "usage: addswitch NAME"; return 0; }
	[[ -z ${kind[$1]:-} ]] || { edit_error "$1 already exists"; return 0; }
	mnnode add --kind switch "$1" || return 0
	switches+=("$1")
	kind[$1]=switch port[$1]=1
	echo "*** Added switch $1"
}

# A node or an endpoint (NODE-IF, NODE:IF), as $end_node and $end_if
# (empty: the node's next free interface).
parse_end() { # WORD
	end_node=$1 end_if=''
	if [[ -z ${kind[$1]:-} ]]; then
		case $1 in
		*:*) end_node=${1%%:*} end_if=${1#*:} ;;
		*-*) end_node=${1%%-*} end_if=$1 ;;
		esac
	fi
	[[ -n ${kind[$end_node]:-} ]] || { edit_error "no node $end_node"; return 1; }
	if [[ -n $end_if ]] && [[ $'\n'$(node_ifs "$end_node")$'\n' == *$'\n'"$end_if"$'\n'* ]]; then
		edit_error "$end_if is already in use in $end_node"
		return 1
	fi
}

cli_addlink() { # A B [OPTIONS]
	(($# >= 2)) || { echo "usage: addlink A B [bw=..,delay=..,loss=..]"; return 0; }
	local a b ia ib pa pb
	parse_end "$1" || return 0
	a=$end_node ia=$end_if
	parse_end "$2" || return 0
	b=$end_node ib=$end_if
	[[ $a != "$b" ]] || { edit_error "a link needs two nodes"; return 0; }
	shaping_words "${@:3}" || return 0
	pa=${port[$a]:-0} pb=${port[$b]:-0}
	if [[ -z $ia ]]; then next_if "$a"; ia=$free_if; fi
	if [[ -z $ib ]]; then next_if "$b"; ib=$free_if; fi
	local ea=$a:$ia eb=$b:$ib
	[[ $ia != "$a"-* ]] || ea=$ia
	[[ $ib != "$b"-* ]] || eb=$ib
	if ! mnlink add "$ea" "$eb" "${shape_opts[@]}"; then
		port[$a]=$pa port[$b]=$pb
		return 0
	fi
	# A host that had no link gets its address back on its new one.
	local n e
	for n in "$a" "$b"; do
		[[ -z ${first_if[$n]:-} ]] || continue
		if [[ $n == "$a" ]]; then e=$ea; else e=$eb; fi
		first_if[$n]=$e
		if [[ ${kind[$n]} == host && -n ${ip[$n]:-} ]] && ! mnlink addr "$e" "${ip[$n]}"; then
			mnlink del "$ea"
			unset "first_if[$n]"
			return 0
		fi
	done
	echo "*** Added link $ea <-> $eb${shape_opts[*]:+ (${shape_opts[*]})}"
}

# The endpoints of the link between A and B, in $link_a and $link_b.
find_link() { # A B
	local x y
	link_a='' link_b=''
	[[ -n ${kind[$1]:-} ]] || { edit_error "no node $1"; return 1; }
	[[ -n ${kind[$2]:-} ]] || { edit_error "no node $2"; return 1; }
	while read -r x y _; do
		local nx=${x%%[-:]*} ny=${y%%[-:]*}
		if [[ $nx == "$1" && $ny == "$2" ]]; then link_a=$x link_b=$y; return 0; fi
		if [[ $nx == "$2" && $ny == "$1" ]]; then link_a=$y link_b=$x; return 0; fi
	done < <(mnlink list "$1" | tail -n +2)
	edit_error "no link between $1 and $2"
	return 1
}

cli_dellink() { # A B
	(($# == 2)) || { echo "usage: dellink A B"; return 0; }
	find_link "$1" "$2" || return 0
	mnlink del "$link_a" || return 0
	forget_ends "$link_a" "$link_b"
}

cli_delnode() { # NAME
	(($# == 1)) || { echo "usage: delnode NAME"; return 0; }
	[[ -n ${kind[$1]:-} ]] || { edit_error "no node $1"; return 0; }
	local peers=() a b
	while read -r a b _; do peers+=("$a" "$b"); done < <(mnlink list "$1" | tail -n +2)
	mnnode del "$1" || return 0
	forget_ends "${peers[@]}"
	forget_node "$1"
}

cli_set() { # link A B [OPTIONS]
	[[ ${1:-} == link && $# -ge 3 ]] || { echo "usage: set link A B bw=..,delay=.. (none: unshaped)"; return 0; }
	find_link "$2" "$3" || return 0
	shaping_words "${@:4}" || return 0
	mnlink set "$link_a" "${shape_opts[@]}" && mnlink set "$link_b" "${shape_opts[@]}"
}

# capture ENDPOINT... [-w FILE] [-f FILTER...] [-c N]: the filter is the
# rest of the line up to the next option, so it needs no quotes.
cli_capture() {
	local ends=() file='' filter='' count='' opt=''
	while (($#)); do
		case $1 in
		-w | -c | -f) opt=$1 ;;
		*)
			case $opt in
			-w) file=$1 opt='' ;;
			-c) count=$1 opt='' ;;
			-f) filter+=${filter:+ }$1 ;;
			*) ends+=("$1") ;;
			esac ;;
		esac
		shift
	done
	((${#ends[@]})) || { echo "usage: capture ENDPOINT... [-w FILE] [-f FILTER] [-c N]"; return 0; }
	[[ -n $file ]] || file=${ends[0]//:/_}.pcapng
	local args=(capture "${ends[@]}" -w "$file")
	[[ -z $filter ]] || args+=(-f "$filter")
	[[ -z $count ]] || args+=(-c "$count")
	echo "*** Capturing into $file (Ctrl-C stops)"
	mnlink "${args[@]}" || true
}

# Writes the running lab as a topology file: whole or not at all.
save_lab() { # FILE FORCE: prints one line and returns 1 on failure
	local file=$1 force=$2 part
	if [[ -e $file && $force != 1 ]]; then
		echo "$file: exists (save --force to replace it)" >&2
		return 1
	fi
	[[ ! -d $file ]] || { echo "$file: a directory" >&2; return 1; }
	part=$(mktemp "$file.XXXXXX" 2>/dev/null) || { echo "$file: cannot write there" >&2; return 1; }
	if ! "$bin/mnlink" graph --format topo >"$part"; then
		rm -f "$part"
		return 1
	fi
	chmod 644 "$part"
	mv -f "$part" "$file"
}

cli_save() { # FILE [--force]
	local file='' force=0 w
	for w in "$@"; do
		case $w in
		--force | -f) force=1 ;;
		*) file=$w ;;
		esac
	done
	[[ -n $file ]] || { echo "usage: save FILE [--force]"; return 0; }
	local why
	if why=$(save_lab "$file" "$force" 2>&1); then
		echo "*** Saved the lab in $file (mn --topo $file rebuilds it)"
	else
		edit_error "save: ${why#mnlink: }"
	fi
	return 0
}

# mn save FILE [--force]: the running lab of MN_DIR.
mn_save() {
	local file='' force=0 w why
	for w in "$@"; do
		case $w in
		--force | -f) force=1 ;;
		-*) die "save: unknown option $w (mn save FILE [--force])" ;;
		*) [[ -z $file ]] || die "save: one FILE only"; file=$w ;;
		esac
	done
	[[ -n $file ]] || die "save: needs a FILE (mn save FILE [--force])"
	if ! why=$(save_lab "$file" "$force" 2>&1); then
		why=${why#mnlink: }
		die "save: ${why:-failed}"
	fi
}

# The CLI's commands of this file.
cli_edit() { # COMMAND WORDS...
	local c=$1
	shift
	case $c in
	graph) mnlink graph "$@" || true ;;
	capture) cli_capture "$@" ;;
	addhost) cli_addhost "$@" ;;
	addswitch) cli_addswitch "$@" ;;
	addlink) cli_addlink "$@" ;;
	dellink) cli_dellink "$@" ;;
	delnode) cli_delnode "$@" ;;
	set) cli_set "$@" ;;
	save) cli_save "$@" ;;
	esac
	return 0
}
