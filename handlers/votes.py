"""Votes: one path for a typed `vote`/`unvote`, a button and a poll response, and one rule that refuses."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from handlers import i18n, proxies, texts
from handlers.charter import Charter
from handlers.context import Context, coop_language, learn_name, own_language
from handlers.errors import BadArguments
from handlers.parsing import one_line, split_first
from handlers.types import Reply
from handlers.verbs import Call, Standing, verb
from handlers.i18n import N_
from storage.models import Proposal
from storage.votes import Tapper, VoteFacts, VoteOp, VoteResult

MAX_REASON = 500
CHOOSING = ("ranked", "approval")  # methods whose votes are choices (a ranking, a set), not one option
TAPS = {"ranked": "append", "approval": "toggle"}  # how a button's tap meets the recorded choices
# A tap's answer shows this many characters on Telegram: a ranking built tap by tap is answered
# within it, by option numbers if its names are too long, so the voter always sees all of it.
TAP_ANSWER = 200


def refusal(f: VoteFacts) -> str | None:
    """Why the co-op's rules refuse this vote, or None if it stands: the one place this is decided,
    whether the vote was typed, tapped or answered in a poll. Checked in this order; the words for
    each reason are `texts.VOTE_REFUSED`."""
    if f.coop is None:
        return "no_coop"
    if f.member is None or f.member.status == "removed":
        return "not_member"
    if f.member.status == "pending":
        return "pending"
    if f.member.status == "ally":
        return "ally"  # allies speak in the co-op's rooms, and never vote on its proposals
    if f.member.status != "active":
        return "not_member"
    # Button data is not trusted: the proposal must be this co-op's, and the option must exist.
    if f.proposal is None or f.proposal.coop_id != f.coop.id:
        return "unknown_proposal"
    if f.op.option is not None and not 0 <= f.op.option < len(f.proposal.options):
        return "no_option"
    if f.op.choices is not None:
        if f.proposal.method not in CHOOSING:
            return "choices_method"
        if not all(0 <= c < len(f.proposal.options) for c in f.op.choices):
            return "no_option"
        if len(set(f.op.choices)) != len(f.op.choices) or not f.op.choices:
            return "duplicate_choice"
        if f.op.how != "set" and f.op.how != TAPS[f.proposal.method]:
            return "ranking_needed"  # an approval's tap on a ranked card, or a ranked one's on an approval card
    elif f.op.option is not None and f.proposal.method in CHOOSING:
        return "ranking_needed"  # adapters send rankings and approvals as choices
    if f.proposal.status != "open":
        return "not_open"
    if f.op.when >= f.proposal.closes_at:
        return "voting_ended"
    if f.op.reason is not None and f.proposal.ballot == "secret":
        return "reason_secret"
    if f.op.made_at is not None and f.proposal.revised_at is not None and f.op.made_at < f.proposal.revised_at:
        return "revised"  # made on the text (and options) the proposal had before its author's edit
    if not f.elector:
        return "not_elector"
    if f.op.option is None and f.op.choices is None and f.previous is None:
        return "nothing_to_withdraw"
    return None


async def submit(ctx: Context, proposal_id: int, option: int | None, *, made_at: datetime | None = None,
                 reason: str | None = None, choices: tuple[int, ...] | None = None, how: str = "set",
                 tapped: bool | None = None) -> list[Reply]:
    """Submit one vote (option None and no choices withdraws it; `choices` a ranking or approved
    set, `how` they meet the ballot recorded) and answer the voter. The voter is the sender's
    account where they spoke, looked up in the vote's own transaction. A vote that came without a
    command (`tapped` not None) is answered in the voter's own language if the answer reaches them
    alone (a Telegram button's), else in the room's (a refused poll answer is posted in the room)."""
    tapper = Tapper(ctx.sender.platform, ctx.sender.user_id, ctx.chat.chat_id, ctx.chat.is_direct)
    op = VoteOp(proposal_id, option, ctx.now, ctx.event, made_at, tapper=tapper, source=ctx.corrects, reason=reason,
                choices=choices, how=how)
    result = await ctx.stores.votes.submit(op, refusal)
    if tapped is not None:
        i18n.choose(own_language(result.coop, result.member) if tapped else coop_language(result.coop))
    if ctx.member is None and result.member is not None:
        await learn_name(ctx.stores, result.member, ctx.sender)
    if result.refusal is not None:
        return [Reply(_refused(ctx, result), refusal=True)]
    reply = ack(result)
    p = result.proposal
    if p.method == "consent" and result.option is not None and await ctx.stores.objections.stands(p.id, result.member.id):
        # Consent does not lift an objection: the member must not think it let the proposal pass. Said
        # before a proxy's words: a tap's answer shows its first 200 characters (`TAP_ANSWER`).
        note = texts.VOTE_OBJECTION_STANDS.format(number=p.number, prefix=ctx.prefix)
        reply = replace(reply, text=f"{reply.text} {note}")
    proxied = Charter.one(result.coop.charter, "proxies")  # the whole charter only where proxies are allowed
    if result.option is not None and proxied and (charter := Charter.from_json(result.coop.charter)):
        # The holder of a proxy hears whose votes this one also counts for (read only where proxies are allowed).
        if carried := await proxies.carried(ctx.stores, result.proposal, charter, result.member.id):
            reply = replace(reply, text=reply.text + carried)
    elif result.option is None and proxied and (charter := Charter.from_json(result.coop.charter)):
        # A withdrawn vote leaves the member as if they had not voted: a proxy they gave acts again,
        # and they hear so (`unproxy` is the way to have no vote at all).
        if again := await proxies.acts_again(ctx.stores, result.proposal, charter, result.member.id, ctx.now,
                                             ctx.prefix):
            # On a secret ballot the room is not told whose choice the member's ballot will be.
            secret = result.proposal.ballot == "secret"
            reply = replace(reply, text=reply.text + again, private=reply.private or secret,
                            public_fallback=reply.public_fallback or (reply.text if secret else None))
    return [reply]


def _refused(ctx: Context, r: VoteResult) -> str:
    """The words for a refusal, filled with what the store read."""
    p, coop = r.proposal, r.coop
    reason = "no_coop_direct" if r.refusal == "no_coop" and ctx.chat.is_direct else r.refusal
    when = texts.when(p.closes_at, Charter.from_json(coop.charter).tz) if p and coop else ""
    return texts.VOTE_REFUSED[reason].format(
        prefix=ctx.prefix, coop=coop.name if coop else "", number=p.number if p else "",
        option=_named(r) + 1, options=texts.options_line(p.options) if p else "",
        status=texts.STATUS_WORDS.get(p.status, p.status) if p else "", when=when,
        method=texts.METHOD_WORDS.get(p.method, "") if p else "", how=how_to_vote(p, ctx.prefix) if p else "",
    )


def _named(r: VoteResult) -> int:
    """The option a refusal names: the vote's, or the first of its choices the proposal lacks."""
    n = len(r.proposal.options) if r.proposal else 0
    return next((c for c in r.choices or () if not 0 <= c < n), r.option or 0)


def how_to_vote(p: Proposal, prefix: str) -> str:
    """How a ranked or approval proposal is voted, typed (the card and a refusal say it)."""
    if p.method not in CHOOSING:
        return ""
    return (texts.RANKED_HOW if p.method == "ranked" else texts.APPROVAL_HOW).format(prefix=prefix, number=p.number)


def ack(r: VoteResult) -> Reply:
    p, option, previous = r.proposal, r.option, r.previous
    if option is None:
        return Reply(texts.UNVOTED.format(number=p.number), proposal_id=p.id)
    label = texts.option_labels(p.options)[option]
    if r.choices is not None and p.method == "ranked":
        text = texts.VOTE_RANKED.format(number=p.number, ranking=", ".join(
            f"{i}. {p.options[c]}" for i, c in enumerate(r.choices, 1)))
        if len(text) > TAP_ANSWER:
            text = texts.VOTE_RANKED_SHORT.format(number=p.number, ranking=" > ".join(str(c + 1) for c in r.choices))
    elif r.choices is not None:
        text = texts.VOTE_APPROVED.format(number=p.number, approved=texts.and_list([p.options[c] for c in r.choices]))
        if len(text) > TAP_ANSWER:
            text = texts.VOTE_APPROVED_SHORT.format(number=p.number,
                                                    approved=texts.and_list([str(c + 1) for c in r.choices]))
    elif previous is None:
        text = texts.VOTE_RECORDED.format(option=label, number=p.number)
    elif previous == option:
        text = texts.VOTE_SAME.format(option=label, number=p.number)
    else:
        text = texts.VOTE_CHANGED.format(option=label, number=p.number, previous=texts.option_labels(p.options)[previous])
    if p.ballot == "secret":
        return Reply(text, private=True, public_fallback=texts.VOTE_SECRET_PUBLIC.format(number=p.number),
                     proposal_id=p.id)
    if p.results_hidden:  # the room does not learn the choice (nor an earlier one) before the close
        return Reply(text, private=True, public_fallback=texts.VOTE_HIDDEN_PUBLIC.format(number=p.number),
                     proposal_id=p.id)
    return Reply(text, proposal_id=p.id)


def _choices(p: Proposal, text: str, languages: Sequence[str] = ()) -> tuple[int, ...]:
    """A typed ranking or set: option names or numbers, by spaces, or by `|` when a name has spaces
    (`vote 4 2 1 3`, `vote 4 Ana Lopez | Ben`); the whole text naming one option is that option.
    An approved set is kept ascending; a name given twice is left in for `refusal` to name."""
    text = one_line(text)
    if not text:
        raise BadArguments(texts.MISSING_ARGUMENT.format(what=i18n.gettext("the options")))
    if "|" in text:
        chosen = [_option(p, part, languages) for part in text.split("|") if part.strip()]
    elif _label(p, text, languages) is not None:
        chosen = [_label(p, text, languages)]
    else:
        chosen = [_option(p, word, languages) for word in text.split()]
    return tuple(sorted(chosen) if p.method == "approval" else chosen)


def _label(p: Proposal, text: str, languages: Sequence[str] = ()) -> int | None:
    """The option a name stands for: as stored, else the default ballot's words in one of
    `languages` (the co-op's, the sender's own). A name as stored wins over a translation, so an
    option named like another's translation is never taken for it."""
    typed = text.casefold()
    for names in (lambda i: {p.options[i].casefold()}, lambda i: texts.option_names(p.options, i, languages)):
        for i in range(len(p.options)):
            if typed in names(i):
                return i
    return None


def _option(p: Proposal, text: str, languages: Sequence[str] = ()) -> int:
    """A typed option: its number on the card, or its label in any case."""
    text = one_line(text)
    if not text:
        raise BadArguments(texts.MISSING_ARGUMENT.format(what=i18n.gettext("the option")))
    if text.isascii() and text.isdigit() and 1 <= int(text) <= len(p.options):
        return int(text) - 1
    if (found := _label(p, text, languages)) is not None:
        return found
    raise BadArguments(texts.OPTION_UNKNOWN.format(number=p.number, option=text[:60], options=texts.options_list(p.options)))


# A typed vote is the same operation as a tap: `refusal` decides the voter's standing too (taps never
# pass through the router), so these verbs ask only for a co-op, to read `#N` and the option in.
@verb("vote", alone=True, who=Standing.IN_COOP,
      args=N_("<#> <option>   (option by number or name; ranked: B A C, most preferred first; approval: A C)"),
      proposal=True,
      keys={"reason": N_("<text>   (kept with your vote and shown with it; open ballots only)")},
      summary=N_("cast or change your vote"))
async def vote(ctx: Context, call: Call) -> list[Reply]:
    # The default ballot's words are typed in English or the co-op's language (in a direct chat, the
    # sender's own too: the language the answer comes in).
    words = tuple(sorted({i18n.current(), coop_language(ctx.coop)}))
    reason = one_line(call.settings.get("reason", "")) or None
    if reason is not None and len(reason) > MAX_REASON:
        raise BadArguments(texts.NAME_TOO_LONG.format(what=i18n.gettext("reason"), length=len(reason), limit=MAX_REASON))
    p = call.proposal
    if p.method in CHOOSING:
        return await submit(ctx, p.id, None, reason=reason, choices=_choices(p, call.args, words))
    try:
        option = _option(p, call.args, words)
    except BadArguments:
        # Several options named (a ranking on a proposal decided by one choice): `refusal` says so.
        try:
            choices = _choices(p, call.args, words)
        except BadArguments:
            choices = ()
        if len(choices) < 2:
            raise
        return await submit(ctx, p.id, None, reason=reason, choices=choices)
    return await submit(ctx, p.id, option, reason=reason)


@verb("unvote", alone=True, who=Standing.IN_COOP, args="<#>", proposal=True, summary=N_("withdraw your vote while voting is open"))
async def unvote(ctx: Context, call: Call) -> list[Reply]:
    if call.args.strip():
        raise BadArguments(texts.UNEXPECTED_ARGUMENT)
    return await submit(ctx, call.proposal.id, None)
