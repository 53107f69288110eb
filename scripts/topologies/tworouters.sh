# Two LANs joined by two routers with static routes:
#
#   h1 --- s1 --- r1 ===== r2 --- s2 --- h2
#  10.1.0.10    10.1.0.1  10.12.0.0/30  10.2.0.1    10.2.0.10
#
# Try: scripts/mn --topo scripts/topologies/tworouters.sh --test pingall
host h1 ip=10.1.0.10/24
host h2 ip=10.2.0.10/24
switch s1
switch s2
router r1
router r2
link h1 s1
link r1 s1 ip1=10.1.0.1/24
link r1 r2 ip1=10.12.0.1/30 ip2=10.12.0.2/30
link r2 s2 ip1=10.2.0.1/24
link h2 s2
cmd h1 ip route add default via 10.1.0.1
cmd h2 ip route add default via 10.2.0.1
cmd r1 ip route add 10.2.0.0/24 via 10.12.0.2
cmd r2 ip route add 10.1.0.0/24 via 10.12.0.1
