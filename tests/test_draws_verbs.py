"""Draws through the core: announce, shuffle, reveal and pick at the draw time, exactly once, and
replayed by the test's own few lines written from the SPEC text (not handlers/draws.py)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import signal
import subprocess
import time
from datetime import timedelta

from sqlalchemy import select, update

from handlers.router import Governance
from schedules.due import next_due, run_due
from schedules.state import DueState
from storage.db import Database
from storage.models import Draw, GovernanceEvent, Outbox
from storage.stores import Stores
from tests.conftest import EVERY_PLATFORM, Chat, FakeClock, make_coop
from tests.test_console import COOPBOT, env_for


def spec_picks(secret_hex: str, contributions: list[str], pool: list[str], seats: int) -> list[str]:
    """SPEC 'Draws anyone can replay', steps 3 and 4, written here from the text."""
    k = hashlib.sha256((secret_hex + "\n" + "\n".join(contributions)).encode("utf-8")).digest()
    left, seated = list(pool), []
    for j in range(1, seats + 1):
        if not left:
            break
        h = hashlib.sha256(k + j.to_bytes(4, "big")).digest()
        seated.append(left.pop(int.from_bytes(h, "big") % len(left)))
    return seated


def posted_pool(announcement: str) -> list[str]:
    block = announcement.split("Pool, in register order:\n", 1)[1]
    return [m.group(1) for m in re.finditer(r"^\d+\. (.+)$", block.split("\n\n")[0].split("Commitment")[0], re.M)]


def posted(pattern: str, text: str) -> str:
    found = re.search(pattern, text)
    assert found, f"{pattern!r} not in {text!r}"
    return found.group(1)


async def tick(chat: Chat) -> list[str]:
    await run_due(chat.gov.stores, chat.gov.clock.now(), chat.gov.before_close)
    return await chat.drain()


async def events(stores, kind: str) -> list[GovernanceEvent]:
    async with stores.db.read() as s:
        stmt = select(GovernanceEvent).where(GovernanceEvent.kind == kind).order_by(GovernanceEvent.id)
        return list((await s.execute(stmt)).scalars())


async def test_a_draw_announced_shuffled_and_drawn_replays_from_what_was_posted(chat, clock):
    """Announce, two shuffles posted, `draw D1` shows the inputs; at the draw time the secret is
    revealed and the picks are what the SPEC's few lines give from the posted values."""
    names = await make_coop(chat, 5)
    assert await chat.say("alice", "/draw 2 facilitators\n  at: 30m") == ""
    announcement = chat.last
    assert announcement.startswith("Draw D1: 2 seats for facilitators")
    pool = posted_pool(announcement)
    assert pool == names  # every active member, in register order
    commitment = posted(r"sha256\(secret\) = ([0-9a-f]{64})", announcement)
    assert "Nobody is excluded." in announcement and "/shuffle D1" in announcement

    await chat.say("m2", "/shuffle D1 the price of bread today")
    assert chat.last == "Shuffle 1 for D1, from m2: the price of bread today"
    await chat.say("m4", "/shuffle 1 7 3 1 9")
    assert chat.last == "Shuffle 2 for D1, from m4: 7 3 1 9"

    shown = await chat.say("m1", "/draw D1")
    assert commitment in shown and "1. m2: the price of bread today" in shown and "2. m4: 7 3 1 9" in shown
    assert "the secret is shown then" in shown and "Secret:" not in shown
    assert await chat.say("m1", "/draw 1") == shown

    clock.advance(minutes=29)
    assert await tick(chat) == []
    assert await next_due(chat.gov.stores, clock.now(), DueState()) == clock.now() + timedelta(minutes=1)
    clock.advance(minutes=1)
    [result] = await tick(chat)
    secret = posted(r"The secret: ([0-9a-f]{64})", result)
    assert hashlib.sha256(bytes.fromhex(secret)).hexdigest() == commitment
    expected = spec_picks(secret, ["the price of bread today", "7 3 1 9"], pool, 2)
    seated = re.findall(r"^(\d+)\. (.+)$", result.split("Seated, in the order drawn:\n")[1], re.M)
    assert [name for _, name in seated] == expected
    assert [int(n) for n, _ in seated] == [pool.index(name) + 1 for name in expected]

    shown = await chat.say("m3", "/draw D1")
    assert f"Secret: {secret}" in shown and "import hashlib" in shown
    snippet = shown.split("Replay it in Python (it prints the seats, numbered as in the pool):\n", 1)[1]
    out = subprocess.run(["python3", "-c", snippet], capture_output=True, text=True, timeout=30)
    assert out.stdout.split("\n")[:2] == [f"{pool.index(n) + 1}. {n}" for n in expected]

    [announced] = await events(chat.gov.stores, "draw_announced")
    assert [p["name"] for p in announced.data["pool"]] == pool and announced.data["commitment"] == commitment
    assert "secret" not in announced.data
    [drawn] = await events(chat.gov.stores, "draw_drawn")
    assert drawn.data["secret"] == secret and drawn.data["contributions"] == ["the price of bread today", "7 3 1 9"]
    assert [s["name"] for s in drawn.data["seated"]] == expected

    # Exactly once: later runs draw nothing more.
    clock.advance(minutes=5)
    assert await tick(chat) == []


async def test_a_shuffle_after_the_draw_time_is_refused(chat, clock):
    await make_coop(chat, 2)
    await chat.say("alice", "/draw 1 note taker\n  at: 5m")
    clock.advance(minutes=5)
    reply = await chat.say("m1", "/shuffle D1 too late")
    assert "draw time" in reply and "no more shuffles" in reply
    await tick(chat)
    assert "no more shuffles" in await chat.say("m1", "/shuffle D1 still too late")
    assert not await chat.gov.stores.draws.contributions(1)


async def test_only_a_steward_announces_and_bad_input_is_answered(chat, clock):
    await make_coop(chat, 2)
    assert "Only a steward" in await chat.say("m1", "/draw 1 auditors")
    assert "comes with affiliated organisations" in await chat.say("alice", "/draw 1 auditors\n  from: allies")
    assert "at least one seat" in await chat.say("alice", "/draw 0 auditors")
    assert "at least 1m" in await chat.say("alice", "/draw 1 auditors\n  at: 30s")
    assert "at most 30d" in await chat.say("alice", "/draw 1 auditors\n  at: 31d")
    assert "has no draw D4" in await chat.say("m1", "/draw D4")
    assert "has no draw D1" in await chat.say("m1", "/shuffle D1 hello")
    assert await chat.gov.stores.draws.get(1, 1) is None


async def test_cooldown_excludes_those_seated_last_with_the_reason(chat, clock):
    names = await make_coop(chat, 3)
    await chat.say("alice", "/draw 2 auditors\n  at: 1m")
    clock.advance(minutes=1)
    await tick(chat)
    first = await chat.gov.stores.draws.get(1, 1)
    seated = [s["name"] for s in first.result["seated"]]
    await chat.say("alice", "/draw 1 auditors\n  cooldown: 1")
    announcement = chat.last
    assert posted_pool(announcement) == [n for n in names if n not in seated]
    for name in seated:
        assert f"- {name}: seated in D1 (auditors)" in announcement
    # Another purpose's draws do not count.
    await chat.say("alice", "/draw 1 note taker\n  cooldown: 1")
    assert posted_pool(chat.last) == names


async def test_run_due_twice_and_in_two_governances_draws_once(tmp_path):
    """Two bots on one database run their clocks at the same moment: the draw is made once."""
    url = f"sqlite:///{tmp_path / 'coopbot.db'}"
    first, second = Database(url), Database(url)
    await first.upgrade()
    clock = FakeClock()
    a, b = Stores.over(first), Stores.over(second)
    chat = Chat(Governance(a, clock, before_close=EVERY_PLATFORM))
    await make_coop(chat, 3)
    await chat.say("alice", "/draw 2 red team\n  at: 10m")
    now = clock.now() + timedelta(minutes=10)
    await asyncio.gather(*(run_due(s, now, EVERY_PLATFORM) for s in (a, b, a, b)))
    await run_due(b, now + timedelta(minutes=1), EVERY_PLATFORM)
    assert len(await events(a, "draw_drawn")) == 1
    assert [t for t in await chat.drain() if t.startswith("Result of draw D1")] != []
    async with first.read() as s:
        rows = (await s.execute(select(Outbox).where(Outbox.kind == "draw_drawn"))).scalars().all()
    assert len(rows) == 1
    await first.dispose()
    await second.dispose()


def _console(tmp_path, typed: str, done) -> subprocess.Popen:
    """The real `coopbot console` on tmp_path's database, `typed` sent, read until `done(output)`
    (or a minute); returns the process and what it printed so far."""
    proc = subprocess.Popen(COOPBOT + ["console"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, cwd=tmp_path, env=env_for(tmp_path))
    proc.stdin.write(typed)
    proc.stdin.flush()
    out, deadline = "", time.monotonic() + 60
    while not done(out) and time.monotonic() < deadline:
        out += proc.stdout.readline()
    return proc, out


def test_a_draw_survives_a_kill_and_is_drawn_once_at_restart_with_the_committed_secret(tmp_path):
    """The real console announces a draw and is killed before its time; time passes while it is
    down (the test moves the stored draw time back rather than sleep); the restarted console draws
    it at start, once, with the secret it committed to before the kill."""
    proc, seen = _console(tmp_path, "/setup Quick\n/admit bob\n/admit carol\n/draw 1 facilitator\n  at: 1h\n",
                          lambda out: "Commitment" in out)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    commitment = posted(r"sha256\(secret\) = ([0-9a-f]{64})", seen)

    async def while_down():
        db = Database(f"sqlite:///{tmp_path / 'data' / 'coopbot.db'}")
        async with db.write() as s:
            d = (await s.execute(select(Draw))).scalar_one()
            assert d.status == "announced"
            d.draw_at -= timedelta(hours=2)
            # Two hours on, the delivery lease the killed process held on the announcement is over too.
            await s.execute(update(Outbox).values(claimed_until=None, claimed_by=None))
        await db.dispose()

    asyncio.run(while_down())

    def restart() -> str:
        proc, out = _console(tmp_path, "/draw D1\n",
                             lambda out: "Replay it in Python" in out or "the secret is shown then" in out)
        try:
            time.sleep(2)  # a second draw, if there were one, would be printed by now
        finally:
            proc.stdin.close()
            out += proc.stdout.read()
            proc.wait(timeout=30)
        return out

    first, second = restart(), restart()
    assert first.count("Result of draw D1") == 1 and "Result of draw D1" not in second
    secret = posted(r"The secret: ([0-9a-f]{64})", first)
    assert hashlib.sha256(bytes.fromhex(secret)).hexdigest() == commitment
    assert f"Secret: {secret}" in second


async def test_an_export_replays_every_draw_and_a_changed_one_fails_verify(chat, tmp_path):
    """`coopbot export` carries each draw as announced and, once drawn, its secret, contributions
    and seats; `verify` replays it. A draw not yet made shows no secret. Changing a seat or the
    secret in the export makes `verify` say which draw does not hold."""
    import copy

    from bot import export
    from bot.verify import problems

    await make_coop(chat, 5)
    await chat.say("alice", "/draw 2 facilitators\n  at: 30m")
    await chat.say("m2", "/shuffle D1 the price of bread today")
    await chat.say("alice", "/draw 1 red team\n  at: 2h")
    chat.gov.clock.advance(minutes=31)
    await run_due(chat.gov.stores, chat.gov.clock.now(), chat.gov.before_close)
    data = await export.collect(chat.gov.stores)
    drawn, waiting = data["coops"][0]["draws"]
    assert drawn["status"] == "drawn" and len(drawn["result"]) == 2 and drawn["contributions"] == ["the price of bread today"]
    assert waiting["status"] == "announced" and "secret" not in waiting
    assert problems(data) == []
    for change in (lambda d: d["result"].reverse(), lambda d: d.update(secret="00" * 32)):
        tampered = copy.deepcopy(data)
        change(tampered["coops"][0]["draws"][0])
        assert any("draw D1" in line for line in problems(tampered))
    # The README's standalone verifier replays the draw from the minutes: ok as exported; a leaf's
    # seats changed (hash and head recomputed, as a careful forger would) do not replay.
    from tests.test_minutes_log import run_readme_verifier

    assert run_readme_verifier(tmp_path, data).stdout.strip() == "ok"
    import json

    from storage import merkle

    forged = copy.deepcopy(data)
    minutes = forged["coops"][0]["minutes"]
    for leaf in minutes["leaves"]:
        record = json.loads(leaf["record"])
        if record["kind"] == "draw_drawn":
            record["data"]["seated"].reverse()
            leaf["record"] = merkle.canonical(record).decode("utf-8")
            leaf["leaf"] = merkle.leaf_hash(record).hex()
    minutes["head"] = merkle.root([bytes.fromhex(leaf["leaf"]) for leaf in minutes["leaves"]]).hex()
    minutes["posted"], minutes["witnessed"] = [], []
    assert "draw D1 does not replay" in run_readme_verifier(tmp_path, forged).stdout
    assert any("draw D1" in line for line in problems(forged))


async def test_one_member_cannot_flood_the_rooms_with_shuffles(chat):
    """Every shuffle is posted in every room: a member gets three per draw, then a clear refusal,
    and nothing more is posted or added."""
    await make_coop(chat, 2)
    await chat.say("alice", "/draw 1 note taker\n  at: 30m")
    for i in range(3):
        await chat.say("m1", f"/shuffle D1 noise {i}")
        assert chat.last == f"Shuffle {i + 1} for D1, from m1: noise {i}"
    assert "3 shuffles one member may" in await chat.say("m1", "/shuffle D1 noise 3")
    assert await chat.drain() == []
    d = await chat.gov.stores.draws.get(1, 1)
    assert len(await chat.gov.stores.draws.contributions(d.id)) == 3
    await chat.say("m2", "/shuffle D1 mine")  # another member still may
    assert chat.last == "Shuffle 4 for D1, from m2: mine"
