"""`remind <#>` (SPEC's third set): the author or a steward reminds the members who have not voted,
in the rooms and directly, at most once in 6 hours; through the core on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import select

from storage.models import Outbox
from tests.conftest import make_coop


async def direct_words(stores) -> list[tuple[str, str]]:
    async with stores.db.read() as s:
        rows = (await s.execute(select(Outbox.chat_id, Outbox.text).where(Outbox.kind == "direct"))).all()
    return [(chat, text) for chat, text in rows]


async def test_the_author_or_a_steward_reminds_non_voters_once_in_six_hours(chat, clock):
    await make_coop(chat, 3)  # alice (steward), m1, m2, m3
    await chat.say("m1", "/propose Buy a van\n  closes: 3d")
    await chat.say("m1", "/vote 1 For")
    await chat.say("m2", "/vote 1 Against")
    assert "Only the author of #1 or a steward" in await chat.say("m2", "/remind 1")
    assert await chat.say("m1", "/remind 1") == ""  # the room hears the reminder itself
    assert chat.last.startswith("Reminder from m1: #1 Buy a van closes in 3d")
    assert "2 of 4 members have not voted yet" in chat.last
    words = await direct_words(chat.gov.stores)
    assert sorted(chat_id for chat_id, _ in words) == ["alice", "m3"]  # the non-voters, directly
    assert all("m1 reminds you: you have not voted on #1 Buy a van in Red Bakery" in text for _, text in words)
    # Not again within 6 hours, by anyone; then again.
    clock.advance(hours=5, minutes=59)
    assert "can be reminded again from" in await chat.say("alice", "/remind 1")
    clock.advance(minutes=2)
    assert await chat.say("alice", "/remind 1") == ""
    assert chat.last.startswith("Reminder from alice: #1")
    # Everyone voted: nobody to remind; a closed proposal: refused.
    for who in ("alice", "m3"):
        await chat.say(who, "/vote 1 For")
    clock.advance(hours=7)
    assert "nobody to remind" in await chat.say("m1", "/remind 1")
    await chat.say("alice", "/close 1")
    assert "already" in await chat.say("m1", "/remind 1")
    assert "Usage" in await chat.say("m1", "/remind") or "proposal number" in await chat.say("m1", "/remind")
