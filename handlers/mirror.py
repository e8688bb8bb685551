"""Mirror shifts (SPEC "Rituals"): the calendar's production halt for reflection, its facilitator
and format drawn by lot, the speaking order newest member first; the `mirror` and `format` verbs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from handlers import lottery, texts
from handlers.calendar import cycle
from handlers.charter import Charter
from handlers.context import Context
from handlers.errors import BadArguments, Conflict, NotAllowed
from handlers.parsing import one_line
from handlers.types import Reply
from handlers.verbs import Call, Standing, verb
from handlers.i18n import N_
from storage.models import Coop, Draw, Member, Ritual
from storage.rituals import NotFacilitator, RedesignsSpent, RitualNotOpen, RitualRunning
from storage.stores import Stores

SHIFT = timedelta(hours=24)  # how long a shift stays open: the halt, its format and its confessions
MAX_FORMAT = 500
REDESIGNS = 3  # each is announced in every room: a few let the facilitator redesign; more would flood
ORDER_SHOWN = 150  # names of the speaking order in one message (Telegram's 4,096 characters)


def cooldown(charter: Charter, members: int) -> int:
    """How many recent facilitators are left out of the draw: `half` is half the register."""
    value = charter.facilitator_cooldown
    return members // 2 if value == "half" else int(value)


async def begin(stores: Stores, coop: Coop, now: datetime, event: tuple[str, str] | None = None) -> Ritual | None:
    """The shift falls due: it is announced, with its facilitator's and its format's draws. The
    facilitator is not one of the last `facilitator_cooldown`; the format is not the last used."""
    charter = Charter.from_json(coop.charter)
    members = [m for m in await stores.members.register(coop.id) if m.status == "active"]
    if not members:
        return None
    latest = await stores.rituals.latest(coop.id, "mirror")
    number = (latest.number if latest else 0) + 1
    lately = await stores.rituals.facilitated_lately(coop.id, cooldown(charter, len(members)))
    pool = [m for m in members if m.id not in lately] or members  # all facilitated lately: all may again
    excluded = [(m.display_name, texts.FACILITATOR_REASON.format(number=lately[m.id]))
                for m in members if m.id in lately and m not in pool]
    at = now + lottery.DEFAULT_AT
    facilitator = await lottery.prepare(stores, coop.id, purpose=texts.FACILITATOR_PURPOSE.format(number=number),
                                        seats=1, pool=pool, excluded=excluded, at=at)
    last = await stores.rituals.last_format(coop.id)
    formats = [f for f in charter.mirror_formats if f != last] or list(charter.mirror_formats)
    left_out = [(last, texts.FORMAT_REASON_LAST)] if last is not None and last not in formats else []
    form = await lottery.prepare(stores, coop.id, purpose=texts.FORMAT_PURPOSE.format(number=number), seats=1,
                                 pool=formats, excluded=left_out, at=at, source="formats")
    tz = charter.tz
    try:
        return await stores.rituals.start(
            coop.id, kind="mirror", specs=[facilitator, form], now=now, event=event,
            render=lambda r, draws: texts.MIRROR_STARTED.format(
                number=r.number, coop=coop.name, facilitator=draws[0].number, format=draws[1].number,
                when=texts.when(at, tz), prefix=texts.PREFIX_MARK))
    except RitualRunning:
        return None


def speaking_order(members: Sequence[Member]) -> list[str]:
    """Newest member first: whoever was admitted last speaks first (the founders last)."""
    return [m.display_name for m in sorted(members, key=lambda m: (m.admitted_at or m.requested_at, m.id),
                                           reverse=True)]


async def step(stores: Stores, r: Ritual, now: datetime) -> bool:
    """One step of a shift under way: open it once both draws are made; close it at its end."""
    coop = await stores.coops.get(r.coop_id)
    tz = Charter.from_json(coop.charter).tz
    if r.status == "drawing":
        members = [m for m in await stores.members.register(coop.id) if m.status == "active"]
        active = {m.id for m in members}
        order = speaking_order(members)

        def decide(ritual: Ritual, draws: Sequence[Draw]) -> dict:
            seated = draws[0].result["seated"]
            facilitator = seated[0]["id"] if seated and seated[0]["id"] in active else None
            return {"facilitator_id": facilitator, "format": draws[1].result["seated"][0]["name"],
                    "speaking_order": order, "ends_at": now + SHIFT}

        names = {m.id: m.display_name for m in members}
        draws = {i: await stores.draws.get_by_id(i) for i in (r.draw_id, r.format_draw_id)}
        return await stores.rituals.open(r.id, now=now, decide=decide, render=lambda q: texts.MIRROR_OPENED.format(
            number=q.number, coop=coop.name, facilitator=names.get(q.facilitator_id, texts.MIRROR_NO_FACILITATOR),
            draw=draws[q.draw_id].number, format=q.format, format_draw=draws[q.format_draw_id].number,
            order=_order(q.speaking_order), ends=texts.when(q.ends_at, tz), prefix=texts.PREFIX_MARK)) is not None
    if r.status == "open" and now >= r.ends_at:
        return await stores.rituals.close(r.id, now=now, record=None, render=lambda q: texts.MIRROR_CLOSED.format(
            number=q.number, coop=coop.name,
            confessions=texts.MIRROR_CONFESSIONS_READ.format(count=texts.plural(q.confessions_read, "confession",
                                                                                "confessions"))
            if q.confessions_read else "")) is not None
    return False


def _order(names: Sequence[str] | None) -> str:
    """The speaking order, numbered; a register too long for one message is cut, saying how many follow."""
    names = list(names or [])
    lines = [f"{i}. {name}" for i, name in enumerate(names[:ORDER_SHOWN], 1)]
    if len(names) > ORDER_SHOWN:
        lines.append(texts.ORDER_MORE.format(more=len(names) - ORDER_SHOWN))
    return "\n".join(lines)


# --- the verbs ---
@verb("mirror", alone=True, who=Standing.MEMBER, summary=N_("the next or current mirror shift: facilitator, format, speaking order"))
async def mirror(ctx: Context, call: Call) -> list[Reply]:
    if call.args.strip():
        raise BadArguments(texts.UNEXPECTED_ARGUMENT)
    stores, coop, charter = ctx.stores, ctx.coop, ctx.charter
    tz = charter.tz
    r = await stores.rituals.latest(coop.id, "mirror")
    names = {m.id: m.display_name for m in await stores.members.register(coop.id)}
    lines = []
    if r is not None and r.status == "drawing":
        draw, form = await stores.draws.get_by_id(r.draw_id), await stores.draws.get_by_id(r.format_draw_id)
        lines.append(texts.MIRROR_SHOW_DRAWING.format(number=r.number, coop=coop.name, draw=draw.number,
                                                      format_draw=form.number, when=texts.when(draw.draw_at, tz)))
    elif r is not None and r.status == "open":
        lines.append(texts.MIRROR_SHOW_OPEN.format(
            number=r.number, coop=coop.name, ends=texts.when(r.ends_at, tz),
            facilitator=names.get(r.facilitator_id, texts.MIRROR_NO_FACILITATOR), format=r.format,
            redesigned=texts.MIRROR_SHOW_REDESIGNED if r.redesigns else "", order=_order(r.speaking_order)))
    else:
        due = cycle(coop.founded_at, tz, charter.mirror_every_months, ctx.now).next_at
        lines.append(texts.MIRROR_SHOW_NEXT.format(coop=coop.name, when=texts.when(due, tz),
                                                   every=texts.plural(charter.mirror_every_months, "month", "months")))
        if r is not None:
            lines.append(texts.MIRROR_SHOW_LAST.format(
                number=r.number, when=texts.when(r.started_at, tz),
                facilitator=names.get(r.facilitator_id, texts.MIRROR_NO_FACILITATOR), format=r.format))
    return [Reply("\n".join(lines))]


@verb("format", who=Standing.MEMBER, args=N_("<text>"), summary=N_("the mirror shift's facilitator: redesign its format"))
async def format_(ctx: Context, call: Call) -> list[Reply]:
    text = one_line(call.args)
    if not text:
        raise BadArguments(texts.FORMAT_EMPTY)
    if len(text) > MAX_FORMAT:
        raise BadArguments(texts.FORMAT_TOO_LONG.format(limit=MAX_FORMAT, length=len(text)))
    r = await ctx.stores.rituals.under_way(ctx.coop.id, "mirror")
    if r is None:
        raise Conflict(texts.FORMAT_NO_SHIFT.format(coop=ctx.coop.name))
    names = {m.id: m.display_name for m in await ctx.stores.members.register(ctx.coop.id)}
    name = ctx.member.display_name
    try:
        r = await ctx.stores.rituals.redesign(
            r.id, ctx.member.id, text=text, now=ctx.now, event=ctx.event, most=REDESIGNS,
            render=lambda q: texts.MIRROR_REDESIGNED.format(number=q.number, name=name, format=text))
    except RitualNotOpen as exc:
        raise Conflict(texts.FORMAT_NOT_OPEN.format(number=r.number, state=texts.RITUAL_STATES[exc.state])) from None
    except RedesignsSpent:
        raise Conflict(texts.FORMAT_SPENT.format(number=r.number, most=REDESIGNS)) from None
    except NotFacilitator:
        raise NotAllowed(texts.FORMAT_NOT_FACILITATOR.format(
            name=names.get(r.facilitator_id, texts.MIRROR_NO_FACILITATOR), number=r.number)) from None
    return ctx.only_in_direct(texts.FORMAT_DONE.format(number=r.number, format=text))
