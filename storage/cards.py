"""Store for proposal cards: which message shows which proposal in which chat, and what it shows."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from storage.common import insert
from storage.db import Database
from storage.models import Card


class CardStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def record(
        self, platform: str, chat_id: str, proposal_id: int, message_id: str, text: str, now: datetime,
        poll_id: str | None = None,
    ) -> None:
        async with self.db.write() as s:
            await s.execute(
                insert(s, Card)
                .values(platform=platform, chat_id=chat_id, proposal_id=proposal_id, message_id=message_id,
                        poll_id=poll_id, text=text, final=False, updated_at=now)
                .on_conflict_do_nothing()
            )

    async def by_poll(self, platform: str, chat_id: str, poll_id: str) -> Card | None:
        async with self.db.read() as s:
            stmt = select(Card).where(Card.platform == platform, Card.chat_id == chat_id, Card.poll_id == poll_id)
            return (await s.execute(stmt)).scalars().first()

    async def for_proposal(self, platform: str, proposal_id: int) -> list[Card]:
        async with self.db.read() as s:
            stmt = select(Card).where(Card.platform == platform, Card.proposal_id == proposal_id).order_by(Card.id)
            return list((await s.execute(stmt)).scalars())

    async def unfinished(self, platform: str) -> list[Card]:
        """Cards whose last edit may be behind: every card not yet given its closing edit."""
        async with self.db.read() as s:
            stmt = select(Card).where(Card.platform == platform, Card.final.is_(False)).order_by(Card.id)
            return list((await s.execute(stmt)).scalars())

    async def shown(self, card_id: int, text: str, *, final: bool, now: datetime) -> None:
        async with self.db.write() as s:
            await s.execute(update(Card).where(Card.id == card_id).values(text=text, final=final, updated_at=now))
