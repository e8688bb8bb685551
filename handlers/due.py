"""What is due at a moment, decided from stored rows: which deadline, vow and audit reminders to
send, which to skip, which sunset votes to open (pure, but for opening a sunset vote)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache

from handlers import i18n, texts
from handlers.calendar import Cycle, before, cycle
from handlers.charter import Charter, DecisionRule
from handlers.tally import DEFAULT_OPTIONS
from storage.errors import DuplicateEvent
from storage.models import Coop
from storage.outbox import SCHEDULE, Scheduled
from storage.stores import Stores

DIRECT_PLATFORMS = ("telegram", "console")  # where a member can be written to directly by id
MIRROR_REMINDERS = (timedelta(days=7), timedelta(days=1))  # before each mirror shift (SPEC "Rituals")
RITUAL_GRACE = timedelta(days=7)  # a mirror shift or drill still begins this long after its time
DEADLINE_CLAIM = "deadline:"  # claim keys of deadline reminders: deadline:<proposal id>:<offset s>


@dataclass(frozen=True)
class CoopView:
    """What the due work needs of a co-op; `text` is its charter as stored, to notice a change."""

    id: int
    name: str
    founded_at: datetime
    text: str
    charter: Charter


# --- deadline reminders ---
@dataclass(frozen=True)
class DeadlineDue:
    """A deadline reminder to send now: the proposal (a row of the columns a reminder shows), the
    offset reached and its claim key."""

    proposal: object
    offset: timedelta
    key: str


@dataclass(frozen=True)
class DeadlineWork:
    send: tuple[DeadlineDue, ...]
    skip: tuple[str, ...]  # claim keys to mark done unsent


def deadline_key(pid: int, offset: timedelta) -> str:
    return f"{DEADLINE_CLAIM}{pid}:{int(offset.total_seconds())}"


def deadlines_due(rows: Iterable[tuple[object, int]], coops: Mapping[int, CoopView], now: datetime) -> DeadlineWork:
    """From (proposal, offset in seconds) reached and not claimed: the latest reminder of each
    proposal is sent; those it supersedes, and those the proposal opened too late for or that a
    downtime left behind, are skipped, so members get one reminder, not a burst."""
    pending: dict[int, set[timedelta]] = {}
    proposals = {}
    for p, seconds in rows:
        offset, view = timedelta(seconds=seconds), coops.get(p.coop_id)
        if view is not None and offset in view.charter.reminder_offsets:
            pending.setdefault(p.id, set()).add(offset)
            proposals[p.id] = p
    skip, send = [], []
    for pid in sorted(pending, key=lambda pid: (proposals[pid].closes_at, pid)):  # closing order
        p = proposals[pid]
        latest = min(o for o in coops[p.coop_id].charter.reminder_offsets if p.closes_at - o <= now)
        stale = [o for o in pending[pid] if o != latest or p.closes_at - o <= p.opened_at]
        skip += [deadline_key(pid, o) for o in stale]
        if latest in pending[pid] and latest not in stale:
            send.append(DeadlineDue(p, latest, deadline_key(pid, latest)))
    return DeadlineWork(tuple(send), tuple(skip))


def deadline_reminder(
    due: DeadlineDue, coop: CoopView, missing: list[tuple[int, list[tuple[str, str]]]], now: datetime,
    own: Mapping[int, str] | None = None,
) -> Scheduled:
    """The room's reminder (who has not voted, what quorum still needs) and a direct word to each
    non-voter a platform lets the bot write to, in the language they chose (`own`), if they did."""
    p = due.proposal
    voters = p.electorate_size - len(missing)
    rule = _rule(p.rule["quorum"], p.rule["threshold"], p.rule["strict"])
    more = max(0, math.ceil(rule.quorum * p.electorate_size) - voters)
    quorum_line = (texts.QUORUM_NEEDS.format(votes=texts.plural(more, "more vote", "more votes")) if more
                   else texts.QUORUM_REACHED)
    tz, left = coop.charter.tz, texts.span(p.closes_at - now)
    text = texts.DEADLINE_REMINDER.format(
        number=p.number, title=p.title, left=left, when=texts.when(p.closes_at, tz), missing=len(missing),
        electorate=p.electorate_size, quorum_line=quorum_line, prefix=texts.PREFIX_MARK,
    )
    def word(member_id: int) -> str:
        with i18n.use(i18n.first((own or {}).get(member_id), coop.charter.language)):
            return texts.DEADLINE_DIRECT.format(number=p.number, title=p.title, coop=coop.name,
                                                left=texts.span(p.closes_at - now), when=texts.when(p.closes_at, tz))

    direct = tuple(
        (platform, user_id, word(member_id))
        for member_id, accounts in missing
        for platform, user_id in accounts
        if platform in DIRECT_PLATFORMS
    )
    return Scheduled(due.key, p.coop_id, "reminder", text, proposal_id=p.id, direct=direct)


@lru_cache(maxsize=64)
def _rule(quorum: str, threshold: str, strict: bool) -> DecisionRule:
    # A thousand reminders at once share a handful of rules: parse each once.
    return DecisionRule.from_json({"quorum": quorum, "threshold": threshold, "strict": strict})


# --- vow reminders ---
@dataclass(frozen=True)
class VowDue:
    """A vow reminder of an open round that may be due: its claim key, and the keys of the
    earlier reminders it supersedes (skipped unsent)."""

    round: object
    coop: CoopView
    key: str
    stale: tuple[str, ...]


def vows_due(rounds: Iterable, coops: Mapping[int, CoopView], now: datetime) -> list[VowDue]:
    """Members owed a share who have not vowed hear about it: before the payout date, or every
    `vow_every` when none is set."""
    found = []
    for r in rounds:
        view = coops.get(r.coop_id)
        if view is None:
            continue  # a co-op founded after this run's look: the next run sees it
        charter = view.charter
        if r.payout_at is not None:
            reached = [o for o in charter.vow_reminders if r.payout_at - o <= now]
            if not reached:
                continue
            keys = {o: f"vow:{r.id}:{int(o.total_seconds())}" for o in reached}
            latest = min(reached)
            found.append(VowDue(r, view, keys[latest], tuple(keys[o] for o in reached if o != latest)))
        else:
            n = int((now - r.opened_at) / charter.vow_every)
            if n >= 1:
                found.append(VowDue(r, view, f"vow:{r.id}:every:{n}", ()))
    return found


def vow_reminder(due: VowDue, missing: Sequence, accounts: Iterable) -> Scheduled:
    """The room's reminder naming who has not vowed, and a direct word to each of them (in the
    language each chose, if they did)."""
    names = ", ".join(m.display_name for m in missing)
    owed = texts.plural(len(missing), "member owed a share has", "members owed a share have")
    text = texts.VOW_REMINDER.format(number=due.round.number, owed=owed, names=names, prefix=texts.PREFIX_MARK)
    own = {m.id: getattr(m, "language", None) for m in missing}

    def word(member_id: int) -> str:
        with i18n.use(i18n.first(own[member_id], due.coop.charter.language)):
            return texts.VOW_DIRECT.format(number=due.round.number, coop=due.coop.name, prefix=texts.PREFIX_MARK)

    direct = tuple((a.platform, a.user_id, word(a.member_id)) for a in accounts
                   if a.member_id in own and a.platform in DIRECT_PLATFORMS)
    return Scheduled(due.key, due.coop.id, "reminder", text, direct=direct)


# --- the calendar: liberation audits and sunset votes ---
@dataclass(frozen=True)
class CalendarPlan:
    """A co-op's calendar between two of its moments: the audit and sunset cycles and the audit
    reminders reached hold from `start` until `until`, so they are computed once for that span."""

    founded_at: datetime
    text: str
    start: datetime
    until: datetime
    audits: Cycle
    sunsets: Cycle
    reached: tuple[timedelta, ...]
    mirrors: Cycle | None = None
    drills: Cycle | None = None
    mirror_reached: tuple[timedelta, ...] = ()
    mirror_every: int = 0
    drill_every: int = 0

    def holds(self, view: CoopView, now: datetime) -> bool:
        return self.founded_at == view.founded_at and self.text == view.text and self.start <= now < self.until


def plan_calendar(view: CoopView, now: datetime) -> CalendarPlan:
    charter = view.charter
    tz = charter.tz
    audits = cycle(view.founded_at, tz, charter.audit_every_months, now)
    sunsets = cycle(view.founded_at, tz, charter.sunset_every_months, now)
    moments = {o: before(audits.next_at, tz, o) for o in charter.audit_reminders}
    reached = tuple(o for o in charter.audit_reminders if moments[o] <= now)
    mirrors = cycle(view.founded_at, tz, charter.mirror_every_months, now)
    drills = cycle(view.founded_at, tz, charter.drill_every_months, now)
    mirror_moments = {o: before(mirrors.next_at, tz, o) for o in MIRROR_REMINDERS}
    mirror_reached = tuple(o for o in MIRROR_REMINDERS if mirror_moments[o] <= now)
    until = min([audits.next_at, sunsets.next_at, mirrors.next_at, drills.next_at,
                 *(m for m in [*moments.values(), *mirror_moments.values()] if m > now)])
    return CalendarPlan(view.founded_at, view.text, now, until, audits, sunsets, reached, mirrors, drills,
                        mirror_reached, charter.mirror_every_months, charter.drill_every_months)


@dataclass(frozen=True)
class CalendarClaims:
    """The claims a plan needs: the audit notice, the audit reminders reached (by offset) and the
    latest of them, the sunset vote."""

    notice: str | None
    reminders: Mapping[timedelta, str]
    latest: timedelta | None
    sunset: str | None
    mirror: str | None = None  # the mirror shift that fell due
    mirror_reminders: Mapping[timedelta, str] = field(default_factory=dict)
    drill: str | None = None  # the adversary drill that fell due

    def keys(self) -> list[str]:
        return [k for k in (self.notice, *self.reminders.values(), self.sunset, self.mirror,
                            *self.mirror_reminders.values(), self.drill) if k is not None]


def calendar_claims(coop_id: int, plan: CalendarPlan) -> CalendarClaims:
    mirrors, drills = plan.mirrors, plan.drills
    return CalendarClaims(
        notice=f"audit:{coop_id}:{plan.audits.last_n}:0" if plan.audits.last_n >= 1 else None,
        reminders={o: f"audit:{coop_id}:{plan.audits.next_n}:{int(o.total_seconds())}" for o in plan.reached},
        latest=min(plan.reached) if plan.reached else None,
        sunset=f"sunset:{coop_id}:{plan.sunsets.last_n}" if plan.sunsets.last_n >= 1 else None,
        mirror=_ritual_key("mirror", coop_id, plan.mirror_every, mirrors, plan.start),
        mirror_reminders={o: f"mirror:{coop_id}:{plan.mirror_every}m:{mirrors.next_n}:{int(o.total_seconds())}"
                          for o in plan.mirror_reached} if mirrors else {},
        drill=_ritual_key("drill", coop_id, plan.drill_every, drills, plan.start),
    )


def _ritual_key(kind: str, coop_id: int, every: int, c: Cycle | None, now: datetime) -> str | None:
    """The claim of the mirror shift or drill that fell due last, if it fell due within
    RITUAL_GRACE: a downtime of days still holds it, but one long past (a co-op that ran before
    rituals existed, a bot down for weeks) is passed over, not sprung on the co-op at once. The
    interval is in the key, so an amended interval starts its own count (none skipped as claimed)."""
    if c is None or c.last_n < 1 or now - c.last_at > RITUAL_GRACE:
        return None
    return f"{kind}:{coop_id}:{every}m:{c.last_n}:0"


@dataclass(frozen=True)
class SunsetDue:
    coop: CoopView
    key: str


@dataclass(frozen=True)
class CalendarWork:
    send: tuple[Scheduled, ...]  # the latest audit reminder
    skip: tuple[str, ...]  # audit reminders superseded by a later one
    sunsets: tuple[SunsetDue, ...]  # sunset votes to open
    audits: tuple[tuple[int, str], ...] = ()  # audits falling due: (co-op id, claim key)
    mirrors: tuple[tuple[int, str], ...] = ()  # mirror shifts falling due: (co-op id, claim key)
    drills: tuple[tuple[int, str], ...] = ()  # adversary drills falling due


def calendar_due(
    work: Iterable[tuple[CoopView, CalendarPlan, CalendarClaims]], done: set[str], now: datetime
) -> CalendarWork:
    """What the plans ask for that `done` (the claims already recorded) does not hold."""
    send, skip, sunsets, audits, mirrors, drills = [], [], [], [], [], []
    for view, plan, claims in work:
        with i18n.use(view.charter.language):  # each co-op's reminders in its own language
            tz = view.charter.tz
            if claims.notice is not None and claims.notice not in done:
                audits.append((view.id, claims.notice))  # the audit opens (handlers.audits.start_due)
            skip += [k for o, k in claims.reminders.items() if o != claims.latest and k not in done]
            if claims.latest is not None and claims.reminders[claims.latest] not in done:
                text = texts.AUDIT_REMINDER.format(
                    coop=view.name, left=texts.span(plan.audits.next_at - now), when=texts.when(plan.audits.next_at, tz)
                )
                send.append(Scheduled(claims.reminders[claims.latest], view.id, "audit", text))
            if claims.sunset is not None and claims.sunset not in done:
                sunsets.append(SunsetDue(view, claims.sunset))
            if claims.mirror is not None and claims.mirror not in done:
                mirrors.append((view.id, claims.mirror))  # the shift begins (handlers.rituals.start_due)
            if claims.drill is not None and claims.drill not in done:
                drills.append((view.id, claims.drill))
            if claims.mirror_reminders:
                # As audit reminders: the latest reached is sent once, those it supersedes are skipped.
                latest = min(claims.mirror_reminders)
                skip += [k for o, k in claims.mirror_reminders.items() if o != latest and k not in done]
                if claims.mirror_reminders[latest] not in done:
                    text = texts.MIRROR_REMINDER.format(coop=view.name, left=texts.span(plan.mirrors.next_at - now),
                                                        when=texts.when(plan.mirrors.next_at, tz),
                                                        prefix=texts.PREFIX_MARK)
                    send.append(Scheduled(claims.mirror_reminders[latest], view.id, "ritual", text))
    return CalendarWork(tuple(send), tuple(skip), tuple(sunsets), tuple(audits), tuple(mirrors), tuple(drills))


async def open_sunset_vote(stores: Stores, coop: Coop | CoopView, charter: Charter, now: datetime, key: str) -> None:
    """The re-founding vote opens by itself, as a constitutional proposal, once. Its author is
    the charter (no member), so no one can withdraw it or close it early."""
    rule = charter.rule("constitutional")
    try:
        await stores.proposals.open(
            coop.id, author_id=None, title=texts.SUNSET_TITLE,
            body=texts.SUNSET_BODY.format(months=charter.sunset_every_months), kind="constitutional",
            ballot="open", options=list(DEFAULT_OPTIONS), rule=rule.to_json(),
            closes_at=now + charter.voting_period, now=now, purpose="sunset",
            event=(SCHEDULE, key),
        )
    except DuplicateEvent:
        pass  # opened already, by an earlier run or another process
