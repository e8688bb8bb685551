"""Fixtures: databases (a SQLite file and PostgreSQL), a clock the tests move, and a chat."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import uuid
from datetime import datetime, timedelta, timezone

import asyncpg
import pytest
from alembic.script import ScriptDirectory

from handlers.cards import card_view
from handlers.events import CommandReceived, VoteCast
from handlers.router import Governance
from handlers.types import ChatRef, UserRef
from storage.db import Database, alembic_config
from storage.stores import Stores

_HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()
PG_URL = os.environ.get("COOPBOT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() == "true"


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Nothing in these tests may leave the machine: fail loudly on any non-loopback connect."""
    real_connect = socket.socket.connect

    def guarded(self, address):
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and not (host.startswith("127.") or host in ("localhost", "::1") or host.startswith("/")):
            raise AssertionError(f"test tried to reach the network: {address!r}")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


class FakeClock:
    """A clock the test sets and moves; nothing sleeps for real."""

    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)

    def now(self) -> datetime:
        return self.current

    def advance(self, **kwargs) -> None:
        self.current += timedelta(**kwargs)


def _pg_admin_dsn() -> str:
    return PG_URL.replace("postgresql+asyncpg://", "postgresql://")


def _pg_url(database: str) -> str:
    base, _, _ = _pg_admin_dsn().rpartition("/")
    return f"{base}/{database}"


async def _pg_execute(sql: str) -> None:
    conn = await asyncpg.connect(_pg_admin_dsn(), timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def pg_template():
    """A migrated database for the session; each test gets it emptied (`pg_url`)."""
    name = f"coopbot_tpl_{uuid.uuid4().hex[:10]}"
    try:
        asyncio.run(_pg_execute(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError, asyncio.TimeoutError) as exc:
        message = f"PostgreSQL is not reachable at {PG_URL}: {exc}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    asyncio.run(_migrate_pg(name))
    yield name
    asyncio.run(_pg_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _migrate_pg(name: str) -> None:
    db = Database(_pg_url(name))
    await db.upgrade()
    await db.dispose()


async def _emptied(name: str) -> bool:
    """The session's database as a fresh migrated one: every other connection to it ended (a test's
    second process), every row deleted and every sequence restarted, in one round trip (37 ms,
    against 380 ms to create a database from a template and drop it). False if a test left it
    at another revision (a migration test that failed half-way): it is then made anew."""
    conn = await asyncpg.connect(_pg_url(name), timeout=5)
    try:
        await conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                           "WHERE datname = $1 AND pid <> pg_backend_pid()", name)
        if await conn.fetchval("SELECT version_num FROM alembic_version") != _HEAD:
            return False
        tables = [r[0] for r in await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'")]
        sequences = [r[0] for r in await conn.fetch("SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'")]
        # As the replication role: no foreign key trigger fires, so the order of the deletes does not matter.
        await conn.execute("SET session_replication_role = replica; "
                           + "".join(f'DELETE FROM "{t}"; ' for t in tables)
                           + "".join(f'ALTER SEQUENCE "{q}" RESTART; ' for q in sequences))
        return True
    finally:
        await conn.close()


@pytest.fixture
def pg_url(pg_template):
    if not asyncio.run(_emptied(pg_template)):
        asyncio.run(_pg_execute(f'DROP DATABASE IF EXISTS "{pg_template}" WITH (FORCE)'))
        asyncio.run(_pg_execute(f'CREATE DATABASE "{pg_template}"'))
        asyncio.run(_migrate_pg(pg_template))
    return _pg_url(pg_template)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    """A migrated SQLite file, made once; each test gets a copy of it (as PostgreSQL's template)."""
    path = tmp_path_factory.mktemp("sqlite_template") / "coopbot.db"

    async def migrate() -> None:
        db = Database(f"sqlite:///{path}")
        await db.upgrade()
        await db.dispose()  # the last connection closed: the WAL is checkpointed into the file

    asyncio.run(migrate())
    return path


@pytest.fixture
def sqlite_url(sqlite_template, tmp_path):
    shutil.copyfile(sqlite_template, tmp_path / "coopbot.db")
    return f"sqlite:///{tmp_path / 'coopbot.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request):
    """Each test that takes this runs on a SQLite file and on PostgreSQL."""
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")


@pytest.fixture
async def db(db_url):
    database = Database(db_url)
    await database.upgrade()
    yield database
    await database.dispose()


@pytest.fixture
def stores(db):
    return Stores.over(db)


@pytest.fixture
def clock():
    return FakeClock()


# A process serving every platform, each of whose votes reach the database as they are made (the
# Matrix tests give the Matrix adapter's own last look).
EVERY_PLATFORM = {"console": None, "telegram": None, "matrix": None}


@pytest.fixture
def gov(stores, clock):
    return Governance(stores, clock, bot_names=("coopbot",), before_close=EVERY_PLATFORM)


class Chat:
    """A room, read like a chat: `say` a line as someone and get the bot's answer as text.
    Announcements the line caused (outbox) are collected in `announced`."""

    def __init__(self, gov: Governance, platform: str = "console", chat_id: str = "general", direct: bool = False):
        self.gov = gov
        self.chat = ChatRef(platform, chat_id, is_direct=direct, title=chat_id)
        self.announced: list[str] = []
        self.replies = []

    def user(self, name: str) -> UserRef:
        return UserRef(self.chat.platform, name, name)

    async def say(self, who: str, text: str, event_id: str | None = None, corrects: str | None = None) -> str:
        """`corrects`: this message is an edit of that one (`event_id` is the edit's own id)."""
        self.replies = await self.gov.handle_command(CommandReceived(self.chat, self.user(who), text, event_id, corrects))
        await self.drain()
        return "\n".join(r.text for r in self.replies)

    async def tap(self, who: str, proposal_id: int, option: int, event_id: str | None = None) -> str:
        self.replies = await self.gov.handle_vote(VoteCast(self.chat, self.user(who), proposal_id, option, event_id))
        await self.drain()
        return "\n".join(r.text for r in self.replies)

    async def drain(self) -> list[str]:
        outbox = self.gov.stores.outbox
        items = await outbox.pending(self.chat.platform, chat_id=self.chat.chat_id, limit=1000)
        await outbox.mark_sent([i.id for i in items], self.gov.clock.now())
        # As the console delivers them: a card is rendered when delivered, the rest as queued.
        texts = [(await card_view(self.gov.stores, i.proposal_id, "/")).text if i.kind == "proposal_opened"
                 else i.text.replace("\x1f", "/") for i in items]
        self.announced += texts
        return texts

    @property
    def last(self) -> str:
        return self.announced[-1] if self.announced else ""


@pytest.fixture
def chat(gov):
    return Chat(gov)


async def make_coop(chat: Chat, members: int = 4, founder: str = "alice") -> list[str]:
    """A co-op with a steward (the founder) and `members` more members; returns all names."""
    assert "set up" in await chat.say(founder, "/setup Red Bakery")
    names = [founder] + [f"m{i}" for i in range(1, members + 1)]
    for name in names[1:]:
        assert "admitted" in await chat.say(founder, f"/admit {name}")
    return names


def pytest_collection_modifyitems(items):
    """`make test` runs on two processes (pytest-xdist, `--dist loadgroup`): every test that needs
    the real Synapse goes to one of them, so the session starts one homeserver, not two."""
    for item in items:
        if "synapse" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("synapse"))


@pytest.fixture(scope="session")
def synapse(tmp_path_factory):
    """One real Synapse on 127.0.0.1 for the whole session, started when a test first asks for it.

    Its directory (config, SQLite, homeserver.log) stays under pytest's basetemp for debugging.
    If it cannot start, the requesting test fails: this is not an optional service."""
    from tests.fakes.synapse import Homeserver

    hs = Homeserver(tmp_path_factory.mktemp("synapse"))
    try:
        hs.start()
    except RuntimeError as exc:
        pytest.fail(f"Synapse could not start: {exc}", pytrace=False)
    yield hs
    hs.stop()
