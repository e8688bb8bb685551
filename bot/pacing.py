"""Send budgets per chat and overall, and waiting out a platform's "retry after"."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Budget:
    """`count` sends per `seconds`; the last `reserve` of them are kept for urgent sends (cards,
    results, reminders, card edits), so routine replies and announcements never take a chat's
    whole budget."""

    count: int
    seconds: float
    reserve: int = 0


class Pacer:
    """Sliding-window budgets: a send to a chat waits until both that chat's budget and the
    overall one allow it, and a chat told to retry later waits that long. Answers to button
    taps do not pass through here, so a throttled chat never holds them up."""

    def __init__(
        self,
        budget_for: Callable[[str], Budget],
        overall: Budget,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.budget_for = budget_for
        self.overall = overall
        self.clock = clock
        self._sent: dict[str, deque[float]] = {}
        self._all: deque[float] = deque()
        self._blocked: dict[str, float] = {}

    def _wait_for(self, window: deque[float], budget: Budget, now: float, routine: bool = False) -> float:
        while window and window[0] <= now - budget.seconds:
            window.popleft()
        count = budget.count - budget.reserve if routine else budget.count
        if len(window) < count:
            return 0.0
        return window[len(window) - count] + budget.seconds - now

    def delay(self, chat: str, *, routine: bool = False) -> float:
        """Seconds until a send to this chat is allowed (0 when it is allowed now); a `routine`
        send may not use the chat's reserve."""
        now = self.clock()
        window = self._sent.setdefault(chat, deque())
        return max(
            self._blocked.get(chat, 0.0) - now,
            self._wait_for(window, self.budget_for(chat), now, routine),
            self._wait_for(self._all, self.overall, now),
            0.0,
        )

    def spend(self, chat: str) -> None:
        now = self.clock()
        self._sent.setdefault(chat, deque()).append(now)
        self._all.append(now)

    def block(self, chat: str, seconds: float) -> None:
        """The platform said: nothing more to this chat for `seconds`."""
        self._blocked[chat] = max(self._blocked.get(chat, 0.0), self.clock() + seconds)

    async def acquire(self, chat: str, *, routine: bool = False) -> None:
        while (wait := self.delay(chat, routine=routine)) > 0:
            await asyncio.sleep(wait)
        self.spend(chat)

    def paused(self, longer_than: float) -> tuple[set[str], set[str]]:
        """Chats that may not be sent to for more than `longer_than` seconds, and chats where
        only urgent sends may go that soon. Chats with nothing left in their window are forgotten."""
        now = self.clock()
        for chat in [c for c, window in self._sent.items() if not window or window[-1] <= now - self.budget_for(c).seconds]:
            del self._sent[chat]
        for chat in [c for c, until in self._blocked.items() if until <= now]:
            del self._blocked[chat]
        paused, urgent_only = set(), set()
        for chat in self._sent.keys() | self._blocked.keys():
            if self.delay(chat) > longer_than:
                paused.add(chat)
            elif self.delay(chat, routine=True) > longer_than:
                urgent_only.add(chat)
        return paused, urgent_only


async def wait_event(event: asyncio.Event, timeout: float) -> None:
    """Wait until the event is set or the timeout passes, then clear it (a loop's wake-up call)."""
    waiter = asyncio.ensure_future(event.wait())
    try:
        await asyncio.wait({waiter}, timeout=timeout)
    finally:
        waiter.cancel()
    event.clear()
