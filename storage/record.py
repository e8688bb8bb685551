"""Store for what the co-op did, read for an audit pack."""

from __future__ import annotations

from storage.db import Database


class RecordStore:
    def __init__(self, db: Database) -> None:
        self.db = db
