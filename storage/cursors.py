"""Store for platform positions (sync tokens) and for asking which events are already handled."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from storage.common import insert
from storage.db import Database
from storage.models import Cursor, InboundEvent


class CursorStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, platform: str, name: str) -> str | None:
        async with self.db.read() as s:
            row = await s.get(Cursor, (platform, name))
            return row.value if row else None

    async def set(self, platform: str, name: str, value: str, now: datetime) -> None:
        async with self.db.write() as s:
            stmt = insert(s, Cursor).values(platform=platform, name=name, value=value, updated_at=now)
            await s.execute(stmt.on_conflict_do_update(index_elements=["platform", "name"],
                                                       set_={"value": value, "updated_at": now}))

    async def names(self, platform: str, *, prefix: str) -> list[str]:
        async with self.db.read() as s:
            stmt = select(Cursor.name).where(Cursor.platform == platform, Cursor.name.startswith(prefix))
            return list((await s.execute(stmt)).scalars())

    async def handled(self, platform: str, event_ids: list[str]) -> set[str]:
        """Which of these platform events have had their effect stored."""
        if not event_ids:
            return set()
        async with self.db.read() as s:
            stmt = select(InboundEvent.event_id).where(
                InboundEvent.platform == platform, InboundEvent.event_id.in_(event_ids)
            )
            return set((await s.execute(stmt)).scalars())
