"""What the benchmarks read of a process from /proc (no psutil here), and their quantile."""

from __future__ import annotations

import os
from pathlib import Path

READY_LINE = "coopbot is ready"  # logged by `coopbot run` once every platform is connected


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, in seconds."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2:].split()  # the command name may hold spaces
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def status_mb(pid: int, field: str = "VmRSS") -> float:
    """A /proc/<pid>/status figure in MB (VmRSS now, VmHWM the peak)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(f"no {field} for {pid}")


def quantile(values: list[float], q: float) -> float:
    """The q-quantile (nearest rank, as p50/p99 are usually read); NaN for no values."""
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)] if ordered else float("nan")
