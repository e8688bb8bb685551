"""The drift timeline through the core as a chat, on SQLite and PostgreSQL, with the test clock:
`drift` recorded, announced and refused; `timeline` lists the drift entries with the automatic
ones made through their real paths (a refused pay change, a drill's record, a mirror shift), as
text and as a PNG; the audit pack's part; Pillow kept off the start-up path."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path

from PIL import Image
from sqlalchemy import select

from handlers import draws, texts
from handlers.pack import audit_pack
from handlers.picture import Mark, timeline_png
from storage.models import Drift, Minute
from tests.conftest import Chat, make_coop
from tests.test_audits import tick
from tests.test_rituals import shift_due, until
from tests.test_schedules import set_charter

ROOT = Path(__file__).resolve().parent.parent


def png_of(chat: Chat):
    """The picture of the last answer, decoded."""
    [reply] = chat.replies
    assert reply.attachment is not None and reply.attachment.name == "timeline.png"
    assert reply.attachment.mime == "image/png"
    image = Image.open(io.BytesIO(reply.attachment.data))
    image.load()
    return image


async def drifts(stores) -> list[Drift]:
    async with stores.db.read() as s:
        return list((await s.execute(select(Drift).order_by(Drift.number))).scalars())


async def test_a_drift_is_recorded_numbered_announced_and_a_leaf_of_the_minutes(chat, clock):
    await make_coop(chat, 2)
    await chat.say("alice", "/propose Buy a van")
    clock.advance(days=10)
    assert await chat.say("m1", "/drift We stopped rotating the till shifts\n  when: 2026-11-30 09:30\n  about: #1") == ""
    assert chat.last.startswith("Drift 1 on the timeline of Red Bakery, recorded by m1: We stopped rotating the "
                                "till shifts (Mon 30 Nov 2026 09:30") and chat.last.endswith("; about #1).")
    await chat.say("m2", "/drift Meetings moved to a time parents cannot make")
    assert chat.last.startswith("Drift 2 on the timeline of Red Bakery, recorded by m2:")
    stores = chat.gov.stores
    rows = await drifts(stores)
    assert [(d.number, d.proposal_id is not None, d.happened_at < d.recorded_at) for d in rows] == [
        (1, True, True), (2, False, False)]
    async with stores.db.read() as s:
        leaves = [json.loads(r) for r in (await s.execute(select(Minute.record).where(Minute.kind == "drift"))).scalars()]
    assert [leaf["data"]["number"] for leaf in leaves] == [1, 2] and leaves[0]["data"]["about"] == 1
    assert await stores.minutes.check(stores.proposals.recount, draws.replay_problem) == []
    # In a direct chat, which gets no announcement, the answer says it.
    direct = Chat(chat.gov, chat_id="m1-direct", direct=True)
    assert "Drift 3 on the timeline of Red Bakery" in await direct.say("m1", "/drift Bonus paid to stewards only")


async def test_bad_drifts_are_refused_with_the_usage_and_nothing_is_stored(chat, clock):
    await make_coop(chat, 1)
    for line, words in [
        ("/drift", "Write what drifted: /drift <text>."),
        ("/drift " + "x" * 1001, "at most 1000 characters (1001 given)"),
        ("/drift Late\n  when: yesterday-ish", "'yesterday-ish' is not a date"),
        ("/drift Late\n  when: 2030-01-01", "is still to come"),
        ("/drift Late\n  when: 2d", "is still to come"),
        ("/drift Late\n  about: van", "'van' is not a proposal"),
        ("/drift Late\n  about: #7", "Red Bakery has no proposal #7."),
        ("/drift Late\n  colour: red", "colour"),
    ]:
        answer = await chat.say("m1", line)
        assert words in answer and "Usage: /drift <text>" in answer, (line, answer)
    assert "Only members of Red Bakery" in await chat.say("stranger", "/drift Sneaky")
    assert await drifts(chat.gov.stores) == []
    assert not [t for t in chat.announced if t.startswith("Drift ")]


async def test_the_timeline_has_drift_and_automatic_entries_as_text_and_picture(chat, clock):
    names = await make_coop(chat, 3)
    stores = chat.gov.stores
    assert "The drift timeline of Red Bakery is empty" in await chat.say("m1", "/timeline")
    assert chat.replies[0].attachment is None
    await chat.say("m1", "/drift Founders took the good shifts\n  when: 2026-11-25 12:00")
    assert "before Red Bakery was founded" in await chat.say("m1", "/drift Before we began\n  when: 2026-11-01")
    clock.advance(days=1)
    # A refused pay change (the cap 1 : 3).
    await chat.say("alice", "/pay alice 30")
    await chat.say("alice", "/pay m1 10")
    await chat.say("alice", "/pay m2 7.14")
    assert "was refused" in chat.last
    # An adversary drill with no temptation: its record, a month on.
    await set_charter(stores, 1, drill_every_months=1, drill_days=3)
    await until(chat, clock, 1, 1)
    await tick(chat)
    clock.advance(minutes=11)
    await tick(chat)
    clock.advance(days=3)
    assert any(t.startswith("Adversary drill 1 of Red Bakery is over") for t in await tick(chat))
    await set_charter(stores, 1, drill_every_months=12)
    # A mirror shift (three months from founding).
    await shift_due(chat, clock)
    await chat.say("m2", "/drift The shift was cut to an hour")
    answer = await chat.say("m3", "/timeline")
    lines = answer.splitlines()
    assert lines[0] == "The drift timeline of Red Bakery, oldest first:"
    entries = [line for line in lines if line.startswith("• ")]
    kinds = [line.split(" — ")[1] for line in entries]
    assert kinds == ["drift", "pay refused", "drill record", "mirror shift", "drift"], answer
    assert entries[0] == "• 2026-11-25 — drift — drift 1: Founders took the good shifts"
    assert "pay of m2 refused: 1 : 4.2 past the cap 1 : 3" in entries[1]
    assert "drill 1: 0 of 0 refused" in entries[2]
    assert lines[-1] == "5 entries."
    image = png_of(chat)
    assert image.format == "PNG" and image.width == 1400 and 150 <= image.height <= 1000
    # The kinds' colours are drawn: drift red, pay orange, drill green, mirror cyan.
    colours = {c for _, c in image.getcolors(maxcolors=100_000)}
    assert {(0xd6, 0x27, 0x28), (0xff, 0x7f, 0x0e), (0x2c, 0xa0, 0x2c), (0x17, 0xbe, 0xcf)} <= colours
    # The audit pack's part lists the period's entries.
    pack = await audit_pack(stores, await stores.coops.get(1), clock.now())
    part = next(x for x in pack.split("\n\n") if x.startswith(texts.PACK_TIMELINE))
    assert "drift 2: The shift was cut to an hour" in part and "mirror shift 1:" in part and "drift 1:" in part
    assert len(part.splitlines()) == 6  # the heading and all five entries (drift 1 at the founding)
    assert names


async def test_automatic_entries_of_the_log_are_labelled(chat, clock):
    """Verdicts, vetoes, sunset votes and assemblies read from their logged data (written here as
    their stores log them; their own tests make them through the real paths)."""
    from storage.common import log
    from storage.models import Proposal

    await make_coop(chat, 1)
    await chat.say("alice", "/propose Renew the mandate")
    stores, now = chat.gov.stores, clock.now()
    async with stores.db.write() as s:
        proposal = (await s.execute(select(Proposal))).scalar_one()
        proposal.purpose = "sunset"
        await log(s, 1, "audit_closed", now, number=1, verdict="reformist", verdicts=[])
        await log(s, 1, "veto", now, proposal_id=proposal.id, member_id=1, number=1, org="Tenants Union", reason="no")
        await log(s, 1, "proposal_closed", now, proposal_id=proposal.id, number=1, reason=None,
                  result={"passed": False})
        await log(s, 1, "revision_missed", now, number=1, due=now.isoformat())
        await log(s, 1, "stewards_kept", now, proposal_id=proposal.id, number=1)
        await log(s, 1, "stewards_lapsed", now, proposal_id=proposal.id, number=2, stewards=[])
        await log(s, 1, "proposal_closed", now, proposal_id=None, number=9, reason=None, result={})  # not a sunset
    answer = await chat.say("m1", "/timeline")
    assert [line.split(" — ", 1)[1] for line in answer.splitlines() if line.startswith("• ")] == [
        "audit verdict — A1: verdict reformist", "veto — #1 vetoed by Tenants Union",
        "sunset vote — #1: mandate not renewed", "emergency assembly — A1: revision missed, emergency assembly",
        "emergency assembly — A1: the assembly kept the stewards",
        "emergency assembly — A2: the assembly lapsed the stewards"]
    assert answer.endswith("6 entries.") and png_of(chat).format == "PNG"


async def test_a_long_timeline_lists_the_last_50_and_draws_them_all(chat, clock):
    await make_coop(chat, 1)
    for i in range(55):
        await chat.say("m1", f"/drift Drift number {i + 1} " + "z" * 200)
        clock.advance(days=3)
    answer = await chat.say("m1", "/timeline")
    entries = [line for line in answer.splitlines() if line.startswith("• ")]
    # The last 50, or as many as fit in one Telegram message; all 55 in the picture.
    assert 40 <= len(entries) <= 50 and entries[-1].startswith("• 2027-05-06 — drift — drift 55: Drift number 55 zzz")
    assert f"(… and {55 - len(entries)} earlier)" in answer
    assert answer.endswith("55 entries.") and len(answer) < 4096
    image = png_of(chat)
    assert image.width == 1400 and image.height < 1000


def test_the_picture_is_deterministic_and_survives_one_date():
    from datetime import datetime, timezone
    from zoneinfo import ZoneInfo

    at = datetime(2026, 1, 1, tzinfo=timezone.utc)
    one = timeline_png("T", [Mark(at, "drift", "only one")], {"drift": "drift"}, ZoneInfo("UTC"))
    assert one == timeline_png("T", [Mark(at, "drift", "only one")], {"drift": "drift"}, ZoneInfo("UTC"))
    assert Image.open(io.BytesIO(one)).size[0] == 1400
    many_years = [Mark(at.replace(year=2000 + i), "veto", f"v{i}") for i in range(30)]
    assert Image.open(io.BytesIO(timeline_png("T", many_years, {}, ZoneInfo("Europe/Paris")))).format == "PNG"


def test_starting_the_bot_does_not_load_pillow():
    """B6: the picture's library is loaded only once someone asks for a timeline, icalendar only
    once someone asks for the calendar (or a feed), and pyrankvote only once a ranked proposal is counted."""
    code = ("import sys; import bot.cli, bot.runner, bot.services, bot.console.adapter, bot.telegram.adapter, "
            "bot.matrix.adapter, bot.feed, handlers.router, handlers.timeline, handlers.picture, handlers.pack, "
            "handlers.ics, handlers.ranking; print(sorted(m for m in sys.modules "
            "if m.split('.')[0] in ('PIL', 'icalendar', 'pyrankvote', 'tabulate')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_the_console_prints_the_timeline_and_saves_its_picture_in_the_data_dir(tmp_path):
    """Through the real `coopbot console`: the text is printed, the PNG saved, its path said."""
    from tests.test_console import console

    done = console(tmp_path, "/setup Red Bakery\n/admit bob\nbob: /drift We skipped the mirror\n"
                             "/drift Pay talk moved to stewards only\n/timeline\n")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "coopbot: The drift timeline of Red Bakery, oldest first:" in out and "2 entries." in out
    assert "— drift — drift 1: We skipped the mirror" in out
    saved = re.search(r"\(the picture is saved in (.+?\.png)\)", out).group(1)
    path = Path(saved)
    assert path.parent == tmp_path / "data" and re.fullmatch(r"timeline-red-bakery-\d{8}T\d{6}Z\.png", path.name)
    assert Image.open(path).format == "PNG"
