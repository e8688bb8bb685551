"""Store for the outbox: announcements waiting to be delivered to each platform's rooms."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from storage.db import Database
from storage.models import Outbox


class OutboxStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def pending(self, platform: str, *, chat_id: str | None = None, limit: int = 100) -> list[Outbox]:
        async with self.db.read() as s:
            stmt = select(Outbox).where(Outbox.platform == platform, Outbox.sent_at.is_(None))
            if chat_id is not None:
                stmt = stmt.where(Outbox.chat_id == chat_id)
            stmt = stmt.order_by(Outbox.id).limit(limit)
            return list((await s.execute(stmt)).scalars())

    async def mark_sent(self, ids: list[int], now: datetime) -> None:
        if not ids:
            return
        async with self.db.write() as s:
            await s.execute(update(Outbox).where(Outbox.id.in_(ids), Outbox.sent_at.is_(None)).values(sent_at=now))
