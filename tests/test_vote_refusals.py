"""One rule refuses votes: each refusal, typed and tapped, in the same words (Matrix: test_matrix.py)."""

from __future__ import annotations

from sqlalchemy import update

from storage.models import Proposal
from tests.conftest import Chat, make_coop
from tests.test_telegram import GROUP, STEWARD, coop_with_proposal, fake, tg  # noqa: F401 (fixtures)

# What the voter reads for each reason `handlers.votes.refusal` gives, whichever way they voted.
WORDS = {
    "no_coop": "This room has no co-op yet",
    "not_member": "not on its register",
    "pending": "waiting for a steward",
    "unknown_proposal": "belongs to no proposal",
    "no_option": "has no option",
    "not_open": "#1 is closed; its votes can no longer change",
    "voting_ended": "Voting on #1 ended at",
    "not_elector": "after #1 opened, so you are not on its frozen register",
    "nothing_to_withdraw": "You have no vote on #1 to withdraw",
}


async def _past_deadline(stores, proposal_id: int, now) -> None:
    """The closing time passes with nothing closing the proposal yet (the clock has not run)."""
    async with stores.db.write() as s:
        await s.execute(update(Proposal).where(Proposal.id == proposal_id).values(closes_at=now))


async def test_each_refusal_of_a_typed_vote(chat, gov, clock):
    """`/vote` and `/unvote`, typed: every reason, nothing stored. (A typed vote names `#N` in the
    room's own co-op, so another co-op's proposal is 'no proposal #N' there, not a forged button.)"""
    stores = gov.stores
    nowhere = Chat(gov, chat_id="unbound")
    assert WORDS["no_coop"] in await nowhere.say("m1", "/vote 1 For")
    await make_coop(chat, members=2)
    await chat.say("alice", "/propose Van")
    p = await stores.proposals.get(1, 1)
    assert WORDS["not_member"] in await chat.say("mallory", "/vote 1 For")
    await chat.say("carol", "/join")
    assert WORDS["pending"] in await chat.say("carol", "/vote 1 For")
    assert "There is no proposal #9" in await chat.say("m1", "/vote 9 For")
    assert WORDS["no_option"] in await chat.say("m1", "/vote 1 Maybe")
    assert WORDS["nothing_to_withdraw"] in await chat.say("m1", "/unvote 1")
    await chat.say("alice", "/admit dave")
    assert WORDS["not_elector"] in await chat.say("dave", "/vote 1 For")
    await _past_deadline(stores, p.id, clock.now())
    assert WORDS["voting_ended"] in await chat.say("m1", "/vote 1 For")
    await chat.say("alice", "/close 1")
    assert WORDS["not_open"] in await chat.say("m1", "/vote 1 For")
    assert await stores.votes.ballots(p.id) == []


async def test_each_refusal_of_a_telegram_tap(tg, fake):  # noqa: F811 (pytest fixtures)
    """Buttons, through python-telegram-bot against the Bot API: every reason, in the same words as
    a typed vote, answered privately; nothing stored."""
    message_id, ids = await coop_with_proposal(tg, 2)
    p = await tg.stores.proposals.get(1, 1)
    assert WORDS["no_coop"] in await tg.tap(ids[0], message_id, f"v:{p.id}:0", chat=-3003, check_button=False)
    assert WORDS["not_member"] in await tg.tap(4242, message_id, f"v:{p.id}:0")
    assert "asks to join" in await tg.say(555, "/join")
    assert WORDS["pending"] in await tg.tap(555, message_id, f"v:{p.id}:0")
    assert WORDS["unknown_proposal"] in await tg.tap(ids[0], message_id, "v:999999:0", check_button=False)
    assert WORDS["no_option"] in await tg.tap(ids[0], message_id, f"v:{p.id}:7", check_button=False)
    assert WORDS["nothing_to_withdraw"] in await tg.tap(ids[0], message_id, f"u:{p.id}")
    steward = await tg.stores.members.by_account(p.coop_id, "telegram", str(STEWARD))
    await tg.stores.members.admit(p.coop_id, member_id=None, new_account=("telegram", "2000", "later"), role="member",
                                  by=steward.id, now=tg.services.clock.now())  # admitted after #1 opened
    assert WORDS["not_elector"] in await tg.tap(2000, message_id, f"v:{p.id}:0")
    await _past_deadline(tg.stores, p.id, tg.services.clock.now())
    assert WORDS["voting_ended"] in await tg.tap(ids[0], message_id, f"v:{p.id}:0")
    assert "Result of #1" in await tg.say(STEWARD, "/close 1")
    assert WORDS["not_open"] in await tg.tap(ids[0], message_id, f"v:{p.id}:0", check_button=False)
    assert await tg.stores.votes.ballots(p.id) == []
