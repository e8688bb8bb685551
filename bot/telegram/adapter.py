"""The Telegram adapter: updates in (long polling or webhook), replies, cards and results out.

An update is confirmed to Telegram only after its effect is committed: polling asks for the next
batch (which confirms the last) only when the current one is handled, and a webhook request is
answered only then. Handling is idempotent on the update id, so a redelivery counts once."""

from __future__ import annotations

import asyncio
import hmac
import logging
import weakref
from collections.abc import Iterable
from contextlib import nullcontext
from urllib.parse import urlparse

from telegram import BotCommand, LinkPreviewOptions, Message, ReplyParameters, Update
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import Application, ApplicationBuilder, CallbackQueryHandler, ContextTypes, MessageHandler, filters

from bot.cards import CardEdits
from bot.config import Settings
from bot.delivery import SENT, Backoff, GiveUp, Moved, Outcome, Pump, RetryAt
from bot.notices import Notices
from bot.pacing import Budget, Pacer
from bot.services import Services
from bot.telegram import convert
from bot.telegram.request import AiohttpRequest
from handlers import i18n, texts
from handlers.cards import CardView, card_view
from handlers.context import in_language_of_room
from handlers.events import VoteCast
from handlers.types import Attachment, ChatRef, Reply
from storage.models import Card, Outbox

logger = logging.getLogger(__name__)

PREFIX = "/"
LONG_POLL = 25  # seconds a getUpdates call may wait for news
# edited_message: a member corrects a command by editing it (a deleted message sends nothing).
ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "my_chat_member"]
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
CARD_EDIT_INTERVAL = 5.0  # at most one edit of a card this often; a burst of votes becomes one edit
# Telegram allows about 20 messages a minute in a group; a third of a chat's budget is kept for
# cards, results, reminders and card edits, which replies and routine news cannot use.
GROUP_BUDGET = Budget(18, 60.0, reserve=6)
PRIVATE_BUDGET = Budget(30, 60.0, reserve=10)
OVERALL_BUDGET = Budget(25, 1.0)  # and about 30 a second overall
OUTBOX_IDLE = 1.0
# A group's notice of requests to join is edited at most this often: a burst of a thousand /join
# costs a message and a few edits; after NOTICE_FRESH it is buried up the chat, and sent anew.
NOTICE_INTERVAL = 15.0
NOTICE_FRESH = 600.0
MAX_RETRIES = 5


def _budget(chat_id: str) -> Budget:
    return GROUP_BUDGET if chat_id.startswith("-") else PRIVATE_BUDGET


NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


class TelegramAdapter:
    """Also the delivery pump's `Platform` for Telegram: `deliver`, `edit` and `card_text`."""

    name = convert.PLATFORM
    prefix = PREFIX
    platform = convert.PLATFORM
    last_look = None  # Telegram holds no votes the database has not seen

    def __init__(
        self, services: Services, settings: Settings, *, pacer: Pacer | None = None, backoff: Backoff = Backoff()
    ) -> None:
        self.services = services
        self.settings = settings
        self.pacer = pacer or Pacer(_budget, OVERALL_BUDGET)
        builder = ApplicationBuilder().token(settings.telegram_token).updater(None)
        if settings.telegram_api_url:
            root = settings.telegram_api_url.rstrip("/")
            builder = builder.base_url(f"{root}/bot").base_file_url(f"{root}/file/bot")
        # aiohttp costs a fraction of PTB's default httpx client in CPU per call, which a burst of
        # taps (one answer each) makes the bot's main cost. A burst answers hundreds of taps at
        # once: wait for a free connection rather than fail.
        self._updates_request = AiohttpRequest(connection_pool_size=2, read_timeout=LONG_POLL + 10)
        builder = builder.request(AiohttpRequest(connection_pool_size=128, pool_timeout=30.0)).get_updates_request(
            self._updates_request
        )
        self.app: Application = builder.build()
        self.app.add_handler(MessageHandler(filters.UpdateType.MESSAGES & filters.COMMAND, self._on_command))
        self.app.add_handler(CallbackQueryHandler(self._on_tap))
        self.app.add_handler(MessageHandler(filters.UpdateType.MESSAGE & filters.StatusUpdate.MIGRATE, self._on_migrate))
        self.app.add_handler(
            MessageHandler(filters.UpdateType.MESSAGE & filters.StatusUpdate.NEW_CHAT_MEMBERS, self._on_added)
        )
        self.app.add_error_handler(self._on_error)
        self.bot_id = 0
        self.bot_name: str | None = None  # the @username, known once connected
        # Telegram counts edits against a group's ~20 messages a minute: even a burst's final
        # tally waits the full interval after the last edit.
        self.pump = Pump(
            self, services, pacer=self.pacer, backoff=backoff, idle=OUTBOX_IDLE,
            cards=CardEdits(CARD_EDIT_INTERVAL, OUTBOX_IDLE, min_gap=CARD_EDIT_INTERVAL),
        )
        self.cards = self.pump.cards
        self.notices = Notices(
            # The core is assembled once every adapter is attached: look it up when a notice is due.
            lambda key, chat: self.services.governance.notice(key, chat), self._send_notice, self._edit_notice,
            interval=NOTICE_INTERVAL, fresh=NOTICE_FRESH, spawn=self.pump.spawn,
        )
        # One lock per person (taps, commands) and per chat (commands): see `_handle_one`.
        self._user_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._handles: dict[str, str] = {}  # Telegram user id -> the @name stored for it
        self._holders: dict[str, str] = {}  # and back
        self.ready = asyncio.Event()  # set once connected and taking updates
        services.attach(self)

    @property
    def bot(self):
        return self.app.bot

    # --- lifecycle ---

    async def start(self) -> None:
        await self.app.initialize()
        self.bot_id, self.bot_name = self.bot.id, self.bot.username
        # The command menu, in each language (Telegram shows a member the one of their app's language):
        # the verbs are the same words in all, what each does is said in the language.
        for code in i18n.LANGUAGES:
            with i18n.use(code):
                commands = [BotCommand(verb.name, i18n.gettext(verb.summary)[:256])
                            for verb in self.services.governance.verbs.listed()]
            await self._call(self.bot.set_my_commands, commands,
                             language_code=None if code == i18n.DEFAULT else code)
        await self.pump.start()

    async def run(self, stop: asyncio.Event) -> None:
        await self.start()
        try:
            if self.settings.telegram_webhook_url:
                await self._serve_webhook(stop)
            else:
                await self._poll(stop)
        finally:
            await self.close()

    async def close(self) -> None:
        # Replies to updates already handled, and the outbox pass in hand, go out before the loops stop.
        await self.pump.close()
        await self.app.shutdown()

    def _spawn(self, coro, name: str) -> asyncio.Task:
        return self.pump.spawn(coro, name, drain=True)

    def kick(self) -> None:
        """Wake the outbox and card loops (something was committed that they may have to send)."""
        self.pump.kick()

    # --- receiving ---

    async def _poll(self, stop: asyncio.Event) -> None:
        await self._call(self.bot.delete_webhook)
        self.ready.set()
        offset: int | None = None
        stopping = asyncio.create_task(stop.wait())
        try:
            while not stop.is_set():
                fetch = asyncio.create_task(self._fetch(offset))
                await asyncio.wait({fetch, stopping}, return_when=asyncio.FIRST_COMPLETED)
                if not fetch.done():
                    fetch.cancel()  # nothing fetched is lost: only a later offset confirms updates
                    break
                try:
                    updates = fetch.result()
                except RetryAfter as exc:
                    await asyncio.sleep(_seconds(exc.retry_after))
                    continue
                except (NetworkError, TimedOut) as exc:
                    logger.warning("getUpdates failed (%s); retrying", exc)
                    await asyncio.sleep(1.0)
                    continue
                if updates:
                    await self.handle(updates)
                    offset = updates[-1]["update_id"] + 1  # the next call confirms this batch
            if offset is not None:
                # Confirm the last handled batch before going away, so it is not redelivered.
                try:
                    await self.bot.get_updates(offset=offset, timeout=0, limit=1, allowed_updates=ALLOWED_UPDATES)
                except TelegramError as exc:
                    logger.warning("could not confirm the last updates (%s); they will be deduplicated", exc)
        finally:
            stopping.cancel()

    async def _fetch(self, offset: int | None) -> list[dict]:
        """The next batch as JSON: a tap is read from it directly (see `_handle_one`)."""
        params = {"offset": offset, "timeout": LONG_POLL, "allowed_updates": ALLOWED_UPDATES}
        return await self._updates_request.post_form(
            f"{self.bot.base_url}/getUpdates", params, read_timeout=LONG_POLL + self._updates_request.read_timeout
        )

    async def handle(self, updates: Iterable[Update | dict]) -> None:
        """Handle a batch: people in parallel, each person's updates in the order they came."""
        await asyncio.gather(*(self._handle_one(update) for update in updates))
        self.kick()

    async def _handle_one(self, update: Update | dict) -> None:
        # A tap, the bulk of a burst, goes straight from JSON to the core; anything else, or a
        # tap that cannot be read that way, through PTB's objects and handlers.
        event = convert.tap_json(update, self.bot_id) if isinstance(update, dict) else None
        if event is None and isinstance(update, dict):
            update = Update.de_json(update, self.bot)
        user_id = event.sender.user_id if event else str(update.effective_user.id) if update.effective_user else ""
        if event is None:
            # A command may depend on the one before it in its chat (`/setup`, then `/join`):
            # a chat's messages are handled in the order they came (the locks queue in order, as
            # the batch's tasks start in order), then each person's as for taps.
            chat = update.effective_chat
            async with self._lock(f"chat:{chat.id if chat else ''}"), self._lock(user_id):
                await self.app.process_update(update)
            return
        async with self._lock(user_id):
            try:
                await self._vote(update["callback_query"]["id"], event)
            except Exception:  # as PTB's error handler would: log it, and go on with the batch
                logger.exception("Telegram update failed: %s", convert.describe(update))

    def _lock(self, key: str) -> asyncio.Lock:
        return self._user_locks.setdefault(key, asyncio.Lock())

    async def _serve_webhook(self, stop: asyncio.Event) -> None:
        from aiohttp import web  # only in webhook mode: a polling bot need not hold the server's code

        url = self.settings.telegram_webhook_url
        secret = self.settings.telegram_webhook_secret.encode()
        host, _, port = (self.settings.telegram_webhook_listen or "0.0.0.0:8443").rpartition(":")

        async def receive(request: web.Request) -> web.Response:
            given = request.headers.get(SECRET_HEADER, "").encode()
            if not hmac.compare_digest(given, secret):
                return web.Response(status=403, text="forbidden")
            try:
                update = Update.de_json(await request.json(), self.bot)
            except Exception:  # malformed JSON or not an update: refuse it, process nothing
                return web.Response(status=400, text="bad update")
            await self.handle([update])
            # Answered only now, after the effect is committed: Telegram retries what fails.
            return web.Response(status=200)

        web_app = web.Application(client_max_size=1024 * 1024)
        web_app.router.add_post(urlparse(url).path or "/", receive)
        runner = web.AppRunner(web_app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host.strip("[]"), int(port))
        await site.start()
        try:
            await self._call(
                self.bot.set_webhook, url=url, secret_token=self.settings.telegram_webhook_secret,
                allowed_updates=ALLOWED_UPDATES,
            )
            logger.info("Telegram webhook listening on %s:%s for %s", host, port, url)
            self.ready.set()
            await stop.wait()
        finally:
            await runner.cleanup()

    # --- handlers (PTB callbacks): each converts, makes one call into the core, sends the answer ---

    async def _on_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        event = convert.command(update, self.bot_id)
        if event is None:
            return
        if convert.impersonal(update):
            # An anonymous admin or a channel shares one stand-in sender with every other: it
            # cannot hold a role or a vote. Ask for the person; store nothing, not even the update.
            if self.services.governance.addressed(event):
                async with in_language_of_room(self.services.stores, event.chat):
                    words = texts.SPEAK_AS_YOURSELF
                self._spawn(self._reply(convert.message_of(update), Reply(words, refusal=True)), "telegram-reply")
            return
        replies = await self.services.governance.handle_command(event)
        await self._remember_handle(update)  # after the command: a /join may have made the account
        message = convert.message_of(update)
        for reply in replies:
            for proposal_id in (reply.proposal_id, *reply.cards):
                if proposal_id is not None:
                    self.cards.mark(proposal_id)  # a vote, a revision, a proxy: the card shows it
            if self.notices.folds(event.chat, reply):
                continue  # the room's notice says it, in one message for the whole burst
            self._spawn(self._reply(message, reply), "telegram-reply")

    async def _on_tap(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        impersonal = convert.impersonal(update)
        event = None if impersonal else convert.tap(update, self.bot_id)
        if event is None:
            # An anonymous admin's tap, or a button that is not a vote: said in the room's language.
            chat = ChatRef(convert.PLATFORM, str(query.message.chat.id)) if query.message else None
            async with in_language_of_room(self.services.stores, chat) if chat else nullcontext():
                words = texts.SPEAK_AS_YOURSELF_TAP if impersonal else texts.BUTTON_INVALID
            await self._answer(query.id, words)
            return
        await self._vote(query.id, event)

    async def _vote(self, query_id: str, event: VoteCast) -> None:
        replies = await self.services.governance.handle_vote(event)
        # The answer is seen by the voter alone, so a secret ballot's choice is safe in it.
        await self._answer(query_id, replies[0].text if replies else None)
        if replies and replies[0].proposal_id is not None:
            self.cards.mark(replies[0].proposal_id)

    async def _on_migrate(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.message
        if message.migrate_to_chat_id:
            await self.services.stores.coops.move_room(
                convert.PLATFORM, str(message.chat_id), str(message.migrate_to_chat_id)
            )

    async def _on_added(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.message
        if any(member.id == self.bot_id for member in message.new_chat_members):
            chat = convert.chat_ref(message.chat)
            if await self.services.stores.coops.get_by_room(chat.platform, chat.chat_id) is None:
                self._spawn(self._send(message.chat_id, texts.ADDED_TO_ROOM.format(prefix=PREFIX)), "telegram-hello")

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        # Never the update itself: a tap's data or a typed vote is a secret ballot's choice.
        logger.error("Telegram update failed: %s", convert.describe(update), exc_info=context.error)

    async def _remember_handle(self, update: Update) -> None:
        """Store the @username of an account that exists; remembered as stored only once it was
        (a handle cached before its account existed would never be stored)."""
        user = update.effective_user
        if not user or not user.username or self._handles.get(str(user.id)) == user.username.lower():
            return
        handle = user.username.lower()
        if await self.services.stores.members.set_handle(convert.PLATFORM, str(user.id), handle):
            # Whoever held it before lost it in storage: should it come back to them, store it again.
            self._handles.pop(self._holders.get(handle, ""), None)
            self._handles[str(user.id)], self._holders[handle] = handle, str(user.id)

    # --- sending ---

    async def _answer(self, query_id: str, text: str | None) -> None:
        try:
            await self.bot.answer_callback_query(query_id, text=text[:200] if text else None)
        except BadRequest as exc:
            # A redelivered tap's query was answered the first time: nothing more to say.
            logger.info("callback %s not answered: %s", query_id, exc)
        except TelegramError:
            logger.exception("answering callback %s failed", query_id)

    async def _call(self, method, *args, chat: str | None = None, **kwargs):
        """Call the Bot API within the chat's budget, waiting out 429s a bounded number of times.
        What goes to a chat this way is a reply: routine, it leaves the chat's reserve to the outbox."""
        for _ in range(MAX_RETRIES):
            if chat is not None:
                await self.pacer.acquire(chat, routine=True)
            try:
                return await method(*args, **kwargs)
            except RetryAfter as exc:
                if chat is not None:
                    self.pacer.block(chat, _seconds(exc.retry_after))
                else:
                    await asyncio.sleep(_seconds(exc.retry_after))
            except (NetworkError, TimedOut) as exc:
                if isinstance(exc, BadRequest):
                    raise
                logger.warning("Bot API call %s failed (%s); retrying", getattr(method, "__name__", method), exc)
                await asyncio.sleep(1.0)
        raise TimedOut(f"gave up after {MAX_RETRIES} tries")

    async def _send(self, chat_id: int | str, text: str, **kwargs):
        # No link preview: a reply's only links are the bot's own (a calendar feed's URL is a
        # secret), which Telegram's servers would otherwise fetch and show.
        return await self._call(self.bot.send_message, chat_id=chat_id, text=convert.fit(text), chat=str(chat_id),
                                link_preview_options=NO_PREVIEW, **kwargs)

    async def _reply(self, message: Message, reply: Reply) -> None:
        """Answer a message: in its chat (in its topic, in a forum), or, if private, to its sender."""
        chat_id, message_id, user_id = message.chat_id, message.message_id, message.from_user.id
        thread = convert.topic(message)
        if reply.erase_command:
            await self._erase(message)
        try:
            if reply.private and chat_id != user_id:
                try:
                    await self._send(user_id, reply.text)
                    text = None
                except (Forbidden, BadRequest):
                    # The member never opened a chat with the bot: say only what the room may see.
                    text = reply.public_fallback
                # A secret vote typed in the group should not stay there (needs "delete messages").
                try:
                    await self.bot.delete_message(chat_id, message_id)
                except TelegramError as exc:
                    logger.info("could not delete a typed secret vote in %s (no right to?): %s", chat_id, exc)
                if text:
                    await self._send(chat_id, text, message_thread_id=thread)
                return
            # The topic is named, not left to the reply: a reply to a message deleted meanwhile
            # would go to the forum's General topic.
            await self._send(
                chat_id, reply.text, message_thread_id=thread,
                reply_parameters=ReplyParameters(message_id, allow_sending_without_reply=True),
            )
            if reply.attachment is not None:
                await self._attachment(chat_id, reply.attachment, thread)
        except TelegramError:
            logger.exception("reply to %s failed", chat_id)

    async def _attachment(self, chat_id: int, file: Attachment, thread: int | None) -> None:
        """A reply's file, sent after its text, which is whole there: a picture (the timeline) by
        sendPhoto, any other file (the calendar's .ics) by sendDocument; one refused leaves that
        text sent."""
        try:
            if file.is_image:
                await self._call(self.bot.send_photo, chat_id=chat_id, photo=file.data, filename=file.name,
                                 message_thread_id=thread, chat=str(chat_id))
            else:
                await self._call(self.bot.send_document, chat_id=chat_id, document=file.data, filename=file.name,
                                 message_thread_id=thread, chat=str(chat_id))
        except TelegramError:
            logger.exception("file to %s failed", chat_id)

    async def _erase(self, message: Message) -> None:
        """Delete the message an answer erases (a confession): at once, so no (chat, message) is kept
        to delete later. A bot may delete a private chat's messages for 48 hours; in a group, only
        with the right to delete messages: try, and go on without it."""
        try:
            await self._call(self.bot.delete_message, message.chat_id, message.message_id)
        except TelegramError as exc:
            # No chat or message named: the line would tell who confessed, and when.
            logger.info("a message the bot erases could not be deleted: %s", type(exc).__name__)

    async def _send_notice(self, chat: ChatRef, text: str) -> str | None:
        try:
            return str((await self._send(chat.chat_id, text)).message_id)
        except TelegramError:
            logger.exception("notice to %s failed", chat.chat_id)
            return None

    async def _edit_notice(self, chat: ChatRef, message_id: str, text: str) -> bool:
        """Edit a notice within the chat's budget (an edit counts as a message in a group)."""
        try:
            await self._call(self.bot.edit_message_text, convert.fit(text), chat_id=chat.chat_id,
                             message_id=int(message_id), chat=chat.chat_id)
            return True
        except BadRequest as exc:
            if "not modified" in str(exc).lower():
                return True
            logger.info("notice %s in %s not edited (%s); sending it anew", message_id, chat.chat_id, exc)
            return False
        # Any other failure (still rate limited, Telegram away) is raised: the notice keeps what it
        # showed, and the next request to join tries again.

    # --- the delivery pump's Platform: one outbox row, one card edit, and what came of it ---

    async def deliver(self, item: Outbox) -> Outcome:
        try:
            if item.kind == "proposal_opened" and item.proposal_id is not None:
                view = await card_view(self.services.stores, item.proposal_id, PREFIX)
                if view is None:
                    return GiveUp(f"proposal {item.proposal_id} no longer exists")
                with i18n.use(view.language):
                    markup = convert.keyboard(view, texts.WITHDRAW_BUTTON, texts.RANKED_START_OVER)
                sent = await self.bot.send_message(item.chat_id, convert.fit(view.text), reply_markup=markup)
                await self.services.stores.cards.record(
                    convert.PLATFORM, item.chat_id, item.proposal_id, str(sent.message_id), view.text,
                    self.services.clock.now(),
                )
                return SENT
            await self.bot.send_message(item.chat_id, convert.fit(texts.for_platform(item.text, PREFIX)))
            return SENT
        except TelegramError as exc:
            return _outcome(exc)

    async def edit(self, card: Card, view: CardView, text: str) -> Outcome:
        with i18n.use(view.language):
            markup = convert.keyboard(view, texts.WITHDRAW_BUTTON, texts.RANKED_START_OVER)
        try:
            await self.bot.edit_message_text(text, chat_id=card.chat_id, message_id=int(card.message_id),
                                             reply_markup=markup)
            return SENT
        except TelegramError as exc:
            if isinstance(exc, BadRequest) and "not modified" in str(exc).lower():
                return SENT  # it shows this text already
            return _outcome(exc)

    def card_text(self, view: CardView) -> str:
        return convert.fit(view.text)


def _outcome(exc: TelegramError) -> Outcome:
    """What a Bot API error means for a send or an edit."""
    if isinstance(exc, ChatMigrated):
        return Moved(str(exc.new_chat_id))  # the group became a supergroup: follow it
    if isinstance(exc, RetryAfter):
        return RetryAt(str(exc), _seconds(exc.retry_after))
    if isinstance(exc, (Forbidden, BadRequest)):
        # Kicked or blocked, the chat or message is gone, or the request itself is refused:
        # the same request would fail the same way tomorrow.
        return GiveUp(f"{type(exc).__name__}: {exc}")
    # 5xx (NetworkError), timeouts, anything else: it may pass.
    return RetryAt(f"{type(exc).__name__}: {exc}")


def _seconds(retry_after) -> float:
    return retry_after.total_seconds() if hasattr(retry_after, "total_seconds") else float(retry_after)
