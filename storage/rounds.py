"""Store for surplus rounds: allocations, vows, waivers and the payout, each in one transaction."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import func, select, update

from storage.common import announce, claim, log
from storage.db import Database
from storage.errors import StoreError
from storage.models import Allocation, Coop, Member, Round, Vow, Waiver


class RoundOpen(StoreError):
    """The co-op already has a round that is not paid out."""


class RoundNotOpen(StoreError):
    """The round is paid out already."""


class MissingVows(StoreError):
    def __init__(self, member_ids: list[int]) -> None:
        super().__init__(member_ids)
        self.member_ids = member_ids


class RoundStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def current(self, coop_id: int) -> Round | None:
        async with self.db.read() as s:
            stmt = select(Round).where(Round.coop_id == coop_id, Round.status == "open")
            return (await s.execute(stmt)).scalar_one_or_none()

    async def list(self, coop_id: int) -> list[Round]:
        async with self.db.read() as s:
            return list((await s.execute(select(Round).where(Round.coop_id == coop_id).order_by(Round.number))).scalars())

    async def open_rounds(self) -> list[Round]:
        async with self.db.read() as s:
            return list((await s.execute(select(Round).where(Round.status == "open").order_by(Round.id))).scalars())

    async def allocations(self, round_id: int) -> list[Allocation]:
        async with self.db.read() as s:
            stmt = select(Allocation).where(Allocation.round_id == round_id).order_by(Allocation.id)
            return list((await s.execute(stmt)).scalars())

    async def open(
        self,
        coop_id: int,
        *,
        by: int,
        currency: str,
        amount: int,
        movement_share: str,
        member_split: str,
        funds: list[tuple[str, int]],
        shares: list[tuple[int, int, str | None]],
        payout_at: datetime | None,
        now: datetime,
        render: Callable[[Round], str],
        event: tuple[str, str] | None = None,
    ) -> Round:
        """Open a round with its whole split, once per co-op at a time."""
        async with self.db.write() as s:
            await claim(s, event, now)
            await s.get(Coop, coop_id, with_for_update=True)  # one round opening at a time per co-op
            if (await s.execute(select(Round.id).where(Round.coop_id == coop_id, Round.status == "open"))).first():
                raise RoundOpen()
            number = (await s.execute(select(func.count()).select_from(Round).where(Round.coop_id == coop_id))).scalar_one() + 1
            r = Round(coop_id=coop_id, number=number, currency=currency, amount=amount, movement_share=movement_share,
                      member_split=member_split, opened_at=now, opened_by=by, payout_at=payout_at)
            s.add(r)
            await s.flush()
            s.add_all(Allocation(round_id=r.id, fund=name, amount=value) for name, value in funds)
            s.add_all(Allocation(round_id=r.id, member_id=m, amount=value, hours=h) for m, value, h in shares)
            await log(s, coop_id, "round_opened", now, member_id=by, round=number, amount=amount, currency=currency,
                      funds=funds, shares=[[m, v] for m, v, _ in shares])
            await s.flush()
            await announce(s, coop_id, "round_opened", render(r), now)
            return r

    async def vow(
        self, round_id: int, member_id: int, text: str, *, now: datetime, render: Callable[[Round], str],
        event: tuple[str, str] | None = None,
    ) -> Round:
        async with self.db.write() as s:
            await claim(s, event, now)
            r = (await s.execute(select(Round).where(Round.id == round_id).with_for_update(read=True))).scalar_one()
            if r.status != "open":
                raise RoundNotOpen()
            s.add(Vow(round_id=round_id, member_id=member_id, text=text, at=now))
            await log(s, r.coop_id, "vow", now, member_id=member_id, round=r.number, text=text)
            await announce(s, r.coop_id, "vow", render(r), now)
            return r

    async def vows(self, round_id: int) -> dict[int, Vow]:
        """Each member's standing vow (the last they made) for the round."""
        async with self.db.read() as s:
            rows = (await s.execute(select(Vow).where(Vow.round_id == round_id).order_by(Vow.id))).scalars()
            return {v.member_id: v for v in rows}

    async def vow_history(self, round_id: int) -> list[Vow]:
        async with self.db.read() as s:
            return list((await s.execute(select(Vow).where(Vow.round_id == round_id).order_by(Vow.id))).scalars())

    async def waivers(self, round_id: int) -> set[int]:
        async with self.db.read() as s:
            return set((await s.execute(select(Waiver.member_id).where(Waiver.round_id == round_id))).scalars())

    async def missing_vows(self, round_id: int) -> list[Member]:
        """Members owed a share who have neither vowed nor been waived."""
        async with self.db.read() as s:
            return await _missing(s, round_id)

    async def payout(
        self, round_id: int, *, by: int, now: datetime, render: Callable[[Round], str],
        forfeit_as: Callable[[str], str], event: tuple[str, str] | None = None,
    ) -> Round:
        """Pay a round out, exactly once, to the members who vowed or were waived: the row lock makes a second payout at the same moment wait
        and then find the round paid."""
        async with self.db.write() as s:
            await claim(s, event, now)
            r = (await s.execute(select(Round).where(Round.id == round_id).with_for_update())).scalar_one()
            if r.status != "open":
                raise RoundNotOpen()
            missing = await _missing(s, round_id)
            if missing:
                raise MissingVows([m.id for m in missing])
            # Whoever holds a share but is no longer active, with neither vow nor waiver (a removal
            # made before shares were forfeited on removal), is not paid: the funds take it.
            for member in await _unvowed(s, round_id):
                await forfeit_shares(s, r.coop_id, member.id, forfeit_as(member.display_name), now)
            r.status, r.paid_at, r.paid_by = "paid", now, by
            await log(s, r.coop_id, "payout", now, member_id=by, round=r.number, amount=r.amount, currency=r.currency)
            await s.flush()
            await announce(s, r.coop_id, "payout", render(r), now)
            return r


async def forfeit_shares(session, coop_id: int, member_id: int, label: str, now: datetime) -> list[tuple[Round, int]]:
    """In the caller's transaction: the member's shares in the co-op's open rounds go to the movement
    funds, as fund lines named `label`, for good (admitting them again does not bring them back)."""
    rounds = select(Round.id).where(Round.coop_id == coop_id, Round.status == "open")
    rows = (await session.execute(
        update(Allocation).where(Allocation.round_id.in_(rounds), Allocation.member_id == member_id)
        .values(member_id=None, fund=label[:120]).returning(Allocation.round_id, Allocation.amount)
    )).all()
    forfeited = []
    for round_id, amount in rows:
        r = await session.get(Round, round_id)
        await log(session, coop_id, "share_forfeited", now, member_id=member_id, round=r.number, amount=amount,
                  currency=r.currency)
        forfeited.append((r, amount))
    return forfeited


async def _missing(session, round_id: int) -> list[Member]:
    vowed = select(Vow.member_id).where(Vow.round_id == round_id)
    waived = select(Waiver.member_id).where(Waiver.round_id == round_id)
    stmt = (
        select(Member)
        .join(Allocation, Allocation.member_id == Member.id)
        # A member taken off the register since the round opened cannot vow and does not block it.
        .where(Allocation.round_id == round_id, Member.status == "active", Member.id.not_in(vowed),
               Member.id.not_in(waived))
        .order_by(Member.id)
    )
    return list((await session.execute(stmt)).scalars())


async def _unvowed(session, round_id: int) -> list[Member]:
    """Members holding a share of the round with neither vow nor waiver, whatever their standing."""
    vowed = select(Vow.member_id).where(Vow.round_id == round_id)
    waived = select(Waiver.member_id).where(Waiver.round_id == round_id)
    stmt = (select(Member).join(Allocation, Allocation.member_id == Member.id)
            .where(Allocation.round_id == round_id, Member.id.not_in(vowed), Member.id.not_in(waived)))
    return list((await session.execute(stmt)).scalars())
