# shellcheck shell=bash
# Sourced by scripts/mn: the CLI's commands beyond the basics (Mininet's
# intfs, ports, iperfudp, pingpairfull, time, wait, x/xterm, px/py,
# switch), what they read from the tools (the porcelain lists), and the
# completion of commands and node names at the prompt. cli.sh dispatches.
# The parts share mn's globals; `shellcheck -x scripts/mn` checks them together.
# shellcheck disable=SC2154

# --- what the tools say about the network ---------------------------------------

# The links as `mnlink list --porcelain` gives them: each node's interfaces
# (node_ifs[NODE]="IF ...", sorted) and each end's peer
# (peer_of[NODE:IF]="NODE:IF"). Read afresh by each command: links change.
# shellcheck disable=SC2034 # peer_of is read by cli_net
declare -A node_ifs=() peer_of=()
read_links() {
	node_ifs=() peer_of=()
	local an ai bn bi
	while IFS=$'\t' read -r an ai bn bi _; do
		node_ifs[$an]+="$ai " node_ifs[$bn]+="$bi "
		peer_of[$an:$ai]=$bn:$bi peer_of[$bn:$bi]=$an:$ai
	done < <(mnlink list --porcelain)
	local n
	for n in "${!node_ifs[@]}"; do
		# shellcheck disable=SC2086 # the names hold no whitespace
		node_ifs[$n]=$(printf '%s\n' ${node_ifs[$n]} | sort -V | tr '\n' ' ')
		node_ifs[$n]=${node_ifs[$n]% }
	done
}

# Each node's shell pid (node_pid[NODE]), from `mnnode list --porcelain`.
# A lazy node (pid `-`) has no shell yet: `mnnode pid` starts it, as
# Mininet's nodes all have a pid (`dump`, `x`).
declare -A node_pid=()
read_pids() {
	node_pid=()
	local name pid lazy=()
	while IFS=$'\t' read -r name _ pid _; do
		if [[ $pid == - ]]; then lazy+=("$name"); else node_pid[$name]=$pid; fi
	done < <(mnnode list --porcelain)
	((${#lazy[@]})) || return 0
	local i=0
	while read -r pid; do node_pid[${lazy[i++]}]=$pid; done < <(mnnode pid "${lazy[@]}")
}

# The address mn gave an interface (IF -> bare address), from the topology.
# The batch names an end IF (h1-eth0) or, for a name of the file's own
# (intf1=up0), NODE:IF; so do first_if and addrs.
if_ip() { # NODE IF
	local a end
	# A node's first interface has its address in ip[] (kept by the CLI's
	# live changes too); others only in the topology's addr lines.
	if [[ -n ${ip[$1]:-} && (${first_if[$1]:-} == "$2" || ${first_if[$1]:-} == "$1:$2") ]]; then
		echo "${ip[$1]%/*}"
		return
	fi
	for a in "${addrs[@]}"; do
		end=${a%% *}
		[[ $end == "$1:$2" || $end == "$2" ]] && { a=${a#* }; echo "${a%/*}"; return; }
	done
	echo None
}

# Mininet's repr of a node: <Host h1: h1-eth0:10.0.0.1 pid=123>
node_repr() { # NODE (read_links and read_pids first)
	local n=$1 i parts=()
	for i in ${node_ifs[$n]:-}; do parts+=("$i:$(if_ip "$n" "$i")"); done
	local IFS=,
	local class=${kind[$n]^}
	[[ $class != Switch ]] || class=$(switch_label "$n")
	[[ $n != "${nats[0]:-}" ]] || class=NAT
	printf '<%s %s: %s pid=%s>' "$class" "$n" "${parts[*]}" "${node_pid[$n]:-None}"
}

is_node() { [[ -n $1 && -n ${kind[$1]:-} ]]; }

# --- the commands ----------------------------------------------------------------

cli_intfs() { # each node's interfaces, as Mininet's intfs
	local n
	read_links
	while read -r n; do
		local list=${node_ifs[$n]:-}
		echo "$n: ${list// /,}"
	done < <(all_nodes)
}

cli_ports() { # each switch's ports and their numbers on its bridge
	local s
	for s in "${switches[@]}"; do
		# The kernel numbers bridge ports (brport/port_no, in hex).
		# shellcheck disable=SC2016
		mnrun -n "$s" 'printf "%s " "$MN_NODE"; for p in /sys/class/net/*/brport/port_no; do
			[ -e "$p" ] || continue; i=${p%/brport/*}; printf "%s:%d " "${i##*/}" "$(cat "$p")"; done; echo' || true
	done
}

cli_pingpairfull() { pingpair full || true; }

# UDP bandwidth with iperf3 at a given rate, reported as Mininet does:
# *** Results: ['10M', '9.98 Mbits/sec', '9.99 Mbits/sec'] (rate, server, client).
cli_iperfudp() { # [BW [A B]]
	local bw=${1:-10M}
	if (($# > 3 || $# == 2)) || [[ ! $bw =~ ^[0-9]+(\.[0-9]+)?[KMGkmg]?$ ]]; then
		echo "usage: iperfudp BW [A B] (BW such as 10M)"
		return 0
	fi
	iperf_run iperfudp "$bw" "${@:2}" || true
}

cli_time() { # CMD...: run a CLI command, then say how long it took
	local start=$EPOCHREALTIME rc=0
	cli_line "$*" || rc=$?
	local now=${EPOCHREALTIME/./} then=${start/./}
	local d=$((10#$now - 10#$then))
	printf '*** Elapsed time: %d.%06d secs\n' $((d / 1000000)) $((d % 1000000))
	return "$rc"
}

# Linux bridges forward as soon as they exist: nothing to wait for.
cli_wait() {
	say "Waiting for switches to connect"
	wait_switches
	info "${switches[*]}"
}

# `switch NAME stop` brings a Linux-bridge switch's ports down (it stops
# forwarding), `start` brings them up again; OVS switches: ovs.sh.
cli_switch() { # NAME start|stop
	if (($# != 2)) || [[ $2 != start && $2 != stop ]]; then
		echo "usage: switch NAME start|stop"
		return 0
	fi
	[[ ${kind[$1]:-} == switch ]] || { echo "*** Error: invalid switch: $1"; return 0; }
	if [[ $switch_kind == ovs ]]; then
		ovs_switch_state "$1" "$2"
	else
		bridge_ports "$1" "$([[ $2 == start ]] && echo up || echo down)"
	fi
}

bridge_ports() { # SWITCH up|down
	# shellcheck disable=SC2016
	mnrun -n "$1" 'for p in /sys/class/net/*/brport; do [ -e "$p" ] || continue
		i=${p%/brport}; ip link set "${i##*/}" '"$2"'; done' || true
}

# An interactive shell in a node's namespaces: a tmux window when mn runs
# inside tmux, an xterm when there is a display.
cli_xterm() { # NODE...
	(($#)) || { echo "usage: xterm NODE..."; return 0; }
	local n
	for n in "$@"; do is_node "$n" || { echo "*** Error: node '$n' not in network"; return 0; }; done
	for n in "$@"; do open_terminal "$n" || return 0; done
}

cli_x() { # NODE [CMD]: one node's terminal, running CMD instead of a shell
	(($#)) || { echo "usage: x NODE [CMD]"; return 0; }
	is_node "$1" || { echo "*** Error: node '$1' not in network"; return 0; }
	open_terminal "$1" "$(substitute "${*:2}")" || true
}

open_terminal() { # NODE [CMD]
	local n=$1 run=(bash)
	[[ -z ${2:-} ]] || run=(bash -c "$2")
	[[ -x $bin/mnexec ]] || { echo "*** Error: $bin/mnexec not found (build it with cargo build --release)"; return 1; }
	read_pids
	local command=("$bin/mnexec" -a "${node_pid[$n]}" env MN_NODE="$n" "${run[@]}")
	if [[ -n ${TMUX:-} ]] && have tmux; then
		tmux new-window -n "$n" "${command[*]@Q}"
	elif [[ -n ${DISPLAY:-} ]]; then
		have xterm || { echo "*** Error: xterm not found (Debian package: xterm)"; return 1; }
		xterm -title "Node: $n" -e "${command[@]}" </dev/null >/dev/null 2>&1 &
		disown
	else
		echo "*** Error: no terminal to open for $n: run mn inside tmux, or with a DISPLAY (or use: $n CMD)"
		return 1
	fi
}

# This CLI is a shell, not Python; the common Mininet forms are answered.
cli_py() { # EXPR
	local e=$1
	e=${e// /}
	if [[ $e =~ ^([A-Za-z0-9_.-]+)\.(IP|MAC|intfNames|name)\(\)$ ]] && is_node "${BASH_REMATCH[1]}"; then
		py_node "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}"
	elif [[ $e =~ ^([A-Za-z0-9_.-]+)\.(IP|MAC|intfNames|name)\(\)$ ]]; then
		echo "*** Error: node '${BASH_REMATCH[1]}' not in network"
	elif [[ $e == net.hosts || $e == net.switches ]]; then
		local list=("${switches[@]}")
		[[ $e == net.switches ]] || list=("${hosts[@]}" "${nats[@]}")
		read_links
		read_pids
		local n out=''
		for n in "${list[@]}"; do out+="$(node_repr "$n"), "; done
		echo "[${out%, }]"
	elif [[ $1 =~ ^\ *([A-Za-z0-9_.-]+)\.cmd\(\ *[\'\"](.*)[\'\"]\ *\)\ *$ ]] && is_node "${BASH_REMATCH[1]}"; then
		echo "*** py: this CLI is a shell, not Python; use: ${BASH_REMATCH[1]} ${BASH_REMATCH[2]}"
	else
		echo "*** py: this CLI is a shell, not Python; py knows NODE.IP(), NODE.MAC(), NODE.intfNames(), net.hosts, net.switches"
		echo "*** for the rest run shell commands: NODE CMD (h1 ip -4 addr), sh CMD"
	fi
}

py_node() { # NODE IP|MAC|intfNames|name
	local n=$1 i
	case $2 in
	IP) # the first interface's, as Mininet's defaultIntf
		if [[ -n ${first_if[$n]:-} ]]; then if_ip "$n" "${first_if[$n]#*:}"; else echo None; fi ;;
	MAC)
		i=${first_if[$n]:-} i=${i#*:}
		[[ -n $i ]] || { echo None; return 0; }
		mnrun -n "$n" "cat /sys/class/net/$i/address" || true ;;
	intfNames)
		read_links
		local out=''
		for i in ${node_ifs[$n]:-}; do out+="'$i', "; done
		echo "[${out%, }]" ;;
	name) echo "$n" ;;
	esac
}

cli_px() { # STATEMENT
	echo "*** px: this CLI is a shell, not Python: run shell commands in nodes (NODE CMD) or here (sh CMD)"
}

# --- completion at the prompt ------------------------------------------------------

# The commands are the first words of the help's lines.
cli_commands() {
	cli_help | sed -n 's/^  \([a-z?][^ ]*\( | [a-z][^ ]*\)*\) .*/\1/p' | tr -d '|' | tr -s ' ' '\n' | sed '/^$/d'
}

# Bound to Tab: completes the word before the cursor with a command or a
# node name (first word), a command (after help), a node name or a file
# (later words). Several
# candidates: their common prefix, and the list printed above the prompt.
cli_complete() {
	local IFS=$' \t\n'
	local before=${READLINE_LINE:0:READLINE_POINT} after=${READLINE_LINE:READLINE_POINT}
	local cur=${before##*[ ]} candidates=() matches=() w
	if [[ $before == "$cur" ]]; then
		mapfile -t candidates < <(cli_commands; all_nodes)
	elif [[ $before =~ ^\ *help\ +[^\ ]*$ ]]; then
		mapfile -t candidates < <(cli_commands)
	else
		mapfile -t candidates < <(all_nodes; compgen -f -- "$cur")
	fi
	for w in "${candidates[@]}"; do [[ $w == "$cur"* ]] && matches+=("$w"); done
	mapfile -t matches < <(printf '%s\n' "${matches[@]}" | sed '/^$/d' | sort -u)
	((${#matches[@]})) || return 0
	local common=${matches[0]} m
	for m in "${matches[@]}"; do
		while [[ $m != "$common"* ]]; do common=${common%?}; done
	done
	if ((${#matches[@]} == 1)); then
		common+=' '
		[[ -d ${matches[0]} ]] && common=${matches[0]}/
	else
		# Readline has put the cursor at the line's start: the line typed
		# stays above the list, as bash's own completion shows it.
		printf 'mininet> %s\n%s\n' "$READLINE_LINE" "${matches[*]}"
	fi
	READLINE_LINE=${before%"$cur"}$common$after
	READLINE_POINT=$((${#before} - ${#cur} + ${#common}))
}

cli_bind_completion() {
	[[ -t 0 ]] || return 0
	bind -x '"\t": cli_complete' 2>/dev/null || true
}
