"""Store for proposals: opening with a frozen register, listing, closing with a tally (sealing a
secret ballot's), recounting."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from sqlalchemy import (
    Integer, Row, String, and_, bindparam, cast, column, delete as sa_delete, exists, func, insert as sa_insert,
    literal, select, update, values,
)

from storage import allies, audits, firewalls, minutes, objections, proxies as proxy_store
from storage.draws import DrawSpec, announce_draw
from storage.common import announce, claim, insert, log, queue_direct, still_voting
from storage.db import Database
from storage.errors import AlreadyVoted, ProposalNotOpen, RemindedLately
from storage.models import (
    Account, Ballot, Consent, Coop, Elector, GovernanceEvent, InboundEvent, LastLook, Member, Objection, Proposal, Room,
    Round, Waiver,
)
from storage.types import UTCDateTime

CHUNK = 500  # ids per IN (…): well under every driver's limit on bound parameters
REMINDER_COLUMNS = (
    Proposal.id, Proposal.coop_id, Proposal.number, Proposal.title, Proposal.rule, Proposal.electorate_size,
    Proposal.opened_at, Proposal.closes_at,
)


class ProposalStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, coop_id: int, number: int) -> Proposal | None:
        async with self.db.read() as s:
            stmt = select(Proposal).where(Proposal.coop_id == coop_id, Proposal.number == number)
            return (await s.execute(stmt)).scalar_one_or_none()

    async def get_by_id(self, proposal_id: int) -> Proposal | None:
        async with self.db.read() as s:
            return await s.get(Proposal, proposal_id)

    async def list(self, coop_id: int, *, status: str | None = None) -> list[Proposal]:
        async with self.db.read() as s:
            stmt = select(Proposal).where(Proposal.coop_id == coop_id)
            if status is not None:
                stmt = stmt.where(Proposal.status == status)
            return list((await s.execute(stmt.order_by(Proposal.number))).scalars())

    async def for_calendar(self, coop_id: int, ended_since: datetime) -> list[Proposal]:
        """The open proposals and those closed or withdrawn since `ended_since`: a calendar feed
        shows an early close or a withdrawal as a changed or cancelled event, not a vanished one."""
        async with self.db.read() as s:
            stmt = select(Proposal).where(Proposal.coop_id == coop_id, (Proposal.status == "open") | and_(
                Proposal.status.in_(("closed", "withdrawn")), Proposal.ended_at >= ended_since))
            return list((await s.execute(stmt.order_by(Proposal.number))).scalars())

    async def open_with_votes_of(self, coop_id: int, member_id: int) -> list[tuple[Proposal, bool]]:
        """Open proposals, each with whether this member has a current vote on it."""
        async with self.db.read() as s:
            voted = (
                select(Ballot.proposal_id)
                .where(Ballot.member_id == member_id, Ballot.proposal_id == Proposal.id)
                .exists()
            )
            stmt = (
                select(Proposal, voted)
                .where(Proposal.coop_id == coop_id, Proposal.status == "open")
                .order_by(Proposal.closes_at, Proposal.number)
            )
            return list((await s.execute(stmt)).all())

    async def due(self, now: datetime, limit: int = 100) -> list[Proposal]:
        """Open proposals whose closing time has come."""
        async with self.db.read() as s:
            stmt = (
                select(Proposal)
                .where(Proposal.status == "open", Proposal.closes_at <= now)
                .order_by(Proposal.closes_at)
                .limit(limit)
            )
            return list((await s.execute(stmt)).scalars())

    async def reminders_due(
        self, now: datetime, offsets: Iterable[int], *, claim: str, since: datetime | None = None
    ) -> list[tuple[Row, int]]:
        """(proposal, offset) for open proposals whose reminder `offset` seconds before closing has
        come (after `since`, when given) and whose claim `<claim><id>:<offset>` is not recorded
        yet. One statement whatever the number of offsets: a small table of the offsets, each with
        its window of closing times, joined to an indexed range on (status, closes_at) per row, so
        reminders still ahead are never read, nor are those already claimed. A proposal is a row of
        the columns a reminder shows (lighter than the ORM object when a thousand fall due at once)."""
        windows = []
        for offset in sorted(set(offsets)):
            ahead = timedelta(seconds=offset)
            low = now if since is None else max(now, since + ahead)
            windows.append((offset, low, now + ahead))
        if not windows:
            return []
        o = _windows(windows)
        key = literal(claim) + cast(Proposal.id, String) + literal(":") + cast(o.c.seconds, String)
        claimed = exists().where(InboundEvent.platform == "schedule", InboundEvent.event_id == key)
        stmt = (
            select(*REMINDER_COLUMNS, o.c.seconds)
            .select_from(o)
            .join(Proposal, and_(Proposal.status == "open", Proposal.closes_at > o.c.low, Proposal.closes_at <= o.c.high))
            .where(~claimed)
            .order_by(o.c.seconds, Proposal.closes_at, Proposal.id)
        )
        async with self.db.read() as s:
            return [(row, row.seconds) for row in (await s.execute(stmt)).all()]

    async def next_closing(self, after: datetime) -> datetime | None:
        """The earliest closing time of an open proposal later than `after` (an index seek)."""
        async with self.db.read() as s:
            stmt = select(func.min(Proposal.closes_at)).where(Proposal.status == "open", Proposal.closes_at > after)
            return (await s.execute(stmt)).scalar_one_or_none()

    async def next_reminder(self, now: datetime, offsets: Iterable[int]) -> datetime | None:
        """The earliest moment after `now` when an open proposal closes or reaches a reminder
        `offset` seconds before its close: one statement, an index seek per offset."""
        o = _windows([(offset, now + timedelta(seconds=offset), now) for offset in sorted({0, *offsets})])
        first = (
            select(func.min(Proposal.closes_at))
            .where(Proposal.status == "open", Proposal.closes_at > o.c.low)
            .scalar_subquery()
        )
        async with self.db.read() as s:
            rows = (await s.execute(select(o.c.seconds, first).select_from(o))).all()
        moments = [closes - timedelta(seconds=offset) for offset, closes in rows if closes is not None]
        return min(moments, default=None)

    async def non_voters_of(self, ids: Iterable[int]) -> dict[int, list[tuple[int, list[tuple[str, str]]]]]:
        """`non_voters` of many proposals in one query per few hundred: proposal id -> the
        members (id, their accounts as (platform, user id)) on its frozen register, still active,
        with no current vote."""
        async with self.db.read() as s:
            return await _non_voters(s, list(ids))

    async def remind(
        self, proposal_id: int, *, by: int, now: datetime, every: timedelta,
        render: Callable[[Proposal, list[tuple[int, list[tuple[str, str]]]]], tuple[str, list[tuple[str, str, str]]]],
        event: tuple[str, str] | None = None,
    ) -> int:
        """Remind the members who have not voted, now: the room's reminder and a direct word to
        each (`render` gives both from the proposal and its non-voters), at most once in `every`
        (read under the proposal's lock). How many were reminded. Raises ProposalNotOpen, or
        RemindedLately with the last reminder's time."""
        async with self.db.write() as s:
            await claim(s, event, now)
            proposal = await still_voting(s, proposal_id, None, now)
            last = (await s.execute(select(func.max(GovernanceEvent.at)).where(
                GovernanceEvent.proposal_id == proposal_id, GovernanceEvent.kind == "reminded"))).scalar_one()
            if last is not None and now - last < every:
                raise RemindedLately(last)
            missing = (await _non_voters(s, [proposal_id]))[proposal_id]
            if not missing:
                return 0
            text, direct = render(proposal, missing)
            await log(s, proposal.coop_id, "reminded", now, proposal_id=proposal_id, member_id=by,
                      number=proposal.number, missing=len(missing))
            await announce(s, proposal.coop_id, "reminder", text, now, proposal_id=proposal_id)
            await queue_direct(s, proposal.coop_id, direct, now)
            return len(missing)

    async def open(
        self,
        coop_id: int,
        *,
        author_id: int | None,
        title: str,
        body: str,
        kind: str,
        ballot: str,
        options: list[str],
        rule: dict,
        closes_at: datetime,
        now: datetime,
        event: tuple[str, str] | None = None,
        purpose: str | None = None,
        action: dict | None = None,
        audit_id: int | None = None,
        protection: dict | None = None,
        ritual_id: int | None = None,
        results_hidden: bool = False,
        method: str = "vote",
        seats: int | None = None,
        tie_draw: Callable[[int], DrawSpec] | None = None,
    ) -> Proposal:
        """Open a proposal: number it, freeze the register as its electorate (and, for a protected
        decision, the affiliated organisations into `protection`), log it and
        queue its card for every bound room, all in one transaction. The card is rendered when it
        is delivered, with the tally it has then, by whoever delivers it. `tie_draw` (given the
        proposal's number) is a draw announced with it, after its card, whose order breaks ties."""
        async with self.db.write() as s:
            await claim(s, event, now)
            number = (
                await s.execute(
                    update(Coop)
                    .where(Coop.id == coop_id)
                    .values(next_proposal_number=Coop.next_proposal_number + 1)
                    .returning(Coop.next_proposal_number - 1)
                )
            ).scalar_one()
            proposal = Proposal(
                coop_id=coop_id, number=number, title=title, body=body, author_id=author_id, kind=kind,
                ballot=ballot, options=options, rule=rule, opened_at=now, closes_at=closes_at, electorate_size=0,
                purpose=purpose, action=action, source=event[1][:255] if event else None, audit_id=audit_id,
                protection=protection and await firewalls.freeze(s, coop_id, protection, now), ritual_id=ritual_id,
                results_hidden=results_hidden, method=method, seats=seats,
            )
            s.add(proposal)
            await s.flush()
            active = select(literal(proposal.id), Member.id).where(
                Member.coop_id == coop_id, Member.status == "active"
            )
            await s.execute(sa_insert(Elector).from_select(["proposal_id", "member_id"], active))
            proposal.electorate_size = (
                await s.execute(select(func.count()).select_from(Elector).where(Elector.proposal_id == proposal.id))
            ).scalar_one()
            await log(
                s, coop_id, "proposal_opened", now, proposal_id=proposal.id, member_id=author_id,
                number=number, title=title, kind=kind, ballot=ballot, options=options,
                closes_at=closes_at.isoformat(), electorate=proposal.electorate_size,
                **({"results_hidden": True} if results_hidden else {}),
                **({"method": method} if method != "vote" else {}), **({"seats": seats} if seats else {}),
            )
            await s.flush()
            await announce(s, coop_id, "proposal_opened", "", now, proposal_id=proposal.id)
            if tie_draw is not None:
                proposal.draw_id = (await announce_draw(s, coop_id, tie_draw(number), now)).id
                await s.flush()
            return proposal

    async def electors(self, proposal_id: int) -> list[int]:
        """The register frozen when the proposal opened (member ids)."""
        async with self.db.read() as s:
            return list((await s.execute(select(Elector.member_id).where(Elector.proposal_id == proposal_id))).scalars())

    async def opened_by(self, coop_id: int, source: str) -> Proposal | None:
        """The proposal this platform message opened, if it opened one."""
        async with self.db.read() as s:
            return (await s.execute(
                select(Proposal).where(Proposal.coop_id == coop_id, Proposal.source == source))).scalars().first()

    async def revise(
        self, proposal_id: int, *, now: datetime, event: tuple[str, str] | None, **fields,
    ) -> Proposal:
        """Its author's edit of an open proposal nobody has voted on: its title, text, options,
        kind, ballot, rule, closing time and action change; its card is edited wherever it was
        posted (the card is rendered from the stored proposal). Raises ProposalNotOpen,
        AlreadyProtected once the golden share called it in, or AlreadyVoted once a ballot (or an
        organisation's consent) exists (checked under the proposal's row lock, which a vote
        shares)."""
        async with self.db.write() as s:
            proposal = await still_voting(s, proposal_id, event, now)
            if (await s.execute(select(Ballot.member_id).where(Ballot.proposal_id == proposal_id).limit(1))).first():
                raise AlreadyVoted(proposal.number)
            if (await s.execute(select(Consent.id).where(Consent.proposal_id == proposal_id).limit(1))).first():
                raise AlreadyVoted(proposal.number)  # an organisation has spoken on it: as good as a vote
            if (await s.execute(select(Objection.member_id).where(Objection.proposal_id == proposal_id).limit(1))).first():
                raise AlreadyVoted(proposal.number)  # an objection was raised to this text: `revise` changes it
            if (proposal.protection or {}).get("by"):
                raise firewalls.AlreadyProtected()  # called in since the author's edit was read
            if fields.get("protection") is not None:
                fields["protection"] = await firewalls.freeze(s, proposal.coop_id, fields["protection"], now)
            for name, value in fields.items():
                setattr(proposal, name, value)
            proposal.revised_at = now  # a vote made before this (a poll response still on its way) was for another text
            await log(s, proposal.coop_id, "proposal_revised", now, proposal_id=proposal.id,
                      member_id=proposal.author_id, title=proposal.title, kind=proposal.kind, ballot=proposal.ballot,
                      options=proposal.options, closes_at=proposal.closes_at.isoformat())
            await s.flush()
            return proposal

    async def counts(self, proposal_id: int, n_options: int, method: str = "vote") -> list[int]:
        async with self.db.read() as s:
            return await _counts(s, proposal_id, n_options, method)

    async def looked(self, proposal_id: int, platform: str, at: datetime) -> None:
        """This platform's votes on the proposal are all in, up to `at`."""
        async with self.db.write() as s:
            stmt = insert(s, LastLook).values(proposal_id=proposal_id, platform=platform, at=at)
            await s.execute(stmt.on_conflict_do_update(
                index_elements=["proposal_id", "platform"], set_={"at": stmt.excluded.at},
                where=LastLook.at < stmt.excluded.at,
            ))

    async def counting(self, proposal_id: int, now: datetime) -> tuple[datetime, set[str], dict[str, datetime]]:
        """Before a count: when it was first tried (now, if this is the first try), the platforms
        with a room in the co-op, and how far each platform's last look reached."""
        async with self.db.write() as s:
            # Only a count that is due starts the grace: a steward's early close that fails must not.
            await s.execute(update(Proposal).where(Proposal.id == proposal_id, Proposal.counting_since.is_(None),
                                                   Proposal.closes_at <= now).values(counting_since=now))
            since, coop_id = (await s.execute(
                select(Proposal.counting_since, Proposal.coop_id).where(Proposal.id == proposal_id))).one()
            since = since or now
            platforms = set((await s.execute(select(Room.platform).where(Room.coop_id == coop_id).distinct())).scalars())
            looks = dict((await s.execute(
                select(LastLook.platform, LastLook.at).where(LastLook.proposal_id == proposal_id))).all())
            return since, platforms, looks

    async def end_voting(
        self, proposal_id: int, *, now: datetime, by: int, reason: str | None, event: tuple[str, str] | None = None,
    ) -> Proposal:
        """A steward's close that must wait for another platform's votes: voting ends now (later
        votes are refused), and the count follows once those votes are in (`close` by the clock)."""
        async with self.db.write() as s:
            proposal = await still_voting(s, proposal_id, event, now)
            proposal.closes_at, proposal.ended_by, proposal.end_reason = now, by, reason
            proposal.counting_since = proposal.counting_since or now
            await log(s, proposal.coop_id, "voting_ended", now, proposal_id=proposal.id, member_id=by, reason=reason)
            return proposal

    async def close(
        self,
        proposal_id: int,
        *,
        now: datetime,
        by: int | None,
        reason: str | None,
        decide: Callable[[Proposal, list[int], list | None, dict, list | None], dict],
        render: Callable[[Proposal], str],
        event: tuple[str, str] | None = None,
        judge: Callable | None = None,
        breach: Callable | None = None,
        proxies: proxy_store.Rule | None = None,
    ) -> Proposal:
        """Count and close. The row lock waits for votes in flight and turns later ones away, so
        the stored result holds every acknowledged vote and nothing after it; `decide` is given the
        counts, for a protected decision the organisations' voices, the charter as it stands, for a
        consent proposal the objections that stand (`storage.objections.Standing`), and for a ranked or
        approval proposal every ballot's choices (a ranking, a set). `judge` decides what
        the close does to the audit the proposal answers (storage.audits.settle); `breach`, whether
        a carried amendment leaves the wage-ratio cap below the pay scale's ratio, which makes a
        revision due (storage.audits.demand). `proxies` says which proxies count: their ballots are
        cast first, before anything is counted (storage.proxies.resolve)."""
        async with self.db.write() as s:
            await claim(s, event, now)
            proposal = await s.get(Proposal, proposal_id, with_for_update=True, populate_existing=True)
            if proposal.status != "open":
                raise ProposalNotOpen(proposal.status)
            # The charter as it stands at the count (a disaffiliation reads who holds the golden share
            # then, under the co-op's lock, which an amendment of it merges under).
            charter = (await s.get(Coop, proposal.coop_id, populate_existing=True,
                                   with_for_update=bool((proposal.action or {}).get("disaffiliate")))).charter
            # Proxies first: a giver who did not vote gets the holder's vote before anything is counted.
            by_proxy = await proxy_store.resolve(s, proposal, charter, now, proxies) if proxies is not None else []
            counts = await _counts(s, proposal_id, len(proposal.options), proposal.method)
            chosen = await _choices(s, proposal_id) if proposal.method in CHOOSING else None
            voices = await firewalls.voices_in(s, proposal) if proposal.protection is not None else None
            # A consent proposal's objections that stand at the count (read under the same lock).
            objected = await objections.standing_in(s, proposal.id) if proposal.method == "consent" else None
            proposal.result = decide(proposal, counts, voices, charter, objected, chosen)
            if by_proxy:  # in the record: the result is the close's leaf
                proposal.result = {**proposal.result, "by_proxy": [[giver, holder] for giver, holder in by_proxy]}
            if by is None:  # the clock's count: a steward's close that waited for it keeps their name
                by, reason = proposal.ended_by, proposal.end_reason
            proposal.status, proposal.ended_at, proposal.ended_by, proposal.end_reason = "closed", now, by, reason
            # What a proposal changes takes effect only if it carried: passed, For against Against.
            carried = proposal.result.get("carried", proposal.result.get("passed", False))
            amended = (proposal.action or {}).get("amend")
            if amended and carried:
                # A passed amendment is the co-op's new charter, from this moment on.
                coop = await s.get(Coop, proposal.coop_id, with_for_update=True, populate_existing=True)
                before = coop.charter
                coop.charter = _merged(before, amended)
                await log(s, proposal.coop_id, "charter_amended", now, proposal_id=proposal.id, changes=amended)
                if breach is not None:
                    await audits.demand(s, proposal, before, coop.charter, now, breach)
            waive = (proposal.action or {}).get("waive")
            if waive and carried:
                # A passed waiver lifts that member's vow for the round it names, if still open.
                stmt = select(Round).where(Round.coop_id == proposal.coop_id, Round.status == "open")
                if "round_id" in proposal.action:
                    stmt = stmt.where(Round.id == proposal.action["round_id"])
                r = (await s.execute(stmt)).scalar_one_or_none()
                if r is not None:
                    waived = (await s.execute(insert(s, Waiver).values(round_id=r.id, member_id=waive, proposal_id=proposal.id)
                                              .on_conflict_do_nothing().returning(Waiver.member_id))).first()
                    if waived is not None:
                        await log(s, proposal.coop_id, "waiver", now, proposal_id=proposal.id, member_id=waive,
                                  round=r.number)
            if carried and (org := (proposal.action or {}).get("affiliate")):
                await allies.affiliate(s, proposal.coop_id, org, proposal_id=proposal.id, now=now)
            if carried and (org := (proposal.action or {}).get("disaffiliate")):
                await allies.disaffiliate(s, proposal.coop_id, org, proposal_id=proposal.id, now=now)
            if proposal.ballot == "secret":
                await _seal(s, proposal, counts, now, chosen)
            if judge is not None:
                await audits.settle(s, proposal, carried, now, judge)
            if proposal.purpose == "sunset" and (carried or proposal.author_id is None):
                # The charter's sunset vote decides the mandate: it lapses when renewal fails, until
                # one passes. A member's renewal proposal can only lift a lapse, never cause one.
                coop = await s.get(Coop, proposal.coop_id, with_for_update=True)
                coop.mandate_lapsed_at = None if carried else (coop.mandate_lapsed_at or now)
            await log(
                s, proposal.coop_id, "proposal_closed", now, proposal_id=proposal.id, member_id=by,
                number=proposal.number, reason=reason, result=proposal.result,
            )
            # The announcement ends with the head after this close's own leaf: posted as it is queued.
            head = await minutes.post_head(s, proposal.coop_id, now)
            proposal.result = {**proposal.result, "minutes": [head.size, head.root]}
            await s.flush()
            await announce(s, proposal.coop_id, "proposal_result", render(proposal), now, proposal_id=proposal.id)
            return proposal

    async def withdraw(
        self,
        proposal_id: int,
        *,
        now: datetime,
        by: int,
        reason: str | None,
        render: Callable[[Proposal], str],
        event: tuple[str, str] | None = None,
    ) -> Proposal:
        async with self.db.write() as s:
            proposal = await still_voting(s, proposal_id, event, now)
            proposal.status, proposal.ended_at, proposal.ended_by, proposal.end_reason = "withdrawn", now, by, reason
            if proposal.ballot == "secret":
                chosen = await _choices(s, proposal_id) if proposal.method in CHOOSING else None
                await _seal(s, proposal, await _counts(s, proposal_id, len(proposal.options), proposal.method), now,
                            chosen)
            await log(s, proposal.coop_id, "proposal_withdrawn", now, proposal_id=proposal.id, member_id=by, reason=reason)
            await s.flush()
            await announce(s, proposal.coop_id, "proposal_withdrawn", render(proposal), now, proposal_id=proposal.id)
            return proposal

    async def recount(self, proposal_id: int, n_options: int) -> list[int]:
        """Count again from the event log alone: each member's last vote event decides. A secret
        ballot's events hold no choices: once it has ended it recounts as the tally sealed in the
        log at its end, and while it is open as the ballots count (they alone hold the choices)."""
        async with self.db.read() as s:
            proposal = await s.get(Proposal, proposal_id)
            method = proposal.method if proposal is not None else "vote"
            if proposal is not None and proposal.ballot == "secret":
                if proposal.status == "open":
                    return await _counts(s, proposal_id, n_options, method)
                return await _sealed(s, proposal_id) or [0] * n_options
            stmt = (
                select(GovernanceEvent.member_id, GovernanceEvent.kind, GovernanceEvent.data)
                .where(
                    GovernanceEvent.proposal_id == proposal_id,
                    GovernanceEvent.kind.in_(("vote_cast", "vote_changed", "vote_withdrawn", "vote_by_proxy")),
                )
                .order_by(GovernanceEvent.id)
            )
            last: dict[int, list[int]] = {}
            for member_id, kind, data in (await s.execute(stmt)).all():
                # An approval counts every option approved; any other vote (a ranking: its first) one.
                last[member_id] = ([] if kind == "vote_withdrawn" else data["choices"] if method == "approval"
                                   else [data["option"]])
            counts = [0] * n_options
            for options in last.values():
                for option in options:
                    counts[option] += 1
            return counts


async def _non_voters(s, ids: list[int]) -> dict[int, list[tuple[int, list[tuple[str, str]]]]]:
    """Proposal id -> the members (id, accounts as (platform, user id)) on its frozen register,
    still active, with no current vote (nor objection); one query per few hundred proposals."""
    found: dict[int, list[tuple[int, list[tuple[str, str]]]]] = {pid: [] for pid in ids}
    voted = exists().where(Ballot.proposal_id == Elector.proposal_id, Ballot.member_id == Member.id)
    # An objection to a consent proposal is the member's say on it: counted in its quorum, not nagged.
    objected = exists().where(Objection.proposal_id == Elector.proposal_id, Objection.member_id == Member.id)
    for i in range(0, len(ids), CHUNK):
        stmt = (
            select(Elector.proposal_id, Member.id, Account.platform, Account.user_id)
            .join(Member, and_(Elector.member_id == Member.id, Member.status == "active"))
            .outerjoin(Account, Account.member_id == Member.id)
            .where(Elector.proposal_id.in_(ids[i:i + CHUNK]), ~voted, ~objected)
            .order_by(Elector.proposal_id, Member.id, Account.id)
        )
        for pid, member_id, platform, user_id in (await s.execute(stmt)).all():
            members = found[pid]
            if not members or members[-1][0] != member_id:
                members.append((member_id, []))
            if platform is not None:
                members[-1][1].append((platform, user_id))
    return found


def _windows(rows: list[tuple[int, datetime, datetime]]):
    """A table (seconds, low, high) of VALUES, one row per offset with its window of closing times
    (a CTE: SQLite names the columns of VALUES only there)."""
    return values(
        column("seconds", Integer), column("low", UTCDateTime()), column("high", UTCDateTime()), name="offsets",
    ).data(rows).cte("offsets")


def _merged(stored: dict, changes: dict) -> dict:
    """`changes` laid over `stored`, nested objects merged key by key (an amendment holds only the
    leaves it changes, such as one kind's quorum)."""
    out = dict(stored)
    for key, value in changes.items():
        old = out.get(key)
        out[key] = _merged(old, value) if isinstance(old, dict) and isinstance(value, dict) else value
    return out


CHOOSING = ("ranked", "approval")  # methods whose ballots hold choices (`ballot.choices`)


async def _counts(session, proposal_id: int, n_options: int, method: str = "vote") -> list[int]:
    """The count per option: of the current ballots, or, once a secret ballot is sealed (its
    ballots say only who voted), the tally sealed at its end. An approval ballot counts for every
    option it approves; a ranking, for its first (its `option`)."""
    counts, sealed = [0] * n_options, False
    if method == "approval":
        for option, chosen in (await session.execute(
                select(Ballot.option, Ballot.choices).where(Ballot.proposal_id == proposal_id))).all():
            sealed = sealed or option is None
            for i in chosen or ([] if option is None else [option]):
                counts[i] += 1
        return (await _sealed(session, proposal_id) or counts) if sealed else counts
    stmt = select(Ballot.option, func.count()).where(Ballot.proposal_id == proposal_id).group_by(Ballot.option)
    for option, n in (await session.execute(stmt)).all():
        if option is None:
            sealed = True
        else:
            counts[option] = n
    return (await _sealed(session, proposal_id) or counts) if sealed else counts


async def _choices(session, proposal_id: int) -> list[list[int]]:
    """Every current ballot's choices (a ranking, or an approved set), in no one's order; a ballot
    with none (a vote cast before its proposal counted choices) as its one option."""
    rows = (await session.execute(select(Ballot.option, Ballot.choices).where(Ballot.proposal_id == proposal_id)
                                  .order_by(Ballot.member_id))).all()
    return sorted(list(chosen) if chosen else [option] for option, chosen in rows if option is not None)


async def _seal(session, proposal: Proposal, counts: list[int], now: datetime,
                chosen: list[list[int]] | None = None) -> None:
    """End a secret ballot's secret part, in the transaction that records its result: the tally
    goes into the log and every ballot forgets its choice, keeping who voted and when (turnout,
    reminders, the Matrix reconciliation's "voted again since"). From here nothing stored links
    a member to a choice; the vote events never did (`storage.votes._logged`). A ranked ballot
    keeps, as a vote's, only its tally (first preferences) and its result's rounds: its rankings,
    even in no member's order, are not kept, since a ranking is near enough unique to name its
    voter, and a proxy (which members know of) casts its holder's ranking twice. A ranking or an
    approved set is tapped together an option at a time, one vote event per tap: their number per
    member would say how long that member's ranking is (or how many options they approved). So
    each voter keeps one vote event, at the time of their last vote, and the taps' trail goes: the
    one place the event log loses rows, in the transaction that seals the tally (vote events are
    not leaves of the minutes). A ballot cast by proxy forgets whose vote it copied."""
    if proposal.method in CHOOSING:
        await session.execute(sa_delete(GovernanceEvent).where(
            GovernanceEvent.proposal_id == proposal.id,
            GovernanceEvent.kind.in_(("vote_cast", "vote_changed", "vote_withdrawn"))))
        # A ballot cast by proxy was logged as any secret vote (`storage.proxies.resolve`): it is folded alike.
        voted = (await session.execute(select(Ballot.member_id, Ballot.cast_at)
                                       .where(Ballot.proposal_id == proposal.id)
                                       .order_by(Ballot.cast_at, Ballot.member_id))).all()
        if voted:  # in two statements, however many voted
            table = GovernanceEvent.__table__
            rows = [{"coop_id": proposal.coop_id, "proposal_id": proposal.id, "member_id": member_id,
                     "kind": "vote_cast", "data": {}, "at": cast_at} for member_id, cast_at in voted]
            ids = [{"m": member_id, "e": event_id} for event_id, member_id in await session.execute(
                insert(session, table).returning(table.c.id, table.c.member_id), rows)]
            await session.execute(update(Ballot.__table__).where(
                Ballot.__table__.c.proposal_id == proposal.id, Ballot.__table__.c.member_id == bindparam("m"))
                .values(event_id=bindparam("e")), ids)
    await session.execute(update(Ballot).where(Ballot.proposal_id == proposal.id).values(
        option=None, source=None, reason=None, choices=None, proxy_by=None))
    voters = len(chosen) if chosen is not None else sum(counts)
    await log(session, proposal.coop_id, "ballot_sealed", now, proposal_id=proposal.id, tally=list(counts),
              voters=voters)


async def _sealed(session, proposal_id: int) -> list[int] | None:
    """The tally sealed into the log when this secret ballot ended, if it has."""
    stmt = (select(GovernanceEvent.data)
            .where(GovernanceEvent.proposal_id == proposal_id, GovernanceEvent.kind == "ballot_sealed")
            .order_by(GovernanceEvent.id.desc()).limit(1))
    data = (await session.execute(stmt)).scalar_one_or_none()
    return list(data["tally"]) if data else None
