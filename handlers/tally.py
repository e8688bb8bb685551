"""Counting a proposal: quorum against the frozen register, threshold among For and Against."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction

CONSENT_OPTIONS = ("Consent", "Abstain")  # a consent proposal's: an objection is raised with `object`, not voted
DEFAULT_OPTIONS = ("For", "Against", "Abstain")


@dataclass(frozen=True)
class DecisionRule:
    """Quorum: the share of the frozen register that must vote (abstaining counts).
    Threshold: the share of For among For + Against; `strict` means "more than"."""

    quorum: Fraction
    threshold: Fraction
    strict: bool

    def meets_quorum(self, voters: int, electorate: int) -> bool:
        return electorate > 0 and Fraction(voters, electorate) >= self.quorum

    def meets_threshold(self, support: Fraction) -> bool:
        return support > self.threshold if self.strict else support >= self.threshold

    def to_json(self) -> dict:
        return {"quorum": str(self.quorum), "threshold": str(self.threshold), "strict": self.strict}

    @classmethod
    def from_json(cls, data: dict) -> DecisionRule:
        return cls(Fraction(data["quorum"]), Fraction(data["threshold"]), bool(data["strict"]))


def is_abstain(label: str) -> bool:
    return label.strip().casefold() in ("abstain", "abstention")


def is_yes_no(options: Sequence[str]) -> bool:
    """For/Against proposals use the For / (For + Against) threshold; others elect an option."""
    labels = [o.casefold() for o in options if not is_abstain(o)]
    return labels == ["for", "against"]


@dataclass(frozen=True)
class Outcome:
    counts: tuple[int, ...]
    electorate: int
    rule: DecisionRule
    passed: bool
    reason: str  # "quorum", "threshold", "tie", "" when passed
    winner: int | None  # the option that carried (For, or the elected option)
    support: Fraction | None  # winner's share of the votes that count toward the threshold

    @property
    def voters(self) -> int:
        return sum(self.counts)

    def to_json(self) -> dict:
        return {
            "counts": list(self.counts),
            "electorate": self.electorate,
            "voters": self.voters,
            "rule": self.rule.to_json(),
            "passed": self.passed,
            "reason": self.reason,
            "winner": self.winner,
            "support": None if self.support is None else str(self.support),
        }

    @classmethod
    def from_json(cls, data: dict) -> Outcome:
        return cls(
            counts=tuple(data["counts"]),
            electorate=data["electorate"],
            rule=DecisionRule.from_json(data["rule"]),
            passed=data["passed"],
            reason=data["reason"],
            winner=data["winner"],
            support=None if data["support"] is None else Fraction(data["support"]),
        )


def count(options: Sequence[str], choices: Iterable[int]) -> tuple[int, ...]:
    counts = [0] * len(options)
    for choice in choices:
        counts[choice] += 1
    return tuple(counts)


def decide(options: Sequence[str], counts: Sequence[int], electorate: int, rule: DecisionRule) -> Outcome:
    """Apply the rule. Abstentions count toward quorum but never toward the threshold."""
    counts = tuple(counts)
    voters = sum(counts)

    def outcome(passed: bool, reason: str, winner: int | None = None, support: Fraction | None = None):
        return Outcome(counts, electorate, rule, passed, reason, winner, support)

    # Who leads and with what share is said in every outcome, quorum met or not.
    counted = [i for i, label in enumerate(options) if not is_abstain(label)]
    decisive = sum(counts[i] for i in counted)
    winner = support = None
    tied = False
    if decisive:
        if is_yes_no(options):
            winner = counted[0]
        else:
            best = max(counts[i] for i in counted)
            leaders = [i for i in counted if counts[i] == best]
            tied, winner = len(leaders) > 1, leaders[0]
        support = Fraction(counts[winner], decisive)
    if not rule.meets_quorum(voters, electorate):
        return outcome(False, "quorum", None if tied else winner, support)
    if not decisive:
        return outcome(False, "threshold")
    if tied:
        return outcome(False, "tie", None, support)
    passed = rule.meets_threshold(support)
    return outcome(passed, "" if passed else "threshold", winner, support)


def consented(voices: Sequence, share: Fraction, strict: bool) -> dict:
    """The affiliated organisations' part of a protected decision: of the organisations frozen
    into it, the share that said yes must reach the threshold (`strict`: pass it). One disaffiliated
    since has lost its voice but is still counted among them, so removing a body never makes
    consent easier. With none frozen there is no one to ask: the members and the veto decide."""
    yes = [v.org for v in voices if v.counted and v.yes]
    no = [v.org for v in voices if v.counted and v.yes is False]
    silent = [v.org for v in voices if v.counted and v.yes is None]
    lapsed = [v.org for v in voices if not v.counted]
    if not voices:
        met = True
    else:
        got = Fraction(len(yes), len(voices))
        met = got > share if strict else got >= share
    return {"frozen": len(voices), "yes": yes, "no": no, "silent": silent, "lapsed": lapsed,
            "threshold": [str(share), strict], "met": met}


def consent_decided(counts: Sequence[int], electorate: int, rule: DecisionRule, objections: Sequence) -> dict:
    """Consent (SPEC third set): it passes if quorum is met, counting each member on the register
    who consented, abstained or objected once, and no objection stands. The threshold is not used:
    one standing objection is enough to block. `objections` have `name`, `reason` and `voted`
    (the objector also holds a ballot, counted already)."""
    voters = sum(counts) + sum(1 for o in objections if not o.voted)
    reason = "objection" if objections else "" if rule.meets_quorum(voters, electorate) else "quorum"
    return {
        "counts": list(counts), "electorate": electorate, "voters": voters, "rule": rule.to_json(),
        "passed": not reason, "reason": reason, "winner": None if reason else 0, "support": None,
        "objections": [{"name": o.name, "reason": o.reason} for o in objections],
    }
