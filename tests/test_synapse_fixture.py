"""The `synapse` fixture: a real homeserver, driven by real nio clients, on 127.0.0.1 only."""

from __future__ import annotations

import asyncio
import uuid
from urllib.parse import quote

import pytest

from tests.fakes.synapse import (
    STABLE_POLL_RESPONSE,
    UNSTABLE_POLL_RESPONSE,
    UserExists,
    create_room,
    join,
    send_poll_response,
    send_text,
    wait_for_event,
)


def name(prefix: str) -> str:
    # The homeserver lives for the whole session: every test takes localparts of its own.
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def pair(synapse, tmp_path):
    """Two logged-in, encryption-capable members; closed after the test."""
    alice = await synapse.member_client(name("alice"), tmp_path)
    bob = await synapse.member_client(name("bob"), tmp_path)
    yield alice, bob
    await alice.close()
    await bob.close()


def is_text(body):
    return lambda ev: ev.get("type") == "m.room.message" and ev["content"].get("body") == body


async def test_plain_room_delivers_text(pair):
    """A message in an unencrypted room reaches the other member."""
    alice, bob = pair
    room_id = await create_room(alice, "Plain", invite=[bob.user_id])
    await join(bob, room_id)
    event_id = await send_text(alice, room_id, "hello, plain")
    got = await wait_for_event(bob, room_id, is_text("hello, plain"))
    assert got["event_id"] == event_id and got["sender"] == alice.user_id


async def test_encrypted_room_delivers_decrypted_text(synapse, pair):
    """In a megolm room the receiver gets the cleartext body, and the wire event was encrypted."""
    alice, bob = pair
    room_id = await create_room(alice, "Secret", invite=[bob.user_id], encrypted=True)
    await join(bob, room_id)
    assert bob.rooms[room_id].encrypted
    event_id = await send_text(alice, room_id, "hello, secret")
    got = await wait_for_event(bob, room_id, is_text("hello, secret"))
    assert got["event_id"] == event_id and got["sender"] == alice.user_id
    path = f"/_matrix/client/v3/rooms/{quote(room_id)}/event/{quote(event_id)}"
    on_the_server = await asyncio.to_thread(synapse.api, "GET", path, token=alice.access_token)
    assert on_the_server["type"] == "m.room.encrypted"
    assert on_the_server["content"]["algorithm"] == "m.megolm.v1.aes-sha2"


@pytest.mark.parametrize("encrypted", [False, True], ids=["plain", "encrypted"])
async def test_poll_response_keeps_its_relation(pair, encrypted):
    """Element's unstable poll response and the stable form arrive with m.relates_to intact."""
    alice, bob = pair
    room_id = await create_room(alice, "Poll", invite=[bob.user_id], encrypted=encrypted)
    await join(bob, room_id)
    poll_id = await send_text(alice, room_id, "stand-in for a poll start")
    await send_poll_response(bob, room_id, poll_id, "yes")
    got = await wait_for_event(alice, room_id, lambda ev: ev.get("type") == UNSTABLE_POLL_RESPONSE)
    assert got["content"]["m.relates_to"] == {"rel_type": "m.reference", "event_id": poll_id}
    assert got["content"][UNSTABLE_POLL_RESPONSE] == {"answers": ["yes"]}
    await send_poll_response(bob, room_id, poll_id, "no", event_type=STABLE_POLL_RESPONSE)
    got = await wait_for_event(alice, room_id, lambda ev: ev.get("type") == STABLE_POLL_RESPONSE)
    assert got["content"]["m.relates_to"]["event_id"] == poll_id
    assert got["content"]["m.selections"] == ["no"]


async def test_direct_room_and_a_burst_of_messages(synapse, pair):
    """25 quick messages in an encrypted DM (rate limits raised): a plain /sync gets a limited
    timeline (Synapse's default limit, untouched), and wait_for_event still gets all, in order."""
    alice, bob = pair
    room_id = await create_room(alice, "", invite=[bob.user_id], encrypted=True, direct=True)
    await join(bob, room_id)
    for i in range(25):
        await send_text(bob, room_id, f"line {i}")
    since = alice.next_batch
    raw = await asyncio.to_thread(
        synapse.api, "GET", f"/_matrix/client/v3/sync?since={quote(since)}", token=alice.access_token
    )  # what an adapter sees in one sync: the last 10 events, "limited", and a prev_batch to page back from
    timeline = raw["rooms"]["join"][room_id]["timeline"]
    assert timeline["limited"] and len(timeline["events"]) == 10 and timeline["prev_batch"]
    for i in range(25):
        await wait_for_event(alice, room_id, is_text(f"line {i}"))
    assert alice.rooms[room_id].member_count == 2
    path = f"/_matrix/client/v3/user/{quote(alice.user_id)}/account_data/m.direct"
    assert await asyncio.to_thread(synapse.api, "GET", path, token=alice.access_token) == {bob.user_id: [room_id]}


async def test_register_refuses_an_existing_user(synapse):
    """register() returns (user_id, token) once; a taken localpart raises UserExists."""
    localpart = name("carol")
    user_id, token = await synapse.register(localpart)
    assert user_id == f"@{localpart}:{synapse.server_name}" and token
    with pytest.raises(UserExists):
        await synapse.register(localpart)


def test_override_ratelimit(synapse):
    """The admin API lifts a user's message rate limit."""
    user_id, _ = synapse.register_sync(name("dave"))
    assert synapse.override_ratelimit(user_id) == {"messages_per_second": 0, "burst_count": 0}
