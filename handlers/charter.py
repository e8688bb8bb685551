"""The co-op's rules: quorum and threshold per kind of decision, periods, offsets, timezone."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import timedelta
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

KINDS = ("ordinary", "strategic", "constitutional")
BALLOTS = ("open", "secret")


@dataclass(frozen=True)
class DecisionRule:
    """Quorum: the share of the frozen register that must vote (abstaining counts).
    Threshold: the share of For among For + Against; `strict` means "more than"."""

    quorum: Fraction
    threshold: Fraction
    strict: bool

    def meets_quorum(self, voters: int, electorate: int) -> bool:
        return electorate > 0 and Fraction(voters, electorate) >= self.quorum

    def meets_threshold(self, support: Fraction) -> bool:
        return support > self.threshold if self.strict else support >= self.threshold

    def to_json(self) -> dict:
        return {"quorum": str(self.quorum), "threshold": str(self.threshold), "strict": self.strict}

    @classmethod
    def from_json(cls, data: dict) -> DecisionRule:
        return cls(Fraction(data["quorum"]), Fraction(data["threshold"]), bool(data["strict"]))


DEFAULT_RULES = {
    "ordinary": DecisionRule(Fraction(1, 2), Fraction(1, 2), strict=True),
    "strategic": DecisionRule(Fraction(3, 5), Fraction(2, 3), strict=False),
    "constitutional": DecisionRule(Fraction(3, 4), Fraction(3, 4), strict=False),
}


DEFAULT_FUNDS = (
    ("strike and mutual aid", 1),
    ("independent media", 1),
    ("organizer training", 1),
    ("legal defence", 1),
    ("seed capital for new co-ops", 1),
)


@dataclass(frozen=True)
class Charter:
    rules: dict[str, DecisionRule] = field(default_factory=lambda: dict(DEFAULT_RULES))
    voting_period: timedelta = timedelta(hours=72)
    reminder_offsets: tuple[timedelta, ...] = (timedelta(hours=24), timedelta(hours=1))
    audit_every_months: int = 12
    sunset_every_months: int = 24
    audit_reminders: tuple[timedelta, ...] = (timedelta(days=30), timedelta(days=7), timedelta(days=1))
    movement_share: Decimal = Decimal("0.30")
    # Where the movement share goes, with each fund's weight in the split.
    movement_funds: tuple[tuple[str, int], ...] = DEFAULT_FUNDS
    member_split: str = "equal"  # or "hours": by hours recorded for the round
    currency: str = "EUR"
    vow_waiver: bool = True  # the co-op may waive one member's vow by a passed proposal
    vow_reminders: tuple[timedelta, ...] = (timedelta(days=3), timedelta(days=1))  # before a payout date
    vow_every: timedelta = timedelta(days=3)  # without a payout date
    timezone: str = "UTC"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def rule(self, kind: str) -> DecisionRule:
        return self.rules[kind]

    def with_changes(self, **changes) -> Charter:
        return replace(self, **changes)

    def to_json(self) -> dict:
        return {
            "rules": {kind: rule.to_json() for kind, rule in self.rules.items()},
            "voting_period_s": int(self.voting_period.total_seconds()),
            "reminder_offsets_s": [int(o.total_seconds()) for o in self.reminder_offsets],
            "audit_every_months": self.audit_every_months,
            "sunset_every_months": self.sunset_every_months,
            "audit_reminders_s": [int(o.total_seconds()) for o in self.audit_reminders],
            "movement_share": str(self.movement_share),
            "movement_funds": [[name, weight] for name, weight in self.movement_funds],
            "member_split": self.member_split,
            "currency": self.currency,
            "vow_waiver": self.vow_waiver,
            "vow_reminders_s": [int(o.total_seconds()) for o in self.vow_reminders],
            "vow_every_s": int(self.vow_every.total_seconds()),
            "timezone": self.timezone,
        }

    @classmethod
    def from_json(cls, data: dict | None) -> Charter:
        """Stored keys override the defaults; keys a newer version added fall back to them."""
        base = cls()
        if not data:
            return base
        rules = dict(base.rules)
        rules.update({k: DecisionRule.from_json(v) for k, v in data.get("rules", {}).items()})

        def seconds(key: str, default):
            return tuple(timedelta(seconds=s) for s in data[key]) if key in data else default

        return cls(
            rules=rules,
            voting_period=timedelta(seconds=data.get("voting_period_s", base.voting_period.total_seconds())),
            reminder_offsets=seconds("reminder_offsets_s", base.reminder_offsets),
            audit_every_months=data.get("audit_every_months", base.audit_every_months),
            sunset_every_months=data.get("sunset_every_months", base.sunset_every_months),
            audit_reminders=seconds("audit_reminders_s", base.audit_reminders),
            movement_share=Decimal(data.get("movement_share", base.movement_share)),
            movement_funds=tuple((n, int(w)) for n, w in data["movement_funds"]) if "movement_funds" in data
            else base.movement_funds,
            member_split=data.get("member_split", base.member_split),
            currency=data.get("currency", base.currency),
            vow_waiver=data.get("vow_waiver", base.vow_waiver),
            vow_reminders=seconds("vow_reminders_s", base.vow_reminders),
            vow_every=timedelta(seconds=data.get("vow_every_s", base.vow_every.total_seconds())),
            timezone=data.get("timezone", base.timezone),
        )
