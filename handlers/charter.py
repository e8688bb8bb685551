"""The co-op's rules, declared once: each charter key with its type, default, bounds, storage and words."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, make_dataclass, replace
from datetime import timedelta
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache
from typing import Any, ClassVar
from zoneinfo import ZoneInfo, available_timezones

from handlers import i18n, texts
from handlers.money import BadAmount, parse_currency
from handlers.parsing import one_line, parse_duration
from handlers.tally import DecisionRule

KINDS = ("ordinary", "strategic", "constitutional", "protected")
BALLOTS = ("open", "secret")
# How long a proposal stays open: `closes:` and the charter's voting period share these bounds.
MIN_PERIOD = timedelta(seconds=30)
MAX_PERIOD = timedelta(days=365)

DEFAULT_RULES = {
    "ordinary": DecisionRule(Fraction(1, 2), Fraction(1, 2), strict=True),
    "strategic": DecisionRule(Fraction(3, 5), Fraction(2, 3), strict=False),
    "constitutional": DecisionRule(Fraction(3, 4), Fraction(3, 4), strict=False),
    "protected": DecisionRule(Fraction(3, 4), Fraction(4, 5), strict=False),
}
# A protected decision stays open at least this long (the organisations need time to consent).
PROTECTED_MIN = timedelta(days=7)

DEFAULT_FORMATS = ("small circles", "walking debate", "written confessions", "stories from allied struggles")

DEFAULT_FUNDS = (
    ("strike and mutual aid", 1),
    ("independent media", 1),
    ("organizer training", 1),
    ("legal defence", 1),
    ("seed capital for new co-ops", 1),
)


class BadAmendment(ValueError):
    """What is wrong with an amendment, in words for the member."""


@dataclass(frozen=True, order=True)
class Threshold:
    """A pass threshold: `share` of For among For + Against, reached ("at least") or passed
    (`strict`, "more than"). Ordered from the least demanding: more than 1/2 > at least 1/2."""

    share: Fraction
    strict: bool


# --- kinds of value: how each is read from a member, bounded, stored (as JSON leaves) and shown ---
class Value:
    py: ClassVar[type] = object

    def parse(self, text: str, key: str) -> Any:
        raise NotImplementedError

    def dump(self, value) -> tuple:
        return (value,)

    def load(self, *leaves):
        return leaves[0]

    def show(self, value) -> str:
        return str(value)

    def bounded(self, value, low, high, key: str):
        if not low <= value <= high:
            raise BadAmendment(texts.AMEND_BOUND.format(key=key, low=self.show(low), high=self.show(high)))
        return value


def _quoted(text: str) -> str:
    """A member's value as echoed in a refusal: one line, and short."""
    return one_line(text)[:60]


_SHARE = re.compile(r"-?[0-9]{1,6}(?:\.[0-9]{1,6})?%?|-?[0-9]{1,6}/[0-9]{1,6}")


def _fraction(text: str) -> Fraction | None:
    """30%, 3/10 or 0.3; None if it is none of them. Only plain digits reach Fraction: `1e999999999`
    would make it compute a power of ten for minutes, holding every co-op's events."""
    text = text.strip()
    if not _SHARE.fullmatch(text.replace(" ", "")):
        return None
    text = text.replace(" ", "")
    try:
        return Fraction(text[:-1].strip()) / 100 if text.endswith("%") else Fraction(text)
    except (ValueError, ZeroDivisionError):
        return None


@dataclass(frozen=True)
class Share(Value):
    """A share from `low` to `high`, kept as a Fraction (or a Decimal, for money)."""

    low: Fraction
    high: Fraction
    decimal: bool = False
    py: ClassVar[type] = Fraction

    def parse(self, text: str, key: str):
        value = _fraction(text)
        if value is None:
            raise BadAmendment(texts.AMEND_NOT_SHARE.format(text=_quoted(text)))
        self.bounded(value, self.low, self.high, key)
        return Decimal(value.numerator) / Decimal(value.denominator) if self.decimal else value

    def dump(self, value) -> tuple:
        return (str(value),)

    def load(self, *leaves):
        return Decimal(leaves[0]) if self.decimal else Fraction(leaves[0])

    def show(self, value) -> str:
        return texts.percent(Fraction(value))


@dataclass(frozen=True)
class Bar(Value):
    """A pass threshold: `> 1/2` or `more than 1/2`, `2/3` or `at least 2/3`, `all`."""

    low: Threshold
    high: Threshold
    py: ClassVar[type] = Threshold

    def parse(self, text: str, key: str) -> Threshold:
        words = text.strip().lower()
        if words in texts.THRESHOLD_ALL_WORDS:
            words = "1"
        strict = False
        for prefix, is_strict in ((">=", False), (">", True), ("at least", False), ("more than", True)):
            if words.startswith(prefix):
                words, strict = words[len(prefix):], is_strict
                break
        share = _fraction(words)
        if share is None:
            raise BadAmendment(texts.AMEND_NOT_THRESHOLD.format(text=_quoted(text)))
        return self.bounded(Threshold(share, strict), self.low, self.high, key)

    def dump(self, value: Threshold) -> tuple:
        return str(value.share), value.strict

    def load(self, *leaves) -> Threshold:
        return Threshold(Fraction(leaves[0]), bool(leaves[1]))

    def show(self, value: Threshold) -> str:
        return texts.threshold_of(value.share, value.strict)


@dataclass(frozen=True)
class Duration(Value):
    """One duration from `low` to `high`, stored in seconds."""

    low: timedelta
    high: timedelta
    py: ClassVar[type] = timedelta

    def parse(self, text: str, key: str) -> timedelta:
        value = parse_duration(text) if "," not in text else None
        if value is None:
            raise BadAmendment(texts.AMEND_NOT_DURATION.format(text=_quoted(text)))
        return self.bounded(value, self.low, self.high, key)

    def dump(self, value: timedelta) -> tuple:
        return (int(value.total_seconds()),)

    def load(self, *leaves) -> timedelta:
        return timedelta(seconds=leaves[0])

    def show(self, value: timedelta) -> str:
        return texts.span(value)


@dataclass(frozen=True)
class Offsets(Value):
    """Up to `most` distinct durations before a moment, each from `low` to `high`; latest first."""

    most: int
    low: timedelta
    high: timedelta
    py: ClassVar[type] = tuple

    def parse(self, text: str, key: str) -> tuple[timedelta, ...]:
        parts = [p.strip() for p in text.split(",")]
        values = [parse_duration(p) for p in parts]
        if not all(parts) or any(v is None for v in values):
            raise BadAmendment(texts.AMEND_NOT_DURATIONS.format(text=_quoted(text)))
        if len(values) > self.most:
            raise BadAmendment(texts.AMEND_TOO_MANY.format(key=key, most=self.most, count=len(values)))
        for value in values:
            if not self.low <= value <= self.high:
                raise BadAmendment(texts.AMEND_EACH_BOUND.format(
                    key=key, low=texts.span(self.low), high=texts.span(self.high)))
        if len(set(values)) < len(values):
            twice = next(v for v in values if values.count(v) > 1)
            raise BadAmendment(texts.AMEND_OFFSET_TWICE.format(key=key, offset=texts.span(twice)))
        return tuple(sorted(values, reverse=True))

    def dump(self, value) -> tuple:
        return ([int(o.total_seconds()) for o in value],)

    def load(self, *leaves) -> tuple[timedelta, ...]:
        return tuple(timedelta(seconds=s) for s in leaves[0])

    def show(self, value) -> str:
        return ", ".join(texts.span(o) for o in value)


_WHOLE = re.compile(r"[0-9]{1,9}")


@dataclass(frozen=True)
class Count(Value):
    """A whole number of something from `low` to `high` (auditors, audits, days), shown with its unit."""

    low: int
    high: int
    one: str = "month"
    many: str = "months"
    py: ClassVar[type] = int

    def parse(self, text: str, key: str) -> int:
        text = text.strip()
        if not _WHOLE.fullmatch(text):
            raise BadAmendment(texts.AMEND_NOT_WHOLE.format(text=_quoted(text), unit=i18n.ngettext(self.one, self.many, 2)))
        return self.bounded(int(text), self.low, self.high, key)

    def show(self, value: int) -> str:
        return texts.plural(value, self.one, self.many)


Months = Count


_RATIO = re.compile(r"(?:1\s*:\s*)?([0-9]{1,3}(?:\.[0-9])?)")


@dataclass(frozen=True)
class Ratio(Value):
    """A ratio highest : lowest, written `3` or `1:3` (one decimal at most: `1:4.5`), kept as a Fraction."""

    low: Fraction
    high: Fraction
    py: ClassVar[type] = Fraction

    def parse(self, text: str, key: str) -> Fraction:
        found = _RATIO.fullmatch(text.strip())
        if found is None:
            raise BadAmendment(texts.AMEND_NOT_RATIO.format(text=_quoted(text)))
        return self.bounded(Fraction(found.group(1)), self.low, self.high, key)

    def dump(self, value) -> tuple:
        return (str(value),)

    def load(self, *leaves) -> Fraction:
        return Fraction(leaves[0])

    def show(self, value) -> str:
        return texts.ratio(Fraction(value))


@dataclass(frozen=True)
class Funds(Value):
    """`name=weight | name | …`: where the movement share goes, each fund's weight in the split."""

    most: int
    name_limit: int
    low: int
    high: int
    py: ClassVar[type] = tuple

    def parse(self, text: str, key: str) -> tuple[tuple[str, int], ...]:
        funds: list[tuple[str, int]] = []
        for part in text.split("|"):
            name, _, weight = part.partition("=")
            name, weight = one_line(name), weight.strip()
            if not name:
                raise BadAmendment(texts.AMEND_NOT_FUND.format(text=_quoted(part)))
            if len(name) > self.name_limit:
                raise BadAmendment(texts.AMEND_FUND_NAME.format(limit=self.name_limit, length=len(name)))
            if weight and not _WHOLE.fullmatch(weight):
                raise BadAmendment(texts.AMEND_NOT_WEIGHT.format(name=name, text=_quoted(weight)))
            value = int(weight) if weight else 1
            if not self.low <= value <= self.high:
                raise BadAmendment(texts.AMEND_WEIGHT_BOUND.format(name=name, low=self.low, high=self.high))
            if any(name.casefold() == known.casefold() for known, _ in funds):
                raise BadAmendment(texts.AMEND_FUND_TWICE.format(name=name))
            funds.append((name, value))
        if len(funds) > self.most:
            raise BadAmendment(texts.AMEND_FUNDS_COUNT.format(key=key, low=1, high=self.most, count=len(funds)))
        return tuple(funds)

    def dump(self, value) -> tuple:
        return ([[name, weight] for name, weight in value],)

    def load(self, *leaves) -> tuple[tuple[str, int], ...]:
        return tuple((name, int(weight)) for name, weight in leaves[0])

    def show(self, value) -> str:
        if all(weight == 1 for _, weight in value):
            return ", ".join(name for name, _ in value)
        return ", ".join(texts.FUND_WEIGHT.format(name=name, weight=weight) for name, weight in value)


@dataclass(frozen=True)
class Choice(Value):
    """One of a few words; `words` (from texts) says what each means."""

    words: Mapping[Any, str]
    py: ClassVar[type] = str

    def parse(self, text: str, key: str):
        word = text.strip().lower()
        if word not in self.words:
            raise BadAmendment(texts.AMEND_NOT_CHOICE.format(
                key=key, choices=" or ".join(str(w) for w in self.words), text=_quoted(text)))
        return word

    def show(self, value) -> str:
        word = self.words.get(value)
        return i18n.gettext(word) if word is not None else str(value)  # a value stored by another version


@dataclass(frozen=True)
class YesNo(Choice):
    py: ClassVar[type] = bool

    def parse(self, text: str, key: str) -> bool:
        if text.strip().lower() not in ("yes", "no"):
            raise BadAmendment(texts.AMEND_NOT_CHOICE.format(key=key, choices="yes or no", text=_quoted(text)))
        return text.strip().lower() == "yes"


@dataclass(frozen=True)
class Currency(Value):
    py: ClassVar[type] = str

    def parse(self, text: str, key: str) -> str:
        try:
            return parse_currency(text)
        except BadAmount:
            raise BadAmendment(texts.AMEND_NOT_CURRENCY.format(text=_quoted(text))) from None


@dataclass(frozen=True)
class Organisation(Value):
    """An organisation's name, or `none`. Whether it names an affiliated organisation is checked
    when the amendment is proposed (against the register of organisations), not here."""

    limit: int
    py: ClassVar[type] = str

    def parse(self, text: str, key: str) -> str | None:
        name = one_line(text)
        if name.casefold() in ("none", "nobody", "-"):
            return None
        if len(name) > self.limit:
            raise BadAmendment(texts.AMEND_ORG_NAME.format(limit=self.limit, length=len(name)))
        return name

    def show(self, value) -> str:
        return value or texts.NO_ORGS


@dataclass(frozen=True)
class Names(Value):
    """`a | b | c`: one to `most` distinct names (a mirror shift's formats), each at most `limit` long."""

    most: int
    limit: int
    py: ClassVar[type] = tuple

    def parse(self, text: str, key: str) -> tuple[str, ...]:
        names: list[str] = []
        for part in text.split("|"):
            name = one_line(part)
            if not name:
                raise BadAmendment(texts.AMEND_NOT_NAMES.format(text=_quoted(text)))
            if len(name) > self.limit:
                raise BadAmendment(texts.AMEND_NAME_LONG.format(limit=self.limit, length=len(name)))
            if any(name.casefold() == known.casefold() for known in names):
                raise BadAmendment(texts.AMEND_NAME_TWICE.format(name=name))
            names.append(name)
        if len(names) > self.most:
            raise BadAmendment(texts.AMEND_NAMES_COUNT.format(key=key, most=self.most, count=len(names)))
        return tuple(names)

    def dump(self, value) -> tuple:
        return (list(value),)

    def load(self, *leaves) -> tuple[str, ...]:
        return tuple(leaves[0])

    def show(self, value) -> str:
        return " | ".join(value)


@dataclass(frozen=True)
class HalfOrCount(Count):
    """A whole number, or `half` (of the register, counted when it is used)."""

    py: ClassVar[type] = object

    def parse(self, text: str, key: str):
        if text.strip().lower() in texts.HALF_WORDS:
            return "half"
        return super().parse(text, key)

    def show(self, value) -> str:
        return texts.HALF_THE_REGISTER if value == "half" else super().show(value)


@lru_cache(maxsize=1)
def _zones() -> dict[str, str]:
    """Every IANA zone name by its case-folded spelling (phones capitalise at will)."""
    return {name.casefold(): name for name in available_timezones()}


@dataclass(frozen=True)
class Zone(Value):
    py: ClassVar[type] = str

    def parse(self, text: str, key: str) -> str:
        name = _zones().get(text.strip().casefold())
        if name is None:
            raise BadAmendment(texts.AMEND_NOT_TIMEZONE.format(text=_quoted(text)))
        return name


# --- the keys ---
@dataclass(frozen=True)
class CharterKey:
    """One charter key. `name` is how an amendment names it, `attr` the Charter attribute, `json`
    the dotted paths of its leaves in the stored charter (one per leaf `value.dump` gives), and
    `firewall` whether it guards a firewall (it may change only by a protected proposal). What
    `charter` says of it is texts.CHARTER_WORDS[name]."""

    name: str
    attr: str
    value: Value
    default: Any
    json: tuple[str, ...]
    firewall: bool = False


QUORUM = Share(Fraction(1, 10), Fraction(1))
THRESHOLD = Bar(Threshold(Fraction(1, 2), True), Threshold(Fraction(1), False))  # a minority never decides
REMINDERS = Offsets(most=5, low=timedelta(minutes=1), high=MAX_PERIOD)
MONTHS = Months(1, 240)


def _rule_keys(kind: str) -> tuple[CharterKey, ...]:
    rule, firewall = DEFAULT_RULES[kind], kind == "protected"  # the protected rule guards the firewalls
    return (
        CharterKey(f"quorum.{kind}", f"quorum_{kind}", QUORUM, rule.quorum, (f"rules.{kind}.quorum",),
                   firewall=firewall),
        CharterKey(f"threshold.{kind}", f"threshold_{kind}", THRESHOLD, Threshold(rule.threshold, rule.strict),
                   (f"rules.{kind}.threshold", f"rules.{kind}.strict"), firewall=firewall),
    )


KEYS: tuple[CharterKey, ...] = (
    *(key for kind in KINDS for key in _rule_keys(kind)),
    CharterKey("voting_period", "voting_period", Duration(MIN_PERIOD, MAX_PERIOD), timedelta(hours=72),
               ("voting_period_s",)),
    CharterKey("reminder_offsets", "reminder_offsets", REMINDERS, (timedelta(hours=24), timedelta(hours=1)),
               ("reminder_offsets_s",)),
    CharterKey("audit_every", "audit_every_months", MONTHS, 12, ("audit_every_months",), firewall=True),
    CharterKey("audit_reminders", "audit_reminders", REMINDERS,
               (timedelta(days=30), timedelta(days=7), timedelta(days=1)), ("audit_reminders_s",)),
    CharterKey("sunset_every", "sunset_every_months", MONTHS, 24, ("sunset_every_months",), firewall=True),
    CharterKey("audit_auditors", "audit_auditors", Count(1, 12, "auditor", "auditors"), 3, ("audit_auditors",)),
    CharterKey("audit_window", "audit_window", Duration(MIN_PERIOD, MAX_PERIOD), timedelta(days=30),
               ("audit_window_s",)),
    # Whoever audited in the last n audits is not drawn again: 0 lets the same allies audit every time.
    CharterKey("audit_cooldown", "audit_cooldown", Count(0, 20, "audit", "audits"), 2, ("audit_cooldown",)),
    CharterKey("revision_days", "revision_days", Count(1, 365, "day", "days"), 30, ("revision_days",),
               firewall=True),
    CharterKey("assembly_notice", "assembly_notice", Duration(MIN_PERIOD, MAX_PERIOD), timedelta(days=7),
               ("assembly_notice_s",)),
    CharterKey("movement_share", "movement_share", Share(Fraction(0), Fraction(1), decimal=True), Decimal("0.30"),
               ("movement_share",), firewall=True),
    CharterKey("movement_funds", "movement_funds", Funds(most=20, name_limit=120, low=1, high=1000), DEFAULT_FUNDS,
               ("movement_funds",), firewall=True),
    CharterKey("member_split", "member_split", Choice(texts.SPLIT_WORDS), "equal", ("member_split",)),
    CharterKey("currency", "currency", Currency(), "EUR", ("currency",)),
    CharterKey("vow_waiver", "vow_waiver", YesNo(texts.WAIVER_WORDS), True, ("vow_waiver",)),
    CharterKey("vow_reminders", "vow_reminders", REMINDERS, (timedelta(days=3), timedelta(days=1)),
               ("vow_reminders_s",)),
    # Without a payout date, members who have not vowed are reminded this often, in the rooms and
    # directly: at most daily (more is nagging, not reminding), at least yearly.
    CharterKey("vow_every", "vow_every", Duration(timedelta(days=1), MAX_PERIOD), timedelta(days=3),
               ("vow_every_s",)),
    CharterKey("timezone", "timezone", Zone(), "UTC", ("timezone",)),
    # What the bot writes in: replies, cards, announcements, reminders (a member's own `language:`
    # on `whoami` overrides it in what is sent to them alone). Verbs and keys stay the same words.
    CharterKey("language", "language", Choice(i18n.NAMES), i18n.DEFAULT, ("language",)),
    # The pay scale's firewall: no pay change may take highest : lowest hourly pay past it.
    CharterKey("wage_ratio_cap", "wage_ratio_cap", Ratio(Fraction(1), Fraction(100)), Fraction(3),
               ("wage_ratio_cap",), firewall=True),
    # A month's hours, at which monthly pay converts to an hourly equivalent (31 days of 24 hours at most).
    CharterKey("full_time_hours", "full_time_hours", Count(1, 744, "hour", "hours"), 160, ("full_time_hours",)),
    CharterKey("open_pay", "open_pay", YesNo(texts.OPEN_PAY_WORDS), True, ("open_pay",)),
    # The share of the organisations affiliated when a protected decision opened that must consent.
    CharterKey("bodies_threshold", "bodies_threshold", THRESHOLD, Threshold(Fraction(2, 3), False),
               ("bodies.threshold", "bodies.strict"), firewall=True),
    # The affiliated organisation whose allies may veto protected decisions and call proposals in.
    CharterKey("golden_share", "golden_share", Organisation(120), None, ("golden_share",), firewall=True),
    # Rituals of self-critique (SPEC "Rituals"): mirror shifts and adversary drills, from founding.
    CharterKey("mirror_every", "mirror_every_months", MONTHS, 3, ("mirror_every_months",)),
    CharterKey("mirror_formats", "mirror_formats", Names(most=10, limit=100), DEFAULT_FORMATS, ("mirror_formats",)),
    # Whoever facilitated one of the last n shifts is not drawn again ("half": half the register).
    CharterKey("facilitator_cooldown", "facilitator_cooldown", HalfOrCount(0, 1000, "shift", "shifts"), "half",
               ("facilitator_cooldown",)),
    CharterKey("drill_every", "drill_every_months", MONTHS, 12, ("drill_every_months",)),
    CharterKey("drill_team", "drill_team", Count(1, 12, "member", "members"), 3, ("drill_team",)),
    CharterKey("drill_days", "drill_days", Count(1, 60, "day", "days"), 7, ("drill_days",)),
    # Proxy voting (`proxy <member>`): off unless the co-op chooses it; how many members one holder
    # may hold a proxy for at once, so no member gathers a bloc of votes.
    CharterKey("proxies", "proxies", YesNo(texts.PROXIES_WORDS), False, ("proxies",)),
    CharterKey("proxy_limit", "proxy_limit", Count(1, 100, "member", "members"), 1, ("proxy_limit",)),
)
FIREWALL_KEYS = tuple(k.name for k in KEYS if k.firewall)


def _get(data: Mapping, path: str):
    for part in path.split("."):
        if not isinstance(data, Mapping) or part not in data:
            return _MISSING
        data = data[part]
    return data


def nested(leaves: Mapping[str, Any]) -> dict:
    """Leaves by dotted path (`rules.ordinary.quorum`) as the nested JSON they are stored in."""
    data: dict = {}
    for path, leaf in leaves.items():
        *parents, last = path.split(".")
        into = data
        for part in parents:
            into = into.setdefault(part, {})
        into[last] = leaf
    return data


_MISSING = object()


class CharterBase:
    """What every charter does; its fields come from `KEYS` (see `charter_class`)."""

    KEYS: ClassVar[tuple[CharterKey, ...]] = ()

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def rules(self) -> dict[str, DecisionRule]:
        return {kind: self.rule(kind) for kind in KINDS}

    @property
    def golden_key(self) -> str | None:
        """The golden-share holder's name as organisations are keyed (casefolded), if any holds it."""
        return self.golden_share.casefold() if self.golden_share else None

    def rule(self, kind: str) -> DecisionRule:
        threshold = getattr(self, f"threshold_{kind}")
        return DecisionRule(getattr(self, f"quorum_{kind}"), threshold.share, threshold.strict)

    def with_changes(self, **changes):
        return replace(self, **changes)

    def key(self, name: str) -> CharterKey | None:
        return next((k for k in self.KEYS if k.name == name), None)

    def shown(self) -> list[tuple[CharterKey, str]]:
        """Each key with its value in words, in the table's order: what `charter` lists."""
        return [(k, k.value.show(getattr(self, k.attr))) for k in self.KEYS]

    def leaves(self) -> dict[str, Any]:
        """The stored form, flat: JSON path -> leaf."""
        return {path: leaf for k in self.KEYS for path, leaf in zip(k.json, k.value.dump(getattr(self, k.attr)))}

    def to_json(self) -> dict:
        return nested(self.leaves())

    @classmethod
    def one(cls, data: Mapping | None, attr: str) -> Any:
        """One key's value from the stored charter, without building the whole (about 30 µs): what
        every vote asks (whether proxies are allowed) must not cost a tap that much."""
        k = next(k for k in cls.KEYS if k.attr == attr)
        leaves = [_get(data or {}, path) for path in k.json]
        return k.value.load(*leaves) if all(leaf is not _MISSING for leaf in leaves) else k.default

    @classmethod
    def from_json(cls, data: Mapping | None):
        """Stored keys override the defaults; keys a newer version added fall back to them."""
        values = {}
        for k in cls.KEYS:
            leaves = [_get(data or {}, path) for path in k.json]
            if all(leaf is not _MISSING for leaf in leaves):
                values[k.attr] = k.value.load(*leaves)
        return cls(**values)


def charter_class(keys: tuple[CharterKey, ...], name: str = "Charter") -> type:
    """A frozen dataclass with one field per key, its default the key's default."""
    fields = [(k.attr, k.value.py, field(default=k.default)) for k in keys]
    return make_dataclass(name, fields, bases=(CharterBase,), frozen=True, namespace={"KEYS": keys,
                          "__module__": __name__, "__doc__": "The co-op's rules: one field per charter key."})


Charter = charter_class(KEYS)
