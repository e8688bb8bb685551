"""Scheduled work derived from storage: closing on time, deadline reminders, audits, sunset votes."""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from functools import lru_cache
from datetime import datetime, timedelta

from handlers import texts
from handlers.calendar import Cycle, before, cycle
from handlers.charter import Charter, DecisionRule
from handlers.ports import CloseHook
from handlers.proposals import card, close_due
from handlers.tally import DEFAULT_OPTIONS
from handlers.types import PREFIX
from storage.errors import DuplicateEvent
from storage.models import Coop, Proposal
from storage.outbox import SCHEDULE, Scheduled
from storage.stores import Stores

logger = logging.getLogger(__name__)

DIRECT_PLATFORMS = ("telegram", "console")  # where a member can be written to directly by id
DEADLINE_CLAIM = "deadline:"  # claim keys of deadline reminders: deadline:<proposal id>:<offset s>
# Between full looks, a run reads only the reminders whose time came since the last run (and a
# little before it: a proposal committed just after that look, with a reminder due at once, is
# still seen). A full look, at start, after a charter changes and every few minutes, reads every
# reminder reached and not yet claimed.
OVERLAP = timedelta(seconds=5)
FULL_LOOK_EVERY = timedelta(minutes=10)
CHECK = 500  # claim keys per "already handled?" query


@dataclass
class _CoopView:
    """What the due work needs of a co-op; `text` is its charter as stored, to notice a change."""

    id: int
    name: str
    founded_at: datetime
    text: str
    charter: Charter


@dataclass
class _Plan:
    """A co-op's calendar between two of its moments: the audit and sunset cycles and the audit
    reminders reached hold from `start` until `until`, so they are computed once for that span."""

    founded_at: datetime
    text: str
    start: datetime
    until: datetime
    audits: Cycle
    sunsets: Cycle
    reached: tuple[timedelta, ...]
    done: bool = False  # every claim the plan needs is known to be recorded

    def holds(self, view: _CoopView, now: datetime) -> bool:
        return self.founded_at == view.founded_at and self.text == view.text and self.start <= now < self.until


@dataclass
class DueState:
    """What the clock keeps between runs, so a run costs what fell due since the last one and not
    what is pending. It holds no deadline: everything in it is derived from stored rows and derived
    again when they change, so a fresh state (a restart, a test) reaches the same outcome."""

    since: datetime | None = None  # deadline reminders have been looked at up to this moment
    full_at: datetime | None = None  # the last full look
    coops: dict[int, _CoopView] = field(default_factory=dict)
    plans: dict[int, _Plan] = field(default_factory=dict)
    vows_done: set[str] = field(default_factory=set)  # vow reminder claims known to be recorded

    async def refresh(self, stores: Stores) -> bool:
        """Read every co-op's charter (as text; parsed only when it changed). True if a co-op or
        a charter is new since the last run."""
        known = {view.text: view.charter for view in self.coops.values()}
        coops, changed = {}, False
        for coop_id, name, founded_at, text in await stores.coops.schedule_view():
            old = self.coops.get(coop_id)
            if old is not None and old.text == text and old.name == name and old.founded_at == founded_at:
                coops[coop_id] = old
                continue
            changed = changed or old is None or old.text != text
            charter = known.get(text) or Charter.from_json(json.loads(text))
            known[text] = charter
            coops[coop_id] = _CoopView(coop_id, name, founded_at, text, charter)
        changed = changed or len(coops) != len(self.coops)
        self.coops = coops
        self.plans = {coop_id: plan for coop_id, plan in self.plans.items() if coop_id in coops}
        return changed


async def run_due(
    stores: Stores, now: datetime, before_close: tuple[CloseHook, ...] = (), state: DueState | None = None
) -> None:
    """Everything due at `now`, each piece once; safe to run often, late, or in two processes.
    `state` (kept by the clock) makes a run cheap; without it the run looks at everything."""
    state = state if state is not None else DueState()
    await close_due(stores, now, before_close)
    changed = await state.refresh(stores)
    full = (changed or state.since is None or now < state.since or state.full_at is None
            or now - state.full_at >= FULL_LOOK_EVERY)
    await remind_deadlines(stores, now, state, since=None if full else state.since - OVERLAP)
    await remind_vows(stores, now, state)
    await remind_calendar(stores, now, state)
    state.since = now  # only once every step is done: a failed run's span is looked at again
    if full:
        state.full_at = now


async def next_due(stores: Stores, now: datetime, state: DueState) -> datetime | None:
    """The earliest moment after `now` when a close, a deadline reminder or a calendar item falls
    due (index seeks and the plans in memory), so the clock can wake for it on time."""
    moments = [plan.until for plan in state.plans.values()]
    offsets = {int(o.total_seconds()) for view in state.coops.values() for o in view.charter.reminder_offsets}
    reminder = await stores.proposals.next_reminder(now, offsets)
    return min(moments + ([reminder] if reminder is not None else []), default=None)


def _deadline_key(pid: int, offset: timedelta) -> str:
    return f"{DEADLINE_CLAIM}{pid}:{int(offset.total_seconds())}"


async def _handled(stores: Stores, keys: list[str]) -> set[str]:
    done: set[str] = set()
    for i in range(0, len(keys), CHECK):
        done |= await stores.cursors.handled(SCHEDULE, keys[i:i + CHECK])
    return done


async def remind_deadlines(stores: Stores, now: datetime, state: DueState, *, since: datetime | None = None) -> None:
    """Deadline reminders reached and not claimed (whose time came after `since`, if given): the
    latest of each proposal goes out, the ones it supersedes are marked done unsent."""
    offsets = {int(o.total_seconds()) for view in state.coops.values() for o in view.charter.reminder_offsets}
    pending: dict[int, set[timedelta]] = {}
    proposals = {}
    for p, seconds in await stores.proposals.reminders_due(now, offsets, claim=DEADLINE_CLAIM, since=since):
        offset, view = timedelta(seconds=seconds), state.coops.get(p.coop_id)
        if view is not None and offset in view.charter.reminder_offsets:
            pending.setdefault(p.id, set()).add(offset)
            proposals[p.id] = p
    stale_keys, due = [], []
    for pid in sorted(pending, key=lambda pid: (proposals[pid].closes_at, pid)):  # closing order
        p = proposals[pid]
        latest = min(o for o in state.coops[p.coop_id].charter.reminder_offsets if p.closes_at - o <= now)
        # Reminders the proposal opened too late for, or that a downtime left behind, are skipped:
        # members get one reminder, not a burst.
        stale = [o for o in pending[pid] if o != latest or p.closes_at - o <= p.opened_at]
        stale_keys += [_deadline_key(pid, o) for o in stale]
        if latest in pending[pid] and latest not in stale:
            due.append((p, latest))
    await stores.outbox.skip(stale_keys, now)
    if not due:
        return
    missing = await stores.proposals.non_voters_of(p.id for p, _ in due)
    items = [_deadline_reminder(p, state.coops[p.coop_id], missing[p.id], now, _deadline_key(p.id, o)) for p, o in due]
    await stores.outbox.announce_many(items, now)


def _deadline_reminder(
    p, coop: _CoopView, missing: list[tuple[int, list[tuple[str, str]]]], now: datetime, key: str
) -> Scheduled:
    voters = p.electorate_size - len(missing)
    rule = _rule(p.rule["quorum"], p.rule["threshold"], p.rule["strict"])
    more = max(0, math.ceil(rule.quorum * p.electorate_size) - voters)
    quorum_line = texts.QUORUM_NEEDS.format(more=more, s="" if more == 1 else "s") if more else texts.QUORUM_REACHED
    tz, left = coop.charter.tz, texts.span(p.closes_at - now)
    text = texts.DEADLINE_REMINDER.format(
        number=p.number, title=p.title, left=left, when=texts.when(p.closes_at, tz), missing=len(missing),
        electorate=p.electorate_size, quorum_line=quorum_line, prefix=texts.PREFIX_MARK,
    )
    direct = tuple(
        (platform, user_id, texts.DEADLINE_DIRECT.format(
            number=p.number, title=p.title, coop=coop.name, left=left, when=texts.when(p.closes_at, tz)))
        for _, accounts in missing
        for platform, user_id in accounts
        if platform in DIRECT_PLATFORMS
    )
    return Scheduled(key, p.coop_id, "reminder", text, proposal_id=p.id, direct=direct)


@lru_cache(maxsize=64)
def _rule(quorum: str, threshold: str, strict: bool) -> DecisionRule:
    # A thousand reminders at once share a handful of rules: parse each once.
    return DecisionRule.from_json({"quorum": quorum, "threshold": threshold, "strict": strict})


async def remind_vows(stores: Stores, now: datetime, state: DueState) -> None:
    """Members owed a share who have not vowed hear about it: before the payout date, or every few
    days when none is set."""
    plans = []
    for r in await stores.rounds.open_rounds():
        view = state.coops.get(r.coop_id)
        if view is None:
            continue  # a co-op founded after this run's look: the next run sees it
        charter = view.charter
        if r.payout_at is not None:
            reached = [o for o in charter.vow_reminders if r.payout_at - o <= now]
            if not reached:
                continue
            keys = {o: f"vow:{r.id}:{int(o.total_seconds())}" for o in reached}
            latest = min(reached)
            plans.append((r, view, keys[latest], [keys[o] for o in reached if o != latest]))
        else:
            n = int((now - r.opened_at) / charter.vow_every)
            if n >= 1:
                plans.append((r, view, f"vow:{r.id}:every:{n}", []))
    keys = [k for _, _, key, stale in plans for k in (key, *stale)]
    done = state.vows_done & set(keys)
    done |= await _handled(stores, [k for k in keys if k not in done])
    await stores.outbox.skip([k for _, _, _, stale in plans for k in stale if k not in done], now)
    for r, view, key, stale in plans:
        if key in done:
            continue
        missing = await stores.rounds.missing_vows(r.id)
        if not missing:
            continue  # nobody to remind now; looked at again next run, as someone may be owed later
        names = ", ".join(m.display_name for m in missing)
        count = len(missing)
        text = texts.VOW_REMINDER.format(number=r.number, count=count, s="" if count == 1 else "s",
                                         have="has" if count == 1 else "have", names=names, prefix=texts.PREFIX_MARK)
        direct_text = texts.VOW_DIRECT.format(number=r.number, coop=view.name, prefix=texts.PREFIX_MARK)
        accounts = await stores.members.accounts(view.id)
        owed = {m.id for m in missing}
        direct = tuple((a.platform, a.user_id, direct_text) for a in accounts
                       if a.member_id in owed and a.platform in DIRECT_PLATFORMS)
        await stores.outbox.announce_many([Scheduled(key, view.id, "reminder", text, direct=direct)], now)
        done.add(key)
    state.vows_done = done | set(k for _, _, _, stale in plans for k in stale)


def _plan(view: _CoopView, now: datetime) -> _Plan:
    charter = view.charter
    tz = charter.tz
    audits = cycle(view.founded_at, tz, charter.audit_every_months, now)
    sunsets = cycle(view.founded_at, tz, charter.sunset_every_months, now)
    moments = {o: before(audits.next_at, tz, o) for o in charter.audit_reminders}
    reached = tuple(o for o in charter.audit_reminders if moments[o] <= now)
    until = min([audits.next_at, sunsets.next_at, *(m for m in moments.values() if m > now)])
    return _Plan(view.founded_at, view.text, now, until, audits, sunsets, reached)


async def remind_calendar(stores: Stores, now: datetime, state: DueState) -> None:
    """Liberation audit notices and reminders, and sunset votes, for every co-op. A co-op whose
    calendar has not moved since its claims were last seen recorded costs nothing."""
    work: list[tuple[_CoopView, _Plan]] = []
    for view in state.coops.values():
        plan = state.plans.get(view.id)
        if plan is None or not plan.holds(view, now):
            plan = state.plans[view.id] = _plan(view, now)
        if not plan.done:
            work.append((view, plan))
    if not work:
        return
    keyed = [(view, plan, _calendar_keys(view.id, plan)) for view, plan in work]
    done = await _handled(stores, [k for _, _, keys in keyed for k in _all_keys(keys)])
    news, stale, sunsets = [], [], []
    for view, plan, (notice, reminders, latest, sunset) in keyed:
        tz = view.charter.tz
        if notice is not None and notice not in done:
            text = texts.AUDIT_DUE.format(coop=view.name, when=texts.when(plan.audits.last_at, tz))
            news.append(Scheduled(notice, view.id, "audit", text))
        stale += [k for o, k in reminders.items() if o != latest and k not in done]
        if latest is not None and reminders[latest] not in done:
            text = texts.AUDIT_REMINDER.format(
                coop=view.name, left=texts.span(plan.audits.next_at - now), when=texts.when(plan.audits.next_at, tz)
            )
            news.append(Scheduled(reminders[latest], view.id, "audit", text))
        if sunset is not None and sunset not in done:
            sunsets.append((view, plan, sunset))
    await stores.outbox.skip(stale, now)
    await stores.outbox.announce_many(news, now)
    waiting = set()  # co-ops whose sunset vote cannot open yet (no steward): tried again next run
    for view, plan, key in sunsets:
        if not await open_sunset_vote(stores, view, view.charter, now, key):
            waiting.add(view.id)
    for view, plan in work:
        plan.done = view.id not in waiting


def _calendar_keys(
    coop_id: int, plan: _Plan
) -> tuple[str | None, dict[timedelta, str], timedelta | None, str | None]:
    """The claims a plan needs: the audit notice, the audit reminders reached (by offset) and the
    latest of them, the sunset vote."""
    notice = f"audit:{coop_id}:{plan.audits.last_n}:0" if plan.audits.last_n >= 1 else None
    reminders = {o: f"audit:{coop_id}:{plan.audits.next_n}:{int(o.total_seconds())}" for o in plan.reached}
    latest = min(plan.reached) if plan.reached else None
    sunset = f"sunset:{coop_id}:{plan.sunsets.last_n}" if plan.sunsets.last_n >= 1 else None
    return notice, reminders, latest, sunset


def _all_keys(keys) -> list[str]:
    notice, reminders, _, sunset = keys
    return [k for k in (notice, *reminders.values(), sunset) if k is not None]


async def open_sunset_vote(stores: Stores, coop: Coop | _CoopView, charter: Charter, now: datetime, key: str) -> bool:
    """The re-founding vote opens by itself, as a constitutional proposal, once. False if it
    cannot open yet (no active steward to author it)."""
    register = await stores.members.register(coop.id)
    stewards = [m for m in register if m.status == "active" and m.role == "steward"]
    if not stewards:
        return False
    author = stewards[0]  # the proposal needs an author; the charter itself is, through a steward
    rule = charter.rule("constitutional")
    try:
        await stores.proposals.open(
            coop.id, author_id=author.id, title=texts.SUNSET_TITLE,
            body=texts.SUNSET_BODY.format(months=charter.sunset_every_months), kind="constitutional",
            ballot="open", options=list(DEFAULT_OPTIONS), rule=rule.to_json(),
            closes_at=now + charter.voting_period, now=now, purpose="sunset",
            card=lambda p: card(p, charter, author.display_name, [0, 0, 0], 0, PREFIX["console"]),
            event=(SCHEDULE, key),
        )
    except DuplicateEvent:
        pass  # opened already, by an earlier run or another process
    return True
