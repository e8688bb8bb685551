"""Charter keys, declared once in handlers.charter.KEYS: bounds named when refused, every key
amendable and shown, the stored format kept, and the table as the single source."""

from __future__ import annotations

from datetime import timedelta
from fractions import Fraction

import pytest

from handlers import amend, texts
from handlers.charter import KEYS, Charter, CharterKey, Months, charter_class
from handlers.proposals import close_due
from tests.conftest import make_coop

# For every key: values past each of its bounds, and what the refusal must say (naming the bound).
PAST_BOUNDS: dict[str, list[tuple[str, str]]] = {
    **{f"quorum.{kind}": [("9%", f"quorum.{kind} must be from 10% to 100%"),
                          ("101%", f"quorum.{kind} must be from 10% to 100%")]
       for kind in ("ordinary", "strategic", "constitutional", "protected")},
    **{f"threshold.{kind}": [("50%", f"threshold.{kind} must be from more than 1/2 to all"),
                             ("0%", f"threshold.{kind} must be from more than 1/2 to all"),
                             ("> 100%", f"threshold.{kind} must be from more than 1/2 to all")]
       for kind in ("ordinary", "strategic", "constitutional", "protected")},
    "voting_period": [("29s", "voting_period must be from 30s to 365d"),
                      ("366d", "voting_period must be from 30s to 365d")],
    **{key: [("59s", f"each of {key} must be from 1m to 365d"),
             ("366d", f"each of {key} must be from 1m to 365d"),
             ("6h, 5h, 4h, 3h, 2h, 1h", f"{key} takes at most 5 offsets (6 given)"),
             ("2h, 120m", f"{key} gives 2h twice")]
       for key in ("reminder_offsets", "audit_reminders", "vow_reminders")},
    **{key: [("0", f"{key} must be from 1 month to 240 months"),
             ("241", f"{key} must be from 1 month to 240 months")]
       for key in ("audit_every", "sunset_every")},
    "audit_auditors": [("0", "audit_auditors must be from 1 auditor to 12 auditors"),
                       ("13", "audit_auditors must be from 1 auditor to 12 auditors"),
                       ("two", "'two' is not a whole number of auditors")],
    "audit_window": [("29s", "audit_window must be from 30s to 365d"), ("366d", "audit_window must be from 30s to 365d")],
    "audit_cooldown": [("21", "audit_cooldown must be from 0 audits to 20 audits"),
                       ("-1", "'-1' is not a whole number of audits")],
    "revision_days": [("0", "revision_days must be from 1 day to 365 days"),
                      ("366", "revision_days must be from 1 day to 365 days")],
    "assembly_notice": [("29s", "assembly_notice must be from 30s to 365d"),
                        ("366d", "assembly_notice must be from 30s to 365d")],
    "movement_share": [("101%", "movement_share must be from 0% to 100%"),
                       ("-1%", "movement_share must be from 0% to 100%")],
    "movement_funds": [(" | ".join(f"fund {i}" for i in range(21)), "movement_funds must name from 1 to 20 funds"),
                       ("x" * 121, "a fund's name can be at most 120 characters"),
                       ("a=0 | b", "the weight of a must be from 1 to 1000"),
                       ("a=1001", "the weight of a must be from 1 to 1000"),
                       ("a | A=2", "the fund A is given twice")],
    "member_split": [("by shares", "member_split is equal or hours")],
    "currency": [("XYZ", "not an ISO 4217 currency code"), ("EURO", "not an ISO 4217 currency code")],
    "vow_waiver": [("maybe", "vow_waiver is yes or no")],
    "vow_every": [("23h", "vow_every must be from 1d to 365d"), ("366d", "vow_every must be from 1d to 365d")],
    "timezone": [("Mars/Base", "not a timezone"), ("UTC+2", "not a timezone")],
    "language": [("klingon", "language is en or es or fr or de"), ("español", "language is en or es or fr or de")],
    "wage_ratio_cap": [("0.5", "wage_ratio_cap must be from 1 : 1 to 1 : 100"),
                       ("1:101", "wage_ratio_cap must be from 1 : 1 to 1 : 100"),
                       ("1:3.25", "'1:3.25' is not a ratio (write 3 or 1:3"),
                       ("3:1:2", "'3:1:2' is not a ratio")],
    "full_time_hours": [("0", "full_time_hours must be from 1 hour to 744 hours"),
                        ("745", "full_time_hours must be from 1 hour to 744 hours"),
                        ("40h", "'40h' is not a whole number of hours")],
    "open_pay": [("sometimes", "open_pay is yes or no")],
    "bodies_threshold": [("1/2", "bodies_threshold must be from more than 1/2 to all"),
                         ("0", "bodies_threshold must be from more than 1/2 to all")],
    "golden_share": [("x" * 121, "an organisation's name can be at most 120 characters")],
    **{key: [("0", f"{key} must be from 1 month to 240 months"), ("241", f"{key} must be from 1 month to 240 months")]
       for key in ("mirror_every", "drill_every")},
    "mirror_formats": [(" | ".join(f"f{i}" for i in range(11)), "mirror_formats takes at most 10 names (11 given)"),
                       ("x" * 101, "a name can be at most 100 characters"),
                       ("circles | Circles", "Circles is given twice"),
                       ("circles | ", "is not a list of names separated by |")],
    "facilitator_cooldown": [("1001", "facilitator_cooldown must be from 0 shifts to 1000 shifts"),
                             ("lots", "'lots' is not a whole number of shifts")],
    "drill_team": [("0", "drill_team must be from 1 member to 12 members"),
                   ("13", "drill_team must be from 1 member to 12 members")],
    "drill_days": [("0", "drill_days must be from 1 day to 60 days"), ("61", "drill_days must be from 1 day to 60 days")],
    "proxies": [("maybe", "proxies is yes or no")],
    "proxy_limit": [("0", "proxy_limit must be from 1 member to 100 members"),
                    ("101", "proxy_limit must be from 1 member to 100 members"),
                    ("two", "'two' is not a whole number of members")],
}

# For every key: a good value, and the words `charter` then shows.
GOOD: dict[str, tuple[str, str]] = {
    "quorum.ordinary": ("10%", "ordinary: quorum 10% of the register"),
    "threshold.ordinary": ("more than 3/5", "ordinary: passes with more than 3/5"),
    "quorum.strategic": ("100%", "strategic: quorum 100% of the register"),
    "threshold.strategic": ("all", "strategic: passes with all"),
    "quorum.constitutional": ("2/3", "constitutional: quorum 66.7% of the register"),
    "threshold.constitutional": ("> 2/3", "constitutional: passes with more than 2/3"),
    "quorum.protected": ("90%", "protected: quorum 90% of the register"),
    "threshold.protected": ("all", "protected: passes with all"),
    "voting_period": ("365d", "Voting period: 365d unless"),
    "reminder_offsets": ("1m, 2h, 1d, 7d, 365d", "Deadline reminders: 365d, 7d, 1d, 2h, 1m before closing."),
    "audit_every": ("1", "Liberation audit every 1 month from founding."),
    "audit_reminders": ("14d", "Audit reminders: 14d before each audit."),
    "sunset_every": ("240", "Sunset vote every 240 months from founding."),
    "audit_auditors": ("1", "Each audit draws 1 auditor from the allies"),
    "audit_window": ("14d", "Auditors give their verdicts within 14d of being drawn."),
    "audit_cooldown": ("0", "Whoever audited in the last 0 audits is not drawn again."),
    "revision_days": ("60", "must pass within 60 days, or an emergency assembly is convened."),
    "assembly_notice": ("2d", "An emergency assembly is announced 2d ahead."),
    "movement_share": ("0%", "Movement share of surplus: 0%."),
    "movement_funds": ("bail fund=3 | strike fund", "Movement funds: bail fund (weight 3), strike fund (weight 1)."),
    "member_split": ("hours", "Members' part: by recorded hours."),
    "currency": ("jpy", "Currency: JPY."),
    "vow_waiver": ("no", "Vow waivers: no vow may be waived."),
    "vow_reminders": ("2d, 1h", "Vow reminders: 2d, 1h before a payout date."),
    "vow_every": ("1d", "Without a payout date, vow reminders every 1d."),
    "timezone": ("america/new_york", "Timezone: America/New_York."),
    "language": ("ES", "Idioma: español"),  # read in Spanish, once the charter says so
    "wage_ratio_cap": ("1 : 4.5", "Wage-ratio cap: highest to lowest hourly pay at most 1 : 4.5."),
    "full_time_hours": ("173", "Monthly pay converts to hourly at 173 hours a month."),
    "open_pay": ("no", "Pay: closed, members see the ratio and their own."),
    "bodies_threshold": ("all", "A protected decision needs all of the affiliated organisations to consent."),
    "golden_share": ("bakers union", "Golden share (veto over protected decisions): Bakers Union."),
    "mirror_every": ("6", "Mirror shift every 6 months from founding."),
    "mirror_formats": ("circles | a walk", "Mirror shift formats, one drawn each time (never the last used): circles | a walk."),
    "facilitator_cooldown": ("2", "Whoever facilitated one of the last 2 shifts is not drawn to facilitate again."),
    "drill_every": ("24", "Adversary drill every 24 months from founding."),
    "drill_team": ("5", "Each drill's red team: 5 members, drawn by lot."),
    "drill_days": ("14", "A drill's red team tempts for 14 days."),
    "proxies": ("yes", "Proxies: a member may let another vote for them (never on protected decisions)."),
    "proxy_limit": ("3", "One member may hold proxies for at most 3 members at once."),
}

NAMES = [k.name for k in KEYS]


def refusal(text: str) -> str:
    with pytest.raises(amend.BadAmendment) as caught:
        amend.parse(text, Charter())
    return str(caught.value)


def test_every_key_has_bound_cases_a_good_value_and_words():
    """A key added to the table without its words or these cases fails here first."""
    assert set(PAST_BOUNDS) == set(NAMES) == set(GOOD) == set(texts.CHARTER_WORDS)


@pytest.mark.parametrize("name, value, problem",
                         [(name, value, problem) for name in NAMES for value, problem in PAST_BOUNDS[name]])
def test_a_value_past_a_bound_is_refused_naming_the_bound(name, value, problem):
    assert problem in refusal(f"{name} = {value}")


@pytest.mark.parametrize("name", NAMES)
def test_the_same_key_twice_is_refused(name):
    value = GOOD[name][0]
    assert refusal(f"{name} = {value}; {name} = {value}") == f"{name} is given twice"


# `language` changes the words this test reads: tests/test_languages.py amends it and reads them in Spanish.
@pytest.mark.parametrize("name", [n for n in NAMES if n != "language"])
async def test_a_good_value_is_amended_and_shown_by_charter(chat, clock, name):
    value, words = GOOD[name]
    firewall = Charter().key(name).firewall
    await make_coop(chat, 1)
    number = 1
    if name == "golden_share":
        # The golden share goes to an affiliated organisation: affiliate one first.
        await chat.say("alice", "/propose Affiliate the union\n  affiliate: Bakers Union")
        for who in ("alice", "m1"):
            await chat.say(who, "/vote 1 For")
        await chat.say("alice", "/close 1")
        assert "Bakers Union is now an affiliated organisation" in chat.last
        await chat.say("alice", "/ally carol\norg: Bakers Union")
        number = 2
    await chat.say("alice", f"/propose Change {name}\n  amend: {name} = {value}")
    assert f"Proposal #{number}" in chat.last
    for who in ("alice", "m1"):
        await chat.say(who, f"/vote {number} For")
    if firewall:
        # A firewall key changes only by a protected decision, which stays open seven days.
        assert "protected" in await chat.say("m1", f"/show {number}")
        assert "cannot be closed before then" in await chat.say("alice", f"/close {number}")
        if name == "golden_share":  # the one affiliated organisation must consent too
            assert "Bakers Union consents" in await chat.say("carol", f"/consent {number} yes")
        clock.advance(days=7, minutes=1)
        assert await close_due(chat.gov.stores, clock.now(), chat.gov.before_close) == 1
        await chat.drain()
    else:
        await chat.say("alice", f"/close {number}")
    assert f"The charter is amended: {name} = {value}." in chat.last
    shown = await chat.say("m1", "/charter")
    assert words in shown and (f"[{name}, firewall]" if firewall else f"[{name}]") in shown


# --- the cases found by trying it ---
async def test_a_zero_threshold_cannot_be_amended_so_a_unanimous_against_never_passes(chat):
    await make_coop(chat, 1)
    answer = await chat.say("alice", "/propose Anything goes\n  amend: threshold.ordinary = 0%")
    assert "threshold.ordinary must be from more than 1/2 to all" in answer
    assert "Usage: /propose" in answer and not any(t.startswith("Proposal") for t in chat.announced)
    # The least the charter allows still turns a unanimous Against down.
    amended, _ = amend.parse("threshold.ordinary = > 1/2", Charter())
    assert not amended.rule("ordinary").meets_threshold(Fraction(0))


async def test_the_voting_period_has_the_bounds_of_closes(chat):
    await make_coop(chat, 1)
    assert "can stay open for at most 365d" in await chat.say("alice", "/propose Long\n  closes: 999999d")
    answer = await chat.say("alice", "/propose Long\n  amend: voting_period = 9999d")
    assert "voting_period must be from 30s to 365d" in answer


@pytest.mark.parametrize("text, problem", [
    ("reminder_offsets = 400d", "each of reminder_offsets must be from 1m to 365d"),
    ("reminder_offsets = " + ", ".join(f"{m}m" for m in range(1, 1201)), "reminder_offsets takes at most 5 offsets"),
    ("vow_every = 1s", "vow_every must be from 1d to 365d"),
    ("timezone = UTC; timezone = CET", "timezone is given twice"),
])
def test_cases_that_passed_before_are_refused(text, problem):
    assert problem in refusal(text)


async def test_a_zero_month_sunset_is_refused_in_plain_words(chat):
    await make_coop(chat, 1)
    answer = await chat.say("alice", "/propose Never\n  amend: sunset_every = 0")
    assert "That amendment cannot be made: sunset_every must be from 1 month to 240 months." in answer
    assert "' 0'" not in answer


def test_an_unknown_key_gets_a_guess_and_the_list():
    problem = refusal("quorum.ordnary = 40%")
    assert "the charter has no key 'quorum.ordnary' (did you mean quorum.ordinary?)" in problem
    assert "its keys are: " + ", ".join(NAMES) in problem
    assert "did you mean" not in refusal("colour = red")


def test_unreadable_values_say_what_to_write():
    assert refusal("quorum.ordinary = lots") == "'lots' is not a share (write 30% or 3/10)"
    assert refusal("voting_period = 2h, 1h") == "'2h, 1h' is not one duration (write 72h or 3d)"
    assert refusal("audit_every = twelve") == "'twelve' is not a whole number of months"
    assert refusal("timezone") == "'timezone' is not key = value"
    assert refusal(" ; ") == "nothing to amend"


def test_firewall_keys_are_declared():
    """SPEC's firewall keys, exactly: `wage_ratio_cap`, `movement_share`, `movement_funds`,
    `golden_share`, `*.protected`, `bodies_threshold`, `audit_every`, `sunset_every`, `revision_days`."""
    assert {k.name for k in KEYS if k.firewall} == {
        "movement_share", "movement_funds", "audit_every", "sunset_every", "revision_days", "wage_ratio_cap",
        "golden_share", "quorum.protected", "threshold.protected", "bodies_threshold"}


# --- storage: the format co-ops already have, and amendments merged leaf by leaf ---
OLD_STORED = {
    "rules": {"ordinary": {"quorum": "2/5", "threshold": "1/2", "strict": True},
              "strategic": {"quorum": "3/5", "threshold": "2/3", "strict": False}},
    "voting_period_s": 3600, "reminder_offsets_s": [7200], "audit_every_months": 6, "sunset_every_months": 36,
    "audit_reminders_s": [86400], "movement_share": "0.25", "movement_funds": [["bail", 2]],
    "member_split": "hours", "currency": "USD", "vow_waiver": False, "vow_reminders_s": [3600],
    "vow_every_s": 86400,
}


def test_charters_stored_before_the_table_read_the_same_and_missing_keys_take_defaults():
    c = Charter.from_json(OLD_STORED)
    assert c.rule("ordinary").quorum == Fraction(2, 5) and c.rule("constitutional") == Charter().rule("constitutional")
    assert (c.voting_period, c.reminder_offsets, c.audit_every_months, c.sunset_every_months) == (
        timedelta(hours=1), (timedelta(hours=2),), 6, 36)
    assert (str(c.movement_share), c.movement_funds, c.member_split, c.currency, c.vow_waiver) == (
        "0.25", (("bail", 2),), "hours", "USD", False)
    assert c.timezone == "UTC"  # not stored: the default
    stored = c.to_json()
    assert {k: v for k, v in stored.items() if k in OLD_STORED and k != "rules"} == {
        k: v for k, v in OLD_STORED.items() if k != "rules"}
    assert stored["rules"]["ordinary"] == OLD_STORED["rules"]["ordinary"]
    assert Charter.from_json(stored) == c and Charter.from_json(None) == Charter() == Charter.from_json({})


async def test_two_amendments_of_one_kinds_rule_both_hold(chat):
    """One amends the ordinary quorum, the other its threshold; decided one after the other, the
    second does not put the first back."""
    await make_coop(chat, 1)
    await chat.say("alice", "/propose Lower quorum\n  amend: quorum.ordinary = 40%")
    await chat.say("alice", "/propose Higher bar\n  amend: threshold.ordinary = 2/3")
    for number in (1, 2):
        for who in ("alice", "m1"):
            await chat.say(who, f"/vote {number} For")
        await chat.say("alice", f"/close {number}")
    shown = await chat.say("m1", "/charter")
    assert "ordinary: quorum 40% of the register" in shown and "ordinary: passes with at least 2/3" in shown


# --- the table is the single source ---
def test_a_key_added_to_the_table_is_a_field_stored_amendable_and_shown(monkeypatch):
    toy = CharterKey("assembly_every", "assembly_every_months", Months(1, 60), 12, ("assembly_every_months",))
    Toy = charter_class(KEYS + (toy,))
    monkeypatch.setitem(texts.CHARTER_WORDS, "assembly_every", "General assembly every {value}.")
    c = Toy()
    assert c.assembly_every_months == 12 and c.to_json()["assembly_every_months"] == 12
    assert Toy.from_json(Charter().to_json()).assembly_every_months == 12  # stored before the key: its default
    amended, said = amend.parse("assembly_every = 6", c)
    assert amended.assembly_every_months == 6 and said == ["assembly_every = 6"]
    assert amend.patch(c, amended) == {"assembly_every_months": 6}
    assert Toy.from_json(amended.to_json()) == amended
    assert "assembly_every must be from 1 month to 60 months" in str(pytest.raises(
        amend.BadAmendment, amend.parse, "assembly_every = 61", c).value)
    assert "• General assembly every 6 months.  [assembly_every]" in texts.charter("Red Bakery", amended)


@pytest.mark.parametrize("name", NAMES)
def test_a_refusal_echoes_at_most_a_short_line_of_the_value(name):
    assert len(refusal(f"{name} = " + "x\n" * 3000)) < 400
