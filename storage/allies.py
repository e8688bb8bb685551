"""Store for affiliated organisations and their allies."""

from __future__ import annotations

from storage.db import Database


class AllyStore:
    def __init__(self, db: Database) -> None:
        self.db = db
