"""`make bench`: runs B1–B6, prints one table, writes bench/results.json."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import os
import platform
import sys
import time
import traceback
from pathlib import Path

# Each benchmark by name: module and coroutine function. Each returns {"rows": [...], ...}.
BENCHES = {
    "B1": "bench.telegram:b1",
    "B2": "bench.matrix:b2",
    "B3": "bench.storage:b3",
    "B4": "bench.storage:b4",
    "B5": "bench.reminders:b5",
    "B6": "bench.idle:b6",
}


def machine() -> dict:
    model = memory = ""  # left blank where /proc does not say
    with contextlib.suppress(OSError, StopIteration):
        model = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    with contextlib.suppress(OSError, ValueError, IndexError):
        memory = f"{int(open('/proc/meminfo').readline().split()[1]) / 2**20:.0f} GiB"
    return {"cpus": os.cpu_count(), "cpu": model, "memory": memory,
            "python": sys.version.split()[0], "platform": platform.platform()}


def _fmt(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table(results: dict) -> str:
    head = f"{'':<4} {'figure':<58} {'value':>11} {'floor':>11} {'ratio':>7}  {'target':<24} met"
    lines = [head, "-" * len(head)]
    for name in BENCHES:
        result = results.get(name, {})
        if "error" in result:
            lines.append(f"{name:<4} FAILED: {result['error']}")
            continue
        for row in result.get("rows", []):
            met = {True: "yes", False: "NO", None: ""}[row.get("met")]
            lines.append(
                f"{name:<4} {row['figure'][:58]:<58} {_fmt(row.get('value')):>11} {_fmt(row.get('floor')):>11} "
                f"{_fmt(row.get('ratio')):>7}  {(row.get('target') or '')[:24]:<24} {met}"
            )
    return "\n".join(lines)


# These take a Synapse: one homeserver, started once, serves them all (it takes a while to start).
NEEDS_SYNAPSE = {"B2", "B6"}


async def run(names: list[str]) -> dict:
    results: dict = {"machine": machine(), "started": time.strftime("%Y-%m-%d %H:%M:%S %Z")}
    for name in names:
        if name not in NEEDS_SYNAPSE:
            await _one(name, results, {})
    matrix = [name for name in names if name in NEEDS_SYNAPSE]
    if matrix:
        # Started after the others, so an idle Synapse does not share the CPU with their figures.
        from bench.matrix import homeserver

        print("[bench] starting Synapse ...", file=sys.stderr, flush=True)
        async with homeserver() as hs:
            for name in matrix:
                await _one(name, results, {"hs": hs})
    return results


async def _one(name: str, results: dict, kwargs: dict) -> None:
    module, _, func = BENCHES[name].partition(":")
    start = time.monotonic()
    print(f"[bench] {name} ...", file=sys.stderr, flush=True)
    try:
        results[name] = await getattr(importlib.import_module(module), func)(**kwargs)
    except Exception as exc:  # one broken benchmark must not hide the others' figures
        traceback.print_exc()
        results[name] = {"error": f"{type(exc).__name__}: {exc}"}
    results[name]["seconds"] = round(time.monotonic() - start, 1)
    print(f"[bench] {name} took {results[name]['seconds']} s", file=sys.stderr, flush=True)


def markdown(results: dict) -> str:
    """The last results as the README's table."""
    m = results["machine"]
    lines = [f"Machine: {m['cpus']} CPUs ({m['cpu']}), {m['memory']}, Python {m['python']}, {m['platform']}; "
             f"run {results.get('started', '')}.", "",
             "| | figure | value | floor | ratio | target | met |", "|---|---|---|---|---|---|---|"]
    for name in BENCHES:
        result = results.get(name, {})
        if "error" in result:
            lines.append(f"| {name} | failed: {result['error']} | | | | | |")
        for row in result.get("rows", []):
            met = {True: "yes", False: "**no**", None: ""}[row.get("met")]
            cells = [name, row["figure"], _fmt(row.get("value")), _fmt(row.get("floor")), _fmt(row.get("ratio")),
                     (row.get("target") or "").replace("|", "/"), met]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if argv == ["--markdown"]:
        print(markdown(json.loads(Path(__file__).with_name("results.json").read_text())))
        return 0
    names = [a.upper() for a in argv] or list(BENCHES)
    unknown = [n for n in names if n not in BENCHES]
    if unknown:
        print(f"usage: python -m bench.run [{' '.join(BENCHES)}] | --markdown  (unknown: {' '.join(unknown)})",
              file=sys.stderr)
        return 2
    results = asyncio.run(run(names))
    m = results["machine"]
    print(f"\nmachine: {m['cpus']} CPUs ({m['cpu']}), {m['memory']}, Python {m['python']}; medians of several runs\n")
    print(table(results))
    for name in names:
        note = results[name].get("notes")
        if note:
            print(f"\n{name}: {note}")
    out = Path(__file__).with_name("results.json")
    if set(names) != set(BENCHES) and out.exists():
        results = {**json.loads(out.read_text()), **results}  # a partial run keeps the other figures
    out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    return 0 if all("error" not in results.get(n, {}) for n in names) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
