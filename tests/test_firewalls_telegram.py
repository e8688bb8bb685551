"""Issue 17's acceptance list through one platform: the pay scale and its wage-ratio cap, affiliated
organisations with an ally each, the golden share, protected decisions (members, organisations,
veto), a call-in, firewall amendments, refusals, and a cap amended below the pay scale's ratio whose
missed revision convenes the emergency assembly. The real python-telegram-bot stack against the fake
Bot API, on the clock tests/test_audits_telegram.py moves (the same stories through the core:
tests/test_firewalls.py, tests/test_pay.py, tests/test_pay_demand.py)."""

from __future__ import annotations

import re

from tests.fakes.telegram_api import FakeBotAPI
from tests.test_audits_telegram import MEMBERS, ClockedHarness, card_of, posted, sent_to, tg  # noqa: F401 (the clocked harness fixture)
from tests.test_telegram import GROUP, STEWARD, fake  # noqa: F401 (the fake Bot API fixture)

VOTERS = (STEWARD, *MEMBERS)  # four members: user1 (the steward), user2, user3, user4
TENANT, FOOD, FEDERATION = 501, 601, 701  # one ally of each organisation
ORGS = {TENANT: "Tenants Union", FOOD: "Food Not Bombs", FEDERATION: "Federation"}


async def propose(tg: ClockedHarness, fake: FakeBotAPI, who: int, text: str) -> tuple[int, str]:
    """A proposal typed in the group: its number and the card the group got."""
    before = len(sent_to(fake, GROUP))
    fake.command(GROUP, who, text, first_name=f"user{who}")
    cards = await fake.wait_for(lambda f: [t for t in sent_to(f, GROUP)[before:] if t.startswith("Proposal #")])
    return int(re.match(r"Proposal #(\d+):", cards[0]).group(1)), cards[0]


async def vote(tg: ClockedHarness, number: int, voters=VOTERS, choice: str = "For") -> None:
    for uid in voters:
        assert await tg.say(uid, f"/vote {number} {choice}") == f"Recorded: {choice} on #{number}.", uid


async def decide(tg: ClockedHarness, fake: FakeBotAPI, title: str, line: str) -> str:
    """A strategic proposal (affiliate: / disaffiliate:): every member For, the steward closes it."""
    number, card = await propose(tg, fake, STEWARD, f"/propose {title}\n  {line}")
    assert "strategic" in card, card
    await vote(tg, number)
    fake.command(GROUP, STEWARD, f"/close {number}", first_name="user1")
    result = await posted(fake, f"Result of #{number} ")
    assert "passed" in result.splitlines()[0], result
    return result


async def protected(tg: ClockedHarness, fake: FakeBotAPI, title: str, lines: str = "kind: protected",
                    voters=VOTERS, consents: dict[int, str] | None = None,
                    veto: str | None = None) -> tuple[int, str, str]:
    """Proposed by the steward, `voters` For, allies consent (or not), a veto or seven days and the
    due work: (number, card, result)."""
    number, card = await propose(tg, fake, STEWARD, f"/propose {title}\n  {lines}")
    await vote(tg, number, voters)
    for ally, word in (consents or {}).items():
        said = await tg.say(ally, f"/consent {number} {word}")
        assert "consent" in said and ORGS[ally] in said, said
    if veto is not None:
        announced = await tg.say(FEDERATION, f"/veto {number} {veto}")
        assert announced.startswith(f"#{number} {title} is vetoed by user{FEDERATION} for Federation, which holds "
                                    f"the golden share: {veto}."), announced
    else:
        tg.clock.advance(days=7, minutes=1)
        await tg.tick()
    return number, card, await posted(fake, f"Result of #{number} ")


async def movement(tg: ClockedHarness, fake: FakeBotAPI) -> None:
    """Red Bakery: the steward and three members, paid 10, 20 and 25 an hour (1 : 2.5, under the cap
    1 : 3; a change past it refused and posted); three organisations affiliated by strategic
    proposals, an ally each; the golden share given to the Federation by a protected amendment."""
    assert "set up" in await tg.say(STEWARD, "/setup Red Bakery")
    for uid in MEMBERS:
        assert "admitted" in await tg.say(STEWARD, f"/admit {uid}")
        assert "a member" in await tg.say(uid, "/whoami")  # they speak: the register learns their names

    # The pay scale, members named by Telegram id.
    for uid, amount in zip(MEMBERS, (10, 20, 25)):
        answer = await tg.say(STEWARD, f"/pay {uid} {amount}")
        assert answer.startswith(f"Pay of user{uid} set to {amount}.00 EUR an hour"), answer
    assert "The ratio highest : lowest is 1 : 2.5 (cap 1 : 3)." in answer, answer
    shown = await tg.say(MEMBERS[0], "/pay")
    assert "• user2: 10.00 EUR an hour" in shown and "• user4: 25.00 EUR an hour" in shown, shown
    assert "Ratio highest : lowest: 1 : 2.5 (cap 1 : 3)." in shown, shown
    # Past the cap: refused, and the group is told.
    refused = await tg.say(STEWARD, f"/pay {MEMBERS[2]} 40")
    assert refused == ("A pay change for user4 to 40.00 EUR an hour was refused: it would make the ratio 1 : 4.0 "
                       "against the cap 1 : 3."), refused
    assert refused in sent_to(fake, GROUP)
    shown = await tg.say(MEMBERS[0], "/pay")
    assert "• user4: 25.00 EUR an hour" in shown and "1 : 2.5 (cap 1 : 3)" in shown, shown

    # Three organisations, by strategic proposals; an ally each, added by the steward.
    for org in ORGS.values():
        result = await decide(tg, fake, f"Affiliate with {org}", f"affiliate: {org}")
        assert org in result, result
    for uid, org in ORGS.items():
        answer = await tg.say(STEWARD, f"/ally {uid}\norg: {org}")
        assert answer.startswith(f"{uid} is now an ally of Red Bakery from {org}"), answer
        assert "ally" in await tg.say(uid, "/whoami")

    # The golden share: a protected amendment by default; two organisations consent; seven days.
    number, card, result = await protected(tg, fake, "Golden share", "amend: golden_share = Federation",
                                           consents={TENANT: "yes", FOOD: "yes"})
    assert "Protected decision" in card and "needs at least 2/3 of the 3 affiliated organisations" in card, card
    assert "passed" in result.splitlines()[0], result
    assert "The charter is amended: golden_share = Federation." in result, result
    assert "Golden share: Federation" in await tg.say(MEMBERS[0], "/allies")


async def test_protected_decisions_through_telegram(tg, fake):
    """Pay and its cap; the golden share; a protected decision passing with members and
    organisations; one vetoed at once; one short of organisations, one short of members; an
    ordinary sale called in by the golden share, its card edited, the steward's close refused."""
    await movement(tg, fake)

    # Members and two organisations of three: passed, and the card and the result say all three parts.
    number, card, result = await protected(tg, fake, "Sell the bakery to X Ltd",
                                           consents={TENANT: "yes", FOOD: "no", FEDERATION: "yes"})
    assert "protected" in card and "Quorum 75% of 4 members" in card, card
    assert "needs at least 2/3 of the 3 affiliated organisations to consent" in card, card
    assert "no veto from the golden share (Federation)" in card, card
    assert "passed." in result.splitlines()[0], result
    assert "Organisations: 2 of 3 consented (Tenants Union and Federation); needed at least 2/3: met." in result
    assert "Said no: Food Not Bombs." in result and "Veto: none." in result, result

    # The golden share's veto: announced, and counted at once (no clock moves).
    number, _, result = await protected(tg, fake, "Sell the van", consents={TENANT: "yes", FOOD: "yes"},
                                        veto="a sale to private interests")
    assert "It cannot pass; voting has ended and it is counted now." in await posted(fake, f"#{number} Sell the van")
    assert "failed (vetoed by the golden share)" in result, result
    assert "Vetoed by user701 for Federation (the golden share): a sale to private interests." in result, result

    # One organisation of three; then two members of four (50%, under the protected quorum 75%).
    _, _, result = await protected(tg, fake, "Sell the oven", consents={TENANT: "yes"})
    assert "failed (too few affiliated organisations consented)" in result, result
    assert "Organisations: 1 of 3 consented (Tenants Union); needed at least 2/3: not met." in result, result
    assert "Did not say: Food Not Bombs and Federation." in result, result
    _, _, result = await protected(tg, fake, "Sell the shop", voters=VOTERS[:2],
                                   consents={TENANT: "yes", FOOD: "yes", FEDERATION: "yes"})
    assert "failed (quorum not met)" in result and "Organisations: 3 of 3 consented" in result, result

    # An ordinary sale, called in by the Federation's ally.
    number, card = await propose(tg, fake, MEMBERS[0], "/propose Sell the bakery to X Ltd\n  closes: 2h")
    assert "ordinary" in card and "Protected decision" not in card, card
    await vote(tg, number)
    announced = await tg.say(FEDERATION, f"/protect {number}")
    assert announced.startswith(f"#{number} Sell the bakery to X Ltd is called in as a protected decision by "
                                f"user701 for Federation, which holds the golden share."), announced
    assert "at least 2/3 of the 3 affiliated organisations consenting" in announced, announced
    # Its card in the group is edited to say so.
    edited = await fake.wait_for(lambda f: "Called in as protected" in tg.card(number)[1]["text"]
                                 and tg.card(number)[1]["text"], timeout=15)
    assert "Protected decision" in edited and "Called in as protected by user701 for Federation" in edited, edited
    assert "Organisations so far: Tenants Union not yet; Food Not Bombs not yet; Federation not yet." in edited
    assert "cannot be closed before then" in await tg.say(STEWARD, f"/close {number}")
    # Its two hours pass and nothing closes; its seven days, and it fails on the organisations.
    tg.clock.advance(hours=3)
    await tg.tick()
    assert "is a protected decision already" in await tg.say(FEDERATION, f"/protect {number}")
    assert not [t for t in sent_to(fake, GROUP) if t.startswith(f"Result of #{number} ")]
    tg.clock.advance(days=7)
    await tg.tick()
    result = await posted(fake, f"Result of #{number} ")
    assert "failed (too few affiliated organisations consented)" in result and "For 4" in result, result


async def test_firewalls_and_a_cap_lowered_below_the_ratio_through_telegram(tg, fake):
    """Refusals (consent and veto by a member, veto and call-in by a non-holder, an ally's vote, a
    disaffiliated organisation's consent); a firewall amendment refused as ordinary and counted as
    protected without a kind; the cap amended below the pay scale's ratio, its revision missed, and
    the emergency assembly convened."""
    await movement(tg, fake)

    number, card = await propose(tg, fake, STEWARD, "/propose Sell the bakery\n  kind: protected")
    assert "Protected decision" in card, card
    assert "consent is an affiliated organisation's voice" in await tg.say(MEMBERS[0], f"/consent {number} yes")
    assert "Only an ally of Federation" in await tg.say(MEMBERS[0], f"/veto {number} no")
    assert "Only an ally of Federation" in await tg.say(TENANT, f"/veto {number} no")
    assert "allies do not vote" in await tg.say(TENANT, f"/vote {number} For")
    ordinary, _ = await propose(tg, fake, MEMBERS[0], "/propose Paint the door")
    assert "Only an ally of Federation" in await tg.say(FOOD, f"/protect {ordinary}")
    assert "Tenants Union consents" in await tg.say(TENANT, f"/consent {number} yes")

    # The Tenants Union is disaffiliated: its ally's consent is refused.
    await decide(tg, fake, "Part ways", "disaffiliate: Tenants Union")
    refused = await tg.say(TENANT, f"/consent {number} yes")
    assert refused.startswith("Your allyship with Red Bakery has ended"), refused  # a lapsed ally is no one's voice
    sale = number

    # A firewall key: refused as ordinary; without a kind it is protected.
    refused = await tg.say(STEWARD, "/propose Cap at 1:5\n  amend: wage_ratio_cap = 5\n  kind: ordinary")
    assert "wage_ratio_cap guards the co-op's firewalls: changing it is a protected decision" in refused, refused
    number, card, result = await protected(tg, fake, "Lower the wage-ratio cap", "amend: wage_ratio_cap = 2",
                                           consents={FOOD: "yes", FEDERATION: "yes"})
    assert number == sale + 3, number  # the refused ordinary one opened nothing (#6 the door, #7 parting ways)
    assert "Protected decision" in card and "of the 2 affiliated organisations" in card, card
    assert "passed" in result.splitlines()[0], result
    assert "Organisations: 2 of 2 consented (Food Not Bombs and Federation)" in result, result
    assert ("The wage-ratio cap is now 1 : 2, below the pay scale's ratio 1 : 2.5: a revision is due (A1)."
            in result), result
    assert "'revises: A1' must pass by" in result, result
    # The sale closed on the same day: the Tenants Union's earlier yes no longer counts.
    sold = await posted(fake, f"Result of #{sale} ")
    assert "Disaffiliated before the count (no voice): Tenants Union." in sold, sold

    # No revision passes: at the deadline the group hears of it and gets the assembly's card.
    tg.clock.advance(days=30, seconds=1)
    await tg.tick()
    missed = await posted(fake, "The revision of pay cap breach A1")
    assert "was not passed by" in missed and "an emergency assembly is convened" in missed, missed
    await fake.wait_for(lambda f: any(t.startswith("Proposal #") and "Keep the current stewards?" in t
                                      for t in f.texts(GROUP)))
    _, assembly = card_of(fake, "Keep the current stewards?")
    assert "EMERGENCY ASSEMBLY" in assembly["text"] and "convened by pay cap breach A1" in assembly["text"]
    assert "Stewards now: user1" in assembly["text"], assembly["text"]
