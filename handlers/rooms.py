"""Verbs that join rooms and accounts across platforms: roomcode, bind, link."""

from __future__ import annotations

from datetime import timedelta

from handlers import texts
from handlers.context import Context
from handlers.errors import BadArguments, Conflict, NotAllowed, NotFound
from handlers.parsing import one_line
from handlers.types import Reply
from handlers.verbs import Call, Standing, Where, verb
from storage.errors import AlreadyExists

CODE_TTL = timedelta(minutes=15)


def _code(text: str) -> str:
    return one_line(text).upper().replace(" ", "")


@verb("roomcode", who=Standing.STEWARD, summary="steward: a code to bind another room to this co-op")
async def roomcode(ctx: Context, call: Call) -> list[Reply]:
    code = await ctx.stores.coops.create_code(
        "room", coop_id=ctx.coop.id, platform=ctx.sender.platform, user_id=ctx.sender.user_id,
        now=ctx.now, ttl=CODE_TTL,
    )
    minutes = int(CODE_TTL.total_seconds() // 60)
    return [Reply(texts.ROOMCODE.format(code=code, minutes=minutes, prefix=ctx.prefix))]


@verb("bind", who=Standing.ANYONE, where=Where.ROOM, args="<code>",
      summary="steward: bind this room to a co-op with a code")
async def bind(ctx: Context, call: Call) -> list[Reply]:
    """A steward binds: the code says which co-op, and the sender must be its steward here (on
    another platform, after linking their accounts with `link`)."""
    if ctx.coop is not None:
        raise Conflict(texts.BIND_EXISTS.format(coop=ctx.coop.name))
    code = _code(call.args)
    if not code:
        raise BadArguments(texts.MISSING_ARGUMENT.format(what="the room code"))
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


@verb("link", who=Standing.ANYONE, where=Where.DIRECT, args="[<code>]   (in a direct chat with the bot)",
      summary="join your accounts on two platforms into one member")
async def link(ctx: Context, call: Call) -> list[Reply]:
    code = _code(call.args)
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
