# shellcheck shell=bash
# Sourced by scripts/mn: the CLI (mininet> prompt).
# The parts share mn's globals; `shellcheck -x scripts/mn` checks them together.
# shellcheck disable=SC2154

cli_help() {
	cat <<'EOF'
Documented commands (help CMD: that command's line):
  help [CMD]                this list, or CMD's line
  nodes                     list the nodes
  net                       list the links of each node
  links                     list the links and their state
  intfs                     list each node's interfaces
  ports                     list each switch's ports and their numbers
  dump                      nodes with their addresses and pids
  pingall | pingallfull     ping between every pair of hosts
  pingpair | pingpairfull   ping between the first two hosts
  iperf [A B]               TCP bandwidth between two hosts
  iperfudp BW [A B]         UDP bandwidth at rate BW (such as 10M)
  link A B up|down          bring the link between A and B up or down
  switch S start|stop       start or stop switch S (Linux bridge: its ports)
  wait                      wait for the switches (Linux bridges: at once)
  time CMD                  run the CLI command CMD and say how long it took
  xterm | x NODE...         a shell in NODE (tmux window, xterm); x NODE CMD: CMD
  py | px EXPR              NODE.IP(), NODE.MAC(), NODE.intfNames(), net.hosts
  graph [--format F] [--png FILE]
                            the lab: dot, mermaid, json or topo
  capture ENDPOINT... [-w FILE] [-f FILTER] [-c N]
                            packets into pcapng, until Ctrl-C
  addhost NAME SWITCH       add a host, with the next address
  addswitch NAME            add a switch
  addlink A B [bw=..,delay=..,loss=..]
                            add a link (A, B: nodes or endpoints)
  dellink A B               remove the link between A and B
  delnode NAME              remove a node and its links
  set link A B [bw=..,delay=..]
                            change a link's shaping (both ends)
  save FILE [--force]       write the lab as a topology file
  dpctl CMD [ARGS]          ovs-ofctl CMD SWITCH ARGS on every OVS switch
  sh CMD                    run CMD in the root shell
  source FILE               read commands from FILE
  noecho NODE CMD           run an interactive CMD (same as NODE CMD)
  NODE CMD                  run CMD in NODE; other node names become IPs
  exit | quit | Ctrl-D      leave (and tear down)
Tab completes commands and node names.
EOF
}

# help CMD: the help line of CMD (a line lists its command and aliases).
cli_help_for() { # CMD
	local line=''
	[[ ! $1 =~ ^[a-z][a-z0-9-]*$ ]] || line=$(cli_help | grep -E "^  ([^ ]+ \| )*$1( |\$)" | head -1)
	if [[ -n $line ]]; then echo "${line#  }"; else echo "*** No help on $1"; fi
}

# Hosts (nat0 the last of them, as Mininet's addNAT), switches, routers.
all_nodes() { printf '%s\n' "${hosts[@]}" "${nats[@]}" "${switches[@]}" "${routers[@]}" | sed '/^$/d'; }

cli_net() {
	local n i
	read_links
	while read -r n; do
		printf '%s' "$n"
		for i in ${node_ifs[$n]:-}; do printf ' %s:%s' "$i" "${peer_of[$n:$i]#*:}"; done
		echo
	done < <(all_nodes)
}

cli_links() {
	local an ai bn bi state s
	while IFS=$'\t' read -r an ai bn bi state _; do
		s=OK
		[[ $state == up ]] || s=DOWN
		echo "$ai<->$bi ($s $s)"
	done < <(mnlink list --porcelain)
}

cli_dump() { # Mininet's shape: <Host h1: h1-eth0:10.0.0.1 pid=123>
	local n
	read_links
	read_pids
	while read -r n; do node_repr "$n"; echo; done < <(all_nodes)
}

cli_link() { # A B up|down
	if (($# != 3)) || [[ $3 != up && $3 != down ]]; then
		echo "usage: link A B up|down"
		return 0
	fi
	local an ai bn bi end=
	while IFS=$'\t' read -r an ai bn bi _; do
		if [[ ($an == "$1" && $bn == "$2") || ($an == "$2" && $bn == "$1") ]]; then end=$an:$ai; break; fi
	done < <(mnlink list --porcelain)
	[[ -n $end ]] || { echo "*** Error: no link between $1 and $2"; return 0; }
	mnlink "$3" "$end"
}

# Other node names in a node command become their IPs (h1 ping -c1 h2).
# As Mininet: only words between single spaces that are exactly a node's
# name; quoting and whitespace reach the node's shell untouched.
substitute() { # LINE
	local rest=$1 word out=''
	while true; do
		word=${rest%% *}
		if [[ -n $word && -n ${kind[$word]:-} && -n ${ip[$word]:-} ]]; then out+=${ip[$word]%/*}; else out+=$word; fi
		[[ $rest == *' '* ]] || break
		out+=' ' rest=${rest#* }
	done
	printf '%s' "$out"
}

cli_line() { # LINE
	local line=$1 first rest
	# rest keeps its inner whitespace: it may be a node's command.
	read -r first rest <<<"$line" || true
	[[ -n $first && $first != \#* ]] || return 0
	local words
	read -r -a words <<<"$rest"
	case $first in
	help | '?') if ((${#words[@]})); then cli_help_for "${words[0]}"; else cli_help; fi ;;
	nodes) echo "available nodes are:"; all_nodes | tr '\n' ' '; echo ;;
	net) cli_net ;;
	links) cli_links ;;
	dump) cli_dump ;;
	pingall) pingall || true ;;
	pingallfull) pingall full || true ;;
	pingpair) pingpair || true ;;
	pingpairfull) cli_pingpairfull ;;
	iperf) iperf "${words[@]}" || true ;;
	iperfudp) cli_iperfudp "${words[@]}" ;;
	intfs) cli_intfs ;;
	ports) cli_ports ;;
	link) cli_link "${words[@]}" ;;
	dpctl) cli_dpctl "${words[@]}" ;;
	switch) cli_switch "${words[@]}" ;;
	wait) cli_wait ;;
	time) cli_time "$rest" || return 1 ;;
	x) read -r first rest <<<"$rest"; cli_x "$first" ${rest:+"$rest"} ;;
	xterm) cli_xterm "${words[@]}" ;;
	py) cli_py "$rest" ;;
	px) cli_px "$rest" ;;
	graph | capture | addhost | addswitch | addlink | dellink | delnode | set | save) cli_edit "$first" "${words[@]}" ;;
	sh) bash -c "$rest" || true ;;
	source)
		[[ -f $rest && -r $rest ]] || { echo "*** Error: cannot read $rest"; return 0; }
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
	is_node "$1" || { echo "*** Error: node '$1' not in network"; return 0; }
	[[ -n $2 ]] || { echo "usage: $1 CMD"; return 0; }
	# A terminal is the command's to use; CLI input from a file or a pipe
	# is the CLI's, never eaten by a node command.
	if [[ -t 0 ]]; then
		mnrun "$1" "$(substitute "$2")" || true
	else
		mnrun -n "$1" "$(substitute "$2")" || true
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
	cli_bind_completion
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
