#!/usr/bin/env bash
# Median RTT per run, once the flow has filled the queue (after 2 s).
for f in "$@"; do
	median=$(awk -F, '$1 >= 2 { print $2 }' "$f" | sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print "none" }')
	printf '%s: median RTT %s ms\n' "$f" "$median"
done
