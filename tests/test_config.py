"""Settings: defaults, coopbot.toml under the environment, and one clear line for every bad setting."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import Settings, SettingsError, load

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "123456789:AAE-abc_DEF123"
TELEGRAM = {"COOPBOT_TELEGRAM_TOKEN": TOKEN}
WEBHOOK = {**TELEGRAM, "COOPBOT_TELEGRAM_WEBHOOK_URL": "https://bot.example.org/hook"}
MATRIX = {
    "COOPBOT_MATRIX_HOMESERVER": "https://matrix.example.org",
    "COOPBOT_MATRIX_USER": "@coopbot:example.org",
    "COOPBOT_MATRIX_PASSWORD": "correct horse battery staple",
    "COOPBOT_MATRIX_STORE_KEY": "store-key",
}


def without(env: dict[str, str], *names: str) -> dict[str, str]:
    return {k: v for k, v in env.items() if k.removeprefix("COOPBOT_") not in names}


def toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "coopbot.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def no_toml(tmp_path) -> Path:
    return tmp_path / "absent.toml"


def refusal(environ: dict[str, str], toml_path: Path) -> str:
    """The SettingsError message for these settings, checked to be one line."""
    with pytest.raises(SettingsError) as err:
        load(environ=environ, toml_path=toml_path)
    message = str(err.value)
    assert "\n" not in message and message.strip() == message, repr(message)
    return message


def test_defaults(no_toml):
    """With nothing set, the database is a SQLite file in ./data, logging is INFO, no platform is on."""
    settings = load(environ={}, toml_path=no_toml)
    assert settings == Settings(database_url="sqlite:///data/coopbot.db", data_dir=Path("data"), log_level="INFO")
    assert not settings.telegram and not settings.matrix


def test_data_dir_moves_the_default_database(no_toml):
    """COOPBOT_DATA_DIR decides where the embedded database lives."""
    settings = load(environ={"COOPBOT_DATA_DIR": "/srv/coop"}, toml_path=no_toml)
    assert settings.data_dir == Path("/srv/coop")
    assert settings.database_url == "sqlite:////srv/coop/coopbot.db"


def test_toml_is_read_and_the_environment_wins(tmp_path):
    """coopbot.toml fills in settings; a set environment variable overrides it, an empty one does not."""
    path = toml(
        tmp_path,
        'log_level = "DEBUG"\n'
        'database_url = "postgresql://coop@db.example.org/coop"\n'
        'COOPBOT_DATA_DIR = "/var/lib/coopbot"\n'
        f'telegram_token = "{TOKEN}"\n',
    )
    from_file = load(environ={}, toml_path=path)
    assert (from_file.log_level, from_file.database_url, from_file.data_dir, from_file.telegram_token) == (
        "DEBUG", "postgresql://coop@db.example.org/coop", Path("/var/lib/coopbot"), TOKEN
    )
    env = {"COOPBOT_LOG_LEVEL": "warning", "COOPBOT_DATABASE_URL": "", "COOPBOT_DATA_DIR": "/elsewhere"}
    mixed = load(environ=env, toml_path=path)
    assert mixed.log_level == "WARNING"
    assert mixed.database_url == "postgresql://coop@db.example.org/coop"
    assert mixed.data_dir == Path("/elsewhere")
    # The environment wins over a bad value in the file, too.
    bad = toml(tmp_path, 'log_level = "LOUD"\n')
    assert load(environ={"COOPBOT_LOG_LEVEL": "ERROR"}, toml_path=bad).log_level == "ERROR"


def test_toml_in_the_working_directory_is_read_by_default(tmp_path, monkeypatch):
    """Without a path, coopbot.toml is read from the directory coopbot runs in."""
    toml(tmp_path, 'log_level = "ERROR"\n')
    monkeypatch.chdir(tmp_path)
    assert load(environ={}).log_level == "ERROR"


@pytest.mark.parametrize(
    "text, name",
    [
        ('colour = "red"\n', "COOPBOT_COLOUR"),
        ('COOPBOT_LOG_LEVL = "INFO"\n', "COOPBOT_LOG_LEVL"),
        ('[matrix]\nuser = "@bot:example.org"\n', "COOPBOT_MATRIX"),
        ('telegram = { token = "1:a" }\n', "COOPBOT_TELEGRAM"),
    ],
)
def test_unknown_toml_key_is_refused_naming_it(tmp_path, text, name):
    """A key coopbot does not know in coopbot.toml stops it, naming that key, instead of being ignored."""
    message = refusal({}, toml(tmp_path, text))
    assert message.startswith(f"{name}:") and "unknown" in message


def test_unreadable_toml_is_refused_in_one_line(tmp_path):
    """A coopbot.toml that is not TOML, or holds a list where a string belongs, is refused in one line."""
    message = refusal({}, toml(tmp_path, 'log_level = "INFO\n'))
    assert str(tmp_path / "coopbot.toml") in message
    message = refusal({}, toml(tmp_path, 'log_level = ["INFO"]\n'))
    assert message.startswith("COOPBOT_LOG_LEVEL:") and "string" in message


BAD = [
    # (settings, the variable the message must start with, words it must contain)
    ({"COOPBOT_LOG_LEVEL": "LOUD"}, "LOG_LEVEL", "DEBUG, INFO"),
    ({"COOPBOT_LOG_LEVEL": "verbose"}, "LOG_LEVEL", "verbose"),
    ({"COOPBOT_DATABASE_URL": "mysql://coop:pw@db/coop"}, "DATABASE_URL", "mysql"),
    ({"COOPBOT_DATABASE_URL": "oracle://db/coop"}, "DATABASE_URL", "oracle"),
    ({"COOPBOT_DATABASE_URL": "sqlite://"}, "DATABASE_URL", "file path"),
    ({"COOPBOT_DATABASE_URL": "sqlite:///:memory:"}, "DATABASE_URL", "file path"),
    ({"COOPBOT_DATABASE_URL": "not a url"}, "DATABASE_URL", "not a database URL"),
    ({"COOPBOT_DATABASE_URL": "postgresql://coop@db:port/coop"}, "DATABASE_URL", "not a database URL"),
    ({**WEBHOOK}, "TELEGRAM_WEBHOOK_SECRET", "COOPBOT_TELEGRAM_WEBHOOK_URL"),
    ({**TELEGRAM, "COOPBOT_TELEGRAM_WEBHOOK_SECRET": "s3cret"}, "TELEGRAM_WEBHOOK_SECRET", "WEBHOOK_URL is not"),
    ({**TELEGRAM, "COOPBOT_TELEGRAM_WEBHOOK_LISTEN": "0.0.0.0:8443"}, "TELEGRAM_WEBHOOK_LISTEN", "WEBHOOK_URL is not"),
    ({**WEBHOOK, "COOPBOT_TELEGRAM_WEBHOOK_SECRET": "has space"}, "TELEGRAM_WEBHOOK_SECRET", "A-Z"),
    ({**WEBHOOK, "COOPBOT_TELEGRAM_WEBHOOK_SECRET": "semi;colon"}, "TELEGRAM_WEBHOOK_SECRET", "A-Z"),
    ({**WEBHOOK, "COOPBOT_TELEGRAM_WEBHOOK_SECRET": "s\u00e9cret"}, "TELEGRAM_WEBHOOK_SECRET", "A-Z"),
    ({**WEBHOOK, "COOPBOT_TELEGRAM_WEBHOOK_SECRET": "x" * 257}, "TELEGRAM_WEBHOOK_SECRET", "1-256"),
    ({**WEBHOOK, "COOPBOT_TELEGRAM_WEBHOOK_SECRET": "ok", "COOPBOT_TELEGRAM_WEBHOOK_LISTEN": "8443"},
     "TELEGRAM_WEBHOOK_LISTEN", "host:port"),
    ({**WEBHOOK, "COOPBOT_TELEGRAM_WEBHOOK_SECRET": "ok", "COOPBOT_TELEGRAM_WEBHOOK_LISTEN": "0.0.0.0:99999"},
     "TELEGRAM_WEBHOOK_LISTEN", "host:port"),
    ({**TELEGRAM, "COOPBOT_TELEGRAM_WEBHOOK_URL": "ftp://bot.example.org/hook",
      "COOPBOT_TELEGRAM_WEBHOOK_SECRET": "ok"}, "TELEGRAM_WEBHOOK_URL", "http(s) URL"),
    ({"COOPBOT_TELEGRAM_WEBHOOK_URL": "https://bot.example.org/hook"}, "TELEGRAM_WEBHOOK_URL", "TELEGRAM_TOKEN is not"),
    ({**TELEGRAM, "COOPBOT_TELEGRAM_API_URL": "localhost:8081"}, "TELEGRAM_API_URL", "http(s) URL"),
    ({"COOPBOT_TELEGRAM_TOKEN": "abc"}, "TELEGRAM_TOKEN", "BotFather"),
    ({"COOPBOT_TELEGRAM_TOKEN": "123456789"}, "TELEGRAM_TOKEN", "BotFather"),
    ({"COOPBOT_TELEGRAM_TOKEN": ":AAEabc"}, "TELEGRAM_TOKEN", "BotFather"),
    ({"COOPBOT_TELEGRAM_TOKEN": "bot123456789:AAEabc"}, "TELEGRAM_TOKEN", "BotFather"),
    ({"COOPBOT_TELEGRAM_TOKEN": "123456789:AAE abc"}, "TELEGRAM_TOKEN", "BotFather"),
    ({"COOPBOT_TELEGRAM_TOKEN": "123456789:AAE/../getMe"}, "TELEGRAM_TOKEN", "BotFather"),
    (without(MATRIX, "MATRIX_USER"), "MATRIX_USER", "required"),
    (without(MATRIX, "MATRIX_PASSWORD"), "MATRIX_PASSWORD", "COOPBOT_MATRIX_ACCESS_TOKEN"),
    ({**MATRIX, "COOPBOT_MATRIX_ACCESS_TOKEN": "syt_abc"}, "MATRIX_ACCESS_TOKEN", "COOPBOT_MATRIX_PASSWORD"),
    (without(MATRIX, "MATRIX_STORE_KEY"), "MATRIX_STORE_KEY", "required"),
    ({**MATRIX, "COOPBOT_MATRIX_USER": "coopbot"}, "MATRIX_USER", "full Matrix id"),
    ({**MATRIX, "COOPBOT_MATRIX_USER": "@coopbot"}, "MATRIX_USER", "full Matrix id"),
    ({**MATRIX, "COOPBOT_MATRIX_USER": "coopbot:example.org"}, "MATRIX_USER", "full Matrix id"),
    ({**MATRIX, "COOPBOT_MATRIX_USER": "@coop bot:example.org"}, "MATRIX_USER", "full Matrix id"),
    ({**MATRIX, "COOPBOT_MATRIX_HOMESERVER": "matrix.example.org"}, "MATRIX_HOMESERVER", "http(s) URL"),
    (without(MATRIX, "MATRIX_HOMESERVER"), "MATRIX_USER", "COOPBOT_MATRIX_HOMESERVER is not"),
    ({"COOPBOT_MATRIX_STORE_KEY": "k"}, "MATRIX_STORE_KEY", "COOPBOT_MATRIX_HOMESERVER is not"),
]


@pytest.mark.parametrize("environ, name, words", BAD, ids=[f"{i}-{case[1]}" for i, case in enumerate(BAD)])
def test_bad_setting_is_refused_naming_the_variable(no_toml, environ, name, words):
    """Each bad or contradictory setting stops coopbot with one line that begins with its COOPBOT_ name."""
    message = refusal(environ, no_toml)
    assert message.startswith(f"COOPBOT_{name}: "), message
    assert words in message, message


@pytest.mark.parametrize(
    "text, name",
    [
        ('log_level = "LOUD"\n', "LOG_LEVEL"),
        ('database_url = "mysql://db/coop"\n', "DATABASE_URL"),
        ('telegram_token = "nope"\n', "TELEGRAM_TOKEN"),
        ('matrix_homeserver = "https://m.example.org"\nmatrix_user = "@b:example.org"\nmatrix_password = "pw"\n',
         "MATRIX_STORE_KEY"),
    ],
)
def test_bad_setting_in_toml_is_refused_naming_the_variable(tmp_path, text, name):
    """A bad value in coopbot.toml is reported under the same COOPBOT_ name as in the environment."""
    assert refusal({}, toml(tmp_path, text)).startswith(f"COOPBOT_{name}: ")


@pytest.mark.parametrize(
    "environ",
    [
        {"COOPBOT_DATABASE_URL": "mysql://coop:hunter2@db/coop"},
        {"COOPBOT_DATABASE_URL": "postgresql://coop:hunter2@db:port/coop"},
        {"COOPBOT_TELEGRAM_TOKEN": "123456789:hunter2 oops"},
        {**WEBHOOK, "COOPBOT_TELEGRAM_WEBHOOK_SECRET": "hunter2 oops"},
    ],
)
def test_refusals_do_not_print_secrets(no_toml, environ):
    """A refused password, token or webhook secret is never echoed into the log line."""
    assert "hunter2" not in refusal(environ, no_toml)


@pytest.mark.parametrize(
    "environ",
    [
        {"COOPBOT_DATABASE_URL": "postgresql://coop:pw@db.example.org:5432/coop", "COOPBOT_LOG_LEVEL": "debug"},
        {"COOPBOT_DATABASE_URL": "postgres://db/coop"},
        {**WEBHOOK, "COOPBOT_TELEGRAM_WEBHOOK_SECRET": "A-z_09-" * 10, "COOPBOT_TELEGRAM_WEBHOOK_LISTEN": "[::]:8443",
         "COOPBOT_TELEGRAM_API_URL": "http://127.0.0.1:8081"},
        MATRIX,
        {**without(MATRIX, "MATRIX_PASSWORD"), "COOPBOT_MATRIX_ACCESS_TOKEN": "syt_abc"},
        {**MATRIX, **TELEGRAM},
    ],
)
def test_good_configurations_load(no_toml, environ):
    """Complete, consistent settings for PostgreSQL, Telegram webhooks and Matrix are accepted."""
    settings = load(environ=environ, toml_path=no_toml)
    assert settings.telegram == ("COOPBOT_TELEGRAM_TOKEN" in environ)
    assert settings.matrix == ("COOPBOT_MATRIX_HOMESERVER" in environ)


@pytest.mark.parametrize(
    "url", ["sqlite:///file::memory:?cache=shared&uri=true", "sqlite:///file:coop?mode=memory&cache=shared&uri=true"]
)
def test_sqlite_in_memory_uri_is_refused(no_toml, url):
    """An in-memory SQLite database written as a URI is refused like sqlite:///:memory:."""
    assert refusal({"COOPBOT_DATABASE_URL": url}, no_toml).startswith("COOPBOT_DATABASE_URL: ")


@pytest.mark.parametrize(
    "environ, name",
    [
        ({"COOPBOT_TELEGRAM_TOKEN": TOKEN + "\n"}, "TELEGRAM_TOKEN"),
        ({**WEBHOOK, "COOPBOT_TELEGRAM_WEBHOOK_SECRET": "s3cret\n"}, "TELEGRAM_WEBHOOK_SECRET"),
        ({**MATRIX, "COOPBOT_MATRIX_USER": "@coopbot:example.org\n"}, "MATRIX_USER"),
    ],
)
def test_value_with_a_trailing_newline_is_refused_or_trimmed(no_toml, environ, name):
    """A token pasted with its trailing newline (a common secret-file mistake) is refused or trimmed, never kept."""
    try:
        settings = load(environ=environ, toml_path=no_toml)
    except SettingsError as exc:
        assert str(exc).startswith(f"COOPBOT_{name}: ")
    else:
        value = getattr(settings, name.lower())
        assert value == value.strip()


def test_refusal_stays_on_one_line_when_the_value_has_a_newline(no_toml):
    """Even a value with a line break in it is refused in a single line."""
    refusal({"COOPBOT_LOG_LEVEL": "LOUD\nINFO"}, no_toml)


def _cli(tmp_path: Path, **settings: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COOPBOT_")}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(settings)
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "run"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    "settings, toml_text, name",
    [
        ({"COOPBOT_LOG_LEVEL": "LOUD"}, None, "COOPBOT_LOG_LEVEL"),
        ({}, 'colour = "red"\n', "COOPBOT_COLOUR"),
        ({}, None, "COOPBOT_TELEGRAM_TOKEN"),
    ],
    ids=["bad-log-level", "unknown-toml-key", "no-platform"],
)
def test_cli_run_with_a_bad_setting_exits_2_with_one_line(tmp_path, settings, toml_text, name):
    """`coopbot run` with a bad setting exits 2 at once: one stderr line naming it, no traceback, nothing created."""
    if toml_text is not None:
        toml(tmp_path, toml_text)
    result = _cli(tmp_path, **settings)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert name in lines[0] and "Traceback" not in result.stderr
    assert result.stdout == ""
    assert not (tmp_path / "data").exists()


def test_calendar_feeds_need_a_listen_address_and_a_public_url(no_toml):
    settings = load(environ={"COOPBOT_HTTP_LISTEN": "127.0.0.1:8080", "COOPBOT_PUBLIC_URL": "https://coop.example/"},
                    toml_path=no_toml)
    assert settings.feed_base == "https://coop.example" and settings.http_listen == "127.0.0.1:8080"
    assert load(environ={}, toml_path=no_toml).feed_base is None
    assert refusal({"COOPBOT_HTTP_LISTEN": "127.0.0.1:8080"}, no_toml).startswith("COOPBOT_PUBLIC_URL: is required")
    assert refusal({"COOPBOT_PUBLIC_URL": "https://coop.example"}, no_toml).startswith("COOPBOT_HTTP_LISTEN: is required")
    assert refusal({"COOPBOT_HTTP_LISTEN": "8080", "COOPBOT_PUBLIC_URL": "https://c.example"},
                   no_toml).startswith("COOPBOT_HTTP_LISTEN: must be host:port")
    assert refusal({"COOPBOT_HTTP_LISTEN": ":1", "COOPBOT_PUBLIC_URL": "ftp://c.example"},
                   no_toml).startswith("COOPBOT_HTTP_LISTEN")
    assert refusal({"COOPBOT_HTTP_LISTEN": "0.0.0.0:1", "COOPBOT_PUBLIC_URL": "ftp://c.example"},
                   no_toml).startswith("COOPBOT_PUBLIC_URL: must be an http(s) URL")


def test_a_feed_url_with_a_query_or_a_fragment_or_the_webhook_s_port_is_refused(no_toml):
    """`<public URL>/calendar/<token>.ics` after a query or a fragment is no feed's path; the feed
    server and the webhook on one port cannot both listen."""
    for url in ("https://c.example/?x=1", "https://c.example/#top"):
        said = refusal({"COOPBOT_HTTP_LISTEN": "127.0.0.1:8080", "COOPBOT_PUBLIC_URL": url}, no_toml)
        assert said.startswith("COOPBOT_PUBLIC_URL: "), url
    said = refusal({**WEBHOOK, "COOPBOT_TELEGRAM_WEBHOOK_SECRET": "ok", "COOPBOT_TELEGRAM_WEBHOOK_LISTEN": "0.0.0.0:8443",
                    "COOPBOT_HTTP_LISTEN": "127.0.0.1:8443", "COOPBOT_PUBLIC_URL": "https://c.example"}, no_toml)
    assert said.startswith("COOPBOT_HTTP_LISTEN: ") and "8443" in said
