"""The database: engines, SQLite pragmas, read and write transactions, migrations."""

from __future__ import annotations

import asyncio
import sqlite3
import fcntl
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

logger = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 15_000
# Retries of bookkeeping writes that may pass (see `retrying`): 0.25 s doubling to 5 s, about a
# minute in all, so a row is still ours (its claim lasts a minute) when its mark finally lands.
RETRY_FIRST, RETRY_CAP, RETRY_TRIES = 0.25, 5.0, 15


def is_transient(exc: BaseException) -> bool:
    """A database failure that may pass by itself: the server restarted under a pooled connection,
    the network dropped, SQLite stayed busy past its timeout, the disk was full. Not a bug, nor a
    constraint the same write would meet again."""
    if isinstance(exc, (OperationalError, InterfaceError)):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, (OSError, asyncio.TimeoutError))


def one_line(exc: BaseException) -> str:
    """The driver's own words for a database failure, on one line (SQLAlchemy adds SQL and a link)."""
    cause = getattr(exc, "orig", None) or exc
    return " ".join(f"{type(cause).__name__}: {cause}".split())


async def retrying(write: Callable[[], Awaitable[None]], what: str, *, tries: int = RETRY_TRIES) -> None:
    """Run a bookkeeping write (an outbox mark, a card's shown text), retrying failures that may
    pass: log, wait, go on. After `tries`, or at once on any other error, the error is raised."""
    wait = RETRY_FIRST
    for attempt in range(1, tries + 1):
        try:
            await write()
            return
        except Exception as exc:
            if not is_transient(exc) or attempt == tries:
                raise
            logger.warning("%s failed (%s: %s); trying again in %.2f s", what, type(exc).__name__, exc, wait)
            await asyncio.sleep(wait)
            wait = min(wait * 2, RETRY_CAP)


class UnsupportedDatabase(ValueError):
    """The URL names a database coopbot does not run on."""


def async_url(url: str) -> str:
    """Turn the user's `sqlite:///…` or `postgresql://…` URL into one with an async driver."""
    try:
        parsed = make_url(url)
    except Exception as exc:  # SQLAlchemy raises ArgumentError and ValueError variants
        raise UnsupportedDatabase(f"not a database URL: {exc}") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if not parsed.database or ":memory:" in parsed.database or parsed.query.get("mode") == "memory":
            # One shared in-memory connection would hide every concurrency bug: refuse it.
            raise UnsupportedDatabase("SQLite needs a file path (sqlite:///path/to/coopbot.db)")
        return parsed.set(drivername="sqlite+aiosqlite").render_as_string(hide_password=False)
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
    raise UnsupportedDatabase(f"unsupported database '{backend}': use sqlite:/// or postgresql://")


class AlreadyRunning(RuntimeError):
    """Another coopbot process holds this SQLite database."""


class Database:
    """Engines and sessions. SQLite gets one writer connection; PostgreSQL one shared pool."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = async_url(url)
        self.is_sqlite = self.url.startswith("sqlite")
        # hide_parameters: a statement that fails is logged without its values, so a failed vote
        # batch never prints who chose what.
        if self.is_sqlite:
            path = Path(make_url(self.url).database)
            path.parent.mkdir(parents=True, exist_ok=True)
            # SQLite allows one writer at a time. A single pooled writer connection makes
            # in-process writers queue instead of spinning on SQLITE_BUSY, and BEGIN IMMEDIATE
            # takes the write lock up front, so a read-then-write transaction cannot deadlock.
            self.writer = create_async_engine(self.url, echo=echo, hide_parameters=True, pool_size=1, max_overflow=0, pool_timeout=60)
            self.reader = create_async_engine(self.url, echo=echo, hide_parameters=True, pool_size=4, max_overflow=4)
            _sqlite_pragmas(self.writer, begin="BEGIN IMMEDIATE")
            _sqlite_pragmas(self.reader, begin="BEGIN")
        else:
            # pool_pre_ping: a pooled connection the server dropped (a restart, a failover) is
            # replaced before use instead of failing the first transaction that takes it.
            self.writer = create_async_engine(self.url, echo=echo, hide_parameters=True, pool_size=10, max_overflow=20, pool_pre_ping=True)
            self.reader = self.writer
        self._background: set[asyncio.Task] = set()
        self._write_sessions = async_sessionmaker(self.writer, expire_on_commit=False)
        self._read_sessions = async_sessionmaker(self.reader, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return "sqlite" if self.is_sqlite else "postgresql"

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """One write transaction: committed when the block ends, rolled back if it raises."""
        async with self._write_sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """One read-only transaction (a consistent snapshot)."""
        async with self._read_sessions() as session, session.begin():
            yield session

    async def upgrade(self) -> None:
        """Apply every Alembic migration not yet applied."""
        async with self.writer.connect() as conn:
            await conn.run_sync(_upgrade_sync)
            await conn.commit()

    def hold_single_process(self) -> None:
        """SQLite has one writer: a second bot process on the same file is refused politely
        (PostgreSQL needs no such lock; there, claims in the database keep the work single)."""
        if not self.is_sqlite:
            return
        path = Path(make_url(self.url).database).with_suffix(".lock")
        self._lock_file = open(path, "a+")  # kept open: the lock lives as long as this process
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock_file.close()
            raise AlreadyRunning(
                f"another coopbot is already running on {make_url(self.url).database}; "
                "SQLite allows one (use PostgreSQL to run several)"
            ) from None

    def track(self, task: asyncio.Task) -> None:
        """Writes in flight on behalf of callers (group commits) finish before the engines close."""
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def forget_old_versions(self) -> None:
        """SQLite keeps earlier versions of rewritten pages in its write-ahead log until a
        checkpoint: after a confession is stored or read, they are folded into the file and the
        log emptied, so no earlier version of the box (its order of arrival) stays on disk
        longer than needed. Best effort: a reader holding an old snapshot makes it partial; the
        next one finishes it. (PostgreSQL keeps old row versions until vacuum: see README.)"""
        if not self.is_sqlite:
            return
        path = make_url(self.url).database

        def checkpoint() -> None:
            conn = sqlite3.connect(path, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)
            try:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                conn.close()

        try:
            await asyncio.to_thread(checkpoint)
        except sqlite3.Error as exc:
            logger.info("checkpoint after a confession deferred: %s", exc)

    async def dispose(self) -> None:
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        await self.writer.dispose()
        if self.reader is not self.writer:
            await self.reader.dispose()


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def _upgrade_sync(connection) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, "head")


def _sqlite_pragmas(engine: AsyncEngine, *, begin: str) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        # Let SQLAlchemy's "begin" event, not the sqlite3 module, decide how a transaction starts.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        # FULL: an acknowledged vote survives a power cut, not only a crash of the process.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        # Deleted content (a confession read and destroyed) is overwritten where that costs no extra I/O.
        cursor.execute("PRAGMA secure_delete=FAST")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn) -> None:
        conn.exec_driver_sql(begin)
