"""Ranked choice and approval end to end: on Telegram (the real python-telegram-bot stack against the
fake Bot API: buttons tapped in order of preference, start over, approval toggles) and on Matrix (a
real Synapse: a typed ranking, an approval poll answered with several options, a secret ranked
ballot typed in a direct chat). The rules themselves: tests/test_ranked.py."""

from __future__ import annotations

from tests.fakes.synapse import UNSTABLE_POLL_RESPONSE, create_room, send_poll_response, send_text, wait_for_event
from tests.test_audits_telegram import MEMBERS, buttons, card_of, posted, tg  # noqa: F401 (the clocked harness fixture)
from tests.test_matrix import POLL_START, body, bot, co_op_room, notice_with, people, say  # noqa: F401 (fixtures)
from tests.test_telegram import GROUP, STEWARD, fake  # noqa: F401 (the fake Bot API fixture)


async def test_telegram_taps_rank_in_order_start_over_and_toggle_approvals(tg, fake):
    assert "set up" in await tg.say(STEWARD, "/setup Red Bakery")
    for uid in MEMBERS:
        assert "admitted" in await tg.say(STEWARD, f"/admit {uid}")
    fake.command(GROUP, STEWARD, "/propose Stewards-to-be\nmethod: ranked\nseats: 2\noptions: Ana | Ben | Cy | Dee",
                 first_name="user1")
    await posted(fake, "Draw D1: 4 seats for tie-break order of proposal #1")
    message_id, card = card_of(fake, "Stewards-to-be")
    assert "Rank the options, most preferred first: /vote 1 B A C" in card["text"]
    keys = buttons(card)
    assert [b["text"] for b in keys] == ["Ana", "Ben", "Cy", "Dee", "Start over"]
    assert all(len(b["callback_data"].encode()) <= 64 for b in keys)
    ana, ben, cy, dee, start_over = (b["callback_data"] for b in keys)
    # Each tap adds to the ranking, in the order tapped; the answer says the ranking so far.
    assert await tg.tap(2, message_id, ben) == "Your ranking on #1: 1. Ben."
    assert await tg.tap(2, message_id, ana) == "Your ranking on #1: 1. Ben, 2. Ana."
    assert await tg.tap(2, message_id, ben) == "Your ranking on #1: 1. Ben, 2. Ana."
    assert await tg.tap(2, message_id, start_over) == "Your vote on #1 is withdrawn."
    for uid, taps in {2: (cy, ana), 3: (ana,), 4: (ana, cy), STEWARD: (ben, dee)}.items():
        for data in taps:
            said = await tg.tap(uid, message_id, data)
        assert said.startswith("Your ranking on #1: 1. "), said
    await fake.wait_for(lambda f: "first preferences: Ana 2 · Ben 1 · Cy 1 · Dee 0 (4 of 4 voted"
                        in card_of(f, "Stewards-to-be")[1]["text"], timeout=15)
    # Button data is checked as typed votes are: an option the proposal lacks is refused.
    assert "has no option '9'" in await tg.tap(3, message_id, f"r:{ana.split(':')[1]}:8", check_button=False)

    fake.command(GROUP, STEWARD, "/propose Lunch\nmethod: approval\noptions: Thai | Pizza | Falafel",
                 first_name="user1")
    await posted(fake, "Proposal #2: Lunch")
    lunch_id, lunch = card_of(fake, "Lunch")
    thai, pizza, falafel, withdraw = (b["callback_data"] for b in buttons(lunch))
    assert [b["text"] for b in buttons(lunch)][-1] == "Take my vote back"
    assert await tg.tap(2, lunch_id, pizza) == "You approve on #2: Pizza."
    assert await tg.tap(2, lunch_id, thai) == "You approve on #2: Thai and Pizza."
    assert await tg.tap(2, lunch_id, pizza) == "You approve on #2: Thai."
    assert await tg.tap(3, lunch_id, thai) == "You approve on #2: Thai."
    assert await tg.tap(4, lunch_id, falafel) == "You approve on #2: Falafel."
    await fake.wait_for(lambda f: "approvals: Thai 2 · Pizza 0 · Falafel 1 (3 of 4 voted)"
                        in card_of(f, "Lunch")[1]["text"], timeout=15)
    fake.command(GROUP, STEWARD, "/close 2", first_name="user1")
    result = await posted(fake, "Result of #2 Lunch")
    assert "passed.\nChosen: Thai." in result and "Approvals: Thai 2 · Pizza 0 · Falafel 1 (of 3 voters)." in result

    # The ranked count waits for its tie-break draw, then shows each round.
    tg.clock.advance(minutes=10)
    await tg.tick()
    await posted(fake, "Result of draw D1")
    fake.command(GROUP, STEWARD, "/close 1", first_name="user1")
    result = await posted(fake, "Result of #1 Stewards-to-be")
    # Four ballots, two seats, quota 4 / 3: Ana 2 is elected at once; her surplus (2/3) goes half to
    # Cy (user4's next choice), half nowhere (user3 named no one else).
    assert "elected Ana and " in result and "Round 1: Ana 2 elected · Ben 1 · Cy 1 · Dee 0" in result, result
    await fake.wait_for(lambda f: card_of(f, "Stewards-to-be")[1]["reply_markup"] is None, timeout=15)


async def test_matrix_typed_ranking_approval_poll_and_a_secret_ranked_ballot_in_a_direct_chat(bot, people):
    alice, bob = await people("alice", False), await people("bob", False)
    room_id = await co_op_room(bot, alice, encrypted=False, members=[bob])
    # Ranked: no poll (a poll cannot rank); the card explains how to type a ranking.
    await send_text(alice, room_id, "!propose Chair\nmethod: ranked\noptions: Ana | Ben | Cy")
    card = await wait_for_event(bob, room_id, notice_with("Proposal #1: Chair"), 30)
    assert "Rank the options, most preferred first: !vote 1 B A C" in body(card)
    await wait_for_event(bob, room_id, notice_with("Draw D1"), 30)
    await say(bob, room_id, "!vote 1 Cy Ana", "Your ranking on #1: 1. Cy, 2. Ana.")
    await say(alice, room_id, "!vote 1 2 | 3", "Your ranking on #1: 1. Ben, 2. Cy.")

    # Approval: a native poll that takes every option; a response's answers are the approved set.
    await send_text(alice, room_id, "!propose Lunch\nmethod: approval\noptions: Thai | Pizza | Falafel")
    poll = await wait_for_event(bob, room_id, lambda s: s.get("type") == POLL_START, 30)
    start = poll["content"][POLL_START]
    assert start["max_selections"] == 3
    answers = {a["org.matrix.msc1767.text"]: a["id"] for a in start["answers"]}
    both = {"m.relates_to": {"rel_type": "m.reference", "event_id": poll["event_id"]},
            UNSTABLE_POLL_RESPONSE: {"answers": [answers["Falafel"], answers["Thai"]]}}
    await send_poll_response(bob, room_id, poll["event_id"], "", content=both)
    await send_poll_response(alice, room_id, poll["event_id"], answers["Thai"])
    await wait_for_event(alice, room_id, lambda s: "approvals: Thai 2 · Pizza 0 · Falafel 1 (2 of 2 voted)" in body(s), 30)

    # A secret ranked ballot: the room sees turnout; the ranking is typed in a direct chat.
    await send_text(alice, room_id, "!propose Treasurer\nmethod: ranked\nballot: secret\noptions: Dee | Eve")
    card = await wait_for_event(bob, room_id, notice_with("Proposal #3: Treasurer"), 30)
    assert "secret ballot" in body(card)
    dm = await create_room(bob, "", invite=[bot.user_id], direct=True)
    await wait_for_event(bob, dm, notice_with("!setup"), 30)
    await say(bob, dm, "!vote 3 Eve Dee", "Your ranking on #3: 1. Eve, 2. Dee.")
    edited = await wait_for_event(alice, room_id, lambda s: "1 of 2 voted (secret ballot" in body(s), 30)
    assert "Eve 1" not in body(edited)
