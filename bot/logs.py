"""Logging: the level asked for, the libraries' chatter held back, and secrets redacted.

No log line may hold a secret ballot's choice or a credential. At DEBUG the libraries log what
passes through them: python-telegram-bot each Bot API call's parameters (a vote's answer,
"Recorded: Against on #3", beside the voter's chat) and the token in its URLs, SQLAlchemy each
statement with its parameters, matrix-nio and its store whatever they send and keep. So those
loggers never go below a floor, whatever COOPBOT_LOG_LEVEL says; and a filter on every handler
redacts the secrets of the settings, anything shaped like a Bot API token and any confession
(a `confess` command's text), as a second line of defence."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from pathlib import Path

from sqlalchemy.engine import make_url

from handlers import i18n, texts

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# The least each library logs at, whatever level is asked for.
FLOORS = {
    "telegram": logging.INFO,
    "httpx": logging.WARNING,  # at INFO it logs every request's URL, and a Bot API URL holds the token
    "httpcore": logging.INFO,
    "aiohttp": logging.INFO,
    "nio": logging.INFO,
    "peewee": logging.INFO,
    "sqlalchemy": logging.WARNING,  # at INFO, every statement with its parameters
    "aiosqlite": logging.INFO,
    "asyncpg": logging.INFO,
    "alembic": logging.WARNING,
    "apscheduler": logging.WARNING,  # at INFO, a line for every tick of the clock
    # A tick skipped because the last run of due work is still going is by design, not a warning.
    "apscheduler.scheduler": logging.ERROR,
}
REDACTED = "<redacted>"
# A Bot API token: in a URL (`/bot<id>:<secret>/`) or alone (`<id>:<35 characters>`).
TOKEN = re.compile(r"(?<=bot)\d+:[A-Za-z0-9_-]+|\b\d{5,}:[A-Za-z0-9_-]{30,}")
# A Matrix access token in a query string or JSON.
ACCESS_TOKEN = re.compile(r"(access_token[\"']?\s*[=:]\s*[\"']?)[^\s&\"',}]+")
# A calendar feed's token, in its URL (a reply giving it, a request's path): after `/calendar/`,
# percent-encoded or not, whether or not the line goes on to `.ics` (a text cut short for the log).
FEED_TOKEN = re.compile(r"(?i)((?:/|%2F)calendar(?:/|%2F))[A-Za-z0-9_-]{8,}")


def _char(c: str) -> str:
    """One character of a heading as a record may quote it: as it is, JSON-escaped (`\\u00e9`) or,
    for a quote, backslash-escaped (a repr, a JSON string)."""
    if c in "'\"":
        return rf"\\?{c}"
    if not c.isascii():
        return f"(?:{re.escape(c)}|\\\\u{ord(c):04x})"
    return re.escape(c)


def _read_aloud() -> str:
    """The heading of `texts.CONFESSION_READ` in every language the bot speaks, its numbers any."""
    headings = []
    for code in i18n.LANGUAGES:
        with i18n.use(code):
            heading = texts.CONFESSION_READ.split("{text}")[0].rstrip()
        parts = re.split(r"\{(?:index|count|number)\}", heading)
        headings.append(r"\d+".join("".join(_char(c) for c in part) for part in parts))
    return "|".join(headings)


# A confession wherever a record quotes it, sent (`/confess …`, `!confess …`) or read aloud (the
# heading of `texts.CONFESSION_READ`, in whichever language the co-op speaks): inside a quoted string
# (a JSON payload, a repr) up to the closing quote, escapes and all; anywhere else, to the record's end.
_CONFESSION_START = rf"(?:[/!]confess(?:@\w+)?\b|{_read_aloud()})"
CONFESSION = re.compile(rf"""(?i)(?<=(["']))({_CONFESSION_START})(?:\\.|(?!\1).)*|({_CONFESSION_START}).*""",
                        re.DOTALL)


def _confession(match: re.Match) -> str:
    return f"{match.group(2) or match.group(3)} {REDACTED}"


class Redact(logging.Filter):
    """Removes the given secrets, and anything shaped like a token, from every record: its message,
    its traceback and its stack."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        super().__init__()
        # Longest first, so a secret that contains another is removed whole.
        self.secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        text = CONFESSION.sub(_confession, text)
        text = FEED_TOKEN.sub(rf"\1{REDACTED}", text)
        return ACCESS_TOKEN.sub(rf"\1{REDACTED}", TOKEN.sub(REDACTED, text))

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # arguments that do not fit the message: log what there is, redacted
            message = f"{record.msg} {record.args}"
        clean = self.redact(message)
        if clean != message or record.args:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


def secrets_of(settings) -> list[str]:
    """The settings' values that must never be logged."""
    values = [settings.telegram_token, settings.telegram_webhook_secret, settings.matrix_password,
              settings.matrix_access_token, settings.matrix_store_key]
    try:
        values.append(make_url(settings.database_url).password)
    except Exception:  # an unreadable URL was refused when the settings were read
        pass
    return [str(v) for v in values if v]


def configure(level: str | int, *, secrets: Iterable[str | None] = (), filename: Path | None = None) -> logging.Handler:
    """Log at `level` to `filename` (else standard error), libraries no lower than their floors,
    every record redacted. Replaces whatever handlers the root logger had."""
    handler: logging.Handler = logging.FileHandler(filename) if filename else logging.StreamHandler()
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(Redact(secrets))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    asked = logging.getLogger().level
    for name, floor in FLOORS.items():
        logging.getLogger(name).setLevel(max(floor, asked))
    return handler
