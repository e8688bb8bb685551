"""Verbs for votes: vote and unvote, and votes that arrive from buttons or native polls."""

from __future__ import annotations

from datetime import datetime

from handlers import texts
from handlers.context import Context, learn_name
from handlers.errors import BadArguments, NotAllowed, NotFound, ProposalClosed
from handlers.members import no_extras, usage
from handlers.parsing import Command, one_line, split_first
from handlers.proposals import find, not_open
from handlers.types import Reply
from storage.errors import (
    DuplicateEvent, NoCoopHere, NoSuchOption, NotElector, NotOnRegister, ProposalNotOpen, StoreError, UnknownProposal,
    VotingEnded,
)
from storage.models import Proposal


def _option(ctx: Context, p: Proposal, text: str) -> int:
    text = one_line(text)
    if not text:
        raise BadArguments(texts.MISSING_ARGUMENT.format(what="the option"), usage(ctx, "vote"))
    if text.isascii() and text.isdigit() and 1 <= int(text) <= len(p.options):
        return int(text) - 1
    for i, label in enumerate(p.options):
        if label.casefold() == text.casefold():
            return i
    options = ", ".join(f"{i}. {label}" for i, label in enumerate(p.options, 1))
    raise BadArguments(texts.OPTION_UNKNOWN.format(number=p.number, option=text[:60], options=options), usage(ctx, "vote"))


def _refusal(ctx: Context, p: Proposal, exc: Exception) -> Exception:
    if isinstance(exc, ProposalNotOpen):
        return not_open(p, exc.status)
    if isinstance(exc, VotingEnded):
        return ProposalClosed(texts.VOTING_ENDED.format(number=p.number, when=texts.when(p.closes_at, ctx.charter.tz)))
    return NotAllowed(texts.NOT_ELECTOR.format(coop=ctx.coop.name, number=p.number))


def ack(p: Proposal, previous: int | None, option: int) -> Reply:
    label = p.options[option]
    if previous is None:
        text = texts.VOTE_RECORDED.format(option=label, number=p.number)
    elif previous == option:
        text = texts.VOTE_SAME.format(option=label, number=p.number)
    else:
        text = texts.VOTE_CHANGED.format(option=label, number=p.number, previous=p.options[previous])
    if p.ballot == "secret":
        return Reply(text, private=True, public_fallback=texts.VOTE_SECRET_PUBLIC.format(number=p.number),
                     proposal_id=p.id)
    return Reply(text, proposal_id=p.id)


async def record(ctx: Context, p: Proposal, option: int, made_at: datetime | None = None) -> Reply:
    member = ctx.require_member()
    try:
        outcome = await ctx.stores.votes.cast(p.id, member.id, option, now=ctx.now, event=ctx.event, made_at=made_at)
    except (ProposalNotOpen, VotingEnded, NotElector) as exc:
        raise _refusal(ctx, p, exc) from None
    return ack(outcome.proposal, outcome.previous, option)


async def vote(ctx: Context, cmd: Command) -> list[Reply]:
    no_extras(ctx, cmd)
    ctx.require_member()
    number, rest = split_first(cmd.args)
    p = await find(ctx, number, "vote")
    return [await record(ctx, p, _option(ctx, p, rest))]


async def unvote(ctx: Context, cmd: Command) -> list[Reply]:
    no_extras(ctx, cmd)
    ctx.require_member()
    number, rest = split_first(cmd.args)
    if rest.strip():
        raise BadArguments(texts.UNEXPECTED_ARGUMENT, usage(ctx, "unvote"))
    return [await take_back(ctx, await find(ctx, number, "unvote"))]


async def take_back(ctx: Context, p: Proposal) -> Reply:
    member = ctx.require_member()
    try:
        outcome = await ctx.stores.votes.withdraw(p.id, member.id, now=ctx.now, event=ctx.event)
    except (ProposalNotOpen, VotingEnded, NotElector) as exc:
        raise _refusal(ctx, p, exc) from None
    if outcome.previous is None:
        raise NotFound(texts.UNVOTE_NONE.format(number=p.number))
    return Reply(texts.UNVOTED.format(number=p.number), proposal_id=p.id)


async def _tapped(ctx: Context, proposal_id: int) -> Proposal:
    # Button data is not trusted: the proposal must belong to this room's co-op.
    coop = ctx.require_coop()
    p = await ctx.stores.proposals.get_by_id(proposal_id)
    if p is None or p.coop_id != coop.id:
        raise NotFound(texts.BUTTON_UNKNOWN)
    return p


async def button_unvote(ctx: Context, proposal_id: int) -> list[Reply]:
    return [await take_back(ctx, await _tapped(ctx, proposal_id))]


async def button(ctx: Context, proposal_id: int, option: int, made_at: datetime | None = None) -> list[Reply]:
    """A vote from a button or poll; the option must exist on the proposal."""
    p = await _tapped(ctx, proposal_id)
    if not 0 <= option < len(p.options):
        raise NotFound(texts.OPTION_UNKNOWN.format(number=p.number, option=option + 1, options=texts.options_line(p.options)))
    return [await record(ctx, p, option, made_at)]


async def tap(ctx: Context, proposal_id: int, option: int | None, made_at: datetime | None = None) -> list[Reply]:
    """A vote from a button or poll in a room (option None takes it back). The store checks
    room, register, button data and ballot in the vote's own transaction; this says why not."""
    try:
        outcome = await ctx.stores.votes.tap(
            ctx.chat.platform, ctx.chat.chat_id, ctx.sender.user_id, proposal_id, option,
            now=ctx.now, event=ctx.event, made_at=made_at,
        )
    except DuplicateEvent:
        raise
    except StoreError as exc:
        ctx.coop, ctx.member = exc.coop, await learn_name(ctx.stores, exc.member, ctx.sender)
        raise _tap_refused(ctx, exc, option) from None
    ctx.coop, ctx.member = outcome.coop, await learn_name(ctx.stores, outcome.member, ctx.sender)
    p = outcome.proposal
    if option is not None:
        return [ack(p, outcome.previous, option)]
    if outcome.previous is None:
        raise NotFound(texts.UNVOTE_NONE.format(number=p.number))
    return [Reply(texts.UNVOTED.format(number=p.number), proposal_id=p.id)]


def _tap_refused(ctx: Context, exc: StoreError, option: int | None) -> Exception:
    # The same words, in the same order of checks, as a typed vote or the direct-chat path.
    if isinstance(exc, NoCoopHere):
        ctx.require_coop()
    if isinstance(exc, UnknownProposal):
        return NotFound(texts.BUTTON_UNKNOWN)
    p = exc.proposal
    if isinstance(exc, NoSuchOption):
        return NotFound(texts.OPTION_UNKNOWN.format(number=p.number, option=option + 1, options=texts.options_line(p.options)))
    if isinstance(exc, NotOnRegister):
        ctx.require_member()
    return _refusal(ctx, p, exc)
