"""The Open vSwitch rows of scripts/bench/run: topologies up and down with
OVS switches on the userspace datapath and the ref controller
(ovs-testcontroller), against Mininet with OVSSwitch(datapath='user') and
its OVSController (the same program); iperf3 through one OVS switch against
the Linux bridge and a direct veth pair. Left out, saying why, where Open
vSwitch or ovs-testcontroller is missing.
"""
import json
import os
import shutil
import subprocess

# What `mn` builds the OVS rows with.
OVS_ARGS = ("--switch", "ovs,datapath=user", "--controller", "ref")


def missing():
    for program in ("ovs-vswitchd", "ovsdb-server", "ovs-vsctl", "ovs-testcontroller"):
        if not shutil.which(program) and not os.access(f"/usr/sbin/{program}", os.X_OK):
            return f"{program} is missing (scripts/setup --dev installs Open vSwitch)"
    return None


def throughput_ovs(bench, seconds):
    """iperf3 from h1 to h2 through one OVS switch on the userspace
    datapath (standalone, no controller)."""
    with bench.Lab("tputovs") as lab:
        lab.run(bench.tool("mnnode"), "add", "h1", "h2")
        lab.run(bench.tool("mnnode"), "add", "--kind", "ovs", "--datapath", "user", "s1")
        batch = "add h1-eth0 s1-eth1\nadd h2-eth0 s1-eth2\naddr h1-eth0 10.0.0.1/24\naddr h2-eth0 10.0.0.2/24\n"
        lab.run(bench.tool("mnlink"), "-b", "-", input=batch)
        while subprocess.run([bench.tool("mnrun"), "h1", "ping -c1 -W1 10.0.0.2 >/dev/null"], env=lab.env).returncode:
            pass
        lab.run(bench.tool("mnrun"), "h2", "iperf3 -s -1 >/dev/null 2>&1 &")
        while subprocess.run([bench.tool("mnrun"), "h2", "ss -ltn | grep -q ':5201 '"], env=lab.env).returncode:
            pass
        out = lab.run(bench.tool("mnrun"), "-n", "h1", f"iperf3 -c 10.0.0.2 -t {seconds} -J").stdout
        rate = json.loads(out)["end"]["sum_received"]["bits_per_second"] / 1e6
    bench.settle()
    return {"ovs": rate}


def measure(bench, runs, small, big, seconds, mn_missing, note, row, tput, smoke):
    """Measures the OVS workloads and adds their rows."""
    why = missing()
    if why:
        note(f"OVS rows left out: {why}")
        return
    results = {}
    for spec in (small, big):
        note(f"{spec}: ours, OVS userspace + ref")
        results[spec] = (bench.repeat(runs, bench.topo_ours, spec, False, OVS_ARGS), [])
        if not mn_missing:
            note(f"{spec}: Mininet, OVSSwitch(datapath='user') + OVSController")
            results[spec] = (results[spec][0], bench.repeat(runs, bench.mininet, "topo-ovs", *spec.split(",")))
    note("throughput through OVS")
    tput_ovs = bench.repeat(runs, throughput_ovs, bench, seconds)
    mn_name = "Mininet OVSSwitch(user)" if not mn_missing else f"Mininet ({mn_missing})"
    for spec in (small, big):
        ours, theirs = results[spec]
        for phase in ("up", "down"):
            target = "≥ 10× Mininet" if not smoke else ""
            row(f"{spec} {phase}, OVS userspace + ref", "s", bench.summary(ours, phase), mn_name,
                bench.summary(theirs, phase), target=target)
    row("iperf3 h1→s1→h2, OVS userspace", "Mbit/s", bench.summary(tput_ovs, "ovs"), "Linux bridge",
        bench.summary(tput, "switch"), higher=True)
    row("iperf3 h1→s1→h2, OVS userspace", "Mbit/s", bench.summary(tput_ovs, "ovs"), "direct veth pair",
        bench.summary(tput, "direct"), higher=True)
