"""What the core needs from its surroundings: a clock, and adapters' hooks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timezone
from typing import Protocol

# Called with a proposal's id just before it is counted, so an adapter can bring in votes that
# only its platform holds (Matrix poll responses a sync may have skipped); raises if it cannot.
CloseHook = Callable[[int], Awaitable[None]]
# The platforms this process serves, each with its last look before a count (None: its votes all
# reach the database as they are made). A count waits for every platform with a room in the co-op.
LastLooks = Mapping[str, CloseHook | None]


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)
