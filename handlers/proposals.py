"""Verbs for proposals: propose, proposals, show, close, withdraw; and closing what is due."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from fractions import Fraction

from handlers import amend, audits, i18n, lottery, proxies, ranking, texts
from handlers.charter import BALLOTS, KINDS, MAX_PERIOD, MIN_PERIOD, PROTECTED_MIN, Charter, DecisionRule
from handlers.context import Context, coop_language, in_language_of
from handlers.errors import BadArguments, Conflict, NotAllowed, NotFound, ProposalClosed
from handlers.ports import LastLooks
from handlers.parsing import one_line, parse_closing
from handlers.tally import CONSENT_OPTIONS, DEFAULT_OPTIONS, Outcome, consent_decided, consented, decide, is_yes_no
from handlers.types import LATE_VOTES, Reply
from handlers.verbs import Call, Standing, verb
from handlers.votes import CHOOSING, how_to_vote
from handlers.due import DIRECT_PLATFORMS
from handlers.i18n import N_
from storage.errors import AlreadyVoted, ProposalNotOpen, RemindedLately
from storage.draws import DrawSpec
from storage.firewalls import AlreadyProtected
from storage.models import Proposal
from storage.stores import Stores

logger = logging.getLogger(__name__)

MAX_TITLE = 200
MAX_BODY = 4000
MAX_REASON = 500
MAX_OPTION = 60
OPTIONS_RANGE = (2, 10)
LATE_GRACE = timedelta(minutes=1)
# How long a count waits for a platform whose votes cannot be brought in (its homeserver is down,
# its process is not running), counted from the first try: long enough for a restart, short
# enough that a result is not held hostage by one platform.
COUNT_GRACE = timedelta(minutes=10)
REMIND_EVERY = timedelta(hours=6)  # `remind` nudges; more often would nag (SPEC)
LOOK_TIMEOUT = 20.0  # seconds one last look may take before it counts as failed (and is tried again)
PROPOSE_KEYS = {
    "closes": N_("48h | 2026-12-01 18:00"),
    "kind": N_("ordinary|strategic|constitutional|protected"),
    "ballot": N_("open|secret"),
    "options": N_("A | B | C"),
    "results": N_("shown|hidden   (hidden: an open ballot's counts stay hidden until the close)"),
    "method": N_("vote|consent|ranked|approval   (how members decide; see `help vote`)"),
    "seats": N_("<n>   (method ranked: how many options are elected, by STV)"),
    "waive": N_("<member>   (passing waives that member's vow for the open surplus round)"),
    "amend": N_("timezone = Europe/Berlin; quorum.ordinary = 40%   (a charter change: constitutional; of a firewall key, protected)"),
    "revises": N_("A<n>   (answers a liberation audit's revision demand)"),
    "affiliate": N_("<organisation>   (passing affiliates it: its people may become allies; at least strategic)"),
    "disaffiliate": N_("<organisation>   (passing disaffiliates it and its allies lapse; at least strategic)"),
}
AFFILIATION = ("affiliate", "disaffiliate")
METHODS = ("vote", "consent", "ranked", "approval")
MAX_REVISIONS = 5  # `revise` of a consent proposal: each clears the ballots, so the members' patience is the limit
TIE_DRAW_AFTER = timedelta(minutes=10)  # a ranked proposal's tie-break draw, after its opening (as `draw`'s default)
MAX_ORG_NAME = 120


def _options(text: str | None) -> list[str]:
    if text is None:
        return list(DEFAULT_OPTIONS)
    options = [one_line(o) for o in text.split("|")]
    options = [o for o in options if o]
    low, high = OPTIONS_RANGE
    if not low <= len(options) <= high:
        raise BadArguments(texts.BAD_OPTIONS_COUNT.format(low=low, high=high))
    seen = set()
    for option in options:
        if len(option) > MAX_OPTION:
            raise BadArguments(texts.BAD_OPTION_LENGTH.format(limit=MAX_OPTION))
        if option.casefold() in seen:
            raise BadArguments(texts.DUPLICATE_OPTION.format(option=option))
        seen.add(option.casefold())
    return list(texts.bots_ballot(options) or options)


def _method(settings: dict, kind: str, options: list[str]) -> tuple[str, int | None]:
    """How members decide, and for STV how many options are elected. A protected decision is voted
    For or Against (its rule is a supermajority of a yes/no count); consent brings its own options."""
    method = settings.get("method", "vote").strip().lower()
    if method not in METHODS:
        raise BadArguments(texts.BAD_METHOD.format(text=one_line(settings["method"])[:40]))
    if method != "vote" and kind == "protected":
        raise BadArguments(texts.METHOD_PROTECTED)
    if method == "consent" and "options" in settings:
        raise BadArguments(texts.CONSENT_OWN_OPTIONS)
    if method == "consent" and settings.get("ballot", "").strip().lower() == "secret":
        raise BadArguments(texts.CONSENT_SECRET)  # objections are reasoned in the open, on the card
    if method in ("ranked", "approval") and "options" not in settings:
        raise BadArguments(texts.METHOD_OPTIONS.format(method=method))
    if "seats" not in settings:
        return method, None
    text = one_line(settings["seats"])
    if method != "ranked":
        raise BadArguments(texts.SEATS_RANKED)
    if not (text.isascii() and text.isdigit() and 1 <= int(text) < len(options)):
        raise BadArguments(texts.BAD_SEATS.format(text=text[:20], most=len(options) - 1))
    return method, int(text) if int(text) > 1 else None


def _closing(ctx: Context, text: str | None, charter: Charter, protected: bool) -> datetime:
    # A revision reads `closes: 2h` from when the proposal opened, as the message always meant.
    start = ctx.revising.opened_at if ctx.revising is not None else ctx.now
    # A protected decision stays open long enough for the organisations to consent.
    earliest = start + PROTECTED_MIN if protected else None
    if text is None:
        return max(start + charter.voting_period, earliest or start)
    closes = parse_closing(text, start, charter.tz)
    if closes is None:
        raise BadArguments(texts.BAD_CLOSES.format(text=one_line(text)[:60]))
    if closes <= ctx.now:
        raise BadArguments(texts.CLOSES_PAST.format(when=texts.when(closes, charter.tz)))
    if earliest is not None and closes < earliest:
        raise BadArguments(texts.PROTECTED_TOO_SOON.format(minimum=texts.span(PROTECTED_MIN),
                                                          earliest=texts.when(earliest, charter.tz)))
    if closes - ctx.now < MIN_PERIOD:
        raise BadArguments(texts.CLOSES_TOO_SOON.format(minimum=texts.span(MIN_PERIOD)))
    if closes - ctx.now > MAX_PERIOD:
        raise BadArguments(texts.CLOSES_TOO_LATE.format(maximum=texts.span(MAX_PERIOD)))
    return closes


def card(p: Proposal, charter: Charter, author: str, counts: list[int] | None, voters: int, prefix: str,
         voices: list | None = None, holder: str | None = None, objections: list | None = None,
         revisions: int = 0) -> str:
    """`voices` and `holder` (the golden share's holder if it is affiliated) for a protected decision;
    `objections` (those standing) and `revisions` for a consent proposal."""
    shown = counts if p.ballot == "open" and not (p.results_hidden and p.status != "closed") else None
    text = texts.proposal_card(p, charter.tz, author, DecisionRule.from_json(p.rule), shown, voters, prefix,
                               how_to_vote(p, prefix))
    if p.protection is not None and p.status == "open":
        text += "\n" + texts.protected_card(p, voices or [], holder, charter.tz, prefix)
    if p.method == "consent" and p.status == "open":
        text += "\n" + texts.consent_card(p, [{"name": o.name, "reason": o.reason} for o in objections or []],
                                          revisions, MAX_REVISIONS, charter.tz)
    return text


@verb("propose", who=Standing.MEMBER, args=N_("<title>"), keys=PROPOSE_KEYS, body=N_("the proposal's text"),
      summary=N_("open a proposal"))
async def propose(ctx: Context, call: Call) -> list[Reply]:
    author, charter, extras = ctx.member, ctx.charter, call
    title = one_line(call.args)
    if not title:
        raise BadArguments(texts.NO_TITLE)
    if len(title) > MAX_TITLE:
        raise BadArguments(texts.NAME_TOO_LONG.format(what=i18n.gettext("title"), length=len(title), limit=MAX_TITLE))
    if len(extras.body) > MAX_BODY:
        raise BadArguments(texts.NAME_TOO_LONG.format(what=i18n.gettext("text"), length=len(extras.body), limit=MAX_BODY))
    amending = "amend" in extras.settings
    affiliation = [key for key in AFFILIATION if key in extras.settings]
    if sum(key in extras.settings for key in ("amend", "waive", *AFFILIATION)) > 1:
        raise BadArguments(texts.ACTION_ONE)
    action = None
    if amending:
        action = await _amendment(ctx, extras.settings["amend"])
    # What guards the firewalls is a protected decision, whatever else the proposal says: an
    # amendment of a firewall key, or the disaffiliation of the golden share's holder.
    named = [said.split(" = ", 1)[0] for said in (action or {}).get("said", [])]
    firewalls = [name for name in named if charter.key(name).firewall]
    golden_out = "disaffiliate" in affiliation and charter.golden_key == one_line(extras.settings["disaffiliate"]).casefold()
    # Changing the charter is a constitutional decision; taking an organisation in or out of the
    # movement's circle, at least a strategic one.
    default_kind = ("protected" if firewalls or golden_out else "constitutional" if amending
                    else "strategic" if affiliation else "ordinary")
    kind = extras.settings.get("kind", default_kind).strip().lower()
    if kind not in KINDS:
        raise BadArguments(texts.BAD_KIND.format(kind=one_line(extras.settings["kind"])[:40]))
    if firewalls and kind != "protected":
        raise BadArguments(texts.firewall_kind(firewalls))
    if golden_out and kind != "protected":
        raise BadArguments(texts.GOLDEN_DISAFFILIATE_KIND.format(org=charter.golden_share))
    if amending and kind not in ("constitutional", "protected"):
        raise BadArguments(texts.AMEND_KIND)
    if affiliation and kind == "ordinary":
        raise BadArguments(texts.AFFILIATION_KIND)
    ballot = extras.settings.get("ballot", "open").strip().lower()
    if ballot not in BALLOTS:
        raise BadArguments(texts.BAD_BALLOT.format(ballot=one_line(extras.settings["ballot"])[:40]))
    options = _options(extras.settings.get("options"))
    results = extras.settings.get("results", "shown").strip().lower()
    if results not in ("shown", "hidden"):
        raise BadArguments(texts.BAD_RESULTS.format(text=one_line(extras.settings["results"])[:40]))
    closes_at = _closing(ctx, extras.settings.get("closes"), charter, kind == "protected")
    method, seats = _method(extras.settings, kind, options)
    if method == "consent":
        options = list(CONSENT_OPTIONS)
    # A proposal that changes something is decided For or Against: with other options, "passed"
    # would only mean that some option won, and Against winning would change the charter.
    renewal = kind == "constitutional" and texts.is_sunset_title(title)
    if method != "vote" and (amending or renewal or affiliation or "waive" in extras.settings
                             or "revises" in extras.settings):
        raise BadArguments(texts.METHOD_ACTION)
    if (amending or renewal or affiliation or "waive" in extras.settings) and "options" in extras.settings:
        raise BadArguments(texts.ACTION_OPTIONS)
    if "waive" in extras.settings:
        # A waiver of one member's vow: decided For/Against like any ordinary proposal.
        if not charter.vow_waiver:
            raise NotAllowed(texts.WAIVE_NOT_ALLOWED)
        if "options" in extras.settings:
            raise BadArguments(texts.WAIVE_KIND)
        who = await ctx.member_named(extras.settings["waive"])
        if who is None or who.status != "active":
            raise NotFound(texts.MEMBER_UNKNOWN.format(who=one_line(extras.settings["waive"])[:60], coop=ctx.coop.name,
                                                       prefix=ctx.prefix))
        current = await ctx.stores.rounds.current(ctx.coop.id)
        if current is None:
            raise NotFound(texts.WAIVE_NO_ROUND.format(prefix=ctx.prefix))
        # A waiver is for this round: if it is paid out before the vote ends, the waiver lapses.
        action = {"waive": who.id, "name": who.display_name, "round_id": current.id, "round": current.number}
    if affiliation:
        action = await _affiliation(ctx, affiliation[0], extras.settings[affiliation[0]])
    purpose, audit_id = "sunset" if renewal else None, None
    if "revises" in extras.settings:
        if "options" in extras.settings:
            raise BadArguments(texts.ACTION_OPTIONS)
        if renewal:
            raise BadArguments(texts.REVISES_RENEWAL)
        answered = await audits.revision_of(ctx, extras.settings["revises"], closes_at)
        purpose, audit_id = "revision", answered.id
        action = {**(action or {}), "revises": answered.number,
                  "due": texts.when(answered.revision_due_at, charter.tz)}
        if answered.reason == audits.PAY:
            action["breach"] = True  # the card names a pay cap breach, not an audit
    # A constitutional proposal titled as the sunset vote is a renewal of the mandate (it can lift a
    # lapse; only the charter's own sunset vote can make the mandate lapse).
    spec = dict(title=title, body=extras.body, kind=kind, ballot=ballot, options=options,
                rule=charter.rule(kind).to_json(), closes_at=closes_at, purpose=purpose, action=action,
                audit_id=audit_id, protection=protection(charter) if kind == "protected" else None,
                results_hidden=results == "hidden", method=method, seats=seats)
    if ctx.revising is not None:
        if method != ctx.revising.method:
            # A ranked proposal's tie-break draw is announced with it: a method changed by an edit
            # would leave a ranked count without one, or a draw behind for nothing.
            raise BadArguments(texts.REVISE_METHOD.format(number=ctx.revising.number, method=ctx.revising.method))
        if method == "ranked" and options != ctx.revising.options:
            # Its draw orders these options: new ones, chosen once the draw is seen, would go where
            # the author likes (a label changed goes after every option the draw holds).
            d = await ctx.stores.draws.get_by_id(ctx.revising.draw_id)
            raise BadArguments(texts.REVISE_RANKED_OPTIONS.format(number=ctx.revising.number,
                                                                  draw=d.number if d else "?"))
        return await _revise(ctx, ctx.revising, spec)
    tie_draw = None
    if method == "ranked":
        # Equal counts in a round go by a draw of every option, announced now for all to see and
        # shuffle, drawn TIE_DRAW_AFTER on or at the close if sooner; the count waits for it.
        drawn = await lottery.prepare(ctx.stores, ctx.coop.id, purpose=texts.TIE_DRAW_PURPOSE, seats=len(options),
                                      pool=options, at=min(ctx.now + TIE_DRAW_AFTER, closes_at), by=author.id)

        def tie_draw(number: int) -> DrawSpec:  # the proposal's number is taken in the store's transaction
            return replace(drawn, purpose=texts.TIE_DRAW_PURPOSE.format(number=number))
    await ctx.stores.proposals.open(ctx.coop.id, author_id=author.id, now=ctx.now, event=ctx.event,
                                    tie_draw=tie_draw, **spec)
    # The card goes to every bound room through the outbox; there is nothing more to say here.
    return []


def protection(charter: Charter) -> dict:
    """What a protected decision freezes from the charter besides its rule: the share of the
    affiliated organisations that must consent (storage adds which organisations those are)."""
    return {"threshold": [str(charter.bodies_threshold.share), charter.bodies_threshold.strict]}


async def _amendment(ctx: Context, text: str) -> dict:
    """An `amend:` line read against the charter now: what it would change, before and after. A
    golden share must go to an affiliated organisation (named as the register spells it)."""
    charter = ctx.charter
    try:
        amended, said = amend.parse(text, charter)
    except amend.BadAmendment as exc:
        raise BadArguments(texts.BAD_AMENDMENT.format(problem=str(exc))) from None
    if amended.golden_share is not None and amended.golden_share != charter.golden_share:
        affiliated = await ctx.stores.allies.affiliated(ctx.coop.id)
        found = next((o for o in affiliated if o.key == amended.golden_share.casefold()), None)
        if found is None:
            raise NotFound(texts.GOLDEN_NOT_AFFILIATED.format(
                org=amended.golden_share, orgs=", ".join(o.name for o in affiliated) or texts.NO_ORGS))
        amended = amended.with_changes(golden_share=found.name)
    # What it would change, before and after, is on its card and in the export.
    return {"amend": amend.patch(charter, amended), "said": said, "changes": amend.changes(charter, amended)}


async def _affiliation(ctx: Context, key: str, text: str) -> dict:
    """`affiliate: <organisation>` or `disaffiliate: <organisation>`, checked against the affiliated
    organisations now (the close applies it only if it still makes sense then)."""
    name = one_line(text)
    if not name:
        raise BadArguments(texts.MISSING_ARGUMENT.format(what=i18n.gettext("the organisation's name")))
    if len(name) > MAX_ORG_NAME:
        raise BadArguments(texts.NAME_TOO_LONG.format(what=i18n.gettext("organisation's name"), length=len(name), limit=MAX_ORG_NAME))
    affiliated = await ctx.stores.allies.affiliated(ctx.coop.id)
    found = next((o for o in affiliated if o.key == name.casefold()), None)
    if key == "affiliate" and found is not None:
        raise Conflict(texts.AFFILIATE_ALREADY.format(org=found.name, coop=ctx.coop.name))
    if key == "disaffiliate" and found is None:
        orgs = ", ".join(o.name for o in affiliated) or texts.NO_ORGS
        raise NotFound(texts.DISAFFILIATE_UNKNOWN.format(org=name, coop=ctx.coop.name, orgs=orgs))
    return {key: name if found is None else found.name}


async def _revise(ctx: Context, p: Proposal, spec: dict) -> list[Reply]:
    """The author edited the message that opened `p`: while nobody has voted, the proposal becomes
    what the message now says, and its card (and poll) are edited to match."""
    if p.author_id != ctx.member.id:
        raise NotAllowed(texts.EDIT_NOT_YOURS.format(number=p.number))
    if p.purpose == "drill":
        raise NotAllowed(texts.EDIT_TEMPTATION.format(number=p.number, prefix=ctx.prefix))
    if (p.protection or {}).get("by"):
        # Called in by the golden share: an edit must not make it something the call-in did not see.
        raise NotAllowed(texts.EDIT_CALLED_IN.format(number=p.number, prefix=ctx.prefix))
    try:
        await ctx.stores.proposals.revise(p.id, now=ctx.now, event=ctx.event, **spec)
    except AlreadyProtected:
        raise NotAllowed(texts.EDIT_CALLED_IN.format(number=p.number, prefix=ctx.prefix)) from None
    except AlreadyVoted:
        # A consent proposal answers its objections with a new text: `revise`, which tells who voted or objected.
        edit_voted = texts.EDIT_CONSENT if p.method == "consent" else texts.EDIT_VOTED
        raise NotAllowed(edit_voted.format(number=p.number, prefix=ctx.prefix)) from None
    except ProposalNotOpen as exc:
        raise _already_ended(p, exc.status) from None
    return [Reply(texts.PROPOSAL_REVISED.format(number=p.number), proposal_id=p.id)]


def not_open(p: Proposal, status: str | None = None) -> ProposalClosed:
    return ProposalClosed(texts.NOT_OPEN.format(number=p.number, status=texts.STATUS_WORDS[status or p.status]))


@verb("proposals", alone=True, who=Standing.MEMBER, summary=N_("open proposals, time left, whether you voted"))
async def proposals(ctx: Context, call: Call) -> list[Reply]:
    member = ctx.member
    items = await ctx.stores.proposals.open_with_votes_of(ctx.coop.id, member.id)
    if not items:
        return [Reply(texts.NO_OPEN_PROPOSALS.format(coop=ctx.coop.name, prefix=ctx.prefix))]
    return [Reply(texts.proposals_list(items, ctx.charter.tz, ctx.now, ctx.coop.name))]


@verb("show", alone=True, who=Standing.MEMBER, args="<#>", proposal=True, summary=N_("one proposal and its tally"))
async def show(ctx: Context, call: Call) -> list[Reply]:
    if call.args.strip():
        raise BadArguments(texts.UNEXPECTED_ARGUMENT)
    p = call.proposal
    # The rankings (or approved sets) and the reasons share the one budget a vote's reasons have; a
    # consent proposal's card (and result) lists its objections too: its reasons make room for them.
    budget = REASONS_BUDGET - texts.OBJECTIONS_BUDGET if p.method == "consent" else REASONS_BUDGET
    choices = await _choices(ctx.stores, p, budget // 2)
    reasons = await _reasons(ctx.stores, p, budget - len(choices))
    return [Reply(await describe(ctx.stores, p, ctx.charter, ctx.prefix) + choices + reasons)]


async def describe(stores: Stores, p: Proposal, charter: Charter, prefix: str) -> str:
    """The proposal as `show` tells it: its card while open, then its result or withdrawal."""
    names = await stores.members.names([m for m in (p.author_id, p.ended_by) if m])
    author = names[p.author_id] if p.author_id else texts.MANDATED_AUTHOR
    if p.status == "open":
        counts = await stores.proposals.counts(p.id, len(p.options), p.method)
        # An approval ballot counts for each option it approves: the voters are the ballots.
        voters = len(await stores.votes.ballots(p.id)) if p.method == "approval" else sum(counts)
        voices = holder = objections = None
        revisions = 0
        if p.method == "consent":
            objections = await stores.objections.standing(p.id)
            revisions = await stores.objections.revisions(p.id)
        if p.protection is not None:
            voices = await stores.firewalls.voices(p)
            # A holder no longer affiliated holds no veto: the card does not name it as if it did.
            affiliated = {o.key for o in await stores.allies.affiliated(p.coop_id)}
            holder = charter.golden_share if charter.golden_key in affiliated else None
        text = card(p, charter, author, counts, voters, prefix, voices, holder, objections, revisions)
        pending = await proxies.pending_lines(stores, p, charter)
        return text + "\n" + pending if pending else text
    text = card(p, charter, author, None, 0, prefix)
    if p.status == "withdrawn":
        return text + "\n\n" + texts.withdrawn(p, names[p.ended_by], p.end_reason)
    return text + "\n\n" + result_text(p, charter, names.get(p.ended_by))


REASONS_SHOWN = 10  # the latest reasons `show` lists; the export has all
REASONS_BUDGET = 1500  # their characters: with the card, `show` stays one Telegram message (4,096)


async def _reasons(stores: Stores, p: Proposal, budget: int = REASONS_BUDGET) -> str:
    """The reasons members gave with their votes, on an open ballot whose counts may be seen, the
    latest in at most `budget` characters."""
    # Hidden until the close: a withdrawal is no close (its author must not learn how it went).
    if p.ballot != "open" or (p.results_hidden and p.status != "closed"):
        return ""
    given = sorted((b for b in await stores.votes.ballots(p.id) if b.reason and b.option is not None),
                   key=lambda b: b.cast_at)
    if not given:
        return ""
    names = await stores.members.names([b.member_id for b in given])
    lines = [texts.REASON_LINE.format(name=names.get(b.member_id, "?"), option=texts.option_labels(p.options)[b.option],
                                     reason=b.reason)
             for b in given[-REASONS_SHOWN:]]
    while sum(len(line) + 1 for line in lines) > budget:  # one message with the card
        lines.pop(0)
    more = len(given) - len(lines)
    return "\n\n" + "\n".join([texts.REASONS_HEAD, *lines] + ([texts.REASONS_MORE.format(more=more)] if more else []))


async def _choices(stores: Stores, p: Proposal, budget: int = REASONS_BUDGET) -> str:
    """Each member's ranking or approved set on an open ballot whose counts may be seen, while it
    runs (the card shows only first preferences, or the approvals per option)."""
    if p.method not in CHOOSING or p.status != "open" or p.ballot != "open" or p.results_hidden:
        return ""
    given = sorted((b for b in await stores.votes.ballots(p.id) if b.choices), key=lambda b: b.cast_at)
    if not given:
        return ""
    names = await stores.members.names([b.member_id for b in given])
    join = texts.CHOICES_JOIN[p.method]
    lines = [texts.CHOICES_LINE.format(name=names.get(b.member_id, "?"), choices=join.join(p.options[i] for i in b.choices))
             for b in given[-REASONS_SHOWN:]]
    while sum(len(line) + 1 for line in lines) > budget:  # one message with the card
        lines.pop(0)
    more = len(given) - len(lines)
    return "\n\n" + "\n".join([texts.CHOICES_HEAD[p.method], *lines] + ([texts.REASONS_MORE.format(more=more)] if more else []))


def result_text(p: Proposal, charter: Charter, closed_by: str | None, late_since: datetime | None = None) -> str:
    if p.result.get("method") in CHOOSING:
        text = texts.ranked_result(p, p.result, ended_early_by=closed_by, reason=p.end_reason)
        outcome = None
    elif p.method == "consent":
        outcome = Outcome.from_json(p.result)
        text = texts.consent_result(p, p.result, ended_early_by=closed_by, reason=p.end_reason)
    else:
        outcome = Outcome.from_json(p.result)
        text = texts.result(p, outcome, charter.tz, ended_early_by=closed_by, reason=p.end_reason)
    if late_since is not None:
        text += "\n" + texts.CLOSED_LATE.format(when=texts.when(late_since, charter.tz))
    if unchecked := p.result.get("unchecked"):
        text += "\n" + texts.UNCHECKED.format(platforms=_platforms(unchecked), grace=texts.span(COUNT_GRACE))
    carried = p.result.get("carried", p.result.get("passed", False))
    if p.purpose == "sunset" and (carried or p.author_id is None):
        text += "\n" + (texts.MANDATE_RENEWED if carried else texts.MANDATE_LAPSED)
    if settled := p.result.get("audit"):
        text += "\n" + texts.settled(settled)
    if p.protection is not None:
        text += "\n" + texts.protected_result(p.result)
    if p.purpose == "drill":
        text += "\n" + texts.DRILL_RESULT
    if (p.action or {}).get("amend") and carried:
        text += "\n" + texts.AMENDED.format(changes="; ".join(p.action["said"]))
    if breach := p.result.get("pay_breach"):
        text += "\n" + audits.breach_text(breach, charter.tz)
    if (p.action or {}).get("affiliate") and carried:
        text += "\n" + texts.AFFILIATED.format(org=p.action["affiliate"])
    if (p.action or {}).get("disaffiliate") and carried:
        text += "\n" + texts.DISAFFILIATED.format(org=p.action["disaffiliate"])
    if marked := proxies.by_proxy_text(p):
        text += "\n" + marked
    if minutes := p.result.get("minutes"):  # the head after this close's own leaf, posted with it
        text += "\n" + texts.head_text(minutes[0], bytes.fromhex(minutes[1]))
    return text


def _reason(text: str) -> str | None:
    reason = one_line(text)
    if len(reason) > MAX_REASON:
        raise BadArguments(texts.NAME_TOO_LONG.format(what=i18n.gettext("reason"), length=len(reason), limit=MAX_REASON))
    return reason or None


def _decide(p: Proposal, counts: list[int], voices: list | None = None, charter: dict | None = None,
            objections: list | None = None, chosen: list | None = None, order: list[int] | None = None) -> dict:
    if p.method == "consent":
        # Consent changes nothing by itself (actions are refused at proposing): nothing is carried.
        return {**consent_decided(counts, p.electorate_size, DecisionRule.from_json(p.rule), objections or []),
                "carried": False}
    if p.method == "ranked":
        return {**ranking.count_ranked(p.options, chosen or [], p.seats or 1, order or list(range(len(p.options))),
                                       p.electorate_size, DecisionRule.from_json(p.rule)), "carried": False}
    if p.method == "approval":
        return {**ranking.count_approval(p.options, chosen or [], p.electorate_size, DecisionRule.from_json(p.rule)),
                "carried": False}
    outcome = decide(p.options, counts, p.electorate_size, DecisionRule.from_json(p.rule))
    result = outcome.to_json()
    leaving = (p.action or {}).get("disaffiliate")
    if leaving and p.protection is None and Charter.from_json(charter).golden_key == leaving.casefold():
        # Its organisation came to hold the golden share while the vote ran: only a protected
        # decision disaffiliates it, so this one changes nothing, whatever the count.
        return {**result, "passed": False, "reason": "golden", "carried": False}
    if p.protection is not None:
        # A protected decision also needs the organisations' consent and no veto (SPEC "Firewalls").
        bodies = consented(voices or [], Fraction(p.protection["threshold"][0]), bool(p.protection["threshold"][1]))
        reason = "veto" if p.veto else outcome.reason if not outcome.passed else "" if bodies["met"] else "bodies"
        result.update(passed=not reason, reason=reason, bodies=bodies, veto=p.veto)
    # `carried`: what the proposal would change takes effect. Only For over Against carries a
    # change; with custom options "passed" means an option was chosen, which changes nothing.
    return {**result, "carried": result["passed"] and is_yes_no(p.options)}


def _already_ended(p: Proposal, status: str | None = None) -> ProposalClosed:
    return ProposalClosed(texts.ALREADY_ENDED.format(number=p.number, status=texts.STATUS_WORDS[status or p.status]))


@verb("close", who=Standing.STEWARD, args=N_("<#> [reason]"), proposal=True,
      summary=N_("steward: end a proposal now, with a reason"))
async def close(ctx: Context, call: Call) -> list[Reply]:
    steward, p, reason = ctx.member, call.proposal, _reason(call.args)
    if p.status != "open":
        raise _already_ended(p)
    if p.author_id is None:
        raise NotAllowed(texts.MANDATED.format(number=p.number))
    if p.protection is not None and ctx.now < (earliest := protected_since(p) + PROTECTED_MIN):
        raise NotAllowed(texts.PROTECTED_CLOSE_EARLY.format(number=p.number, when=texts.when(earliest, ctx.charter.tz)))
    return await close_now(ctx, p, steward, reason)


def protected_since(p: Proposal) -> datetime:
    return datetime.fromisoformat(p.protection["since"])


async def close_now(ctx: Context, p: Proposal, by, reason: str | None) -> list[Reply]:
    """End an open proposal now, by a steward (or the golden share's veto): counted at once, or,
    if another platform's votes up to now are not in yet, once they are (or the grace is over)."""
    look = await last_look(ctx.stores, p, ctx.before_close, ctx.now, upto=ctx.now)
    try:
        if p.draw_id is not None and (drawn := await tie_break(ctx.stores, p, ctx.now)) is None:
            # Its tie-break draw is not due yet (members may still shuffle): voting ends now, and the
            # clock counts once it is drawn.
            d = await ctx.stores.draws.get_by_id(p.draw_id)
            await ctx.stores.proposals.end_voting(p.id, now=ctx.now, by=by.id, reason=reason, event=ctx.event)
            return [Reply(texts.COUNT_WAITS_DRAW.format(number=p.number, draw=d.number,
                                                        when=texts.when(d.draw_at, ctx.charter.tz)))]
        if p.draw_id is not None:
            look = replace(look, order=drawn[0], draw=drawn[1])
        if look.waiting:
            # Another platform's votes up to now are not in yet (its process has not looked, or
            # cannot): voting ends now, and the clock counts once they are in, or the grace ends.
            await ctx.stores.proposals.end_voting(p.id, now=ctx.now, by=by.id, reason=reason, event=ctx.event)
            return [Reply(texts.COUNT_WAITS.format(number=p.number, platforms=_platforms(look.waiting),
                                                   grace=texts.span(COUNT_GRACE)))]
        charter = ctx.charter
        await ctx.stores.proposals.close(
            p.id, now=ctx.now, by=by.id, reason=reason, decide=look.decide,
            render=lambda q: result_text(q, charter, by.display_name), event=ctx.event, judge=audits.settlement,
            breach=audits.cap_breach, proxies=proxies.counted,
        )
    except ProposalNotOpen as exc:
        raise _already_ended(p, exc.status) from None
    return []


@verb("remind", who=Standing.MEMBER, args="<#>", proposal=True,
      summary=N_("author or steward: remind the members who have not voted, now (once in 6 hours)"))
async def remind(ctx: Context, call: Call) -> list[Reply]:
    member, p = ctx.member, call.proposal
    if call.args.strip():
        raise BadArguments(texts.UNEXPECTED_ARGUMENT)
    if p.author_id != member.id and member.role != "steward":
        raise NotAllowed(texts.REMIND_WHO.format(number=p.number))
    if p.status != "open":
        raise _already_ended(p)
    tz, coop, name = ctx.charter.tz, ctx.coop, member.display_name

    own = await ctx.stores.members.languages([coop.id])  # each non-voter is written to in their own language

    def render(q: Proposal, missing) -> tuple[str, list[tuple[str, str, str]]]:
        left, when = texts.span(q.closes_at - ctx.now), texts.when(q.closes_at, tz)
        text = texts.REMIND_ROOM.format(name=name, number=q.number, title=q.title, left=left, when=when,
                                        missing=len(missing), electorate=q.electorate_size, prefix=texts.PREFIX_MARK)

        def word(member_id: int) -> str:
            with i18n.use(i18n.first(own.get(member_id), coop_language(coop))):
                return texts.REMIND_DIRECT.format(name=name, number=q.number, title=q.title, coop=coop.name,
                                                  left=texts.span(q.closes_at - ctx.now), when=texts.when(q.closes_at, tz))
        return text, [(platform, user_id, word(member_id)) for member_id, accounts in missing
                      for platform, user_id in accounts if platform in DIRECT_PLATFORMS]

    try:
        reminded = await ctx.stores.proposals.remind(p.id, by=member.id, now=ctx.now, every=REMIND_EVERY,
                                                     render=render, event=ctx.event)
    except RemindedLately as exc:
        raise Conflict(texts.REMIND_TOO_SOON.format(number=p.number, when=texts.when(exc.at, tz),
                                                    again=texts.when(exc.at + REMIND_EVERY, tz))) from None
    except ProposalNotOpen as exc:
        raise _already_ended(p, exc.status) from None
    if not reminded:
        return [Reply(texts.REMIND_NOBODY.format(number=p.number))]
    return ctx.only_in_direct(texts.REMIND_DONE.format(number=p.number, count=texts.plural(reminded, "member",
                                                                                            "members")))


@verb("withdraw", who=Standing.AUTHOR, args=N_("<#> [reason]"), proposal=True,
      summary=N_("author: withdraw your proposal, with a reason"))
async def withdraw(ctx: Context, call: Call) -> list[Reply]:
    member, p, reason = ctx.member, call.proposal, _reason(call.args)
    if p.status != "open":
        raise _already_ended(p)
    try:
        await ctx.stores.proposals.withdraw(
            p.id, now=ctx.now, by=member.id, reason=reason,
            render=lambda q: texts.withdrawn(q, member.display_name, reason), event=ctx.event,
        )
    except ProposalNotOpen as exc:
        raise _already_ended(p, exc.status) from None
    return []


@dataclass(frozen=True)
class LastLook:
    """Whether a proposal can be counted: the platforms whose votes are still awaited (`waiting`),
    or, once the grace is over, those counted without their last look (`unchecked`)."""

    since: datetime  # the first try at counting
    waiting: tuple[str, ...] = ()
    unchecked: tuple[str, ...] = ()
    order: tuple[int, ...] | None = None  # a ranked proposal's drawn order of its options
    draw: int | None = None  # that draw's number, D<n>, named in the result

    def decide(self, p: Proposal, counts: list[int], voices: list | None = None, charter: dict | None = None,
               objections: list | None = None, chosen: list | None = None) -> dict:
        result = _decide(p, counts, voices, charter, objections, chosen,
                         list(self.order) if self.order is not None else None)
        if self.draw is not None:
            result = {**result, "draw": self.draw}
        return {**result, "unchecked": list(self.unchecked)} if self.unchecked else result


async def last_look(stores: Stores, p: Proposal, hooks: LastLooks, now: datetime, *, upto: datetime) -> LastLook:
    """Before a count: every platform with a room in the co-op must have brought in its votes up
    to `upto` (the closing time). This process looks for the platforms it serves; the others'
    processes record theirs in the database, so the count waits for them, across processes, for
    at most COUNT_GRACE from the first try."""
    since, platforms, looks = await stores.proposals.counting(p.id, now)
    platforms &= LATE_VOTES  # the others' votes reach the database as they are made
    for platform in sorted(platforms & hooks.keys()):
        if looks.get(platform) is not None and looks[platform] >= upto:
            continue
        hook = hooks[platform]
        try:
            if hook is not None:
                # Bounded: a homeserver that accepts and never answers must not hold up every other close.
                await asyncio.wait_for(hook(p.id), LOOK_TIMEOUT)
        except Exception as exc:
            # Tried again at the next tick, until the grace ends; the count never goes without it silently.
            logger.warning("%s votes on proposal %s could not be brought in: %s", platform, p.id, exc)
            continue
        await stores.proposals.looked(p.id, platform, now)
        looks[platform] = now
    missing = tuple(sorted(name for name in platforms if looks.get(name) is None or looks[name] < upto))
    if missing and now - since < COUNT_GRACE:
        return LastLook(since, waiting=missing)
    return LastLook(since, unchecked=missing)


async def tie_break(stores: Stores, p: Proposal, now: datetime) -> tuple[tuple[int, ...], int] | None:
    """A ranked proposal's drawn order of its options (indices) and the draw's number, drawing it
    now if its time has come and the due work has not yet (the one store step, so it is drawn
    once); None while its time has not come. An option the draw does not hold (the author revised
    the options) goes after those it does, in the proposal's order."""
    d = await stores.draws.get_by_id(p.draw_id)
    if d.status != "drawn":
        if d.draw_at > now:
            return None
        await stores.draws.draw(d.id, now=now, decide=lottery.decide, render=lottery.result_text)
        d = await stores.draws.get_by_id(p.draw_id)
    index = {label: i for i, label in enumerate(p.options)}
    order = [index[seat["name"]] for seat in d.result["seated"] if seat["name"] in index]
    return tuple(order + [i for i in range(len(p.options)) if i not in order]), d.number


def _platforms(names: tuple[str, ...]) -> str:
    return texts.and_list([texts.platform_name(name) for name in names])


async def close_due(stores: Stores, now: datetime, before_close: LastLooks) -> int:
    """Close every proposal whose time has come, once every platform's votes are in (or the grace
    is over); each result is queued once, with the close."""
    closed = 0
    for p in await stores.proposals.due(now):
        try:
            async with in_language_of(stores, p.coop_id):  # its tie-break draw, result and messages
                closed += await close_one(stores, p, now, before_close)
        except ProposalNotOpen:
            # Someone closed it between our look and our lock: nothing left to do.
            continue
        except Exception:
            # One proposal that cannot be closed must not keep the others open past their time.
            logger.exception("closing proposal %s failed; will retry", p.id)
            continue
    return closed


async def close_one(stores: Stores, p: Proposal, now: datetime, before_close: LastLooks) -> bool:
    """Close one proposal whose time has come, once every platform's votes are in (or the grace is
    over): False while the count waits. Raises ProposalNotOpen if it was closed meanwhile."""
    look = await last_look(stores, p, before_close, now, upto=p.closes_at)
    if look.waiting:
        return False  # stays due: the next tick looks again
    if p.draw_id is not None:
        drawn = await tie_break(stores, p, now)
        if drawn is None:
            return False  # a steward ended the voting before its tie-break draw's time: counted once drawn
        look = replace(look, order=drawn[0], draw=drawn[1])
    coop = await stores.coops.get(p.coop_id)
    charter = Charter.from_json(coop.charter)
    # A first try well after the deadline means the bot was down then: the result says so.
    late = p.closes_at if look.since - p.closes_at > LATE_GRACE else None
    # A steward's close that waited for another platform's votes is still theirs.
    steward = p.ended_by and await stores.members.get(p.ended_by)
    await stores.proposals.close(
        p.id, now=now, by=None, reason=None, decide=look.decide,
        render=lambda q: result_text(q, charter, steward.display_name if steward else None, late),
        judge=audits.settlement, breach=audits.cap_breach, proxies=proxies.counted,
    )
    return True
