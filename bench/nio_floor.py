"""The B2 floor: a bare matrix-nio client, in its own process, that only syncs a room's poll responses.

python -m bench.nio_floor HOMESERVER USER PASSWORD ROOM_ID; then on stdin `watch POLL_ID COUNT`:
it answers `watching`, and `seen` once COUNT responses to that poll have come in (backfilling
limited syncs as any bot must). What it costs is what any bot on matrix-nio pays for the burst."""

from __future__ import annotations

import asyncio
import sys

from nio import AsyncClient, LoginResponse, MessageDirection, RoomMessagesResponse, SyncResponse, UnknownEvent

# The bot's own filter (bot/matrix/adapter.py SYNC_FILTER), so both get the same syncs.
SYNC_FILTER = {"presence": {"not_types": ["*"]}, "account_data": {"not_types": ["*"]},
               "room": {"ephemeral": {"not_types": ["*"]}}}
RESPONSES = ("org.matrix.msc3381.poll.response", "m.poll.response")


class Watch:
    """The poll being watched, and the responses to it seen so far."""

    def __init__(self) -> None:
        self.poll_id: str | None = None
        self.want = 0
        self.seen: set[str] = set()

    def start(self, poll_id: str, want: int) -> None:
        self.poll_id, self.want, self.seen = poll_id, want, set()
        print("watching", flush=True)

    def add(self, event) -> None:
        if not isinstance(event, UnknownEvent) or event.type not in RESPONSES or self.poll_id is None:
            return
        if event.source.get("content", {}).get("m.relates_to", {}).get("event_id") == self.poll_id:
            self.seen.add(event.event_id)
            if len(self.seen) >= self.want:
                print("seen", flush=True)
                self.poll_id = None


async def backfill(client: AsyncClient, room_id: str, token: str, since: str) -> list:
    events: list = []
    while True:
        page = await client.room_messages(room_id, start=token, end=since, direction=MessageDirection.back, limit=100)
        if not isinstance(page, RoomMessagesResponse):
            raise RuntimeError(f"backfill failed: {page}")
        events.extend(page.chunk)
        if not page.chunk or not page.end or page.end == token:
            return events
        token = page.end


async def read_commands(watch: Watch) -> None:
    while line := await asyncio.to_thread(sys.stdin.readline):
        verb, poll_id, want = line.split()
        if verb == "watch":
            watch.start(poll_id, int(want))


async def main(homeserver: str, user: str, password: str, room_id: str) -> None:
    client = AsyncClient(homeserver, user)
    try:
        if not isinstance(await client.login(password), LoginResponse):
            raise RuntimeError("floor login failed")
        first = await client.sync(timeout=0, full_state=True, sync_filter=SYNC_FILTER)
        if not isinstance(first, SyncResponse):
            raise RuntimeError(f"first sync failed: {first}")
        since, watch = first.next_batch, Watch()
        print("ready", flush=True)
        commands = asyncio.create_task(read_commands(watch))
        while not commands.done():
            response = await client.sync(timeout=30_000, since=since, sync_filter=SYNC_FILTER)
            if not isinstance(response, SyncResponse):
                continue
            room = response.rooms.join.get(room_id)
            if room is not None:
                events = list(room.timeline.events)
                if room.timeline.limited:
                    events = await backfill(client, room_id, room.timeline.prev_batch, since) + events
                for event in events:
                    watch.add(event)
            since = response.next_batch
    finally:
        await client.close()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
