"""Store for what the co-op did, read for an audit pack: read-only, a statement or two per part."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, or_, select

from storage.db import Database
from storage.models import Allocation, Drift, GovernanceEvent, Member, Proposal, Round

EARLY_CLOSES_LISTED = 10
# The events that set a member's role: the founder is the first steward, an admission (or a
# re-admission with `role:`, how a steward is made or unmade) logs the role it gives.
ROLE_EVENTS = ("coop_founded", "member_admitted")
# Role changes of many members at once (an emergency assembly): `data["stewards"]` names them.
BULK_ROLE_EVENTS = {"stewards_lapsed": "member", "stewards_seated": "steward"}
# The logged events that are automatic entries of the drift timeline (a `proposal_closed` only of a
# vote on the mandate, purpose "sunset"); its own entries are the `drift` rows.
TIMELINE_EVENTS = ("audit_closed", "pay_refused", "veto", "drill_closed", "proposal_closed", "stewards_kept",
                   "stewards_lapsed", "revision_missed", "mirror_opened")


@dataclass(frozen=True)
class FundLine:
    """What one fund line of the paid rounds came to, per currency. `forfeited`: a removed
    member's share that went to the funds, not a fund the round opened with."""

    currency: str
    fund: str
    amount: int
    forfeited: bool


@dataclass(frozen=True)
class Movement:
    rounds: list[int]  # the numbers of the rounds paid out in the period
    funds: list[FundLine]


@dataclass(frozen=True)
class Closed:
    """A closed proposal's kind and its stored result (`handlers.tally.Outcome.to_json`)."""

    number: int
    kind: str
    result: dict


@dataclass(frozen=True)
class Authorship:
    """Proposals opened in the period: by the charter, and by members (steward or not when opened)."""

    by_charter: int
    by_stewards: int
    by_members: int


@dataclass(frozen=True)
class EarlyClose:
    number: int
    steward: str
    reason: str | None


@dataclass(frozen=True)
class Firewall:
    """A veto or a call-in by the golden share (`kind` "veto" or "protected"), as logged."""

    kind: str
    number: int
    org: str
    name: str
    reason: str | None
    at: datetime


@dataclass(frozen=True)
class TimelineEntry:
    """One entry of the drift timeline: `kind` is the logged event's, or "drift"; `data` its logged
    data (a drift's number and text); `name` the member it names, `number` the proposal's."""

    at: datetime
    kind: str
    data: dict
    name: str | None
    number: int | None


@dataclass(frozen=True)
class SunsetVote:
    number: int
    title: str
    status: str
    closes_at: datetime
    result: dict | None
    by_charter: bool


class RecordStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def movement(self, coop_id: int, since: datetime, until: datetime) -> Movement:
        """The fund lines of the rounds paid out in [since, until], summed per (currency, fund).
        Two statements: the lines, and the funds each round opened with (its `round_opened`
        event), which tells a fund from a forfeited share (a member's line moved to the funds)."""
        paid = (Round.coop_id == coop_id, Round.status == "paid", Round.paid_at >= since, Round.paid_at <= until)
        lines = (
            select(Round.number, Round.currency, Allocation.fund, func.sum(Allocation.amount))
            .join(Allocation, and_(Allocation.round_id == Round.id, Allocation.fund.is_not(None)))
            .where(*paid)
            .group_by(Round.number, Round.currency, Allocation.fund)
            .order_by(Round.number, func.min(Allocation.id))  # the funds in the charter's order
        )
        numbers = select(Round.number).where(*paid).order_by(Round.number)
        async with self.db.read() as s:
            rounds = list((await s.execute(numbers)).scalars())
            if not rounds:
                return Movement([], [])
            rows = (await s.execute(lines)).all()
            opened = (await s.execute(
                select(GovernanceEvent.data)
                .where(GovernanceEvent.coop_id == coop_id, GovernanceEvent.kind == "round_opened")
            )).scalars()
        opened_with = {data.get("round"): {name for name, _ in data.get("funds", [])} for data in opened}
        totals: dict[tuple[str, str, bool], int] = {}
        for number, currency, fund, amount in rows:
            key = (currency, fund, fund not in opened_with.get(number, set()))
            totals[key] = totals.get(key, 0) + int(amount)
        return Movement(rounds, [FundLine(c, f, a, forfeited) for (c, f, forfeited), a in totals.items()])

    async def closed(self, coop_id: int, since: datetime, until: datetime) -> list[Closed]:
        """Proposals closed (counted, not withdrawn) in [since, until], with their stored results."""
        stmt = (
            select(Proposal.number, Proposal.kind, Proposal.result)
            .where(Proposal.coop_id == coop_id, Proposal.status == "closed",
                   Proposal.ended_at >= since, Proposal.ended_at <= until)
            .order_by(Proposal.number)
        )
        async with self.db.read() as s:
            return [Closed(n, k, r or {}) for n, k, r in (await s.execute(stmt)).all()]

    async def authorship(self, coop_id: int, since: datetime, until: datetime) -> Authorship:
        """Who opened the proposals opened in [since, until]. Whether a member author was a steward
        is read from the event log as it stood when the proposal opened (not their role now), so a
        steward who later stepped down still counts as one for what they proposed then. Two
        statements: the proposals, and the role events of their authors."""
        opened = (
            select(Proposal.author_id, Proposal.opened_at)
            .where(Proposal.coop_id == coop_id, Proposal.opened_at >= since, Proposal.opened_at <= until)
        )
        async with self.db.read() as s:
            proposals = (await s.execute(opened)).all()
            authors = {a for a, _ in proposals if a is not None}
            events = [] if not authors else (await s.execute(
                select(GovernanceEvent.member_id, GovernanceEvent.kind, GovernanceEvent.data, GovernanceEvent.at)
                .where(GovernanceEvent.coop_id == coop_id, GovernanceEvent.at <= until,
                       or_(and_(GovernanceEvent.kind.in_(ROLE_EVENTS), GovernanceEvent.member_id.in_(authors)),
                           GovernanceEvent.kind.in_(list(BULK_ROLE_EVENTS))))
                .order_by(GovernanceEvent.id)
            )).all()
        roles: dict[int, list[tuple[datetime, str]]] = {}
        for member_id, kind, data, at in events:
            if kind in BULK_ROLE_EVENTS:
                for entry in data.get("stewards", []):
                    roles.setdefault(entry["id"], []).append((at, BULK_ROLE_EVENTS[kind]))
                continue
            role = "steward" if kind == "coop_founded" else data.get("role", "member")
            roles.setdefault(member_id, []).append((at, role))
        by_charter = by_stewards = by_members = 0
        for author, at in proposals:
            if author is None:
                by_charter += 1
                continue
            then = [role for moment, role in roles.get(author, []) if moment <= at]
            if then and then[-1] == "steward":
                by_stewards += 1
            else:
                by_members += 1
        return Authorship(by_charter, by_stewards, by_members)

    async def early_closes(
        self, coop_id: int, since: datetime, until: datetime, limit: int = EARLY_CLOSES_LISTED,
    ) -> tuple[list[EarlyClose], int]:
        """Proposals a steward closed before their time in [since, until] (a count by the clock
        leaves `ended_by` empty, a withdrawal is not a close): the first `limit` by number, and
        how many there are in all, in one statement."""
        stmt = (
            select(Proposal.number, Member.display_name, Proposal.end_reason, func.count().over())
            .join(Member, Member.id == Proposal.ended_by)
            .where(Proposal.coop_id == coop_id, Proposal.status == "closed", Proposal.ended_by.is_not(None),
                   Proposal.ended_at >= since, Proposal.ended_at <= until)
            .order_by(Proposal.number)
            .limit(limit)
        )
        async with self.db.read() as s:
            rows = (await s.execute(stmt)).all()
        return [EarlyClose(n, name, reason) for n, name, reason, _ in rows], (rows[0][3] if rows else 0)

    async def firewalls(self, coop_id: int, since: datetime, until: datetime) -> list[Firewall]:
        """The golden share's vetoes and call-ins in [since, until], from the event log, in order."""
        stmt = (select(GovernanceEvent.kind, GovernanceEvent.data, Member.display_name, GovernanceEvent.at)
                .join(Member, Member.id == GovernanceEvent.member_id)
                .where(GovernanceEvent.coop_id == coop_id, GovernanceEvent.kind.in_(("veto", "protected")),
                       GovernanceEvent.at >= since, GovernanceEvent.at <= until)
                .order_by(GovernanceEvent.id))
        async with self.db.read() as s:
            return [Firewall(kind, data["number"], data["org"], name, data.get("reason"), at)
                    for kind, data, name, at in (await s.execute(stmt)).all()]

    async def sunset_votes(self, coop_id: int, since: datetime, until: datetime) -> list[SunsetVote]:
        """Votes on the mandate (the charter's sunset votes and members' renewals) opened or ended
        in [since, until]."""
        opened = and_(Proposal.opened_at >= since, Proposal.opened_at <= until)
        ended = and_(Proposal.ended_at >= since, Proposal.ended_at <= until)
        stmt = (
            select(Proposal.number, Proposal.title, Proposal.status, Proposal.closes_at, Proposal.result,
                   Proposal.author_id)
            .where(Proposal.coop_id == coop_id, Proposal.purpose == "sunset", opened | ended)
            .order_by(Proposal.number)
        )
        async with self.db.read() as s:
            return [SunsetVote(n, t, st, c, r, a is None) for n, t, st, c, r, a in (await s.execute(stmt)).all()]

    async def timeline(self, coop_id: int, since: datetime | None = None, until: datetime | None = None,
                       ) -> list[TimelineEntry]:
        """The drift timeline in [since, until], oldest first: the automatic entries from the event
        log and the members' drift entries (placed when they happened), two statements."""
        events = (
            select(GovernanceEvent.at, GovernanceEvent.kind, GovernanceEvent.data, Member.display_name, Proposal.number)
            .outerjoin(Member, Member.id == GovernanceEvent.member_id)
            .outerjoin(Proposal, Proposal.id == GovernanceEvent.proposal_id)
            .where(GovernanceEvent.coop_id == coop_id, GovernanceEvent.kind.in_(TIMELINE_EVENTS),
                   or_(GovernanceEvent.kind != "proposal_closed", Proposal.purpose == "sunset"))
            .order_by(GovernanceEvent.id)
        )
        drifts = (
            select(Drift.happened_at, Drift.number, Drift.text, Member.display_name, Proposal.number)
            .join(Member, Member.id == Drift.member_id)
            .outerjoin(Proposal, Proposal.id == Drift.proposal_id)
            .where(Drift.coop_id == coop_id)
            .order_by(Drift.number)
        )
        if since is not None:
            events, drifts = events.where(GovernanceEvent.at >= since), drifts.where(Drift.happened_at >= since)
        if until is not None:
            events, drifts = events.where(GovernanceEvent.at <= until), drifts.where(Drift.happened_at <= until)
        async with self.db.read() as s:
            entries = [TimelineEntry(at, kind, data or {}, name, number)
                       for at, kind, data, name, number in (await s.execute(events)).all()]
            entries += [TimelineEntry(at, "drift", {"number": n, "text": text}, name, number)
                        for at, n, text, name, number in (await s.execute(drifts)).all()]
        return sorted(entries, key=lambda e: e.at)  # stable: the log's order among equal times
