"""Verbs of consent decisions (SPEC third set, `method: consent`): object, unobject and revise."""

from __future__ import annotations

from datetime import timedelta

from handlers import i18n, texts
from handlers.charter import MAX_PERIOD
from handlers.context import Context, coop_language
from handlers.due import DIRECT_PLATFORMS
from handlers.errors import BadArguments, Conflict, NotAllowed
from handlers.parsing import one_line, split_extras
from handlers.proposals import MAX_BODY, MAX_REASON, MAX_REVISIONS, PROPOSE_KEYS, _already_ended
from handlers.types import Reply
from handlers.verbs import Call, Standing, verb
from handlers.i18n import N_
from storage.errors import ProposalNotOpen
from storage.models import Proposal
from storage.objections import NoObjection, NotConsent, NotElector, Revised, TooManyRevisions

# A revision close to the end leaves the members a day to read the new text and decide again.
REVISE_NOTICE = timedelta(hours=24)


def _not_consent(ctx: Context, p: Proposal, refusal: str) -> Conflict:
    """`p` is decided another way: `refusal` says what to do instead."""
    return Conflict(refusal.format(number=p.number, method=texts.METHOD_WORDS.get(p.method, p.method), prefix=ctx.prefix))


def _open_consent(ctx: Context, p: Proposal, refusal: str) -> None:
    """Refused unless `p` is an open consent proposal."""
    if p.method != "consent":
        raise _not_consent(ctx, p, refusal)
    if p.status != "open":
        raise _already_ended(p)


def _refused(ctx: Context, p: Proposal, exc: Exception, refusal: str) -> Exception:
    """What the store refused under the proposal's lock (it ended, or was changed meanwhile)."""
    if isinstance(exc, ProposalNotOpen):
        return _already_ended(p, exc.status)
    if isinstance(exc, NotConsent):
        return _not_consent(ctx, p, refusal)
    return NotAllowed(texts.OBJECT_NOT_ELECTOR.format(number=p.number))


@verb("object", who=Standing.MEMBER, args=N_("<#> <reason>"), proposal=True,
      summary=N_("object to a consent proposal, saying why (shown on its card); it cannot pass while you object"))
async def object_(ctx: Context, call: Call) -> list[Reply]:
    p, reason = call.proposal, one_line(call.args)
    if not reason:
        raise BadArguments(texts.OBJECT_NO_REASON.format(prefix=ctx.prefix))
    if len(reason) > MAX_REASON:
        raise BadArguments(texts.NAME_TOO_LONG.format(what=i18n.gettext("reason"), length=len(reason), limit=MAX_REASON))
    _open_consent(ctx, p, texts.OBJECT_NOT_CONSENT)
    try:
        p, before = await ctx.stores.objections.lodge(p.id, ctx.member.id, reason=reason, now=ctx.now, event=ctx.event)
    except (ProposalNotOpen, NotConsent, NotElector) as exc:
        raise _refused(ctx, p, exc, texts.OBJECT_NOT_CONSENT) from None
    said = texts.OBJECTION_RAISED if before is None else texts.OBJECTION_RESTATED
    return [Reply(said.format(number=p.number, reason=reason, prefix=ctx.prefix), proposal_id=p.id)]


@verb("unobject", who=Standing.MEMBER, args="<#>", proposal=True,
      summary=N_("withdraw your objection to a consent proposal"))
async def unobject(ctx: Context, call: Call) -> list[Reply]:
    p = call.proposal
    if call.args.strip():
        raise BadArguments(texts.UNEXPECTED_ARGUMENT)
    _open_consent(ctx, p, texts.OBJECT_NOT_CONSENT)
    try:
        p = await ctx.stores.objections.withdraw(p.id, ctx.member.id, now=ctx.now, event=ctx.event)
    except NoObjection:
        raise Conflict(texts.UNOBJECT_NONE.format(number=p.number)) from None
    except (ProposalNotOpen, NotConsent) as exc:
        raise _refused(ctx, p, exc, texts.OBJECT_NOT_CONSENT) from None
    return [Reply(texts.OBJECTION_WITHDRAWN.format(number=p.number), proposal_id=p.id)]


@verb("revise", who=Standing.AUTHOR, args="<#>", body=N_("the new text"), proposal=True,
      summary=N_("author: a new text for an open consent proposal (votes given to the old one are cleared)"))
async def revise(ctx: Context, call: Call) -> list[Reply]:
    p, body = call.proposal, call.body
    if call.args.strip():
        raise BadArguments(texts.UNEXPECTED_ARGUMENT)
    if not body:
        raise BadArguments(texts.REVISE_NO_TEXT.format(prefix=ctx.prefix, number=p.number))
    if len(body) > MAX_BODY:
        raise BadArguments(texts.NAME_TOO_LONG.format(what=i18n.gettext("text"), length=len(body), limit=MAX_BODY))
    # A proposal's text never holds its settings (`propose` reads them): a revision changes the text only.
    if settings := split_extras(tuple(body.splitlines()), PROPOSE_KEYS.keys(), body=True, usage=None).settings:
        raise BadArguments(texts.REVISE_SETTINGS.format(number=p.number, keys=texts.and_list(list(settings)),
                                                        prefix=ctx.prefix))
    _open_consent(ctx, p, texts.REVISE_NOT_CONSENT)
    if body == p.body:
        raise Conflict(texts.REVISE_SAME.format(number=p.number))
    if ctx.now + REVISE_NOTICE > p.opened_at + MAX_PERIOD:
        # Its ballots would be cleared with less than a day left to decide again.
        raise Conflict(texts.REVISE_TOO_LATE.format(number=p.number, prefix=ctx.prefix,
                                                    when=texts.when(p.opened_at + MAX_PERIOD, ctx.charter.tz)))
    author, coop, tz, now = ctx.member.display_name, ctx.coop.name, ctx.charter.tz, ctx.now
    mark = texts.PREFIX_MARK  # each platform's own prefix, where it is delivered

    def closes_at(q: Proposal):
        # A day to decide again (within the longest a proposal may run: checked above).
        return now + REVISE_NOTICE if q.closes_at - now < REVISE_NOTICE else q.closes_at

    own = await ctx.stores.members.languages([ctx.coop.id])  # each is told directly in their own language

    def render(r: Revised):
        q = r.proposal
        lines = [texts.REVISED_ROOM.format(name=author, number=q.number, title=q.title, revision=r.revision,
                                           most=MAX_REVISIONS)]
        if r.cleared:
            lines.append(texts.REVISED_ROOM_CLEARED.format(
                names=texts.names_within([n for _, n, _ in r.cleared], texts.REVISED_NAMES_BUDGET),
                number=q.number, prefix=mark))
        if r.objections:
            lines.append(texts.REVISED_ROOM_OBJECTIONS.format(
                names=texts.names_within([o.name for o in r.objections], texts.REVISED_NAMES_BUDGET),
                number=q.number, prefix=mark))
        if q.closes_at != p.closes_at:
            lines.append(texts.REVISED_ROOM_CLOSES.format(when=texts.when(q.closes_at, tz)))
        voted = {m: o for m, _, o in r.cleared}
        objected = {o.member_id: o.reason for o in r.objections}

        def word(member_id: int) -> str | None:
            if member_id == q.author_id:
                return None  # they know: they revised it
            with i18n.use(i18n.first(own.get(member_id), coop_language(ctx.coop))):
                said = [texts.REVISED_DIRECT_VOTE.format(
                    name=author, number=q.number, title=q.title, coop=coop, prefix=mark,
                    option=texts.option_labels(q.options)[voted[member_id]])] if member_id in voted else []
                if member_id in objected:
                    said.append(texts.REVISED_DIRECT_OBJECTION.format(name=author, number=q.number, title=q.title,
                                                                      coop=coop, reason=objected[member_id], prefix=mark))
            return "\n".join(said) or None

        return "\n".join(lines), word

    try:
        revised = await ctx.stores.objections.revise(p.id, body=body, now=now, most=MAX_REVISIONS, closes_at=closes_at,
                                                     render=render, direct_platforms=DIRECT_PLATFORMS, event=ctx.event)
    except TooManyRevisions:
        raise Conflict(texts.REVISE_TOO_MANY.format(number=p.number, most=MAX_REVISIONS, prefix=ctx.prefix)) from None
    except (ProposalNotOpen, NotConsent) as exc:
        raise _refused(ctx, p, exc, texts.REVISE_NOT_CONSENT) from None
    # The room's announcement is the answer there; once delivered, it marks the card for its edit.
    return ctx.only_in_direct(texts.REVISED_DONE.format(number=p.number, revision=revised.revision, most=MAX_REVISIONS))
