"""A wage-ratio cap amended below the pay scale's ratio (SPEC 'Firewalls'): the close records a pay
demand, numbered as an audit, whose revision is due within revision_days, else an emergency
assembly; what members see at each step, and that nothing happens twice."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.export import collect
from bot.verify import problems
from handlers import audits, draws
from handlers.proposals import close_due
from storage.errors import ProposalNotOpen
from storage.models import Audit
from tests.conftest import Chat, make_coop
from tests.test_audits import allied_coop, everyone_votes, leaves, number_of, start_and_seat, tick
from tests.test_schedules import set_charter

VOTERS = ("alice", "m1", "m2", "m3")


async def paid(chat: Chat) -> None:
    """alice 25.00, m1 20.00, m2 10.00 an hour: the ratio 1 : 2.5, under the cap 1 : 3."""
    for who, amount in (("alice", 25), ("m1", 20), ("m2", 10)):
        await chat.say("alice", f"/pay {who} {amount}")
    assert "1 : 2.5 (cap 1 : 3)" in chat.replies[-1].text


async def amend_cap(chat: Chat, cap: str) -> list[str]:
    """A proposal amending the cap, open 8 days, every member For; what the clock posts at its close.
    (8 days and every member For: it passes under the protected rules for firewall keys too.)"""
    await chat.say("m1", f"/propose Lower the wage-ratio cap\n  amend: wage_ratio_cap = {cap}\n  closes: 8d")
    card = chat.last
    assert card.startswith("Proposal #"), card
    await everyone_votes(chat, card, "For")
    chat.gov.clock.advance(days=8, minutes=1)
    posted = await tick(chat)
    result = next(t for t in posted if t.startswith(f"Result of #{number_of(card)}"))
    assert "passed" in result, result
    return posted


async def pay_demands(stores) -> int:
    async with stores.db.read() as s:
        return (await s.execute(select(func.count()).select_from(Audit).where(Audit.reason == "pay"))).scalar_one()


async def test_a_cap_below_the_ratio_makes_a_revision_due_and_a_missed_one_convenes_the_assembly(chat, clock):
    """The cap amended to 1 : 2 under a 1 : 2.5 scale: the result says a revision is due as A1
    and by when; `audit A1` and `calendar` show it; the members are reminded; nobody passes a
    revision, so at the deadline the clock posts the missed revision and convenes the emergency
    assembly, whose card says it was the pay cap's revision. A second run repeats nothing."""
    await make_coop(chat, 3)
    await paid(chat)
    start = clock.now()
    posted = await amend_cap(chat, "2")
    result = next(t for t in posted if t.startswith("Result of #"))
    assert "The charter is amended" in result
    assert "The wage-ratio cap is now 1 : 2, below the pay scale's ratio 1 : 2.5: a revision is due (A1)." in result
    assert "'revises: A1' must pass by" in result and "or an emergency assembly is convened" in result
    demand = await chat.gov.stores.audits.get(1, 1)
    # Due within the new charter's revision_days (30) of the close.
    assert demand.revision_due_at == demand.closed_at + timedelta(days=30)
    assert demand.closed_at >= start + timedelta(days=8)
    shown = await chat.say("m2", "/audit A1")
    assert "A1 of Red Bakery (pay cap breach): the cap 1 : 2, set by #1 on" in shown, shown
    assert "was below the pay scale's ratio then, 1 : 2.5." in shown
    assert "A revision is due: a proposal with 'revises: A1' must pass by" in shown
    assert "REVOLUTIONARY" not in shown and "liberation audit A1 of" not in shown.lower()
    assert "A1 of Red Bakery (pay cap breach)" in await chat.say("m2", "/audit")  # the latest, in its own words
    calendar = await chat.say("m1", "/calendar")
    assert "A1 (pay cap breach): its revision must pass by now, or an emergency assembly is convened" in calendar
    assert "pay_breach" in await leaves(chat.gov.stores)
    # Reminders, each once, in the demand's own words.
    assert await tick(chat) == []
    clock.current = demand.revision_due_at - timedelta(days=7)
    reminded = await tick(chat)
    assert len(reminded) == 1 and reminded[0].startswith("Reminder: the revision of pay cap breach A1 must pass by")
    assert await tick(chat) == []
    # Nobody passes a revision: at the deadline, the assembly.
    clock.current = demand.revision_due_at + timedelta(seconds=1)
    posted = await tick(chat)
    missed = next(t for t in posted if "was not passed" in t)
    assert missed.startswith("The revision of pay cap breach A1") and "an emergency assembly is convened" in missed
    card = next(t for t in posted if t.startswith("Proposal #"))
    assert "Keep the current stewards?" in card and "EMERGENCY ASSEMBLY" in card
    assert "convened by pay cap breach A1" in card and "the wage-ratio cap was set below the pay scale's ratio" in card
    assert "counter-revolutionary" not in card
    assert await tick(chat) == []  # convened once
    assert "Emergency assembly of A1" in await chat.say("m1", "/calendar")
    assert (await leaves(chat.gov.stores)).count("revision_missed") == 1
    # The new leaf agrees with its event: the start check and `coopbot verify` pass, and the export says what A1 was.
    stores = chat.gov.stores
    assert await stores.minutes.check(stores.proposals.recount, draws.replay_problem) == []
    export = json.loads(json.dumps(await collect(stores)))
    assert problems(export) == []
    (a1,) = export["coops"][0]["audits"]
    assert (a1["reason"], a1["verdict"], a1["auditors"]) == ("pay", "breach", [])


async def test_a_revision_passed_in_time_meets_the_demand(chat, clock):
    await make_coop(chat, 3)
    await paid(chat)
    await amend_cap(chat, "2")
    await chat.say("alice", "/propose Narrow the pay scale\n  revises: A1\n  closes: 2d")
    card = chat.last
    assert "this meets the revision demand of pay cap breach A1" in card, card
    await everyone_votes(chat, card, "For")
    clock.advance(days=2, minutes=1)
    results = await tick(chat)
    assert any("This meets the revision demand of pay cap breach A1." in t for t in results), results
    assert "Its revision demand was met." in await chat.say("m1", "/audit A1")
    assert "A1 (pay cap breach)" not in await chat.say("m1", "/calendar")
    clock.advance(days=40)
    assert not any("assembly" in t.lower() for t in await tick(chat))
    assert "revision_met" in await leaves(chat.gov.stores)
    assert "Pay cap breach A1 demands no revision now." in await chat.say("m1", "/propose Again\n  revises: A1")


async def test_a_cap_amended_but_still_above_the_ratio_makes_nothing_due(chat, clock):
    await make_coop(chat, 3)
    await paid(chat)
    posted = await amend_cap(chat, "2.5")
    result = next(t for t in posted if t.startswith("Result of #"))
    assert "The charter is amended" in result and "revision is due" not in result
    assert await pay_demands(chat.gov.stores) == 0
    assert "no liberation audit yet" in await chat.say("m1", "/audit")
    assert "pay_breach" not in await leaves(chat.gov.stores)
    # Another amendment that leaves the cap alone makes nothing due either, even with the pay over it.
    await set_charter(chat.gov.stores, 1, wage_ratio_cap=2)
    await chat.say("m1", "/propose Longer revisions\n  amend: revision_days = 40\n  closes: 8d")
    await everyone_votes(chat, chat.last, "For")
    clock.advance(days=8, minutes=1)
    assert not any("revision is due" in t for t in await tick(chat))
    assert await pay_demands(chat.gov.stores) == 0


async def test_a_second_run_or_close_makes_no_second_demand_nor_assembly(chat, clock):
    await make_coop(chat, 3)
    await paid(chat)
    await amend_cap(chat, "2")
    stores = chat.gov.stores
    assert await tick(chat) == [] and await tick(chat) == []
    assert await close_due(stores, clock.now(), chat.gov.before_close) == 0
    p = (await stores.proposals.list(1))[-1]
    with pytest.raises(ProposalNotOpen):
        await stores.proposals.close(p.id, now=clock.now(), by=None, reason=None, decide=lambda q, c, *_: q.result,
                                     render=lambda q: "", judge=audits.settlement, breach=audits.cap_breach)
    assert await pay_demands(stores) == 1
    demand = await stores.audits.get(1, 1)
    clock.current = demand.revision_due_at + timedelta(seconds=1)
    posted = await tick(chat)
    assert sum(t.startswith("Proposal #") for t in posted) == 1
    for _ in range(2):  # a restart: the due work runs again from the database
        assert await tick(chat) == []
    assert await pay_demands(stores) == 1
    assert len(await stores.audits.list(1)) == 1
    kinds = await leaves(stores)
    assert kinds.count("pay_breach") == 1 and kinds.count("revision_missed") == 1


async def test_a_pay_demand_is_not_an_audit_for_the_auditors_cooldown(chat, clock):
    """audit_cooldown = 1: A1 is a real audit, A2 a pay demand. A3's draw still keeps A1's
    auditors out (the last audit is A1, not the demand), and `audit start` works while A2's
    revision is pending. The demand is made by the close itself; its tally is not under test here
    (organisations are affiliated, whose consent a firewall amendment may come to need)."""
    await allied_coop(chat)
    await set_charter(chat.gov.stores, 1, audit_cooldown=1)
    first = await start_and_seat(chat)
    for who in first:
        await chat.say(who, "/verdict A1 revolutionary")
    assert "is closed" in next(t for t in chat.announced if "Liberation audit A1" in t and "closed" in t)
    await paid(chat)
    await chat.say("m1", "/propose Lower the wage-ratio cap\n  amend: wage_ratio_cap = 2\n  closes: 8d")
    p = (await chat.gov.stores.proposals.list(1))[-1]
    clock.advance(days=8, minutes=1)
    await chat.gov.stores.proposals.close(
        p.id, now=clock.now(), by=None, reason=None, decide=lambda q, c, *_: {"passed": True, "carried": True},
        render=lambda q: "closed", judge=audits.settlement, breach=audits.cap_breach)
    assert "A2 of Red Bakery (pay cap breach)" in await chat.say("m1", "/audit A2")
    answer = await chat.say("alice", "/audit start")
    assert "Liberation audit A3 of Red Bakery is open" in answer, answer
    draw = next(t for t in chat.announced if t.startswith("Draw D") and "auditors of liberation audit A3" in t)
    for name in first:
        assert f"{name}: audited in A1 (audit_cooldown)" in draw, draw
    # The pack of A3 covers the time since A1 closed, not since the demand.
    a1, a3 = await chat.gov.stores.audits.get(1, 1), await chat.gov.stores.audits.get(1, 3)
    assert (await chat.gov.stores.audits.previous(1, a3.number)).number == a1.number
    # A second start while A3 runs names A3, not the demand.
    assert "Liberation audit A3 is under way" in await chat.say("alice", "/audit start")


# --- found by a hostile review ---
async def test_a_demand_can_be_met_by_pay_changes_when_two_share_the_top_pay(chat, clock):
    """With two members at the top pay, each cut toward the lowered cap leaves the ratio past it
    for a moment: it is set, not refused, since it does not widen the ratio."""
    await make_coop(chat, 3)
    for who, amount in (("alice", 25), ("m1", 25), ("m2", 10)):
        await chat.say("alice", f"/pay {who} {amount}")
    await amend_cap(chat, "2")
    before = len(chat.announced)
    assert "refused" not in await chat.say("alice", "/pay alice 20")
    assert "refused" not in await chat.say("alice", "/pay m1 20")
    assert not [t for t in chat.announced[before:] if "was refused" in t]
    scale = await chat.say("alice", "/pay")
    assert "refused" not in scale and "1 : 2.0" in scale
    # A change that widens the ratio past the cap is still refused.
    await chat.say("alice", "/pay m1 30")
    assert "A pay change for m1 to 30.00 EUR an hour was refused: it would make the ratio 1 : 3.0" in chat.last


async def test_a_cap_changed_again_while_a_demand_is_pending_makes_no_second_demand(chat, clock):
    """Ratio 1 : 2.5, the cap lowered to 2 (A1), then raised to 2.2, still below: A1's revision
    answers both; one demand, and, missed, one emergency assembly."""
    await make_coop(chat, 3)
    await paid(chat)
    await amend_cap(chat, "2")
    await amend_cap(chat, "2.2")
    assert await pay_demands(chat.gov.stores) == 1
    posted = []
    for _ in range(6):
        clock.advance(days=8)
        posted += await tick(chat)
    assert len([t for t in posted if t.startswith("Proposal #") and "Keep the current stewards" in t]) == 1
