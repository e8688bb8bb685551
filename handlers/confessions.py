"""Anonymous confessions (SPEC "Rituals"): `confess` in a direct chat keeps the text alone, tied to
no one; `confessions`, by the mirror shift's facilitator, reads them aloud in an order drawn by lot
and destroys them, keeping only their number."""

from __future__ import annotations

from handlers import draws, texts
from handlers.context import Context
from handlers.errors import BadArguments, Conflict, NotAllowed
from handlers.types import Reply
from handlers.verbs import Call, Standing, Where, verb
from handlers.i18n import N_
from storage.confessions import BoxFull
from storage.rituals import NotFacilitator, RitualNotOpen

MAX_CONFESSION = 2000
# Confessions waiting at once: each is read aloud as a message in every room (Telegram: ~20 a
# minute in a group). A cap per member would itself tie members to confessions; this is the box's.
MAX_WAITING = 100


@verb("confess", alone=True, who=Standing.MEMBER, args=N_("<text>"), body=N_("more lines of the confession"), where=Where.DIRECT,
      erase=True, summary=texts.CONFESS_SUMMARY)
async def confess(ctx: Context, call: Call) -> list[Reply]:
    # Refusals never repeat the text: the message is erased, and a refusal must not keep it.
    text = "\n".join(part for part in (call.args.strip(), call.body.strip()) if part)
    if not text:
        raise BadArguments(texts.CONFESS_EMPTY.format(prefix=ctx.prefix))
    if len(text) > MAX_CONFESSION:
        raise BadArguments(texts.CONFESS_TOO_LONG.format(limit=MAX_CONFESSION, length=len(text)))
    # The platform event is not claimed: its id names the sender's chat, and the claim would keep
    # when they confessed. A redelivery carries the same text, which the box keeps once.
    try:
        await ctx.stores.confessions.add(ctx.coop.id, text, shuffle=draws.shuffled, most=MAX_WAITING)
    except BoxFull:
        raise Conflict(texts.CONFESS_BOX_FULL.format(most=MAX_WAITING, coop=ctx.coop.name)) from None
    return [Reply(texts.CONFESS_KEPT.format(coop=ctx.coop.name))]


@verb("confessions", who=Standing.MEMBER, summary=texts.CONFESSIONS_SUMMARY)
async def confessions(ctx: Context, call: Call) -> list[Reply]:
    if call.args.strip():
        raise BadArguments(texts.UNEXPECTED_ARGUMENT)
    coop = ctx.coop
    r = await ctx.stores.rituals.under_way(coop.id, "mirror")
    if r is None:
        raise Conflict(texts.CONFESSIONS_NO_SHIFT.format(coop=coop.name, prefix=ctx.prefix))
    number = r.number
    try:
        r, count = await ctx.stores.confessions.read(
            r.id, ctx.member.id, shuffle=draws.shuffled, now=ctx.now, event=ctx.event,
            render=lambda i, n, text: texts.CONFESSION_READ.format(index=i, count=n, number=number, text=text))
    except RitualNotOpen as exc:
        raise Conflict(texts.CONFESSIONS_NOT_OPEN.format(number=r.number, state=texts.RITUAL_STATES[exc.state])) from None
    except NotFacilitator:
        names = await ctx.stores.members.names([r.facilitator_id]) if r.facilitator_id else {}
        raise NotAllowed(texts.CONFESSIONS_NOT_FACILITATOR.format(
            name=names.get(r.facilitator_id, texts.MIRROR_NO_FACILITATOR), number=r.number)) from None
    if not count:
        return [Reply(texts.CONFESSIONS_NONE.format(coop=coop.name))]
    return ctx.only_in_direct(texts.CONFESSIONS_DONE.format(
        count=texts.plural(count, "confession", "confessions"), coop=coop.name, number=r.number,
        total=r.confessions_read))
