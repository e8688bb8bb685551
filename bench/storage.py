"""B3 and B4: votes recorded per second against the raw driver, and what a vote and a close cost
as a proposal grows. Run through bench/run.py."""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import aiosqlite
import asyncpg
from sqlalchemy import text

from handlers.charter import Charter
from handlers.proposals import _decide
from handlers.votes import refusal
from storage.db import Database
from storage.stores import Stores
from storage.votes import VoteOp

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


async def _seed(stores: Stores, members: int, proposals: int = 1) -> tuple[int, list[int], list[int]]:
    """A co-op with `members` active members and `proposals` open proposals, written in bulk."""
    db = stores.db
    coop, founder = await stores.coops.create("Bench", Charter().to_json(), platform="console", chat_id="bench",
                                              room_title="bench", founder_user_id="f", founder_name="f", now=NOW)
    async with db.write() as s:
        await s.execute(text(
            "INSERT INTO member (coop_id, display_name, role, status, requested_at, admitted_at) "
            "VALUES (:c, :n, 'member', 'active', :t, :t)"),
            [{"c": coop.id, "n": f"m{i}", "t": NOW.replace(tzinfo=None)} for i in range(members - 1)])
    ids = []
    for _ in range(proposals):
        p = await stores.proposals.open(
            coop.id, author_id=founder.id, title="Bench", body="", kind="ordinary", ballot="open",
            options=["For", "Against", "Abstain"], rule=Charter().rule("ordinary").to_json(),
            closes_at=NOW + timedelta(days=3), now=NOW,
        )
        ids.append(p.id)
    async with db.read() as s:
        member_ids = list((await s.execute(text("SELECT id FROM member WHERE coop_id = :c ORDER BY id"),
                                           {"c": coop.id})).scalars())
    return coop.id, ids, member_ids


async def _fresh_pg() -> tuple[str, str]:
    name = f"coopbot_bench_{time.monotonic_ns() % 10**9}"
    conn = await asyncpg.connect(PG_ADMIN)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    return name, PG_ADMIN.rsplit("/", 1)[0] + "/" + name


async def _drop_pg(name: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN)
    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await conn.close()


async def _votes_per_second(url: str, votes: int) -> float:
    db = Database(url)
    await db.upgrade()
    stores = Stores.over(db)
    _, (pid,), members = await _seed(stores, votes)
    start = time.perf_counter()
    # Each vote carries its platform event id, as from a button, so the duplicate check is paid too.
    await asyncio.gather(*(stores.votes.submit(VoteOp(pid, i % 3, NOW, ("telegram", f"cb{i}"), member_id=m), refusal)
                           for i, m in enumerate(members)))
    elapsed = time.perf_counter() - start
    await db.dispose()
    return votes / elapsed


async def _raw_sqlite(path: Path, rows: int) -> float:
    async with aiosqlite.connect(path, isolation_level=None) as conn:
        for pragma in ("journal_mode=WAL", "synchronous=FULL"):
            await conn.execute(f"PRAGMA {pragma}")
        await conn.execute("CREATE TABLE t (a INTEGER PRIMARY KEY, b INTEGER, c INTEGER)")
        start = time.perf_counter()
        for i in range(rows):
            await conn.execute("BEGIN IMMEDIATE")
            await conn.execute("INSERT INTO t VALUES (?, ?, ?)", (i, i % 3, 0))
            await conn.execute("COMMIT")
        return rows / (time.perf_counter() - start)


async def _raw_pg(url: str, rows: int) -> float:
    pool = await asyncpg.create_pool(url.replace("postgresql+asyncpg", "postgresql"), min_size=10, max_size=30)
    async with pool.acquire() as conn:
        await conn.execute("CREATE TABLE t (a INTEGER PRIMARY KEY, b INTEGER, c INTEGER)")

    async def one(i):
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute("INSERT INTO t VALUES ($1, $2, $3)", i, i % 3, 0)

    start = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(rows)))
    rate = rows / (time.perf_counter() - start)
    await pool.close()
    return rate


async def b3(runs: int = 3, votes: int = 2000) -> dict:
    """B3: votes recorded per second in a burst, against the raw driver's one row per transaction."""
    figures = {}
    for backend in ("sqlite", "postgresql"):
        ours, floor = [], []
        for _ in range(runs):
            if backend == "sqlite":
                with tempfile.TemporaryDirectory() as d:
                    ours.append(await _votes_per_second(f"sqlite:///{d}/bench.db", votes))
                with tempfile.TemporaryDirectory() as d:
                    floor.append(await _raw_sqlite(Path(d) / "raw.db", votes))
            else:
                name, url = await _fresh_pg()
                try:
                    ours.append(await _votes_per_second(url, votes))
                finally:
                    await _drop_pg(name)
                name, url = await _fresh_pg()
                try:
                    floor.append(await _raw_pg(url, votes))
                finally:
                    await _drop_pg(name)
        value, base = statistics.median(ours), statistics.median(floor)
        figures[backend] = {"votes_per_s": round(value, 1), "floor_rows_per_s": round(base, 1),
                            "ratio": round(value / base, 3), "target": ">= 1.0", "met": value / base >= 1.0,
                            "runs": {"ours": [round(v, 1) for v in ours], "floor": [round(v, 1) for v in floor]}}
    rows = [{"figure": f"{backend}: votes/s in a burst of {votes:,} (floor: raw driver)",
             "value": f["votes_per_s"], "floor": f["floor_rows_per_s"], "ratio": f["ratio"],
             "target": ">= 1.0 x floor", "met": f["met"]} for backend, f in figures.items()]
    return {"rows": rows, "runs": runs, **figures,
            "notes": "Floor: the same driver committing one 3-column row per transaction with the same durability "
                     "(SQLite WAL + synchronous=FULL; PostgreSQL defaults, 30 connections). Ours: each vote with its "
                     "platform event id, duplicate check, register check, ballot and log row."}


async def b4(sizes=(1000, 10000, 100000), probe: int = 200) -> dict:
    """B4: the cost of one vote and of a close as a proposal grows; listing 10,000 proposals."""
    out = {"per_vote_ms": {}, "close_ms": {}}
    for size in sizes:
        with tempfile.TemporaryDirectory() as d:
            db = Database(f"sqlite:///{d}/scale.db")
            await db.upgrade()
            stores = Stores.over(db)
            _, (pid,), members = await _seed(stores, size + probe)
            async with db.write() as s:
                await s.execute(text(
                    "INSERT INTO ballot (proposal_id, member_id, option, cast_at, event_id) VALUES (:p, :m, :o, :t, 0)"),
                    [{"p": pid, "m": m, "o": i % 3, "t": NOW.replace(tzinfo=None)} for i, m in enumerate(members[:size])])
            durations = []  # one at a time, so each is one vote's own transaction; the median resists noise
            for i, m in enumerate(members[size:]):
                start = time.perf_counter()
                await stores.votes.submit(VoteOp(pid, i % 3, NOW, member_id=m), refusal)
                durations.append(time.perf_counter() - start)
            out["per_vote_ms"][size] = round(statistics.median(durations) * 1000, 3)
            start = time.perf_counter()
            await stores.proposals.close(pid, now=NOW, by=None, reason=None, decide=_decide, render=lambda p: "result")
            out["close_ms"][size] = round((time.perf_counter() - start) * 1000, 1)
            await db.dispose()
    with tempfile.TemporaryDirectory() as d:
        db = Database(f"sqlite:///{d}/list.db")
        await db.upgrade()
        stores = Stores.over(db)
        coop_id, _, members = await _seed(stores, 10, proposals=0)
        async with db.write() as s:
            await s.execute(text(
                "INSERT INTO proposal (coop_id, number, title, body, author_id, kind, ballot, options, rule, opened_at, "
                "closes_at, status, electorate_size) VALUES (:c, :n, 't', '', :a, 'ordinary', 'open', :o, "
                "'{}', :t, :e, 'open', 10)"),
                [{"c": coop_id, "n": n, "a": members[0], "o": '["For"]', "t": NOW.replace(tzinfo=None),
                  "e": (NOW + timedelta(days=3)).replace(tzinfo=None)} for n in range(1, 10001)])
        start = time.perf_counter()
        listed = await stores.proposals.open_with_votes_of(coop_id, members[0])
        out["list_10000_ms"] = round((time.perf_counter() - start) * 1000, 1)
        assert len(listed) == 10000
        await db.dispose()
    small, large = out["per_vote_ms"][sizes[0]], out["per_vote_ms"][sizes[-1]]
    out["ratio_100k_vs_1k"] = round(large / small, 3)
    close = out["close_ms"][sizes[-1]]
    rows = [{"figure": f"ms per vote with {size:,} votes on the proposal", "value": ms,
             "floor": small if size != sizes[0] else None, "ratio": round(ms / small, 3) if size != sizes[0] else None,
             "target": "<= 1.3 x at 1,000" if size == sizes[-1] else None,
             "met": large <= 1.3 * small if size == sizes[-1] else None} for size, ms in out["per_vote_ms"].items()]
    rows += [{"figure": f"ms to close a proposal with {size:,} votes", "value": ms,
              "target": "<= 1,000 ms" if size == sizes[-1] else None,
              "met": close <= 1000 if size == sizes[-1] else None} for size, ms in out["close_ms"].items()]
    rows.append({"figure": "ms to list a co-op's 10,000 open proposals", "value": out["list_10000_ms"]})
    out["targets"] = {"per_vote_100k_le_1.3x_1k": large <= 1.3 * small, "close_100k_le_1s": close <= 1000}
    out["rows"] = rows
    out["notes"] = "Floor for the per-vote cost: the same vote at 1,000 votes (the issue's ratio)."
    return out
