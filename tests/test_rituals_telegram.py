"""A mirror shift and an adversary drill through one platform: the real python-telegram-bot stack
against the fake Bot API, on the clock tests/test_audits_telegram.py moves (the due work is run by
the test, as the runner's clock would). The same stories through the core: tests/test_rituals.py."""

from __future__ import annotations

import re

from handlers.calendar import occurrence
from handlers.charter import Charter
from tests.fakes.telegram_api import FakeBotAPI
from tests.test_audits_telegram import MEMBERS, ClockedHarness, buttons, posted, sent_to, tg  # noqa: F401 (the clocked harness fixture)
from tests.test_schedules import set_charter
from tests.test_telegram import GROUP, STEWARD, fake  # noqa: F401 (the fake Bot API fixture)

VOTERS = (STEWARD, *MEMBERS)


async def until(tg: ClockedHarness, every_months: int, n: int) -> None:
    coop = await tg.stores.coops.get(1)
    due = occurrence(coop.founded_at, Charter.from_json(coop.charter).tz, every_months, n)
    tg.clock.advance(seconds=(due - tg.clock.now()).total_seconds())
    await tg.tick()


async def test_a_mirror_shift_and_a_drill_through_telegram(tg, fake: FakeBotAPI):
    assert "set up" in await tg.say(STEWARD, "/setup Red Bakery")
    for uid in MEMBERS:
        assert "admitted" in await tg.say(STEWARD, f"/admit {uid}")
        assert "a member" in await tg.say(uid, "/whoami")  # they speak: the register learns their names
    # The drill comes with the shift, every three months, a red team of two tempting for a day.
    await set_charter(tg.stores, 1, drill_every_months=3, drill_team=2, drill_days=1)

    # --- the shift and the drill fall due; their draws are made ten minutes on ---
    await until(tg, 3, 1)
    started = await posted(fake, "MIRROR SHIFT 1 of Red Bakery")
    assert "production halts for reflection" in started
    await posted(fake, "ADVERSARY DRILL 1 of Red Bakery")
    tg.clock.advance(minutes=11)
    await tg.tick()
    opened = await posted(fake, "Mirror shift 1 of Red Bakery:")
    team_line = await posted(fake, "The red team of adversary drill 1")  # both posted before anyone speaks
    order = opened.split("Speaking order, newest member first:\n")[1].split("\nThe facilitator")[0]
    assert order.splitlines() == ["1. user4", "2. user3", "3. user2", "4. user1"], opened
    facilitator = int(re.match(r"Mirror shift 1 of Red Bakery: user(\d+) facilitates", opened).group(1))
    draw = int(re.search(r"facilitates \(D(\d+)\)", opened).group(1))
    shown = await tg.say(MEMBERS[0], f"/draw D{draw}")
    assert "Replay it in Python" in shown and f"user{facilitator}" in shown
    other = next(uid for uid in VOTERS if uid != facilitator)
    assert f"Only user{facilitator}, the facilitator" in await tg.say(other, "/format chaos")
    redesigned = await tg.say(facilitator, "/format a silent walk, then one word each")
    assert redesigned.startswith(f"Mirror shift 1: user{facilitator}, its facilitator, redesigned the format")
    assert "a silent walk, then one word each (redesigned by the facilitator)" in await tg.say(other, "/mirror")

    # --- the red team tempts; the members refuse one temptation and accept another by tapping ---
    team = [int(u) for u in re.findall(r"user(\d+)", team_line.split(" (D")[0])]
    assert len(team) == 2, team_line
    outsider = next(uid for uid in VOTERS if uid not in team)
    assert "Only the red team" in await tg.say(outsider, "/tempt Sell out")
    numbers = []
    for uid, title in zip(team, ("Take the investor's money", "Skip the audit pack")):
        fake.command(GROUP, uid, f"/tempt {title}\n  It would be so much easier.", first_name=f"user{uid}")
        card = await fake.wait_for(lambda f: [t for t in sent_to(f, GROUP) if t.startswith("Proposal #") and title in t])
        card = card[0]
        assert "DRILL (adversary drill 1)" in card, card
        numbers.append(int(re.match(r"Proposal #(\d+)", card).group(1)))
    for number, choice in zip(numbers, ("Against", "For")):
        message_id, message = tg.card(number)
        data = {b["text"]: b["callback_data"] for b in buttons(message)}
        for uid in VOTERS:
            assert await tg.tap(uid, message_id, data[choice]) == f"Recorded: {choice} on #{number}."

    # --- a day on: the temptations are counted, the drill's record posted, the shift over ---
    tg.clock.advance(days=1)
    await tg.tick()
    await tg.tick()  # the record waits for the temptations' counts: the next look posts it
    record = await posted(fake, "Adversary drill 1 of Red Bakery is over")
    assert "2 temptations: 1 refused, 1 accepted" in record and "Mean turnout 100%" in record, record
    assert f"Accepted: #{numbers[1]} Skip the audit pack." in record
    for number in numbers:
        result = await posted(fake, f"Result of #{number} ")
        assert "DRILL: a rehearsal; nothing takes effect." in result
    await posted(fake, "Mirror shift 1 of Red Bakery is over")
    assert "Last: adversary drill 1" in await tg.say(MEMBERS[1], "/drill")
