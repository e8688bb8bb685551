"""Store for liberation audits: their draws, auditors, verdicts and consequences."""

from __future__ import annotations

from storage.db import Database


class AuditStore:
    def __init__(self, db: Database) -> None:
        self.db = db
