"""Rules that hold whatever a steward does: the vow gate, mandated votes, what a card says it changes."""

from __future__ import annotations

from tests.conftest import Chat, make_coop
from tests.test_schedules import tick


async def _round_with_two_vows(chat: Chat) -> None:
    """alice, m1, m2, m3 on the register; 1,000 EUR: 300 to the funds, 175 to each member; two vow."""
    await make_coop(chat, members=3)
    await chat.say("alice", "/surplus 1000")
    await chat.say("alice", "/vow For the strike fund")
    await chat.say("m1", "/vow For the tenants' union")


async def test_removing_members_who_have_not_vowed_does_not_open_the_vow_gate(chat):
    """Scenario 3: remove those who have not vowed, pay out, admit them again. Their shares went to
    the movement funds when they were removed; the payout paid only those who vowed; the books add up."""
    await _round_with_two_vows(chat)
    assert "not vowed: m2, m3" in await chat.say("alice", "/payout")
    for name in ("m2", "m3"):
        await chat.say("alice", f"/remove {name}")
    await chat.say("alice", "/payout")
    assert chat.last.startswith("Round 1 is paid out")
    for name in ("m2", "m3"):
        await chat.say("alice", f"/admit {name}")
    books = await chat.say("m1", "/books")
    assert "share · m2" not in books and "share · m3" not in books
    assert "fund · share of m2, forfeited when removed: 175.00 EUR" in books
    assert "fund · share of m3, forfeited when removed: 175.00 EUR" in books
    assert "650.00 EUR to the movement funds, 350.00 EUR paid to members" in books
    assert await chat.say("m2", "/vow Too late") and "no open surplus round" in chat.replies[0].text.lower()


async def test_readmitting_a_removed_member_does_not_bring_their_share_back(chat):
    """Removed before payout, admitted again before payout: the share stays with the funds, and the
    readmitted member owes no vow for it (they are owed nothing in this round)."""
    await _round_with_two_vows(chat)
    await chat.say("alice", "/remove m2")
    await chat.say("alice", "/admit m2")
    assert "not owed a share in round 1" in await chat.say("m2", "/vow Back again")
    await chat.say("alice", "/remove m3")
    await chat.say("alice", "/payout")
    assert chat.last.startswith("Round 1 is paid out")
    assert "650.00 EUR to the movement funds, 350.00 EUR paid to members" in await chat.say("m1", "/books")


async def test_a_second_payout_says_when_the_round_was_paid(chat):
    """Scenario 10: `/payout` twice answers with the round and when it was paid, not 'no open round'."""
    await make_coop(chat, members=1)
    await chat.say("alice", "/surplus 100")
    await chat.say("alice", "/vow Strike fund")
    await chat.say("m1", "/vow Strike fund")
    await chat.say("alice", "/payout")
    again = await chat.say("alice", "/payout")
    assert "Round 1 was paid out on" in again


async def test_books_add_up_while_a_round_is_open(chat):
    """Scenario 10: the totals name what is allocated but not yet paid, so they add up."""
    await make_coop(chat, members=1)
    await chat.say("alice", "/surplus 100")
    books = await chat.say("m1", "/books")
    assert "100.00 EUR in all: 30.00 EUR to the movement funds, 0.00 EUR paid to members, 70.00 EUR not yet paid out" in books


async def test_no_one_withdraws_or_closes_the_mandated_sunset_vote(gov, clock):
    """Scenario 4: the sunset vote opens by itself; its author is the charter (the bot), so the
    first steward cannot withdraw it, and no steward can close it early. It closes on time."""
    chat = Chat(gov)
    await make_coop(chat, 1)
    clock.advance(days=731)
    said = await tick(chat)  # with the sunset vote's card, a mirror shift and a drill fall due too
    p = await gov.stores.proposals.get(1, 1)
    assert p.purpose == "sunset" and p.author_id is None
    assert any(t.startswith("Proposal #1:") and "by the charter" in t for t in said), said
    for text in ("/withdraw 1 never mind", "/close 1 enough"):
        reply = await chat.say("alice", text)
        assert "the charter requires it" in reply and "cannot be withdrawn or closed early" in reply, reply
    assert (await gov.stores.proposals.get(1, 1)).status == "open"
    clock.advance(hours=73)
    results = [t for t in await tick(chat) if t.startswith("Result of #1")]
    assert "The co-op's mandate has lapsed" in results[0]


async def test_an_amendments_card_shows_each_change_before_and_after(chat):
    """Scenario 7: members see what they vote on: each charter key, from what to what."""
    await make_coop(chat, members=1)
    await chat.say("alice", "/propose Move to Berlin\namend: timezone = Europe/Berlin; reminder_offsets = 48h, 2h")
    card = chat.last
    assert "If passed, the charter changes:" in card
    assert "timezone: UTC → Europe/Berlin" in card
    assert "reminder_offsets: 1d, 1h → 2d, 2h" in card


async def test_a_waivers_card_says_whose_vow_it_waives_and_needs_an_open_round(chat):
    """Scenario 7: a waiver with no open round is refused; with one, its card names the member."""
    await make_coop(chat, members=2)
    refused = await chat.say("alice", "/propose Waive m2\nwaive: m2")
    assert "no open surplus round" in refused.lower() and await chat.gov.stores.proposals.list(1) == []
    await chat.say("alice", "/surplus 100")
    await chat.say("alice", "/propose Waive m2\nwaive: m2")
    assert "If passed, m2's vow for round 1 is waived." in chat.last


async def test_against_winning_never_changes_the_charter(chat):
    """An amendment (or a renewal, or a waiver) is decided For or Against: custom options are
    refused, so 'passed' can never mean that Against was chosen."""
    await make_coop(chat, members=1)
    for lines in ["amend: voting_period = 30s", "waive: m1"]:
        reply = await chat.say("alice", f"/propose Sneaky\n{lines}\noptions: Against | For")
        assert "decided For or Against: give it no options" in reply, reply
    reply = await chat.say("alice", "/propose Renew the co-op's mandate?\nkind: constitutional\noptions: No | Yes")
    assert "decided For or Against" in reply
    assert await chat.gov.stores.proposals.list(1) == []


async def test_two_passed_amendments_cannot_merge_into_a_threshold_past_its_bounds(chat):
    """From 'more than 3/5': one amendment to 'at least 3/5', another to 'more than 1/2', both
    passed. The charter reads 'more than 1/2' (the last), never 'at least 1/2'."""
    await make_coop(chat, members=1)

    async def amend(number: int, value: str) -> None:
        await chat.say("alice", f"/propose Rule {number}\namend: threshold.strategic = {value}")
        await chat.say("alice", f"/vote {number} For")
        await chat.say("m1", f"/vote {number} For")

    await amend(1, "more than 3/5")
    await chat.say("alice", "/close 1")
    await amend(2, "at least 3/5")
    await amend(3, "more than 1/2")
    await chat.say("alice", "/close 2")
    await chat.say("alice", "/close 3")
    charter = await chat.say("m1", "/charter")
    assert "strategic: passes with more than 1/2" in charter, charter


async def test_a_share_written_with_a_huge_exponent_is_refused_at_once(chat):
    """`1e999999999` would take Python minutes to turn into a fraction, holding every co-op's events."""
    await make_coop(chat, members=1)
    for value in ["1e999999999", "more than 1e-999999999"]:
        key = "quorum.ordinary" if "more" not in value else "threshold.ordinary"
        reply = await chat.say("alice", f"/propose x\namend: {key} = {value}")
        assert "is not a" in reply and "Usage: /propose" in reply, reply


async def test_a_members_renewal_proposal_cannot_make_the_mandate_lapse(gov, clock):
    """Only the charter's own sunset vote makes the mandate lapse. A member's 'renewal' that fails
    (no one had time to vote) changes nothing; one that passes lifts a lapse."""
    chat = Chat(gov)
    await make_coop(chat, 1)
    await chat.say("m1", "/propose Renew the co-op's mandate?\nkind: constitutional\ncloses: 30s")
    clock.advance(minutes=1)
    results = [t for t in await tick(chat) if t.startswith("Result of #1")]
    assert "failed" in results[0] and "lapsed" not in results[0]
    assert "lapsed" not in await chat.say("m1", "/whoami")


async def test_a_display_name_shaped_like_an_id_never_takes_that_ids_place(gov):
    """A stranger calls themselves '123456789' and asks to join; the steward admits 123456789 (the
    Telegram id of the person meant, who has not spoken yet). The id is admitted, not the stranger."""
    from handlers.types import UserRef

    room = Chat(gov, platform="telegram", chat_id="-100")
    room.user = lambda name: UserRef("telegram", {"alice": "1", "mallory": "666"}[name],
                                     {"alice": "alice", "mallory": "123456789"}[name])
    assert "set up" in await room.say("alice", "/setup Red Bakery")
    assert "asks to join" in await room.say("mallory", "/join")
    assert "is admitted" in await room.say("alice", "/admit 123456789")
    mallory = await gov.stores.members.by_account(1, "telegram", "666")
    assert mallory.status == "pending"
    admitted = await gov.stores.members.by_account(1, "telegram", "123456789")
    assert admitted is not None and admitted.status == "active"
