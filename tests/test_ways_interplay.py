"""Issue 19's ways of deciding together (SPEC third set): proxies with consent, ranked and approval
ballots, hidden results, reasons and reminders; the recounts (start check, `coopbot verify`) of each
combination, through the core as a chat on SQLite and PostgreSQL."""

from __future__ import annotations

import json

from bot.export import collect
from bot.verify import problems
from handlers import draws
from schedules.due import run_due
from tests.test_proxies import allow_proxies, ballot_of


async def _checked(chat) -> None:
    stores = chat.gov.stores
    assert await stores.minutes.check(stores.proposals.recount, draws.replay_problem) == []
    data = json.loads(json.dumps(await collect(stores)))
    assert problems(data) == []


async def test_a_consent_proxy_ballot_is_in_the_quorum_and_its_recount(chat):
    await allow_proxies(chat)
    await chat.say("alice", "/propose Four-day week\n  method: consent\nMonday to Thursday.")
    await chat.say("m3", "/proxy m2\n  for: #2")
    await chat.say("m2", "/vote 2 consent")
    await chat.say("alice", "/close 2")
    assert "Voted by proxy: m3 (with m2)." in chat.last, chat.last
    await _checked(chat)


async def test_ranked_and_approval_proxy_ballots_recount_open_and_secret(chat, clock):
    await allow_proxies(chat, members=5, limit=2)
    await chat.say("m3", "/proxy m2\n  until: 30d")
    n = 1
    for method in ("vote", "ranked", "approval"):
        for ballot in ("open", "secret"):
            n += 1
            options = "" if method == "vote" else "\n  options: Ana | Ben | Cy"
            await chat.say("alice", f"/propose Pick {n}\n  method: {method}\n  ballot: {ballot}{options}")
            await chat.say("m2", f"/vote {n} " + ("Against" if method == "vote" else "Ben Cy"))
            await chat.say("m1", f"/vote {n} " + ("For" if method == "vote" else "Ana"))
    clock.advance(days=8)
    await run_due(chat.gov.stores, clock.now(), chat.gov.before_close)
    for number in range(2, n + 1):
        p = await chat.gov.stores.proposals.get(1, number)
        assert p.status == "closed", number
        assert sum(p.result["counts"]) == 3 or p.result.get("voters") == 3, (number, p.result)
    await _checked(chat)


async def test_hidden_approval_with_a_proxy_leaks_no_choice_before_the_close(chat, clock):
    await allow_proxies(chat)
    await chat.say("alice", "/propose Pick\n  method: approval\n  results: hidden\n  options: Ana | Ben | Cy")
    await chat.say("m3", "/proxy m2\n  for: #2")
    ack = await chat.say("m2", "/vote 2 Ben Cy\n  reason: both can cook")
    reply = chat.replies[0]
    assert reply.private and "Ben" not in (reply.public_fallback or ""), reply
    assert "m3" in ack  # the holder hears whose vote theirs carries
    shown = await chat.say("m1", "/show 2")
    assert "results hidden until the close" in shown and "both can cook" not in shown, shown
    assert "m2:" not in shown and "Ben 1" not in shown and "Ben: 1" not in shown, shown
    data = json.loads(json.dumps(await collect(chat.gov.stores)))
    entry = data["coops"][0]["proposals"][1]
    assert entry["tally"] is None and "votes" not in entry
    clock.advance(days=8)
    await run_due(chat.gov.stores, clock.now(), chat.gov.before_close)
    data = json.loads(json.dumps(await collect(chat.gov.stores)))
    entry = data["coops"][0]["proposals"][1]
    votes = {v["member"]: v for v in entry["votes"]}
    assert votes["m3"]["by_proxy"] == "m2" and "reason" not in votes["m3"]  # the holder's reason is theirs
    assert votes["m2"]["reason"] == "both can cook"
    await _checked(chat)


async def test_a_secret_approval_by_proxy_keeps_nothing_linking_after_the_seal(chat, clock):
    from sqlalchemy import select

    from storage.models import Ballot, GovernanceEvent

    await allow_proxies(chat)
    await chat.say("alice", "/propose Pick\n  method: approval\n  ballot: secret\n  options: Ana | Ben | Cy")
    await chat.say("m3", "/proxy m2\n  for: #2")
    await chat.say("m2", "/vote 2 Ben Cy")
    await chat.say("m1", "/vote 2 Ana")
    clock.advance(days=8)
    await run_due(chat.gov.stores, clock.now(), chat.gov.before_close)
    p = await chat.gov.stores.proposals.get(1, 2)
    assert p.status == "closed" and "by_proxy" not in p.result
    async with chat.gov.stores.proposals.db.read() as s:
        ballots = (await s.execute(select(Ballot).where(Ballot.proposal_id == p.id))).scalars().all()
        events = (await s.execute(select(GovernanceEvent).where(GovernanceEvent.proposal_id == p.id))).scalars().all()
    assert len(ballots) == 3 and all(b.proxy_by is None and b.choices is None and b.option is None for b in ballots)
    assert not [e for e in events if e.kind == "vote_by_proxy" or (e.kind.startswith("vote_") and e.data)]
    await _checked(chat)


async def test_votes_racing_the_close_are_counted_or_refused_never_half(chat):
    """A ranked and an approval proposal with a proxy: members' taps and typed votes race a
    steward's close. Whatever the order, the result counts exactly the ballots stored, a ballot
    by proxy copies the holder's choices as they stood, and the recounts agree."""
    import asyncio

    from handlers.events import CommandReceived, VoteCast
    from storage.models import Ballot

    await allow_proxies(chat, members=5, limit=2)
    gov = chat.gov
    for number, method in ((2, "approval"), (3, "vote"), (4, "consent")):
        extra = "\n  options: Ana | Ben | Cy" if method == "approval" else ""
        await chat.say("alice", f"/propose Race {number}\n  method: {method}{extra}")
        if number == 2:
            await chat.say("m3", "/proxy m2\n  until: 30d")
        await chat.say("m2", f"/vote {number} " + {"approval": "Ben", "vote": "For", "consent": "consent"}[method])
        p = await gov.stores.proposals.get(1, number)
        option = {"approval": 0, "vote": 1, "consent": 0}[method]
        votes = [gov.handle_vote(VoteCast(chat.chat, chat.user(who), p.id, None if method == "approval" else option,
                                          f"tap{number}{who}", choices=(2,) if method == "approval" else None,
                                          how="toggle" if method == "approval" else "set"))
                 for who in ("m1", "m2", "m3", "m4", "m5")]  # m3, the giver, too: their own vote or the proxy's
        close = gov.handle_command(CommandReceived(chat.chat, chat.user("alice"), f"/close {number}", f"close{number}"))
        answers = await asyncio.gather(close, *votes)
        await chat.drain()
        p = await gov.stores.proposals.get(1, number)
        assert p.status == "closed", answers
        async with gov.stores.db.read() as s:
            from sqlalchemy import select
            ballots = (await s.execute(select(Ballot).where(Ballot.proposal_id == p.id))).scalars().all()
        accepted = sum(1 for replies in answers[1:] if replies and not replies[0].refusal)
        by_proxy = [b for b in ballots if b.proxy_by is not None]
        giver_voted = bool(answers[3]) and not answers[3][0].refusal
        assert len(by_proxy) == (0 if giver_voted else 1), answers[3]
        for b in by_proxy:
            holder = next(h for h in ballots if h.member_id == b.proxy_by)
            assert (b.option, b.choices) == (holder.option, holder.choices)
        if method == "approval":
            counts = [0, 0, 0]
            for b in ballots:
                for c in b.choices:
                    counts[c] += 1
            assert p.result["counts"] == counts
        else:
            assert sum(p.result["counts"]) == len(ballots)
        assert len(ballots) <= 1 + accepted + 1
    await _checked(chat)


async def test_a_holder_who_objects_hears_the_objection_stands_within_a_taps_answer(chat):
    """A Telegram tap's answer shows 200 characters: a holder of two proxies who consents while
    objecting hears first that the objection still stands (what decides the proposal), then whose
    votes theirs carries."""
    await allow_proxies(chat, members=5, limit=2)
    await chat.say("alice", "/propose Four-day week\n  method: consent\nMonday to Thursday.")
    await chat.say("m3", "/proxy m2\n  for: #2")
    await chat.say("m4", "/proxy m2\n  for: #2")
    await chat.say("m2", "/object 2 not before the summer")
    p = await chat.gov.stores.proposals.get(1, 2)
    said = await chat.tap("m2", p.id, 0)
    assert "still stands" in said[:200] and "also counts for m3 and m4" in said, said
    assert said.index("still stands") < said.index("also counts for")


async def test_a_giver_who_objects_is_not_told_their_holder_votes_for_them_again(chat):
    """An objection is the giver's own say on a consent proposal: while it stands their proxy is not
    counted (`handlers.proxies.counted`), so withdrawing their consent does not hand their vote back."""
    await allow_proxies(chat)
    await chat.say("alice", "/propose Four-day week\n  method: consent\nMonday to Thursday.")
    await chat.say("m3", "/proxy m2\n  for: #2")
    await chat.say("m3", "/object 2 not before the summer")
    await chat.say("m3", "/vote 2 consent")
    said = await chat.say("m3", "/unvote 2")
    assert "counts for you" not in said, said
    await chat.say("m3", "/unobject 2")
    await chat.say("m3", "/vote 2 consent")
    said = await chat.say("m3", "/unvote 2")
    assert "their vote counts for you on #2 again" in said, said  # with no objection, it does


async def test_an_edited_typed_ranking_is_the_ranking_a_proxy_copies_and_deleting_it_withdraws(chat, clock):
    """An edit of `vote 2 B A C` (a Matrix edit, on the console too) replaces the ranking, its
    reason goes with the message it was given in; a proxy copies the ranking as edited; deleting
    the message withdraws it."""
    from handlers.events import MessageRetracted

    await allow_proxies(chat)
    await chat.say("alice", "/propose Pick\n  method: ranked\n  options: Ana | Ben | Cy")
    await chat.say("m3", "/proxy m2\n  for: #2")
    await chat.say("m2", "/vote 2 Ben Ana Cy\n  reason: Ben cooks", event_id="r1")
    said = await chat.say("m2", "/vote 2 Cy Ana", event_id="r1e", corrects="r1")
    assert "Cy, 2. Ana" in said, said
    b = await ballot_of(chat, 2, "m2")
    assert b.choices == [2, 0] and b.reason is None  # the edit gave no reason: the old one went with Ben
    await chat.say("m1", "/vote 2 Ana", event_id="m1v")
    await chat.gov.handle_retraction(MessageRetracted(chat.chat, chat.user("m1"), "m1v", "m1del"))
    assert await ballot_of(chat, 2, "m1") is None
    clock.advance(days=8)
    await run_due(chat.gov.stores, clock.now(), chat.gov.before_close)
    b3 = await ballot_of(chat, 2, "m3")
    assert b3.choices == [2, 0] and b3.proxy_by is not None
    p = await chat.gov.stores.proposals.get(1, 2)
    assert p.result["elected"] == [2], p.result
    await _checked(chat)


async def test_a_temptation_is_a_plain_vote_and_a_method_line_is_refused_as_such(chat, clock):
    """The drill rehearses refusing a compromise by the plainest way of deciding: a `method:` (or
    `results:`) line is refused in words that say so, not as an effect it would have had."""
    import re

    from tests.conftest import make_coop
    from tests.test_audits import tick
    from tests.test_rituals import until
    from tests.test_schedules import set_charter

    await make_coop(chat, 4)
    await set_charter(chat.gov.stores, 1, drill_every_months=1, drill_team=2, drill_days=3)
    await until(chat, clock, 1, 1)
    await tick(chat)
    clock.advance(minutes=11)
    opened = next(t for t in await tick(chat) if t.startswith("The red team of adversary drill 1"))
    team = re.search(r"adversary drill 1 of Red Bakery: (.+?) \(D", opened).group(1).split(" and ")
    for line in ("method: consent", "results: hidden", "ballot: secret"):
        said = await chat.say(team[0], f"/tempt Quietly\n{line}")
        key = line.split(":")[0]
        assert f"'{key}:' lines are refused" in said and "For/Against vote" in said, said
    assert "changes nothing" in await chat.say(team[0], "/tempt Quietly\namend: quorum.ordinary = 10%")
