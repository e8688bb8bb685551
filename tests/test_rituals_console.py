"""A mirror shift and an adversary drill end to end through the real `coopbot console` process,
killed (SIGKILL) and restarted at each step; time passes while it is down by moving the stored
times back, never by sleeping. Each restart must repeat nothing and lose nothing."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from handlers.charter import Charter
from storage.models import Coop, Draw, Proposal, Ritual
from tests.test_audits_console import quiet, run, while_down

SETUP = """\
/setup Red Bakery
/admit bob
/admit carol
/admit dave
"""


def founded_months_ago(months: int):
    """The co-op was founded `months` (of 31 days) and an hour ago; drills every 3 months, a red
    team of two tempting for a day."""

    async def change(s):
        coop = (await s.execute(select(Coop))).scalar_one()
        coop.founded_at -= timedelta(days=31 * months, hours=1)
        coop.charter = Charter.from_json(coop.charter).with_changes(
            drill_every_months=3, drill_team=2, drill_days=1).to_json()
    return change


async def _draws_back(s):
    draws = (await s.execute(select(Draw).where(Draw.status == "announced"))).scalars().all()
    assert len(draws) == 3  # the facilitator's, the format's, the red team's
    for d in draws:
        d.draw_at -= timedelta(minutes=11)


async def _ends_back(s):
    for r in (await s.execute(select(Ritual))).scalars():
        assert r.status == "open"
        r.ends_at -= timedelta(days=2)
    for p in (await s.execute(select(Proposal).where(Proposal.status == "open"))).scalars():
        p.closes_at -= timedelta(days=2)


def test_a_mirror_shift_and_a_drill_through_the_console_surviving_a_kill_at_every_step(tmp_path):
    run(tmp_path, SETUP, lambda out: "dave is admitted" in out)
    while_down(tmp_path, founded_months_ago(3))

    # The shift and the drill fall due at the start; killed once both are announced.
    out = run(tmp_path, "/mirror\n", lambda out: "MIRROR SHIFT 1" in out and "ADVERSARY DRILL 1" in out
              and "has begun" in out)
    assert out.count("MIRROR SHIFT 1 of Red Bakery") == 1 and out.count("ADVERSARY DRILL 1 of Red Bakery") == 1
    again = quiet(tmp_path, "/drill\n")
    assert "MIRROR SHIFT" not in again and "ADVERSARY DRILL" not in again and "has begun" in again

    # The draw time passes while it is down: the restart draws, opens each once.
    while_down(tmp_path, _draws_back)
    out = run(tmp_path, "/mirror\n", lambda out: "Speaking order, newest member first:\n" in out.split("/mirror")[-1]
              and "The red team of adversary drill 1" in out)
    assert out.count("facilitates (D") == 1 and out.count("The red team of adversary drill 1") == 1
    assert "  1. dave\n  2. carol\n  3. bob\n  4. you\n" in out  # newest first; the founder ("you") last
    team = re.search(r"adversary drill 1 of Red Bakery: (.+?) \(D", out).group(1).split(" and ")
    again = quiet(tmp_path)
    assert "facilitates (D" not in again and "The red team" not in again

    # A temptation, voted; the drill's and the shift's ends pass while it is down.
    tempter = team[0]
    who = "" if tempter in ("you", "alice") else f"{tempter}: "
    typed = f"{who}/tempt Take the investor's money\n  A fund offers 200k for 49%.\n"
    out = run(tmp_path, typed, lambda out: "DRILL (adversary drill 1)" in out)
    number = int(re.search(r"Proposal #(\d+): DRILL · Take the investor's money", out).group(1))
    votes = "".join(f"{name}: /vote {number} Against\n" for name in ("bob", "carol", "dave")) + f"/vote {number} Against\n"
    run(tmp_path, votes, lambda out: out.count("Recorded:") == 4)
    while_down(tmp_path, _ends_back)
    out = run(tmp_path, "/drill\n", lambda out: "Adversary drill 1 of Red Bakery is over" in out
              and "Mirror shift 1 of Red Bakery is over" in out)
    assert out.count(f"Result of #{number}") == 1 and "failed" in out
    assert "1 temptation: 1 refused, 0 accepted" in out
    again = quiet(tmp_path, "/drill\n")
    assert "Mirror shift 1 of Red Bakery is over" not in again and "Result of #" not in again
    # Only `drill`'s answer tells the record again, under "Last".
    assert again.count("Adversary drill 1 of Red Bakery is over") == 1 and "Last: adversary drill 1" in again
