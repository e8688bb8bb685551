"""Store for platform positions (sync tokens) and for asking which events are already handled."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select, tuple_, update

from storage.common import insert
from storage.db import Database
from storage.models import Cursor, InboundEvent, Proposal
from storage.outbox import SCHEDULE


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

    async def refused(self, platform: str, event_id: str, now: datetime) -> None:
        """This command was refused (nothing done): an edit of it may be the corrected command.
        A claim already there (its effect stored) stays as it is."""
        async with self.db.write() as s:
            await s.execute(insert(s, InboundEvent).values(platform=platform, event_id=event_id[:255], handled_at=now,
                                                           refused=True).on_conflict_do_nothing())

    async def outcome(self, platform: str, event_id: str) -> str | None:
        """What became of a command: "refused", "done", or None if nothing is known of it (never
        a command, or handled so long ago that its claim was forgotten)."""
        async with self.db.read() as s:
            refused = (await s.execute(select(InboundEvent.refused).where(
                InboundEvent.platform == platform, InboundEvent.event_id == event_id[:255]))).scalar_one_or_none()
        return None if refused is None else "refused" if refused else "done"

    async def corrected(self, platform: str, event_id: str) -> None:
        """A refused command's edit was carried out: the original now counts as done."""
        async with self.db.write() as s:
            await s.execute(update(InboundEvent).where(InboundEvent.platform == platform,
                                                       InboundEvent.event_id == event_id[:255]).values(refused=False))

    async def forget_handled(self, before: datetime, *, batch: int = 1000, most: int | None = None) -> int:
        """Forget platform events handled before `before` (a platform redelivers within hours, not
        weeks), a batch per transaction so SQLite's one writer is held briefly. Scheduled work's
        claims are kept; so is every claim since the oldest open proposal opened (Matrix looks up
        a poll's responses at its close). At most about `most`; returns how many were forgotten."""
        forgotten = 0
        async with self.db.read() as s:
            oldest_open = (await s.execute(
                select(func.min(Proposal.opened_at)).where(Proposal.status == "open"))).scalar()
        if oldest_open is not None:
            before = min(before, oldest_open)
        key = tuple_(InboundEvent.platform, InboundEvent.event_id)
        while True:
            async with self.db.write() as s:
                old = (
                    select(InboundEvent.platform, InboundEvent.event_id)
                    .where(InboundEvent.platform != SCHEDULE, InboundEvent.handled_at < before)
                    .limit(batch)
                )
                done = (await s.execute(delete(InboundEvent).where(key.in_(old)))).rowcount or 0
            forgotten += done
            if done < batch or (most is not None and forgotten >= most):
                return forgotten
