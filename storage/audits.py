"""Store for liberation audits: their draws, auditors, verdicts and consequences. Every step is one
transaction that moves the audit's row from one state to the next under its row lock, so a
restart or a second process repeats none and loses none."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from storage.common import announce, claim, insert, log, queue_direct
from storage.db import Database
from storage.draws import DrawSpec, announce_draw
from storage.errors import StoreError
from storage.minutes import post_head
from storage.models import (
    Audit, Auditor, Coop, Draw, GovernanceEvent, Member, Organisation, Proposal, Verdict,
)
from storage.pay import _current as current_pay, ratio_of

# After the verdict, what the audit still has to see to (`Audit.stage`); the due work looks at these.
PENDING_STAGES = ("revision", "assembly", "lapsed", "reseating")
# A pay demand (SPEC 'Firewalls') is an audit row of this reason: no auditors, closed at once with the
# verdict "breach", its revision due; the due work carries it like an audit's revision demand.
PAY = "pay"


class AuditRunning(StoreError):
    """The co-op has an audit that is not closed (the partial unique index said so)."""


class AuditNotOpen(StoreError):
    """The audit is not taking verdicts (drawing, closed, or its window is over)."""


class NotAnAuditor(StoreError):
    """The person was not drawn for this audit."""


@dataclass(frozen=True)
class Seat:
    member_id: int
    name: str
    org: str | None


@dataclass(frozen=True)
class Spoken:
    member_id: int
    name: str
    org: str | None
    grade: str
    findings: str
    at: datetime


@dataclass(frozen=True)
class PayBreach:
    """What handlers.audits.cap_breach finds when an amendment leaves the cap below the ratio."""

    cap: Fraction
    due: datetime


@dataclass(frozen=True)
class Given:
    """What a verdict did: whether it restated an earlier one, and how many auditors have spoken."""

    restated: bool
    spoken: int
    seats: int


class AuditStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, coop_id: int, number: int) -> Audit | None:
        async with self.db.read() as s:
            stmt = select(Audit).where(Audit.coop_id == coop_id, Audit.number == number)
            return (await s.execute(stmt)).scalar_one_or_none()

    async def list(self, coop_id: int) -> list[Audit]:
        async with self.db.read() as s:
            return list((await s.execute(select(Audit).where(Audit.coop_id == coop_id).order_by(Audit.number))).scalars())

    async def by_id(self, audit_id: int) -> Audit:
        async with self.db.read() as s:
            return await s.get(Audit, audit_id)

    async def latest(self, coop_id: int) -> Audit | None:
        async with self.db.read() as s:
            stmt = select(Audit).where(Audit.coop_id == coop_id).order_by(Audit.number.desc()).limit(1)
            return (await s.execute(stmt)).scalar_one_or_none()

    async def running(self, coop_id: int) -> Audit | None:
        """The co-op's audit that is not closed, if any (a pay demand is recorded closed)."""
        async with self.db.read() as s:
            stmt = select(Audit).where(Audit.coop_id == coop_id, Audit.status != "closed")
            return (await s.execute(stmt)).scalars().first()

    async def previous(self, coop_id: int, number: int) -> Audit | None:
        """The latest audit before A<number> that auditors made (pay demands are not audits)."""
        async with self.db.read() as s:
            stmt = (select(Audit).where(Audit.coop_id == coop_id, Audit.number < number, Audit.reason != PAY)
                    .order_by(Audit.number.desc()).limit(1))
            return (await s.execute(stmt)).scalar_one_or_none()

    async def breach(self, audit: Audit) -> tuple[dict, int | None] | None:
        """A pay demand's record (its `pay_breach` event: cap, ratio, due) and the number of the
        proposal whose amendment made it."""
        async with self.db.read() as s:
            stmt = (select(GovernanceEvent.data, Proposal.number)
                    .outerjoin(Proposal, Proposal.id == GovernanceEvent.proposal_id)
                    .where(GovernanceEvent.coop_id == audit.coop_id, GovernanceEvent.kind == "pay_breach")
                    .order_by(GovernanceEvent.id))
            return next(((data, number) for data, number in (await s.execute(stmt)).all()
                         if data.get("number") == audit.number), None)

    async def pending(self) -> list[Audit]:
        """Audits the due work must look at: not closed, or with a consequence still to see to."""
        async with self.db.read() as s:
            stmt = select(Audit).where(or_(Audit.status != "closed", Audit.stage.in_(PENDING_STAGES))).order_by(Audit.id)
            return list((await s.execute(stmt)).scalars())

    async def next_at(self, after: datetime, reminders: Callable[[Audit], Sequence[datetime]]) -> datetime | None:
        """The earliest window end, revision deadline or revision reminder (`reminders` gives an
        audit's) later than `after`, for the clock."""
        async with self.db.read() as s:
            window = select(func.min(Audit.window_ends_at)).where(Audit.status == "open", Audit.window_ends_at > after)
            moments = [(await s.execute(window)).scalar_one_or_none()]
            due = (await s.execute(select(Audit).where(Audit.stage == "revision", Audit.revision_due_at > after))).scalars()
            for audit in due:
                moments += [audit.revision_due_at, *(at for at in reminders(audit) if at > after)]
        return min((m for m in moments if m is not None), default=None)

    async def seats(self, audit_id: int) -> list[Seat]:
        """The auditors seated by the audit's current draw (a redraw's, once redrawn: those drawn
        before it stayed silent and no longer sit)."""
        async with self.db.read() as s:
            audit = await s.get(Audit, audit_id)
            stmt = (select(Auditor.member_id, Member.display_name, Organisation.name)
                    .join(Member, Member.id == Auditor.member_id)
                    .outerjoin(Organisation, Organisation.id == Auditor.org_id)
                    .where(*_current(audit)).order_by(Member.id))
            return [Seat(*row) for row in (await s.execute(stmt)).all()]

    async def verdicts(self, audit_id: int) -> list[Spoken]:
        async with self.db.read() as s:
            return await _verdicts(s, audit_id)

    async def audited_lately(self, coop_id: int, count: int) -> dict[int, int]:
        """Who sat as an auditor in the co-op's last `count` audits: member id → the audit's number."""
        if count <= 0:
            return {}
        async with self.db.read() as s:
            # Only audits count: a pay demand seats no auditors and must not push one out of the window.
            last = (select(Audit.id).where(Audit.coop_id == coop_id, Audit.reason != PAY)
                    .order_by(Audit.number.desc()).limit(count))
            stmt = (select(Auditor.member_id, func.max(Audit.number)).join(Audit, Audit.id == Auditor.audit_id)
                    .where(Audit.id.in_(last.scalar_subquery())).group_by(Auditor.member_id))
            return dict((await s.execute(stmt)).all())

    async def candidates(self, coop_id: int) -> list[tuple[Member, str]]:
        """Allies of the co-op's affiliated organisations, each with its organisation, in register order."""
        async with self.db.read() as s:
            stmt = (select(Member, Organisation.name).join(Organisation, Organisation.id == Member.org_id)
                    .where(Member.coop_id == coop_id, Member.status == "ally", Organisation.status == "affiliated")
                    .order_by(Member.id))
            return [(m, org) for m, org in (await s.execute(stmt)).all()]

    async def revision_pending(self, audit_id: int, by: datetime) -> bool:
        """Whether a proposal answering this audit is still open and decides by `by`."""
        async with self.db.read() as s:
            stmt = select(func.count()).select_from(Proposal).where(
                Proposal.audit_id == audit_id, Proposal.purpose == "revision", Proposal.status == "open",
                Proposal.closes_at <= by)
            return (await s.execute(stmt)).scalar_one() > 0

    async def assembly(self, audit_id: int) -> Proposal | None:
        """The emergency assembly's confidence vote this audit convened, if any."""
        async with self.db.read() as s:
            stmt = select(Proposal).where(Proposal.audit_id == audit_id, Proposal.purpose == "assembly")
            return (await s.execute(stmt)).scalars().first()

    async def start(
        self, coop_id: int, *, reason: str, spec: DrawSpec | None, by: int | None, now: datetime,
        render: Callable[[Audit], str] | None = None, event: tuple[str, str] | None = None,
    ) -> Audit:
        """Open audit A<n> and announce its auditors' draw, in one transaction. Without a draw (no
        ally could be drawn) the audit is recorded at once as closed with no verdict, `render`
        saying why. Raises AuditRunning if another audit of the co-op is not closed."""
        try:
            async with self.db.write() as s:
                await claim(s, event, now)
                await s.get(Coop, coop_id, with_for_update=True)  # numbers are taken one at a time per co-op
                last = (await s.execute(select(func.max(Audit.number)).where(Audit.coop_id == coop_id))).scalar_one()
                audit = Audit(coop_id=coop_id, number=(last or 0) + 1, status="drawing", reason=reason,
                              started_at=now, started_by=by, redrawn=False)
                s.add(audit)
                await s.flush()
                if spec is None:
                    audit.status, audit.closed_at, audit.verdict, audit.stage = "closed", now, "none", "done"
                    await log(s, coop_id, "audit_closed", now, member_id=by, number=audit.number, verdict="none",
                              verdicts=[], drawn=False)
                    await announce(s, coop_id, "audit", render(audit), now)
                    return audit
                d = await announce_draw(s, coop_id, spec, now)
                audit.draw_id = d.id
                await log(s, coop_id, "audit_started", now, member_id=by, number=audit.number, reason=reason,
                          draw=d.number)
                return audit
        except IntegrityError as exc:
            # The partial unique index: another audit of this co-op is running (a race, or a second process).
            if "uq_audit_coop_running" in str(exc.orig) or "audit.coop_id" in str(exc.orig):
                raise AuditRunning() from None
            raise

    async def seat(
        self, audit_id: int, *, now: datetime, window_ends_at: datetime,
        render: Callable[[Audit, Sequence[Seat]], Sequence[str]],
        direct: Callable[[Audit, Sequence[Seat]], Sequence[tuple[str, str, str]]],
    ) -> Audit | None:
        """The auditors' draw is made: seat them and open the audit for verdicts, announce who
        they are, and send each the audit pack (`direct`: (platform, chat, text) rows). None:
        seated already, or the draw is not made yet."""
        async with self.db.write() as s:
            audit, d = await _drawn(s, audit_id, lambda a: a.draw_id if a.status == "drawing" else None)
            if d is None:
                return None
            ids = [seat["id"] for seat in d.result["seated"]]
            rows = (await s.execute(select(Member.id, Member.display_name, Member.org_id, Member.status)
                                    .where(Member.id.in_(ids)))).all()
            found = {row[0]: row for row in rows}
            orgs = dict((await s.execute(select(Organisation.id, Organisation.name)
                                         .where(Organisation.coop_id == audit.coop_id))).all())
            seats = []
            for member_id in ids:
                row = found.get(member_id)
                if row is None or row[3] != "ally":
                    continue  # unallied between the announcement and the draw: the seat stays empty
                s.add(Auditor(audit_id=audit.id, member_id=member_id, org_id=row[2], draw_id=d.id))
                seats.append(Seat(member_id, row[1], orgs.get(row[2])))
            audit.status, audit.window_ends_at = "open", window_ends_at
            await s.flush()
            await log(s, audit.coop_id, "audit_opened", now, number=audit.number, draw=d.number,
                      auditors=[{"id": x.member_id, "name": x.name, "org": x.org} for x in seats],
                      window_ends_at=window_ends_at.isoformat())
            for text in render(audit, seats):
                await announce(s, audit.coop_id, "audit", text, now)
            await queue_direct(s, audit.coop_id, direct(audit, seats), now)
            return audit

    async def give(
        self, audit_id: int, member_id: int, *, grade: str, findings: str, now: datetime,
        event: tuple[str, str] | None = None,
    ) -> Given:
        """An auditor's verdict, or its restatement, while the audit is open: the audit's row lock
        orders it against the close, so no verdict counts after the close."""
        async with self.db.write() as s:
            await claim(s, event, now)
            audit = await _locked(s, audit_id)
            if audit.status != "open" or (audit.window_ends_at is not None and now >= audit.window_ends_at):
                raise AuditNotOpen(audit.status)
            seated = (await s.execute(select(Auditor.member_id).where(*_current(audit)))).scalars().all()
            if member_id not in seated:
                raise NotAnAuditor()
            stmt = insert(s, Verdict).values(audit_id=audit_id, member_id=member_id, grade=grade, findings=findings,
                                             at=now)
            stmt = stmt.on_conflict_do_update(index_elements=["audit_id", "member_id"],
                                              set_={"grade": grade, "findings": findings, "at": now})
            before = (await s.execute(select(func.count()).select_from(Verdict).where(
                Verdict.audit_id == audit_id, Verdict.member_id == member_id))).scalar_one()
            await s.execute(stmt)
            # The minutes record that the auditor spoke; what they said is recorded with all the
            # others at the close, so no grade is shown (even in an export) before they are published together.
            await log(s, audit.coop_id, "verdict", now, member_id=member_id, number=audit.number,
                      restated=bool(before))
            spoken = (await s.execute(select(func.count()).select_from(Verdict)
                                      .where(Verdict.audit_id == audit_id))).scalar_one()
            return Given(bool(before), spoken, len(seated))

    async def close(
        self, audit_id: int, *, now: datetime, decide: Callable[[Audit, Sequence[Spoken]], dict],
        render: Callable[[Audit, Sequence[Spoken], tuple[int, str]], Sequence[str]],
    ) -> Audit | None:
        """Close an open audit whose auditors have all spoken or whose window is over (both read
        under the audit's row lock): the co-op's verdict and what follows (`decide` gives verdict, stage
        and revision_due_at), logged with every finding, announced (one message each) with the
        minutes' head. None: not open, or still waiting for auditors."""
        async with self.db.write() as s:
            audit = await _locked(s, audit_id)
            if audit.status != "open":
                return None
            spoken = await _verdicts(s, audit_id)
            seated = (await s.execute(select(func.count()).select_from(Auditor)
                                      .where(*_current(audit)))).scalar_one()
            over = audit.window_ends_at is not None and now >= audit.window_ends_at
            if not over and (not spoken or len(spoken) < seated):
                return None
            outcome = decide(audit, spoken)
            audit.status, audit.closed_at = "closed", now
            audit.verdict, audit.stage, audit.revision_due_at = (
                outcome["verdict"], outcome["stage"], outcome.get("revision_due_at"))
            await log(s, audit.coop_id, "audit_closed", now, number=audit.number, verdict=audit.verdict,
                      verdicts=[{"id": v.member_id, "name": v.name, "org": v.org, "grade": v.grade,
                                 "findings": v.findings} for v in spoken],
                      revision_due_at=audit.revision_due_at.isoformat() if audit.revision_due_at else None)
            head = await post_head(s, audit.coop_id, now)
            for text in render(audit, spoken, (head.size, head.root)):
                await announce(s, audit.coop_id, "audit", text, now)
            return audit

    async def redraw(self, audit_id: int, spec: DrawSpec, *, now: datetime,
                     render: Callable[[Audit, Draw], str]) -> Audit | None:
        """No auditor spoke in the window: draw the auditors again, once. None: not open, or redrawn before."""
        async with self.db.write() as s:
            audit = await _locked(s, audit_id)
            if audit.status != "open" or audit.redrawn:
                return None
            if (await s.execute(select(func.count()).select_from(Verdict).where(Verdict.audit_id == audit_id))).scalar_one():
                return None
            d = await announce_draw(s, audit.coop_id, spec, now)
            audit.status, audit.draw_id, audit.redrawn, audit.window_ends_at = "drawing", d.id, True, None
            await log(s, audit.coop_id, "audit_redrawn", now, number=audit.number, draw=d.number)
            await announce(s, audit.coop_id, "audit", render(audit, d), now)
            return audit

    async def revision_missed(self, audit_id: int, *, now: datetime, render: Callable[[Audit], str]) -> Audit | None:
        """The revision deadline passed with no revision passed: an emergency assembly is due."""
        async with self.db.write() as s:
            audit = await _locked(s, audit_id)
            if audit.stage != "revision" or audit.revision_due_at is None or now < audit.revision_due_at:
                return None
            audit.stage = "assembly"
            await log(s, audit.coop_id, "revision_missed", now, number=audit.number,
                      due=audit.revision_due_at.isoformat())
            await announce(s, audit.coop_id, "audit", render(audit), now)
            return audit

    async def draw_stewards(self, audit_id: int, spec: DrawSpec, *, now: datetime) -> Audit | None:
        """The assembly withdrew its confidence: announce the draw of the new stewards, once."""
        async with self.db.write() as s:
            audit = await _locked(s, audit_id)
            if audit.stage != "lapsed" or audit.stewards_draw_id is not None:
                return None
            d = await announce_draw(s, audit.coop_id, spec, now)
            audit.stewards_draw_id, audit.stage = d.id, "reseating"
            return audit

    async def reseat(self, audit_id: int, *, now: datetime, render: Callable[[Audit, list[str]], str]) -> Audit | None:
        """The new stewards' draw is made: those seated who are still members become stewards."""
        async with self.db.write() as s:
            audit, d = await _drawn(s, audit_id, lambda a: a.stewards_draw_id if a.stage == "reseating" else None)
            if d is None:
                return None
            ids = [seat["id"] for seat in d.result["seated"]]
            seated = (await s.execute(
                update(Member).where(Member.id.in_(ids), Member.coop_id == audit.coop_id, Member.status == "active")
                .values(role="steward").returning(Member.id, Member.display_name))).all()
            names = [name for _, name in sorted(seated, key=lambda row: ids.index(row[0]))]
            audit.stage = "reseated"
            await log(s, audit.coop_id, "stewards_seated", now, number=audit.number, draw=d.number,
                      stewards=[{"id": i, "name": n} for i, n in seated])
            await announce(s, audit.coop_id, "audit", render(audit, names), now)
            return audit


async def settle(s, proposal: Proposal, carried: bool, now: datetime,
                 judge: Callable[[Proposal, Audit, bool], str | None]) -> None:
    """What closing a proposal does to the audit it answers, inside the close's transaction, as
    `judge` (handlers.audits.settlement) decides: "revised" meets the revision demand; "kept"
    keeps the stewards; "lapsed" lapses every steward role (the due work draws the new ones)."""
    if proposal.audit_id is None:
        return
    audit = await _locked(s, proposal.audit_id)
    effect = judge(proposal, audit, carried)
    if effect is None:
        return
    note: dict = {"number": audit.number, "effect": effect}
    if effect == "lapsed":
        lapsed = [(i, n) for i, n, status in (await s.execute(
            update(Member).where(Member.coop_id == audit.coop_id, Member.role == "steward")
            .values(role="member").returning(Member.id, Member.display_name, Member.status))).all()
            if status == "active"]
        audit.lapsed, note["names"] = sorted(i for i, _ in lapsed), [n for _, n in lapsed]
        await log(s, audit.coop_id, "stewards_lapsed", now, proposal_id=proposal.id, number=audit.number,
                  stewards=[{"id": i, "name": n} for i, n in lapsed])
    else:
        await log(s, audit.coop_id, "revision_met" if effect == "revised" else "stewards_kept", now,
                  proposal_id=proposal.id, number=audit.number)
    audit.stage = effect
    proposal.result = {**proposal.result, "audit": {**note, "reason": audit.reason}}


async def demand(s, proposal: Proposal, before: dict, after: dict, now: datetime,
                 breach: Callable[[dict, dict, Fraction, datetime, int | None], PayBreach | None]) -> Audit | None:
    """A carried amendment changed the co-op's charter from `before` to `after`, in the close's
    transaction, under the co-op row lock the merge took (so the pay read here is the pay a change
    is judged against, and the number is taken one at a time). If `breach`
    (handlers.audits.cap_breach, told the number of a pay demand still pending) finds the
    wage-ratio cap now below the pay scale's ratio, a pay demand A<n> is recorded: closed at once, its revision due when `breach` says."""
    ratio = ratio_of([Fraction(p.hourly) for p in await current_pay(s, proposal.coop_id)])
    pending = (await s.execute(select(Audit.number).where(
        Audit.coop_id == proposal.coop_id, Audit.reason == PAY, Audit.stage == "revision").limit(1))).scalar()
    found = breach(before, after, ratio, now, pending)
    if found is None:
        return None
    last = (await s.execute(select(func.max(Audit.number)).where(Audit.coop_id == proposal.coop_id))).scalar_one()
    # Recorded closed: the partial unique index (one running audit) leaves a running audit alone.
    audit = Audit(coop_id=proposal.coop_id, number=(last or 0) + 1, status="closed", reason=PAY, started_at=now,
                  closed_at=now, verdict="breach", stage="revision", revision_due_at=found.due, redrawn=False)
    s.add(audit)
    await s.flush()
    await log(s, proposal.coop_id, "pay_breach", now, proposal_id=proposal.id, number=audit.number,
              cap=str(found.cap), ratio=str(ratio), due=found.due.isoformat())
    proposal.result = {**proposal.result, "pay_breach": {"number": audit.number, "cap": str(found.cap),
                                                         "ratio": str(ratio), "due": found.due.isoformat()}}
    return audit


async def _drawn(s, audit_id: int, waiting_on: Callable[[Audit], int | None]) -> tuple[Audit, Draw | None]:
    """The audit, locked, and the draw its state waits on (`waiting_on` gives its id, None if the
    audit waits on none), if that draw is made; else None for the draw."""
    audit = await _locked(s, audit_id)
    draw_id = waiting_on(audit)
    d = await s.get(Draw, draw_id) if draw_id is not None else None
    return audit, d if d is not None and d.status == "drawn" else None


def _current(audit: Audit) -> tuple:
    """The seats of the audit's current draw."""
    return Auditor.audit_id == audit.id, Auditor.draw_id == audit.draw_id


async def _locked(s, audit_id: int) -> Audit:
    return (await s.execute(select(Audit).where(Audit.id == audit_id).with_for_update()
                            .execution_options(populate_existing=True))).scalar_one()


async def _verdicts(s, audit_id: int) -> list[Spoken]:
    stmt = (select(Verdict.member_id, Member.display_name, Organisation.name, Verdict.grade, Verdict.findings,
                   Verdict.at)
            .join(Member, Member.id == Verdict.member_id)
            .outerjoin(Auditor, and_(Auditor.audit_id == Verdict.audit_id, Auditor.member_id == Verdict.member_id))
            .outerjoin(Organisation, Organisation.id == Auditor.org_id)
            .where(Verdict.audit_id == audit_id).order_by(Verdict.at, Verdict.member_id))
    return [Spoken(*row) for row in (await s.execute(stmt)).all()]
