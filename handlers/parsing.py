"""Reading phone-friendly commands: a first line, then `key: value` lines, then free text."""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from handlers import texts
from handlers.errors import BadArguments

MAX_MESSAGE = 8000

# Bidi overrides and isolates can make a title display as something else; strip them.
# Right-to-left letters themselves (Hebrew, Arabic, ...) are kept as they are.
_BIDI_CONTROLS = dict.fromkeys(map(ord, "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u061c"))
# Terminal escape sequences (colours, cursor moves, window titles) go whole, not just their ESC.
_ANSI_ESCAPE = re.compile(r"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")
_COMMAND = re.compile(r"^[/!]([A-Za-z][A-Za-z0-9_]{0,31})(?:@([A-Za-z0-9_.:\-]{1,64}))?(?:\s+(.*))?$", re.S)
# A setting's key; the line is split on its first ':' before this is tried, so the pattern only
# ever sees the key (a lazy pattern over the whole line took quadratic time in a run of spaces).
_KEY = re.compile(r"[A-Za-z][A-Za-z_ ]{0,30}")
_DURATION = re.compile(r"^(?:(\d{1,6})\s*([smhdw]))+$")
_DURATION_PART = re.compile(r"(\d{1,6})\s*([smhdw])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def clean(text: str) -> str:
    """Normalise what a member typed: NFC, no bidi overrides, no control characters but newlines."""
    text = _ANSI_ESCAPE.sub("", unicodedata.normalize("NFC", text)).translate(_BIDI_CONTROLS)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    return "".join(ch for ch in text if ch == "\n" or unicodedata.category(ch) not in ("Cc", "Cs"))


def one_line(text: str) -> str:
    """A title, name or reason: cleaned, on one line, inner whitespace collapsed."""
    return " ".join(clean(text).split())


@dataclass(frozen=True)
class Command:
    verb: str
    args: str  # the rest of the first line
    lines: tuple[str, ...]  # the lines after the first
    addressed_to: str | None  # BotName in /verb@BotName


def parse_command(text: str) -> Command | None:
    """The command in a message, or None if the message is ordinary chat."""
    text = clean(text).strip()
    if not text:
        return None
    first, _, rest = text.partition("\n")
    match = _COMMAND.match(first.strip())
    if match is None:
        return None
    verb, addressed_to, args = match.groups()
    lines = tuple(rest.split("\n")) if rest else ()
    return Command(verb.lower(), (args or "").strip(), lines, addressed_to)


@dataclass(frozen=True)
class Extras:
    settings: dict[str, str]
    body: str


def split_extras(lines: tuple[str, ...], keys: frozenset[str] | set[str], *, body: bool, usage: str | None) -> Extras:
    """Known `key: value` lines become settings. With a body, other lines are free text, except a
    key that looks like a misspelt setting (`clsoes: 48h`), which is refused rather than
    silently ignored. Every problem is reported at once, so a member fixes them in one go."""
    settings: dict[str, str] = {}
    free: list[str] = []
    problems: list[str] = []
    for raw in lines:
        line = raw.strip()
        key, value = _setting(line)
        guess = difflib.get_close_matches(key, keys, n=1, cutoff=0.7) if key and key not in keys else None
        if key in keys:
            if key in settings:
                problems.append(texts.REPEATED_SETTING.format(key=key))
            settings[key] = value
        elif guess:
            problems.append(texts.UNKNOWN_SETTING.format(key=key[:32], guess=guess[0]))
        elif not body:
            if line:
                problems.append(texts.NO_EXTRA_LINES if not (key and keys) else
                                texts.UNKNOWN_SETTING_TAKES.format(key=key[:32], keys=", ".join(sorted(keys))))
        else:
            free.append(raw.rstrip())
    if problems:
        raise BadArguments("\n".join(dict.fromkeys(problems)), usage)
    return Extras(settings, "\n".join(free).strip())


def _setting(line: str) -> tuple[str | None, str]:
    """(key, value) of a `key: value` line, the key as declared (`Closes At` is `closes_at`);
    (None, "") when the line is not one."""
    key, colon, value = line.partition(":")
    key = key.strip()
    if not colon or not _KEY.fullmatch(key):
        return None, ""
    return key.lower().replace(" ", "_"), value.strip()


# Longer than any proposal may run, short enough that adding it to now cannot overflow.
_DURATION_CAP = timedelta(days=36500)


def parse_duration(text: str) -> timedelta | None:
    """`30s`, `10m`, `48h`, `7d`, `2w`, or a sum like `1d12h`. Absurd lengths come back capped."""
    compact = "".join(text.split()).lower()
    if not _DURATION.match(compact):
        return None
    seconds = sum(int(n) * _UNITS[u] for n, u in _DURATION_PART.findall(compact))
    return min(timedelta(seconds=min(seconds, int(_DURATION_CAP.total_seconds()))), _DURATION_CAP)


_TIME_FORMATS = ("%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d")


def parse_closing(text: str, now: datetime, tz: ZoneInfo) -> datetime | None:
    """`48h`, `2d12h` or a wall-clock time in the co-op's timezone, as an aware UTC datetime."""
    duration = parse_duration(text)
    if duration is not None:
        return now + duration
    for fmt in _TIME_FORMATS:
        try:
            local = datetime.strptime(text.strip(), fmt)
            return local.replace(tzinfo=tz).astimezone(now.tzinfo)
        except (ValueError, OverflowError):
            # Not this format, or a date at the very edge of the calendar (year 1 or 9999).
            continue
    return None


def split_first(text: str) -> tuple[str, str]:
    """The first word and the rest, split on any whitespace (phones type no-break and ideographic
    spaces too)."""
    parts = text.strip().split(maxsplit=1)
    return (parts[0], parts[1]) if len(parts) == 2 else ((parts[0], "") if parts else ("", ""))


def parse_label(text: str, letter: str) -> int | None:
    """A numbered thing's label, `D3`/`A3` (any case) or just `3`."""
    text = text.strip()
    return parse_number(text[1:] if text[:1].upper() == letter else text)


def parse_number(text: str) -> int | None:
    """A proposal number, `#3` or `3`."""
    text = text.strip().removeprefix("#")
    if text.isascii() and text.isdigit() and len(text) <= 9:
        return int(text)
    return None
