"""`coopbot run`: every configured platform plus the closing clock, until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import importlib
import logging
import signal

from handlers import draws
from bot.config import Settings, SettingsError
from bot.services import Services
from storage.minutes import Inconsistent
from schedules.clock import DueClock

logger = logging.getLogger(__name__)

# Platform adapters by name, imported only when configured (each pulls in its platform library).
ADAPTERS = {"telegram": "bot.telegram.adapter:TelegramAdapter", "matrix": "bot.matrix.adapter:MatrixAdapter"}


def _adapter(name: str):
    module, _, cls = ADAPTERS[name].partition(":")
    return getattr(importlib.import_module(module), cls)


def check_platforms(settings: Settings) -> None:
    if not settings.telegram and not settings.matrix:
        raise SettingsError("TELEGRAM_TOKEN", "no platform configured: set it, or COOPBOT_MATRIX_HOMESERVER")
    if settings.telegram and "telegram" not in ADAPTERS:
        raise SettingsError("TELEGRAM_TOKEN", "this build of coopbot has no Telegram adapter yet")
    if settings.matrix and "matrix" not in ADAPTERS:
        raise SettingsError("MATRIX_HOMESERVER", "this build of coopbot has no Matrix adapter yet")


async def check_minutes(services: Services) -> None:
    """Before anything runs: every co-op's minutes still agree with themselves, with every head the
    bot posted or a member witnessed, with the events they record and with a recount of every
    closed proposal. If not, one line names the first co-op and the first size that disagrees."""
    problems = await services.stores.minutes.check(services.stores.proposals.recount, draws.replay_problem)
    if problems:
        first = problems[0]
        raise Inconsistent(f"the minutes of {first.coop} are inconsistent at size {first.size} "
                           f"({first.what}): not starting")


async def _announce_ready(adapters) -> None:
    # Operators and benchmarks watch for this line: every platform is connected and taking updates.
    await asyncio.gather(*(a.ready.wait() for a in adapters))
    logger.info("coopbot is ready: %s", ", ".join(type(a).__name__ for a in adapters))


async def run(settings: Settings) -> int:
    """Run until SIGINT/SIGTERM; then stop taking updates, finish what is in hand, exit 0."""
    services = await Services.start(settings, exclusive=True)
    try:
        await check_minutes(services)
    except Inconsistent:
        await services.close()
        raise
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    adapters = []
    if settings.telegram:
        adapters.append(_adapter("telegram")(services, settings))
    if settings.matrix:
        adapters.append(_adapter("matrix")(services, settings))

    async def after_due_work() -> None:
        for adapter in adapters:
            adapter.kick()

    clock = DueClock(services.stores, services.clock, after=after_due_work,
                     before_close=lambda: services.governance.before_close)
    # Every adapter exists: the core is built with their names and hooks, and the clock listening.
    services.assemble(after_command=(clock.poke,))
    feeds = None
    if settings.http_listen is not None:
        # Imported only when configured, as the adapters are.
        from bot.feed import FeedServer

        feeds = FeedServer(services, settings.http_listen)
        try:
            await feeds.start()
        except OSError as exc:
            await services.close()
            raise SettingsError("HTTP_LISTEN", f"cannot listen on {settings.http_listen}: {exc}") from None
    tasks = [asyncio.create_task(a.run(stop), name=type(a).__name__) for a in adapters]
    clock.start()
    logger.info("coopbot is running")
    announce_ready = asyncio.create_task(_announce_ready(adapters))
    failed = False
    try:
        done, _ = await asyncio.wait([*tasks, asyncio.create_task(stop.wait())], return_when=asyncio.FIRST_COMPLETED)
        stop.set()
        for outcome, task in zip(await asyncio.gather(*tasks, return_exceptions=True), tasks):
            if isinstance(outcome, Exception):
                # A platform that cannot go on (a refused login, a revoked token) stops the bot
                # with a failure, so a supervisor restarts it or an operator sees why.
                logger.error("%s stopped: %s", task.get_name(), outcome, exc_info=outcome)
                failed = True
    finally:
        announce_ready.cancel()
        if feeds is not None:
            await feeds.stop()
        await clock.stop()
        await services.close()
    logger.info("coopbot stopped")
    return 1 if failed else 0
