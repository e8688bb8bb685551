"""Ways of deciding (SPEC's third set), the parts built so far: `results: hidden` and `reason:` on
a vote, through the core as a chat on SQLite and PostgreSQL (`remind`: tests/test_remind.py)."""

from __future__ import annotations

import json

from bot.export import collect
from bot.matrix import convert as matrix_convert
from bot.verify import problems
from handlers.cards import card_view
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
    poll = matrix_convert.poll_start(view, view.text, "Buy a van")
    assert poll[matrix_convert.POLL_START]["kind"] == "org.matrix.msc3381.poll.undisclosed"
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
