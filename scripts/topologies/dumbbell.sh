# A dumbbell: senders h1, h2 on switch s1, receivers h3, h4 on s2, and one
# bottleneck link between the switches. BW (Mbit/s) and QUEUE (packets)
# come from the environment.
#
#   h1 --\                  /-- h3
#         s1 == bottleneck == s2
#   h2 --/                  \-- h4
#
# Try: BW=5 QUEUE=50 scripts/mn --topo scripts/topologies/dumbbell.sh --test iperf
for h in h1 h2 h3 h4; do host "$h"; done
switch s1
switch s2
link h1 s1
link h2 s1
link h3 s2
link h4 s2
link s1 s2 "bw=${BW:-10}" "queue=${QUEUE:-100}"
