"""The command parser and router against hostile input: every refusal says what was wrong,
and nothing bad input sends is ever written, on SQLite and on PostgreSQL."""

from __future__ import annotations

import time
import unicodedata
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import inspect, select
from sqlmodel import SQLModel

import storage.models  # noqa: F401  (registers every table on SQLModel.metadata)
from handlers import texts
from handlers.errors import BadArguments
from handlers.events import CommandReceived
from handlers.parsing import (
    MAX_MESSAGE, clean, one_line, parse_closing, parse_command, parse_duration, parse_number, split_extras,
)
from handlers.types import UserRef
from tests.conftest import Chat, make_coop

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)
UTC = ZoneInfo("UTC")
PROPOSE_KEYS = frozenset({"closes", "kind", "ballot", "options"})
BIDI = "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u061c"


# --- helpers -------------------------------------------------------------------------------


async def snapshot(stores) -> dict[str, list[tuple]]:
    """Every row of every table, in primary-key order: what 'nothing was written' is checked on."""
    async with stores.db.read() as s:
        out = {}
        for table in SQLModel.metadata.sorted_tables:
            rows = await s.execute(select(table).order_by(*table.primary_key.columns))
            out[table.name] = [tuple(row) for row in rows]
        return out


async def table_names(stores) -> set[str]:
    async with stores.db.writer.connect() as conn:
        return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))


async def coop_id(stores, chat: Chat) -> int:
    return (await stores.coops.get_by_room(chat.chat.platform, chat.chat.chat_id)).id


async def refused(chat: Chat, stores, text: str, *fragments: str, usage: bool = True, who: str = "alice") -> str:
    """Say `text`; the reply must name the problem (and show usage), and storage must not move."""
    before = await snapshot(stores)
    announced = len(chat.announced)
    reply = await chat.say(who, text)
    shown = repr(text[:80])
    assert reply, f"silence in answer to {shown}"
    assert texts.INTERNAL_ERROR not in reply, f"internal error in answer to {shown}"
    for fragment in fragments:
        assert fragment in reply, f"{fragment!r} not in the answer to {shown}: {reply!r}"
    if usage:
        assert "Usage:" in reply, f"no usage line in the answer to {shown}: {reply!r}"
    assert chat.announced[announced:] == [], f"{shown} announced something"
    assert await snapshot(stores) == before, f"{shown} changed storage"
    return reply


async def ignored(chat: Chat, stores, text: str, who: str = "alice") -> None:
    """Say `text`; the bot must stay silent and write nothing."""
    before = await snapshot(stores)
    reply = await chat.say(who, text)
    assert reply == "" and chat.replies == [], f"answered {text[:80]!r}: {reply!r}"
    assert await snapshot(stores) == before, f"{text[:80]!r} changed storage"


async def proposed(chat: Chat, stores, text: str, who: str = "alice"):
    """Say a /propose that must succeed; returns the stored proposal and its announced card."""
    announced = len(chat.announced)
    reply = await chat.say(who, text)
    assert reply == "", f"{text[:80]!r} was answered {reply!r}"
    assert len(chat.announced) == announced + 1, f"{text[:80]!r} announced no card"
    stored = (await stores.proposals.list(await coop_id(stores, chat)))[-1]
    return stored, chat.announced[-1]


def no_controls(text: str) -> bool:
    """No control character but newline, no lone surrogate, no bidi override left in `text`."""
    return not any(ch != "\n" and unicodedata.category(ch) in ("Cc", "Cs") or ch in BIDI for ch in text)


# --- the parser, directly ------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["", " ", "\n\n\n", " \t\r\n ", "\u00a0\u3000", "\x00\x00", "\u202e\u2066\u2069", "\u200f\x1b\x7f\x85"],
)
def test_parse_command_ignores_blank_messages(text):
    """An empty or whitespace-only (or control-only) message is not a command."""
    assert parse_command(text) is None


@pytest.mark.parametrize(
    "text",
    ["hello", "/etc/passwd is a file", "/10 things I hate", "see /help", "//vote 1 For", "/ vote 1", "/",
     "/v\u00f6te 1", "/" + "a" * 40],
)
def test_parse_command_leaves_ordinary_chat_alone(text):
    """Chat that merely contains a slash (paths, numbers, quotes) is not read as a command."""
    assert parse_command(text) is None


@pytest.mark.parametrize(
    "text, verb, args, to",
    [
        ("/Vote 1 For", "vote", "1 For", None),
        ("/VOTE 1 for", "vote", "1 for", None),
        ("!propose Title", "propose", "Title", None),
        ("/vote@OtherBot 1 For", "vote", "1 For", "OtherBot"),
        ("/help@coopbot", "help", "", "coopbot"),
        ("  /show  #3  ", "show", "#3", None),
        ("/vote\x00 1\u202e For", "vote", "1 For", None),
    ],
)
def test_parse_command_reads_verb_args_and_addressee(text, verb, args, to):
    """The verb is read case-insensitively, with its arguments and the bot it is addressed to."""
    cmd = parse_command(text)
    assert (cmd.verb, cmd.args, cmd.addressed_to) == (verb, args, to)


def test_parse_command_splits_lines_after_the_first():
    """Lines after the first are kept for settings and body, whatever line endings a phone sends."""
    cmd = parse_command("/propose Title\r\ncloses: 48h\rkind: strategic\nbody")
    assert cmd.lines == ("closes: 48h", "kind: strategic", "body")


def test_clean_removes_controls_and_bidi_overrides_but_keeps_letters():
    """C0/C1 controls, DEL, lone surrogates and bidi overrides go; RTL letters, emoji and newlines stay."""
    hostile = "a\x00b\x07c\x08d\x1b[31me\x7ff\x85g\x9bh\ud800i\u202ej\u2066k\u2069\u200fl\nשלום عربي 👨\u200d👩\u200d👧"
    cleaned = clean(hostile)
    assert no_controls(cleaned)
    assert cleaned == "abcdefghijkl\nשלום عربي 👨\u200d👩\u200d👧"
    assert one_line("  a \n\t b\u00a0 c  ") == "a b c"


@pytest.mark.parametrize(
    "text, number",
    [("3", 3), ("#3", 3), (" #12 ", 12), ("#0", 0), ("999999999", 999999999),
     ("#abc", None), ("-1", None), ("+1", None), ("1.5", None), ("99999999999999", None), ("#", None),
     ("", None), ("##3", None), ("\u0663", None), ("\uff11", None), ("\u00b2", None), ("3 4", None), ("0x1f", None)],
)
def test_parse_number(text, number):
    """Only plain ASCII digits (optionally after #), at most nine of them, make a proposal number."""
    assert parse_number(text) == number


@pytest.mark.parametrize(
    "text, seconds",
    [("30s", 30), ("10m", 600), ("48h", 172800), ("7d", 604800), ("1w", 604800), ("2d12h", 216000),
     ("2D 12H", 216000), ("48", None), ("-5h", None), ("h", None), ("5 hours", None), ("1.5h", None),
     ("5y", None), ("", None), ("1234567s", None), ("48h;", None)],
)
def test_parse_duration(text, seconds):
    """Durations are digits and s/m/h/d/w units; anything else is not a duration."""
    result = parse_duration(text)
    assert (None if result is None else result.total_seconds()) == seconds


@pytest.mark.parametrize(
    "text", ["tomorrow", "2026-02-30 10:00", "2026-13-01", "26-12-01 18:00", "2026-12-01 25:00", "now", "'; --"]
)
def test_parse_closing_refuses_what_is_not_a_time(text):
    """A closing time that is neither a duration nor a real calendar time is not read."""
    assert parse_closing(text, NOW, UTC) is None


def test_parse_closing_reads_wall_clock_times_in_the_coop_timezone():
    """`2026-12-01 18:00` means 18:00 where the co-op lives."""
    berlin = ZoneInfo("Europe/Berlin")
    assert parse_closing("2026-12-01 18:00", NOW, berlin) == datetime(2026, 12, 1, 17, 0, tzinfo=timezone.utc)
    assert parse_closing("48h", NOW, berlin) == NOW + timedelta(hours=48)


def test_split_extras_unknown_key_is_body_misspelt_key_is_refused():
    """`colour: red` is free text; `clsoes: 48h` is refused with a suggestion and the usage."""
    extras = split_extras(("closes: 48h", "colour: red", "Why: because"), PROPOSE_KEYS, body=True, usage="Usage: x")
    assert extras.settings == {"closes": "48h"}
    assert extras.body == "colour: red\nWhy: because"
    with pytest.raises(BadArguments) as err:
        split_extras(("clsoes: 48h",), PROPOSE_KEYS, body=True, usage="Usage: x")
    assert "clsoes" in err.value.problem and "did you mean 'closes'" in err.value.problem
    assert err.value.usage == "Usage: x"


@pytest.mark.parametrize(
    "lines, body, problem",
    [
        (("closes: 48h", "Closes: 24h"), True, "given twice"),
        (("KIND: strategic", "kind : ordinary"), True, "given twice"),
        (("anything",), False, "no extra lines"),
        (("closes: 48h",), False, "no extra lines"),
    ],
)
def test_split_extras_refusals(lines, body, problem):
    """Repeated settings, and extra lines on a verb that takes none, are refused with the usage."""
    keys = PROPOSE_KEYS if body else frozenset()
    with pytest.raises(BadArguments) as err:
        split_extras(lines, keys, body=body, usage="Usage: x")
    assert problem in err.value.problem and err.value.usage == "Usage: x"


# --- through the router, on SQLite and PostgreSQL ------------------------------------------


async def test_empty_whitespace_and_ordinary_messages_are_ignored(chat, stores):
    """Blank messages, and chat that is no command (long, or with slashes), get no reply and store nothing."""
    for room_state in ("no co-op", "co-op"):
        if room_state == "co-op":
            await make_coop(chat, members=1)
        for text in ["", " ", "\n\n", " \t\r\n ", "\u00a0\u3000", "\x00", "\u202e\u2066", "\u200f\x7f"]:
            await ignored(chat, stores, text)
    for text in ["hello all", "/etc/passwd is a file", "/10 reasons", "x" * 10_000, "see https://x/y/z", "//vote 1"]:
        await ignored(chat, stores, text)


async def test_too_long_message_is_refused_with_the_limit(chat, stores):
    """A 10,000-character command is refused, the reply says so with the limit, nothing is stored."""
    await make_coop(chat, members=1)
    for text in ["/propose Title\n" + "body " * 2000, "/vote 1 " + "For" * 3400, "/propose T" + "\x00" * 9990]:
        reply = await refused(chat, stores, text, "too long", f"{MAX_MESSAGE:,}", f"{len(text):,}", usage=False)
        assert len(reply) < 200


async def test_ten_thousand_character_title_is_refused(chat, stores):
    """A title of 10,000 characters on one line is refused as too long; nothing is stored."""
    await make_coop(chat, members=1)
    await refused(chat, stores, "/propose " + "x" * 10_000, "too long", f"{MAX_MESSAGE:,}", usage=False)
    # Under the message limit but over the title limit: the title's own limit, and the usage.
    await refused(chat, stores, "/propose " + "y" * 7_000, "title is too long", "7000", "200")
    await refused(chat, stores, "/propose " + "z" * 201, "title is too long", "201", "200")
    stored, _ = await proposed(chat, stores, "/propose " + "w" * 200)
    assert stored.title == "w" * 200


async def test_control_characters_are_removed_from_titles_and_bodies(chat, stores):
    """NUL, escape sequences, DEL, C1 controls and lone surrogates never reach storage."""
    await make_coop(chat, members=1)
    stored, card = await proposed(
        chat, stores,
        "/propose \x1b[31mRed\x1b[0m alert\x00 for\x7f the\x85 bakery\x9b\x07\ud800\n"
        "line\x00 one\x1b]0;pwned\x07\nline\x08 two\x90",
    )
    for text in (stored.title, stored.body, card):
        assert no_controls(text), repr(text)
    assert "Red" in stored.title and stored.title.endswith("alert for the bakery")
    assert stored.body.splitlines()[0] == "line one"
    assert stored.body.splitlines()[1] == "line two"


async def test_control_and_bidi_characters_are_removed_from_names(gov, chat, stores):
    """A co-op name or a member's display name carrying controls or bidi overrides is stored clean."""
    assert "set up" in await chat.say("alice", "/setup Red\x00 \u202eBak\x7fery\x1b\x9b")
    coop = await stores.coops.get_by_room("console", "general")
    assert coop.name == "Red Bakery"
    hostile = [
        ("eve", "E\x00v\u202ee\x1b", "Eve"), ("zed", "\x00\u202e\x7f", "zed"), ("ann", "\u2067An\x85n\u2069", "Ann"),
    ]
    for user_id, name, _ in hostile:
        replies = await gov.handle_command(CommandReceived(chat.chat, UserRef("console", user_id, name), "/join"))
        assert "asks to join" in replies[0].text and no_controls(replies[0].text)
    names = {m.display_name for m in await stores.members.register(coop.id)}
    assert {expected for _, _, expected in hostile} <= names
    assert all(no_controls(n) for n in names)


RTL_TITLES = [
    "הצעה להגדלת קרן השביתה",
    "اقتراح لزيادة صندوق الإضراب",
    "Fund קרן 2026: 30% לתנועה",
    "ميزانية 2027 (مراجعة) — Budget",
    "👨\u200d👩\u200d👧 family leave",
]


async def test_right_to_left_titles_are_kept_intact_and_bidi_overrides_stripped(chat, stores):
    """Hebrew and Arabic titles (and ZWJ emoji) are kept as typed; bidi overrides (U+202E...) are removed."""
    await make_coop(chat, members=1)
    for title in RTL_TITLES:
        stored, card = await proposed(chat, stores, f"/propose {title}\nנימוק: כי כך / لأن")
        assert stored.title == title
        assert f"#{stored.number}: {title}" in card
        assert stored.body == "נימוק: כי כך / لأن"
        assert title in await chat.say("alice", f"/show {stored.number}")
    # Bidi overrides and isolates (U+202E etc.) cannot make a title display as something else.
    for ch in BIDI:
        stored, card = await proposed(chat, stores, f"/propose invoice{ch}fdp.exe שלום{ch}")
        assert stored.title == "invoicefdp.exe שלום", (hex(ord(ch)), stored.title)
        assert ch not in card


MARKUP = [
    "<b>bold</b> <i>it</i> <script>alert(1)</script>",
    "**Bold** _it_ `code` ~~strike~~ [link](http://x)",
    '<a href="http://x">click</a> &amp; &lt;b&gt; <tg-spoiler>s</tg-spoiler>',
    "||spoiler|| > quote # heading",
]


async def test_markup_is_stored_literally(chat, stores):
    """HTML, Markdown and Telegram markup in titles and bodies are stored and echoed as typed."""
    await make_coop(chat, members=1)
    for markup in MARKUP:
        stored, card = await proposed(chat, stores, f"/propose {markup}\n{markup}\n[link](http://x)")
        assert stored.title == markup
        assert stored.body == f"{markup}\n[link](http://x)"
        assert markup in card
    stored, card = await proposed(chat, stores, "/propose Style\noptions: <b>A</b> | *B* | [C](http://x)")
    assert stored.options == ["<b>A</b>", "*B*", "[C](http://x)"]
    assert "Recorded: [C](http://x)" in await chat.say("m1", f"/vote {stored.number} [C](http://x)")


SQL = [
    "'; DROP TABLE proposal; --",
    '" OR 1=1 --',
    "Robert'); DROP TABLE member;--",
    "back\\slash \\' \\\\ \\n \\x00 \\",
    "100% _sure_ %s %(title)s %% __",
    "{coop} {prefix} {0} {title!r}",
]


async def test_sql_metacharacters_are_stored_literally_and_tables_survive(gov, chat, stores):
    """Quotes, comments, backslashes, % and _ are kept as typed, echoed as typed, and break nothing."""
    await make_coop(chat, members=1)
    tables = await table_names(stores)
    for text in SQL:
        stored, card = await proposed(chat, stores, f"/propose {text}\n{text}\noptions: {text[:40]} | B")
        assert (stored.title, stored.body, stored.options[0]) == (text, text, one_line(text[:40]))
        assert f"#{stored.number}: {text}" in card
        assert "Recorded" in await chat.say("m1", f"/vote {stored.number} {text[:40]}")
        # Echoed literally in a refusal too.
        assert f"'{text[:40]}'" in await refused(chat, stores, f"/propose T\nkind: {text[:40]}", "A kind is")
    # A member whose display name is an injection attempt, admitted by that name.
    name = "Robert'); DROP TABLE member;--"
    await gov.handle_command(CommandReceived(chat.chat, UserRef("console", "bobby", name), "/join"))
    assert "admitted" in await chat.say("alice", f"/admit {name}")
    assert name in await chat.say("alice", "/members")
    assert await table_names(stores) == tables
    cid = await coop_id(stores, chat)
    assert len(await stores.proposals.list(cid)) == len(SQL)
    assert len(await stores.members.register(cid)) == 3
    for p in await stores.proposals.list(cid):
        assert len(await stores.votes.ballots(p.id)) == 1


async def test_percent_and_underscore_are_not_wildcards(gov, chat, stores):
    """Naming a member or an option with % or _ matches nothing unless it is literally that name."""
    await make_coop(chat, members=1)
    await gov.handle_command(CommandReceived(chat.chat, UserRef("console", "mx1", "m_x"), "/join"))
    await refused(chat, stores, "/admit m%", "No one called 'm%'", usage=False)
    await refused(chat, stores, "/admit %", "No one called '%'", usage=False)
    await refused(chat, stores, "/remove m_", "m_ is not on the register", usage=False)
    await refused(chat, stores, "/remove %", "% is not on the register", usage=False)
    stored, _ = await proposed(chat, stores, "/propose Cut\noptions: 100% | 50_50")
    await refused(chat, stores, f"/vote {stored.number} %", "has no option '%'")
    await refused(chat, stores, f"/vote {stored.number} 50%", "has no option '50%'")
    assert "Recorded: 50_50" in await chat.say("alice", f"/vote {stored.number} 50_50")


MISSPELT = [("clsoes: 48h", "closes"), ("close: 48h", "closes"), ("knid: strategic", "kind"),
            ("balot: secret", "ballot"), ("option: A | B", "options"), ("Ballots: secret", "ballot")]


async def test_unknown_key_goes_into_the_body_misspelt_key_is_refused(chat, stores):
    """`colour: red` is kept in the proposal's text; `clsoes: 48h` is refused with "did you mean" and the usage."""
    await make_coop(chat, members=1)
    stored, card = await proposed(chat, stores, "/propose Paint the shop\ncolour: red\ncloses: 48h\nWhy: it is grey")
    assert stored.body == "colour: red\nWhy: it is grey"
    assert stored.closes_at == NOW + timedelta(hours=48)
    assert "colour: red" in card
    for line, guess in MISSPELT:
        await refused(chat, stores, f"/propose Title\n{line}\nsome text", "Unknown setting", f"did you mean '{guess}'")


async def test_extra_lines_on_verbs_that_take_none_are_refused(chat, stores):
    """A verb that takes no extra lines refuses them (with its usage) instead of ignoring them."""
    await make_coop(chat, members=1)
    stored, _ = await proposed(chat, stores, "/propose Budget")
    n = stored.number
    for text in ["/members\nfoo", f"/vote {n} For\nAgainst", "/join\nplease", f"/show {n}\nmore", "/proposals\nx",
                 "/whoami\nx", "/charter\nx", "/help\nx", f"/unvote {n}\nx", f"/close {n}\nreason: late",
                 f"/withdraw {n}\nsorry", "/admit m1\nhello", "/remove m1\nnow", "/setup Again\nx"]:
        verb = text[1:].split()[0]
        await refused(chat, stores, text, "takes no extra lines", f"Usage: /{verb}")


async def test_repeated_keys_are_refused(chat, stores):
    """A setting given twice is refused, naming it, rather than one of the two silently winning."""
    await make_coop(chat, members=1)
    for text, key in [
        ("/propose T\ncloses: 48h\ncloses: 24h", "closes"),
        ("/propose T\nKind: strategic\nkind: ordinary", "kind"),
        ("/propose T\nballot: secret\nBALLOT : open", "ballot"),
        ("/propose T\noptions: A | B\noptions: C | D", "options"),
        ("/admit m1\nrole: steward\nrole: member", "role"),
    ]:
        await refused(chat, stores, text, f"'{key}' is given twice")


BAD_SETTINGS = [
    ("closes: tomorrow", "can't read the closing time 'tomorrow'"),
    ("closes: 48", "can't read the closing time '48'"),
    ("closes: -5h", "can't read the closing time '-5h'"),
    ("closes: 1.5h", "can't read the closing time"),
    ("closes:", "can't read the closing time ''"),
    ("closes: 2026-02-30 10:00", "can't read the closing time"),
    ("closes: 5s", "at least 30s"),
    ("closes: 29s", "at least 30s"),
    ("closes: 400d", "at most 365d"),
    ("closes: 53w", "at most 365d"),
    ("closes: 9999-12-31 23:59", "at most 365d"),
    ("closes: 0s", "already passed"),
    ("closes: 2026-11-25 11:59", "already passed"),
    ("closes: 2020-01-01", "already passed"),
    ("kind: urgent", "not 'urgent'"),
    ("kind:", "not ''"),
    ("kind: ordinary; DROP TABLE coop", "A kind is ordinary, strategic or constitutional"),
    ("ballot: anonymous", "not 'anonymous'"),
    ("ballot: secret!", "not 'secret!'"),
    ("options: A", "between 2 and 10 options"),
    ("options: A |", "between 2 and 10 options"),
    ("options: | |", "between 2 and 10 options"),
    ("options:", "between 2 and 10 options"),
    ("options: " + " | ".join("ABCDEFGHIJK"), "between 2 and 10 options"),
    ("options: Yes | yes", "'yes' is given twice"),
    ("options: A | B | A", "'A' is given twice"),
    ("options: A | " + "x" * 61, "at most 60 characters"),
]


async def test_bad_proposal_settings_are_refused(chat, stores):
    """Bad durations, times, kinds, ballots and options are refused with the reason and the usage."""
    await make_coop(chat, members=1)
    for line, problem in BAD_SETTINGS:
        await refused(chat, stores, f"/propose Title\n{line}", problem, "Usage: /propose")
    # The limits themselves are accepted.
    for line in ["closes: 30s", "closes: 365d", "options: " + " | ".join("ABCDEFGHIJ"), "options: A | " + "x" * 60]:
        await proposed(chat, stores, f"/propose Title\n{line}")


async def test_closing_duration_beyond_the_calendar_is_refused(chat, stores):
    """`closes: 999999w` is refused as too late, with the usage, not answered with an internal error."""
    await make_coop(chat, members=1)
    for line in ["closes: 999999w", "closes: " + "999999w" * 300]:
        reply = await refused(chat, stores, f"/propose Title\n{line}", "Usage: /propose")
        assert "365d" in reply or "can't read" in reply


async def test_bad_proposal_numbers_are_refused(chat, stores):
    """`#abc`, `-1`, a 14-digit number are refused with the usage; `#0` is answered 'no proposal #0'."""
    await make_coop(chat, members=1)
    await proposed(chat, stores, "/propose Budget")
    cases = [("#abc", "'#abc'"), ("-1", "'-1'"), ("99999999999999", "'99999999999999'"), ("#", "'#'"),
             ("1.5", "'1.5'"), ("\u0663", "'\u0663'"), ("\uff11", "'\uff11'"), ("one", "'one'"), ("1;", "'1;'")]
    for number, echoed in cases:
        for verb, tail in [("show", ""), ("vote", " For"), ("unvote", ""), ("close", " late"), ("withdraw", "")]:
            text = f"/{verb} {number}{tail}"
            await refused(chat, stores, text, f"{echoed} is not a proposal number", f"Usage: /{verb}")
    for verb in ["show", "vote", "unvote", "close", "withdraw"]:
        await refused(chat, stores, f"/{verb}", "Missing the proposal number", f"Usage: /{verb}")
    # `#0`, or a number never used, is a number: the answer is that there is no such proposal.
    for text, number in [("/show #0", 0), ("/vote 0 For", 0), ("/show 999999999", 999999999), ("/unvote #2", 2),
                         ("/close 7 because", 7)]:
        await refused(chat, stores, text, f"There is no proposal #{number}", usage=False)


async def test_bad_vote_options_are_refused(chat, stores):
    """A missing, unknown, out-of-range or injected option is refused, listing the options."""
    await make_coop(chat, members=1)
    stored, _ = await proposed(chat, stores, "/propose Budget")
    n = stored.number
    await refused(chat, stores, f"/vote {n}", "Missing the option", "Usage: /vote")
    for option in ["Maybe", "0", "4", "-1", "1.5", "\uff12", "99999999999999999999", "' OR 1=1 --", "%", "F%",
                   "For; DROP TABLE ballot", "<b>For</b>"]:
        await refused(chat, stores, f"/vote {n} {option}", f"#{n} has no option '{option}'",
                      "1. For, 2. Against, 3. Abstain", "Usage: /vote")
    await refused(chat, stores, f"/unvote {n} For", "takes nothing after it", "Usage: /unvote")
    assert await stores.votes.ballots(stored.id) == []
    # The same options, typed sloppily but meaning one thing, are accepted.
    assert "Recorded: For on" in await chat.say("alice", f"/vote #{n}   for  ")
    assert "Changed: Against" in await chat.say("alice", f"/vote {n} 2")


async def test_vote_accepts_any_space_between_number_and_option(chat, stores):
    """A phone that types a no-break or ideographic space between number and option still votes."""
    await make_coop(chat, members=1)
    stored, _ = await proposed(chat, stores, "/propose Budget")
    assert "Recorded: For" in await chat.say("alice", f"/vote {stored.number}\u00a0For")
    assert "Changed: Against" in await chat.say("alice", f"/vote {stored.number}\u3000Against")


async def test_commands_for_another_bot_are_ignored_for_this_bot_accepted(chat, stores):
    """`/verb@OtherBot` gets no reply and stores nothing, even when malformed; `/verb@coopbot` works."""
    await make_coop(chat, members=1)
    stored, _ = await proposed(chat, stores, "/propose Budget")
    for text in ["/propose@OtherBot Title", f"/vote@OtherBot {stored.number} For", "/frobnicate@OtherBot",
                 "/help@coopbot_fan", "/vote@OtherBot #abc", "/propose@OtherBot T\nclsoes: 1h",
                 "/propose@OtherBot " + "x" * 10_000, "/setup@other.bot Coop"]:
        await ignored(chat, stores, text)
    # `/verb@coopbot`, in any letter case, works like `/verb`.
    stored, _ = await proposed(chat, stores, "/propose@coopbot Budget")
    assert stored.title == "Budget"
    assert "Recorded: For" in await chat.say("m1", f"/vote@CoopBot {stored.number} For")
    assert "Usage: /vote" in await chat.say("m1", "/help@COOPBOT vote")
    await refused(chat, stores, "/vote@coopbot #abc For", "'#abc' is not a proposal number", "Usage: /vote")


async def test_capitalised_verbs_are_accepted(chat, stores):
    """Phones capitalise the first letter: `/Vote`, `/Propose`, even `/VOTE` work."""
    await make_coop(chat, members=1)
    stored, _ = await proposed(chat, stores, "/Propose Budget")
    n = stored.number
    assert "Recorded: For" in await chat.say("alice", f"/Vote {n} For")
    assert "Changed: Against" in await chat.say("alice", f"/VOTE {n} against")
    assert "Budget" in await chat.say("alice", f"/Show {n}")
    assert "Budget" in await chat.say("alice", "/PROPOSALS")
    assert "withdrawn" in await chat.say("alice", f"/UnVote {n}")


async def test_unknown_verbs_get_a_hint_to_help(gov, chat, stores):
    """An unknown verb (or a typo) is answered with its name and a pointer to help; nothing stored."""
    await make_coop(chat, members=1)
    for text, verb in [("/frobnicate", "frobnicate"), ("/vot 1 For", "vot"), ("/Proposal Title", "proposal"),
                       ("/DROP TABLE proposal", "drop"), ("/frob@coopbot", "frob")]:
        await refused(chat, stores, text, f"I don't know the command '{verb}'", "Say /help", usage=False)
    await refused(chat, stores, "/help frobnicate", "I don't know the command 'frobnicate'", "Usage: /help")
    matrix = Chat(gov, platform="matrix", chat_id="!room:example.org")
    for text in ["!frobnicate", "/frobnicate"]:
        await refused(matrix, stores, text, "I don't know the command 'frobnicate'", "Say !help", usage=False)


def test_matrix_mention_pills_become_matrix_ids():
    """A mention pill from Element names the person by Matrix id, not by a display name."""
    from bot.matrix.convert import with_mentions

    formatted = '!admit <a href="https://matrix.to/#/%40sam%3Aexample.org">Sam Q</a> now'
    assert with_mentions("!admit Sam Q now", formatted) == "!admit @sam:example.org now"
    assert with_mentions("!admit Sam", None) == "!admit Sam"


def pill(user_id: str, shown: str) -> str:
    return f'<a href="https://matrix.to/#/{user_id}">{shown}</a>'


def test_a_mention_pill_becomes_its_matrix_id_where_it_stands():
    """A pill is replaced where it stands in the formatted body, never by looking for its shown text
    in the plain body (a pill shown as "ad" leaves the "ad" of "!admit" alone). The rest reads as
    Element shows it: entities unescaped, <br> and paragraphs as line breaks, other tags dropped, a
    reply's quoted fallback left out. Without a pill, the plain body is the text."""
    from bot.matrix.convert import command_text, with_mentions

    assert with_mentions("!admit ad", "!admit " + pill("@ad:example.org", "ad")) == "!admit @ad:example.org"
    formatted = ("!propose Tom &amp; Jerry<br />\ncloses: 48h<br>Ask "
                 + pill("%40sam%3Aexample.org?via=example.org", "<b>Sam</b>") + ' or <a href="https://example.org">the site</a>.')
    assert with_mentions("!propose Tom & Jerry\ncloses: 48h\nAsk Sam or the site.", formatted) == (
        "!propose Tom & Jerry\ncloses: 48h\nAsk @sam:example.org or the site.")
    paragraphs = "<p>!propose Van for " + pill("@sam:example.org", "Sam") + "</p>\n<p>We   need\ndeliveries.</p>"
    assert with_mentions("!propose Van for Sam\n\nWe need\ndeliveries.", paragraphs) == (
        "!propose Van for @sam:example.org\n\nWe need deliveries.")
    quote = '<mx-reply><blockquote><a href="https://matrix.to/#/!r:example.org/$e">In reply to</a> '
    quote += pill("@alice:example.org", "@alice:example.org") + "<br>Who?</blockquote></mx-reply>"
    fallback = "> <@alice:example.org> Who?\n\n"
    assert command_text(with_mentions(fallback + "!admit Bob", quote + "!admit " + pill("@bob:example.org", "Bob"))) == (
        "!admit @bob:example.org")
    # The only pill is in the quoted reply: the plain body, without its fallback, is the command.
    assert command_text(with_mentions(fallback + "!vote 1 for", quote + "<b>!vote</b> 1 for")) == "!vote 1 for"
    assert with_mentions("!vote 1 for", "<strong>!vote</strong> 1 for") == "!vote 1 for"


def test_a_formatted_body_over_the_cap_is_not_read_for_pills():
    """Issue 13 item 11: 60 KB of unclosed mention links is not parsed at all (the regex it replaced
    took the first unclosed link for the pill that closed at the end): the plain body stands."""
    from bot.matrix.convert import with_mentions

    unclosed = '<a href="https://matrix.to/#/@x">'
    formatted = "!admit " + unclosed * (60_000 // len(unclosed)) + "Sam</a>"
    assert with_mentions("!admit Sam", formatted) == "!admit Sam"


@pytest.mark.parametrize("unit", [
    '<a href="https://matrix.to/#/@x">', "<a href='https://matrix.to/#/@x'>x", "<a ", "<", "</", "<!--", "<![", "<?",
    "&#", "<script>", "<mx-reply>",
])
def test_malformed_html_up_to_the_cap_is_read_in_linear_time(unit):
    """A formatted body just under the cap, made of one malformed construct repeated, is read in
    milliseconds (Python 3.11's HTMLParser.close() rescans each unfinished tag to the end: 9 s for
    32 KB of "<a "; its "<![" raises), and the text stays the plain body's or the pills'."""
    from bot.matrix.convert import MAX_FORMATTED, with_mentions

    formatted = "!admit " + unit * ((MAX_FORMATTED - 7) // len(unit))
    start = time.process_time()
    text = with_mentions("!admit Sam", formatted)
    assert time.process_time() - start < 0.2
    assert text.startswith("!admit")


def test_a_long_key_value_line_is_read_in_linear_time():
    """Issue 13 item 11: `key: value` lines were read with a lazy regex that took quadratic time in
    a run of spaces (0.45 s for 8,000 characters); two 20,000-character lines now take milliseconds."""
    value = "a" + " " * 20_000 + "b"
    start = time.process_time()
    extras = split_extras((f"closes: {value}", "Why: " + value), PROPOSE_KEYS, body=True, usage=None)
    assert time.process_time() - start < 0.2
    assert extras.settings == {"closes": value} and extras.body == "Why: " + value


async def test_a_line_of_8000_characters_is_answered_at_once(chat, stores):
    """Issue 13 item 11, through the router: a non-member's /whoami and a member's /propose, each
    followed by one `key: value` line that fills the message, are answered promptly and clearly."""
    await make_coop(chat, members=1)
    for who, command, fragment in [("mallory", "/whoami", "Unknown setting 'closes'; this command takes: language."),
                                   ("alice", "/propose Van", "I can't read the closing time 'a b'")]:
        line = "\ncloses: a" + " " * (MAX_MESSAGE - len(command) - 11) + "b"
        assert len(command + line) == MAX_MESSAGE
        start = time.process_time()
        reply = await chat.say(who, command + line)
        spent = time.process_time() - start
        assert fragment in reply and "Usage:" in reply, reply
        # The lazy regex took 0.2-0.45 s of CPU on this line; reading it now takes some 10 ms.
        assert spent < 0.1, f"{command} took {spent:.2f} s of CPU"
