"""A lean Bot API server for B1, in its own process: a burst of button taps served by getUpdates.

    python -m bench.botapi_server --port 8081 --delay 0.05

Every call is answered after `delay` seconds (the real server's distance over the internet).
The driver loads a burst of callback queries (POST /control/load), releases it (/control/release)
and reads what happened (GET /control/stats): when each update was first served in a getUpdates
answer and when its answerCallbackQuery arrived (monotonic clock of this process), and the times
of card edits. Only the calls the bots under test make are spoken; any other gets 404 and is
counted, so a bench run that strays is seen."""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import deque

from aiohttp import web

BOT = {"id": 4242, "is_bot": True, "first_name": "Bench", "username": "bench_bot", "can_join_groups": True,
       "can_read_all_group_messages": False, "supports_inline_queries": False}
MAX_BATCH = 100  # Telegram's upper bound for getUpdates' limit


def _ok(result) -> web.Response:
    return web.Response(body=json.dumps({"ok": True, "result": result}).encode(), content_type="application/json")


def _error(code: int, description: str) -> web.Response:
    body = {"ok": False, "error_code": code, "description": description}
    return web.Response(status=code, body=json.dumps(body).encode(), content_type="application/json")


class BenchBotAPI:
    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.held: list[dict] = []  # loaded, not released yet
        self.queue: deque[dict] = deque()  # released, not confirmed yet
        self.news = asyncio.Event()
        self.next_update_id = 1
        self.next_message_id = 1000
        self.served: dict[int, float] = {}  # update id -> first served
        self.query_update: dict[str, int] = {}  # callback query id -> update id
        self.answered: dict[int, float] = {}  # update id -> answer arrived
        self.edits: list[float] = []
        self.sent: list[float] = []
        self.unknown: dict[str, int] = {}
        self.released_at: float | None = None
        self.polls = 0
        self.methods = {
            "getme": self.get_me, "setmycommands": self.true, "deletewebhook": self.true,
            "getupdates": self.get_updates, "answercallbackquery": self.answer_callback_query,
            "sendmessage": self.send_message, "editmessagetext": self.edit_message,
            "editmessagereplymarkup": self.edit_message, "deletemessage": self.true,
            "close": self.true, "logout": self.true,
        }

    # --- Bot API ---

    async def call(self, request: web.Request) -> web.Response:
        arrived = time.monotonic()
        method = request.match_info["method"].lower()
        handler = self.methods.get(method)
        params = await _params(request)
        if handler is None:
            self.unknown[method] = self.unknown.get(method, 0) + 1
            await asyncio.sleep(self.delay)
            return _error(404, "Not Found: method not found")
        result = await handler(params, arrived)
        if isinstance(result, web.Response):
            return result
        return _ok(result)

    async def true(self, params: dict, arrived: float) -> bool:
        await asyncio.sleep(self.delay)
        return True

    async def get_me(self, params: dict, arrived: float) -> dict:
        await asyncio.sleep(self.delay)
        return BOT

    async def get_updates(self, params: dict, arrived: float):
        self.polls += 1
        offset = int(params.get("offset") or 0)
        limit = min(max(int(params.get("limit") or MAX_BATCH), 1), MAX_BATCH)
        wait = float(params.get("timeout") or 0)
        while self.queue and self.queue[0]["update_id"] < offset:
            self.queue.popleft()  # confirmed: gone for good, as on Telegram
        # The request travels to the server and its answer back: half the delay each way.
        await asyncio.sleep(self.delay / 2)
        if not self.queue and wait > 0:
            self.news.clear()
            try:
                await asyncio.wait_for(self.news.wait(), wait)
            except asyncio.TimeoutError:
                pass
        batch = [u for _, u in zip(range(limit), self.queue)]
        await asyncio.sleep(self.delay / 2)
        served = time.monotonic()
        for update in batch:
            self.served.setdefault(update["update_id"], served)
        return batch

    async def answer_callback_query(self, params: dict, arrived: float):
        update_id = self.query_update.get(params.get("callback_query_id", ""))
        await asyncio.sleep(self.delay)
        if update_id is None:
            return _error(400, "Bad Request: query is too old and response timeout expired or query ID is invalid")
        if update_id in self.answered:
            return _error(400, "Bad Request: query is too old and response timeout expired or query ID is invalid")
        self.answered[update_id] = arrived
        return True

    async def send_message(self, params: dict, arrived: float) -> dict:
        self.sent.append(arrived)
        await asyncio.sleep(self.delay)
        self.next_message_id += 1
        return self._message(int(params["chat_id"]), self.next_message_id, params.get("text", ""))

    async def edit_message(self, params: dict, arrived: float) -> dict:
        self.edits.append(arrived)
        await asyncio.sleep(self.delay)
        return self._message(int(params["chat_id"]), int(params["message_id"]), params.get("text", ""))

    @staticmethod
    def _message(chat_id: int, message_id: int, text: str) -> dict:
        chat = {"id": chat_id, "type": "supergroup", "title": "Bench"} if chat_id < 0 else \
            {"id": chat_id, "type": "private", "first_name": "M"}
        return {"message_id": message_id, "date": int(time.time()), "chat": chat, "from": BOT, "text": text}

    # --- control ---

    async def load(self, request: web.Request) -> web.Response:
        """A burst of taps: {"chat_id", "message_id", "proposal_id", "users": [ids], "options": n}."""
        spec = await request.json()
        chat = {"id": spec["chat_id"], "type": "supergroup", "title": "Bench"}
        card = {"message_id": spec["message_id"], "date": int(time.time()), "chat": chat, "from": BOT, "text": "card"}
        for i, user_id in enumerate(spec["users"]):
            query_id = f"q{self.next_update_id}"
            self.query_update[query_id] = self.next_update_id
            self.held.append({"update_id": self.next_update_id, "callback_query": {
                "id": query_id, "from": {"id": user_id, "is_bot": False, "first_name": f"M{user_id}"},
                "chat_instance": "bench", "message": card,
                "data": f"v:{spec['proposal_id']}:{i % spec['options']}",
            }})
            self.next_update_id += 1
        return _ok(len(self.held))

    async def release(self, request: web.Request) -> web.Response:
        self.released_at = time.monotonic()
        self.queue.extend(self.held)
        self.held = []
        self.news.set()
        return _ok(True)

    async def progress(self, request: web.Request) -> web.Response:
        return _ok({"polls": self.polls, "served": len(self.served), "answered": len(self.answered)})

    async def stats(self, request: web.Request) -> web.Response:
        return _ok({"released_at": self.released_at, "served": self.served, "answered": self.answered,
                    "edits": self.edits, "sent": self.sent, "unknown": self.unknown, "now": time.monotonic()})

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/control/load", self.load)
        app.router.add_post("/control/release", self.release)
        app.router.add_get("/control/progress", self.progress)
        app.router.add_get("/control/stats", self.stats)
        app.router.add_route("*", "/bot{token}/{method}", self.call)
        return app


async def _params(request: web.Request) -> dict:
    params = dict(request.query)
    if request.body_exists:
        if request.content_type == "application/json":
            params.update(await request.json())
        else:
            params.update({k: v for k, v in (await request.post()).items() if isinstance(v, str)})
    return params


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay", type=float, default=0.05)
    args = parser.parse_args()
    # No access log: at thousands of calls a second it would cost more than the answers. A long
    # poll left open by a killed bot is not waited for at shutdown.
    web.run_app(BenchBotAPI(args.delay).app(), host="127.0.0.1", port=args.port, access_log=None, print=None,
                handle_signals=True, shutdown_timeout=0.5)


if __name__ == "__main__":
    main()
