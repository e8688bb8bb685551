"""The clock: APScheduler wakes the due work; the database alone says what is due."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from handlers.due import run_due
from handlers.ports import Clock, CloseHook
from storage.stores import Stores

logger = logging.getLogger(__name__)

TICK = 1.0  # seconds between looks at what is due: the lateness of a close or reminder at most


class DueClock:
    """Runs `run_due` every tick. The scheduler keeps no deadlines of its own (its job store holds
    only this one job), so a restart or a missed tick loses nothing: the next run does what the
    database says is due, once."""

    def __init__(
        self,
        stores: Stores,
        clock: Clock,
        *,
        before_close: Callable[[], tuple[CloseHook, ...]] = tuple,
        after: Callable[[], Awaitable[None]] | None = None,
        tick: float = TICK,
    ) -> None:
        self.stores, self.clock, self.before_close, self.after, self.tick = stores, clock, before_close, after, tick
        self.scheduler = AsyncIOScheduler(timezone=timezone.utc)
        self._running: asyncio.Task | None = None

    async def run_once(self) -> None:
        self._running = asyncio.current_task()
        try:
            await run_due(self.stores, self.clock.now(), self.before_close())
            if self.after is not None:
                await self.after()
        except Exception:
            # Never let the clock die: log, and the next tick tries again from the database.
            logger.exception("due work failed; trying again in %.0fs", self.tick)

    def start(self) -> None:
        self.scheduler.add_job(
            self.run_once, "interval", seconds=self.tick, id="due-work", name="due-work",
            max_instances=1, coalesce=True, misfire_grace_time=None, next_run_time=datetime.now(timezone.utc),
        )
        self.scheduler.start()

    async def stop(self) -> None:
        """No new runs; the run in progress finishes (its transaction commits) before we return,
        so the database is never closed under it."""
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        if self._running is not None and not self._running.done():
            await asyncio.wait([self._running], timeout=30)
