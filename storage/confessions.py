"""Store for anonymous confessions: a co-op's box of texts (nothing else: no sender, no time, no
message id) and its reading during a mirror shift, each one transaction under a lock."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import delete, select

from storage.common import announce, claim, insert, log
from storage.db import Database
from storage.errors import StoreError
from storage.models import ConfessionBox, Ritual
from storage.rituals import facilitating

Shuffle = Callable[[Sequence[str]], list[str]]
CONFESSION = "confession"  # the outbox kind of a confession read aloud; its text is erased once sent


class BoxFull(StoreError):
    """The co-op's box holds as many confessions as may wait for a reading."""


class ConfessionStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def waiting(self, coop_id: int) -> int:
        """How many confessions wait in the co-op's box."""
        async with self.db.read() as s:
            box = await s.get(ConfessionBox, coop_id)
            return len(box.texts) if box else 0

    async def add(self, coop_id: int, text: str, *, shuffle: Shuffle, most: int) -> None:
        """Put a confession in the co-op's box and the whole box in a fresh order (`shuffle`), so
        its place says nothing of when it came. Only the texts are written: no event claim, no
        governance event, no minutes leaf, nothing about who sent it or when. A text already in
        the box is kept once (a redelivered message); BoxFull at `most` texts."""
        async with self.db.write() as s:
            # The row exists before it is locked, so two confessions at once queue on its lock.
            await s.execute(insert(s, ConfessionBox).values(coop_id=coop_id, texts=[]).on_conflict_do_nothing())
            box = await _box(s, coop_id)
            if box is None:  # a reading deleted the box between the insert and the lock: a new one
                box = ConfessionBox(coop_id=coop_id, texts=[])
                s.add(box)
            if text in box.texts:
                return
            if len(box.texts) >= most:
                raise BoxFull()
            box.texts = shuffle([*box.texts, text])
        await self.db.forget_old_versions()

    async def read(
        self, ritual_id: int, member_id: int, *, shuffle: Shuffle, render: Callable[[int, int, str], str],
        now: datetime, event: tuple[str, str] | None = None,
    ) -> tuple[Ritual, int]:
        """The shift's facilitator reads the box: each text (in a fresh order) announced in every
        room as `render(i, count, text)`, the box deleted, the count added to the shift's and
        logged (a minutes leaf with the count only), in one transaction. RitualNotOpen or
        NotFacilitator (read under the shift's lock); a count of 0: the box was empty."""
        async with self.db.write() as s:
            await claim(s, event, now)
            ritual = await facilitating(s, ritual_id, member_id, now)
            box = await _box(s, ritual.coop_id)
            found = list(box.texts) if box else []
            if not found:
                return ritual, 0
            for i, text in enumerate(shuffle(found), 1):
                await announce(s, ritual.coop_id, CONFESSION, render(i, len(found), text), now)
            await s.execute(delete(ConfessionBox).where(ConfessionBox.coop_id == ritual.coop_id))
            ritual.confessions_read = (ritual.confessions_read or 0) + len(found)
            await log(s, ritual.coop_id, "confessions_read", now, number=ritual.number, count=len(found))
        await self.db.forget_old_versions()
        return ritual, len(found)


async def _box(s, coop_id: int) -> ConfessionBox | None:
    return (await s.execute(select(ConfessionBox).where(ConfessionBox.coop_id == coop_id).with_for_update()
                            .execution_options(populate_existing=True))).scalar_one_or_none()
