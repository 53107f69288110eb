#!/usr/bin/env bash
# One run of the RTT-fairness experiment: two senders whose access links
# give them different round-trip times, one receiver behind a shared
# bottleneck, two bulk TCP flows at once.
#
#   h1 --(RTT1)--\
#                 s1 ==(BW Mbit/s, QUEUE packets)== s2 --- h3
#   h2 --(RTT2)--/
#
# Each access link delays both directions by half its RTT (netem on both
# ends). Writes OUT/flow-rttN.json (iperf3's report of each flow) and
# OUT/throughput.csv ("seconds,<rtt1> ms,<rtt2> ms": Mbit/s received in
# each half second). The two RTTs must differ.
#
# Usage: run.sh OUT   (BIN, RTTS, BW, QUEUE, DURATION, TCP from the environment)
set -euo pipefail
out=$1
bin=${BIN:?set BIN to where mnnode, mnlink and mnrun are}
read -r rtt1 rtt2 <<<"${RTTS:-10 80}"
bw=${BW:-10} queue=${QUEUE:-20} duration=${DURATION:-30} cc=${TCP:-reno}
PATH=$bin:$PATH

MN_DIR=$(mktemp -d)/rtt-fairness
export MN_DIR
trap 'mnnode clean; rm -rf "$(dirname "$MN_DIR")"' EXIT

half() { awk -v r="$1" 'BEGIN { printf "%gms", r / 2 }'; }
mnnode add h1 h2 h3
mnnode add --kind switch s1 s2
mnlink -b - <<LINKS
add h1-eth0 s1-eth1 --delay $(half "$rtt1")
add h2-eth0 s1-eth2 --delay $(half "$rtt2")
add s1-eth3 s2-eth1 --bw $bw --queue $queue
add h3-eth0 s2-eth2
addr h1-eth0 10.0.0.1/24
addr h2-eth0 10.0.0.2/24
addr h3-eth0 10.0.0.3/24
LINKS

for port in 5201 5202; do
	mnrun h3 "iperf3 -s -1 -p $port >/dev/null 2>&1 &" >/dev/null
	until mnrun h3 "ss -ltn | grep -q ':$port '"; do :; done
done
# Both flows at once; each report is JSON with half-second intervals
# (the receiver's too), written when the flow ends. Writes of 8 KB: the
# receiver counts whole reads, and 128 KB ones make half seconds coarse.
for flow in "h1 5201 $rtt1" "h2 5202 $rtt2"; do
	read -r host port rtt <<<"$flow"
	rm -f "$out/flow-rtt$rtt.json"
	mnrun "$host" "iperf3 -c 10.0.0.3 -p $port -C $cc -t $duration -i 0.5 -l 8K -J --get-server-output >'$out/flow-rtt$rtt.json.new' 2>&1 &" >/dev/null
done
# Complete once iperf3 has written its summary (jq 1.6 says yes to an
# empty file, so ask for a value).
complete() { [ -n "$(jq -r '.end.sum_sent.bytes // empty' "$1" 2>/dev/null)" ]; }
for rtt in "$rtt1" "$rtt2"; do
	for _ in $(seq $((duration * 2 + 60))); do
		complete "$out/flow-rtt$rtt.json.new" && break
		sleep 0.5
	done
	complete "$out/flow-rtt$rtt.json.new" || { echo "run.sh: the $rtt ms flow did not finish" >&2; exit 1; }
	mv "$out/flow-rtt$rtt.json.new" "$out/flow-rtt$rtt.json"
done

# One column per flow, interval by interval, as received (what the sender
# hands its socket comes in bursts the size of its writes).
for rtt in "$rtt1" "$rtt2"; do
	jq -r '(.server_output_json.intervals // .intervals)[] | .sum | "\(.end),\(.bits_per_second / 1e6)"' "$out/flow-rtt$rtt.json" >"$out/flow-rtt$rtt.csv"
done
{
	echo "seconds,$rtt1 ms,$rtt2 ms"
	cut -d, -f2 "$out/flow-rtt$rtt2.csv" | paste -d, "$out/flow-rtt$rtt1.csv" -
} >"$out/throughput.csv"
rm "$out/flow-rtt$rtt1.csv" "$out/flow-rtt$rtt2.csv"
echo "rtt $rtt1 and $rtt2 ms: $(($(wc -l <"$out/throughput.csv") - 1)) intervals in $out/throughput.csv"
