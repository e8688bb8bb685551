"""Ways of deciding (SPEC's third set), the parts built so far: `results: hidden` and `reason:` on
a vote, through the core as a chat on SQLite and PostgreSQL (`remind`: tests/test_remind.py)."""

from __future__ import annotations

import json

from bot.export import collect
from bot.matrix.adapter import _polled
from bot.verify import problems
from handlers.cards import card_view
from bot.telegram import convert as tg_convert
from tests.conftest import Chat
from tests.test_link import link
import re
from tests.conftest import make_coop


async def test_hidden_results_stay_hidden_until_the_close(chat, clock):
    await make_coop(chat, 3)
    await chat.say("alice", "/propose Buy a van\n  results: hidden")
    card = chat.last
    assert "So far: 0 of 4 voted (results hidden until the close)." in card
    assert "Quorum" in card
    assert "results: is shown or hidden" in await chat.say("alice", "/propose X\n  results: maybe")
    for who, choice in (("alice", "For"), ("m1", "For"), ("m2", "Against")):
        await chat.say(who, f"/vote 1 {choice}\n  reason: because {who} thinks so")
    shown = await chat.say("m3", "/show 1")
    assert "So far: 3 of 4 voted (results hidden until the close)." in shown
    assert "For 2" not in shown and "Reasons given" not in shown and "thinks so" not in shown
    data = json.loads(json.dumps(await collect(chat.gov.stores)))
    entry = data["coops"][0]["proposals"][0]
    assert entry["tally"] is None and "votes" not in entry and entry["results_hidden"] is True
    view = await card_view(chat.gov.stores, (await chat.gov.stores.proposals.get(1, 1)).id, "/")
    # On Matrix no native poll: its responses are public room events, whatever a client shows.
    assert view.results_hidden and not _polled(view)
    # At the close everything is seen: the result, the counts, the reasons.
    await chat.say("alice", "/close 1")
    assert "Votes: For 2 · Against 1 · Abstain 0." in chat.last
    shown = await chat.say("m3", "/show 1")
    assert "Reasons given with votes:" in shown and "• m2 (Against): because m2 thinks so" in shown
    data = json.loads(json.dumps(await collect(chat.gov.stores)))
    entry = data["coops"][0]["proposals"][0]
    assert entry["tally"] == {"For": 2, "Against": 1, "Abstain": 0}
    assert {"member": "m1", "option": "For", "reason": "because m1 thinks so"}.items() <= entry["votes"][1].items()
    assert problems(data) == []


async def test_a_reason_is_kept_with_its_vote_and_goes_with_a_changed_choice(chat):
    await make_coop(chat, 2)
    await chat.say("alice", "/propose Paint the door")
    await chat.say("m1", "/vote 1 For\n  reason: the door is peeling")
    assert "• m1 (For): the door is peeling" in await chat.say("m2", "/show 1")
    p = await chat.gov.stores.proposals.get(1, 1)
    # The same choice again without a reason keeps it; a tap to another choice drops it.
    await chat.say("m1", "/vote 1 For")
    assert "the door is peeling" in await chat.say("m2", "/show 1")
    await chat.tap("m1", p.id, 1)
    assert "Reasons given" not in await chat.say("m2", "/show 1")
    await chat.say("m1", "/vote 1 Against\n  reason: too expensive")
    assert "• m1 (Against): too expensive" in await chat.say("m2", "/show 1")
    long = "x" * 501
    refused = await chat.say("m2", f"/vote 1 For\n  reason: {long}")
    assert "The reason is too long (501 characters; the limit is 500)" in refused
    assert (await chat.gov.stores.votes.ballot(p.id, (await chat.gov.stores.members.get(3)).id)) is None


async def test_a_secret_ballot_takes_no_reason(chat):
    await make_coop(chat, 2)
    await chat.say("alice", "/propose Elect a treasurer\n  ballot: secret")
    refused = await chat.say("m1", "/vote 1 For\n  reason: she is careful")
    assert "a reason kept with your vote would tell your choice" in refused
    p = await chat.gov.stores.proposals.get(1, 1)
    assert await chat.gov.stores.proposals.counts(p.id, 3) == [0, 0, 0]


# --- found by a hostile review ---
async def test_a_folded_ballot_does_not_carry_a_reason_to_another_option(gov, clock):
    """m1 votes Against with a reason; m1's duplicate register entry (a Telegram account) voted
    For later; linking the account folds the ballots: For stands. The reason was given for
    Against, and must not be shown beside For."""
    room = Chat(gov, chat_id="general")
    await make_coop(room, 2)
    await link(gov, ("console", "alice"), ("telegram", "4242"))
    group = Chat(gov, "telegram", "-100200")
    code = re.search(r"Room code: (\S+)", await room.say("alice", "/roomcode")).group(1)
    await group.say("4242", f"/bind {code}")
    await group.say("777", "/join")
    await group.say("4242", "/admit 777")
    await room.say("alice", "/propose First")
    first = (await gov.stores.proposals.list(1))[0]
    assert "Recorded" in await room.say("m1", "/vote 1 Against\n  reason: far too expensive")
    clock.advance(minutes=1)
    await group.tap("777", first.id, 0)  # the duplicate: For, later: For stands
    await room.say("alice", "/remove 777")
    assert "Linked" in await link(gov, ("console", "m1"), ("telegram", "777"))
    shown = await room.say("m2", "/show 1")
    assert "(For): far too expensive" not in shown, shown


async def test_editing_the_reason_away_removes_it(chat):
    """A member edits `/vote 1 For` + `reason: ...` to drop the reason line: the edit is the vote
    now, and it carries no reason."""
    await make_coop(chat, 2)
    await chat.say("alice", "/propose Paint the door")
    await chat.say("m1", "/vote 1 For\n  reason: alice asked me to", event_id="$v")
    assert "alice asked me to" in await chat.say("m2", "/show 1")
    answer = await chat.say("m1", "/vote 1 For", event_id="$v-edit", corrects="$v")
    assert "From your edit" in answer
    assert "alice asked me to" not in await chat.say("m2", "/show 1")


async def test_show_with_reasons_fits_a_telegram_message(chat):
    """Ten reasons of the allowed 500 characters: `show` must still fit one Telegram message
    (4096), or the latest reasons and the '… and N more' line are cut off silently."""
    await make_coop(chat, 11)
    await chat.say("alice", "/propose Paint the door")
    for i in range(1, 12):
        await chat.say(f"m{i}", "/vote 1 For\n  reason: " + ("y" * 499) + str(i % 10))
    shown = await chat.say("alice", "/show 1")
    assert len(shown) <= tg_convert.MAX_TEXT, len(shown)


async def test_withdrawal_keeps_hidden_results_hidden(chat):
    """results: hidden, then the author withdraws: did the close reveal who chose what? (Spec:
    hidden 'until the close'; a withdrawal lets the author see the counts and re-propose.)"""
    await make_coop(chat, 3)
    await chat.say("m1", "/propose Buy a van\n  results: hidden")
    await chat.say("m2", "/vote 1 Against\n  reason: m2 secret thoughts")
    await chat.say("m1", "/withdraw 1 rethinking")
    shown = await chat.say("m1", "/show 1")
    entry = (await collect(chat.gov.stores))["coops"][0]["proposals"][0]
    assert "m2 secret thoughts" not in shown and "votes" not in entry and entry["tally"] is None, (shown, entry)


async def test_a_typed_vote_with_a_reason_does_not_overtake_an_earlier_tap(chat):
    """The last choice counts: a tap queued for the group commit, then a typed vote with a reason
    (which now skips the queue): the typed vote, which came last, must stand."""
    import asyncio
    await make_coop(chat, 2)
    await chat.say("alice", "/propose Paint the door")
    p = await chat.gov.stores.proposals.get(1, 1)
    gov = chat.gov
    from handlers.events import CommandReceived, VoteCast
    tap = gov.handle_vote(VoteCast(chat.chat, chat.user("m1"), p.id, 1, "tap-1"))
    typed = gov.handle_command(CommandReceived(chat.chat, chat.user("m1"), "/vote 1 For\n  reason: later", "msg-2", None))
    await asyncio.gather(tap, typed)
    b = await gov.stores.votes.ballot(p.id, (await gov.stores.members.by_account(1, "console", "m1")).id)
    assert (b.option, b.reason) == (0, "later"), (b.option, b.reason)


async def test_a_hidden_ballot_s_group_ack_does_not_tell_a_private_earlier_choice(chat):
    """results: hidden. m1 chose Against privately (a tap: only m1 sees the answer); then types
    `/vote 1 For` in the group: the group's reply says '(was Against)'."""
    await make_coop(chat, 2)
    await chat.say("alice", "/propose Paint the door\n  results: hidden")
    p = await chat.gov.stores.proposals.get(1, 1)
    await chat.tap("m1", p.id, 1)
    await chat.say("m1", "/vote 1 For")
    reply = chat.replies[0]
    assert reply.private and "Against" not in reply.public_fallback, reply


async def test_the_message_that_gave_a_reason_can_be_edited(chat):
    """m1 votes For ($a), then adds a reason with the same choice ($b), and fixes a typo in $b by
    editing it: the edit should correct the reason, as an edit of $a would."""
    await make_coop(chat, 2)
    await chat.say("alice", "/propose Paint the door")
    await chat.say("m1", "/vote 1 For", event_id="$a")
    await chat.say("m1", "/vote 1 For\n  reason: teh door is peeling", event_id="$b")
    answer = await chat.say("m1", "/vote 1 For\n  reason: the door is peeling", event_id="$b-edit", corrects="$b")
    shown = await chat.say("m2", "/show 1")
    assert "• m1 (For): the door is peeling" in shown, (answer, shown)
