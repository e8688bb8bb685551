"""What "secret" means: while a secret ballot is open the bot knows who voted what (so a vote can
be changed); from its close on, nothing stored links a member to a choice: only the tally and
who voted remain."""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.cli import _logging
from bot.config import Settings
from handlers.events import VoteCast
from handlers.types import ChatRef, UserRef
from storage.models import GovernanceEvent, SQLModel
from tests.conftest import Chat, make_coop

OPTIONS = ("Apples", "Pears", "Plums")
# Keys under which a stored row names a member, and under which it names an option by index.
MEMBER_KEYS = {"member_id", "author_id", "ended_by", "by", "opened_by", "paid_by"}
OPTION_KEYS = {"option", "previous", "choice"}


@dataclass(frozen=True)
class Voter:
    member_id: int
    names: tuple[str, ...]  # what else names them: platform user ids, display names
    choice: int


async def dump(db) -> dict[str, list[dict]]:
    """Every row of every table, as the database holds it (at whatever revision it is)."""
    from sqlalchemy import MetaData

    out = {}
    async with db.read() as s:
        stored = MetaData()
        await s.run_sync(lambda sync: stored.reflect(bind=sync.connection()))
        for table in SQLModel.metadata.sorted_tables:
            if table.name in stored.tables:  # the model's types (JSON opened), the stored columns
                columns = [c for c in table.c if c.name in stored.tables[table.name].c]
                out[table.name] = [dict(row._mapping) for row in (await s.execute(select(*columns))).all()]
    return out


def _leaves(value, key=None):
    """(key, value) for every scalar inside a row, JSON columns opened."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaves(v, k)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _leaves(v, key)
    else:
        yield key, value


def _word(name: str, text: str) -> bool:
    return re.search(rf"(?<![\w@:]){re.escape(name)}(?![\w:])", text) is not None


def links(tables: dict[str, list[dict]], proposal_id: int, voters: list[Voter]) -> list[str]:
    """Rows that hold a voter and that voter's choice on this proposal together: by ids (a member
    column beside an option column) or in words (a text naming the voter and their option but not
    every option, as an acknowledgement would)."""
    found = []
    for table, rows in tables.items():
        for row in rows:
            if row.get("proposal_id") not in (None, proposal_id):
                continue
            leaves = list(_leaves(row))
            texts = [v for _, v in leaves if isinstance(v, str)]
            named = {label for label in OPTIONS if any(_word(label, t) for t in texts)}
            for voter in voters:
                is_voter = any(k in MEMBER_KEYS and v == voter.member_id for k, v in leaves) or any(
                    _word(name, t) for name in voter.names for t in texts)
                by_index = any(k in OPTION_KEYS and v == voter.choice and not isinstance(v, bool) for k, v in leaves)
                in_words = OPTIONS[voter.choice] in named and named != set(OPTIONS)
                if is_voter and (by_index or in_words):
                    found.append(f"{table}: {row}")
    return found


async def _secret_vote(gov, *, changes: bool = True) -> tuple[Chat, int, list[Voter]]:
    """Six voters on a secret ballot, typed one at a time (the single path) and tapped at once (the
    group commit), with changes of mind and a withdrawal on the way."""
    chat = Chat(gov)
    names = await make_coop(chat, 6)
    await chat.say("alice", "/propose Orchard\nballot: secret\noptions: Apples | Pears | Plums")
    pid = (await gov.stores.proposals.list(1))[0].id
    final = {"alice": 0, "m1": 1, "m2": 1, "m3": 2, "m4": 0, "m5": 1}
    for who, line in [("alice", "/vote 1 Pears"), ("alice", "/vote 1 Apples"), ("m1", "/vote 1 Plums"),
                      ("m6", "/vote 1 Apples"), ("m6", "/unvote 1")]:
        assert "#1" in await chat.say(who, line)
    room = ChatRef("console", "general")
    taps = [gov.handle_vote(VoteCast(room, UserRef("console", who, who), pid, option, f"tap-{who}"))
            for who, option in final.items() if who != "alice"]
    assert all(r and r[0].text.startswith(("Recorded", "Changed")) for r in await asyncio.gather(*taps))
    register = {m.display_name: m.id for m in await gov.stores.members.register(1)}
    voters = [Voter(register[who], (who,), option) for who, option in final.items()]
    assert len(names) == 7
    return chat, pid, voters


async def test_a_secret_vote_is_logged_without_the_choice(gov):
    """Vote events of a secret ballot name the member (turnout) but never the option, on the single
    path and the group commit alike; the ballot table alone knows the choice while voting is open."""
    chat, pid, voters = await _secret_vote(gov)
    async with gov.stores.db.read() as s:
        events = (await s.execute(select(GovernanceEvent).where(
            GovernanceEvent.proposal_id == pid, GovernanceEvent.kind.like("vote_%")))).scalars().all()
    assert {e.kind for e in events} == {"vote_cast", "vote_changed", "vote_withdrawn"}
    assert all(e.member_id is not None and not OPTION_KEYS & set(e.data) for e in events), [e.data for e in events]
    # While open, the bot knows who voted what: that is what lets a vote be changed.
    assert {b.member_id: b.option for b in await gov.stores.votes.ballots(pid)} == {v.member_id: v.choice for v in voters}
    assert await gov.stores.proposals.counts(pid, 3) == await gov.stores.proposals.recount(pid, 3) == [2, 3, 1]


async def test_closing_a_secret_ballot_destroys_who_chose_what(gov):
    """At the close the member → choice link goes, in the transaction that records the result:
    the tally and who voted remain, and every count, recount and turnout still agrees."""
    chat, pid, voters = await _secret_vote(gov)
    await chat.say("alice", "/close 1 enough")
    p = await gov.stores.proposals.get_by_id(pid)
    assert p.status == "closed" and p.result["counts"] == [2, 3, 1]
    ballots = await gov.stores.votes.ballots(pid)
    assert {b.member_id for b in ballots} == {v.member_id for v in voters}  # who voted
    assert all(b.option is None and b.cast_at is not None for b in ballots)  # not what
    assert await gov.stores.proposals.counts(pid, 3) == await gov.stores.proposals.recount(pid, 3) == [2, 3, 1]
    non_voters = await gov.stores.proposals.non_voters_of([pid])
    assert [member_id for member_id, _ in non_voters[pid]] == [(await gov.stores.members.register(1))[-1].id]
    assert "Apples 2 · Pears 3 · Plums 1" in await chat.say("m1", "/show 1")


async def test_a_withdrawn_secret_ballot_is_sealed_too(gov):
    """Withdrawing ends the voting as a close does: the link goes, the tally is kept for a recount."""
    chat, pid, voters = await _secret_vote(gov)
    await chat.say("alice", "/withdraw 1 not now")
    assert all(b.option is None for b in await gov.stores.votes.ballots(pid))
    assert await gov.stores.proposals.recount(pid, 3) == await gov.stores.proposals.counts(pid, 3) == [2, 3, 1]
    assert links(await dump(gov.stores.db), pid, voters) == []


async def test_after_the_close_no_table_links_a_voter_to_a_choice(gov):
    """Every row of every table, read after a secret ballot closes (SQLite and PostgreSQL): none
    holds a voter and that voter's choice together. Before the close, the scan does find them."""
    chat, pid, voters = await _secret_vote(gov)
    assert links(await dump(gov.stores.db), pid, voters)  # open: the ballots hold the choices
    await chat.say("alice", "/close 1")
    assert links(await dump(gov.stores.db), pid, voters) == []


async def test_an_open_ballot_keeps_its_votes_and_recounts_from_the_log(gov):
    """Open ballots are unchanged: the votes stay on record and the log alone recounts them."""
    chat = Chat(gov)
    await make_coop(chat, 2)
    await chat.say("alice", "/propose Public matter")
    pid = (await gov.stores.proposals.list(1))[0].id
    for who, line in [("alice", "/vote 1 For"), ("m1", "/vote 1 Against"), ("m2", "/vote 1 For"), ("m2", "/vote 1 Abstain")]:
        await chat.say(who, line)
    await chat.say("alice", "/close 1")
    assert sorted(b.option for b in await gov.stores.votes.ballots(pid)) == [0, 1, 2]
    assert await gov.stores.proposals.recount(pid, 3) == [1, 1, 1]


async def _migrate(db, target: str, *, down: bool = False) -> None:
    from alembic import command

    from storage.db import alembic_config

    def run(connection) -> None:
        cfg = alembic_config()
        cfg.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(cfg, target)

    async with db.writer.connect() as conn:
        await conn.run_sync(run)
        await conn.commit()


async def test_the_migration_seals_secret_ballots_that_ended_before_it(gov):
    """A database written before sealing existed (a closed secret ballot still holding its choices,
    its vote events naming them) is brought to the rule by the migration."""
    from sqlalchemy import update

    from storage.models import Proposal

    chat, pid, voters = await _secret_vote(gov)
    db = gov.stores.db
    await _migrate(db, "0004", down=True)  # the revision before sealing
    async with db.write() as s:  # as the old code left it: closed, choices in the ballots and the log
        await s.execute(update(Proposal.__table__).where(Proposal.id == pid)
                        .values(status="closed", ended_at=gov.clock.now()))
        for voter in voters:
            await s.execute(update(GovernanceEvent.__table__).where(
                GovernanceEvent.proposal_id == pid, GovernanceEvent.member_id == voter.member_id,
                GovernanceEvent.kind == "vote_cast").values(data={"option": voter.choice, "previous": None}))
    assert links(await dump(db), pid, voters)
    await _migrate(db, "head")
    assert links(await dump(db), pid, voters) == []
    assert all(b.option is None for b in await gov.stores.votes.ballots(pid))
    assert await gov.stores.proposals.recount(pid, 3) == await gov.stores.proposals.counts(pid, 3) == [2, 3, 1]



# --- logs ---

LIBRARIES = ("telegram", "telegram.ext", "httpx", "httpcore", "aiohttp", "nio", "peewee", "sqlalchemy.engine")
CONFIGURED = (*LIBRARIES, "sqlalchemy", "alembic", "aiosqlite", "asyncpg")


@pytest.fixture
def restore_logging():
    """The logging configuration as pytest set it, put back after a test that configures its own."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    levels = {name: logging.getLogger(name).level for name in CONFIGURED}
    yield
    for handler in root.handlers:
        if handler not in handlers:
            handler.close()
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, was in levels.items():
        logging.getLogger(name).setLevel(was)


def _debug_settings(tmp_path: Path, **extra) -> Settings:
    return Settings(database_url=f"sqlite:///{tmp_path / 'coopbot.db'}", data_dir=tmp_path, log_level="DEBUG", **extra)


def test_libraries_log_at_info_or_above_even_at_debug(tmp_path, restore_logging):
    """COOPBOT_LOG_LEVEL=DEBUG is coopbot's debug output, not the libraries': python-telegram-bot
    would log each call's parameters (a vote's answer, beside the voter), SQLAlchemy each statement's."""
    _logging(_debug_settings(tmp_path), "console")
    assert logging.getLogger("coopbot").isEnabledFor(logging.DEBUG)
    for name in LIBRARIES:
        assert not logging.getLogger(name).isEnabledFor(logging.DEBUG), name
    assert not logging.getLogger("sqlalchemy.engine.Engine").isEnabledFor(logging.INFO)
    assert not logging.getLogger("httpx").isEnabledFor(logging.INFO)  # its INFO line is a URL, with the token


def test_a_token_is_redacted_from_any_record(tmp_path, restore_logging):
    """The bot token, in a URL or alone, and the other secrets of the settings never reach the log,
    whether in a message, its arguments or a traceback."""
    token = "7012345678:AAHk3-sEcReT_sEcReT_sEcReT_sEcReT_xyz"
    _logging(_debug_settings(tmp_path, telegram_token=token, matrix_password="hunter2-hunter2"), "console")
    log = logging.getLogger("coopbot.test")
    log.warning("GET https://api.telegram.org/bot%s/getMe failed", token)
    log.info("POST https://example.org/bot123456:TEST-token/getUpdates")
    log.debug("logging in with %s", "hunter2-hunter2")
    try:
        raise RuntimeError(f"https://api.telegram.org/bot{token}/sendMessage: 502")
    except RuntimeError:
        log.exception("send failed")
    text = (tmp_path / "console.log").read_text()
    assert "getMe failed" in text and "send failed" in text and "502" in text
    for secret in (token, token.split(":")[1], "TEST-token", "hunter2-hunter2"):
        assert secret not in text


# --- acceptance: a real run on Telegram, every table and the whole log read after the close ---


@pytest.fixture
async def fake():
    from tests.fakes.telegram_api import FakeBotAPI

    async with FakeBotAPI() as api:
        yield api


async def test_after_a_secret_ballot_closes_nothing_stored_or_logged_links_a_voter_to_a_choice(
    fake, tmp_path, restore_logging, monkeypatch
):
    """A secret ballot on Telegram through the real adapter, with the log at DEBUG in a file for the
    whole run: taps in a burst (group commit) and one by one, a change of mind, a typed vote, and a
    tap and a command whose handling fails. After the close, no row of any table holds a voter
    with their choice, and no log line holds a tap's data, a vote's answer or the token."""
    from tests.test_telegram import GROUP, STEWARD, Harness, coop_with_proposal

    _logging(_debug_settings(tmp_path, telegram_token=fake.token), "console")  # as `coopbot` configures it
    # And every record as it is emitted, before any redaction: nothing may rely on the filter alone.
    raw = logging.FileHandler(tmp_path / "raw.log")
    logging.getLogger().addHandler(raw)
    logging.getLogger().setLevel(logging.DEBUG)
    tg = await Harness(fake, tmp_path).start()
    try:
        message_id, ids = await coop_with_proposal(tg, 6, "\nballot: secret\noptions: Apples | Pears | Plums")
        p = await tg.stores.proposals.get(1, 1)
        choices = {STEWARD: 1, ids[0]: 0, ids[1]: 1, ids[2]: 1, ids[3]: 2, ids[4]: 0}
        for uid in ids[:4]:  # a burst: these are committed together
            fake.callback(GROUP, uid, message_id, f"v:{p.id}:2", first_name=f"user{uid}")
        await fake.wait_for(lambda f: len(f.calls_to("answerCallbackQuery")) == 4)
        for uid, option in choices.items():  # one by one, three of them changing their minds
            assert (await tg.tap(uid, message_id, f"v:{p.id}:{option}")).startswith(("Recorded", "Changed", "Already"))

        async def broken(*args, **kwargs):
            raise RuntimeError("injected failure")

        failed = lambda: (tmp_path / "raw.log").read_text().count("Telegram update failed")  # noqa: E731
        monkeypatch.setattr(tg.services.governance, "handle_vote", broken)
        fake.callback(GROUP, ids[5], message_id, f"v:{p.id}:2", first_name=f"user{ids[5]}")
        await fake.wait_for(lambda f: failed() == 1)
        monkeypatch.undo()
        monkeypatch.setattr(tg.adapter, "_remember_handle", broken)
        fake.command(GROUP, ids[5], "/vote 1 Plums", first_name=f"user{ids[5]}")
        await fake.wait_for(lambda f: failed() == 2)
        monkeypatch.undo()
        fake.command(GROUP, ids[5], "/vote 1 Plums", first_name=f"user{ids[5]}")
        choices[ids[5]] = 2
        await fake.wait_for(lambda f: "7 of 7 voted" in tg.card()[1]["text"], timeout=20)

        fake.command(GROUP, STEWARD, "/close 1", first_name="user1")
        result = await fake.wait_for(lambda f: [t for t in f.texts(GROUP) if t.startswith("Result of #1")], timeout=20)
        assert "Apples 2 · Pears 3 · Plums 2" in result[0]
        await fake.wait_for(lambda f: tg.card()[1]["reply_markup"] is None, timeout=20)
        members = {uid: (await tg.stores.members.by_account(1, "telegram", str(uid))).id for uid in choices}
        tables = await dump(tg.stores.db)
    finally:
        await tg.close()

    voters = [Voter(members[uid], (f"user{uid}",) + ((str(uid),) if uid != STEWARD else ()), choice)
              for uid, choice in choices.items()]
    assert links(tables, p.id, voters) == []
    assert sorted(r["member_id"] for r in tables["ballot"]) == sorted(members.values())  # who voted remains

    raw.flush()
    lines = (tmp_path / "raw.log").read_text().splitlines()
    assert sum(line == "RuntimeError: injected failure" for line in lines) == 2  # the failures were logged
    if (tmp_path / "console.log").exists():  # the redacted file `coopbot console` writes
        lines += (tmp_path / "console.log").read_text().splitlines()
    for line in lines:
        assert not re.search(rf"[vu]:{p.id}\b", line), line  # a tap's data
        assert not re.search(r"\b(Recorded|Changed|Already recorded): ", line), line  # a vote's answer
        assert fake.token not in line and fake.token.split(":")[1] not in line, line
        for voter in voters:
            if any(_word(name, line) for name in voter.names):
                assert not any(_word(label, line) for label in OPTIONS), line


async def test_the_export_gives_a_secret_ballot_its_tally_only(gov):
    """`coopbot export` (every format): a secret ballot's tally and turnout, never who voted what,
    whether it is open (no counts yet) or closed (the sealed tally)."""
    from bot import export

    chat, pid, voters = await _secret_vote(gov)
    for closed in (False, True):
        if closed:
            await chat.say("alice", "/close 1")
        data = await export.collect(gov.stores)
        (entry,) = data["coops"][0]["proposals"]
        assert "votes" not in entry and entry["turnout"] == 6
        assert entry["tally"] == ({"Apples": 2, "Pears": 3, "Plums": 1} if closed else None)
        for fmt in export.FORMATS.values():
            text = fmt(data)
            for line in text.splitlines():
                for voter in voters:
                    if any(_word(name, line) for name in voter.names):
                        assert not any(_word(label, line) for label in OPTIONS), line
