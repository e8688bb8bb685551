"""Store for the outbox: announcements waiting to be delivered to each platform's rooms."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import insert as sa_insert, or_, select, update

from storage.common import claim_many
from storage.db import Database
from storage.models import Outbox, Room


SCHEDULE = "schedule"  # the claims of scheduled work live beside platform events
BATCH = 500  # scheduled items per transaction: few commits, yet a short hold on SQLite's one writer


@dataclass(frozen=True)
class Scheduled:
    """One piece of scheduled news: the claim `key`, the room text, and direct messages
    (platform, chat, text)."""

    key: str
    coop_id: int
    kind: str
    text: str
    proposal_id: int | None = None
    direct: tuple[tuple[str, str, str], ...] = ()


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

    async def announce_many(self, items: Iterable[Scheduled], now: datetime) -> set[str]:
        """Queue scheduled news once: in every bound room, and as direct messages. Each item's
        claim is written in the same transaction as its messages, so a restart or a second process
        never sends it again; a batch per transaction, the claims in one statement, and only the
        items claimed here (not done already) queue messages. Returns those keys."""
        items = list(items)
        claimed: set[str] = set()
        for i in range(0, len(items), BATCH):
            async with self.db.write() as s:
                claimed |= await _claim_keys(s, [item.key for item in items[i:i + BATCH]], now)
                batch = [item for item in items[i:i + BATCH] if item.key in claimed]
                if not batch:
                    continue
                coops = sorted({item.coop_id for item in batch})
                rooms: dict[int, list[tuple[str, str]]] = {}
                stmt = select(Room.coop_id, Room.platform, Room.chat_id).where(Room.coop_id.in_(coops)).order_by(Room.id)
                for coop_id, platform, chat_id in (await s.execute(stmt)).all():
                    rooms.setdefault(coop_id, []).append((platform, chat_id))
                rows = []
                for item in batch:
                    base = {"coop_id": item.coop_id, "proposal_id": item.proposal_id, "created_at": now}
                    rows += [{**base, "platform": platform, "chat_id": chat_id, "kind": item.kind, "text": item.text}
                             for platform, chat_id in rooms.get(item.coop_id, [])]
                    rows += [{**base, "platform": platform, "chat_id": chat_id, "kind": "direct", "text": message}
                             for platform, chat_id, message in item.direct]
                if rows:
                    await s.execute(sa_insert(Outbox.__table__), rows)
        return claimed

    async def skip(self, keys: list[str], now: datetime) -> None:
        """Mark scheduled news as done without sending it (it is stale: a later one supersedes it).
        A key claimed already, by another process perhaps, is the same outcome."""
        for i in range(0, len(keys), BATCH):
            async with self.db.write() as s:
                await _claim_keys(s, keys[i:i + BATCH], now)

    async def mark_sent(self, ids: list[int], now: datetime) -> None:
        if not ids:
            return
        async with self.db.write() as s:
            await s.execute(update(Outbox).where(Outbox.id.in_(ids), Outbox.sent_at.is_(None)).values(sent_at=now))



async def _claim_keys(session, keys: list[str], now: datetime) -> set[str]:
    """Claim scheduled keys in the caller's transaction; returns those not claimed before."""
    return {key for _, key in await claim_many(session, [(SCHEDULE, key) for key in keys], now)}
