"""Mirror shifts and adversary drills through the core as a chat, on SQLite and PostgreSQL, with
the test clock: falling due by the calendar, their draws (replayable), the speaking order newest
member first, the facilitator's format, the red team's temptations and the drill's record."""

from __future__ import annotations

import json
import re

from datetime import timedelta

from sqlalchemy import select

from bot.export import collect
from bot.verify import problems
from handlers import draws, texts
from handlers.calendar import occurrence
from handlers.charter import DEFAULT_FORMATS, Charter
from handlers.pack import audit_pack
from storage.models import Minute, Ritual
from tests.conftest import Chat, make_coop
from tests.test_audits import tick
from tests.test_schedules import set_charter


async def until(chat: Chat, clock, every_months: int, n: int, before: timedelta = timedelta(0)) -> None:
    """The clock moves to the n-th occurrence of something every `every_months` from founding (less `before`)."""
    coop = await chat.gov.stores.coops.get(1)
    due = occurrence(coop.founded_at, Charter.from_json(coop.charter).tz, every_months, n) - before
    clock.advance(seconds=(due - clock.now()).total_seconds())


def draw_numbers(text: str) -> list[int]:
    return [int(n) for n in re.findall(r"\(D(\d+)\)", text)]


async def shift_due(chat: Chat, clock) -> tuple[str, str]:
    """The first mirror shift falls due (3 months from founding) and its draws are made 10 minutes
    on: (the halt's announcement, the shift's opening)."""
    await until(chat, clock, 3, 1)
    started = [t for t in await tick(chat) if t.startswith("MIRROR SHIFT")]
    assert len(started) == 1, started
    clock.advance(minutes=11)
    opened = [t for t in await tick(chat) if t.startswith("Mirror shift 1 of")]
    assert len(opened) == 1, opened
    return started[0], opened[0]


async def test_a_mirror_shift_falls_due_draws_its_facilitator_and_format_and_orders_the_newest_first(chat, clock):
    names = await make_coop(chat, 4)  # alice, then m1 … m4 admitted in that order
    started, opened = await shift_due(chat, clock)
    assert "production halts for reflection" in started
    facilitator_draw, format_draw = draw_numbers(started)
    # The speaking order: the newest member first, the founder last.
    order = opened.split("Speaking order, newest member first:\n")[1].split("\nThe facilitator")[0]
    assert order.splitlines() == [f"{i}. {n}" for i, n in enumerate(reversed(names), 1)]
    facilitator = re.match(r"Mirror shift 1 of Red Bakery: (\S+) facilitates", opened).group(1)
    form = re.search(r"in the format (.+?) \(D", opened).group(1)
    assert facilitator in names and form in DEFAULT_FORMATS
    # Both draws are replayable from what was posted.
    shown = await chat.say("m1", f"/draw D{facilitator_draw}")
    assert f"facilitator of mirror shift 1" in shown and facilitator in shown
    assert form in await chat.say("m1", f"/draw D{format_draw}")
    stores = chat.gov.stores
    assert await stores.minutes.check(stores.proposals.recount, draws.replay_problem) == []
    assert problems(json.loads(json.dumps(await collect(stores)))) == []
    # `mirror` shows it all; the facilitator may redesign the format, nobody else.
    shown = await chat.say("m2", "/mirror")
    assert f"{facilitator} facilitates, in the format {form}" in shown and "1. m4" in shown
    other = next(n for n in names if n != facilitator)
    assert f"Only {facilitator}, the facilitator of mirror shift 1" in await chat.say(other, "/format chaos")
    await chat.say(facilitator, "/format a silent walk, then one word each")
    assert chat.last == f"Mirror shift 1: {facilitator}, its facilitator, redesigned the format: a silent walk, then one word each"
    assert "(redesigned by the facilitator)" in await chat.say("m2", "/mirror")
    # A day on, the shift is over; the minutes and the pack have it.
    clock.advance(hours=24)
    assert any(t.startswith("Mirror shift 1 of Red Bakery is over") for t in await tick(chat))
    assert "is redesigned during one" in await chat.say(facilitator, "/format again")
    pack = await audit_pack(stores, await stores.coops.get(1), clock.now())
    part = next(x for x in pack.split("\n\n") if x.startswith(texts.PACK_MIRROR))
    assert f"facilitated by {facilitator}, format a silent walk, then one word each" in part
    kinds = await minute_kinds(stores)
    assert {"mirror_started", "mirror_opened", "mirror_format", "mirror_closed"} <= set(kinds)


async def minute_kinds(stores) -> list[str]:
    async with stores.db.read() as s:
        return list((await s.execute(select(Minute.kind))).scalars())


async def test_reminders_come_seven_days_and_one_day_before_once_each(chat, clock):
    await make_coop(chat, 2)
    await until(chat, clock, 3, 1, before=timedelta(days=7, minutes=-1))
    said = [t for t in await tick(chat) if t.startswith("Mirror shift of Red Bakery in")]
    assert len(said) == 1 and "in 6d" in said[0]
    assert not [t for t in await tick(chat) if t.startswith("Mirror shift of")]
    clock.advance(days=6)
    said = [t for t in await tick(chat) if t.startswith("Mirror shift of Red Bakery in")]
    assert len(said) == 1
    assert "mirror shift" in await chat.say("m1", "/calendar")


async def test_the_next_shift_leaves_out_recent_facilitators_and_the_last_format(chat, clock):
    names = await make_coop(chat, 4)
    _, opened = await shift_due(chat, clock)
    first = re.match(r"Mirror shift 1 of Red Bakery: (\S+) facilitates", opened).group(1)
    form = re.search(r"in the format (.+?) \(D", opened).group(1)
    clock.advance(days=1)
    await tick(chat)
    await until(chat, clock, 3, 2)
    started = next(t for t in await tick(chat) if t.startswith("MIRROR SHIFT 2"))
    facilitator_draw, format_draw = draw_numbers(started)
    pool = await chat.say("m1", f"/draw D{facilitator_draw}")
    assert f"{first}: facilitated mirror shift 1 (facilitator_cooldown)" in pool
    assert f"{form}: the last shift's format" in await chat.say("m1", f"/draw D{format_draw}")


async def test_a_drill_with_two_temptations_one_refused_one_accepted_and_its_record(chat, clock):
    names = await make_coop(chat, 4)
    await set_charter(chat.gov.stores, 1, drill_every_months=1, drill_team=2, drill_days=3)
    await until(chat, clock, 1, 1)
    started = next(t for t in await tick(chat) if t.startswith("ADVERSARY DRILL 1"))
    assert "nothing a temptation says takes effect" in started
    clock.advance(minutes=11)
    opened = next(t for t in await tick(chat) if t.startswith("The red team of adversary drill 1"))
    team = re.search(r"adversary drill 1 of Red Bakery: (.+?) \(D", opened).group(1).split(" and ")
    assert len(team) == 2 and set(team) <= set(names)
    outsider = next(n for n in names if n not in team)
    assert "Only the red team of adversary drill 1" in await chat.say(outsider, "/tempt Take the investor's money")
    assert "'amend:' lines are refused" in await chat.say(team[0], "/tempt Quietly\namend: quorum.ordinary = 10%")
    await chat.say(team[0], "/tempt Take the investor's money\nA fund offers 200k for 49% of the bakery.")
    first = chat.last
    assert first.startswith("Proposal #1: DRILL · Take the investor's money") and "DRILL (adversary drill 1)" in first
    await chat.say(team[1], "/tempt Skip this month's audit pack\nNobody reads it anyway.")
    second = chat.last
    assert "DRILL" in second
    for name in names:
        await chat.say(name, "/vote 1 Against")
        await chat.say(name, "/vote 2 For")
    assert "#1 Take the investor's money (open)" in await chat.say("m1", "/drill")
    assert "#1 DRILL · Take the investor's money" in await chat.say("m1", "/proposals")
    for title in ("Cut the movement share", "Hire a manager"):
        await chat.say(team[0], f"/tempt {title}")
    assert "as many as one member may" in await chat.say(team[0], "/tempt One more")
    for number in (3, 4):
        await chat.say(team[0], f"/withdraw {number}")
    clock.advance(days=3)
    said = await tick(chat)
    results = [t for t in said if t.startswith("Result of #")]
    assert len(results) == 2 and all("DRILL: a rehearsal; nothing takes effect." in r for r in results)
    record = next(t for t in said if t.startswith("Adversary drill 1 of Red Bakery is over"))
    assert "4 temptations: 1 refused, 1 accepted, 2 withdrawn" in record and "Mean turnout 100%" in record
    assert "Accepted: #2 Skip this month's audit pack." in record
    assert "median time to decide" in record
    # Nothing took effect; the record is in the minutes and the pack; a second run repeats nothing.
    assert not [t for t in await tick(chat) if "is over" in t]
    stores = chat.gov.stores
    pack = await audit_pack(stores, await stores.coops.get(1), clock.now())
    assert "4 temptations: 1 refused, 1 accepted, 2 withdrawn" in next(
        x for x in pack.split("\n\n") if x.startswith("Drills"))
    assert "drill_closed" in await minute_kinds(stores)
    assert await stores.minutes.check(stores.proposals.recount, draws.replay_problem) == []
    assert "No adversary drill of Red Bakery is under way" in await chat.say(team[0], "/tempt Another")
    assert "protected" not in await chat.say("m1", "/show 1")


async def test_a_second_process_or_run_repeats_no_step(chat, clock):
    """The calendar's claim and each step's state guard: running the due work twice at each
    moment starts one shift, opens it once and closes it once."""
    await make_coop(chat, 3)
    await until(chat, clock, 3, 1)
    said = await tick(chat) + await tick(chat)
    clock.advance(minutes=11)
    said += await tick(chat) + await tick(chat)
    clock.advance(days=1)
    said += await tick(chat) + await tick(chat)
    assert len([t for t in said if t.startswith("MIRROR SHIFT 1")]) == 1
    assert len([t for t in said if t.startswith("Mirror shift 1 of Red Bakery:")]) == 1
    assert len([t for t in said if t.startswith("Mirror shift 1 of Red Bakery is over")]) == 1
    async with chat.gov.stores.db.read() as s:
        assert len((await s.execute(select(Ritual))).all()) == 1


# --- found by a hostile review ---
async def drill_open(chat: Chat, clock) -> list[str]:
    """A drill of a red team of two, three days long, open a month after founding: its team."""
    await set_charter(chat.gov.stores, 1, drill_every_months=1, drill_team=2, drill_days=3)
    await until(chat, clock, 1, 1)
    await tick(chat)
    clock.advance(minutes=11)
    opened = next(t for t in await tick(chat) if t.startswith("The red team of adversary drill 1"))
    return re.search(r"adversary drill 1 of Red Bakery: (.+?) \(D", opened).group(1).split(" and ")


async def test_a_temptation_cannot_be_edited_into_a_real_proposal(chat, clock):
    """Editing the message of a temptation into `propose` with `amend:` (or `closes: 20d`) would
    make a rehearsal change the charter, or hold the drill open: refused, it stays a temptation."""
    await make_coop(chat, 4)
    team = await drill_open(chat, clock)
    await chat.say(team[0], "/tempt Take the investor's money", event_id="t1")
    answer = await chat.say(team[0], "/propose Take the investor's money\namend: quorum.ordinary = 10%",
                            event_id="t1e", corrects="t1")
    assert "is a temptation of an adversary drill: it cannot be edited" in answer
    assert "cannot be edited" in await chat.say(team[0], "/tempt Take it\ncloses: 20d", event_id="t1f", corrects="t1")
    p = (await chat.gov.stores.proposals.list(1))[0]
    assert p.purpose == "drill" and p.action == {"drill": 1} and p.title == "DRILL · Take the investor's money"


async def test_a_reminder_of_a_temptation_says_drill(chat, clock):
    names = await make_coop(chat, 4)
    team = await drill_open(chat, clock)
    await chat.say(team[0], "/tempt Take the investor's money")
    p = (await chat.gov.stores.proposals.list(1))[0]
    clock.advance(seconds=(p.closes_at - timedelta(hours=23) - clock.now()).total_seconds())
    said = [t for t in await tick(chat) if t.startswith("Reminder: #1")]
    assert said and "DRILL · Take the investor's money" in said[0]


async def test_an_ignored_temptation_is_undecided_not_refused(chat, clock):
    await make_coop(chat, 4)
    team = await drill_open(chat, clock)
    await chat.say(team[0], "/tempt Take the investor's money")
    clock.advance(days=3)
    record = next(t for t in await tick(chat) if t.startswith("Adversary drill 1 of Red Bakery is over"))
    assert "1 temptation: 0 refused, 0 accepted, 1 left undecided (quorum not met)" in record


async def test_an_amended_interval_skips_no_shift_and_springs_none_at_once(chat, clock):
    """Monthly shifts 1–3, then quarterly: the shift at month 6 begins. Quarterly, then every two
    months at month 7.5: the missed occurrence (month 6 of the new count) does not halt
    production at the moment of the amendment."""
    await make_coop(chat, 3)
    stores = chat.gov.stores
    await set_charter(stores, 1, mirror_every_months=1)
    for n in (1, 2, 3):
        await until(chat, clock, 1, n)
        assert any(t.startswith(f"MIRROR SHIFT {n}") for t in await tick(chat))
        clock.advance(days=1, minutes=11)
        await tick(chat)
        clock.advance(days=1)
        await tick(chat)
    await set_charter(stores, 1, mirror_every_months=3)
    await until(chat, clock, 3, 2)  # month 6
    assert any(t.startswith("MIRROR SHIFT 4") for t in await tick(chat))
    clock.advance(days=1, minutes=11)
    await tick(chat)
    clock.advance(days=45)
    await set_charter(stores, 1, mirror_every_months=2)
    assert not any(t.startswith("MIRROR SHIFT") for t in await tick(chat))


async def test_the_first_start_after_an_upgrade_springs_no_shift(chat, clock):
    """A co-op that ran before rituals existed: at the first run, three days before its next
    quarterly date, the occurrence long past is passed over; the next one comes on time."""
    await make_coop(chat, 3)
    await until(chat, clock, 3, 12, before=timedelta(days=3))
    said = await tick(chat)
    assert not any(t.startswith("MIRROR SHIFT") or t.startswith("ADVERSARY DRILL") for t in said)
    await until(chat, clock, 3, 12)
    assert any(t.startswith("MIRROR SHIFT 1") for t in await tick(chat))


def test_the_start_check_replays_a_format_draw_by_its_names():
    secret = draws.new_secret()
    pool = [{"id": None, "name": n} for n in DEFAULT_FORMATS[:3]]
    announced = {"commitment": draws.commitment(secret), "pool": pool, "seats": 1}
    picked = draws.picks(draws.key(secret.hex(), []), list(range(3)), 1).seated[0]
    drawn = {"secret": secret.hex(), "commitment": announced["commitment"], "contributions": []}
    right = {**drawn, "seated": [{"number": picked + 1, "id": None, "name": pool[picked]["name"]}]}
    wrong = next(i for i in range(3) if i != picked)
    assert draws.replay_problem(announced, right) is None
    assert draws.replay_problem(announced, {**drawn, "seated": [{"number": wrong + 1, "id": None,
                                                                 "name": pool[wrong]["name"]}]}) is not None


def test_long_speaking_orders_and_drill_records_fit_one_telegram_message():
    from handlers.mirror import _order
    text = texts.MIRROR_OPENED.format(number=1, coop="Red Bakery", facilitator="someone", draw=1, format="small circles",
                                      format_draw=2, order=_order([f"member {i}" for i in range(500)]),
                                      ends="Sun 6 Dec 2026 12:00 UTC", prefix="/")
    assert len(text) <= 4096 and "… and 350 more" in text and text.endswith("12:00 UTC.")
    record = {"temptations": 36, "accepted": [[n, "T" * 200] for n in range(1, 37)], "refused": [], "undecided": [],
              "withdrawn": [], "turnout": "1", "median_decide_s": 60}
    assert len(texts.drill_record(1, "Red Bakery", record)) <= 4096


async def test_the_facilitator_redesigns_at_most_three_times(chat, clock):
    await make_coop(chat, 3)
    _, opened = await shift_due(chat, clock)
    facilitator = re.match(r"Mirror shift 1 of Red Bakery: (\S+) facilitates", opened).group(1)
    for i in range(3):
        await chat.say(facilitator, f"/format version {i}")
    assert "redesigned 3 times, as often as one shift allows" in await chat.say(facilitator, "/format once more")
    assert "in the format version 2 (redesigned" in await chat.say("m1", "/mirror")
