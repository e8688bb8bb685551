"""The `calendar` verb: coming deadlines, audits, sunset votes, mirror shifts and drills, in the co-op's timezone."""

from __future__ import annotations

from datetime import datetime

from handlers import audits, rituals, texts
from handlers.calendar import cycle
from handlers.charter import Charter
from handlers.context import Context
from handlers.types import Reply
from handlers.verbs import Call, Standing, verb
from storage.models import Coop, Proposal


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
    mirrors = cycle(coop.founded_at, charter.tz, charter.mirror_every_months, now)
    items.append((mirrors.next_at, texts.CALENDAR_MIRROR))
    drills = cycle(coop.founded_at, charter.tz, charter.drill_every_months, now)
    items.append((drills.next_at, texts.CALENDAR_DRILL))
    return items


@verb("calendar", who=Standing.MEMBER, summary="coming deadlines, audits and sunset votes")
async def calendar(ctx: Context, call: Call) -> list[Reply]:
    """`calendar`: what is coming, in the co-op's timezone."""
    items = calendar_items(ctx.coop, await ctx.stores.proposals.list(ctx.coop.id, status="open"), ctx.now)
    for audit in await ctx.stores.audits.list(ctx.coop.id):
        if audit.status != "closed" or audit.stage in ("revision", "assembly"):
            items += audits.calendar_items(audit, await ctx.stores.audits.assembly(audit.id))
    for ritual in await ctx.stores.rituals.list(ctx.coop.id):
        items += rituals.calendar_items(ritual)
    charter, lapsed = ctx.charter, ctx.mandate_note().strip() or None
    return [Reply(texts.calendar_text(ctx.coop.name, charter.timezone, items, charter.tz, lapsed))]
