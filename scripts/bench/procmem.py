"""Memory of a process as both sides of the bench measure it."""


def memory_kb(pid, field):
    """VmRSS from status, or Pss from smaps_rollup (shared pages divided
    among the processes that share them); 0 for a process that is gone."""
    path, key = (f"/proc/{pid}/status", "VmRSS:") if field == "rss" else (f"/proc/{pid}/smaps_rollup", "Pss:")
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0
