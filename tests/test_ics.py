"""The calendar as an .ics file and a private feed: `calendar`'s attachment parses with icalendar and
with vobject and holds the events `calendar` lists, with stable UIDs, SEQUENCE on change, cancelled
events and alarms, and nothing of a secret ballot; the feed over a real aiohttp server serves it with
caching headers and refuses a wrong or revoked token; the URL is shown in a direct chat only; on
Telegram the file is a document (the real PTB stack against the fake Bot API); the console saves it."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import icalendar
import pytest
import vobject
from sqlalchemy.exc import IntegrityError

from bot.config import Settings
from bot.feed import FeedServer
from bot.services import Services
from handlers import texts
from handlers.agenda import dated
from handlers.router import Governance
from storage.db import Database
from storage.feeds import token_hash
from storage.models import CalendarFeed
from storage.stores import Stores
from tests.conftest import EVERY_PLATFORM, Chat, FakeClock, make_coop
from tests.fakes.telegram_api import FakeBotAPI
from tests.test_telegram import GROUP, STEWARD, fake, tg  # noqa: F401 (the fake Bot API and harness fixtures)

BASE = "https://coop.example.org"


@asynccontextmanager
async def feed_server(sqlite_url: str, tmp_path: Path, clock: FakeClock | None = None):
    """The bot's services and its feed server on a free 127.0.0.1 port, stopped afterwards."""
    settings = Settings(database_url=sqlite_url, data_dir=tmp_path, http_listen="127.0.0.1:0", public_url=BASE)
    services = await Services.start(settings, clock=clock or FakeClock())
    server = FeedServer(services, settings.http_listen)
    await server.start()
    try:
        yield services, server
    finally:
        await server.stop()
        await services.close()


@pytest.fixture
async def sqlite_stores(sqlite_url):
    database = Database(sqlite_url)
    await database.upgrade()
    yield Stores.over(database)
    await database.dispose()


@pytest.fixture
def feeds_gov(sqlite_stores, clock):
    return Governance(sqlite_stores, clock, bot_names=("coopbot",), before_close=EVERY_PLATFORM, feed_base=BASE)


@pytest.fixture
def room(feeds_gov):
    return Chat(feeds_gov)


def ics_of(chat: Chat) -> bytes:
    [reply] = chat.replies
    assert reply.attachment is not None and reply.attachment.name == "calendar.ics"
    assert reply.attachment.mime == "text/calendar"
    return reply.attachment.data


def events(data: bytes) -> dict[str, icalendar.Event]:
    return {str(e["UID"]): e for e in icalendar.Calendar.from_ical(data).walk("VEVENT")}


async def coop_with_proposals(room: Chat) -> None:
    await make_coop(room, members=2)
    await room.say("m1", "/propose Buy a van\ncloses: 72h")
    await room.say("m1", "/propose Paint the shop\ncloses: 48h")
    await room.say("m2", "/propose Elect the treasurer\nballot: secret\ncloses: 96h")


async def test_the_ics_parses_with_two_parsers_and_matches_calendar(room, clock):
    """The file parses with icalendar and with vobject; its events are `calendar`'s lines but for
    the reminders (alarms there), at the same moments; the calendar is named after the co-op."""
    await coop_with_proposals(room)
    text = await room.say("m1", "/calendar")
    data = ics_of(room)
    parsed = icalendar.Calendar.from_ical(data)
    assert str(parsed["X-WR-CALNAME"]) == "Red Bakery: governance calendar" and str(parsed["VERSION"]) == "2.0"
    by_icalendar = {str(e["SUMMARY"]): e.decoded("DTSTART") for e in parsed.walk("VEVENT")}
    by_vobject = {e.summary.value: e.dtstart.value for e in vobject.readOne(data.decode("utf-8")).vevent_list}
    assert by_icalendar == by_vobject
    items = [i for i in await dated(room.gov.stores, await room.gov.stores.coops.get(1), clock.now()) if i.key]
    assert by_icalendar == {i.text: i.at for i in items}
    # Every event is a line of `calendar`.
    for summary in by_icalendar:
        assert f"— {summary}" in text, summary
    assert "voting on #1 Buy a van closes" in by_icalendar
    assert by_icalendar["voting on #1 Buy a van closes"] == clock.now() + timedelta(hours=72)
    assert any(s.startswith("liberation audit") for s in by_icalendar)
    assert any(s.startswith("sunset vote opens") for s in by_icalendar)
    assert texts.CALENDAR_MIRROR in by_icalendar and texts.CALENDAR_DRILL in by_icalendar
    # Reminders are lines of `calendar` but no events of their own.
    assert "reminder to vote on #1" in text and not any(s.startswith("reminder") for s in by_icalendar)
    # Times in UTC.
    assert re.search(rb"DTSTART:\d{8}T\d{6}Z\r\n", data) and b"VTIMEZONE" not in data


async def test_uids_are_stable_and_alarms_follow_the_charter(room, clock):
    await coop_with_proposals(room)
    await room.say("m1", "/calendar")
    first = events(ics_of(room))
    clock.advance(hours=1)
    await room.say("m2", "/calendar")
    second = events(ics_of(room))
    assert set(first) == set(second)
    assert {"proposal-1-1@coopbot", "proposal-1-2@coopbot", "proposal-1-3@coopbot"} <= set(first)
    assert {uid.split("-")[0] for uid in first} >= {"proposal", "audit", "sunset", "mirror", "drill"}
    assert all(int(e["SEQUENCE"]) == 0 for e in first.values())
    assert second["proposal-1-1@coopbot"].decoded("DTSTAMP") == clock.now()
    # Deadline alarms: the charter's reminder offsets (24 h and 1 h); the audit's: 30, 7 and 1 days.
    van = first["proposal-1-1@coopbot"]
    assert sorted(a.decoded("TRIGGER") for a in van.walk("VALARM")) == [timedelta(hours=-24), timedelta(hours=-1)]
    audit = next(e for uid, e in first.items() if uid.startswith("audit-"))
    assert sorted(a.decoded("TRIGGER") for a in audit.walk("VALARM")) == [
        timedelta(days=-30), timedelta(days=-7), timedelta(days=-1)]
    mirror = next(e for uid, e in first.items() if uid.startswith("mirror-"))
    assert sorted(a.decoded("TRIGGER") for a in mirror.walk("VALARM")) == [timedelta(days=-7), timedelta(days=-1)]
    assert all(str(a["ACTION"]) == "DISPLAY" and a["DESCRIPTION"] for e in first.values() for a in e.walk("VALARM"))


async def test_a_close_early_and_a_withdrawal_change_the_event_they_do_not_drop_it(room, clock):
    """Closed early: the same UID, at the time it closed, a higher SEQUENCE; withdrawn: cancelled,
    a higher SEQUENCE; past 30 days, out of the file."""
    await coop_with_proposals(room)
    await room.say("m1", "/calendar")
    before = events(ics_of(room))
    clock.advance(hours=2)
    await room.say("alice", "/close 1 we agreed in the meeting")
    assert (await room.gov.stores.proposals.get(1, 1)).status == "closed"
    clock.advance(minutes=5)
    await room.say("m1", "/withdraw 2")
    assert (await room.gov.stores.proposals.get(1, 2)).status == "withdrawn"
    clock.advance(minutes=5)
    await room.say("m1", "/calendar")
    after = events(ics_of(room))
    closed, withdrawn = after["proposal-1-1@coopbot"], after["proposal-1-2@coopbot"]
    assert closed.decoded("DTSTART") == clock.now() - timedelta(minutes=10)
    assert closed.decoded("DTSTART") < before["proposal-1-1@coopbot"].decoded("DTSTART")
    assert int(closed["SEQUENCE"]) > int(before["proposal-1-1@coopbot"]["SEQUENCE"])
    assert str(closed["STATUS"]) == "CONFIRMED" and "closed early" in str(closed["SUMMARY"])
    assert not list(closed.walk("VALARM"))
    assert str(withdrawn["STATUS"]) == "CANCELLED"
    assert int(withdrawn["SEQUENCE"]) > int(before["proposal-1-2@coopbot"]["SEQUENCE"])
    # `calendar` no longer lists either; the file still carries both for 30 days, then drops them.
    text = await room.say("m1", "/calendar")
    assert "#1 Buy a van" not in text and "#2 Paint the shop" not in text
    clock.advance(days=31)
    await room.say("m1", "/calendar")
    assert "proposal-1-1@coopbot" not in events(ics_of(room))


async def test_a_revision_is_a_new_sequence_and_the_same_uid(room, clock):
    await make_coop(room, members=1)
    await room.say("m1", "/propose Buy a vna\ncloses: 72h", event_id="$p")
    await room.say("m1", "/calendar")
    before = events(ics_of(room))["proposal-1-1@coopbot"]
    clock.advance(minutes=20)
    assert "#1 is changed" in await room.say("m1", "/propose Buy a van\ncloses: 72h", event_id="$p2", corrects="$p")
    await room.say("m1", "/calendar")
    after = events(ics_of(room))["proposal-1-1@coopbot"]
    assert str(after["SUMMARY"]) == "voting on #1 Buy a van closes"
    assert int(after["SEQUENCE"]) > int(before["SEQUENCE"]) and after.decoded("LAST-MODIFIED") == clock.now()
    clock.advance(hours=1)
    await room.say("alice", "/close 1")
    await room.say("m1", "/calendar")
    assert int(events(ics_of(room))["proposal-1-1@coopbot"]["SEQUENCE"]) > int(after["SEQUENCE"])


async def test_a_secret_ballot_event_says_only_its_title_number_and_time(room, clock):
    await coop_with_proposals(room)
    await room.say("alice", "/vote 3 for")
    await room.say("m1", "/vote 3 against")
    await room.say("m1", "/calendar")
    data = ics_of(room)
    secret = events(data)["proposal-1-3@coopbot"]
    assert str(secret["SUMMARY"]) == "voting on #3 Elect the treasurer closes"
    assert "DESCRIPTION" not in secret and "ATTENDEE" not in secret
    for word in (b"alice", b"m1", b"m2", b"For", b"Against", b"secret"):
        assert word not in data, word
    # Closed, its result is no more in the file than its ballots were.
    await room.say("alice", "/close 3")
    await room.say("m1", "/calendar")
    secret = events(ics_of(room))["proposal-1-3@coopbot"]
    assert set(secret) <= {"UID", "DTSTAMP", "DTSTART", "SUMMARY", "SEQUENCE", "STATUS", "TRANSP", "LAST-MODIFIED"}


async def test_the_feed_url_is_given_in_a_direct_chat_only_and_revoked_by_a_steward(room, feeds_gov):
    await make_coop(room, members=1)
    text = await room.say("m1", "/calendar")
    assert "ask me /calendar in a direct chat" in text and "/calendar/" not in text
    dm = Chat(feeds_gov, chat_id="dm-m1", direct=True)
    url = re.search(r"https://coop\.example\.org/calendar/([A-Za-z0-9_-]{43})\.ics", await dm.say("m1", "/calendar"))
    assert url
    again = await Chat(feeds_gov, chat_id="dm-alice", direct=True).say("alice", "/calendar")
    assert url.group(0) in again  # one URL per co-op, the same for every member
    assert "steward" in (await room.say("m1", "/calendar revoke")).lower()
    assert "revoked" in await room.say("alice", "/calendar revoke")
    assert "no calendar feed" in await room.say("alice", "/calendar revoke")
    fresh = await dm.say("m1", "/calendar")
    assert "/calendar/" in fresh and url.group(0) not in fresh
    assert "takes nothing" in await room.say("m1", "/calendar soon")


async def test_without_a_public_url_calendar_says_nothing_of_a_feed(chat):
    await make_coop(chat, members=1)
    text = await chat.say("m1", "/calendar")
    assert "feed" not in text and chat.replies[0].attachment is not None


async def test_the_feed_server_serves_caches_and_refuses(sqlite_url, tmp_path):
    """A real aiohttp server on a free 127.0.0.1 port: 200 with the calendar's type, an ETag and
    Cache-Control; 304 for that ETag; 404 for a wrong token, a revoked one and any other path; an
    early close shows as an updated event under a new ETag."""
    clock = FakeClock()
    async with feed_server(sqlite_url, tmp_path, clock) as (services, server):
        room = Chat(services.governance)
        await make_coop(room, members=1)
        await room.say("m1", "/propose Buy a van\ncloses: 72h")
        reply = await Chat(services.governance, chat_id="dm", direct=True).say("m1", "/calendar")
        token = re.search(r"/calendar/([A-Za-z0-9_-]+)\.ics", reply).group(1)
        local = f"http://127.0.0.1:{server.bound_port}"
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{local}/calendar/{token}.ics") as r:
                assert r.status == 200 and r.headers["Content-Type"] == "text/calendar; charset=utf-8"
                assert r.headers["Cache-Control"] == "private, max-age=300"
                tag, body = r.headers["ETag"], await r.read()
            assert events(body)["proposal-1-1@coopbot"].decoded("DTSTART") == clock.now() + timedelta(hours=72)
            vobject.readOne(body.decode("utf-8"))
            clock.advance(minutes=1)  # a new DTSTAMP, the same events: the same ETag
            async with http.get(f"{local}/calendar/{token}.ics", headers={"If-None-Match": tag}) as r:
                assert r.status == 304 and r.headers["ETag"] == tag and await r.read() == b""
            async with http.get(f"{local}/calendar/{'x' * 43}.ics") as wrong:
                assert wrong.status == 404
                refused = await wrong.read()
            for path in ("/", "/calendar/", f"/calendar/{token}", f"/calendar/{token}.ics/x"):
                async with http.get(local + path) as r:
                    assert r.status == 404, path
            await room.say("alice", "/close 1")
            clock.advance(seconds=10)  # bot.feed.FRESH: the calendar built a moment ago is served until then
            async with http.get(f"{local}/calendar/{token}.ics", headers={"If-None-Match": tag}) as r:
                assert r.status == 200 and r.headers["ETag"] != tag
                closed = events(await r.read())["proposal-1-1@coopbot"]
            assert closed.decoded("DTSTART") == clock.now() - timedelta(seconds=10) and int(closed["SEQUENCE"]) > 0
            assert "revoked" in await room.say("alice", "/calendar revoke")
            async with http.get(f"{local}/calendar/{token}.ics") as r:
                assert r.status == 404 and await r.read() == refused


async def test_calendar_on_telegram_sends_its_text_and_the_ics_as_a_document(tg, fake: FakeBotAPI):
    assert "set up" in await tg.say(STEWARD, "/setup Red Bakery")
    text = await tg.say(STEWARD, "/calendar")
    assert text.startswith("Calendar of Red Bakery")
    [call] = await fake.wait_for(lambda f: [c for c in f.calls_to("sendDocument") if c.ok])
    assert call.params["chat_id"] == GROUP and call.http_method == "POST"
    message = call.result
    name, mime, data = fake.documents[(GROUP, message["message_id"])]
    assert name == "calendar.ics" and message["document"]["file_name"] == "calendar.ics"
    assert mime == "text/calendar", mime
    assert any(str(e["SUMMARY"]).startswith("liberation audit") for e in icalendar.Calendar.from_ical(data).walk("VEVENT"))
    sends = [c for c in fake.calls if c.method in ("sendMessage", "sendDocument") and c.ok]
    assert sends[-1].method == "sendDocument" and sends[-2].params["text"] == text


def test_the_console_saves_the_ics_in_the_data_dir(tmp_path):
    from tests.test_console import console

    done = console(tmp_path, "/setup Red Bakery\n/calendar\n")
    assert done.returncode == 0, done.stderr
    saved = re.search(r"\(the file is saved in (.+?\.ics)\)", done.stdout).group(1)
    path = Path(saved)
    assert path.parent == tmp_path / "data" and re.fullmatch(r"calendar-red-bakery-\d{8}T\d{6}Z\.ics", path.name)
    assert icalendar.Calendar.from_ical(path.read_bytes()).walk("VEVENT")


async def test_one_unrevoked_feed_per_coop_is_a_database_constraint(gov, chat, clock):
    """Members asking at once get the same token; only its hash finds it (the table has no other
    way in); a second unrevoked feed is refused by the schema; revoked, the token finds nothing."""
    await make_coop(chat, members=1)
    stores = gov.stores
    tokens = await asyncio.gather(*(stores.feeds.token(1, clock.now()) for _ in range(5)))
    assert len(set(tokens)) == 1 and len(tokens[0]) == 43 and await stores.feeds.coop_of(tokens[0]) == 1
    assert await stores.feeds.coop_of(tokens[0][:-1]) is None and await stores.feeds.coop_of("") is None
    with pytest.raises(IntegrityError):
        async with stores.db.write() as s:
            s.add(CalendarFeed(coop_id=1, token_hash=token_hash("other"), token="other", created_at=clock.now()))
    assert await stores.feeds.revoke(1, clock.now(), "revoked")
    assert await stores.feeds.coop_of(tokens[0]) is None
    assert await stores.feeds.token(1, clock.now()) != tokens[0]


def test_on_matrix_the_ics_is_an_m_file_in_the_clear_or_encrypted():
    """The same upload path as the timeline's m.image (tests/test_timeline_platforms.py): in an
    encrypted room the decryption info goes in `file`, never a bare `url`."""
    from bot.matrix.convert import file

    data = b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"
    plain = file("calendar.ics", "text/calendar", "mxc://hs/abc", data, thread="$root")
    assert plain == {"msgtype": "m.file", "body": "calendar.ics", "filename": "calendar.ics",
                     "info": {"mimetype": "text/calendar", "size": len(data)}, "url": "mxc://hs/abc",
                     "m.relates_to": {"rel_type": "m.thread", "event_id": "$root"}}
    keys = {"key": {"k": "x"}, "iv": "iv", "hashes": {"sha256": "h"}, "v": "v2", "extra": 1}
    sealed = file("calendar.ics", "text/calendar", "mxc://hs/abc", data, keys)
    assert "url" not in sealed and sealed["file"] == {"url": "mxc://hs/abc", "key": {"k": "x"}, "iv": "iv",
                                                      "hashes": {"sha256": "h"}, "v": "v2"}


async def test_coopbot_run_serves_the_feed_and_stops_cleanly(fake: FakeBotAPI, tmp_path):  # noqa: F811
    """The real `coopbot run` with COOPBOT_HTTP_LISTEN: the URL given in a direct chat on Telegram
    serves the calendar; SIGTERM stops the server with the bot, which exits 0."""
    import os
    import signal
    import subprocess
    import sys

    from tests.test_telegram import ROOT, free_port

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("COOPBOT_")}
    env.update(COOPBOT_TELEGRAM_TOKEN=fake.token, COOPBOT_TELEGRAM_API_URL=fake.url, PYTHONPATH=str(ROOT),
               COOPBOT_DATA_DIR=str(tmp_path / "data"), COOPBOT_HTTP_LISTEN=f"127.0.0.1:{port}",
               COOPBOT_PUBLIC_URL=BASE)
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "run"], cwd=tmp_path, env=env,
                            stdout=subprocess.DEVNULL, stderr=open(tmp_path / "bot.log", "ab"))
    try:
        fake.command(GROUP, STEWARD, "/setup Red Bakery", first_name="Ann")
        await fake.wait_for(lambda f: any("set up" in t for t in f.texts(GROUP)), timeout=30)
        fake.command(STEWARD, STEWARD, "/calendar", first_name="Ann")
        [text] = await fake.wait_for(lambda f: [t for t in f.texts(STEWARD) if "/calendar/" in t], timeout=30)
        path = re.search(r"https://coop\.example\.org(/calendar/[A-Za-z0-9_-]{43}\.ics)", text).group(1)
        # No link preview: Telegram's servers would fetch the feed (and show a preview of it) on its own.
        [said] = [c for c in fake.calls_to("sendMessage") if "/calendar/" in str(c.params.get("text"))]
        assert said.params["link_preview_options"] == {"is_disabled": True}
        async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}{path}") as r:
            assert r.status == 200 and b"BEGIN:VCALENDAR" in await r.read()
        proc.send_signal(signal.SIGTERM)
        for _ in range(300):  # waited without blocking the loop: the fake Bot API runs in it
            if proc.poll() is not None:
                break
            await asyncio.sleep(0.1)
        assert proc.returncode == 0
        with pytest.raises(aiohttp.ClientConnectionError):
            async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}{path}"):
                pass
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_the_log_filter_redacts_a_feed_token():
    from bot.logs import REDACTED, Redact

    line = "sendMessage text='Your phone… https://coop.example.org/calendar/AbC_d-123456789xyz.ics' GET /calendar/Zz9_-abcdefgh.ics"
    clean = Redact().redact(line)
    assert "AbC_d" not in clean and "Zz9_" not in clean and clean.count(f"/calendar/{REDACTED}.ics") == 2


async def test_a_call_in_that_moves_the_deadline_raises_the_sequence(chat, clock):
    """`protect` keeps a proposal open longer without revising it: its event moves, so its SEQUENCE
    must grow, or an app that has it keeps the old time (RFC 5545 3.8.7.4)."""
    from tests.test_firewalls import movement, number_of

    await movement(chat, clock)
    await chat.say("m1", "/propose Sell the bakery to X Ltd\ncloses: 2h")
    number = number_of(chat.last)
    uid = f"proposal-1-{number}@coopbot"
    await chat.say("m1", "/calendar")
    before = events(ics_of(chat))[uid]
    clock.advance(minutes=10)
    await chat.say("erin", f"/protect {number}")
    await chat.say("m1", "/calendar")
    after = events(ics_of(chat))[uid]
    assert after.decoded("DTSTART") > before.decoded("DTSTART")
    assert int(after["SEQUENCE"]) > int(before["SEQUENCE"]) and after.decoded("LAST-MODIFIED") == clock.now()


async def test_an_amended_interval_moves_no_event_under_the_same_uid_and_sequence(chat, clock):
    """A mirror shift's date follows the charter's interval: amended, the date changes; the same
    UID at the same SEQUENCE with another DTSTART would be ignored by an app that has it."""
    from tests.test_allies import decide

    names = await make_coop(chat, 2)
    await chat.say("m1", "/calendar")
    before = {uid: e for uid, e in events(ics_of(chat)).items() if uid.startswith("mirror-")}
    await decide(chat, clock, names, "amend: mirror_every = 1")
    await chat.say("m1", "/calendar")
    after = {uid: e for uid, e in events(ics_of(chat)).items() if uid.startswith("mirror-")}
    [(uid, event)] = after.items()
    assert event.decoded("DTSTART") not in [e.decoded("DTSTART") for e in before.values()]
    for old_uid, old in before.items():
        if old_uid == uid:
            assert int(event["SEQUENCE"]) > int(old["SEQUENCE"])


async def test_removing_a_member_who_may_hold_the_feed_url_tells_the_steward_how_to_renew_it(room, feeds_gov):
    """The feed is the co-op's, not a member's: a removed member who subscribed still reads it until
    a steward revokes it, so the removal says so, and only when there is a feed to revoke."""
    await make_coop(room, members=2)
    assert "calendar revoke" not in await room.say("alice", "/remove m2")
    await Chat(feeds_gov, chat_id="dm-m1", direct=True).say("m1", "/calendar")
    said = await room.say("alice", "/remove m1")
    assert "removed" in said and "/calendar revoke" in said


async def test_many_requests_at_once_build_the_calendar_once(sqlite_url, tmp_path, monkeypatch):
    """Whoever has the URL cannot make the bot build the calendar once per request: requests at once
    share one build, and one made within `FRESH` of it is served from it; a revocation still holds at once."""
    import bot.feed

    built = []

    async def counting(stores, coop, now):
        built.append(now)
        await asyncio.sleep(0.05)
        return await dated_ics(stores, coop, now)

    from handlers.agenda import ics_of as dated_ics

    monkeypatch.setattr(bot.feed, "ics_of", counting)
    clock = FakeClock()
    async with feed_server(sqlite_url, tmp_path, clock) as (services, server):
        room = Chat(services.governance)
        await make_coop(room, members=1)
        reply = await Chat(services.governance, chat_id="dm", direct=True).say("m1", "/calendar")
        url = f"http://127.0.0.1:{server.bound_port}" + re.search(r"/calendar/[A-Za-z0-9_-]+\.ics", reply).group(0)
        async with aiohttp.ClientSession() as http:
            async def fetch() -> int:
                async with http.get(url) as r:
                    await r.read()
                    return r.status

            assert await asyncio.gather(*(fetch() for _ in range(20))) == [200] * 20
            assert len(built) == 1
            clock.advance(seconds=bot.feed.FRESH.total_seconds() - 1)
            assert await fetch() == 200 and len(built) == 1
            clock.advance(seconds=1)
            assert await fetch() == 200 and len(built) == 2
            await room.say("alice", "/calendar revoke")
            assert await fetch() == 404


async def test_a_slow_or_silent_client_does_not_hold_a_connection_for_long(sqlite_url, tmp_path, monkeypatch):
    """A connection that never finishes its request is closed after `IDLE` (aiohttp's default keeps
    it an hour: enough of them would take every file descriptor the bot needs for its database)."""
    import bot.feed

    monkeypatch.setattr(bot.feed, "IDLE", 0.5)
    async with feed_server(sqlite_url, tmp_path) as (services, server):
        reader, writer = await asyncio.open_connection("127.0.0.1", server.bound_port)
        writer.write(b"GET /calendar/abc")  # and no more
        await writer.drain()
        assert await asyncio.wait_for(reader.read(), timeout=5) is not None  # the server closed it
        writer.close()


def test_the_log_filter_redacts_a_feed_token_cut_short_or_quoted():
    """A line cut before `.ics` (a text shortened for the log) or a path percent-encoded still
    loses the token."""
    from bot.logs import Redact

    token = "AbC_d-123456789xyzAbC_d-123456789xyzAbC_d-1"
    for line in (f"text='… https://coop.example.org/calendar/{token[:30]}",
                 f"url=https%3A%2F%2Fcoop.example.org%2Fcalendar%2F{token}.ics",
                 f"webcal://coop.example.org/calendar/{token}.ICS"):
        assert token[:12] not in Redact().redact(line), line


async def test_a_redrawn_audit_s_window_is_a_later_sequence(chat, clock):
    """Silent auditors are drawn again once: the verdicts' window ends later, under the same UID,
    so its SEQUENCE must grow."""
    from tests.test_audits import allied_coop, start_and_seat, tick

    await allied_coop(chat)
    await start_and_seat(chat)
    await chat.say("m1", "/calendar")
    [first] = [e for uid, e in events(ics_of(chat)).items() if uid.startswith("verdicts-")]
    clock.advance(days=30, minutes=1)
    await tick(chat)
    clock.advance(minutes=11)
    await tick(chat)
    await chat.say("m1", "/calendar")
    [second] = [e for uid, e in events(ics_of(chat)).items() if uid.startswith("verdicts-")]
    assert str(second["UID"]) == str(first["UID"]) and second.decoded("DTSTART") > first.decoded("DTSTART")
    assert int(second["SEQUENCE"]) > int(first["SEQUENCE"])


async def test_a_feed_server_that_cannot_listen_leaves_nothing_set_up(sqlite_url, tmp_path):
    """The port taken: start raises (the runner turns it into one line) and leaves no runner behind."""
    import socket

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    listen = f"127.0.0.1:{taken.getsockname()[1]}"
    services = await Services.start(Settings(database_url=sqlite_url, data_dir=tmp_path, http_listen=listen,
                                             public_url=BASE), clock=FakeClock())
    server = FeedServer(services, listen)
    try:
        with pytest.raises(OSError):
            await server.start()
        assert server._runner is None
    finally:
        taken.close()
        await services.close()


async def test_a_revocation_is_announced_in_every_room_with_who_made_it(room, feeds_gov):
    """Revoked in a direct chat, the feed would stop with no word: every subscribed phone keeps an
    old calendar and no member knows why, nor which steward did it, however often."""
    await make_coop(room, members=1)
    steward = Chat(feeds_gov, chat_id="dm-alice", direct=True)
    await steward.say("alice", "/calendar")
    assert "revoked" in await steward.say("alice", "/calendar revoke")
    await room.drain()
    [said] = [t for t in room.announced if "calendar feed" in t]
    assert "alice" in said and "/calendar" in said
    await steward.say("alice", "/calendar revoke")  # nothing to revoke: nothing announced
    await room.drain()
    assert len([t for t in room.announced if "calendar feed" in t]) == 1


async def test_requests_at_once_reach_the_database_a_few_at_a_time(sqlite_url, tmp_path):
    """Wrong tokens cost a lookup each: however many come at once, only `AT_ONCE` are looked up
    together, so a flood cannot take the connections the bot's own work needs."""
    import bot.feed

    async with feed_server(sqlite_url, tmp_path) as (services, server):
        inside, most = 0, 0
        looked_up = services.stores.feeds.coop_of

        async def slow(token):
            nonlocal inside, most
            inside += 1
            most = max(most, inside)
            await asyncio.sleep(0.02)
            inside -= 1
            return await looked_up(token)

        services.stores.feeds.coop_of = slow
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100)) as http:
            async def fetch(i: int) -> int:
                async with http.get(f"http://127.0.0.1:{server.bound_port}/calendar/{'x' * 40}{i:03}.ics") as r:
                    return r.status

            assert set(await asyncio.gather(*(fetch(i) for i in range(60)))) == {404}
        assert most <= bot.feed.AT_ONCE
