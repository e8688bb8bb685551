"""The clock: APScheduler wakes the due work; the database alone says what is due."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from schedules.due import next_due, run_due
from schedules.state import DueState
from handlers.ports import Clock, CloseHook
from storage.stores import Stores

logger = logging.getLogger(__name__)

TICK = 1.0  # seconds between ticks; a tick looks at the database only if something may be due
# A tick with no command since the last look and nothing due yet by the last look skips the
# database, except this often: changes made by another process (PostgreSQL) are seen by then,
# and that process's own clock has already seen them.
RECHECK = timedelta(seconds=10)
# A job every second (and a wake-up whenever something falls due) would log lines every second
# at INFO; the scheduler's warnings and the jobs' failures are still logged.
for _name in ("apscheduler.executors.default", "apscheduler.scheduler"):
    logging.getLogger(_name).setLevel(logging.WARNING)


class DueClock:
    """Runs `run_due` every tick, and once more at the next moment the database says something
    falls due, so a close or reminder is late by the work it takes, not by up to a tick. The
    scheduler keeps no deadlines of its own (its job store holds only these jobs), so a restart
    or a missed tick loses nothing: the next run does what the database says is due, once."""

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
        self.state = DueState()  # derived from the database; lets a run skip what is merely pending
        self._lock = asyncio.Lock()  # the tick and an early wake-up never run at once
        self._runs: set[asyncio.Task] = set()
        self._stopping = False
        self._poked = False
        self._looked_at: datetime | None = None  # when run_due last ran
        self._next: datetime | None = None  # the next moment something falls due, as it then saw

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

    def _idle(self, now: datetime) -> bool:
        """Nothing can be due: no command since the last look, which found nothing due before
        its next moment, and that look is recent. A vote burst then costs the clock nothing."""
        return (not self._poked and self._looked_at is not None and now - self._looked_at < RECHECK
                and now >= self._looked_at and (self._next is None or now < self._next))

    async def _run(self, force: bool) -> None:
        async with self._lock:
            if self._stopping:
                return  # queued behind the last run as the clock stopped: the database is closing
            try:
                now = self.clock.now()
                if not force and self._idle(now):
                    self._wake_for(self._next)  # the next moment may now be under a tick away
                    return
                self._poked = False
                await run_due(self.stores, now, self.before_close(), self.state)
                if self.after is not None:
                    await self.after()
                self._next = await next_due(self.stores, now, self.state)
                if await self.stores.proposals.due(now, limit=1):
                    self._next = now  # a close failed and stays due: try again next tick, not in RECHECK
                self._looked_at = now
                self._wake_for(self._next)
            except Exception:
                # Never let the clock die: log, and the next tick tries again from the database.
                logger.exception("due work failed; trying again in %.0fs", self.tick)

    def _wake_for(self, moment: datetime | None) -> None:
        """Run again at `moment` if it comes before the next tick."""
        if moment is None or not self.scheduler.running:
            return
        wait = (moment - self.clock.now()).total_seconds()
        if wait < self.tick:
            self.scheduler.add_job(
                self.run_once, "date", run_date=datetime.now(timezone.utc) + timedelta(seconds=max(wait, 0.0)),
                id="due-soon", name="due-soon", replace_existing=True, misfire_grace_time=None,
            )

    def start(self) -> None:
        self.scheduler.add_job(
            self.tick_once, "interval", seconds=self.tick, id="due-work", name="due-work",
            max_instances=1, coalesce=True, misfire_grace_time=None, next_run_time=datetime.now(timezone.utc),
        )
        self.scheduler.start()

    async def stop(self) -> None:
        """No new runs; the run in progress finishes (its transaction commits) before we return,
        so the database is never closed under it."""
        self._stopping = True
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        if self._runs:
            await asyncio.wait(list(self._runs), timeout=30)
