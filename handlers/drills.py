"""Adversary drills (SPEC "Rituals"): a red team drawn by lot tempts the collective with
compromises, voted like any proposal and marked DRILL, with no effect; the drill's record at its
end. The `drill` and `tempt` verbs."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from datetime import datetime, timedelta
from fractions import Fraction

from handlers import i18n, lottery, texts
from handlers.calendar import cycle
from handlers.charter import MIN_PERIOD, Charter
from handlers.context import Context
from handlers.errors import BadArguments, Conflict, NotAllowed
from handlers.parsing import one_line
from handlers.proposals import MAX_BODY, MAX_TITLE, PROPOSE_KEYS
from handlers.tally import DEFAULT_OPTIONS
from handlers.types import Reply
from handlers.verbs import Call, Standing, verb
from handlers.i18n import N_
from storage.models import Coop, Draw, Proposal, Ritual
from storage.rituals import RitualRunning
from storage.stores import Stores


TEMPTS_EACH = 3  # temptations one red-team member may put in one drill
ITEMS_SHOWN = 20  # temptations `drill` lists, the latest (one message)


async def begin(stores: Stores, coop: Coop, now: datetime, event: tuple[str, str] | None = None) -> Ritual | None:
    """The drill falls due: its red team's draw is announced, `drill_team` from the members."""
    charter = Charter.from_json(coop.charter)
    members = [m for m in await stores.members.register(coop.id) if m.status == "active"]
    if not members:
        return None
    latest = await stores.rituals.latest(coop.id, "drill")
    number = (latest.number if latest else 0) + 1
    at = now + lottery.DEFAULT_AT
    team = await lottery.prepare(stores, coop.id, purpose=texts.RED_TEAM_PURPOSE.format(number=number),
                                 seats=min(charter.drill_team, len(members)), pool=members, at=at)
    tz = charter.tz
    try:
        return await stores.rituals.start(
            coop.id, kind="drill", specs=[team], now=now, event=event,
            render=lambda r, draws: texts.DRILL_STARTED.format(
                number=r.number, coop=coop.name, team=texts.plural(team.seats, "member", "members"),
                when=texts.when(at, tz), draw=draws[0].number,
                days=texts.plural(charter.drill_days, "day", "days"), prefix=texts.PREFIX_MARK))
    except RitualRunning:
        return None


def red_team(d: Draw) -> list[dict]:
    return list(d.result["seated"]) if d is not None and d.result else []


async def step(stores: Stores, r: Ritual, now: datetime) -> bool:
    """One step of a drill under way: open it once its red team is drawn; at its end, once every
    temptation is decided, close it with its record."""
    coop = await stores.coops.get(r.coop_id)
    charter = Charter.from_json(coop.charter)
    tz = charter.tz
    if r.status == "drawing":
        draw = await stores.draws.get_by_id(r.draw_id)
        active = {m.id for m in await stores.members.register(coop.id) if m.status == "active"}
        team = [s["name"] for s in red_team(draw) if s["id"] in active]
        return await stores.rituals.open(
            r.id, now=now, decide=lambda q, draws: {"ends_at": now + timedelta(days=charter.drill_days)},
            render=lambda q: texts.DRILL_OPENED.format(
                number=q.number, coop=coop.name, team=texts.and_list(team) if team else texts.DRILL_NO_TEAM,
                draw=draw.number, ends=texts.when(q.ends_at, tz), prefix=texts.PREFIX_MARK)) is not None
    if r.status == "open" and now >= r.ends_at:
        temptations = await stores.rituals.temptations(r.id)
        if any(p.status == "open" for p in temptations):
            return False  # a temptation still counting: the record waits for it
        record = await _record(stores, temptations)
        return await stores.rituals.close(r.id, now=now, record=record,
                                          render=lambda q: record_text(q, coop.name, q.record)) is not None
    return False


async def _record(stores: Stores, temptations: Sequence[Proposal]) -> dict:
    """How the collective met the temptations: refused (failed), accepted (passed), withdrawn; the
    mean turnout of those decided; the median time from a temptation's opening to each vote."""
    decided = [p for p in temptations if p.status == "closed"]
    accepted = [p for p in decided if (p.result or {}).get("passed")]
    # Refused: the members voted it down. Left without quorum is not refusal, it is not answering.
    undecided = [p for p in decided if p not in accepted and (p.result or {}).get("reason") == "quorum"]
    waits = []
    for p in decided:
        # A ballot the close cast by proxy was cast at the count, by no one deciding then: not a wait.
        waits += [(b.cast_at - p.opened_at).total_seconds() for b in await stores.votes.ballots(p.id)
                  if b.proxy_by is None]
    turnouts = [Fraction(p.result["voters"], p.result["electorate"]) for p in decided if p.result.get("electorate")]
    return {
        "temptations": len(temptations),
        "accepted": [[p.number, texts.without_drill_mark(p.title)] for p in accepted],
        "refused": [p.number for p in decided if p not in accepted and p not in undecided],
        "undecided": [p.number for p in undecided],
        "withdrawn": [p.number for p in temptations if p.status == "withdrawn"],
        "turnout": str(sum(turnouts, Fraction(0)) / len(turnouts)) if turnouts else None,
        "median_decide_s": int(statistics.median(waits)) if waits else None,
    }


def record_text(r: Ritual, coop: str, record: dict) -> str:
    return texts.drill_record(r.number, coop, record)


def _state(p: Proposal) -> str:
    if p.status != "closed":
        return texts.DRILL_STATES[p.status]
    return texts.DRILL_STATES["passed" if (p.result or {}).get("passed") else "failed"]


# --- the verbs ---
@verb("drill", alone=True, who=Standing.MEMBER, summary=N_("the adversary drill: its red team, its temptations, its record"))
async def drill(ctx: Context, call: Call) -> list[Reply]:
    if call.args.strip():
        raise BadArguments(texts.UNEXPECTED_ARGUMENT)
    stores, coop, charter = ctx.stores, ctx.coop, ctx.charter
    tz = charter.tz
    r = await stores.rituals.latest(coop.id, "drill")
    lines = []
    if r is not None and r.status == "drawing":
        draw = await stores.draws.get_by_id(r.draw_id)
        lines.append(texts.DRILL_SHOW_DRAWING.format(number=r.number, coop=coop.name, draw=draw.number,
                                                     when=texts.when(draw.draw_at, tz)))
    elif r is not None and r.status == "open":
        team = [s["name"] for s in red_team(await stores.draws.get_by_id(r.draw_id))]
        temptations = await stores.rituals.temptations(r.id)
        items = [texts.DRILL_ITEM.format(number=p.number, title=texts.without_drill_mark(p.title), state=_state(p))
                 for p in temptations[-ITEMS_SHOWN:]]
        if len(temptations) > ITEMS_SHOWN:
            items.insert(0, texts.DRILL_EARLIER.format(more=len(temptations) - ITEMS_SHOWN))
        lines.append(texts.DRILL_SHOW_OPEN.format(number=r.number, coop=coop.name, ends=texts.when(r.ends_at, tz),
                                                  team=texts.and_list(team) if team else texts.DRILL_NO_TEAM,
                                                  items="; ".join(items) or texts.DRILL_NONE_YET))
    else:
        due = cycle(coop.founded_at, tz, charter.drill_every_months, ctx.now).next_at
        lines.append(texts.DRILL_SHOW_NEXT.format(coop=coop.name, when=texts.when(due, tz),
                                                  every=texts.plural(charter.drill_every_months, "month", "months")))
        if r is not None and r.record is not None:
            lines.append(texts.DRILL_SHOW_LAST.format(number=r.number, when=texts.when(r.started_at, tz),
                                                      summary=record_text(r, coop.name, r.record)))
    return [Reply("\n".join(lines))]


@verb("tempt", who=Standing.MEMBER, args=N_("<title>"), body=N_("the temptation: the compromise put to the collective"),
      summary=N_("the drill's red team: put a tempting compromise to the collective (marked DRILL, no effect)"))
async def tempt(ctx: Context, call: Call) -> list[Reply]:
    title = one_line(call.args)
    if not title:
        raise BadArguments(texts.NO_TITLE)
    limit = MAX_TITLE - len(texts.DRILL_MARK)
    if len(title) > limit:
        raise BadArguments(texts.NAME_TOO_LONG.format(what=i18n.gettext("title"), length=len(title), limit=limit))
    body = call.body
    if len(body) > MAX_BODY:
        raise BadArguments(texts.NAME_TOO_LONG.format(what=i18n.gettext("text"), length=len(body), limit=MAX_BODY))
    for line in body.splitlines():
        key = line.strip().partition(":")[0].strip().lower()
        if ":" in line and key in PROPOSE_KEYS:
            # How it is decided (a method, a ballot, hidden results) is no effect: the words say why each is refused.
            form = key in ("closes", "kind", "ballot", "options", "results", "method", "seats")
            raise BadArguments((texts.TEMPT_FORM if form else texts.TEMPT_ACTION).format(key=key))
    stores, coop, charter = ctx.stores, ctx.coop, ctx.charter
    r = await stores.rituals.under_way(coop.id, "drill")
    if r is None or r.status != "open" or ctx.now >= r.ends_at:
        raise Conflict(texts.TEMPT_NO_DRILL.format(coop=coop.name, prefix=ctx.prefix))
    team = red_team(await stores.draws.get_by_id(r.draw_id))
    if ctx.member.id not in {s["id"] for s in team}:
        raise NotAllowed(texts.TEMPT_NOT_TEAM.format(number=r.number, team=texts.and_list([s["name"] for s in team])
                                                     or texts.DRILL_NO_TEAM))
    # Each temptation is a card in every room: a few per member rehearse refusal; more would drown the rooms.
    if sum(p.author_id == ctx.member.id for p in await stores.rituals.temptations(r.id)) >= TEMPTS_EACH:
        raise Conflict(texts.TEMPT_ENOUGH.format(most=TEMPTS_EACH, number=r.number))
    closes_at = min(ctx.now + charter.voting_period, r.ends_at)
    if closes_at - ctx.now < MIN_PERIOD:
        raise Conflict(texts.TEMPT_TOO_LATE.format(number=r.number, ends=texts.when(r.ends_at, charter.tz)))
    await stores.proposals.open(
        # Marked in its title, so every list, reminder and poll that names it says DRILL too.
        coop.id, author_id=ctx.member.id, title=texts.DRILL_MARK + title, body=body, kind="ordinary", ballot="open",
        options=list(DEFAULT_OPTIONS), rule=charter.rule("ordinary").to_json(), closes_at=closes_at, now=ctx.now,
        event=ctx.event, purpose="drill", action={"drill": r.number}, ritual_id=r.id)
    return []  # its card, marked DRILL, goes to every room
