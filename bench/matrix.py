"""B2: a burst of 1,000 Matrix poll responses through a local Synapse, counted by the real
`coopbot run`, against a bare matrix-nio client syncing the same burst (the floor)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import itertools
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import urllib.parse
import uuid
from datetime import datetime, timezone
from pathlib import Path

import aiohttp
from sqlalchemy import text

from handlers.charter import Charter
from storage.db import Database
from storage.stores import Stores
from bench.proc import READY_LINE, cpu_seconds
from tests.fakes.synapse import UNSTABLE_POLL_RESPONSE, Homeserver

ROOT = Path(__file__).resolve().parent.parent
PUPPETS = 1000
RUNS = 3
OPTIONS = 3
# Puppets sending at once: enough to keep Synapse saturated, few enough that no request times out.
SENDERS = 48
SETUP_CONCURRENCY = 16
PASSWORD = "bench-password"
TIMEOUT = 120.0
CPU_TARGET = 2.0  # bot CPU per event / floor's
DELAY_TARGET = 3.0  # seconds from the last response to the card showing the final tally
# Synapse as the bench runs it: push rules are evaluated for every member on every event (a
# thousand-member room costs Synapse ~40 ms per event), and nothing here has a pusher or a
# directory to keep; neither changes what the bot receives.
SYNAPSE_CONFIG = {"push": {"enabled": False}, "user_directory": {"enabled": False}}


# --- processes, read from /proc (no psutil here) ---



def bot_env(hs: Homeserver, data_dir: Path, user_id: str, **extra: str) -> dict[str, str]:
    """The environment of a `coopbot run` on Synapse, with nothing of ours leaking in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COOPBOT_") and "proxy" not in k.lower()}
    env.update(COOPBOT_MATRIX_HOMESERVER=hs.base_url, COOPBOT_MATRIX_USER=user_id, COOPBOT_MATRIX_PASSWORD=PASSWORD,
               COOPBOT_MATRIX_STORE_KEY="bench-store-key", COOPBOT_DATA_DIR=str(data_dir), COOPBOT_LOG_LEVEL="INFO",
               PYTHONPATH=str(ROOT), **extra)
    return env


async def spawn_bot(env: dict[str, str], cwd: Path, log: Path) -> asyncio.subprocess.Process:
    """`coopbot run`; with BENCH_PROFILE=<file> set, under cProfile (its stats written to that file at exit)."""
    command = ["-m", "bot.cli", "run"]
    if os.environ.get("BENCH_PROFILE"):
        # CPU time, not wall time: the figure is CPU per event, and waits are not costs.
        command = ["-c", "import cProfile, sys, time, bot.cli; sys.argv = ['coopbot', 'run']; "
                         "p = cProfile.Profile(time.process_time); "
                         f"p.enable(); code = bot.cli.main(); p.disable(); p.dump_stats({os.environ['BENCH_PROFILE']!r})"]
    with log.open("ab") as err:
        return await asyncio.create_subprocess_exec(
            sys.executable, *command, cwd=cwd, env=env,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=err,
        )


async def wait_for_line(log: Path, needle: str, proc: asyncio.subprocess.Process, timeout: float = 60) -> float:
    """Poll the bot's log until a line holds `needle`; the monotonic time it was seen."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists() and needle in log.read_text(errors="replace"):
            return time.monotonic()
        if proc.returncode is not None:
            raise RuntimeError(f"coopbot exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        await asyncio.sleep(0.01)
    raise RuntimeError(f"no {needle!r} in {log} within {timeout} s:\n{log.read_text()[-3000:]}")


async def stop_process(proc: asyncio.subprocess.Process, grace: float = 30) -> None:
    if proc.returncode is not None:
        return
    proc.terminate()
    try:
        await asyncio.wait_for(proc.wait(), grace)
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()


@contextlib.asynccontextmanager
async def homeserver(hs: Homeserver | None = None):
    """The Synapse given, or one of our own for as long as the block runs."""
    if hs is not None:
        yield hs
        return
    hs = Homeserver(extra_config=SYNAPSE_CONFIG)
    try:
        await asyncio.to_thread(hs.start)
        yield hs
    finally:
        hs.cleanup()


# --- the client-server API, raw (a puppet needs no nio to vote) ---

class Raw:
    """Plain client-server and admin API calls over one aiohttp session."""

    def __init__(self, hs: Homeserver) -> None:
        self.hs = hs
        self.session = aiohttp.ClientSession(trust_env=False, connector=aiohttp.TCPConnector(limit=SENDERS * 2))
        self._txn = itertools.count()

    async def call(self, method: str, path: str, token: str | None = None, body: dict | None = None) -> dict:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.session.request(method, self.hs.base_url + path, json=body, headers=headers) as response:
            data = await response.json()
            if response.status != 200:
                raise RuntimeError(f"{method} {path} -> {response.status}: {data}")
            return data

    async def register(self, localpart: str) -> tuple[str, str]:
        """Shared-secret registration: (user id, access token)."""
        nonce = (await self.call("GET", "/_synapse/admin/v1/register"))["nonce"]
        mac = hmac.new(self.hs.shared_secret.encode(), digestmod=hashlib.sha1)
        mac.update(b"\x00".join([nonce.encode(), localpart.encode(), PASSWORD.encode(), b"notadmin"]))
        body = {"nonce": nonce, "username": localpart, "password": PASSWORD, "admin": False, "mac": mac.hexdigest()}
        answer = await self.call("POST", "/_synapse/admin/v1/register", body=body)
        return answer["user_id"], answer["access_token"]

    async def join(self, token: str, room_id: str) -> None:
        await self.call("POST", f"/_matrix/client/v3/join/{urllib.parse.quote(room_id)}", token, {})

    async def send(self, token: str, room_id: str, event_type: str, content: dict) -> str:
        path = f"/_matrix/client/v3/rooms/{urllib.parse.quote(room_id)}/send/{event_type}/b{next(self._txn)}"
        return (await self.call("PUT", path, token, content))["event_id"]

    async def edits(self, token: str, room_id: str, event_id: str) -> list[dict]:
        """The latest m.replace edits of an event, newest first."""
        path = (f"/_matrix/client/v1/rooms/{urllib.parse.quote(room_id)}/relations/"
                f"{urllib.parse.quote(event_id)}/m.replace?dir=b&limit=5")
        return (await self.call("GET", path, token))["chunk"]

    async def close(self) -> None:
        await self.session.close()


async def bounded(coros, limit: int) -> list:
    """Run coroutines with at most `limit` in flight; results in order."""
    sem = asyncio.Semaphore(limit)

    async def one(coro):
        async with sem:
            return await coro

    return await asyncio.gather(*(one(c) for c in coros))


# --- the co-op, seeded in bulk ---

async def seed(db_path: Path, room_id: str, steward: str, puppets: list[str]) -> None:
    """A co-op bound to the room: the steward founds it, every puppet is an active member."""
    db = Database(f"sqlite:///{db_path}")
    try:
        await db.upgrade()
        stores = Stores.over(db)
        now = datetime.now(timezone.utc)
        coop, _ = await stores.coops.create("Burst", Charter().to_json(), platform="matrix", chat_id=room_id,
                                            room_title="Burst", founder_user_id=steward, founder_name="steward", now=now)
        stamp = now.replace(tzinfo=None)
        async with db.write() as s:
            await s.execute(text(
                "INSERT INTO member (coop_id, display_name, role, status, requested_at, admitted_at) "
                "VALUES (:c, :n, 'member', 'active', :t, :t)"),
                # Named as Synapse names them (the localpart), so no vote renames its member on the way.
                [{"c": coop.id, "n": user[1:].split(":")[0], "t": stamp} for user in puppets])
            ids = dict((await s.execute(text("SELECT display_name, id FROM member WHERE coop_id = :c"),
                                        {"c": coop.id})).all())
            await s.execute(text(
                "INSERT INTO account (coop_id, member_id, platform, user_id) VALUES (:c, :m, 'matrix', :u)"),
                [{"c": coop.id, "m": ids[user[1:].split(":")[0]], "u": user} for user in puppets])
    finally:
        await db.dispose()


class BotDb:
    """Read-only looks into the bot's SQLite file (WAL: reading never holds up its writes)."""

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5, isolation_level=None)

    def card(self, number: int) -> tuple[int, str, str, int] | None:
        """(proposal id, card event id, poll event id, electorate) once the poll is recorded."""
        row = self.conn.execute(
            "SELECT p.id, c.message_id, c.poll_id, p.electorate_size FROM proposal p JOIN card c "
            "ON c.proposal_id = p.id WHERE p.number = ? AND c.poll_id IS NOT NULL", (number,)).fetchone()
        return tuple(row) if row else None

    def ballots(self, proposal_id: int) -> int:
        return self.conn.execute("SELECT count(*) FROM ballot WHERE proposal_id = ?", (proposal_id,)).fetchone()[0]

    def counts(self, proposal_id: int) -> list[int]:
        rows = dict(self.conn.execute(
            "SELECT option, count(*) FROM ballot WHERE proposal_id = ? GROUP BY option", (proposal_id,)).fetchall())
        return [rows.get(i, 0) for i in range(OPTIONS)]


async def until(predicate, timeout: float = TIMEOUT, every: float = 0.02, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        await asyncio.sleep(every)
    raise RuntimeError(f"{what} not reached within {timeout} s")


# --- the floor: a bare nio client in its own process ---

class Floor:
    """bench/nio_floor.py as a child process: told which poll to watch, says when it saw it all."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def start(cls, hs: Homeserver, user_id: str, room_id: str) -> Floor:
        env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.nio_floor", hs.base_url, user_id, PASSWORD, room_id, cwd=ROOT, env=env,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )
        floor = cls(proc)
        await floor._expect("ready")
        return floor

    async def _expect(self, word: str) -> str:
        line = await asyncio.wait_for(self.proc.stdout.readline(), TIMEOUT)
        if not line.decode().startswith(word):
            raise RuntimeError(f"nio floor said {line!r}, expected {word!r}")
        return line.decode()

    async def watch(self, poll_id: str, count: int) -> None:
        self.proc.stdin.write(f"watch {poll_id} {count}\n".encode())
        await self.proc.stdin.drain()
        await self._expect("watching")

    async def seen(self) -> float:
        """Wait until it has seen every response; its CPU seconds at that moment."""
        await self._expect("seen")
        return cpu_seconds(self.proc.pid)

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.proc.stdin.close()
        await stop_process(self.proc, grace=5)


# --- one burst ---

async def _propose(raw: Raw, steward_token: str, room_id: str, db: BotDb, number: int) -> tuple[int, str, str, int]:
    await raw.send(steward_token, room_id, "m.room.message", {"msgtype": "m.text", "body": f"!propose Burst {number}"})
    return await until(lambda: db.card(number), what=f"poll of proposal #{number}")


async def _final_edit(raw: Raw, token: str, room_id: str, card_id: str, tally: str) -> int:
    """origin_server_ts (ms) of the card edit that first shows `tally`."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        # Newest first; the card is not edited again once it shows the final tally (same text).
        showing = [edit["origin_server_ts"] for edit in await raw.edits(token, room_id, card_id)
                   if tally in edit["content"].get("m.new_content", {}).get("body", "")]
        if showing:
            return min(showing)
        await asyncio.sleep(0.1)
    raise RuntimeError(f"no card edit showing {tally!r} within {TIMEOUT} s")


async def burst(raw: Raw, ctx: dict, number: int) -> dict:
    """Propose, then every puppet answers the poll at once; what the bot and the floor paid for it."""
    db, bot, floor = ctx["db"], ctx["bot"], ctx["floor"]
    proposal_id, card_id, poll_id, electorate = await _propose(raw, ctx["steward"], ctx["room"], db, number)
    await floor.watch(poll_id, PUPPETS)
    await asyncio.sleep(1.0)  # the card's first edits and replies settle before the clock starts
    synapse_pid = ctx["synapse_pid"]
    bot_cpu0, floor_cpu0, synapse_cpu0 = cpu_seconds(bot.pid), cpu_seconds(floor.proc.pid), cpu_seconds(synapse_pid)
    floor_done = asyncio.create_task(floor.seen())
    started = time.monotonic()
    relation = {"rel_type": "m.reference", "event_id": poll_id}
    await bounded((raw.send(token, ctx["room"], UNSTABLE_POLL_RESPONSE,
                            {"m.relates_to": relation, UNSTABLE_POLL_RESPONSE: {"answers": [f"o{i % OPTIONS}"]}})
                   for i, (_, token) in enumerate(ctx["puppets"])), SENDERS)
    last_accepted = time.time()
    sent_in = time.monotonic() - started
    synapse_cpu = cpu_seconds(synapse_pid) - synapse_cpu0
    await until(lambda: db.ballots(proposal_id) >= PUPPETS, what=f"{PUPPETS} ballots on #{number}", every=0.01)
    bot_cpu = cpu_seconds(bot.pid) - bot_cpu0
    counted_after = time.monotonic() - started
    floor_cpu = await asyncio.wait_for(floor_done, TIMEOUT) - floor_cpu0
    counts = db.counts(proposal_id)
    expected = [len(range(o, PUPPETS, OPTIONS)) for o in range(OPTIONS)]
    tally = " · ".join(f"{label} {n}" for label, n in zip(("For", "Against", "Abstain"), expected))
    shown_ms = await _final_edit(raw, ctx["steward"], ctx["room"], card_id, f"{tally} ({PUPPETS} of {electorate} voted)")
    return {"responses_per_s": PUPPETS / sent_in, "counted_after_s": counted_after,
            "bot_cpu_ms_per_event": bot_cpu * 1000 / PUPPETS, "floor_cpu_ms_per_event": floor_cpu * 1000 / PUPPETS,
            "synapse_cpu_ms_per_event": synapse_cpu * 1000 / PUPPETS,
            "final_tally_delay_s": shown_ms / 1000 - last_accepted, "all_counted": counts == expected, "counts": counts}


# --- set-up: users, room, co-op, bot, floor ---

async def _users(raw: Raw, prefix: str) -> dict:
    names = ["bot", "steward", "floor"] + [f"p{i}" for i in range(PUPPETS)]
    registered = await bounded((raw.register(f"{prefix}{n}") for n in names), SETUP_CONCURRENCY)
    return dict(zip(names, registered))


async def _room(raw: Raw, users: dict) -> str:
    """A public, unencrypted room (the burst measures counting, not megolm), everyone joined."""
    answer = await raw.call("POST", "/_matrix/client/v3/createRoom", users["steward"][1],
                            {"preset": "public_chat", "name": "Burst", "invite": [users["bot"][0]]})
    room_id = answer["room_id"]
    joiners = [token for name, (_, token) in users.items() if name not in ("bot", "steward")]
    await bounded((raw.join(token, room_id) for token in joiners), SETUP_CONCURRENCY)
    return room_id


def _backfilled(log: Path) -> tuple[int, int]:
    """(limited syncs backfilled, events fetched that way), from the bot's log."""
    lines = [line for line in log.read_text(errors="replace").splitlines() if "backfilled" in line]
    return len(lines), sum(int(line.split("backfilled ")[1].split()[0]) for line in lines)


async def b2(hs: Homeserver | None = None, runs: int = RUNS) -> dict:
    """B2: 1,000 poll responses per burst, `runs` bursts (each on a fresh proposal); medians."""
    began = time.monotonic()
    async with homeserver(hs) as hs:
        raw = Raw(hs)
        work = Path(tempfile.mkdtemp(prefix="coopbot-b2-"))
        bot = floor = db = None
        try:
            users = await _users(raw, f"b2{uuid.uuid4().hex[:6]}")
            room_id = await _room(raw, users)
            setup_s = time.monotonic() - began
            puppets = [users[f"p{i}"] for i in range(PUPPETS)]
            (work / "data").mkdir()
            await seed(work / "data" / "coopbot.db", room_id, users["steward"][0], [u for u, _ in puppets])
            log = work / "bot.log"
            bot = await spawn_bot(bot_env(hs, work / "data", users["bot"][0]), work, log)
            await wait_for_line(log, READY_LINE, bot)
            floor = await Floor.start(hs, users["floor"][0], room_id)
            db = BotDb(work / "data" / "coopbot.db")
            ctx = {"db": db, "bot": bot, "floor": floor, "room": room_id,
                   "steward": users["steward"][1], "puppets": puppets, "synapse_pid": hs.process.pid}
            bursts = [await burst(raw, ctx, n) for n in range(1, runs + 1)]
            limited, fetched = _backfilled(log)
        finally:
            if floor is not None:
                await floor.stop()
            if bot is not None:
                await stop_process(bot)
            await raw.close()
            if db is not None:
                db.conn.close()
        shutil.rmtree(work, ignore_errors=True)  # kept when a burst failed: bot.log tells why
    return _report(bursts, limited, fetched, setup_s, time.monotonic() - began)


def _report(bursts: list[dict], limited: int, fetched: int, setup_s: float, wall_s: float) -> dict:
    med = {key: statistics.median(b[key] for b in bursts) for key in
           ("bot_cpu_ms_per_event", "floor_cpu_ms_per_event", "final_tally_delay_s", "responses_per_s")}
    cpu_ratio = med["bot_cpu_ms_per_event"] / med["floor_cpu_ms_per_event"]
    all_counted = all(b["all_counted"] for b in bursts)
    rows = [
        {"figure": f"poll responses counted ({PUPPETS:,} per burst)", "value": f"{PUPPETS}" if all_counted else "MISSED",
         "floor": None, "ratio": None, "target": "every one, backfilled", "met": all_counted and limited > 0},
        {"figure": "bot CPU ms per poll response", "value": round(med["bot_cpu_ms_per_event"], 3),
         "floor": round(med["floor_cpu_ms_per_event"], 3), "ratio": round(cpu_ratio, 2),
         "target": f"<= {CPU_TARGET:g} x floor", "met": cpu_ratio <= CPU_TARGET},
        {"figure": "s from last response to final tally on card", "value": round(med["final_tally_delay_s"], 2),
         "floor": None, "ratio": None, "target": f"<= {DELAY_TARGET:g} s", "met": med["final_tally_delay_s"] <= DELAY_TARGET},
        {"figure": "poll responses accepted by Synapse per s", "value": round(med["responses_per_s"], 1),
         "floor": None, "ratio": None, "target": None, "met": None},
    ]
    return {
        "rows": rows, "runs": len(bursts),
        "notes": ("Floor: a bare matrix-nio AsyncClient (bench/nio_floor.py, own process) logged in to the same "
                  "unencrypted room, syncing the same bursts at the same time as the bot, with the bot's sync filter "
                  "and the same /messages backfill. CPU from /proc, burst start until all counted / seen."),
        "bursts": bursts, "limited_syncs_backfilled": limited, "events_backfilled": fetched,
        "setup_s": round(setup_s, 1), "wall_s": round(wall_s, 1),
    }
