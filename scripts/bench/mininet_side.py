"""The Mininet side of scripts/bench/run: the same workloads through
Mininet's Python API (Linux bridges, no controller). Run with the Python
that has Mininet (Debian: /usr/bin/python3); prints one JSON object.

    mininet_side.py topo linear 100
    mininet_side.py topo tree 3 10 [--memory]
    mininet_side.py cmd 300
"""
import json
import os
import statistics
import sys
import time

from mininet.log import setLogLevel
from mininet.net import Mininet
from mininet.nodelib import LinuxBridge
from mininet.topo import LinearTopo, SingleSwitchTopo
from mininet.topolib import TreeTopo
from procmem import memory_kb


def build(topo):
    return Mininet(topo=topo, switch=LinuxBridge, controller=None, autoSetMacs=False)


def topo_run(kind, args, memory):
    topo = LinearTopo(int(args[0])) if kind == "linear" else TreeTopo(int(args[0]), int(args[1]))
    t0 = time.perf_counter()
    net = build(topo)
    net.start()
    up = time.perf_counter() - t0
    first, last = net.hosts[0], net.hosts[-1]
    while "1 received" not in first.cmd(f"ping -c1 -W1 {last.IP()}"):
        pass
    ready = time.perf_counter() - t0
    result = {"up": up, "ready": ready}
    if memory:
        for field in ("rss", "pss"):
            total = sum(memory_kb(n.pid, field) for n in net.hosts + net.switches)
            result[f"{field}_per_host_kb"] = total / len(net.hosts)
            # Mininet's network lives only as long as this Python process.
            result[f"{field}_with_python_per_host_kb"] = (total + memory_kb(os.getpid(), field)) / len(net.hosts)
    t1 = time.perf_counter()
    net.stop()
    result["down"] = time.perf_counter() - t1
    return result


def cmd_run(count):
    net = build(SingleSwitchTopo(2))
    net.start()
    h1 = net.hosts[0]
    times = []
    for _ in range(count):
        t0 = time.perf_counter()
        h1.cmd("/bin/true")
        times.append(time.perf_counter() - t0)
    net.stop()
    times.sort()
    return {"median": statistics.median(times), "p99": times[int(len(times) * 0.99) - 1]}


def main():
    setLogLevel("error")
    what = sys.argv[1]
    if what == "topo":
        out = topo_run(sys.argv[2], sys.argv[3:5], "--memory" in sys.argv)
    elif what == "cmd":
        out = cmd_run(int(sys.argv[2]))
    else:
        sys.exit(f"mininet_side.py: unknown workload {what}")
    print(json.dumps(out))
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
