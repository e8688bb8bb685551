"""`make bench`: runs the benchmarks, prints one table, writes bench/results.json."""

from __future__ import annotations

import asyncio
import json
import os
import platform
import sys
from pathlib import Path

from bench.storage import b3, b4

NOT_YET = "not measured yet (issue 7 in progress)"


async def main() -> int:
    results = {
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0], "platform": platform.platform()},
        "B1": NOT_YET, "B2": NOT_YET, "B5": NOT_YET, "B6": NOT_YET,
    }
    results["B3"] = await b3()
    results["B4"] = await b4()
    print(f"{'bench':<6} {'figure':<44} {'value':>14} {'floor':>14} {'ratio':>8}  target")
    for backend, f in results["B3"].items():
        print(f"{'B3':<6} {backend + ' votes/s (burst of 2,000)':<44} {f['votes_per_s']:>14} {f['floor_rows_per_s']:>14} "
              f"{f['ratio']:>8}  >= 1.0 {'met' if f['met'] else 'NOT met'}")
    b = results["B4"]
    for size, ms in b["per_vote_ms"].items():
        print(f"{'B4':<6} {f'ms per vote with {size:,} votes':<44} {ms:>14} {'':>14} {'':>8}")
    for size, ms in b["close_ms"].items():
        print(f"{'B4':<6} {f'ms to close with {size:,} votes':<44} {ms:>14}")
    print(f"{'B4':<6} {'ms to list 10,000 open proposals':<44} {b['list_10000_ms']:>14}")
    print(f"{'B4':<6} {'per-vote cost 100k / 1k':<44} {b['ratio_100k_vs_1k']:>14} {'':>14} {'':>8}  <= 1.3 "
          f"{'met' if b['targets']['per_vote_100k_le_1.3x_1k'] else 'NOT met'}")
    for name in ("B1", "B2", "B5", "B6"):
        print(f"{name:<6} {NOT_YET}")
    Path(__file__).with_name("results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
