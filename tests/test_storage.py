"""The storage layer on a SQLite file and on PostgreSQL: schema guards, races, recounts."""

import asyncio
from datetime import timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.script import ScriptDirectory
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import select, text, update
from sqlalchemy.exc import IntegrityError

from handlers.events import CommandReceived, VoteCast
from handlers.types import ChatRef, UserRef
from handlers.votes import refusal
from storage.db import alembic_config
from storage.models import Ballot, GovernanceEvent, SQLModel
from storage.votes import VoteOp
from storage.db import alembic_config
from tests.conftest import Chat, make_coop

HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()  # the newest migration


async def test_migrations_build_exactly_the_models(db):
    """The Alembic migrations and the SQLModel tables describe the same schema."""

    def diff(connection):
        return compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)

    async with db.writer.connect() as conn:
        assert await conn.run_sync(diff) == []


HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()


async def test_upgrade_twice_is_harmless(db):
    """`coopbot db upgrade` on an up-to-date database changes nothing."""
    await db.upgrade()
    async with db.read() as s:
        assert (await s.execute(text("SELECT version_num FROM alembic_version"))).scalar_one() == HEAD


async def _coop_with_proposal(gov, members: int) -> tuple[Chat, int]:
    chat = Chat(gov)
    await make_coop(chat, members)
    await chat.say("alice", "/propose Race")
    proposal = (await gov.stores.proposals.list(1))[0]
    return chat, proposal.id


async def test_one_current_vote_is_a_database_constraint(gov):
    """Two ballots for one member and proposal are refused by the schema itself, even when
    two writers insert them at the same moment."""
    chat, pid = await _coop_with_proposal(gov, 2)
    member = (await gov.stores.members.register(1))[1]
    db = gov.stores.db

    async def raw_insert(option):
        async with db.write() as s:
            s.add(Ballot(proposal_id=pid, member_id=member.id, option=option, cast_at=gov.clock.now(), event_id=0))

    outcomes = await asyncio.gather(raw_insert(0), raw_insert(1), return_exceptions=True)
    assert sum(isinstance(o, IntegrityError) for o in outcomes) == 1
    assert sum(o is None for o in outcomes) == 1
    assert len(await gov.stores.votes.ballots(pid)) == 1


async def test_race_of_200_votes(gov):
    """200 concurrent votes, 50 of them a member voting a second time at the same moment:
    every vote is answered, each member has exactly one current vote, and the stored tally
    equals a recount from the event log."""
    members = 150
    chat, pid = await _coop_with_proposal(gov, members - 1)
    names = [m.display_name for m in await gov.stores.members.register(1)]
    assert len(names) == members
    room = ChatRef("console", "general")

    def tap(name, option, n):
        return gov.handle_vote(VoteCast(room, UserRef("console", name, name), pid, option, f"tap-{n}"))

    taps = [tap(name, i % 3, i) for i, name in enumerate(names)]
    taps += [tap(name, (i + 1) % 3, members + i) for i, name in enumerate(names[:50])]  # same members again
    replies = await asyncio.gather(*taps)
    assert len(replies) == 200
    for reply in replies:
        assert len(reply) == 1 and reply[0].text.split(":")[0] in ("Recorded", "Changed", "Already recorded")
    ballots = await gov.stores.votes.ballots(pid)
    assert sorted(b.member_id for b in ballots) == sorted({b.member_id for b in ballots})
    assert len(ballots) == members
    counts = await gov.stores.proposals.counts(pid, 3)
    assert sum(counts) == members
    assert counts == await gov.stores.proposals.recount(pid, 3)
    # The current vote of each double voter is the one its last logged event names.
    async with gov.stores.db.read() as s:
        rows = (await s.execute(select(GovernanceEvent).where(GovernanceEvent.proposal_id == pid)
                                .order_by(GovernanceEvent.id))).scalars().all()
    last = {}
    for event in rows:
        if event.kind in ("vote_cast", "vote_changed"):
            last[event.member_id] = event.data["option"]
    assert {b.member_id: b.option for b in ballots} == last


async def test_close_racing_votes_counts_every_acknowledged_vote(gov):
    """A steward closes while votes pour in: every vote acknowledged as recorded is in the
    result, and every vote after the close is refused."""
    chat, pid = await _coop_with_proposal(gov, 79)
    names = [m.display_name for m in await gov.stores.members.register(1)]
    room = ChatRef("console", "general")
    votes = [gov.handle_vote(VoteCast(room, UserRef("console", n, n), pid, 0)) for n in names[:40]]
    close = gov.handle_command(CommandReceived(room, UserRef("console", "alice", "alice"), "/close 1 race"))
    later = [gov.handle_vote(VoteCast(room, UserRef("console", n, n), pid, 0)) for n in names[40:]]
    replies = await asyncio.gather(*votes, close, *later)
    acknowledged = sum(1 for r in replies if r and r[0].text.startswith("Recorded"))
    refused = sum(1 for r in replies if r and "can no longer change" in r[0].text)
    assert acknowledged + refused == 80
    p = await gov.stores.proposals.get(1, 1)
    assert p.status == "closed" and sum(p.result["counts"]) == acknowledged
    assert len(await gov.stores.votes.ballots(pid)) == acknowledged


async def test_recount_follows_changes_and_withdrawals(gov):
    """The event log alone reproduces the tally after votes are changed and withdrawn."""
    chat, pid = await _coop_with_proposal(gov, 3)
    for who, line in [("alice", "/vote 1 For"), ("m1", "/vote 1 Against"), ("m1", "/vote 1 Abstain"),
                      ("m2", "/vote 1 For"), ("m2", "/unvote 1"), ("m3", "/vote 1 Against")]:
        await chat.say(who, line)
    counts = await gov.stores.proposals.counts(pid, 3)
    assert counts == [1, 1, 1]
    assert await gov.stores.proposals.recount(pid, 3) == counts


async def test_a_failed_write_leaves_nothing_behind(gov):
    """An error in the middle of a store transaction rolls the whole of it back."""
    chat, pid = await _coop_with_proposal(gov, 1)

    def broken_render(proposal):
        raise RuntimeError("renderer broke after the tally was written")

    with pytest.raises(RuntimeError):
        await gov.stores.proposals.close(
            pid, now=gov.clock.now(), by=None, reason=None, decide=lambda p, c, *_: {"counts": c}, render=broken_render
        )
    p = await gov.stores.proposals.get_by_id(pid)
    assert (p.status, p.result) == ("open", None)
    async with gov.stores.db.read() as s:
        kinds = (await s.execute(select(GovernanceEvent.kind).where(GovernanceEvent.proposal_id == pid))).scalars().all()
    assert "proposal_closed" not in kinds


async def test_times_are_stored_in_utc(gov, clock):
    """Whatever the co-op's timezone, stored times come back as aware UTC datetimes."""
    chat, pid = await _coop_with_proposal(gov, 1)
    p = await gov.stores.proposals.get_by_id(pid)
    assert p.opened_at == clock.now() and p.opened_at.utcoffset() == timedelta(0)
    assert p.closes_at - p.opened_at == timedelta(hours=72)


async def test_two_processes_claim_disjoint_outbox_rows(gov):
    """Two bot processes delivering one outbox: each pending announcement is claimed by one of them."""
    chat, pid = await _coop_with_proposal(gov, 1)
    for i in range(30):
        await chat.say("alice", f"/propose Matter {i}")
    async with gov.stores.db.write() as s:
        await s.execute(text("UPDATE outbox SET sent_at = NULL"))  # as if no adapter had delivered them yet
    outbox, now = gov.stores.outbox, gov.clock.now()
    first, second = await asyncio.gather(outbox.claim("console", "a", now, limit=20), outbox.claim("console", "b", now, limit=20))
    a, b = {r.id for r in first}, {r.id for r in second}
    assert a and b and not a & b and len(a | b) == 31
    assert {r.id for r in await outbox.claim("console", "a", now, limit=50)} == a  # its own claims come back to it
    later = now + timedelta(minutes=2)  # a process that died lets its claims lapse
    assert {r.id for r in await outbox.claim("console", "c", later, limit=50)} == a | b


async def test_taps_that_arrive_together_are_answered_each_on_its_own(gov):
    """A burst mixing good taps with a non-member's, forged button data, a redelivered tap and
    a member tapping twice: one transaction takes them all, and each gets its own answer."""
    chat, pid = await _coop_with_proposal(gov, 5)
    room = ChatRef("console", "general")

    def tap(name, option, event_id, proposal_id=pid):
        return gov.handle_vote(VoteCast(room, UserRef("console", name, name), proposal_id, option, event_id))

    replies = await asyncio.gather(
        tap("alice", 0, "t1"), tap("m1", 1, "t2"), tap("stranger", 0, "t3"), tap("m2", 0, "t4", proposal_id=pid + 99),
        tap("m3", 7, "t5"), tap("m1", 2, "t6"), tap("alice", 0, "t1"), tap("m4", 1, "t7"),
    )
    texts = [r[0].text if r else None for r in replies]
    assert texts[0].startswith("Recorded") and texts[1].startswith("Recorded") and texts[7].startswith("Recorded")
    assert texts[2].startswith("Only members of")
    assert texts[3] == "That button belongs to no proposal of this co-op."  # forged: refused, nothing stored
    assert texts[4].startswith("#1 has no option '8'")
    assert texts[5].startswith("Changed")
    assert texts[6] is None  # the redelivery counts once and is answered once
    ballots = {b.member_id: b.option for b in await gov.stores.votes.ballots(pid)}
    assert sorted(ballots.values()) == [0, 1, 2]
    assert await gov.stores.proposals.counts(pid, 3) == await gov.stores.proposals.recount(pid, 3) == [1, 1, 1]


async def test_a_batch_that_fails_is_applied_vote_by_vote(gov, monkeypatch):
    """If the shared transaction fails (here: a conflict injected at its last statement), nothing
    of it is kept and every vote is applied alone: all answered, each counted once."""
    import storage.votes

    chat, pid = await _coop_with_proposal(gov, 30)
    names = [m.display_name for m in await gov.stores.members.register(1)]
    settle, failures = storage.votes._settle, []

    async def conflicting(*args):
        await settle(*args)
        if not failures:
            failures.append(1)
            raise storage.votes.Contended("injected")

    monkeypatch.setattr(storage.votes, "_settle", conflicting)
    room = ChatRef("console", "general")
    replies = await asyncio.gather(*(
        gov.handle_vote(VoteCast(room, UserRef("console", n, n), pid, i % 3, f"f{i}")) for i, n in enumerate(names)
    ))
    assert failures == [1]
    assert all(r and r[0].text.startswith("Recorded") for r in replies)
    assert len(await gov.stores.votes.ballots(pid)) == len(names)
    assert await gov.stores.proposals.counts(pid, 3) == await gov.stores.proposals.recount(pid, 3)


async def test_two_processes_voting_for_the_same_members(gov, db_url):
    """Two bot processes (two engines on one database) take taps of the same members at once:
    each member ends with one current vote, the one the log names last."""
    from storage.db import Database
    from storage.stores import Stores

    chat, pid = await _coop_with_proposal(gov, 59)
    members = [m.id for m in await gov.stores.members.register(1)]
    other = Database(db_url)
    try:
        now = gov.clock.now()
        first = [gov.stores.votes.submit(VoteOp(pid, 0, now, ("console", f"a{m}"), member_id=m), refusal)
                 for m in members]
        second = [Stores.over(other).votes.submit(VoteOp(pid, 1, now, ("console", f"b{m}"), member_id=m), refusal)
                  for m in members]
        outcomes = await asyncio.gather(*first, *second)
    finally:
        await other.dispose()
    assert all(o.option in (0, 1) for o in outcomes)
    ballots = await gov.stores.votes.ballots(pid)
    assert len(ballots) == len(members)
    async with gov.stores.db.read() as s:
        rows = (await s.execute(select(GovernanceEvent).where(GovernanceEvent.proposal_id == pid)
                                .order_by(GovernanceEvent.id))).scalars().all()
    last = {e.member_id: e.data["option"] for e in rows if e.kind in ("vote_cast", "vote_changed")}
    assert {b.member_id: b.option for b in ballots} == last
    assert await gov.stores.proposals.counts(pid, 3) == await gov.stores.proposals.recount(pid, 3)


async def test_a_lone_tap_waiting_on_a_close_is_refused(gov):
    """A tap that arrives while a close holds the proposal's lock is decided after the close
    commits, by the proposal as the close left it: refused, and not stored."""
    from storage.models import Proposal

    chat, pid = await _coop_with_proposal(gov, 3)
    room = ChatRef("console", "general")
    async with gov.stores.db.write() as s:
        await s.execute(select(Proposal.id).where(Proposal.id == pid).with_for_update())
        await s.execute(update(Proposal).where(Proposal.id == pid).values(status="closed"))
        tap = asyncio.create_task(gov.handle_vote(VoteCast(room, UserRef("console", "m1", "m1"), pid, 0, "late")))
        await asyncio.sleep(0.3)  # lets the tap reach the lock the close holds
    reply = await tap
    assert "can no longer change" in reply[0].text
    assert await gov.stores.votes.ballots(pid) == []
