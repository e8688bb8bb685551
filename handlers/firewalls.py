"""Verbs of protected decisions (SPEC "Firewalls"): consent, veto and protect, by allies."""

from __future__ import annotations

import logging

from handlers import i18n, texts
from handlers.charter import PROTECTED_MIN
from handlers.context import Context
from handlers.errors import BadArguments, Conflict, GovernanceError, NotAllowed
from handlers.parsing import one_line
from handlers.proposals import MAX_REASON, _already_ended, close_one, protection
from handlers.types import Reply
from handlers.verbs import Call, Standing, verb
from handlers.i18n import N_
from storage.errors import ProposalNotOpen
from storage.firewalls import AlreadyProtected, AlreadyVetoed, NotProtected, NoVoice
from storage.models import Proposal

logger = logging.getLogger(__name__)


def _open_protected(ctx: Context, p: Proposal) -> None:
    if p.status != "open":
        raise _already_ended(p)
    if p.protection is None:
        raise Conflict(texts.NOT_PROTECTED.format(number=p.number))


def _holder(ctx: Context, what: str) -> str:
    """The golden share's holder (casefolded), if the sender is one of its allies; else refused."""
    charter = ctx.charter
    if charter.golden_key is None:
        raise NotAllowed(texts.NO_GOLDEN_SHARE.format(coop=ctx.coop.name))
    if not ctx.is_ally or ctx.ally_of is None or ctx.ally_of.casefold() != charter.golden_key:
        raise NotAllowed(texts.NOT_GOLDEN_HOLDER.format(holder=charter.golden_share, coop=ctx.coop.name, verb=what))
    return charter.golden_key


# What the store may refuse under the proposal's lock, after the checks made before it.
REFUSED = (NoVoice, NotProtected, AlreadyVetoed, AlreadyProtected, ProposalNotOpen)


def _refusal(ctx: Context, p: Proposal, exc: Exception, what: str) -> GovernanceError:
    """A refusal the store made under the proposal's lock (the ally lapsed meanwhile, or another
    command got there first), in the co-op's words."""
    if isinstance(exc, ProposalNotOpen):
        return _already_ended(p, exc.status)
    if isinstance(exc, NotProtected):
        return Conflict(texts.NOT_PROTECTED.format(number=p.number))
    if isinstance(exc, AlreadyVetoed):
        return Conflict(texts.VETO_ALREADY.format(number=p.number))
    if isinstance(exc, AlreadyProtected):
        return Conflict(texts.PROTECT_ALREADY.format(number=p.number))
    if exc.why == "frozen":
        return NotAllowed(texts.CONSENT_NOT_FROZEN.format(org=ctx.ally_of, number=p.number))
    if exc.why == "holder":
        return NotAllowed(texts.NOT_GOLDEN_HOLDER.format(holder=ctx.charter.golden_share, coop=ctx.coop.name, verb=what))
    return NotAllowed(texts.CONSENT_NOT_ALLY.format(coop=ctx.coop.name))


@verb("consent", who=Standing.MEMBER_OR_ALLY, args=N_("<#> yes|no"), proposal=True,
      summary=N_("an ally, for their organisation: consent (yes) or not (no) to a protected proposal"))
async def consent(ctx: Context, call: Call) -> list[Reply]:
    p, word = call.proposal, one_line(call.args).lower()
    if word not in ("yes", "no"):
        raise BadArguments(texts.CONSENT_BAD)
    if not ctx.is_ally:
        raise NotAllowed(texts.CONSENT_MEMBERS_VOTE.format(number=p.number, prefix=ctx.prefix))
    _open_protected(ctx, p)
    try:
        p, org, before = await ctx.stores.firewalls.consent(p.id, ctx.member.id, yes=word == "yes", now=ctx.now,
                                                            event=ctx.event)
    except REFUSED as exc:
        raise _refusal(ctx, p, exc, i18n.gettext("consent")) from None
    text = texts.CONSENT_GIVEN[word == "yes"].format(org=org, number=p.number, title=p.title)
    if before is not None and before != (word == "yes"):
        text += texts.CONSENT_CHANGED.format(org=org)
    return [Reply(text, proposal_id=p.id)]


@verb("veto", who=Standing.MEMBER_OR_ALLY, args=N_("<#> <reason>"), proposal=True,
      summary=N_("an ally of the golden-share holder: veto an open protected proposal"))
async def veto(ctx: Context, call: Call) -> list[Reply]:
    p, reason = call.proposal, one_line(call.args)
    holder = _holder(ctx, i18n.gettext("veto"))
    if not reason:
        raise BadArguments(texts.VETO_NO_REASON)
    if len(reason) > MAX_REASON:
        raise BadArguments(texts.NAME_TOO_LONG.format(what=i18n.gettext("reason"), length=len(reason), limit=MAX_REASON))
    _open_protected(ctx, p)
    if p.veto is not None:
        raise Conflict(texts.VETO_ALREADY.format(number=p.number))
    name, org = ctx.member.display_name, ctx.ally_of
    try:
        p = await ctx.stores.firewalls.veto(
            p.id, ctx.member.id, holder=holder, reason=reason, now=ctx.now, event=ctx.event,
            render=lambda q: texts.VETO_ANNOUNCED.format(number=q.number, title=q.title, name=name, org=org,
                                                         reason=reason))
    except REFUSED as exc:
        raise _refusal(ctx, p, exc, i18n.gettext("veto")) from None
    # Its voting ended with the veto: count it now. The veto is stored whatever happens here; if
    # the count must wait (another platform's votes) or fails, the clock counts it.
    try:
        await close_one(ctx.stores, p, ctx.now, ctx.before_close)
    except ProposalNotOpen:
        pass  # the clock counted it meanwhile: nothing left to do
    except Exception:
        logger.exception("counting #%s after its veto failed; the clock will", p.number)
    return ctx.only_in_direct(texts.VETO_DONE.format(number=p.number, org=org))


@verb("protect", who=Standing.MEMBER_OR_ALLY, args="<#>", proposal=True,
      summary=N_("an ally of the golden-share holder: call an open proposal in as a protected decision"))
async def protect(ctx: Context, call: Call) -> list[Reply]:
    p = call.proposal
    if call.args.strip():
        raise BadArguments(texts.UNEXPECTED_ARGUMENT)
    holder = _holder(ctx, i18n.gettext("call a proposal in"))
    if p.status != "open":
        raise _already_ended(p)
    if p.protection is not None:
        raise Conflict(texts.PROTECT_ALREADY.format(number=p.number))
    if p.author_id is None:
        raise NotAllowed(texts.PROTECT_MANDATED.format(number=p.number))
    if p.purpose == "drill":
        raise Conflict(texts.PROTECT_DRILL.format(number=p.number))
    charter, name, org = ctx.charter, ctx.member.display_name, ctx.ally_of
    rule = charter.rule("protected")

    def render(q: Proposal) -> str:
        return texts.PROTECT_ANNOUNCED.format(
            number=q.number, title=q.title, name=name, org=org, quorum=texts.percent(rule.quorum),
            threshold=texts.threshold_words(rule), bodies=texts.threshold_of(charter.bodies_threshold.share,
                                                                             charter.bodies_threshold.strict),
            count=len(q.protection["bodies"]), closes=texts.when(q.closes_at, charter.tz))

    try:
        p = await ctx.stores.firewalls.protect(
            p.id, ctx.member.id, holder=holder, rule=rule.to_json(), threshold=protection(charter)["threshold"],
            closes_at=lambda q: ctx.now + PROTECTED_MIN, now=ctx.now, render=render, event=ctx.event)
    except REFUSED as exc:
        raise _refusal(ctx, p, exc, i18n.gettext("call a proposal in")) from None
    return ctx.only_in_direct(texts.PROTECT_DONE.format(number=p.number))
