"""The clock's kept state (schedules.state.DueState) reaches what a fresh look at the database does."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from handlers.calendar import before, occurrence
from schedules.due import next_due, run_due
from schedules.state import DueState
from tests.conftest import Chat, make_coop
from tests.test_schedules import directs, set_charter


class KeptClock:
    """Runs the due work the way DueClock does: one state kept from run to run."""

    def __init__(self, chat: Chat) -> None:
        self.chat, self.state = chat, DueState()

    async def tick(self) -> list[str]:
        await run_due(self.chat.gov.stores, self.chat.gov.clock.now(), self.chat.gov.before_close, self.state)
        return await self.chat.drain()


async def test_deadline_reminders_with_a_kept_state(chat, clock):
    """Second by second and across jumps, each reminder goes out once, only to non-voters."""
    kept = KeptClock(chat)
    await make_coop(chat, 2)
    await chat.say("alice", "/propose Van")  # 72 h
    assert await kept.tick() == []
    clock.advance(hours=47, minutes=59, seconds=58)
    assert await kept.tick() == []
    seen = []
    for _ in range(4):  # 47:59:59 … 48:00:02, a run every second
        clock.advance(seconds=1)
        seen += await kept.tick()
    (first,) = seen
    assert first.startswith("Reminder: #1 Van closes in 1d")
    await chat.say("m1", "/vote 1 For")
    clock.advance(hours=22, minutes=59, seconds=58)  # 71:00:00
    (second,) = await kept.tick()
    assert "closes in 1h" in second and "2 of 3 members have not voted yet" in second
    assert sorted(d.chat_id for d in await directs(chat.gov.stores)) == ["alice", "alice", "m1", "m2", "m2"]
    clock.advance(seconds=1)
    assert await kept.tick() == []


async def test_a_charter_change_is_seen_by_a_kept_state(chat, clock):
    """A new reminder offset whose time has already come is sent at the next run, as a fresh
    look would, although it fell before the kept state's last run."""
    kept = KeptClock(chat)
    await make_coop(chat, 1)
    await chat.say("alice", "/propose Van")  # 72 h
    clock.advance(hours=10)
    assert await kept.tick() == []
    await set_charter(chat.gov.stores, 1, reminder_offsets=(timedelta(hours=70), timedelta(hours=1)))
    clock.advance(seconds=1)
    (reminder,) = await kept.tick()
    assert "closes in 2d 13h" in reminder
    assert await kept.tick() == []


async def test_a_proposal_opened_between_runs_is_reminded(chat, clock):
    """A proposal opened after a run, with a reminder due before the next one, is not missed."""
    kept = KeptClock(chat)
    await make_coop(chat, 1)
    assert await kept.tick() == []
    await chat.say("alice", "/propose Quick one\n  closes: 2h")
    clock.advance(hours=1)
    (reminder,) = await kept.tick()
    assert "closes in 1h" in reminder


async def test_three_years_of_the_calendar_with_a_kept_state(gov, clock):
    """Audit reminders, audits and the sunset vote, each once, with one state for three years."""
    tz = ZoneInfo("Europe/Berlin")
    chat = Chat(gov)
    kept = KeptClock(chat)
    await make_coop(chat, 1)
    await set_charter(gov.stores, 1, timezone="Europe/Berlin")
    founded = (await gov.stores.coops.get(1)).founded_at
    seen: list[str] = []
    for n in (1, 2, 3):
        audit = occurrence(founded, tz, 12, n)
        for offset in (timedelta(days=30), timedelta(days=7), timedelta(days=1), timedelta(0)):
            clock.current = before(audit, tz, offset) - timedelta(seconds=1)
            seen += await kept.tick()
            clock.current += timedelta(seconds=1)
            seen += await kept.tick()
            seen += await kept.tick()
    assert len([t for t in seen if "audit" in t.lower()]) == 12
    assert len([t for t in seen if t.startswith("Proposal #1: Renew the co-op's mandate?")]) == 1


async def test_next_due_names_the_next_reminder(chat, clock):
    """The clock wakes at the next reminder or close the database holds."""
    kept = KeptClock(chat)
    await make_coop(chat, 1)
    await chat.say("alice", "/propose Van\n  closes: 3h")
    await kept.tick()
    assert await next_due(chat.gov.stores, clock.now(), kept.state) == clock.now() + timedelta(hours=2)
    clock.advance(hours=2)
    await kept.tick()
    assert await next_due(chat.gov.stores, clock.now(), kept.state) == clock.now() + timedelta(hours=1)


async def test_reminder_offsets_cost_a_fixed_number_of_statements(gov, clock):
    """However many distinct reminder offsets the co-ops have between them, a run of the due work
    and the look for the next due moment issue the same statements (one for all the offsets)."""
    from sqlalchemy import event

    db = gov.stores.db
    statements = []
    for engine in {db.reader, db.writer}:
        event.listen(engine.sync_engine, "before_cursor_execute",
                     lambda conn, cursor, sql, params, context, many: statements.append(sql))

    async def count() -> int:
        state = DueState()
        statements.clear()
        await run_due(gov.stores, clock.now(), gov.before_close, state)
        await next_due(gov.stores, clock.now(), state)
        return len(statements)

    coops = 12
    for i in range(coops):
        room = Chat(gov, chat_id=f"room{i}")
        await room.say(f"founder{i}", f"/setup Co-op {i}")
        await room.say(f"founder{i}", "/propose Van\n  closes: 48h")
    shared = await count()  # every co-op with the default offsets (24 h, 1 h)
    for i in range(coops):
        # Five offsets of its own per co-op, none reached yet: 60 distinct offsets in all.
        await set_charter(gov.stores, i + 1, reminder_offsets=tuple(timedelta(minutes=5 * i + j + 1) for j in range(5)))
    assert await count() == shared
