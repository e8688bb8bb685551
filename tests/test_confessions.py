"""Anonymous confessions (SPEC "Rituals"), through the core as a chat on SQLite and PostgreSQL:
written in direct chats, stored as texts alone, read by the mirror shift's facilitator in an order
drawn by lot, then gone from every table; and end to end on Telegram (the fake Bot API, the real
PTB stack, the DEBUG log) and Matrix (the session's Synapse: the member's message redacted)."""

from __future__ import annotations

import asyncio
import json
import re

from sqlalchemy import func, select

from handlers import draws, texts
from storage.models import ConfessionBox, GovernanceEvent, Minute, Ritual
from tests.conftest import Chat, make_coop
from tests.test_audits import tick
from tests.test_rituals import shift_due
from tests.test_secrecy import dump

SECRETS = ("I took the van home on Sundays", "I never read the books before voting",
           "I told the landlord about the strike")


def stored(tables: dict[str, list[dict]]) -> str:
    return json.dumps(tables, default=str, ensure_ascii=False)


def recording(monkeypatch) -> list[tuple[list[str], list[str]]]:
    """Every shuffle the code computes: (what it was given, what it gave)."""
    seen, real = [], draws.shuffled

    def shuffled(items):
        out = real(items)
        seen.append((list(items), list(out)))
        return out

    monkeypatch.setattr(draws, "shuffled", shuffled)
    return seen


async def facilitator_of(chat: Chat) -> tuple[str, list[str]]:
    """The first mirror shift opened: (its facilitator's name, the other members' names)."""
    _, opened = await shift_due(chat, chat.gov.clock)
    facilitator = re.match(r"Mirror shift 1 of Red Bakery: (\S+) facilitates", opened).group(1)
    names = [m.display_name for m in await chat.gov.stores.members.register(1)]
    return facilitator, [n for n in names if n != facilitator]


async def test_confessions_are_kept_as_texts_alone_and_read_in_a_drawn_order_then_gone(chat, clock, monkeypatch):
    """Three members confess in direct chats; the box holds the texts alone (no event, no leaf);
    the facilitator reads them during the shift in the order the draw gave; afterwards no table
    holds any of them, the box is gone, the shift and the minutes keep the count only."""
    await make_coop(chat, 4)
    shuffles = recording(monkeypatch)
    stores = chat.gov.stores
    async with stores.db.read() as s:
        events_before = (await s.execute(select(func.count()).select_from(GovernanceEvent))).scalar_one()
    dm = Chat(chat.gov, chat_id="x-dm", direct=True)
    assert "What is promised" in await dm.say("m1", "/help confess")
    for who, secret in zip(("m1", "m2", "m3"), SECRETS):
        answer = await dm.say(who, f"/confess {secret}", event_id=f"dm-{who}")
        assert answer.startswith("Kept anonymously") and dm.replies[0].erase_command, answer
    assert {len(given) for given, _ in shuffles} == {1, 2, 3}  # the box reordered at every addition
    box = stored(await dump(stores.db))
    assert all(box.count(secret) == 1 for secret in SECRETS)  # in the box, and nowhere else
    async with stores.db.read() as s:
        (row,) = (await s.execute(select(ConfessionBox))).scalars().all()
        assert sorted(row.texts) == sorted(SECRETS) and row.texts == shuffles[-1][1]
        assert (await s.execute(select(func.count()).select_from(GovernanceEvent))).scalar_one() == events_before
    assert await stores.confessions.waiting(1) == 3

    facilitator, others = await facilitator_of(chat)
    refused = await chat.say(others[0], "/confessions")
    assert f"Only {facilitator}, the facilitator of mirror shift 1, reads the confessions." == refused
    shuffles.clear()
    assert await chat.say(facilitator, "/confessions", event_id="read-1") == ""  # the room hears them
    read = [t for t in chat.announced if t.startswith("Confession ")]
    (given, order), = shuffles
    assert sorted(given) == sorted(SECRETS)
    assert read == [texts.CONFESSION_READ.format(index=i, count=3, number=1, text=t) for i, t in enumerate(order, 1)]
    # Redelivered (a restart before the platform heard of it): nothing is posted twice.
    assert await chat.say(facilitator, "/confessions", event_id="read-1") == ""
    assert await chat.drain() == []

    tables = await dump(stores.db)
    assert not any(secret in stored(tables) for secret in SECRETS)
    assert tables["confession_box"] == []
    ritual = (await stores.rituals.list(1, "mirror"))[0]
    assert ritual.confessions_read == 3
    async with stores.db.read() as s:
        leaves = (await s.execute(select(Minute).where(Minute.kind == "confessions_read"))).scalars().all()
    assert [json.loads(m.record)["data"] for m in leaves] == [{"number": 1, "count": 3}]
    assert "No confessions wait" in await chat.say(facilitator, "/confessions")

    # A second reading in the same shift reads only what came since.
    await dm.say("m4", "/confess one more")
    dm_direct = Chat(chat.gov, chat_id=f"{facilitator}-dm", direct=True)
    assert "1 confession read aloud" in await dm_direct.say(facilitator, "/confessions")
    assert chat.announced.count(texts.CONFESSION_READ.format(index=1, count=1, number=1, text="one more")) == 0
    assert await chat.drain() == [texts.CONFESSION_READ.format(index=1, count=1, number=1, text="one more")]
    assert (await stores.rituals.list(1, "mirror"))[0].confessions_read == 4
    clock.advance(hours=24)
    assert any("4 confessions" in t for t in await tick(chat) if t.startswith("Mirror shift 1 of Red Bakery is over"))
    assert "one more" not in stored(await dump(stores.db))


async def test_an_order_drawn_is_not_the_order_sent(chat, monkeypatch):
    """The box is reordered at every addition by a draw: over a few co-ops' worth of boxes, some
    order differs from the order the confessions were sent in."""
    await make_coop(chat, 3)
    dm = Chat(chat.gov, chat_id="x-dm", direct=True)
    orders = []
    for round_ in range(4):
        for who in ("m1", "m2", "m3"):
            await dm.say(who, f"/confess {who} round {round_}")
        async with chat.gov.stores.db.write() as s:
            box = await s.get(ConfessionBox, 1)
            orders.append(list(box.texts))
            await s.delete(box)
    assert any(order != [f"{who} round {i}" for who in ("m1", "m2", "m3")] for i, order in enumerate(orders))
    assert all(sorted(order) == [f"{who} round {i}" for who in ("m1", "m2", "m3")] for i, order in enumerate(orders))


async def test_confess_only_in_a_direct_chat_and_never_echoed(chat, clock):
    """In a room the confession is refused without repeating it, the member told to write it in a
    direct chat, and the message marked to be erased; bad input and a redelivery likewise."""
    await make_coop(chat, 2)
    answer = await chat.say("m1", "/confess I hid the invoices")
    assert "in a direct chat" in answer and "invoices" not in answer
    assert chat.replies[0].refusal and chat.replies[0].erase_command
    dm = Chat(chat.gov, chat_id="x-dm", direct=True)
    assert "Write the confession" in await dm.say("m1", "/confess") and dm.replies[0].erase_command
    long = "x" * 2001
    answer = await dm.say("m1", f"/confess {long}")
    assert "at most 2000 characters (2001 given)" in answer and long not in answer
    assert await dm.say("m2", "/confess first line\nsecond line", event_id="ev-1")
    again = await dm.say("m2", "/confess first line\nsecond line", event_id="ev-1")
    assert again == texts.ERASED_AGAIN and dm.replies[0].erase_command  # counted once, erased again
    assert (await chat.gov.stores.confessions.waiting(1)) == 1
    async with chat.gov.stores.db.read() as s:
        assert (await s.get(ConfessionBox, 1)).texts == ["first line\nsecond line"]
    assert "hello" not in await dm.say("stranger", "/confess hello")  # no co-op of theirs: refused
    # No shift under way, or one still drawing: clear refusals.
    assert "No mirror shift of Red Bakery is under way" in await chat.say("m1", "/confessions")


async def test_confessions_are_refused_while_the_shift_is_drawing(chat, clock):
    await make_coop(chat, 2)
    from tests.test_rituals import until

    await until(chat, clock, 3, 1)
    await tick(chat)
    assert "its draws are not made yet" in await chat.say("m1", "/confessions")


async def test_two_confessions_at_once_are_both_kept(chat):
    """The box's row lock queues simultaneous confessions (SQLite file and PostgreSQL)."""
    await make_coop(chat, 6)
    dms = [Chat(chat.gov, chat_id=f"dm-{i}", direct=True) for i in range(1, 7)]
    await asyncio.gather(*(dm.say(f"m{i}", f"/confess secret {i}") for i, dm in enumerate(dms, 1)))
    async with chat.gov.stores.db.read() as s:
        assert sorted((await s.get(ConfessionBox, 1)).texts) == [f"secret {i}" for i in range(1, 7)]


async def test_a_failed_reading_changes_nothing(chat, clock, monkeypatch):
    """A crash in the middle of a reading (here: rendering the second confession) rolls the whole
    transaction back: the box, the shift's count, the outbox and the minutes are as before."""
    await make_coop(chat, 3)
    dm = Chat(chat.gov, chat_id="x-dm", direct=True)
    for who, secret in zip(("m1", "m2", "m3"), SECRETS):
        await dm.say(who, f"/confess {secret}")
    facilitator, _ = await facilitator_of(chat)
    calls = []

    def broken(**kwargs):
        calls.append(kwargs)
        if len(calls) == 2:
            raise RuntimeError("crash")
        return "x"

    monkeypatch.setattr(texts, "CONFESSION_READ", type("T", (), {"format": staticmethod(broken)})())
    assert texts.INTERNAL_ERROR == await chat.say(facilitator, "/confessions", event_id="r")
    monkeypatch.undo()
    assert await chat.gov.stores.confessions.waiting(1) == 3
    assert (await chat.gov.stores.rituals.list(1, "mirror"))[0].confessions_read is None
    assert await chat.drain() == []
    await chat.say(facilitator, "/confessions", event_id="r2")  # the member says it again
    assert len([t for t in chat.announced if t.startswith("Confession ")]) == 3
