"""Neutral references to chats and people, and what the core sends back."""

from __future__ import annotations

import re
from dataclasses import dataclass

PLATFORMS = ("console", "telegram", "matrix")
# Platforms whose votes may reach the bot after they were made (Matrix poll responses come through
# the sync, which an outage or a gap delays): a count waits for their last look.
LATE_VOTES = frozenset({"matrix"})

# A console person's id: letters of any script, digits, `_`, `.` and `-` (`héctor`, `ana-maria`).
CONSOLE_ID = r"[\w.\-]{1,64}"

# What a platform id looks like, so `admit @alice:example.org` can name someone the bot has not met.
_PLATFORM_ID = {
    "console": re.compile(rf"^{CONSOLE_ID}$"),
    "telegram": re.compile(r"^\d{1,20}$"),
    "matrix": re.compile(r"^@[a-z0-9._=\-/+]+:[A-Za-z0-9.\-:\[\]]+$"),
}


def looks_like_platform_id(platform: str, text: str) -> bool:
    pattern = _PLATFORM_ID.get(platform)
    return bool(pattern and pattern.match(text))


@dataclass(frozen=True)
class UserRef:
    """Someone on a platform: the platform's stable id and the name to show."""

    platform: str
    user_id: str
    display_name: str


@dataclass(frozen=True)
class ChatRef:
    """A chat on a platform: a group or room, or a direct chat with the bot."""

    platform: str
    chat_id: str
    is_direct: bool = False
    title: str = ""


@dataclass(frozen=True)
class Attachment:
    """A file a reply carries: its bytes, its name and its MIME type (an `image/` one is a picture)."""

    data: bytes
    name: str
    mime: str

    @property
    def is_image(self) -> bool:
        return self.mime.startswith("image/")


@dataclass(frozen=True)
class Reply:
    """An answer to the sender's chat. `private` replies go to the sender alone where the
    platform allows; `public_fallback` is shown instead where it does not."""

    text: str
    private: bool = False
    public_fallback: str | None = None
    refusal: bool = False  # the request was refused; nothing changed
    proposal_id: int | None = None  # a proposal whose tally this changed (its cards need an edit)
    cards: tuple[int, ...] = ()  # other proposals whose cards this changed (a proxy until a date)
    # Routine register news the room is also told through one coalesced notice (`JOIN_NOTICE`):
    # `notice` names it (its text may have changed); a `folded` reply says nothing the notice does
    # not, so an adapter short of messages (Telegram: ~20 a minute in a group) need not send it.
    notice: str | None = None
    folded: bool = False
    # A file sent after the text where the platform can: the timeline's picture (shown as a picture),
    # the calendar's .ics (sent as a document); the console saves it in the data dir.
    attachment: Attachment | None = None
    # The command this answers is deleted (or redacted) from the chat where the platform allows:
    # a confession must not stay in a direct chat, tied to its sender.
    erase_command: bool = False


@dataclass(frozen=True)
class Notice:
    """What a room's coalesced notice says now; `empty`: nothing is waiting (worth a message only
    to correct one already shown)."""

    text: str
    empty: bool = False


JOIN_NOTICE = "join"  # the room's notice of requests to join (see `handlers.members.join_notice`)


# How commands start on each platform (Matrix clients keep `/` for themselves).
PREFIX = {"console": "/", "telegram": "/", "matrix": "!"}
