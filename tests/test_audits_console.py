"""Liberation audits end to end through the real `coopbot console` process: affiliations by vote,
allies, the auditors' draw, verdicts, and what the co-op's verdict sets in motion. The process is
killed (SIGKILL) and restarted at each step; time passes while it is down by moving the stored
times back, never by sleeping. Each restart must repeat nothing and lose nothing."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import re
import signal
import subprocess
import time
from contextlib import redirect_stdout
from datetime import timedelta

from sqlalchemy import select, update

from storage.db import Database
from storage.models import Audit, Draw, Minute, Outbox, Proposal
from tests.test_console import COOPBOT, env_for
from tests.test_draws_verbs import _console, posted

SETUP = """\
/setup Red Bakery
/admit bob
/admit carol
/admit dave
  role: steward
/propose Affiliate with the Tenants Union
  affiliate: Tenants Union
bob: /vote 1 For
carol: /vote 1 For
dave: /vote 1 For
/vote 1 For
/close 1
/propose Affiliate with the Couriers Network
  affiliate: Couriers Network
bob: /vote 2 For
carol: /vote 2 For
dave: /vote 2 For
/vote 2 For
/close 2
/ally t1
  org: Tenants Union
t1: /ally t2
  org: Tenants Union
/ally c1
  org: Couriers Network
/audit start
"""

# Seconds to wait once what was expected is printed: before a kill, for its delivery to be marked
# sent; before a quiet restart ends, for the start's first run of the due work to print anything
# it would (it runs before the first command is answered; this is a margin).
SETTLE_KILL, SETTLE_QUIET = 0.5, 1.0


def run(tmp_path, typed: str, done, *, kill: bool = True) -> str:
    """One life of the console: `typed` sent, read until `done(output)`, a moment more, then killed
    (SIGKILL) or, with kill=False, its input closed; everything it printed."""
    proc, out = _console(tmp_path, typed, done)
    try:
        assert done(out), out
        time.sleep(SETTLE_KILL if kill else SETTLE_QUIET)
    finally:
        if kill:
            os.kill(proc.pid, signal.SIGKILL)
        else:
            proc.stdin.close()
        out += proc.stdout.read()
        proc.wait(timeout=30)
    assert "Traceback" not in out, out
    return out


def quiet(tmp_path, typed: str = "/whoami\n") -> str:
    """A restart at which nothing is due: what it printed (the answer to `typed` and anything else)."""
    return run(tmp_path, typed, lambda out: "\ncoopbot" in out, kill=False)


def while_down(tmp_path, change) -> None:
    """`change(session)` on the stopped console's database, in one transaction; the delivery leases
    the killed process held are over too (time has passed)."""

    async def go():
        db = Database(f"sqlite:///{tmp_path / 'data' / 'coopbot.db'}")
        try:
            async with db.write() as s:
                result = await change(s)
                await s.execute(update(Outbox).values(claimed_until=None, claimed_by=None))
            return result
        finally:
            await db.dispose()

    return asyncio.run(go())


def move_draw_back(number: int):
    async def change(s):
        d = (await s.execute(select(Draw).where(Draw.number == number))).scalar_one()
        assert d.status == "announced"
        d.draw_at -= timedelta(minutes=11)
    return change


def replay(out: str) -> list[str]:
    """The seats printed by the Python snippet `draw D<n>` showed in the console (its lines
    indented by two spaces there), run here."""
    snippet = out[out.index("import hashlib"):].split("\n  ```")[0]
    first, *rest = snippet.split("\n")
    code = "\n".join([first, *(line[2:] if line.startswith("  ") else line for line in rest)])
    printed = io.StringIO()
    with redirect_stdout(printed):
        exec(code, {})
    return sorted(line.split(". ", 1)[1] for line in printed.getvalue().splitlines())


def audit_seated(tmp_path) -> list[str]:
    """Setup, affiliations and allies, `audit start`; killed before the draw time, the draw time
    passes while it is down; the restart draws once and seats one ally per organisation, which
    `draw D1` replays; another restart repeats nothing. The seated auditors' names."""
    out = run(tmp_path, SETUP, lambda out: "Commitment" in out)
    assert out.count("coopbot: Result of #") == 2 and out.count(": passed.") == 2
    assert "c1 is now an ally of Red Bakery from Couriers Network" in out
    assert "Liberation audit A1 of Red Bakery is open" in out
    assert "Draw D1: 3 seats for auditors of liberation audit A1" in out
    assert "1. t1 (Tenants Union)" in out and "2. t2 (Tenants Union)" in out and "3. c1 (Couriers Network)" in out
    commitment = posted(r"sha256\(secret\) = ([0-9a-f]{64})", out)
    while_down(tmp_path, move_draw_back(1))

    out = run(tmp_path, "/draw D1\n", lambda out: "Replay it in Python" in out and "the auditors are" in out)
    assert out.count("Result of draw D1") == 1 and out.count("Liberation audit A1: the auditors are") == 1
    assert "1 seat left empty" in out
    secret = posted(r"The secret: ([0-9a-f]{64})", out)
    assert hashlib.sha256(bytes.fromhex(secret)).hexdigest() == commitment  # the one committed before the kill
    auditors = replay(out)
    # One per organisation: c1, and one of the Tenants Union.
    assert len(auditors) == 2 and "c1" in auditors and len({"t1", "t2"} & set(auditors)) == 1
    opened = out[out.index("Liberation audit A1: the auditors are"):]
    assert all(name in opened.split("\n")[0] for name in auditors), opened
    # Each auditor is written to directly with the pack.
    for name in auditors:
        assert f"coopbot (only to {name}): You are drawn as an auditor" in out

    again = quiet(tmp_path)
    assert "Result of draw D1" not in again and "the auditors are" not in again and "drawn as an auditor" not in again
    return auditors


def reformist(tmp_path, auditors: list[str]) -> None:
    """Both auditors say reformist, with findings: the audit closes once, the median is posted with
    the findings and a revision deadline, in the calendar; a restart closes nothing again."""
    typed = "".join(f"{name}: /verdict A1 reformist\n  Stewards opened most proposals, says {name}.\n"
                    for name in auditors) + "/calendar\n"
    out = run(tmp_path, typed, lambda out: "A1: its revision must pass by" in out)
    assert out.count("Liberation audit A1 of Red Bakery is closed") == 1
    closed = out[out.index("Liberation audit A1 of Red Bakery is closed"):]
    assert "The co-op's verdict: REFORMIST." in closed and "revises: A1" in closed
    for name in auditors:
        assert f"Stewards opened most proposals, says {name}." in closed
    again = quiet(tmp_path, "/calendar\n")
    assert "is closed" not in again and "REFORMIST" not in again
    assert "A1: its revision must pass by" in again


def test_an_audit_through_the_console_to_new_stewards_surviving_a_kill_at_every_step(tmp_path):
    auditors = audit_seated(tmp_path)
    reformist(tmp_path, auditors)

    # The revision deadline passes while the bot is down.
    async def past_the_deadline(s):
        a = (await s.execute(select(Audit))).scalar_one()
        assert a.stage == "revision" and a.verdict == "reformist"
        a.closed_at -= timedelta(days=31)
        a.revision_due_at -= timedelta(days=31)

    while_down(tmp_path, past_the_deadline)
    out = run(tmp_path, "/calendar\n", lambda out: "Keep the current stewards?" in out and "Emergency assembly" in out)
    assert out.count("A1's revision was not passed by") == 1 and "emergency assembly is convened" in out
    assert len(re.findall(r"Proposal #\d+: Keep the current stewards\?", out)) == 1
    card = out[out.index("Keep the current stewards?") - 40:]
    number = int(posted(r"Proposal #(\d+): Keep the current stewards\?", card))
    assert "EMERGENCY ASSEMBLY" in card and "Stewards now: you and dave" in card
    again = quiet(tmp_path, f"/close {number}\n")
    assert "revision was not passed" not in again and "Proposal #" not in again
    assert "cannot be withdrawn or closed early" in again

    # The members vote it down; the assembly's time comes while the bot is down.
    typed = f"bob: /vote {number} Against\ncarol: /vote {number} Against\n/vote {number} For\n"
    run(tmp_path, typed, lambda out: out.count("Recorded:") == 3)

    async def assembly_time(s):
        p = (await s.execute(select(Proposal).where(Proposal.number == number))).scalar_one()
        assert p.status == "open"
        p.closes_at = p.closes_at - timedelta(days=8)

    while_down(tmp_path, assembly_time)
    out = run(tmp_path, "/whoami\n", lambda out: "Draw D2" in out and "Commitment" in out.split("Draw D2")[1])
    assert out.count(f"Result of #{number}") == 1
    result = out[out.index(f"Result of #{number}"):]
    assert "failed" in result.split("\n")[0] and "Every steward role lapses (you and dave)" in result
    assert out.count("Draw D2: 2 seats for stewards") == 1
    draw = out[out.index("Draw D2"):]
    assert "1. bob" in draw and "2. carol" in draw and "you: a steward whose role lapsed" in draw
    assert "a member" in out[out.index("you> /whoami"):]
    again = quiet(tmp_path)
    assert f"Result of #{number}" not in again and "Draw D2" not in again

    # The stewards' draw time passes while the bot is down.
    while_down(tmp_path, move_draw_back(2))
    out = run(tmp_path, "/draw D2\n", lambda out: "New stewards of Red Bakery" in out)
    assert out.count("Result of draw D2") == 1 and out.count("New stewards of Red Bakery") == 1
    assert replay(out) == ["bob", "carol"]
    again = quiet(tmp_path, "/whoami\nbob: /whoami\ncarol: /whoami\ndave: /whoami\n")
    assert "New stewards" not in again and "Result of draw D2" not in again
    answers = {who: again[again.index(f"{who}> /whoami"):].split("\n", 2)[1] for who in ("you", "bob", "carol", "dave")}
    assert "steward" in answers["bob"] and "steward" in answers["carol"], answers
    assert "steward" not in answers["you"] and "steward" not in answers["dave"], answers

    # The export carries it all, `verify` says ok, and every step is a leaf of the minutes.
    done = subprocess.run(COOPBOT + ["export"], capture_output=True, text=True, cwd=tmp_path,
                          env=env_for(tmp_path), timeout=60)
    assert done.returncode == 0, done.stderr
    (tmp_path / "export.json").write_text(done.stdout)
    assert json.loads(done.stdout)["coops"][0]["name"] == "Red Bakery"
    checked = subprocess.run(COOPBOT + ["verify", str(tmp_path / "export.json")], capture_output=True, text=True,
                             cwd=tmp_path, env=env_for(tmp_path), timeout=60)
    assert checked.returncode == 0 and checked.stdout.strip() == "ok", checked.stdout + checked.stderr

    async def kinds(s):
        return list((await s.execute(select(Minute.kind).order_by(Minute.seq))).scalars())

    leaves = while_down(tmp_path, kinds)
    for kind, times in (("audit_started", 1), ("audit_opened", 1), ("verdict", 2), ("audit_closed", 1),
                        ("revision_missed", 1), ("stewards_lapsed", 1), ("stewards_seated", 1), ("draw_drawn", 2)):
        assert leaves.count(kind) == times, (kind, leaves)


def test_a_revision_passing_through_the_console_clears_the_deadline(tmp_path):
    """Reformist, then a `revises: A1` proposal the steward closes early once everyone voted: its
    result meets the demand, the calendar drops the deadline, and a restart long after it convenes
    no assembly."""
    auditors = audit_seated(tmp_path)
    reformist(tmp_path, auditors)
    typed = ("bob: /propose Rotate who proposes\n  revises: A1\n  closes: 2d\n"
             "/vote 3 For\nbob: /vote 3 For\ncarol: /vote 3 For\ndave: /vote 3 For\n/close 3\n")
    out = run(tmp_path, typed, lambda out: "coopbot: Result of #3" in out)
    assert "meets liberation audit A1's revision demand" in out
    assert out.count("This meets liberation audit A1's revision demand.") == 1

    async def long_after(s):
        a = (await s.execute(select(Audit))).scalar_one()
        assert a.stage == "revised"
        a.closed_at -= timedelta(days=40)
        a.revision_due_at -= timedelta(days=40)

    while_down(tmp_path, long_after)
    again = quiet(tmp_path, "/calendar\n/audit\n")
    assert "A1: its revision" not in again and "assembly" not in again.lower()
    assert "revision demand was met" in again
