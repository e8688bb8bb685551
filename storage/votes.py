"""Store for ballots: one current vote per member and proposal, every change logged (a secret
ballot's changes without the choice: see `_logged`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import bindparam, delete, select, update

from storage.batching import GroupCommit
from storage.common import claim, claim_many, insert, log
from storage.db import Database
from storage.errors import DuplicateEvent
from storage.models import Account, Ballot, Coop, Elector, GovernanceEvent, InboundEvent, Member, Proposal, Room

BALLOT, CLAIM, EVENT = Ballot.__table__, InboundEvent.__table__, GovernanceEvent.__table__
# What a vote reads of its voter's register entry: a burst reads thousands, so columns, not objects.
VOTER = (Member.id, Member.coop_id.label("member_coop_id"), Member.status, Member.role, Member.display_name,
         Member.language)


@dataclass(frozen=True, slots=True)
class Tapper:
    """Who voted, where, as the platform says it: the account and the chat the vote came from. A
    direct chat belongs to no co-op: there the proposal's own co-op is the one asked."""

    platform: str
    user_id: str
    chat_id: str
    direct: bool = False


@dataclass(frozen=True, slots=True)
class VoteOp:
    """One vote to apply: `option` None withdraws it. The voter is a register entry the caller
    already found (`member_id`), or a `tapper` looked up inside the vote's own transaction, so a
    burst of taps costs one transaction and no reads of its own."""

    proposal_id: int
    option: int | None
    now: datetime
    event: tuple[str, str] | None = None
    made_at: datetime | None = None  # when the platform says the member voted, if it says
    member_id: int | None = None
    tapper: Tapper | None = None
    source: str | None = None  # the message this vote stands for, if not its own event (an edit's original)
    reason: str | None = None  # why (`reason:` on a typed vote), kept with it on an open ballot
    # A ranking or a set of approved options (methods ranked and approval), `option` then None; `how`
    # it meets the ballot recorded: "set" replaces it, "append" adds what it does not hold yet (a
    # ranked tap), "toggle" adds or takes away each (an approval tap). Combined inside the vote's
    # own transaction (`combined`), so two fast taps never lose one.
    choices: tuple[int, ...] | None = None
    how: str = "set"

    def __post_init__(self) -> None:
        if (self.member_id is None) == (self.tapper is None):
            raise ValueError("a vote names its voter once: a member id or a tapper")

    @property
    def when(self) -> datetime:
        """The moment that counts against the deadline: a vote made before it counts until the count."""
        return min(self.now, self.made_at or self.now)


@dataclass(frozen=True, slots=True)
class VoteFacts:
    """Everything the co-op's rules look at to accept or refuse a vote, read in its transaction."""

    op: VoteOp
    coop: Coop | None  # the co-op of the room (or, in a direct chat, of the proposal)
    member: Member | None  # the voter's register entry in that co-op, whatever its status (its columns)
    proposal: Proposal | None
    elector: bool  # on the proposal's frozen register
    previous: int | None  # the option recorded now, None if none
    previous_choices: tuple[int, ...] | None = None  # the ranking or approved set recorded now


@dataclass(frozen=True, slots=True)
class VoteResult:
    """A vote recorded (`refusal` None), or refused for the reason the check gave; nothing was
    written then. `coop`, `member` and `proposal` are what the wording needs."""

    coop: Coop | None
    member: Member | None
    proposal: Proposal | None
    previous: int | None  # the option replaced, None for a first vote
    option: int | None  # the option now recorded, None after a withdrawal
    refusal: str | None = None
    choices: tuple[int, ...] | None = None  # the ranking or approved set now recorded
    previous_choices: tuple[int, ...] | None = None


def combined(op: VoteOp, previous: tuple[int, ...] | None) -> tuple[int | None, tuple[int, ...] | None]:
    """The (option, choices) a vote leaves recorded, given the choices recorded before it: a plain
    vote is its option; choices are set, appended (in order of preference) or toggled (kept
    ascending), and whatever empties them withdraws the vote."""
    if op.choices is None:
        return op.option, None
    before = list(previous or ())
    if op.how == "append":
        after = before + [c for c in dict.fromkeys(op.choices) if c not in before]
    elif op.how == "toggle":
        after = sorted(set(before) ^ set(op.choices))
    else:
        after = list(op.choices)
    return (after[0], tuple(after)) if after else (None, None)


# The co-op's rule: given the facts, the reason to refuse (a key of the handlers' wording), or None.
Check = Callable[[VoteFacts], str | None]


@dataclass(frozen=True, slots=True)
class _Pending:
    op: VoteOp
    check: Check


class Contended(Exception):
    """Another process wrote a row this batch meant to create: the batch goes one by one."""


class VoteStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        # Votes come in bursts: those that arrive together are committed together.
        self._group: GroupCommit[_Pending] = GroupCommit(self._batch, self._single, track=db.track)

    async def current(self, proposal_id: int, member_id: int) -> int | None:
        async with self.db.read() as s:
            stmt = select(Ballot.option).where(Ballot.proposal_id == proposal_id, Ballot.member_id == member_id)
            return (await s.execute(stmt)).scalar_one_or_none()

    async def cast_by(self, member_id: int, source: str) -> list[Ballot]:
        """The member's current votes on open proposals that this platform message cast, the latest
        last (one, unless an edit moved the vote to another proposal)."""
        async with self.db.read() as s:
            return list((await s.execute(
                select(Ballot).join(Proposal, Proposal.id == Ballot.proposal_id)
                .where(Ballot.member_id == member_id, Ballot.source == source, Proposal.status == "open")
                .order_by(Ballot.event_id)
            )).scalars())

    async def ballot(self, proposal_id: int, member_id: int) -> Ballot | None:
        async with self.db.read() as s:
            return await s.get(Ballot, (proposal_id, member_id))

    async def ballots(self, proposal_id: int) -> list[Ballot]:
        async with self.db.read() as s:
            stmt = select(Ballot).where(Ballot.proposal_id == proposal_id).order_by(Ballot.member_id)
            return list((await s.execute(stmt)).scalars())

    async def submit(self, op: VoteOp, check: Check) -> VoteResult:
        """Cast, change or withdraw a vote; the last choice counts. `check` decides, on the facts
        read in the vote's own transaction, whether it stands. Answered only once the vote is
        committed, with the others that arrived beside it. A redelivered event raises
        DuplicateEvent."""
        if op.reason is not None or op.source is not None:
            # A vote with its reason, or the edit of a typed vote, is typed, one at a time: the
            # single path writes (or clears) the reason and the message it stands for; the batch
            # path (taps and polls, which carry none) stays as lean as it was. The votes queued
            # before it go first: the last choice counts, in the order they came.
            await self._group.settled()
            return await self._single(_Pending(op, check))
        return await self._group.submit(_Pending(op, check))

    async def _single(self, pending: _Pending) -> VoteResult:
        """One vote in its own transaction: the path a batch falls back to."""
        op = pending.op
        async with self.db.write() as s:
            coop, member = await _voter(s, op)
            # FOR SHARE: votes do not block each other, but a close (FOR UPDATE) waits for them. The
            # row is read afresh under the lock, so a close that committed meanwhile is seen.
            stmt = (select(Proposal).where(Proposal.id == op.proposal_id).with_for_update(read=True)
                    .execution_options(populate_existing=True))
            proposal = (await s.execute(stmt)).scalar_one_or_none()
            coop = coop if op.tapper is None or not op.tapper.direct else await _coop_of(s, proposal)
            if op.tapper is not None and op.tapper.direct:
                member = await _member_in(s, coop, op.tapper)
            key = (Ballot.proposal_id == op.proposal_id, Ballot.member_id == (member.id if member else None))
            elector = previous = before = None
            if member is not None and proposal is not None:
                elector = (await s.execute(select(Elector.member_id).where(
                    Elector.proposal_id == proposal.id, Elector.member_id == member.id))).scalar_one_or_none()
                row = (await s.execute(select(Ballot.option, Ballot.choices).where(*key).with_for_update())).first()
                previous, before = (row[0], _tuple(row[1])) if row else (None, None)
            facts = VoteFacts(op, coop, member, proposal, elector is not None, previous, before)
            refusal = pending.check(facts)
            option, choices = combined(op, before) if refusal is None else (op.option, op.choices)
            if refusal is not None:
                s.expunge_all()  # what the refusal carries stays readable after the transaction
                return VoteResult(coop, member, proposal, previous, option, refusal, choices, before)
            await claim(s, op.event, op.now)
            previous, before, option, choices = await _apply_one(s, proposal, member.id, op, previous, option,
                                                                 choices, before)
            return VoteResult(coop, member, proposal, previous, option, None, choices, before)

    async def _batch(self, batch: Sequence[_Pending]) -> list[VoteResult | Exception]:
        """Votes that arrived together, in one transaction and a fixed number of statements.

        Every fact the single path reads is read here once for the batch, and the check is made
        in arrival order, so a member voting twice in one batch ends as if one by one.
        """
        pg = not self.db.is_sqlite
        ops = [pending.op for pending in batch]
        async with self.db.write() as s:
            events = [(op.event[0], op.event[1][:255]) if op.event else None for op in ops]
            claimed = await _claimed(s, [event for event in events if event])
            proposal_ids = {op.proposal_id for op in ops}
            stmt = select(Proposal).where(Proposal.id.in_(proposal_ids))
            # FOR SHARE: batches do not block each other, but a close (FOR UPDATE) waits for them.
            proposals = {p.id: p for p in (await s.execute(stmt.with_for_update(read=True) if pg else stmt)).scalars()}
            voters = await _voters(s, ops, proposals)
            member_ids = {member.id for _, member in voters if member is not None}
            electors = set(map(tuple, await s.execute(
                select(Elector.proposal_id, Elector.member_id)
                .where(Elector.proposal_id.in_(proposal_ids), Elector.member_id.in_(member_ids))
            )))
            stmt = select(BALLOT.c.proposal_id, BALLOT.c.member_id, BALLOT.c.option, BALLOT.c.choices).where(
                BALLOT.c.proposal_id.in_(proposal_ids), BALLOT.c.member_id.in_(member_ids)
            ).order_by(BALLOT.c.proposal_id, BALLOT.c.member_id)  # one lock order for every process
            stored, ranked = {}, {}
            for pid, mid, opt, chosen in await s.execute(stmt.with_for_update() if pg else stmt):
                stored[(pid, mid)] = opt
                if chosen is not None:
                    ranked[(pid, mid)] = _tuple(chosen)

            current = dict(stored)
            outcomes: list[VoteResult | Exception] = []
            claims, logs, last_at, sources = [], [], {}, {}
            for pending, event, (coop, member) in zip(batch, events, voters):
                op = pending.op
                if event is not None and event in claimed:
                    outcomes.append(DuplicateEvent(f"{event[0]}:{event[1]}"))
                    continue
                proposal = proposals.get(op.proposal_id)
                key = (op.proposal_id, member.id if member else None)
                previous, before = current.get(key), ranked.get(key)
                refusal = pending.check(VoteFacts(op, coop, member, proposal, key in electors, previous, before))
                option, choices = combined(op, before) if refusal is None else (op.option, op.choices)
                outcomes.append(VoteResult(coop, member, proposal, previous, option, refusal, choices, before))
                if refusal is not None:
                    continue
                if event is not None:
                    claimed.add(event)
                    claims.append(event)
                if (previous, before) == (option, choices):
                    continue
                kind = "vote_withdrawn" if option is None else "vote_cast" if previous is None else "vote_changed"
                logs.append({"coop_id": proposal.coop_id, "proposal_id": op.proposal_id, "member_id": member.id,
                             "kind": kind, "data": _logged(proposal, option, previous, choices), "at": op.now})
                current[key] = option
                if choices is None:
                    ranked.pop(key, None)
                else:
                    ranked[key] = choices
                last_at[key] = op.now
                sources[key] = _source(op)

            if len(await claim_many(s, claims, max(op.now for op in ops))) != len(claims):
                raise Contended("an event was claimed by another process")
            if logs:
                # Each member's events go in in arrival order, so the last id names the current vote.
                event_ids = {}
                for event_id, pid, mid in await s.execute(
                    insert(s, EVENT).returning(EVENT.c.id, EVENT.c.proposal_id, EVENT.c.member_id), logs
                ):
                    event_ids[(pid, mid)] = max(event_id, event_ids.get((pid, mid), 0))
                await _settle(s, stored, current, ranked, event_ids, last_at, sources)
        return outcomes


async def _claimed(session, events: list[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which of these platform events are already handled."""
    if not events:
        return set()
    ids = {event_id for _, event_id in events}
    rows = await session.execute(select(CLAIM.c.platform, CLAIM.c.event_id).where(CLAIM.c.event_id.in_(ids)))
    wanted = set(events)
    return {row for row in map(tuple, rows) if row in wanted}


async def _voters(session, ops: list[VoteOp], proposals: dict[int, Proposal]) -> list[tuple[Coop | None, Member | None]]:
    """Each vote's co-op and voter, in a fixed number of queries: a tapper's co-op by the room (in a
    direct chat, the proposal's), and their register entry there by the account."""
    coop_ids = {proposals[op.proposal_id].coop_id for op in ops
                if op.tapper and op.tapper.direct and op.proposal_id in proposals}
    rooms = {(op.tapper.platform, op.tapper.chat_id) for op in ops if op.tapper and not op.tapper.direct}
    by_room: dict[tuple[str, str], Coop] = {}
    if rooms:
        rows = await session.execute(
            select(Room.platform, Room.chat_id, Coop).join(Coop, Coop.id == Room.coop_id)
            .where(Room.chat_id.in_({chat_id for _, chat_id in rooms}))
        )
        by_room = {(platform, chat_id): coop for platform, chat_id, coop in rows if (platform, chat_id) in rooms}
    by_id: dict[int, Coop] = {}
    member_ids = {op.member_id for op in ops if op.member_id is not None}
    members: dict[int, Member] = {}
    if member_ids:
        members = {m.id: m for m in await session.execute(select(*VOTER).where(Member.id.in_(member_ids)))}
        coop_ids |= {m.member_coop_id for m in members.values()}
    if coop_ids:
        by_id = {c.id: c for c in (await session.execute(select(Coop).where(Coop.id.in_(coop_ids)))).scalars()}
    coops: list[Coop | None] = []
    for op in ops:
        if op.member_id is not None:
            member = members.get(op.member_id)
            coops.append(by_id.get(member.member_coop_id) if member else None)
        elif op.tapper.direct:
            proposal = proposals.get(op.proposal_id)
            coops.append(by_id.get(proposal.coop_id) if proposal else None)
        else:
            coops.append(by_room.get((op.tapper.platform, op.tapper.chat_id)))
    tappers = {(coop.id, op.tapper.platform, op.tapper.user_id) for op, coop in zip(ops, coops) if op.tapper and coop}
    accounts: dict[tuple[int, str, str], Member] = {}
    if tappers:
        rows = await session.execute(
            select(Account.coop_id, Account.platform, Account.user_id, *VOTER)
            .join(Member, Member.id == Account.member_id)
            .where(Account.coop_id.in_({c for c, _, _ in tappers}), Account.user_id.in_({u for _, _, u in tappers}))
        )
        accounts = {(row.coop_id, row.platform, row.user_id): row for row in rows}
    out = []
    for op, coop in zip(ops, coops):
        if op.member_id is not None:
            out.append((coop, members.get(op.member_id)))
        else:
            out.append((coop, coop and accounts.get((coop.id, op.tapper.platform, op.tapper.user_id))))
    return out


async def _voter(session, op: VoteOp) -> tuple[Coop | None, Member | None]:
    """The single path's co-op and voter (a direct chat's co-op is the proposal's: see `_single`)."""
    if op.member_id is not None:
        member = await session.get(Member, op.member_id)
        return (await session.get(Coop, member.coop_id) if member else None), member
    if op.tapper.direct:
        return None, None
    coop = (await session.execute(
        select(Coop).join(Room, Room.coop_id == Coop.id)
        .where(Room.platform == op.tapper.platform, Room.chat_id == op.tapper.chat_id)
    )).scalar_one_or_none()
    return coop, await _member_in(session, coop, op.tapper)


async def _coop_of(session, proposal: Proposal | None) -> Coop | None:
    return await session.get(Coop, proposal.coop_id) if proposal is not None else None


async def _member_in(session, coop: Coop | None, tapper: Tapper) -> Member | None:
    if coop is None:
        return None
    return (await session.execute(
        select(Member).join(Account, Account.member_id == Member.id)
        .where(Account.coop_id == coop.id, Account.platform == tapper.platform, Account.user_id == tapper.user_id)
    )).scalar_one_or_none()


def _tuple(choices) -> tuple[int, ...] | None:
    return None if choices is None else tuple(choices)


def _logged(proposal: Proposal, option: int | None, previous: int | None,
            choices: tuple[int, ...] | None = None) -> dict:
    """What a vote event records beside its member. A secret ballot's events never hold the choice:
    they say that the member voted, changed or withdrew (turnout is public), and its tally is
    sealed into the log at its end (`storage.proposals`). The member is kept, not the option,
    because an option-only event would be linked back to its voter by the ballot row that names
    it (`event_id`) and by its time (`cast_at`)."""
    if proposal.ballot == "secret":
        return {}
    if option is None:
        return {"previous": previous}
    # A ranking or an approved set is the vote (a recount reads it); `option` is its first.
    return {"option": option, "previous": previous, **({} if choices is None else {"choices": list(choices)})}


async def _settle(session, stored: dict, current: dict, ranked: dict, event_ids: dict, cast_at: dict,
                  sources: dict) -> None:
    """Bring the ballots the batch changed to their final state in three statements."""
    updates, inserts, deletes = [], [], []
    for key, event_id in event_ids.items():
        chosen = list(ranked[key]) if key in ranked else None
        row = {"p": key[0], "m": key[1], "o": current[key], "c": chosen, "t": cast_at[key], "e": event_id,
               "s": sources[key]}
        if current[key] is None:
            if key in stored:
                deletes.append(row)
        elif key in stored:
            updates.append(row)
        else:
            inserts.append({"proposal_id": key[0], "member_id": key[1], "option": current[key], "choices": chosen,
                            "cast_at": cast_at[key], "event_id": event_id, "source": sources[key]})
    this = (BALLOT.c.proposal_id == bindparam("p")) & (BALLOT.c.member_id == bindparam("m"))
    if updates:
        await session.execute(
            # A changed choice keeps no earlier reason: it was the reason for another option.
            update(BALLOT).where(this).values(option=bindparam("o"), choices=bindparam("c"), cast_at=bindparam("t"),
                                              event_id=bindparam("e"), source=bindparam("s"), reason=None),
            updates,
        )
    if deletes:
        await session.execute(delete(BALLOT).where(this), deletes)
    if inserts:
        stmt = insert(session, BALLOT).on_conflict_do_nothing().returning(BALLOT.c.member_id)
        if len((await session.execute(stmt, inserts)).all()) != len(inserts):
            # Another process's vote for the same member got in first: redo one by one, where
            # each vote takes the ballot's row lock and the log keeps the order of changes.
            raise Contended("a ballot was created by another process")


async def _apply_one(s, proposal: Proposal, member_id: int, op: VoteOp, previous: int | None, option: int | None,
                     choices: tuple[int, ...] | None, before: tuple[int, ...] | None,
                     ) -> tuple:
    """Write one accepted vote under the ballot's row lock (`option`, `choices`: what it leaves
    recorded); returns the option and choices it replaced, and those it left."""
    key = (Ballot.proposal_id == proposal.id, Ballot.member_id == member_id)
    if option is None:
        row = (await s.execute(delete(Ballot).where(*key).returning(Ballot.option, Ballot.choices))).first()
        previous, before = (row[0], _tuple(row[1])) if row else (None, None)
        if previous is not None:
            await log(s, proposal.coop_id, "vote_withdrawn", op.now, proposal_id=proposal.id,
                      member_id=member_id, **_logged(proposal, None, previous))
        return previous, before, None, None
    if previous is None:
        inserted = await s.execute(
            insert(s, Ballot)
            .values(proposal_id=proposal.id, member_id=member_id, option=option, cast_at=op.now, event_id=0,
                    reason=op.reason, choices=None if choices is None else list(choices))
            .on_conflict_do_nothing()
            .returning(Ballot.member_id)
        )
        if inserted.first() is None:
            # The same member's other vote got in first and has committed: take its row lock
            # and treat this one as a change, so exactly one current vote remains.
            row = (await s.execute(select(Ballot.option, Ballot.choices).where(*key).with_for_update())).one()
            previous, before = row[0], _tuple(row[1])
            if op.choices is not None:
                # Combined afresh with what that vote recorded: an appended or toggled tap keeps it.
                option, choices = combined(op, before)
                if option is None:
                    return await _apply_one(s, proposal, member_id, op, previous, None, None, before)
    if (previous, before) == (option, choices):
        if op.reason is not None or op.source is not None:
            # The same choice, now with a reason (this message stands for the vote from now on), or
            # an edit of the message: what the message says now is the reason, none if it has none.
            await s.execute(update(Ballot).where(*key).values(reason=op.reason, source=_source(op)))
        return previous, before, option, choices
    # Logged only now, while holding the ballot's row lock, so the log's order for one
    # member is the order in which the ballot changed: a recount sees the same last vote.
    event_id = await log(
        s, proposal.coop_id, "vote_cast" if previous is None else "vote_changed", op.now,
        proposal_id=proposal.id, member_id=member_id, **_logged(proposal, option, previous, choices),
    )
    # A changed choice keeps no earlier reason: it was the reason for another option.
    await s.execute(update(Ballot).where(*key).values(option=option, cast_at=op.now, event_id=event_id,
                                                       source=_source(op), reason=op.reason,
                                                       choices=None if choices is None else list(choices)))
    return previous, before, option, choices


def _source(op: VoteOp) -> str | None:
    if op.source is not None:
        return op.source[:255]
    return op.event[1][:255] if op.event else None


async def fold_ballots(s, coop_id: int, from_member: int, into_member: int, now: datetime) -> list[int]:
    """One person's second register entry turned out to be `into_member` (a link re-points its
    account): on every open proposal its ballot folds into the member's, in the caller's
    transaction. The later choice (by `cast_at`) counts, once; the duplicate's ballot goes, and the
    event log says so (a withdrawal for the duplicate, a cast or change for the member), so a
    recount agrees with the ballots. A proposal the member may not vote on (not on its frozen
    register) keeps the duplicate's one vote as it is. Returns the proposals whose ballots changed."""
    # Proposals FOR SHARE, as a vote takes them: a close (FOR UPDATE) waits, or is seen.
    stmt = (
        select(Proposal).join(Ballot, Ballot.proposal_id == Proposal.id)
        .where(Ballot.member_id == from_member, Proposal.coop_id == coop_id, Proposal.status == "open")
        .order_by(Proposal.id).with_for_update(read=True, of=Proposal)
    )
    changed = []
    for proposal in (await s.execute(stmt)).scalars().all():
        proposal_id = proposal.id
        rows = {b.member_id: b for b in (await s.execute(
            select(Ballot).where(Ballot.proposal_id == proposal_id, Ballot.member_id.in_((from_member, into_member)))
            .order_by(Ballot.member_id).with_for_update()
        )).scalars()}
        theirs, mine = rows.get(from_member), rows.get(into_member)
        if theirs is None:
            continue
        if mine is None and (await s.execute(select(Elector.member_id).where(
                Elector.proposal_id == proposal_id, Elector.member_id == into_member))).first() is None:
            continue
        await s.delete(theirs)
        # Logged as any vote is: a secret ballot's events hold no choice (`_logged`).
        await log(s, coop_id, "vote_withdrawn", now, proposal_id=proposal_id, member_id=from_member,
                  folded_into=into_member, **_logged(proposal, None, theirs.option))
        if mine is None:
            event_id = await log(s, coop_id, "vote_cast", now, proposal_id=proposal_id, member_id=into_member,
                                 folded_from=from_member, **_logged(proposal, theirs.option, None, _tuple(theirs.choices)))
            s.add(Ballot(proposal_id=proposal_id, member_id=into_member, option=theirs.option,
                         cast_at=theirs.cast_at, event_id=event_id, reason=theirs.reason, choices=theirs.choices))
        elif theirs.cast_at > mine.cast_at and (theirs.option, theirs.choices) != (mine.option, mine.choices):
            event_id = await log(s, coop_id, "vote_changed", now, proposal_id=proposal_id, member_id=into_member,
                                 folded_from=from_member,
                                 **_logged(proposal, theirs.option, mine.option, _tuple(theirs.choices)))
            # The reason goes with the choice it was given for.
            mine.option, mine.cast_at, mine.event_id, mine.reason = theirs.option, theirs.cast_at, event_id, theirs.reason
            mine.choices = theirs.choices
        changed.append(proposal_id)
    await s.flush()
    return changed
