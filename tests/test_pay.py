"""The pay scale and the wage-ratio cap: rates set by stewards, the ratio shown, a change past the
cap refused in one transaction (posted, in the minutes), pay closed, the export and the pack."""

from __future__ import annotations

import asyncio
import json
from fractions import Fraction

from sqlalchemy import select

from bot.export import collect, to_csv, to_markdown
from bot.verify import problems
from handlers import draws
from handlers import texts
from handlers.events import CommandReceived
from handlers.pack import audit_pack
from storage.models import Minute
from tests.conftest import Chat, make_coop
from tests.test_schedules import set_charter


async def three_paid(chat: Chat) -> None:
    """alice 30.00 an hour; m1 2,400.00 a month at the charter's 160 hours (15.00); m2 1,730.00 a
    month over 173 hours (10.00): the ratio 30 : 10 is exactly the cap 1 : 3."""
    await make_coop(chat, 3)
    assert "Pay of alice set to 30.00 EUR an hour (30.00 EUR an hour)" in await chat.say("alice", "/pay alice 30")
    answer = await chat.say("alice", "/pay m1 2,400\n  per: month")
    assert "Pay of m1 set to 2,400.00 EUR a month (160 hours) (15.00 EUR an hour)" in answer
    assert "1 : 2.0 (cap 1 : 3)" in answer
    answer = await chat.say("alice", "/pay m2 1730\n  per: month\n  hours: 173")
    assert "1,730.00 EUR a month (173 hours) (10.00 EUR an hour)" in answer and "1 : 3.0 (cap 1 : 3)" in answer


async def minutes_of(stores, kind: str) -> list[dict]:
    async with stores.db.read() as s:
        rows = (await s.execute(select(Minute.record).where(Minute.kind == kind).order_by(Minute.seq))).scalars()
        return [json.loads(r) for r in rows]


async def test_pay_set_for_three_members_shows_the_scale_and_the_ratio(chat):
    """Hourly and monthly pay, converted at full_time_hours or the given hours, exactly; `pay` shows
    every member's hourly equivalent, the ratio to one decimal, the cap and the history."""
    await three_paid(chat)
    shown = await chat.say("m2", "/pay")
    assert "• alice: 30.00 EUR an hour" in shown
    assert "• m1: 15.00 EUR an hour (2,400.00 EUR a month (160 hours))" in shown
    assert "• m2: 10.00 EUR an hour (1,730.00 EUR a month (173 hours))" in shown
    assert "Ratio highest : lowest: 1 : 3.0 (cap 1 : 3)." in shown
    assert "History (latest 3, newest first):" in shown
    assert shown.index("m2: 1,730.00") < shown.index("m1: 2,400.00") < shown.index("alice: 30.00 EUR an hour, set")
    current = {p.member_id: p for p in await chat.gov.stores.pay.current(1)}
    assert [current[i].hourly for i in (1, 2, 3)] == ["3000", "1500", "1000"]
    # A month whose hours do not divide the pay is kept exact: minor units per hour as a fraction.
    answer = await chat.say("alice", "/pay m1 2500\n  per: month\n  hours: 173")
    assert "(14.45 EUR an hour)" in answer
    assert (await chat.gov.stores.pay.current(1))[1].hourly == str(Fraction(250000, 173)) == "250000/173"
    kinds = await minutes_of(chat.gov.stores, "pay_set")
    assert len(kinds) == 4 and kinds[0]["data"]["hourly"] == "3000" and kinds[0]["member"] == 1


async def test_a_change_past_the_cap_is_refused_posted_and_in_the_minutes(chat):
    """m2 cut to 7.14 an hour would make 30 : 7.14 = 4.2 > 3: refused, announced in the room, a
    leaf of the minutes and in the history; m2's current pay stays what it was."""
    await three_paid(chat)
    answer = await chat.say("alice", "/pay m2 7.14")
    assert answer == ""  # posted in every room, this one included
    refusal = ("A pay change for m2 to 7.14 EUR an hour was refused: it would make the ratio 1 : 4.2 "
               "against the cap 1 : 3.")
    assert chat.last == refusal
    current = {p.member_id: p for p in await chat.gov.stores.pay.current(1)}
    assert (current[3].amount, current[3].per, current[3].hourly) == (173000, "month", "1000")
    (leaf,) = await minutes_of(chat.gov.stores, "pay_refused")
    assert leaf["member"] == 3 and leaf["data"]["amount"] == 714 and leaf["data"]["cap"] == "3"
    shown = await chat.say("m1", "/pay")
    assert "• m2: 10.00 EUR an hour" in shown and "1 : 3.0 (cap 1 : 3)" in shown
    assert "m2: 7.14 EUR an hour, by alice, refused (1 : 4.2 against the cap)" in shown
    # Asked in a direct chat, the steward hears it there too.
    direct = Chat(chat.gov, chat_id="alice-direct", direct=True)
    assert "would make the ratio 1 : 6.0 against the cap 1 : 3" in await direct.say("alice", "/pay alice 60")
    # A raise for the lowest paid narrows the ratio: it is set.
    assert "1 : 2.0 (cap 1 : 3)" in await chat.say("alice", "/pay m2 15")
    # The leaves agree with the events they record: the start check and `coopbot verify` pass.
    stores = chat.gov.stores
    assert await stores.minutes.check(stores.proposals.recount, draws.replay_problem) == []
    assert problems(json.loads(json.dumps(await collect(stores)))) == []


async def test_the_ratio_shown_in_a_refusal_never_rounds_down_to_the_cap(chat):
    """30 : 9.99 is 3.003: refused, and said as 1 : 3.1, not 1 : 3.0."""
    await three_paid(chat)
    await chat.say("alice", "/pay m2 9.99")
    assert "would make the ratio 1 : 3.1 against the cap 1 : 3" in chat.last


async def test_closed_pay_shows_only_the_ratio_and_your_own(chat):
    await three_paid(chat)
    await set_charter(chat.gov.stores, 1, open_pay=False)
    shown = await chat.say("m1", "/pay")
    assert "is closed (open_pay = no)" in shown and "• m1: 15.00 EUR an hour" in shown
    assert "• alice" not in shown and "m2" not in shown and "1 : 3.0 (cap 1 : 3)" in shown
    assert "m2: 10.00" not in await chat.say("m3", "/pay") and "No pay is recorded for you." in chat.replies[0].text


async def test_non_stewards_are_refused_and_bad_input_gets_the_usage(chat):
    await make_coop(chat, 2)
    assert "Only a steward of Red Bakery can do that." in await chat.say("m1", "/pay m1 100")
    for line, problem in [
        ("/pay m1", "Write /pay <member> <amount>"),
        ("/pay m1 -5", "Pay cannot be negative."),
        ("/pay m1 0", "Pay must be more than zero."),
        ("/pay m1 1.001", "EUR has 2 decimal places"),
        ("/pay m1 lots", "'lots' is not an amount of pay"),
        ("/pay m1 10\n  per: week", "'week' is not hour or month."),
        ("/pay m1 10\n  hours: 100", "hours: is for monthly pay"),
        ("/pay m1 10\n  per: month\n  hours: 745", "'745' is not a whole number of hours"),
        ("/pay m1 10\n  per: month\n  hours: ten", "'ten' is not a whole number of hours"),
        ("/pay\n  per: month", "Write /pay <member> <amount>"),
    ]:
        answer = await chat.say("alice", line)
        assert problem in answer and "Usage: /pay" in answer, (line, answer)
    assert "nobody is not an active member of Red Bakery." in await chat.say("alice", "/pay nobody 10")
    await chat.say("alice", "/remove m2")
    assert "m2 is not an active member" in await chat.say("alice", "/pay m2 10")
    assert await chat.gov.stores.pay.history(1) == []
    assert "No pay is recorded yet." in await chat.say("m1", "/pay")


async def test_two_changes_racing_cannot_both_pass_the_cap(gov):
    """alice 30 and m1 20: lowering m1 to 12 (30 : 12 = 2.5) and raising alice to 40 (40 : 20 = 2)
    each fit the cap alone, together they make 40 : 12 = 3.3. Sent at once, exactly one is set."""
    chat = Chat(gov)
    await make_coop(chat, 1)
    await chat.say("alice", "/admit m1\n  role: steward")
    await chat.say("alice", "/pay alice 30")
    await chat.say("alice", "/pay m1 20")
    for _ in range(3):
        await asyncio.gather(*(gov.handle_command(CommandReceived(chat.chat, chat.user(who), line))
                               for who, line in (("alice", "/pay m1 12"), ("m1", "/pay alice 40"))))
        await chat.drain()
        latest = (await gov.stores.pay.history(1, limit=2, newest_first=True))
        assert sorted(p.status for p in latest) == ["refused", "set"], latest
        hourlies = [Fraction(p.hourly) for p in await gov.stores.pay.current(1)]
        assert max(hourlies) / min(hourlies) <= 3
        assert sum("was refused" in t for t in chat.announced) == 1
        chat.announced.clear()
        await chat.say("alice", "/pay alice 30")  # back to the start for the next round
        await chat.say("alice", "/pay m1 20")


async def test_the_export_carries_the_pay_history(chat):
    await three_paid(chat)
    await chat.say("alice", "/pay m2 7")
    (coop,) = (await collect(chat.gov.stores))["coops"]
    pay = coop["pay"]
    assert [(p["member"], p["status"]) for p in pay] == [("alice", "set"), ("m1", "set"), ("m2", "set"),
                                                          ("m2", "refused")]
    assert pay[1] | {"set_at": None} == {
        "member": "m1", "amount": "2,400.00 EUR", "amount_minor": 240000, "currency": "EUR", "per": "month",
        "hours": 160, "hourly_minor": "1500", "hourly": "15.00 EUR", "ratio": "2", "status": "set",
        "set_at": None, "set_by": "alice"}
    assert pay[3]["ratio"] == "30/7"
    markdown = to_markdown({"coops": [coop]})
    assert "| m1 | 2,400.00 EUR a month (160 hours) | 15.00 EUR | set | alice |" in markdown
    assert "| m2 | 7.00 EUR an hour | 7.00 EUR | refused (1 : 4.3) | alice |" in markdown
    assert "Red Bakery,pay,,,m2,,refused,EUR,7.00 EUR,7.00 EUR an hour" in to_csv({"coops": [coop]})
    assert coop["charter"]["wage_ratio_cap"] == "3" and coop["charter"]["open_pay"] is True


async def test_the_pack_shows_the_ratio_the_cap_and_the_changes(chat):
    stores = chat.gov.stores
    await three_paid(chat)
    await chat.say("alice", "/pay m2 7")
    pack = await audit_pack(stores, await stores.coops.get(1), chat.gov.clock.now())
    part = pack.split("\n\n")[1]
    assert part.startswith(texts.PACK_PAY + ":")
    assert "Ratio highest : lowest now: 1 : 3.0 (cap 1 : 3), among 3 members" in part
    assert "m1 2,400.00 EUR a month (160 hours) (15.00 EUR an hour), set" in part
    assert "m2 7.00 EUR an hour (7.00 EUR an hour), refused: it would have made 1 : 4.3" in part


async def test_the_cap_is_read_under_the_co_op_lock_as_it_stands_then(chat):
    """The cap a change is judged against is the charter's as the change is written (an
    amendment of the cap merges under the same co-op row lock), not as it was read before."""
    from sqlalchemy import update

    from handlers.charter import Charter
    from storage.models import Coop
    await make_coop(chat, 2)
    await chat.say("alice", "/pay m1 10")
    stores = chat.gov.stores
    coop = await stores.coops.get(1)
    async with stores.db.write() as s:  # the cap lowered between the command's read and its write
        await s.execute(update(Coop).where(Coop.id == 1).values(
            charter=Charter.from_json(coop.charter).with_changes(wage_ratio_cap=Fraction(2)).to_json()))
    from handlers.pay import hourly_of
    change = await stores.pay.change(1, 3, amount=2500, currency="EUR", per="hour", hours=None,
                                     hourly=hourly_of(2500, "hour", None),
                                     cap=lambda c: Charter.from_json(c.charter).wage_ratio_cap, by=1,
                                     now=chat.gov.clock.now(),
                                     refusal=lambda ratio, cap: f"refused at {ratio} against {cap}")
    assert change.refused and change.cap == 2 and change.ratio == Fraction(5, 2)  # under the old cap 3 it would pass
