"""Protected decisions through the core as a chat, on SQLite and PostgreSQL: the members' protected
quorum and threshold, the affiliated organisations' consent, the golden share's veto and call-in,
and firewall keys that only a protected decision changes."""

import asyncio
import json
import re

from bot.export import collect, to_csv
from bot.verify import problems
from handlers import draws, texts
from handlers.events import CommandReceived
from handlers.pack import audit_pack
from handlers.proposals import close_due
from storage.models import Consent
from sqlalchemy import select
from tests.conftest import Chat, make_coop
from tests.test_allies import decide, told

ORGS = {"carol": "Tenants Union", "dave": "Food Not Bombs", "erin": "Federation"}


async def movement(chat: Chat, clock) -> list[str]:
    """A co-op of five members with three affiliated organisations, an ally each (carol, dave,
    erin), and the golden share held by the Federation (set by a protected amendment the
    organisations consented to)."""
    names = await make_coop(chat, 4)
    for ally, org in ORGS.items():
        await decide(chat, clock, names, f"affiliate: {org}")
        assert "is now an ally" in await told(chat, "alice", f"/ally {ally}\norg: {org}")
    card, result = await protected(chat, clock, names, "Golden share", "amend: golden_share = federation",
                                   consents={"carol": "yes", "dave": "yes"})
    assert "protected" in card and "passed" in result
    assert "The charter is amended: golden_share = federation." in result
    assert "Golden share: Federation" in await chat.say("m1", "/allies")
    return names


async def consents(gov, proposal_id: int) -> list[bool]:
    """What the organisations said on one proposal, as stored."""
    async with gov.stores.db.read() as s:
        return list((await s.execute(select(Consent.yes).where(Consent.proposal_id == proposal_id))).scalars())


async def counted(chat: Chat, clock, **later) -> str:
    """The clock moves on by `later` and counts what fell due (one proposal): its result."""
    clock.advance(**later)
    assert await close_due(chat.gov.stores, clock.now(), chat.gov.before_close) == 1
    await chat.drain()
    return chat.last


def number_of(card: str) -> str:
    return re.match(r"Proposal #(\d+)", card).group(1)


async def protected(chat: Chat, clock, voters: list[str], title: str, lines: str = "kind: protected",
                    consents: dict[str, str] | None = None, veto: tuple[str, str] | None = None,
                    vote: str = "For") -> tuple[str, str]:
    """Propose, `voters` vote, allies consent (or not), perhaps a veto, seven days pass: (card, result)."""
    await chat.say("alice", f"/propose {title}\n{lines}")
    card = chat.last
    number = number_of(card)
    for name in voters:
        assert "Recorded" in await chat.say(name, f"/vote {number} {vote}")
    for ally, word in (consents or {}).items():
        assert "consent" in await chat.say(ally, f"/consent {number} {word}")
    if veto is not None:
        await told(chat, veto[0], f"/veto {number} {veto[1]}")
    else:
        await counted(chat, clock, days=7, minutes=1)
    result = next(t for t in chat.announced if t.startswith(f"Result of #{number}"))
    return card, result


async def test_a_protected_decision_passes_only_with_members_organisations_and_no_veto(chat, clock):
    names = await movement(chat, clock)
    card, result = await protected(chat, clock, names, "Sell the bakery to X Ltd",
                                   consents={"carol": "yes", "dave": "no", "erin": "yes"})
    # The card says all three parts: members, organisations, veto.
    assert "protected" in card and "Quorum 75% of 5 members; passes with at least 4/5" in card
    assert "needs at least 2/3 of the 3 affiliated organisations to consent" in card
    assert "no veto from the golden share (Federation)" in card
    assert "Result of #" in result and "passed." in result.splitlines()[0]
    assert "Organisations: 2 of 3 consented (Tenants Union and Federation); needed at least 2/3: met." in result
    assert "Said no: Food Not Bombs." in result and "Veto: none." in result


async def test_a_veto_of_the_golden_share_defeats_it_at_once(chat, clock):
    names = await movement(chat, clock)
    before = len(chat.announced)
    _, result = await protected(chat, clock, names, "Sell the bakery to X Ltd",
                                consents={"carol": "yes", "dave": "yes", "erin": "yes"},
                                veto=("erin", "a sale to private interests"))
    said = "\n".join(chat.announced[before:])
    assert "is vetoed by erin for Federation, which holds the golden share: a sale to private interests" in said
    assert "failed (vetoed by the golden share)" in result
    assert "Vetoed by erin for Federation (the golden share): a sale to private interests." in result
    p = await chat.gov.stores.proposals.get(1, int(re.search(r"#(\d+)", result).group(1)))
    assert p.status == "closed" and p.result["passed"] is False and p.veto["org"] == "Federation"


async def test_too_few_organisations_or_too_few_members_fail_it(chat, clock):
    names = await movement(chat, clock)
    _, result = await protected(chat, clock, names, "Sell the van", consents={"carol": "yes"})
    assert "failed (too few affiliated organisations consented)" in result
    assert "Organisations: 1 of 3 consented (Tenants Union); needed at least 2/3: not met." in result
    assert "Did not say: Food Not Bombs and Federation." in result
    # Three of five members (60%) are under the protected quorum (75%), whatever the organisations say.
    _, result = await protected(chat, clock, names[:3], "Sell the oven",
                                consents={"carol": "yes", "dave": "yes", "erin": "yes"})
    assert "failed (quorum not met)" in result and "Organisations: 3 of 3 consented" in result
    # Four of five For and one Against is 4/5: enough. Three For and two Against is not.
    await chat.say("alice", "/propose Sell the shop\nkind: protected")
    number = number_of(chat.last)
    for name, choice in zip(names, ("For", "For", "For", "Against", "Against")):
        await chat.say(name, f"/vote {number} {choice}")
    for ally in ORGS:
        await chat.say(ally, f"/consent {number} yes")
    assert "failed (threshold not met)" in await counted(chat, clock, days=7, minutes=1)


async def test_protect_calls_an_ordinary_sale_in(chat, clock):
    names = await movement(chat, clock)
    await chat.say("m1", "/propose Sell the bakery to X Ltd\ncloses: 2h")
    card = chat.last
    number = number_of(card)
    assert "ordinary" in card
    for name in names:
        await chat.say(name, f"/vote {number} For")
    # Only an ally of the golden-share holder may call it in.
    assert "Only an ally of Federation" in await chat.say("carol", f"/protect {number}")
    assert "Only an ally of Federation" in await chat.say("alice", f"/protect {number}")
    before = len(chat.announced)
    await told(chat, "erin", f"/protect {number}")
    said = "\n".join(chat.announced[before:])
    assert f"#{number} Sell the bakery to X Ltd is called in as a protected decision by erin for Federation" in said
    assert "at least 2/3 of the 3 affiliated organisations consenting" in said
    shown = await chat.say("m1", f"/show {number}")
    assert "protected" in shown and "Called in as protected by erin for Federation" in shown
    assert "Organisations so far: Tenants Union not yet; Food Not Bombs not yet; Federation not yet." in shown
    # It no longer closes in two hours, and no steward can close it before its seven days.
    clock.advance(hours=3)
    assert await close_due(chat.gov.stores, clock.now(), chat.gov.before_close) == 0
    assert "cannot be closed before then" in await chat.say("alice", f"/close {number}")
    assert "is a protected decision already" in await chat.say("erin", f"/protect {number}")
    result = await counted(chat, clock, days=7)
    assert "failed (too few affiliated organisations consented)" in result and "Votes: For 5" in result


async def test_firewall_amendments_are_protected_never_ordinary(chat, clock):
    names = await make_coop(chat, 4)
    refused = await chat.say("alice", "/propose Cap at 1:5\namend: wage_ratio_cap = 5\nkind: ordinary")
    assert "wage_ratio_cap guards the co-op's firewalls: changing it is a protected decision" in refused
    refused = await chat.say("alice", "/propose Cap at 1:5\namend: wage_ratio_cap = 5; voting_period = 4d\n"
                                      "kind: constitutional")
    assert "protected decision" in refused
    assert "7d" in await chat.say("alice", "/propose Cap at 1:5\namend: wage_ratio_cap = 5\ncloses: 2d")
    assert await chat.gov.stores.proposals.list(1) == []
    # Without a kind it is counted as protected, and its card says so.
    card, result = await protected(chat, clock, names, "Cap at 1:5", "amend: wage_ratio_cap = 5")
    assert "protected" in card and "no organisation was affiliated when it became protected" in card
    assert "passed" in result and "The charter is amended: wage_ratio_cap = 5." in result
    charter = await chat.say("m1", "/charter")
    assert "at most 1 : 5.  [wage_ratio_cap, firewall]" in charter
    assert "One member, one vote" in charter and "no amendment can add one" in charter


async def test_non_holders_cannot_veto_or_consent_and_allies_never_vote(chat, clock):
    names = await movement(chat, clock)
    await chat.say("alice", "/propose Sell the bakery\nkind: protected")
    number = number_of(chat.last)
    assert "consent is an affiliated organisation's voice" in await chat.say("m1", f"/consent {number} yes")
    assert "Only an ally of Federation" in await chat.say("m1", f"/veto {number} no")
    assert "Only an ally of Federation" in await chat.say("carol", f"/veto {number} no")
    assert "not" in (await chat.say("mallory", f"/consent {number} yes")).lower()
    assert "allies do not vote" in await chat.say("carol", f"/vote {number} For")
    assert "Say yes or no" in await chat.say("carol", f"/consent {number} maybe")
    assert "needs its reason" in await chat.say("erin", f"/veto {number}")
    # Nothing of it was recorded.
    p = await chat.gov.stores.proposals.get(1, int(number))
    assert await consents(chat.gov, p.id) == []
    assert p.veto is None and p.status == "open"
    # An ordinary proposal takes neither consent nor veto.
    await chat.say("alice", "/propose Paint the door")
    other = number_of(chat.last)
    assert "not a protected decision" in await chat.say("carol", f"/consent {other} yes")
    assert "not a protected decision" in await chat.say("erin", f"/veto {other} no")


async def test_the_last_word_of_an_organisation_counts(chat, clock):
    names = await movement(chat, clock)
    assert "is now an ally" in await told(chat, "carol", "/ally frank\norg: Tenants Union")
    await chat.say("alice", "/propose Sell the bakery\nkind: protected")
    number = number_of(chat.last)
    assert "Tenants Union consents" in await chat.say("carol", f"/consent {number} yes")
    answer = await chat.say("frank", f"/consent {number} no")
    assert "Tenants Union does not consent" in answer and "replaces what Tenants Union said before" in answer
    assert "Tenants Union no" in await chat.say("m1", f"/show {number}")
    p = await chat.gov.stores.proposals.get(1, int(number))
    assert await consents(chat.gov, p.id) == [False]


async def test_two_allies_of_one_organisation_at_once_leave_one_voice(chat, clock, gov):
    """The unique (proposal, organisation) guard, raced: two allies speak for one organisation at
    the same moment; one row remains, and it is one of the two."""
    names = await movement(chat, clock)
    assert "is now an ally" in await told(chat, "carol", "/ally frank\norg: Tenants Union")
    await chat.say("alice", "/propose Sell the bakery\nkind: protected")
    number = number_of(chat.last)
    said = await asyncio.gather(*(gov.handle_command(CommandReceived(chat.chat, chat.user(who), f"/consent {number} {w}",
                                                                     f"race-{who}"))
                                  for who, w in (("carol", "yes"), ("frank", "no"))))
    assert all("consent" in replies[0].text for replies in said)
    p = await gov.stores.proposals.get(1, int(number))
    assert len(await consents(gov, p.id)) == 1


async def test_a_removed_organisation_loses_its_voice(chat, clock):
    names = await movement(chat, clock)
    await chat.say("alice", "/propose Sell the bakery\nkind: protected\ncloses: 8d")
    number = number_of(chat.last)
    for name in names:
        await chat.say(name, f"/vote {number} For")
    assert "Tenants Union consents" in await chat.say("carol", f"/consent {number} yes")
    assert "Food Not Bombs consents" in await chat.say("dave", f"/consent {number} yes")
    # The co-op disaffiliates the Tenants Union while the vote runs: its ally lapses, and its yes no longer counts.
    _, result = await decide(chat, clock, names, "disaffiliate: Tenants Union", title="Part ways")
    assert "passed" in result
    assert "Your allyship with Red Bakery has ended" in await chat.say("carol", f"/consent {number} yes")
    result = await counted(chat, clock, days=8)
    assert "failed (too few affiliated organisations consented)" in result
    assert "Organisations: 1 of 3 consented (Food Not Bombs)" in result
    assert "Disaffiliated before the count (no voice): Tenants Union." in result


async def test_an_organisation_affiliated_later_has_no_voice(chat, clock):
    names = await movement(chat, clock)
    await chat.say("alice", "/propose Sell the bakery\nkind: protected\ncloses: 8d")
    number = number_of(chat.last)
    await decide(chat, clock, names, "affiliate: Bakers Guild", title="Welcome the guild")
    assert "is now an ally" in await told(chat, "alice", "/ally gina\norg: Bakers Guild")
    assert "was not affiliated when" in await chat.say("gina", f"/consent {number} yes")


async def test_disaffiliating_the_golden_share_holder_is_protected(chat, clock):
    names = await movement(chat, clock)
    refused = await chat.say("alice", "/propose Part ways\ndisaffiliate: Federation\nkind: strategic")
    assert "Federation holds the golden share: disaffiliating it is a protected decision" in refused
    await chat.say("alice", "/propose Part ways\ndisaffiliate: Federation")
    assert "protected" in chat.last.splitlines()[1]
    # The golden share goes only to an affiliated organisation.
    refused = await chat.say("alice", "/propose Give it away\namend: golden_share = Acme Ltd")
    assert "The golden share goes to an affiliated organisation; Acme Ltd is not one" in refused


async def test_a_called_in_proposal_cannot_be_edited_into_something_else(chat, clock):
    names = await movement(chat, clock)
    await chat.say("m1", "/propose Sell the bakery to X Ltd", event_id="m1-sale")
    number = number_of(chat.last)
    await told(chat, "erin", f"/protect {number}")
    answer = await chat.say("m1", "/propose Buy flour", event_id="m1-sale-edit", corrects="m1-sale")
    assert "can no longer be edited" in answer
    assert (await chat.gov.stores.proposals.get(1, int(number))).title == "Sell the bakery to X Ltd"


async def test_the_record_carries_consents_vetoes_and_call_ins(chat, clock):
    """The minutes hold every consent, veto and call-in (the start check and `coopbot verify`
    pass); the export and its CSV carry each organisation's word and the veto; the audit pack
    lists the golden share's vetoes and call-ins."""
    names = await movement(chat, clock)
    await protected(chat, clock, names, "Sell the bakery to X Ltd", consents={"carol": "yes", "dave": "no"},
                    veto=("erin", "a sale to private interests"))
    await chat.say("m1", "/propose Sell the van\ncloses: 2h")
    await told(chat, "erin", f"/protect {number_of(chat.last)}")
    stores = chat.gov.stores
    assert await stores.minutes.check(stores.proposals.recount, draws.replay_problem) == []
    data = json.loads(json.dumps(await collect(stores)))
    assert problems(data) == []
    sale = next(p for p in data["coops"][0]["proposals"] if p["title"] == "Sell the bakery to X Ltd")
    assert sale["result"]["reason"] == "veto"
    assert sale["protected"]["veto"]["reason"] == "a sale to private interests"
    assert [(o["name"], o["consent"]) for o in sale["protected"]["organisations"]] == [
        ("Tenants Union", True), ("Food Not Bombs", False), ("Federation", None)]
    csv = to_csv(data)
    assert "Red Bakery,consent,5,Sell the bakery to X Ltd,carol,,,yes,,Tenants Union" in csv
    assert "Red Bakery,veto,5,Sell the bakery to X Ltd,erin,,,,,Federation: a sale to private interests" in csv
    pack = await audit_pack(stores, await stores.coops.get(1), clock.now())
    part = next(x for x in pack.split("\n\n") if x.startswith(texts.PACK_VETOES))
    assert "#5 vetoed by erin for Federation on" in part and ": a sale to private interests" in part
    assert "#6 called in as protected by erin for Federation on" in part


async def test_a_golden_share_holder_disaffiliated_by_a_protected_decision_holds_no_veto(chat, clock):
    names = await movement(chat, clock)
    _, result = await protected(chat, clock, names, "Part ways", "disaffiliate: Federation",
                                consents={"carol": "yes", "dave": "yes"})
    assert "passed" in result and "Federation is no longer affiliated" in result
    assert "Golden share: Federation, no longer affiliated: nobody holds the veto" in await chat.say("m1", "/allies")
    await chat.say("alice", "/propose Sell the bakery\nkind: protected")
    assert "Your allyship with Red Bakery has ended" in await chat.say("erin", f"/veto {number_of(chat.last)} no")


# --- found by a hostile review ---
async def test_a_steward_cannot_silence_the_golden_share_nor_speak_for_organisations(chat, clock):
    """A hostile steward would remove the golden share's only ally (no veto left) and make puppet
    accounts allies of every organisation to consent in their names: neither is possible, and
    the sale fails without the organisations."""
    names = await movement(chat, clock)
    await chat.say("alice", "/propose Sell the bakery to X Ltd\nkind: protected")
    number = number_of(chat.last)
    for name in names:
        await chat.say(name, f"/vote {number} For")
    assert "Only an ally from Federation can end an allyship" in await chat.say("alice", "/unally erin")
    for i, org in enumerate(ORGS.values()):
        assert "has allies already" in await chat.say("alice", f"/ally puppet{i}\norg: {org}")
        assert "not on its register" in await chat.say(f"puppet{i}", f"/consent {number} yes")
    assert "passed." not in (await counted(chat, clock, days=7, minutes=1)).splitlines()[0]


async def test_a_disaffiliation_opened_before_its_organisation_held_the_golden_share_cannot_pass(chat, clock):
    """A strategic `disaffiliate: Federation`, opened before the Federation held the golden share
    and counted after, would remove the holder without a protected decision: it changes nothing."""
    names = await make_coop(chat, 4)
    for ally, org in ORGS.items():
        await decide(chat, clock, names, f"affiliate: {org}")
        await told(chat, "alice", f"/ally {ally}\norg: {org}")
    await chat.say("alice", "/propose Part ways with the Federation\ndisaffiliate: Federation\ncloses: 9d")
    parting = number_of(chat.last)
    assert "strategic" in chat.last
    await chat.say("alice", "/propose Golden share\namend: golden_share = Federation")
    golden = number_of(chat.last)
    for name in names:
        await chat.say(name, f"/vote {golden} For")
        await chat.say(name, f"/vote {parting} For")
    for ally in ORGS:
        await chat.say(ally, f"/consent {golden} yes")
    assert "passed" in await counted(chat, clock, days=7, minutes=1)
    result = await counted(chat, clock, days=2)
    assert result.startswith(f"Result of #{parting}")
    assert "failed (its organisation came to hold the golden share: only a protected decision disaffiliates it)" \
        in result and "no longer affiliated" not in result
    listing = await chat.say("m1", "/allies")
    assert "Golden share: Federation" in listing and "no longer affiliated" not in listing


async def test_an_edit_racing_a_call_in_does_not_undo_it(chat, clock, monkeypatch):
    """Two processes: the author's edit read the proposal before the golden share's call-in
    committed, and writes after it. The store refuses it under the proposal's lock."""
    await movement(chat, clock)
    await chat.say("m1", "/propose Sell the bakery to X Ltd\ncloses: 2h", event_id="m1-sale")
    number = int(number_of(chat.last))
    store = chat.gov.stores.proposals
    stale = await store.get(1, number)
    await told(chat, "erin", f"/protect {number}")

    async def opened_by(coop_id, source):  # the edit's read, made before the call-in committed
        return stale if source == "m1-sale" else None

    monkeypatch.setattr(store, "opened_by", opened_by)
    answer = await chat.say("m1", "/propose Sell the bakery to X Ltd\ncloses: 2h", event_id="m1-edit",
                            corrects="m1-sale")
    assert "can no longer be edited" in answer
    p = await store.get(1, number)
    assert p.kind == "protected" and p.protection["by"]["org"] == "Federation"


async def test_redelivered_consents_and_vetoes_count_once(chat, clock):
    await movement(chat, clock)
    await chat.say("alice", "/propose Sell the bakery\nkind: protected")
    number = number_of(chat.last)
    await chat.say("carol", f"/consent {number} yes", event_id="c-yes")
    await chat.say("carol", f"/consent {number} no", event_id="c-no")
    await chat.say("carol", f"/consent {number} yes", event_id="c-yes")  # the platform delivers it again
    p = await chat.gov.stores.proposals.get(1, int(number))
    assert await consents(chat.gov, p.id) == [False]
    await chat.say("erin", f"/veto {number} no sale", event_id="v1")
    await chat.say("erin", f"/veto {number} no sale", event_id="v1")
    await chat.drain()
    assert sum(t.startswith(f"Result of #{number}") for t in chat.announced) == 1
