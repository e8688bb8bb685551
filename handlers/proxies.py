"""Proxies: the `proxy`, `unproxy` and `proxies` verbs, and the rule that says which proxies count at a close."""

from __future__ import annotations

from datetime import datetime

from handlers import i18n, texts
from handlers.charter import MAX_PERIOD, Charter
from handlers.context import Context, own_language
from handlers.errors import BadArguments, Conflict, NotAllowed, NotFound
from handlers.parsing import one_line, parse_closing, parse_number
from handlers.types import Reply
from handlers.verbs import Call, Standing, verb
from handlers.due import DIRECT_PLATFORMS
from handlers.i18n import N_
from storage.errors import ProposalNotOpen
from storage.models import Proposal
from storage.proxies import Held, HolderNotActive, Lent, ProxyFacts, ProxyLimit
from storage.stores import Stores


def covers(proxy: Lent | Held, p: Proposal, ended: datetime | None = None) -> bool:
    """The proxy lends a vote on this proposal: given for it, or until after its voting ends (at
    `ended` once the count knows it: a steward's early close ends it before `closes_at`)."""
    if proxy.proposal_id is not None:
        return proxy.proposal_id == p.id
    return proxy.until is not None and (p.closes_at if ended is None else ended) < proxy.until


def applies(charter: Charter, p: Proposal) -> bool:
    """Proxies count on this proposal at all: the charter allows them, and it is no protected decision."""
    return charter.proxies and p.kind != "protected"


def counted(f: ProxyFacts) -> list[Lent]:
    """Which proxies count at this close: the one rule, applied by `storage.proxies.resolve` to
    the facts it read in the close's transaction. A giver's proxy counts if the charter allows
    proxies now and the proposal is not protected; it was given before voting ended and not revoked
    by then; it covers the proposal (by the moment its voting ended); the giver is still an active
    member with no vote of their own (the facts hold only those) and no objection standing (an
    objection to a consent proposal is their own say on it); the holder is still an active member
    and voted themselves. Only a holder's own vote is copied, never a proxy's: no chains. A holder
    carries at most the charter's `proxy_limit` at this count, the earliest given (a limit lowered
    since binds them too)."""
    charter = Charter.from_json(f.charter)
    if not applies(charter, f.proposal):
        return []
    chosen, carried = set(), {}
    for i, lent in sorted(enumerate(f.proxies), key=lambda x: x[1].given_at):
        in_force = lent.given_at <= f.moment and (lent.revoked_at is None or lent.revoked_at > f.moment)
        if (in_force and lent.giver_active and lent.holder_active and covers(lent, f.proposal, f.moment)
                and lent.holder_id != lent.giver_id and lent.giver_id not in f.objected
                and lent.holder_id in f.voted and carried.get(lent.holder_id, 0) < charter.proxy_limit):
            carried[lent.holder_id] = carried.get(lent.holder_id, 0) + 1
            chosen.add(i)
    return [lent for i, lent in enumerate(f.proxies) if i in chosen]


async def _cards(ctx: Context, *lent: Held | Lent | None, but: int | None = None) -> tuple[int, ...]:
    """The open proposals whose cards show these proxies (before and after a change), but `but`
    (the reply's own proposal): their cards need an edit."""
    lent = tuple(x for x in lent if x is not None)
    if not lent or not ctx.charter.proxies:
        return ()
    return tuple(p.id for p in await ctx.stores.proposals.list(ctx.coop.id, status="open")
                 if p.id != but and applies(ctx.charter, p) and any(covers(x, p) for x in lent))


def _scope(held: Held, tz) -> str:
    if held.proposal_id is not None:
        return texts.PROXY_FOR.format(number=held.number)
    return texts.PROXY_UNTIL.format(when=texts.when(held.until, tz))


@verb("proxy", who=Standing.MEMBER, args=N_("<member>"),
      keys={"for": N_("#N   (one open proposal)"), "until": N_("2026-12-01 18:00 | 30d   (every proposal closing before then)")},
      summary=N_("lend your vote to another member (your own vote always overrides); charter: proxies"))
async def proxy(ctx: Context, call: Call) -> list[Reply]:
    charter, giver = ctx.charter, ctx.member
    if not charter.proxies:
        raise NotAllowed(texts.PROXY_NOT_ALLOWED.format(coop=ctx.coop.name))
    if ("for" in call.settings) == ("until" in call.settings):
        raise BadArguments(texts.PROXY_ONE_OF)
    if not one_line(call.args):
        raise BadArguments(texts.MISSING_ARGUMENT.format(what=i18n.gettext("the member who holds your proxy")))
    holder = await ctx.member_named(call.args)
    if holder is None or holder.status == "removed":
        raise NotFound(texts.MEMBER_UNKNOWN.format(who=one_line(call.args)[:60], coop=ctx.coop.name, prefix=ctx.prefix))
    if holder.id == giver.id:
        raise BadArguments(texts.PROXY_SELF)
    if holder.status != "active":
        raise NotAllowed(texts.PROXY_HOLDER_INACTIVE.format(name=holder.display_name, coop=ctx.coop.name))
    p, until = None, None
    if "for" in call.settings:
        text = one_line(call.settings["for"])
        number = parse_number(text)
        p = await ctx.stores.proposals.get(ctx.coop.id, number) if number is not None else None
        if p is None:
            raise BadArguments(texts.PROXY_BAD_FOR.format(text=text[:20]))
        if p.status != "open" or p.closes_at <= ctx.now:  # once voting ends, a proxy given would never count
            status = p.status if p.status != "open" else "counting"
            raise Conflict(texts.PROXY_NOT_OPEN.format(number=p.number, status=texts.STATUS_WORDS[status]))
        if p.kind == "protected":
            raise NotAllowed(texts.PROXY_PROTECTED.format(number=p.number))
        # Only the register frozen when it opened votes on it: a proxy outside it would never count.
        electors = set(await ctx.stores.proposals.electors(p.id))
        if giver.id not in electors:
            raise NotAllowed(texts.PROXY_NOT_ELECTOR.format(coop=ctx.coop.name, number=p.number))
        if holder.id not in electors:
            raise NotAllowed(texts.PROXY_HOLDER_NOT_ELECTOR.format(name=holder.display_name, coop=ctx.coop.name,
                                                                   number=p.number))
        scope = texts.PROXY_FOR.format(number=p.number)
    else:
        text = one_line(call.settings["until"])
        until = parse_closing(text, ctx.now, charter.tz)
        if until is None:
            raise BadArguments(texts.PROXY_BAD_UNTIL.format(text=text[:40]))
        if until <= ctx.now:
            raise BadArguments(texts.PROXY_UNTIL_PAST.format(when=texts.when(until, charter.tz)))
        if until - ctx.now > MAX_PERIOD:  # lent for good is no longer lent: renewed at least yearly
            raise BadArguments(texts.PROXY_UNTIL_FAR.format(most=texts.span(MAX_PERIOD)))
        scope = texts.PROXY_UNTIL.format(when=texts.when(until, charter.tz))
    before, _ = await ctx.stores.proxies.of_member(giver.id, ctx.now)
    with i18n.use(own_language(ctx.coop, holder)):  # the holder is told directly: in their own language
        told = texts.PROXY_TOLD.format(giver=giver.display_name, coop=ctx.coop.name, scope=(
            texts.PROXY_FOR.format(number=p.number) if p else texts.PROXY_UNTIL.format(when=texts.when(until, charter.tz))))
    try:
        replaced = await ctx.stores.proxies.give(
            ctx.coop.id, giver.id, holder.id, proposal_id=p and p.id, until=until, limit=charter.proxy_limit,
            now=ctx.now, event=ctx.event,
            tell=lambda accounts: [(platform, user_id, told) for platform, user_id in accounts
                                   if platform in DIRECT_PLATFORMS])
    except ProxyLimit as exc:
        raise Conflict(texts.PROXY_LIMIT.format(name=holder.display_name, held=texts.plural(exc.held, "member", "members"),
                                                limit=charter.proxy_limit)) from None
    except HolderNotActive:
        raise NotAllowed(texts.PROXY_HOLDER_INACTIVE.format(name=holder.display_name, coop=ctx.coop.name)) from None
    except ProposalNotOpen as exc:
        raise Conflict(texts.PROXY_NOT_OPEN.format(number=p.number, status=texts.STATUS_WORDS.get(exc.status, exc.status))
                       ) from None
    text = texts.PROXY_GIVEN.format(giver=giver.display_name, holder=holder.display_name, scope=scope,
                                    prefix=ctx.prefix)
    if replaced is not None and replaced.holder_id != holder.id:
        old = await ctx.stores.members.get(replaced.holder_id)
        text += texts.PROXY_REPLACES.format(giver=giver.display_name, old=old.display_name if old else "?")
    # A proxy changes what the cards of the proposals it covers say (and the replaced one's): they are edited.
    after = Lent(giver.id, holder.id, p and p.id, until, ctx.now, None, True)
    return [Reply(text, proposal_id=p.id if p else None,
                  cards=await _cards(ctx, before, after, but=p.id if p else None))]


@verb("unproxy", who=Standing.MEMBER, summary=N_("revoke the proxy you gave: your vote is yours alone again"))
async def unproxy(ctx: Context, call: Call) -> list[Reply]:
    if call.args.strip():
        raise BadArguments(texts.UNEXPECTED_ARGUMENT)
    revoked = await ctx.stores.proxies.revoke(ctx.member.id, now=ctx.now, event=ctx.event)
    if revoked is None:
        raise NotFound(texts.PROXY_NONE_TO_REVOKE)
    return [Reply(texts.PROXY_REVOKED.format(holder=revoked.holder, scope=_scope(revoked, ctx.charter.tz)),
                  proposal_id=revoked.proposal_id, cards=await _cards(ctx, revoked, but=revoked.proposal_id))]


@verb("proxies", alone=True, who=Standing.MEMBER, summary=N_("the proxy you gave and those you hold"))
async def proxies(ctx: Context, call: Call) -> list[Reply]:
    if call.args.strip():
        raise BadArguments(texts.UNEXPECTED_ARGUMENT)
    tz, me = ctx.charter.tz, ctx.member
    gave, held = await ctx.stores.proxies.of_member(me.id, ctx.now)
    lines = [texts.PROXIES_HEAD.format(name=me.display_name, coop=ctx.coop.name)]
    lines.append(texts.PROXIES_GAVE.format(holder=gave.holder, scope=_scope(gave, tz)) if gave
                 else texts.PROXIES_GAVE_NONE)
    lines += [texts.PROXIES_HOLD.format(giver=h.giver, scope=_scope(h, tz)) for h in held] or [texts.PROXIES_HOLD_NONE]
    if not ctx.charter.proxies and (gave or held):
        lines.append(texts.PROXIES_OFF)
    return [Reply("\n".join(lines))]


def within_limit(held: list[Held], limit: int) -> list[Held]:
    """Of these proxies (oldest first), those a holder may carry: the first `limit` of each holder's,
    as `counted` keeps them at the count."""
    out, carried = [], {}
    for h in held:
        if carried.get(h.holder_id, 0) < limit:
            carried[h.holder_id] = carried.get(h.holder_id, 0) + 1
            out.append(h)
    return out


async def _pending(stores: Stores, p: Proposal, charter: Charter) -> list[Held]:
    return within_limit([h for h in await stores.proxies.pending(p) if covers(h, p)], charter.proxy_limit)


async def pending_lines(stores: Stores, p: Proposal, charter: Charter) -> str:
    """While a proposal is open: whose vote goes with whose, unless they vote ("" if none). Not on
    a secret ballot: the line would say, in the room's history, that a giver cast no vote of their
    own, so their ballot is the holder's choice (the holder's acknowledgement, private there, says it)."""
    if p.status != "open" or p.ballot == "secret" or not applies(charter, p):
        return ""
    pending = await _pending(stores, p, charter)
    if not pending:
        return ""
    return "\n".join([texts.PROXY_PENDING_HEAD] + [texts.PROXY_PENDING_LINE.format(giver=h.giver, holder=h.holder)
                                                   for h in pending])


async def carried(stores: Stores, p: Proposal, charter: Charter, holder_id: int) -> str:
    """The words a holder's vote acknowledgement adds: whose votes it also counts for ("" if none)."""
    if not applies(charter, p):
        return ""
    givers = [h.giver for h in await _pending(stores, p, charter) if h.holder_id == holder_id]
    return texts.PROXY_CARRIES.format(givers=texts.and_list(givers)) if givers else ""


async def acts_again(stores: Stores, p: Proposal, charter: Charter, member_id: int, now: datetime,
                     prefix: str) -> str:
    """The words a withdrawn vote's acknowledgement adds when the member lent their vote on this
    proposal: with no vote of their own, their proxy's holder votes for them again ("" if none; nor
    while their objection to a consent proposal stands, their own say on it, which `counted` keeps)."""
    if not applies(charter, p):
        return ""
    gave, _ = await stores.proxies.of_member(member_id, now)
    if gave is None or not covers(gave, p):
        return ""
    if p.method == "consent" and await stores.objections.stands(p.id, member_id):
        return ""
    return texts.PROXY_ACTS_AGAIN.format(holder=gave.holder, number=p.number, prefix=prefix)


def by_proxy_text(p: Proposal) -> str:
    """The result's line on ballots the close cast by proxy ("" if none; a secret ballot's are never
    marked: `storage.proxies.resolve`)."""
    marked = (p.result or {}).get("by_proxy")
    if not marked:
        return ""
    return texts.BY_PROXY_OPEN.format(pairs=", ".join(texts.BY_PROXY_PAIR.format(giver=g, holder=h) for g, h in marked))
