"""The drift timeline (SPEC "Rituals"): members' `drift` entries beside the automatic ones read from
the event log (audit verdicts, refused pay, vetoes, drill records, sunset results, emergency
assemblies, mirror shifts); the `drift` and `timeline` verbs, as text and as a picture."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from zoneinfo import ZoneInfo

from handlers import picture, texts
from handlers.context import Context
from handlers.errors import BadArguments
from handlers.parsing import one_line, parse_closing, parse_number
from handlers.types import Attachment, Reply
from handlers.verbs import Call, Standing, verb
from handlers.i18n import N_
from storage.record import TimelineEntry

MAX_DRIFT = 1000
SHOWN = 50  # entries listed in the text, the latest; the picture has them all
BUDGET = 3600  # characters of those lines: `timeline` fits one Telegram message (4,096)
LABEL_SHOWN = 60  # characters of a drift's text on its line (`timeline` must fit one message)
# The timeline's kind of each entry, from the logged event's kind.
KIND_OF = {"drift": "drift", "audit_closed": "audit", "pay_refused": "pay", "veto": "veto", "drill_closed": "drill",
           "proposal_closed": "sunset", "stewards_kept": "assembly", "stewards_lapsed": "assembly",
           "revision_missed": "assembly", "mirror_opened": "mirror"}


def label(e: TimelineEntry) -> str:
    return texts.timeline_label(e.kind, e.data, e.name, e.number)


def lines(entries: Sequence[TimelineEntry], tz: ZoneInfo, shown: int = SHOWN, budget: int = BUDGET) -> list[str]:
    """One line per entry, the latest `shown` that fit in `budget` characters, and a line on how
    many came before."""
    listed = [texts.TIMELINE_LINE.format(date=e.at.astimezone(tz).strftime("%Y-%m-%d"),
                                         kind=texts.TIMELINE_KINDS[KIND_OF[e.kind]], label=_cut(label(e)))
              for e in entries[-shown:]]
    while listed and sum(len(line) + 1 for line in listed) > budget:
        listed.pop(0)
    more = len(entries) - len(listed)
    return ([texts.TIMELINE_MORE.format(more=more)] if more > 0 else []) + listed


def _cut(text: str) -> str:
    text = one_line(text)
    return text if len(text) <= LABEL_SHOWN else text[:LABEL_SHOWN - 1].rstrip() + "…"


def draw(coop: str, entries: Sequence[TimelineEntry], tz: ZoneInfo) -> bytes:
    marks = [picture.Mark(e.at, KIND_OF[e.kind], label(e)) for e in entries]
    return picture.timeline_png(texts.TIMELINE_TITLE.format(coop=coop), marks, texts.TIMELINE_KINDS, tz)


# --- the verbs ---
@verb("drift", who=Standing.MEMBER, args=N_("<text>"), keys={"when": N_("<date> (default now)"), "about": N_("#<proposal>")},
      summary=N_("record a moment the co-op drifted from its purpose, on the drift timeline"))
async def drift(ctx: Context, call: Call) -> list[Reply]:
    text = one_line(call.args)
    if not text:
        raise BadArguments(texts.DRIFT_EMPTY.format(prefix=ctx.prefix))
    if len(text) > MAX_DRIFT:
        raise BadArguments(texts.DRIFT_TOO_LONG.format(limit=MAX_DRIFT, length=len(text)))
    stores, coop, tz = ctx.stores, ctx.coop, ctx.charter.tz
    happened = ctx.now
    if "when" in call.settings:
        written = one_line(call.settings["when"])
        happened = parse_closing(written, ctx.now, tz)
        if happened is None:
            raise BadArguments(texts.DRIFT_BAD_WHEN.format(text=written[:40]))
        if happened > ctx.now:
            raise BadArguments(texts.DRIFT_FUTURE.format(when=texts.when(happened, tz)))
        if happened < coop.founded_at:
            raise BadArguments(texts.DRIFT_BEFORE_FOUNDING.format(when=texts.when(happened, tz), coop=coop.name,
                                                                 founded=texts.when(coop.founded_at, tz)))
    about = None
    if "about" in call.settings:
        written = one_line(call.settings["about"])
        number = parse_number(written)
        if number is None:
            raise BadArguments(texts.DRIFT_BAD_ABOUT.format(text=written[:40]))
        proposal = await stores.proposals.get(coop.id, number)
        if proposal is None:
            raise BadArguments(texts.DRIFT_NO_PROPOSAL.format(coop=coop.name, number=number))
        about = (proposal.id, proposal.number)
    name = ctx.member.display_name
    row = await stores.drift.record(
        coop.id, ctx.member.id, text=text, happened_at=happened, proposal=about, now=ctx.now, event=ctx.event,
        render=lambda d: texts.DRIFT_RECORDED.format(
            number=d.number, coop=coop.name, name=name, text=text, when=texts.when(happened, tz),
            about=texts.DRIFT_ABOUT.format(number=about[1]) if about else ""))
    return ctx.only_in_direct(texts.DRIFT_RECORDED.format(
        number=row.number, coop=coop.name, name=name, text=text, when=texts.when(happened, tz),
        about=texts.DRIFT_ABOUT.format(number=about[1]) if about else ""))


@verb("timeline", alone=True, who=Standing.MEMBER,
      summary=N_("the drift timeline with every automatic entry, as text and as a picture"))
async def timeline(ctx: Context, call: Call) -> list[Reply]:
    if call.args.strip():
        raise BadArguments(texts.UNEXPECTED_ARGUMENT)
    coop, tz = ctx.coop, ctx.charter.tz
    entries = await ctx.stores.record.timeline(coop.id)
    if not entries:
        return [Reply(texts.TIMELINE_EMPTY.format(coop=coop.name, prefix=ctx.prefix))]
    text = "\n".join([texts.TIMELINE_HEADING.format(coop=coop.name), *lines(entries, tz),
                      texts.TIMELINE_COUNT.format(count=texts.plural(len(entries), "entry", "entries"))])
    # Drawn off the event loop: a long timeline takes a moment, and votes keep coming meanwhile.
    png = await asyncio.to_thread(draw, coop.name, entries, tz)
    return [Reply(text, attachment=Attachment(png, "timeline.png", "image/png"))]
