"""Turning console input lines into messages: `name: text`, continuation lines, the speaker."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_SPEAKER = re.compile(r"^([A-Za-z0-9_.\-]{1,64}):[ \t]?(.*)$")


@dataclass
class Message:
    speaker: str
    lines: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


class Assembler:
    """Feeds lines in, gets whole messages out. A line that begins with white space continues
    the message before it; `name: text` speaks as name; any other line speaks as the default."""

    def __init__(self, default_speaker: str) -> None:
        self.default = default_speaker
        self.pending: Message | None = None

    def feed(self, line: str) -> Message | None:
        """Add a line; returns the message it completed, if any."""
        line = line.rstrip("\r\n")
        if line[:1].isspace() and self.pending is not None:
            self.pending.lines.append(line)
            return None
        done = self.pending
        match = _SPEAKER.match(line)
        speaker, text = (match.group(1), match.group(2)) if match else (self.default, line)
        self.pending = Message(speaker, [text])
        return done

    def flush(self) -> Message | None:
        done, self.pending = self.pending, None
        return done
