"""The rituals' due work: carry every mirror shift and adversary drill under way one step further."""

from __future__ import annotations

import logging
from datetime import datetime

from handlers import drills, mirror, texts
from handlers.context import in_language_of
from handlers.calendar import Dated
from storage.errors import DuplicateEvent
from storage.models import Ritual
from storage.outbox import SCHEDULE
from storage.stores import Stores

logger = logging.getLogger(__name__)

STEPS = {"mirror": mirror.step, "drill": drills.step}
BEGIN = {"mirror": mirror.begin, "drill": drills.begin}


async def start_due(stores: Stores, kind: str, coop_id: int, now: datetime, key: str) -> None:
    """The calendar's mirror shift or drill falls due: it begins, once (the claim `key`)."""
    try:
        async with in_language_of(stores, coop_id):
            await BEGIN[kind](stores, await stores.coops.get(coop_id), now, event=(SCHEDULE, key))
    except DuplicateEvent:
        pass  # begun already, by an earlier run or another process


async def rituals_due(stores: Stores, now: datetime) -> int:
    """Each ritual under way, while it can go: opened once drawn, closed at its end. Each step is
    one transaction guarded by the ritual's state, so none is done twice."""
    moved = 0
    for r in await stores.rituals.pending():
        try:
            async with in_language_of(stores, r.coop_id):
                for _ in range(3):  # a step may make the next due at once (drawn late, past its end)
                    if not await STEPS[r.kind](stores, r, now):
                        break
                    moved += 1
                    r = await stores.rituals.by_id(r.id)
        except Exception:
            # One ritual that fails must not hold the others; the next run tries it again.
            logger.exception("%s %s of co-op %s failed a step; will retry", r.kind, r.number, r.coop_id)
    return moved


def calendar_items(r: Ritual) -> list[Dated]:
    """What a ritual under way adds to `calendar`: its end."""
    if r.status != "open" or r.ends_at is None:
        return []
    words = texts.CALENDAR_MIRROR_ENDS if r.kind == "mirror" else texts.CALENDAR_DRILL_ENDS
    return [Dated(r.ends_at, words.format(number=r.number), key=f"{r.kind}-end-{r.coop_id}-{r.number}")]
