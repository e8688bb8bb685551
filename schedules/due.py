"""The due work, run by the clock: closing on time, draws at their time, deadline, vow and audit
reminders, sunset votes. Each step reads what is due from storage, lets handlers.due decide, and writes the result."""

from __future__ import annotations

from datetime import datetime, timedelta

from handlers.due import (
    DEADLINE_CLAIM, CalendarClaims, CalendarPlan, CoopView, calendar_claims, calendar_due, deadline_reminder,
    deadlines_due, open_sunset_vote, vow_reminder, vows_due,
)
from handlers.audits import audits_due, revision_reminders, start_due
from handlers import i18n, rituals
from handlers.context import in_language_of
from handlers.lottery import draw_due
from handlers.rituals import rituals_due
from handlers.ports import LastLooks
from handlers.proposals import close_due
from schedules.state import DueState
from storage.outbox import SCHEDULE
from storage.stores import Stores

# Between full looks, a run reads only the reminders whose time came since the last run (and a
# little before it: a proposal committed just after that look, with a reminder due at once, is
# still seen). A full look, at start, after a charter changes and every few minutes, reads every
# reminder reached and not yet claimed.
OVERLAP = timedelta(seconds=5)
FULL_LOOK_EVERY = timedelta(minutes=10)
CHECK = 500  # claim keys per "already handled?" query


async def run_due(
    stores: Stores, now: datetime, before_close: LastLooks, state: DueState | None = None
) -> None:
    """Everything due at `now`, each piece once; safe to run often, late, or in two processes.
    `state` (kept by the clock) makes a run cheap; without it the run looks at everything."""
    state = state if state is not None else DueState()
    await close_due(stores, now, before_close)
    await draw_due(stores, now)
    await audits_due(stores, now)
    await rituals_due(stores, now)
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
    due (one statement for the closes and every reminder offset, and the plans in memory), so the
    clock can wake for it on time."""
    moments = [plan.until for plan in state.plans.values()]
    offsets = {int(o.total_seconds()) for view in state.coops.values() for o in view.charter.reminder_offsets}
    reminder = await stores.proposals.next_reminder(now, offsets)
    draw = await stores.draws.next_at(now)
    audit = await stores.audits.next_at(now, lambda a: [at for _, at in revision_reminders(state.coops[a.coop_id].charter, a)]
                                        if a.coop_id in state.coops else [])
    ritual = await stores.rituals.next_at(now)
    return min(moments + [m for m in (reminder, draw, audit, ritual) if m is not None], default=None)


async def _handled(stores: Stores, keys: list[str]) -> set[str]:
    done: set[str] = set()
    for i in range(0, len(keys), CHECK):
        done |= await stores.cursors.handled(SCHEDULE, keys[i:i + CHECK])
    return done


async def remind_deadlines(stores: Stores, now: datetime, state: DueState, *, since: datetime | None = None) -> None:
    """Deadline reminders reached and not claimed (whose time came after `since`, if given)."""
    offsets = {int(o.total_seconds()) for view in state.coops.values() for o in view.charter.reminder_offsets}
    rows = await stores.proposals.reminders_due(now, offsets, claim=DEADLINE_CLAIM, since=since)
    work = deadlines_due(rows, state.coops, now)
    await stores.outbox.skip(list(work.skip), now)
    if not work.send:
        return
    missing = await stores.proposals.non_voters_of(due.proposal.id for due in work.send)
    own = await stores.members.languages({due.proposal.coop_id for due in work.send})
    items = [i18n.within(state.coops[due.proposal.coop_id].charter.language, deadline_reminder,
                         due, state.coops[due.proposal.coop_id], missing[due.proposal.id], now, own)
             for due in work.send]
    await stores.outbox.announce_many(items, now)


async def remind_vows(stores: Stores, now: datetime, state: DueState) -> None:
    """Vow reminders due and not yet claimed; each names who still owes a vow."""
    found = vows_due(await stores.rounds.open_rounds(), state.coops, now)
    keys = [k for due in found for k in (due.key, *due.stale)]
    done = state.vows_done & set(keys)
    done |= await _handled(stores, [k for k in keys if k not in done])
    await stores.outbox.skip([k for due in found for k in due.stale if k not in done], now)
    for due in found:
        if due.key in done:
            continue
        missing = await stores.rounds.missing_vows(due.round.id)
        if not missing:
            continue  # nobody to remind now; looked at again next run, as someone may be owed later
        accounts = await stores.members.accounts(due.coop.id)
        await stores.outbox.announce_many([i18n.within(due.coop.charter.language, vow_reminder, due, missing, accounts)],
                                          now)
        done.add(due.key)
    state.vows_done = done | set(k for due in found for k in due.stale)


async def remind_calendar(stores: Stores, now: datetime, state: DueState) -> None:
    """Liberation audit notices and reminders, sunset votes, mirror shifts (and their reminders)
    and adversary drills, for every co-op. A co-op whose
    calendar has not moved since its claims were last seen recorded costs nothing."""
    work: list[tuple[CoopView, CalendarPlan, CalendarClaims]] = []
    for view in state.coops.values():
        plan = state.plan(view, now)
        if view.id not in state.planned:
            work.append((view, plan, calendar_claims(view.id, plan)))
    if not work:
        return
    done = await _handled(stores, [k for _, _, claims in work for k in claims.keys()])
    due = calendar_due(work, done, now)
    await stores.outbox.skip(list(due.skip), now)
    await stores.outbox.announce_many(list(due.send), now)
    for coop_id, key in due.audits:
        async with in_language_of(stores, coop_id):
            await start_due(stores, coop_id, now, key)
    for sunset in due.sunsets:
        with i18n.use(sunset.coop.charter.language):
            await open_sunset_vote(stores, sunset.coop, sunset.coop.charter, now, sunset.key)
    for coop_id, key in due.mirrors:
        await rituals.start_due(stores, "mirror", coop_id, now, key)
    for coop_id, key in due.drills:
        await rituals.start_due(stores, "drill", coop_id, now, key)
    state.planned |= {view.id for view, _, _ in work}
