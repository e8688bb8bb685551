"""Store for calendar feeds: a co-op's private feed token, made on first ask, found by its hash, revoked."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import select, update

from storage.common import announce
from storage.db import Database
from storage.models import CalendarFeed, Coop

TOKEN_BYTES = 32  # 256 bits, urlsafe base64: 43 characters


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class FeedStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def token(self, coop_id: int, now: datetime) -> str:
        """The co-op's feed token: the unrevoked one, or a new one made now (under the co-op's row
        lock, so two members asking at once get the same)."""
        async with self.db.write() as s:
            await s.get(Coop, coop_id, with_for_update=True)
            feed = (await s.execute(select(CalendarFeed).where(
                CalendarFeed.coop_id == coop_id, CalendarFeed.revoked_at.is_(None)))).scalar_one_or_none()
            if feed is not None:
                return feed.token
            token = secrets.token_urlsafe(TOKEN_BYTES)
            s.add(CalendarFeed(coop_id=coop_id, token_hash=token_hash(token), token=token, created_at=now))
            return token

    async def revoke(self, coop_id: int, now: datetime, announcement: str) -> bool:
        """Revoke the co-op's feed and queue `announcement` for its rooms (every subscribed phone
        stops updating: members must hear it, and from whom); False if it had none. The next ask
        makes a new one."""
        async with self.db.write() as s:
            done = await s.execute(update(CalendarFeed).where(
                CalendarFeed.coop_id == coop_id, CalendarFeed.revoked_at.is_(None)).values(revoked_at=now))
            if done.rowcount == 0:
                return False
            await announce(s, coop_id, "notice", announcement, now)
            return True

    async def exists(self, coop_id: int) -> bool:
        """Whether the co-op has an unrevoked feed (someone asked `calendar` in a direct chat since
        the last revocation)."""
        async with self.db.read() as s:
            return (await s.execute(select(CalendarFeed.id).where(
                CalendarFeed.coop_id == coop_id, CalendarFeed.revoked_at.is_(None)))).first() is not None

    async def coop_of(self, token: str) -> int | None:
        """The co-op whose unrevoked feed this token opens, or None (wrong, or revoked)."""
        if not token or len(token) > 64:
            return None
        async with self.db.read() as s:
            return (await s.execute(select(CalendarFeed.coop_id).where(
                CalendarFeed.token_hash == token_hash(token), CalendarFeed.revoked_at.is_(None)))).scalar_one_or_none()
