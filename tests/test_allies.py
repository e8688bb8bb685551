"""Affiliated organisations and their allies, through the core as a chat, on SQLite and PostgreSQL:
affiliating by vote, adding and removing allies, and allies who speak but never vote."""

import asyncio
import re

from handlers.events import CommandReceived
from handlers.proposals import close_due
from tests.conftest import Chat, make_coop


async def told(chat, who: str, text: str) -> str:
    """What `who` learns from a command: its reply, or, for one announced in every room, that announcement."""
    before = len(chat.announced)
    reply = await chat.say(who, text)
    return reply or "\n".join(chat.announced[before:])


async def decide(chat: Chat, clock, names: list[str], line: str, title: str = "Our circle") -> tuple[str, str]:
    """Propose `line` (affiliate: / disaffiliate:), everyone votes For, the time comes: (card, result)."""
    await chat.say("alice", f"/propose {title}\n{line}\ncloses: 1h")
    card = chat.last
    number = re.match(r"Proposal #(\d+)", card).group(1)
    for name in names:
        assert "Recorded" in await chat.say(name, f"/vote {number} For")
    clock.advance(hours=1)
    assert await close_due(chat.gov.stores, clock.now(), chat.gov.before_close) == 1
    await chat.drain()
    result = next(t for t in chat.announced if t.startswith(f"Result of #{number}"))
    return card, result


async def two_orgs(chat: Chat, clock) -> list[str]:
    names = await make_coop(chat, 4)
    await decide(chat, clock, names, "affiliate: Tenants Union")
    await decide(chat, clock, names, "affiliate: Food Not Bombs")
    return names


async def test_affiliating_by_vote_shows_on_the_card_and_in_the_result(chat, clock):
    """An affiliation is strategic by default; its card says what passing does; the result says it
    happened; `allies` lists the organisation and the golden share."""
    names = await make_coop(chat, 4)
    card, result = await decide(chat, clock, names, "affiliate: Tenants Union")
    assert "strategic" in card and "If passed, Tenants Union becomes an affiliated organisation" in card
    assert "passed" in result and "Tenants Union is now an affiliated organisation" in result
    _, result = await decide(chat, clock, names, "affiliate: Food Not Bombs")
    assert "Food Not Bombs is now" in result
    listing = await chat.say("m1", "/allies")
    assert "• Tenants Union: no allies yet" in listing and "• Food Not Bombs: no allies yet" in listing
    assert "Golden share: none" in listing
    orgs = await chat.gov.stores.allies.affiliated(1)
    assert [(o.name, o.key, o.status) for o in orgs] == [
        ("Tenants Union", "tenants union", "affiliated"), ("Food Not Bombs", "food not bombs", "affiliated")]
    assert orgs[0].proposal_id is not None


async def test_affiliation_lines_are_checked(chat, clock):
    """Ordinary kind, custom options, a second change, an affiliated name again, or disaffiliating
    an organisation that is not affiliated: each refused with what was wrong."""
    names = await make_coop(chat, 4)
    assert "at least a strategic decision" in await chat.say("alice", "/propose X\naffiliate: Union\nkind: ordinary")
    assert "give it no options" in await chat.say("alice", "/propose X\naffiliate: Union\noptions: A | B")
    assert "one change" in await chat.say("alice", "/propose X\naffiliate: Union\ndisaffiliate: Other")
    assert "too long" in await chat.say("alice", "/propose X\naffiliate: " + "u" * 121)
    assert "Tenants Union is not affiliated with Red Bakery. Affiliated now: none." in await chat.say(
        "alice", "/propose X\ndisaffiliate: Tenants Union")
    await decide(chat, clock, names, "affiliate: Tenants Union")
    assert "already affiliated" in await chat.say("alice", "/propose X\naffiliate: TENANTS union")
    assert "Affiliated now: Tenants Union." in await chat.say("alice", "/propose X\ndisaffiliate: Other")
    await chat.say("alice", "/propose Deep ties\naffiliate: Dockers\nkind: constitutional")
    assert "constitutional" in chat.last and "If passed, Dockers becomes" in chat.last


async def test_a_steward_adds_an_organisations_first_ally_and_no_more(chat, clock):
    """A steward makes a new person (by id) or a pending request an organisation's first ally;
    `allies` lists them. The co-op does not choose who speaks for the movement: once an
    organisation has allies, a steward neither adds nor removes any (a puppet ally could consent
    in its name, and removing its allies could silence the golden share's veto)."""
    await two_orgs(chat, clock)
    assert "carol is now an ally of Red Bakery from Tenants Union (added by alice)" in await told(
        chat, "alice", "/ally carol\norg: tenants union")
    await chat.say("dave", "/join")
    assert "dave is now an ally of Red Bakery from Food Not Bombs" in await told(
        chat, "alice", "/ally dave\norg: Food Not Bombs")
    listing = await chat.say("carol", "/allies")
    assert "• Tenants Union: carol" in listing and "• Food Not Bombs: dave" in listing
    assert "an ally of Red Bakery from Tenants Union" in await chat.say("carol", "/whoami")
    assert "Tenants Union has allies already: only they add its allies" in await chat.say(
        "alice", "/ally puppet\norg: Tenants Union")
    assert "Only an ally from Food Not Bombs can end an allyship with Food Not Bombs" in await chat.say(
        "alice", "/unally dave")
    assert "dave is no longer an ally of Red Bakery (from Food Not Bombs; removed by dave)" in await told(
        chat, "dave", "/unally dave")
    assert "Your allyship with Red Bakery has ended" in await chat.say("dave", "/allies")
    assert "dave is not an ally" in await chat.say("alice", "/unally dave")
    # Food Not Bombs has no ally left: a steward may add its first again.
    assert "erin is now an ally of Red Bakery from Food Not Bombs" in await told(
        chat, "alice", "/ally erin\norg: Food Not Bombs")
    register = {m.display_name: m.status for m in await chat.gov.stores.members.register(1)}
    assert "puppet" not in register


async def test_an_ally_adds_and_removes_allies_of_their_own_organisation_only(chat, clock):
    """An ally of an organisation adds its people and removes them (themselves too); an ally of
    another organisation and a plain member are refused."""
    await two_orgs(chat, clock)
    await chat.say("alice", "/ally carol\norg: Tenants Union")
    await chat.say("alice", "/ally erin\norg: Food Not Bombs")
    assert "frank is now an ally of Red Bakery from Tenants Union" in await told(
        chat, "carol", "/ally frank\norg: Tenants Union")
    assert "Only an ally from Tenants Union" in await chat.say("erin", "/ally gina\norg: Tenants Union")
    assert "Only an ally from Tenants Union can end an allyship" in await chat.say("erin", "/unally frank")
    assert "Only an ally from Food Not Bombs" in await chat.say("m1", "/ally gina\norg: Food Not Bombs")
    assert "frank is no longer an ally" in await told(chat, "carol", "/unally frank")
    assert "carol is no longer an ally" in await told(chat, "carol", "/unally carol")
    register = {m.display_name: m.status for m in await chat.gov.stores.members.register(1)}
    assert (register["carol"], register["frank"], register["erin"]) == ("removed", "removed", "ally")
    assert "gina" not in register


async def test_who_may_not_become_an_ally(chat, clock):
    """A member, someone already an ally (of this or another organisation), an organisation that
    is not affiliated, and an `ally` without its org line are refused."""
    await two_orgs(chat, clock)
    await chat.say("alice", "/ally carol\norg: Tenants Union")
    assert "m1 is a member of Red Bakery: allies come from outside the co-op" in await chat.say(
        "alice", "/ally m1\norg: Tenants Union")
    assert "already an ally of Red Bakery from Tenants Union" in await chat.say("alice", "/ally carol\norg: Tenants Union")
    reply = await chat.say("alice", "/ally carol\norg: Food Not Bombs")
    assert "carol is an ally of Red Bakery from Tenants Union" in reply and "/unally carol first" in reply
    reply = await chat.say("alice", "/ally gina\norg: Dockers")
    assert "Dockers is not an affiliated organisation of Red Bakery. Affiliated now: Tenants Union, Food Not Bombs." in reply
    reply = await chat.say("alice", "/ally gina")
    assert "Say which organisation with a line org: <organisation>." in reply and "Usage: /ally <person>" in reply


async def test_disaffiliating_lapses_that_organisations_allies(chat, clock):
    """A passed disaffiliation lapses every ally of that organisation and no other; a lapsed ally
    has no standing left."""
    names = await two_orgs(chat, clock)
    await chat.say("alice", "/ally carol\norg: Tenants Union")
    await chat.say("carol", "/ally dave\norg: Tenants Union")
    await chat.say("alice", "/ally erin\norg: Food Not Bombs")
    card, result = await decide(chat, clock, names, "disaffiliate: tenants union")
    assert "If passed, Tenants Union is disaffiliated, and every ally of it lapses." in card
    assert "Tenants Union is no longer affiliated" in result
    register = {m.display_name: m.status for m in await chat.gov.stores.members.register(1)}
    assert (register["carol"], register["dave"], register["erin"]) == ("removed", "removed", "ally")
    assert "Your allyship with Red Bakery has ended" in await chat.say("carol", "/allies")
    listing = await chat.say("erin", "/allies")
    assert "Tenants Union" not in listing and "• Food Not Bombs: erin" in listing
    # Affiliated again later: the same organisation row, and its old allies are not back.
    await decide(chat, clock, names, "affiliate: Tenants Union")
    assert "• Tenants Union: no allies yet" in await chat.say("erin", "/allies")
    orgs = await chat.gov.stores.allies.affiliated(1)
    assert sorted(o.name for o in orgs) == ["Food Not Bombs", "Tenants Union"]


async def test_allies_never_vote_nor_act_as_members(chat, clock):
    """An ally's typed vote and tap are refused in their own words; `propose`, `close`, `proposals`,
    `join` are refused; a steward cannot admit an ally as they are, and `admit all` leaves allies."""
    names = await two_orgs(chat, clock)
    await chat.say("alice", "/ally carol\norg: Tenants Union")
    await chat.say("alice", "/propose Buy a van")
    p = await chat.gov.stores.proposals.get(1, 3)
    assert "allies do not vote on the co-op's proposals" in await chat.say("carol", "/vote 3 For")
    assert "allies do not vote on the co-op's proposals" in await chat.tap("carol", p.id, 0)
    assert "allies do not vote on the co-op's proposals" in await chat.say("carol", "/unvote 3")
    refused = "You are an ally of Red Bakery from Tenants Union, not a member of Red Bakery"
    assert refused in await chat.say("carol", "/propose Sell the bakery")
    assert refused in await chat.say("carol", "/close 3")
    assert refused in await chat.say("carol", "/proposals")
    assert "allies do not join as members" in await chat.say("carol", "/join")
    assert "unally carol first" in await chat.say("alice", "/admit carol")
    assert "unally carol first" in await chat.say("alice", "/admit carol m1")
    await chat.say("gina", "/join")
    assert "gina is admitted" in await chat.say("alice", "/admit all")
    register = {m.display_name: m.status for m in await chat.gov.stores.members.register(1)}
    assert register["carol"] == "ally"
    counts = await chat.gov.stores.proposals.counts(p.id, len(p.options))
    assert sum(counts) == 0 and p.electorate_size == len(names)


async def test_an_ally_is_known_in_a_direct_chat(gov, clock):
    """Allies talk to the bot in a direct chat too: it finds their co-op."""
    room = Chat(gov)
    await two_orgs(room, clock)
    await room.say("alice", "/ally carol\norg: Food Not Bombs")
    direct = Chat(gov, chat_id="carol-dm", direct=True)
    assert "You are carol, an ally of Red Bakery from Food Not Bombs" in await direct.say("carol", "/whoami")
    assert "• Food Not Bombs: carol" in await direct.say("carol", "/allies")
    assert "allies do not vote" in await direct.say("carol", "/vote 1 For")


async def test_two_ally_commands_for_one_new_person_make_one_entry(gov, clock):
    """Two stewards add the same new platform id at once as an organisation's first ally: one
    register entry, one ally, and the other command is told the organisation has its ally (the
    first-ally guard, checked under the register's lock)."""
    room = Chat(gov)
    await two_orgs(room, clock)
    await room.say("alice", "/admit m1\nrole: steward")
    say = [gov.handle_command(CommandReceived(room.chat, room.user(who), "/ally newcomer\norg: Tenants Union", f"e-{who}"))
           for who in ("alice", "m1")]
    replies = ["\n".join(r.text for r in rs) for rs in await asyncio.gather(*say)]
    # One is done (announced in the room, so no reply of its own); the other is told so.
    assert sum(r == "" for r in replies) == 1, replies
    # Told under the lock that the organisation has its ally, or, if it looked after the first
    # committed, that the newcomer is an ally already.
    assert sum("has allies already" in r or "already an ally" in r for r in replies) == 1, replies
    assert sum("newcomer is now an ally" in t for t in await room.drain()) == 1
    entries = [m for m in await gov.stores.members.register(1) if m.display_name == "newcomer"]
    assert len(entries) == 1 and entries[0].status == "ally"
    accounts = [a for a in await gov.stores.members.accounts(1) if a.user_id == "newcomer"]
    assert len(accounts) == 1


async def test_an_ally_shuffles_a_draw(chat, clock):
    """`shuffle` is for members and allies: an ally's contribution is posted with their name; a
    lapsed ally's is refused."""
    await two_orgs(chat, clock)
    await chat.say("alice", "/ally carol\norg: Tenants Union")
    assert await chat.say("alice", "/draw 1 facilitators\n  at: 30m") == ""
    await chat.say("carol", "/shuffle D1 rent strike")
    assert chat.last == "Shuffle 1 for D1, from carol: rent strike"
    assert "1. carol: rent strike" in await chat.say("m1", "/draw D1")
    await chat.say("carol", "/unally carol")
    assert "Your allyship with Red Bakery has ended" in await chat.say("carol", "/shuffle D1 again")


async def test_an_ally_adds_only_people_new_to_the_register(chat, clock):
    """A request to join, or someone the co-op removed, is the stewards' to decide: an ally cannot
    turn them into allies of their organisation; a steward can."""
    await two_orgs(chat, clock)
    await chat.say("alice", "/ally carol\norg: Tenants Union")
    await chat.say("hopeful", "/join")
    assert "only a steward can make them an ally" in await chat.say("carol", "/ally hopeful\norg: Tenants Union")
    assert "pending" in {m.display_name: m.status for m in await chat.gov.stores.members.register(1)}["hopeful"]
    # A steward may, as the first ally of an organisation (Tenants Union has carol already).
    assert "has allies already" in await chat.say("alice", "/ally hopeful\norg: Tenants Union")
    assert "hopeful is now an ally" in await told(chat, "alice", "/ally hopeful\norg: Food Not Bombs")
