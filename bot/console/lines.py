"""Turning console input lines into messages: `name: text`, continuation lines, the speaker."""

from __future__ import annotations

import re
import textwrap
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from handlers.types import CONSOLE_ID

_SPEAKER = re.compile(rf"^({CONSOLE_ID}):[ \t]?(.*)$")


@dataclass
class Message:
    speaker: str
    lines: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


class Assembler:
    """Feeds lines in, gets whole messages out.

    A line that begins with white space continues the open message (the indentation that marks it
    is not part of the text); `name: text` starts a message as name; any other line starts one as
    the default speaker, and starting a message sends the open one. Blank lines inside a message
    are kept, those at its end dropped.

    Typed at a terminal (`typed`), a message is also sent by an empty line: the first, while it has
    only its first line; after that the second in a row (one alone may be a paragraph break in a
    body). And a message goes at once if its first line can take no more: `takes_lines` says
    whether it can (a command with settings or a body)."""

    def __init__(self, default_speaker: str, *, typed: bool = False,
                 takes_lines: Callable[[str], bool] = lambda text: True) -> None:
        self.default = default_speaker
        self.typed = typed
        self.takes_lines = takes_lines
        self.pending: Message | None = None

    def feed(self, line: str) -> list[Message]:
        """Add a line; returns the messages it completed (the open one, and itself if it goes at once)."""
        line = line.rstrip("\r\n")
        open_ = self.pending
        if not line.strip():
            if open_ is None:
                return []
            if self.typed and (len(open_.lines) == 1 or not open_.lines[-1]):
                return self.flush()
            open_.lines.append("")
            return []
        if line[:1].isspace() and open_ is not None:
            open_.lines.append(line)
            return []
        done = self.flush()
        match = _SPEAKER.match(line)
        speaker, text = (match.group(1), match.group(2)) if match else (self.default, line)
        self.pending = Message(speaker, [text])
        if self.typed and not self.takes_lines(text):
            done += self.flush()
        return done

    def flush(self) -> list[Message]:
        """Ends the open message; returns it, if there was one."""
        done, self.pending = self.pending, None
        if done is None:
            return []
        more = textwrap.dedent("\n".join(done.lines[1:])).rstrip().split("\n")
        done.lines[1:] = more if more != [""] else []
        return [done]


def speaker_id(name: str, accounts: Iterable[tuple[str, str]]) -> str:
    """The console account a typed name speaks for, among the room's register's console accounts
    as (account id, member's name): the one whose id or name it is, exactly, else the one whose id
    or name it is in another case (`Bob` for `bob`, `HÉCTOR` for `héctor`). A name the register
    does not hold, or holds for two people in other cases, speaks as typed: a newcomer, who may join."""
    name = unicodedata.normalize("NFC", name)
    accounts = list(accounts)
    for fold in (str, str.casefold):
        for part in (0, 1):
            found = {account[0] for account in accounts if fold(account[part]) == fold(name)}
            if len(found) == 1:
                return found.pop()
    return name
