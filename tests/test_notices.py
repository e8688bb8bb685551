"""Coalesced room notices (bot/notices.py): one message per chat, edited at most every interval."""

from __future__ import annotations

import asyncio

from bot.notices import Notices
from handlers.types import ChatRef, Notice

ROOM = ChatRef("telegram", "-1001")


class Room:
    """A chat that records what a notice did, and a core whose notice text the test sets."""

    def __init__(self) -> None:
        self.now: Notice | None = None
        self.log: list[tuple[str, str]] = []
        self.editable = True

    async def render(self, key: str, chat: ChatRef) -> Notice | None:
        return self.now

    async def send(self, chat: ChatRef, text: str) -> str:
        self.log.append(("send", text))
        return str(len(self.log))

    async def edit(self, chat: ChatRef, message_id: str, text: str) -> bool:
        if self.editable:
            self.log.append(("edit", text))
        return self.editable


def notices(room: Room, interval: float = 0.2, fresh: float = 60.0) -> Notices:
    return Notices(room.render, room.send, room.edit, interval=interval, fresh=fresh, spawn=lambda coro, name: asyncio.create_task(coro, name=name))


async def test_a_burst_is_one_message_and_one_edit():
    """The first touch is shown at once; the touches within the interval become one edit."""
    room = Room()
    n = notices(room)
    room.now = Notice("bob asks to join")
    n.touch("join", ROOM)
    await asyncio.sleep(0.05)
    for count in range(2, 50):
        room.now = Notice(f"{count} ask to join")
        n.touch("join", ROOM)
    await asyncio.sleep(0.3)
    assert room.log == [("send", "bob asks to join"), ("edit", "49 ask to join")]


async def test_nothing_waiting_is_not_news_unless_a_notice_shows_otherwise():
    """An empty notice is not sent; one already shown is corrected; the same text is not sent twice."""
    room = Room()
    n = notices(room, interval=0.0)
    room.now = Notice("no one waits", empty=True)
    n.touch("join", ROOM)
    await asyncio.sleep(0.05)
    assert room.log == []
    room.now = Notice("bob asks to join")
    n.touch("join", ROOM)
    await asyncio.sleep(0.05)
    n.touch("join", ROOM)
    await asyncio.sleep(0.05)
    room.now = Notice("no one waits", empty=True)
    n.touch("join", ROOM)
    await asyncio.sleep(0.05)
    assert room.log == [("send", "bob asks to join"), ("edit", "no one waits")]


async def test_a_notice_that_cannot_be_edited_or_is_buried_is_sent_anew():
    """A deleted message, or one older than `fresh`, is replaced by a new message."""
    room = Room()
    n = notices(room, interval=0.0, fresh=0.1)
    room.now = Notice("bob asks to join")
    n.touch("join", ROOM)
    await asyncio.sleep(0.15)
    room.now = Notice("2 ask to join")
    n.touch("join", ROOM)  # buried: sent anew
    await asyncio.sleep(0.02)
    room.editable = False
    room.now = Notice("3 ask to join")
    n.touch("join", ROOM)  # cannot be edited: sent anew
    await asyncio.sleep(0.02)
    assert room.log == [("send", "bob asks to join"), ("send", "2 ask to join"), ("send", "3 ask to join")]


async def test_a_notice_said_to_be_gone_is_sent_anew():
    """A Matrix client shows no edit of a redacted message (and the server takes it): once the
    adapter says the message is gone, the next touch sends a new notice."""
    room = Room()
    n = notices(room, interval=0.0)
    room.now = Notice("bob asks to join")
    n.touch("join", ROOM)
    await asyncio.sleep(0.02)
    n.gone("someone else's message")  # not a notice: nothing changes
    room.now = Notice("2 ask to join")
    n.touch("join", ROOM)
    await asyncio.sleep(0.02)
    n.gone("1")
    room.now = Notice("3 ask to join")
    n.touch("join", ROOM)
    await asyncio.sleep(0.02)
    assert room.log == [("send", "bob asks to join"), ("edit", "2 ask to join"), ("send", "3 ask to join")]
