"""Liberation audits: the `audit` and `verdict` verbs, and what an audit sets in motion."""

from __future__ import annotations
