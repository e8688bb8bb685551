"""The console adapter: stdin lines become CommandReceived; replies and the outbox go to stdout."""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
from typing import TextIO

from bot.console.lines import Assembler, Message
from bot.delivery import SENT, GiveUp, Outcome, Pump
from bot.services import Services
from handlers import texts
from handlers.cards import card_view
from handlers.events import CommandReceived
from handlers.types import ChatRef, Reply, UserRef
from storage.models import Outbox
from schedules.clock import DueClock

logger = logging.getLogger(__name__)

PLATFORM = "console"
IDLE_FLUSH = 0.4  # seconds of quiet after which the message being typed is complete


class Console:
    """Also the delivery pump's `Platform` for the terminal: a row is delivered by printing it."""

    name = PLATFORM
    prefix = "/"
    bot_name = None
    platform = PLATFORM
    last_look = None

    def __init__(self, services: Services, *, speaker: str, room: str, out: TextIO, interactive: bool) -> None:
        self.services = services
        self.chat = ChatRef(PLATFORM, room, is_direct=False, title=room)
        self.assembler = Assembler(speaker)
        self.out = out
        self.interactive = interactive
        self.lock = asyncio.Lock()  # one message at a time, like one person typing
        # Printed right after each command, in order: one chat at a time, no cards to edit, no budget.
        self.pump = Pump(self, services, per_chat=1000, parallel=1)
        services.attach(self)

    def say(self, who: str, text: str, mark: str = ":") -> None:
        lines = text.split("\n")
        self.out.write(f"{who}{mark} {lines[0]}\n")
        for line in lines[1:]:
            self.out.write(f"  {line}\n" if line else "\n")
        self.out.flush()

    def show(self, message: Message, reply: Reply) -> None:
        if reply.private:
            self.say(f"coopbot (only to {message.speaker})", reply.text)
        else:
            self.say("coopbot", reply.text)

    async def handle(self, message: Message) -> None:
        if not message.text.strip():
            return
        async with self.lock:
            if not self.interactive:
                # Echo scripted input, so a transcript reads like the chat it was.
                self.say(message.speaker, message.text, mark=">")
            sender = UserRef(PLATFORM, message.speaker, message.speaker)
            replies = await self.services.governance.handle_command(CommandReceived(self.chat, sender, message.text))
            for reply in replies:
                self.show(message, reply)
            await self.print_pending()

    async def print_pending(self) -> None:
        """Print the pending announcements (the room's, and direct messages), marking each sent."""
        await self.pump.drain()

    async def deliver(self, item: Outbox) -> Outcome:
        text = texts.for_platform(item.text, self.prefix)
        if item.kind == "proposal_opened" and item.proposal_id is not None:
            view = await card_view(self.services.stores, item.proposal_id, self.prefix)
            if view is None:
                return GiveUp(f"proposal {item.proposal_id} no longer exists")
            text = view.text
        if item.chat_id == self.chat.chat_id:
            self.say("coopbot", text)
        elif item.kind == "direct":
            # Direct messages to console people (reminders to vote) are shown as such.
            self.say(f"coopbot (only to {item.chat_id})", text)
        else:
            self.say(f"coopbot (in {item.chat_id})", text)  # another console room of this database
        return SENT

    async def edit(self, card, view, text: str) -> Outcome:
        return SENT  # a terminal keeps no cards to edit

    def card_text(self, view) -> str:
        return view.text

    async def deliver_now(self) -> None:
        async with self.lock:
            await self.print_pending()

    async def run(self, stdin: TextIO) -> None:
        loop = asyncio.get_running_loop()
        lines: asyncio.Queue[str | None] = asyncio.Queue()

        def read() -> None:
            # A thread, so the loop keeps printing announcements while input waits.
            for line in stdin:
                loop.call_soon_threadsafe(lines.put_nowait, line)
            loop.call_soon_threadsafe(lines.put_nowait, None)

        threading.Thread(target=read, name="console-stdin", daemon=True).start()
        # Results of proposals closing on time, and reminders, are printed while the console runs.
        ticker = DueClock(self.services.stores, self.services.clock, after=self.deliver_now,
                          before_close=lambda: self.services.governance.before_close)
        self.services.assemble(after_command=(ticker.poke,))
        ticker.start()
        try:
            async with self.lock:
                await self.print_pending()
            while True:
                # A message is complete when its next line starts a new one, at the end of input,
                # or when input pauses: a person (or a program on a pipe) waiting for an answer.
                timeout = IDLE_FLUSH if self.assembler.pending else None
                try:
                    line = await asyncio.wait_for(lines.get(), timeout)
                except TimeoutError:
                    await self._flush()
                    continue
                if line is None:
                    await self._flush()
                    break
                message = self.assembler.feed(line)
                if message is not None:
                    await self.handle(message)
        finally:
            await ticker.stop()

    async def _flush(self) -> None:
        message = self.assembler.flush()
        if message is not None:
            await self.handle(message)


async def run_console(services: Services, *, speaker: str, room: str) -> None:
    interactive = sys.stdin.isatty()
    console = Console(services, speaker=speaker, room=room, out=sys.stdout, interactive=interactive)
    if interactive:
        sys.stdout.write(
            f"coopbot console — room '{room}', speaking as '{speaker}'. Start with /help or /setup <name>.\n"
            "Type 'name: text' to speak as someone else; indent a line to continue a command. Ctrl-D quits.\n"
        )
        sys.stdout.flush()
    await console.run(sys.stdin)
