"""The delivery pump: fair claiming, priority, retries kept on the row, give-ups, several workers."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from datetime import timedelta
from types import SimpleNamespace

from sqlalchemy import select

from bot.delivery import SENT, Backoff, Pump, RetryAt
from storage.db import Database
from storage.models import Outbox
from storage.common import priority
from storage.outbox import Scheduled
from storage.stores import Stores
from tests.conftest import Chat, make_coop
from tests.test_telegram import GROUP, STEWARD, Harness, fake  # noqa: F401 (the fake Bot API fixture)

OTHER = -2002


async def queue(stores: Stores, coop_id: int, texts: list[str], now, *, kind: str = "notice") -> None:
    """Queue news through the store, as scheduled work does: one row per text in each bound room."""
    items = [Scheduled(f"test-{uuid.uuid4().hex}", coop_id, kind, text) for text in texts]
    await stores.outbox.announce_many(items, now)


async def rows(stores: Stores, platform: str = "telegram") -> list[Outbox]:
    async with stores.db.read() as s:
        return list((await s.execute(select(Outbox).where(Outbox.platform == platform).order_by(Outbox.id))).scalars())


async def row_with(stores: Stores, text: str) -> Outbox:
    return next(r for r in await rows(stores) if r.text == text)


async def until(predicate, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while not (value := await predicate()):
        assert time.monotonic() < deadline, f"{predicate.__name__} not true within {timeout}s"
        await asyncio.sleep(0.02)
    return value


def sent_texts(fake, chat: int) -> list[str]:
    return [c.params["text"] for c in fake.calls_to("sendMessage") if c.ok and c.params["chat_id"] == chat]


# --- on the fake Bot API, through the Telegram adapter ---


async def test_a_backlog_in_one_group_does_not_hold_another_groups_result(fake, tmp_path):
    """5,000 announcements pending in one group (anyone can cause that with /setup and many
    /propose): another co-op's card and result still go out within seconds."""
    tg = await Harness(fake, tmp_path).start()
    try:
        assert "set up" in await tg.say(STEWARD, "/setup Red Bakery")
        assert "set up" in await tg.say(9, "/setup Other Co-op", chat=OTHER)
        red = await tg.stores.coops.get_by_room("telegram", str(GROUP))
        await queue(tg.stores, red.id, [f"Routine news {i}" for i in range(5000)], tg.services.clock.now())
        tg.adapter.kick()
        await fake.wait_for(lambda f: any(t.startswith("Routine news") for t in sent_texts(f, GROUP)))
        fake.command(OTHER, 9, "/propose Their matter", first_name="user9")
        await fake.wait_for(lambda f: any(t.startswith("Proposal #1:") for t in sent_texts(f, OTHER)), timeout=5)
        fake.command(OTHER, 9, "/close 1 enough said", first_name="user9")
        await fake.wait_for(lambda f: any(t.startswith("Result of #1") for t in sent_texts(f, OTHER)), timeout=5)
        # The backlog goes on at the group's pace, in order.
        news = [t for t in sent_texts(fake, GROUP) if t.startswith("Routine news")]
        assert news == [f"Routine news {i}" for i in range(len(news))] and len(news) < 5000
    finally:
        await tg.close()


async def test_a_transient_failure_is_retried_from_the_row_across_a_restart(fake, tmp_path):
    """502s: the row keeps its tries, its last error and when to try next; the adapter is
    restarted in between, and the new one goes on from the row. Nothing is lost or doubled."""
    first = await Harness(fake, tmp_path).start()
    assert "set up" in await first.say(STEWARD, "/setup Red Bakery")
    first.adapter.pump.backoff = Backoff(first=2.0)
    coop = await first.stores.coops.get_by_room("telegram", str(GROUP))
    fake.fail_next("sendMessage", 3, error_code=502, description="Bad Gateway")
    await queue(first.stores, coop.id, ["Must not be lost"], first.services.clock.now())
    first.adapter.kick()

    async def tried_twice():
        return (await row_with(first.stores, "Must not be lost")).attempts >= 2

    await until(tried_twice, timeout=10)
    await first.close()
    row = await row_with(first.stores, "Must not be lost")
    assert row.attempts == 2 and row.sent_at is None and "Bad Gateway" in row.last_error
    assert row.next_attempt_at > row.created_at and row.claimed_by is None  # released at shutdown

    second = await Harness(fake, tmp_path).start()
    try:
        second.adapter.pump.backoff = Backoff(first=0.1)
        await fake.wait_for(lambda f: "Must not be lost" in sent_texts(f, GROUP), timeout=15)
        tries = [c for c in fake.calls_to("sendMessage") if c.params.get("text") == "Must not be lost"]
        assert [c.status for c in tries] == [502, 502, 502, 200]
        # The restarted pump waited for the moment stored on the row, not from scratch.
        assert tries[2].at - tries[1].at >= 3.9
        async def marked_sent():  # the row is marked just after the Bot API answers
            return (await row_with(second.stores, "Must not be lost")).sent_at is not None

        await until(marked_sent)
        row = await row_with(second.stores, "Must not be lost")
        assert row.attempts == 3 and row.sent_at is not None and not row.gave_up
    finally:
        await second.close()


async def test_a_429_is_waited_out_and_counted(fake, tmp_path):
    """Telegram's "retry after": the row waits that long, its chat too, then goes."""
    tg = await Harness(fake, tmp_path).start()
    try:
        assert "set up" in await tg.say(STEWARD, "/setup Red Bakery")
        coop = await tg.stores.coops.get_by_room("telegram", str(GROUP))
        fake.fail_next("sendMessage", 2, retry_after=1)
        await queue(tg.stores, coop.id, ["After the flood"], tg.services.clock.now())
        tg.adapter.kick()
        await fake.wait_for(lambda f: "After the flood" in sent_texts(f, GROUP), timeout=10)
        tries = [c for c in fake.calls_to("sendMessage") if c.params.get("text") == "After the flood"]
        assert [c.status for c in tries] == [429, 429, 200]
        assert all(b.at - a.at >= 0.9 for a, b in zip(tries, tries[1:]))

        async def marked_sent():
            return (await row_with(tg.stores, "After the flood")).sent_at is not None

        await until(marked_sent)
        assert (await row_with(tg.stores, "After the flood")).attempts == 2
    finally:
        await tg.close()


async def test_a_result_goes_before_routine_news_queued_earlier(fake, tmp_path):
    """In one chat, cards, results and reminders go before routine announcements queued before them."""
    tg = await Harness(fake, tmp_path).start()
    try:
        assert "set up" in await tg.say(STEWARD, "/setup Red Bakery")
        coop = await tg.stores.coops.get_by_room("telegram", str(GROUP))
        before = len(sent_texts(fake, GROUP))
        items = [Scheduled(f"r{i}", coop.id, "notice", f"Routine {i}") for i in range(30)]
        items.append(Scheduled("result", coop.id, "proposal_result", "Result of #7 Paint the van: passed."))
        await tg.stores.outbox.announce_many(items, tg.services.clock.now())
        tg.adapter.kick()
        await fake.wait_for(lambda f: len(sent_texts(f, GROUP)) > before + 3)
        assert sent_texts(fake, GROUP)[before] == "Result of #7 Paint the van: passed."
        assert sent_texts(fake, GROUP)[before + 1:before + 4] == ["Routine 0", "Routine 1", "Routine 2"]
    finally:
        await tg.close()


async def test_a_permanent_refusal_gives_up_without_blocking_the_chat(fake, tmp_path):
    """A row Telegram refuses for good is given up (with the reason on it); the chat's next rows go."""
    tg = await Harness(fake, tmp_path).start()
    try:
        assert "set up" in await tg.say(STEWARD, "/setup Red Bakery")
        coop = await tg.stores.coops.get_by_room("telegram", str(GROUP))
        fake.fail_next("sendMessage", 1, error_code=400, description="Bad Request: chat not found")
        await queue(tg.stores, coop.id, ["Refused", "Delivered after"], tg.services.clock.now())
        tg.adapter.kick()
        await fake.wait_for(lambda f: "Delivered after" in sent_texts(f, GROUP), timeout=10)

        async def settled():
            return all(r.sent_at for r in await rows(tg.stores) if r.text in ("Refused", "Delivered after"))

        await until(settled)
        refused = await row_with(tg.stores, "Refused")
        assert refused.gave_up and refused.sent_at is not None and "chat not found" in refused.last_error.lower()
        assert refused.attempts == 1
        assert not (await row_with(tg.stores, "Delivered after")).gave_up
    finally:
        await tg.close()


# --- the store's claim and two pumps, on SQLite and PostgreSQL ---


async def _coop(gov) -> int:
    chat = Chat(gov)
    await make_coop(chat, 1)
    return (await gov.stores.coops.get_by_room("console", "general")).id


async def _queue_direct(gov, coop_id: int, chat: str, texts: list[str], kind: str = "notice") -> None:
    """Rows for a chat of a platform "test", as `announce` writes them."""
    now = gov.clock.now()
    async with gov.stores.db.write() as s:
        s.add_all([Outbox(coop_id=coop_id, platform="test", chat_id=chat, kind=kind, priority=priority(kind),
                          text=text, created_at=now) for text in texts])


async def test_a_claim_gives_every_chat_its_turn(gov):
    """5,000 rows in one chat and one in another: a claim takes a few of the first and the other's
    row; a paused chat is not claimed at all; a row waiting out a retry holds its chat's later rows."""
    coop_id = await _coop(gov)
    await _queue_direct(gov, coop_id, "big", [f"b{i}" for i in range(5000)])
    await _queue_direct(gov, coop_id, "small", ["s0", "s1"])
    outbox, now = gov.stores.outbox, gov.clock.now()
    claimed = await outbox.claim("test", "w", now, per_chat=3, limit=200)
    assert [(r.chat_id, r.text) for r in claimed] == [("big", "b0"), ("big", "b1"), ("big", "b2"),
                                                    ("small", "s0"), ("small", "s1")]
    await outbox.release([r.id for r in claimed], "w")
    assert {r.chat_id for r in await outbox.claim("test", "w", now, per_chat=3, paused={"big"})} == {"small"}
    await outbox.release([r.id for r in await outbox.claim("test", "w", now, per_chat=3)], "w")
    head = claimed[0]
    await outbox.retry(head.id, "502", now + timedelta(seconds=30))
    assert {r.chat_id for r in await outbox.claim("test", "v", now, per_chat=3)} == {"small"}
    later = await outbox.claim("test", "v", now + timedelta(seconds=31), per_chat=3)
    assert [r.text for r in later if r.chat_id == "big"] == ["b0", "b1", "b2"]


async def test_urgent_rows_go_first_and_only_they_use_the_reserve(gov):
    """Within a chat, urgent rows come first; in a chat whose routine budget is spent, only they are claimed."""
    coop_id = await _coop(gov)
    await _queue_direct(gov, coop_id, "c", ["routine 1", "routine 2"], kind="notice")
    await _queue_direct(gov, coop_id, "c", ["a reminder"], kind="reminder")
    outbox, now = gov.stores.outbox, gov.clock.now()
    claimed = await outbox.claim("test", "w", now, per_chat=5)
    assert [r.text for r in claimed] == ["a reminder", "routine 1", "routine 2"]
    await outbox.release([r.id for r in claimed], "w")
    assert [r.text for r in await outbox.claim("test", "w", now, per_chat=5, urgent_only={"c"})] == ["a reminder"]


class Recorder:
    """A platform that only records what it was given, slowly enough for two pumps to overlap."""

    name, prefix = "test", "/"

    def __init__(self, log: list) -> None:
        self.log = log

    async def deliver(self, item):
        await asyncio.sleep(random.random() / 500)
        self.log.append((item.chat_id, item.id))
        return SENT

    async def edit(self, card, view, text):
        return SENT

    def card_text(self, view):
        return view.text


async def test_two_pumps_deliver_each_row_once(gov, db_url):
    """Two processes (two engines on one database), each with its pump: every row is delivered
    by exactly one of them."""
    coop_id = await _coop(gov)
    for chat in ("a", "b", "c", "d", "e"):
        await _queue_direct(gov, coop_id, chat, [f"{chat}{i}" for i in range(60)])
    log: list = []
    dbs = [Database(db_url), Database(db_url)]
    try:
        pumps = [
            Pump(Recorder(log), SimpleNamespace(stores=Stores.over(db), clock=gov.clock, worker=f"w{n}"), per_chat=4)
            for n, db in enumerate(dbs)
        ]
        for _ in range(500):
            done = await asyncio.gather(*(pump.deliver_once() for pump in pumps))
            if not any(done) and not [r for r in await rows(gov.stores, "test") if r.sent_at is None]:
                break
        ids = [row_id for _, row_id in log]
        assert len(ids) == 300 and len(set(ids)) == 300
        assert all(r.sent_at is not None for r in await rows(gov.stores, "test"))
    finally:
        for db in dbs:
            await db.dispose()


class Failing(Recorder):
    """A platform whose server is away: every try is answered "later"."""

    async def deliver(self, item):
        self.log.append(item.id)
        return RetryAt("502 Bad Gateway")


async def test_a_failure_that_may_pass_is_retried_without_time_limit(gov, clock):
    """On the test clock, a server away for 30 days: the waits between tries grow to the cap and
    the row is kept, never given up; when the server answers again it is sent."""
    coop_id = await _coop(gov)
    await _queue_direct(gov, coop_id, "c", ["patient"])
    tries: list = []
    services = SimpleNamespace(stores=gov.stores, clock=clock, worker="w")
    platform = Failing(tries)
    pump = Pump(platform, services, backoff=Backoff(first=1.0, cap=3600.0))
    start = clock.now()
    while clock.now() - start < timedelta(days=30):
        assert await pump.deliver_once() == 1
        row = (await rows(gov.stores, "test"))[0]
        assert not row.gave_up and row.sent_at is None
        assert await pump.deliver_once() == 0  # not before its time
        assert row.next_attempt_at - clock.now() <= timedelta(hours=1)
        clock.current = row.next_attempt_at
    assert len(tries) == row.attempts > 700
    platform.deliver = Recorder([]).deliver  # the server is back
    assert await pump.deliver_once() == 1
    row = (await rows(gov.stores, "test"))[0]
    assert row.sent_at is not None and not row.gave_up


async def test_a_mark_the_database_refuses_for_a_moment_is_retried_not_sent_again(gov, monkeypatch):
    """The row was sent, then its mark meets a dropped connection twice: the mark is retried, the
    row ends sent, and the platform saw it once."""
    from sqlalchemy.exc import OperationalError

    import storage.db

    monkeypatch.setattr(storage.db, "RETRY_FIRST", 0.01)
    coop_id = await _coop(gov)
    await _queue_direct(gov, coop_id, "c", ["once"])
    log: list = []
    outbox = gov.stores.outbox
    real_mark, failures = outbox.mark_sent, []

    async def flaky_mark(ids, now, **kw):
        if len(failures) < 2:
            failures.append(ids)
            raise OperationalError("UPDATE outbox", {}, ConnectionError("connection was closed in the middle of operation"))
        return await real_mark(ids, now, **kw)

    monkeypatch.setattr(outbox, "mark_sent", flaky_mark)
    pump = Pump(Recorder(log), SimpleNamespace(stores=gov.stores, clock=gov.clock, worker="w"))
    assert await pump.deliver_once() == 1
    assert len(failures) == 2 and len(log) == 1
    assert all(r.sent_at is not None for r in await rows(gov.stores, "test"))
    assert await pump.deliver_once() == 0 and len(log) == 1


class Slow(Recorder):
    """A platform whose first send takes 70 s of the test clock (past the claim's minute); on each
    later send, a second process tries to claim what is pending."""

    def __init__(self, log: list, clock, other) -> None:
        super().__init__(log)
        self.clock, self.other, self.stolen = clock, other, []

    async def deliver(self, item):
        if not self.log:
            self.clock.advance(seconds=70)
        else:
            self.stolen += await self.other("B", self.clock.now())
        self.log.append(item.id)
        return SENT


async def test_a_claim_is_renewed_before_a_send_and_only_its_holder_marks_the_row(gov, clock):
    """A chat's turn outlasts the claim's lease: the next row's claim is renewed before its send,
    so another process does not take it and send it twice; a process whose claim was taken cannot
    mark the row sent."""
    coop_id = await _coop(gov)
    await _queue_direct(gov, coop_id, "c", ["first", "second"])
    outbox = gov.stores.outbox

    async def other(worker, now):
        return await outbox.claim("test", worker, now, per_chat=5)

    platform = Slow([], clock, other)
    pump = Pump(platform, SimpleNamespace(stores=gov.stores, clock=clock, worker="A"), per_chat=5)
    assert await pump.deliver_once() == 2
    assert platform.stolen == [] and len(platform.log) == 2
    await _queue_direct(gov, coop_id, "d", ["third"])
    [row] = await outbox.claim("test", "A", clock.now(), per_chat=5)
    clock.advance(seconds=61)
    [taken] = await outbox.claim("test", "B", clock.now(), per_chat=5)  # A's lease lapsed: B holds it
    await outbox.mark_sent([row.id], clock.now(), worker="A")
    assert (await rows(gov.stores, "test"))[-1].sent_at is None
    await outbox.mark_sent([taken.id], clock.now(), worker="B")
    assert (await rows(gov.stores, "test"))[-1].sent_at is not None
