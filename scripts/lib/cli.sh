# shellcheck shell=bash
# Sourced by scripts/mn: the CLI (mininet> prompt).
# The parts share mn's globals; `shellcheck -x scripts/mn` checks them together.
# shellcheck disable=SC2154

cli_help() {
	cat <<'EOF'
Documented commands:
  help                      this list
  nodes                     list the nodes
  net                       list the links of each node
  links                     list the links and their state
  dump                      nodes with their addresses and pids
  pingall | pingallfull     ping between every pair of hosts
  pingpair                  ping between the first two hosts
  iperf [A B]               TCP bandwidth between two hosts
  link A B up|down          bring the link between A and B up or down
  dpctl CMD [ARGS]          ovs-ofctl CMD SWITCH ARGS on every OVS switch
  switch NAME start|stop    start or stop an OVS switch
  sh CMD                    run CMD in the root shell
  source FILE               read commands from FILE
  noecho NODE CMD           run an interactive CMD (same as NODE CMD)
  NODE CMD                  run CMD in NODE; other node names become IPs
  exit | quit | Ctrl-D      leave (and tear down)
EOF
}

all_nodes() { printf '%s\n' "${hosts[@]}" "${switches[@]}" "${routers[@]}" | sed '/^$/d'; }

cli_net() {
	local n
	mnlink list | tail -n +2 >"$tmp/links"
	while read -r n; do
		printf '%s' "$n"
		while read -r a b _; do
			if [[ ${a%%[-:]*} == "$n" ]]; then printf ' %s:%s' "${a#*:}" "${b#*:}"; fi
			if [[ ${b%%[-:]*} == "$n" ]]; then printf ' %s:%s' "${b#*:}" "${a#*:}"; fi
		done <"$tmp/links"
		echo
	done < <(all_nodes)
}

cli_links() {
	mnlink list | tail -n +2 | while read -r a b state _; do
		local s=OK
		[[ $state == up ]] || s=DOWN
		echo "$a<->$b ($s $s)"
	done
}

cli_dump() {
	local n k pid
	while read -r n; do
		k=${kind[$n]^}
		[[ $k != Switch ]] || k=$(switch_label "$n")
		pid=$(mnnode pid "$n" 2>/dev/null || echo dead)
		printf '<%s %s: %s:%s pid=%s>\n' "$k" "$n" "${first_if[$n]:-lo}" "${ip[$n]:-None}" "$pid"
	done < <(all_nodes)
}

cli_link() { # A B up|down
	if (($# != 3)) || [[ $3 != up && $3 != down ]]; then
		echo "usage: link A B up|down"
		return 0
	fi
	local a b end=
	while read -r a b _; do
		local na=${a%%[-:]*} nb=${b%%[-:]*}
		if [[ ($na == "$1" && $nb == "$2") || ($na == "$2" && $nb == "$1") ]]; then end=$a; break; fi
	done < <(mnlink list | tail -n +2)
	[[ -n $end ]] || { echo "*** Error: no link between $1 and $2"; return 0; }
	mnlink "$3" "$end"
}

# Other node names in a node command become their IPs (h1 ping -c1 h2).
substitute() {
	local word out=()
	for word in "$@"; do
		if [[ -n ${kind[$word]:-} && -n ${ip[$word]:-} ]]; then out+=("${ip[$word]%/*}"); else out+=("$word"); fi
	done
	printf '%s ' "${out[@]}"
}

cli_line() { # LINE
	local line=$1 first rest
	read -r first rest <<<"$line" || true
	[[ -n $first && $first != \#* ]] || return 0
	local words
	read -r -a words <<<"$rest"
	case $first in
	help | '?') cli_help ;;
	nodes) echo "available nodes are:"; all_nodes | tr '\n' ' '; echo ;;
	net) cli_net ;;
	links) cli_links ;;
	dump) cli_dump ;;
	pingall) pingall || true ;;
	pingallfull) pingall full || true ;;
	pingpair) pingpair || true ;;
	iperf) iperf "${words[@]}" || true ;;
	link) cli_link "${words[@]}" ;;
	dpctl) cli_dpctl "${words[@]}" ;;
	switch) cli_switch "${words[@]}" ;;
	sh) bash -c "$rest" || true ;;
	source)
		[[ -r $rest ]] || { echo "*** Error: cannot read $rest"; return 0; }
		local l
		while IFS= read -r l; do cli_line "$l" || return 1; done <"$rest"
		;;
	exit | quit) return 1 ;;
	noecho)
		read -r first rest <<<"$rest"
		cli_node "$first" "$rest" ;;
	*)
		if [[ -n ${kind[$first]:-} ]]; then
			cli_node "$first" "$rest"
		else
			echo "*** Unknown command: $line"
		fi
		;;
	esac
	return 0
}

cli_node() { # NODE REST
	[[ -n $1 && -n ${kind[$1]:-} ]] || { echo "*** Unknown node: $1"; return 0; }
	local args
	read -r -a args <<<"$2"
	((${#args[@]})) || { echo "usage: $1 CMD"; return 0; }
	# A terminal is the command's to use; CLI input from a file or a pipe
	# is the CLI's, never eaten by a node command.
	if [[ -t 0 ]]; then
		mnrun "$1" "$(substitute "${args[@]}")" || true
	else
		mnrun -n "$1" "$(substitute "${args[@]}")" || true
	fi
}

cli() {
	say "Starting CLI:"
	local line history=${MN_HISTORY:-$HOME/.mn_history}
	set +e
	HISTFILE=$history
	history -r "$history" 2>/dev/null
	set -o history
	# Ctrl-C interrupts the command running (mnrun forwards it to the
	# node) and brings back the prompt; the CLI itself stays.
	trap 'echo' INT
	while true; do
		IFS= read -r -e -p 'mininet> ' line
		case $? in
		0) ;;
		1) echo; break ;; # end of file
		*) continue ;;    # interrupted at the prompt
		esac
		[[ -z $line ]] && continue
		history -s -- "$line"
		cli_line "$line" || break
	done
	history -a "$history" 2>/dev/null
	trap finish INT
	set -e
}
