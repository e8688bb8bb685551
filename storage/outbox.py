"""Store for the outbox: announcements waiting to be delivered to each platform's rooms."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select, update

from storage.common import announce, claim
from storage.db import Database
from storage.errors import DuplicateEvent
from storage.models import Outbox


SCHEDULE = "schedule"  # the claims of scheduled work live beside platform events


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

    async def claim(
        self, platform: str, worker: str, now: datetime, *, limit: int = 100, lease: timedelta = timedelta(seconds=60)
    ) -> list[Outbox]:
        """Pending rows for this platform that no other process is delivering, oldest first,
        claimed for `lease` (a process that dies lets its claims lapse, and another takes over)."""
        async with self.db.write() as s:
            free = or_(Outbox.claimed_until.is_(None), Outbox.claimed_until < now, Outbox.claimed_by == worker)
            ids = (
                select(Outbox.id)
                .where(Outbox.platform == platform, Outbox.sent_at.is_(None), free)
                .order_by(Outbox.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
            stmt = (
                update(Outbox)
                .where(Outbox.id.in_(ids))
                .values(claimed_by=worker, claimed_until=now + lease)
                .returning(Outbox)
            )
            rows = list((await s.execute(stmt)).scalars())
            return sorted(rows, key=lambda row: row.id)

    async def announce_once(
        self,
        key: str,
        coop_id: int,
        kind: str,
        text: str,
        now: datetime,
        *,
        proposal_id: int | None = None,
        direct: list[tuple[str, str, str]] = (),
    ) -> bool:
        """Queue scheduled news once: in every bound room, and as direct messages (platform, chat,
        text). The claim on `key` is written in the same transaction, so a restart or a second
        process never sends it again. False if it was already done."""
        try:
            async with self.db.write() as s:
                await claim(s, (SCHEDULE, key), now)
                await announce(s, coop_id, kind, text, now, proposal_id=proposal_id)
                for platform, chat_id, message in direct:
                    s.add(Outbox(coop_id=coop_id, platform=platform, chat_id=chat_id, kind="direct",
                                 proposal_id=proposal_id, text=message, created_at=now))
        except DuplicateEvent:
            return False
        return True

    async def skip(self, keys: list[str], now: datetime) -> None:
        """Mark scheduled news as done without sending it (it is stale: a later one supersedes it)."""
        for key in keys:
            try:
                async with self.db.write() as s:
                    await claim(s, (SCHEDULE, key), now)
            except DuplicateEvent:
                continue  # another process got there first: the same outcome

    async def mark_sent(self, ids: list[int], now: datetime) -> None:
        if not ids:
            return
        async with self.db.write() as s:
            await s.execute(update(Outbox).where(Outbox.id.in_(ids), Outbox.sent_at.is_(None)).values(sent_at=now))
