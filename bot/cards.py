"""Keeping proposal cards current on any platform: which are behind, and when each may be edited."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from bot.pacing import wait_event
from storage.models import Card

logger = logging.getLogger(__name__)


class CardEdits:
    """The proposals whose cards may show an old tally, and the pace of their edits: at most one
    edit of a card per `interval` (a burst of votes becomes one edit), except the closing edit."""

    def __init__(self, interval: float, idle: float = 1.0) -> None:
        self.interval, self.idle = interval, idle
        self.dirty: set[int] = set()
        self.kick = asyncio.Event()
        self._last: dict[int, float] = {}

    def mark(self, proposal_id: int | None) -> None:
        if proposal_id is not None:
            self.dirty.add(proposal_id)
            self.kick.set()

    def verdict(self, card: Card, text: str, final: bool) -> str:
        """"skip" (nothing to change), "wait" (edited too recently), or "edit"."""
        if card.final or (card.text == text and not final):
            return "skip"
        now = asyncio.get_running_loop().time()
        if not final and now - self._last.get(card.id, -self.interval) < self.interval:
            return "wait"
        return "edit"

    def edited(self, card: Card) -> None:
        self._last[card.id] = asyncio.get_running_loop().time()

    async def run(self, refresh: Callable[[int], Awaitable[bool]], platform: str) -> None:
        """Forever: refresh each proposal that is behind; `refresh` says whether it is done."""
        while True:
            try:
                for proposal_id in list(self.dirty):
                    # Taken off first: a vote that lands while this refresh renders marks it again,
                    # so the card is never left showing a tally older than the last vote.
                    self.dirty.discard(proposal_id)
                    if not await refresh(proposal_id):
                        self.dirty.add(proposal_id)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("refreshing %s cards failed; trying again", platform)
            await wait_event(self.kick, 0.5 if self.dirty else self.idle)
