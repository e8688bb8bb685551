"""The co-op's calendar as an iCalendar file (RFC 5545), built from the dated items `calendar` lists; pure.

Times are written in UTC (`...Z`): every client shows them in the phone's own timezone, the file
needs no VTIMEZONE (whose rules would have to be generated and kept right), and nothing is lost,
because the co-op's recurring dates are already counted on its local calendar and stored as instants.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from handlers.calendar import Dated

if TYPE_CHECKING:
    from icalendar import Event

PRODID = "-//coopbot//governance calendar//EN"
DOMAIN = "coopbot"
REFRESH = timedelta(hours=1)  # how often a subscribed client is asked to fetch the feed again


def uid(key: str) -> str:
    return f"{key}@{DOMAIN}"


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(timezone.utc)


def _event(item: Dated, now: datetime) -> Event:
    from icalendar import Alarm, Event

    event = Event()
    event.add("uid", uid(item.key))
    event.add("dtstamp", _utc(now))
    # A moment, not a span: no DTEND, which RFC 5545 reads as ending when it starts.
    event.add("dtstart", _utc(item.at))
    event.add("summary", item.text)
    event.add("sequence", item.sequence)
    event.add("status", "CANCELLED" if item.status == "cancelled" else "CONFIRMED")
    event.add("transp", "TRANSPARENT")  # a deadline does not make anyone busy
    if item.changed_at is not None:
        event.add("last-modified", _utc(item.changed_at))
    if item.status == "coming":
        for offset in sorted(set(item.alarms), reverse=True):
            alarm = Alarm()
            alarm.add("action", "DISPLAY")
            alarm.add("description", item.text)
            alarm.add("trigger", -offset)
            event.add_component(alarm)
    return event


def build(name: str, items: Iterable[Dated], now: datetime) -> bytes:
    """The VCALENDAR: one VEVENT per keyed item (an item without a key is a reminder, already an
    alarm of its event), the first of each key kept. `now` is every event's DTSTAMP. icalendar is
    imported here, as Pillow is for the timeline: a running bot loads it once a calendar is asked for."""
    from icalendar import Calendar

    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("name", name)  # RFC 7986
    calendar.add("x-wr-calname", name)  # what most clients read
    calendar.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", REFRESH)
    seen: set[str] = set()
    for item in sorted((i for i in items if i.key is not None), key=lambda i: (i.at, i.key)):
        if item.key not in seen:
            seen.add(item.key)
            calendar.add_component(_event(item, now))
    return calendar.to_ical()
