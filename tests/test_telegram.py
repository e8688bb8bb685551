"""The Telegram adapter through the real python-telegram-bot stack, against a local Bot API."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.config import Settings
from bot.services import Services
from bot.telegram.adapter import CARD_EDIT_INTERVAL, NOTICE_INTERVAL, TelegramAdapter
from storage.db import Database
from storage.stores import Stores
from tests.fakes.telegram_api import ANONYMOUS_ADMIN, CHANNEL_BOT, FakeBotAPI

GROUP = -1001
STEWARD = 1
ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "telegram"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Harness:
    """A coopbot Telegram adapter running in this process against the fake Bot API."""

    def __init__(self, fake: FakeBotAPI, tmp_path: Path, **settings) -> None:
        self.fake = fake
        self.settings = Settings(
            database_url=f"sqlite:///{tmp_path / 'coopbot.db'}", data_dir=tmp_path,
            telegram_token=fake.token, telegram_api_url=fake.url, **settings,
        )

    async def start(self) -> Harness:
        self.services = await Services.start(self.settings)
        self.adapter = TelegramAdapter(self.services, self.settings)
        self.stop = asyncio.Event()
        self.task = asyncio.create_task(self.adapter.run(self.stop))
        if not self.settings.telegram_webhook_url:
            await self.fake.wait_for(lambda f: f.calls_to("getUpdates"))
        else:
            await self.fake.wait_for(lambda f: f.calls_to("setWebhook"))
        return self

    async def close(self) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, 30)
        await self.services.close()

    @property
    def stores(self) -> Stores:
        return self.services.stores

    async def say(self, user: int, text: str, chat: int = GROUP, **kw) -> str:
        """Send a command and wait for the bot's reply in that chat (or the user's DM); the
        update it came in is kept as `said`."""
        def send() -> None:
            self.said = self.fake.command(chat, user, text, first_name=f"user{user}", **kw)

        return (await self._answer(send, chat, user))["text"]

    async def push(self, message: dict, *, edited: bool = False) -> dict:
        """Push a Message (a fixture's) and wait for the bot's reply: its sendMessage parameters."""
        return await self._answer(lambda: self.fake.push_message(message, edited=edited),
                                  message["chat"]["id"], message["from"]["id"])

    async def _answer(self, send, chat: int, user: int) -> dict:
        before = len(self.fake.calls_to("sendMessage"))
        send()
        sent = await self.fake.wait_for(
            lambda f: [c for c in f.calls_to("sendMessage")[before:] if c.ok and c.params["chat_id"] in (chat, user)]
        )
        return sent[0].params

    async def tap(self, user: int, message_id: int, data: str, chat: int = GROUP, **kw) -> str:
        """Tap a button and wait for the answer only this user sees."""
        update = self.fake.callback(chat, user, message_id, data, first_name=f"user{user}", **kw)
        query_id = update["callback_query"]["id"]
        answer = await self.fake.wait_for(
            lambda f: [c for c in f.calls_to("answerCallbackQuery") if c.params["callback_query_id"] == query_id]
        )
        return answer[0].params.get("text", "")

    def card(self, number: int = 1, chat: int = GROUP) -> tuple[int, dict]:
        for message_id, message in self.fake.messages(chat).items():
            if message["text"].startswith(f"Proposal #{number}:"):
                return message_id, message
        raise AssertionError(f"no card for #{number} in {chat}:\n{self.fake.summary()}")

    async def seed_members(self, count: int) -> list[int]:
        """Members admitted straight through the store (admitting 500 by command would take
        Telegram's rate limit half an hour); returns their Telegram ids."""
        coop = await self.stores.coops.get_by_room("telegram", str(GROUP))
        steward = await self.stores.members.by_account(coop.id, "telegram", str(STEWARD))
        ids = list(range(1000, 1000 + count))
        for uid in ids:
            await self.stores.members.admit(
                coop.id, member_id=None, new_account=("telegram", str(uid), f"user{uid}"), role="member",
                by=steward.id, now=self.services.clock.now(),
            )
        return ids


def fixture(name: str) -> dict:
    """A Bot API update from tests/fixtures/telegram (where each shape comes from: its README)."""
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def edit_of(original: dict, text: str) -> dict:
    """`edited_message.json` made the edit of `original` (a message update the fake delivered) to `text`."""
    shape, message = fixture("edited_message.json")["edited_message"], original["message"]
    edited = {**shape, **{k: message[k] for k in ("message_id", "from", "chat", "date")}, "text": text,
              "edit_date": message["date"] + shape["edit_date"] - shape["date"]}
    command = text.split(maxsplit=1)[0] if text.startswith("/") else None
    edited["entities"] = [{**shape["entities"][0], "length": len(command)}] if command else []
    return edited


@pytest.fixture
async def fake():
    async with FakeBotAPI() as api:
        yield api
        api.assert_clean()


@pytest.fixture
async def tg(fake, tmp_path):
    harness = await Harness(fake, tmp_path).start()
    yield harness
    await harness.close()


async def coop_with_proposal(tg: Harness, members: int = 3, extra: str = "") -> tuple[int, list[int]]:
    assert "set up" in await tg.say(STEWARD, "/setup Red Bakery")
    ids = await tg.seed_members(members)
    tg.fake.command(GROUP, STEWARD, "/propose Buy a van" + extra, first_name="user1")
    await tg.fake.wait_for(lambda f: any(t.startswith("Proposal #1:") for t in f.texts(GROUP)))
    message_id, _ = tg.card()
    return message_id, ids


async def test_startup_registers_command_hints(tg, fake):
    """Command hints are registered with setMyCommands, one per verb."""
    commands = {c["command"] for c in fake.my_commands()}
    assert {"help", "setup", "propose", "vote", "close", "withdraw"} <= commands
    # And for members whose Telegram speaks Spanish, French or German: the same verbs, said in it.
    for code, said in (("es", "emitir o cambiar tu voto"), ("fr", None), ("de", None)):
        menu = {c["command"]: c["description"] for c in fake.my_commands(language_code=code)}
        assert set(menu) == commands, code
        english = {c["command"]: c["description"] for c in fake.my_commands()}
        assert menu["vote"] != english["vote"] and (said is None or menu["vote"] == said), menu["vote"]


async def test_whole_proposal_from_propose_to_result(tg, fake):
    """/propose shows a card with one button per option; taps are answered privately and the card
    keeps count; /close announces the result and the card loses its buttons."""
    message_id, ids = await coop_with_proposal(tg, 3, "\ncloses: 48h\nWe need deliveries.")
    _, card = tg.card()
    assert "Buy a van" in card["text"] and "ordinary" in card["text"] and "open ballot" in card["text"]
    assert "Closes" in card["text"] and "UTC" in card["text"]
    buttons = [b for row in card["reply_markup"]["inline_keyboard"] for b in row]
    assert [b["text"] for b in buttons] == ["For", "Against", "Abstain", "Take my vote back"]
    assert all(len(b["callback_data"].encode()) <= 64 for b in buttons)
    data = [b["callback_data"] for b in buttons]

    assert await tg.tap(ids[0], message_id, data[0]) == "Recorded: For on #1."
    assert await tg.tap(ids[1], message_id, data[1]) == "Recorded: Against on #1."
    assert await tg.tap(ids[1], message_id, data[0]) == "Changed: For on #1 (was Against)."
    assert await tg.tap(STEWARD, message_id, data[2]) == "Recorded: Abstain on #1."
    await fake.wait_for(lambda f: "For 2 · Against 0 · Abstain 1 (3 of 4 voted)" in tg.card()[1]["text"], timeout=15)

    reply_count = len(fake.calls_to("sendMessage"))
    fake.command(GROUP, STEWARD, "/close@coopbot 1 enough said", first_name="user1")
    result = await fake.wait_for(
        lambda f: [c.params["text"] for c in f.calls_to("sendMessage")[reply_count:] if "Result of #1" in c.params["text"]]
    )
    assert result[0].startswith("Result of #1 Buy a van: passed.")
    assert "For 2 · Against 0 · Abstain 1" in result[0] and "Turnout: 3 of 4 (75%)" in result[0]
    assert "quorum 50% met" in result[0] and "threshold more than 1/2" in result[0]
    await fake.wait_for(lambda f: tg.card()[1]["reply_markup"] is None, timeout=15)
    assert "Result of #1" in tg.card()[1]["text"]
    assert "can no longer change" in await tg.tap(ids[2], message_id, data[0], check_button=False)


async def test_verbs_work_in_direct_chats_and_with_the_bot_name(tg, fake):
    """/help in a direct chat, /whoami@coopbot in a group; a command for another bot is ignored."""
    assert "Commands" in await tg.say(5, "/help", chat=5)
    assert "no co-op yet" in await tg.say(5, "/whoami@coopbot")
    before = len(fake.calls)
    fake.command(GROUP, 5, "/help@otherbot")
    await fake.wait_for(lambda f: len(f.update_ids()) == 0 and len(f.calls_to("getUpdates")) > 3)
    await asyncio.sleep(0.3)
    assert not [c for c in fake.calls[before:] if c.method == "sendMessage"]


async def test_500_members_tap_within_a_second(tg, fake):
    """A burst of 500 taps: every tap answered, the tally equals a recount, and the card is edited
    within Telegram's limits (no more than one edit per card every few seconds)."""
    message_id, ids = await coop_with_proposal(tg, 500)
    for i, uid in enumerate(ids):
        fake.callback(GROUP, uid, message_id, f"v:1:{i % 3}")
    await fake.wait_for(lambda f: len(f.calls_to("answerCallbackQuery")) == 500, timeout=120)
    answers = [c.params.get("text", "") for c in fake.calls_to("answerCallbackQuery")]
    assert all(a.startswith("Recorded:") for a in answers)
    p = await tg.stores.proposals.get(1, 1)
    counts = await tg.stores.proposals.counts(p.id, 3)
    assert sum(counts) == 500 and counts == await tg.stores.proposals.recount(p.id, 3)
    await fake.wait_for(lambda f: "(500 of 501 voted)" in tg.card()[1]["text"], timeout=30)
    edits = [c for c in fake.calls_to("editMessageText") if c.ok]
    gaps = [b.at - a.at for a, b in zip(edits, edits[1:])]
    assert all(gap >= CARD_EDIT_INTERVAL - 0.1 for gap in gaps), gaps
    assert fake.throttled == 0


async def test_the_same_update_delivered_twice_counts_once(tg, fake):
    """Telegram may deliver an update twice: the vote is counted once."""
    message_id, ids = await coop_with_proposal(tg, 2)
    update = fake.callback(GROUP, ids[0], message_id, "v:1:1")
    fake.push_update(dict(update))  # the very same update, same update_id, in the same batch
    await fake.wait_for(lambda f: len(f.calls_to("answerCallbackQuery")) == 2)
    assert fake.calls_to("answerCallbackQuery")[0].params["text"] == "Recorded: Against on #1."
    p = await tg.stores.proposals.get(1, 1)
    assert await tg.stores.proposals.counts(p.id, 3) == [0, 1, 0]
    assert await tg.stores.proposals.recount(p.id, 3) == [0, 1, 0]


async def test_forged_and_stale_button_data_is_refused(tg, fake):
    """Data for another co-op, an unknown proposal or option, or garbage, records nothing."""
    message_id, ids = await coop_with_proposal(tg, 2)
    other = -2002
    assert "set up" in await tg.say(9, "/setup Other Co-op", chat=other)
    fake.command(other, 9, "/propose Their matter")
    await fake.wait_for(lambda f: any(t.startswith("Proposal #1:") for t in f.texts(other)))
    theirs = (await tg.stores.proposals.list(2))[0]
    cases = {
        f"v:{theirs.id}:0": "belongs to no proposal",
        "v:999999:0": "belongs to no proposal",
        "v:1:7": "has no option",
        "v:1:-1": "not valid",
        "DROP TABLE ballot": "not valid",
        "v:1:0:extra": "not valid",
        "u:999999": "belongs to no proposal",
    }
    for data, expected in cases.items():
        assert expected in await tg.tap(ids[0], message_id, data, check_button=False), data
    ours = (await tg.stores.proposals.list(1))[0]
    assert await tg.stores.votes.ballots(ours.id) == [] and await tg.stores.votes.ballots(theirs.id) == []


async def test_a_non_members_tap_records_nothing_and_says_how_to_join(tg, fake):
    """A tap by someone not on the register: refused with how to be admitted."""
    message_id, _ = await coop_with_proposal(tg, 1)
    answer = await tg.tap(4242, message_id, "v:1:0")
    assert "not on its register" in answer and "/join" in answer
    p = await tg.stores.proposals.get(1, 1)
    assert await tg.stores.votes.ballots(p.id) == []


async def test_secret_ballot_card_shows_turnout_only(tg, fake):
    """A secret ballot's card shows how many voted, never the counts, until it closes."""
    message_id, ids = await coop_with_proposal(tg, 2, "\nballot: secret")
    assert await tg.tap(ids[0], message_id, "v:1:1") == "Recorded: Against on #1."
    await fake.wait_for(lambda f: "1 of 3 voted (secret ballot" in tg.card()[1]["text"], timeout=15)
    assert "Against 1" not in tg.card()[1]["text"]


async def test_429_storm_is_obeyed_without_holding_up_answers(tg, fake):
    """Edits and messages answered with 429 wait out retry_after; taps are still answered at once."""
    message_id, ids = await coop_with_proposal(tg, 40)
    fake.fail_next("editMessageText", 3, retry_after=2)
    fake.rate_limit("sendMessage", GROUP, per_minute=2)
    for i, uid in enumerate(ids):
        fake.callback(GROUP, uid, message_id, f"v:1:{i % 2}")
    await fake.wait_for(lambda f: len(f.calls_to("answerCallbackQuery")) == 40, timeout=30)
    await fake.wait_for(lambda f: "(40 of 41 voted)" in tg.card()[1]["text"], timeout=60)
    edits = fake.calls_to("editMessageText")
    assert sum(c.throttled for c in edits) == 3
    # After each 429 the bot leaves that chat alone for retry_after before editing again.
    for before, after in zip(edits, edits[1:]):
        if before.throttled:
            assert after.at - before.at >= 1.9


async def test_webhook_refuses_requests_without_the_secret(fake, tmp_path):
    """Webhook mode: no secret or a wrong one gets 403 and nothing is processed; the right one works."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram"
    harness = await Harness(
        fake, tmp_path, telegram_webhook_url=url, telegram_webhook_secret="s3cret-token_1",
        telegram_webhook_listen=f"127.0.0.1:{port}",
    ).start()
    try:
        assert fake.webhook["url"] == url and fake.webhook["secret_token"] == "s3cret-token_1"
        assert "edited_message" in fake.calls_to("setWebhook")[0].params["allowed_updates"]
        setup = {"update_id": 1, "message": {"message_id": 1, "date": 0, "text": "/setup Hook Co-op",
                 "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
                 "chat": {"id": GROUP, "type": "group", "title": "g"},
                 "from": {"id": STEWARD, "is_bot": False, "first_name": "Ann"}}}
        assert (await fake.post_update(url, dict(setup)))[0] == 403
        assert (await fake.post_update(url, dict(setup), secret="wrong"))[0] == 403
        assert (await fake.post_update(url, dict(setup), secret="s3cret-token_1x"))[0] == 403
        assert await harness.stores.coops.list() == []
        assert (await fake.post_update(url, dict(setup), secret="s3cret-token_1"))[0] == 200
        assert [c.name for c in await harness.stores.coops.list()] == ["Hook Co-op"]
    finally:
        await harness.close()


def _run_bot(fake: FakeBotAPI, tmp_path: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COOPBOT_")}
    env.update(COOPBOT_TELEGRAM_TOKEN=fake.token, COOPBOT_TELEGRAM_API_URL=fake.url,
               COOPBOT_DATA_DIR=str(tmp_path / "data"), PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-m", "bot.cli", "run"], cwd=tmp_path, env=env,
                            stdout=subprocess.DEVNULL, stderr=open(tmp_path / "bot.log", "ab"))


async def test_kill_9_mid_burst_loses_no_acknowledged_vote(fake, tmp_path):
    """The real `coopbot run`, killed with SIGKILL in the middle of a burst and started again:
    every tap that was answered is stored, none is counted twice, and every tap is answered."""
    proc = _run_bot(fake, tmp_path)
    try:
        fake.command(GROUP, STEWARD, "/setup Red Bakery", first_name="Ann")
        await fake.wait_for(lambda f: any("set up" in t for t in f.texts(GROUP)), timeout=30)
        db = Database(f"sqlite:///{tmp_path / 'data' / 'coopbot.db'}")
        stores = Stores.over(db)
        coop = (await stores.coops.list())[0]
        steward = (await stores.members.register(coop.id))[0]
        for uid in range(1000, 1300):
            await stores.members.admit(coop.id, member_id=None, new_account=("telegram", str(uid), f"u{uid}"),
                                       role="member", by=steward.id, now=steward.requested_at)
        fake.command(GROUP, STEWARD, "/propose Buy a van", first_name="Ann")
        await fake.wait_for(lambda f: any(t.startswith("Proposal #1:") for t in f.texts(GROUP)), timeout=30)
        message_id = next(m for m, v in fake.messages(GROUP).items() if v["text"].startswith("Proposal #1:"))
        for uid in range(1000, 1300):
            fake.callback(GROUP, uid, message_id, f"v:1:{uid % 2}")
        await fake.wait_for(lambda f: len(f.calls_to("answerCallbackQuery")) >= 60, timeout=60)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        answered = {c.params["callback_query_id"] for c in fake.calls_to("answerCallbackQuery") if c.ok}
        assert 0 < len(answered) < 300, "the kill should land in the middle of the burst"

        proc = _run_bot(fake, tmp_path)
        await fake.wait_for(lambda f: not f.update_ids() and not f.pending_callbacks, timeout=90)
        p = (await stores.proposals.list(coop.id))[0]
        ballots = {b.member_id for b in await stores.votes.ballots(p.id)}
        names = {m.id: m.display_name for m in await stores.members.register(coop.id)}
        voted = {int(names[m][1:]) for m in ballots}
        assert voted == set(range(1000, 1300))  # every tap counted, including those answered before the kill
        counts = await stores.proposals.counts(p.id, 3)
        assert sum(counts) == 300 and counts == await stores.proposals.recount(p.id, 3)
        await db.dispose()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0


async def test_a_whole_surplus_round_from_phones(tg, fake):
    """A steward opens a round, members vow from their phones, the payout is refused until every
    vow is in, then paid once; the group sees each vow and the books."""
    assert "set up" in await tg.say(STEWARD, "/setup Red Bakery")
    assert "admitted" in await tg.say(STEWARD, "/admit 2")
    fake.command(GROUP, STEWARD, "/surplus 900.03 EUR", first_name="user1")
    await fake.wait_for(lambda f: any(t.startswith("Surplus round 1 of Red Bakery: 900.03 EUR.") for t in f.texts(GROUP)))
    fake.command(GROUP, 2, "/vow Half to the tenant union, half to the strike kitchen", first_name="user2")
    await fake.wait_for(lambda f: any(t.startswith("user2 vows, for round 1:") for t in f.texts(GROUP)))
    assert "has not vowed: user1" in await tg.say(STEWARD, "/payout")
    fake.command(GROUP, STEWARD, "/vow Seed capital for the print co-op", first_name="user1")
    await fake.wait_for(lambda f: any(t.startswith("user1 vows, for round 1:") for t in f.texts(GROUP)))
    fake.command(GROUP, STEWARD, "/payout", first_name="user1")
    await fake.wait_for(lambda f: any(t.startswith("Round 1 is paid out: 900.03 EUR") for t in f.texts(GROUP)))
    books = await tg.say(2, "/books")
    assert "= funds 270.01 EUR + members 630.02 EUR = 900.03 EUR" in books


def test_a_tap_read_from_json_is_the_tap_ptb_objects_give():
    """The burst path reads taps without PTB objects; it must see exactly what `convert.tap` sees."""
    from telegram import Bot, Update

    from bot.telegram import convert

    bot = Bot("1:abc")
    group = {"id": -100, "type": "supergroup", "title": "Bakery"}
    direct = {"id": 7, "type": "private", "first_name": "Ada", "last_name": "L"}
    people = [{"id": 7, "is_bot": False, "first_name": "Ada", "last_name": "Lovelace"},
              {"id": 8, "is_bot": False, "first_name": "Bo", "username": "bo"}]
    datas = ["v:3:1", "u:3", "v:3:x", "x", None]
    for n, (chat, user, data) in enumerate((c, u, d) for c in (group, direct) for u in people for d in datas):
        query = {"id": f"q{n}", "from": user, "chat_instance": "i",
                 "message": {"message_id": 1, "date": 1, "chat": chat, "text": "card"}}
        if data is not None:
            query["data"] = data
        raw = {"update_id": n, "callback_query": query}
        assert convert.tap_json(raw, 42) == convert.tap(Update.de_json(raw, bot), 42)
    inline = {"update_id": 99, "callback_query": {"id": "q", "from": people[0], "chat_instance": "i", "data": "v:3:1"}}
    assert convert.tap_json(inline, 42) is None  # no message: left to PTB's path, which refuses it


def test_a_text_mention_becomes_the_id_where_it_stands():
    """A mention of someone without a username is replaced where Telegram says it stands (offsets
    count UTF-16 units), never by looking for its shown name: one shown as "ad" leaves "/admit" alone."""
    from telegram import Bot, Update

    from bot.telegram import convert

    text = "/admit ad and \U0001f389 Bo"  # the emoji is two UTF-16 units
    entities = [{"type": "bot_command", "offset": 0, "length": 6},
                {"type": "text_mention", "offset": 7, "length": 2, "user": {"id": 5, "is_bot": False, "first_name": "ad"}},
                {"type": "text_mention", "offset": 17, "length": 2, "user": {"id": 6, "is_bot": False, "first_name": "Bo"}}]
    raw = {"update_id": 1, "message": {"message_id": 1, "date": 1, "text": text, "entities": entities,
                                       "chat": {"id": -100, "type": "supergroup", "title": "Bakery"},
                                       "from": {"id": 7, "is_bot": False, "first_name": "Ada"}}}
    assert convert.command(Update.de_json(raw, Bot("1:abc")), 42).text == "/admit 5 and \U0001f389 6"


def test_an_edit_names_the_message_it_corrects_by_that_messages_own_key():
    """An edit's `corrects` is exactly the event id its message was handled under (so the core
    finds the vote it cast or the proposal it opened); each edit has an id of its own, even two
    within one second, and a redelivered edit has the same one."""
    from telegram import Bot, Update

    from bot.telegram import convert

    bot = Bot("1:abc")
    edited = fixture("edited_message.json")
    original = {"update_id": 1, "message": {k: v for k, v in edited["edited_message"].items() if k != "edit_date"}}
    sent = convert.command(Update.de_json(original, bot), 42)
    first = convert.command(Update.de_json(edited, bot), 42)
    again = convert.command(Update.de_json({**edited, "update_id": edited["update_id"] + 1}, bot), 42)
    assert sent.corrects is None and first.corrects == again.corrects == sent.event_id
    assert len({sent.event_id, first.event_id, again.event_id}) == 3
    assert convert.command(Update.de_json(edited, bot), 42).event_id == first.event_id


async def test_setup_sent_as_an_anonymous_admin_or_a_channel_is_refused(tg, fake):
    """Telegram sends an anonymous admin's and a channel's messages from one shared stand-in
    (@GroupAnonymousBot, @Channel_Bot, with `sender_chat` set): no person, so no steward and no
    vote. /setup so sent, or sent by another bot, asks them to speak as themselves; nothing stored."""
    senders = [
        {"user": ANONYMOUS_ADMIN, "sender_chat": GROUP},  # an admin who stays anonymous
        {"user": CHANNEL_BOT, "sender_chat": -1009999},  # a member "sending as" a channel
        {"user": 5555, "is_bot": True},  # another bot
    ]
    for sender in senders:
        user = sender.pop("user")
        assert "as yourself" in await tg.say(user, "/setup Red Bakery", **sender), sender
    assert await tg.stores.coops.list() == []
    assert "set up" in await tg.say(STEWARD, "/setup Red Bakery")
    assert "as yourself" in await tg.say(ANONYMOUS_ADMIN, "/whoami", sender_chat=GROUP)
    coop = await tg.stores.coops.get_by_room("telegram", str(GROUP))
    assert [m.display_name for m in await tg.stores.members.register(coop.id)] == ["user1"]


async def test_a_tap_sent_as_an_anonymous_admin_records_nothing(tg, fake):
    """A button tapped by the anonymous-admin stand-in or by a bot is answered, privately, with
    the request to vote as themselves; no ballot is stored."""
    message_id, _ = await coop_with_proposal(tg, 1)
    assert "as yourself" in await tg.tap(ANONYMOUS_ADMIN, message_id, "v:1:0")
    assert "as yourself" in await tg.tap(5555, message_id, "v:1:1", is_bot=True)
    p = await tg.stores.proposals.get(1, 1)
    assert await tg.stores.votes.ballots(p.id) == []


async def handled(fake: FakeBotAPI, update: dict, timeout: float = 15) -> None:
    """Wait until the bot has handled `update` (it asked for the updates after it: a confirmation)."""
    await fake.wait_for(
        lambda f: any((c.params.get("offset") or 0) > update["update_id"] for c in f.calls_to("getUpdates")),
        timeout=timeout,
    )


async def test_commands_in_one_chat_are_handled_in_its_order(tg, fake):
    """/setup, then three people's /join in the same batch: each join sees the co-op the setup made."""
    fake.command(GROUP, STEWARD, "/setup Red Bakery", first_name="user1")
    for uid in (21, 22, 23):
        last = fake.command(GROUP, uid, "/join", first_name=f"user{uid}")
    await handled(fake, last)
    coop = await tg.stores.coops.get_by_room("telegram", str(GROUP))
    register = await tg.stores.members.register(coop.id)
    assert not any("no co-op yet" in t for t in fake.texts(GROUP)), fake.summary()
    assert sorted(m.display_name for m in register if m.status == "pending") == ["user21", "user22", "user23"]


async def test_a_member_who_joined_since_the_start_is_admitted_by_username(tg, fake):
    """/join by @bob_tg, then /admit @bob_tg: the handle is known once the account exists."""
    assert "set up" in await tg.say(STEWARD, "/setup Red Bakery")
    # Bob speaks before any account of his exists: nothing of him may be remembered ahead.
    await handled(fake, fake.command(GROUP, 77, "/whoami", first_name="Bob", username="bob_tg"))
    await handled(fake, fake.command(GROUP, 77, "/join", first_name="Bob", username="bob_tg"))
    await fake.wait_for(lambda f: "Bob asks to join Red Bakery." in f.texts(GROUP)[-1])  # the room's notice
    reply = await tg.say(STEWARD, "/admit @bob_tg")
    assert "Bob is admitted" in reply, reply


async def test_1000_join_are_admitted_and_the_next_card_is_not_drowned(tg, fake):
    """1,000 people /join in a burst, the steward admits them all, then proposes: the joins and the
    admission cost a handful of group messages (one notice, edited; one admission line), within
    Telegram's group limit, and the card is out within 10 s of the /propose."""
    fake.group_limit()
    assert "set up" in await tg.say(STEWARD, "/setup Red Bakery")
    ids = range(2000, 3000)
    for uid in ids:  # pushed at once: the bot fetches them as getUpdates gives them, 100 a batch
        last = fake.command(GROUP, uid, "/join", first_name=f"user{uid}")
    await handled(fake, last, timeout=120)
    # The first request is shown at once; the rest by editing that one message, within NOTICE_INTERVAL.
    notice_id = next(m for m, message in fake.messages(GROUP).items() if "asks to join" in message["text"])
    notice = await fake.wait_for(lambda f: "1000 people ask to join Red Bakery: user2999, user2998" in
                                 f.message(GROUP, notice_id)["text"], timeout=NOTICE_INTERVAL + 5)
    assert fake.message(GROUP, notice_id)["text"].endswith("and 960 more.\nA steward admits them all with "
                                                           "/admit all, or some with /admit <name> <name> …")

    fake.command(GROUP, STEWARD, "/admit all", first_name="user1")
    admitted = await fake.wait_for(lambda f: [t for t in f.texts(GROUP) if t.startswith("Admitted to Red Bakery")],
                                   timeout=60)
    assert admitted[0].endswith("and 960 more. The register now has 1001 members.")
    coop = await tg.stores.coops.get_by_room("telegram", str(GROUP))
    assert await tg.stores.members.count_active(coop.id) == 1001

    fake.command(GROUP, STEWARD, "/propose Buy a van", first_name="user1")
    asked = time.monotonic()
    await fake.wait_for(lambda f: any(t.startswith("Proposal #1:") for t in f.texts(GROUP)), timeout=10)
    card = next(c for c in fake.calls_to("sendMessage") if c.ok and c.params["text"].startswith("Proposal #1:"))
    assert card.answered_at - asked < 10
    posted = [c for c in fake.calls if c.method in ("sendMessage", "editMessageText") and c.ok
              and c.params.get("chat_id") == GROUP and c.at < card.at]
    assert len(posted) <= 30, fake.summary(60)
    assert fake.throttled == 0
    # The notice is corrected once the requests are answered: still one message.
    await fake.wait_for(lambda f: f.message(GROUP, notice_id)["text"].startswith("Every request to join"),
                        timeout=NOTICE_INTERVAL + 5)
    everything = [c for c in fake.calls if c.method in ("sendMessage", "editMessageText") and c.ok
                  and c.params.get("chat_id") == GROUP]
    assert len(everything) <= 31 and fake.throttled == 0


async def test_a_vote_fixed_by_editing_the_command_is_counted(tg, fake):
    """`/vote 1 fro` is refused; the member edits the message to `/vote 1 for` (an edited_message
    update): the reply says the vote came from the edit, and it is counted. Editing a message
    that is no command is ordinary chat, as sending it was."""
    _, ids = await coop_with_proposal(tg, 2)
    assert "no option" in await tg.say(ids[0], "/vote 1 fro")
    reply = await tg.push(edit_of(tg.said, "/vote 1 for"), edited=True)
    assert reply["text"] == "From your edit: Recorded: For on #1."
    p = await tg.stores.proposals.get(1, 1)
    assert await tg.stores.proposals.counts(p.id, 3) == [1, 0, 0]

    before = len(fake.calls_to("sendMessage"))
    chat = fake.command(GROUP, ids[1], "lunch at noon?")
    await handled(fake, fake.push_message(edit_of(chat, "lunch at one?"), edited=True))
    assert len(fake.calls_to("sendMessage")) == before


async def test_the_author_revises_an_unvoted_proposal_by_editing_it(tg, fake):
    """The author edits the /propose message while nobody has voted: the card is edited to the new
    title and buttons, though no vote changed its tally. Once someone voted, an edit is refused
    with how to withdraw and propose again, and the card stays."""
    assert "set up" in await tg.say(STEWARD, "/setup Red Bakery")
    ids = await tg.seed_members(2)
    opened = fake.command(GROUP, STEWARD, "/propose Buy a vna", first_name="user1")
    await fake.wait_for(lambda f: any(t.startswith("Proposal #1:") for t in f.texts(GROUP)))
    message_id, _ = tg.card()
    reply = await tg.push(edit_of(opened, "/propose Buy a van\noptions: Van | Bike"), edited=True)
    assert reply["text"].startswith("#1 is changed")
    edits = await fake.wait_for(lambda f: [c for c in f.calls_to("editMessageText") if c.ok], timeout=15)
    assert edits[0].params["message_id"] == message_id
    assert edits[0].params["text"].startswith("Proposal #1: Buy a van")
    buttons = [b["text"] for row in edits[0].params["reply_markup"]["inline_keyboard"] for b in row]
    assert buttons == ["Van", "Bike", "Take my vote back"]

    assert await tg.tap(ids[0], message_id, "v:1:1") == "Recorded: Bike on #1."
    # The same edit_date as the first edit (two edits within a second): still an edit of its own.
    refusal = (await tg.push(edit_of(opened, "/propose Buy a bus"), edited=True))["text"]
    assert "already voted" in refusal and "/withdraw 1" in refusal and "propose again" in refusal
    assert (await tg.stores.proposals.get(1, 1)).title == "Buy a van"


async def test_admit_by_tapping_people_without_a_username(tg, fake):
    """`/admit` naming two people picked from the member list (text_mention entities, which carry
    their ids; the second after an emoji, so offsets count UTF-16 units) and one by @username (a
    mention entity): all three are admitted. The @username names the account that holds it now:
    Bob gave up @bob_tg (without a word to the bot since) and Rob took it."""
    assert "set up" in await tg.say(STEWARD, "/setup Red Bakery")
    joining = ((5, "\U0001f33b Ann", None), (6, "Bo Lee", None), (77, "Bob", "bob_tg"), (88, "Rob", "bob_tg"))
    for uid, name, username in joining:
        await handled(fake, fake.command(GROUP, uid, "/join", first_name=name, username=username))
    reply = (await tg.push(fixture("text_mention.json")["message"]))["text"]
    assert reply.startswith("Admitted to Red Bakery as members:"), reply
    coop = await tg.stores.coops.get_by_room("telegram", str(GROUP))
    accounts = {a.member_id: a.user_id for a in await tg.stores.members.accounts(coop.id)}
    active = {accounts[m.id] for m in await tg.stores.members.register(coop.id) if m.status == "active"}
    assert active == {str(STEWARD), "5", "6", "88"}


async def test_a_command_in_a_topic_is_answered_in_that_topic(tg, fake):
    """In a forum supergroup, a command sent in a topic is answered in that topic (sendMessage with
    its message_thread_id). One in the General topic is answered without one, and so is one in a
    chain of replies in a group that is no forum (Telegram numbers the chain as a thread too)."""
    in_topic = fixture("topic_message.json")["message"]
    sent = await tg.push(in_topic)
    assert "set up" in sent["text"] and sent["message_thread_id"] == 42

    command = [{"offset": 0, "length": 7, "type": "bot_command"}]
    outside = {k: v for k, v in in_topic.items() if k not in ("message_thread_id", "is_topic_message", "reply_to_message")}
    sent = await tg.push({**outside, "text": "/whoami", "entities": command})
    assert "Red Bakery" in sent["text"] and "message_thread_id" not in sent

    plain = {"id": -1009876543210, "title": "Plain", "type": "supergroup"}
    root = {"message_id": 42, "from": in_topic["from"], "chat": plain, "date": in_topic["date"], "text": "keys?"}
    chain = {**outside, "chat": plain, "message_thread_id": 42, "reply_to_message": root, "text": "/whoami",
             "entities": command}
    sent = await tg.push(chain)
    assert "no co-op yet" in sent["text"] and "message_thread_id" not in sent
