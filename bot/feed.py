"""The calendar feeds' HTTP server (`COOPBOT_HTTP_LISTEN`): GET /calendar/<token>.ics serves a co-op's
.ics to the phones subscribed to it, with caching headers; a wrong or revoked token, and every other
path, is a 404. The core builds the file (`handlers.agenda.ics_of`); this only serves it."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from datetime import datetime, timedelta

from aiohttp import web

from bot.services import Services
from handlers import i18n, texts
from handlers.agenda import ics_of
from handlers.context import coop_language
from storage.models import Coop

logger = logging.getLogger(__name__)

CACHE_CONTROL = "private, max-age=300"
CONTENT_TYPE = "text/calendar; charset=utf-8"
# A co-op's calendar is built at most once in this long, however many ask for it (requests at once
# wait for the one build): whoever has a URL cannot keep the bot busy building it. Phones are told
# they may keep it 300 s anyway; the token is still checked at every request.
FRESH = timedelta(seconds=10)
# Seconds a connection may stay open without a whole request (aiohttp's default is an hour): a
# calendar app fetches once an hour, and a client that trickles or says nothing would otherwise hold
# a file descriptor the bot needs for its database and its platforms.
IDLE = 15.0
# Requests handled at once (the others wait their turn, holding no database connection): a flood of
# them, wrong tokens or right, cannot take the connections the bot's own work needs.
AT_ONCE = 4


def etag(body: bytes) -> str:
    """The body's hash, leaving out each event's DTSTAMP (the time the file was built): the tag
    changes when an event does, not at every fetch, so an unchanged calendar is a 304."""
    content = b"".join(line for line in body.splitlines(keepends=True) if not line.startswith(b"DTSTAMP"))
    return '"' + hashlib.sha256(content).hexdigest()[:32] + '"'


def _matches(header: str | None, tag: str) -> bool:
    if not header:
        return False
    tags = {t.strip().removeprefix("W/") for t in header.split(",")}
    return "*" in tags or tag in tags


class FeedServer:
    """An aiohttp server on `listen` (host:port), started and stopped by `coopbot run`."""

    def __init__(self, services: Services, listen: str) -> None:
        self.services = services
        host, _, port = listen.rpartition(":")
        self.host, self.port = host.strip("[]"), int(port)
        self._runner: web.AppRunner | None = None
        self._built: dict[int, tuple[datetime, bytes, str]] = {}  # co-op id: (when, body, ETag)
        self._building: dict[int, asyncio.Lock] = {}
        self._gate = asyncio.Semaphore(AT_ONCE)

    @property
    def bound_port(self) -> int:
        """The port listened on (the one the OS chose, for port 0)."""
        return self._runner.addresses[0][1]

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get(r"/calendar/{token:[A-Za-z0-9_-]{1,64}}.ics", self._calendar)
        # No access log: each request's path holds a feed's token, which is a secret.
        self._runner = web.AppRunner(app, access_log=None, keepalive_timeout=IDLE)
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, self.host, self.port).start()
        except BaseException:
            # Cannot listen (the port taken, the host unknown): nothing left set up behind the refusal.
            await self.stop()
            raise
        logger.info("serving calendar feeds on %s:%s", self.host, self.bound_port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _calendar(self, request: web.Request) -> web.StreamResponse:
        async with self._gate:
            return await self._answer(request)

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        stores = self.services.stores
        coop_id = await stores.feeds.coop_of(request.match_info["token"])
        coop = await stores.coops.get(coop_id) if coop_id is not None else None
        if coop is None:
            return web.Response(status=404, text=texts.FEED_NOT_FOUND)
        body, tag = await self._body(coop)
        headers = {"ETag": tag, "Cache-Control": CACHE_CONTROL}
        if _matches(request.headers.get("If-None-Match"), tag):
            return web.Response(status=304, headers=headers)
        return web.Response(body=body, headers={**headers, "Content-Type": CONTENT_TYPE})

    async def _body(self, coop: Coop) -> tuple[bytes, str]:
        """The co-op's .ics and its ETag, built again only once `FRESH` has passed since the last build."""
        async with self._building.setdefault(coop.id, asyncio.Lock()):
            now = self.services.clock.now()
            built = self._built.get(coop.id)
            if built is not None and now - built[0] < FRESH:
                return built[1], built[2]
            with i18n.use(coop_language(coop)):  # a phone's calendar shows the co-op's words
                body = await ics_of(self.services.stores, coop, now)
            self._built[coop.id] = (now, body, etag(body))
            return body, self._built[coop.id][2]
