"""Store for draws: announcing (numbered per co-op), shuffles, and the one draw at its time."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from storage.common import announce, claim, log
from storage.db import Database
from storage.errors import StoreError
from storage.minutes import post_head
from storage.models import Coop, Draw, DrawContribution


class DrawNotOpen(StoreError):
    """The draw's time has come (or it is drawn): no more shuffles."""


class ShufflesSpent(StoreError):
    """This member has given a draw all the shuffles one member may."""

    def __init__(self, most: int) -> None:
        super().__init__(most)
        self.most = most


@dataclass(frozen=True)
class DrawSpec:
    """A draw to announce, as handlers.lottery prepares it: its pool ({"id", "name"} and, for
    allies, "org") in register order, who is left out and why, and the secret committed to."""

    purpose: str
    seats: int
    source: str
    pool: list[dict]
    excluded: list[dict]
    secret: str
    commitment: str
    draw_at: datetime
    render: Callable[[Draw], str]
    by: int | None = None


async def announce_draw(s, coop_id: int, spec: DrawSpec, now: datetime) -> Draw:
    """Number and store a draw, log it and queue its announcement, in the caller's transaction
    (a feature that draws, such as an audit, records the draw with its own row in one commit)."""
    await s.get(Coop, coop_id, with_for_update=True)  # numbers are taken one at a time per co-op
    last = (await s.execute(select(func.max(Draw.number)).where(Draw.coop_id == coop_id))).scalar_one()
    d = Draw(coop_id=coop_id, number=(last or 0) + 1, purpose=spec.purpose, seats=spec.seats, source=spec.source,
             pool=spec.pool, excluded=spec.excluded, commitment=spec.commitment, secret=spec.secret,
             draw_at=spec.draw_at, status="announced", created_at=now, created_by=spec.by)
    s.add(d)
    await s.flush()
    # Everything a member needs to replay it, but the secret (logged when drawn).
    await log(s, coop_id, "draw_announced", now, member_id=spec.by, number=d.number, purpose=spec.purpose,
              seats=spec.seats, source=spec.source, pool=spec.pool, excluded=spec.excluded,
              commitment=spec.commitment, draw_at=spec.draw_at.isoformat())
    await announce(s, coop_id, "draw_announced", spec.render(d), now)
    return d


class DrawStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, coop_id: int, number: int) -> Draw | None:
        async with self.db.read() as s:
            stmt = select(Draw).where(Draw.coop_id == coop_id, Draw.number == number)
            return (await s.execute(stmt)).scalar_one_or_none()

    async def get_by_id(self, draw_id: int | None) -> Draw | None:
        if draw_id is None:
            return None
        async with self.db.read() as s:
            return await s.get(Draw, draw_id)

    async def list(self, coop_id: int) -> list[Draw]:
        async with self.db.read() as s:
            return list((await s.execute(select(Draw).where(Draw.coop_id == coop_id).order_by(Draw.number))).scalars())

    async def contributions(self, draw_id: int) -> list[DrawContribution]:
        async with self.db.read() as s:
            stmt = select(DrawContribution).where(DrawContribution.draw_id == draw_id).order_by(DrawContribution.seq)
            return list((await s.execute(stmt)).scalars())

    async def recent(self, coop_id: int, purpose: str, count: int) -> list[Draw]:
        """The last `count` drawn draws of a purpose (in any case), newest first."""
        if count <= 0:
            return []
        async with self.db.read() as s:
            stmt = (select(Draw).where(Draw.coop_id == coop_id, Draw.status == "drawn",
                                       func.lower(Draw.purpose) == purpose.lower())
                    .order_by(Draw.number.desc()).limit(count))
            return list((await s.execute(stmt)).scalars())

    async def due(self, now: datetime, limit: int = 100) -> list[Draw]:
        """Announced draws whose time has come."""
        async with self.db.read() as s:
            stmt = (select(Draw).where(Draw.status == "announced", Draw.draw_at <= now)
                    .order_by(Draw.draw_at, Draw.id).limit(limit))
            return list((await s.execute(stmt)).scalars())

    async def next_at(self, after: datetime) -> datetime | None:
        """The earliest draw time of an announced draw later than `after` (an index seek)."""
        async with self.db.read() as s:
            stmt = select(func.min(Draw.draw_at)).where(Draw.status == "announced", Draw.draw_at > after)
            return (await s.execute(stmt)).scalar_one_or_none()

    async def announce(self, coop_id: int, spec: DrawSpec, *, now: datetime,
                       event: tuple[str, str] | None = None) -> Draw:
        """Number and store a draw, log it and queue its announcement, in one transaction."""
        async with self.db.write() as s:
            await claim(s, event, now)
            return await announce_draw(s, coop_id, spec, now)

    async def shuffle(
        self, draw_id: int, member_id: int, text: str, *, now: datetime, most: int,
        render: Callable[[Draw, DrawContribution], str], event: tuple[str, str] | None = None,
    ) -> DrawContribution:
        """Add a contribution before the draw time; it is posted in the co-op's rooms. The draw row's
        lock orders shuffles against the draw: none is taken after the secret is revealed."""
        async with self.db.write() as s:
            await claim(s, event, now)
            d = (await s.execute(select(Draw).where(Draw.id == draw_id).with_for_update())).scalar_one()
            if d.status != "announced" or now >= d.draw_at:
                raise DrawNotOpen()
            mine = (await s.execute(select(func.count()).select_from(DrawContribution).where(
                DrawContribution.draw_id == draw_id, DrawContribution.member_id == member_id))).scalar_one()
            if mine >= most:
                raise ShufflesSpent(most)
            last = (await s.execute(select(func.max(DrawContribution.seq))
                                    .where(DrawContribution.draw_id == draw_id))).scalar_one()
            c = DrawContribution(draw_id=draw_id, seq=(last or 0) + 1, member_id=member_id, text=text, at=now)
            s.add(c)
            await s.flush()
            await log(s, d.coop_id, "draw_shuffled", now, member_id=member_id, number=d.number, seq=c.seq, text=text)
            await announce(s, d.coop_id, "draw_shuffled", render(d, c), now)
            return c

    async def draw(
        self, draw_id: int, *, now: datetime, decide: Callable[[Draw, list[str]], dict],
        render: Callable[[Draw], str],
    ) -> Draw | None:
        """Reveal and draw, exactly once: the row is locked and moved announced → drawn in the same
        transaction as the result, its log entry and its announcement. None: drawn already."""
        async with self.db.write() as s:
            d = (await s.execute(select(Draw).where(Draw.id == draw_id).with_for_update())).scalar_one()
            if d.status != "announced":
                return None
            stmt = select(DrawContribution.text).where(DrawContribution.draw_id == draw_id).order_by(DrawContribution.seq)
            contributions = list((await s.execute(stmt)).scalars())
            d.result = decide(d, contributions)
            d.status, d.drawn_at = "drawn", now
            await log(s, d.coop_id, "draw_drawn", now, number=d.number, commitment=d.commitment, secret=d.secret,
                      **d.result)
            # The result shows the minutes' head after its own leaf, as a proposal's result does.
            head = await post_head(s, d.coop_id, now)
            d.result = {**d.result, "minutes": [head.size, head.root]}
            await s.flush()
            await announce(s, d.coop_id, "draw_drawn", render(d), now)
            return d
