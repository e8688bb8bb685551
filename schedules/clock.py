"""The clock: a monotonic ticker wakes the due work; the database alone says what is due."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta

from schedules.due import next_due, run_due
from schedules.state import DueState
from handlers.ports import Clock, CloseHook
from storage.stores import Stores

logger = logging.getLogger(__name__)

TICK = 1.0  # seconds between ticks; a tick looks at the database only if something may be due
# A tick with no command since the last look and nothing due yet by the last look skips the
# database, except this often: changes made by another process (PostgreSQL) are seen by then,
# and that process's own clock has already seen them.
RECHECK = 10.0  # seconds
# Handled-event claims and delivered outbox rows are kept this long (platforms redeliver within
# hours), then forgotten, this often, a bounded amount per round so the due work is never held up.
KEEP = timedelta(days=7)
PRUNE_EVERY = 3600.0  # seconds
PRUNE_MOST = 50_000  # rows of each table per round


class DueClock:
    """Runs `run_due` every tick, and once more at the next moment the database says something
    falls due, so a close or reminder is late by the work it takes, not by up to a tick. It keeps
    no deadlines of its own, so a restart or a missed tick loses nothing: the next run does what
    the database says is due, once.

    What is due is read from the database at `clock.now()`. The clock's own decisions (when it
    last looked, when to look again, whether a tick may skip the database) are on a monotonic
    source, and its ticks are asyncio sleeps (the event loop's monotonic time): a system clock
    stepped back or forward neither stops the ticks nor makes a tick skip a look it needs."""

    def __init__(
        self,
        stores: Stores,
        clock: Clock,
        *,
        before_close: Callable[[], tuple[CloseHook, ...]] = tuple,
        after: Callable[[], Awaitable[None]] | None = None,
        tick: float = TICK,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stores, self.clock, self.before_close, self.after, self.tick = stores, clock, before_close, after, tick
        self.monotonic = monotonic
        self.state = DueState()  # derived from the database; lets a run skip what is merely pending
        self._lock = asyncio.Lock()  # a tick and a forced run never run at once
        self._runs: set[asyncio.Task] = set()
        self._loop: asyncio.Task | None = None
        self._stopping = False
        self._poked = False
        self._looked_at: float | None = None  # monotonic: when run_due last ran
        self._next_at: float | None = None  # monotonic: the next moment something falls due, as it then saw
        self._pruned_at: float | None = None  # monotonic: when old claims and rows were last forgotten

    def poke(self) -> None:
        """Something changed that may move what falls due (a command was handled): look at the
        next tick."""
        self._poked = True

    async def run_once(self, force: bool = True) -> None:
        task = asyncio.current_task()
        self._runs.add(task)
        try:
            await self._run(force)
        finally:
            self._runs.discard(task)

    async def tick_once(self) -> None:
        await self.run_once(force=False)

    def _idle(self, mono: float) -> bool:
        """Nothing can be due: no command since the last look, which found nothing due before
        its next moment, and that look is recent. A vote burst then costs the clock nothing."""
        return (not self._poked and self._looked_at is not None and 0 <= mono - self._looked_at < RECHECK
                and (self._next_at is None or mono < self._next_at))

    async def _run(self, force: bool) -> None:
        async with self._lock:
            if self._stopping:
                return  # queued behind the last run as the clock stopped: the database is closing
            try:
                mono = self.monotonic()
                if not force and self._idle(mono):
                    return
                self._poked = False
                now = self.clock.now()
                await run_due(self.stores, now, self.before_close(), self.state)
                if self.after is not None:
                    await self.after()
                upcoming = await next_due(self.stores, now, self.state)
                if await self.stores.proposals.due(now, limit=1):
                    upcoming = now  # a close failed and stays due: try again next tick, not in RECHECK
                # The wall-clock distance to the next due moment, counted from this look on the
                # monotonic source (if the wall clock steps meanwhile, RECHECK bounds the error).
                self._next_at = None if upcoming is None else mono + max((upcoming - now).total_seconds(), 0.0)
                self._looked_at = mono
            except Exception:
                # Never let the clock die: log, and the next tick tries again from the database.
                logger.exception("due work failed; trying again in %.0fs", self.tick)

    async def prune(self) -> None:
        """Forget handled platform events and delivered outbox rows older than KEEP (scheduled
        work's claims are kept forever), so neither table grows without end."""
        self._pruned_at = self.monotonic()
        task = asyncio.current_task()
        self._runs.add(task)
        try:
            before = self.clock.now() - KEEP
            rows = await self.stores.outbox.forget_sent(before, most=PRUNE_MOST)
            claims = await self.stores.cursors.forget_handled(before, most=PRUNE_MOST)
            if rows or claims:
                logger.info("forgot %d delivered outbox rows and %d handled events older than %s", rows, claims, KEEP)
        except Exception:
            logger.exception("forgetting old outbox rows and handled events failed; trying again in an hour")
        finally:
            self._runs.discard(task)

    def _sleep(self) -> float:
        """Seconds until the next tick: a tick, or less if something falls due sooner."""
        if self._next_at is None:
            return self.tick
        return min(self.tick, max(self._next_at - self.monotonic(), 0.0))

    async def _ticking(self) -> None:
        while not self._stopping:
            await self.tick_once()
            if self._pruned_at is None or self.monotonic() - self._pruned_at >= PRUNE_EVERY:
                await self.prune()
            await asyncio.sleep(self._sleep())

    def start(self) -> None:
        self._loop = asyncio.create_task(self._ticking(), name="due-work")

    async def stop(self) -> None:
        """No new runs; the run in progress finishes (its transaction commits) before we return,
        so the database is never closed under it."""
        self._stopping = True
        if self._loop is not None and self._loop not in self._runs:
            self._loop.cancel()  # between ticks: nothing in hand
        if self._runs:
            await asyncio.wait(list(self._runs), timeout=30)
        if self._loop is not None:
            self._loop.cancel()
            await asyncio.gather(self._loop, return_exceptions=True)
