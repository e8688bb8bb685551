"""Lotteries anyone can replay: the `draw` and `shuffle` verbs, `hold_draw` for the features that
draw by lot, and drawing what is due (SPEC 'Draws anyone can replay'; the chance is handlers.draws)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from handlers import draws, i18n, texts
from handlers.charter import Charter
from handlers.context import Context, in_language_of
from handlers.errors import BadArguments, Conflict, NotAllowed, NotFound
from handlers.parsing import one_line, parse_closing, parse_label, parse_number, split_first
from handlers.types import Reply
from handlers.verbs import Call, Standing, verb
from handlers.i18n import N_
from storage.draws import DrawNotOpen, DrawSpec, ShufflesSpent
from storage.models import Draw, DrawContribution, Member
from storage.stores import Stores

logger = logging.getLogger(__name__)

MAX_PURPOSE = 100
MAX_SEATS = 100
MAX_SHUFFLE = 200
# Shuffles one member may give one draw: each is posted in every room, so without a bound one
# member could flood the co-op's rooms until the draw; three are as good as a thousand for chance.
SHUFFLES_EACH = 3
MAX_COOLDOWN = 100
DEFAULT_AT = timedelta(minutes=10)
MIN_AT = timedelta(minutes=1)  # members need a moment to shuffle
MAX_AT = timedelta(days=30)
SOURCES = ("members", "allies")
DRAW_KEYS = {
    "from": N_("members|allies"),
    "cooldown": N_("<n>   (exclude whoever was seated in the last n draws of this purpose)"),
    "at": N_("10m | 2026-12-01 18:00   (the draw time; default 10 minutes on)"),
}


def _tz(coop) -> ZoneInfo:
    return Charter.from_json(coop.charter).tz


async def prepare(
    stores: Stores, coop_id: int, *, purpose: str, seats: int, pool: Sequence[Member | str],
    excluded: Sequence[tuple[str, str]] = (), at: datetime, by: int | None = None, source: str = "members",
    organisations: Mapping[int, str] | None = None,
) -> DrawSpec:
    """A draw from `pool` (members in register order, or names of things, such as a mirror shift's
    formats, with no id) with a fresh secret committed to, ready to announce. `excluded` is
    (name, reason) for everyone left out and why; `organisations` (member id → name) limits the
    draw to one seat per organisation, and the pool as announced shows each one's."""
    if seats < 1 or not pool:
        raise ValueError(f"a draw needs a seat and someone to draw ({seats} seats, pool of {len(pool)})")
    coop = await stores.coops.get(coop_id)
    tz = _tz(coop)
    secret = draws.new_secret()
    entries = []
    for m in pool:
        if isinstance(m, str):
            entries.append({"id": None, "name": m})
            continue
        entry = {"id": m.id, "name": m.display_name}
        if organisations and organisations.get(m.id):
            entry["org"] = organisations[m.id]
        entries.append(entry)
    return DrawSpec(
        purpose=purpose, seats=seats, source=source, pool=entries,
        excluded=[{"name": name, "reason": reason} for name, reason in excluded],
        secret=secret.hex(), commitment=draws.commitment(secret), draw_at=at, by=by,
        render=lambda d: announcement(d, tz),
    )


async def hold_draw(
    stores: Stores, coop_id: int, *, purpose: str, seats: int, pool: Sequence[Member],
    excluded: Sequence[tuple[str, str]] = (), at: datetime, now: datetime, by: int | None = None,
    source: str = "members", event: tuple[str, str] | None = None, organisations: Mapping[int, str] | None = None,
) -> Draw:
    """Announce a draw (`prepare`): the one entry for every feature that draws by lot on its own
    (the `draw` verb; features that record a draw with their own row use `prepare` and their
    store). It is drawn at `at` by the due work, once."""
    spec = await prepare(stores, coop_id, purpose=purpose, seats=seats, pool=pool, excluded=excluded, at=at, by=by,
                         source=source, organisations=organisations)
    return await stores.draws.announce(coop_id, spec, now=now, event=event)


def _pool_lines(d: Draw) -> str:
    return "\n".join(texts.DRAW_POOL_LINE_ORG.format(index=i, name=entry["name"], org=entry["org"]) if entry.get("org")
                     else f"{i}. {entry['name']}" for i, entry in enumerate(d.pool, 1))


def _excluded_lines(d: Draw) -> str:
    if not d.excluded:
        return texts.DRAW_NONE_EXCLUDED
    lines = [texts.DRAW_EXCLUDED_LINE.format(name=e["name"], reason=e["reason"]) for e in d.excluded]
    return "\n".join([texts.DRAW_EXCLUDED_HEAD, *lines]) + "\n"


def _seats(n: int) -> str:
    return texts.plural(n, "seat", "seats")


def announcement(d: Draw, tz: ZoneInfo) -> str:
    return texts.DRAW_ANNOUNCED.format(
        number=d.number, seats=_seats(d.seats), purpose=d.purpose, when=texts.when(d.draw_at, tz),
        pool=_pool_lines(d), excluded=_excluded_lines(d), commitment=d.commitment, prefix=texts.PREFIX_MARK,
    )


def _seated_items(d: Draw) -> list[str]:
    return [texts.DRAW_SEATED_ITEM.format(index=s["number"], name=s["name"]) for s in d.result["seated"]]


def result_text(d: Draw) -> str:
    result = d.result
    names = ", ".join(s["name"] for s in result["seated"])
    contributions = result["contributions"]
    said = (texts.plural(len(contributions), "shuffle in the order received", "shuffles in the order received") if contributions
            else texts.DRAW_NO_CONTRIBUTIONS)
    text = texts.DRAW_RESULT.format(
        number=d.number, purpose=d.purpose, seated_line=texts.DRAW_SEATED_LINE.format(names=names),
        seated="\n".join(_seated_items(d)),
        unfilled=texts.DRAW_UNFILLED.format(seats=_seats(result["unfilled"])) if result["unfilled"] else "",
        secret=d.secret, commitment=d.commitment, contributions_said=said, prefix=texts.PREFIX_MARK,
    )
    if "minutes" in result:
        size, root = result["minutes"]
        text += "\n" + texts.head_text(size, bytes.fromhex(root))
    return text


def decide(d: Draw, contributions: list[str]) -> dict:
    """The draw itself, from the stored secret and the shuffles in the order received."""
    key = draws.key(d.secret, contributions)
    picked = draws.picks(key, list(range(len(d.pool))), d.seats, organisation=lambda i: d.pool[i].get("org"))

    def entry(i: int) -> dict:
        return {"number": i + 1, "id": d.pool[i]["id"], "name": d.pool[i]["name"]}

    return {"contributions": contributions, "key": key.hex(), "seated": [entry(i) for i in picked.seated],
            "unfilled": picked.unfilled, "values": picked.values}


async def draw_due(stores: Stores, now: datetime) -> int:
    """Reveal and draw every announced draw whose time has come, each once (the store moves it
    announced → drawn under its row lock): also those whose time passed while the bot was down."""
    done = 0
    for d in await stores.draws.due(now):
        try:
            async with in_language_of(stores, d.coop_id):
                if await stores.draws.draw(d.id, now=now, decide=decide, render=result_text) is not None:
                    done += 1
        except Exception:
            # One draw that fails must not hold the others; the next run tries it again.
            logger.exception("drawing D%s of co-op %s failed; will retry", d.number, d.coop_id)
    return done


async def find_labelled(ctx: Context, text: str, letter: str, get, *, what: str, bad: str, unknown: str):
    """The co-op's draw or audit a `D3`/`A3` argument names (`get(coop id, number)`), or a refusal."""
    number = parse_label(text, letter)
    if number is None:
        raise BadArguments(bad.format(text=one_line(text)[:40]) if text.strip() else texts.MISSING_ARGUMENT.format(what=what))
    found = await get(ctx.coop.id, number)
    if found is None:
        raise NotFound(unknown.format(coop=ctx.coop.name, number=number))
    return found


async def _find(ctx: Context, text: str) -> Draw:
    return await find_labelled(ctx, text, "D", ctx.stores.draws.get, what=i18n.gettext("the draw number"),
                               bad=texts.DRAW_BAD_NUMBER, unknown=texts.DRAW_UNKNOWN)


@verb("draw", who=Standing.IN_COOP, args=N_("<seats> <purpose> | D<n>"), keys=DRAW_KEYS,
      summary=N_("steward: announce a lottery; anyone: draw D<n> shows a draw and how to replay it"))
async def draw(ctx: Context, call: Call) -> list[Reply]:
    first, rest = split_first(call.args)
    if not first:
        raise BadArguments(texts.DRAW_USAGE_SHOW.format(prefix=ctx.prefix))
    # `draw D3` and `draw 3` show a draw; `draw 3 auditors` announces one.
    if first[:1] in ("D", "d") or (not rest and not call.settings):
        if rest:
            raise BadArguments(texts.UNEXPECTED_ARGUMENT)
        return [Reply(await describe(ctx.stores, await _find(ctx, first), _tz(ctx.coop), ctx.now))]
    return await _announce(ctx, call, first, rest)


async def _announce(ctx: Context, call: Call, seats_text: str, purpose_text: str) -> list[Reply]:
    if ctx.member is None or ctx.member.status != "active" or ctx.member.role != "steward":
        raise NotAllowed(texts.DRAW_NOT_STEWARD.format(coop=ctx.coop.name, prefix=ctx.prefix))
    steward, settings = ctx.member, call.settings
    seats = parse_number(seats_text)
    if seats is None:
        raise BadArguments(texts.DRAW_BAD_SEATS.format(text=one_line(seats_text)[:40]))
    if seats < 1:
        raise BadArguments(texts.DRAW_NO_SEATS)
    if seats > MAX_SEATS:
        raise BadArguments(texts.DRAW_TOO_MANY_SEATS.format(limit=MAX_SEATS))
    purpose = one_line(purpose_text)
    if not purpose:
        raise BadArguments(texts.DRAW_NO_PURPOSE.format(prefix=ctx.prefix))
    if len(purpose) > MAX_PURPOSE:
        raise BadArguments(texts.DRAW_PURPOSE_TOO_LONG.format(limit=MAX_PURPOSE, length=len(purpose)))
    source = settings.get("from", "members").strip().lower()
    if source not in SOURCES:
        raise BadArguments(texts.DRAW_BAD_SOURCE.format(text=one_line(settings["from"])[:40]))
    if source == "allies":
        raise NotAllowed(texts.DRAW_NO_ALLIES)
    cooldown = 0
    if "cooldown" in settings:
        cooldown = parse_number(settings["cooldown"])
        if cooldown is None or cooldown > MAX_COOLDOWN:
            raise BadArguments(texts.DRAW_BAD_COOLDOWN.format(text=one_line(settings["cooldown"])[:40],
                                                              limit=MAX_COOLDOWN))
    at = _draw_time(ctx, settings.get("at"))
    active = [m for m in await ctx.stores.members.register(ctx.coop.id) if m.status == "active"]
    # Whoever sat in the last `cooldown` draws of this purpose stays out, each named with the draw.
    reasons: dict[int, str] = {}
    for past in await ctx.stores.draws.recent(ctx.coop.id, purpose, cooldown):
        for seat in past.result["seated"]:
            reasons.setdefault(seat["id"], texts.DRAW_REASON_COOLDOWN.format(number=past.number, purpose=past.purpose))
    pool = [m for m in active if m.id not in reasons]
    excluded = [(m.display_name, reasons[m.id]) for m in active if m.id in reasons]
    if not pool:
        raise Conflict(texts.DRAW_EMPTY_POOL)
    await hold_draw(ctx.stores, ctx.coop.id, purpose=purpose, seats=seats, pool=pool, excluded=excluded, at=at,
                    now=ctx.now, by=steward.id, source=source, event=ctx.event)
    # The announcement goes to every bound room through the outbox; there is nothing more to say here.
    return []


def _draw_time(ctx: Context, text: str | None) -> datetime:
    if text is None:
        return ctx.now + DEFAULT_AT
    at = parse_closing(text, ctx.now, _tz(ctx.coop))
    if at is None:
        raise BadArguments(texts.DRAW_BAD_AT.format(text=one_line(text)[:60]))
    if at <= ctx.now:
        raise BadArguments(texts.DRAW_AT_PAST.format(when=texts.when(at, _tz(ctx.coop))))
    if at - ctx.now < MIN_AT:
        raise BadArguments(texts.DRAW_AT_TOO_SOON.format(minimum=texts.span(MIN_AT)))
    if at - ctx.now > MAX_AT:
        raise BadArguments(texts.DRAW_AT_TOO_LATE.format(maximum=texts.span(MAX_AT)))
    return at


@verb("shuffle", who=Standing.MEMBER_OR_ALLY, args=N_("D<n> <any text>"),
      summary=N_("add your own randomness to a draw before its time (posted publicly)"))
async def shuffle(ctx: Context, call: Call) -> list[Reply]:
    number_text, rest = split_first(call.args)
    d = await _find(ctx, number_text)
    text = one_line(rest)
    if not text:
        raise BadArguments(texts.SHUFFLE_EMPTY.format(prefix=ctx.prefix, number=d.number))
    if len(text) > MAX_SHUFFLE:
        raise BadArguments(texts.SHUFFLE_TOO_LONG.format(limit=MAX_SHUFFLE, length=len(text)))
    closed = Conflict(texts.SHUFFLE_CLOSED.format(number=d.number, when=texts.when(d.draw_at, _tz(ctx.coop))))
    if d.status != "announced" or ctx.now >= d.draw_at:
        raise closed
    name = ctx.member.display_name
    try:
        c = await ctx.stores.draws.shuffle(
            d.id, ctx.member.id, text, now=ctx.now, event=ctx.event, most=SHUFFLES_EACH,
            render=lambda q, c: texts.SHUFFLE_POSTED.format(seq=c.seq, number=q.number, name=name, text=c.text),
        )
    except DrawNotOpen:
        raise closed from None
    except ShufflesSpent as exc:
        raise Conflict(texts.SHUFFLES_SPENT.format(number=d.number, most=exc.most)) from None
    # In a room the posted shuffle is the answer; a direct chat is told where it went.
    return ctx.only_in_direct(texts.SHUFFLE_DIRECT.format(number=d.number, seq=c.seq))


async def describe(stores: Stores, d: Draw, tz: ZoneInfo, now: datetime) -> str:
    """Every input of a draw, and once drawn its secret, result and the replay snippet."""
    contributions: list[DrawContribution] = await stores.draws.contributions(d.id)
    names = await stores.members.names([c.member_id for c in contributions if c.member_id is not None])
    lines = [texts.DRAW_SHOW_CONTRIBUTION.format(seq=c.seq, name=names.get(c.member_id, "?"), text=c.text)
             for c in contributions]
    if d.status == "drawn":
        status = texts.DRAW_STATUS_DRAWN.format(when=texts.when(d.drawn_at, tz))
    elif d.draw_at <= now:
        status = texts.DRAW_STATUS_DUE.format(when=texts.when(d.draw_at, tz))
    else:
        status = texts.DRAW_STATUS_ANNOUNCED.format(when=texts.when(d.draw_at, tz))
    text = texts.DRAW_SHOW.format(
        number=d.number, seats=_seats(d.seats), purpose=d.purpose, status=status, pool=_pool_lines(d),
        excluded=_excluded_lines(d), commitment=d.commitment,
        contributions="\n".join(lines) or texts.DRAW_SHOW_NO_CONTRIBUTIONS,
    )
    if d.status != "drawn":
        return text
    orgs = [e.get("org") for e in d.pool]
    snippet = draws.replay_snippet(d.commitment, d.secret, d.result["contributions"], [e["name"] for e in d.pool],
                                   d.seats, orgs if any(orgs) else None)
    seated = "; ".join(_seated_items(d))
    return text + "\n" + texts.DRAW_SHOW_RESULT.format(secret=d.secret, seated=seated, snippet=snippet)
