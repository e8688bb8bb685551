"""The audit pack: what drawn auditors read of the co-op's record, checked as a member would."""

from __future__ import annotations

from datetime import timedelta

from handlers import texts
from handlers.charter import DEFAULT_FUNDS
from handlers.pack import audit_pack
from tests.conftest import Chat, make_coop
from tests.test_schedules import tick

HEADINGS = [texts.PACK_PAY, texts.PACK_MOVEMENT, texts.PACK_TURNOUT, texts.PACK_PROPOSERS, texts.PACK_EARLY,
            texts.PACK_VETOES, texts.PACK_MANDATE, texts.PACK_MIRROR, texts.PACK_DRILLS, texts.PACK_TIMELINE]


def sections(pack: str) -> dict[str, str]:
    """Heading -> the section's lines (without the heading), in the pack's order."""
    parts = pack.split("\n\n")[1:]
    return {part.split("\n")[0].rstrip(":"): part.split("\n", 1)[1] for part in parts}


async def pack_of(chat: Chat, **kwargs) -> str:
    stores = chat.gov.stores
    return await audit_pack(stores, await stores.coops.get(1), chat.gov.clock.now(), **kwargs)


async def a_year_of_record(chat: Chat, clock) -> None:
    """Five members; four proposals of three kinds, one closed early by a steward; a steward made
    after two of them; a surplus round paid out with a removed member's share forfeited."""
    await make_coop(chat, 4)  # alice (steward), m1…m4
    await chat.say("alice", "/propose Buy a van\n  closes: 1d")  # #1, ordinary: 4 of 5 vote, passes
    await chat.say("m1", "/propose Paint it red\n  closes: 1d")  # #2, ordinary: 2 of 5, fails (quorum)
    await chat.say("m2", "/propose Open a second shop\n  kind: strategic\n  closes: 1d")  # #3, all vote
    for who in ("alice", "m1", "m2", "m3"):
        await chat.say(who, "/vote 1 For")
    for who in ("m1", "m2"):
        await chat.say(who, "/vote 2 Against")
    for who in ("alice", "m1", "m2", "m3", "m4"):
        await chat.say(who, "/vote 3 For")
    assert "m3 is now a steward" in await chat.say("alice", "/admit m3\n  role: steward")
    await chat.say("m3", "/propose Renew the co-op's mandate?\n  kind: constitutional\n  closes: 1d")  # #4
    await chat.say("m3", "/vote 4 For")  # 1 of 5: not renewed
    clock.advance(hours=1)
    await chat.say("alice", "/close 3 everyone has voted")
    assert chat.last.startswith("Result of #3")
    # alice steps down after proposing: her #1 still counts as a steward's (the role when it opened).
    assert "alice is now a member" in await chat.say("alice", "/admit alice\n  role: member")
    clock.advance(days=1)
    await tick(chat)
    await chat.say("m3", "/surplus 1000")
    assert "is removed" in await chat.say("m3", "/remove m4")
    for who in ("alice", "m1", "m2", "m3"):
        await chat.say(who, f"/vow Strike fund of {who}")
    await chat.say("m3", "/payout")
    assert chat.last.startswith("Round 1 is paid out")
    clock.advance(hours=1)


async def test_the_pack_shows_the_record_a_member_would_check(chat, clock):
    """Turnout per kind from the stored results, who proposed (stewards as they were then), the
    early close with its reason, each fund's total and the forfeited share, the renewal vote's
    outcome, and 'none recorded' for what is not recorded yet."""
    await a_year_of_record(chat, clock)
    pack = await pack_of(chat)
    assert pack.startswith("Audit pack of Red Bakery: its record from ")
    parts = sections(pack)
    assert list(parts) == HEADINGS
    assert parts[texts.PACK_PAY] == "  none recorded"
    fund_lines = [f"  To {name}: 60.00 EUR" for name, _ in DEFAULT_FUNDS]
    assert parts[texts.PACK_MOVEMENT].split("\n") == [
        "  The charter's movement share: 30%.",
        "  Rounds paid out: 1.",
        *fund_lines,
        "  Forfeited shares of removed members, to the funds: 140.00 EUR",
        "  In all to the movement: 440.00 EUR",
    ]
    assert parts[texts.PACK_TURNOUT].split("\n") == [
        "  ordinary: 2 closed, 1 passed, mean turnout 60%",  # (4/5 + 2/5) / 2
        "  strategic: 1 closed, 1 passed, mean turnout 100%",
        "  constitutional: 1 closed, 0 passed, mean turnout 20%",
    ]
    # alice (#1) was a steward then, m1 (#2) and m2 (#3) were not, m3 (#4) was made one first.
    assert parts[texts.PACK_PROPOSERS] == "  4 opened: 2 by stewards (50% of those by members), 2 by other members"
    assert parts[texts.PACK_EARLY] == "  #3 by alice: everyone has voted"
    assert parts[texts.PACK_MANDATE].split("\n") == [
        "  The mandate stands.",
        "  #4 Renew the co-op's mandate? (a member's renewal): not renewed",
    ]
    for later in (texts.PACK_VETOES, texts.PACK_MIRROR, texts.PACK_DRILLS):
        assert parts[later] == "  none recorded", later
    # The renewal vote's result is on the drift timeline (a sunset result).
    assert parts[texts.PACK_TIMELINE].endswith(" — sunset vote — #4: mandate not renewed")
    assert len(parts[texts.PACK_TIMELINE].split("\n")) == 1


async def test_a_co_op_with_nothing_yet_has_every_section_none_recorded(chat):
    """A new co-op: no pay, no paid round, no decisions, no proposers, no early close, no sunset vote."""
    await make_coop(chat, 1)
    parts = sections(await pack_of(chat))
    assert list(parts) == HEADINGS
    for heading, lines in parts.items():
        assert "none recorded" in lines, heading
    assert "30%" in parts[texts.PACK_MOVEMENT] and "The mandate stands." in parts[texts.PACK_MANDATE]


async def test_the_pack_covers_only_its_period(chat, clock):
    """Since the previous audit's close: what happened before is left to the previous pack."""
    await a_year_of_record(chat, clock)
    since = clock.now()
    clock.advance(days=1)
    await chat.say("m1", "/propose Later matter\n  closes: 1d")
    clock.advance(hours=1)
    await chat.say("m3", "/close 5")
    parts = sections(await pack_of(chat, since=since))
    assert parts[texts.PACK_TURNOUT] == "  ordinary: 1 closed, 0 passed, mean turnout 0%"
    assert parts[texts.PACK_PROPOSERS] == "  1 opened: 0 by stewards (0% of those by members), 1 by other members"
    assert parts[texts.PACK_EARLY] == "  #5 by m3: no reason given"
    assert "Rounds paid out: none recorded" in parts[texts.PACK_MOVEMENT]
    assert parts[texts.PACK_MANDATE] == "  The mandate stands.\n  Sunset votes: none recorded"


async def test_early_closes_list_ten_then_count_the_rest(chat, clock):
    """At most ten early closes are listed; the others are counted."""
    await make_coop(chat, 1)
    for n in range(1, 13):
        await chat.say("alice", f"/propose Matter {n}\n  closes: 1d")
        await chat.say("alice", f"/close {n} reason {n}")
    lines = sections(await pack_of(chat))[texts.PACK_EARLY].split("\n")
    assert lines == [f"  #{n} by alice: reason {n}" for n in range(1, 11)] + ["  and 2 more"]


async def test_a_lapsed_mandate_and_the_charter_s_sunset_vote(gov, clock):
    """The charter's sunset vote fails: the pack says since when the mandate stands lapsed."""
    chat = Chat(gov)
    await make_coop(chat, 1)
    clock.advance(days=731)
    await tick(chat)
    clock.advance(hours=73)
    await tick(chat)
    coop = await gov.stores.coops.get(1)
    assert coop.mandate_lapsed_at is not None
    lines = sections(await pack_of(chat))[texts.PACK_MANDATE].split("\n")
    assert lines[0].startswith("  The mandate lapsed on ") and "until a renewal passes" in lines[0]
    assert lines[1] == "  #1 Renew the co-op's mandate? (the charter's sunset vote): not renewed"
    assert sections(await pack_of(chat))[texts.PACK_PROPOSERS] == "  1 opened by the charter (mandated votes)"
    assert clock.now() - coop.mandate_lapsed_at < timedelta(hours=1)


async def test_ten_long_reasons_do_not_push_the_pack_past_one_telegram_message(chat, clock, gov):
    """A steward's reasons are shortened in the pack, so its last parts are never cut off."""
    await make_coop(chat, 2)
    for n in range(1, 11):
        await chat.say("alice", f"/propose Thing {n}")
        await chat.say("alice", f"/close {n} " + "because " * 60)
    text = await audit_pack(gov.stores, await gov.stores.coops.get(1), clock.now())
    assert "#10 by alice: because" in text and "The drift timeline:" in text
    assert len(text) < 3500
