"""A result says what happened, in every outcome: passed, quorum, threshold, tie, custom options, secret."""

from __future__ import annotations

import pytest

from tests.conftest import make_coop


async def _result(chat, votes: dict[str, str], lines: str = "", members: int = 4) -> str:
    await make_coop(chat, members=members)
    await chat.say("alice", "/propose Buy a van" + lines)
    for who, option in votes.items():
        await chat.say(who, f"/vote 1 {option}")
    await chat.say("alice", "/close 1")
    return chat.last


@pytest.mark.parametrize("votes, lines, expected", [
    ({"alice": "For", "m1": "For", "m2": "For"}, "",
     ["passed.", "Votes: For 3 · Against 0 · Abstain 0.", "Turnout: 3 of 5 (60%); quorum 50% met.",
      "Support: 100% of For + Against; threshold more than 1/2."]),
    ({"alice": "For"}, "",
     ["failed (quorum not met).", "Votes: For 1 · Against 0 · Abstain 0.", "quorum 50% not met.",
      "Support: 100% of For + Against; threshold more than 1/2."]),
    ({"alice": "For", "m1": "Against", "m2": "Against"}, "",
     ["failed (threshold not met).", "Support: 33.3% of For + Against; threshold more than 1/2."]),
    ({"alice": "For", "m1": "Against", "m2": "Abstain"}, "",
     ["failed (threshold not met).", "Support: 50% of For + Against; threshold more than 1/2."]),
    ({"alice": "Abstain", "m1": "Abstain", "m2": "Abstain"}, "",
     ["failed (threshold not met).", "Support: no votes other than abstentions"]),
    ({"alice": "Red", "m1": "Blue", "m2": "Green"}, "\noptions: Red | Blue | Green",
     ["failed (tie between the leading options).", "Support: a tie at 33.3% each between Red, Blue and Green"]),
    ({"alice": "Red", "m1": "Red", "m2": "Blue"}, "\noptions: Red | Blue | Green",
     ["passed.", "Chosen: Red.", "Support: 66.7% for Red of the votes cast, abstentions aside"]),
    ({"alice": "Red"}, "\noptions: Red | Blue",
     ["failed (quorum not met).", "Support: 100% for Red of the votes cast"]),
    ({"alice": "For", "m1": "For", "m2": "Against"}, "\nballot: secret",
     ["passed.", "Votes: For 2 · Against 1 · Abstain 0.", "Support: 66.7% of For + Against"]),
])
async def test_the_result_text_is_right_in_every_outcome(chat, votes, lines, expected):
    """Scenario 10: 'no votes other than abstentions' only when that is so; a tie names who tied."""
    result = await _result(chat, votes, lines)
    for fragment in expected:
        assert fragment in result, (fragment, result)
    if "no votes other than abstentions" not in expected[-1]:
        assert "no votes other than abstentions" not in result
