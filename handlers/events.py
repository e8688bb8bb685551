"""Neutral events that adapters build from platform updates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from handlers.types import ChatRef, UserRef


@dataclass(frozen=True)
class CommandReceived:
    """A message that may hold a command. `event_id` is the platform's id for it, used to
    count a redelivered update once."""

    chat: ChatRef
    sender: UserRef
    text: str
    event_id: str | None = None


@dataclass(frozen=True)
class VoteCast:
    """A vote from a button or a native poll: proposal by its id, option by its index; None takes
    the vote back (the withdraw button, or a poll answer emptied)."""

    chat: ChatRef
    sender: UserRef
    proposal_id: int
    option: int | None
    event_id: str | None = None
    made_at: datetime | None = None  # the platform's time of the vote, when it carries one
