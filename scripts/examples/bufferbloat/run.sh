#!/usr/bin/env bash
# One run of the bufferbloat experiment: a dumbbell whose bottleneck link
# has a queue of QUEUE packets, a bulk TCP flow across it, and pings
# measuring the round-trip time meanwhile. Writes "seconds,rtt_ms" lines.
#
#   h1 --(RTT)-- s1 ==(BW Mbit/s, QUEUE packets)== s2 --- h2
#
# The h1-s1 link delays each direction by half of RTT ms (the propagation
# delay of the path) where the kernel has netem; without netem the run
# goes on without it and says so. The delay sits before the bottleneck on
# purpose (see README: TCP small queues).
#
# Usage: run.sh QUEUE OUT.csv   (BIN, BW, DURATION, TCP, RTT from the environment)
set -euo pipefail
queue=$1 out=$2
bin=${BIN:?set BIN to where mnnode, mnlink and mnrun are}
bw=${BW:-10} duration=${DURATION:-12} cc=${TCP:-cubic} rtt=${RTT:-20}
PATH=$bin:$PATH

delay=
if [ "$rtt" != 0 ]; then
	if unshare -n tc qdisc add dev lo root netem delay 1ms 2>/dev/null; then
		delay="--delay $(awk -v r="$rtt" 'BEGIN { printf "%gms", r / 2 }')"
	else
		echo "run.sh: this kernel has no netem: no ${rtt} ms propagation delay (see README)" >&2
	fi
fi

MN_DIR=$(mktemp -d)/bufferbloat-q$queue
export MN_DIR
trap 'mnnode clean; rm -rf "$(dirname "$MN_DIR")"' EXIT

mnnode add h1 h2
mnnode add --kind switch s1 s2
mnlink -b - <<LINKS
add h1-eth0 s1-eth1 $delay
add h2-eth0 s2-eth1
add s1-eth2 s2-eth2 --bw $bw --queue $queue
addr h1-eth0 10.0.0.1/24
addr h2-eth0 10.0.0.2/24
LINKS

mnrun h2 'iperf3 -s -1 >/dev/null 2>&1 &' >/dev/null
until mnrun h2 'ss -ltn | grep -q ":5201 "'; do :; done
mnrun h1 "iperf3 -c 10.0.0.2 -C $cc -t $duration >/dev/null 2>&1 &" >/dev/null
# ping -D stamps each reply; keep seconds since the start and the RTT.
mnrun h1 "ping -D -i 0.2 -w $duration 10.0.0.2" |
	awk -F'[][ =]+' '/time=/ { if (!t0) t0 = $2; for (i = 1; i < NF; i++) if ($i == "time") printf "%.2f,%s\n", $2 - t0, $(i + 1) }' >"$out"
echo "queue $queue: $(wc -l <"$out") samples in $out"
