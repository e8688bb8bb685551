"""The Matrix adapter against a real Synapse on 127.0.0.1, with matrix-nio clients as members."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import sys
import urllib.parse
from pathlib import Path

import aiohttp
import pytest

from bot.config import Settings
from bot.matrix.adapter import MatrixAdapter
from bot.services import Services
from storage.db import Database
from storage.stores import Stores
from tests.fakes.synapse import (
    UNSTABLE_POLL_RESPONSE,
    UserExists,
    create_room,
    join,
    send_poll_response,
    send_text,
    wait_for_event,
)

ROOT = Path(__file__).resolve().parent.parent
POLL_START = "org.matrix.msc3381.poll.start"
POLL_END = "org.matrix.msc3381.poll.end"
_names = itertools.count(1)


def body(source: dict) -> str:
    content = source.get("content", {})
    return content.get("m.new_content", {}).get("body") or content.get("body") or ""


def notice_with(text: str):
    def match(source: dict) -> bool:
        return source.get("type") == "m.room.message" and text in body(source)
    match.__name__ = f"notice containing {text!r}"
    return match


class Bot:
    """coopbot's Matrix adapter in this process, logged in as its own user on the test Synapse."""

    def __init__(self, synapse, tmp_path: Path, localpart: str) -> None:
        self.synapse = synapse
        self.localpart = localpart
        self.user_id = synapse.user_id(localpart)
        self.settings = Settings(
            database_url=f"sqlite:///{tmp_path / 'coopbot.db'}", data_dir=tmp_path / "data",
            matrix_homeserver=synapse.base_url, matrix_user=self.user_id, matrix_password="bot-password",
            matrix_store_key="store-key-for-tests",
        )

    async def start(self) -> Bot:
        try:
            await self.synapse.register(self.localpart, "bot-password")
        except UserExists:
            pass
        self.services = await Services.start(self.settings)
        self.adapter = MatrixAdapter(self.services, self.settings)
        self.stop = asyncio.Event()
        self.task = asyncio.create_task(self.adapter.run(self.stop))
        return self

    async def close(self) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, 60)
        await self.services.close()

    @property
    def stores(self) -> Stores:
        return self.services.stores


@pytest.fixture
async def bot(synapse, tmp_path):
    b = await Bot(synapse, tmp_path, f"coopbot{next(_names)}").start()
    yield b
    await b.close()


@pytest.fixture
async def people(synapse, tmp_path):
    """Member clients by name, created on demand and closed afterwards; names are unique per test."""
    clients: dict[str, object] = {}
    suffix = next(_names)

    async def person(name: str, encrypted: bool = True):
        if name not in clients:
            clients[name] = await synapse.member_client(f"{name}{suffix}", tmp_path / "members", encrypted=encrypted)
        return clients[name]

    yield person
    for client in clients.values():
        await client.close()


async def say(client, room_id: str, text: str, expect: str, timeout: float = 30) -> dict:
    await send_text(client, room_id, text)
    return await wait_for_event(client, room_id, notice_with(expect), timeout)


async def co_op_room(bot: Bot, alice, *, encrypted: bool, members: list = ()) -> str:
    """A room with the bot, a co-op set up by alice, and `members` admitted and joined."""
    room_id = await create_room(alice, "Bakery", invite=[bot.user_id] + [m.user_id for m in members], encrypted=encrypted)
    await wait_for_event(alice, room_id, notice_with("!setup"), 30)
    await say(alice, room_id, "!setup Red Bakery", "is set up")
    for member in members:
        await join(member, room_id)
        await say(alice, room_id, f"!admit {member.user_id}", "is admitted")
    return room_id


async def whole_proposal(bot: Bot, people, encrypted: bool) -> None:
    alice, bob, carol = await people("alice"), await people("bob"), await people("carol")
    room_id = await co_op_room(bot, alice, encrypted=encrypted, members=[bob, carol])
    await send_text(alice, room_id, "!propose Buy a van\ncloses: 48h\nWe need deliveries.")
    poll = await wait_for_event(bob, room_id, lambda s: s.get("type") == POLL_START, 30)
    start = poll["content"][POLL_START]
    assert [a["org.matrix.msc1767.text"] for a in start["answers"]] == ["For", "Against", "Abstain"]
    assert "Buy a van" in start["question"]["org.matrix.msc1767.text"]
    assert "Buy a van" in poll["content"]["body"]  # the fallback for clients without polls
    card = await wait_for_event(bob, room_id, notice_with("Proposal #1: Buy a van"), 30)
    assert "ordinary" in body(card) and "open ballot" in body(card) and "Closes" in body(card)

    answers = {a["org.matrix.msc1767.text"]: a["id"] for a in start["answers"]}
    await send_poll_response(bob, room_id, poll["event_id"], answers["Against"])
    await send_poll_response(bob, room_id, poll["event_id"], answers["For"])  # a changed vote: the last counts
    await say(carol, room_id, "!vote 1 Abstain", "Recorded: Abstain on #1")
    await say(alice, room_id, "/vote 1 for", "Recorded: For on #1")  # a passed-through /verb works too
    edited = await wait_for_event(
        alice, room_id, lambda s: "m.new_content" in s.get("content", {}) and "For 2 · Against 0 · Abstain 1" in body(s), 30
    )
    assert edited["content"]["m.relates_to"] == {"rel_type": "m.replace", "event_id": card["event_id"]}
    result = await say(alice, room_id, "!close 1 done", "Result of #1 Buy a van: passed.")
    assert "For 2 · Against 0 · Abstain 1" in body(result) and "Turnout: 3 of 3 (100%)" in body(result)
    ended = await wait_for_event(alice, room_id, lambda s: s.get("type") == POLL_END, 30)
    assert ended["content"]["m.relates_to"]["event_id"] == poll["event_id"]


async def test_whole_proposal_in_an_unencrypted_room(bot, people):
    """A proposal as a native poll, votes by poll response and by !vote, a changed vote, the card
    kept current by edits, and the result with the poll ended."""
    await whole_proposal(bot, people, encrypted=False)


async def test_whole_proposal_in_an_encrypted_room(bot, people):
    """The same in an encrypted room: the bot reads members' encrypted commands and responses, and
    its own messages are encrypted."""
    await whole_proposal(bot, people, encrypted=True)


async def test_a_non_members_poll_response_is_ignored_with_a_notice(bot, people):
    """Someone in the room but not on the register: their response is not counted, and told so."""
    alice, mallory = await people("alice", False), await people("mallory", False)
    room_id = await co_op_room(bot, alice, encrypted=False)
    await alice.room_invite(room_id, mallory.user_id)  # the room is private: alice invites mallory
    await join(mallory, room_id)
    await send_text(alice, room_id, "!propose Lunch")
    poll = await wait_for_event(mallory, room_id, lambda s: s.get("type") == POLL_START, 30)
    await send_poll_response(mallory, room_id, poll["event_id"], "o0")
    note = await wait_for_event(alice, room_id, notice_with("not on its register"), 30)
    assert "!join" in body(note)
    p = (await bot.stores.proposals.list(1))[0]
    assert await bot.stores.votes.ballots(p.id) == []


async def test_secret_ballot_is_cast_in_a_direct_chat(bot, people):
    """A secret ballot gets no public poll; a member votes by !vote in a direct chat with the bot,
    and the room's card shows turnout only."""
    alice, bob = await people("alice", False), await people("bob", False)
    room_id = await co_op_room(bot, alice, encrypted=False, members=[bob])
    await send_text(alice, room_id, "!propose Pay rise\nballot: secret")
    card = await wait_for_event(bob, room_id, notice_with("Proposal #1: Pay rise"), 30)
    assert "secret ballot" in body(card)
    dm = await create_room(bob, "", invite=[bot.user_id], direct=True)
    await wait_for_event(bob, dm, notice_with("!setup"), 30)
    ack = await say(bob, dm, "!vote 1 Against", "Recorded: Against on #1")
    assert ack["room_id"] if "room_id" in ack else True
    edited = await wait_for_event(alice, room_id, lambda s: "1 of 2 voted (secret ballot" in body(s), 30)
    assert "Against 1" not in body(edited)
