"""The `coopbot` command: console, run, db upgrade, export, verify."""

from __future__ import annotations

import argparse
import asyncio
import os
import logging
import sys
from pathlib import Path

from bot import export, logs
from bot.config import Settings, SettingsError, load
from bot.services import Services
from storage.db import AlreadyRunning
from storage.minutes import Inconsistent

logger = logging.getLogger("coopbot")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="coopbot", description="Co-op governance in the group chats you already use.")
    sub = parser.add_subparsers(dest="command", required=True)
    console = sub.add_parser("console", help="chat with the bot in this terminal (embedded database, no accounts)")
    console.add_argument("--as", dest="speaker", default="you", help="who speaks in lines without 'name:' (default: you)")
    console.add_argument("--room", default="general", help="the room the console is in (default: general)")
    sub.add_parser("run", help="run every configured platform and the scheduler until SIGINT/SIGTERM")
    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", help="apply the migrations not yet applied")
    exp = sub.add_parser("export", help="the register, proposals, votes and ledger, to standard output")
    exp.add_argument("--coop", default=None, help="only this co-op (by name)")
    exp.add_argument("--format", choices=sorted(export.FORMATS), default="json")
    verify = sub.add_parser("verify", help="check an export's minutes, heads, tallies and draws; prints ok or what does not hold")
    verify.add_argument("export", help="a file written by coopbot export --format json")
    return parser


def _logging(settings: Settings, command: str) -> None:
    # The console's stdout is the chat: its log, tracebacks included, goes to a file beside the data.
    filename = None
    if command == "console":
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        filename = settings.data_dir / "console.log"
    logs.configure(settings.log_level, secrets=logs.secrets_of(settings), filename=filename)


async def _console(settings: Settings, args) -> int:
    from bot.console.adapter import run_console

    services = await Services.start(settings, exclusive=True)
    try:
        await run_console(services, speaker=args.speaker, room=args.room)
    finally:
        await services.close()
    return 0


async def _upgrade(settings: Settings, args) -> int:
    services = await Services.start(settings)
    await services.close()
    print("database is up to date")
    return 0


async def _export(settings: Settings, args) -> int:
    services = await Services.start(settings)
    try:
        data = await export.collect(services.stores, args.coop)
    finally:
        await services.close()
    if args.coop is not None and not data["coops"]:
        print(f"coopbot: no co-op called '{args.coop}'", file=sys.stderr)
        return 1
    sys.stdout.write(export.FORMATS[args.format](data))
    return 0


async def _run(settings: Settings, args) -> int:
    from bot.runner import run

    return await run(settings)


COMMANDS = {"console": _console, "run": _run, "db": _upgrade, "export": _export}


def _private(data_dir: Path) -> None:
    """The data dir holds the register, every vote and the Matrix keys: only this user may enter
    it. One made before (by an older coopbot, or by hand) with wider bits is closed."""
    if data_dir.is_dir() and data_dir.stat().st_mode & 0o077:
        os.chmod(data_dir, 0o700)


def _usable(data_dir: Path) -> None:
    """The data dir exists (made if need be) and this user may write in it; else one line."""
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        if not os.access(data_dir, os.W_OK | os.X_OK):
            raise PermissionError(f"not writable by this user: {data_dir}")
    except OSError as exc:
        raise SettingsError("DATA_DIR", f"cannot use {data_dir}: {exc.strerror or exc}") from None


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "verify":  # reads a file only: no settings, no database
        from bot.verify import main as verify

        return verify(args.export)
    # Everything this process creates (database, WAL, shared memory, lock, log, Matrix store) is
    # for this user only, whatever umask the shell or service manager gave it.
    os.umask(0o077)
    try:
        settings = load()
        if args.command == "run":
            from bot.runner import check_platforms

            check_platforms(settings)
        _usable(settings.data_dir)
    except SettingsError as exc:
        print(f"coopbot: {exc}", file=sys.stderr)
        return 2
    _private(settings.data_dir)
    _logging(settings, args.command)
    try:
        return asyncio.run(COMMANDS[args.command](settings, args))
    # SettingsError: the database cannot be reached; Inconsistent: the minutes disagree with a posted head.
    except (AlreadyRunning, SettingsError, Inconsistent) as exc:
        print(f"coopbot: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0


def entry() -> None:
    """The console script. Everything is committed and flushed when main() returns; exiting at
    once then keeps a database driver's worker thread, left by a task cancelled at shutdown, from
    holding the process open."""
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(code)


if __name__ == "__main__":
    entry()
