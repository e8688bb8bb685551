"""The clock: APScheduler ticks the due work, kept honest on monotonic time; the database says what is due."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from schedules.due import next_due, run_due
from schedules.state import DueState
from handlers.ports import Clock, LastLooks
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
JOB = "due-work"


class DueClock:
    """Runs `run_due` every tick, and once more at the next moment the database says something
    falls due, so a close or reminder is late by the work it takes, not by up to a tick. It keeps
    no deadlines of its own, so a restart or a missed tick loses nothing: the next run does what
    the database says is due, once.

    What is due is read from the database at `clock.now()`. The ticks are an APScheduler
    interval job (coalesced, one at a time). APScheduler plans on the wall clock, so the clock's
    own decisions (when it last looked, when to look again, whether a tick may skip the
    database, when to prune) are on a monotonic source, and a guard on the event loop's
    monotonic time pulls the job's next run back to now whenever the scheduler's plan lies
    further ahead than a tick could: a system clock stepped back (NTP) would otherwise hold
    every close and reminder for as long as it stepped. A step forward needs nothing: the
    scheduler's timer is monotonic and the job, late by its wall clock, runs at once."""

    def __init__(
        self,
        stores: Stores,
        clock: Clock,
        *,
        before_close: Callable[[], LastLooks],
        after: Callable[[], Awaitable[None]] | None = None,
        tick: float = TICK,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stores, self.clock, self.before_close, self.after, self.tick = stores, clock, before_close, after, tick
        self.monotonic = monotonic
        self.state = DueState()  # derived from the database; lets a run skip what is merely pending
        self._lock = asyncio.Lock()  # a tick and a forced run never run at once
        self._runs: set[asyncio.Task] = set()
        self._scheduler: AsyncIOScheduler | None = None
        self._guard: asyncio.TimerHandle | None = None
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

    async def _ticked(self) -> None:
        """The scheduler's job: the due work, the hourly pruning, and the next run brought
        forward when something falls due before the next tick."""
        if self._stopping:
            return
        await self.tick_once()
        if self._pruned_at is None or self.monotonic() - self._pruned_at >= PRUNE_EVERY:
            await self.prune()
        sooner = self._sleep()
        if sooner < self.tick and not self._stopping:
            self._scheduler.modify_job(JOB, next_run_time=_wall() + timedelta(seconds=sooner))

    def _keep_plan(self) -> None:
        """Every tick of monotonic time: a next run further ahead than a tick can only be the
        wall clock stepped back under the scheduler, so run now (in the scheduler's own frame)."""
        if self._stopping:
            return
        job = self._scheduler.get_job(JOB)
        now = _wall()
        if job is not None and job.next_run_time is not None and (job.next_run_time - now).total_seconds() > 2 * self.tick:
            logger.info("the system clock stepped back %.0fs; due work runs now", (job.next_run_time - now).total_seconds())
            self._scheduler.modify_job(JOB, next_run_time=now)
        self._guard = asyncio.get_running_loop().call_later(self.tick, self._keep_plan)

    def start(self) -> None:
        self._scheduler = AsyncIOScheduler(
            timezone=timezone.utc,
            # One run at a time; runs missed while one was long are one run, however late.
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        self._scheduler.add_job(self._ticked, "interval", seconds=self.tick, id=JOB, next_run_time=_wall())
        self._scheduler.start()
        self._guard = asyncio.get_running_loop().call_later(self.tick, self._keep_plan)

    async def stop(self) -> None:
        """No new runs; the run in progress finishes (its transaction commits) before we return,
        so the database is never closed under it. (APScheduler's shutdown cancels the jobs it
        is running, so it comes only after.)"""
        self._stopping = True
        if self._guard is not None:
            self._guard.cancel()
        if self._scheduler is not None:
            self._scheduler.pause()
        if self._runs:
            await asyncio.wait(list(self._runs), timeout=30)
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)


def _wall() -> datetime:
    """The wall clock as APScheduler reads it."""
    return datetime.now(timezone.utc)
