#!/usr/bin/env python3
"""scripts/bench/teardown.py: what the kernel's cleanup of a lab costs, and
when it is over. The experiments of scripts/bench/TEARDOWN.md.

    teardown.py [--topo linear,100] [--cycles 3] [--clean 'mnnode clean']

Each cycle builds the topology with `mn --keep --test build`, runs the
clean command, and then watches the kernel until it has finished:

- probe: creating and deleting a veth pair in a scratch namespace (one
  `ip -batch`), which needs the rtnl lock, timed against its rested time;
- kworkers: sampling /proc/PID/stack of every kworker every few ms, which
  tells whether one is in cleanup_net (the netns workqueue) and where it
  waits (the top frames, counted);
- net_namespace objects in /proc/slabinfo (every agent's, not only ours).

Prints one JSON line per cycle. Needs root; MN_BIN names the tools.
"""
import argparse
import collections
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SCRATCH = f"mnprobe{os.getpid()}"


def probe():
    t0 = time.perf_counter()
    subprocess.run(["ip", "-n", SCRATCH, "-batch", "-"], check=True, text=True,
                   input="link add p0 type veth peer name p1\nlink del p0\n")
    return time.perf_counter() - t0


def rested(n=15):
    times = []
    for _ in range(n):
        times.append(probe())
        time.sleep(0.1)
    return statistics.median(times)


def netns_objects():
    with open("/proc/slabinfo") as f:
        for line in f:
            if line.startswith("net_namespace "):
                return int(line.split()[1])
    return None


def kworkers():
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/comm") as f:
                if not f.read().startswith("kworker"):
                    continue
            out.append(pid)
        except OSError:
            pass
    return out


class Sampler(threading.Thread):
    """Where kworkers in cleanup_net are, every `period` seconds."""

    def __init__(self, period=0.005):
        super().__init__(daemon=True)
        self.period = period
        self.stop = False
        self.frames = collections.Counter()
        self.samples = 0
        self.busy = 0
        self.last_busy = None
        self.workers = kworkers()
        self.rescanned = time.monotonic()

    def run(self):
        while not self.stop:
            if time.monotonic() - self.rescanned > 0.5:
                self.workers, self.rescanned = kworkers(), time.monotonic()
            self.samples += 1
            found = False
            for pid in self.workers:
                try:
                    with open(f"/proc/{pid}/stack") as f:
                        stack = f.read()
                except OSError:
                    continue
                if "cleanup_net" not in stack:
                    continue
                found = True
                names = [l.split()[1].split("+")[0] for l in stack.splitlines() if len(l.split()) > 1]
                # The frames that say what it waits on: up to cleanup_net.
                top = []
                for n in names:
                    if n == "cleanup_net":
                        break
                    if n not in ("__schedule", "schedule", "schedule_timeout", "__wait_for_common",
                                 "wait_for_completion", "msleep", "schedule_preempt_disabled"):
                        top.append(n)
                self.frames[" < ".join(top[:3]) or "cleanup_net"] += 1
            if found:
                self.busy += 1
                self.last_busy = time.monotonic()
            time.sleep(self.period)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--topo", default="linear,100")
    p.add_argument("--cycles", type=int, default=3)
    p.add_argument("--clean", default="mnnode clean", help="the teardown command (run with the lab's MN_DIR)")
    p.add_argument("--build", default="", help="extra mn options")
    args = p.parse_args()
    bin_dir = os.environ.get("MN_BIN") or os.path.join(REPO, "target", "x86_64-unknown-linux-gnu", "release")
    subprocess.run(["ip", "netns", "add", SCRATCH], check=True)
    try:
        base = rested()
        print(json.dumps({"rested_probe_ms": round(base * 1e3, 2), "load": os.getloadavg()}), flush=True)
        for _ in range(args.cycles):
            parent = tempfile.mkdtemp(prefix="mnteardown", dir="/run")
            env = dict(os.environ, MN_DIR=os.path.join(parent, "td"), MN_BIN=bin_dir,
                       PATH=bin_dir + os.pathsep + os.environ["PATH"], MN_HISTORY=os.path.join(parent, "h"))
            t0 = time.perf_counter()
            subprocess.run([os.path.join(REPO, "scripts", "mn"), "--topo", args.topo, "--keep", "--test", "build",
                            *shlex.split(args.build)], env=env, check=True, stdout=subprocess.DEVNULL)
            up = time.perf_counter() - t0
            before = netns_objects()
            sampler = Sampler()
            sampler.start()
            t1 = time.perf_counter()
            subprocess.run(args.clean, shell=True, env=env, check=True)
            returned = time.perf_counter() - t1
            # Finished: three probes in a row within 1.5x the rested time.
            good, probes = 0, []
            while good < 3 and time.perf_counter() - t1 < 120:
                d = probe()
                probes.append(d)
                good = good + 1 if d <= 1.5 * base else 0
            settled = time.perf_counter() - t1
            # The probe's own last three calls belong to the rested time.
            settled -= sum(probes[-3:])
            time.sleep(0.5)
            sampler.stop = True
            sampler.join()
            last = sampler.last_busy - (time.monotonic() - (time.perf_counter() - t1)) if sampler.last_busy else None
            # mnnode's tmpfs where /run is a disk (docs/DESIGN.md section 2).
            if os.path.ismount(env["MN_DIR"]):
                subprocess.run(["umount", env["MN_DIR"]], check=False)
            shutil.rmtree(parent, ignore_errors=True)
            print(json.dumps({
                "topo": args.topo, "clean": args.clean, "up_s": round(up, 3), "returned_s": round(returned, 3),
                "probe_settled_s": round(settled, 3), "probes": len(probes),
                "worst_probe_ms": round(max(probes) * 1e3, 1),
                "cleanup_net_seen_s": round(sampler.busy * sampler.period, 3),
                "cleanup_net_last_s": round(last, 3) if last is not None else None,
                "netns_objects_before_after": [before, netns_objects()],
                "top_waits": sampler.frames.most_common(6), "load": os.getloadavg(),
            }), flush=True)
    finally:
        subprocess.run(["ip", "netns", "del", SCRATCH])


if __name__ == "__main__":
    main()
