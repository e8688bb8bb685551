"""The one delivery pump: the outbox and the card edits of every platform, fairly, paced and retried.

An adapter says only how to send one outbox row and how to edit one card, and what came of it
(`Outcome`). The pump does the rest, the same for every platform: it claims rows (a few per chat,
chats taking turns, none from a chat that is over its budget or waiting out a retry), sends each
chat's rows in order (urgent first), keeps retry state on the row (so a crash or a restart loses
none), follows a chat that moved, gives up only on a permanent refusal, keeps cards current, and
lets in-flight work finish at shutdown."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Protocol

from bot.cards import CardEdits
from bot.pacing import Pacer, wait_event
from handlers.cards import CardView, card_view
from storage.common import URGENT
from storage.db import retrying
from storage.models import Card, Outbox

if TYPE_CHECKING:
    from bot.services import Services

logger = logging.getLogger(__name__)

WAIT_AT_MOST = 1.0  # seconds a chat's turn waits for the pacer (the overall budget); longer: next pass
PER_CHAT = 5  # rows of one chat claimed per pass: a chat's backlog never crowds out another chat
CLAIM_LIMIT = 200
PARALLEL = 16  # chats sent to at once (each chat's own rows one after another)
LEASE = timedelta(seconds=60)


@dataclass(frozen=True)
class Sent:
    """Delivered (or, for an edit, the card shows the text)."""


@dataclass(frozen=True)
class RetryAt:
    """Not now, maybe later (rate limited, server away, timed out): the row and its chat wait
    `after` seconds if the platform said how long, else the pump's growing backoff."""

    reason: str
    after: float | None = None


@dataclass(frozen=True)
class Moved:
    """The chat has a new id (a Telegram group became a supergroup): send there."""

    chat_id: str


@dataclass(frozen=True)
class GiveUp:
    """Never (kicked out, the chat is gone, a permanent refusal): the chat's later rows go on."""

    reason: str


SENT = Sent()
Outcome = Sent | RetryAt | Moved | GiveUp


class Platform(Protocol):
    """What an adapter implements for the pump: the platform-specific sending and its verdicts."""

    name: str  # the platform in outbox rows and cards ("telegram")
    prefix: str  # how its verbs are written in what it shows ("/", "!")

    async def deliver(self, item: Outbox) -> Outcome: ...

    async def edit(self, card: Card, view: CardView, text: str) -> Outcome: ...

    def card_text(self, view: CardView) -> str: ...


@dataclass(frozen=True)
class Backoff:
    """Waits between tries of one row: `first` seconds, doubling up to `cap`. A failure that may
    pass (a 502, a timeout, a rate limit) is retried without any time limit: an outage of a day
    delays the co-op's news, it must not lose it. Only a permanent refusal (`GiveUp`) drops a row."""

    first: float = 1.0
    cap: float = 300.0

    def delay(self, attempts: int) -> float:
        """The wait after a failure, given the tries that failed before it."""
        return min(self.first * 2 ** min(attempts, 30), self.cap)


class Pump:
    """Delivers one platform's outbox and keeps its cards current. `start`, `kick` when something
    was committed, `spawn` other sends (replies) so `close` lets them finish."""

    def __init__(
        self, platform: Platform, services: Services, *, pacer: Pacer | None = None,
        cards: CardEdits | None = None, backoff: Backoff = Backoff(), per_chat: int = PER_CHAT,
        limit: int = CLAIM_LIMIT, parallel: int = PARALLEL, idle: float = 1.0,
    ) -> None:
        self.platform, self.services, self.pacer, self.cards = platform, services, pacer, cards
        self.backoff, self.per_chat, self.limit, self.parallel, self.idle = backoff, per_chat, limit, parallel, idle
        self.wake = asyncio.Event()  # set when something was committed that may have to be sent
        self._tasks: set[asyncio.Task] = set()
        self._drain: set[asyncio.Task] = set()  # finished before shutdown (replies, the outbox pass)
        self._held: set[int] = set()  # rows this process has claimed and not yet settled
        self._stopping = False

    # --- lifecycle ---

    async def start(self) -> None:
        if self.cards is not None:
            for card in await self.services.stores.cards.unfinished(self.platform.name):
                self.cards.mark(card.proposal_id)
            self.spawn(self.cards.run(self._refresh, self.platform.name), f"{self.platform.name}-cards")
        self.spawn(self._run(), f"{self.platform.name}-outbox", drain=True)

    def kick(self) -> None:
        """Wake the outbox and card loops (something was committed that they may have to send)."""
        self.wake.set()
        if self.cards is not None:
            self.cards.kick.set()

    def spawn(self, coro: Coroutine, name: str, *, drain: bool = False) -> asyncio.Task:
        """Run a send beside the loops; with `drain`, shutdown waits for it (a reply to something handled)."""
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        if drain:
            self._drain.add(task)
            task.add_done_callback(self._drain.discard)
        return task

    async def close(self, timeout: float = 10.0) -> None:
        """Stop claiming; let replies and the pass in hand finish (for `timeout` at most); stop the rest."""
        self._stopping = True
        self.wake.set()
        if self._drain:
            await asyncio.wait(list(self._drain), timeout=timeout)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._held:
            # Claims cut short: another process (or the next start) may take them at once.
            try:
                await self.services.stores.outbox.release(sorted(self._held), self.services.worker)
            except Exception:
                logger.exception("releasing %s outbox claims failed; their lease lapses", self.platform.name)

    # --- the outbox ---

    async def _run(self) -> None:
        while not self._stopping:
            try:
                if await self.deliver_once():
                    continue  # more may be waiting
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("delivering the %s outbox failed; trying again", self.platform.name)
            await wait_event(self.wake, self.idle)

    async def drain(self) -> None:
        """Deliver everything deliverable now (the console, after each command)."""
        while await self.deliver_once():
            pass

    async def deliver_once(self) -> int:
        """One pass: claim fairly, then each chat's rows in order, chats side by side. Returns how
        many rows were settled (sent, retried, moved or given up)."""
        outbox, now = self.services.stores.outbox, self.services.clock.now()
        paused, urgent_only = self.pacer.paused(WAIT_AT_MOST) if self.pacer else ((), ())
        rows = await outbox.claim(
            self.platform.name, self.services.worker, now, limit=self.limit, per_chat=self.per_chat,
            lease=LEASE, paused=paused, urgent_only=urgent_only,
        )
        if not rows:
            return 0
        self._held.update(row.id for row in rows)
        turns: dict[str, list[Outbox]] = {}
        for row in sorted(rows, key=lambda r: (r.priority, r.id)):  # chats in the order of their first row
            turns.setdefault(row.chat_id, []).append(row)
        if self.parallel <= 1:
            return sum([await self._turn(chat_rows) for chat_rows in turns.values()])
        gate = asyncio.Semaphore(self.parallel)

        async def gated(chat_rows: list[Outbox]) -> int:
            async with gate:
                return await self._turn(chat_rows)

        return sum(await asyncio.gather(*(gated(chat_rows) for chat_rows in turns.values())))

    async def _turn(self, rows: list[Outbox]) -> int:
        """One chat's claimed rows, in order; its turn ends at its budget, a retry or a move."""
        settled = 0
        for i, item in enumerate(rows):
            if self._stopping or not await self._may_send(item.chat_id, routine=item.priority != URGENT):
                await self._release(rows[i:])
                break
            if not await self._still_mine(item):
                # The claim lapsed while the chat's earlier rows went out, and another process
                # took it: that process sends it, and the rows after it, in order.
                self._held.discard(item.id)
                await self._release(rows[i + 1:])
                break
            try:
                outcome = await self.platform.deliver(item)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # not classified by the adapter: a bug, or a failure that may pass
                logger.exception("outbox %s to %s failed unexpectedly", item.id, item.chat_id)
                outcome = RetryAt(f"{type(exc).__name__}: {exc}")
            settled += 1
            try:
                go_on = await self._settle(item, outcome)
            finally:
                self._held.discard(item.id)
            if not go_on:
                await self._release(rows[i + 1:])
                break
        return settled

    async def _still_mine(self, item: Outbox) -> bool:
        """Renew the row's claim before its send if half its lease is gone (a chat's turn can
        outlast it); False if another process holds it now."""
        now = self.services.clock.now()
        if item.claimed_until is None or item.claimed_until - now > LEASE / 2:
            return True
        renewed = await self.services.stores.outbox.renew([item.id], self.services.worker, now + LEASE)
        return item.id in renewed

    async def _may_send(self, chat: str, *, routine: bool) -> bool:
        """Spend from the chat's budget if it allows a send within WAIT_AT_MOST; else False."""
        if self.pacer is None:
            return True
        while (wait := self.pacer.delay(chat, routine=routine)) > 0:
            if wait > WAIT_AT_MOST:
                return False
            await asyncio.sleep(wait)
        self.pacer.spend(chat)
        return True

    async def _release(self, rows: list[Outbox]) -> None:
        if rows:
            await self.services.stores.outbox.release([row.id for row in rows], self.services.worker)
            self._held.difference_update(row.id for row in rows)

    async def _settle(self, item: Outbox, outcome: Outcome) -> bool:
        """Record what came of a try; True if the chat's next row may go now."""
        outbox, clock, name = self.services.stores.outbox, self.services.clock, self.platform.name
        match outcome:
            case Sent():
                # The send happened: its mark must land, or the row goes out again after its claim.
                await retrying(lambda: outbox.mark_sent([item.id], clock.now(), worker=self.services.worker),
                               f"marking outbox {item.id} sent")
                if self.cards is not None and item.proposal_id is not None:
                    if item.kind in ("proposal_opened", "firewall", "consent_revised"):
                        # Votes may have come before the card was up; a call-in, a veto or a consent
                        # proposal's new text changes what it says.
                        self.cards.mark(item.proposal_id)
                    elif item.kind in ("proposal_result", "proposal_withdrawn"):
                        self.cards.mark(item.proposal_id, final=True)  # the card's closing edit
                return True
            case GiveUp(reason):
                logger.warning("outbox %s to %s:%s given up: %s", item.id, name, item.chat_id, reason)
                await retrying(lambda: outbox.give_up(item.id, reason, clock.now()), f"giving up outbox {item.id}")
                return True
            case Moved(chat_id):
                logger.info("%s chat %s moved to %s; following it", name, item.chat_id, chat_id)
                await self.services.stores.coops.move_room(name, item.chat_id, chat_id)
                await outbox.release([item.id], self.services.worker)
                return False
            case RetryAt(reason, after):
                now = clock.now()
                wait = after if after is not None else self.backoff.delay(item.attempts)
                if after is not None and self.pacer is not None:
                    self.pacer.block(item.chat_id, after)
                logger.warning("outbox %s to %s:%s failed (%s); try %s again in %.1f s",
                               item.id, name, item.chat_id, reason, item.attempts + 2, wait)
                await retrying(lambda: outbox.retry(item.id, reason, now + timedelta(seconds=wait)),
                               f"rescheduling outbox {item.id}")
                return False
        raise TypeError(f"not an outcome: {outcome!r}")

    # --- cards ---

    async def _refresh(self, proposal_id: int) -> bool:
        """Edit this proposal's cards if they are behind; False if some must wait for their turn."""
        stores, name = self.services.stores, self.platform.name
        view = await card_view(stores, proposal_id, self.platform.prefix)
        if view is None:
            return True
        done = True
        text = self.platform.card_text(view)
        for card in await stores.cards.for_proposal(name, proposal_id):
            final = not view.is_open
            verdict = self.cards.verdict(card, text, final)
            if verdict == "skip":
                continue
            if verdict == "wait" or (self.pacer is not None and self.pacer.delay(card.chat_id) > 0):
                done = False
                continue
            if self.pacer is not None:
                self.pacer.spend(card.chat_id)
            self.cards.edited(card)
            try:
                outcome = await self.platform.edit(card, view, text)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.exception("card %s in %s failed unexpectedly", card.id, card.chat_id)
                outcome = RetryAt(f"{type(exc).__name__}: {exc}")
            match outcome:
                case Sent():
                    pass  # recorded as shown below, with the text it now shows
                case GiveUp(reason):
                    # Out of reach (kicked, message gone): this card will not change again.
                    logger.warning("card %s in %s:%s given up: %s", card.id, name, card.chat_id, reason)
                    final = True
                case Moved(chat_id):
                    await stores.coops.move_room(name, card.chat_id, chat_id)
                    done = False
                    continue
                case RetryAt(reason, after):
                    if after is not None and self.pacer is not None:
                        self.pacer.block(card.chat_id, after)
                    logger.warning("card %s in %s:%s not edited (%s); will retry", card.id, name, card.chat_id, reason)
                    done = False
                    continue
            await retrying(lambda: stores.cards.shown(card.id, text, final=final, now=self.services.clock.now()),
                           f"recording card {card.id}")
        return done
