"""Edits and deletions of messages the bot has read (issue 14, items 1 and 5), in the core: an
edited command is the member's corrected command when the original was refused or cast a vote; an
unvoted proposal's author revises it by editing; a deleted vote command withdraws that vote."""

from __future__ import annotations

from handlers.events import MessageRetracted
from tests.conftest import Chat, make_coop


async def retract(chat: Chat, who: str, message: str, event_id: str) -> str:
    replies = await chat.gov.handle_retraction(MessageRetracted(chat.chat, chat.user(who), message, event_id))
    return "\n".join(r.text for r in replies)


async def ballot_of(chat: Chat, who: str, number: int = 1):
    member = await chat.gov.stores.members.by_account(1, chat.chat.platform, who)
    p = await chat.gov.stores.proposals.get(1, number)
    return await chat.gov.stores.votes.ballot(p.id, member.id)


async def test_a_refused_vote_fixed_by_an_edit_is_counted(chat):
    """`/vote 1 fro` is refused; the member fixes the typo by editing: the vote is recorded and the
    reply says it came from the edit."""
    await make_coop(chat, 2)
    await chat.say("alice", "/propose Van")
    assert "no option" in (await chat.say("m1", "/vote 1 fro", event_id="$typo")).lower()
    answer = await chat.say("m1", "/vote 1 for", event_id="$typo-edit", corrects="$typo")
    assert answer == "From your edit: Recorded: For on #1."
    assert (await ballot_of(chat, "m1")).option == 0
    # The same edit delivered again counts once, and says nothing.
    assert await chat.say("m1", "/vote 1 for", event_id="$typo-edit", corrects="$typo") == ""


async def test_an_edited_vote_replaces_the_vote_it_cast(chat):
    await make_coop(chat, 2)
    await chat.say("alice", "/propose Van")
    assert "Recorded: Against" in await chat.say("m1", "/vote 1 against", event_id="$v1")
    answer = await chat.say("m1", "/vote 1 for", event_id="$v1-edit", corrects="$v1")
    assert answer == "From your edit: Changed: For on #1 (was Against)."
    counts = await chat.gov.stores.proposals.counts((await chat.gov.stores.proposals.get(1, 1)).id, 3)
    assert counts == [1, 0, 0]


async def test_an_edit_of_a_command_carried_out_changes_nothing(chat):
    """`/admit m9` was carried out; editing it to `/admit m8` does not admit m8."""
    await make_coop(chat, 1)
    await chat.say("m8", "/join")
    await chat.say("m9", "/join")
    assert "admitted" in await chat.say("alice", "/admit m9", event_id="$admit")
    answer = await chat.say("alice", "/admit m8", event_id="$admit-edit", corrects="$admit")
    assert "already carried out" in answer
    assert (await chat.gov.stores.members.by_account(1, "console", "m8")).status != "active"


async def test_an_unvoted_proposal_is_revised_by_its_authors_edit(chat):
    """The author fixes the title and the options by editing the message that opened it: the
    proposal and its card follow; `closes: 2h` still means two hours from the opening, not from
    the edit."""
    await make_coop(chat, 2)
    await chat.say("alice", "/propose Buy a vna\ncloses: 2h\nWe need deliveries.", event_id="$p")
    before = await chat.gov.stores.proposals.get(1, 1)
    chat.gov.clock.advance(minutes=50)
    answer = await chat.say("alice", "/propose Buy a van\ncloses: 2h\noptions: Van | Bike\nWe need deliveries.",
                            event_id="$p-edit", corrects="$p")
    assert "#1 is changed" in answer
    p = await chat.gov.stores.proposals.get(1, 1)
    assert (p.title, p.options, p.body) == ("Buy a van", ["Van", "Bike"], "We need deliveries.")
    assert p.closes_at == before.closes_at
    assert len(await chat.gov.stores.proposals.list(1)) == 1  # revised, not a second proposal
    from handlers.cards import card_view
    view = await card_view(chat.gov.stores, p.id, "/")
    assert "Buy a van" in view.text and "Van" in view.text and "vna" not in view.text


async def test_a_proposal_with_votes_is_not_revised_and_the_reply_says_how(chat):
    await make_coop(chat, 2)
    await chat.say("alice", "/propose Buy a vna", event_id="$p")
    await chat.say("m1", "/vote 1 for")
    answer = await chat.say("alice", "/propose Buy a van", event_id="$p-edit", corrects="$p")
    assert "already voted" in answer and "/withdraw 1" in answer and "propose again" in answer
    assert (await chat.gov.stores.proposals.get(1, 1)).title == "Buy a vna"


async def test_only_the_author_revises_and_only_into_a_proposal(chat):
    """A forged edit naming someone else's proposal message is refused; so is an edit that turns
    the proposal's message into another command."""
    await make_coop(chat, 2)
    await chat.say("alice", "/propose Van", event_id="$p")
    assert "Only the author" in await chat.say("m1", "/propose Bus", event_id="$forged", corrects="$p")
    assert "can only change the proposal" in await chat.say("alice", "/close 1", event_id="$e2", corrects="$p")
    p = await chat.gov.stores.proposals.get(1, 1)
    assert (p.title, p.status) == ("Van", "open")


async def test_a_vote_and_a_revision_racing_never_leave_a_vote_on_a_changed_proposal(chat):
    """A vote and the author's edit arrive together: either the edit is refused (the vote came
    first) or the vote is on the revised proposal; never a vote on options that changed under it."""
    import asyncio

    from handlers.events import CommandReceived

    await make_coop(chat, 2)
    await chat.say("alice", "/propose Van", event_id="$p")
    gov = chat.gov
    edit = CommandReceived(chat.chat, chat.user("alice"), "/propose Bus\noptions: Yes | No | Later",
                           "$p-edit", "$p")
    vote = CommandReceived(chat.chat, chat.user("m1"), "/vote 1 2", "$v")
    revised, voted = await asyncio.gather(gov.handle_command(edit), gov.handle_command(vote))
    p = await gov.stores.proposals.get(1, 1)
    ballot = await ballot_of(chat, "m1")
    if "is changed" in revised[0].text:
        assert p.title == "Bus"
        # Any vote stored was cast on the revised proposal: after the revision, in the log's order.
        from sqlalchemy import select

        from storage.models import GovernanceEvent

        async with gov.stores.db.read() as s:
            kinds = list((await s.execute(select(GovernanceEvent.kind).where(GovernanceEvent.proposal_id == p.id)
                                          .order_by(GovernanceEvent.id))).scalars())
        assert ballot is None or kinds.index("proposal_revised") < kinds.index("vote_cast")
    else:
        assert "already voted" in revised[0].text and p.title == "Van" and ballot.option == 1


async def test_deleting_a_vote_command_withdraws_that_vote(chat):
    await make_coop(chat, 2)
    await chat.say("alice", "/propose Van")
    await chat.say("m1", "/vote 1 for", event_id="$v1")
    assert "withdrawn" in (await retract(chat, "m1", "$v1", "$redaction-1")).lower()
    assert await ballot_of(chat, "m1") is None


async def test_deleting_a_vote_that_was_since_replaced_changes_nothing(chat):
    """m1 voted For, then Against in a later message; deleting the first message leaves Against.
    Someone else deleting m1's message (a moderator) does not withdraw m1's vote either."""
    await make_coop(chat, 2)
    await chat.say("alice", "/propose Van")
    await chat.say("m1", "/vote 1 for", event_id="$v1")
    await chat.say("m1", "/vote 1 against", event_id="$v2")
    assert await retract(chat, "m1", "$v1", "$redaction-1") == ""
    assert await retract(chat, "alice", "$v2", "$redaction-2") == ""
    assert (await ballot_of(chat, "m1")).option == 1


async def test_a_vote_edited_twice_or_deleted_after_an_edit_follows_the_message(chat):
    """Each edit names the original message: the second edit corrects the vote again, and deleting
    the message withdraws the vote its last edit cast."""
    await make_coop(chat, 2)
    await chat.say("alice", "/propose Van")
    await chat.say("m1", "/vote 1 for", event_id="$v1")
    assert "Changed: Against" in await chat.say("m1", "/vote 1 against", event_id="$v1-e1", corrects="$v1")
    assert "Changed: Abstain" in await chat.say("m1", "/vote 1 abstain", event_id="$v1-e2", corrects="$v1")
    assert "withdrawn" in (await retract(chat, "m1", "$v1", "$red")).lower()
    assert await ballot_of(chat, "m1") is None


async def test_an_edit_that_moves_a_vote_to_another_proposal_takes_back_the_first(chat):
    await make_coop(chat, 2)
    await chat.say("alice", "/propose Van")
    await chat.say("alice", "/propose Bus")
    await chat.say("m1", "/vote 1 for", event_id="$v1")
    assert "Recorded: For on #2" in await chat.say("m1", "/vote 2 for", event_id="$v1-e1", corrects="$v1")
    assert await ballot_of(chat, "m1", 1) is None
    assert (await ballot_of(chat, "m1", 2)).option == 0


async def test_an_edit_of_a_command_whose_record_is_gone_is_not_run(chat):
    """A week on, the record of `/admit m9` is forgotten; editing it into `/admit m8` still does
    nothing (the edit could be of anything), and says to send a new message."""
    from datetime import timedelta

    await make_coop(chat, 1)
    await chat.say("m8", "/join")
    await chat.say("m9", "/join")
    assert "admitted" in await chat.say("alice", "/admit m9", event_id="$admit")
    chat.gov.clock.advance(days=8)
    await chat.gov.stores.cursors.forget_handled(chat.gov.clock.now() - timedelta(days=7))
    answer = await chat.say("alice", "/admit m8", event_id="$e2", corrects="$admit")
    assert "no record" in answer and "new message" in answer
    assert (await chat.gov.stores.members.by_account(1, "console", "m8")).status != "active"


async def test_a_refused_command_corrected_once_stays_done(chat):
    """`/admit` (no one named) is refused; its edit `/admit m8` admits m8; a second edit of the
    same message into `/admit m9` changes nothing: the message's command is done."""
    await make_coop(chat, 1)
    await chat.say("m8", "/join")
    await chat.say("m9", "/join")
    assert "Usage" in await chat.say("alice", "/admit", event_id="$a")
    assert "admitted" in await chat.say("alice", "/admit m8", event_id="$a-e1", corrects="$a")
    assert "already carried out" in await chat.say("alice", "/admit m9", event_id="$a-e2", corrects="$a")
    assert (await chat.gov.stores.members.by_account(1, "console", "m9")).status != "active"


async def test_a_poll_response_made_before_a_revision_is_not_counted_for_the_new_options(chat):
    """A poll response on the old options arrives after the author changed them: refused, with the
    new options, not counted as whatever option now has its number."""
    from handlers.events import VoteCast

    await make_coop(chat, 2)
    await chat.say("alice", "/propose Van", event_id="$p")
    p = await chat.gov.stores.proposals.get(1, 1)
    made = chat.gov.clock.now()
    chat.gov.clock.advance(minutes=1)
    assert "changed" in await chat.say("alice", "/propose Van\noptions: Against | For", event_id="$p-e", corrects="$p")
    replies = await chat.gov.handle_vote(VoteCast(chat.chat, chat.user("m1"), p.id, 1, "$late", made_at=made))
    assert replies[0].refusal and "changed by its author after you voted" in replies[0].text
    assert await ballot_of(chat, "m1") is None
