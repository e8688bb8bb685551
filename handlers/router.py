"""The router: one order of checks for every verb, and the one place refusals become replies."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace

# The modules that declare verbs, imported for their declarations (in the order `help` lists them).
from handlers import help, members, rooms, proposals, votes, agenda, surplus, lottery, minutes, allies, audits, pay, firewalls, mirror, drills  # noqa: F401
from handlers import timeline  # noqa: F401  (drift, timeline)
from handlers import confessions  # noqa: F401
from handlers import objections  # noqa: F401  (object, unobject, revise)
from handlers import proxies  # noqa: F401  (proxy, unproxy, proxies)
from handlers import i18n, texts
from handlers.context import Context, coop_language, learn_name
from handlers.errors import BadArguments, GovernanceError, NotAllowed, NotFound
from handlers.events import CommandReceived, MessageRetracted, VoteCast
from handlers.parsing import MAX_MESSAGE, Command, one_line, parse_command, parse_number, split_extras, split_first
from handlers.ports import Clock, LastLooks
from handlers.types import JOIN_NOTICE, PREFIX, ChatRef, Notice, Reply, UserRef
from handlers.verbs import VERBS, Call, Standing, Verb, VerbTable, Where
from storage.errors import DuplicateEvent
from storage.stores import Stores

logger = logging.getLogger(__name__)

HEAD = 200  # characters of an over-long message read to see whether it is a command for us


@dataclass
class Governance:
    """The core's single entry point for adapters: one call per neutral event."""

    stores: Stores
    clock: Clock
    bot_names: tuple[str, ...] = ()  # names this bot answers to in /verb@BotName
    before_close: LastLooks = field(default_factory=dict)  # the platforms this process serves
    # Called after every command: a command may change what falls due when (the clock listens).
    after_command: list[Callable[[], None]] = field(default_factory=list)
    verbs: VerbTable = VERBS
    feed_base: str | None = None  # COOPBOT_PUBLIC_URL, when the bot serves calendar feeds (bot/feed.py)

    async def _context(self, chat: ChatRef, sender: UserRef, event_id: str | None) -> Context:
        member = None
        coop = await self.stores.coops.get_by_room(chat.platform, chat.chat_id)
        if coop is not None:
            member = await learn_name(self.stores, await self.stores.members.by_account(coop.id, sender.platform, sender.user_id), sender)
        elif chat.is_direct:
            # A direct chat belongs to no co-op; if the sender is on exactly one register, use it.
            entries = await self.stores.members.memberships(sender.platform, sender.user_id)
            if len(entries) == 1:
                member = entries[0]
                coop = await self.stores.coops.get(member.coop_id)
        ally_of = None
        if member is not None and member.status == "ally" and member.org_id is not None:
            org = await self.stores.allies.get(member.org_id)
            ally_of = org.name if org else None
        return self._bare(chat, sender, event_id, coop, member, ally_of)

    def _bare(self, chat: ChatRef, sender: UserRef, event_id: str | None, coop=None, member=None,
              ally_of: str | None = None) -> Context:
        return Context(
            stores=self.stores, chat=chat, sender=sender, now=self.clock.now(),
            prefix=PREFIX.get(chat.platform, "/"), coop=coop, member=member, ally_of=ally_of,
            event=(chat.platform, event_id) if event_id else None, before_close=self.before_close, verbs=self.verbs,
            feed_base=self.feed_base,
        )

    async def handle_command(self, event: CommandReceived) -> list[Reply]:
        """Replies to a message; [] for ordinary chat, commands for other bots, and duplicates."""
        with i18n.scope():  # the language chosen for this event ends with it
            replies = await self._command(event)
        # A refused secret (a confession) is remembered nowhere: the record would say who tried, and when.
        if replies and replies[0].refusal and event.event_id and not replies[0].erase_command:
            # Remembered as refused: an edit of this message is then its corrected command.
            try:
                await self.stores.cursors.refused(event.chat.platform, event.event_id, self.clock.now())
            except Exception:
                logger.exception("could not record that %s was refused", event.event_id)
        return replies

    async def _command(self, event: CommandReceived) -> list[Reply]:
        # A live link code shown outside a direct chat dies here, whatever the message.
        if voided := await rooms.void_shown_codes(self.stores, event.chat, event.text, self.clock.now(),
                                                  PREFIX.get(event.chat.platform, "/")):
            return voided
        too_long = len(event.text) > MAX_MESSAGE
        # An over-long message is read no further than its head: enough to see whether it is a
        # command for us, so its refusal costs the same whatever its length.
        cmd = parse_command(event.text[:HEAD] if too_long else event.text)
        if cmd is None or not self._ours(cmd):
            return []
        prefix = PREFIX.get(event.chat.platform, "/")
        verb = self.verbs.get(cmd.verb)
        if too_long or verb is None:  # answered before any context is read: in the room's language
            i18n.choose(coop_language(await self.stores.coops.get_by_room(event.chat.platform, event.chat.chat_id)))
        if too_long:
            return _erasing(verb, [Reply(texts.TOO_LONG.format(length=len(event.text), limit=MAX_MESSAGE),
                                         refusal=True)])
        if verb is None:
            guess = self.verbs.guess(cmd.verb)
            text = (texts.UNKNOWN_VERB_GUESS.format(verb=cmd.verb, guess=guess, prefix=prefix) if guess
                    else texts.UNKNOWN_VERB.format(verb=cmd.verb, prefix=prefix))
            # A mistyped confession (`/confes …`) is a secret all the same: erased like one.
            return _erasing(self.verbs.get(guess) if guess else None, [Reply(text, refusal=True)])
        try:
            handle = self._correct if event.corrects is not None else self._dispatch
            return _erasing(verb, await self._guard(event.chat, event.event_id, verb, prefix,
                                                    lambda: handle(event, verb, cmd)))
        finally:
            for listener in self.after_command:
                listener()

    async def notice(self, key: str, chat: ChatRef) -> Notice | None:
        """What a room's coalesced notice `key` (see `Reply.notice`) says now; None: nothing to show."""
        return await _NOTICES[key](self.stores, chat)

    def addressed(self, event: CommandReceived) -> bool:
        """Whether a message is a command for this bot: not ordinary chat, nor one for another bot."""
        cmd = parse_command(event.text)
        return cmd is not None and self._ours(cmd)

    def takes_lines(self, text: str) -> bool:
        """Whether a message is a command for this bot whose verb reads lines after the first, so
        that someone typing it may have more to say (the console keeps it open for them)."""
        cmd = parse_command(text)
        verb = self.verbs.get(cmd.verb) if cmd is not None and self._ours(cmd) else None
        return verb is not None and verb.takes_lines

    def _ours(self, cmd: Command) -> bool:
        return not cmd.addressed_to or cmd.addressed_to.lower() in {n.lower() for n in self.bot_names}

    async def _correct(self, event: CommandReceived, verb: Verb, cmd: Command) -> list[Reply]:
        """An edited message: what its original did decides what the edit may do. A proposal it
        opened is revised by its author (while nobody has voted); a vote it cast, or a command
        that was refused (nothing was claimed), gives way to the corrected command; anything
        else it did stays done."""
        platform, original = event.chat.platform, event.corrects
        ctx = await self._context(event.chat, event.sender, event.event_id)
        i18n.choose(ctx.language if verb.alone else coop_language(ctx.coop))
        opened = ctx.coop and await self.stores.proposals.opened_by(ctx.coop.id, original)
        if opened:
            if opened.purpose == "drill":  # a temptation stays what it was put as, and within its drill
                raise NotAllowed(texts.EDIT_TEMPTATION.format(number=opened.number, prefix=ctx.prefix))
            if verb.name != "propose":
                raise NotAllowed(texts.EDIT_PROPOSAL_ONLY.format(number=opened.number, prefix=ctx.prefix))
            return await self._dispatch(event, verb, cmd, revising=opened, ctx=ctx)
        voted = ctx.member and await self.stores.votes.cast_by(ctx.member.id, original)
        if not voted:
            outcome = await self.stores.cursors.outcome(platform, original)
            if outcome is None:
                # Not a command we know: plain chat, or a message so old its record is gone.
                raise NotAllowed(texts.EDIT_UNKNOWN.format(prefix=ctx.prefix))
            if outcome == "done":
                raise NotAllowed(texts.EDIT_DONE.format(prefix=ctx.prefix))
        replies = await self._dispatch(event, verb, cmd, corrects=original, ctx=ctx)
        if replies and not replies[0].refusal:
            await self.stores.cursors.corrected(platform, original)
            # One message casts one vote: an edit that moved it to another proposal takes back the first.
            for moved in (await self.stores.votes.cast_by(ctx.member.id, original))[:-1] if ctx.member else ():
                await self.handle_vote(VoteCast(event.chat, event.sender, moved.proposal_id, None,
                                                f"{event.event_id}:moved:{moved.proposal_id}"))
        return [replace(r, text=texts.FROM_EDIT.format(text=r.text)) if i == 0 else r for i, r in enumerate(replies)]

    async def _dispatch(self, event: CommandReceived, verb: Verb, cmd: Command, revising=None,
                        corrects: str | None = None, ctx: Context | None = None) -> list[Reply]:
        """Where, standing, lines, the proposal named, then the verb: the same order for every verb."""
        ctx = ctx or await self._context(event.chat, event.sender, event.event_id)
        # Refusals, usage and answers alike (the scope is `handle_command`'s): the room's language, as a
        # verb may announce; the sender's own in a direct chat to a verb whose answer is all it says.
        i18n.choose(ctx.language if verb.alone else coop_language(ctx.coop))
        if revising is not None or corrects is not None:
            ctx = replace(ctx, revising=revising, corrects=corrects)
        if verb.where is Where.ROOM and ctx.chat.is_direct:
            raise NotAllowed(texts.ROOM_ONLY.format(prefix=ctx.prefix, verb=verb.name))
        if verb.where is Where.DIRECT and not ctx.chat.is_direct:
            raise NotAllowed(texts.DIRECT_ONLY.format(prefix=ctx.prefix, verb=verb.name))
        member = _STANDING[verb.who](ctx)
        extras = split_extras(cmd.lines, verb.keys.keys(), body=verb.body is not None, usage=None)
        args, proposal = cmd.args, None
        if verb.proposal:
            number, args = split_first(cmd.args)
            proposal = await _proposal(ctx, number)
            if verb.who is Standing.AUTHOR and proposal.author_id is None:
                raise NotAllowed(texts.MANDATED.format(number=proposal.number))
            if verb.who is Standing.AUTHOR and proposal.author_id != member.id:
                author = (await ctx.stores.members.names([proposal.author_id]))[proposal.author_id]
                raise NotAllowed(texts.NOT_THE_AUTHOR.format(number=proposal.number, author=author, verb=verb.name))
        call = Call(verb, args, cmd.lines, extras.settings, extras.body, proposal)
        return await verb.run(ctx, call)

    async def handle_retraction(self, event: MessageRetracted) -> list[Reply]:
        """A deleted message: the vote it cast is withdrawn if it is still the member's current
        vote on an open proposal (by the one vote path, so the card and the count follow)."""
        with i18n.scope():
            return await self._retraction(event)

    async def _retraction(self, event: MessageRetracted) -> list[Reply]:
        ctx = await self._context(event.chat, event.sender, event.event_id)
        cast = ctx.member and await self.stores.votes.cast_by(ctx.member.id, event.retracted)
        if not cast:
            return []
        return await self.handle_vote(VoteCast(event.chat, event.sender, cast[-1].proposal_id, None, event.event_id))

    async def handle_vote(self, event: VoteCast) -> list[Reply]:
        """A vote from a button or a native poll (option None takes it back): one path with typed votes."""
        ctx = self._bare(event.chat, event.sender, event.event_id)
        with i18n.scope():  # `votes.submit` chooses the voter's own language once the store has read them
                return await self._guard(event.chat, event.event_id, None, ctx.prefix,
                                     lambda: votes.submit(ctx, event.proposal_id, event.option, made_at=event.made_at,
                                                          choices=event.choices, how=event.how, tapped=event.alone))

    async def _guard(self, chat: ChatRef, event_id: str | None, verb: Verb | None, prefix: str,
                     call: Callable[[], Awaitable[list[Reply]]]) -> list[Reply]:
        """Every refusal becomes a reply; a redelivery becomes silence; anything else is logged."""
        try:
            return await call()
        except BadArguments as exc:
            usage = exc.usage or (verb.usage(prefix) if verb else None)
            return [Reply(exc.problem if usage is None else f"{exc.problem}\n{usage}", refusal=True)]
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


_NOTICES = {JOIN_NOTICE: members.join_notice}


def _erasing(verb: Verb | None, replies: list[Reply]) -> list[Reply]:
    """A verb whose text is the sender's secret has its message erased, whatever the answer; even a
    redelivery (handled already: a crash may have come before the erasure) says so, to erase it."""
    if verb is None or not verb.erase:
        return replies
    return [replace(r, erase_command=True) for r in replies] or [Reply(texts.ERASED_AGAIN, erase_command=True)]


def _no_check(ctx: Context):
    return ctx.member


_STANDING = {
    Standing.ANYONE: _no_check,
    Standing.IN_COOP: lambda ctx: ctx.require_coop() and ctx.member,
    Standing.MEMBER: Context.require_member,
    Standing.MEMBER_OR_ALLY: Context.require_member_or_ally,
    Standing.AUTHOR: Context.require_member,  # and the proposal's author, once it is known
    Standing.STEWARD: Context.require_steward,
}


async def _proposal(ctx: Context, text: str):
    """The proposal a verb's `<#>` names, in the sender's co-op."""
    number = parse_number(text)
    if number is None:
        what = one_line(text)[:40]
        raise BadArguments(texts.BAD_NUMBER.format(text=what) if what
                           else texts.MISSING_ARGUMENT.format(what=i18n.gettext("the proposal number")))
    proposal = await ctx.stores.proposals.get(ctx.coop.id, number)
    if proposal is None:
        raise NotFound(texts.PROPOSAL_UNKNOWN.format(number=number, coop=ctx.coop.name))
    return proposal
