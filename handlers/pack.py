"""The audit pack: what auditors read of the co-op's record (SPEC 'Liberation audits')."""

from __future__ import annotations
