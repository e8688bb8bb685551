"""Deadlines and the calendar, with a clock the tests move: nothing sleeps for real."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from handlers.calendar import before, cycle, occurrence
from handlers.charter import Charter
from schedules.due import run_due
from storage.db import Database
from storage.models import Coop, Outbox
from storage.stores import Stores
from tests.conftest import EVERY_PLATFORM, Chat, FakeClock, make_coop
from tests.test_console import COOPBOT, env_for


async def directs(stores) -> list[Outbox]:
    async with stores.db.read() as s:
        return list((await s.execute(select(Outbox).where(Outbox.kind == "direct").order_by(Outbox.id))).scalars())


async def tick(chat: Chat) -> list[str]:
    """One run of the due work at the clock's time; returns what was announced in the room."""
    await run_due(chat.gov.stores, chat.gov.clock.now(), chat.gov.before_close)
    return await chat.drain()


async def set_charter(stores, coop_id: int, **changes) -> None:
    async with stores.db.write() as s:
        coop = await s.get(Coop, coop_id)
        await s.execute(update(Coop).where(Coop.id == coop_id).values(
            charter=Charter.from_json(coop.charter).with_changes(**changes).to_json()))


async def test_a_proposal_closes_on_time_and_the_result_is_announced_once(chat, clock):
    """At its closing time the proposal closes by itself; running the clock again sends nothing more."""
    await make_coop(chat, 2)
    await chat.say("alice", "/propose Van\n  closes: 2h")
    await chat.say("m1", "/vote 1 For")
    await chat.say("alice", "/vote 1 For")
    clock.advance(hours=1, minutes=59)
    assert not [t for t in await tick(chat) if t.startswith("Result")]
    clock.advance(minutes=1)
    results = [t for t in await tick(chat) if t.startswith("Result")]
    assert len(results) == 1 and "Result of #1 Van: passed." in results[0] and "late" not in results[0]
    clock.advance(seconds=30)
    assert await tick(chat) == []


async def test_a_close_after_downtime_says_it_closed_late(chat, clock):
    """The bot was down across the deadline: at start it closes the proposal, once, and says so."""
    await make_coop(chat, 1)
    await chat.say("alice", "/propose Van\n  closes: 2h")
    clock.advance(hours=5)
    results = [t for t in await tick(chat) if t.startswith("Result")]
    assert len(results) == 1
    assert "Closed late: the bot was not running at the closing time (Wed 25 Nov 2026 14:00 UTC)." in results[0]
    assert [t for t in await tick(chat) if t.startswith("Result")] == []


async def test_deadline_reminders_reach_only_non_voters(chat, clock):
    """24 h and 1 h before closing: the room hears how many have not voted and how many more votes
    quorum needs; each non-voter gets a direct message; a member who voted in between is not
    reminded at the second."""
    await make_coop(chat, 4)  # alice, m1..m4: 5 on the register
    await chat.say("alice", "/propose Van")  # 72 h
    await chat.say("alice", "/vote 1 For")
    clock.advance(hours=47, minutes=59)
    assert await tick(chat) == []
    clock.advance(minutes=1)
    (first,) = await tick(chat)
    assert first.startswith("Reminder: #1 Van closes in 1d")
    assert "4 of 5 members have not voted yet; quorum needs 2 more votes." in first
    assert sorted(d.chat_id for d in await directs(chat.gov.stores)) == ["m1", "m2", "m3", "m4"]
    await chat.say("m1", "/vote 1 For")
    await chat.say("m2", "/vote 1 Against")
    clock.advance(hours=22, minutes=30)
    assert await tick(chat) == []
    clock.advance(minutes=30)
    (second,) = await tick(chat)
    assert "closes in 1h" in second and "2 of 5 members have not voted yet; quorum is reached." in second
    second_round = [d.chat_id for d in await directs(chat.gov.stores)][4:]
    assert sorted(second_round) == ["m3", "m4"]
    clock.advance(minutes=10)
    assert await tick(chat) == []


async def test_reminders_the_proposal_opened_too_late_for_are_skipped(chat, clock):
    """A 2-hour proposal never gets the 24-hour reminder, only the 1-hour one."""
    await make_coop(chat, 1)
    await chat.say("alice", "/propose Quick one\n  closes: 2h")
    assert await tick(chat) == []
    clock.advance(hours=1)
    (reminder,) = await tick(chat)
    assert "closes in 1h" in reminder


async def test_after_a_downtime_only_the_latest_reminder_is_sent(chat, clock):
    """Down across both reminder times: one reminder at start, not a burst of two."""
    await make_coop(chat, 1)
    await chat.say("alice", "/propose Van")
    clock.advance(hours=71, minutes=30)
    (reminder,) = await tick(chat)
    assert "closes in 30m" in reminder
    assert await tick(chat) == []


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/New_York"])
def test_audit_and_sunset_dates_keep_local_time_across_daylight_saving(zone):
    """Counted on the local calendar: every audit and sunset vote falls at the founding's local time
    of day, in winter and in summer, over three years."""
    tz = ZoneInfo(zone)
    founded = datetime(2026, 3, 20, 10, 0, tzinfo=tz).astimezone(timezone.utc)  # before Europe's switch
    audits = [occurrence(founded, tz, 12, n).astimezone(tz) for n in (1, 2, 3)]
    assert [(a.year, a.month, a.day, a.hour, a.minute) for a in audits] == [
        (2027, 3, 20, 10, 0), (2028, 3, 20, 10, 0), (2029, 3, 20, 10, 0)]
    winter_founding = datetime(2026, 1, 15, 10, 0, tzinfo=tz).astimezone(timezone.utc)
    half_year = [occurrence(winter_founding, tz, 6, n).astimezone(tz) for n in range(1, 7)]
    assert {a.hour for a in half_year} == {10}  # September (summer time) and March (winter time) alike
    assert len({a.utcoffset() for a in half_year}) == 2
    reminder = before(occurrence(founded, tz, 12, 1), tz, timedelta(days=30)).astimezone(tz)
    assert (reminder.month, reminder.day, reminder.hour) == (2, 18, 10)
    c = cycle(founded, tz, 24, datetime(2028, 3, 21, tzinfo=timezone.utc))
    assert (c.last_n, c.next_n) == (1, 2)


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/New_York"])
async def test_three_years_of_audits_and_a_sunset_vote(gov, clock, zone):
    """Audit reminders 30, 7 and 1 days before, the audit itself, and at 24 months the sunset vote
    opening by itself as a constitutional proposal; each once, at local wall-clock times."""
    tz = ZoneInfo(zone)
    clock.current = datetime(2026, 3, 20, 10, 0, tzinfo=tz).astimezone(timezone.utc)
    chat = Chat(gov)
    await make_coop(chat, 1)
    await set_charter(gov.stores, 1, timezone=zone)
    seen: list[str] = []
    for n in (1, 2, 3):
        audit = occurrence(clock.current if n == 0 else (await gov.stores.coops.get(1)).founded_at, tz, 12, n)
        for offset in (timedelta(days=30), timedelta(days=7), timedelta(days=1), timedelta(0)):
            clock.current = before(audit, tz, offset)
            got = await tick(chat)
            seen += got
            assert len([t for t in got if "liberation audit" in t.lower()]) == 1, (n, offset, got)
            assert await tick(chat) == [] or n == 2  # nothing twice (the sunset card may follow at 24 months)
    audits = [t for t in seen if "audit" in t.lower()]
    assert len(audits) == 12
    # No ally is affiliated yet: each audit that falls due is recorded, saying when and why without a verdict.
    due = [t for t in audits if "fell due" in t]
    assert len(due) == 3 and all("10:00" in t and "no ally could be drawn" in t for t in due)
    sunset = [t for t in seen if t.startswith("Proposal #1: Renew the co-op's mandate?")]
    assert len(sunset) == 1 and "constitutional" in sunset[0]
    p = await gov.stores.proposals.get(1, 1)
    assert (p.kind, p.purpose) == ("constitutional", "sunset")


async def test_a_failed_sunset_vote_marks_the_mandate_lapsed(gov, clock):
    """Nobody renews the mandate: the result says it has lapsed, and the co-op's standing shows it
    until a renewal passes."""
    chat = Chat(gov)
    await make_coop(chat, 1)
    clock.advance(days=731)
    await tick(chat)
    p = await gov.stores.proposals.get(1, 1)
    assert p.purpose == "sunset"
    clock.advance(hours=73)
    results = [t for t in await tick(chat) if t.startswith("Result of #1")]
    assert "failed (quorum not met)" in results[0] and "The co-op's mandate has lapsed" in results[0]
    assert "lapsed on" in await chat.say("m1", "/whoami")
    assert "lapsed on" in await chat.say("m1", "/calendar")
    await chat.say("alice", "/propose Renew the co-op's mandate?\n  kind: constitutional")
    await chat.say("alice", "/vote 2 For")
    await chat.say("m1", "/vote 2 For")
    await chat.say("alice", "/close 2")
    assert "The co-op's mandate is renewed." in chat.last
    assert "lapsed" not in await chat.say("m1", "/whoami")


async def test_calendar_lists_what_is_coming_in_the_co_ops_timezone(gov, clock):
    """`calendar`: deadlines, their reminders, the next audit and sunset vote, in local time."""
    chat = Chat(gov)
    await make_coop(chat, 1)
    await set_charter(gov.stores, 1, timezone="Europe/Berlin")
    await chat.say("alice", "/propose Van\n  closes: 48h")
    text = await chat.say("m1", "/calendar")
    assert text.startswith("Calendar of Red Bakery (times in Europe/Berlin):")
    assert "Fri 27 Nov 2026 13:00 CET — voting on #1 Van closes" in text
    assert "Thu 26 Nov 2026 13:00 CET — reminder to vote on #1" in text
    assert "Thu 25 Nov 2027 13:00 CET — liberation audit" in text
    assert "Sat 25 Nov 2028 13:00 CET — sunset vote opens" in text


async def test_two_processes_on_one_postgresql_database_send_each_reminder_once(pg_url):
    """Two bots share a PostgreSQL database and run their clocks at the same moments: every close,
    reminder, audit notice and sunset vote happens once."""
    first, second = Database(pg_url), Database(pg_url)
    await first.upgrade()
    clock = FakeClock()
    stores_a, stores_b = Stores.over(first), Stores.over(second)
    from handlers.router import Governance

    chat = Chat(Governance(stores_a, clock, before_close=EVERY_PLATFORM))
    await make_coop(chat, 3)
    for i in range(5):
        await chat.say("alice", f"/propose Matter {i}\n  closes: {20 + i}h")
    moments = [timedelta(hours=h) for h in (19, 19.5, 20, 21, 22, 23, 24, 25)] + [timedelta(days=365), timedelta(days=731)]
    start = clock.now()
    for moment in moments:
        now = start + moment
        await asyncio.gather(*(run_due(s, now, EVERY_PLATFORM) for s in (stores_a, stores_b, stores_a, stores_b)))
    async with first.read() as s:
        rows = list((await s.execute(select(Outbox.kind, Outbox.text).where(Outbox.kind != "proposal_opened"))).all())
    reminders = [t for k, t in rows if k == "reminder"]
    results = [t for k, t in rows if k == "proposal_result"]
    assert len(reminders) == 5 and len(set(reminders)) == 5
    assert len(results) == 5
    assert len([t for k, t in rows if k == "audit"]) == 2  # the 1-day reminder and the audit itself
    assert len(await stores_a.proposals.list(1)) == 6  # five matters and one sunset vote
    await first.dispose()
    await second.dispose()


def test_an_announcement_committed_before_a_crash_goes_out_once_after_restart(tmp_path):
    """The close is committed but the bot dies before announcing it: the next start delivers the
    result from the outbox, and the start after that does not repeat it."""
    async def close_without_announcing():
        db = Database(f"sqlite:///{tmp_path / 'data' / 'coopbot.db'}")
        await db.upgrade()
        stores = Stores.over(db)
        from handlers.router import Governance

        chat = Chat(Governance(stores, FakeClock(), before_close=EVERY_PLATFORM), chat_id="general")
        await make_coop(chat, 1, founder="you")
        await chat.say("you", "/propose Van\n  closes: 1h")
        await chat.say("you", "/vote 1 For")
        await run_due(stores, chat.gov.clock.now() + timedelta(hours=2), EVERY_PLATFORM)  # committed, not delivered
        await db.dispose()

    asyncio.run(close_without_announcing())
    run = lambda: subprocess.run(COOPBOT + ["console"], input="", capture_output=True, text=True, cwd=tmp_path,
                                 env=env_for(tmp_path), timeout=60)
    first, second = run(), run()
    assert first.stdout.count("Result of #1 Van: passed.") == 1
    assert "Result of #1" not in second.stdout


def test_a_second_process_on_one_sqlite_file_is_refused(tmp_path):
    """SQLite allows one bot process: a second console on the same data dir is refused in one line."""
    proc = subprocess.Popen(COOPBOT + ["console"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            cwd=tmp_path, env=env_for(tmp_path))
    try:
        proc.stdin.write("/whoami\n")
        proc.stdin.flush()
        proc.stdout.readline()
        second = subprocess.run(COOPBOT + ["console"], input="", capture_output=True, text=True, cwd=tmp_path,
                                env=env_for(tmp_path), timeout=60)
        assert second.returncode == 2
        assert second.stderr.strip().count("\n") == 0 and "another coopbot is already running" in second.stderr
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)


async def test_the_charter_is_amended_by_a_passed_constitutional_proposal(gov, clock):
    """`amend:` on a proposal changes the charter when it passes (constitutional by default), and
    only then; bad keys and values are refused with what is wrong."""
    chat = Chat(gov)
    await make_coop(chat, 3)
    for bad, problem in [("colour = red", "has no key 'colour'"), ("timezone = Mars/Base", "not a timezone"),
                         ("quorum.ordinary = 150%", "quorum.ordinary must be from 10% to 100%"),
                         ("audit_every = 0", "audit_every must be from 1 month to 240 months")]:
        assert problem in await chat.say("alice", f"/propose Change\n  amend: {bad}"), bad
    assert "constitutional decision" in await chat.say("alice", "/propose Change\n  kind: ordinary\n  amend: timezone = UTC")
    await chat.say("alice", "/propose Move to Berlin time\n  amend: timezone = Europe/Berlin; quorum.ordinary = 40%")
    assert "constitutional" in chat.last
    await chat.say("alice", "/propose Sunday reminders\n  amend: reminder_offsets = 48h, 2h")
    for who in ("alice", "m1", "m2", "m3"):
        await chat.say(who, "/vote 1 For")
        await chat.say(who, "/vote 2 For")
    await chat.say("alice", "/close 1")
    assert "The charter is amended: timezone = Europe/Berlin; quorum.ordinary = 40%." in chat.last
    await chat.say("alice", "/close 2")
    charter = await chat.say("m1", "/charter")
    assert "Timezone: Europe/Berlin." in charter and "ordinary: quorum 40%" in charter
    assert "Deadline reminders: 2d, 2h before closing." in charter  # both amendments hold


async def test_the_clock_looks_at_the_database_only_when_something_may_be_due(chat, clock, monkeypatch):
    """Between looks, a tick with no command since and nothing due yet leaves the database alone
    (a vote burst costs the clock nothing); a command, a due moment or a while passing makes it look."""
    import schedules.clock

    looks = []

    async def looking(*args, **kwargs):
        looks.append(clock.now())
        return await run_due(*args, **kwargs)

    monkeypatch.setattr(schedules.clock, "run_due", looking)
    await make_coop(chat, 2)
    # Not started: the test ticks it by hand, and its monotonic time is the test clock's.
    ticker = schedules.clock.DueClock(chat.gov.stores, clock, before_close=lambda: chat.gov.before_close, monotonic=lambda: clock.now().timestamp())
    chat.gov.after_command.append(ticker.poke)
    await ticker.tick_once()
    clock.advance(seconds=1)
    await ticker.tick_once()
    assert len(looks) == 1  # nothing changed, nothing due
    await chat.say("alice", "/propose Van\n  closes: 1h")
    await chat.say("m1", "/vote 1 For")
    clock.advance(seconds=1)
    await ticker.tick_once()
    assert len(looks) == 2  # commands were handled: look again
    clock.advance(seconds=8)
    await ticker.tick_once()
    assert len(looks) == 2
    clock.advance(seconds=2)
    await ticker.tick_once()
    assert len(looks) == 3  # a while without a look (another process may have changed something)
    clock.advance(minutes=59, seconds=50)
    await ticker.tick_once()
    assert len(looks) == 4  # the close fell due
    assert [t for t in await chat.drain() if t.startswith("Result of #1 Van")]


async def test_a_system_clock_stepped_back_does_not_hold_up_the_clock(chat, clock, monkeypatch):
    """The system clock steps back 60 s (as NTP may): the wall clock as APScheduler and the clock
    read it, and the test clock that says what is due. APScheduler alone would wait out the 60 s;
    the clock keeps ticking on monotonic time, and a proposal that falls due is closed at the next
    tick, not a minute later."""
    import apscheduler.schedulers.base
    import schedules.clock
    from datetime import datetime as real_datetime

    class SteppedBack(real_datetime):
        @classmethod
        def now(cls, tz=None):
            return real_datetime.now(tz) - timedelta(seconds=60)

    mono = [1000.0]
    await make_coop(chat, 2)
    await chat.say("alice", "/propose Van\n  closes: 1h")
    ticker = schedules.clock.DueClock(chat.gov.stores, clock, before_close=lambda: chat.gov.before_close, tick=0.05, monotonic=lambda: mono[0])
    chat.gov.after_command.append(ticker.poke)
    ticker.start()
    try:
        await asyncio.sleep(0.3)  # a few ticks: looked, nothing due for an hour
        monkeypatch.setattr(apscheduler.schedulers.base, "datetime", SteppedBack)
        monkeypatch.setattr(schedules.clock, "datetime", SteppedBack)
        clock.advance(seconds=-60)
        await asyncio.sleep(0.3)
        clock.advance(hours=1, seconds=61)  # an hour on: the proposal is due
        mono[0] += 3601
        for _ in range(40):
            if (await chat.gov.stores.proposals.list(1))[0].status == "closed":
                break
            await asyncio.sleep(0.05)
        assert (await chat.gov.stores.proposals.list(1))[0].status == "closed"
    finally:
        await ticker.stop()
