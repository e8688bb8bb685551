"""`method: consent` (SPEC third set): `object`, `unobject` and `revise`, and the close that fails
on a standing objection, through the core as a chat on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json

from bot.export import collect, to_csv, to_markdown
from bot.telegram import convert as tg_convert
from bot.verify import problems
from handlers.events import CommandReceived
from handlers.proposals import close_due
from tests.conftest import Chat, make_coop
from tests.test_audits_telegram import MEMBERS, buttons, posted, sent_to, tg  # noqa: F401 (the clocked harness)
from tests.test_telegram import GROUP, STEWARD, fake  # noqa: F401 (the fake Bot API fixture)
from tests.fakes.synapse import send_poll_response, send_text, wait_for_event
from tests.test_matrix import POLL_START, Bot, body, co_op_room, notice_with, people, say  # noqa: F401 (Matrix members)

PROPOSE = "/propose Four-day week\n  method: consent\nWe work Monday to Thursday from March."


async def _proposal(chat: Chat, number: int = 1):
    return await chat.gov.stores.proposals.get(1, number)


async def test_the_card_says_how_to_decide_and_lists_objections(chat):
    await make_coop(chat, 3)
    await chat.say("alice", PROPOSE)
    card = chat.last
    assert "Options: 1. Consent · 2. Abstain" in card
    assert ("Decided by consent: quorum 50% of 4 members (consents, abstentions and objections all count); "
            "it passes if no objection stands.") in card
    assert "To decide: consent with /vote 1 consent (or /vote 1 abstain), or object with /object 1 <reason>." in card
    assert "No objection stands." in card
    answer = await chat.say("m1", "/object 1 Thursdays are our delivery day")
    assert "Your objection to #1 is recorded and shown on its card: Thursdays are our delivery day" in answer
    assert "Withdraw it with /unobject 1." in answer
    shown = await chat.say("m2", "/show 1")
    assert "Objections standing (1):\n• m1: Thursdays are our delivery day" in shown
    # A second `object` replaces the reason: still one objection.
    answer = await chat.say("m1", "/object 1 Thursdays are delivery days; make it Friday off")
    assert "now reads: Thursdays are delivery days; make it Friday off" in answer
    shown = await chat.say("m2", "/show 1")
    assert "Objections standing (1):\n• m1: Thursdays are delivery days; make it Friday off" in shown
    assert "Thursdays are our delivery day\n" not in shown
    assert "Your objection to #1 is withdrawn." in await chat.say("m1", "/unobject 1")
    assert "No objection stands." in await chat.say("m2", "/show 1")
    assert "You have no objection standing to #1: nothing to withdraw." in await chat.say("m1", "/unobject 1")
    helped = await chat.say("m1", "/help")
    assert "/object — object to a consent proposal, saying why" in helped and "/unobject — " in helped, helped
    assert "/object <#> <reason>" in await chat.say("m1", "/help object")


async def test_refusals(chat, clock):
    await make_coop(chat, 3)
    await chat.say("alice", PROPOSE)
    await chat.say("alice", "/propose Buy a van")
    # Not a member.
    assert "Only members of Red Bakery can do that" in await chat.say("stranger", "/object 1 I do not like it")
    # No reason; a reason over 500 characters; more lines.
    no_reason = await chat.say("m1", "/object 1")
    assert "Say why you object, on the same line: /object <#> <reason>" in no_reason and "Usage" in no_reason
    assert "The reason is too long (501 characters; the limit is 500)" in await chat.say("m1", "/object 1 " + "x" * 501)
    # Not a consent proposal: what to do instead.
    answer = await chat.say("m1", "/object 2 too expensive")
    assert "#2 is decided by a vote, not by consent, so it takes no objections." in answer
    assert "/vote 2 <option> and say why in a reason: line" in answer
    assert "Only a consent proposal is revised with /revise" in await chat.say("alice", "/revise 2\nA cheaper van.")
    # Secret consent is refused at proposing.
    secret = await chat.say("alice", "/propose Hire Dana\n  method: consent\n  ballot: secret")
    assert "A consent proposal is decided in the open" in secret
    assert len(await chat.gov.stores.proposals.list(1)) == 2
    # Only the author revises; the text is required.
    assert "Only the author of #1 (alice) can revise it." in await chat.say("m1", "/revise 1\nMy own text.")
    assert "Write the new text on the lines under the command" in await chat.say("alice", "/revise 1")
    # Someone admitted after it opened is not on its frozen register.
    await chat.say("alice", "/admit late")
    assert "Only members on #1's frozen register" in await chat.say("late", "/object 1 I was not asked")
    # Closed: refused, nothing stored.
    await chat.say("alice", "/close 1 enough")
    assert "#1 is already closed." in await chat.say("m1", "/object 1 too late?")
    assert "#1 is already closed." in await chat.say("m1", "/unobject 1")
    assert "#1 is already closed." in await chat.say("alice", "/revise 1\nNew text.")
    p = await _proposal(chat)
    assert await chat.gov.stores.objections.standing(p.id) == []


async def test_a_consent_proposal_fails_on_one_objection(chat, clock):
    await make_coop(chat, 4)
    await chat.say("alice", PROPOSE)
    for who in ("alice", "m1", "m2"):
        assert "Recorded: Consent on #1." in await chat.say(who, "/vote 1 consent")
    assert "Recorded: Abstain on #1." in await chat.say("m3", "/vote 1 abstain")
    await chat.say("m4", "/object 1 Thursdays are our delivery day")
    clock.advance(hours=73)
    await close_due(chat.gov.stores, clock.now(), chat.gov.before_close)
    await chat.drain()
    result = chat.last
    assert "Result of #1 Four-day week: failed (an objection stands)." in result
    assert "Votes: Consent 3 · Abstain 1; objections standing: 1." in result
    assert "Turnout: 5 of 5 (100%) consented, abstained or objected; quorum 50% met." in result
    assert "Objections standing (1):\n• m4: Thursdays are our delivery day" in result
    p = await _proposal(chat)
    assert p.result["passed"] is False and p.result["reason"] == "objection"
    assert p.result["objections"] == [{"name": "m4", "reason": "Thursdays are our delivery day"}]
    assert "• m4: Thursdays are our delivery day" in await chat.say("m1", "/show 1")
    data = json.loads(json.dumps(await collect(chat.gov.stores)))
    entry = data["coops"][0]["proposals"][0]
    assert entry["method"] == "consent"
    assert entry["objections"][0]["member"] == "m4" and entry["result"]["objections"] == p.result["objections"]
    assert entry["result"]["voters"] == 5
    assert "objection,1,Four-day week,m4" in to_csv(data)
    assert "- m4: Thursdays are our delivery day" in to_markdown(data)
    assert problems(data) == []
    # The close's leaf in the minutes carries the objections.
    leaves = [json.loads(leaf["record"]) for leaf in data["coops"][0]["minutes"]["leaves"]]
    closed = [leaf for leaf in leaves if leaf["kind"] == "proposal_closed"][0]
    assert closed["data"]["result"]["objections"] == p.result["objections"]


async def test_quorum_counts_those_who_only_objected(chat, clock):
    """5 on the register, quorum 50%: two consents and one objection make the quorum (3 of 5)."""
    await make_coop(chat, 4)
    await chat.say("alice", PROPOSE)
    await chat.say("m1", "/vote 1 consent")
    await chat.say("m2", "/vote 1 consent")
    await chat.say("m3", "/object 1 not this year")
    await chat.say("m3", "/unobject 1")
    await chat.say("m4", "/object 1 not now")
    # Those who objected have had their say: `remind` leaves them out, as it does those who voted.
    await chat.say("alice", "/remind 1")
    assert "2 of 5 members have not voted yet" in chat.last, chat.last
    await chat.say("m4", "/unobject 1")
    await chat.say("alice", "/close 1")
    assert "Result of #1 Four-day week: failed (quorum not met)." in chat.last
    assert "Turnout: 2 of 5 (40%)" in chat.last


async def test_objected_revised_withdrawn_and_passed(chat, clock):
    """The acceptance scenario: an objection is raised; the author revises (the objector is told and
    asked whether to withdraw, the ballots given to the old text are cleared and their voters told);
    the objection is withdrawn, members consent again, and it passes."""
    await make_coop(chat, 4)
    await chat.say("alice", PROPOSE)
    await chat.say("m1", "/vote 1 consent")
    await chat.say("m2", "/vote 1 abstain")
    await chat.say("m3", "/object 1 Thursdays are our delivery day")
    p = await _proposal(chat)
    clock.advance(hours=60)  # 12 h left: the revision gives members a day
    await chat.say("alice", "/revise 1\nWe work Monday to Wednesday and Friday from March.")
    announced = chat.last
    assert "alice revised #1 Four-day week (revision 1 of 5); its card shows the new text." in announced
    assert "Votes given to the old text are cleared: m1 and m2, please decide again (/vote 1 consent" in announced
    assert "Objections still stand: m3, does the new text meet your objection? If it does, withdraw it with /unobject 1." in announced
    assert "It now closes" in announced
    # Each is told directly too (console accounts are written to directly).
    direct = await chat.gov.stores.outbox.pending("console", chat_id="m3", limit=10)
    assert "your objection still stands (Thursdays are our delivery day)" in direct[0].text
    direct = await chat.gov.stores.outbox.pending("console", chat_id="m1", limit=10)
    assert "your vote (Consent) was for the old text and is cleared" in direct[0].text
    revised = await _proposal(chat)
    assert revised.body == "We work Monday to Wednesday and Friday from March."
    assert revised.closes_at == clock.now() + __import__("datetime").timedelta(hours=24) > p.closes_at
    shown = await chat.say("m4", "/show 1")
    assert "We work Monday to Wednesday and Friday" in shown and "So far: Consent 0 · Abstain 0 (0 of 5 voted)." in shown
    assert "• m3: Thursdays are our delivery day" in shown and "(revision 1 of 5)" in shown
    assert await chat.gov.stores.votes.ballots(p.id) == []
    assert "Your objection to #1 is withdrawn." in await chat.say("m3", "/unobject 1")
    for who in ("m1", "m2", "m3"):
        await chat.say(who, "/vote 1 consent")
    clock.advance(hours=25)
    await close_due(chat.gov.stores, clock.now(), chat.gov.before_close)
    await chat.drain()
    assert "Result of #1 Four-day week: passed." in chat.last
    assert "Votes: Consent 3 · Abstain 0; objections standing: 0." in chat.last
    data = json.loads(json.dumps(await collect(chat.gov.stores)))
    assert problems(data) == []  # the cleared ballots are in the log: the recount agrees
    assert data["coops"][0]["proposals"][0]["revisions"] == 1


async def test_revisions_are_bounded_and_a_far_close_does_not_move(chat, clock):
    await make_coop(chat, 2)
    await chat.say("alice", PROPOSE)
    closes = (await _proposal(chat)).closes_at
    for i in range(1, 6):
        await chat.say("alice", f"/revise 1\nText number {i}.")
        assert f"(revision {i} of 5)" in chat.last
    assert (await _proposal(chat)).closes_at == closes
    assert "#1 has been revised 5 times, the most a proposal may be." in await chat.say("alice", "/revise 1\nSix.")
    assert "#1 already says that" in await chat.say("alice", "/revise 1\nText number 5.")
    # Edits of the opening message no longer change a proposal that has objections (only `revise` does).
    await chat.say("alice", "/propose Second\n  method: consent", event_id="$p2")
    await chat.say("m1", "/object 2 no", event_id="$o")
    answer = await chat.say("alice", "/propose Second thoughts\n  method: consent", event_id="$p2e", corrects="$p2")
    assert "#2 was not changed by your edit: members have voted on it or objected to it." in answer
    assert "/revise 2" in answer and (await _proposal(chat, 2)).title == "Second"


async def test_two_objections_at_once_by_one_member_count_once(chat):
    """The primary key is the guard: two `object` by the same member at once leave one objection."""
    await make_coop(chat, 2)
    await chat.say("alice", PROPOSE)
    gov = chat.gov
    answers = await asyncio.gather(*[
        gov.handle_command(CommandReceived(chat.chat, chat.user("m1"), f"/object 1 reason {i}", f"ev-{i}", None))
        for i in range(2)])
    assert all("objection" in a[0].text for a in answers), answers
    p = await _proposal(chat)
    standing = await gov.stores.objections.standing(p.id)
    assert len(standing) == 1 and standing[0].name == "m1"
    assert "Objections standing (1):" in await chat.say("alice", "/show 1")


async def test_a_card_with_many_long_objections_fits_a_telegram_message(chat):
    await make_coop(chat, 12)
    await chat.say("alice", PROPOSE.replace("Four-day week", "W" * 200) + "\n" + "y" * 3000)
    for i in range(1, 13):
        await chat.say(f"m{i}", f"/object 1 {'z' * 499}{i % 10}")
        await chat.say(f"m{i}", "/vote 1 consent\n  reason: " + "r" * 500)
    shown = await chat.say("alice", "/show 1")
    assert len(shown) <= tg_convert.MAX_TEXT, len(shown)
    assert "Objections standing (12):" in shown and "more (the export has them all)" in shown


# --- end to end on Telegram: the real python-telegram-bot stack against the fake Bot API ---
async def test_consent_through_telegram(tg, fake):
    """A consent proposal fails on one objection; the next is objected to, revised (the card edited,
    the taps cleared, the objector told in a direct chat), the objection withdrawn, and passes on taps."""
    assert "set up" in await tg.say(STEWARD, "/setup Red Bakery")
    for uid in MEMBERS:
        assert "admitted" in await tg.say(STEWARD, f"/admit {uid}")
    objector = MEMBERS[2]

    async def card(number: int) -> tuple[int, dict]:
        await fake.wait_for(lambda f: any(t.startswith(f"Proposal #{number}:") for t in f.texts(GROUP)))
        return tg.card(number)

    fake.command(GROUP, STEWARD, "/propose Four-day week\n  method: consent\nMonday to Thursday.", first_name="user1")
    message_id, shown = await card(1)
    assert "To decide: consent with /vote 1 consent" in shown["text"], shown["text"]
    data = {b["text"]: b["callback_data"] for b in buttons(shown)}
    assert set(data) >= {"Consent", "Abstain"}, data
    for uid in (STEWARD, *MEMBERS[:2]):
        assert await tg.tap(uid, message_id, data["Consent"]) == "Recorded: Consent on #1."
    assert "Your objection to #1 is recorded" in await tg.say(objector, "/object 1 Thursdays are our delivery day")
    edited = await fake.wait_for(lambda f: "• user4: Thursdays" in tg.card(1)[1]["text"] and tg.card(1)[1]["text"],
                                 timeout=15)
    assert "Objections standing (1):" in edited and "Consent 3" in edited, edited
    tg.clock.advance(hours=73)
    await tg.tick()
    result = await posted(fake, "Result of #1 ")
    assert "failed (an objection stands)" in result and "• user4: Thursdays are our delivery day" in result, result

    fake.command(GROUP, STEWARD, "/propose Four-day week, again\n  method: consent\nMonday to Thursday.",
                 first_name="user1")
    message_id, shown = await card(2)
    data = {b["text"]: b["callback_data"] for b in buttons(shown)}
    assert await tg.tap(MEMBERS[0], message_id, data["Consent"]) == "Recorded: Consent on #2."
    assert "recorded" in await tg.say(objector, "/object 2 Thursdays are our delivery day")
    fake.command(GROUP, STEWARD, "/revise 2\nMonday to Wednesday, and Friday.", first_name="user1")
    announced = await posted(fake, "user1 revised #2 ")
    assert "cleared: user2" in announced and "Objections still stand: user4" in announced, announced
    told = await fake.wait_for(lambda f: [t for t in sent_to(f, objector) if "revised #2" in t])
    assert "your objection still stands (Thursdays are our delivery day)" in told[0], told
    edited = await fake.wait_for(lambda f: "Monday to Wednesday" in tg.card(2)[1]["text"] and tg.card(2)[1]["text"],
                                 timeout=15)
    assert "Consent 0 · Abstain 0" in edited and "(revision 1 of 5)" in edited, edited
    assert await tg.say(objector, "/unobject 2") == "Your objection to #2 is withdrawn."
    for uid in (STEWARD, *MEMBERS):
        assert await tg.tap(uid, message_id, data["Consent"]) == "Recorded: Consent on #2."
    tg.clock.advance(hours=73)
    await tg.tick()
    result = await posted(fake, "Result of #2 ")
    assert "passed." in result.splitlines()[0] and "Consent 4 · Abstain 0; objections standing: 0." in result, result


# --- end to end on Matrix: the real adapter against the shared real Synapse, votes by poll ---
async def test_consent_through_matrix(synapse, people, tmp_path):
    """One objection fails #1; #2 is answered in its poll, objected to, revised (its poll and card
    replaced, the poll answer given to the old text cleared), the objection withdrawn, answered
    again in the poll, and passes."""
    bot = await Bot(synapse, tmp_path, "coopbotconsent").start()
    try:
        alice, bob, carol = await people("alice"), await people("bob"), await people("carol")
        room_id = await co_op_room(bot, alice, encrypted=False, members=[bob, carol])

        async def poll_of(title: str) -> tuple[str, dict]:
            poll = await wait_for_event(bob, room_id, lambda s: s.get("type") == POLL_START and title in body(s), 30)
            start = poll["content"][POLL_START]
            return poll["event_id"], {a["org.matrix.msc1767.text"]: a["id"] for a in start["answers"]}

        await send_text(alice, room_id, "!propose Four-day week\nmethod: consent\nMonday to Thursday.")
        poll_id, answers = await poll_of("Four-day week")
        assert list(answers) == ["Consent", "Abstain"]
        await say(carol, room_id, "!object 1 Thursdays are our delivery day", "Your objection to #1 is recorded")
        await send_poll_response(bob, room_id, poll_id, answers["Consent"])
        await wait_for_event(alice, room_id, lambda s: "m.new_content" in s.get("content", {})
                             and "Consent 1" in body(s) and "• carol" in body(s), 30)
        result = await say(alice, room_id, "!close 1 enough said", "Result of #1 Four-day week: failed")
        assert "(an objection stands)" in body(result) and "Thursdays are our delivery day" in body(result)

        await send_text(alice, room_id, "!propose Four-day week, again\nmethod: consent\nMonday to Thursday.")
        poll_id, answers = await poll_of("again")
        await send_poll_response(bob, room_id, poll_id, answers["Consent"])
        await wait_for_event(alice, room_id, lambda s: "m.new_content" in s.get("content", {})
                             and "#2" in body(s) and "Consent 1" in body(s), 30)
        await say(carol, room_id, "!object 2 Thursdays are our delivery day", "Your objection to #2 is recorded")
        await send_text(alice, room_id, "!revise 2\nMonday to Wednesday, and Friday.")
        announced = await wait_for_event(bob, room_id, notice_with("revised #2"), 30)
        assert "cleared:" in body(announced) and "Objections still stand:" in body(announced), body(announced)
        edited = await wait_for_event(alice, room_id, lambda s: "m.new_content" in s.get("content", {})
                                      and "Proposal #2" in body(s) and "Monday to Wednesday" in body(s)
                                      and "Consent 0" in body(s), 30)
        assert "(revision 1 of 5)" in body(edited)
        # The poll is replaced too, with new answer ids: bob's earlier answer no longer shows as chosen.
        replaced = await wait_for_event(bob, room_id, lambda s: s.get("type") == POLL_START and s["content"].get(
            "m.relates_to", {}).get("event_id") == poll_id, 30)
        renewed = {a["org.matrix.msc1767.text"]: a["id"] for a in replaced["content"]["m.new_content"][POLL_START]["answers"]}
        assert list(renewed) == ["Consent", "Abstain"] and not set(renewed.values()) & set(answers.values()), renewed
        await say(carol, room_id, "!unobject 2", "Your objection to #2 is withdrawn.")
        await send_poll_response(bob, room_id, poll_id, renewed["Consent"])  # again, for the new text
        await say(carol, room_id, "!vote 2 consent", "Recorded: Consent on #2")
        await wait_for_event(alice, room_id, lambda s: "m.new_content" in s.get("content", {})
                             and "Proposal #2" in body(s) and "Consent 2" in body(s), 30)
        result = await say(alice, room_id, "!close 2 done", "Result of #2 Four-day week, again: passed.")
        assert "Consent 2 · Abstain 0; objections standing: 0." in body(result), body(result)
    finally:
        await bot.close()


# --- after the hostile review ---
async def test_a_revision_announcement_with_many_long_names_fits_a_telegram_message(chat):
    """Every voter's name in the room's announcement would run past Telegram's 4,096 characters
    (and be cut, with the objectors' line): a few names, and how many more (each is told directly)."""
    await make_coop(chat, 0)
    names = [f"{'n' * 110}{i:03d}" for i in range(60)]
    for name in names:
        await chat.say(name, "/join")
        assert "admitted" in await chat.say("alice", f"/admit {name}")
    await chat.say("alice", PROPOSE)
    for name in names[:50]:
        assert "Recorded" in await chat.say(name, "/vote 1 consent")
    for name in names[50:]:
        assert "recorded" in await chat.say(name, "/object 1 not like this")
    await chat.say("alice", "/revise 1\nA new text.")
    announced = chat.last
    assert "alice revised #1 Four-day week" in announced
    assert len(announced) <= tg_convert.MAX_TEXT, len(announced)
    assert "please decide again" in announced and "Objections still stand" in announced, announced
    assert "more" in announced


async def test_no_revision_that_leaves_no_day_before_the_longest_close(chat, clock):
    """A revision near the end of the longest a proposal may run would clear every ballot and give
    the members no day to decide again: refused, nothing cleared."""
    await make_coop(chat, 2)
    await chat.say("alice", "/propose Year-long\n  method: consent\n  closes: 365d\nA long one.")
    await chat.say("m1", "/vote 1 consent")
    clock.advance(days=364, hours=12)
    answer = await chat.say("alice", "/revise 1\nA new text.")
    assert "too close to its latest close" in answer, answer
    p = await _proposal(chat)
    assert p.body == "A long one." and len(await chat.gov.stores.votes.ballots(p.id)) == 1


async def test_the_start_check_and_verify_recount_the_objections(chat, clock):
    """What decided a consent proposal is its objections: the start-up check and `coopbot verify`
    count them again from the event log, so an objection lost from the table is found."""
    from sqlalchemy import delete

    from handlers import draws
    from storage.models import Objection

    await make_coop(chat, 3)
    await chat.say("alice", PROPOSE)
    await chat.say("alice", "/propose Second\n  method: consent\nAnother text.")
    for who in ("alice", "m1"):
        await chat.say(who, "/vote 1 consent")
        await chat.say(who, "/vote 2 consent")
    await chat.say("m2", "/object 1 not this year")
    await chat.say("m3", "/object 1 first a plan")
    await chat.say("m3", "/unobject 1")
    await chat.say("m2", "/object 2 no")
    await chat.say("alice", "/revise 1\nFrom next year.")
    await chat.say("m1", "/vote 1 consent")
    stores = chat.gov.stores
    await chat.say("alice", "/close 1 enough")
    assert "failed (an objection stands)" in chat.last
    assert await stores.minutes.check(stores.proposals.recount, draws.replay_problem) == []
    data = json.loads(json.dumps(await collect(stores)))
    assert problems(data) == []
    # Now #2's objection goes missing from the table before its close (a lost write, a tampering):
    p2 = await _proposal(chat, 2)
    async with stores.objections.db.write() as s:
        await s.execute(delete(Objection).where(Objection.proposal_id == p2.id))
    await chat.say("alice", "/close 2 enough")
    assert "Result of #2 Second: passed." in chat.last
    found = await stores.minutes.check(stores.proposals.recount, draws.replay_problem)
    assert found and "objections" in found[0].what, found
    data = json.loads(json.dumps(await collect(stores)))
    assert any("objections" in what for what in problems(data)), problems(data)


async def test_a_removed_members_objection_stands_and_they_are_not_written_to(chat, clock):
    """A steward cannot pass a consent proposal by removing its objector: the objection raised by a
    member on the frozen register stands (as a removed member's ballot counts). A revision tells
    members directly; someone no longer on the register is not told the co-op's business."""
    await make_coop(chat, 4)
    await chat.say("alice", PROPOSE)
    await chat.say("m1", "/vote 1 consent")
    await chat.say("m2", "/vote 1 consent")
    await chat.say("m3", "/object 1 Thursdays are our delivery day")
    await chat.say("m4", "/vote 1 consent")
    for who in ("m3", "m4"):
        assert "removed" in (await chat.say("alice", f"/remove {who}")).lower()
    await chat.say("alice", "/revise 1\nMonday to Wednesday, and Friday.")
    for who in ("m3", "m4"):
        assert not [r.text for r in await chat.gov.stores.outbox.pending("console", chat_id=who, limit=10)
                    if "revised" in r.text], who
    told = await chat.gov.stores.outbox.pending("console", chat_id="m1", limit=10)
    assert "your vote (Consent) was for the old text" in told[0].text
    assert "Only members" in await chat.say("m3", "/unobject 1")
    for who in ("alice", "m1", "m2"):
        await chat.say(who, "/vote 1 consent")
    clock.advance(hours=73)
    await close_due(chat.gov.stores, clock.now(), chat.gov.before_close)
    await chat.drain()
    assert "Result of #1 Four-day week: failed (an objection stands)." in chat.last
    assert "• m3: Thursdays are our delivery day" in chat.last


async def test_show_of_a_revised_consent_proposal_with_long_names_fits_a_telegram_message(chat):
    """The card's objections and `show`'s reasons share one message: with names of the longest
    (120 characters), a title of 200, a long text and reasons of 500, it still fits in 4,096."""
    founder = "f" * 120
    await make_coop(chat, 0, founder=founder)
    names = [f"{'n' * 117}{i:03d}" for i in range(14)]
    for name in names:
        await chat.say(name, "/join")
        assert "admitted" in await chat.say(founder, f"/admit {name}")
    await chat.say(founder, "/propose " + "W" * 200 + "\n  method: consent\n" + "y" * 3990)
    await chat.say(founder, "/revise 1\n" + "q" * 3999)
    assert "revised #1" in chat.last
    for n in names[:12]:
        assert "recorded" in await chat.say(n, f"/object 1 {'z' * 500}")
        assert "Recorded" in await chat.say(n, "/vote 1 consent\n  reason: " + "r" * 500)
    shown = await chat.say(founder, "/show 1")
    assert len(shown) <= tg_convert.MAX_TEXT, len(shown)
    assert "Objections standing (12):" in shown and "(revision 1 of 5)" in shown
    await chat.say(founder, "/close 1 " + "e" * 500)
    shown = await chat.say(founder, "/show 1")
    assert len(shown) <= tg_convert.MAX_TEXT, len(shown)
    assert "failed (an objection stands)" in shown and "Objections standing (12):" in shown


def test_a_revised_poll_has_new_answer_ids_so_old_selections_do_not_show():
    """Element shows a member's last answer as chosen, and sends nothing when they tap it again: after
    a revision cleared it, the poll's answers get new ids, so no old answer shows as chosen, and a
    response with either id still reads as its option."""
    from datetime import datetime, timezone

    from bot.matrix import convert as mx
    from handlers.cards import CardView

    first = CardView(1, 1, "card", ("Consent", "Abstain"), True, "open")
    revised = CardView(1, 1, "card", ("Consent", "Abstain"), True, "open",
                       revised_at=datetime(2026, 12, 5, 12, 0, 7, tzinfo=timezone.utc))
    again = CardView(1, 1, "card", ("Consent", "Abstain"), True, "open",
                     revised_at=datetime(2026, 12, 5, 13, 0, tzinfo=timezone.utc))
    ids = [[a["id"] for a in mx.poll_start(v, "card", "q")[mx.POLL_START]["answers"]] for v in (first, revised, again)]
    assert ids[0] == ["o0", "o1"] and not set(ids[0]) & set(ids[1]) and not set(ids[1]) & set(ids[2]), ids
    for answer_ids in ids:
        for option, answer in enumerate(answer_ids):
            content = {"m.relates_to": {"rel_type": "m.reference", "event_id": "$poll"}, "m.selections": [answer]}
            assert mx.poll_response(content) == ("$poll", option)


async def test_consenting_while_objecting_says_the_objection_still_stands(chat):
    """A member who objected and then taps Consent has not lifted their objection: the answer says
    so (and how to), rather than leave them thinking their consent let the proposal pass."""
    await make_coop(chat, 2)
    await chat.say("alice", PROPOSE)
    await chat.say("m1", "/object 1 Thursdays are our delivery day")
    answer = await chat.say("m1", "/vote 1 consent")
    assert "Recorded: Consent on #1." in answer
    assert "Your objection to #1 still stands: it cannot pass while it does (/unobject 1 withdraws it)." in answer
    p = await _proposal(chat)
    tapped = await chat.tap("m1", p.id, 1)
    assert tapped.startswith("Changed: Abstain on #1") and "still stands" in tapped and len(tapped) <= 200, tapped
    await chat.say("m1", "/unobject 1")
    assert "still stands" not in await chat.say("m1", "/vote 1 consent")
    assert "still stands" not in await chat.say("m2", "/vote 1 consent")


async def test_a_revision_changes_only_the_text(chat):
    """`closes:` or `method:` under `revise` would be kept as words of the text while the card says
    otherwise (a proposal's text can never hold them): refused, saying what a revision changes."""
    await make_coop(chat, 2)
    await chat.say("alice", PROPOSE)
    answer = await chat.say("alice", "/revise 1\n  closes: 1h\n  method: vote\nA shorter week.")
    assert "A revision changes only the text of #1" in answer and "closes and method" in answer, answer
    p = await _proposal(chat)
    assert p.body == "We work Monday to Thursday from March." and p.method == "consent"
    await chat.say("alice", "/revise 1\nA shorter week: Monday to Thursday.")
    assert (await _proposal(chat)).body == "A shorter week: Monday to Thursday."
