"""Anonymous confessions (SPEC "Rituals"), through the core as a chat on SQLite and PostgreSQL:
written in direct chats, stored as texts alone, read by the mirror shift's facilitator in an order
drawn by lot, then gone from every table; and end to end on Telegram (the fake Bot API, the real
PTB stack, the DEBUG log) and Matrix (the session's Synapse: the member's message redacted)."""

from __future__ import annotations

import asyncio
import json
import re

import pytest
from sqlalchemy import func, select

from handlers import draws, texts
from storage.models import InboundEvent, ConfessionBox, GovernanceEvent, Minute
from tests.conftest import Chat, make_coop
from tests.test_audits import tick
from tests.test_rituals import shift_due
from tests.test_secrecy import LIBRARIES, dump, restore_logging  # noqa: F401 (a fixture)

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
    assert again.startswith("Kept anonymously") and dm.replies[0].erase_command  # kept once, erased again
    # Nothing records that these events came: no claim, no refusal remembered (either would keep
    # who confessed, and when).
    async with chat.gov.stores.db.read() as s:
        events = (await s.execute(select(InboundEvent.event_id))).scalars().all()
    assert not [e for e in events if e in ("ev-1",)]
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


# --- Telegram, end to end: the real PTB stack on the fake Bot API, the log at DEBUG throughout ---


async def test_telegram_confessions_are_deleted_read_and_gone_from_tables_and_log(tmp_path, restore_logging):
    """Three members `/confess` in private chats: each message is deleted at once (deleteMessage of
    that chat and message; the fake no longer holds it). One in the group is refused without its
    text. The facilitator reads them in the group during the shift; then no table and no log line
    (the redacted file and every record as emitted, at DEBUG) holds any of the texts."""
    import logging
    from datetime import datetime, timezone

    from bot.cli import _logging
    from handlers.calendar import occurrence
    from handlers.charter import Charter
    from tests.conftest import FakeClock
    from tests.fakes.telegram_api import FakeBotAPI
    from tests.test_audits_telegram import ClockedHarness, posted
    from tests.test_secrecy import _debug_settings
    from tests.test_telegram import GROUP, STEWARD

    secrets = (*SECRETS, "I hid the invoices in the oven")
    async with FakeBotAPI() as fake:
        _logging(_debug_settings(tmp_path, telegram_token=fake.token), "console")
        # Every record of coopbot's own as emitted, before any redaction: nothing may rely on the
        # filter alone. And the libraries let down to DEBUG (PTB then logs each call's parameters),
        # into the redacted file only: the filter is the second line of defence, tested here.
        raw = logging.FileHandler(tmp_path / "raw.log")
        raw.addFilter(lambda record: not record.name.startswith(LIBRARIES))
        logging.getLogger().addHandler(raw)
        logging.getLogger().setLevel(logging.DEBUG)
        # Not SQLAlchemy: at DEBUG it logs result rows, which no filter can tell from other data;
        # its floor (WARNING) is the only defence there is, as for every stored secret.
        for name in LIBRARIES:
            if not name.startswith("sqlalchemy"):
                logging.getLogger(name).setLevel(logging.DEBUG)
        clock = FakeClock(datetime.now(timezone.utc))
        tg = await ClockedHarness(fake, tmp_path, clock).start()
        try:
            assert "set up" in await tg.say(STEWARD, "/setup Red Bakery")
            ids = await tg.seed_members(3)
            for uid, secret in zip(ids, SECRETS):
                assert (await tg.say(uid, f"/confess {secret}", chat=uid)).startswith("Kept anonymously")
                mid = tg.said["message"]["message_id"]
                await fake.wait_for(lambda f: [c for c in f.calls_to("deleteMessage") if c.ok and
                                               (c.params["chat_id"], c.params["message_id"]) == (uid, mid)])
                assert fake.message(uid, mid) is None
            # In the group: refused, not echoed; the bot tries to delete it (it has no right to here).
            answer = await tg.say(ids[0], f"/confess {secrets[3]}")
            assert "in a direct chat" in answer and "invoices" not in answer
            mid = tg.said["message"]["message_id"]
            await fake.wait_for(lambda f: [c for c in f.calls_to("deleteMessage")
                                           if (c.params["chat_id"], c.params["message_id"]) == (GROUP, mid)])

            coop = await tg.stores.coops.get(1)
            clock.current = occurrence(coop.founded_at, Charter.from_json(coop.charter).tz, 3, 1)
            await tg.tick()
            await posted(fake, "MIRROR SHIFT")
            clock.advance(minutes=11)
            await tg.tick()
            opened = await posted(fake, "Mirror shift 1 of")
            name = re.match(r"Mirror shift 1 of Red Bakery: (\S+) facilitates", opened).group(1)
            facilitator = int(name.removeprefix("user"))
            fake.command(GROUP, facilitator, "/confessions", first_name=name)
            read = await fake.wait_for(lambda f: len(c := [t for t in f.texts(GROUP) if t.startswith("Confession ")])
                                       == 3 and c)
            assert sorted(t.split(":\n", 1)[1] for t in read) == sorted(SECRETS)
            await fake.wait_for(lambda f: _all_sent(tg.stores))
            tables = await dump(tg.stores.db)
        finally:
            await tg.close()
            raw.flush()
        fake.assert_clean()
    assert not any(secret in stored(tables) for secret in secrets)
    assert tables["confession_box"] == [] and [r["confessions_read"] for r in tables["ritual"]] == [3]
    redacted = (tmp_path / "console.log").read_text()
    assert "DEBUG telegram" in redacted and "/confess <redacted>" in redacted  # PTB logged them, redacted
    assert "read aloud by the facilitator of mirror shift 1: <redacted>" in redacted
    for secret in secrets:
        assert secret not in redacted and secret not in (tmp_path / "raw.log").read_text()


@pytest.mark.parametrize("code", ["en", "es", "fr", "de"])
def test_a_confession_read_aloud_is_redacted_from_logs_in_every_language(code):
    """The heading that marks a confession read aloud is the co-op's language's: each is known."""
    from bot.logs import Redact
    from handlers import i18n

    with i18n.use(code):
        text = texts.CONFESSION_READ.format(index=2, count=3, number=4, text='I took "money" from the till')
    # As a library logs it: a repr (its quotes escaped), JSON (non-ASCII as \u escapes), or as it is.
    for record in (f"sendMessage {{'text': {text!r}}}", "POST " + json.dumps({"chat_id": 1, "text": text}), text):
        redacted = Redact().redact(record)
        assert "till" not in redacted and "<redacted>" in redacted, (code, redacted)


async def _all_sent(stores) -> bool:
    return not await stores.outbox.pending("telegram")


# --- Matrix, against the session's Synapse ---


async def test_matrix_a_confession_in_a_direct_room_is_redacted(synapse, tmp_path):
    """A member's `!confess …` in a direct room with the bot (made as Element makes one) is
    answered, and redacted by the bot: Synapse then serves the event with its content emptied."""
    from tests.fakes.synapse import create_room, send_text, wait_for_event
    from tests.test_matrix import Bot, co_op_room, notice_with, redaction_of

    bot = await Bot(synapse, tmp_path, "coopbot-confess").start()
    alice = await synapse.member_client("alice-confess", tmp_path / "members", encrypted=False)
    bob = await synapse.member_client("bob-confess", tmp_path / "members", encrypted=False)
    try:
        await co_op_room(bot, alice, encrypted=False, members=[bob])
        dm = await create_room(bob, "", invite=[bot.user_id], direct=True)
        await wait_for_event(bob, dm, notice_with("!setup"), 30)
        event_id = await send_text(bob, dm, f"!confess {SECRETS[0]}")
        await wait_for_event(bob, dm, lambda s: "Kept anonymously" in s.get("content", {}).get("body", ""), 30)
        redaction = await wait_for_event(bob, dm, redaction_of(event_id), 30)
        assert redaction["sender"] == bot.user_id and SECRETS[0] not in json.dumps(redaction)
        event = synapse.api("GET", f"/_matrix/client/v3/rooms/{dm}/event/{event_id}", token=bob.access_token)
        assert event["content"] == {} and "redacted_because" in event.get("unsigned", {})
        async with bot.stores.db.read() as s:
            assert (await s.get(ConfessionBox, 1)).texts == [SECRETS[0]]
    finally:
        for client in (alice, bob):
            await client.close()
        await bot.close()


async def test_a_confession_racing_a_reading_is_read_or_kept_never_lost(chat):
    """A confession sent while the facilitator reads: either it is among those read, or it waits
    in a new box for the next reading (SQLite file and PostgreSQL)."""
    await make_coop(chat, 3)
    dm = Chat(chat.gov, chat_id="x-dm", direct=True)
    for who, secret in zip(("m1", "m2", "m3"), SECRETS):
        await dm.say(who, f"/confess {secret}")
    facilitator, _ = await facilitator_of(chat)
    late = Chat(chat.gov, chat_id="late-dm", direct=True)
    await asyncio.gather(chat.gov.handle_command(_command(chat, facilitator, "/confessions")),
                         late.say("m1", "/confess the late one"))
    read = (await chat.gov.stores.rituals.list(1, "mirror"))[0].confessions_read
    assert read + await chat.gov.stores.confessions.waiting(1) == 4


def _command(chat: Chat, who: str, text: str):
    from handlers.events import CommandReceived

    return CommandReceived(chat.chat, chat.user(who), text, None, None)


def test_the_log_filter_redacts_a_confession_sent_or_read_aloud():
    """The second line of defence: a record quoting a `confess` command (JSON, a repr, plain) or a
    confession read aloud keeps the command and loses the text."""
    from bot.logs import REDACTED, Redact

    read = texts.CONFESSION_READ.format(index=1, count=2, number=1, text='I said "no": twice')
    for record in ('{"text": "/confess I said \\"no\\": twice", "chat": 5}', "Message(text='!confess I said no')",
                   "/confess@CoopBot I said no\nthen twice", repr({"text": read, "chat_id": -100})):
        clean = Redact().redact(record)
        assert "said" not in clean and REDACTED in clean, clean
    assert Redact().redact("/confessions by m2") == "/confessions by m2"


# --- found by a hostile review ---
async def test_the_box_has_a_cap_and_a_mistyped_confession_is_erased(chat):
    """One member cannot flood the rooms' next reading: the box takes 100 texts. A `/confes …`
    (a typo) is answered with the guess, and erased like a confession."""
    from handlers.confessions import MAX_WAITING

    await make_coop(chat, 2)
    dm = Chat(chat.gov, chat_id="x-dm", direct=True)
    for i in range(MAX_WAITING):
        assert (await dm.say("m1", f"/confess number {i}")).startswith("Kept anonymously")
    full = await dm.say("m1", "/confess one too many")
    assert f"{MAX_WAITING} confessions already wait to be read" in full and dm.replies[0].erase_command
    assert await chat.gov.stores.confessions.waiting(1) == MAX_WAITING
    typo = await dm.say("m1", "/confes I took the van")
    assert "confess" in typo and "van" not in typo and dm.replies[0].erase_command


async def test_no_earlier_version_of_the_box_stays_on_disk(chat, clock, db):
    """SQLite keeps rewritten pages in its write-ahead log until a checkpoint: the box's earlier
    versions would give the order the confessions came in. After each confession and the reading,
    the log is folded in and emptied; once read and delivered, no file of the database holds a text."""
    if not db.is_sqlite:
        return  # PostgreSQL keeps old row versions until vacuum (README: "Anonymous confessions")
    from pathlib import Path
    from sqlalchemy.engine import make_url

    await make_coop(chat, 4)
    path = Path(make_url(db.url).database)
    for who, secret in zip(("m1", "m2", "m3"), SECRETS):
        await Chat(chat.gov, chat_id=f"{who}-dm", direct=True).say(who, f"/confess {secret}")
        wal = path.with_name(path.name + "-wal")
        assert not wal.exists() or secret.encode() not in wal.read_bytes()
    facilitator, _ = await facilitator_of(chat)
    await chat.say(facilitator, "/confessions")  # read, posted and marked sent (its texts erased)
    await chat.gov.stores.db.forget_old_versions()
    for file in path.parent.glob(path.name + "*"):
        content = file.read_bytes()
        assert not [s for s in SECRETS if s.encode() in content], file
