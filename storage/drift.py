"""Store for the drift timeline's own entries: one `drift` recorded, numbered per co-op, logged
(a leaf of the minutes) and announced in every room, in one transaction."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import func, select

from storage.common import announce, claim, log
from storage.db import Database
from storage.models import Coop, Drift


class DriftStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def record(
        self, coop_id: int, member_id: int, *, text: str, happened_at: datetime, proposal: tuple[int, int] | None,
        now: datetime, render: Callable[[Drift], str], event: tuple[str, str] | None = None,
    ) -> Drift:
        """A member's drift entry (`proposal`: the id and number of the proposal it is about). The
        co-op row is locked first, so numbers are taken one at a time (the unique constraint guards
        them too)."""
        async with self.db.write() as s:
            await claim(s, event, now)
            await s.get(Coop, coop_id, with_for_update=True)
            last = (await s.execute(select(func.max(Drift.number)).where(Drift.coop_id == coop_id))).scalar_one()
            row = Drift(coop_id=coop_id, number=(last or 0) + 1, text=text, happened_at=happened_at,
                        proposal_id=proposal[0] if proposal else None, member_id=member_id, recorded_at=now)
            s.add(row)
            await s.flush()
            await log(s, coop_id, "drift", now, proposal_id=row.proposal_id, member_id=member_id, number=row.number,
                      text=text, happened_at=happened_at.isoformat(), about=proposal[1] if proposal else None)
            await announce(s, coop_id, "drift", render(row), now)
            return row
