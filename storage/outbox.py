"""Store for the outbox: announcements waiting to be delivered to each platform's rooms."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, case, delete, func, insert as sa_insert, not_, or_, select, update

from storage.common import URGENT, claim_many, priority
from storage.db import Database
from storage.models import Outbox, Room


SCHEDULE = "schedule"  # the claims of scheduled work live beside platform events
BATCH = 500  # scheduled items per transaction: few commits, yet a short hold on SQLite's one writer
# Kinds whose text is erased once delivered (or given up): a confession read aloud is then gone
# from every table, the count in its shift and the minutes aside.
ERASED_ONCE_SENT = frozenset({"confession"})


def _erased():
    return case((Outbox.kind.in_(ERASED_ONCE_SENT), ""), else_=Outbox.text)


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
        self, platform: str, worker: str, now: datetime, *, limit: int = 100, per_chat: int | None = None,
        lease: timedelta = timedelta(seconds=60), paused: Collection[str] = (), urgent_only: Collection[str] = (),
    ) -> list[Outbox]:
        """Pending rows for this platform that no other process is delivering, claimed for `lease`
        (a process that dies lets its claims lapse, and another takes over); in each chat by
        (priority, id). Rows waiting out a retry are not due, nor is anything after them in their chat.

        With `per_chat`, delivery is fair: at most that many rows of each chat, the chats taking
        turns for the `limit` (every chat's first row before any chat's second), and a chat whose
        next row another live process holds is left to it (so its order holds across processes
        too). `paused` chats are over their budget and not claimed at all; in `urgent_only` chats
        only urgent rows are. Without `per_chat`: the oldest rows, a chat possibly split."""
        o = Outbox.__table__
        fair = per_chat is not None
        mine = or_(o.c.claimed_until.is_(None), o.c.claimed_until < now, o.c.claimed_by == worker)
        due = or_(o.c.next_attempt_at.is_(None), o.c.next_attempt_at <= now)
        wanted = [o.c.platform == platform, o.c.sent_at.is_(None)]
        if paused:
            wanted.append(o.c.chat_id.not_in(list(paused)))
        if urgent_only:
            wanted.append(or_(o.c.chat_id.not_in(list(urgent_only)), o.c.priority == URGENT))
        if not fair:
            wanted.append(mine)
        held = not_(and_(due, mine)) if fair else not_(due)
        ranked = select(
            o.c.id, o.c.chat_id, o.c.priority,
            func.row_number().over(partition_by=o.c.chat_id, order_by=(o.c.priority, o.c.id)).label("rn"),
            case((held, 1), else_=0).label("held"),
        ).where(*wanted).subquery()
        first_held = func.min(case((ranked.c.held == 1, ranked.c.rn))).over(partition_by=ranked.c.chat_id)
        gated = select(ranked, first_held.label("first_held")).subquery()
        open_rows = or_(gated.c.first_held.is_(None), gated.c.rn < gated.c.first_held)
        if fair:
            open_rows = and_(open_rows, gated.c.rn <= per_chat)
        async with self.db.write() as s:
            # The lock is taken on the rows themselves, with the claim's conditions checked again
            # on the locked row (PostgreSQL re-reads a row another claim just committed).
            ids = (
                select(o.c.id)
                .join(gated, gated.c.id == o.c.id)
                .where(open_rows, o.c.sent_at.is_(None), mine, due)
                .order_by(gated.c.rn, gated.c.priority, o.c.id)
                .limit(limit)
                .with_for_update(skip_locked=True, of=o)
            )
            stmt = (
                update(Outbox)
                .where(Outbox.id.in_(ids))
                .values(claimed_by=worker, claimed_until=now + lease)
                .returning(Outbox)
            )
            rows = list((await s.execute(stmt)).scalars())
            return sorted(rows, key=lambda row: (row.chat_id, row.priority, row.id))

    async def release(self, ids: list[int], worker: str) -> None:
        """Claims not acted on (the chat's turn ended): free them for the next pass, or another process."""
        if not ids:
            return
        async with self.db.write() as s:
            await s.execute(
                update(Outbox).where(Outbox.id.in_(ids), Outbox.claimed_by == worker)
                .values(claimed_by=None, claimed_until=None)
            )

    async def retry(self, row_id: int, error: str, at: datetime) -> None:
        """A try failed for a reason that may pass: count it, and wait until `at` (the chat too)."""
        async with self.db.write() as s:
            await s.execute(
                update(Outbox).where(Outbox.id == row_id, Outbox.sent_at.is_(None))
                .values(attempts=Outbox.attempts + 1, next_attempt_at=at, last_error=error[:500],
                        claimed_by=None, claimed_until=None)
            )

    async def give_up(self, row_id: int, error: str, now: datetime) -> None:
        """A permanent refusal: this row will never be delivered; the chat's later rows go on."""
        async with self.db.write() as s:
            await s.execute(
                update(Outbox).where(Outbox.id == row_id, Outbox.sent_at.is_(None))
                .values(attempts=Outbox.attempts + 1, last_error=error[:500], gave_up=True, sent_at=now,
                        claimed_by=None, claimed_until=None, text=_erased())
            )

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
                    rows += [{**base, "platform": platform, "chat_id": chat_id, "kind": item.kind, "text": item.text,
                              "priority": priority(item.kind)}
                             for platform, chat_id in rooms.get(item.coop_id, [])]
                    rows += [{**base, "platform": platform, "chat_id": chat_id, "kind": "direct", "text": message,
                              "priority": priority("direct")}
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

    async def renew(self, ids: list[int], worker: str, until: datetime) -> set[int]:
        """Extend this worker's claims that are still its own (not sent, not taken by another
        process since they lapsed). Returns the ids it still holds."""
        if not ids:
            return set()
        async with self.db.write() as s:
            stmt = (update(Outbox).where(Outbox.id.in_(ids), Outbox.claimed_by == worker, Outbox.sent_at.is_(None))
                    .values(claimed_until=until).returning(Outbox.id))
            return set((await s.execute(stmt)).scalars())

    async def mark_sent(self, ids: list[int], now: datetime, *, worker: str | None = None) -> None:
        """Record a delivery. With `worker`, only rows that worker still holds: a process whose
        lapsed claim another took does not settle the row under the holder's feet."""
        if not ids:
            return
        async with self.db.write() as s:
            stmt = update(Outbox).where(Outbox.id.in_(ids), Outbox.sent_at.is_(None))
            if worker is not None:
                stmt = stmt.where(Outbox.claimed_by == worker)
            await s.execute(stmt.values(sent_at=now, text=_erased()))


    async def forget_sent(self, before: datetime, *, batch: int = 1000, most: int | None = None) -> int:
        """Delete rows delivered (or given up) before `before`, a batch per transaction; pending
        rows are kept however old. At most about `most`; returns how many were deleted."""
        deleted = 0
        while True:
            async with self.db.write() as s:
                old = select(Outbox.id).where(Outbox.sent_at < before).limit(batch)
                done = (await s.execute(delete(Outbox).where(Outbox.id.in_(old)))).rowcount or 0
            deleted += done
            if done < batch or (most is not None and deleted >= most):
                return deleted


async def _claim_keys(session, keys: list[str], now: datetime) -> set[str]:
    """Claim scheduled keys in the caller's transaction; returns those not claimed before."""
    return {key for _, key in await claim_many(session, [(SCHEDULE, key) for key in keys], now)}
