"""Verbs that join rooms and accounts across platforms: roomcode, bind, link."""

from __future__ import annotations

from datetime import timedelta

from handlers import texts
from handlers.context import Context
from handlers.errors import BadArguments, Conflict, NotAllowed, NotFound
from handlers.members import no_extras, usage
from handlers.parsing import one_line
from handlers.parsing import Command
from handlers.types import Reply
from storage.errors import AlreadyExists

CODE_TTL = timedelta(minutes=15)


def _code(text: str) -> str:
    return one_line(text).upper().replace(" ", "")


async def roomcode(ctx: Context, cmd: Command) -> list[Reply]:
    no_extras(ctx, cmd)
    ctx.require_steward()
    code = await ctx.stores.coops.create_code(
        "room", coop_id=ctx.coop.id, platform=ctx.sender.platform, user_id=ctx.sender.user_id,
        now=ctx.now, ttl=CODE_TTL,
    )
    minutes = int(CODE_TTL.total_seconds() // 60)
    return [Reply(texts.ROOMCODE.format(code=code, minutes=minutes, prefix=ctx.prefix))]


async def bind(ctx: Context, cmd: Command) -> list[Reply]:
    """A steward binds: the code says which co-op, and the sender must be its steward here (on
    another platform, after linking their accounts with `link`)."""
    no_extras(ctx, cmd)
    if ctx.chat.is_direct:
        raise NotAllowed(texts.SETUP_IN_DIRECT)
    if ctx.coop is not None:
        raise Conflict(texts.BIND_EXISTS.format(coop=ctx.coop.name))
    code = _code(cmd.args)
    if not code:
        raise BadArguments(texts.MISSING_ARGUMENT.format(what="the room code"), usage(ctx, "bind"))
    try:
        status, coop = await ctx.stores.coops.bind_room(
            code, platform=ctx.chat.platform, chat_id=ctx.chat.chat_id, title=one_line(ctx.chat.title)[:255],
            by_user_id=ctx.sender.user_id, now=ctx.now, event=ctx.event,
        )
    except AlreadyExists:
        raise Conflict(texts.BIND_EXISTS.format(coop="a co-op")) from None
    if status == "bad_code":
        raise NotFound(texts.BIND_BAD_CODE.format(prefix=ctx.prefix))
    if status == "not_steward":
        raise NotAllowed(texts.BIND_NOT_STEWARD.format(coop=coop.name, prefix=ctx.prefix))
    return [Reply(texts.BOUND.format(coop=coop.name))]


async def link(ctx: Context, cmd: Command) -> list[Reply]:
    no_extras(ctx, cmd)
    if not ctx.chat.is_direct:
        raise NotAllowed(texts.LINK_NOT_DIRECT)
    code = _code(cmd.args)
    if not code:
        memberships = await ctx.stores.members.memberships(ctx.sender.platform, ctx.sender.user_id)
        if not memberships:
            raise NotAllowed(texts.LINK_NOT_MEMBER)
        code = await ctx.stores.coops.create_code(
            "link", coop_id=None, platform=ctx.sender.platform, user_id=ctx.sender.user_id, now=ctx.now, ttl=CODE_TTL
        )
        minutes = int(CODE_TTL.total_seconds() // 60)
        return [Reply(texts.LINK_CODE.format(code=code, minutes=minutes))]
    status, linked = await ctx.stores.coops.link(
        code, platform=ctx.sender.platform, user_id=ctx.sender.user_id, now=ctx.now
    )
    if status == "bad_code":
        raise NotFound(texts.LINK_BAD_CODE)
    if status == "self":
        raise Conflict(texts.LINK_SELF)
    if status == "conflict":
        coop, member = linked[0]
        raise Conflict(texts.LINK_CONFLICT.format(coop=coop.name, name=member.display_name))
    name = linked[0][1].display_name
    return [Reply(texts.LINKED.format(name=name, coops=", ".join(c.name for c, _ in linked)))]
