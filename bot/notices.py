"""Coalesced room notices: routine news (requests to join) shown as one message per chat that the
bot keeps editing, at most once every `interval` seconds, so a burst costs a few messages.

A reply that names a notice (`Reply.notice`) only marks the chat's notice as behind; one task per
chat and notice then renders it from the database (`Governance.notice`) and sends it, or edits
the message it sent, once the interval since the last send or edit has passed. Whatever came
meanwhile is in that one edit. The message ids live in memory: after a restart, or once the last
message is `fresh` seconds old (buried up the chat), or deleted, the notice is sent anew."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from handlers.types import ChatRef, Notice, Reply

logger = logging.getLogger(__name__)

Render = Callable[[str, ChatRef], Awaitable[Notice | None]]
Send = Callable[[ChatRef, str], Awaitable[str | None]]  # the new message's id, None if not sent
Edit = Callable[[ChatRef, str, str], Awaitable[bool]]  # False: the message cannot be edited (gone)


@dataclass
class _Shown:
    message_id: str
    text: str
    at: float  # when it was last sent or edited


class Notices:
    """The notices of one platform's chats. `touch` after a command whose reply names a notice."""

    def __init__(
        self, render: Render, send: Send, edit: Edit, *, interval: float, fresh: float,
        spawn: Callable[..., asyncio.Task], clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.render, self.send, self.edit, self.spawn, self.clock = render, send, edit, spawn, clock
        self.interval, self.fresh = interval, fresh
        self._behind: dict[tuple[str, str], ChatRef] = {}
        self._shown: dict[tuple[str, str], _Shown] = {}
        self._running: set[tuple[str, str]] = set()

    def folds(self, chat: ChatRef, reply: Reply) -> bool:
        """Touch the notice a reply to a command in `chat` names; True if that notice says all the
        reply would (`Reply.folded`), so it is not sent on its own."""
        if reply.notice is None:
            return False
        self.touch(reply.notice, chat)
        return reply.folded

    def gone(self, message_id: str) -> None:
        """The message `message_id` was deleted: a notice it showed is sent anew at its next touch
        (Matrix takes edits of a redacted message, and no client shows them)."""
        self._shown = {slot: shown for slot, shown in self._shown.items() if shown.message_id != message_id}

    def touch(self, key: str, chat: ChatRef) -> None:
        """The notice `key` of this chat may say something new."""
        slot = (key, chat.chat_id)
        self._behind[slot] = chat
        if slot not in self._running:
            self._running.add(slot)
            self.spawn(self._run(slot), f"notice-{key}-{chat.chat_id}")

    async def _run(self, slot: tuple[str, str]) -> None:
        try:
            while slot in self._behind:
                shown = self._shown.get(slot)
                if shown is not None and (wait := shown.at + self.interval - self.clock()) > 0:
                    await asyncio.sleep(wait)  # touches meanwhile are folded into the next edit
                chat = self._behind.pop(slot)
                try:
                    await self._show(slot, chat)
                except asyncio.CancelledError:
                    raise
                except Exception:  # the next touch tries again; the requests themselves are stored
                    logger.exception("notice %s in %s failed", *slot)
        finally:
            self._running.discard(slot)

    async def _show(self, slot: tuple[str, str], chat: ChatRef) -> None:
        notice = await self.render(slot[0], chat)
        shown = self._shown.get(slot)
        live = shown is not None and self.clock() - shown.at < self.fresh
        if notice is None or (notice.empty and not live) or (live and notice.text == shown.text):
            return
        if live and await self.edit(chat, shown.message_id, notice.text):
            shown.text, shown.at = notice.text, self.clock()
            return
        message_id = await self.send(chat, notice.text)
        if message_id is not None:
            self._shown[slot] = _Shown(message_id, notice.text, self.clock())
