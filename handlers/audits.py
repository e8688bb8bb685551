"""Liberation audits (SPEC 'Liberation audits and their consequences'): the `audit` and `verdict`
verbs, starting an audit (by a steward or the calendar), and the due work that carries it from
its draw to its verdict and what the verdict sets in motion."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from fractions import Fraction

from handlers import i18n, lottery, texts
from handlers.calendar import Dated, cycle
from handlers.charter import Charter
from handlers.context import Context, in_language_of
from handlers.due import DIRECT_PLATFORMS
from handlers.errors import BadArguments, Conflict, NotAllowed, NotFound
from handlers.pack import audit_pack
from handlers.parsing import one_line, parse_label, split_first
from handlers.tally import DEFAULT_OPTIONS
from handlers.types import Reply
from handlers.verbs import Call, Standing, verb
from handlers.i18n import N_
from storage.audits import PAY, AuditNotOpen, AuditRunning, NotAnAuditor, PayBreach, Seat, Spoken
from storage.errors import DuplicateEvent
from storage.models import Audit, Coop, Proposal
from storage.outbox import SCHEDULE, Scheduled
from storage.stores import Stores

logger = logging.getLogger(__name__)

GRADES = texts.GRADES
DRAW_AFTER = lottery.DEFAULT_AT  # time to shuffle an auditors' or stewards' draw
MAX_FINDINGS = 3000  # one message per finding, under Telegram's 4,096 characters


class NoAllies(Exception):
    """No ally can be drawn (none, or all in their cooldown)."""


def severity(grade: str) -> int:
    return GRADES.index(grade)


def median(grades: Sequence[str]) -> str:
    """The co-op's verdict from its auditors'. With two grades in the middle (an even count), the
    sterner stands: the audit is designed for the moment trust frays, and a needless revision costs
    less than a drift let pass."""
    ordered = sorted(grades, key=severity)
    return ordered[len(ordered) // 2]


def _tz(coop: Coop):
    return Charter.from_json(coop.charter).tz


async def _draw_spec(stores: Stores, coop: Coop, number: int, *, now: datetime, redraw_of: Audit | None = None):
    """The auditors' draw: allies of affiliated organisations, none who audited in the last
    `audit_cooldown` audits (nor, on a redraw, those drawn before who stayed silent), one per
    organisation. NoAllies if nobody is left."""
    charter = Charter.from_json(coop.charter)
    allies = await stores.audits.candidates(coop.id)
    reasons = {member_id: texts.AUDIT_REASON_COOLDOWN.format(number=n)
               for member_id, n in (await stores.audits.audited_lately(coop.id, charter.audit_cooldown)).items()
               if redraw_of is None or n != redraw_of.number}
    if redraw_of is not None:
        for seat in await stores.audits.seats(redraw_of.id):
            reasons[seat.member_id] = texts.AUDIT_REASON_SILENT.format(number=redraw_of.number)
    pool = [m for m, _ in allies if m.id not in reasons]
    if not pool:
        raise NoAllies()
    purpose = (texts.AUDITORS_REDRAW_PURPOSE if redraw_of else texts.AUDITORS_PURPOSE).format(number=number)
    return await lottery.prepare(
        stores, coop.id, purpose=purpose, seats=charter.audit_auditors, pool=pool,
        excluded=[(m.display_name, reasons[m.id]) for m, _ in allies if m.id in reasons], at=now + DRAW_AFTER,
        source="allies", organisations={m.id: org for m, org in allies},
    )


async def begin(stores: Stores, coop: Coop, *, reason: str, by: int | None, now: datetime,
                event: tuple[str, str] | None = None) -> Audit:
    """Open the next audit and announce its auditors' draw (or, with nobody to draw and no one
    asking, record it with no verdict). Raises AuditRunning, or NoAllies for a steward's start."""
    if await stores.audits.running(coop.id) is not None:
        raise AuditRunning()
    latest = await stores.audits.latest(coop.id)
    number = (latest.number if latest else 0) + 1
    try:
        spec = await _draw_spec(stores, coop, number, now=now)
    except NoAllies:
        if reason == "steward":
            raise
        spec = None
    prefix = texts.PREFIX_MARK
    return await stores.audits.start(
        coop.id, reason=reason, spec=spec, by=by, now=now, event=event,
        render=lambda a: texts.AUDIT_NONE_DRAWN.format(number=a.number, coop=coop.name, prefix=prefix,
                                                       when=texts.when(now, _tz(coop))),
    )


async def start_due(stores: Stores, coop_id: int, now: datetime, key: str) -> None:
    """The calendar's audit falls due: it opens, once (the claim `key`)."""
    coop = await stores.coops.get(coop_id)
    try:
        await begin(stores, coop, reason="calendar", by=None, now=now, event=(SCHEDULE, key))
    except DuplicateEvent:
        pass  # opened already, by an earlier run or another process
    except AuditRunning:
        running = await stores.audits.running(coop.id)
        text = texts.AUDIT_DUE_RUNNING.format(coop=coop.name, number=running.number if running else "?")
        await stores.outbox.announce_many([Scheduled(key, coop.id, "audit", text)], now)


# --- the due work ---
async def audits_due(stores: Stores, now: datetime) -> int:
    """Carry every audit one step further while it can go: seat the drawn auditors, close at the
    last verdict or the window's end (or draw again), a missed revision, the assembly, the new
    stewards. Each step is one transaction guarded by the audit's state, so none is done twice."""
    moved = 0
    for audit in await stores.audits.pending():
        try:
            async with in_language_of(stores, audit.coop_id):
                moved += await advance(stores, audit, now)
        except Exception:
            # One audit that fails must not hold the others; the next run tries it again.
            logger.exception("audit A%s of co-op %s failed a step; will retry", audit.number, audit.coop_id)
    return moved


async def advance(stores: Stores, audit: Audit, now: datetime) -> int:
    """One audit's steps while they can go (a step may make the next due at once: a verdict
    convenes an assembly); how many were taken."""
    moved = 0
    for _ in range(6):
        if not await _step(stores, audit, now):
            break
        moved += 1
        audit = await stores.audits.by_id(audit.id)
    return moved


async def _step(stores: Stores, audit: Audit, now: datetime) -> bool:
    coop = await stores.coops.get(audit.coop_id)
    if audit.status == "drawing":
        return await _seat(stores, coop, audit, now)
    if audit.status == "open":
        return await _finish(stores, coop, audit, now)
    if audit.stage == "revision":
        if now < audit.revision_due_at:
            await _remind_revision(stores, coop, audit, now)
            return False
        if await stores.audits.revision_pending(audit.id, audit.revision_due_at):
            return False
        tz = _tz(coop)
        missed = texts.PAY_REVISION_MISSED if audit.reason == PAY else texts.REVISION_MISSED
        return await stores.audits.revision_missed(audit.id, now=now, render=lambda a: missed.format(
            number=a.number, due=texts.when(a.revision_due_at, tz))) is not None
    if audit.stage == "assembly":
        return await convene(stores, coop, audit, now)
    if audit.stage == "lapsed":
        return await _draw_stewards(stores, coop, audit, now)
    if audit.stage == "reseating":
        draw = await stores.draws.get_by_id(audit.stewards_draw_id)
        return await stores.audits.reseat(audit.id, now=now, render=lambda a, names: (
            texts.STEWARDS_SEATED.format(coop=coop.name, number=a.number, draw=draw.number,
                                         names=texts.and_list(names)) if names
            else texts.STEWARDS_NONE_SEATED.format(coop=coop.name, draw=draw.number))) is not None
    return False


def revision_reminders(charter: Charter, audit: Audit) -> list[tuple[timedelta, datetime]]:
    """The revision's reminders: the charter's audit reminder offsets before its deadline, those
    after the verdict."""
    return [(o, audit.revision_due_at - o) for o in charter.audit_reminders
            if audit.revision_due_at - o > audit.closed_at]


async def _remind_revision(stores: Stores, coop: Coop, audit: Audit, now: datetime) -> None:
    """The latest revision reminder reached is sent once (its claim); earlier ones it supersedes are skipped."""
    charter = Charter.from_json(coop.charter)
    reached = [o for o, at in revision_reminders(charter, audit) if at <= now]
    if not reached:
        return
    keys = {o: f"revision:{audit.id}:{int(o.total_seconds())}" for o in reached}
    latest = min(reached)
    if await stores.cursors.handled(SCHEDULE, [keys[latest]]):
        return  # sent already: a read, not a write, on every later run
    await stores.outbox.skip([k for o, k in keys.items() if o != latest], now)
    reminder = texts.PAY_REVISION_REMINDER if audit.reason == PAY else texts.REVISION_REMINDER
    text = reminder.format(number=audit.number, due=texts.when(audit.revision_due_at, charter.tz),
                           left=texts.span(audit.revision_due_at - now), prefix=texts.PREFIX_MARK)
    await stores.outbox.announce_many([Scheduled(keys[latest], coop.id, "reminder", text)], now)


async def _seat(stores: Stores, coop: Coop, audit: Audit, now: datetime) -> bool:
    draw = await stores.draws.get_by_id(audit.draw_id)
    if draw is None or draw.status != "drawn":
        return False
    charter, tz = Charter.from_json(coop.charter), _tz(coop)
    window_ends_at = draw.drawn_at + charter.audit_window
    pack = await audit_pack(stores, coop, now, since=await _since(stores, coop, audit))
    accounts = await stores.members.accounts(coop.id)
    prefix = texts.PREFIX_MARK

    def render(a: Audit, seats: Sequence[Seat]) -> list[str]:
        if not seats:
            return [texts.AUDIT_NO_SEATS.format(number=a.number, draw=draw.number, when=texts.when(window_ends_at, tz))]
        opened = texts.AUDIT_OPENED.format(number=a.number, auditors=_auditors(seats), draw=draw.number,
                                           when=texts.when(window_ends_at, tz), prefix=prefix)
        reachable = {acc.member_id for acc in accounts if acc.platform in DIRECT_PLATFORMS}
        if any(seat.member_id not in reachable for seat in seats):
            # Matrix has no direct chat the bot can open by id: the pack goes to the rooms instead,
            # as a message of its own (with the announcement it could pass Telegram's 4,096 characters).
            return [opened, texts.AUDIT_PACK_IN_ROOM.format(pack=pack)]
        return [opened]

    def direct(a: Audit, seats: Sequence[Seat]) -> list[tuple[str, str, str]]:
        text = texts.AUDIT_PACK_DIRECT.format(coop=coop.name, number=a.number, when=texts.when(window_ends_at, tz),
                                              prefix=prefix, pack=pack)
        ids = {seat.member_id for seat in seats}
        return [(acc.platform, acc.user_id, text) for acc in accounts
                if acc.member_id in ids and acc.platform in DIRECT_PLATFORMS]

    return await stores.audits.seat(audit.id, now=now, window_ends_at=window_ends_at, render=render,
                                    direct=direct) is not None


async def _since(stores: Stores, coop: Coop, audit: Audit) -> datetime | None:
    """The pack covers the time since the previous audit closed (since founding for the first);
    pay demands in between are not audits."""
    previous = await stores.audits.previous(coop.id, audit.number)
    return previous.closed_at if previous is not None else None


def _names(names: Sequence[str]) -> str:
    return texts.and_list(list(names)) if names else texts.NOBODY


def _auditors(seats: Sequence[Seat]) -> str:
    return texts.and_list([f"{s.name} ({s.org})" if s.org else s.name for s in seats])


async def _finish(stores: Stores, coop: Coop, audit: Audit, now: datetime) -> bool:
    """Close when every auditor has spoken or the window is over; with no verdict at all, draw
    the auditors again once, then record no verdict."""
    over = audit.window_ends_at is not None and now >= audit.window_ends_at
    spoken = await stores.audits.verdicts(audit.id)
    if not over:
        if not spoken or len(spoken) < len(await stores.audits.seats(audit.id)):
            return False
    elif not spoken and not audit.redrawn:
        try:
            spec = await _draw_spec(stores, coop, audit.number, now=now, redraw_of=audit)
        except NoAllies:
            spec = None
        if spec is not None:
            return await stores.audits.redraw(audit.id, spec, now=now, render=lambda a, d: texts.AUDIT_REDRAWN.format(
                number=a.number, draw=d.number)) is not None
    return await close(stores, coop, audit, now)


async def close(stores: Stores, coop: Coop, audit: Audit, now: datetime) -> bool:
    charter, tz = Charter.from_json(coop.charter), _tz(coop)
    seats = await stores.audits.seats(audit.id)

    def decide(a: Audit, spoken: Sequence[Spoken]) -> dict:
        if not spoken:
            return {"verdict": "none", "stage": "done"}
        grade = median([v.grade for v in spoken])
        if grade == "reformist":
            return {"verdict": grade, "stage": "revision", "revision_due_at": now + timedelta(days=charter.revision_days)}
        return {"verdict": grade, "stage": "assembly" if grade == "counter-revolutionary" else "done"}

    def render(a: Audit, spoken: Sequence[Spoken], head: tuple[int, str]) -> list[str]:
        lines = [texts.AUDIT_CLOSED.format(number=a.number, coop=coop.name, grade=texts.GRADE_WORDS[a.verdict])]
        if spoken:
            grades = sorted((v.grade for v in spoken), key=severity)
            lines.append(texts.AUDIT_MEDIAN.format(count=len(grades), grades=", ".join(grades)))
            if len(grades) % 2 == 0 and grades[len(grades) // 2 - 1] != grades[len(grades) // 2]:
                lines.append(texts.AUDIT_MEDIAN_TIE)
            silent = [s.name for s in seats if s.member_id not in {v.member_id for v in spoken}]
            if silent:
                lines.append(texts.AUDIT_SILENT.format(silent=texts.and_list(silent)))
            due = texts.when(a.revision_due_at, tz) if a.revision_due_at else ""
            lines.append(texts.AUDIT_FOLLOWS[a.verdict].format(number=a.number, due=due))
        else:
            lines.append(texts.AUDIT_NO_VERDICT)
        lines.append(texts.head_text(head[0], bytes.fromhex(head[1])))
        findings = [texts.AUDIT_FINDING.format(number=a.number, name=v.name, org=f" ({v.org})" if v.org else "",
                                               grade=v.grade, findings=v.findings or texts.AUDIT_FINDING_NONE)
                    for v in spoken]
        return ["\n".join(lines), *findings]

    return await stores.audits.close(audit.id, now=now, decide=decide, render=render) is not None


async def convene(stores: Stores, coop: Coop, audit: Audit, now: datetime) -> bool:
    """The emergency assembly: a mandated strategic vote, Keep the current stewards?, that closes
    at the assembly, `assembly_notice` from now; opened once (its claim), its card in every room."""
    if await stores.audits.assembly(audit.id) is not None:
        return False
    charter, tz = Charter.from_json(coop.charter), _tz(coop)
    at = now + charter.assembly_notice
    stewards = [m.display_name for m in await stores.members.register(coop.id)
                if m.status == "active" and m.role == "steward"]
    why = texts.ASSEMBLY_WHY[PAY if audit.reason == PAY else
                             "counter-revolutionary" if audit.verdict == "counter-revolutionary" else "missed"]
    by = texts.ASSEMBLY_BY[PAY if audit.reason == PAY else "audit"].format(number=audit.number)
    try:
        await stores.proposals.open(
            coop.id, author_id=None, title=texts.ASSEMBLY_TITLE,
            body=texts.ASSEMBLY_BODY.format(coop=coop.name, by=by, why=why, when=texts.when(at, tz),
                                            stewards=_names(stewards)),
            kind="strategic", ballot="open", options=list(DEFAULT_OPTIONS), rule=charter.rule("strategic").to_json(),
            closes_at=at, now=now, purpose="assembly", action={"assembly": audit.number}, audit_id=audit.id,
            event=(SCHEDULE, f"assembly:{audit.id}"),
        )
    except DuplicateEvent:
        return False  # convened already, by another process
    return True


async def _draw_stewards(stores: Stores, coop: Coop, audit: Audit, now: datetime) -> bool:
    """Every steward role lapsed: as many new stewards are drawn from the members who were not
    stewards (from every member, if all were): those on the register when the assembly was
    convened and still on it, so a steward cannot admit friends into the draw while it is pending."""
    assembly = await stores.audits.assembly(audit.id)
    electorate = set(await stores.proposals.electors(assembly.id)) if assembly else None
    members = [m for m in await stores.members.register(coop.id)
               if m.status == "active" and (electorate is None or m.id in electorate)]
    lapsed = set(audit.lapsed or [])
    pool = [m for m in members if m.id not in lapsed]
    excluded = [(m.display_name, texts.STEWARD_REASON_LAPSED) for m in members if m.id in lapsed]
    if not pool:
        pool, excluded = members, []
    if not pool:
        return False
    spec = await lottery.prepare(stores, coop.id, purpose=texts.STEWARDS_PURPOSE.format(number=audit.number),
                                 seats=max(1, len(lapsed)), pool=pool, excluded=excluded, at=now + DRAW_AFTER)
    return await stores.audits.draw_stewards(audit.id, spec, now=now) is not None


def cap_breach(before: dict, after: dict, ratio: Fraction, now: datetime, pending: int | None = None) -> PayBreach | None:
    """SPEC 'Firewalls': an amendment that changes the wage-ratio cap and leaves it below the pay
    scale's ratio now (`ratio`, read under the co-op row lock) makes a revision due within the new
    charter's `revision_days`, else an emergency assembly (applied in the close's transaction by
    storage.audits.demand). None: the cap is unchanged, the pay fits it, or a pay demand is
    pending already (`pending`, its number): its revision answers this cap too, and a second
    demand would only convene a second assembly on the same breach."""
    old, new = Charter.from_json(before), Charter.from_json(after)
    if new.wage_ratio_cap == old.wage_ratio_cap or ratio <= new.wage_ratio_cap or pending is not None:
        return None
    return PayBreach(new.wage_ratio_cap, now + timedelta(days=new.revision_days))


def breach_text(note: dict, tz) -> str:
    """The line a result adds when its amendment made a pay demand (ProposalStore.close's `pay_breach` note)."""
    return texts.PAY_BREACH_DUE.format(number=note["number"], cap=texts.ratio(Fraction(note["cap"])),
                                       ratio=texts.measured_ratio(Fraction(note["ratio"]), past=Fraction(note["cap"])),
                                       due=texts.when(datetime.fromisoformat(note["due"]), tz))


def settlement(p: Proposal, audit: Audit, carried: bool) -> str | None:
    """What closing proposal `p` does to the audit it answers (applied in the close's transaction
    by storage.audits.settle): a revision passed by its deadline meets the demand; the emergency
    assembly's confidence vote keeps the stewards, or, failed (quorum included), lapses them all."""
    if p.purpose == "revision" and carried and audit.stage == "revision" \
            and audit.revision_due_at is not None and p.closes_at <= audit.revision_due_at:
        return "revised"
    if p.purpose == "assembly" and p.author_id is None and audit.stage == "assembly":
        return "kept" if carried else "lapsed"
    return None


# --- the verbs ---
async def find(ctx: Context, text: str) -> Audit:
    return await lottery.find_labelled(ctx, text, "A", ctx.stores.audits.get, what=i18n.gettext("the audit number"),
                                       bad=texts.AUDIT_BAD_NUMBER, unknown=texts.AUDIT_UNKNOWN)


@verb("audit", who=Standing.MEMBER_OR_ALLY, args=N_("[A<n> | start]"),
      summary=N_("the liberation audit: auditors, pack, verdicts, deadlines; steward: audit start opens one now"))
async def audit(ctx: Context, call: Call) -> list[Reply]:
    first, rest = split_first(call.args)
    if rest:
        raise BadArguments(texts.UNEXPECTED_ARGUMENT)
    if first.lower() == "start":
        return await _start(ctx)
    shown = await find(ctx, first) if first else await ctx.stores.audits.latest(ctx.coop.id)
    if shown is None:
        charter = ctx.charter
        due = cycle(ctx.coop.founded_at, charter.tz, charter.audit_every_months, ctx.now).next_at
        text = texts.AUDIT_NONE_YET.format(coop=ctx.coop.name, when=texts.when(due, charter.tz), prefix=ctx.prefix)
    else:
        text = await describe(ctx.stores, ctx.coop, shown, ctx.now)
    pack = await audit_pack(ctx.stores, ctx.coop, ctx.now,
                            since=await _since(ctx.stores, ctx.coop, shown) if shown else None)
    return [Reply(text), Reply(pack)]


async def _start(ctx: Context) -> list[Reply]:
    if ctx.member is None or ctx.member.status != "active" or ctx.member.role != "steward":
        ctx.require_steward()
    try:
        started = await begin(ctx.stores, ctx.coop, reason="steward", by=ctx.member.id, now=ctx.now, event=ctx.event)
    except AuditRunning:
        running = await ctx.stores.audits.running(ctx.coop.id)
        raise Conflict(texts.AUDIT_RUNNING.format(number=running.number if running else "?", prefix=ctx.prefix)) from None
    except NoAllies:
        raise Conflict(texts.AUDIT_NO_ALLIES.format(coop=ctx.coop.name, prefix=ctx.prefix)) from None
    draw = await ctx.stores.draws.get_by_id(started.draw_id)
    return [Reply(texts.AUDIT_STARTED.format(number=started.number, coop=ctx.coop.name, draw=draw.number,
                                             when=texts.when(draw.draw_at, ctx.charter.tz), prefix=ctx.prefix))]


async def describe(stores: Stores, coop: Coop, a: Audit, now: datetime) -> str:
    """What `audit` says of an audit: how it started, its auditors, verdicts so far (who, not
    which: the grades are published together at the close), and its deadlines."""
    tz = _tz(coop)
    if a.reason == PAY:
        lines = [await _breach_head(stores, coop, a, tz)]
    else:
        lines = [texts.AUDIT_SHOW_HEAD.format(number=a.number, coop=coop.name, reason=texts.AUDIT_REASONS[a.reason],
                                              started=texts.when(a.started_at, tz))]
    if a.status == "drawing":
        draw = await stores.draws.get_by_id(a.draw_id)
        lines.append(texts.AUDIT_SHOW_DRAWING.format(draw=draw.number, when=texts.when(draw.draw_at, tz)))
    seats = await stores.audits.seats(a.id)
    if seats:
        lines.append(texts.AUDIT_SHOW_AUDITORS.format(auditors=_auditors(seats)))
    if a.status == "open":
        spoken = await stores.audits.verdicts(a.id)
        lines.append(texts.AUDIT_SHOW_WINDOW.format(when=texts.when(a.window_ends_at, tz), spoken=len(spoken),
                                                    seats=len(seats), names=_names([v.name for v in spoken])))
    if a.status == "closed" and a.reason != PAY:
        lines.append(texts.AUDIT_SHOW_CLOSED.format(when=texts.when(a.closed_at, tz), grade=texts.GRADE_WORDS[a.verdict]))
    if a.stage == "revision":
        lines.append(texts.AUDIT_SHOW_REVISION.format(number=a.number, due=texts.when(a.revision_due_at, tz)))
    elif a.stage == "revised":
        lines.append(texts.AUDIT_SHOW_REVISED)
    elif a.stage == "assembly":
        p = await stores.audits.assembly(a.id)
        lines.append(texts.AUDIT_SHOW_ASSEMBLY.format(proposal=p.number, title=p.title, when=texts.when(p.closes_at, tz))
                     if p else texts.AUDIT_SHOW_ASSEMBLY_DUE)
    elif a.stage in ("kept", "lapsed", "reseating", "reseated"):
        lines.append({"kept": texts.AUDIT_SHOW_KEPT, "reseated": texts.AUDIT_SHOW_RESEATED}.get(
            a.stage, texts.AUDIT_SHOW_LAPSED))
    return "\n".join(lines)


async def _breach_head(stores: Stores, coop: Coop, a: Audit, tz) -> str:
    """How `audit` names a pay demand: the cap, the amendment that set it, the ratio it was below."""
    found = await stores.audits.breach(a)
    data, proposal = found if found is not None else ({}, None)
    cap = Fraction(data.get("cap", "0")) if data else None
    return texts.AUDIT_SHOW_BREACH.format(
        number=a.number, coop=coop.name, started=texts.when(a.started_at, tz),
        cap=texts.ratio(cap) if cap else "?", proposal=proposal if proposal is not None else "?",
        ratio=texts.measured_ratio(Fraction(data["ratio"]), past=cap) if data else "?")


@verb("verdict", who=Standing.IN_COOP, args=N_("A<n> revolutionary|reformist|counter-revolutionary"),
      body=N_("your findings"), summary=N_("a drawn auditor: your verdict on the audit (restatable until it closes)"))
async def verdict(ctx: Context, call: Call) -> list[Reply]:
    number_text, rest = split_first(call.args)
    a = await find(ctx, number_text)
    who = ctx.member
    if who is None or who.status != "ally":
        raise NotAllowed(texts.VERDICT_NOT_AUDITOR.format(number=a.number))
    grade = _grade(rest)
    findings = call.body.strip()
    if len(findings) > MAX_FINDINGS:
        raise BadArguments(texts.VERDICT_TOO_LONG.format(limit=MAX_FINDINGS, length=len(findings)))
    try:
        given = await ctx.stores.audits.give(a.id, who.id, grade=grade, findings=findings, now=ctx.now, event=ctx.event)
    except NotAnAuditor:
        raise NotAllowed(texts.VERDICT_NOT_AUDITOR.format(number=a.number)) from None
    except AuditNotOpen as exc:
        raise Conflict(texts.VERDICT_NOT_OPEN.format(number=a.number, state=texts.VERDICT_STATES[str(exc.args[0])])) \
            from None
    said = (texts.VERDICT_RESTATED if given.restated else texts.VERDICT_GIVEN).format(
        number=a.number, grade=grade, spoken=given.spoken, seats=given.seats)
    if given.spoken >= given.seats:
        # The last auditor spoke: the audit closes now. The verdict is stored whatever happens
        # here; if the close fails, the due work closes it at its next look.
        try:
            await advance(ctx.stores, a, ctx.now)
        except Exception:
            logger.exception("closing A%s after its last verdict failed; the due work will", a.number)
    return [Reply(said)]


def _grade(text: str) -> str:
    word = one_line(text).lower().replace("counter revolutionary", "counter-revolutionary").replace(
        "counterrevolutionary", "counter-revolutionary").rstrip(".")
    if word not in GRADES:
        raise BadArguments(texts.VERDICT_BAD_GRADE.format(text=one_line(text)[:40]) if text.strip()
                           else texts.MISSING_ARGUMENT.format(what=i18n.gettext("the verdict")))
    return word


# --- proposals that answer an audit ---
async def revision_of(ctx: Context, text: str, closes_at: datetime) -> Audit:
    """The audit a `revises: A<n>` line names: its revision must be due, and the proposal must
    decide by the deadline."""
    number = parse_label(text, "A")
    if number is None:
        raise BadArguments(texts.REVISES_BAD.format(text=one_line(text)[:40]))
    a = await ctx.stores.audits.get(ctx.coop.id, number)
    if a is None:
        raise NotFound(texts.REVISES_UNKNOWN.format(coop=ctx.coop.name, number=number))
    if a.stage != "revision":
        not_due = texts.PAY_REVISES_NOT_DUE if a.reason == PAY else texts.REVISES_NOT_DUE
        raise Conflict(not_due.format(number=a.number))
    if closes_at > a.revision_due_at:
        tz = ctx.charter.tz
        raise BadArguments(texts.REVISES_TOO_LATE.format(number=a.number, due=texts.when(a.revision_due_at, tz),
                                                         closes=texts.when(closes_at, tz)))
    return a


def calendar_items(audit: Audit, assembly) -> list[Dated]:
    """What an audit still under way adds to `calendar`: its window's end, a revision deadline, the assembly."""
    items, coop, n = [], audit.coop_id, audit.number
    if audit.status == "open" and audit.window_ends_at:
        # Drawn again (once, after a silent window): the window ends later, a change of its event.
        items.append(Dated(audit.window_ends_at, texts.CALENDAR_AUDIT_WINDOW.format(number=n),
                           key=f"verdicts-{coop}-A{n}", sequence=1 if audit.redrawn else 0))
    if audit.stage == "revision":
        due = texts.CALENDAR_PAY_REVISION if audit.reason == PAY else texts.CALENDAR_REVISION
        items.append(Dated(audit.revision_due_at, due.format(number=n), key=f"revision-{coop}-A{n}"))
    if assembly is not None and assembly.status == "open":
        items.append(Dated(assembly.closes_at, texts.CALENDAR_ASSEMBLY.format(
            number=n, proposal=assembly.number, title=assembly.title), key=f"assembly-{coop}-A{n}"))
    return items
