"""The console adapter: stdin lines become CommandReceived; replies and the outbox go to stdout."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import queue
import re
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from datetime import timezone
from typing import TextIO

from bot.console.lines import Assembler, Message, speaker_id
from bot.delivery import SENT, GiveUp, Outcome, Pump
from bot.services import Services
from handlers import texts
from handlers.cards import card_view
from handlers.events import CommandReceived
from handlers.types import Attachment, ChatRef, Reply, UserRef
from handlers.verbs import VERBS
from storage.models import Outbox
from schedules.clock import DueClock

logger = logging.getLogger(__name__)

PLATFORM = "console"
IDLE_FLUSH = 0.4  # piped input: seconds of quiet after which the open message is complete


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
        # At a terminal a command stays open for the lines its verb may take, however slowly they
        # come; the core says which verbs take lines (read late: it is assembled in `run`).
        self.assembler = Assembler(speaker, typed=interactive,
                                   takes_lines=lambda text: self.services.governance.takes_lines(text))
        self.out = out
        self.interactive = interactive
        self.lock = asyncio.Lock()  # one message at a time, like one person typing
        self.prompts: queue.Queue[str] = queue.Queue()  # at a terminal: the prompt for the next line
        self.prompting: str | None = None  # the prompt input() shows now, if it waits for a line
        self.typed_so_far: Callable[[], str] = lambda: ""  # the line being edited (readline's buffer)
        # Printed right after each command, in order: one chat at a time, no cards to edit, no budget.
        self.pump = Pump(self, services, per_chat=1000, parallel=1)
        services.attach(self)

    def write(self, text: str) -> None:
        prompting = self.prompting
        if prompting is not None:
            # An announcement while a line is being typed: it goes above the prompt line, which
            # is drawn again below it with what was typed so far.
            self.out.write("\r\x1b[K")
        self.out.write(text)
        if prompting is not None:
            self.out.write(prompting + self.typed_so_far())
        self.out.flush()

    def say(self, who: str, text: str, mark: str = ":") -> None:
        first, *rest = text.split("\n")
        self.write("".join([f"{who}{mark} {first}\n", *(f"  {line}\n" if line else "\n" for line in rest)]))

    def show(self, speaker: str, reply: Reply) -> None:
        if reply.private:
            self.say(f"coopbot (only to {speaker})", reply.text)
        else:
            self.say("coopbot", reply.text)

    async def save_attachment(self, file: Attachment) -> None:
        """A terminal shows no file (the timeline's picture, the calendar's .ics): it is saved in the
        data dir, and where is said."""
        coop = await self.services.stores.coops.get_by_room(PLATFORM, self.chat.chat_id)
        slug = re.sub(r"[^\w-]+", "-", (coop.name if coop else self.chat.chat_id).lower()).strip("-") or "coop"
        stem, _, suffix = file.name.rpartition(".")
        stamp = self.services.clock.now().astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        path = self.services.settings.data_dir / f"{stem}-{slug}-{stamp}.{suffix}"
        for n in itertools.count(2):  # two in one second: the second gets a number
            if not path.exists():
                break
            path = path.with_name(f"{stem}-{slug}-{stamp}-{n}.{suffix}")
        try:
            path.write_bytes(file.data)
        except OSError as exc:
            logger.warning("could not save the file in %s: %s", path, exc)
            return
        saved = texts.CONSOLE_IMAGE_SAVED if file.is_image else texts.CONSOLE_FILE_SAVED
        self.say("coopbot", saved.format(path=path))

    async def handle(self, message: Message) -> None:
        if not message.text.strip():
            return
        async with self.lock:
            register = await self.services.stores.members.names_in_room(PLATFORM, self.chat.chat_id)
            speaker = speaker_id(message.speaker, register)
            if not self.interactive:
                # Echo scripted input, so a transcript reads like the chat it was.
                self.say(speaker, message.text, mark=">")
            event = CommandReceived(self.chat, UserRef(PLATFORM, speaker, speaker), message.text)
            governance = self.services.governance
            replies = await governance.handle_command(event)
            for reply in replies:
                self.show(speaker, reply)
                if reply.attachment is not None:
                    await self.save_attachment(reply.attachment)
            if self.interactive and not replies and not governance.addressed(event):
                self.write(texts.CONSOLE_NOT_A_COMMAND + "\n")  # a person at a terminal gets no silence
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

        def put(line: str | None) -> None:
            loop.call_soon_threadsafe(lines.put_nowait, line)

        # A thread, so the loop keeps printing announcements while input waits. At a terminal each
        # line is read by input() (from sys.stdin, with readline's editing where run_console set it
        # up) once the loop has handled the line before and chosen the prompt: is a message open?
        source = iter(lambda: self._input(self.prompts.get()), None) if self.interactive else stdin
        threading.Thread(target=self._read, args=(source, put), name="console-stdin", daemon=True).start()
        # Results of proposals closing on time, and reminders, are printed while the console runs.
        ticker = DueClock(self.services.stores, self.services.clock, after=self.deliver_now,
                          before_close=lambda: self.services.governance.before_close)
        self.services.assemble(after_command=(ticker.poke,))
        ticker.start()
        try:
            async with self.lock:
                await self.print_pending()
            while True:
                if self.interactive:
                    self.prompts.put(texts.CONSOLE_MORE if self.assembler.pending else texts.CONSOLE_PROMPT)
                # Piped, a message is also complete when input pauses: a program waiting for an
                # answer. A person at a terminal may pause as long as they like (the prompt shows
                # that a message is open).
                timeout = IDLE_FLUSH if self.assembler.pending and not self.interactive else None
                try:
                    line = await asyncio.wait_for(lines.get(), timeout)
                except TimeoutError:
                    await self._send(self.assembler.flush())
                    continue
                if line is None:
                    await self._send(self.assembler.flush())
                    break
                await self._send(self.assembler.feed(line))
        finally:
            await ticker.stop()

    async def _send(self, messages: list[Message]) -> None:
        for message in messages:
            await self.handle(message)

    def _read(self, source: Iterable[str], put: Callable[[str | None], None]) -> None:
        try:
            for line in source:
                put(line)
        except Exception:
            logger.exception("reading the console's input failed")
        finally:
            put(None)

    def _input(self, prompt: str) -> str | None:
        self.prompting = prompt
        try:
            return input(prompt)
        except EOFError:
            self.out.write("\n")  # Ctrl-D: what the shell says next goes on a line of its own
            return None
        finally:
            self.prompting = None


async def run_console(services: Services, *, speaker: str, room: str) -> None:
    sys.stdin.reconfigure(errors="replace")  # a stray byte that is no UTF-8 is one odd character, not the end
    interactive = sys.stdin.isatty()
    console = Console(services, speaker=speaker, room=room, out=sys.stdout, interactive=interactive)
    if not interactive:
        await console.run(sys.stdin)
        return
    verbs = ", ".join(f"{console.prefix}{v.name}" for v in VERBS.listed() if v.takes_lines)
    console.write(texts.CONSOLE_INTRO.format(room=room, speaker=speaker, verbs=verbs) + "\n")
    with _line_editing(console):
        await console.run(sys.stdin)


@contextlib.contextmanager
def _line_editing(console: Console) -> Iterator[None]:
    """Line editing and history for input() at a terminal, where Python has readline; and the
    terminal's settings put back at the end, however it comes (Ctrl-C stops the loop while
    readline holds the terminal in its own mode)."""
    try:
        import readline
        import termios
    except ImportError:  # a Python without them: input() still reads lines, without editing
        yield
        return
    # Tab indents a continuation line, rather than completing file names.
    readline.parse_and_bind("bind ^I ed-insert" if "libedit" in (readline.__doc__ or "") else "tab: tab-insert")
    console.typed_so_far = readline.get_line_buffer
    saved = termios.tcgetattr(sys.stdin.fileno())
    try:
        yield
    finally:
        termios.tcsetattr(sys.stdin.fileno(), termios.TCSADRAIN, saved)
        if console.prompting is not None:  # Ctrl-C at a prompt: the shell's goes on a line of its own
            sys.stdout.write("\n")
