"""The fake Telegram Bot API, proven against the real python-telegram-bot client (no mocks)."""

from __future__ import annotations

import asyncio
import datetime as dtm
import json
import time

import pytest
import telegram
from aiohttp import ClientSession, web
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, MessageEntity
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    RetryAfter,
)
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from tests.fakes.telegram_api import NOT_MODIFIED, FakeBotAPI

GROUP = -1001234567890
ALICE = 111
BOB = 222


@pytest.fixture
async def fake():
    async with FakeBotAPI() as server:
        yield server


@pytest.fixture
async def bot(fake):
    client = telegram.Bot(fake.token, base_url=fake.url + "/bot")
    await client.initialize()
    yield client
    await client.shutdown()


def _keyboard(*pairs: tuple[str, str]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(text, callback_data=data) for text, data in pairs]])


# PTB 22 warns, when it builds a RetryAfter, that retry_after will become a timedelta.
quiet_retry_after = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


def _retry_after(exc: RetryAfter) -> float:
    value = exc.retry_after
    return value.total_seconds() if isinstance(value, dtm.timedelta) else value


async def test_get_me(fake, bot):
    """getMe answers the configured bot, and initialize() really called it over HTTP."""
    me = await bot.get_me()
    assert (me.id, me.username, me.is_bot) == (123456, "coopbot", True)
    assert me.can_join_groups is True
    assert me.can_read_all_group_messages is False
    assert me.supports_inline_queries is False
    assert bot.username == "coopbot"
    assert [c.method for c in fake.calls] == ["getMe", "getMe"]
    assert all(c.ok and c.answered_at >= c.at for c in fake.calls)
    fake.assert_clean()


async def test_send_message_with_inline_keyboard(fake, bot):
    """sendMessage returns a full Message; callback_data round-trips; ids count per chat."""
    markup = _keyboard(("For", "vote:1:1"), ("Against", "vote:1:2"))
    first = await bot.send_message(GROUP, "Proposal #1: buy a van", reply_markup=markup)
    assert first.message_id == 1
    assert first.chat.type == "supergroup" and first.chat.id == GROUP
    assert first.from_user.id == fake.bot_id and first.from_user.is_bot
    assert first.text == "Proposal #1: buy a van"
    assert [b.callback_data for b in first.reply_markup.inline_keyboard[0]] == ["vote:1:1", "vote:1:2"]

    second = await bot.send_message(GROUP, "second", disable_notification=True)
    private = await bot.send_message(ALICE, "hello")
    small_group = await bot.send_message(-42, "hi")
    assert (second.message_id, private.message_id, small_group.message_id) == (2, 1, 1)
    assert private.chat.type == "private" and small_group.chat.type == "group"
    assert second.reply_markup is None

    sent = fake.calls_to("sendMessage")[0].params
    assert sent["chat_id"] == GROUP and isinstance(sent["reply_markup"], dict)
    assert sent["reply_markup"]["inline_keyboard"][0][1] == {"text": "Against", "callback_data": "vote:1:2"}
    assert fake.calls_to("sendMessage")[1].params["disable_notification"] is True
    assert fake.messages(GROUP)[1]["reply_markup"] == sent["reply_markup"]
    assert fake.texts(GROUP) == ["Proposal #1: buy a van", "second"]
    fake.assert_clean()


async def test_edit_message_text_and_not_modified(fake, bot):
    """editMessageText edits; the same content again is 400 "not modified"; unknown ids are 400."""
    markup = _keyboard(("For", "vote:1:1"))
    sent = await bot.send_message(GROUP, "Votes: 0", reply_markup=markup)
    edited = await bot.edit_message_text("Votes: 1", chat_id=GROUP, message_id=sent.message_id, reply_markup=markup)
    assert edited.text == "Votes: 1" and edited.edit_date is not None
    assert edited.reply_markup.inline_keyboard[0][0].callback_data == "vote:1:1"
    assert fake.messages(GROUP)[sent.message_id]["text"] == "Votes: 1"

    with pytest.raises(BadRequest) as not_modified:
        await bot.edit_message_text("Votes: 1", chat_id=GROUP, message_id=sent.message_id, reply_markup=markup)
    assert str(not_modified.value).lower() == NOT_MODIFIED.removeprefix("Bad Request: ").lower()
    assert fake.calls_to("editMessageText")[-1].response["description"] == NOT_MODIFIED

    with pytest.raises(BadRequest, match="(?i)message to edit not found"):
        await bot.edit_message_text("x", chat_id=GROUP, message_id=99)

    # As on Telegram, an edit without reply_markup removes the keyboard.
    bare = await bot.edit_message_text("Closed", chat_id=GROUP, message_id=sent.message_id)
    assert bare.reply_markup is None and fake.messages(GROUP)[sent.message_id]["reply_markup"] is None
    fake.assert_clean()


async def test_callback_query_and_answer_once(fake, bot):
    """A tap arrives as a real CallbackQuery on the bot's message; answering twice is a 400."""
    sent = await bot.send_message(GROUP, "Proposal #1", reply_markup=_keyboard(("For", "vote:1:1")))
    pushed = fake.callback(GROUP, BOB, sent.message_id, "vote:1:1", first_name="Bob", username="bob_b")
    (update,) = await bot.get_updates()
    assert update.update_id == pushed["update_id"]
    query = update.callback_query
    assert (query.data, query.from_user.id, query.from_user.username) == ("vote:1:1", BOB, "bob_b")
    assert query.message.message_id == sent.message_id and query.message.text == "Proposal #1"
    assert query.message.chat.id == GROUP and query.chat_instance
    assert fake.pending_callbacks == [query.id]

    assert await bot.answer_callback_query(query.id, text="Counted", show_alert=False) is True
    assert fake.calls_to("answerCallbackQuery")[0].params["text"] == "Counted"
    assert fake.pending_callbacks == []
    with pytest.raises(BadRequest, match="(?i)query is too old"):
        await bot.answer_callback_query(query.id)
    with pytest.raises(ValueError):
        fake.callback(GROUP, BOB, sent.message_id, "forged")
    fake.assert_clean()


async def test_get_updates_offset_semantics(fake, bot):
    """Unconfirmed updates are redelivered; offset confirms (and forgets) the older ones."""
    ids = [fake.command(GROUP, ALICE, f"/show {n}", first_name="Alice")["update_id"] for n in range(3)]
    assert fake.update_ids() == ids and ids == sorted(ids)

    assert [u.update_id for u in await bot.get_updates()] == ids
    assert [u.update_id for u in await bot.get_updates()] == ids  # not confirmed: redelivered
    assert [u.update_id for u in await bot.get_updates(limit=2)] == ids[:2]
    assert [u.update_id for u in await bot.get_updates(offset=ids[1])] == ids[1:]
    assert fake.update_ids() == ids[1:]  # ids[0] is gone for good
    assert [u.update_id for u in await bot.get_updates()] == ids[1:]
    assert await bot.get_updates(offset=ids[-1] + 1) == ()
    assert fake.update_ids() == []

    later = fake.command(GROUP, ALICE, "/members")["update_id"]
    assert [u.update_id for u in await bot.get_updates(offset=ids[-1] + 1)] == [later]
    fake.assert_clean()


async def test_command_update_shape(fake, bot):
    """command() builds the message Telegram sends: entities, chat and from objects."""
    text = "/vote@coopbot 1 For @carol_c"
    fake.command(GROUP, ALICE, text, first_name="Alice", username="alice_a", title="Red Bakery")
    fake.command(BOB, BOB, "/start", first_name="Bob")
    group, private = await bot.get_updates()

    message = group.message
    assert message.chat.type == "supergroup" and message.chat.title == "Red Bakery"
    assert (message.from_user.id, message.from_user.username, message.from_user.is_bot) == (ALICE, "alice_a", False)
    command, mention = message.entities
    assert (command.type, command.offset, command.length) == (MessageEntity.BOT_COMMAND, 0, len("/vote@coopbot"))
    assert message.parse_entity(mention) == "@carol_c"

    assert private.message.chat.type == "private" and private.message.chat.id == BOB
    assert private.message.chat.first_name == "Bob"
    assert private.message.entities[0].length == len("/start")
    assert (group.message.message_id, private.message.message_id) == (1, 1)
    reply = await bot.send_message(GROUP, "done", reply_to_message_id=message.message_id)
    assert reply.message_id == 2 and reply.reply_to_message.text.startswith("/vote@coopbot")
    fake.assert_clean()


async def test_long_poll_wakes_on_push(fake, bot):
    """A long poll waits, returns as soon as an update is pushed, and times out empty."""
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await fake.wait_for(lambda f: f.calls_to("getUpdates"))
    await asyncio.sleep(0.1)
    assert not poll.done()
    pushed_at = time.monotonic()
    fake.command(GROUP, ALICE, "/proposals")
    (update,) = await asyncio.wait_for(poll, 2)
    assert update.message.text == "/proposals"
    assert time.monotonic() - pushed_at < 1

    started = time.monotonic()
    assert await bot.get_updates(offset=update.update_id + 1, timeout=dtm.timedelta(seconds=0.3)) == ()
    assert 0.25 <= time.monotonic() - started < 2
    assert fake.calls_to("getUpdates")[-1].params["timeout"] == 0.3
    fake.assert_clean()


async def test_second_long_poll_terminates_the_first(fake, bot):
    """A second bot instance polling ends the first one's long poll with 409 Conflict."""
    other = telegram.Bot(fake.token, base_url=fake.url + "/bot")
    first = asyncio.create_task(bot.get_updates(timeout=5))
    await fake.wait_for(lambda f: f.calls_to("getUpdates"))
    second = asyncio.create_task(other.get_updates(timeout=5))
    with pytest.raises(Conflict, match="(?i)terminated by other getUpdates"):
        await asyncio.wait_for(first, 2)
    fake.command(GROUP, ALICE, "/help")
    assert len(await asyncio.wait_for(second, 2)) == 1
    await other.shutdown()
    fake.assert_clean()


@quiet_retry_after
async def test_fail_next_raises_retry_after(fake, bot):
    """fail_next answers 429 with retry_after; PTB raises RetryAfter; the call is recorded."""
    fake.fail_next("sendMessage", 2, retry_after=7)
    for _ in range(2):
        with pytest.raises(RetryAfter) as exc:
            await bot.send_message(GROUP, "hello")
        assert _retry_after(exc.value) == 7
    assert (await bot.send_message(GROUP, "hello")).message_id == 1
    assert [c.throttled for c in fake.calls_to("sendMessage")] == [True, True, False]
    assert [c.status for c in fake.calls_to("sendMessage")] == [429, 429, 200]
    assert fake.calls_to("sendMessage")[0].response["parameters"] == {"retry_after": 7}
    assert fake.throttled == 2
    fake.assert_clean()


@quiet_retry_after
async def test_rate_limit_sliding_window(fake, bot):
    """rate_limit throttles one chat beyond its budget and frees it when the window slides."""
    fake.rate_limit("sendMessage", chat_id=GROUP, per_minute=2, window=1.0)
    await bot.send_message(GROUP, "1")
    await bot.send_message(GROUP, "2")
    with pytest.raises(RetryAfter) as exc:
        await bot.send_message(GROUP, "3")
    assert _retry_after(exc.value) == 1
    await bot.send_message(ALICE, "another chat is not limited")
    assert fake.throttled == 1
    await asyncio.sleep(1.05)
    assert (await bot.send_message(GROUP, "3")).message_id == 3
    fake.assert_clean()


@quiet_retry_after
async def test_group_limit_counts_sends_and_edits_of_each_group(fake, bot):
    """group_limit: a group's sends and edits share one budget a minute; private chats are free."""
    fake.group_limit(per_minute=3)
    first = await bot.send_message(GROUP, "1")
    await bot.edit_message_text("1 edited", chat_id=GROUP, message_id=first.message_id)
    await bot.send_message(GROUP, "2")
    with pytest.raises(RetryAfter) as exc:
        await bot.edit_message_text("1 again", chat_id=GROUP, message_id=first.message_id)
    assert 55 <= _retry_after(exc.value) <= 60
    for i in range(5):
        await bot.send_message(ALICE, f"private {i}")
    assert fake.throttled == 1
    fake.assert_clean()


async def test_parse_mode_html(fake, bot):
    """HTML is parsed into text and entities like Telegram, and a stray '<' is refused."""
    sent = await bot.send_message(GROUP, "  <b>Result</b>: 3 &lt; 4 &amp; /show 1  ", parse_mode="HTML")
    assert sent.text == "Result: 3 < 4 & /show 1"
    assert [(e.type, e.offset, e.length) for e in sent.entities] == [("bold", 0, 6), ("bot_command", 16, 5)]
    assert fake.messages(GROUP)[sent.message_id]["text"].startswith("  <b>Result</b>")
    with pytest.raises(BadRequest, match="(?i)can't parse entities: Unsupported start tag"):
        await bot.send_message(GROUP, "Welcome <alice>", parse_mode="HTML")
    with pytest.raises(BadRequest, match="(?i)Can't find end tag corresponding to start tag \"b\""):
        await bot.send_message(GROUP, "<b>open", parse_mode="HTML")
    with pytest.raises(BadRequest, match="(?i)reserved and must be escaped"):
        await bot.send_message(GROUP, "Closes 1.12.", parse_mode="MarkdownV2")
    with pytest.raises(BadRequest, match="(?i)message text is empty"):
        await bot.send_message(GROUP, "   ")
    with pytest.raises(BadRequest, match="(?i)message is too long"):
        await bot.send_message(GROUP, "x" * 4097)
    with pytest.raises(BadRequest, match="(?i)BUTTON_DATA_INVALID"):
        await bot.send_message(GROUP, "x", reply_markup=_keyboard(("For", "v" * 65)))
    fake.assert_clean()


async def test_unknown_method_and_wrong_token(fake, bot):
    """An unknown method is 404 and recorded (assert_clean fails); a wrong token is 401."""
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("frobnicate")
    assert fake.unknown == ["frobnicate"]
    with pytest.raises(AssertionError, match="frobnicate"):
        fake.assert_clean()

    stranger = telegram.Bot("654321:WRONG-token", base_url=fake.url + "/bot")
    with pytest.raises(InvalidToken):
        await stranger.initialize()
    assert fake.calls[-1].status == 401
    assert fake.calls[-1].response == {"ok": False, "error_code": 401, "description": "Unauthorized"}


async def test_json_and_form_bodies(fake):
    """Both form-encoded (JSON strings inside) and JSON bodies are decoded; GET works too."""
    keyboard = {"inline_keyboard": [[{"text": "For", "callback_data": "v:1"}]]}
    base = f"{fake.url}/bot{fake.token}"
    async with ClientSession() as session:
        as_json = {"chat_id": GROUP, "text": "json", "reply_markup": keyboard}
        async with session.post(f"{base}/sendMessage", json=as_json) as r:
            assert r.status == 200 and (await r.json())["result"]["reply_markup"] == keyboard
        form = {"chat_id": str(GROUP), "text": "form", "reply_markup": json.dumps(keyboard)}
        async with session.post(f"{base}/sendMessage", data=form) as r:
            assert r.status == 200 and (await r.json())["result"]["message_id"] == 2
        async with session.get(f"{base}/getMe") as r:
            assert (await r.json())["result"]["username"] == "coopbot"
    json_call, form_call = fake.calls_to("sendMessage")
    assert json_call.params["reply_markup"] == form_call.params["reply_markup"] == keyboard
    assert form_call.params["chat_id"] == GROUP
    fake.assert_clean()


async def test_webhook_side(fake, bot):
    """setWebhook is recorded, getUpdates conflicts, and post_update sends the secret header."""
    received = []

    async def hook(request):
        received.append((request.headers.get("X-Telegram-Bot-Api-Secret-Token"), await request.json()))
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    hook_url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    try:
        assert await bot.set_webhook(hook_url, secret_token="s3cret") is True
        assert fake.webhook["url"] == hook_url and fake.webhook["secret_token"] == "s3cret"
        info = await bot.get_webhook_info()
        assert info.url == hook_url and info.pending_update_count == 0
        with pytest.raises(Conflict, match="(?i)webhook is active"):
            await bot.get_updates()

        update = {"message": fake.command(GROUP, ALICE, "/help")["message"]}
        status, body = await fake.post_update(hook_url, update, secret="s3cret")
        assert (status, body) == (200, "ok")
        assert received[0][0] == "s3cret" and received[0][1]["message"]["text"] == "/help"
        assert "update_id" in received[0][1]
        with pytest.raises(ValueError):
            await fake.post_update("http://example.org/hook", update)

        assert await bot.delete_webhook(drop_pending_updates=True) is True
        assert fake.webhook is None and fake.update_ids() == []
    finally:
        await runner.cleanup()
    fake.assert_clean()


async def test_commands_chat_and_members(fake, bot):
    """setMyCommands, deleteMyCommands, sendChatAction, getChat, getChatMember, deleteMessage."""
    assert await bot.set_my_commands([("propose", "Open a proposal"), ("vote", "Cast a vote")])
    assert [c["command"] for c in fake.my_commands()] == ["propose", "vote"]
    assert [c.command for c in await bot.get_my_commands()] == ["propose", "vote"]
    with pytest.raises(BadRequest, match="(?i)BOT_COMMAND_INVALID"):
        await bot.set_my_commands([("Vote", "capital letters are refused")])
    assert await bot.delete_my_commands() and fake.my_commands() == []

    assert await bot.send_chat_action(GROUP, "typing")
    fake.command(GROUP, ALICE, "/whoami", title="Red Bakery")
    chat = await bot.get_chat(GROUP)
    assert (chat.id, chat.type, chat.title) == (GROUP, "supergroup", "Red Bakery")
    member = await bot.get_chat_member(GROUP, ALICE)
    assert member.status == "member" and member.user.id == ALICE
    fake.set_member(GROUP, ALICE, "creator")
    assert (await bot.get_chat_member(GROUP, ALICE)).status == "creator"

    sent = await bot.send_message(GROUP, "bye")
    assert await bot.delete_message(GROUP, sent.message_id)
    assert sent.message_id not in fake.messages(GROUP)
    with pytest.raises(BadRequest, match="(?i)message to delete not found"):
        await bot.delete_message(GROUP, sent.message_id)
    fake.assert_clean()


async def test_forbidden_and_migrated_chats(fake, bot):
    """forbid() answers 403 (Forbidden) and migrate() 400 with migrate_to_chat_id (ChatMigrated)."""
    fake.forbid(ALICE)
    with pytest.raises(Forbidden, match="(?i)blocked by the user"):
        await bot.send_message(ALICE, "hi")
    fake.migrate(-42, GROUP)
    with pytest.raises(ChatMigrated) as exc:
        await bot.send_message(-42, "hi")
    assert exc.value.new_chat_id == GROUP
    fake.assert_clean()


async def test_delay_and_wait_for(bot):
    """delay postpones every answer; wait_for fails with a summary of the calls."""
    async with FakeBotAPI(delay=0.2) as slow:
        client = telegram.Bot(slow.token, base_url=slow.url + "/bot")
        started = time.monotonic()
        await client.get_me()
        assert time.monotonic() - started >= 0.2
        call = slow.calls_to("getMe")[0]
        assert call.answered_at - call.at >= 0.2
        with pytest.raises(AssertionError, match="getMe 200"):
            await slow.wait_for(lambda f: f.calls_to("sendMessage"), timeout=0.1)
        await client.shutdown()


async def test_ptb_application_polls_replies_and_confirms(fake):
    """PTB's own Application and Updater run against the fake: command, button, clean stop."""
    app = Application.builder().token(fake.token).base_url(fake.url + "/bot").build()

    async def vote(update, context):
        await update.message.reply_text("Proposal #1", reply_markup=_keyboard(("For", "vote:1:1")))

    async def tap(update, context):
        await update.callback_query.answer("Counted")
        await update.callback_query.edit_message_text(f"Proposal #1: {update.callback_query.data}")

    app.add_handler(CommandHandler("vote", vote))
    app.add_handler(CallbackQueryHandler(tap))
    await app.initialize()
    await app.start()
    await app.updater.start_polling(poll_interval=0, timeout=5)
    try:
        fake.command(GROUP, ALICE, "/vote@coopbot")
        (message_id,) = await fake.wait_for(lambda f: list(f.messages(GROUP)), timeout=5)
        assert message_id == 2  # the member's command was message 1 in this chat
        fake.callback(GROUP, ALICE, message_id, "vote:1:1")
        await fake.wait_for(lambda f: f.texts(GROUP) == ["Proposal #1: vote:1:1"], timeout=5)
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
    assert fake.update_ids() == [] and fake.pending_callbacks == []
    assert fake.calls_to("deleteWebhook") and all(c.status == 200 for c in fake.calls)
    reply = fake.calls_to("sendMessage")[0].params
    assert reply["reply_parameters"] == {"message_id": 1}
    fake.assert_clean()


async def test_topics_and_pushed_messages(fake, bot):
    """A pushed message in a forum topic makes that topic one the bot may send to, and what is sent
    there says so; a thread the fake never saw as a topic (a chain of replies, a made-up id) is
    refused as Telegram refuses it. An edit is pushed as an edited_message of the same message."""
    forum = {"id": GROUP, "title": "Bakery", "type": "supergroup", "is_forum": True}
    sender = {"id": ALICE, "is_bot": False, "first_name": "Alice"}
    update = fake.push_message({"chat": forum, "from": sender, "date": 1, "text": "hi",
                                "message_thread_id": 42, "is_topic_message": True})
    sent = await bot.send_message(GROUP, "hello", message_thread_id=42)
    assert (sent.message_thread_id, sent.is_topic_message) == (42, True)
    with pytest.raises(BadRequest, match="thread not found"):
        await bot.send_message(GROUP, "hello", message_thread_id=7)
    edit = fake.push_message({**update["message"], "text": "hi all", "edit_date": 2}, edited=True)
    assert edit["edited_message"]["message_id"] == update["message"]["message_id"]
    assert fake.message(GROUP, update["message"]["message_id"])["text"] == "hi all"
    fake.assert_clean()
