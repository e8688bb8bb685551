"""Keeping proposal cards current on any platform: which are behind, and when each may be edited."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from bot.pacing import wait_event
from storage.models import Card

logger = logging.getLogger(__name__)


class CardEdits:
    """The proposals whose cards may show an old tally, and the pace of their edits.

    While votes keep coming, a proposal's cards are edited at most once per `interval` (a burst of
    votes becomes one edit). Once no vote has come for `settled` seconds, the burst is over and its
    final tally goes out without waiting the interval, though never within `min_gap` of the last
    edit; a closing edit (`final`) goes out at once. Whether an edit is due is decided before the
    card is rendered: during a burst, rendering on every vote would cost more than the votes.
    """

    def __init__(self, interval: float, idle: float = 1.0, *, settled: float = 0.4, min_gap: float = 1.0) -> None:
        self.interval, self.idle, self.settled, self.min_gap = interval, idle, settled, min_gap
        self.dirty: set[int] = set()
        self.kick = asyncio.Event()
        self._last: dict[int, float] = {}  # card id -> loop time of its last edit
        self._edited_at: dict[int, float] = {}  # proposal id -> loop time of its cards' last edit
        self._marked_at: dict[int, float] = {}  # proposal id -> loop time of the last change marked
        self._final: set[int] = set()  # proposals whose closing edit is due

    def mark(self, proposal_id: int | None, *, final: bool = False) -> None:
        if proposal_id is not None:
            self.dirty.add(proposal_id)
            self._marked_at[proposal_id] = asyncio.get_running_loop().time()
            if final:
                self._final.add(proposal_id)
            self.kick.set()

    def due(self, proposal_id: int) -> bool:
        """May this proposal's cards be edited now (before anything is rendered)?"""
        edited = self._edited_at.get(proposal_id)
        if edited is None or proposal_id in self._final:
            return True
        now = asyncio.get_running_loop().time()
        settled = now - self._marked_at.get(proposal_id, 0.0) >= self.settled
        return now - edited >= (self.min_gap if settled else self.interval)

    def verdict(self, card: Card, text: str, final: bool) -> str:
        """"skip" (nothing to change), "wait" (this card was edited too recently), or "edit"."""
        if card.final or (card.text == text and not final):
            return "skip"
        now = asyncio.get_running_loop().time()
        if not final and now - self._last.get(card.id, -self.min_gap) < self.min_gap:
            return "wait"
        return "edit"

    def edited(self, card: Card) -> None:
        now = asyncio.get_running_loop().time()
        self._last[card.id] = self._edited_at[card.proposal_id] = now

    async def run(self, refresh: Callable[[int], Awaitable[bool]], platform: str) -> None:
        """Forever: refresh each proposal that is behind and due; `refresh` says whether it is done."""
        while True:
            try:
                for proposal_id in list(self.dirty):
                    if not self.due(proposal_id):
                        continue  # stays behind: looked at again on the next change or wake-up
                    # Taken off first: a vote that lands while this refresh renders marks it again,
                    # so the card is never left showing a tally older than the last vote.
                    self.dirty.discard(proposal_id)
                    if await refresh(proposal_id):
                        if proposal_id not in self.dirty:  # a closing mark made meanwhile stays
                            self._final.discard(proposal_id)
                    else:
                        self.dirty.add(proposal_id)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("refreshing %s cards failed; trying again", platform)
            await wait_event(self.kick, min(self.settled, 0.5) if self.dirty else self.idle)
