"""The governance core through its one entry point, as a chat: on SQLite and on PostgreSQL."""

import re

import pytest

from tests.conftest import Chat, make_coop


async def open_proposal(chat: Chat, who: str = "alice", title: str = "Buy a van", extra: str = "") -> str:
    await chat.say(who, f"/propose {title}\n{extra}".rstrip())
    card = chat.last
    assert card.startswith("Proposal #")
    return card


async def test_setup_makes_the_founder_steward(chat):
    """The first person to set a co-op up is its first member and steward."""
    reply = await chat.say("alice", "/setup Red Bakery")
    assert "Red Bakery is set up" in reply and "steward" in reply
    assert "steward of Red Bakery" in await chat.say("alice", "/whoami")
    assert "already belongs to Red Bakery" in await chat.say("bob", "/setup Other")


async def test_a_co_op_name_is_taken_once(gov):
    """Two rooms cannot found two co-ops with the same name."""
    await Chat(gov, chat_id="one").say("alice", "/setup Red Bakery")
    reply = await Chat(gov, chat_id="two").say("bob", "/setup red bakery")
    assert "exists already" in reply


async def test_join_and_admit(chat):
    """Someone asks to join; a steward admits them; only then can they act."""
    await chat.say("alice", "/setup Red Bakery")
    assert "asks to join" in await chat.say("bob", "/join")
    assert "waiting for a steward" in await chat.say("bob", "/join")
    assert "waiting for a steward" in await chat.say("bob", "/propose Something")
    assert "Only a steward" in await chat.say("carol", "/admit bob") or "not on its register" in await chat.say(
        "carol", "/admit bob"
    )
    assert "bob is admitted" in await chat.say("alice", "/admit bob")
    assert "already a member" in await chat.say("alice", "/admit bob")
    members = await chat.say("bob", "/members")
    assert "alice (steward)" in members and "• bob" in members


async def test_admit_several_or_all_in_one_go(chat):
    """`admit a b` and `admit all` admit in one line; `role:` is for one member; unknown names admit no one."""
    await chat.say("alice", "/setup Red Bakery")
    for who in ("bob", "carol", "dan", "erin"):
        assert "asks to join" in await chat.say(who, "/join")
    assert "No one called 'zed'" in await chat.say("alice", "/admit bob zed")
    assert "one member at a time" in await chat.say("alice", "/admit bob carol\nrole: steward")
    assert "name no one else" in await chat.say("alice", "/admit bob all")
    reply = await chat.say("alice", "/admit bob, carol")
    assert reply == "Admitted to Red Bakery as members: bob, carol. The register now has 3 members."
    assert "already a member" in await chat.say("alice", "/admit bob carol")
    assert "one member at a time" in await chat.say("alice", "/admit all\nrole: steward")
    reply = await chat.say("alice", "/admit all")
    assert reply == "Admitted to Red Bakery as members: dan, erin. The register now has 5 members."
    assert "No one is waiting" in await chat.say("alice", "/admit all")
    assert "erin is now a steward" in await chat.say("alice", "/admit erin\nrole: steward")


async def test_members_cannot_do_steward_things(chat):
    """A member who is not a steward cannot admit, remove or close."""
    await make_coop(chat, 2)
    await open_proposal(chat)
    for line in ("/admit zed", "/remove m2", "/close 1 no"):
        assert "Only a steward" in await chat.say("m1", line)


async def test_non_member_is_refused_and_told_how_to_join(chat):
    """A non-member's vote records nothing and the reply says how to be admitted."""
    await make_coop(chat, 2)
    await open_proposal(chat)
    reply = await chat.say("zed", "/vote 1 For")
    assert "not on its register" in reply and "/join" in reply
    p = await chat.gov.stores.proposals.get(1, 1)
    assert await chat.gov.stores.votes.ballots(p.id) == []


async def test_the_last_steward_cannot_leave(chat):
    """A co-op always keeps a steward."""
    await make_coop(chat, 1)
    assert "last steward" in await chat.say("alice", "/remove alice")
    assert "now a steward" in await chat.say("alice", "/admit m1\n  role: steward")
    assert "removed from the register" in await chat.say("m1", "/remove alice")


async def test_whole_proposal(chat):
    """Propose, vote, change a vote, close: the result carries everything SPEC.md requires."""
    await make_coop(chat, 4)  # alice + m1..m4: a register of 5
    card = await open_proposal(chat, extra="closes: 48h\nkind: ordinary\nWe need a van for deliveries.")
    assert "#1" in card and "Buy a van" in card and "For" in card and "Against" in card and "Abstain" in card
    assert "Closes" in card and "ordinary" in card and "open ballot" in card
    assert "Recorded: For on #1" in await chat.say("alice", "/vote 1 For")
    assert "Recorded: Against on #1" in await chat.say("m1", "/vote #1 against")
    assert "Changed: For on #1 (was Against)" in await chat.say("m1", "/vote 1 1")
    assert "Recorded: Abstain on #1" in await chat.say("m2", "/vote 1 abstain")
    assert "For 2 · Against 0 · Abstain 1" in await chat.say("m3", "/show 1")
    await chat.say("alice", "/close 1 we have heard enough")
    result = chat.last
    assert result.startswith("Result of #1 Buy a van: passed.")
    assert "For 2 · Against 0 · Abstain 1" in result
    assert "Turnout: 3 of 5 (60%); quorum 50% met." in result
    assert "threshold more than 1/2" in result
    assert "Closed early by alice: we have heard enough." in result
    assert "can no longer change" in await chat.say("m4", "/vote 1 For")


async def test_failed_for_quorum_says_why(chat):
    """Too few voters: failed, and the reason is quorum."""
    await make_coop(chat, 4)
    await open_proposal(chat)
    await chat.say("alice", "/vote 1 For")
    await chat.say("alice", "/close 1")
    assert "failed (quorum not met)" in chat.last and "Turnout: 1 of 5 (20%)" in chat.last


async def test_failed_for_threshold_on_a_tie(chat):
    """For and Against level: an ordinary decision needs more than half, so it fails."""
    await make_coop(chat, 3)
    await open_proposal(chat)
    for who, option in (("alice", "For"), ("m1", "For"), ("m2", "Against"), ("m3", "Against")):
        await chat.say(who, f"/vote 1 {option}")
    await chat.say("alice", "/close 1")
    assert "failed (threshold not met)" in chat.last and "Support: 50% of For + Against" in chat.last


async def test_register_is_frozen_when_the_proposal_opens(chat):
    """Turnout counts against the register at opening; someone admitted later cannot vote on it."""
    await make_coop(chat, 1)
    await open_proposal(chat)
    await chat.say("alice", "/admit late")
    assert "after #1 opened" in await chat.say("late", "/vote 1 For")
    await chat.say("alice", "/vote 1 For")
    await chat.say("alice", "/close 1")
    assert "Turnout: 1 of 2 (50%)" in chat.last


async def test_removed_member_can_no_longer_vote(chat):
    """Taking someone off the register takes their vote away on open proposals."""
    await make_coop(chat, 2)
    await open_proposal(chat)
    await chat.say("alice", "/remove m1")
    assert "not on its register" in await chat.say("m1", "/vote 1 For")


async def test_unvote_while_open(chat):
    """A member may withdraw a vote while voting is open; it then counts for nothing."""
    await make_coop(chat, 2)
    await open_proposal(chat)
    await chat.say("m1", "/vote 1 For")
    assert "withdrawn" in await chat.say("m1", "/unvote 1")
    assert "no vote on #1" in await chat.say("m1", "/unvote 1")
    assert "(0 of 3 voted)" in await chat.say("m1", "/show 1")


async def test_secret_ballot_hides_counts_until_close(chat):
    """Secret ballot: acknowledgements are private, `show` gives turnout only until close."""
    await make_coop(chat, 2)
    await open_proposal(chat, extra="ballot: secret")
    await chat.say("m1", "/vote 1 Against")
    reply = chat.replies[0]
    assert reply.private and "Against" in reply.text and "Against" not in reply.public_fallback
    shown = await chat.say("alice", "/show 1")
    assert "1 of 3 voted" in shown and "Against 1" not in shown
    await chat.say("alice", "/close 1")
    assert "Against 1" in chat.last


async def test_custom_options(chat):
    """Options by name or number; the chosen option is announced."""
    await make_coop(chat, 2)
    await open_proposal(chat, title="Pick a colour", extra="options: Red | Blue | Green")
    assert "1. Red · 2. Blue · 3. Green" in chat.last
    await chat.say("alice", "/vote 1 blue")
    await chat.say("m1", "/vote 1 2")
    assert "has no option 'Purple'" in await chat.say("m2", "/vote 1 Purple")
    await chat.say("alice", "/close 1")
    assert "passed" in chat.last and "Chosen: Blue." in chat.last


async def test_withdraw_by_author_only(chat):
    """Only the author withdraws; the reason is kept and announced; no result is counted."""
    await make_coop(chat, 2)
    await open_proposal(chat, who="m1")
    assert "Only the author of #1 (m1)" in await chat.say("alice", "/withdraw 1")
    await chat.say("m1", "/withdraw 1 found a cheaper way")
    assert "withdrawn by m1: found a cheaper way" in chat.last
    p = await chat.gov.stores.proposals.get(1, 1)
    assert (p.status, p.end_reason, p.result) == ("withdrawn", "found a cheaper way", None)
    assert "is withdrawn" in await chat.say("m2", "/vote 1 For")


async def test_voting_ends_at_closing_time(chat, clock):
    """After its closing time a proposal takes no votes, and the due close announces the result once."""
    from handlers.proposals import close_due

    await make_coop(chat, 1)
    await open_proposal(chat, extra="closes: 1h")
    await chat.say("alice", "/vote 1 For")
    clock.advance(hours=1)
    assert "ended at" in await chat.say("m1", "/vote 1 For")
    assert await close_due(chat.gov.stores, clock.now(), chat.gov.before_close) == 1
    assert await close_due(chat.gov.stores, clock.now(), chat.gov.before_close) == 0
    await chat.drain()
    results = [t for t in chat.announced if t.startswith("Result of #1")]
    assert len(results) == 1 and "passed" in results[0]


async def test_closing_time_in_the_co_ops_timezone(chat, clock):
    """`closes: 2026-12-01 18:00` is read in the co-op's timezone and shown with it."""
    await make_coop(chat, 1)
    await open_proposal(chat, extra="closes: 2026-12-01 18:00")
    assert "Closes Tue 01 Dec 2026 18:00 UTC" in chat.last


async def test_proposals_lists_what_is_open(chat):
    """`proposals`: open ones, time left, and whether you voted."""
    await make_coop(chat, 1)
    assert "No open proposals" in await chat.say("m1", "/proposals")
    await open_proposal(chat, extra="closes: 2h")
    await open_proposal(chat, title="Second", extra="closes: 1d")
    await chat.say("m1", "/vote 1 For")
    listing = await chat.say("m1", "/proposals")
    assert re.search(r"#1 Buy a van — closes in 2h .*; you voted", listing)
    assert re.search(r"#2 Second — closes in 1d .*; you have not voted", listing)


async def test_redelivered_event_counts_once(chat):
    """The same platform event twice: one proposal, one vote, and no second reply."""
    await make_coop(chat, 1)
    await chat.say("alice", "/propose Once", event_id="upd-1")
    await chat.say("alice", "/propose Once", event_id="upd-1")
    assert len(await chat.gov.stores.proposals.list(1)) == 1
    assert "Recorded" in await chat.say("m1", "/vote 1 Against", event_id="upd-2")
    await chat.say("m1", "/vote 1 For", event_id="upd-3")
    assert await chat.say("m1", "/vote 1 Against", event_id="upd-2") == ""
    p = await chat.gov.stores.proposals.get(1, 1)
    assert [b.option for b in await chat.gov.stores.votes.ballots(p.id)] == [0]


async def test_button_data_is_not_trusted(gov):
    """A tap naming another co-op's proposal, or an option that does not exist, is refused."""
    ours, theirs = Chat(gov, chat_id="ours"), Chat(gov, chat_id="theirs")
    await ours.say("alice", "/setup Ours")
    await theirs.say("bob", "/setup Theirs")
    await theirs.say("bob", "/propose Their matter")
    their_proposal = (await gov.stores.proposals.list(2))[0]
    assert "no proposal" in await ours.tap("alice", their_proposal.id, 0)
    await ours.say("alice", "/propose Our matter")
    our_proposal = (await gov.stores.proposals.list(1))[0]
    assert "has no option" in await ours.tap("alice", our_proposal.id, 7)
    assert "not on its register" in await ours.tap("bob", our_proposal.id, 0)
    assert "Recorded: For on #1" in await ours.tap("alice", our_proposal.id, 0)
    assert await gov.stores.votes.ballots(their_proposal.id) == []


async def test_rooms_bound_to_one_co_op_see_the_same_proposals(gov):
    """`roomcode` in one room and `bind` in another: proposals and results reach both."""
    first, second = Chat(gov, chat_id="first"), Chat(gov, "telegram", "-100200")
    await first.say("alice", "/setup Red Bakery")
    code = re.search(r"Room code: (\S+)", await first.say("alice", "/roomcode")).group(1)
    refused = await second.say("4242", f"/bind {code}")
    assert "Only a steward of Red Bakery can bind" in refused  # a code seen over a shoulder is not enough
    alice_dm = Chat(gov, chat_id="dm-a", direct=True)
    link = re.search(r"Link code: (\S+)", await alice_dm.say("alice", "/link")).group(1)
    assert "link yes" in await Chat(gov, "telegram", "4242", direct=True).say("4242", f"/link {link}")
    assert "Only a steward of Red Bakery can bind" in await second.say("4242", f"/bind {code}")  # asked, not linked
    assert "Linked" in await alice_dm.say("alice", "/link yes")
    assert "bound to Red Bakery" in await second.say("4242", f"/bind {code}")
    assert "unknown or has expired" in await Chat(gov, chat_id="third").say("x", f"/bind {code}")
    await first.say("alice", "/propose Shared")
    await second.drain()
    assert first.last.startswith("Proposal #1") and second.last.startswith("Proposal #1")


async def test_linked_accounts_have_one_vote(gov):
    """`link` in a direct chat, `link <code>` on the other platform, `link yes` back on the first:
    one member, one vote."""
    room = Chat(gov, chat_id="general")
    await make_coop(room, 2)
    dm_console = Chat(gov, chat_id="dm-m1", direct=True)
    code = re.search(r"Link code: (\S+)", await dm_console.say("m1", "/link")).group(1)
    dm_telegram = Chat(gov, "telegram", "777", direct=True)
    assert "link yes" in await dm_telegram.say("777", f"/link {code}")
    assert "Linked" in await dm_console.say("m1", "/link yes")
    await room.say("alice", "/propose Van")
    p = (await gov.stores.proposals.list(1))[0]
    await room.tap("m1", p.id, 1)
    assert "Changed: For on #1 (was Against)" in await dm_telegram.tap("777", p.id, 0)
    assert [(b.option) for b in await gov.stores.votes.ballots(p.id)] == [0]


async def test_linking_takes_over_a_pending_join_request(gov):
    """Someone who asked to join from their second account can still link it to their member."""
    room = Chat(gov, chat_id="general")
    await make_coop(room, 1)
    await Chat(gov, "telegram", "-5").say("x", "/whoami")  # an unbound room changes nothing
    dm_m1 = Chat(gov, chat_id="dm-m1", direct=True)
    code = re.search(r"Link code: (\S+)", await dm_m1.say("m1", "/link")).group(1)
    group = Chat(gov, "telegram", "-100200")
    room_code = re.search(r"Room code: (\S+)", await room.say("alice", "/roomcode")).group(1)
    # The steward links a Telegram account, which binds the group.
    steward_code = re.search(r"Link code: (\S+)", await Chat(gov, chat_id="dm-a", direct=True).say("alice", "/link")).group(1)
    await Chat(gov, "telegram", "4242", direct=True).say("4242", f"/link {steward_code}")
    await Chat(gov, chat_id="dm-a", direct=True).say("alice", "/link yes")
    assert "bound to" in await group.say("4242", f"/bind {room_code}")
    await group.say("777", "/join")  # the other account asked to join first
    assert "link yes" in await Chat(gov, "telegram", "777", direct=True).say("777", f"/link {code}")
    assert "Linked" in await dm_m1.say("m1", "/link yes")
    assert "You are m1, a member" in await group.say("777", "/whoami")
