"""Send budgets per chat and overall, and waiting out a platform's "retry after"."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Budget:
    count: int
    seconds: float


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

    def _wait_for(self, window: deque[float], budget: Budget, now: float) -> float:
        while window and window[0] <= now - budget.seconds:
            window.popleft()
        if len(window) < budget.count:
            return 0.0
        return window[0] + budget.seconds - now

    def delay(self, chat: str) -> float:
        """Seconds until a send to this chat is allowed (0 when it is allowed now)."""
        now = self.clock()
        window = self._sent.setdefault(chat, deque())
        return max(
            self._blocked.get(chat, 0.0) - now,
            self._wait_for(window, self.budget_for(chat), now),
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

    async def acquire(self, chat: str) -> None:
        while (wait := self.delay(chat)) > 0:
            await asyncio.sleep(wait)
        self.spend(chat)


async def wait_event(event: asyncio.Event, timeout: float) -> None:
    """Wait until the event is set or the timeout passes, then clear it (a loop's wake-up call)."""
    waiter = asyncio.ensure_future(event.wait())
    try:
        await asyncio.wait({waiter}, timeout=timeout)
    finally:
        waiter.cancel()
    event.clear()
