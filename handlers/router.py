"""The verb table and the one place where events become replies and refusals become words."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from handlers import agenda, members, proposals, rooms, surplus, texts, votes
from handlers.context import Context, learn_name
from handlers.errors import BadArguments, GovernanceError
from handlers.events import CommandReceived, VoteCast, VoteWithdrawn
from handlers.parsing import MAX_MESSAGE, Command, parse_command, split_extras
from handlers.ports import Clock, CloseHook
from handlers.types import PREFIX, ChatRef, Reply, UserRef
from storage.errors import DuplicateEvent
from storage.stores import Stores

logger = logging.getLogger(__name__)

Handler = Callable[[Context, Command], Awaitable[list[Reply]]]


async def _help(ctx: Context, cmd: Command) -> list[Reply]:
    split_extras(cmd.lines, frozenset(), body=False, usage=texts.usage_line("help", ctx.prefix))
    verb = cmd.args.strip().lstrip("/!").lower()
    if not verb:
        return [Reply(texts.help_list(list(VERBS), ctx.prefix))]
    if verb not in VERBS:
        raise BadArguments(texts.UNKNOWN_VERB.format(verb=verb[:32], prefix=ctx.prefix), texts.usage_line("help", ctx.prefix))
    return [Reply(f"{ctx.prefix}{verb} — {texts.SUMMARY[verb]}\n" + texts.usage_line(verb, ctx.prefix))]


async def _start(ctx: Context, cmd: Command) -> list[Reply]:
    """Telegram's Start button sends /start: greet, and say what to do next."""
    return [Reply(texts.ADDED_TO_ROOM.format(prefix=ctx.prefix))]


# Verbs that work but are not listed in help (platform conventions).
HIDDEN: dict[str, Handler] = {"start": _start}

VERBS: dict[str, Handler] = {
    "help": _help,
    "setup": members.setup,
    "join": members.join,
    "admit": members.admit,
    "remove": members.remove,
    "members": members.members,
    "whoami": members.whoami,
    "roomcode": rooms.roomcode,
    "bind": rooms.bind,
    "link": rooms.link,
    "charter": members.charter,
    "propose": proposals.propose,
    "vote": votes.vote,
    "unvote": votes.unvote,
    "proposals": proposals.proposals,
    "show": proposals.show,
    "close": proposals.close,
    "calendar": agenda.calendar,
    "withdraw": proposals.withdraw,
    "surplus": surplus.surplus,
    "vow": surplus.vow,
    "vows": surplus.vows,
    "payout": surplus.payout,
    "books": surplus.books,
}


@dataclass
class Governance:
    """The core's single entry point for adapters: one call per neutral event."""

    stores: Stores
    clock: Clock
    bot_names: tuple[str, ...] = ()  # names this bot answers to in /verb@BotName
    before_close: tuple[CloseHook, ...] = ()
    # Called after every command: a command may change what falls due when (the clock listens).
    after_command: list[Callable[[], None]] = field(default_factory=list)

    async def _context(self, chat: ChatRef, sender: UserRef, event_id: str | None) -> Context:
        coop = await self.stores.coops.get_by_room(chat.platform, chat.chat_id)
        member = None
        if coop is not None:
            member = await learn_name(self.stores, await self.stores.members.by_account(coop.id, sender.platform, sender.user_id), sender)
        elif chat.is_direct:
            # A direct chat belongs to no co-op; if the sender is on exactly one register, use it.
            entries = await self.stores.members.memberships(sender.platform, sender.user_id)
            if len(entries) == 1:
                member = entries[0]
                coop = await self.stores.coops.get(member.coop_id)
        return self._bare(chat, sender, event_id, coop, member)

    def _bare(self, chat: ChatRef, sender: UserRef, event_id: str | None, coop=None, member=None) -> Context:
        return Context(
            stores=self.stores, chat=chat, sender=sender, now=self.clock.now(),
            prefix=PREFIX.get(chat.platform, "/"), coop=coop, member=member,
            event=(chat.platform, event_id) if event_id else None, before_close=self.before_close,
        )

    async def handle_command(self, event: CommandReceived) -> list[Reply]:
        """Replies to a message; [] for ordinary chat, commands for other bots, and duplicates."""
        cmd = parse_command(event.text)
        if cmd is None:
            return []
        if cmd.addressed_to and cmd.addressed_to.lower() not in {n.lower() for n in self.bot_names}:
            return []
        prefix = PREFIX.get(event.chat.platform, "/")
        if len(event.text) > MAX_MESSAGE:
            return [Reply(texts.TOO_LONG.format(length=len(event.text), limit=MAX_MESSAGE))]
        handler = VERBS.get(cmd.verb) or HIDDEN.get(cmd.verb)
        if handler is None:
            return [Reply(texts.UNKNOWN_VERB.format(verb=cmd.verb, prefix=prefix))]
        try:
            return await self._run(event.chat, event.sender, event.event_id, lambda ctx: handler(ctx, cmd))
        finally:
            for listener in self.after_command:
                listener()

    async def handle_vote(self, event: VoteCast) -> list[Reply]:
        if event.chat.is_direct:  # a direct chat's co-op is found through the sender's memberships
            return await self._run(event.chat, event.sender, event.event_id,
                                   lambda ctx: votes.button(ctx, event.proposal_id, event.option, event.made_at))
        # Taps come in bursts: who and where are looked up in the vote's own transaction.
        ctx = self._bare(event.chat, event.sender, event.event_id)
        return await self._guard(event.chat, event.event_id,
                                 lambda: votes.tap(ctx, event.proposal_id, event.option, event.made_at))

    async def handle_unvote(self, event: VoteWithdrawn) -> list[Reply]:
        if event.chat.is_direct:
            return await self._run(event.chat, event.sender, event.event_id,
                                   lambda ctx: votes.button_unvote(ctx, event.proposal_id))
        ctx = self._bare(event.chat, event.sender, event.event_id)
        return await self._guard(event.chat, event.event_id, lambda: votes.tap(ctx, event.proposal_id, None))

    async def _run(self, chat, sender, event_id, call) -> list[Reply]:
        async def with_context() -> list[Reply]:
            return await call(await self._context(chat, sender, event_id))

        return await self._guard(chat, event_id, with_context)

    async def _guard(self, chat, event_id, call) -> list[Reply]:
        """Every refusal becomes a reply; a redelivery becomes silence; anything else is logged."""
        try:
            return await call()
        except BadArguments as exc:
            text = exc.problem if exc.usage is None else f"{exc.problem}\n{exc.usage}"
            return [Reply(text, refusal=True)]
        except GovernanceError as exc:
            return [Reply(exc.text, refusal=True)]
        except DuplicateEvent:
            # Redelivered: the first delivery's effect is stored and was answered; count it once.
            logger.info("duplicate event %s ignored", event_id)
            return []
        except Exception:
            # The store's transaction rolled back: say so plainly, and keep the details for the log.
            logger.exception("command failed in %s:%s", chat.platform, chat.chat_id)
            return [Reply(texts.INTERNAL_ERROR, refusal=True)]
