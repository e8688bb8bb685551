"""Verbs that join rooms and accounts across platforms: roomcode, bind, link."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from handlers import i18n, texts
from handlers.context import Context, in_language_of_room
from handlers.errors import BadArguments, Conflict, NotAllowed, NotFound
from handlers.parsing import one_line
from handlers.types import PREFIX, ChatRef, Reply
from handlers.verbs import Call, Standing, Where, verb
from handlers.i18n import N_
from storage.errors import AlreadyExists
from storage.stores import Stores

CODE_TTL = timedelta(minutes=15)
# A code as `new_code` makes it (XXXX-XXXX), typed in any case.
_LINK_CODE = re.compile(r"(?<![A-Za-z0-9])[A-Za-z0-9]{4}-[A-Za-z0-9]{4}(?![A-Za-z0-9])")


def _code(text: str) -> str:
    return one_line(text).upper().replace(" ", "")


@verb("roomcode", who=Standing.STEWARD, summary=N_("steward: a code to bind another room to this co-op"))
async def roomcode(ctx: Context, call: Call) -> list[Reply]:
    code = await ctx.stores.coops.create_code(
        "room", coop_id=ctx.coop.id, platform=ctx.sender.platform, user_id=ctx.sender.user_id,
        now=ctx.now, ttl=CODE_TTL,
    )
    minutes = int(CODE_TTL.total_seconds() // 60)
    return [Reply(texts.ROOMCODE.format(code=code, minutes=minutes, prefix=ctx.prefix))]


@verb("bind", who=Standing.ANYONE, where=Where.ROOM, args=N_("<code>"),
      summary=N_("steward: bind this room to a co-op with a code"))
async def bind(ctx: Context, call: Call) -> list[Reply]:
    """A steward binds: the code says which co-op, and the sender must be its steward here (on
    another platform, after linking their accounts with `link`)."""
    if ctx.coop is not None:
        raise Conflict(texts.BIND_EXISTS.format(coop=ctx.coop.name))
    code = _code(call.args)
    if not code:
        raise BadArguments(texts.MISSING_ARGUMENT.format(what=i18n.gettext("the room code")))
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


@verb("link", who=Standing.ANYONE, where=Where.DIRECT, args=N_("[<code> | yes]   (in a direct chat with the bot)"),
      summary=N_("join your accounts on two platforms into one member"))
async def link(ctx: Context, call: Call) -> list[Reply]:
    """`link` gives a code; `link <code>` from the other account only asks; `link yes` from the
    first account confirms. So a code seen by someone else is worth nothing without its owner."""
    code = _code(call.args)
    if not code:
        return await _give_code(ctx)
    if code == "YES":
        return await _confirm(ctx)
    return await _ask(ctx, code)


async def _give_code(ctx: Context) -> list[Reply]:
    # Linking accounts is for members (it joins votes); allies' entries do not count here.
    memberships = [m for m in await ctx.stores.members.memberships(ctx.sender.platform, ctx.sender.user_id)
                   if m.status == "active"]
    if not memberships:
        raise NotAllowed(texts.LINK_NOT_MEMBER)
    code = await ctx.stores.coops.create_code(
        "link", coop_id=None, platform=ctx.sender.platform, user_id=ctx.sender.user_id, now=ctx.now, ttl=CODE_TTL,
        chat_id=ctx.chat.chat_id,
    )
    return [Reply(texts.LINK_CODE.format(code=code, minutes=_minutes(), prefix=ctx.prefix))]


async def _ask(ctx: Context, code: str) -> list[Reply]:
    def notice(memberships) -> str:
        return texts.LINK_ASK_NOTICE.format(
            platform=texts.platform_name(ctx.sender.platform), who=ctx.sender.user_id, name=ctx.sender_name,
            member=memberships[0][1].display_name, coops=_coops(memberships), minutes=_minutes(),
            mark=texts.PREFIX_MARK,
        )

    status, concerned, issuer = await ctx.stores.coops.ask_link(
        code, platform=ctx.sender.platform, user_id=ctx.sender.user_id, chat_id=ctx.chat.chat_id, now=ctx.now,
        ttl=CODE_TTL, notice=notice,
    )
    if status == "bad_code":
        raise NotFound(texts.LINK_BAD_CODE)
    if status == "self":
        raise Conflict(texts.LINK_SELF)
    if status == "same_platform":
        raise NotAllowed(texts.LINK_SAME_PLATFORM.format(platform=texts.platform_name(ctx.sender.platform)))
    if status == "conflict":
        coop, member = concerned[0]
        raise Conflict(texts.LINK_CONFLICT.format(coop=coop.name, name=member.display_name))
    return [Reply(texts.LINK_ASKED.format(platform=texts.platform_name(issuer), minutes=_minutes(),
                                          prefix=PREFIX.get(issuer, "/")))]


async def _confirm(ctx: Context) -> list[Reply]:
    def notice(memberships) -> str:
        return texts.LINKED_NOTICE.format(name=memberships[0][1].display_name, coops=_coops(memberships))

    status, request, concerned = await ctx.stores.coops.confirm_link(
        platform=ctx.sender.platform, user_id=ctx.sender.user_id, now=ctx.now, notice=notice,
    )
    if status == "none":
        raise NotFound(texts.LINK_NOTHING_TO_CONFIRM.format(minutes=_minutes(), prefix=ctx.prefix))
    if status == "ambiguous":
        raise Conflict(texts.LINK_AMBIGUOUS.format(prefix=ctx.prefix))
    if status == "conflict":
        coop, member = concerned[0]
        raise Conflict(texts.LINK_CONFLICT.format(coop=coop.name, name=member.display_name))
    return [Reply(texts.LINKED.format(
        platform=texts.platform_name(request.asked_platform), who=request.asked_user_id,
        name=concerned[0][1].display_name, coops=_coops(concerned),
    ))]


async def void_shown_codes(stores: Stores, chat: ChatRef, text: str, now: datetime, prefix: str) -> list[Reply]:
    """A link code is a secret between one person's two direct chats: one that shows up anywhere
    else (pasted in a group) is destroyed at once, before anyone who saw it can ask with it."""
    if chat.is_direct:
        return []
    codes = {m.upper() for m in _LINK_CODE.findall(text)}
    if not codes or not await stores.coops.void_link_codes(codes, now):
        return []
    async with in_language_of_room(stores, chat):  # said in the room, before any other reading of it
        return [Reply(texts.LINK_VOID.format(prefix=prefix), refusal=True)]


def _minutes() -> int:
    return int(CODE_TTL.total_seconds() // 60)


def _coops(memberships) -> str:
    return ", ".join(coop.name for coop, _ in memberships)
