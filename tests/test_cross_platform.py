"""One co-op across a Telegram group and a Matrix room: one register, one count."""

from __future__ import annotations

import asyncio
import re

import pytest

from bot.config import Settings
from bot.matrix.adapter import MatrixAdapter
from bot.services import Services
from bot.telegram.adapter import TelegramAdapter
from tests.fakes.synapse import create_room, join, send_poll_response, wait_for_event
from tests.fakes.telegram_api import FakeBotAPI
from tests.test_matrix import POLL_START, body, notice_with, say
from tests.test_telegram import GROUP, STEWARD

MEMBER = 1000  # the member's Telegram id


async def test_a_linked_member_votes_on_both_platforms_and_counts_once(synapse, tmp_path):
    """`roomcode` on Telegram and `bind` in Matrix join both rooms to one co-op; `link` (asked on
    Matrix, confirmed on Telegram, each told in its direct chat) makes one member of a Telegram
    and a Matrix account; that member's votes from both count once, the
    last choice standing; proposals and results reach both rooms."""
    bot_user, _ = await synapse.register("coopbotx", "bot-password")
    async with FakeBotAPI() as fake:
        settings = Settings(
            database_url=f"sqlite:///{tmp_path / 'coopbot.db'}", data_dir=tmp_path / "data",
            telegram_token=fake.token, telegram_api_url=fake.url,
            matrix_homeserver=synapse.base_url, matrix_user=bot_user, matrix_password="bot-password",
            matrix_store_key="k",
        )
        services = await Services.start(settings)
        stop = asyncio.Event()
        adapters = [TelegramAdapter(services, settings), MatrixAdapter(services, settings)]
        tasks = [asyncio.create_task(a.run(stop)) for a in adapters]
        alice = await synapse.member_client("alicex", tmp_path / "members", encrypted=False)
        bob = await synapse.member_client("bobx", tmp_path / "members", encrypted=False)
        try:
            async def telegram(user: int, text: str, chat: int = GROUP) -> str:
                before = len(fake.calls_to("sendMessage"))
                fake.command(chat, user, text, first_name=f"user{user}")
                sent = await fake.wait_for(
                    lambda f: [c for c in f.calls_to("sendMessage")[before:] if c.params["chat_id"] == chat], timeout=20
                )
                return sent[0].params["text"]

            assert "set up" in await telegram(STEWARD, "/setup Red Bakery")
            code = re.search(r"Room code: (\S+)", await telegram(STEWARD, "/roomcode")).group(1)
            # The steward's Matrix account becomes the same steward: link (asked from Matrix, told
            # and confirmed on Telegram, told back on Matrix), then bind.
            steward_link = re.search(r"Link code: (\S+)", await telegram(STEWARD, "/link", chat=STEWARD)).group(1)
            alice_dm = await create_room(alice, "", invite=[bot_user], direct=True)
            await wait_for_event(alice, alice_dm, notice_with("!setup"), 30)
            await say(alice, alice_dm, f"!link {steward_link}", "/link yes")
            await fake.wait_for(lambda f: any(f"Matrix account {alice.user_id}" in t for t in f.texts(STEWARD)), timeout=20)
            assert "Linked: the Matrix account" in await telegram(STEWARD, "/link yes", chat=STEWARD)
            await wait_for_event(alice, alice_dm, notice_with("Linked: this account now speaks and votes as"), 30)
            room_id = await create_room(alice, "Bakery", invite=[bot_user, bob.user_id])
            await join(bob, room_id)
            await wait_for_event(alice, room_id, notice_with("!setup"), 30)
            await say(alice, room_id, f"!bind {code}", "now bound to Red Bakery")

            assert "admitted" in await telegram(STEWARD, f"/admit {MEMBER}")
            link = re.search(r"Link code: (\S+)", await telegram(MEMBER, "/link", chat=MEMBER)).group(1)
            dm = await create_room(bob, "", invite=[bot_user], direct=True)
            await wait_for_event(bob, dm, notice_with("!setup"), 30)
            await say(bob, dm, f"!link {link}", "/link yes")
            await fake.wait_for(lambda f: any(f"Matrix account {bob.user_id}" in t for t in f.texts(MEMBER)), timeout=20)
            assert "Linked" in await telegram(MEMBER, "/link yes", chat=MEMBER)
            await wait_for_event(bob, dm, notice_with("Linked: this account now speaks and votes as"), 30)

            fake.command(GROUP, STEWARD, "/propose Shared van", first_name="Ann")
            poll = await wait_for_event(bob, room_id, lambda s: s.get("type") == POLL_START, 30)
            await fake.wait_for(lambda f: any(t.startswith("Proposal #1: Shared van") for t in f.texts(GROUP)))
            message_id = next(m for m, v in fake.messages(GROUP).items() if v["text"].startswith("Proposal #1:"))

            fake.callback(GROUP, MEMBER, message_id, "v:1:0", first_name=f"user{MEMBER}")
            answer = await fake.wait_for(lambda f: f.calls_to("answerCallbackQuery"))
            assert answer[0].params["text"] == "Recorded: For on #1."
            await send_poll_response(bob, room_id, poll["event_id"], "o1")
            p = (await services.stores.proposals.list(1))[0]
            for _ in range(200):
                if await services.stores.proposals.counts(p.id, 3) == [0, 1, 0]:
                    break
                await asyncio.sleep(0.1)
            ballots = await services.stores.votes.ballots(p.id)
            assert [b.option for b in ballots] == [1]  # one member, one vote: the last choice
            assert await services.stores.proposals.recount(p.id, 3) == [0, 1, 0]

            fake.command(GROUP, STEWARD, "/close 1", first_name="Ann")
            result = await wait_for_event(alice, room_id, notice_with("Result of #1 Shared van"), 30)
            assert "Against 1" in body(result) and "Turnout: 1 of 2 (50%)" in body(result)
            await fake.wait_for(lambda f: any(t.startswith("Result of #1 Shared van") for t in f.texts(GROUP)))
        finally:
            stop.set()
            await asyncio.gather(*tasks)
            await alice.close()
            await bob.close()
            await services.close()
        fake.assert_clean()
