"""An aiohttp transport for python-telegram-bot: the same Bot API calls at a fraction of httpx's CPU."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any
from urllib.parse import urlencode

import aiohttp
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

logger = logging.getLogger(__name__)

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _given(value, default: float | None) -> float | None:
    return default if value is BaseRequest.DEFAULT_NONE else value


class AiohttpRequest(BaseRequest):
    """`telegram.request.BaseRequest` over one `aiohttp.ClientSession`.

    Timeouts mean what they mean for `HTTPXRequest`: `read_timeout` between bytes of the answer,
    `connect_timeout` to open a connection, `pool_timeout` to wait for a free one (aiohttp counts
    the wait for the pool inside its `connect` timeout, so that one is their sum). A timeout
    becomes `TimedOut`, any other transport failure `NetworkError`, as PTB expects."""

    __slots__ = ("_pool_size", "_timeouts", "_session")

    def __init__(
        self,
        connection_pool_size: int = 64,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 30.0,
    ) -> None:
        self._pool_size = connection_pool_size
        self._timeouts = {"read": read_timeout, "write": write_timeout, "connect": connect_timeout,
                          "pool": pool_timeout}
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        return self._timeouts["read"]

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            # Connections are kept alive and reused: a burst of answers must not pay a TCP
            # handshake each. `limit` caps them; beyond it a call waits for a free one.
            connector = aiohttp.TCPConnector(limit=self._pool_size, limit_per_host=0, keepalive_timeout=60)
            self._session = aiohttp.ClientSession(connector=connector, headers={"User-Agent": self.USER_AGENT})

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()

    def _timeout(self, read, write, connect, pool, files: bool) -> aiohttp.ClientTimeout:
        read = _given(read, self._timeouts["read"])
        connect = _given(connect, self._timeouts["connect"])
        pool = _given(pool, self._timeouts["pool"])
        # aiohttp has no write timeout of its own; an upload is bounded by the total instead.
        write = _given(write, self._timeouts["write"])
        total = None
        if files and write is not None and read is not None:
            total = write + read + (connect or 0) + (pool or 0)
        waiting = None if connect is None or pool is None else connect + pool
        return aiohttp.ClientTimeout(total=total, connect=waiting, sock_connect=connect, sock_read=read)

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout=BaseRequest.DEFAULT_NONE,
        write_timeout=BaseRequest.DEFAULT_NONE,
        connect_timeout=BaseRequest.DEFAULT_NONE,
        pool_timeout=BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self._session is None or self._session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        files = bool(request_data and request_data.contains_files)
        timeout = self._timeout(read_timeout, write_timeout, connect_timeout, pool_timeout, files)
        body, headers = _body(request_data)
        try:
            async with self._session.request(method, url, data=body, headers=headers, timeout=timeout) as response:
                return response.status, await response.read()
        except asyncio.TimeoutError as exc:  # also aiohttp's ServerTimeoutError and ConnectionTimeoutError
            raise TimedOut from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(f"aiohttp.{type(exc).__name__}: {exc}") from exc

    async def post_form(self, url: str, params: dict[str, Any], read_timeout=BaseRequest.DEFAULT_NONE) -> Any:
        """A Bot API call whose result is wanted as JSON, not as PTB objects: for getUpdates in a
        burst, building PTB's Update objects costs more than the rest of handling a tap. Errors
        are raised as by `post` (RetryAfter, Conflict, NetworkError...)."""
        payload = await self._request_wrapper(url=url, method="POST", request_data=_Form(params),
                                              read_timeout=read_timeout)
        return self.parse_json_payload(payload)["result"]


class _Form:
    """Parameters for `post_form`, encoded as PTB encodes them: strings as they are, the rest as JSON."""

    contains_files = False

    def __init__(self, params: dict[str, Any]) -> None:
        self.params = {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items() if v is not None}

    def url_encoded_parameters(self) -> str:
        return urlencode(self.params)


def _body(request_data: RequestData | _Form | None):
    """Parameters as a urlencoded form, as PTB's own client sends them; multipart with files."""
    if request_data is None:
        return None, None
    if not request_data.contains_files:
        return request_data.url_encoded_parameters().encode(), FORM
    form = aiohttp.FormData()
    for name, value in request_data.json_parameters.items():
        form.add_field(name, value)
    for name, (filename, content, mimetype) in request_data.multipart_data.items():
        form.add_field(name, content, filename=filename, content_type=mimetype)
    return form, None
