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
    # An edit: the id of the message it corrects (its own id is `event_id`). Handled as the
    # corrected command if the original was refused or cast a vote; an unvoted proposal's
    # author may revise it; anything else already done stays done.
    corrects: str | None = None


@dataclass(frozen=True)
class MessageRetracted:
    """A message deleted by its sender (a Matrix redaction). A vote it cast is withdrawn, if it is
    still the member's current vote on an open proposal."""

    chat: ChatRef
    sender: UserRef
    retracted: str  # the deleted message's id
    event_id: str | None = None  # the deletion's own id


@dataclass(frozen=True)
class VoteCast:
    """A vote from a button or a native poll: proposal by its id, option by its index; None (and no
    choices) takes the vote back (the withdraw button, or a poll answer emptied)."""

    chat: ChatRef
    sender: UserRef
    proposal_id: int
    option: int | None
    event_id: str | None = None
    made_at: datetime | None = None  # the platform's time of the vote, when it carries one
    # A ranked or approval vote: the options tapped or answered (`option` then None), and how they
    # meet the ballot recorded ("append" a ranked tap, "toggle" an approval tap, "set" a poll answer).
    choices: tuple[int, ...] | None = None
    how: str = "set"
    # Its answer reaches the voter alone (a Telegram button's answer): in their own language. A
    # poll answer's refusal is posted in the room, in the room's language.
    alone: bool = False
