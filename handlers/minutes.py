"""The `minutes` and `witness` verbs: the co-op's minutes head, how to check it, and a member's word that they saw one."""

from __future__ import annotations

import re

from handlers import texts
from handlers.context import Context
from handlers.errors import BadArguments, NotFound
from handlers.types import Reply
from handlers.verbs import Call, Standing, verb
from handlers.i18n import N_
from storage.minutes import MIN_PREFIX, Ambiguous, Head, NeverPosted

HEX = re.compile(r"[0-9a-f]+")


def _short(head: Head) -> str:
    return texts.head_text(head.size, head.digest)


@verb("minutes", alone=True, who=Standing.MEMBER, summary=N_("the minutes' head and how to check it"))
async def minutes(ctx: Context, call: Call) -> list[Reply]:
    store = ctx.stores.minutes
    head = await store.head(ctx.coop.id)
    if head.size == 0:
        lines = [texts.MINUTES_EMPTY.format(coop=ctx.coop.name)]
    else:
        lines = [texts.MINUTES_NOW.format(coop=ctx.coop.name, size=head.size, root=head.root)]
    if posted := await store.posted(ctx.coop.id):
        lines.append(texts.MINUTES_POSTED.format(head=_short(Head(posted[-1].size, posted[-1].root))))
    if witnessed := await store.witnessed(ctx.coop.id):
        last = max(witnessed, key=lambda w: (w.size, w.id))
        lines.append(texts.MINUTES_WITNESSED.format(head=_short(Head(last.size, last.root)), count=len(witnessed)))
    else:
        lines.append(texts.MINUTES_NONE_WITNESSED)
    lines.append(texts.MINUTES_HOW)
    return [Reply("\n".join(lines))]


@verb("witness", who=Standing.MEMBER, args=N_("<head>"), summary=N_("record that you saw this head of the minutes"))
async def witness(ctx: Context, call: Call) -> list[Reply]:
    prefix = call.args.strip().lower()
    if len(prefix) < MIN_PREFIX:
        raise BadArguments(texts.WITNESS_SHORT.format(least=MIN_PREFIX))
    if not HEX.fullmatch(prefix):
        raise BadArguments(texts.WITNESS_NOT_HEX.format(prefix=prefix))
    try:
        head = await ctx.stores.minutes.witness(ctx.coop.id, ctx.member.id, prefix, ctx.now)
    except NeverPosted:
        raise NotFound(texts.WITNESS_NEVER.format(coop=ctx.coop.name, prefix=prefix)) from None
    except Ambiguous:
        raise NotFound(texts.WITNESS_AMBIGUOUS.format(prefix=prefix)) from None
    return [Reply(texts.WITNESSED.format(coop=ctx.coop.name, size=head.size, head=head.root[:16]))]
