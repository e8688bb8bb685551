"""Group commit: writes that arrive together share one transaction, each caller answered after it commits."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

logger = logging.getLogger(__name__)

Op = TypeVar("Op")

# Bound on one transaction's size: keeps bind parameters under both databases' limits and a
# burst's first answers from waiting on its last.
MAX_BATCH = 500


class Pending(Generic[Op]):
    """One queued write and the future its caller waits on."""

    __slots__ = ("op", "future")

    def __init__(self, op: Op, future: asyncio.Future) -> None:
        self.op = op
        self.future = future

    def resolve(self, result: Any) -> None:
        if not self.future.done():  # the caller may have gone away; its write stands regardless
            self.future.set_result(result)

    def fail(self, exc: BaseException) -> None:
        if not self.future.done():
            self.future.set_exception(exc)


class GroupCommit(Generic[Op]):
    """Queues writes; one drainer applies whatever queued meanwhile as one batch.

    No write waits on a timer: the first runs at once, and those that arrive while it commits
    form the next batch. `apply` commits a batch in one transaction and returns, in order, each
    write's result or the exception that refused it; only then is anyone answered. If `apply`
    raises, nothing was committed, and each write is tried alone with `single`, so one write
    the batch cannot take (a conflict with another process) does not sink the rest.
    """

    def __init__(
        self,
        apply: Callable[[Sequence[Op]], Awaitable[list[Any]]],
        single: Callable[[Op], Awaitable[Any]],
        track: Callable[[asyncio.Task], None] | None = None,
    ) -> None:
        self._apply, self._single, self._track = apply, single, track
        self._queue: list[Pending[Op]] = []
        self._drainer: asyncio.Task | None = None

    async def submit(self, op: Op) -> Any:
        loop = asyncio.get_running_loop()
        pending = Pending(op, loop.create_future())
        self._queue.append(pending)
        if self._drainer is None or self._drainer.done() or self._drainer.get_loop() is not loop:
            self._drainer = loop.create_task(self._drain(), name="group-commit")
            if self._track is not None:
                self._track(self._drainer)
        # A caller that is cancelled stops waiting; its write is applied or refused all the same.
        return await asyncio.shield(pending.future)

    async def settled(self) -> None:
        """Wait until every write queued so far is applied (a write that must not overtake them)."""
        drainer = self._drainer
        if drainer is not None and not drainer.done() and drainer.get_loop() is asyncio.get_running_loop():
            await asyncio.shield(drainer)

    async def _drain(self) -> None:
        batch: list[Pending[Op]] = []
        try:
            await self._drain_queue(batch)
        except BaseException:
            # Cancelled (the process is stopping): whoever still waits is told, never left hanging;
            # a write not answered was not acknowledged.
            for pending in [*batch, *self._queue]:
                pending.fail(RuntimeError("stopped before the write was confirmed"))
            self._queue.clear()
            raise

    async def _drain_queue(self, batch: list) -> None:
        while self._queue:
            batch[:], self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
            if len(batch) == 1:
                await self._one(batch[0])
                continue
            try:
                outcomes = await self._apply([pending.op for pending in batch])
            except Exception:
                logger.info("a batch of %d writes failed; applying them one by one", len(batch), exc_info=True)
                for pending in batch:
                    await self._one(pending)
                continue
            for pending, outcome in zip(batch, outcomes, strict=True):
                if isinstance(outcome, Exception):
                    pending.fail(outcome)
                else:
                    pending.resolve(outcome)

    async def _one(self, pending: Pending[Op]) -> None:
        try:
            pending.resolve(await self._single(pending.op))
        except Exception as exc:
            pending.fail(exc)
