#!/usr/bin/env bash
# Runs one topology and writes what it defines to OUT, one record a line:
# the topology file's line number (0 for a built-in topology), the verb and
# its words, separated by the unit separator (0x1f).
#
# mn runs this as a bash process of its own, never sources it: whatever a
# topology file sets or defines (bin=, hosts=, a function named build)
# stays here and cannot break mn. mn reads and checks every record; this
# side only records the calls, keeps the size bound (a runaway loop stops at
# the limit, before anything is made) and names unknown commands.
#
# Usage: topo-run.sh OUT MAX_HOSTS MAX_NODES MAX_LINKS builtin NAME ARGS...
#        topo-run.sh OUT MAX_HOSTS MAX_NODES MAX_LINKS file PATH

exec {__mn_out}>"$1" || exit 1
__mn_max_hosts=$2 __mn_max_nodes=$3 __mn_max_links=$4 __mn_mode=$5
shift 5
__mn_hosts=0 __mn_switches=0 __mn_routers=0 __mn_links=0 __mn_file='' __mn_line=0

# The line of the topology file a call is on: its innermost frame there.
__mn_at() {
	local i
	__mn_line=0
	[[ -n $__mn_file ]] || return 0
	for ((i = 1; i < ${#BASH_SOURCE[@]}; i++)); do
		if [[ ${BASH_SOURCE[i]} == "$__mn_file" ]]; then
			__mn_line=${BASH_LINENO[i - 1]}
			return 0
		fi
	done
}

__mn_record() { # VERB WORDS...
	local IFS=$'\x1f'
	builtin printf '%s\x1f%s\n' "$__mn_line" "$*" >&"$__mn_out" || exit 1
}

# An error record mn prints with the file and line; this process stops.
__mn_fail() { # MESSAGE
	__mn_at
	__mn_record error "$1"
	exit 1
}

__mn_emit() { # VERB WORDS...
	local word
	for word in "$@"; do
		[[ $word != *[$'\n\x1f']* ]] || __mn_fail "$1: a word holds a newline (one call per line)"
	done
	__mn_at
	__mn_record "$@"
}

__mn_node() { # KIND NAME...
	case $1 in
	host) ((++__mn_hosts <= __mn_max_hosts)) || __mn_fail "host ${2:-}: the topology would make more than $__mn_max_hosts hosts; the limit is $__mn_max_hosts" ;;
	switch) ((++__mn_switches)) ;;
	router) ((++__mn_routers)) ;;
	esac
	((__mn_hosts + __mn_switches + __mn_routers <= __mn_max_nodes)) ||
		__mn_fail "$1 ${2:-}: the topology would make more than $__mn_max_nodes nodes; the limit is $__mn_max_nodes"
	__mn_emit "$@"
}

# The topology language (see mn(1), TOPOLOGY FILES); mn checks the words.
host() { __mn_node host "$@"; }
switch() { __mn_node switch "$@"; }
router() { __mn_node router "$@"; }
link() {
	((++__mn_links <= __mn_max_links)) ||
		__mn_fail "link: the topology would make more than $__mn_max_links links; the limit is $__mn_max_links"
	__mn_emit link "$@"
}
cmd() { __mn_emit cmd "$@"; }

# --- the built-in topologies (Mininet's numbering and port order) -------------

# mn has checked their numbers and size: their calls are recorded without
# checks, and written at once.
__mn_fast() {
	__mn_records=()
	host() { __mn_records+=("0"$'\x1f'"host"$'\x1f'"$1"); ((++__mn_hosts)); }
	switch() { __mn_records+=("0"$'\x1f'"switch"$'\x1f'"$1"); ((++__mn_switches)); }
	link() { __mn_records+=("0"$'\x1f'"link"$'\x1f'"$1"$'\x1f'"$2"); }
}

__mn_topo_minimal() {
	host h1; host h2; switch s1
	link h1 s1; link h2 s1
}

__mn_topo_single() { # N
	local i
	switch s1
	for ((i = 1; i <= $1; i++)); do host "h$i"; link "h$i" s1; done
}

__mn_topo_linear() { # K N
	local i j h
	for ((i = 1; i <= $1; i++)); do
		switch "s$i"
		for ((j = 1; j <= $2; j++)); do
			if (($2 == 1)); then h=h$i; else h=h${j}s$i; fi
			host "$h"
			link "$h" "s$i"
		done
		((i == 1)) || link "s$i" "s$((i - 1))"
	done
}

# Depth first, as Mininet numbers it: a switch, then each child's subtree
# followed by the link to it. A loop with its own stack: bash's recursion
# would overflow at a few thousand levels (tree,5000,1).
__mn_topo_tree() { # DEPTH FANOUT
	local fanout=$2 sp=0 child='' top
	local -a name=() left=() level=()
	__mn_tree_make "$1"
	while ((sp)); do
		top=$((sp - 1))
		if [[ -n $child ]]; then
			__mn_records+=("0"$'\x1f'"link"$'\x1f'"${name[top]}"$'\x1f'"$child")
			child=''
		fi
		if ((left[top])); then
			left[top]=$((left[top] - 1))
			__mn_tree_make $((level[top] - 1))
		else
			child=${name[top]}
			sp=$top
		fi
	done
}

__mn_tree_make() { # LEVEL: a switch (pushed) or a host (the child to link)
	if (($1 > 0)); then
		name[sp]=s$((++__mn_switches)) left[sp]=$fanout level[sp]=$1
		__mn_records+=("0"$'\x1f'"switch"$'\x1f'"${name[sp]}")
		sp=$((sp + 1))
	else
		child=h$((++__mn_hosts))
		__mn_records+=("0"$'\x1f'"host"$'\x1f'"$child")
	fi
}

# Mininet's SingleSwitchReversedTopo: host i on the switch's port N-i+1.
__mn_topo_reversed() { # N
	local i
	switch s1
	for ((i = 1; i <= $1; i++)); do
		host "h$i"
		__mn_records+=("0"$'\x1f'"link"$'\x1f'"h$i"$'\x1f'"s1"$'\x1f'"intf2=s1-eth$(($1 - i + 1))")
	done
}

# Mininet's TorusTopo: sIxJ with N hosts each (hIxJ, or hIxJxK), then each
# switch linked to its right and lower neighbours, wrapping around.
__mn_topo_torus() { # X Y N
	local i j k loc
	for ((i = 1; i <= $1; i++)); do
		for ((j = 1; j <= $2; j++)); do
			loc=${i}x$j
			switch "s$loc"
			for ((k = 1; k <= $3; k++)); do
				if (($3 == 1)); then host "h$loc"; link "h$loc" "s$loc"; else host "h${loc}x$k"; link "h${loc}x$k" "s$loc"; fi
			done
		done
	done
	for ((i = 1; i <= $1; i++)); do
		for ((j = 1; j <= $2; j++)); do
			link "s${i}x$j" "s${i}x$((j % $2 + 1))"
			link "s${i}x$j" "s$((i % $1 + 1))x$j"
		done
	done
}

# A k-ary fat-tree (Al-Fares et al.): k pods of k/2 edge switches (eP_E,
# k/2 hosts each) and k/2 aggregation switches (aP_A), each edge switch
# linked to every aggregation switch of its pod; aggregation switch A of
# every pod linked to core switches cA_1..cA_k/2. Ports: edges count hosts
# first, aggregation switches edges first, cores pods in order.
__mn_topo_fattree() { # K
	local half=$(($1 / 2)) p e a c h=0
	for ((a = 1; a <= half; a++)); do
		for ((c = 1; c <= half; c++)); do switch "c${a}_$c"; done
	done
	for ((p = 1; p <= $1; p++)); do
		for ((a = 1; a <= half; a++)); do switch "a${p}_$a"; done
		for ((e = 1; e <= half; e++)); do
			switch "e${p}_$e"
			for ((c = 1; c <= half; c++)); do host "h$((++h))"; link "h$h" "e${p}_$e"; done
		done
		for ((e = 1; e <= half; e++)); do
			for ((a = 1; a <= half; a++)); do link "e${p}_$e" "a${p}_$a"; done
		done
		for ((a = 1; a <= half; a++)); do
			for ((c = 1; c <= half; c++)); do link "a${p}_$a" "c${a}_$c"; done
		done
	done
}

case $__mn_mode in
builtin)
	__mn_fast
	"__mn_topo_$1" "${@:2}"
	((${#__mn_records[@]} == 0)) || printf '%s\n' "${__mn_records[@]}" >&"$__mn_out"
	;;
file)
	__mn_file=$1
	# An unknown command names itself and its line, and stops the topology
	# (the handler runs in a subshell: the signal ends this process).
	command_not_found_handle() {
		__mn_at
		__mn_record error "$1: not a command (topology files use host, switch, router, link and cmd)"
		kill -USR2 "$$"
		return 127
	}
	trap 'exit 1' USR2
	# shellcheck source=/dev/null
	source "$__mn_file" </dev/null
	# Only an explicit `exit N` fails a topology, not its last command's status.
	:
	;;
*) exit 2 ;;
esac
