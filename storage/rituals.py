"""Store for rituals: mirror shifts and adversary drills, each step one transaction that moves the
ritual's row on under its lock (drawing → open → closed), so a restart repeats none and loses none."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from storage.common import announce, claim, log
from storage.db import Database
from storage.draws import DrawSpec, announce_draw
from storage.errors import StoreError
from storage.models import Coop, Draw, Proposal, Ritual


class RitualRunning(StoreError):
    """The co-op has a ritual of this kind under way (the partial unique index said so)."""


class RitualNotOpen(StoreError):
    """The ritual is not open (drawing, over, or closed): its state, for the reply."""

    def __init__(self, state: str) -> None:
        super().__init__(state)
        self.state = state


class NotFacilitator(StoreError):
    """The person is not the shift's facilitator."""


class RedesignsSpent(StoreError):
    """The facilitator has redesigned the shift's format as often as one shift allows."""


class RitualStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, coop_id: int, kind: str, number: int) -> Ritual | None:
        async with self.db.read() as s:
            stmt = select(Ritual).where(Ritual.coop_id == coop_id, Ritual.kind == kind, Ritual.number == number)
            return (await s.execute(stmt)).scalar_one_or_none()

    async def by_id(self, ritual_id: int) -> Ritual:
        async with self.db.read() as s:
            return await s.get(Ritual, ritual_id)

    async def latest(self, coop_id: int, kind: str) -> Ritual | None:
        async with self.db.read() as s:
            stmt = (select(Ritual).where(Ritual.coop_id == coop_id, Ritual.kind == kind)
                    .order_by(Ritual.number.desc()).limit(1))
            return (await s.execute(stmt)).scalar_one_or_none()

    async def under_way(self, coop_id: int, kind: str) -> Ritual | None:
        """The co-op's ritual of this kind under way (drawing or open), if any."""
        r = await self.latest(coop_id, kind)
        return r if r is not None and r.status != "closed" else None

    async def list(self, coop_id: int, kind: str | None = None) -> list[Ritual]:
        async with self.db.read() as s:
            stmt = select(Ritual).where(Ritual.coop_id == coop_id)
            if kind is not None:
                stmt = stmt.where(Ritual.kind == kind)
            return list((await s.execute(stmt.order_by(Ritual.kind, Ritual.number))).scalars())

    async def pending(self) -> list[Ritual]:
        """Every ritual under way, in every co-op: what the due work looks at."""
        async with self.db.read() as s:
            return list((await s.execute(select(Ritual).where(Ritual.status != "closed").order_by(Ritual.id))).scalars())

    async def next_at(self, after: datetime) -> datetime | None:
        """The earliest end of an open ritual after `after`: the clock wakes for it."""
        async with self.db.read() as s:
            stmt = select(func.min(Ritual.ends_at)).where(Ritual.status == "open", Ritual.ends_at > after)
            return (await s.execute(stmt)).scalar_one()

    async def facilitated_lately(self, coop_id: int, count: int) -> dict[int, int]:
        """Who facilitated one of the co-op's last `count` mirror shifts: member id → its number."""
        if count <= 0:
            return {}
        async with self.db.read() as s:
            stmt = (select(Ritual.facilitator_id, Ritual.number)
                    .where(Ritual.coop_id == coop_id, Ritual.kind == "mirror", Ritual.facilitator_id.is_not(None))
                    .order_by(Ritual.number.desc()).limit(count))
            found: dict[int, int] = {}
            for member_id, number in (await s.execute(stmt)).all():
                found.setdefault(member_id, number)
            return found

    async def last_format(self, coop_id: int) -> str | None:
        """The format the co-op's last mirror shift drew (a redesign by its facilitator aside)."""
        async with self.db.read() as s:
            stmt = (select(Draw.result).join(Ritual, Ritual.format_draw_id == Draw.id)
                    .where(Ritual.coop_id == coop_id, Ritual.kind == "mirror", Draw.status == "drawn")
                    .order_by(Ritual.number.desc()).limit(1))
            result = (await s.execute(stmt)).scalar_one_or_none()
            return result["seated"][0]["name"] if result and result.get("seated") else None

    async def temptations(self, ritual_id: int) -> list[Proposal]:
        async with self.db.read() as s:
            stmt = select(Proposal).where(Proposal.ritual_id == ritual_id).order_by(Proposal.number)
            return list((await s.execute(stmt)).scalars())

    async def start(
        self, coop_id: int, *, kind: str, specs: Sequence[DrawSpec], now: datetime,
        render: Callable[[Ritual, Sequence[Draw]], str], event: tuple[str, str] | None = None,
    ) -> Ritual:
        """Begin the co-op's next ritual of `kind`: number it, announce its draws (the first is the
        facilitator's or the red team's, a second a mirror shift's format), log it and announce it
        in every room, in one transaction. RitualRunning if one of this kind is under way."""
        try:
            async with self.db.write() as s:
                await claim(s, event, now)
                await s.get(Coop, coop_id, with_for_update=True)  # numbers are taken one at a time per co-op
                last = (await s.execute(select(func.max(Ritual.number)).where(
                    Ritual.coop_id == coop_id, Ritual.kind == kind))).scalar_one()
                ritual = Ritual(coop_id=coop_id, kind=kind, number=(last or 0) + 1, status="drawing", started_at=now)
                s.add(ritual)
                await s.flush()
                drawn = [await announce_draw(s, coop_id, spec, now) for spec in specs]
                ritual.draw_id = drawn[0].id
                if len(drawn) > 1:
                    ritual.format_draw_id = drawn[1].id
                await log(s, coop_id, f"{kind}_started", now, number=ritual.number, draws=[d.number for d in drawn])
                await announce(s, coop_id, "ritual", render(ritual, drawn), now)
                return ritual
        except IntegrityError as exc:
            if "uq_ritual_coop_kind_running" in str(exc.orig) or "ritual.coop_id" in str(exc.orig):
                raise RitualRunning() from None
            raise

    async def open(
        self, ritual_id: int, *, now: datetime, decide: Callable[[Ritual, Sequence[Draw]], dict],
        render: Callable[[Ritual], str],
    ) -> Ritual | None:
        """Its draws are made: `decide` (given the ritual and its drawn draws) says what the ritual
        now holds (ends_at; a shift's facilitator_id, format and speaking_order); it opens, logged
        and announced. None: open already, or a draw is not made yet."""
        async with self.db.write() as s:
            ritual = await _locked(s, ritual_id)
            if ritual.status != "drawing":
                return None
            draws = [await s.get(Draw, i) for i in (ritual.draw_id, ritual.format_draw_id) if i is not None]
            if any(d.status != "drawn" for d in draws):
                return None
            for name, value in decide(ritual, draws).items():
                setattr(ritual, name, value)
            ritual.status = "open"
            await log(s, ritual.coop_id, f"{ritual.kind}_opened", now, number=ritual.number,
                      member_id=ritual.facilitator_id, format=ritual.format, order=ritual.speaking_order,
                      ends_at=ritual.ends_at.isoformat())
            await announce(s, ritual.coop_id, "ritual", render(ritual), now)
            return ritual

    async def redesign(
        self, ritual_id: int, member_id: int, *, text: str, now: datetime, render: Callable[[Ritual], str],
        most: int, event: tuple[str, str] | None = None,
    ) -> Ritual:
        """The facilitator rewrites the shift's format while it is open, at most `most` times:
        logged and announced. RitualNotOpen, NotFacilitator or RedesignsSpent (read under the
        ritual's lock)."""
        async with self.db.write() as s:
            await claim(s, event, now)
            ritual = await facilitating(s, ritual_id, member_id, now)
            if ritual.redesigns >= most:
                raise RedesignsSpent()
            ritual.format, ritual.redesigns = text, ritual.redesigns + 1
            await log(s, ritual.coop_id, "mirror_format", now, member_id=member_id, number=ritual.number, format=text)
            await announce(s, ritual.coop_id, "ritual", render(ritual), now)
            return ritual

    async def close(
        self, ritual_id: int, *, now: datetime, record: dict | None, render: Callable[[Ritual], str],
    ) -> Ritual | None:
        """Its time is over: it closes with its `record` (a drill's), logged and announced. None:
        closed already, not over yet, or (a drill) a temptation is still open."""
        async with self.db.write() as s:
            ritual = await _locked(s, ritual_id)
            if ritual.status != "open" or now < ritual.ends_at:
                return None
            still = (await s.execute(select(func.count()).select_from(Proposal).where(
                Proposal.ritual_id == ritual_id, Proposal.status == "open"))).scalar_one()
            if still:
                return None
            ritual.status, ritual.closed_at, ritual.record = "closed", now, record
            await log(s, ritual.coop_id, f"{ritual.kind}_closed", now, number=ritual.number, record=record,
                      confessions_read=ritual.confessions_read)
            await announce(s, ritual.coop_id, "ritual", render(ritual), now)
            return ritual


async def facilitating(s, ritual_id: int, member_id: int, now: datetime) -> Ritual:
    """The shift, locked, if it is open now and `member_id` facilitates it: RitualNotOpen or NotFacilitator."""
    ritual = await _locked(s, ritual_id)
    if ritual.status != "open" or now >= ritual.ends_at:
        raise RitualNotOpen(ritual.status if ritual.status != "open" else "over")
    if ritual.facilitator_id != member_id:
        raise NotFacilitator()
    return ritual


async def _locked(s, ritual_id: int) -> Ritual:
    return (await s.execute(select(Ritual).where(Ritual.id == ritual_id).with_for_update()
                            .execution_options(populate_existing=True))).scalar_one()
