"""B1: a burst of 5,000 vote taps on one proposal, served by a local Bot API server to the real
`coopbot run` on SQLite, against a python-telegram-bot bot that only answers them (the floor)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import signal
import socket
import statistics
import sys
import tempfile
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import aiohttp
from sqlalchemy import text

from bench.proc import READY_LINE, cpu_seconds, quantile
from handlers.charter import Charter
from storage.db import Database
from storage.stores import Stores

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
COOPBOT = [PYTHON, "-c", "from bot.cli import entry; entry()", "run"]
if os.environ.get("BENCH_PROFILE"):  # CPU profile of the bot, written at exit (see bench/matrix.py)
    COOPBOT = [PYTHON, "-c", "import cProfile, sys, time, bot.cli; sys.argv = ['coopbot', 'run']; "
               "p = cProfile.Profile(time.process_time); p.enable(); bot.cli.main(); p.disable(); "
               f"p.dump_stats({os.environ['BENCH_PROFILE']!r})"]
FLOOR = [PYTHON, "-m", "bench.ptb_floor"]
TOKEN = "123456:bench-token"
CHAT_ID = -1001234567
CARD_MESSAGE_ID = 7
FIRST_USER = 10_000_000
MEMBERS = 5000
OPTIONS = 3
DELAYS = (0.05, 0.0)
RUNS = 3
BURST_TIMEOUT = 30.0  # a run of ours that has not answered every tap by then is reported as such
# The floor handles one update at a time (the library's default): at 50 ms a call, 5,000 taps
# would take over four minutes, so it is measured over its first seconds of the same burst.
FLOOR_WINDOW = 12.0
SETTLE = 1.5  # after the last answer, time for the card's catch-up edit before SIGTERM
GROUP_EDITS_PER_MINUTE = 20  # what Telegram lets a bot send or edit in one group


@dataclass
class Run:
    taps: int
    answered: int
    taps_per_s: float
    p50_ms: float
    p99_ms: float
    cpu_s_per_1000: float
    edits: list[float] = field(default_factory=list)  # seconds after the release
    counted: bool | None = None  # stored tally == recount, and every tap counted (ours only)
    counts: list[int] | None = None
    recount: list[int] | None = None


# --- the database: a co-op bound to a Telegram group, 5,000 members, one open proposal with its card ---

async def _seed(path: Path, members: int) -> int:
    """Seed `path`; returns the proposal's id. Member k's Telegram user id is FIRST_USER + k."""
    now = datetime.now(timezone.utc)
    db = Database(f"sqlite:///{path}")
    await db.upgrade()
    stores = Stores.over(db)
    coop, founder = await stores.coops.create(
        "Bench Bakery", Charter().to_json(), platform="telegram", chat_id=str(CHAT_ID), room_title="Bench",
        founder_user_id=str(FIRST_USER), founder_name="Founder", now=now)
    naive = now.replace(tzinfo=None)
    async with db.write() as s:
        await s.execute(text(
            "INSERT INTO member (coop_id, display_name, role, status, requested_at, admitted_at) "
            "VALUES (:c, :n, 'member', 'active', :t, :t)"),
            [{"c": coop.id, "n": f"Member {k}", "t": naive} for k in range(1, members)])
        ids = (await s.execute(text("SELECT id FROM member WHERE coop_id = :c AND id != :f ORDER BY id"),
                               {"c": coop.id, "f": founder.id})).scalars().all()
        await s.execute(text(
            "INSERT INTO account (coop_id, member_id, platform, user_id) VALUES (:c, :m, 'telegram', :u)"),
            [{"c": coop.id, "m": m, "u": str(FIRST_USER + k)} for k, m in enumerate(ids, start=1)])
    proposal = await stores.proposals.open(
        coop.id, author_id=founder.id, title="Buy a delivery van", body="", kind="ordinary", ballot="open",
        options=["For", "Against", "Abstain"], rule=Charter().rule("ordinary").to_json(),
        closes_at=now + timedelta(days=3), now=now)
    # The card is already posted (so taps edit it), and its announcement delivered.
    await stores.cards.record("telegram", str(CHAT_ID), proposal.id, str(CARD_MESSAGE_ID), "card", now)
    async with db.write() as s:
        await s.execute(text("UPDATE outbox SET sent_at = :t"), {"t": naive})
    await db.dispose()
    return proposal.id


async def _tally(path: Path, proposal_id: int) -> tuple[list[int], list[int]]:
    db = Database(f"sqlite:///{path}")
    stores = Stores.over(db)
    try:
        return await stores.proposals.counts(proposal_id, OPTIONS), await stores.proposals.recount(proposal_id, OPTIONS)
    finally:
        await db.dispose()


# --- processes ---

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Process:
    """A child process whose output is read line by line (kept, and watched for a ready line)."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: deque[str] = deque(maxlen=200)
        self.ready = asyncio.Event()
        self.marker = ""
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def start(cls, argv: list[str], env: dict[str, str], cwd: Path, marker: str) -> Process:
        proc = await asyncio.create_subprocess_exec(
            *argv, env=env, cwd=cwd, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        process = cls(proc)
        process.marker = marker
        return process

    async def _read(self) -> None:
        while line := await self.proc.stdout.readline():
            decoded = line.decode(errors="replace").rstrip()
            self.lines.append(decoded)
            if self.marker and self.marker in decoded:
                self.ready.set()

    async def wait_ready(self, timeout: float) -> None:
        waiter = asyncio.create_task(self.ready.wait())
        done, _ = await asyncio.wait({waiter, asyncio.create_task(self.proc.wait())}, timeout=timeout,
                                     return_when=asyncio.FIRST_COMPLETED)
        if not self.ready.is_set():
            waiter.cancel()
            raise RuntimeError("not ready:\n" + "\n".join(self.lines))

    async def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM, then SIGKILL if it does not go; returns the exit code."""
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), timeout)
            except asyncio.TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        await self._reader
        return self.proc.returncode


def _env(extra: dict[str, str]) -> dict[str, str]:
    # Nothing of the caller's coopbot settings may leak into the bot under test.
    env = {k: v for k, v in os.environ.items() if not k.startswith("COOPBOT_")}
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


class Server:
    """The Bot API server process and its control endpoints."""

    def __init__(self, process: Process, url: str, session: aiohttp.ClientSession) -> None:
        self.process, self.url, self.session = process, url, session

    @classmethod
    async def start(cls, delay: float, session: aiohttp.ClientSession, cwd: Path) -> Server:
        port = _free_port()
        argv = [PYTHON, "-m", "bench.botapi_server", "--port", str(port), "--delay", str(delay)]
        server = cls(await Process.start(argv, _env({}), cwd, ""), f"http://127.0.0.1:{port}", session)
        for _ in range(200):
            try:
                await server.control("GET", "progress")
                return server
            except aiohttp.ClientError:
                if server.process.proc.returncode is not None:
                    break
                await asyncio.sleep(0.05)
        await server.process.stop()
        raise RuntimeError("Bot API server did not start:\n" + "\n".join(server.process.lines))

    async def control(self, method: str, what: str, body: dict | None = None):
        async with self.session.request(method, f"{self.url}/control/{what}", json=body) as response:
            return (await response.json())["result"]


# --- one run ---

async def _one_run(kind: str, delay: float, template: Path, proposal_id: int, members: int,
                   session: aiohttp.ClientSession) -> Run:
    with tempfile.TemporaryDirectory(prefix="b1-") as tmp:
        tmp = Path(tmp)
        db_path = tmp / "coopbot.db"
        shutil.copyfile(template, db_path)
        server = await Server.start(delay, session, tmp)
        bot = None
        try:
            # One tap from every member, each a different Telegram user (the founder included).
            await server.control("POST", "load", {
                "chat_id": CHAT_ID, "message_id": CARD_MESSAGE_ID, "proposal_id": proposal_id,
                "users": [FIRST_USER + k for k in range(members)], "options": OPTIONS})
            if kind == "coopbot":
                env = _env({"COOPBOT_DATABASE_URL": f"sqlite:///{db_path}", "COOPBOT_DATA_DIR": str(tmp),
                            "COOPBOT_TELEGRAM_TOKEN": TOKEN, "COOPBOT_TELEGRAM_API_URL": server.url})
                bot = await Process.start(COOPBOT, env, tmp, READY_LINE)
            else:
                bot = await Process.start([*FLOOR, "--token", TOKEN, "--api", server.url], _env({}), tmp,
                                          "floor is ready")
            started = time.monotonic()
            await bot.wait_ready(60)
            # Released once the bot is asking for updates, so neither side's start-up is measured.
            while (await server.control("GET", "progress"))["polls"] == 0:
                await asyncio.sleep(0.02)
            released = time.monotonic()
            cpu, answered = await _burst(kind, server, bot.proc.pid, members)
            burst_done = time.monotonic()
            await asyncio.sleep(SETTLE if kind == "coopbot" else 0)
            stats = await server.control("GET", "stats")
            # The floor would first work through the updates it fetched ahead: it is not waited for.
            code = await bot.stop(20.0 if kind == "coopbot" else 1.0)
            bot = None
            if kind == "coopbot" and code != 0:
                raise RuntimeError(f"coopbot exited with {code}")
            logger.info("B1 %s, %s s server: ready in %.1f s, burst %.1f s, stop %.1f s", kind, delay,
                        released - started, burst_done - released, time.monotonic() - burst_done)
        finally:
            if bot is not None:
                await bot.stop()
            await server.process.stop()
        run = _figures(stats, members, cpu, answered)
        if kind == "coopbot":
            counts, recount = await _tally(db_path, proposal_id)
            run.counts, run.recount = counts, recount
            run.counted = counts == recount and sum(counts) == members
        return run


async def _burst(kind: str, server: Server, pid: int, members: int) -> tuple[float, int]:
    """Release the burst and wait for its answers; the bot's CPU seconds and the taps they paid for.

    Ours: from the release to the last answer. The floor fetches every update ahead of handling
    them (PTB confirms before it handles), so its CPU is taken once all are fetched, over the
    answers after that: the cost of answering alone, which leaves its decoding out and makes the
    floor cheaper, never dearer, than it is."""
    cpu_before, answered_before = cpu_seconds(pid), 0
    await server.control("POST", "release")
    deadline = time.monotonic() + (BURST_TIMEOUT if kind == "coopbot" else FLOOR_WINDOW)
    steady = kind == "coopbot"
    while time.monotonic() < deadline:
        progress = await server.control("GET", "progress")
        if progress["answered"] >= members:
            break
        if not steady and progress["served"] >= members:
            steady, cpu_before, answered_before = True, cpu_seconds(pid), progress["answered"]
        await asyncio.sleep(0.05)
    cpu = cpu_seconds(pid) - cpu_before
    return cpu, (await server.control("GET", "progress"))["answered"] - answered_before


def _figures(stats: dict, members: int, cpu: float, paid_for: int) -> Run:
    served = {int(k): v for k, v in stats["served"].items()}
    answered = {int(k): v for k, v in stats["answered"].items()}
    released = stats["released_at"]
    latencies = sorted(answered[u] - served[u] for u in answered if u in served)
    elapsed = (max(answered.values()) - released) if answered else float("inf")
    return Run(
        taps=members, answered=len(answered), taps_per_s=len(answered) / elapsed,
        p50_ms=1000 * quantile(latencies, 0.5), p99_ms=1000 * quantile(latencies, 0.99),
        cpu_s_per_1000=1000 * cpu / max(paid_for, 1),
        edits=[round(t - released, 3) for t in stats["edits"] if t >= released],
    )


def _edits_per_minute(edits: list[float]) -> int:
    """The most card edits in any 60 s window (Telegram's limit is per minute, per group)."""
    return max((sum(1 for u in edits if t <= u < t + 60) for t in edits), default=0)


# --- B1 ---

def _median(runs: list[Run], name: str) -> float:
    return round(statistics.median(getattr(r, name) for r in runs), 3)


def _rows(delay: float, ours: list[Run], floor: list[Run]) -> list[dict]:
    label = f"{int(delay * 1000)} ms server"
    answered = all(r.answered == r.taps for r in ours)
    counted = all(r.counted for r in ours)
    cpu, cpu_floor = _median(ours, "cpu_s_per_1000"), _median(floor, "cpu_s_per_1000")
    tps, tps_floor = _median(ours, "taps_per_s"), _median(floor, "taps_per_s")
    p50, p50_floor = _median(ours, "p50_ms"), _median(floor, "p50_ms")
    p99, p99_floor = _median(ours, "p99_ms"), _median(floor, "p99_ms")
    edits = max(_edits_per_minute(r.edits) for r in ours)
    return [
        {"figure": f"taps answered per second ({label})", "value": tps, "floor": tps_floor,
         "ratio": round(tps / tps_floor, 3), "target": "every tap answered", "met": answered},
        {"figure": f"p50 ms, served to answered ({label})", "value": p50, "floor": p50_floor,
         "ratio": round(p50 / p50_floor, 3), "target": None, "met": None},
        {"figure": f"p99 ms, served to answered ({label})", "value": p99, "floor": p99_floor,
         "ratio": round(p99 / p99_floor, 3), "target": "<= 1000 ms", "met": p99 <= 1000},
        {"figure": f"bot CPU s per 1,000 taps ({label})", "value": cpu, "floor": cpu_floor,
         "ratio": round(cpu / cpu_floor, 3), "target": "ratio <= 0.5", "met": cpu / cpu_floor <= 0.5},
        {"figure": f"card edits per minute, most ({label})", "value": edits, "floor": None, "ratio": None,
         "target": f"<= {GROUP_EDITS_PER_MINUTE}", "met": edits <= GROUP_EDITS_PER_MINUTE},
        {"figure": f"stored tally == recount, all counted ({label})", "value": counted, "floor": None,
         "ratio": None, "target": "every tap counted", "met": counted},
    ]


async def b1(runs: int = RUNS, members: int = MEMBERS, delays: tuple[float, ...] = DELAYS) -> dict:
    """B1: medians over `runs` runs of each side, for each server delay."""
    rows, raw = [], {}
    with tempfile.TemporaryDirectory(prefix="b1-seed-") as tmp:
        template = Path(tmp) / "template.db"
        proposal_id = await _seed(template, members)
        async with aiohttp.ClientSession() as session:
            for delay in delays:
                ours, floor = [], []
                for _ in range(runs):
                    # Interleaved, so a noisy neighbour on the machine weighs on both sides alike.
                    ours.append(await _one_run("coopbot", delay, template, proposal_id, members, session))
                    floor.append(await _one_run("floor", delay, template, proposal_id, members, session))
                rows += _rows(delay, ours, floor)
                raw[f"{delay}"] = {"coopbot": [_raw(r) for r in ours], "floor": [_raw(r) for r in floor]}
    return {
        "rows": rows, "runs": runs, "raw": raw,
        "notes": ("Floor: a python-telegram-bot 22 Application with its defaults (httpx, run_polling, one update at a "
                  "time) that only answers each tap, measured over its first 12 s of the same burst (at 50 ms a call it "
                  "would need minutes); its CPU is taken after it has fetched every update, so its decoding is left "
                  "out. Latency: from an update's getUpdates answer to its answerCallbackQuery reaching the server."),
    }


def _raw(run: Run) -> dict:
    out = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in run.__dict__.items() if k != "edits"}
    out["edits_at_s"] = run.edits
    return out


if __name__ == "__main__":
    print(json.dumps(asyncio.run(b1()), indent=1))
