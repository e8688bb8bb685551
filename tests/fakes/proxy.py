"""A reverse proxy on 127.0.0.1 in front of a homeserver, which a test can switch to answer 502."""

from __future__ import annotations

import aiohttp
from aiohttp import web

from tests.fakes.synapse import free_port

# Headers that belong to one hop, not to the request or response passed on.
HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "host", "content-length", "content-encoding"})


class OutageProxy:
    """Forwards every request to `upstream`; while `down`, answers each one 502 Bad Gateway (as a
    load balancer does while the homeserver behind it restarts). `bad_gateways` counts them."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.down = False
        self.bad_gateways = 0
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> OutageProxy:
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None), auto_decompress=False)
        return self

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        if self.down:
            self.bad_gateways += 1
            return web.Response(status=502, text="<html><body>502 Bad Gateway</body></html>", content_type="text/html")
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP}
        async with self._session.request(
            request.method, self.upstream + request.rel_url.raw_path_qs, headers=headers, data=await request.read(),
        ) as upstream:
            body = await upstream.read()
            out = {k: v for k, v in upstream.headers.items() if k.lower() not in HOP}
            return web.Response(status=upstream.status, body=body, headers=out)
