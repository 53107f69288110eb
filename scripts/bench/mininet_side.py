"""The Mininet side of scripts/bench/run: the same workloads through
Mininet's Python API (Linux bridges, no controller). Run with the Python
that has Mininet (Debian: /usr/bin/python3); prints one JSON object.

    mininet_side.py topo linear 100
    mininet_side.py topo tree 3 10 [--memory]
    mininet_side.py cmd 300
    mininet_side.py topo-ovs linear 100   (OVSSwitch, userspace datapath,
                                           OVSController, in a private OVS)
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


def private_ovs():
    """ovsdb-server and ovs-vswitchd of our own in a temporary directory
    (OVS_RUNDIR, which Mininet's ovs-vsctl calls follow): the system's
    service is neither needed nor touched. Returns a function that stops them."""
    import subprocess
    import tempfile
    d = tempfile.mkdtemp(prefix="mnbench-ovs")
    for var in ("OVS_RUNDIR", "OVS_DBDIR", "OVS_LOGDIR"):
        os.environ[var] = d
    db = os.path.join(d, "conf.db")
    subprocess.run(["ovsdb-tool", "create", db], check=True)
    subprocess.run(["ovsdb-server", db, f"--remote=punix:{d}/db.sock", f"--pidfile={d}/ovsdb-server.pid",
                    f"--log-file={d}/ovsdb-server.log", "--detach"], check=True)
    subprocess.run(["ovs-vsctl", "--no-wait", "init"], check=True)
    subprocess.run(["ovs-vswitchd", f"unix:{d}/db.sock", f"--pidfile={d}/ovs-vswitchd.pid",
                    f"--log-file={d}/ovs-vswitchd.log", "--detach"], check=True)

    def stop():
        for daemon in ("ovs-vswitchd", "ovsdb-server"):
            try:
                with open(os.path.join(d, f"{daemon}.pid")) as f:
                    os.kill(int(f.read().strip()), 9)
            except (OSError, ValueError):
                pass
        subprocess.run(["rm", "-rf", d])

    return stop


def topo_ovs_run(kind, args):
    from functools import partial
    from mininet.node import OVSController, OVSSwitch
    stop = private_ovs()
    try:
        topo = LinearTopo(int(args[0])) if kind == "linear" else TreeTopo(int(args[0]), int(args[1]))
        t0 = time.perf_counter()
        net = Mininet(topo=topo, switch=partial(OVSSwitch, datapath="user"), controller=OVSController,
                      autoSetMacs=False)
        net.start()
        up = time.perf_counter() - t0
        t1 = time.perf_counter()
        net.stop()
        return {"up": up, "down": time.perf_counter() - t1}
    finally:
        stop()


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
    elif what == "topo-ovs":
        out = topo_ovs_run(sys.argv[2], sys.argv[3:5])
    elif what == "cmd":
        out = cmd_run(int(sys.argv[2]))
    else:
        sys.exit(f"mininet_side.py: unknown workload {what}")
    print(json.dumps(out))
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
