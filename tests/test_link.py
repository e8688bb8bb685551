"""Linking a member's accounts on two platforms: the issuer confirms, a code shown is void, and a
link never leaves one person two votes (issue 12: "When trust frays")."""

from __future__ import annotations

import re

from tests.conftest import Chat, make_coop


def dm(gov, platform: str, user: str) -> Chat:
    """A direct chat with the bot (on Telegram a user's id is their direct chat's id)."""
    return Chat(gov, platform, f"dm-{user}" if platform != "telegram" else user, direct=True)


async def code_of(chat: Chat, who: str) -> str:
    return re.search(r"Link code: (\S+)", await chat.say(who, "/link")).group(1)


async def link(gov, first: tuple[str, str], second: tuple[str, str]) -> str:
    """`first` gives a code, `second` asks with it, `first` confirms; returns the confirmation."""
    issuer, asker = dm(gov, *first), dm(gov, *second)
    code = await code_of(issuer, first[1])
    assert "link yes" in await asker.say(second[1], f"/link {code}")
    return await issuer.say(first[1], "/link yes")


async def test_a_code_shown_in_a_group_is_void(gov):
    """A steward pastes `/link CODE` in the group by mistake: the code dies there and then, so a
    stranger who saw it and sends it to the bot in a direct chat gets nothing."""
    room = Chat(gov, chat_id="general")
    await make_coop(room, 2)
    code = await code_of(dm(gov, "console", "alice"), "alice")
    assert "void" in await room.say("alice", f"/link {code}")
    stranger = dm(gov, "telegram", "666")
    assert "unknown or has expired" in await stranger.say("666", f"/link {code}")
    assert "No link is waiting" in await dm(gov, "console", "alice").say("alice", "/link yes")
    assert await gov.stores.members.memberships("telegram", "666") == []


async def test_a_code_in_any_group_message_is_void(gov):
    """Not only `/link`: a live code in any message outside a direct chat is destroyed."""
    room = Chat(gov, chat_id="general")
    await make_coop(room, 1)
    code = await code_of(dm(gov, "console", "m1"), "m1")
    assert "void" in await room.say("m1", f"/whoami my code is {code.lower()}")
    assert "unknown or has expired" in await dm(gov, "telegram", "777").say("777", f"/link {code}")


async def test_a_stranger_with_an_unshown_code_only_asks_and_the_steward_refuses_by_silence(gov, clock):
    """Even a code never shown (read over a shoulder): redeeming it only asks. The steward is told
    who asks, in their direct chat; without `link yes` within 15 minutes nothing changes, and the
    steward's standing never passes to the stranger."""
    room = Chat(gov, chat_id="general")
    await make_coop(room, 2)
    steward_dm, stranger = dm(gov, "console", "alice"), dm(gov, "telegram", "666")
    code = await code_of(steward_dm, "alice")
    asked = await stranger.say("666", f"/link {code}")
    assert "link yes" in asked and "Nothing changes until" in asked
    told = await steward_dm.drain()
    assert len(told) == 1 and "Telegram account 666" in told[0] and "/link yes" in told[0]
    assert "steward" not in await stranger.say("666", "/whoami")
    assert await gov.stores.members.memberships("telegram", "666") == []
    assert "unknown or has expired" in await dm(gov, "matrix", "@eve:x").say("@eve:x", f"/link {code}")
    clock.advance(minutes=16)
    assert "No link is waiting" in await steward_dm.say("alice", "/link yes")
    assert await gov.stores.members.memberships("telegram", "666") == []
    assert "steward" not in await stranger.say("666", "/whoami")


async def test_the_issuer_confirms_within_15_minutes_and_both_are_told(gov, clock):
    """`link` gives a code, `link <code>` from the other platform asks, `link yes` from the first
    account confirms: then, and only then, the account speaks as the member; both are told."""
    room = Chat(gov, chat_id="general")
    await make_coop(room, 2)
    first, second = dm(gov, "console", "m1"), dm(gov, "telegram", "777")
    code = await code_of(first, "m1")
    await second.say("777", f"/link {code}")
    await first.drain()
    clock.advance(minutes=14)
    confirmed = await first.say("m1", "/link yes")
    assert "Linked" in confirmed and "Telegram account 777" in confirmed and "m1" in confirmed
    assert "Linked" in (await second.drain())[0]
    assert "You are m1, a member" in await second.say("777", "/whoami")
    assert "No link is waiting" in await first.say("m1", "/link yes")  # the request is spent


async def test_linking_two_accounts_on_one_platform_is_refused(gov):
    """A Telegram account cannot link another Telegram account (nor a console one a console one):
    one person has one account per platform, and a second one would be a second voice."""
    room = Chat(gov, chat_id="general")
    await make_coop(room, 1)
    code = await code_of(dm(gov, "console", "alice"), "alice")
    assert "different platforms" in await dm(gov, "console", "mallory").say("mallory", f"/link {code}")
    await link(gov, ("console", "m1"), ("telegram", "777"))
    tg_code = await code_of(dm(gov, "telegram", "777"), "777")
    assert "different platforms" in await dm(gov, "telegram", "888").say("888", f"/link {tg_code}")
    assert await gov.stores.members.memberships("console", "mallory") == []
    assert await gov.stores.members.memberships("telegram", "888") == []
    assert "No link is waiting" in await dm(gov, "console", "alice").say("alice", "/link yes")


async def test_a_removed_duplicate_does_not_vote_twice(gov):
    """Issue 12, scenario 2, end to end: a member's second account had its own register entry and
    voted For; the link was refused; the steward removed the duplicate as told; the link then
    re-pointed the account, and the member voted again. One person: For 1, turnout 1."""
    room = Chat(gov, chat_id="general")
    await make_coop(room, 3)  # alice, m1, m2, m3
    assert "Linked" in await link(gov, ("console", "alice"), ("telegram", "4242"))
    group = Chat(gov, "telegram", "-100200")
    code = re.search(r"Room code: (\S+)", await room.say("alice", "/roomcode")).group(1)
    assert "bound to Red Bakery" in await group.say("4242", f"/bind {code}")
    await group.say("777", "/join")  # m1's phone, not yet linked
    assert "admitted" in await group.say("4242", "/admit 777")  # the duplicate: 5 on the register
    await room.say("alice", "/propose Van")
    p = (await gov.stores.proposals.list(1))[0]
    assert p.electorate_size == 5
    assert "Recorded: For" in await group.tap("777", p.id, 0)

    m1, phone = dm(gov, "console", "m1"), dm(gov, "telegram", "777")
    refused = await phone.say("777", f"/link {await code_of(m1, 'm1')}")
    assert "a steward must remove it first" in refused
    assert "removed" in await room.say("alice", "/remove 777")
    assert "link yes" in await phone.say("777", f"/link {await code_of(m1, 'm1')}")
    assert "Linked" in await m1.say("m1", "/link yes")
    await group.tap("777", p.id, 0)  # the member votes again
    await room.tap("m1", p.id, 0)  # and from the other account

    assert [(b.option) for b in await gov.stores.votes.ballots(p.id)] == [0]
    assert await gov.stores.proposals.counts(p.id, 3) == await gov.stores.proposals.recount(p.id, 3) == [1, 0, 0]
    await room.say("alice", "/close 1 enough")
    result = next(t for t in room.announced if t.startswith("Result of #1"))
    assert "For 1" in result and "Turnout: 1 of 5" in result


async def test_a_folded_ballot_keeps_the_last_choice_once(gov, clock):
    """A duplicate's ballots on open proposals fold into the member's when its account is linked:
    the later choice counts, once, and the event log agrees (a recount gives the same)."""
    room = Chat(gov, chat_id="general")
    await make_coop(room, 2)  # alice, m1, m2
    await link(gov, ("console", "alice"), ("telegram", "4242"))
    group = Chat(gov, "telegram", "-100200")
    code = re.search(r"Room code: (\S+)", await room.say("alice", "/roomcode")).group(1)
    await group.say("4242", f"/bind {code}")
    await group.say("777", "/join")
    await group.say("4242", "/admit 777")
    await room.say("alice", "/propose First")
    await room.say("alice", "/propose Second")
    first, second = (await gov.stores.proposals.list(1))[:2]
    assert "Recorded" in await room.tap("m1", first.id, 1)  # m1: Against on #1, then ...
    clock.advance(minutes=1)
    await group.tap("777", first.id, 0)  # ... the duplicate: For on #1, later: For stands
    await group.tap("777", second.id, 2)  # the duplicate: Abstain on #2, earlier ...
    clock.advance(minutes=1)
    await room.tap("m1", second.id, 1)  # ... m1: Against on #2, later: Against stands
    await room.say("alice", "/remove 777")
    assert "Linked" in await link(gov, ("console", "m1"), ("telegram", "777"))
    m1 = await gov.stores.members.by_account(1, "console", "m1")
    for p, expected in ((first, [1, 0, 0]), (second, [0, 1, 0])):
        assert [(b.member_id, b.option) for b in await gov.stores.votes.ballots(p.id)] == [(m1.id, expected.index(1))]
        assert await gov.stores.proposals.counts(p.id, 3) == await gov.stores.proposals.recount(p.id, 3) == expected


async def test_a_new_code_cancels_a_stranger_s_request(gov):
    """The steward is told a stranger asked: a new code cancels that request, so the `link yes`
    that follows confirms only the steward's own account."""
    room = Chat(gov, chat_id="general")
    await make_coop(room, 1)
    steward = dm(gov, "console", "alice")
    await dm(gov, "telegram", "666").say("666", f"/link {await code_of(steward, 'alice')}")
    assert "Telegram account 666" in (await steward.drain())[0]
    await dm(gov, "telegram", "4242").say("4242", f"/link {await code_of(steward, 'alice')}")
    assert "Telegram account 4242" in await steward.say("alice", "/link yes")
    assert await gov.stores.members.memberships("telegram", "666") == []
    assert [m.display_name for m in await gov.stores.members.memberships("telegram", "4242")] == ["alice"]
