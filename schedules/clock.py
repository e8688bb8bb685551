"""The clock that wakes due work: proposals whose closing time has come are closed."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from handlers.proposals import close_due
from storage.stores import Stores
from handlers.ports import Clock, CloseHook

logger = logging.getLogger(__name__)

TICK = 1.0


async def run_due_work(
    stores: Stores,
    clock: Clock,
    *,
    after: Callable[[], Awaitable[None]] | None = None,
    before_close: tuple[CloseHook, ...] = (),
    tick: float = TICK,
) -> None:
    """Forever: close what is due (the database says what is due), then call `after`
    (an adapter delivering the outbox). A failure is logged and the loop goes on."""
    while True:
        try:
            await close_due(stores, clock.now(), before_close=before_close)
            if after is not None:
                await after()
        except Exception:
            logger.exception("due work failed; trying again in %.0fs", tick)
        await asyncio.sleep(tick)
