"""The minutes as members meet them: leaves written with what they record, the head at the end of
each result, `minutes` and `witness`, the start check, `coopbot verify` and the README's verifier."""

from __future__ import annotations

import asyncio
import copy
import json
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select, update

from bot import export
from bot.runner import check_minutes
from bot.verify import problems
from storage import merkle
from storage.minutes import Inconsistent
from storage.models import GovernanceEvent, Minute, PostedHead, Proposal
from tests.conftest import Chat, make_coop
from tests.fakes.telegram_api import FakeBotAPI
from tests.test_console import COOPBOT, ROOT, console, env_for

HEAD = re.compile(r"Minutes (\d+) · ([0-9a-f]{16})$")


def readme_verifier() -> str:
    """The standalone verifier, exactly as the README gives it."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Checking the minutes"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def run_readme_verifier(tmp_path: Path, data: dict) -> subprocess.CompletedProcess:
    (tmp_path / "check_minutes.py").write_text(readme_verifier(), encoding="utf-8")
    (tmp_path / "export.json").write_text(json.dumps(data), encoding="utf-8")
    return subprocess.run([sys.executable, "-I", "check_minutes.py", "export.json"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)


async def decided(chat: Chat) -> None:
    """A co-op with one closed open-ballot proposal and one closed secret ballot."""
    names = await make_coop(chat, 3)
    await chat.say("alice", "/propose Buy a van")
    await chat.say("alice", "/propose Hire a baker\n  ballot: secret")
    for who, option in zip(names, ["For", "For", "Against", "Abstain"]):
        await chat.say(who, f"/vote 1 {option}")
        await chat.say(who, f"/vote 2 {option}")
    await chat.say("alice", "/close 1 done")
    await chat.say("alice", "/close 2 done")


class Services:  # what check_minutes needs of bot.services.Services
    def __init__(self, stores) -> None:
        self.stores = stores


async def test_a_result_ends_with_the_head_after_its_own_leaf(chat):
    """The close's leaf is in the head the result shows, and that head is recorded as posted."""
    await decided(chat)
    results = [t for t in chat.announced if t.startswith("Result of #")]
    assert len(results) == 2
    stores = chat.gov.stores
    coop = (await stores.coops.list())[0]
    leaves = await stores.minutes.leaves(coop.id)
    assert [m.kind for m in leaves] == ["proposal_opened", "proposal_opened", "proposal_closed", "proposal_closed"]
    hashes = [bytes.fromhex(m.leaf) for m in leaves]
    for result, size in zip(results, (3, 4)):
        size_shown, short = HEAD.search(result).groups()
        assert int(size_shown) == size and merkle.root(hashes[:size]).hex()[:16] == short
    assert [(h.size, h.root) for h in await stores.minutes.posted(coop.id)] == [
        (3, merkle.root(hashes[:3]).hex()), (4, merkle.root(hashes).hex())]
    # `show` of a closed proposal tells the same head.
    assert HEAD.search(await chat.say("m1", "/show 1")).group(1) == "3"
    # The secret ballot's leaf holds the tally, never a choice.
    secret = json.loads(leaves[3].record)
    assert secret["data"]["result"]["counts"] == [2, 1, 1] and "option" not in leaves[3].record


async def test_minutes_and_witness(chat):
    await decided(chat)
    coop = (await chat.gov.stores.coops.list())[0]
    head = await chat.gov.stores.minutes.head(coop.id)
    said = await chat.say("m1", "/minutes")
    assert head.root in said and "4 records" in said and "coopbot verify" in said
    assert "No member has witnessed" in said
    assert "at least 8" in await chat.say("m1", "/witness 3f2a")
    assert "hexadecimal" in await chat.say("m1", "/witness zzzzzzzzz")
    unposted = next(p for p in ("00000000", "ffffffff") if not head.root.startswith(p))
    assert "never announced" in await chat.say("m1", f"/witness {unposted}")
    said = await chat.say("m1", f"/witness {head.root[:10].upper()}")
    assert said.startswith("Witnessed") and head.root[:16] in said
    assert "Only members" in await chat.say("mallory", f"/witness {head.root[:10]}")
    assert "Last head witnessed: Minutes 4" in await chat.say("m2", "/minutes")
    assert [(w.size, w.root) for w in await chat.gov.stores.minutes.witnessed(coop.id)] == [(4, head.root)]


async def test_an_ambiguous_prefix_is_refused(chat, stores):
    await decided(chat)
    coop = (await stores.coops.list())[0]
    async with stores.db.write() as s:  # two posted heads sharing 8 characters (as if by chance)
        s.add(PostedHead(coop_id=coop.id, size=1, root="abcdef01" + "0" * 56, at=chat.gov.clock.now()))
        s.add(PostedHead(coop_id=coop.id, size=2, root="abcdef01" + "1" * 56, at=chat.gov.clock.now()))
    assert "more than one" in (await chat.say("m1", "/witness abcdef01")).lower()


async def tampered(stores, what: str) -> None:
    """Change what is stored behind the bot's back, as an operator with the database could."""
    coop = (await stores.coops.list())[0]
    async with stores.db.write() as s:
        if what == "vote":  # a vote on the closed open ballot, in the event log
            event = (await s.execute(select(GovernanceEvent).where(GovernanceEvent.kind == "vote_cast")
                                     .order_by(GovernanceEvent.id).limit(1))).scalar_one()
            event.data = {**event.data, "option": 1 - event.data["option"]}
        elif what == "result":
            p = (await s.execute(select(Proposal).where(Proposal.coop_id == coop.id, Proposal.number == 1))).scalar_one()
            p.result = {**p.result, "passed": not p.result["passed"]}
        elif what == "leaf":  # rewritten with a hash that fits it: only the posted heads tell
            m = (await s.execute(select(Minute).where(Minute.coop_id == coop.id, Minute.seq == 0))).scalar_one()
            record = {**json.loads(m.record), "at": "2020-01-01T00:00:00+00:00"}
            await s.execute(update(Minute).where(Minute.coop_id == coop.id, Minute.seq == 0).values(
                record=merkle.canonical(record).decode(), leaf=merkle.leaf_hash(record).hex()))


async def test_untouched_minutes_pass_the_start_check_and_verify(chat, tmp_path):
    await decided(chat)
    await check_minutes(Services(chat.gov.stores))
    data = await export.collect(chat.gov.stores)
    assert problems(data) == []
    done = run_readme_verifier(tmp_path, data)
    assert (done.returncode, done.stdout) == (0, "ok\n"), done.stderr


async def test_tampering_stops_the_start_and_fails_verify(chat, tmp_path):
    """A changed vote, result or leaf: the start check refuses in one line naming the co-op and a
    size; `verify` on an export made since says what does not hold."""
    await decided(chat)
    stores = chat.gov.stores
    for what, size in (("vote", 3), ("result", 3), ("leaf", 1)):
        before = copy.deepcopy(await export.collect(stores))
        await tampered(stores, what)
        try:
            await check_minutes(Services(stores))
        except Inconsistent as exc:
            message = str(exc)
        else:
            raise AssertionError(f"a changed {what} passed the start check")
        assert "\n" not in message and "Red Bakery" in message and f"at size {size} " in message, message
        assert problems(await export.collect(stores)), what
        await tampered(stores, what)  # a vote and a result flip back; the leaf stays changed
    assert problems(before) == []
    # The README's verifier sees the changed leaf too: the posted heads no longer match.
    done = run_readme_verifier(tmp_path, await export.collect(stores))
    assert done.returncode == 1 and "does not match" in done.stdout


def test_tampered_export_fails_verify_and_the_readme_verifier(tmp_path):
    """`coopbot verify` and the README's verifier on a real export: ok; a record changed in the
    file, with or without its hash, fails both."""
    done = console(tmp_path, "/setup Red Bakery\n/admit bob\n/propose Buy a van\n/vote 1 For\nbob: /vote 1 For\n"
                             "/close 1 done\n")
    assert done.returncode == 0 and "Minutes 2 · " in done.stdout, done.stderr
    exported = subprocess.run(COOPBOT + ["export", "--format", "json"], capture_output=True, text=True, cwd=tmp_path,
                              env=env_for(tmp_path), timeout=60)
    data = json.loads(exported.stdout)

    def verify(d: dict) -> subprocess.CompletedProcess:
        (tmp_path / "e.json").write_text(json.dumps(d), encoding="utf-8")
        return subprocess.run(COOPBOT + ["verify", "e.json"], capture_output=True, text=True, cwd=tmp_path,
                              env=env_for(tmp_path), timeout=60)

    ok = verify(data)
    assert (ok.returncode, ok.stdout) == (0, "ok\n"), ok.stderr
    assert run_readme_verifier(tmp_path, data).stdout == "ok\n"
    leaves = data["coops"][0]["minutes"]["leaves"]
    record = json.loads(leaves[1]["record"])
    record["data"]["result"]["counts"] = [0, 2, 0]
    changed = copy.deepcopy(data)
    changed["coops"][0]["minutes"]["leaves"][1]["record"] = merkle.canonical(record).decode()
    rehashed = copy.deepcopy(changed)
    rehashed["coops"][0]["minutes"]["leaves"][1]["leaf"] = merkle.leaf_hash(record).hex()
    for bad in (changed, rehashed):
        failed = verify(bad)
        assert failed.returncode == 1 and failed.stdout.strip() and "ok" != failed.stdout.strip(), failed.stdout
        assert all(line.startswith("Red Bakery: ") for line in failed.stdout.splitlines())
        assert run_readme_verifier(tmp_path, bad).returncode == 1
    vote = copy.deepcopy(data)
    vote["coops"][0]["proposals"][0]["votes"][0]["option"] = "Against"
    assert "votes do not add up" in verify(vote).stdout


async def test_coopbot_run_refuses_to_start_on_changed_minutes(tmp_path):
    """Through the real entry point, on the fake Bot API: a vote changed in the database after the
    result was posted stops `coopbot run` in one line, exit 2, no traceback, before any Telegram call."""
    done = console(tmp_path, "/setup Red Bakery\n/admit bob\n/propose Buy a van\n/vote 1 For\nbob: /vote 1 For\n"
                             "/close 1 done\n")
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(tmp_path / "data" / "coopbot.db") as db:
        db.execute("UPDATE governance_event SET data = json_set(data, '$.option', 1) WHERE kind = 'vote_cast'")
    async with FakeBotAPI() as api:
        env = env_for(tmp_path)
        env.update(COOPBOT_TELEGRAM_TOKEN=api.token, COOPBOT_TELEGRAM_API_URL=api.url)
        run = await asyncio.to_thread(subprocess.run, COOPBOT + ["run"], capture_output=True, text=True,
                                      cwd=tmp_path, env=env, timeout=60)
        assert api.calls == []
    assert run.returncode == 2
    assert run.stderr.strip().count("\n") == 0 and "Traceback" not in run.stderr, run.stderr
    assert "minutes of Red Bakery are inconsistent at size 2" in run.stderr


async def test_two_closes_of_one_coop_at_once_get_distinct_leaves(chat):
    """Two closes of different proposals racing: each leaf has its own place, the edge agrees."""
    await make_coop(chat, 2)
    await chat.say("alice", "/propose One")
    await chat.say("alice", "/propose Two")
    stores = chat.gov.stores
    coop = (await stores.coops.list())[0]
    now = chat.gov.clock.now()

    async def close(number: int):
        p = await stores.proposals.get(coop.id, number)
        return await stores.proposals.close(p.id, now=now, by=None, reason=None,
                                            decide=lambda q, counts, *_: {"counts": counts}, render=lambda q: "")

    closed = await asyncio.gather(close(1), close(2))
    leaves = await stores.minutes.leaves(coop.id)
    assert [m.seq for m in leaves] == [0, 1, 2, 3]
    assert sorted(p.result["minutes"][0] for p in closed) == [3, 4]
    head = await stores.minutes.head(coop.id)
    assert head.root == merkle.root([bytes.fromhex(m.leaf) for m in leaves]).hex()
    await check_minutes(Services(stores))


async def test_draw_kinds_are_leaves_logged_in_the_callers_transaction(chat):
    """What the draws feature logs through storage.common.log becomes a leaf; a rolled-back
    transaction leaves neither the event nor the leaf."""
    from storage.common import log

    await make_coop(chat, 1)
    stores = chat.gov.stores
    coop = (await stores.coops.list())[0]
    now = chat.gov.clock.now()
    async with stores.db.write() as s:
        await log(s, coop.id, "draw_announced", now, number=1, seats=2, commitment="ab" * 32)
        await log(s, coop.id, "join_requested", now)  # not a leaf
    with pytest.raises(RuntimeError):
        async with stores.db.write() as s:
            await log(s, coop.id, "draw_drawn", now, number=1, result=["alice"])
            raise RuntimeError("rolled back")
    async with stores.db.write() as s:
        await log(s, coop.id, "draw_drawn", now, number=1, result=["alice", "m1"])
    leaves = await stores.minutes.leaves(coop.id)
    assert [(m.seq, m.kind) for m in leaves] == [(0, "draw_announced"), (1, "draw_drawn")]
    assert json.loads(leaves[1].record) == {"kind": "draw_drawn", "at": now.isoformat(), "coop": coop.id,
                                            "data": {"number": 1, "result": ["alice", "m1"]}}
    # Records that do not replay (no secret, no pool) are found by the start check, by leaf.
    with pytest.raises(Inconsistent, match="at size 2 .*draw D1: its records cannot be replayed"):
        await check_minutes(Services(stores))


async def test_a_draw_whose_secret_was_swapped_after_the_announcement_stops_the_start(chat):
    """The operator rewrites a draw's secret and commitment in its row before the draw time, to
    seat someone else: the draw goes ahead on the row, but its minutes say another commitment was
    announced, so the start check and verify both refuse it."""
    import hashlib

    from sqlalchemy import update

    from bot import export
    from bot.verify import problems
    from schedules.due import run_due
    from storage.models import Draw

    await make_coop(chat, 4)
    await chat.say("alice", "/draw 1 facilitators\n  at: 30m")
    forged = "11" * 32
    async with chat.gov.stores.db.write() as s:
        await s.execute(update(Draw).values(secret=forged,
                                            commitment=hashlib.sha256(bytes.fromhex(forged)).hexdigest()))
    chat.gov.clock.advance(minutes=31)
    await run_due(chat.gov.stores, chat.gov.clock.now(), chat.gov.before_close)
    assert "Minutes" in chat.announced[-1] or "Minutes" in "\n".join(await chat.drain())
    with pytest.raises(Inconsistent, match="draw D1: the secret revealed is not the one committed to"):
        await check_minutes(Services(chat.gov.stores))
    assert any("draw D1: the secret revealed is not the one committed to" in line
               for line in problems(await export.collect(chat.gov.stores)))
