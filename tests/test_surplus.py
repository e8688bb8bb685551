"""Vows before dividends: exact allocation, the vow gate, exactly-once payout, open books."""

from __future__ import annotations

import asyncio
import json
import random
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from handlers.charter import DEFAULT_FUNDS, Charter
from schedules.due import run_due
from handlers.money import BadAmount, format_amount, parse_amount, split
from storage.models import Outbox
from tests.conftest import Chat, make_coop
from tests.test_console import console, export
from tests.test_schedules import directs, set_charter

FUNDS = list(DEFAULT_FUNDS)


@pytest.mark.parametrize("amount, currency, members", [
    ("0.01", "EUR", 3), ("1,000,000.07", "EUR", 7), ("1000", "EUR", 3), ("100", "JPY", 3), ("7", "JPY", 11),
    ("12.345", "BHD", 4), ("0.001", "KWD", 2), ("999999999.99", "USD", 13), ("1", "EUR", 1),
])
def test_every_round_sums_exactly_to_its_amount(amount, currency, members):
    """Movement share first, members' shares rounded down, the remainder to the funds: the parts add
    up to the amount to the smallest unit, in currencies with 0, 2 and 3 decimals."""
    total = parse_amount(amount, currency)
    result = split(total, Decimal("0.30"), FUNDS, [(m, 1) for m in range(members)])
    assert result.funds_total + result.members_total == total
    assert len({share for _, share in result.members}) == 1  # equal shares are equal
    assert result.funds_total >= total * Decimal("0.30") - 1  # the movement gets at least its share
    assert max(a for _, a in result.funds) - min(a for _, a in result.funds) <= 1


def test_split_by_hours():
    """By recorded hours: shares follow the hours, rounding leftovers go to the funds."""
    result = split(100000, Decimal("0.30"), FUNDS, [(1, 120), (2, 80), (3, 1)])
    shares = dict(result.members)
    assert shares[1] > shares[2] > shares[3] and result.funds_total + result.members_total == 100000


def test_formatting_uses_the_currency_minor_units():
    """Amounts are shown with the currency's own decimals."""
    assert format_amount(100000007, "EUR") == "1,000,000.07 EUR"
    assert format_amount(100, "JPY") == "100 JPY"
    assert format_amount(12345, "BHD") == "12.345 BHD"


@pytest.mark.parametrize("text, problem", [
    ("-5", "negative"), ("0", "zero"), ("0.00", "zero"), ("abc", "not_a_number"), ("NaN", "not_a_number"),
    ("inf", "not_a_number"), ("1e9", "not_a_number"), ("1.001", "too_precise"), ("10000000000000", "too_large"),
    ("1,00", "not_a_number"), ("1.000.000,07", "not_a_number"), ("", "not_a_number"), ("٣", "not_a_number"),
])
def test_hostile_amounts_are_refused(text, problem):
    """Negative, zero, non-numeric, NaN, infinite, absurdly large or over-precise amounts: refused."""
    with pytest.raises(BadAmount) as refused:
        parse_amount(text, "EUR")
    assert str(refused.value) == problem


async def round_of(chat: Chat, members: int = 2, extra: str = "") -> list[str]:
    names = await make_coop(chat, members)
    await chat.say("alice", "/surplus 1000.01" + extra)
    assert chat.last.startswith("Surplus round 1 of Red Bakery: 1,000.01 EUR.")
    return names


async def test_hostile_surplus_commands_change_nothing(chat):
    """Bad amounts and currencies get the reason and the usage line; no round is stored."""
    await make_coop(chat, 1)
    for line in ("/surplus", "/surplus -1", "/surplus 0", "/surplus x", "/surplus 1.001", "/surplus 5 EURO",
                 "/surplus 1e3", "/surplus NaN", "/surplus 99999999999999", "/surplus 10\n  payout: someday"):
        reply = await chat.say("alice", line)
        assert "Usage: /surplus" in reply, line
    assert "Only a steward" in await chat.say("m1", "/surplus 100")
    assert await chat.gov.stores.rounds.list(1) == []


async def test_a_second_open_round_is_refused(chat):
    """One round at a time: pay it out before opening another."""
    await round_of(chat)
    assert "Round 1 is still open" in await chat.say("alice", "/surplus 50")


async def test_the_payout_gate(chat):
    """Payout is refused while anyone owed a share has not vowed, naming them; then allowed."""
    await round_of(chat, 2)
    assert "2 members owed a share have not vowed: alice, m2." in (await chat.say("m1", "/vow Tenant union dues") or "") + await chat.say("alice", "/payout")
    assert chat.announced[-1] == "m1 vows, for round 1: Tenant union dues"
    await chat.say("alice", "/vow Strike kitchen")
    assert "1 member owed a share has not vowed: m2." in await chat.say("alice", "/payout")
    await chat.say("m2", "/vow Legal defence fund")
    await chat.say("alice", "/payout")
    assert chat.last.startswith("Round 1 is paid out: 1,000.01 EUR")
    # A second payout says when the round was paid (issue 12: it used to say there was no open round).
    assert "Round 1 was paid out on" in await chat.say("alice", "/payout")


async def test_a_vow_may_be_restated_until_payout(chat):
    """The last vow stands; the earlier ones stay in the history and the export."""
    await round_of(chat, 1)
    await chat.say("m1", "/vow First thought")
    await chat.say("m1", "/vow Better: the climate blockade bail fund")
    assert chat.last == "m1 restates their vow for round 1: Better: the climate blockade bail fund"
    listing = await chat.say("alice", "/vows")
    assert "• m1: Better: the climate blockade bail fund" in listing and "First thought" not in listing
    assert "Not yet vowed: alice" in listing
    r = await chat.gov.stores.rounds.current(1)
    assert [v.text for v in await chat.gov.stores.rounds.vow_history(r.id)] == [
        "First thought", "Better: the climate blockade bail fund"]


async def test_empty_overlong_and_unowed_vows_are_refused(chat):
    """A vow needs words, at most 1,000 characters, from someone owed a share."""
    await round_of(chat, 1)
    assert "A vow needs words" in await chat.say("m1", "/vow   ")
    assert "at most 1000 characters" in await chat.say("m1", "/vow " + "x" * 1001)
    await chat.say("alice", "/admit late")
    assert "not owed a share" in await chat.say("late", "/vow I came late")
    assert "not on its register" in await chat.say("zed", "/vow hi")


async def test_two_payouts_at_once_pay_once(gov):
    """Two stewards ask for the payout at the same moment: one succeeds, once."""
    chat = Chat(gov)
    await round_of(chat, 1)
    await chat.say("alice", "/admit m1\n  role: steward")
    await chat.say("alice", "/vow Mutual aid")
    await chat.say("m1", "/vow Organizer training")
    from handlers.events import CommandReceived

    replies = await asyncio.gather(*(gov.handle_command(CommandReceived(chat.chat, chat.user(who), "/payout"))
                                     for who in ("alice", "m1", "alice", "m1")))
    await chat.drain()
    assert len([t for t in chat.announced if t.startswith("Round 1 is paid out")]) == 1
    # The others are told the round is paid (in whichever words fit the moment they were handled).
    assert all(r == [] or "no open surplus round" in r[0].text or "already paid" in r[0].text
               or "Round 1 was paid out" in r[0].text for r in replies), replies
    (r,) = await gov.stores.rounds.list(1)
    assert r.status == "paid"


async def test_a_passed_proposal_waives_one_members_vow(chat):
    """The charter lets the co-op waive one member's vow by a passed proposal."""
    await round_of(chat, 2)
    await chat.say("alice", "/vow Strike fund")
    await chat.say("m1", "/vow Media")
    await chat.say("alice", "/propose Waive m2's vow (in hospital)\n  waive: m2")
    for who in ("alice", "m1"):
        await chat.say(who, "/vote 1 For")
    await chat.say("alice", "/close 1")
    assert "Waived by the co-op: m2" in await chat.say("alice", "/vows")
    await chat.say("alice", "/payout")
    assert chat.last.startswith("Round 1 is paid out")


async def test_vow_reminders_reach_only_members_without_a_vow(chat, clock):
    """3 days and 1 day before the payout date, the room and each member without a vow hear it."""
    await round_of(chat, 2, "\n  payout: 7d")
    await chat.say("m1", "/vow Tenant union")
    clock.advance(days=3, hours=23)
    assert await chat.drain() == [] and not [t for t in await _tick(chat) if "not vowed" in t]
    clock.advance(hours=1)
    (reminder,) = [t for t in await _tick(chat) if "not vowed" in t]
    assert "2 members owed a share have not vowed yet: alice, m2." in reminder
    assert sorted(d.chat_id for d in await directs(chat.gov.stores)) == ["alice", "m2"]
    await chat.say("alice", "/vow Bail fund")
    clock.advance(days=2)
    (second,) = [t for t in await _tick(chat) if "not vowed" in t]
    assert "1 member owed a share has not vowed yet: m2." in second
    assert [d.chat_id for d in await directs(chat.gov.stores)][2:] == ["m2"]


async def _tick(chat: Chat) -> list[str]:
    await run_due(chat.gov.stores, chat.gov.clock.now(), chat.gov.before_close)
    return await chat.drain()


async def test_the_ledger_reconciles_to_the_cent_after_many_rounds(chat):
    """Fifty rounds of awkward amounts: each round and the totals add up exactly."""
    await make_coop(chat, 6)
    rng = random.Random(7)
    grand = 0
    for i in range(50):
        cents = rng.randint(1, 10_000_000)
        await chat.say("alice", f"/surplus {cents // 100}.{cents % 100:02d}")
        for who in ["alice"] + [f"m{n}" for n in range(1, 7)]:
            await chat.say(who, f"/vow round {i + 1}")
        await chat.say("alice", "/payout")
        grand += cents
    from handlers.surplus import ledger

    entries = await ledger(chat.gov.stores, 1)
    assert len(entries) == 50
    for e in entries:
        assert sum(a for _, a in e["funds"]) + sum(a for _, a, _ in e["shares"]) == e["round"].amount
    assert sum(e["round"].amount for e in entries) == grand
    books = await chat.say("m3", "/books")
    assert f"Totals: {format_amount(grand, 'EUR')} in all" in books


def test_a_whole_round_in_the_console_and_the_export(tmp_path):
    """From the terminal: a round, vows, a refused and then a granted payout, the books; the export
    carries rounds, every vow and a ledger that reconciles."""
    script = """\
/setup Red Bakery
/admit bob
/surplus 1,000,000.07
bob: /vow My share goes to the tenant union's strike fund
/payout
/vow Seed capital for the new bakery co-op
/payout
bob: /books
"""
    out = console(tmp_path, script).stdout
    assert "Surplus round 1 of Red Bakery: 1,000,000.07 EUR." in out
    assert "bob vows, for round 1: My share goes to the tenant union's strike fund" in out
    assert "No payout yet: 1 member owed a share has not vowed: you." in out
    assert "Round 1 is paid out: 1,000,000.07 EUR" in out
    assert "= funds 300,000.03 EUR + members 700,000.04 EUR = 1,000,000.07 EUR" in out
    data = json.loads(export(tmp_path))["coops"][0]
    (r,) = data["rounds"]
    assert r["amount_minor"] == 100000007 and r["funds_total_minor"] + r["shares_total_minor"] == 100000007
    assert [v["member"] for v in data["vows"]] == ["bob", "you"]
    surplus = sum(e["amount_minor"] for e in data["ledger"] if e["entry"] == "surplus")
    spent = sum(e["amount_minor"] for e in data["ledger"] if e["entry"] != "surplus")
    assert surplus == spent == 100000007


def test_csv_and_markdown_exports_carry_the_books(tmp_path):
    """The round, its funds and shares, and the vows are in the CSV and Markdown exports too."""
    console(tmp_path, "/setup Red Bakery\n/surplus 10\n/vow Strike fund\n/payout\n")
    csv = export(tmp_path, "csv")
    assert "Red Bakery,round,1,,,,paid,EUR,10.00 EUR,equal" in csv
    assert "Red Bakery,vow,1,,you,,,,,Strike fund" in csv
    md = export(tmp_path, "md")
    assert "### Round 1: 10.00 EUR (paid)" in md and "- you: Strike fund" in md


async def test_a_member_removed_before_payout_does_not_block_it(chat):
    """Someone taken off the register after the round opened can no longer vow, and is not waited for."""
    await round_of(chat, 2)
    await chat.say("alice", "/vow Strike fund")
    await chat.say("m1", "/vow Media")
    await chat.say("alice", "/remove m2")
    await chat.say("alice", "/payout")
    assert chat.last.startswith("Round 1 is paid out")
