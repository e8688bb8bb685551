"""The pay scale: `pay` shows it, `pay <member> <amount>` records a rate, within the wage-ratio cap."""

from __future__ import annotations

from fractions import Fraction

from handlers import texts
from handlers.charter import Charter
from handlers.context import Context
from handlers.errors import BadArguments, NotFound
from handlers.money import BadAmount, format_amount, minor_units, parse_amount
from handlers.parsing import one_line
from handlers.types import Reply
from handlers.verbs import Call, Standing, verb
from handlers.i18n import N_
from storage.models import Pay
from storage.pay import ratio_of

PAY_KEYS = {
    "per": N_("hour|month   (default hour)"),
    "hours": N_("160   (a month's hours, for monthly pay; default the charter's full_time_hours)"),
}
HISTORY_SHOWN = 10
MAX_HOURS = 744  # 31 days of 24 hours


def hourly_of(amount: int, per: str, hours: int | None) -> Fraction:
    """The hourly equivalent in minor units per hour, exactly (a monthly 2,400.00 over 160 hours is 1500)."""
    return Fraction(amount) if per == "hour" else Fraction(amount, hours)


def hourly_words(hourly: Fraction | str, currency: str) -> str:
    """An hourly equivalent as money: rounded half up to the currency's smallest unit."""
    return format_amount(int((Fraction(hourly) + Fraction(1, 2)) // 1), currency)


def row_words(p: Pay) -> str:
    return texts.pay_words(p.per, format_amount(p.amount, p.currency), p.hours)


def _per(call: Call) -> tuple[str, int | None]:
    per = call.settings.get("per", "hour").strip().lower()
    if per not in ("hour", "month"):
        raise BadArguments(texts.PAY_BAD_PER.format(text=one_line(per)[:40]))
    if "hours" not in call.settings:
        return per, None
    if per != "month":
        raise BadArguments(texts.PAY_HOURS_MONTHLY)
    text = call.settings["hours"].strip()
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_HOURS:
        raise BadArguments(texts.PAY_BAD_HOURS.format(text=one_line(text)[:40]))
    return per, int(text)


@verb("pay", who=Standing.MEMBER, args=N_("[<member> <amount>]"), keys=PAY_KEYS,
      summary=N_("the pay scale, its ratio and the cap; steward: pay <member> <amount> records a pay rate"))
async def pay(ctx: Context, call: Call) -> list[Reply]:
    if not call.args.strip():
        if call.settings:
            raise BadArguments(texts.PAY_USAGE.format(prefix=ctx.prefix))
        return [Reply(await scale(ctx))]
    steward = ctx.require_steward()
    parts = call.args.strip().rsplit(maxsplit=1)
    if len(parts) < 2:
        raise BadArguments(texts.PAY_USAGE.format(prefix=ctx.prefix))
    name, amount_text = parts
    charter = ctx.charter
    currency = charter.currency
    try:
        amount = parse_amount(amount_text, currency)
    except BadAmount as exc:
        raise BadArguments(texts.PAY_AMOUNT_PROBLEMS[str(exc)].format(
            text=one_line(amount_text)[:40], currency=currency, units=minor_units(currency))) from None
    per, hours = _per(call)
    if per == "month" and hours is None:
        hours = charter.full_time_hours
    member = await ctx.member_named(name)
    if member is None or member.status != "active":
        raise NotFound(texts.PAY_NOT_MEMBER.format(who=one_line(name)[:60], coop=ctx.coop.name))
    said = texts.pay_words(per, format_amount(amount, currency), hours)

    def refusal(ratio: Fraction, cap: Fraction) -> str:
        return texts.PAY_REFUSED.format(name=member.display_name, pay=said, cap=texts.ratio(cap),
                                        ratio=texts.measured_ratio(ratio, past=cap))

    change = await ctx.stores.pay.change(
        ctx.coop.id, member.id, amount=amount, currency=currency, per=per, hours=hours,
        hourly=hourly_of(amount, per, hours), cap=lambda coop: Charter.from_json(coop.charter).wage_ratio_cap,
        by=steward.id, now=ctx.now, event=ctx.event, refusal=refusal)
    if change.refused:
        # The refusal is posted in every room of the co-op, this one included; a direct chat hears it here.
        return ctx.only_in_direct(refusal(change.ratio, change.cap))
    return [Reply(texts.PAY_SET.format(name=member.display_name, pay=said,
                                       hourly=hourly_words(change.row.hourly, currency),
                                       ratio=texts.measured_ratio(change.ratio), cap=texts.ratio(change.cap)))]


async def scale(ctx: Context) -> str:
    """What `pay` shows: every member's hourly equivalent (or only yours, when pay is closed), the
    ratio and the cap, and the latest changes (yours only, when closed)."""
    charter, me = ctx.charter, ctx.member
    names = {m.id: m.display_name for m in await ctx.stores.members.register(ctx.coop.id)}
    everyone = current = await ctx.stores.pay.current(ctx.coop.id)
    history = await ctx.stores.pay.history(ctx.coop.id, newest_first=True,
                                           limit=HISTORY_SHOWN if charter.open_pay else None)
    if not charter.open_pay:
        current = [p for p in current if p.member_id == me.id]
        history = [p for p in history if p.member_id == me.id][:HISTORY_SHOWN]
    if not everyone:
        return texts.PAY_NONE.format(prefix=ctx.prefix)
    lines = [(texts.PAY_HEAD if charter.open_pay else texts.PAY_HEAD_CLOSED).format(coop=ctx.coop.name)]
    lines += [texts.PAY_LINE.format(
        name=names.get(p.member_id, "?"), hourly=hourly_words(p.hourly, p.currency),
        detail=texts.PAY_MONTHLY_DETAIL.format(pay=row_words(p)) if p.per == "month" else "")
        for p in current] or [texts.PAY_YOURS_NONE]
    lines.append(texts.PAY_RATIO.format(ratio=texts.measured_ratio(ratio_of([Fraction(p.hourly) for p in everyone])),
                                        cap=texts.ratio(charter.wage_ratio_cap)))
    if history:
        lines.append(texts.PAY_HISTORY.format(count=len(history)))
        for p in history:
            line = texts.PAY_HISTORY_SET if p.status == "set" else texts.PAY_HISTORY_REFUSED
            lines.append(line.format(when=texts.when(p.set_at, charter.tz), name=names.get(p.member_id, "?"),
                                     pay=row_words(p), by=names.get(p.set_by, "?"),
                                     ratio=texts.measured_ratio(Fraction(p.ratio), past=charter.wage_ratio_cap)))
    return "\n".join(lines)
