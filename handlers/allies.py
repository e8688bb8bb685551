"""Verbs for affiliated organisations and their allies: allies, ally, unally."""

from __future__ import annotations
