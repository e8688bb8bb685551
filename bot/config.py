"""Settings from the environment and an optional coopbot.toml; a bad one stops with one line."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from storage.db import UnsupportedDatabase, async_url

PREFIX = "COOPBOT_"
NAMES = (
    "DATABASE_URL", "DATA_DIR", "TELEGRAM_TOKEN", "TELEGRAM_API_URL", "TELEGRAM_WEBHOOK_URL",
    "TELEGRAM_WEBHOOK_SECRET", "TELEGRAM_WEBHOOK_LISTEN", "MATRIX_HOMESERVER", "MATRIX_USER",
    "MATRIX_PASSWORD", "MATRIX_ACCESS_TOKEN", "MATRIX_STORE_KEY", "LOG_LEVEL", "HTTP_LISTEN", "PUBLIC_URL",
)
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_WEBHOOK_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_TELEGRAM_TOKEN = re.compile(r"^\d+:[A-Za-z0-9_-]+$")
_MATRIX_USER = re.compile(r"^@[^:\s]+:\S+$")


class SettingsError(Exception):
    """One line that names the setting at fault (or the file, when the file itself is bad)."""

    def __init__(self, name: str, problem: str) -> None:
        where = name if name.endswith(".toml") else PREFIX + name
        # One line, whatever a value or a file's key held.
        super().__init__(f"{where}: {problem}".replace("\r", "\\r").replace("\n", "\\n"))


@dataclass(frozen=True)
class Settings:
    database_url: str
    data_dir: Path
    log_level: str = "INFO"
    telegram_token: str | None = None
    telegram_api_url: str | None = None
    telegram_webhook_url: str | None = None
    telegram_webhook_secret: str | None = None
    telegram_webhook_listen: str | None = None
    matrix_homeserver: str | None = None
    matrix_user: str | None = None
    matrix_password: str | None = None
    matrix_access_token: str | None = None
    matrix_store_key: str | None = None
    http_listen: str | None = None  # host:port of the calendar feeds' server (bot/feed.py)
    public_url: str | None = None  # how members' phones reach that server

    @property
    def feed_base(self) -> str | None:
        """The base of calendar feed URLs, when the bot serves them."""
        return self.public_url if self.http_listen is not None else None

    @property
    def telegram(self) -> bool:
        return self.telegram_token is not None

    @property
    def matrix(self) -> bool:
        return self.matrix_homeserver is not None


def _from_toml(path: Path) -> dict[str, str]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(path.name, f"cannot read {path}: {exc}") from None
    values = {}
    for key, value in data.items():
        name = key.upper().removeprefix(PREFIX)
        if name not in NAMES:
            raise SettingsError(name, f"unknown setting in {path}")
        if not isinstance(value, str | int):
            raise SettingsError(name, f"must be a string in {path}")
        values[name] = str(value)
    return values


def _url(name: str, value: str | None) -> None:
    if value is None:
        return
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise SettingsError(name, f"must be an http(s) URL, not {value!r}")


def _host_port(name: str, value: str | None) -> None:
    if value is None:
        return
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise SettingsError(name, f"must be host:port, not {value!r}")


def load(environ: Mapping[str, str] | None = None, toml_path: Path | None = None) -> Settings:
    """Read and check every setting. The environment wins over coopbot.toml."""
    environ = os.environ if environ is None else environ
    toml_path = Path("coopbot.toml") if toml_path is None else toml_path
    values = _from_toml(toml_path) if toml_path.is_file() else {}
    for key in environ:
        # A misspelt setting would otherwise be ignored without a word (COOPBOT_TEST_* is for tests).
        if key.startswith(PREFIX) and key.removeprefix(PREFIX) not in NAMES and not key.startswith(PREFIX + "TEST_"):
            raise SettingsError(key.removeprefix(PREFIX), "unknown setting")
    for name in NAMES:
        if environ.get(PREFIX + name, "") != "":
            values[name] = environ[PREFIX + name]
    get = values.get

    data_dir = Path(get("DATA_DIR", "./data"))
    database_url = get("DATABASE_URL") or f"sqlite:///{(data_dir / 'coopbot.db').as_posix()}"
    try:
        async_url(database_url)
    except UnsupportedDatabase as exc:
        raise SettingsError("DATABASE_URL", str(exc)) from None
    level = get("LOG_LEVEL", "INFO").upper()
    if level not in LOG_LEVELS:
        raise SettingsError("LOG_LEVEL", f"must be one of {', '.join(LOG_LEVELS)}, not {get('LOG_LEVEL')!r}")

    token = get("TELEGRAM_TOKEN")
    if token is not None and not _TELEGRAM_TOKEN.fullmatch(token):
        raise SettingsError("TELEGRAM_TOKEN", "does not look like a token from BotFather (digits:letters)")
    for name in ("TELEGRAM_API_URL", "TELEGRAM_WEBHOOK_URL", "TELEGRAM_WEBHOOK_SECRET", "TELEGRAM_WEBHOOK_LISTEN"):
        if get(name) is not None and token is None:
            raise SettingsError(name, "is set but COOPBOT_TELEGRAM_TOKEN is not")
    _url("TELEGRAM_API_URL", get("TELEGRAM_API_URL"))
    _url("TELEGRAM_WEBHOOK_URL", get("TELEGRAM_WEBHOOK_URL"))
    webhook = get("TELEGRAM_WEBHOOK_URL") is not None
    secret = get("TELEGRAM_WEBHOOK_SECRET")
    if webhook and secret is None:
        raise SettingsError("TELEGRAM_WEBHOOK_SECRET", "is required with COOPBOT_TELEGRAM_WEBHOOK_URL")
    if secret is not None and not _WEBHOOK_SECRET.fullmatch(secret):
        raise SettingsError("TELEGRAM_WEBHOOK_SECRET", "must be 1-256 of A-Z, a-z, 0-9, _ and -")
    if not webhook and (secret is not None or get("TELEGRAM_WEBHOOK_LISTEN") is not None):
        name = "TELEGRAM_WEBHOOK_SECRET" if secret is not None else "TELEGRAM_WEBHOOK_LISTEN"
        raise SettingsError(name, "is set but COOPBOT_TELEGRAM_WEBHOOK_URL is not")
    listen = get("TELEGRAM_WEBHOOK_LISTEN")
    _host_port("TELEGRAM_WEBHOOK_LISTEN", listen)
    http_listen, public_url = get("HTTP_LISTEN"), get("PUBLIC_URL")
    _host_port("HTTP_LISTEN", http_listen)
    _url("PUBLIC_URL", public_url)
    if public_url is not None and ("?" in public_url or "#" in public_url):
        # Feed URLs are `<public URL>/calendar/<token>.ics`: after a query or a fragment, no path at all.
        raise SettingsError("PUBLIC_URL", f"must have no query or fragment, not {public_url!r}")
    if http_listen is not None and listen is not None and http_listen.rpartition(":")[2] == listen.rpartition(":")[2]:
        raise SettingsError("HTTP_LISTEN", f"{http_listen} is on COOPBOT_TELEGRAM_WEBHOOK_LISTEN's port ({listen})")
    if (http_listen is None) != (public_url is None):
        missing, given = ("PUBLIC_URL", "HTTP_LISTEN") if public_url is None else ("HTTP_LISTEN", "PUBLIC_URL")
        raise SettingsError(missing, f"is required with COOPBOT_{given} (calendar feeds need both)")

    homeserver, user = get("MATRIX_HOMESERVER"), get("MATRIX_USER")
    matrix_names = ("MATRIX_USER", "MATRIX_PASSWORD", "MATRIX_ACCESS_TOKEN", "MATRIX_STORE_KEY")
    if homeserver is None:
        for name in matrix_names:
            if get(name) is not None:
                raise SettingsError(name, "is set but COOPBOT_MATRIX_HOMESERVER is not")
    else:
        _url("MATRIX_HOMESERVER", homeserver)
        if user is None:
            raise SettingsError("MATRIX_USER", "is required with COOPBOT_MATRIX_HOMESERVER")
        if not _MATRIX_USER.fullmatch(user):
            raise SettingsError("MATRIX_USER", f"must be a full Matrix id like @coopbot:example.org, not {user!r}")
        password, access = get("MATRIX_PASSWORD"), get("MATRIX_ACCESS_TOKEN")
        if password is None and access is None:
            raise SettingsError("MATRIX_PASSWORD", "or COOPBOT_MATRIX_ACCESS_TOKEN is required with Matrix")
        if password is not None and access is not None:
            raise SettingsError("MATRIX_ACCESS_TOKEN", "and COOPBOT_MATRIX_PASSWORD are both set: choose one")
        if get("MATRIX_STORE_KEY") is None:
            raise SettingsError("MATRIX_STORE_KEY", "is required with Matrix (it protects the encryption store)")

    return Settings(
        database_url=database_url,
        data_dir=data_dir,
        log_level=level,
        telegram_token=token,
        telegram_api_url=get("TELEGRAM_API_URL"),
        telegram_webhook_url=get("TELEGRAM_WEBHOOK_URL"),
        telegram_webhook_secret=secret,
        telegram_webhook_listen=listen,
        matrix_homeserver=homeserver,
        matrix_user=user,
        matrix_password=get("MATRIX_PASSWORD"),
        matrix_access_token=get("MATRIX_ACCESS_TOKEN"),
        matrix_store_key=get("MATRIX_STORE_KEY"),
        http_listen=http_listen,
        public_url=public_url.rstrip("/") if public_url else None,
    )
