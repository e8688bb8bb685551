"""B6: start-to-ready time and idle resident memory of `coopbot run` with Telegram and Matrix connected."""

from __future__ import annotations

import asyncio
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from bench.matrix import ROOT, Raw, bot_env, homeserver, spawn_bot, stop_process, wait_for_line
from bench.proc import READY_LINE, status_mb
from tests.fakes.synapse import Homeserver
from tests.fakes.telegram_api import FakeBotAPI

RUNS = 3
IDLE_S = 5.0
READY_TARGET_S = 3.0
RSS_TARGET_MB = 120.0
# The floor: the libraries the bot runs on, imported and nothing else (no database, no login).
FLOOR_IMPORTS = "import telegram.ext, nio, sqlalchemy.ext.asyncio, aiosqlite, apscheduler.schedulers.asyncio, alembic"


async def _bot_once(hs: Homeserver, fake: FakeBotAPI, user_id: str) -> tuple[float, float]:
    """One start on an empty database and a fresh data directory: (seconds to ready, MB resident after idling)."""
    work = Path(tempfile.mkdtemp(prefix="coopbot-b6-"))
    log = work / "bot.log"
    env = bot_env(hs, work / "data", user_id, COOPBOT_TELEGRAM_TOKEN=fake.token, COOPBOT_TELEGRAM_API_URL=fake.url)
    began = time.monotonic()
    proc = await spawn_bot(env, work, log)
    try:
        ready = await wait_for_line(log, READY_LINE, proc) - began
        await asyncio.sleep(IDLE_S)
        return ready, status_mb(proc.pid)
    finally:
        await stop_process(proc)
        shutil.rmtree(work, ignore_errors=True)


async def _floor_once() -> tuple[float, float]:
    """The same libraries imported in a bare interpreter: (seconds until imported, MB resident)."""
    began = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", f"{FLOOR_IMPORTS}; print('ready', flush=True); import time; time.sleep(60)",
        cwd=ROOT, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
    )
    try:
        await asyncio.wait_for(proc.stdout.readline(), 60)
        ready = time.monotonic() - began
        await asyncio.sleep(1.0)
        return ready, status_mb(proc.pid)
    finally:
        await stop_process(proc, grace=5)


async def b6(hs: Homeserver | None = None, runs: int = RUNS) -> dict:
    """B6: medians over `runs` starts of the bot and of the floor."""
    began = time.monotonic()
    async with homeserver(hs) as hs, FakeBotAPI() as fake:
        raw = Raw(hs)
        try:
            user_id, _ = await raw.register(f"b6{uuid.uuid4().hex[:6]}bot")
        finally:
            await raw.close()
        bot = [await _bot_once(hs, fake, user_id) for _ in range(runs)]
        floor = [await _floor_once() for _ in range(runs)]
        unknown = list(fake.unknown)
    ready, rss = statistics.median(r for r, _ in bot), statistics.median(m for _, m in bot)
    floor_ready, floor_rss = statistics.median(r for r, _ in floor), statistics.median(m for _, m in floor)
    rows = [
        {"figure": "s from spawn to ready (Telegram + Matrix)", "value": round(ready, 2), "floor": round(floor_ready, 2),
         "ratio": round(ready / floor_ready, 2), "target": f"<= {READY_TARGET_S:g} s", "met": ready <= READY_TARGET_S},
        {"figure": f"MB resident after {IDLE_S:g} s idle", "value": round(rss, 1), "floor": round(floor_rss, 1),
         "ratio": round(rss / floor_rss, 2), "target": f"<= {RSS_TARGET_MB:g} MB", "met": rss <= RSS_TARGET_MB},
    ]
    return {
        "rows": rows, "runs": runs,
        "notes": ("Each start on an empty SQLite file and a fresh data directory (first Matrix login, new device "
                  "keys), Telegram on the fake Bot API in the bench process. Floor: a bare interpreter importing the "
                  "same libraries (PTB, matrix-nio, SQLAlchemy, aiosqlite, APScheduler, Alembic)."),
        "bot": [{"ready_s": round(r, 3), "rss_mb": round(m, 1)} for r, m in bot],
        "floor": [{"ready_s": round(r, 3), "rss_mb": round(m, 1)} for r, m in floor],
        "unknown_bot_api_calls": unknown, "wall_s": round(time.monotonic() - began, 1),
    }
