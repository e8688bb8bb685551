"""Liberation audits through one platform, from the first start to a revision passed, a second
audit's revision missed and new stewards: the real python-telegram-bot stack against the fake Bot
API, with a clock the test moves (the due work is run by the test, as the runner's clock would run
it, and the adapter is kicked to deliver what it queued)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import pytest
from sqlmodel import select

from bot.pacing import Budget, Pacer
from bot.services import Services
from bot.telegram.adapter import TelegramAdapter
from schedules.due import run_due
from storage.models import Minute
from tests.conftest import FakeClock
from tests.fakes.telegram_api import FakeBotAPI
from tests.test_telegram import GROUP, STEWARD, Harness, fake  # noqa: F401 (the fake Bot API fixture)

MEMBERS = (2, 3, 4)
TENANTS = (501, 502)  # allies of the Tenants Union
COURIER = 601  # the Couriers Network's one ally
COURIER2 = 602  # the Couriers Network's second ally, added before A2


class ClockedHarness(Harness):
    """The Harness, its services on a clock the test moves and its sends not held to Telegram's pace."""

    def __init__(self, fake: FakeBotAPI, tmp_path, clock: FakeClock) -> None:
        super().__init__(fake, tmp_path)
        self.clock = clock

    async def start(self) -> ClockedHarness:
        self.services = await Services.start(self.settings, clock=self.clock)
        # Telegram's group budget (about 20 a minute) would stretch this story over minutes: the
        # pacing has tests of its own (tests/test_telegram.py), so here it is generous.
        roomy = Pacer(lambda chat: Budget(1000, 60.0), Budget(1000, 1.0))
        self.adapter = TelegramAdapter(self.services, self.settings, pacer=roomy)
        self.stop = asyncio.Event()
        self.task = asyncio.create_task(self.adapter.run(self.stop))
        await self.fake.wait_for(lambda f: f.calls_to("getUpdates"))
        return self

    async def tick(self) -> None:
        """One run of the due work at the clock's time, then the delivery pump is woken."""
        await run_due(self.stores, self.clock.now(), self.services.governance.before_close)
        self.adapter.kick()


@pytest.fixture
async def tg(fake, tmp_path):
    harness = await ClockedHarness(fake, tmp_path, FakeClock(datetime.now(timezone.utc))).start()
    yield harness
    await harness.close()


def sent_to(fake: FakeBotAPI, chat: int) -> list[str]:
    """Every text the bot sent to a chat (its sendMessage calls Telegram accepted)."""
    return [c.params["text"] for c in fake.calls_to("sendMessage") if c.ok and c.params["chat_id"] == chat]


async def posted(fake: FakeBotAPI, start: str, chat: int = GROUP, timeout: float = 15) -> str:
    """Wait for the bot to send a message beginning `start` to the chat; its text."""
    found = await fake.wait_for(lambda f: [t for t in sent_to(f, chat) if t.startswith(start)], timeout=timeout)
    return found[-1]


def card_of(fake: FakeBotAPI, title: str) -> tuple[int, dict]:
    for message_id, message in fake.messages(GROUP).items():
        if message["text"].startswith("Proposal #") and title in message["text"]:
            return message_id, message
    raise AssertionError(f"no card of {title!r}:\n{fake.summary()}")


def buttons(message: dict) -> list[dict]:
    return [b for row in (message["reply_markup"] or {}).get("inline_keyboard", []) for b in row]


async def affiliate(tg: ClockedHarness, fake: FakeBotAPI, number: int, org: str) -> None:
    """A proposal to affiliate: members tap For on the card, the steward types /vote, then /close."""
    fake.command(GROUP, STEWARD, f"/propose Affiliate with {org}\n  affiliate: {org}", first_name="user1")
    await fake.wait_for(lambda f: any(t.startswith(f"Proposal #{number}:") for t in f.texts(GROUP)))
    message_id, card = tg.card(number)
    assert "strategic" in card["text"] and org in card["text"], card["text"]
    data = {b["text"]: b["callback_data"] for b in buttons(card)}
    for uid in MEMBERS:
        assert await tg.tap(uid, message_id, data["For"]) == f"Recorded: For on #{number}."
    assert await tg.say(STEWARD, f"/vote {number} For") == f"Recorded: For on #{number}."
    fake.command(GROUP, STEWARD, f"/close {number}", first_name="user1")
    result = await posted(fake, f"Result of #{number}")
    assert "passed" in result, result


async def allied_group(tg: ClockedHarness, fake: FakeBotAPI) -> None:
    """Red Bakery in GROUP: user1 its steward, three members, two organisations affiliated by vote,
    two allies of the Tenants Union and one of the Couriers Network, added by Telegram id."""
    assert "set up" in await tg.say(STEWARD, "/setup Red Bakery")
    for uid in MEMBERS:
        assert "admitted" in await tg.say(STEWARD, f"/admit {uid}")
        assert "a member" in await tg.say(uid, "/whoami")  # they speak: the register learns their names
    await affiliate(tg, fake, 1, "Tenants Union")
    await affiliate(tg, fake, 2, "Couriers Network")

    # Allies by Telegram id, before they ever spoke to the bot.
    # A steward adds each organisation's first ally; its allies add the rest.
    for by, uid, org in ((STEWARD, TENANTS[0], "Tenants Union"), (TENANTS[0], TENANTS[1], "Tenants Union"),
                         (STEWARD, COURIER, "Couriers Network")):
        answer = await tg.say(by, f"/ally {uid}\norg: {org}")
        assert answer.startswith(f"{uid} is now an ally of Red Bakery from {org} (added by "), answer
    assert answer in sent_to(fake, GROUP)  # the group got the answer
    for uid in (*TENANTS, COURIER):  # they speak: their names are learned
        whoami = await tg.say(uid, "/whoami")
        assert f"user{uid}" in whoami and "ally" in whoami, whoami
    roster = await tg.say(STEWARD, "/allies")
    assert "user501" in roster and "user502" in roster and "user601" in roster, roster

    # An ally's typed vote is refused.
    assert "allies do not vote" in await tg.say(COURIER, "/vote 1 For")


async def open_audit(tg: ClockedHarness, fake: FakeBotAPI, number: int) -> tuple[dict[str, int], str, str]:
    """`/audit start` (audit A<number>, its auditors' draw D<number>), then the draw's time: the
    auditors by organisation, the draw's announcement and the one naming the auditors."""
    # The audit opens; its draw's pool shows each ally's organisation.
    started = await tg.say(STEWARD, "/audit start")
    assert started.startswith(f"Liberation audit A{number} of Red Bakery is open") and f"D{number}" in started, started
    draw = await posted(fake, f"Draw D{number}:")
    assert f"auditors of liberation audit A{number}" in draw
    # A second start while it is open is refused.
    assert "under way" in await tg.say(STEWARD, "/audit start")

    # The draw's time comes: the auditors are seated, one per organisation, and written to privately.
    tg.clock.advance(minutes=11)
    await tg.tick()
    await posted(fake, f"Result of draw D{number}")
    opened = await posted(fake, f"Liberation audit A{number}: the auditors are")
    coop = await tg.stores.coops.get_by_room("telegram", str(GROUP))
    audit = await tg.stores.audits.get(coop.id, number)
    seats = await tg.stores.audits.seats(audit.id)
    users = {a.member_id: int(a.user_id) for a in await tg.stores.members.accounts(coop.id) if a.platform == "telegram"}
    auditors = {seat.org: users[seat.member_id] for seat in seats}
    for org, uid in auditors.items():
        assert f"user{uid} ({org})" in opened, opened
    assert "The audit pack, for the auditors" not in opened  # Telegram reaches each one directly
    return auditors, draw, opened


async def seat(tg: ClockedHarness, fake: FakeBotAPI) -> tuple[int, str]:
    """A1 opened and seated: the Tenants Union's auditor and the Couriers Network's only ally, the
    draw's pool showing each ally's organisation; the Tenants Union's auditor, and the announcement
    naming the auditors."""
    auditors, draw, opened = await open_audit(tg, fake, 1)
    for uid, org in ((TENANTS[0], "Tenants Union"), (TENANTS[1], "Tenants Union"), (COURIER, "Couriers Network")):
        assert f"user{uid} ({org})" in draw, draw
    assert sorted(auditors) == ["Couriers Network", "Tenants Union"] and auditors["Couriers Network"] == COURIER
    assert auditors["Tenants Union"] in TENANTS
    return auditors["Tenants Union"], opened


async def calendar(tg: ClockedHarness) -> str:
    return await tg.say(MEMBERS[0], "/calendar")


async def test_a_whole_audit_through_telegram(tg, fake):
    """Through one platform, every step of the minutes. Two organisations affiliated by taps, allies
    added by id. A1: auditors drawn one per organisation and sent the pack privately; two reformist
    verdicts (one from the group, one from a direct chat) put a revision deadline in the calendar,
    which a `revises: A1` proposal, voted by taps and closed by the steward, clears. A2: A1's
    auditors are left out by the cooldown; a reformist verdict again, and this time the test's
    clock passes the deadline: the emergency assembly's card is voted down by taps (an ally's tap
    refused); every steward role lapses and new stewards are drawn by lot."""
    await allied_group(tg, fake)

    # --- A1: reformist, and a revision passed in time ---
    tenant, _ = await seat(tg, fake)
    for uid in (tenant, COURIER):
        pack = await posted(fake, "You are drawn as an auditor", chat=uid)
        assert "Audit pack of Red Bakery" in pack and "/verdict A1" in pack, pack
    not_drawn = next(uid for uid in TENANTS if uid != tenant)
    assert not any("drawn as an auditor" in t for t in sent_to(fake, not_drawn))

    # Refused: a verdict by a member, and by the ally who was not drawn.
    assert "Only the auditors drawn for A1" in await tg.say(MEMBERS[0], "/verdict A1 reformist")
    assert "Only the auditors drawn for A1" in await tg.say(not_drawn, "/verdict A1 reformist")

    # The verdicts: one in the group, one in a direct chat with the bot.
    said = await tg.say(tenant, "/verdict A1 reformist\nStewards opened most proposals.")
    assert "recorded: reformist" in said and "1 of 2" in said, said
    said = await tg.say(COURIER, "/verdict A1 reformist\nNobody outside the stewards reads the contracts.",
                        chat=COURIER)
    assert "recorded: reformist" in said and "2 of 2" in said, said
    assert said in sent_to(fake, COURIER)  # answered in the direct chat

    closed = await posted(fake, "Liberation audit A1 of Red Bakery is closed")
    assert "The co-op's verdict: REFORMIST." in closed and "revises: A1" in closed, closed
    await fake.wait_for(lambda f: len([t for t in sent_to(f, GROUP) if t.startswith("A1 · ")]) == 2)
    findings = [t for t in sent_to(fake, GROUP) if t.startswith("A1 · ")]
    assert any("reads the contracts" in t for t in findings) and any("most proposals" in t for t in findings)
    assert "A1: its revision must pass by now" in await calendar(tg)

    # A member proposes the revision; members tap For, and the steward closes it early.
    fake.command(GROUP, MEMBERS[0], "/propose Rotate who proposes\n  revises: A1\n  closes: 2d",
                 first_name=f"user{MEMBERS[0]}")
    await fake.wait_for(lambda f: any(t.startswith("Proposal #3:") for t in f.texts(GROUP)))
    message_id, card = tg.card(3)
    assert "Rotate who proposes" in card["text"] and "meets liberation audit A1's revision demand" in card["text"]
    data = {b["text"]: b["callback_data"] for b in buttons(card)}
    for uid in (*MEMBERS, STEWARD):
        assert await tg.tap(uid, message_id, data["For"]) == "Recorded: For on #3."
    fake.command(GROUP, STEWARD, "/close 3", first_name="user1")
    result = await posted(fake, "Result of #3")
    assert "passed" in result and "This meets liberation audit A1's revision demand." in result, result
    assert "A1: its revision" not in await calendar(tg)

    # --- A2: the cooldown leaves A1's auditors out; reformist again, and the deadline passes ---
    answer = await tg.say(COURIER, f"/ally {COURIER2}\norg: Couriers Network")
    assert answer.startswith(f"{COURIER2} is now an ally of Red Bakery"), answer
    assert "ally" in await tg.say(COURIER2, "/whoami")
    auditors, draw, _ = await open_audit(tg, fake, 2)
    for uid in (tenant, COURIER):
        assert f"user{uid}: audited in A1 (audit_cooldown)" in draw, draw
    assert auditors == {"Tenants Union": not_drawn, "Couriers Network": COURIER2}, auditors
    for uid in (not_drawn, COURIER2):
        pack = await posted(fake, "You are drawn as an auditor", chat=uid)
        assert "/verdict A2" in pack, pack
    assert "Only the auditors drawn for A2" in await tg.say(tenant, "/verdict A2 revolutionary")
    said = await tg.say(not_drawn, "/verdict A2 reformist\nThe revision rotated names, not power.")
    assert "1 of 2" in said, said
    said = await tg.say(COURIER2, "/verdict A2 reformist", chat=COURIER2)
    assert "2 of 2" in said, said
    closed = await posted(fake, "Liberation audit A2 of Red Bakery is closed")
    assert "The co-op's verdict: REFORMIST." in closed and "revises: A2" in closed, closed
    await fake.wait_for(lambda f: len([t for t in sent_to(f, GROUP) if t.startswith("A2 · ")]) == 2)
    assert any("names, not power" in t for t in sent_to(fake, GROUP) if t.startswith("A2 · "))
    assert "A2: its revision must pass by now" in await calendar(tg)

    # Nothing passes: the deadline goes by, and the emergency assembly is convened at once.
    tg.clock.advance(days=30, seconds=1)
    await tg.tick()
    missed = await posted(fake, "Liberation audit A2's revision was not passed by")
    assert "emergency assembly" in missed, missed
    await fake.wait_for(lambda f: any("Keep the current stewards?" in t and t.startswith("Proposal #")
                                      for t in f.texts(GROUP)))
    message_id, card = card_of(fake, "Keep the current stewards?")
    assert card["text"].startswith("Proposal #4:"), card["text"]
    assert "EMERGENCY ASSEMBLY" in card["text"] and "Stewards now: user1" in card["text"]
    assert "Emergency assembly of A2: #4" in await calendar(tg)

    # Members vote it down by taps; an ally's tap is refused and not counted.
    data = {b["text"]: b["callback_data"] for b in buttons(card)}
    assert {"For", "Against", "Abstain"} <= set(data)
    refused = await tg.tap(not_drawn, message_id, data["For"])
    assert "allies do not vote" in refused, refused
    for uid in MEMBERS:
        assert await tg.tap(uid, message_id, data["Against"]) == "Recorded: Against on #4."
    assert await tg.tap(STEWARD, message_id, data["For"]) == "Recorded: For on #4."
    await fake.wait_for(lambda f: "For 1 · Against 3 · Abstain 0 (4 of 4 voted)" in card_of(f, "Keep the")[1]["text"],
                        timeout=15)
    assert "cannot be withdrawn or closed early" in await tg.say(STEWARD, "/close 4")

    # The assembly comes: every steward role lapses, and new stewards are drawn.
    tg.clock.advance(days=7, seconds=1)
    await tg.tick()
    result = await posted(fake, "Result of #4")
    assert "failed" in result and "Every steward role lapses (user1)" in result, result
    stewards_draw = await posted(fake, "Draw D3:")
    assert "stewards" in stewards_draw and "user1: a steward whose role lapsed" in stewards_draw, stewards_draw
    assert "a member" in await tg.say(STEWARD, "/whoami")

    tg.clock.advance(minutes=11)
    await tg.tick()
    seated = await posted(fake, "New stewards of Red Bakery")
    new = [uid for uid in MEMBERS if f"user{uid}" in seated]
    assert len(new) == 1, seated
    assert "steward" in await tg.say(new[0], "/whoami")
    assert "steward" not in await tg.say(STEWARD, "/whoami")

    # Every step of both audits is a leaf of the minutes.
    coop = await tg.stores.coops.get_by_room("telegram", str(GROUP))
    async with tg.stores.db.read() as s:
        kinds = list((await s.execute(select(Minute.kind).where(Minute.coop_id == coop.id)
                                      .order_by(Minute.seq))).scalars())
    for kind, times in (("audit_started", 2), ("audit_opened", 2), ("verdict", 4), ("audit_closed", 2),
                        ("revision_met", 1), ("revision_missed", 1), ("stewards_lapsed", 1), ("stewards_seated", 1)):
        assert kinds.count(kind) == times, (kind, kinds)
    steps = [k for k in kinds if k in ("audit_closed", "revision_met", "audit_started", "revision_missed",
                                       "stewards_lapsed", "stewards_seated")]
    assert steps == ["audit_started", "audit_closed", "revision_met", "audit_started", "audit_closed",
                     "revision_missed", "stewards_lapsed", "stewards_seated"], steps


async def test_an_auditor_the_bot_cannot_write_to_still_gets_the_pack_and_gives_a_verdict(tg, fake):
    """Telegram refuses a message to someone who never opened a chat with the bot (403). The
    Tenants Union's auditor has not: that direct message is given up once (not retried, and the
    other auditor's still goes); the group's announcement names them and points to /audit, which
    shows them the pack, and their verdict from the group counts."""
    await allied_group(tg, fake)
    for uid in TENANTS:
        fake.forbid(uid, "Forbidden: bot can't initiate conversation with a user")
    tenant, opened = await seat(tg, fake)
    assert f"user{tenant} (Tenants Union)" in opened and "/audit" in opened
    refused = await fake.wait_for(lambda f: [c for c in f.calls_to("sendMessage")
                                             if c.params["chat_id"] == tenant and not c.ok])
    assert len(refused) == 1 and not sent_to(fake, tenant)
    assert "Audit pack of Red Bakery" in await posted(fake, "You are drawn as an auditor", chat=COURIER)
    tg.adapter.kick()
    await asyncio.sleep(0.5)
    assert len([c for c in fake.calls_to("sendMessage") if c.params["chat_id"] == tenant]) == 1
    shown = await tg.say(tenant, "/audit")
    assert "Liberation audit A1" in shown and f"user{tenant}" in shown, shown
    await fake.wait_for(lambda f: any(t.startswith("Audit pack of Red Bakery") for t in sent_to(f, GROUP)))
    said = await tg.say(tenant, "/verdict A1 revolutionary\nPay is flat.")
    assert "recorded: revolutionary" in said and "1 of 2" in said, said
    said = await tg.say(COURIER, "/verdict A1 revolutionary", chat=COURIER)
    assert "2 of 2" in said, said
    closed = await posted(fake, "Liberation audit A1 of Red Bakery is closed")
    assert "The co-op's verdict: REVOLUTIONARY." in closed and "Nothing follows" in closed
