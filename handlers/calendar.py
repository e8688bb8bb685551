"""The governance calendar: audits and sunset votes counted from founding, in the co-op's timezone;
the dated items `calendar` lists and the .ics carries."""

from __future__ import annotations

import calendar as _calendar
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo


def add_months(moment: datetime, months: int) -> datetime:
    """The same wall-clock time `months` later; the 31st becomes the month's last day."""
    year, month = divmod(moment.month - 1 + months, 12)
    year += moment.year
    day = min(moment.day, _calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def occurrence(founded_at: datetime, tz: ZoneInfo, every_months: int, n: int) -> datetime:
    """The n-th occurrence (n >= 1), at the founding's local time of day whatever the season:
    counted on the local calendar, so a daylight-saving change does not shift it by an hour."""
    local = founded_at.astimezone(tz).replace(tzinfo=None)
    return add_months(local, n * every_months).replace(tzinfo=tz).astimezone(timezone.utc)


def before(moment: datetime, tz: ZoneInfo, offset: timedelta) -> datetime:
    """`offset` before a moment, in local calendar days (30 days before is the same local time)."""
    local = moment.astimezone(tz).replace(tzinfo=None)
    return (local - offset).replace(tzinfo=tz).astimezone(timezone.utc)


@dataclass(frozen=True)
class Cycle:
    """Where a recurring event stands at `now`: the last occurrence reached (0 if none yet) and
    the next one."""

    last_n: int
    last_at: datetime | None
    next_n: int
    next_at: datetime


def cycle(founded_at: datetime, tz: ZoneInfo, every_months: int, now: datetime) -> Cycle:
    if every_months <= 0:
        raise ValueError("an interval of months must be positive")
    elapsed = (now.year - founded_at.year) * 12 + (now.month - founded_at.month)
    n = max(1, elapsed // every_months - 1)
    while occurrence(founded_at, tz, every_months, n) <= now:
        n += 1
    last_n = n - 1
    last_at = occurrence(founded_at, tz, every_months, last_n) if last_n >= 1 else None
    return Cycle(last_n, last_at, n, occurrence(founded_at, tz, every_months, n))


@dataclass(frozen=True)
class Dated:
    """One item of the co-op's calendar. `key` is its event's stable id in the .ics (the UID's
    left part); an item without one (a deadline reminder) is a line of `calendar` and, in the
    .ics, an alarm (`alarms`, offsets before `at`) of the event it reminds of. `status`: "coming"
    (listed and in the .ics), "ended" (a proposal closed lately: in the .ics only, at its end),
    "cancelled" (withdrawn: in the .ics as cancelled). `sequence` grows with each stored change
    of the event (a revision, an early close, a withdrawal), so it never goes back."""

    at: datetime
    text: str
    key: str | None = None
    alarms: tuple[timedelta, ...] = ()
    status: str = "coming"
    sequence: int = 0
    changed_at: datetime | None = None

    @property
    def listed(self) -> bool:
        return self.status == "coming"
