"""Verbs for co-ops and the register: setup, join, admit, remove, members, whoami, charter."""

from __future__ import annotations

from handlers import texts
from handlers.charter import Charter
from handlers.context import Context
from handlers.errors import BadArguments, Conflict, NotAllowed, NotFound
from handlers.parsing import Command, one_line, split_extras
from handlers.types import Reply, looks_like_platform_id
from storage.errors import AlreadyExists, LastSteward
from storage.models import Member

MAX_COOP_NAME = 120
MAX_DISPLAY_NAME = 120


def usage(ctx: Context, verb: str) -> str:
    return texts.usage_line(verb, ctx.prefix)


def no_extras(ctx: Context, cmd: Command) -> None:
    split_extras(cmd.lines, frozenset(), body=False, usage=usage(ctx, cmd.verb))


def display_name(ctx: Context) -> str:
    return one_line(ctx.sender.display_name)[:MAX_DISPLAY_NAME] or ctx.sender.user_id


async def setup(ctx: Context, cmd: Command) -> list[Reply]:
    no_extras(ctx, cmd)
    if ctx.chat.is_direct:
        raise NotAllowed(texts.SETUP_IN_DIRECT)
    if ctx.coop is not None:
        raise Conflict(texts.SETUP_EXISTS.format(coop=ctx.coop.name))
    name = one_line(cmd.args)
    if not name:
        raise BadArguments(texts.MISSING_ARGUMENT.format(what="the co-op's name"), usage(ctx, "setup"))
    if len(name) > MAX_COOP_NAME:
        raise BadArguments(
            texts.NAME_TOO_LONG.format(what="name", length=len(name), limit=MAX_COOP_NAME), usage(ctx, "setup")
        )
    try:
        coop, _ = await ctx.stores.coops.create(
            name, Charter().to_json(), platform=ctx.chat.platform, chat_id=ctx.chat.chat_id,
            room_title=one_line(ctx.chat.title)[:255], founder_user_id=ctx.sender.user_id,
            founder_name=display_name(ctx), now=ctx.now, event=ctx.event,
        )
    except AlreadyExists as exc:
        if exc.what == "room":
            raise Conflict(texts.SETUP_EXISTS.format(coop=name)) from None
        raise Conflict(texts.SETUP_NAME_TAKEN.format(name=name, prefix=ctx.prefix)) from None
    return [Reply(texts.SETUP_DONE.format(coop=coop.name, prefix=ctx.prefix))]


async def join(ctx: Context, cmd: Command) -> list[Reply]:
    no_extras(ctx, cmd)
    if cmd.args:
        raise BadArguments(texts.UNEXPECTED_ARGUMENT, usage(ctx, "join"))
    coop = ctx.require_coop()
    if ctx.member is not None and ctx.member.status == "active":
        raise Conflict(texts.JOIN_ALREADY.format(coop=coop.name))
    if ctx.member is not None and ctx.member.status == "pending":
        raise Conflict(texts.JOIN_PENDING.format(coop=coop.name))
    member = await ctx.stores.members.request_join(
        coop.id, platform=ctx.sender.platform, user_id=ctx.sender.user_id, name=display_name(ctx),
        now=ctx.now, event=ctx.event,
    )
    return [Reply(texts.JOIN_REQUESTED.format(name=member.display_name, coop=coop.name, prefix=ctx.prefix))]


async def resolve(ctx: Context, who: str, verb: str) -> Member | None:
    """The member a steward names: by account id, @mention or display name. None if unknown."""
    who = one_line(who)
    if not who:
        raise BadArguments(texts.MISSING_ARGUMENT.format(what="whom"), usage(ctx, verb))
    found = await ctx.stores.members.find(ctx.coop.id, ctx.sender.platform, who)
    if len(found) > 1:
        accounts = await ctx.stores.members.accounts(ctx.coop.id)
        ids = ", ".join(a.user_id for a in accounts if a.member_id in {m.id for m in found})
        raise Conflict(texts.MEMBER_AMBIGUOUS.format(who=who, ids=ids))
    return found[0] if found else None


async def admit(ctx: Context, cmd: Command) -> list[Reply]:
    extras = split_extras(cmd.lines, frozenset({"role"}), body=False, usage=usage(ctx, "admit"))
    steward = ctx.require_steward()
    coop = ctx.coop
    role = extras.settings.get("role", "").strip().lower() or None
    if role is not None and role not in texts.ROLE_WORDS:
        raise BadArguments(texts.BAD_ROLE.format(role=extras.settings["role"]), usage(ctx, "admit"))
    target = await resolve(ctx, cmd.args, "admit")
    new_account = None
    if target is None:
        who = one_line(cmd.args)
        bare = who.removeprefix("@") if ctx.sender.platform != "matrix" else who
        if not looks_like_platform_id(ctx.sender.platform, bare):
            raise NotFound(texts.MEMBER_UNKNOWN.format(who=who, coop=coop.name, prefix=ctx.prefix))
        new_account = (ctx.sender.platform, bare, bare)
    elif target.status == "active" and (role is None or role == target.role):
        raise Conflict(texts.ADMIT_ALREADY.format(name=target.display_name, coop=coop.name))
    was_active = target is not None and target.status == "active"
    role = role or (target.role if was_active else "member")
    try:
        member = await ctx.stores.members.admit(
            coop.id, member_id=None if target is None else target.id, new_account=new_account,
            role=role, by=steward.id, now=ctx.now, event=ctx.event,
        )
    except LastSteward:
        raise Conflict(texts.REMOVE_LAST_STEWARD.format(name=target.display_name, coop=coop.name)) from None
    if was_active:
        return [Reply(texts.ROLE_CHANGED.format(name=member.display_name, role=role, coop=coop.name))]
    count = await ctx.stores.members.count_active(coop.id)
    return [Reply(texts.ADMITTED.format(name=member.display_name, coop=coop.name, role=role, count=texts.members(count)))]


async def remove(ctx: Context, cmd: Command) -> list[Reply]:
    no_extras(ctx, cmd)
    steward = ctx.require_steward()
    coop = ctx.coop
    target = await resolve(ctx, cmd.args, "remove")
    if target is None or target.status != "active":
        name = one_line(cmd.args) if target is None else target.display_name
        raise NotFound(texts.REMOVE_NOT_MEMBER.format(name=name, coop=coop.name))
    try:
        await ctx.stores.members.remove(coop.id, target.id, by=steward.id, now=ctx.now, event=ctx.event)
    except LastSteward:
        raise Conflict(texts.REMOVE_LAST_STEWARD.format(name=target.display_name, coop=coop.name)) from None
    count = await ctx.stores.members.count_active(coop.id)
    return [Reply(texts.REMOVED.format(name=target.display_name, coop=coop.name, count=texts.members(count)))]


async def members(ctx: Context, cmd: Command) -> list[Reply]:
    no_extras(ctx, cmd)
    ctx.require_member()
    register = await ctx.stores.members.register(ctx.coop.id)
    active = [m for m in register if m.status == "active"]
    pending = [m for m in register if m.status == "pending"]
    return [Reply(texts.members_list(ctx.coop.name, active, pending))]


async def whoami(ctx: Context, cmd: Command) -> list[Reply]:
    no_extras(ctx, cmd)
    if ctx.coop is None and ctx.chat.is_direct:
        return [Reply(texts.NO_COOP_DIRECT)]
    standing = None
    if ctx.member is not None:
        standing = ctx.member.role if ctx.member.status == "active" else ctx.member.status
    name = ctx.member.display_name if ctx.member else display_name(ctx)
    text = texts.whoami(ctx.coop.name if ctx.coop else None, name, standing, ctx.prefix)
    return [Reply(text + mandate_line(ctx))]


def mandate_line(ctx: Context) -> str:
    if ctx.coop is None or ctx.coop.mandate_lapsed_at is None:
        return ""
    lapsed = texts.when(ctx.coop.mandate_lapsed_at, ctx.charter.tz)
    return "\n" + texts.MANDATE_STANDING.format(coop=ctx.coop.name, when=lapsed, title=texts.SUNSET_TITLE)


async def charter(ctx: Context, cmd: Command) -> list[Reply]:
    no_extras(ctx, cmd)
    ctx.require_member()
    return [Reply(texts.charter(ctx.coop.name, ctx.charter) + mandate_line(ctx))]
