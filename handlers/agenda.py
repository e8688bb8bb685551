"""The `calendar` verb: coming deadlines, audits, sunset votes, mirror shifts and drills, in the
co-op's timezone, as a list and as an .ics file; the co-op's private feed URL and its revocation."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from handlers import audits, ics, rituals, texts
from handlers.calendar import Dated, cycle
from handlers.charter import Charter
from handlers.context import Context
from handlers.due import MIRROR_REMINDERS
from handlers.errors import BadArguments
from handlers.parsing import split_first
from handlers.types import Attachment, Reply
from handlers.verbs import Call, Standing, verb
from handlers.i18n import N_
from storage.models import Coop, Proposal
from storage.stores import Stores

# A proposal closed or withdrawn this long ago is still in the .ics, changed or cancelled, so a
# subscribed phone updates its event instead of keeping the old one.
RECENTLY_ENDED = timedelta(days=30)
ICS_NAME = "calendar.ics"
ICS_MIME = "text/calendar"


def _sequence(start: datetime, *changes: datetime | None) -> tuple[int, datetime | None]:
    """An event's SEQUENCE from its stored changes: the seconds from its start to the latest one.
    Each change is later than the one before, so it only grows; 0 while nothing changed."""
    latest = max((c for c in changes if c is not None), default=None)
    return (0, None) if latest is None else (max(1, int((latest - start).total_seconds())), latest)


def proposal_items(p: Proposal, charter: Charter, now: datetime) -> list[Dated]:
    """A proposal's deadline (with its reminders); closed lately, the time it closed; withdrawn,
    cancelled. Only its number, title and time: nothing of its ballot (a secret one's least of all)."""
    key = f"proposal-{p.coop_id}-{p.number}"
    # Besides a revision and the end, a call-in (`protect`) and a veto move its deadline: each
    # keeps its time on the proposal (the protection's `since`, the veto's `at`).
    moved = [datetime.fromisoformat(at) for at in ((p.protection or {}).get("since"), (p.veto or {}).get("at")) if at]
    sequence, changed = _sequence(p.opened_at, p.revised_at, *moved, p.ended_at if p.status != "open" else None)
    if p.status == "withdrawn":
        return [Dated(p.closes_at, texts.CALENDAR_WITHDRAWN.format(number=p.number, title=p.title), key,
                      status="cancelled", sequence=sequence, changed_at=changed)]
    if p.status == "closed":
        early = p.ended_at is not None and p.ended_at < p.closes_at
        words = texts.CALENDAR_CLOSED_EARLY if early else texts.CALENDAR_CLOSED
        return [Dated(p.ended_at if early else p.closes_at, words.format(number=p.number, title=p.title), key,
                      status="ended", sequence=sequence, changed_at=changed)]
    alarms = tuple(o for o in charter.reminder_offsets if p.closes_at - o > p.opened_at)
    items = [Dated(p.closes_at, texts.CALENDAR_CLOSES.format(number=p.number, title=p.title), key, alarms,
                   sequence=sequence, changed_at=changed)]
    for offset in alarms:
        if p.closes_at - offset > now:
            items.append(Dated(p.closes_at - offset, texts.CALENDAR_REMINDER.format(number=p.number)))
    return items


def _occurrence_key(kind: str, coop_id: int, at: datetime) -> str:
    """A recurring date's key, by its instant: an amended interval or timezone moves the date, and
    the moved date is another event (the old one leaves the feed), never the same UID at the same
    SEQUENCE with another start, which an app that has it would keep as it was."""
    return f"{kind}-{coop_id}-{at.astimezone(timezone.utc):%Y%m%dT%H%M%SZ}"


def calendar_items(coop: Coop, proposals: list[Proposal], now: datetime) -> list[Dated]:
    """The proposals' items and the recurring dates counted from founding: the next audit, sunset
    vote, mirror shift and drill (each keyed by its date)."""
    charter = Charter.from_json(coop.charter)
    items = [item for p in proposals for item in proposal_items(p, charter, now)]
    founded, tz, c = coop.founded_at, charter.tz, coop.id
    audit = cycle(founded, tz, charter.audit_every_months, now)
    offsets = ", ".join(texts.span(o) for o in charter.audit_reminders)
    items.append(Dated(audit.next_at, texts.CALENDAR_AUDIT.format(offsets=offsets),
                       _occurrence_key("audit", c, audit.next_at),
                       tuple(charter.audit_reminders)))
    sunset = cycle(founded, tz, charter.sunset_every_months, now)
    items.append(Dated(sunset.next_at, texts.CALENDAR_SUNSET.format(title=texts.SUNSET_TITLE),
                       _occurrence_key("sunset", c, sunset.next_at)))
    mirror = cycle(founded, tz, charter.mirror_every_months, now)
    items.append(Dated(mirror.next_at, texts.CALENDAR_MIRROR, _occurrence_key("mirror", c, mirror.next_at),
                       MIRROR_REMINDERS))
    drill = cycle(founded, tz, charter.drill_every_months, now)
    items.append(Dated(drill.next_at, texts.CALENDAR_DRILL, _occurrence_key("drill", c, drill.next_at)))
    return items


async def dated(stores: Stores, coop: Coop, now: datetime) -> list[Dated]:
    """Every item of the co-op's calendar, read from the stores: what `calendar` lists and the .ics holds."""
    items = calendar_items(coop, await stores.proposals.for_calendar(coop.id, now - RECENTLY_ENDED), now)
    for audit in await stores.audits.list(coop.id):
        if audit.status != "closed" or audit.stage in ("revision", "assembly"):
            items += audits.calendar_items(audit, await stores.audits.assembly(audit.id))
    for ritual in await stores.rituals.list(coop.id):
        items += rituals.calendar_items(ritual)
    return items


async def ics_of(stores: Stores, coop: Coop, now: datetime) -> bytes:
    """The co-op's calendar as an .ics file (the attachment of `calendar`, and the feed's body)."""
    return ics.build(texts.ICS_CALENDAR_NAME.format(coop=coop.name), await dated(stores, coop, now), now)


def feed_url(base: str, token: str) -> str:
    return f"{base.rstrip('/')}/calendar/{token}.ics"


@verb("calendar", who=Standing.MEMBER, args=N_("[revoke]"),
      summary=N_("coming deadlines, audits and sunset votes, with an .ics file; steward: calendar revoke renews the feed URL"))
async def calendar(ctx: Context, call: Call) -> list[Reply]:
    """`calendar`: what is coming, in the co-op's timezone, and the same as an .ics file; in a
    direct chat, when the bot serves feeds, the co-op's private feed URL. `calendar revoke`."""
    first, rest = split_first(call.args)
    if first.lower() == "revoke" and not rest:
        return await _revoke(ctx)
    if first:
        raise BadArguments(texts.UNEXPECTED_ARGUMENT)
    items = await dated(ctx.stores, ctx.coop, ctx.now)
    charter, lapsed = ctx.charter, ctx.mandate_note().strip() or None
    text = texts.calendar_text(ctx.coop.name, charter.timezone, [(i.at, i.text) for i in items if i.listed],
                               charter.tz, lapsed)
    if ctx.feed_base is not None:
        if ctx.chat.is_direct:
            # The URL is the co-op's secret (whoever has it reads the calendar): said in a direct chat only.
            token = await ctx.stores.feeds.token(ctx.coop.id, ctx.now)
            text += "\n" + texts.CALENDAR_FEED.format(url=feed_url(ctx.feed_base, token), prefix=ctx.prefix)
        else:
            text += "\n" + texts.CALENDAR_FEED_IN_DIRECT.format(prefix=ctx.prefix)
    body = ics.build(texts.ICS_CALENDAR_NAME.format(coop=ctx.coop.name), items, ctx.now)
    return [Reply(text, attachment=Attachment(body, ICS_NAME, ICS_MIME))]


async def _revoke(ctx: Context) -> list[Reply]:
    ctx.require_steward()
    renewed = texts.CALENDAR_FEED_RENEWED.format(coop=ctx.coop.name, name=ctx.member.display_name, prefix=ctx.prefix)
    if await ctx.stores.feeds.revoke(ctx.coop.id, ctx.now, renewed):
        return [Reply(texts.CALENDAR_FEED_REVOKED.format(coop=ctx.coop.name, prefix=ctx.prefix))]
    return [Reply(texts.CALENDAR_NO_FEED.format(coop=ctx.coop.name))]
