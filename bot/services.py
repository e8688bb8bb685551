"""The container: everything coopbot runs on, built once in main() and closed at exit."""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from bot.config import Settings, SettingsError
from handlers.ports import Clock, CloseHook, SystemClock
from handlers.router import Governance
from storage.db import Database, is_transient, one_line
from storage.stores import Stores

logger = logging.getLogger(__name__)


class Adapter(Protocol):
    """What an adapter declares for the core: its platform, the name it answers to (known once
    logged in, so read late) and its last look before a count (None: nothing to bring in)."""

    platform: str

    @property
    def bot_name(self) -> str | None: ...

    last_look: CloseHook | None


class _BotNames:
    """The adapters' names, read when a command asks (`/verb@BotName`), not when assembled."""

    def __init__(self, adapters: list[Adapter]) -> None:
        self._adapters = adapters

    def __iter__(self) -> Iterator[str]:
        return (a.bot_name for a in self._adapters if a.bot_name)


@dataclass
class Services:
    settings: Settings
    db: Database
    stores: Stores
    clock: Clock
    worker: str = ""  # this process's name in outbox claims
    adapters: list[Adapter] = field(default_factory=list)
    _governance: Governance | None = None

    @classmethod
    async def start(cls, settings: Settings, *, clock: Clock | None = None, exclusive: bool = False) -> Services:
        """Open the database and bring its schema up to date before anything else runs.
        `exclusive`: this process acts on schedules (run, console), so on SQLite it must be alone."""
        try:
            db = Database(settings.database_url)
            if exclusive:
                db.hold_single_process()
            await db.upgrade()
        except Exception as exc:
            if not is_transient(exc):
                raise
            # Down, refused, no such host, a directory that cannot be made: the operator's to fix,
            # said in one line (the URL itself is not repeated: it may hold a password).
            raise SettingsError("DATABASE_URL", f"cannot open the database: {one_line(exc)}") from None
        stores = Stores.over(db)
        clock = clock or SystemClock()
        worker = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        return cls(settings, db, stores, clock, worker)

    def attach(self, adapter: Adapter) -> None:
        """An adapter joins before the core is assembled (its constructor calls this)."""
        if self._governance is not None:
            raise RuntimeError("attach every adapter before the core is assembled")
        self.adapters.append(adapter)

    def assemble(self, *, after_command: tuple[Callable[[], None], ...] = ()) -> Governance:
        """Build the core once every adapter is attached: their names and hooks, and what listens
        after each command (the clock)."""
        if self._governance is not None:
            raise RuntimeError("the core is assembled once")
        self._governance = Governance(
            self.stores, self.clock, bot_names=_BotNames(self.adapters),
            before_close={adapter.platform: adapter.last_look for adapter in self.adapters},
            after_command=list(after_command), feed_base=self.settings.feed_base,
        )
        return self._governance

    @property
    def governance(self) -> Governance:
        """The core; assembled on first use if nobody did so (an adapter driven on its own)."""
        return self._governance or self.assemble()

    async def close(self) -> None:
        await self.db.dispose()
