"""The counting rules: quorum against the frozen register, thresholds, abstentions, ties."""

from fractions import Fraction

import pytest

from handlers.charter import DEFAULT_RULES, Charter, DecisionRule
from handlers.tally import DEFAULT_OPTIONS, decide

ORDINARY, STRATEGIC, CONSTITUTIONAL = (DEFAULT_RULES[k] for k in ("ordinary", "strategic", "constitutional"))


def result(counts, electorate, rule=ORDINARY, options=DEFAULT_OPTIONS):
    return decide(options, counts, electorate, rule)


def test_defaults_match_the_spec():
    """The charter's defaults are the ones SPEC.md promises."""
    c = Charter()
    assert (ORDINARY.quorum, ORDINARY.threshold, ORDINARY.strict) == (Fraction(1, 2), Fraction(1, 2), True)
    assert (STRATEGIC.quorum, STRATEGIC.threshold, STRATEGIC.strict) == (Fraction(3, 5), Fraction(2, 3), False)
    assert (CONSTITUTIONAL.quorum, CONSTITUTIONAL.threshold, CONSTITUTIONAL.strict) == (Fraction(3, 4), Fraction(3, 4), False)
    assert c.voting_period.total_seconds() == 72 * 3600
    assert [o.total_seconds() for o in c.reminder_offsets] == [24 * 3600, 3600]
    assert (c.audit_every_months, c.sunset_every_months, str(c.movement_share), c.timezone) == (12, 24, "0.30", "UTC")


def test_charter_survives_storage_round_trip():
    """What is stored is what is read back, and missing keys fall back to the defaults."""
    c = Charter(timezone="Europe/Berlin")
    assert Charter.from_json(c.to_json()) == c
    assert Charter.from_json({"timezone": "America/New_York"}).rules == Charter().rules


@pytest.mark.parametrize(
    "counts, electorate, passed, reason",
    [
        ((3, 1, 0), 8, True, ""),  # 4 of 8 is exactly the 50 % quorum
        ((3, 0, 0), 8, False, "quorum"),  # 3 of 8 is short of it
        ((2, 2, 0), 4, False, "threshold"),  # a tie is not "more than half"
        ((3, 2, 0), 5, True, ""),
        ((0, 0, 4), 4, False, "threshold"),  # everyone abstained: no For or Against to weigh
        ((1, 0, 3), 4, True, ""),  # abstentions make quorum; the one For carries
        ((1, 1, 6), 8, False, "threshold"),
    ],
)
def test_ordinary(counts, electorate, passed, reason):
    """Ordinary: quorum 50 % of the register, more than half of For + Against."""
    outcome = result(counts, electorate)
    assert (outcome.passed, outcome.reason) == (passed, reason)
    assert outcome.voters == sum(counts)


def test_abstentions_count_toward_quorum_not_threshold():
    """Abstaining helps reach quorum but dilutes nothing."""
    without = result((2, 1, 0), 8)
    assert not without.passed and without.reason == "quorum"
    with_abstentions = result((2, 1, 2), 8)
    assert with_abstentions.passed
    assert with_abstentions.support == Fraction(2, 3)


@pytest.mark.parametrize(
    "rule, counts, electorate, passed, reason",
    [
        (STRATEGIC, (4, 2, 0), 10, True, ""),  # exactly 2/3 is enough ("at least"); 6 of 10 is the quorum
        (STRATEGIC, (4, 2, 0), 11, False, "quorum"),  # 6 of 11 < 60 %
        (STRATEGIC, (5, 3, 0), 10, False, "threshold"),  # 5/8 < 2/3
        (CONSTITUTIONAL, (6, 2, 0), 8, True, ""),  # exactly 3/4
        (CONSTITUTIONAL, (5, 2, 0), 8, False, "threshold"),
        (CONSTITUTIONAL, (5, 0, 0), 8, False, "quorum"),  # 5 of 8 < 75 %
        (CONSTITUTIONAL, (3, 1, 2), 8, True, ""),  # 6 of 8 voted; 3/4 of For + Against
    ],
)
def test_supermajorities(rule, counts, electorate, passed, reason):
    """Strategic and constitutional decisions need their quorum and supermajority."""
    outcome = result(counts, electorate, rule)
    assert (outcome.passed, outcome.reason) == (passed, reason)


def test_custom_options_elect_the_leader():
    """With custom options the leading option carries if its share meets the threshold."""
    options = ["Red", "Blue", "Green", "Abstain"]
    outcome = decide(options, (5, 2, 1, 3), 12, ORDINARY)
    assert outcome.passed and outcome.winner == 0 and outcome.support == Fraction(5, 8)


def test_custom_options_tie_fails():
    """Two options level at the top: no decision."""
    outcome = decide(["Red", "Blue", "Green"], (3, 3, 1), 7, ORDINARY)
    assert not outcome.passed and outcome.reason == "tie"


def test_custom_options_plurality_short_of_threshold_fails():
    """A plurality that is not a majority does not pass an ordinary decision."""
    outcome = decide(["Red", "Blue", "Green"], (3, 2, 2), 7, ORDINARY)
    assert not outcome.passed and outcome.reason == "threshold" and outcome.winner == 0


def test_outcome_round_trips_through_json():
    """A stored result reads back to the same outcome."""
    from handlers.tally import Outcome

    outcome = result((3, 1, 1), 6)
    assert Outcome.from_json(outcome.to_json()) == outcome


def test_quorum_is_exact_not_floating_point():
    """Fractions, not floats: 3 of 5 is exactly 60 %."""
    rule = DecisionRule(Fraction(3, 5), Fraction(1, 2), strict=True)
    assert rule.meets_quorum(3, 5)
    assert not rule.meets_quorum(5999, 10000)
