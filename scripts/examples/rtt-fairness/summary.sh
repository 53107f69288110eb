#!/usr/bin/env bash
# Each flow's measured throughput beside Mathis et al.'s model of a
# Reno-style TCP in steady state:
#
#   throughput = (MSS / RTT) * sqrt(3/2) / sqrt(p)
#
# with the flow's own mean RTT (propagation plus queueing, from TCP_INFO)
# and loss rate p (retransmitted segments / segments sent), both from
# iperf3's report; the measured rate is the receiver's. Usage: summary.sh OUT
set -euo pipefail
out=$1
for f in "$out"/flow-rtt*.json; do
	jq -r --arg f "$(basename "$f")" '
		(.start.tcp_mss_default // 1448) as $mss
		| .end.sum_sent as $s
		| .end.sum_received.bits_per_second as $rate
		| (.end.streams[0].sender.mean_rtt / 1e6) as $rtt
		| ($s.bytes / $mss) as $segments
		| (if $s.retransmits > 0 then $s.retransmits / $segments else null end) as $p
		| "\($f): \($rate / 1e6 * 100 | round / 100) Mbit/s measured, "
		  + "mean RTT \($rtt * 1e4 | round / 10) ms, loss \(if $p then ($p * 1e4 | round / 100 | tostring) + " %" else "none" end), "
		  + "Mathis \(if $p then ($mss * 8 / $rtt * 1.2247 / ($p | sqrt) / 1e6 * 100 | round / 100 | tostring) + " Mbit/s" else "n/a" end)"
	' "$f"
done
