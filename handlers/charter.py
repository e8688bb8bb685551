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


@dataclass(frozen=True)
class Charter:
    rules: dict[str, DecisionRule] = field(default_factory=lambda: dict(DEFAULT_RULES))
    voting_period: timedelta = timedelta(hours=72)
    reminder_offsets: tuple[timedelta, ...] = (timedelta(hours=24), timedelta(hours=1))
    audit_every_months: int = 12
    sunset_every_months: int = 24
    audit_reminders: tuple[timedelta, ...] = (timedelta(days=30), timedelta(days=7), timedelta(days=1))
    movement_share: Decimal = Decimal("0.30")
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
            timezone=data.get("timezone", base.timezone),
        )
