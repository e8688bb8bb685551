"""The container: everything coopbot runs on, built once in main() and closed at exit."""

from __future__ import annotations

import logging
import os
import socket
import uuid
from dataclasses import dataclass

from bot.config import Settings
from handlers.ports import Clock, SystemClock
from handlers.router import Governance
from storage.db import Database
from storage.stores import Stores

logger = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    db: Database
    stores: Stores
    clock: Clock
    governance: Governance
    worker: str = ""  # this process's name in outbox claims

    @classmethod
    async def start(
        cls, settings: Settings, *, clock: Clock | None = None, bot_names: tuple[str, ...] = (), exclusive: bool = False
    ) -> Services:
        """Open the database and bring its schema up to date before anything else runs.
        `exclusive`: this process acts on schedules (run, console), so on SQLite it must be alone."""
        db = Database(settings.database_url)
        if exclusive:
            db.hold_single_process()
        await db.upgrade()
        stores = Stores.over(db)
        clock = clock or SystemClock()
        worker = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        return cls(settings, db, stores, clock, Governance(stores, clock, bot_names), worker)

    async def close(self) -> None:
        await self.db.dispose()
