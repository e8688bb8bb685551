"""The console adapter: stdin lines become CommandReceived; replies and the outbox go to stdout."""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
from typing import TextIO

from bot.console.lines import Assembler, Message
from bot.services import Services
from handlers import texts
from handlers.events import CommandReceived
from handlers.types import ChatRef, Reply, UserRef
from schedules.clock import DueClock

logger = logging.getLogger(__name__)

PLATFORM = "console"
IDLE_FLUSH = 0.4  # seconds of quiet after which the message being typed is complete


class Console:
    def __init__(self, services: Services, *, speaker: str, room: str, out: TextIO, interactive: bool) -> None:
        self.services = services
        self.chat = ChatRef(PLATFORM, room, is_direct=False, title=room)
        self.assembler = Assembler(speaker)
        self.out = out
        self.interactive = interactive
        self.lock = asyncio.Lock()  # one message at a time, like one person typing

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
            await self.deliver()

    async def deliver(self) -> None:
        """Print this room's pending announcements, then mark them sent."""
        outbox = self.services.stores.outbox
        while batch := await outbox.pending(PLATFORM, chat_id=self.chat.chat_id):
            for item in batch:
                self.say("coopbot", texts.for_platform(item.text, "/"))
            await outbox.mark_sent([m.id for m in batch], self.services.clock.now())
        # Direct messages to console people (reminders to vote) are shown as such.
        while batch := [m for m in await outbox.pending(PLATFORM) if m.kind == "direct"]:
            for item in batch:
                self.say(f"coopbot (only to {item.chat_id})", texts.for_platform(item.text, "/"))
            await outbox.mark_sent([m.id for m in batch], self.services.clock.now())

    async def deliver_now(self) -> None:
        async with self.lock:
            await self.deliver()

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
        ticker = DueClock(self.services.stores, self.services.clock, after=self.deliver_now)
        self.services.governance.after_command.append(ticker.poke)
        ticker.start()
        try:
            async with self.lock:
                await self.deliver()
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
