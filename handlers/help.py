"""Verbs about the bot itself: help (generated from the declarations) and Telegram's start."""

from __future__ import annotations

from handlers import texts
from handlers.context import Context
from handlers.errors import BadArguments
from handlers.types import Reply
from handlers.verbs import Call, Standing, verb
from handlers.i18n import N_


@verb("help", alone=True, who=Standing.ANYONE, args=N_("[verb]"), summary=N_("the list of commands, or one command's usage"))
async def help(ctx: Context, call: Call) -> list[Reply]:
    name = call.args.strip().lstrip("/!").lower()
    if not name:
        return [Reply(texts.help_list(ctx.verbs.listed(), ctx.prefix))]
    found = ctx.verbs.get(name)
    if found is None or found.hidden:
        raise BadArguments(texts.UNKNOWN_VERB.format(verb=name[:32], prefix=ctx.prefix))
    more = texts.HELP_MORE.get(found.name)  # what a verb promises, beyond its usage (`confess`)
    return [Reply(texts.help_verb(found, ctx.prefix) + (f"\n{more}" if more else ""))]


@verb("start", alone=True, who=Standing.ANYONE, summary=N_("say hello"), hidden=True)
async def start(ctx: Context, call: Call) -> list[Reply]:
    """Telegram's Start button sends /start: greet, and say what to do next."""
    return [Reply(texts.ADDED_TO_ROOM.format(prefix=ctx.prefix))]
