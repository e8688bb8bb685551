"""The audit pack: what auditors read of the co-op's record (SPEC 'Liberation audits')."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction

from handlers import texts
from handlers.charter import KINDS, Charter
from handlers.money import format_amount
from handlers.pay import hourly_words, row_words
from handlers.timeline import lines as timeline_lines
from storage.models import Coop
from storage.pay import ratio_of
from storage.stores import Stores


@dataclass(frozen=True)
class Period:
    """What one part of the pack reads: the co-op, its charter, and the period it covers."""

    stores: Stores
    coop: Coop
    charter: Charter
    since: datetime
    until: datetime


async def pay(p: Period) -> str:
    # The ratio is today's (among the active members' current pay); the history is the period's,
    # refused changes included: a cap that held is part of the record.
    current = await p.stores.pay.current(p.coop.id)
    changes = await p.stores.pay.history(p.coop.id, since=p.since, until=p.until)
    if not current and not changes:
        return texts.pack_section(texts.PACK_PAY, [])
    names = {m.id: m.display_name for m in await p.stores.members.register(p.coop.id)}
    cap = texts.ratio(p.charter.wage_ratio_cap)
    lines = [texts.PACK_PAY_RATIO.format(ratio=texts.measured_ratio(ratio_of([Fraction(r.hourly) for r in current])),
                                         cap=cap, count=texts.plural(len(current), "member", "members"))
             if current else texts.PACK_PAY_NONE]
    if changes:
        lines.append(texts.PACK_PAY_CHANGES)
    lines += [texts.PACK_PAY_LINE.format(
        when=texts.when(r.set_at, p.charter.tz), name=names.get(r.member_id, "?"), pay=row_words(r),
        hourly=hourly_words(r.hourly, r.currency), status=texts.PACK_PAY_STATUS[r.status].format(
            ratio=texts.measured_ratio(Fraction(r.ratio), past=p.charter.wage_ratio_cap)))
        for r in changes]
    return texts.pack_section(texts.PACK_PAY, lines)


async def movement(p: Period) -> str:
    share = texts.PACK_SHARE.format(share=texts.percent(Fraction(p.charter.movement_share)))
    record = await p.stores.record.movement(p.coop.id, p.since, p.until)
    if not record.rounds:
        return texts.pack_section(texts.PACK_MOVEMENT, [share, texts.PACK_ROUNDS.format(numbers=texts.PACK_NONE)])
    lines = [share, texts.PACK_ROUNDS.format(numbers=", ".join(str(n) for n in record.rounds))]
    for currency in dict.fromkeys(line.currency for line in record.funds):
        funds = [f for f in record.funds if f.currency == currency]
        lines += [texts.PACK_FUND.format(fund=f.fund, amount=format_amount(f.amount, currency))
                  for f in funds if not f.forfeited]
        forfeited = sum(f.amount for f in funds if f.forfeited)
        if forfeited:
            lines.append(texts.PACK_FORFEITED.format(amount=format_amount(forfeited, currency)))
        lines.append(texts.PACK_FUNDS_TOTAL.format(amount=format_amount(sum(f.amount for f in funds), currency)))
    return texts.pack_section(texts.PACK_MOVEMENT, lines)


async def turnout(p: Period) -> str:
    # Counts come from each stored result (voters and electorate as counted at the close): the
    # pack reports what was decided, it does not recount.
    by_kind: dict[str, list[dict]] = {}
    for closed in await p.stores.record.closed(p.coop.id, p.since, p.until):
        by_kind.setdefault(closed.kind, []).append(closed.result)
    lines = []
    for kind in [*(k for k in KINDS if k in by_kind), *(k for k in by_kind if k not in KINDS)]:
        results = by_kind[kind]
        shares = [Fraction(r.get("voters", 0), r["electorate"]) for r in results if r.get("electorate")]
        mean = texts.percent(sum(shares, Fraction(0)) / len(shares)) if shares else texts.PACK_NO_TURNOUT
        lines.append(texts.PACK_TURNOUT_LINE.format(
            kind=texts.KIND_WORDS.get(kind, kind), closed=texts.plural(len(results), "closed", "closed"),
            passed=sum(1 for r in results if r.get("passed")), turnout=mean))
    return texts.pack_section(texts.PACK_TURNOUT, lines)


async def proposers(p: Period) -> str:
    # A steward author is one who was a steward when the proposal opened, read from the event log
    # (storage.record.RecordStore.authorship), not their role today.
    who = await p.stores.record.authorship(p.coop.id, p.since, p.until)
    lines = []
    by_members = who.by_stewards + who.by_members
    if by_members:
        lines.append(texts.PACK_PROPOSED.format(
            total=by_members, stewards=who.by_stewards, members=who.by_members,
            share=texts.percent(Fraction(who.by_stewards, by_members))))
    if who.by_charter:
        lines.append(texts.PACK_BY_CHARTER.format(count=who.by_charter))
    return texts.pack_section(texts.PACK_PROPOSERS, lines)


async def early_closes(p: Period) -> str:
    listed, total = await p.stores.record.early_closes(p.coop.id, p.since, p.until)
    lines = [texts.PACK_EARLY_LINE.format(number=e.number, steward=e.steward,
                                          reason=_short(e.reason) or texts.PACK_NO_REASON) for e in listed]
    if total > len(listed):
        lines.append(texts.PACK_EARLY_MORE.format(more=total - len(listed)))
    return texts.pack_section(texts.PACK_EARLY, lines)


async def vetoes(p: Period) -> str:
    """The golden share's vetoes, and the proposals it called in as protected."""
    lines = [(texts.PACK_VETO_LINE if f.kind == "veto" else texts.PACK_CALLED_IN_LINE).format(
        number=f.number, name=f.name, org=f.org, reason=_short(f.reason or ""), when=texts.when(f.at, p.charter.tz))
        for f in await p.stores.record.firewalls(p.coop.id, p.since, p.until)]
    return texts.pack_section(texts.PACK_VETOES, lines)


def _sunset_outcome(vote, tz) -> str:
    if vote.status == "open":
        return texts.PACK_SUNSET_OPEN.format(when=texts.when(vote.closes_at, tz))
    if vote.status == "withdrawn":
        return texts.PACK_SUNSET_WITHDRAWN
    result = vote.result or {}
    return texts.PACK_SUNSET_OUTCOME[bool(result.get("carried", result.get("passed")))]


async def mandate(p: Period) -> str:
    tz = p.charter.tz
    lapsed = p.coop.mandate_lapsed_at
    lines = [texts.PACK_MANDATE_LAPSED.format(when=texts.when(lapsed, tz)) if lapsed else texts.PACK_MANDATE_STANDS]
    votes = await p.stores.record.sunset_votes(p.coop.id, p.since, p.until)
    lines += [texts.PACK_SUNSET_LINE.format(number=v.number, title=v.title, who=texts.PACK_SUNSET_BY[v.by_charter],
                                            outcome=_sunset_outcome(v, tz)) for v in votes] or [texts.PACK_SUNSET_NONE]
    return texts.pack_section(texts.PACK_MANDATE, lines)


async def _rituals(p: Period, kind: str) -> list:
    return [r for r in await p.stores.rituals.list(p.coop.id, kind) if p.since <= r.started_at <= p.until]


async def mirror_shifts(p: Period) -> str:
    """Each shift of the period: when, who facilitated, in what format, how many confessions were read."""
    names = await p.stores.members.names([r.facilitator_id for r in await _rituals(p, "mirror") if r.facilitator_id])
    lines = [texts.PACK_MIRROR_LINE.format(
        number=r.number, when=texts.when(r.started_at, p.charter.tz), facilitator=names.get(r.facilitator_id, "?"),
        format=r.format or "?", redesigned=texts.MIRROR_SHOW_REDESIGNED if r.redesigns else "",
        confessions=texts.plural(r.confessions_read or 0, "confession", "confessions"))
        for r in await _rituals(p, "mirror") if r.status != "drawing"]
    return texts.pack_section(texts.PACK_MIRROR, lines)


async def drills(p: Period) -> str:
    """Each adversary drill of the period with its record (or that it is under way)."""
    lines = [texts.drill_record(r.number, p.coop.name, r.record) if r.record is not None
             else texts.PACK_DRILL_RUNNING.format(number=r.number, when=texts.when(r.started_at, p.charter.tz))
             for r in await _rituals(p, "drill")]
    return texts.pack_section(texts.PACK_DRILLS, lines)


async def timeline(p: Period) -> str:
    """The period's drift timeline, as text, its latest entries (the picture is `timeline`'s)."""
    entries = await p.stores.record.timeline(p.coop.id, p.since, p.until)
    return texts.pack_section(texts.PACK_TIMELINE, timeline_lines(entries, p.charter.tz, shown=10, budget=1000))


# The pack's parts in the SPEC's order; a later feature fills in its part by replacing one entry.
SECTIONS: tuple[Callable[[Period], Awaitable[str]], ...] = (
    pay, movement, turnout, proposers, early_closes, vetoes, mandate, mirror_shifts, drills, timeline,
)


async def audit_pack(stores: Stores, coop: Coop, now: datetime, since: datetime | None = None) -> str:
    """The pack's text for the period from `since` (the previous audit's close; by default the
    co-op's founding) up to `now`, both included."""
    charter = Charter.from_json(coop.charter)
    period = Period(stores, coop, charter, since or coop.founded_at, now)
    return texts.pack(coop.name, period.since, now, charter.tz, [await part(period) for part in SECTIONS])


REASON_SHOWN = 100  # characters of a steward's reason in the pack: ten full reasons would push the
# pack past Telegram's 4,096 and cut the parts after it (`show <#>` has the whole reason)


def _short(reason: str | None) -> str | None:
    if not reason or len(reason) <= REASON_SHOWN:
        return reason
    return reason[:REASON_SHOWN - 1].rstrip() + "…"
