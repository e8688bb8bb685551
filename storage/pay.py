"""Store for the pay scale: pay rates set or refused against the wage-ratio cap, one transaction each."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction

from sqlalchemy import func, select

from storage.common import announce, claim, log
from storage.db import Database
from storage.models import Coop, Member, Pay


@dataclass(frozen=True)
class PayChange:
    """What a pay change came to: the stored row ('set' or 'refused') and the ratio it gave."""

    row: Pay
    ratio: Fraction
    cap: Fraction  # the cap it was judged against

    @property
    def refused(self) -> bool:
        return self.row.status == "refused"


def ratio_of(hourlies: list[Fraction]) -> Fraction:
    """Highest : lowest hourly pay, as highest / lowest; 1 with fewer than two rates."""
    return max(hourlies) / min(hourlies) if hourlies else Fraction(1)


async def _current(session, coop_id: int) -> list[Pay]:
    """Each active member's latest 'set' row, in register order."""
    latest = (select(func.max(Pay.id)).where(Pay.coop_id == coop_id, Pay.status == "set")
              .group_by(Pay.member_id))
    stmt = (select(Pay).join(Member, Member.id == Pay.member_id)
            .where(Pay.id.in_(latest), Member.status == "active").order_by(Member.id))
    return list((await session.execute(stmt)).scalars())


class PayStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def current(self, coop_id: int) -> list[Pay]:
        """Every active member's current pay (their latest 'set' row)."""
        async with self.db.read() as s:
            return await _current(s, coop_id)

    async def history(self, coop_id: int, *, limit: int | None = None, since: datetime | None = None,
                      until: datetime | None = None, newest_first: bool = False) -> list[Pay]:
        """Every pay change, set or refused, in the order made (or newest first), within [since, until]."""
        async with self.db.read() as s:
            stmt = select(Pay).where(Pay.coop_id == coop_id)
            if since is not None:
                stmt = stmt.where(Pay.set_at >= since)
            if until is not None:
                stmt = stmt.where(Pay.set_at <= until)
            stmt = stmt.order_by(Pay.id.desc() if newest_first else Pay.id)
            if limit is not None:
                stmt = stmt.limit(limit)
            return list((await s.execute(stmt)).scalars())

    async def change(
        self, coop_id: int, member_id: int, *, amount: int, currency: str, per: str, hours: int | None,
        hourly: Fraction, cap: Callable[[Coop], Fraction], by: int, now: datetime,
        refusal: Callable[[Fraction, Fraction], str], event: tuple[str, str] | None = None,
    ) -> PayChange:
        """Set a member's pay unless the ratio it gives passes the cap and is wider than before (`cap(coop)`, read from the
        locked co-op row); a refused change is stored, logged and announced in every room
        (`refusal(ratio, cap)` its words). The co-op row is locked first, so two changes at once
        are judged one after the other, each against the other's result, and against the charter
        as it stands then (an amendment of the cap merges under the same lock)."""
        async with self.db.write() as s:
            await claim(s, event, now)
            coop = await s.get(Coop, coop_id, with_for_update=True, populate_existing=True)
            cap = cap(coop)
            current = await _current(s, coop_id)
            others = [Fraction(p.hourly) for p in current if p.member_id != member_id]
            ratio = ratio_of([*others, hourly])
            # Past the cap, a change is refused only if it widens the ratio: after a cap was lowered
            # below the scale, the changes that bring pay back toward it must go through.
            status = "refused" if ratio > cap and ratio > ratio_of([Fraction(p.hourly) for p in current]) else "set"
            row = Pay(coop_id=coop_id, member_id=member_id, amount=amount, currency=currency, per=per, hours=hours,
                      hourly=str(hourly), ratio=str(ratio), set_at=now, set_by=by, status=status)
            s.add(row)
            await s.flush()
            await log(s, coop_id, f"pay_{status}", now, member_id=member_id, by=by, amount=amount, currency=currency,
                      per=per, hours=hours, hourly=str(hourly), ratio=str(ratio), cap=str(cap))
            if status == "refused":
                await announce(s, coop_id, "pay_refused", refusal(ratio, cap), now)
            return PayChange(row, ratio, cap)
