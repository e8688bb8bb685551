"""The Matrix adapter: syncs in, replies, polls, cards and results out, in encrypted rooms too.

The sync position is our own and is stored only after the events before it are handled (nio's
own token store is off), so a restart neither replays old history nor misses what came while
the bot was down. A timeline that overflowed one sync is backfilled from /messages. Handling is
idempotent on event ids, and sends carry transaction ids, so a retried send posts once."""

from __future__ import annotations

import asyncio
import contextvars
import io
import json
import logging
import os
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from pathlib import Path

from nio import (
    AsyncClient,
    AsyncClientConfig,
    InviteMemberEvent,
    JoinError,
    LoginResponse,
    MegolmEvent,
    MessageDirection,
    RedactionEvent,
    RoomMessagesResponse,
    RoomMessageText,
    RoomRedactResponse,
    RoomSendResponse,
    SyncResponse,
    UnknownEvent,
    UploadResponse,
    WhoamiResponse,
)

from nio.api import Api, RelationshipType
from nio.responses import RoomEventRelationsResponse

from bot.cards import CardEdits
from bot.config import Settings
from bot.delivery import SENT, Backoff, GiveUp, Outcome, Pump, RetryAt
from bot.matrix import convert
from bot.notices import Notices
from bot.services import Services
from handlers import i18n, texts
from handlers.cards import CardView, card_view
from handlers.context import in_language_of, in_language_of_room
from handlers.events import CommandReceived, MessageRetracted, VoteCast
from handlers.types import Attachment, ChatRef, Reply
from storage.db import is_transient
from storage.models import Card, Outbox

logger = logging.getLogger(__name__)

PREFIX = "!"
# Refusals that the same request would meet again: not in the room or no right to post there, no
# such room, an event too big or malformed. Anything else (5xx, timeouts, M_LIMIT_EXCEEDED, even
# M_UNKNOWN_TOKEN, which an operator fixes with a new token) is retried, not given up.
PERMANENT = frozenset({"M_FORBIDDEN", "M_NOT_FOUND", "M_TOO_LARGE", "M_BAD_JSON", "M_NOT_JSON"})
SYNC_TIMEOUT_MS = 30_000
CARD_EDIT_INTERVAL = 3.0  # seconds between edits of one card while votes keep coming: a burst becomes one edit
SETTLED = 0.4  # no vote for this long: the burst is over, and its final tally goes out without waiting the interval
MIN_EDIT_GAP = 1.0  # but never two edits of one card closer than this
IDLE = 1.0
# A room's notice of requests to join (bot/notices.py) is edited at most this often, as on Telegram:
# Synapse limits each sending account across all its rooms, not each room (rc_message: 0.2 messages
# a second, bursts of 10, by default), and an edit counts as a message, so one room's notice edited
# every 15 s already takes a third of a default budget. After NOTICE_FRESH it is far up the room: sent anew.
NOTICE_INTERVAL = 15.0
NOTICE_FRESH = 600.0
# A rate-limited notice send or edit is tried again this many times at most, each time a second
# later than the homeserver asks, so a card or result waiting on the same limit goes first.
NOTICE_TRIES = 5
NOTICE_YIELD = 1.0
# A refused poll response is told in the room, prefixed with the sender's display name, and redacted
# where the room lets the bot redact others' events (Element counts what the poll holds, refused or
# not). The same words to the same sender in the same room are said at most once in this many
# seconds; repeats are dropped with a log line at INFO, so nobody outside the register can make the
# bot post their name once per change of answer. Different words (another reason, another proposal)
# are still said: each carries news.
REFUSAL_EVERY = 60.0
CURSOR_EVERY = 2.0  # seconds between saves of the sync position while syncs follow each other
# Seconds to let events gather after a sync that carried some: in a burst, each sync and each
# group commit then carries many votes. Matrix shows a voter their choice in the poll at once;
# what waits is the count, and the card shows it within seconds anyway.
GATHER = 0.5
PARALLEL_SENDERS = 64  # poll responses of one sync handled at once (one sender's in order), so votes commit together
BACKFILL_PAGE = 100
# Skip presence and other noise; the timeline limit stays the server's, and overflow is backfilled.
SYNC_FILTER = {"presence": {"not_types": ["*"]}, "account_data": {"not_types": ["*"]},
               "room": {"ephemeral": {"not_types": ["*"]}}}


_in_sync: contextvars.ContextVar[bool] = contextvars.ContextVar("in_sync", default=False)


class SendFailed(Exception):
    """The homeserver refused a send (nio returns errors rather than raising them)."""

    def __init__(self, message: str, errcode: str | None = None, retry_after_ms: int | None = None) -> None:
        super().__init__(message)
        self.errcode, self.retry_after_ms = errcode, retry_after_ms


def _timestamp(milliseconds: int | None) -> datetime | None:
    return datetime.fromtimestamp(milliseconds / 1000, timezone.utc) if milliseconds else None


class MatrixAdapter:
    """Also the delivery pump's `Platform` for Matrix: `deliver`, `edit` and `card_text`."""

    name = platform = convert.PLATFORM
    prefix = PREFIX

    def __init__(self, services: Services, settings: Settings, *, backoff: Backoff = Backoff()) -> None:
        self.services = services
        self.settings = settings
        self.store_dir = Path(settings.data_dir) / "matrix"
        self.store_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.store_dir, 0o700)
        config = AsyncClientConfig(
            encryption_enabled=True,
            pickle_key=settings.matrix_store_key,  # the encryption store is sealed with this
            store_sync_tokens=False,  # our own position, committed with the effects, decides
            # nio would sleep out M_LIMIT_EXCEEDED (and connection failures) inside a send, holding
            # the pump's pass for every room. Instead the error comes back at once: the row waits
            # on its own retry (the server's retry_after, or the pump's backoff), other rooms go on.
            max_limit_exceeded=0,
            max_timeouts=0,
            request_timeout=60,
        )
        self.client = AsyncClient(
            settings.matrix_homeserver, settings.matrix_user, store_path=str(self.store_dir), config=config
        )
        # A default Synapse has its own per-user rate limit, which answers M_LIMIT_EXCEEDED: no budget here.
        self.pump = Pump(self, services, backoff=backoff, idle=IDLE,
                         cards=CardEdits(CARD_EDIT_INTERVAL, IDLE, settled=SETTLED, min_gap=MIN_EDIT_GAP))
        self.cards = self.pump.cards
        self.notices = Notices(
            # The core is assembled once every adapter is attached: look it up when a notice is due.
            lambda key, chat: self.services.governance.notice(key, chat), self._send_notice, self._edit_notice,
            interval=NOTICE_INTERVAL, fresh=NOTICE_FRESH, spawn=self.pump.spawn,
        )
        # (room, poll event id) -> (proposal id, whether its answers are an approved set), for our polls
        self._polls: dict[tuple[str, str], tuple[int, bool]] = {}
        self._greet: set[str] = set()
        self._undecrypted: list = []  # (room id, MegolmEvent) waiting for their room keys
        self._direct: set[str] = set()  # rooms the bot was invited to as a direct chat
        self._refusals = Quiet(REFUSAL_EVERY)  # refusal notices said lately, by (room, sender, words)
        # card id -> (text, transaction id) of its edit not yet known to be posted: a retry of that
        # edit reuses the id (posts once); any other edit gets a new one.
        self._edits: dict[int, tuple[str, str]] = {}
        self._polls_revised: dict[int, datetime] = {}  # card id -> the revision its poll shows
        self._lock = asyncio.Lock()  # sync handling and close-time reconciliation take turns
        self.ready = asyncio.Event()  # set once logged in and the first sync is handled
        self.bot_name: str | None = None  # the user id, once logged in
        self.last_look = self.reconcile  # poll responses a sync skipped are fetched before a count
        services.attach(self)

    @property
    def user_id(self) -> str:
        return self.client.user_id

    # --- lifecycle ---

    async def login(self) -> None:
        """Log in keeping one device across restarts: the session is saved beside the store."""
        session_file = self.store_dir / "session.json"
        user = self.settings.matrix_user
        if self.settings.matrix_access_token:
            self.client.access_token = self.settings.matrix_access_token
            who = await self.client.whoami()
            if not isinstance(who, WhoamiResponse):
                raise RuntimeError(f"Matrix access token refused: {who}")
            self.client.restore_login(who.user_id, who.device_id, self.settings.matrix_access_token)
        elif session_file.is_file() and json.loads(session_file.read_text()).get("user_id") == user:
            saved = json.loads(session_file.read_text())
            self.client.restore_login(saved["user_id"], saved["device_id"], saved["access_token"])
        else:
            response = await self.client.login(self.settings.matrix_password, device_name="coopbot")
            if not isinstance(response, LoginResponse):
                raise RuntimeError(f"Matrix login failed: {response}")
            session_file.write_text(json.dumps(
                {"user_id": response.user_id, "device_id": response.device_id, "access_token": response.access_token}
            ))
            os.chmod(session_file, 0o600)
        if self.client.should_upload_keys:
            await self.client.keys_upload()

    async def run(self, stop: asyncio.Event) -> None:
        await self.login()
        self.bot_name = self.user_id
        self._direct = {
            name.removeprefix("direct:")
            for name in await self.services.stores.cursors.names(convert.PLATFORM, prefix="direct:")
        }
        await self.pump.start()
        try:
            await self._sync_loop(stop)
        finally:
            # Replies to what was handled, and the outbox pass in hand, go out before the loops stop.
            await self.pump.close()
            await self.client.close()

    def _spawn(self, coro, name: str) -> None:
        self.pump.spawn(coro, name, drain=True)

    def kick(self) -> None:
        self.pump.kick()

    # --- receiving ---

    async def _sync_loop(self, stop: asyncio.Event) -> None:
        since = await self.services.stores.cursors.get(convert.PLATFORM, "since")
        first, unsaved, loop = True, False, asyncio.get_running_loop()
        saved_at = loop.time()
        stopping = asyncio.create_task(stop.wait())
        try:
            while not stop.is_set():
                # The first sync of a run carries full state so nio knows rooms, members and encryption.
                fetch = asyncio.create_task(self.client.sync(
                    timeout=0 if first else SYNC_TIMEOUT_MS, since=since, full_state=first, sync_filter=SYNC_FILTER,
                ))
                await asyncio.wait({fetch, stopping}, return_when=asyncio.FIRST_COMPLETED)
                if not fetch.done():
                    fetch.cancel()  # nothing is lost: the stored position has not moved
                    break
                try:
                    response = fetch.result()
                except Exception as exc:
                    # The homeserver is away: nothing moved, so wait and sync again from the same place.
                    logger.warning("Matrix sync failed (%s); retrying", exc)
                    await asyncio.sleep(5.0)
                    continue
                if not isinstance(response, SyncResponse):
                    logger.warning("Matrix sync failed: %s", response)
                    await asyncio.sleep(2.0)
                    continue
                try:
                    await self._keep_keys()
                except Exception:
                    logger.exception("end-to-end key upkeep failed; going on")
                async with self._lock:
                    token = _in_sync.set(True)
                    try:
                        # The very first run starts from now: a co-op's old history is not replayed.
                        await self._handle(response, since, replay=since is not None)
                        if self._undecrypted:
                            await self._retry_undecrypted()
                    except Exception:
                        # The position stays where it was: the same events come again, and what
                        # was already stored is recognised by its event id.
                        logger.exception("handling a Matrix sync failed; fetching it again")
                        await asyncio.sleep(5.0)
                        continue
                    finally:
                        _in_sync.reset(token)
                since = response.next_batch
                unsaved = True
                if first or loop.time() - saved_at >= CURSOR_EVERY:
                    # Saved at most every few seconds in a burst: after a crash the events since are
                    # fetched again, and those already stored are recognised by their event ids.
                    if await self._save_position(since):
                        saved_at, unsaved = loop.time(), False
                first = False
                self.ready.set()
                self.cards.kick.set()  # commands kick the outbox themselves
                if _busy(response, self.user_id):
                    # Votes are coming in: let a few more arrive, so each sync (and each group
                    # commit) carries several, at a cost of a fraction of a second.
                    await asyncio.wait({stopping}, timeout=GATHER)  # (not wait_event: it clears `stop`)
        finally:
            stopping.cancel()
            if unsaved:
                await self._save_position(since)

    async def _save_position(self, since: str) -> bool:
        """Store the sync position; False if the database refused. A failed save is no reason to
        stop: the position simply stays behind, the next save catches up, and events synced again
        after a restart are recognised by their ids."""
        try:
            await self.services.stores.cursors.set(convert.PLATFORM, "since", since, self.services.clock.now())
        except Exception as exc:
            if is_transient(exc):
                logger.warning("saving the Matrix sync position failed (%s: %s); will save it later",
                               type(exc).__name__, exc)
            else:
                logger.exception("saving the Matrix sync position failed; will save it later")
            return False
        return True

    async def _keep_keys(self) -> None:
        """What sync_forever would do between syncs for end-to-end encryption."""
        client = self.client
        if client.outgoing_to_device_messages:
            await client.send_to_device_messages()
        if client.should_upload_keys:
            await client.keys_upload()
        if client.should_query_keys:
            await client.keys_query()
        if client.should_claim_keys:
            await client.keys_claim(client.get_users_for_key_claiming())

    async def _handle(self, response: SyncResponse, since: str | None, *, replay: bool) -> None:
        for room_id, invite in response.rooms.invite.items():
            mine = [e for e in invite.invite_state if isinstance(e, InviteMemberEvent) and e.state_key == self.user_id]
            if mine:
                if mine[-1].content.get("is_direct"):
                    # Element marks a direct chat on the invite; remember it, so a small group is not one.
                    await self.services.stores.cursors.set(convert.PLATFORM, f"direct:{room_id}", "1",
                                                           self.services.clock.now())
                    self._direct.add(room_id)
                joined = await self.client.join(room_id)
                if isinstance(joined, JoinError):
                    logger.warning("could not join %s: %s", room_id, joined)
                else:
                    self._greet.add(room_id)
        for room_id, info in response.rooms.join.items():
            if room_id in self._greet:
                self._greet.discard(room_id)
                await self._hello(room_id)
            if not replay:
                continue
            events = list(info.timeline.events)
            if info.timeline.limited and since is not None:
                events = await self._backfill(room_id, info.timeline.prev_batch, since) + events
            seen: set[str] = set()
            fresh = []
            for event in events:
                if event.event_id not in seen and event.sender != self.user_id:
                    seen.add(event.event_id)
                    fresh.append(event)
            for run in _runs(fresh):
                await self._handle_run(room_id, run)

    async def _handle_run(self, room_id: str, run: list) -> None:
        """Poll responses side by side: each sender's in the order sent, different senders at once,
        so a burst's votes share transactions. Anything else is a run of one, handled alone."""
        by_sender: dict[str, list] = defaultdict(list)
        for event in run:
            by_sender[event.sender].append(event)
        gate = asyncio.Semaphore(PARALLEL_SENDERS)

        async def in_order(events: list) -> None:
            async with gate:
                for event in events:
                    await self._safe_event(room_id, event)

        await asyncio.gather(*(in_order(events) for events in by_sender.values()))

    async def _safe_event(self, room_id: str, event) -> None:
        try:
            await self._event(room_id, event)
        except Exception:
            # One bad event must not stop the room; its effect was rolled back.
            logger.exception("Matrix event %s in %s failed", event.event_id, room_id)

    async def _backfill(self, room_id: str, prev_batch: str, since: str) -> list:
        """The events a limited timeline left out: from its start back to our position."""
        events: list = []
        token = prev_batch
        while True:
            page = await self.client.room_messages(
                room_id, start=token, end=since, direction=MessageDirection.back, limit=BACKFILL_PAGE
            )
            if not isinstance(page, RoomMessagesResponse):
                logger.warning("backfill of %s failed: %s", room_id, page)
                break
            events.extend(page.chunk)
            if not page.chunk or not page.end or page.end == token:
                break
            token = page.end
        logger.info("backfilled %d events in %s", len(events), room_id)
        return list(reversed(events))

    def _chat(self, room_id: str):
        room = self.client.rooms.get(room_id)
        title = room.display_name if room else room_id
        # Direct: invited as a direct chat, and still just the member and the bot (a "direct"
        # room others joined later is a group, where link codes and secret votes do not belong).
        direct = room_id in self._direct and (room is None or room.member_count <= 2)
        return convert.chat_ref(room_id, direct=direct, title=title)

    def _user(self, room_id: str, user_id: str):
        room = self.client.rooms.get(room_id)
        return convert.user_ref(user_id, room.user_name(user_id) if room else None)

    def _shown_name(self, room_id: str, user_id: str) -> str | None:
        """The name a client shows for someone in this room (a pill's text), as they set it."""
        room = self.client.rooms.get(room_id)
        user = room.users.get(user_id) if room else None
        return user.display_name if user else None

    def _command_text(self, room_id: str, content: dict) -> str:
        """What a message's content says, with each person it names as their id: pills where they
        stand, the reply's quoted fallback left out, an address to the bot (`coopbot: !show 2`)
        taken off, and an argument that is only a mentioned person's shown name read as that person."""
        body, formatted = content.get("body"), content.get("formatted_body")
        formatted = formatted if content.get("format") == convert.HTML and isinstance(formatted, str) else None
        text = convert.command_text(convert.with_mentions(body if isinstance(body, str) else "", formatted))
        me = self.user_id
        text = convert.addressed(text, (me, me[1:].partition(":")[0], self._shown_name(room_id, me) or ""))
        names = {user_id: name for user_id in convert.mentioned(content)
                 if user_id != me and (name := self._shown_name(room_id, user_id))}
        return convert.named_by_mention(text, names) if names else text

    async def _event(self, room_id: str, event) -> None:
        gov = self.services.governance
        if isinstance(event, RoomMessageText):
            content = event.source.get("content", {})
            corrects = convert.edited(content)
            if corrects is not None:
                # An edit (as Element sends it): the message now says its m.new_content, and the core
                # decides what correcting the original may do. The " * …" fallback is never read.
                content = content["m.new_content"]
            text = self._command_text(room_id, content)
            if not text.lstrip().startswith(("!", "/")):
                return
            command = CommandReceived(self._chat(room_id), self._user(room_id, event.sender), text, event.event_id,
                                      corrects)
            self._answer(room_id, event, await gov.handle_command(command), reply_to=corrects or event.event_id)
        elif isinstance(event, RedactionEvent):
            self.notices.gone(event.redacts)  # if it was a notice, the next one is a new message
            if event.sender != self.user_id and event.redacts:
                # Deleted by its sender: a vote that message cast is withdrawn (the core checks whose it was).
                retracted = MessageRetracted(self._chat(room_id), self._user(room_id, event.sender), event.redacts,
                                             event.event_id)
                self._answer(room_id, event, await gov.handle_retraction(retracted), reply_to=event.redacts)
        elif _is_vote(event):
            await self._poll_response(room_id, event.event_id, event.sender, event.source.get("content", {}),
                                      made_at=_timestamp(event.server_timestamp))
        elif isinstance(event, MegolmEvent):
            # Its key has not arrived yet (it may come in a later sync): keep it, ask, try again.
            logger.warning("could not decrypt %s in %s yet; asking for its key", event.event_id, room_id)
            self._undecrypted.append((room_id, event))
            try:
                await self.client.request_room_key(event)
            except Exception:
                logger.exception("room key request failed")

    async def _retry_undecrypted(self) -> None:
        """Events whose room key came later are handled now, in the order they were sent."""
        waiting, self._undecrypted = self._undecrypted, []
        for room_id, event in waiting:
            try:
                decrypted = self.client.decrypt_event(event)
            except Exception:
                self._undecrypted.append((room_id, event))
                continue
            try:
                await self._event(room_id, decrypted)
            except Exception:
                logger.exception("Matrix event %s in %s failed", event.event_id, room_id)
        # Keys that never come: give up after a while rather than hold events forever.
        self._undecrypted = self._undecrypted[-1000:]

    async def _poll_response(
        self, room_id: str, event_id: str, sender: str, content: dict, *, notify: bool = True,
        made_at: datetime | None = None,
    ) -> None:
        parsed = convert.poll_answers(content)
        if parsed is None:
            return
        poll_id, answers = parsed
        known = self._polls.get((room_id, poll_id))
        if known is None:
            card = await self.services.stores.cards.by_poll(convert.PLATFORM, room_id, poll_id)
            if card is None:
                return  # someone else's poll
            # A poll's proposal never changes: a burst of responses looks it up once.
            p = await self.services.stores.proposals.get_by_id(card.proposal_id)
            known = self._polls[(room_id, poll_id)] = (card.proposal_id, p is not None and p.method == "approval")
        proposal_id, approval = known
        chat, user, gov = self._chat(room_id), self._user(room_id, sender), self.services.governance
        if approval:  # the answers are the set approved (none: the vote taken back)
            vote = VoteCast(chat, user, proposal_id, None, event_id, made_at, choices=convert.approved(answers),
                            how="set")
        else:
            vote = VoteCast(chat, user, proposal_id, answers[0] if answers else None, event_id, made_at)
        replies = await gov.handle_vote(vote)
        if replies and replies[0].refusal:
            # The poll shows the choice as made: take it out of the poll where the bot may, and say
            # in the room that it was not counted (once a minute).
            say = notify and self._refusals.first((room_id, sender, replies[0].text))
            if notify and not say:
                logger.info("refusal of poll response %s by %s in %s not posted again within %d s",
                            event_id, sender, room_id, REFUSAL_EVERY)
            self._spawn(self._refuse(room_id, event_id, user, replies[0].text, say=say), "matrix-refusal")
        elif replies:
            self.cards.mark(proposal_id)

    async def _refuse(self, room_id: str, event_id: str, user, refusal: str, *, say: bool) -> None:
        """A refused poll response: redacted if the room's power levels let the bot redact others'
        events (Element's poll then drops it), and, if `say`, the refusal told to its sender."""
        removed = self._may_redact(room_id) and await self._redact(room_id, event_id, refusal)
        if say:
            async with in_language_of_room(self.services.stores, self._chat(room_id)):
                words = texts.POLL_ANSWER_REMOVED if removed else texts.POLL_ANSWER_SHOWN
            told = convert.answer(f"{user.display_name}: {refusal} {words}", event_id, user.user_id)
            await self._notify(room_id, told, f"refusal-{event_id}")

    def _may_redact(self, room_id: str) -> bool:
        """Do the room's m.room.power_levels (as the last sync left them) let the bot redact others' events?"""
        room = self.client.rooms.get(room_id)
        levels = room.power_levels if room else None
        return bool(levels and levels.can_user_redact(self.user_id)
                    and levels.can_user_send_message(self.user_id, "m.room.redaction"))

    async def _redact(self, room_id: str, event_id: str, reason: str) -> bool:
        """Redact one event, waiting out a rate limit; False if the homeserver refused."""
        async def once() -> RoomRedactResponse:
            # One transaction id per event: a retry, or a second refusal of the same response, redacts once.
            response = await self.client.room_redact(room_id, event_id, reason=reason, tx_id=f"redact-{event_id}")
            return _checked(response, RoomRedactResponse, f"redaction of {event_id} in {room_id}")

        try:
            await self._patiently(once)
        except SendFailed as exc:
            logger.warning("poll response %s in %s not redacted: %s", event_id, room_id, exc)
            return False
        return True

    async def _erase(self, room_id: str, event_id: str, reason: str) -> None:
        """Redact the message an answer erases (a confession, a vote the room may not see), at once:
        the bot needs the power to redact others' events; where it lacks it, the event stays (logged)."""
        async def once() -> RoomRedactResponse:
            response = await self.client.room_redact(room_id, event_id, reason=reason,
                                                     tx_id=f"erase-{event_id}")
            return _checked(response, RoomRedactResponse, f"redaction of {event_id} in {room_id}")

        try:
            await self._patiently(once)
        except Exception as exc:  # refused, or the homeserver away: the answer still goes out
            # No room or event named: the line would tell who confessed, and when.
            logger.warning("a message the bot erases was not redacted: %s", type(exc).__name__)

    async def _hello(self, room_id: str) -> None:
        if await self.services.stores.coops.get_by_room(convert.PLATFORM, room_id) is None:
            self._spawn(self._notify(room_id, convert.notice(texts.ADDED_TO_ROOM.format(prefix=PREFIX)),
                                     f"hello-{room_id}"), "matrix-reply")

    async def _notify(self, room_id: str, content: dict, txn: str) -> None:
        try:
            await self._send(room_id, content, txn=txn)
        except Exception:
            logger.exception("notice in %s failed", room_id)

    async def reconcile(self, proposal_id: int) -> None:
        """Before a count: bring in each member's latest poll response that no sync delivered."""
        if not any(card.poll_id for card in await self.services.stores.cards.for_proposal(convert.PLATFORM, proposal_id)):
            return  # no poll of ours: nothing to look at, and no reason to wait for the sync loop
        if _in_sync.get():
            # Called from a command handled within a sync: the lock is already ours.
            await self._reconcile(proposal_id)
        else:
            async with self._lock:
                await self._reconcile(proposal_id)

    async def _reconcile(self, proposal_id: int) -> None:
        for card in await self.services.stores.cards.for_proposal(convert.PLATFORM, proposal_id):
            if card.poll_id is None:
                continue
            latest: dict[str, tuple[int, str, dict]] = {}
            async for event in self._relations(card.chat_id, card.poll_id):
                if isinstance(event, MegolmEvent):
                    event = self.client.decrypt_event(event)
                source = getattr(event, "source", {})
                if source.get("type") not in convert.POLL_RESPONSES or event.sender == self.user_id:
                    continue
                stamp = source.get("origin_server_ts", 0)
                if event.sender not in latest or stamp >= latest[event.sender][0]:
                    latest[event.sender] = (stamp, event.event_id, source.get("content", {}))
            handled = await self.services.stores.cursors.handled(
                convert.PLATFORM, [event_id for _, event_id, _ in latest.values()]
            )
            proposal = await self.services.stores.proposals.get_by_id(proposal_id)
            for sender, (stamp, event_id, content) in latest.items():
                if event_id in handled:
                    continue
                made_at = _timestamp(stamp)
                member = await self.services.stores.members.by_account(proposal.coop_id, convert.PLATFORM, sender)
                ballot = member and await self.services.stores.votes.ballot(proposal_id, member.id)
                if ballot and made_at and ballot.cast_at >= made_at:
                    continue  # the member voted again since (by !vote or on another platform): that stands
                logger.info("reconciling poll response %s of %s", event_id, sender)
                # A refusal (non-member) was said when the response came; not again now.
                await self._poll_response(card.chat_id, event_id, sender, content, notify=False, made_at=made_at)

    async def _relations(self, room_id: str, event_id: str):
        """The events that refer to one (a poll's responses), page by page. matrix-nio's own
        iterator takes an error response for a page and fails on it with an AttributeError; here
        an error (the homeserver down, a 502 from its proxy) is raised as what it is, so the
        count waits and tries again."""
        page = None
        while True:
            method, path = Api.room_get_event_relations(
                self.client.access_token, room_id, event_id, RelationshipType.reference, paginate_from=page)
            response = _checked(
                await self.client._send(RoomEventRelationsResponse, method, path, response_data=(room_id, event_id)),
                RoomEventRelationsResponse, f"relations of {event_id} in {room_id}")
            for event in response.events:
                yield event
            if not response.next_batch:
                return
            page = response.next_batch

    # --- sending ---

    async def _send(self, room_id: str, content: dict, *, txn: str, event_type: str = "m.room.message") -> str:
        response = await self.client.room_send(
            room_id, event_type, content, tx_id=txn, ignore_unverified_devices=True
        )
        return _checked(response, RoomSendResponse, f"{event_type} to {room_id}").event_id

    def _answer(self, room_id: str, event, replies: list[Reply], *, reply_to: str) -> None:
        """The core's replies to one event, each sent beside the sync, not in it: a rate-limited
        reply must not hold up the votes that come after it (its effect is already stored; its
        transaction id keeps it single)."""
        chat = self._chat(room_id)
        for i, reply in enumerate(replies):
            for proposal_id in (reply.proposal_id, *reply.cards):
                self.cards.mark(proposal_id)
            if self.notices.folds(chat, reply):
                continue  # the room's notice says it, in one message for the whole burst
            self._spawn(self._reply(room_id, event, reply, i, reply_to), "matrix-reply")
        self.kick()  # a command may have queued announcements (a card) with no reply at all

    async def _reply(self, room_id: str, event, reply: Reply, index: int, reply_to: str) -> None:
        # A private answer to a message in a room (a secret vote, or one on hidden results, typed
        # there) means the message itself tells what the room may not see: it goes, as on Telegram.
        hidden = reply.private and not self._chat(room_id).is_direct
        if (reply.erase_command or hidden) and index == 0:
            async with in_language_of_room(self.services.stores, self._chat(room_id)):
                why = texts.ERASED_REASON if reply.erase_command else texts.VOTE_ERASED
            await self._erase(room_id, event.event_id, why)
            if reply_to != event.event_id:  # an edit: the message it corrects holds the secret too
                await self._erase(room_id, reply_to, why)
        text = reply.text
        if hidden:
            # The room sees only what it may: a secret ballot is cast in a direct chat.
            text = reply.public_fallback or text
        thread = convert.thread_root(event.source.get("content", {}))
        content = convert.answer(text, reply_to, event.sender, thread)
        try:
            await self._send(room_id, content, txn=f"reply-{event.event_id}-{index}")
            if reply.attachment is not None:
                await self._attachment(room_id, reply.attachment, thread, txn=f"file-{event.event_id}-{index}")
        except Exception:
            logger.exception("reply in %s failed", room_id)

    async def _attachment(self, room_id: str, file: Attachment, thread: str | None, *, txn: str) -> None:
        """A reply's file, after its text: uploaded to the homeserver's media repository (encrypted,
        for an encrypted room) and sent as an m.image (the timeline's PNG) or an m.file (the
        calendar's .ics)."""
        room = self.client.rooms.get(room_id)
        encrypted = bool(room is not None and room.encrypted)
        uploaded, keys = await self.client.upload(
            lambda *_: io.BytesIO(file.data), content_type=file.mime, filename=file.name,
            encrypt=encrypted, filesize=len(file.data))
        url = _checked(uploaded, UploadResponse, f"upload for {room_id}").content_uri
        content = (convert.image(file.name, url, file.data, keys, thread) if file.mime == "image/png"
                   else convert.file(file.name, file.mime, url, file.data, keys, thread))
        await self._send(room_id, content, txn=txn)

    async def _send_notice(self, chat: ChatRef, text: str) -> str | None:
        try:
            return await self._send_routine(chat.chat_id, convert.notice(text))
        except SendFailed as exc:
            logger.warning("notice to %s not sent: %s", chat.chat_id, exc)
            return None

    async def _edit_notice(self, chat: ChatRef, message_id: str, text: str) -> bool:
        try:
            await self._send_routine(chat.chat_id, convert.replacement(message_id, text))
        except SendFailed as exc:
            if exc.errcode not in PERMANENT:
                # Still rate limited, or the homeserver away: the notice keeps what it showed, and
                # the next request to join tries again.
                raise
            logger.info("notice %s in %s not edited (%s); sending it anew", message_id, chat.chat_id, exc)
            return False
        return True

    async def _send_routine(self, room_id: str, content: dict) -> str:
        """Send a notice or its edit, waiting out a rate limit (a few times at most).

        Its transaction id is new for each send or edit and kept across the tries, so a retried
        one posts once. It is not derived from the text, as a card edit's is: a notice comes back to
        an earlier text ("bob asks to join" after carol is admitted), and Synapse answers a reused
        id, for half an hour, with the earlier event and posts nothing."""
        txn = f"notice-{uuid.uuid4().hex}"
        return await self._patiently(lambda: self._send(room_id, content, txn=txn))

    async def _patiently(self, attempt: Callable[[], Awaitable]):
        """Try a routine send, waiting out a rate limit a few times at most, each a second longer than
        asked, so a card or result waiting on the same limit goes first."""
        for _ in range(NOTICE_TRIES - 1):
            try:
                return await attempt()
            except SendFailed as exc:
                if not exc.retry_after_ms:
                    raise
                await asyncio.sleep(exc.retry_after_ms / 1000 + NOTICE_YIELD)
        return await attempt()

    # --- the delivery pump's Platform: one outbox row, one card edit, and what came of it ---

    async def deliver(self, item: Outbox) -> Outcome:
        try:
            await self._deliver(item)
        except Exception as exc:
            return _outcome(exc)
        return SENT

    async def _deliver(self, item: Outbox) -> None:
        # Transaction ids come from the outbox row: a send retried (after a failure or a crash)
        # posts once, and a card whose notice went out but not its poll sends only the poll again.
        if item.kind == "proposal_opened" and item.proposal_id is not None:
            view = await card_view(self.services.stores, item.proposal_id, PREFIX)
            if view is None:
                raise SendFailed(f"proposal {item.proposal_id} no longer exists", "M_NOT_FOUND")
            text = self.card_text(view)
            card_id = await self._send(item.chat_id, convert.notice(text), txn=f"card-{item.id}")
            if not _polled(view):
                await self.services.stores.cards.record(
                    convert.PLATFORM, item.chat_id, item.proposal_id, card_id, text, self.services.clock.now()
                )
                return
            # The poll and its record go together while syncs wait, so no response to the poll can
            # be handled before the bot knows the poll is its own.
            async with self._lock:
                poll_id = await self._send(
                    item.chat_id, convert.poll_start(view, text, _question(view)), txn=f"poll-{item.id}",
                    event_type=convert.POLL_START,
                )
                await self.services.stores.cards.record(
                    convert.PLATFORM, item.chat_id, item.proposal_id, card_id, text, self.services.clock.now(),
                    poll_id=poll_id,
                )
            return
        text = texts.for_platform(item.text, PREFIX)
        polls = []
        if item.proposal_id is not None and item.kind in ("proposal_result", "proposal_withdrawn"):
            cards = await self.services.stores.cards.for_proposal(convert.PLATFORM, item.proposal_id)
            polls = [card.poll_id for card in cards if card.chat_id == item.chat_id and card.poll_id]
        if polls and item.kind == "proposal_result":
            async with in_language_of(self.services.stores, item.coop_id):
                text += "\n" + texts.RESULT_POLL_NOTE.format(prefix=PREFIX)
        await self._send(item.chat_id, convert.notice(text), txn=f"outbox-{item.id}")
        for poll_id in polls:
            await self._send(item.chat_id, convert.poll_end(poll_id, text), txn=f"pollend-{item.id}",
                             event_type=convert.POLL_END)

    async def _revise_poll(self, card: Card, view: CardView) -> None:
        """Its author changed the proposal: the poll's question and answers are replaced too (an
        m.replace of the poll, as Element edits a poll nobody has answered), once per revision."""
        if card.poll_id is None or view.revised_at is None or self._polls_revised.get(card.id) == view.revised_at:
            return
        text = view.text
        content = {**convert.poll_start(view, text, _question(view)),
                   "m.new_content": convert.poll_start(view, text, _question(view)),
                   "m.relates_to": {"rel_type": "m.replace", "event_id": card.poll_id}}
        await self._send(card.chat_id, content, txn=f"poll-edit-{card.id}-{view.revised_at.isoformat()}",
                         event_type=convert.POLL_START)
        self._polls_revised[card.id] = view.revised_at

    async def edit(self, card: Card, view: CardView, text: str) -> Outcome:
        # Each edit has a transaction id of its own, kept only for retries of that same edit: a
        # tally that comes back to an earlier text (a vote changed and changed back) must be posted
        # again, and Synapse answers a reused id, for half an hour, with the earlier event and posts nothing.
        pending = self._edits.get(card.id)
        txn = pending[1] if pending and pending[0] == text else f"edit-{card.id}-{uuid.uuid4().hex}"
        self._edits[card.id] = (text, txn)
        try:
            if view.is_open:
                await self._revise_poll(card, view)
            await self._send(card.chat_id, convert.replacement(card.message_id, text), txn=txn)
        except Exception as exc:
            outcome = _outcome(exc)
            if isinstance(outcome, GiveUp):
                self._edits.pop(card.id, None)
            return outcome
        self._edits.pop(card.id, None)
        return SENT

    def card_text(self, view: CardView) -> str:
        if _polled(view):
            with i18n.use(view.language):
                return view.text + "\n" + texts.CARD_POLL_NOTE.format(prefix=PREFIX)
        return view.text


def _question(view: CardView) -> str:
    with i18n.use(view.language):
        return texts.POLL_QUESTION.format(title=view.text.split("\n", 1)[0], prefix=PREFIX)


class Quiet:
    """Remembers what was said lately: `first(key)` is true once per `every` seconds for a key."""

    def __init__(self, every: float, *, clock=time.monotonic, keep: int = 10_000) -> None:
        self.every, self.clock, self.keep = every, clock, keep
        self._said: dict[tuple, float] = {}

    def first(self, key: tuple) -> bool:
        now = self.clock()
        said = self._said.get(key)
        if said is not None and now - said < self.every:
            return False
        if len(self._said) >= self.keep:  # forget what is past its window; memory stays bounded
            self._said = {k: t for k, t in self._said.items() if now - t < self.every}
        self._said[key] = now
        return True


def _polled(view: CardView) -> bool:
    """Does this card come with a poll? Only an open ballot whose counts may be seen, while voting
    is open: poll responses are public room events, whatever a client shows, so a secret ballot
    is cast in a direct chat and a hidden-results ballot by typed votes. A poll cannot rank: a ranked
    card explains how to type a ranking instead."""
    return view.ballot == "open" and not view.results_hidden and view.is_open and view.method != "ranked"


def _checked(response, expected: type, what: str):
    """matrix-nio returns an error response rather than raising it: raise it, with its errcode and wait."""
    if not isinstance(response, expected):
        raise SendFailed(f"{what}: {response}", getattr(response, "status_code", None),
                         getattr(response, "retry_after_ms", None))
    return response


def _outcome(exc: Exception) -> Outcome:
    """What a failed send means: given up only on a refusal that would come again."""
    if isinstance(exc, SendFailed) and exc.errcode in PERMANENT:
        return GiveUp(str(exc))
    if isinstance(exc, SendFailed) and exc.retry_after_ms:
        return RetryAt(str(exc), exc.retry_after_ms / 1000)
    return RetryAt(f"{type(exc).__name__}: {exc}")


def _busy(response: SyncResponse, me: str) -> bool:
    """Did this sync carry poll responses (not merely the echo of what the bot sent)?"""
    return any(_is_vote(event) and event.sender != me
               for info in response.rooms.join.values() for event in info.timeline.events)


def _is_vote(event) -> bool:
    return isinstance(event, UnknownEvent) and event.type in convert.POLL_RESPONSES


def _runs(events: list) -> list[list]:
    """Consecutive poll responses form one run; every other event is a run of its own (a
    command after votes sees them all counted, and the votes after it see its effect)."""
    runs: list[list] = []
    for event in events:
        if _is_vote(event) and runs and _is_vote(runs[-1][-1]):
            runs[-1].append(event)
        else:
            runs.append([event])
    return runs
