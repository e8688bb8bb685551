"""Scheduled work derived from storage: closing on time, deadline reminders, audits, sunset votes."""

from __future__ import annotations

import logging
import math
from datetime import datetime, timedelta

from handlers import texts
from handlers.calendar import before, cycle
from handlers.charter import Charter, DecisionRule
from handlers.context import Context
from handlers.members import mandate_line, no_extras
from handlers.parsing import Command
from handlers.ports import CloseHook
from handlers.proposals import card, close_due
from handlers.tally import DEFAULT_OPTIONS
from handlers.types import PREFIX, Reply
from storage.errors import DuplicateEvent
from storage.models import Coop, Proposal
from storage.outbox import SCHEDULE
from storage.stores import Stores

logger = logging.getLogger(__name__)

MAX_REMINDER_OFFSET = timedelta(days=60)  # the longest charter offset the deadline scan looks ahead
DIRECT_PLATFORMS = ("telegram", "console")  # where a member can be written to directly by id


async def run_due(stores: Stores, now: datetime, before_close: tuple[CloseHook, ...] = ()) -> None:
    """Everything due at `now`, each piece once; safe to run often, late, or in two processes."""
    await close_due(stores, now, before_close)
    await remind_deadlines(stores, now)
    await remind_vows(stores, now)
    for coop in await stores.coops.list():
        await _calendar(stores, coop, now)


def _deadline_key(p: Proposal, offset: timedelta) -> str:
    return f"deadline:{p.id}:{int(offset.total_seconds())}"


async def remind_deadlines(stores: Stores, now: datetime) -> None:
    charters: dict[int, Charter] = {}
    for p in await stores.proposals.closing_within(now, MAX_REMINDER_OFFSET):
        if p.coop_id not in charters:
            charters[p.coop_id] = Charter.from_json((await stores.coops.get(p.coop_id)).charter)
        charter = charters[p.coop_id]
        reached = [o for o in charter.reminder_offsets if p.closes_at - o <= now]
        if not reached:
            continue
        keys = {o: _deadline_key(p, o) for o in reached}
        done = await stores.cursors.handled(SCHEDULE, list(keys.values()))
        pending = [o for o in reached if keys[o] not in done]
        if not pending:
            continue
        latest = min(reached)  # the reminder nearest the deadline is the one that matters now
        # Reminders the proposal opened too late for, or that a downtime left behind, are skipped:
        # members get one reminder, not a burst.
        stale = [o for o in pending if o != latest or p.closes_at - o <= p.opened_at]
        await stores.outbox.skip([keys[o] for o in stale], now)
        if latest in pending and latest not in stale:
            await _send_deadline_reminder(stores, p, charter, now, keys[latest])


async def _send_deadline_reminder(stores: Stores, p: Proposal, charter: Charter, now: datetime, key: str) -> None:
    coop = await stores.coops.get(p.coop_id)
    missing = await stores.proposals.non_voters(p.id)
    voters = p.electorate_size - len(missing)
    rule = DecisionRule.from_json(p.rule)
    more = max(0, math.ceil(rule.quorum * p.electorate_size) - voters)
    quorum_line = texts.QUORUM_NEEDS.format(more=more, s="" if more == 1 else "s") if more else texts.QUORUM_REACHED
    tz, left = charter.tz, texts.span(p.closes_at - now)
    text = texts.DEADLINE_REMINDER.format(
        number=p.number, title=p.title, left=left, when=texts.when(p.closes_at, tz), missing=len(missing),
        electorate=p.electorate_size, quorum_line=quorum_line, prefix=texts.PREFIX_MARK,
    )
    direct = [
        (account.platform, account.user_id, texts.DEADLINE_DIRECT.format(
            number=p.number, title=p.title, coop=coop.name, left=left, when=texts.when(p.closes_at, tz)))
        for _, accounts in missing
        for account in accounts
        if account.platform in DIRECT_PLATFORMS
    ]
    await stores.outbox.announce_once(
        key, p.coop_id, "reminder", text, now, proposal_id=p.id, direct=direct
    )


async def remind_vows(stores: Stores, now: datetime) -> None:
    """Members owed a share who have not vowed hear about it: before the payout date, or every few
    days when none is set."""
    for r in await stores.rounds.open_rounds():
        coop = await stores.coops.get(r.coop_id)
        charter = Charter.from_json(coop.charter)
        if r.payout_at is not None:
            reached = [o for o in charter.vow_reminders if r.payout_at - o <= now]
            if not reached:
                continue
            keys = {o: f"vow:{r.id}:{int(o.total_seconds())}" for o in reached}
            latest = min(reached)
            await stores.outbox.skip([keys[o] for o in reached if o != latest], now)
            key = keys[latest]
        else:
            n = int((now - r.opened_at) / charter.vow_every)
            if n < 1:
                continue
            key = f"vow:{r.id}:every:{n}"
        if key in await stores.cursors.handled(SCHEDULE, [key]):
            continue
        missing = await stores.rounds.missing_vows(r.id)
        if not missing:
            continue
        names = ", ".join(m.display_name for m in missing)
        count = len(missing)
        text = texts.VOW_REMINDER.format(number=r.number, count=count, s="" if count == 1 else "s",
                                         have="has" if count == 1 else "have", names=names, prefix=texts.PREFIX_MARK)
        direct_text = texts.VOW_DIRECT.format(number=r.number, coop=coop.name, prefix=texts.PREFIX_MARK)
        accounts = await stores.members.accounts(coop.id)
        owed = {m.id for m in missing}
        direct = [(a.platform, a.user_id, direct_text) for a in accounts
                  if a.member_id in owed and a.platform in DIRECT_PLATFORMS]
        await stores.outbox.announce_once(key, coop.id, "reminder", text, now, direct=direct)


async def _calendar(stores: Stores, coop: Coop, now: datetime) -> None:
    charter = Charter.from_json(coop.charter)
    tz = charter.tz
    audits = cycle(coop.founded_at, tz, charter.audit_every_months, now)
    if audits.last_n >= 1:
        text = texts.AUDIT_DUE.format(coop=coop.name, when=texts.when(audits.last_at, tz))
        await stores.outbox.announce_once(f"audit:{coop.id}:{audits.last_n}:0", coop.id, "audit", text, now)
    reached = [o for o in charter.audit_reminders if before(audits.next_at, tz, o) <= now]
    if reached:
        keys = {o: f"audit:{coop.id}:{audits.next_n}:{int(o.total_seconds())}" for o in reached}
        latest = min(reached)
        await stores.outbox.skip([keys[o] for o in reached if o != latest], now)
        text = texts.AUDIT_REMINDER.format(
            coop=coop.name, left=texts.span(audits.next_at - now), when=texts.when(audits.next_at, tz)
        )
        await stores.outbox.announce_once(keys[latest], coop.id, "audit", text, now)
    sunsets = cycle(coop.founded_at, tz, charter.sunset_every_months, now)
    if sunsets.last_n >= 1:
        await open_sunset_vote(stores, coop, charter, now, f"sunset:{coop.id}:{sunsets.last_n}")


async def open_sunset_vote(stores: Stores, coop: Coop, charter: Charter, now: datetime, key: str) -> None:
    """The re-founding vote opens by itself, as a constitutional proposal, once."""
    register = await stores.members.register(coop.id)
    stewards = [m for m in register if m.status == "active" and m.role == "steward"]
    if not stewards:
        return
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


def calendar_items(coop: Coop, open_proposals: list[Proposal], now: datetime) -> list[tuple[datetime, str]]:
    """What `calendar` lists: deadlines and their reminders, the next audit, the next sunset vote."""
    charter = Charter.from_json(coop.charter)
    items = []
    for p in open_proposals:
        items.append((p.closes_at, texts.CALENDAR_CLOSES.format(number=p.number, title=p.title)))
        for offset in charter.reminder_offsets:
            at = p.closes_at - offset
            if at > now and at > p.opened_at:
                items.append((at, texts.CALENDAR_REMINDER.format(number=p.number)))
    audits = cycle(coop.founded_at, charter.tz, charter.audit_every_months, now)
    offsets = ", ".join(texts.span(o) for o in charter.audit_reminders)
    items.append((audits.next_at, texts.CALENDAR_AUDIT.format(offsets=offsets)))
    sunsets = cycle(coop.founded_at, charter.tz, charter.sunset_every_months, now)
    items.append((sunsets.next_at, texts.CALENDAR_SUNSET.format(title=texts.SUNSET_TITLE)))
    return items


async def calendar(ctx: Context, cmd: Command) -> list[Reply]:
    """`calendar`: what is coming, in the co-op's timezone."""
    no_extras(ctx, cmd)
    ctx.require_member()
    items = calendar_items(ctx.coop, await ctx.stores.proposals.list(ctx.coop.id, status="open"), ctx.now)
    charter, lapsed = ctx.charter, mandate_line(ctx).strip() or None
    return [Reply(texts.calendar_text(ctx.coop.name, charter.timezone, items, charter.tz, lapsed))]
