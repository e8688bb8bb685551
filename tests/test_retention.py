"""What is kept and for how long: handled-event claims and delivered outbox rows are forgotten
after a week; Telegram update ids counted again from a low number are not mistaken for old ones."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from telegram import Bot, Update

from bot.telegram import convert
from storage.common import claim_many
from storage.models import InboundEvent, Outbox
from tests.conftest import Chat, make_coop


def _message(update_id: int, message_id: int, text: str = "/help") -> dict:
    return {"update_id": update_id, "message": {
        "message_id": message_id, "date": 1_700_000_000 + message_id, "text": text,
        "chat": {"id": -100, "type": "supergroup", "title": "Bakery"},
        "from": {"id": 7, "is_bot": False, "first_name": "Ada"}}}


def _tap(update_id: int, query_id: str) -> dict:
    return {"update_id": update_id, "callback_query": {
        "id": query_id, "from": {"id": 7, "is_bot": False, "first_name": "Ada"}, "chat_instance": "i", "data": "v:3:1",
        "message": {"message_id": 1, "date": 1, "chat": {"id": -100, "type": "supergroup", "title": "B"}, "text": "c"}}}


def test_telegram_update_ids_counted_again_are_new_events():
    """After a week without updates Telegram may number them again from a lower id: a new message
    or tap that reuses an old update id is a new event; the same update redelivered is the same."""
    bot = Bot("1:abc")
    old, new = _message(500, 31), _message(500, 90)  # the same update id, a week apart
    assert convert.command(Update.de_json(old, bot), 42).event_id != convert.command(Update.de_json(new, bot), 42).event_id
    assert convert.command(Update.de_json(old, bot), 42).event_id == convert.command(Update.de_json(dict(old), bot), 42).event_id
    first, again = _tap(500, "q-1"), _tap(500, "q-2")
    assert convert.tap(Update.de_json(first, bot), 42).event_id != convert.tap(Update.de_json(again, bot), 42).event_id
    assert convert.tap_json(first, 42).event_id == convert.tap(Update.de_json(first, bot), 42).event_id


async def test_old_claims_and_delivered_rows_are_forgotten_in_batches(gov, clock):
    """A week on: delivered outbox rows and platform event claims are deleted, a batch at a time;
    pending rows, recent ones and scheduled work's claims (forever) are kept."""
    chat = Chat(gov)
    await make_coop(chat, 2)
    stores, start = gov.stores, clock.now()
    async with stores.db.write() as s:
        await claim_many(s, [("telegram", f"42:m:-100:{i}") for i in range(2500)], start)
        await claim_many(s, [("schedule", f"reminder:{i}") for i in range(10)], start)
        s.add_all([Outbox(coop_id=1, platform="test", chat_id="c", kind="notice", priority=1, text=f"old {i}",
                          created_at=start, sent_at=start) for i in range(2500)])
        s.add(Outbox(coop_id=1, platform="test", chat_id="c", kind="notice", priority=1, text="pending",
                     created_at=start))
    clock.advance(days=8)
    async with stores.db.write() as s:
        await claim_many(s, [("telegram", "42:m:-100:new")], clock.now())
        s.add(Outbox(coop_id=1, platform="test", chat_id="c", kind="notice", priority=1, text="recent",
                     created_at=clock.now(), sent_at=clock.now()))
    before = clock.now() - timedelta(days=7)
    assert await stores.outbox.forget_sent(before, batch=1000) == 2500  # the co-op's own rows are not sent: kept
    assert await stores.cursors.forget_handled(before, batch=1000) >= 2500
    async with stores.db.read() as s:
        texts = set((await s.execute(select(Outbox.text))).scalars())
        claims = (await s.execute(select(InboundEvent.platform, InboundEvent.event_id))).all()
    assert {"pending", "recent"} <= texts and not any(t.startswith("old ") for t in texts)
    assert sorted(e for p, e in claims if p == "telegram") == ["42:m:-100:new"]
    assert len([e for p, e in claims if p == "schedule"]) >= 10


async def test_claims_are_kept_while_an_older_proposal_is_open(gov, clock):
    """Matrix counts a poll's responses at its close by their claims: while a proposal is open,
    no claim made since it opened is forgotten, however old."""
    chat = Chat(gov)
    await make_coop(chat, 2)
    await chat.say("alice", "/propose Long one\n  closes: 30d")
    async with gov.stores.db.write() as s:
        await claim_many(s, [("matrix", "$vote-1")], clock.now())
    clock.advance(days=10)
    assert await gov.stores.cursors.forget_handled(clock.now() - timedelta(days=7)) == 0
    assert await gov.stores.cursors.handled("matrix", ["$vote-1"]) == {"$vote-1"}



async def test_the_clock_forgets_old_rows_once_an_hour(gov, clock):
    """The running clock prunes at its start and then every hour of monotonic time."""
    import asyncio

    from schedules.clock import DueClock

    chat = Chat(gov)
    await make_coop(chat, 2)
    async with gov.stores.db.write() as s:
        await claim_many(s, [("telegram", "42:m:-100:1")], clock.now())
    clock.advance(days=8)
    mono = [0.0]
    ticker = DueClock(gov.stores, clock, before_close=lambda: gov.before_close, tick=0.02, monotonic=lambda: mono[0])
    async def forgotten(key: str) -> bool:
        # Polled, not slept on: under a loaded machine the clock's first run may take longer than a fixed wait.
        for _ in range(250):
            if not await gov.stores.cursors.handled("telegram", [key]):
                return True
            await asyncio.sleep(0.02)
        return False

    ticker.start()
    try:
        assert await forgotten("42:m:-100:1")
        async with gov.stores.db.write() as s:
            await claim_many(s, [("telegram", "42:m:-100:2")], clock.now() - timedelta(days=8))
        await asyncio.sleep(0.2)
        assert await gov.stores.cursors.handled("telegram", ["42:m:-100:2"])  # not within the hour
        mono[0] += 3600
        assert await forgotten("42:m:-100:2")
    finally:
        await ticker.stop()
