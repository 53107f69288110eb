# shellcheck shell=bash
# Sourced by scripts/mn: the spanning tree of topologies with loops (torus,
# fattree, --switch lxbr,stp=1). The switches' bridges run the kernel's
# STP (mnnode add --stp); mn shortens its timers and waits until every
# port is forwarding or blocking, so that the test or the CLI never meets
# a network still learning its tree.
# The parts share mn's globals; `shellcheck -x scripts/mn` checks them together.
# shellcheck disable=SC2034,SC2154

stp=0

# The bridge waits forward_delay in listening and again in learning: 2 s
# each (the kernel's least) instead of 15; hellos every second.
stp_prepare() {
	((stp && ${#switches[@]})) || return 0
	local s pids=() rc=0
	for s in "${switches[@]}"; do
		"$bin/mnrun" -n "$s" "ip link set $s type bridge forward_delay 200 hello_time 100" &
		pids+=($!)
	done
	for s in "${pids[@]}"; do wait "$s" || rc=1; done
	((rc == 0)) || die "--stp: could not set the spanning tree's timers"
}

# Every port of every switch, as "SWITCH PORT STATE" lines (0 disabled,
# 1 listening, 2 learning, 3 forwarding, 4 blocking).
stp_states() {
	local s
	for s in "${switches[@]}"; do
		# shellcheck disable=SC2016
		"$bin/mnrun" -n "$s" 'for p in /sys/class/net/'"$s"'/brif/*; do echo "'"$s"' ${p##*/} $(<"$p/state")"; done' >"$tmp/stp-$s" &
	done
	wait
	for s in "${switches[@]}"; do cat "$tmp/stp-$s"; done
}

# Settled: no port listening or learning, and the same states three looks
# in a row, a second apart (a late BPDU may still block a port). Bounded.
stp_settle() {
	((stp && ${#switches[@]})) || return 0
	say "Waiting for the spanning tree to settle on ${#switches[@]} switches"
	local now last='' same=0 tries
	for ((tries = 0; tries < 120; tries++)); do
		now=$(stp_states)
		if [[ $now == "$last" && $'\n'$now$'\n' != *\ [12]$'\n'* ]]; then
			((++same < 2)) || { info "$(grep -c ' 4$' <<<"$now" || true) ports blocked"; return 0; }
		else
			same=0
		fi
		last=$now
		sleep 1
	done
	die "the spanning tree did not settle in 120 seconds"
}
