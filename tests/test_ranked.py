"""Ranked choice (instant runoff, STV) and approval voting through the core as a chat, on SQLite
and PostgreSQL: typed rankings and sets, taps that append and toggle, the published tie-break
draw, the rounds, secrecy, the export (Telegram and Matrix end to end: tests/test_ranked_platforms.py)."""

from __future__ import annotations

import asyncio
import json

from sqlalchemy import select

from bot.export import collect
from bot.verify import problems
from handlers import draws
from handlers.events import VoteCast
from handlers.ranking import count_ranked
from handlers.tally import DecisionRule
from schedules.due import run_due
from storage.models import Ballot, GovernanceEvent
from tests.conftest import make_coop

STEWARDS = "/propose Stewards-to-be\n  method: ranked\n  seats: 2\n  options: Ana | Ben | Cy | Dee"


async def choose(chat, who: str, proposal_id: int, option: int, how: str) -> str:
    """A tap on a ranked (append) or approval (toggle) card, as the adapters send it."""
    chat.replies = await chat.gov.handle_vote(VoteCast(chat.chat, chat.user(who), proposal_id, None,
                                                       choices=(option,), how=how))
    await chat.drain()
    return "\n".join(r.text for r in chat.replies)


async def test_stv_elects_two_of_four_with_a_published_tie_break_draw(chat, clock, monkeypatch):
    """The acceptance scenario: two stewards-to-be from four candidates by STV, a tie decided by the
    draw announced with the proposal (and shuffled by a member), the rounds as counted by hand."""
    monkeypatch.setattr(draws, "new_secret", lambda: bytes(range(32)))  # a known secret: a known draw
    await make_coop(chat, 9)  # alice and m1..m9: ten members
    await chat.say("alice", STEWARDS)
    card, announced = chat.announced[-2], chat.last
    assert "Ranked choice: 2 options elected by single transferable vote (Droop quota)" in card
    assert "/vote 1 B A C" in card
    assert "Draw D1: 4 seats for tie-break order of proposal #1" in announced
    assert "Commitment: sha256(secret) = " + draws.commitment(bytes(range(32))) in announced
    await chat.say("m1", "/shuffle D1 blue kettle")
    # Four only-Ana ballots, two only-Dee, two Ben then Cy, two Cy then Ben.
    ballots = {"alice": "Ana", "m1": "Ana", "m2": "1", "m3": "Ana", "m4": "Dee", "m5": "4",
               "m6": "Ben Cy", "m7": "2 3", "m8": "Cy Ben", "m9": "Cy | Ben"}
    for who, ranking in ballots.items():
        assert "Your ranking on #1: 1. " in await chat.say(who, f"/vote 1 {ranking}")
    assert "So far, first preferences: Ana 4 · Ben 2 · Cy 2 · Dee 2 (10 of 10 voted" in await chat.say("m1", "/show 1")
    clock.advance(minutes=10)
    await run_due(chat.gov.stores, clock.now(), chat.gov.before_close)
    await chat.drain()
    drawn = chat.last
    # The draw, replayed here from what was posted: the secret and the one shuffle.
    key = draws.key(bytes(range(32)).hex(), ["blue kettle"])
    order = [["Ana", "Ben", "Cy", "Dee"][i] for i in draws.picks(key, [0, 1, 2, 3], 4).seated]
    assert order == ["Ana", "Ben", "Dee", "Cy"]
    assert "Result of draw D1 (tie-break order of proposal #1): Ana, Ben, Dee, Cy." in drawn
    clock.advance(days=3, minutes=-10)  # its closing time
    await run_due(chat.gov.stores, clock.now(), chat.gov.before_close)
    await chat.drain()
    result = chat.last
    # By hand. Ten ballots, two seats: the Droop quota is 10 / 3 = 3.33.
    # Round 1: Ana 4 reaches the quota and is elected; her surplus 0.67 goes to no one (her four
    #   ballots name no one else): exhausted.
    # Round 2: Ben 2, Cy 2, Dee 2, all short of the quota and tied for last: the draw put them in
    #   the order Ben, Dee, Cy, so Cy (drawn last) is excluded.
    # Round 3: Cy's two ballots (Cy, then Ben) go to Ben: Ben 4 reaches the quota and is elected;
    #   both seats are filled, and Dee is out.
    assert "Result of #1 Stewards-to-be: elected Ana and Ben." in result
    assert "Counted by single transferable vote for 2 seats; ties went by draw D1." in result
    assert "Round 1: Ana 4 elected · Ben 2 · Cy 2 · Dee 2\n" in result
    assert "Round 2: Ana 3.33 · Ben 2 · Cy 2 out · Dee 2; exhausted 0.67\n" in result
    assert "Round 3: Ana 3.33 · Ben 4 elected · Dee 2 out; exhausted 0.67\n" in result
    assert "Turnout: 10 of 10 (100%); quorum" in result
    p = await chat.gov.stores.proposals.get(1, 1)
    assert p.result["elected"] == [0, 1] and p.result["order"] == [0, 1, 3, 2] and p.result["draw"] == 1
    assert [(r["votes"], r["status"], r["exhausted"]) for r in p.result["rounds"]] == [
        ([4, 2, 2, 2], ["elected", "hopeful", "hopeful", "hopeful"], 0),
        (["3.3333", 2, 2, 2], ["elected", "hopeful", "excluded", "hopeful"], "0.6667"),
        (["3.3333", 4, 0, 2], ["elected", "elected", "excluded", "excluded"], "0.6667"),
    ]
    data = json.loads(json.dumps(await collect(chat.gov.stores)))
    entry = data["coops"][0]["proposals"][0]
    assert entry["result"]["elected"] == ["Ana", "Ben"] and entry["result"]["tie_order"] == order
    assert problems(data) == []
    # The same ballots with Ben drawn after Cy elect Cy instead: the draw decided it.
    rankings = [[0]] * 4 + [[3]] * 2 + [[1, 2]] * 2 + [[2, 1]] * 2
    rule = DecisionRule.from_json(p.rule)
    assert count_ranked(p.options, rankings, 2, [0, 2, 1, 3], 10, rule)["elected"] == [0, 2]


async def test_instant_runoff_finds_a_majority_after_transfers(chat, clock):
    await make_coop(chat, 4)
    await chat.say("alice", "/propose Our new name\n  method: ranked\n  options: Acorn | Birch | Cedar")
    assert "instant runoff" in chat.announced[-2]
    for who, ranking in {"alice": "Acorn", "m1": "Acorn Birch", "m2": "Birch", "m3": "Birch", "m4": "Cedar Birch"}.items():
        await chat.say(who, f"/vote 1 {ranking}")
    clock.advance(minutes=11)
    await run_due(chat.gov.stores, clock.now(), chat.gov.before_close)
    await chat.say("alice", "/close 1")
    # Round 1: Acorn 2, Birch 2, Cedar 1: no majority (3 of 5); Cedar is last and excluded.
    # Round 2: Cedar's ballot goes to Birch: Birch 3 is a majority.
    assert "Result of #1 Our new name: elected Birch." in chat.last
    assert "Counted by instant runoff; ties went by draw D1." in chat.last
    assert "Round 1: Acorn 2 · Birch 2 · Cedar 1 out\nRound 2: Acorn 2 out · Birch 3 elected\n" in chat.last


async def test_approval_chooses_the_most_approved_if_it_meets_the_threshold(chat):
    await make_coop(chat, 3)
    await chat.say("alice", "/propose Lunch place\n  method: approval\n  options: Thai | Pizza | Falafel")
    assert "Approval voting: approve as many options as you like" in chat.last
    assert "Choose every option you approve: /vote 1 A C" in chat.last
    assert "You approve on #1: Thai and Pizza." in await chat.say("alice", "/vote 1 Thai Pizza")
    await chat.say("m1", "/vote 1 2")
    await chat.say("m2", "/vote 1 3 2")
    assert "So far, approvals: Thai 1 · Pizza 3 · Falafel 1 (3 of 4 voted)." in await chat.say("m3", "/show 1")
    await chat.say("alice", "/close 1")
    assert "Result of #1 Lunch place: passed.\nChosen: Pizza.\nApprovals: Thai 1 · Pizza 3 · Falafel 1 (of 3 voters)." in chat.last
    assert "Support: 100% of the voters approve Pizza" in chat.last
    data = json.loads(json.dumps(await collect(chat.gov.stores)))
    assert data["coops"][0]["proposals"][0]["result"]["chosen"] == "Pizza"
    assert problems(data) == []
    # Below the threshold: the most approved by 2 of 4 voters, where more than half must approve.
    await chat.say("alice", "/propose Paint\n  method: approval\n  options: Red | Blue | Green | Grey")
    for who, chosen in {"alice": "Red", "m1": "Red", "m2": "Blue", "m3": "Green"}.items():
        await chat.say(who, f"/vote 2 {chosen}")
    await chat.say("alice", "/close 2")
    assert "Result of #2 Paint: failed (threshold not met)." in chat.last
    assert "Support: 50% of the voters approve Red; threshold more than 1/2." in chat.last
    # A tie for most approved is reported as one: nothing is chosen.
    await chat.say("alice", "/propose Day\n  method: approval\n  options: Mon | Tue")
    for who, chosen in {"alice": "Mon", "m1": "Tue", "m2": "Mon Tue"}.items():
        await chat.say(who, f"/vote 3 {chosen}")
    await chat.say("alice", "/close 3")
    assert "failed (tie between the leading options)" in chat.last and "a tie for most approved between Mon and Tue" in chat.last


async def test_typed_rankings_by_names_numbers_and_bars(chat):
    await make_coop(chat, 2)
    await chat.say("alice", "/propose Chair\n  method: ranked\n  options: Ana Lopez | Ben | Cy")
    assert "Your ranking on #1: 1. Ben, 2. Ana Lopez." in await chat.say("m1", "/vote 1 Ben | ana lopez")
    assert "Your ranking on #1: 1. Cy, 2. Ana Lopez, 3. Ben." in await chat.say("m1", "/vote 1 3 1 2")
    assert "Your ranking on #1: 1. Ana Lopez." in await chat.say("m1", "/vote 1 Ana Lopez")
    assert "Your ranking on #1: 1. Cy." in await chat.say("m2", "/vote 1 cy\n  reason: Cy listens")
    shown = await chat.say("m1", "/show 1")
    assert "• m2 (Cy): Cy listens" in shown
    assert "Rankings so far:\n• m1: Ana Lopez\n• m2: Cy" in shown
    await chat.say("m1", "/vote 1 Ben Cy")
    assert "• m1: Ben > Cy" in await chat.say("m2", "/show 1")
    entry = json.loads(json.dumps(await collect(chat.gov.stores)))["coops"][0]["proposals"][0]
    assert [(v["member"], v["option"], v["ranking"]) for v in entry["votes"]] == [
        ("m1", "Ben", ["Ben", "Cy"]), ("m2", "Cy", ["Cy"])]
    assert "Your vote on #1 is withdrawn." in await chat.say("m1", "/unvote 1")
    # An edit of the proposal keeps its method: its tie-break draw was announced with it.
    await chat.say("alice", "/propose Desk\n  method: ranked\n  options: A | B", event_id="e1")
    edited = await chat.say("alice", "/propose Desk\n  options: A | B", event_id="e2", corrects="e1")
    assert "#2 was proposed with method: ranked; a revision keeps its method" in edited


async def test_refusals(chat):
    await make_coop(chat, 2)
    await chat.say("alice", "/propose Chair\n  method: ranked\n  options: Ana | Ben | Cy")
    await chat.say("alice", "/propose Van")
    assert "You named an option twice for #1" in await chat.say("m1", "/vote 1 Ana Ben Ana")
    assert "#1 has no option 'Zed'" in await chat.say("m1", "/vote 1 Ana Zed")
    assert "#2 is decided by one choice, not a ranking: /vote 2 <option>." in await chat.say("m1", "/vote 2 For Against")
    p1, p2 = (await chat.gov.stores.proposals.get(1, 1)), (await chat.gov.stores.proposals.get(1, 2))
    # Forged or stale button data is checked as a typed vote is.
    assert "has no option '4'" in await choose(chat, "m1", p1.id, 3, "append")
    assert "decided by one choice" in await choose(chat, "m1", p2.id, 0, "append")
    assert "#1 is decided by ranked choice: rank the options" in await chat.tap("m1", p1.id, 0)
    # An approval's toggle forged onto a ranked card (it would re-sort the ranking), and the reverse.
    assert "#1 is decided by ranked choice" in await choose(chat, "m1", p1.id, 0, "toggle")
    await chat.say("alice", "/propose Lunch\n  method: approval\n  options: Thai | Pizza")
    p3 = await chat.gov.stores.proposals.get(1, 3)
    assert "#3 is decided by approval" in await choose(chat, "m1", p3.id, 0, "append")
    assert await chat.gov.stores.votes.ballots(p3.id) == []
    assert await chat.gov.stores.votes.ballots(p1.id) == [] and await chat.gov.stores.votes.ballots(p2.id) == []


async def test_taps_append_and_toggle_and_two_at_once_both_land(chat, gov):
    await make_coop(chat, 2)
    await chat.say("alice", "/propose Chair\n  method: ranked\n  options: Ana | Ben | Cy")
    await chat.say("alice", "/propose Lunch\n  method: approval\n  options: Thai | Pizza | Falafel")
    ranked, approval = (await gov.stores.proposals.get(1, 1)), (await gov.stores.proposals.get(1, 2))
    assert "Your ranking on #1: 1. Ben." in await choose(chat, "m1", ranked.id, 1, "append")
    assert "Your ranking on #1: 1. Ben, 2. Ana." in await choose(chat, "m1", ranked.id, 0, "append")
    assert "Your ranking on #1: 1. Ben, 2. Ana." in await choose(chat, "m1", ranked.id, 1, "append")
    assert "Your vote on #1 is withdrawn." in await chat.tap("m1", ranked.id, None)  # start over
    assert "You approve on #2: Pizza." in await choose(chat, "m1", approval.id, 1, "toggle")
    assert "You approve on #2: Thai and Pizza." in await choose(chat, "m1", approval.id, 0, "toggle")
    assert "You approve on #2: Thai." in await choose(chat, "m1", approval.id, 1, "toggle")
    assert "Your vote on #2 is withdrawn." in await choose(chat, "m1", approval.id, 0, "toggle")

    # Fast taps arrive together (one group commit) or race: every one lands, in order.
    def tap(who, pid, option, how):
        return gov.handle_vote(VoteCast(chat.chat, chat.user(who), pid, None, f"t-{who}-{pid}-{option}",
                                        choices=(option,), how=how))
    await asyncio.gather(*(tap("m2", ranked.id, i, "append") for i in (2, 0, 1)),
                         *(tap("m2", approval.id, i, "toggle") for i in (2, 0)))
    assert (await gov.stores.votes.ballot(ranked.id, (await member(gov, "m2")))).choices == [2, 0, 1]
    assert (await gov.stores.votes.ballot(approval.id, (await member(gov, "m2")))).choices == [0, 2]
    for i in (1, 0):  # one at a time, each in its own transaction
        await gov.stores.votes._single(pending(gov, approval.id, await member(gov, "alice"), i))
    assert (await gov.stores.votes.ballot(approval.id, await member(gov, "alice"))).choices == [0, 1]
    # The log holds each ranking: a recount of the first preferences agrees with the ballots.
    assert await gov.stores.proposals.recount(ranked.id, 3) == [0, 0, 1]
    assert await gov.stores.proposals.recount(approval.id, 3) == [2, 1, 1]


async def member(gov, name: str) -> int:
    return (await gov.stores.members.by_account(1, "console", name)).id


def pending(gov, proposal_id: int, member_id: int, option: int):
    from handlers.votes import refusal
    from storage.votes import VoteOp, _Pending
    op = VoteOp(proposal_id, None, gov.clock.now(), member_id=member_id, choices=(option,), how="toggle")
    return _Pending(op, refusal)


async def test_a_secret_ranked_ballot_keeps_no_ranking_after_its_close(chat, clock, gov):
    await make_coop(chat, 2)
    await chat.say("alice", "/propose Chair\n  method: ranked\n  ballot: secret\n  options: Ana | Ben | Cy")
    assert "secret ballot: counts at close" in chat.announced[-2]
    await chat.say("alice", "/vote 1 Ben Ana")
    await chat.say("m1", "/vote 1 Ana")
    await chat.say("m2", "/vote 1 Ben Cy")
    clock.advance(days=3)
    await run_due(gov.stores, clock.now(), gov.before_close)
    await chat.drain()
    assert "Result of #1 Chair: elected Ben." in chat.last
    p = await gov.stores.proposals.get(1, 1)
    assert [(b.option, b.choices) for b in await gov.stores.votes.ballots(p.id)] == [(None, None)] * 3
    async with gov.stores.proposals.db.read() as s:
        events = list((await s.execute(select(GovernanceEvent.kind, GovernanceEvent.data)
                                       .where(GovernanceEvent.proposal_id == p.id))).all())
        assert (await s.execute(select(Ballot.choices).where(Ballot.proposal_id == p.id))).scalars().all() == [None] * 3
    assert all("choices" not in data and "option" not in data for kind, data in events if kind.startswith("vote_"))
    sealed = next(data for kind, data in events if kind == "ballot_sealed")
    # As a vote's: the tally (first preferences) and the turnout; no ranking, in any order.
    assert sealed == {"tally": [1, 2, 0], "voters": 3}
    assert await gov.stores.proposals.recount(p.id, 3) == [1, 2, 0]
    assert problems(json.loads(json.dumps(await collect(gov.stores)))) == []


async def test_hidden_results_and_a_steward_s_early_close_waits_for_the_draw(chat, clock, gov):
    await make_coop(chat, 2)
    await chat.say("alice", "/propose Chair\n  method: ranked\n  results: hidden\n  options: Ana | Ben")
    await chat.say("m1", "/vote 1 Ben Ana")
    await chat.say("m2", "/vote 1 Ben")
    assert "Ben 2" not in await chat.say("m2", "/show 1")
    reply = await chat.say("alice", "/close 1")
    assert "The count waits for its tie-break draw D1 at" in reply
    clock.advance(minutes=10)
    await run_due(gov.stores, clock.now(), gov.before_close)
    await chat.drain()
    assert "Result of draw D1" in chat.announced[-2] and "Result of #1 Chair: elected Ben." in chat.last


async def test_a_ballot_without_choices_stores_sql_null(chat, gov):
    """Ordinary votes, in a batch or alone, and a sealed ballot leave `choices` NULL, not JSON null."""
    from sqlalchemy import func
    await make_coop(chat, 2)
    await chat.say("alice", "/propose Van")
    p = await gov.stores.proposals.get(1, 1)
    await asyncio.gather(*(gov.handle_vote(VoteCast(chat.chat, chat.user(who), p.id, 0, f"n-{who}"))
                           for who in ("m1", "m2")))
    await chat.tap("m1", p.id, 1)  # a change: the update path
    await chat.say("alice", "/vote 1 For\n  reason: yes")  # the single path
    async with gov.stores.proposals.db.read() as s:
        assert (await s.execute(select(func.count()).select_from(Ballot)
                                .where(Ballot.proposal_id == p.id, Ballot.choices.is_(None)))).scalar_one() == 3


def test_the_count_never_raises_and_elects_only_options_someone_ranked():
    """Random small elections (2 to 8 options, 1 to options-1 seats, up to 12 ballots, empty and
    partial rankings, any draw): the count never raises (pyrankvote's "Illegal state"), elects each
    option at most once, and exactly min(seats, options ranked by some ballot) of them, never one
    that no ballot ranks: a seat is not filled by the draw alone."""
    import random
    from fractions import Fraction
    rng = random.Random(20261205)
    rule = DecisionRule(Fraction(0), Fraction(1, 2), True)
    for _ in range(1500):
        n = rng.randint(2, 8)
        seats = rng.randint(1, n - 1)
        rankings = [rng.sample(range(n), rng.randint(0, n)) for _ in range(rng.randint(0, 12))]
        order = rng.sample(range(n), n)
        options = [f"O{i}" for i in range(n)]
        result = count_ranked(options, rankings, seats, order, 12, rule)
        ranked = {i for ranking in rankings for i in ranking}
        elected = result["elected"]
        assert len(elected) == len(set(elected)) == min(seats, len(ranked)), (rankings, seats, order, elected)
        assert set(elected) <= ranked, (rankings, seats, order, elected)
        assert all(r["status"][i] == "excluded" for r in result["rounds"] for i in range(n) if i not in ranked)
        assert count_ranked(options, rankings, seats, order, 12, rule) == result  # a recount: the same rounds


def test_an_unranked_option_takes_no_seat():
    rule = DecisionRule.from_json({"quorum": "0", "threshold": "1/2", "strict": True})
    result = count_ranked(["Ana", "Ben", "Cy", "Dee"], [[2], [2]], 2, [0, 1, 2, 3], 10, rule)
    assert result["elected"] == [2] and result["passed"]
    assert result["rounds"] == [{"votes": [0, 0, 2, 0], "status": ["excluded", "excluded", "elected", "excluded"],
                                 "exhausted": 0}]
    from types import SimpleNamespace
    from handlers import texts
    p = SimpleNamespace(number=4, title="Stewards-to-be", options=["Ana", "Ben", "Cy", "Dee"])
    said = texts.ranked_result(p, result)
    assert "Result of #4 Stewards-to-be: elected Cy.\nCounted by single transferable vote for 2 seats." in said
    assert "1 seat stays empty: no other option was ranked on any ballot.\nRound 1: Ana 0 out · Ben 0 out · Cy 2 elected" in said


def test_instant_runoff_needs_more_than_half_and_a_tie_at_the_end_goes_by_the_draw():
    """Four ballots: Ana 2, Ben 1, Cy 1 (Cy's ballot then Ben). Half is not a majority: the runoff
    goes on, Cy (drawn after Ben) is out, Ana 2 and Ben 2 tie, and Ana, drawn last, is out. The
    library would exclude Ben and Cy at once (together no more than Ana) and elect Ana: the tie
    that Cy's ballot makes would never be counted, nor the draw asked."""
    rule = DecisionRule.from_json({"quorum": "0", "threshold": "1/2", "strict": True})
    result = count_ranked(["Ana", "Ben", "Cy"], [[0], [0], [1], [2, 1]], 1, [1, 2, 0], 4, rule)
    assert result["elected"] == [1]
    assert [(r["votes"], r["status"]) for r in result["rounds"]] == [
        ([2, 1, 1], ["hopeful", "hopeful", "excluded"]), ([2, 2, 0], ["excluded", "elected", "excluded"])]
    # Drawn the other way, Ana stays: the draw, not the library's "half", decided it.
    assert count_ranked(["Ana", "Ben", "Cy"], [[0], [0], [1], [2, 1]], 1, [0, 1, 2], 4, rule)["elected"] == [0]


def test_a_result_of_ten_long_options_over_many_rounds_fits_one_telegram_message():
    """Ten options of the longest label, a title of the longest, nine rounds of instant runoff (one
    option out in each), closed early with the longest reason: the result as posted (the minutes'
    head last) is one Telegram message, so the turnout and the head are never cut off."""
    from types import SimpleNamespace
    from bot.telegram.convert import MAX_TEXT
    from handlers.charter import Charter
    from handlers.proposals import MAX_OPTION, MAX_REASON, MAX_TITLE, result_text
    options = [f"{i}" * MAX_OPTION for i in range(10)]
    # Option i is ranked alone by 10 + i ballots: one option out in each round.
    rankings = [[i] for i in range(10) for _ in range(10 + i)]
    rule = DecisionRule.from_json({"quorum": "1/2", "threshold": "1/2", "strict": True})
    result = count_ranked(options, rankings, 1, list(range(10)), 150, rule)
    assert len(result["rounds"]) == 9
    result = {**result, "carried": False, "draw": 12, "minutes": [123456, "ab" * 32]}
    p = SimpleNamespace(number=123, title="T" * MAX_TITLE, options=options, result=result, method="ranked",
                        end_reason="R" * MAX_REASON, purpose=None, author_id=1, protection=None, action=None)
    text = result_text(p, Charter.from_json({}), "S" * 80)
    assert len(text) <= MAX_TEXT, len(text)
    assert "Turnout: 145 of 150" in text and text.endswith(texts_head(result))


def texts_head(result: dict) -> str:
    from handlers import texts
    return texts.head_text(result["minutes"][0], bytes.fromhex(result["minutes"][1]))


async def test_a_secret_ranking_tapped_option_by_option_leaves_no_trace_of_its_length(chat, clock, gov):
    """Each tap on a ranked card adds an option: one vote event per tap. On a secret ballot their
    number per member is the length of that member's ranking, which, beside the rankings sealed at
    the close, would say whose ranking is whose. After the close each voter keeps one vote event."""
    await make_coop(chat, 2)
    await chat.say("alice", "/propose Chair\n  method: ranked\n  ballot: secret\n  options: Ana | Ben | Cy")
    p = await gov.stores.proposals.get(1, 1)
    for i in (2, 0, 1):  # m1 ranks all three, tap by tap
        await choose(chat, "m1", p.id, i, "append")
    await choose(chat, "m2", p.id, 1, "append")  # m2 ranks one
    await chat.tap("alice", p.id, None)  # nothing to withdraw: refused, nothing logged
    await choose(chat, "alice", p.id, 0, "append")
    await choose(chat, "alice", p.id, 1, "append")
    await chat.tap("alice", p.id, None)  # start over
    await choose(chat, "alice", p.id, 1, "append")
    clock.advance(days=3)
    await run_due(gov.stores, clock.now(), gov.before_close)
    await chat.drain()
    assert "Result of #1 Chair: elected Ben." in chat.last
    async with gov.stores.proposals.db.read() as s:
        events = list((await s.execute(select(GovernanceEvent.member_id, GovernanceEvent.kind)
                                       .where(GovernanceEvent.proposal_id == p.id,
                                              GovernanceEvent.kind.like("vote_%")))).all())
    m1, m2, alice = [await member(gov, who) for who in ("m1", "m2", "alice")]
    assert sorted(events) == sorted([(m1, "vote_cast"), (m2, "vote_cast"), (alice, "vote_cast")])
    sealed = [data for kind, data in await _events(gov, p.id) if kind == "ballot_sealed"][0]
    assert sealed == {"tally": [0, 2, 1], "voters": 3}
    assert problems(json.loads(json.dumps(await collect(gov.stores)))) == []


async def _events(gov, proposal_id: int) -> list:
    async with gov.stores.proposals.db.read() as s:
        return list((await s.execute(select(GovernanceEvent.kind, GovernanceEvent.data)
                                     .where(GovernanceEvent.proposal_id == proposal_id))).all())


async def test_an_edit_cannot_change_a_ranked_proposal_s_options_once_its_draw_is_seen(chat, clock, gov):
    """Before anyone votes the author may edit a proposal. A ranked one's options were announced
    with its tie-break draw: renamed once the draw is known, an option would go where the author
    likes in the tie order (a label the draw does not hold goes last). Its options stay; its text may change."""
    await make_coop(chat, 2)
    await chat.say("alice", "/propose Chair\n  method: ranked\n  options: Ana | Ben | Cy", event_id="e1")
    clock.advance(minutes=11)
    await run_due(gov.stores, clock.now(), gov.before_close)
    await chat.drain()
    assert "Result of draw D1" in chat.last
    edited = await chat.say("alice", "/propose Chair\n  method: ranked\n  options: Ana | Ben. | Cy", event_id="e2",
                            corrects="e1")
    assert "#1's options were announced with its tie-break draw D1: a revision keeps them" in edited
    assert (await gov.stores.proposals.get(1, 1)).options == ["Ana", "Ben", "Cy"]
    await chat.say("alice", "/propose The chair\n  method: ranked\n  options: Ana | Ben | Cy", event_id="e3",
                   corrects="e1")
    assert (await gov.stores.proposals.get(1, 1)).title == "The chair"


async def test_verify_counts_the_rounds_again_from_the_rankings(chat, clock, gov):
    """`coopbot verify` counts a ranked result's rounds again from the rankings the export holds (an
    open ballot's votes): a result whose rounds or elected options the rankings do not give is
    reported. A secret ballot's rankings are not in the export."""
    await make_coop(chat, 3)
    await chat.say("alice", STEWARDS)
    await chat.say("alice", "/propose Chair\n  method: ranked\n  ballot: secret\n  options: Ana | Ben | Cy")
    for who, ranking in {"alice": "Ana Ben", "m1": "Ben", "m2": "Cy Ben", "m3": "Dee Cy"}.items():
        await chat.say(who, f"/vote 1 {ranking}")
    for who, ranking in {"alice": "Ana Ben", "m1": "Ben", "m2": "Cy Ben"}.items():
        await chat.say(who, f"/vote 2 {ranking}")
    clock.advance(days=3, minutes=1)
    await run_due(gov.stores, clock.now(), gov.before_close)
    await chat.drain()
    data = json.loads(json.dumps(await collect(gov.stores)))
    first, second = data["coops"][0]["proposals"][:2]
    assert "rankings" not in second and "votes" not in second
    assert problems(data) == []
    for entry in (first,):
        rounds = entry["result"]["rounds"]
        elected = entry["result"]["elected"]
        entry["result"]["elected"] = [o for o in entry["options"] if o not in elected][:len(elected)]
        assert any(f"proposal {entry['number']}'s rounds" in line for line in problems(data)), entry["number"]
        entry["result"]["elected"], entry["result"]["rounds"] = elected, rounds[:-1] or [{}]
        assert any(f"proposal {entry['number']}'s rounds" in line for line in problems(data)), entry["number"]
        entry["result"]["rounds"] = rounds
    assert problems(data) == []


async def test_a_secret_ranking_held_by_proxy_is_sealed_as_the_holder_s_and_logged_as_any_vote(chat, clock, gov):
    """A proxy holder's ranking counts for the giver (copied at the close). Once sealed, the giver
    has one vote in the log like every voter (nothing says it was cast by proxy), and no ranking is
    kept: the one cast twice would be the holder's."""
    from tests.test_proxies import allow_proxies
    await allow_proxies(chat)
    await chat.say("alice", "/propose Chair\n  method: ranked\n  ballot: secret\n  options: Ana | Ben | Cy")
    p = await gov.stores.proposals.get(1, 2)
    await chat.say("m3", "/proxy m2\n  for: #2")
    await choose(chat, "m2", p.id, 2, "append")
    await choose(chat, "m2", p.id, 1, "append")
    await chat.say("m1", "/vote 2 Ana")
    await chat.say("alice", "/close 2")  # waits for the draw
    clock.advance(minutes=11)
    await run_due(gov.stores, clock.now(), gov.before_close)
    await chat.drain()
    assert "Result of #2 Chair: elected Cy." in chat.last
    m3 = await member(gov, "m3")
    async with gov.stores.proposals.db.read() as s:
        kinds = list((await s.execute(select(GovernanceEvent.kind).where(
            GovernanceEvent.proposal_id == p.id, GovernanceEvent.member_id == m3,
            GovernanceEvent.kind.like("vote_%")))).scalars())
    assert kinds == ["vote_cast"]
    # The holder's ranking, cast twice (the card named the proxy), is nowhere to be found twice, nor once.
    assert not [data for kind, data in await _events(gov, p.id) if "[2, 1]" in json.dumps(data)]
    assert [data for kind, data in await _events(gov, p.id) if kind == "ballot_sealed"] == [
        {"tally": [1, 0, 2], "voters": 3}]


def test_an_approval_poll_answer_given_twice_approves_it_once():
    """A Matrix poll response repeating an answer (a client's, or forged) approves it once, as
    clients show it, rather than being refused as an option named twice; one not ours stays for the
    core to refuse; no answer takes the vote back."""
    from bot.matrix.convert import approved, poll_answers
    content = {"m.relates_to": {"rel_type": "m.reference", "event_id": "$p"},
               "org.matrix.msc3381.poll.response": {"answers": ["o2", "o0", "o2", "zz"]}}
    assert poll_answers(content) == ("$p", (2, 0, 2, -1))
    assert approved((2, 0, 2)) == (0, 2) and approved((2, -1)) == (-1, 2) and approved(()) is None


def test_instant_runoff_agrees_with_a_runoff_counted_one_exclusion_at_a_time():
    """Random small elections counted by the library (through `count_ranked`) and by the rule as
    members read it: each round the option with fewest votes goes (of equal ones, the one drawn
    later), until one has more than half of the ballots still counting, or is the last one left."""
    import random
    from fractions import Fraction
    rule = DecisionRule(Fraction(0), Fraction(1, 2), True)

    def by_hand(rankings: list[list[int]], order: list[int]) -> int:
        drawn = {option: place for place, option in enumerate(order)}
        hopeful = {i for ranking in rankings for i in ranking}
        while True:
            votes = dict.fromkeys(hopeful, 0)
            for ranking in rankings:
                if (top := next((i for i in ranking if i in hopeful), None)) is not None:
                    votes[top] += 1
            best = max(hopeful, key=lambda i: (votes[i], -drawn[i]))
            if len(hopeful) == 1 or 2 * votes[best] > sum(votes.values()):
                return best
            hopeful.remove(min(hopeful, key=lambda i: (votes[i], -drawn[i])))

    rng = random.Random(1205)
    for _ in range(1500):
        n = rng.randint(2, 7)
        rankings = [rng.sample(range(n), rng.randint(1, n)) for _ in range(rng.randint(1, 15))]
        order = rng.sample(range(n), n)
        counted = count_ranked([f"O{i}" for i in range(n)], rankings, 1, order, 20, rule)["elected"]
        assert counted == [by_hand(rankings, order)], (rankings, order)


async def test_the_start_up_check_and_verify_hold_after_ranked_and_approval_closes(chat, clock, gov):
    """Open and secret, ranked and approval, tapped and typed, one vote by proxy: after the closes,
    the start-up check (minutes, heads, recounts of every closed proposal, draws) finds nothing, nor
    does `coopbot verify` of the export (which counts the rounds again)."""
    from handlers import draws as draw_rules
    from tests.test_proxies import allow_proxies
    await allow_proxies(chat)
    for n, (method, ballot) in enumerate([("ranked", "open"), ("ranked", "secret"), ("approval", "open"),
                                          ("approval", "secret")], 2):
        await chat.say("alice", f"/propose P{n}\n  method: {method}\n  ballot: {ballot}\n  options: Ana | Ben | Cy")
    await chat.say("m3", "/proxy m2\n  until: 30d")
    for n in (2, 3, 4, 5):
        p = await gov.stores.proposals.get(1, n)
        how = "append" if p.method == "ranked" else "toggle"
        for i in (2, 0):
            await choose(chat, "m2", p.id, i, how)
        await chat.say("m1", f"/vote {n} Ben Cy")
        await chat.say("alice", f"/vote {n} Ana")
    clock.advance(days=3, minutes=1)
    await run_due(gov.stores, clock.now(), gov.before_close)
    await chat.drain()
    assert (await gov.stores.minutes.check(gov.stores.proposals.recount, draw_rules.replay_problem)) == []
    assert problems(json.loads(json.dumps(await collect(gov.stores)))) == []


async def test_show_s_rankings_and_reasons_share_the_budget_a_vote_s_reasons_have(chat, gov):
    """`show` is the card, then on an open ballot the rankings so far and the reasons: together no
    longer than a vote's reasons alone may be, so a ranked `show` is no longer than a vote's."""
    from handlers.proposals import REASONS_BUDGET, describe
    from handlers.charter import Charter
    await make_coop(chat, 12)
    options = " | ".join(chr(65 + i) * 60 for i in range(10))
    await chat.say("alice", f"/propose Seats\n  method: ranked\n  options: {options}")
    for k, who in enumerate(["alice"] + [f"m{i}" for i in range(1, 13)]):
        ranking = " ".join(str((k + j) % 10 + 1) for j in range(10))
        await chat.say(who, f"/vote 1 {ranking}\n  reason: {'r' * 480}")
    p = await gov.stores.proposals.get(1, 1)
    card = await describe(gov.stores, p, Charter.from_json((await gov.stores.coops.get(1)).charter), "/")
    shown = await chat.say("m1", "/show 1")
    assert shown.startswith(card) and "Rankings so far:" in shown and "Reasons" in shown
    heads = len("\n\nRankings so far:") + len("\n\nReasons given with votes:") + 2 * 80  # two heads and "… more" lines
    assert len(shown) - len(card) <= REASONS_BUDGET + heads, len(shown) - len(card)


async def test_a_ranking_tapped_together_is_answered_whole_within_a_tap_s_answer(chat, gov):
    """Telegram shows 200 characters of a tap's answer: a ranking of ten long names is answered by
    option numbers, so the voter sees every option they ranked; short names are answered by name."""
    from handlers.votes import TAP_ANSWER
    await make_coop(chat, 2)
    options = " | ".join(f"Candidate {chr(65 + i)} of the long list" for i in range(10))
    await chat.say("alice", f"/propose Seats\n  method: ranked\n  options: {options}")
    await chat.say("alice", f"/propose Lunch\n  method: approval\n  options: {options}")
    ranked, approval = (await gov.stores.proposals.get(1, 1)), (await gov.stores.proposals.get(1, 2))
    for i in (2, 0, 9, 1, 3, 4, 5, 6, 7, 8):
        said = await choose(chat, "m1", ranked.id, i, "append")
        approved = await choose(chat, "m1", approval.id, i, "toggle")
        assert len(said) <= TAP_ANSWER and len(approved) <= TAP_ANSWER, (said, approved)
    assert said == "Your ranking on #1, by option number: 3 > 1 > 10 > 2 > 4 > 5 > 6 > 7 > 8 > 9."
    assert approved == "You approve on #2 options 1, 2, 3, 4, 5, 6, 7, 8, 9 and 10."
    assert "Your ranking on #1: 1. Candidate C of the long list." in await chat.say("m2", "/vote 1 3")
