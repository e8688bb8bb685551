"""Ways of deciding end to end (issue 19): `results: hidden`, a `reason:` with a vote and `remind`,
on Telegram (the real python-telegram-bot stack against the fake Bot API, on a clock the test
moves) and on Matrix (the real adapter against the shared real Synapse). What members see: no
counts on the card nor in `show` while the ballot is open, the choice not told to the room, one
reminder in six hours, and the counts and reasons at the close. The rules themselves:
tests/test_ways_of_deciding.py and tests/test_remind.py."""

from __future__ import annotations

import re

from tests.fakes.synapse import send_text, wait_for_event
from tests.test_audits_telegram import MEMBERS, buttons, posted, sent_to, tg  # noqa: F401 (the clocked harness fixture)
from tests.test_matrix import (POLL_START, body, bot, co_op_room, notice_with, people, redaction_of, say,  # noqa: F401 (fixtures)
                               set_power)
from tests.test_telegram import GROUP, STEWARD, fake  # noqa: F401 (the fake Bot API fixture)

COUNTS = re.compile(r"\b(For|Against|Abstain) \d")  # a tally, as an open card or a result shows it


async def test_telegram_hidden_results_a_reason_and_remind(tg, fake):
    author, late, typist = MEMBERS  # user2 proposes; user3 does not vote; user4 types a vote with a reason
    assert "set up" in await tg.say(STEWARD, "/setup Red Bakery")
    for uid in MEMBERS:
        assert "admitted" in await tg.say(STEWARD, f"/admit {uid}")
    fake.command(GROUP, author, "/propose Buy a van\n  results: hidden\n  closes: 3d", first_name=f"user{author}")
    await posted(fake, "Proposal #1: Buy a van")
    message_id, card = tg.card(1)
    assert "So far: 0 of 4 voted (results hidden until the close)." in card["text"], card["text"]
    data = {b["text"]: b["callback_data"] for b in buttons(card)}
    assert await tg.tap(STEWARD, message_id, data["For"]) == "Recorded: For on #1."
    assert await tg.tap(author, message_id, data["For"]) == "Recorded: For on #1."

    # A vote typed in the group, with a reason, by a member the bot cannot write to: the group is
    # told only that a vote is recorded, and the typed vote is taken out of the group.
    fake.forbid(typist, "Forbidden: bot can't initiate conversation with a user")
    ack = await tg.say(typist, "/vote 1 Against\n  reason: a van costs more than we have")
    assert ack == "Your vote on #1 is recorded (results hidden until the close).", ack
    typed = tg.said["message"]["message_id"]
    await fake.wait_for(lambda f: [c for c in f.calls_to("deleteMessage") if c.params["message_id"] == typed])
    assert typed not in fake.messages(GROUP)

    edited = await fake.wait_for(lambda f: "So far: 3 of 4 voted" in tg.card(1)[1]["text"] and tg.card(1)[1]["text"],
                                 timeout=15)
    assert "(results hidden until the close)" in edited, edited
    edits = [c.params["text"] for c in fake.calls_to("editMessageText") if c.params.get("message_id") == message_id]
    assert edits and not any(COUNTS.search(t) for t in edits), edits
    shown = await tg.say(late, "/show 1")
    assert "So far: 3 of 4 voted (results hidden until the close)." in shown, shown
    assert not COUNTS.search(shown) and "Reasons given" not in shown and "a van costs" not in shown, shown
    # Nothing the group was sent tells a choice before the close.
    assert not any(COUNTS.search(t) or "Against on" in t for t in sent_to(fake, GROUP)), sent_to(fake, GROUP)

    # `remind`: the author, once; the non-voter is told in the room and directly.
    fake.command(GROUP, author, "/remind 1", first_name=f"user{author}")
    reminder = await posted(fake, "Reminder from user2: #1 Buy a van closes in ")
    assert "1 of 4 members have not voted yet" in reminder, reminder
    told = await fake.wait_for(lambda f: [t for t in sent_to(f, late) if "reminds you" in t])
    assert told[0].startswith("user2 reminds you: you have not voted on #1 Buy a van in Red Bakery"), told
    assert not any("reminds you" in t for uid in (STEWARD, author, typist) for t in sent_to(fake, uid))
    tg.clock.advance(hours=5)
    again = await tg.say(author, "/remind 1")
    assert re.fullmatch(r"#1's non-voters were reminded at .+; they can be reminded again from .+\.", again), again
    assert await tg.say(late, "/remind 1") == "Only the author of #1 or a steward can remind those who have not voted."
    assert len([t for t in sent_to(fake, GROUP) if t.startswith("Reminder from")]) == 1

    # The close: the counts, and the reason with its vote.
    tg.clock.advance(days=3)
    await tg.tick()
    result = await posted(fake, "Result of #1 Buy a van")
    assert "Votes: For 2 · Against 1 · Abstain 0." in result, result
    before = len(sent_to(fake, GROUP))  # what the close sends besides the result is not this answer
    fake.command(GROUP, late, "/show 1", first_name=f"user{late}")
    shown = (await fake.wait_for(lambda f: [t for t in sent_to(f, GROUP)[before:] if t.startswith("Proposal #1:")]))[0]
    assert "Reasons given with votes:" in shown and "• user4 (Against): a van costs more than we have" in shown, shown


async def answer(client, room_id: str, text: str) -> str:
    """Send a command; the bot's answer to it (a reply to that very message, not any notice)."""
    sent = await send_text(client, room_id, text)
    reply = await wait_for_event(client, room_id, lambda s: s.get("content", {}).get("m.relates_to", {})
                                 .get("m.in_reply_to", {}).get("event_id") == sent, 30)
    return body(reply)


async def test_matrix_hidden_results_typed_votes_and_remind(bot, people):
    """No native poll on a hidden ballot (a poll's responses are public room events): members type
    their votes, the room is told only that each is recorded, and the counts come with the result."""
    alice, bob, carol = await people("alice", False), await people("bob", False), await people("carol", False)
    room_id = await co_op_room(bot, alice, encrypted=False, members=[bob, carol])
    set_power(bot.synapse, room_id, alice.access_token, bot.user_id, 50)  # a moderator, as README asks
    await send_text(alice, room_id, "!propose Buy a van\nresults: hidden")
    card = await wait_for_event(bob, room_id, notice_with("Proposal #1: Buy a van"), 30)
    assert "So far: 0 of 3 voted (results hidden until the close)." in body(card), body(card)
    hidden = "Your vote on #1 is recorded (results hidden until the close)."
    assert await answer(alice, room_id, "!vote 1 For") == hidden
    assert await answer(bob, room_id, "!vote 1 For\nreason: we carry flour by bike now") == hidden

    # `remind`: the author, once; not again within 6 hours; not by a member who did not propose it.
    reminder = await say(alice, room_id, "!remind 1", "Reminder from ")
    assert "#1 Buy a van closes in " in body(reminder) and "1 of 3 members have not voted yet" in body(reminder)
    again = await answer(alice, room_id, "!remind 1")
    assert re.fullmatch(r"#1's non-voters were reminded at .+; they can be reminded again from .+\.", again), again
    assert await answer(carol, room_id, "!remind 1") == ("Only the author of #1 or a steward can remind those who "
                                                          "have not voted.")

    typed = await send_text(carol, room_id, "!vote 1 Against")
    reply = await wait_for_event(carol, room_id, lambda s: s.get("content", {}).get("m.relates_to", {})
                                 .get("m.in_reply_to", {}).get("event_id") == typed, 30)
    assert body(reply) == hidden
    # The typed vote told the room carol's choice: it is redacted, as Telegram deletes it.
    redaction = await wait_for_event(bob, room_id, redaction_of(typed), 30)
    assert redaction["sender"] == bot.user_id
    stored = bot.synapse.api("GET", f"/_matrix/client/v3/rooms/{room_id}/event/{typed}", token=bob.access_token)
    assert stored["content"] == {}, stored
    await wait_for_event(alice, room_id, lambda s: "m.new_content" in s.get("content", {})
                         and "So far: 3 of 3 voted (results hidden until the close)." in body(s), 30)
    shown = await answer(carol, room_id, "!show 1")
    assert "So far: 3 of 3 voted (results hidden until the close)." in shown, shown
    assert not COUNTS.search(shown) and "Reasons given" not in shown and "flour" not in shown, shown

    closing = await send_text(alice, room_id, "!close 1 everyone has voted")
    result = await wait_for_event(alice, room_id, notice_with("Result of #1 Buy a van: passed"), 30)
    assert "Votes: For 2 · Against 1 · Abstain 0." in body(result), body(result)
    shown = await answer(carol, room_id, "!show 1")
    assert "Reasons given with votes:" in shown and "(For): we carry flour by bike now" in shown, shown

    # All bob saw until the result: no poll was ever started, and nothing the bot sent before the
    # close told a count (the card's edits included).
    seen: dict[str, dict] = {}

    def until_result(source: dict) -> bool:
        seen.setdefault(source.get("event_id", ""), source)
        return "Result of #1 Buy a van" in body(source)

    await wait_for_event(bob, room_id, until_result, 30)
    timeline = list(seen.values())
    assert not [s for s in timeline if s.get("type") in (POLL_START, "m.poll.start")], timeline
    before = timeline[:[s.get("event_id") for s in timeline].index(closing)]
    by_bot = [body(s) for s in before if s.get("sender") == bot.user_id]
    assert any("3 of 3 voted (results hidden" in b for b in by_bot), by_bot  # the card's last edit
    assert not [b for b in by_bot if COUNTS.search(b)], by_bot
