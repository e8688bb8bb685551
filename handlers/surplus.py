"""Verbs for vows before dividends: surplus, vow, vows, payout, books."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from handlers import i18n, texts
from handlers.context import Context
from handlers.errors import BadArguments, Conflict, NotAllowed, NotFound
from handlers.money import BadAmount, format_amount, minor_units, parse_amount, parse_currency, split
from handlers.parsing import clean, one_line, parse_closing, split_first
from handlers.types import Reply
from handlers.verbs import Call, Standing, verb
from handlers.i18n import N_
from storage.models import Round
from storage.rounds import MissingVows, RoundNotOpen, RoundOpen

MAX_VOW = 1000
SURPLUS_KEYS = {
    "payout": N_("2026-12-20   (optional: the payout date)"),
    "hours": N_("alice=120 | bob=80   (when the charter splits by hours)"),
}


def _fmt(r: Round):
    return lambda minor: format_amount(minor, r.currency)


def _amount_problem(problem: str, text: str, currency: str) -> BadArguments:
    message = texts.AMOUNT_PROBLEMS[problem].format(text=one_line(text)[:40], currency=currency, units=minor_units(currency))
    return BadArguments(message)


async def _hours(ctx: Context, text: str, active) -> dict[int, Decimal]:
    hours: dict[int, Decimal] = {}
    for part in text.split("|"):
        name, _, value = part.partition("=")
        member = await ctx.member_named(name) if name.strip() else None
        try:
            amount = Decimal(value.strip())
        except ArithmeticError:
            amount = Decimal(-1)
        if member is None or member.status != "active" or not amount.is_finite() or amount < 0 or amount > 100000:
            raise BadArguments(texts.BAD_HOURS.format(problem=one_line(part)[:40]))
        hours[member.id] = amount
    missing = [m.display_name for m in active if m.id not in hours]
    if missing or sum(hours.values()) <= 0:
        raise BadArguments(texts.BAD_HOURS.format(problem="missing: " + ", ".join(missing)))
    return hours


@verb("surplus", who=Standing.STEWARD, args=N_("<amount> [currency]"), keys=SURPLUS_KEYS,
      summary=N_("steward: open a surplus round (the movement share goes to the funds first)"))
async def surplus(ctx: Context, call: Call) -> list[Reply]:
    steward, charter, extras = ctx.member, ctx.charter, call
    amount_text, currency_text = split_first(call.args)
    if not amount_text:
        raise BadArguments(texts.MISSING_ARGUMENT.format(what=i18n.gettext("the amount")))
    try:
        currency = parse_currency(currency_text) if currency_text else charter.currency
    except BadAmount:
        raise _amount_problem("currency", currency_text, "") from None
    try:
        amount = parse_amount(amount_text, currency)
    except BadAmount as exc:
        raise _amount_problem(str(exc), amount_text, currency) from None
    payout_at = None
    if "payout" in extras.settings:
        payout_at = parse_closing(extras.settings["payout"], ctx.now, charter.tz)
        if payout_at is None or payout_at <= ctx.now:
            raise BadArguments(texts.BAD_PAYOUT_DATE.format(text=one_line(extras.settings["payout"])[:40]),
)
    active = [m for m in await ctx.stores.members.register(ctx.coop.id) if m.status == "active"]
    if charter.member_split == "hours":
        hours = await _hours(ctx, extras.settings.get("hours", ""), active)
        # Hours may have decimals: weigh in hundredths, exactly.
        weights = [(m.id, int(hours[m.id] * 100)) for m in active]
    else:
        hours, weights = {}, [(m.id, 1) for m in active]
    result = split(amount, charter.movement_share, list(charter.movement_funds), weights)
    names = {m.id: m.display_name for m in active}
    shares = [(m, value, str(hours[m]) if hours else None) for m, value in result.members]
    try:
        await ctx.stores.rounds.open(
            ctx.coop.id, by=steward.id, currency=currency, amount=amount, movement_share=str(charter.movement_share),
            member_split=charter.member_split, funds=list(result.funds), shares=shares, payout_at=payout_at,
            now=ctx.now, event=ctx.event,
            render=lambda r: texts.round_opened(r, ctx.coop.name, result.funds, result.members, names, charter.tz, _fmt(r)),
        )
    except RoundOpen:
        current = await ctx.stores.rounds.current(ctx.coop.id)
        raise Conflict(texts.ROUND_OPEN.format(number=current.number if current else "?")) from None
    return []


async def _open_round(ctx: Context) -> Round:
    r = await ctx.stores.rounds.current(ctx.coop.id)
    if r is None:
        raise NotFound(texts.NO_ROUND.format(prefix=ctx.prefix))
    return r


@verb("vow", who=Standing.MEMBER, args=N_("<how your share will serve collective struggle>"), body=N_("the vow, continued"),
      summary=N_("declare publicly how your share will serve collective struggle"))
async def vow(ctx: Context, call: Call) -> list[Reply]:
    member = ctx.member
    r = await _open_round(ctx)
    text = "\n".join(line.rstrip() for line in clean("\n".join([call.args, *call.lines])).split("\n")).strip()
    if not text:
        raise BadArguments(texts.VOW_EMPTY)
    if len(text) > MAX_VOW:
        raise BadArguments(texts.VOW_TOO_LONG.format(limit=MAX_VOW, length=len(text)))
    owed = {a.member_id for a in await ctx.stores.rounds.allocations(r.id) if a.member_id is not None}
    if member.id not in owed:
        raise NotAllowed(texts.NOT_OWED.format(number=r.number))
    restated = member.id in await ctx.stores.rounds.vows(r.id)
    try:
        await ctx.stores.rounds.vow(
            r.id, member.id, text, now=ctx.now, event=ctx.event,
            render=lambda rr: texts.vowed(member.display_name, rr.number, text, restated),
        )
    except RoundNotOpen:
        raise Conflict(texts.ALREADY_PAID.format(number=r.number)) from None
    return []  # the vow is posted in every bound room, this one included


@verb("vows", alone=True, who=Standing.MEMBER, summary=N_("who has vowed and who has not, for the open round"))
async def vows(ctx: Context, call: Call) -> list[Reply]:
    r = await _open_round(ctx)
    names = await _names(ctx)
    standing = await ctx.stores.rounds.vows(r.id)
    waived = await ctx.stores.rounds.waivers(r.id)
    missing = [m.display_name for m in await ctx.stores.rounds.missing_vows(r.id)]
    made = [(names[m], v.text) for m, v in standing.items()]
    return [Reply(texts.vows_list(r.number, made, missing, [names[m] for m in waived]))]


@verb("payout", who=Standing.STEWARD, summary=N_("steward: pay the round out, once every member owed a share has vowed"))
async def payout(ctx: Context, call: Call) -> list[Reply]:
    steward = ctx.member
    r = await ctx.stores.rounds.current(ctx.coop.id)
    if r is None:
        rounds = await ctx.stores.rounds.list(ctx.coop.id)
        if rounds and rounds[-1].status == "paid":
            last = rounds[-1]
            raise Conflict(texts.PAID_ON.format(number=last.number, when=texts.when(last.paid_at, ctx.charter.tz),
                                                prefix=ctx.prefix))
        raise NotFound(texts.NO_ROUND.format(prefix=ctx.prefix))
    try:
        await ctx.stores.rounds.payout(r.id, by=steward.id, now=ctx.now, event=ctx.event,
                                       render=lambda rr: texts.paid_out(rr, _fmt(rr)),
                                       forfeit_as=lambda name: texts.FORFEITED_SHARE.format(name=name))
    except MissingVows as exc:
        names = await _names(ctx)
        missing = [names[m] for m in exc.member_ids]
        raise Conflict(texts.payout_refused(missing)) from None
    except RoundNotOpen:
        raise Conflict(texts.ALREADY_PAID.format(number=r.number)) from None
    return []


async def _names(ctx: Context) -> dict[int, str]:
    return {m.id: m.display_name for m in await ctx.stores.members.register(ctx.coop.id)}


async def ledger(stores, coop_id: int) -> list[dict]:
    """Every round with its allocations, for `books` and the export; totals reconcile per round."""
    names = {m.id: m.display_name for m in await stores.members.register(coop_id)}
    out = []
    for r in await stores.rounds.list(coop_id):
        allocations = await stores.rounds.allocations(r.id)
        funds = [(a.fund, a.amount) for a in allocations if a.fund is not None]
        shares = [(names.get(a.member_id, "?"), a.amount, a.hours) for a in allocations if a.member_id is not None]
        out.append({"round": r, "funds": funds, "shares": shares,
                    "vows": {names.get(m, "?"): v.text for m, v in (await stores.rounds.vows(r.id)).items()}})
    return out


@verb("books", alone=True, who=Standing.MEMBER, summary=N_("the open-book ledger: rounds, funds, shares, payouts"))
async def books(ctx: Context, call: Call) -> list[Reply]:
    entries = await ledger(ctx.stores, ctx.coop.id)
    if not entries:
        return [Reply(texts.NO_ROUND.format(prefix=ctx.prefix))]
    return [Reply(texts.books(ctx.coop.name, entries, ctx.charter.tz))]
