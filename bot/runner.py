"""`coopbot run`: every configured platform plus the closing clock, until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal

from bot.config import Settings, SettingsError
from bot.services import Services
from schedules.clock import run_due_work

logger = logging.getLogger(__name__)

# Platform adapters by the setting that enables them. Telegram and Matrix join here as their
# adapters land; until then `run` says plainly that the platform is not available.
ADAPTERS: dict[str, object] = {}


def check_platforms(settings: Settings) -> None:
    if not settings.telegram and not settings.matrix:
        raise SettingsError("TELEGRAM_TOKEN", "no platform configured: set it, or COOPBOT_MATRIX_HOMESERVER")
    if settings.telegram and "telegram" not in ADAPTERS:
        raise SettingsError("TELEGRAM_TOKEN", "this build of coopbot has no Telegram adapter yet")
    if settings.matrix and "matrix" not in ADAPTERS:
        raise SettingsError("MATRIX_HOMESERVER", "this build of coopbot has no Matrix adapter yet")


async def run(settings: Settings) -> int:
    services = await Services.start(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    clock = asyncio.create_task(run_due_work(services.stores, services.clock), name="due-work")
    logger.info("coopbot is running")
    try:
        await stop.wait()
    finally:
        clock.cancel()
        await asyncio.gather(clock, return_exceptions=True)
        await services.close()
    logger.info("coopbot stopped")
    return 0
