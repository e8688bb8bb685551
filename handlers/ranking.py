"""Counting ranked (instant runoff, STV) and approval proposals; equal counts go by a published draw."""

from __future__ import annotations

import types
from collections.abc import Sequence
from fractions import Fraction
from typing import TYPE_CHECKING

from handlers.tally import DecisionRule

# pyrankvote (and tabulate, which it loads, with importlib.metadata) is imported only when a ranked
# proposal is counted, as Pillow is for the timeline: about 7 MB a running bot would otherwise hold.
if TYPE_CHECKING:
    from pyrankvote.helpers import ElectionManager
    from pyrankvote.models import Candidate

# pyrankvote's CandidateStatus values, as the record names them.
STATUS = {"Elected": "elected", "Hopeful": "hopeful", "Rejected": "excluded"}
SAME = 0.001  # pyrankvote's `almost_equal` margin: counts closer than this are equal
PLACES = 4  # votes are fractions after a surplus transfer: stored rounded, so the record reads the same everywhere


def _number(votes: float) -> int | str:
    """A count as the minutes hold it (no floats there): a whole number, or a surplus's fraction
    rounded to PLACES, as a string."""
    return int(round(votes)) if abs(votes - round(votes)) < SAME else f"{votes:.{PLACES}f}"


MARGIN = 1e-6  # the library's own rounding margin (`rounding_error` in its round loops)


class _Votes(float):
    """A count as the library's round loop reads it from the manager, knowing how many options it
    sums. The loop excludes at once every option from the i-th down when their votes together are
    `<=` those of the option above them: that is right for the last option alone (tied with the
    one above, it goes, and the draw ordered the two), but a group whose votes together only equal
    the one above could, its votes transferred, tie it: the group's last goes alone, by the draw,
    and the next round shows the rest. So for a group `<=` is strictly less."""

    def __new__(cls, value: float, options: int = 1) -> _Votes:
        votes = super().__new__(cls, value)
        votes.options = options
        return votes

    def __add__(self, other) -> _Votes:
        return _Votes(float(self) + float(other), self.options + getattr(other, "options", 0))

    __radd__ = __add__  # sum() of a round's counts, from 0

    def __sub__(self, other) -> _Votes:
        return _Votes(float(self) - float(other), self.options - getattr(other, "options", 0))

    def __le__(self, other) -> bool:
        # The loop's test is `(together - MARGIN) <= above`: for a group, together < above - MARGIN.
        return float(self) < float(other) - 2 * MARGIN if self.options > 1 else float(self) <= float(other)


def _drawn_ties(order: Sequence[int], options: Sequence[str]) -> type[ElectionManager]:
    """An ElectionManager whose equal counts are ordered by the draw (the option drawn earlier goes
    ahead, so the one drawn later is excluded first), never by pyrankvote's second choices then
    `random`: a tie is decided by what the co-op saw drawn, and a recount gives the same rounds."""
    from pyrankvote.helpers import CandidateVoteCount, ElectionManager

    rank = {options[i]: place for place, i in enumerate(order)}

    class DrawnTies(ElectionManager):
        def _cmp_candidate_vote_counts(self, one: CandidateVoteCount, other: CandidateVoteCount) -> int:
            if abs(one.number_of_votes - other.number_of_votes) >= SAME:
                return -1 if one.number_of_votes > other.number_of_votes else 1
            a, b = rank[one.candidate.name], rank[other.candidate.name]
            return (a > b) - (a < b)

        def get_number_of_votes(self, candidate: Candidate) -> float:
            return _Votes(super().get_number_of_votes(candidate))

    return DrawnTies


def _method(seats: int, manager: type[ElectionManager]):
    """The library's own round loop (STV with the Droop quota; for one seat, its instant runoff,
    which is preferential block voting with one seat) run with `manager` in place of its
    ElectionManager. A copy of the function with its module's globals and that one name replaced:
    pyrankvote takes no manager as an argument, and patching the module would change every count
    running at the same moment."""
    from pyrankvote import multiple_seat_ranking_methods as methods

    function = methods.single_transferable_vote if seats > 1 else methods.preferential_block_voting
    return types.FunctionType(function.__code__, {**vars(methods), "ElectionManager": manager}, function.__name__)


def count_ranked(options: Sequence[str], rankings: Sequence[Sequence[int]], seats: int, order: Sequence[int],
                 electorate: int, rule: DecisionRule) -> dict:
    """Count the rankings (option indices, most preferred first): every round with each option's
    votes and status and the exhausted ballots, the elected options in order. It passes when the
    quorum is met and someone is elected (a ranked count needs no threshold: the rounds build the
    majority, or the quota, themselves). Only options some ballot ranks stand: an option no one
    ranked is out from the first round and never takes a seat (a seat filled by the draw alone
    would be a lot, not an election), so at most that many are elected; when they are no more
    than the seats, every one of them is, in a single round."""
    from pyrankvote.helpers import CompareMethodIfEqual
    from pyrankvote.models import Ballot, Candidate

    first = [0] * len(options)
    for ranking in rankings:
        if ranking:
            first[ranking[0]] += 1
    ranked = {i for ranking in rankings for i in ranking}
    standing = [i for i in range(len(options)) if i in ranked]
    candidates = {i: Candidate(options[i]) for i in standing}
    ballots = [Ballot([candidates[i] for i in ranking]) for ranking in rankings if ranking]
    rounds, elected = [], []
    if ballots and len(standing) <= seats:
        # The library cannot count a race with no more candidates than seats (its "Illegal state").
        elected = sorted(standing, key=lambda i: (-first[i], list(order).index(i)))
        rounds.append({"votes": list(first), "exhausted": 0,
                       "status": ["elected" if i in ranked else "excluded" for i in range(len(options))]})
    elif ballots:
        run = _method(seats, _drawn_ties(order, options))
        outcome = run(list(candidates.values()), ballots, seats, CompareMethodIfEqual.MostSecondChoiceVotes, False)
        index = {label: i for i, label in enumerate(options)}
        for r in outcome.rounds:
            votes = [0] * len(options)
            status = ["hopeful" if i in ranked else "excluded" for i in range(len(options))]
            for result in r.candidate_results:
                i = index[result.candidate.name]
                votes[i], status[i] = _number(result.number_of_votes), STATUS[result.status]
                if status[i] == "elected" and i not in elected:
                    elected.append(i)
            rounds.append({"votes": votes, "status": status, "exhausted": _number(r.number_of_blank_votes)})
        # The library elects every option at or over the quota at once: two tied at exactly half of
        # one seat would both be; the seats go in its order, in which the draw ranks equal counts.
        if len(elected) > seats:
            for i in elected[seats:]:
                rounds[-1]["status"][i] = "excluded"
            elected = elected[:seats]
    voters = len(ballots)
    quorum = rule.meets_quorum(voters, electorate)
    passed = quorum and bool(elected)
    return {"method": "ranked", "seats": seats, "counts": first, "voters": voters, "electorate": electorate,
            "rule": rule.to_json(), "rounds": rounds, "elected": elected, "order": list(order),
            "passed": passed, "reason": "" if passed else "quorum" if not quorum else "threshold",
            "winner": elected[0] if elected and passed else None, "support": None}


def count_approval(options: Sequence[str], sets: Sequence[Sequence[int]], electorate: int, rule: DecisionRule) -> dict:
    """Approvals per option; the most approved wins if its approvals reach the threshold as a share
    of the voters (every ballot, whatever it approves). Equal most approvals are reported as a tie
    and nothing is chosen: unlike a ranking, an approval count has no further preference to look
    at, and a tie between what members approve equally is theirs to settle, not a lot's."""
    approvals = [0] * len(options)
    voters = 0
    for chosen in sets:
        if chosen:
            voters += 1
            for i in chosen:
                approvals[i] += 1
    best = max(approvals, default=0)
    leaders = [i for i, n in enumerate(approvals) if n == best] if best else []
    support = Fraction(best, voters) if voters else None
    winner = leaders[0] if len(leaders) == 1 else None
    if not rule.meets_quorum(voters, electorate):
        reason = "quorum"
    elif not leaders:
        reason = "threshold"
    elif len(leaders) > 1:
        reason = "tie"
    else:
        reason = "" if rule.meets_threshold(support) else "threshold"
    return {"method": "approval", "counts": approvals, "voters": voters, "electorate": electorate,
            "rule": rule.to_json(), "passed": not reason, "reason": reason, "winner": winner,
            "leaders": leaders, "support": None if support is None else str(support)}
