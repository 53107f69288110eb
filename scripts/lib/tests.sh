# shellcheck shell=bash
# Sourced by scripts/mn: the tests (--test, and the CLI commands of the
# same names).
# The parts share mn's globals; `shellcheck -x scripts/mn` checks them together.
# shellcheck disable=SC2154

# Every host, the NAT node too (as Mininet's addNAT makes it a host).
pingall() { # [full]
	ping_among "${1:-}" "${hosts[@]}" "${nats[@]}"
}

# A ping waits up to ping_wait seconds for its reply, as one ping -c1 with
# no deadline (Mininet's) would, but shorter. With 1 s, one lost or late
# first ARP request (a loaded machine, a port not forwarding yet) turned a
# delivered ping into a drop: the kernel asks again a second later. 4 s
# outlasts its resolution (3 probes, 1 s apart): a ping to a host that
# does not answer ends with the kernel's "unreachable", not while the
# resolution is under way; a ping sent next (after `switch s1 start`, say)
# would join that failing resolution and be dropped with it (with 3 s it
# was).
# A host's pings run at most ping_parallel at once, ping_budget at once in
# all: lost pings cost ping_wait a round, not each.
ping_wait=4 ping_budget=64

# Pings from every host to every other, all hosts at once; prints Mininet's
# "h1 -> h2 h3" lines and the summary; fails when any ping is lost. A ping
# that could not run (not installed, not permitted) is an error, reported
# as such, never counted as dropped.
ping_among() { # full|'' HOST...
	local full=$1 h t sent=0 got=0 errors=0 out dir n verdict rest last=''
	shift
	local among=("$@")
	say "Ping: testing ping reachability"
	dir=$tmp/ping
	mkdir -p "$dir"
	local targets=() calls=() stop='' old_trap
	for t in "${among[@]}"; do targets+=("$t:${ip[$t]%/*}"); done
	local ping_parallel=$((ping_budget / ${#among[@]}))
	((ping_parallel >= 1)) || ping_parallel=1
	# Each ping's line starts with its place, for the order of the list:
	# "3 ok h4 RTTS", "3 lost h4", "3 error h4 WHY" (WHY without the
	# subshell's "bash: line 7: "). ping exits 1 when no reply came, 2 on
	# errors; "Network is unreachable" (a link down) is an answer too.
	# shellcheck disable=SC2016
	local script='(i=0 j=0; for t in '"${targets[*]}"'; do n=${t%%:*}; [ "$n" = "$MN_NODE" ] && continue
		i=$((i + 1))
		{ if r=$(ping -c1 -W'"$ping_wait"' "${t#*:}" 2>&1); then echo "$i ok $n ${r##*= }"; else c=$?
		case $c:$r in 1:* | 2:*nreachable*) echo "$i lost $n" ;; *) r=${r%%$'\''\n'\''*} r=${r#*: line [0-9]*: }; echo "$i error $n ${r:-ping exited with status $c}" ;; esac; fi; } &
		j=$((j + 1)); [ "$j" -lt '"$ping_parallel"' ] || { wait -n; j=$((j - 1)); }
	done; wait)'
	# Background jobs ignore SIGINT, and mnrun keeps it ignored: Ctrl-C is
	# passed on as SIGTERM, then the calls are waited for as they stop.
	old_trap=$(trap -p INT)
	trap 'stop=1; kill -TERM "${calls[@]}" 2>/dev/null' INT
	for h in "${among[@]}"; do
		[[ $stop ]] && break
		"$bin/mnrun" -n "$h" "$script" >"$dir/$h" 2>"$dir/$h.err" &
		calls+=($!)
	done
	[[ $stop ]] && kill -TERM "${calls[@]}" 2>/dev/null
	wait || wait
	eval "${old_trap:-trap - INT}"
	# Ctrl-C stopped pings in flight, and ping then says no reply came: no
	# list and no count of drops, as Mininet's pingall prints none then.
	if [[ $stop ]]; then
		rm -rf "$dir"
		output "*** Interrupted"
		return 130
	fi
	local why=()
	for h in "${among[@]}"; do
		out=() n=0
		while read -r _ verdict t rest; do
			n=$((n + 1))
			case $verdict in
			ok)
				sent=$((sent + 1)) got=$((got + 1))
				if [[ -n $full ]]; then output "$h -> $t: 1/1, rtt min/avg/max/mdev $rest"; else out+=("$t"); fi ;;
			lost)
				sent=$((sent + 1))
				if [[ -n $full ]]; then output "$h -> $t: 0/1"; else out+=(X); fi ;;
			*)
				errors=$((errors + 1))
				[[ $last == "$h" ]] || why+=("$h: ping could not run: $rest")
				last=$h
				if [[ -n $full ]]; then output "$h -> $t: ping could not run"; else out+=('?'); fi ;;
			esac
		done < <(sort -n "$dir/$h")
		# A call that failed as a whole (its node gone, say) answers for
		# none of its pings.
		if ((n < ${#among[@]} - 1)); then
			errors=$((errors + ${#among[@]} - 1 - n))
			read -r rest <"$dir/$h.err" || rest='no answer from its shell'
			why+=("$h: $rest")
		fi
		[[ -n $full ]] || output "$h -> ${out[*]}"
	done
	rm -rf "$dir"
	local dropped=0
	((sent == 0)) || dropped=$(((sent - got) * 100 / sent))
	for t in "${why[@]}"; do output "*** Error: $t"; done
	if ((errors)); then
		output "*** Results: ${dropped}% dropped ($got/$sent received); $errors pings could not run"
		return 1
	fi
	output "*** Results: ${dropped}% dropped ($got/$sent received)"
	((got == sent))
}

# shellcheck disable=SC2120 # the CLI passes full
pingpair() { # [full]
	((${#hosts[@]} >= 2)) || { output "pingpair needs two hosts"; return 1; }
	ping_among "${1:-}" "${hosts[@]:0:2}"
}

# TCP bandwidth between two hosts with iperf3, reported as Mininet does.
# shellcheck disable=SC2120 # the CLI passes A B
iperf() { # [A B]
	(($# == 0 || $# == 2)) || { output "usage: iperf [A B]"; return 1; }
	iperf_run iperf '' "$@"
}

# One iperf3 run from A to B (the first host and the last by default),
# reported as Mininet does: ['SERVER', 'CLIENT'] for TCP, ['BW', 'SERVER',
# 'CLIENT'] for UDP at rate BW. Says why not: fewer than two hosts, a node
# not in the network, no iperf3.
iperf_run() { # COMMAND BW|'' [A B]
	local name=$1 bw=$2 a b n json proto=TCP udp=''
	shift 2
	((${#hosts[@]} >= 2)) || { output "$name needs two hosts"; return 1; }
	a=${1:-${hosts[0]}} b=${2:-${hosts[-1]}}
	for n in "$a" "$b"; do
		is_node "$n" || { output "*** Error: node '$n' not in network"; return 1; }
	done
	have iperf3 || { output "*** Error: iperf3 not found (Debian package: iperf3)"; return 1; }
	[[ -z $bw ]] || proto=UDP udp="-u -b $bw "
	say "Iperf: testing $proto bandwidth between $a and $b"
	iperf_server "$b" "${proto,,}" || return 1
	json=$(mnrun -n "$a" "iperf3 -c ${ip[$b]%/*} $udp-t 3 -J") || { output "*** Error: $name: the client failed"; return 1; }
	output "*** Results: [${bw:+"'$bw', "}'$(rate "$json" sum_received)', '$(rate "$json" sum_sent)']"
}

# iperf3's server in NODE for one client, listening before it returns.
iperf_server() { # NODE tcp|udp
	mnrun -n "$1" 'iperf3 -s -1 >/dev/null 2>&1 &' >/dev/null || return 1
	# shellcheck disable=SC2016
	mnrun -n "$1" 'for i in $(seq 200); do ss -l'"${2:0:1}"'n | grep -q ":5201 " && break; sleep 0.01; done'
}

rate() { # JSON KEY: "9.57 Mbits/sec"
	local bps
	bps=$(grep -A12 "\"$2\"" <<<"$1" | grep -m1 '"bits_per_second"' | tr -dc '0-9.')
	awk -v b="${bps:-0}" 'BEGIN { printf "%.2f Mbits/sec", b / 1e6 }'
}

run_test() { # NAME
	case $1 in
	pingall) pingall ;;
	pingallfull) pingall full ;;
	pingpair) pingpair ;;
	iperf) iperf ;; # the first host and the last
	build | none) ;;
	esac
}
