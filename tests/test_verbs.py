"""Verbs are declarations: one `@verb` and one function make a command, with its help and usage."""

from __future__ import annotations

import pytest

from handlers.errors import BadArguments
from handlers.router import Governance
from handlers.types import Reply
from handlers.verbs import VERBS, Standing, Where
from tests.conftest import EVERY_PLATFORM, Chat, make_coop


@pytest.fixture
def toy(stores, clock):
    """The bot's verbs plus one toy verb, declared as any verb is: one declaration, one function."""
    verbs = VERBS.copy()

    @verbs.verb("tally", who=Standing.MEMBER, args="<n>", keys={"colour": "red|blue"}, body="a note",
                summary="count to n in a colour")
    async def tally(ctx, call) -> list[Reply]:
        if not call.args.isdigit() or not 1 <= int(call.args) <= 5:
            raise BadArguments(f"'{call.args}' is not a number from 1 to 5.")
        colour = call.settings.get("colour", "red").strip()
        return [Reply(f"{colour}: " + " ".join(str(i) for i in range(1, int(call.args) + 1)) + f" ({call.body})")]

    return Chat(Governance(stores, clock, bot_names=("coopbot",), verbs=verbs, before_close=EVERY_PLATFORM))


async def test_a_toy_verb_is_one_declaration_and_one_function(toy):
    """`help` lists it with its summary, `help tally` shows its usage built from the declaration,
    and it runs with its key line and body."""
    await make_coop(toy, members=1)
    assert "/tally — count to n in a colour" in await toy.say("m1", "/help")
    usage = await toy.say("m1", "/help tally")
    assert "Usage: /tally <n>" in usage and "colour: red|blue" in usage and "any other lines are a note" in usage
    assert await toy.say("m1", "/tally 3\ncolour: blue\nfor the minutes") == "blue: 1 2 3 (for the minutes)"


async def test_a_toy_verbs_bad_input_is_answered_with_its_usage(toy):
    """Its own refusal, a misspelt key, a key given twice, and a stranger: each answered, with the
    usage where the input was at fault, and in the router's one order (standing before lines)."""
    await make_coop(toy, members=1)
    for text, problem in [("/tally 9", "'9' is not a number from 1 to 5."),
                          ("/tally 2\ncolor: red", "Unknown setting 'color': did you mean 'colour'?"),
                          ("/tally 2\ncolour: red\ncolour: blue", "The setting 'colour' is given twice.")]:
        reply = await toy.say("m1", text)
        assert problem in reply and "Usage: /tally <n>" in reply, reply
    stranger = await toy.say("mallory", "/tally 9\ncolor: red")
    assert "Only members of Red Bakery can do that" in stranger and "Usage" not in stranger


async def test_every_unknown_setting_is_reported_at_once(chat):
    """Two misspelt settings and a repeated one: all three named in one answer, nothing opened."""
    await make_coop(chat, members=1)
    reply = await chat.say("alice", "/propose Van\nclsoes: 48h\nknid: strategic\nballot: open\nballot: secret")
    for problem in ["'clsoes': did you mean 'closes'", "'knid': did you mean 'kind'", "'ballot' is given twice"]:
        assert problem in reply, reply
    assert "Usage: /propose" in reply
    assert await chat.gov.stores.proposals.list(1) == []


async def test_unknown_setting_on_a_verb_with_settings_but_no_body(chat):
    """`admit` takes `role:` and nothing else: another setting is named and the accepted ones listed."""
    await make_coop(chat, members=1)
    reply = await chat.say("alice", "/admit m1\ncolour: red")
    assert "Unknown setting 'colour'; this command takes: role." in reply and "Usage: /admit" in reply


async def test_a_mistyped_verb_gets_did_you_mean(chat):
    """`/porpose` suggests `/propose`; nonsense gets the plain answer; hidden verbs are never guessed."""
    assert "did you mean /propose?" in await chat.say("alice", "/porpose Van")
    assert "did you mean /members?" in await chat.say("alice", "/membres")
    plain = await chat.say("alice", "/xyzzy")
    assert "I don't know the command 'xyzzy'" in plain and "did you mean" not in plain


async def test_standing_is_checked_before_lines_for_every_verb(chat):
    """A stranger sending any member or steward verb with a stray line hears that they are not a
    member, never a parsing complaint: one order of checks, whatever the verb."""
    await make_coop(chat, members=1)
    for verb in VERBS.listed():
        if verb.who not in (Standing.MEMBER, Standing.STEWARD, Standing.AUTHOR):
            continue
        if verb.where is Where.DIRECT:
            continue  # a room hears first that it belongs in a direct chat (`confess`), whoever speaks
        reply = await chat.say("mallory", f"/{verb.name} 1 x\nstray line")
        assert "Only members of Red Bakery can do that" in reply, (verb.name, reply)
    steward_only = [v.name for v in VERBS.listed() if v.who is Standing.STEWARD]
    assert {"admit", "remove", "close", "surplus", "payout", "roomcode"} <= set(steward_only)
    for name in steward_only:
        assert "Only a steward of Red Bakery can do that" in await chat.say("m1", f"/{name} 1\nstray"), name


async def test_room_and_direct_only_verbs_say_where_to_send_them(gov):
    """`setup` and `bind` belong in a group room, `link` in a direct chat: the router says so."""
    room, direct = Chat(gov), Chat(gov, chat_id="dm-alice", direct=True)
    assert "in the co-op's group room" in await direct.say("alice", "/setup Red Bakery")
    assert "in the co-op's group room" in await direct.say("alice", "/bind ABC")
    assert "in a direct chat with me" in await room.say("alice", "/link")


def test_every_listed_verb_has_a_summary_and_a_usage():
    """What `help` and Telegram's command menu show comes from each declaration."""
    for verb in VERBS.listed():
        assert verb.summary and verb.usage("/").startswith(f"Usage: /{verb.name}"), verb.name
        assert verb.where in Where
