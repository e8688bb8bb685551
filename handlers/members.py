"""Verbs for co-ops and the register: setup, join, admit, remove, members, whoami, charter."""

from __future__ import annotations

from handlers import i18n, texts
from handlers.charter import Charter
from handlers.context import Context, coop_language
from handlers.money import format_amount
from handlers.errors import BadArguments, Conflict, NotFound
from handlers.parsing import one_line
from handlers.types import JOIN_NOTICE, PREFIX, ChatRef, Notice, Reply, looks_like_platform_id
from handlers.verbs import Call, Standing, Where, verb
from handlers.i18n import N_
from storage.errors import AlreadyExists, LastSteward
from storage.stores import Stores

MAX_COOP_NAME = 120


@verb("setup", who=Standing.ANYONE, where=Where.ROOM, args=N_("<co-op name>"),
      summary=N_("create a co-op for this room (you become its first steward)"))
async def setup(ctx: Context, call: Call) -> list[Reply]:
    if ctx.coop is not None:
        raise Conflict(texts.SETUP_EXISTS.format(coop=ctx.coop.name))
    name = one_line(call.args)
    if not name:
        raise BadArguments(texts.MISSING_ARGUMENT.format(what=i18n.gettext("the co-op's name")))
    if len(name) > MAX_COOP_NAME:
        raise BadArguments(texts.NAME_TOO_LONG.format(what=i18n.gettext("name"), length=len(name), limit=MAX_COOP_NAME))
    try:
        coop, _ = await ctx.stores.coops.create(
            name, Charter().to_json(), platform=ctx.chat.platform, chat_id=ctx.chat.chat_id,
            room_title=one_line(ctx.chat.title)[:255], founder_user_id=ctx.sender.user_id,
            founder_name=ctx.sender_name, now=ctx.now, event=ctx.event,
        )
    except AlreadyExists as exc:
        if exc.what == "room":
            raise Conflict(texts.SETUP_EXISTS.format(coop=name)) from None
        raise Conflict(texts.SETUP_NAME_TAKEN.format(name=name, prefix=ctx.prefix)) from None
    return [Reply(texts.SETUP_DONE.format(coop=coop.name, prefix=ctx.prefix))]


@verb("join", who=Standing.IN_COOP, summary=N_("ask to be admitted"))
async def join(ctx: Context, call: Call) -> list[Reply]:
    if call.args:
        raise BadArguments(texts.UNEXPECTED_ARGUMENT)
    coop = ctx.coop
    if ctx.member is not None and ctx.member.status == "active":
        raise Conflict(texts.JOIN_ALREADY.format(coop=coop.name))
    if ctx.member is not None and ctx.member.status == "pending":
        raise Conflict(texts.JOIN_PENDING.format(coop=coop.name))
    if ctx.member is not None and ctx.member.status == "ally":
        raise Conflict(texts.JOIN_ALLY.format(coop=coop.name, org=ctx.ally_of or "?", prefix=ctx.prefix))
    member = await ctx.stores.members.request_join(
        coop.id, platform=ctx.sender.platform, user_id=ctx.sender.user_id, name=ctx.sender_name,
        now=ctx.now, event=ctx.event,
    )
    # The room hears of it through its one coalesced notice of requests (`join_notice`).
    return [Reply(texts.JOIN_REQUESTED.format(name=member.display_name, coop=coop.name, prefix=ctx.prefix),
                  notice=JOIN_NOTICE, folded=True)]


async def join_notice(stores: Stores, chat: ChatRef) -> Notice | None:
    """What the room's notice of requests to join says now; None in a room with no co-op."""
    coop = await stores.coops.get_by_room(chat.platform, chat.chat_id)
    if coop is None:
        return None
    names, total = await stores.members.pending(coop.id, texts.NAMES_SHOWN)
    with i18n.use(coop_language(coop)):  # the room's notice, written whenever the notices task gets to it
        text = texts.join_notice(coop.name, names, total, PREFIX.get(chat.platform, "/"))
    return Notice(text, empty=total == 0)


@verb("admit", who=Standing.STEWARD, args=N_("<member> [<member> …] | all"),
      keys={"role": N_("member|steward   (optional, one member at a time)")},
      summary=N_("steward: put people on the register (all: every pending request)"))
async def admit(ctx: Context, call: Call) -> list[Reply]:
    role = call.settings.get("role", "").strip().lower() or None
    if role is not None and role not in texts.ROLE_WORDS:
        raise BadArguments(texts.BAD_ROLE.format(role=call.settings["role"]))
    who = one_line(call.args)
    words = who.replace(",", " ").split()
    if len(words) > 1 and "all" in (w.lower() for w in words):
        raise BadArguments(texts.ADMIT_ALL_ALONE)
    if len(words) == 1 and words[0].lower() == "all":
        if role is not None:
            raise BadArguments(texts.ADMIT_ROLE_ONE)
        return await _admit_many(ctx, None)
    target = await ctx.member_named(call.args)
    if target is not None or len(words) <= 1:
        return await _admit_one(ctx, call, target, role)
    # Several people, each by id, @name or a one-word name (a name with spaces is admitted alone).
    if role is not None:
        raise BadArguments(texts.ADMIT_ROLE_ONE)
    named = {word: await ctx.member_named(word) for word in dict.fromkeys(words)}
    unknown = [word for word, member in named.items() if member is None]
    if unknown:
        raise NotFound(texts.MEMBER_UNKNOWN_MANY.format(
            who=", ".join(f"'{w}'" for w in unknown), coop=ctx.coop.name, prefix=ctx.prefix))
    for m in named.values():
        if m.status == "ally":
            raise Conflict(await _admit_ally(ctx, m))
    waiting = [m for m in named.values() if m.status != "active"]
    if not waiting:
        names = texts.names_list([m.display_name for m in named.values()])
        raise Conflict(texts.ADMIT_ALREADY.format(name=names, coop=ctx.coop.name))
    return await _admit_many(ctx, [m.id for m in waiting])


async def _admit_many(ctx: Context, member_ids: list[int] | None) -> list[Reply]:
    """A batch (None: every pending request) admitted as members in one transaction, told in one line."""
    coop = ctx.coop
    admitted = await ctx.stores.members.admit_many(coop.id, member_ids, by=ctx.member.id, now=ctx.now, event=ctx.event)
    if not admitted:
        raise Conflict(texts.ADMIT_NONE_PENDING.format(coop=coop.name))
    count = texts.members(await ctx.stores.members.count_active(coop.id))
    if len(admitted) == 1:
        text = texts.ADMITTED.format(name=admitted[0].display_name, coop=coop.name, role=texts.ROLE_WORDS["member"], count=count)
    else:
        names = texts.names_list([m.display_name for m in admitted])
        text = texts.ADMITTED_MANY.format(coop=coop.name, role=texts.ROLE_WORDS["member"], names=names, count=count)
    return [Reply(text, notice=JOIN_NOTICE)]


async def _admit_one(ctx: Context, call: Call, target, role: str | None) -> list[Reply]:
    """One person, known or new by platform id, with a role if one is given."""
    steward, coop = ctx.member, ctx.coop
    new_account = None
    if target is None:
        who = one_line(call.args)
        bare = who.removeprefix("@") if ctx.sender.platform != "matrix" else who
        if not looks_like_platform_id(ctx.sender.platform, bare):
            raise NotFound(texts.MEMBER_UNKNOWN.format(who=who, coop=coop.name, prefix=ctx.prefix))
        new_account = (ctx.sender.platform, bare, bare)
    elif target.status == "active" and (role is None or role == target.role):
        raise Conflict(texts.ADMIT_ALREADY.format(name=target.display_name, coop=coop.name))
    elif target.status == "ally":
        raise Conflict(await _admit_ally(ctx, target))
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
        return [Reply(texts.ROLE_CHANGED.format(name=member.display_name, role=texts.ROLE_WORDS[role], coop=coop.name))]
    count = await ctx.stores.members.count_active(coop.id)
    text = texts.ADMITTED.format(name=member.display_name, coop=coop.name, role=texts.ROLE_WORDS[role], count=texts.members(count))
    return [Reply(text, notice=JOIN_NOTICE)]


async def _admit_ally(ctx: Context, ally) -> str:
    """Why an ally is not admitted as they are: a member is someone else's standing, so unally first."""
    org = await ctx.stores.allies.get(ally.org_id) if ally.org_id else None
    return texts.ADMIT_ALLY.format(name=ally.display_name, coop=ctx.coop.name, org=org.name if org else "?",
                                   prefix=ctx.prefix)


@verb("remove", who=Standing.STEWARD, args=N_("<member>"), summary=N_("steward: take someone off the register"))
async def remove(ctx: Context, call: Call) -> list[Reply]:
    steward, coop = ctx.member, ctx.coop
    target = await ctx.member_named(call.args)
    if target is None or target.status != "active":
        name = one_line(call.args) if target is None else target.display_name
        raise NotFound(texts.REMOVE_NOT_MEMBER.format(name=name, coop=coop.name))
    try:
        forfeited = await ctx.stores.members.remove(
            coop.id, target.id, by=steward.id, now=ctx.now, event=ctx.event,
            forfeit_as=texts.FORFEITED_SHARE.format(name=target.display_name))
    except LastSteward:
        raise Conflict(texts.REMOVE_LAST_STEWARD.format(name=target.display_name, coop=coop.name)) from None
    count = await ctx.stores.members.count_active(coop.id)
    text = texts.REMOVED.format(name=target.display_name, coop=coop.name, count=texts.members(count))
    text += "".join("\n" + texts.SHARE_FORFEITED.format(number=r.number, amount=format_amount(amount, r.currency))
                    for r, amount in forfeited)
    if await ctx.stores.feeds.exists(coop.id):
        # The feed is the co-op's: whoever was given its URL reads it until a steward renews it.
        text += "\n" + texts.REMOVED_FEED.format(name=target.display_name, prefix=ctx.prefix)
    return [Reply(text)]


@verb("members", alone=True, who=Standing.MEMBER, summary=N_("the register, with roles"))
async def members(ctx: Context, call: Call) -> list[Reply]:
    register = await ctx.stores.members.register(ctx.coop.id)
    active = [m for m in register if m.status == "active"]
    pending = [m for m in register if m.status == "pending"]
    return [Reply(texts.members_list(ctx.coop.name, active, pending))]


@verb("whoami", alone=True, who=Standing.ANYONE, summary=N_("this room's co-op and your standing in it; your own language"),
      keys={"language": N_("en|es|fr|de|-   (what is sent to you alone: tap answers, direct chats; - for the co-op's)")})
async def whoami(ctx: Context, call: Call) -> list[Reply]:
    if ctx.coop is None and ctx.chat.is_direct:
        return [Reply(texts.NO_COOP_DIRECT)]
    if "language" in call.settings:
        return await _own_language(ctx, call.settings["language"])
    standing = None
    if ctx.member is not None:
        standing = ctx.member.role if ctx.member.status == "active" else ctx.member.status
    name = ctx.member.display_name if ctx.member else ctx.sender_name
    text = texts.whoami(ctx.coop.name if ctx.coop else None, name, standing, ctx.prefix, org=ctx.ally_of)
    if ctx.member is not None and ctx.member.language:
        text += "\n" + texts.OWN_LANGUAGE.format(language=i18n.name(ctx.member.language), prefix=ctx.prefix)
    return [Reply(text + ctx.mandate_note())]


async def _own_language(ctx: Context, text: str) -> list[Reply]:
    """A member's own language: anyone on the register (pending, allies too) may choose theirs."""
    if ctx.member is None or ctx.member.status == "removed":
        ctx.require_member()  # refuses, in the words for the sender's standing
    word = text.strip().lower()
    code = None if word in ("-", "none", "") else i18n.normal(word)
    if code is None and word not in ("-", "none", ""):
        raise BadArguments(texts.LANGUAGE_UNKNOWN.format(text=text.strip()[:20], languages=", ".join(i18n.LANGUAGES)))
    await ctx.stores.members.set_language(ctx.member.id, code)
    if ctx.chat.is_direct:  # the answer is already in the language chosen; a room keeps the co-op's
        i18n.choose(code or coop_language(ctx.coop))
    if code is None:
        return [Reply(texts.LANGUAGE_COOP.format(language=i18n.name(coop_language(ctx.coop))))]
    return [Reply(texts.LANGUAGE_SET.format(language=i18n.name(code)))]


@verb("charter", alone=True, who=Standing.MEMBER, summary=N_("the co-op's rules"))
async def charter(ctx: Context, call: Call) -> list[Reply]:
    return [Reply(texts.charter(ctx.coop.name, ctx.charter) + ctx.mandate_note())]
