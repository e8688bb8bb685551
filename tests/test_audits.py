"""Liberation audits through the core, as members and allies use them: affiliations by vote, allies,
auditors drawn by lot and replayable, verdicts, the median, and what a verdict sets in motion."""

from __future__ import annotations

import asyncio
import io
from contextlib import redirect_stdout
from datetime import timedelta

from sqlalchemy import func, select

from handlers import audits
from handlers.audits import median
from schedules.due import run_due
from storage.audits import AuditRunning
from storage.models import Audit, Minute, Outbox
from tests.conftest import Chat, make_coop

GRADES = ("revolutionary", "reformist", "counter-revolutionary")


async def tick(chat: Chat) -> list[str]:
    """One run of the due work at the clock's time; what it announced in the room."""
    await run_due(chat.gov.stores, chat.gov.clock.now(), chat.gov.before_close)
    return await chat.drain()


async def affiliate(chat: Chat, org: str, voters=("alice", "m1", "m2", "m3")) -> None:
    await chat.say("alice", f"/propose Affiliate with {org}\n  affiliate: {org}")
    number = (await chat.gov.stores.proposals.list(1))[-1].number
    for who in voters:
        await chat.say(who, f"/vote {number} For")
    await chat.say("alice", f"/close {number}")
    assert f"Result of #{number}" in chat.last and "passed" in chat.last, chat.last


async def allied_coop(chat: Chat) -> None:
    """Red Bakery (alice the steward, m1–m3) affiliated with two organisations: three allies of
    the Tenants Union, one of the Couriers Network."""
    await make_coop(chat, 3)
    await affiliate(chat, "Tenants Union")
    await affiliate(chat, "Couriers Network")
    # A steward adds each organisation's first ally; its allies add the rest.
    for by, who, org in (("alice", "t1", "Tenants Union"), ("t1", "t2", "Tenants Union"),
                         ("t1", "t3", "Tenants Union"), ("alice", "c1", "Couriers Network")):
        assert not await chat.say(by, f"/ally {who}\n  org: {org}")
        assert chat.last.startswith(f"{who} is now an ally of Red Bakery from {org}"), chat.last


async def start_and_seat(chat: Chat) -> list[str]:
    """`audit start`, then the draw at its time: the seated auditors' names."""
    answer = await chat.say("alice", "/audit start")
    assert "Liberation audit A1 of Red Bakery is open" in answer
    chat.gov.clock.advance(minutes=11)
    await tick(chat)
    a = await chat.gov.stores.audits.get(1, 1)
    return [seat.name for seat in await chat.gov.stores.audits.seats(a.id)]


def number_of(card: str) -> int:
    """The proposal number a card announces ("Proposal #3: …")."""
    return int(card.split("#")[1].split(":")[0])


async def everyone_votes(chat: Chat, card: str, option: str) -> None:
    for who in ("alice", "m1", "m2", "m3"):
        await chat.say(who, f"/vote {number_of(card)} {option}")


async def leaves(stores) -> list[str]:
    async with stores.db.read() as s:
        return list((await s.execute(select(Minute.kind).order_by(Minute.seq))).scalars())


async def outbox_count(stores) -> int:
    async with stores.db.read() as s:
        return (await s.execute(select(func.count()).select_from(Outbox))).scalar_one()


def test_the_median_takes_the_sterner_of_two_middle_grades():
    assert median(["revolutionary"]) == "revolutionary"
    assert median(["revolutionary", "reformist", "counter-revolutionary"]) == "reformist"
    assert median(["revolutionary", "reformist"]) == "reformist"
    assert median(["reformist", "counter-revolutionary", "revolutionary", "revolutionary"]) == "reformist"
    assert median(["counter-revolutionary", "counter-revolutionary", "revolutionary"]) == "counter-revolutionary"


async def test_an_audit_from_start_to_a_met_revision(chat, clock):
    """Two organisations affiliated by vote, allies added; `audit start` draws one auditor per
    organisation, replayable from what was posted; their verdicts give the median, posted with
    every finding and written into the minutes; a reformist verdict puts a revision deadline in
    the calendar, and a `revises: A1` proposal passing meets it."""
    await allied_coop(chat)
    answer = await chat.say("alice", "/audit start")
    assert "Liberation audit A1 of Red Bakery is open" in answer and "D1" in answer
    announced = chat.last
    assert announced.startswith("Draw D1: 3 seats for auditors of liberation audit A1")
    assert "1. t1 (Tenants Union)" in announced and "4. c1 (Couriers Network)" in announced
    await chat.say("m1", "/shuffle D1 bread and roses")
    clock.advance(minutes=11)
    posted = await tick(chat)
    result = next(t for t in posted if t.startswith("Result of draw D1"))
    opened = next(t for t in posted if t.startswith("Liberation audit A1: the auditors are"))
    auditors = [s.name for s in await chat.gov.stores.audits.seats(1)]
    # At most one per organisation: two organisations, two seats filled, one left empty.
    assert len(auditors) == 2 and "c1" in auditors and len([a for a in auditors if a.startswith("t")]) == 1
    assert "1 seat left empty" in result and all(name in opened for name in auditors)
    # Anyone replays it from `draw D1`: the snippet seats the same people.
    shown = await chat.say("m2", "/draw D1")
    snippet = shown[shown.index("import hashlib"):].split("\n```")[0]
    out = io.StringIO()
    with redirect_stdout(out):
        exec(snippet, {})
    assert sorted(line.split(". ", 1)[1] for line in out.getvalue().splitlines()) == sorted(auditors)
    # Each auditor is written to directly with the pack (console accounts can be).
    async with chat.gov.stores.db.read() as s:
        direct = (await s.execute(select(Outbox.chat_id, Outbox.text).where(Outbox.kind == "direct"))).all()
    assert sorted(chat_id for chat_id, _ in direct) == sorted(auditors)
    assert all("You are drawn as an auditor" in text and "Audit pack of Red Bakery" in text for _, text in direct)
    # The pack is also what `audit` shows, to members and allies alike.
    for who in ("m1", "t1"):
        text = await chat.say(who, "/audit")
        assert "Liberation audit A1" in text and "Turnout per kind of decision" in text
    tenant = next(a for a in auditors if a.startswith("t"))
    said = await chat.say(tenant, "/verdict A1 revolutionary\nPay is flat.")
    assert "recorded: revolutionary" in said and "1 of 2" in said
    said = await chat.say(tenant, "/verdict A1 reformist\nPay is flat, but stewards make most proposals.")
    assert "restated: reformist" in said
    assert not any("is closed" in t for t in chat.announced)
    await chat.say("c1", "/verdict A1 revolutionary\nDeliveries are run by the riders.")
    closed = next(t for t in chat.announced if "Liberation audit A1 of Red Bakery is closed" in t)
    assert "The co-op's verdict: REFORMIST." in closed and "sterner" in closed
    assert "revises: A1" in closed and "Minutes " in closed
    findings = [t for t in chat.announced if t.startswith("A1 · ")]
    assert len(findings) == 2
    assert any("stewards make most proposals" in t for t in findings)
    assert any("Deliveries are run by the riders" in t for t in findings)
    calendar = await chat.say("m1", "/calendar")
    assert "A1: its revision must pass by now" in calendar
    # A proposal revising it passes within the deadline: the demand is met.
    await chat.say("m1", "/propose Rotate who proposes\n  revises: A1\n  closes: 2d")
    card = chat.last
    assert "meets liberation audit A1's revision demand" in card
    await everyone_votes(chat, card, "For")
    clock.advance(days=2, minutes=1)
    results = await tick(chat)
    assert any("This meets liberation audit A1's revision demand." in t for t in results)
    assert "revision demand was met" in await chat.say("m1", "/audit")
    assert "A1: its revision" not in await chat.say("m1", "/calendar")
    kinds = await leaves(chat.gov.stores)
    for kind in ("audit_started", "draw_announced", "draw_drawn", "audit_opened", "verdict", "audit_closed",
                 "revision_met"):
        assert kind in kinds, kind
    # The minutes say who spoke when; the grades and findings only in the close, published together.
    async with chat.gov.stores.db.read() as s:
        records = dict((await s.execute(select(Minute.seq, Minute.record).where(Minute.kind == "verdict"))).all())
        closed_record = (await s.execute(select(Minute.record).where(Minute.kind == "audit_closed"))).scalar_one()
    assert len(records) == 3 and not any("reformist" in r or "revolutionary" in r for r in records.values())
    assert "stewards make most proposals" in closed_record and "reformist" in closed_record
    # Nothing more is due: the deadline passing later convenes nothing.
    clock.advance(days=40)
    assert not any("assembly" in t.lower() for t in await tick(chat))


async def test_a_missed_revision_convenes_an_assembly_whose_no_reseats_the_stewards(chat, clock):
    """Reformist, and no revision passes in time: an emergency assembly is announced with its
    mandated vote; the vote fails, every steward role lapses, and as many new stewards are drawn
    by lot from the members who were not stewards. Each step is in the minutes, and a second
    run of the due work at each step repeats nothing."""
    await allied_coop(chat)
    await chat.say("alice", "/admit m3\n  role: steward")
    auditors = await start_and_seat(chat)
    for who in auditors:
        await chat.say(who, "/verdict A1 reformist\nToo many decisions made by stewards.")
    assert await tick(chat) == []
    clock.advance(days=30, seconds=1)
    posted = await tick(chat)
    missed = next(t for t in posted if "revision was not passed" in t)
    assert "emergency assembly is convened" in missed
    card = next(t for t in posted if t.startswith("Proposal #"))
    assert "Keep the current stewards?" in card and "EMERGENCY ASSEMBLY" in card and "by the charter" in card
    assert "Stewards now: alice and m3" in card and "strategic" in card
    assert await tick(chat) == []  # convened once
    number = number_of(card)
    assert "Emergency assembly of A1" in await chat.say("m1", "/calendar")
    # Nobody may close or withdraw it early.
    assert "cannot be withdrawn or closed early" in await chat.say("alice", f"/close {number}")
    for who in ("m1", "m2"):
        await chat.say(who, f"/vote {number} Against")
    await chat.say("alice", f"/vote {number} For")
    # A steward admitting a friend while the assembly is pending does not put them in the draw.
    await chat.say("alice", "/admit friend")
    clock.advance(days=7, seconds=1)
    posted = await tick(chat)
    result = next(t for t in posted if t.startswith(f"Result of #{number}"))
    assert "failed" in result and "Every steward role lapses (alice and m3)" in result
    draw = next(t for t in posted if t.startswith("Draw D2: 2 seats for stewards"))
    assert "Excluded:" in draw and "alice: a steward whose role lapsed" in draw
    assert "1. m1" in draw and "2. m2" in draw and "m3" not in draw.split("Excluded:")[0]
    assert "friend" not in draw
    assert "a member" in await chat.say("alice", "/whoami")
    assert "steward" in (await chat.say("alice", "/audit start")).lower()
    assert await tick(chat) == []
    clock.advance(minutes=11)
    posted = await tick(chat)
    seated = next(t for t in posted if t.startswith("New stewards of Red Bakery"))
    assert "m1" in seated and "m2" in seated
    for who in ("m1", "m2"):
        assert "steward" in await chat.say(who, "/whoami")
    assert await tick(chat) == []
    kinds = await leaves(chat.gov.stores)
    for kind in ("revision_missed", "stewards_lapsed", "stewards_seated"):
        assert kinds.count(kind) == 1, kind


async def test_a_counter_revolutionary_verdict_convenes_the_assembly_at_once_and_a_yes_keeps_them(chat, clock):
    await allied_coop(chat)
    auditors = await start_and_seat(chat)
    for who in auditors:
        await chat.say(who, "/verdict A1 counter-revolutionary\nA disguised sale is under way.")
    card = next(t for t in chat.announced if t.startswith("Proposal #") and "Keep the current stewards?" in t)
    assert "a counter-revolutionary verdict" in card
    await everyone_votes(chat, card, "For")
    clock.advance(days=7, seconds=1)
    posted = await tick(chat)
    assert any("The assembly keeps the stewards in their roles." in t for t in posted)
    assert "steward" in await chat.say("alice", "/whoami")
    assert await tick(chat) == []


async def test_who_may_give_a_verdict_and_when(chat, clock):
    """Only a drawn auditor gives a verdict; an ally who was not drawn, a member and a stranger
    are refused; a second `audit start` is refused while one is open; a bad grade gets the usage;
    a verdict after the close is refused; an ally cannot vote on a proposal."""
    await allied_coop(chat)
    auditors = await start_and_seat(chat)
    assert "under way" in await chat.say("alice", "/audit start")
    # A steward cannot silence a drawn auditor by ending their allyship while the audit runs.
    refused = await chat.say("alice", f"/unally {auditors[0]}")
    assert "Only an ally from" in refused and "can end an allyship" in refused
    assert auditors[0] in [s.name for s in await chat.gov.stores.audits.seats(1)]
    # Nor can another ally of the auditor's organisation (a puppet, or a rival).
    org = next(s.org for s in await chat.gov.stores.audits.seats(1) if s.name == auditors[0])
    fellow = next((a for a in ("t1", "t2", "t3") if a != auditors[0]), None) if org == "Tenants Union" else None
    if fellow is None:
        await chat.say("c1" if auditors[0] != "c1" else auditors[0], f"/ally puppet\n  org: {org}")
        fellow = "puppet"
    assert f"only {auditors[0]} can end their allyship" in await chat.say(fellow, f"/unally {auditors[0]}")
    not_drawn = next(a for a in ("t1", "t2", "t3") if a not in auditors)
    assert "Only the auditors drawn for A1" in await chat.say(not_drawn, "/verdict A1 reformist")
    assert "Only the auditors drawn for A1" in await chat.say("m1", "/verdict A1 reformist")
    assert "Only the auditors drawn for A1" in await chat.say("stranger", "/verdict A1 reformist")
    bad = await chat.say(auditors[0], "/verdict A1 excellent")
    assert "'excellent' is not a verdict" in bad and "Usage: /verdict A<n>" in bad
    assert "no liberation audit A9" in await chat.say(auditors[0], "/verdict A9 reformist")
    assert "is not an audit" in await chat.say(auditors[0], "/verdict Z reformist")
    # An ally does not vote on the co-op's proposals.
    await chat.say("alice", "/propose Buy a van")
    vote = await chat.say(auditors[0], "/vote 3 For")
    assert "allies do not vote" in vote.lower(), vote
    assert "So far: For 0 · Against 0 · Abstain 0 (0 of 4 voted)" in await chat.say("m1", "/show 3")
    for who in auditors:
        await chat.say(who, "/verdict A1 revolutionary")
    assert "is closed" in await chat.say(auditors[0], "/verdict A1 reformist")
    assert "nothing follows" in next(t for t in chat.announced if "is closed" in t).lower()
    # A stranger cannot start one; with the audit closed a steward can.
    assert "Liberation audit A2" in await chat.say("alice", "/audit start")


async def test_silence_redraws_once_then_records_no_verdict(chat, clock):
    await allied_coop(chat)
    first = await start_and_seat(chat)
    clock.advance(days=30, minutes=1)
    posted = await tick(chat)
    redrawn = next(t for t in posted if "drawn again, once" in t)
    assert "D2" in redrawn
    draw = next(t for t in posted if t.startswith("Draw D2"))
    assert all(f"{name}: drawn for A1 and gave no verdict" in draw for name in first)
    clock.advance(minutes=11)
    posted = await tick(chat)
    second = [s.name for s in await chat.gov.stores.audits.seats(1)]
    assert second and not set(second) & set(first)
    # Those drawn first, and silent, no longer sit: their verdict is refused.
    assert "Only the auditors drawn for A1" in await chat.say(first[0], "/verdict A1 counter-revolutionary")
    opened = next(t for t in posted if t.startswith("Liberation audit A1: the auditors are"))
    assert not any(name in opened.split("(drawn")[0] for name in first)
    clock.advance(days=30, minutes=1)
    posted = await tick(chat)
    closed = next(t for t in posted if "is closed" in t)
    assert "NO VERDICT" in closed and "even when drawn again" in closed
    assert await tick(chat) == []


async def test_no_allies_no_start_and_a_due_audit_is_recorded_without_verdict(chat, clock):
    await make_coop(chat, 2)
    answer = await chat.say("alice", "/audit start")
    assert "No ally can be drawn" in answer and "affiliate:" in answer
    assert "only" in (await chat.say("m1", "/audit start")).lower()
    assert "no liberation audit yet" in await chat.say("m1", "/audit")
    clock.advance(days=366)
    posted = await tick(chat)
    assert any("fell due" in t and "no ally could be drawn" in t for t in posted)
    assert "NO VERDICT" in await chat.say("m1", "/audit")


async def test_the_cooldown_keeps_last_auditors_out(chat, clock):
    await allied_coop(chat)
    first = await start_and_seat(chat)
    for who in first:
        await chat.say(who, "/verdict A1 revolutionary")
    await chat.say("alice", "/audit start")
    draw = chat.last
    assert draw.startswith("Draw D2")
    for name in first:
        assert f"{name}: audited in A1 (audit_cooldown)" in draw


async def test_two_starts_at_once_open_one_audit(chat, clock):
    """The partial unique index is the guard: two starts racing (two processes, both past any
    check) open one audit and announce one draw; the other is refused and leaves nothing."""
    await allied_coop(chat)
    stores = chat.gov.stores
    coop = await stores.coops.get(1)
    specs = [await audits._draw_spec(stores, coop, 1, now=clock.now()) for _ in range(2)]
    results = await asyncio.gather(
        *(stores.audits.start(1, reason="steward", spec=spec, by=1, now=clock.now()) for spec in specs),
        return_exceptions=True)
    assert sum(isinstance(r, Audit) for r in results) == 1, results
    assert sum(isinstance(r, AuditRunning) for r in results) == 1, results
    assert len(await stores.draws.list(1)) == 1
    async with stores.db.read() as s:
        assert (await s.execute(select(func.count()).select_from(Audit))).scalar_one() == 1


async def test_a_revises_line_is_checked(chat, clock):
    """`revises:` names an audit whose revision is due, by a proposal deciding before the
    deadline; a renewal of the mandate cannot double as one. Each refusal leaves nothing opened."""
    await allied_coop(chat)
    assert "no liberation audit A1" in await chat.say("m1", "/propose Fix\n  revises: A1")
    auditors = await start_and_seat(chat)
    assert "demands no revision now" in await chat.say("m1", "/propose Fix\n  revises: A1")
    for who in auditors:
        await chat.say(who, "/verdict A1 reformist")
    late = await chat.say("m1", "/propose Fix\n  revises: A1\n  closes: 60d")
    assert "must pass by" in late and "set closes: before the deadline" in late
    assert "is not an audit" in await chat.say("m1", "/propose Fix\n  revises: soon")
    renewal = await chat.say("m1", "/propose Renew the co-op's mandate?\n  kind: constitutional\n  revises: A1")
    assert "cannot also answer an audit" in renewal
    assert [p.title for p in await chat.gov.stores.proposals.list(1)] == ["Affiliate with Tenants Union",
                                                                         "Affiliate with Couriers Network"]


async def test_a_revision_is_reminded_before_its_deadline(chat, clock):
    """Reformist: every room is reminded at the charter's audit reminder offsets before the
    revision deadline (7 days and 1 day by default; the 30-day one would fall at the verdict
    itself), each once; `next_due` wakes the clock for them."""
    from schedules.due import next_due
    from schedules.state import DueState
    await allied_coop(chat)
    for who in await start_and_seat(chat):
        await chat.say(who, "/verdict A1 reformist")
    audit = await chat.gov.stores.audits.get(1, 1)
    state = DueState()
    await state.refresh(chat.gov.stores)
    assert await next_due(chat.gov.stores, clock.now(), state) <= audit.revision_due_at - timedelta(days=7)
    clock.current = audit.revision_due_at - timedelta(days=7)
    reminded = [t for t in await tick(chat) if t.startswith("Reminder: liberation audit A1's revision")]
    assert len(reminded) == 1 and "7d left" in reminded[0] and "revises: A1" in reminded[0]
    assert await tick(chat) == []
    clock.current = audit.revision_due_at - timedelta(hours=20)
    reminded = [t for t in await tick(chat) if t.startswith("Reminder: liberation audit A1's revision")]
    assert len(reminded) == 1 and "20h left" in reminded[0]
    assert await tick(chat) == []


async def test_an_auditor_the_bot_cannot_write_to_directly_gets_the_pack_in_the_rooms(chat, clock):
    """An ally known only by a Matrix account (the bot opens no Matrix direct chat by id): the
    pack is posted in the rooms, as a message of its own after the announcement."""
    from sqlalchemy import update
    from storage.models import Account
    await allied_coop(chat)
    async with chat.gov.stores.db.write() as s:
        await s.execute(update(Account).where(Account.user_id == "c1").values(platform="matrix", user_id="@c1:example.org"))
    auditors = await start_and_seat(chat)
    assert "c1" in auditors
    opened = next(i for i, t in enumerate(chat.announced) if t.startswith("Liberation audit A1: the auditors are"))
    pack = chat.announced[opened + 1]
    assert pack.startswith("The audit pack, for the auditors this bot cannot write to directly")
    assert "Audit pack of Red Bakery" in pack and "Audit pack" not in chat.announced[opened]
    async with chat.gov.stores.db.read() as s:
        direct = (await s.execute(select(Outbox.chat_id).where(Outbox.kind == "direct"))).scalars().all()
    assert "@c1:example.org" not in direct and len(direct) == 1
