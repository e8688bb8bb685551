"""Charter amendments: `amend: key = value; key = value` on a constitutional proposal."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from fractions import Fraction
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from handlers.charter import KINDS, Charter, DecisionRule
from handlers.money import BadAmount, parse_currency
from handlers.parsing import one_line, parse_duration


class BadAmendment(ValueError):
    """What is wrong with an amendment, in words for the member."""


def _share(text: str) -> Fraction:
    text = text.strip()
    try:
        value = Fraction(text[:-1].strip()) / 100 if text.endswith("%") else Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise BadAmendment(f"'{text}' is not a share (write 30% or 3/10)") from None
    if not 0 <= value <= 1:
        raise BadAmendment(f"'{text}' is not between 0% and 100%")
    return value


def _durations(text: str) -> tuple:
    parts = [p.strip() for p in text.split(",") if p.strip()]
    values = tuple(parse_duration(p) for p in parts)
    if not parts or any(v is None or v.total_seconds() <= 0 for v in values):
        raise BadAmendment(f"'{text}' is not a list of durations (write 24h, 1h)")
    return tuple(sorted(values, reverse=True))


def _months(text: str) -> int:
    if not text.strip().isdigit() or not 1 <= int(text) <= 240:
        raise BadAmendment(f"'{text}' is not a number of months from 1 to 240")
    return int(text)


def _funds(text: str) -> tuple:
    funds = []
    for part in text.split("|"):
        name, _, weight = part.partition("=")
        name = one_line(name)
        if not name or len(name) > 120:
            raise BadAmendment(f"'{part.strip()}' is not a fund (write name=weight | name=weight)")
        if weight.strip() and not (weight.strip().isdigit() and 0 < int(weight) <= 1000):
            raise BadAmendment(f"the weight of {name} must be a whole number from 1 to 1000")
        funds.append((name, int(weight) if weight.strip() else 1))
    return tuple(funds)


def _rule(charter: Charter, kind: str, which: str, text: str) -> dict:
    rule = charter.rules[kind]
    if which == "quorum":
        return {**charter.rules, kind: DecisionRule(_share(text), rule.threshold, rule.strict)}
    text = text.strip()
    strict = text.startswith(">") and not text.startswith(">=")
    share = _share(text.lstrip(">=").strip())
    return {**charter.rules, kind: DecisionRule(rule.quorum, share, strict)}


def _timezone(text: str) -> str:
    try:
        ZoneInfo(text.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise BadAmendment(f"'{text.strip()}' is not a timezone (write Europe/Berlin or America/New_York)") from None
    return text.strip()


def _yes(text: str) -> bool:
    if text.strip().lower() not in ("yes", "no"):
        raise BadAmendment("write yes or no")
    return text.strip().lower() == "yes"


def _currency(text: str) -> str:
    try:
        return parse_currency(text)
    except BadAmount:
        raise BadAmendment(f"'{text.strip()}' is not a currency code") from None


def _split(text: str) -> str:
    if text.strip().lower() not in ("equal", "hours"):
        raise BadAmendment("write equal or hours")
    return text.strip().lower()


def _movement(text: str) -> Decimal:
    try:
        return Decimal(_share(text).numerator) / Decimal(_share(text).denominator)
    except InvalidOperation:
        raise BadAmendment(f"'{text}' is not a share") from None


def _one_duration(text: str):
    (value,) = _durations(text) if "," not in text else (None,)
    if value is None:
        raise BadAmendment(f"'{text}' is not one duration")
    return value


FIELDS = {
    "timezone": ("timezone", _timezone),
    "voting_period": ("voting_period", _one_duration),
    "reminder_offsets": ("reminder_offsets", _durations),
    "audit_every": ("audit_every_months", _months),
    "audit_reminders": ("audit_reminders", _durations),
    "sunset_every": ("sunset_every_months", _months),
    "movement_share": ("movement_share", _movement),
    "movement_funds": ("movement_funds", _funds),
    "member_split": ("member_split", _split),
    "currency": ("currency", _currency),
    "vow_waiver": ("vow_waiver", _yes),
    "vow_every": ("vow_every", _one_duration),
    "vow_reminders": ("vow_reminders", _durations),
}
KEYS = sorted(FIELDS) + [f"{which}.{kind}" for which in ("quorum", "threshold") for kind in KINDS]


def parse(text: str, charter: Charter) -> tuple[Charter, list[str]]:
    """The charter as it would read after the amendment, and the changes in words."""
    changed, said = charter, []
    for part in text.split(";"):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        key = key.strip().lower().replace(" ", "_")
        if not sep or not value.strip():
            raise BadAmendment(f"'{one_line(part)[:60]}' is not key = value")
        if key in FIELDS:
            field, read = FIELDS[key]
            changed = changed.with_changes(**{field: read(value)})
        elif "." in key and key.split(".", 1)[0] in ("quorum", "threshold") and key.split(".", 1)[1] in KINDS:
            which, kind = key.split(".", 1)
            changed = changed.with_changes(rules=_rule(changed, kind, which, value))
        else:
            raise BadAmendment(f"the charter has no key '{key[:40]}'; it has: {', '.join(KEYS)}")
        said.append(f"{key} = {one_line(value)}")
    if not said:
        raise BadAmendment("nothing to amend")
    return changed, said


def patch(before: Charter, after: Charter) -> dict:
    """Only what the amendment changes, so two amendments decided one after the other both hold."""
    old, new = before.to_json(), after.to_json()
    changes = {key: value for key, value in new.items() if key != "rules" and old.get(key) != value}
    rules = {kind: rule for kind, rule in new["rules"].items() if old["rules"].get(kind) != rule}
    if rules:
        changes["rules"] = rules
    return changes
