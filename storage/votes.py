"""Store for ballots: one current vote per member and proposal, every change logged."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.exc import NoResultFound

from storage.batching import GroupCommit
from storage.common import claim, claim_many, insert, log
from storage.db import Database
from storage.errors import (
    DuplicateEvent, NoCoopHere, NoSuchOption, NotElector, NotOnRegister, ProposalNotOpen, StoreError, UnknownProposal,
    VotingEnded,
)
from storage.models import Account, Ballot, Coop, Elector, GovernanceEvent, InboundEvent, Member, Proposal, Room

BALLOT, CLAIM, EVENT = Ballot.__table__, InboundEvent.__table__, GovernanceEvent.__table__


@dataclass(frozen=True)
class VoteOutcome:
    proposal: Proposal
    previous: int | None  # the option replaced, None for a first vote
    option: int | None  # the option now recorded, None after a withdrawal
    coop: Coop | None = None  # for a tap: the co-op of the room and the tapper's register entry
    member: Member | None = None


@dataclass(frozen=True, slots=True)
class _Op:
    """One vote to apply: `option` None withdraws it."""

    proposal_id: int
    member_id: int
    option: int | None
    now: datetime
    event: tuple[str, str] | None
    made_at: datetime | None
    # A tap names a room and an account, not a member: both are looked up in the vote's own
    # transaction, so a burst of taps costs one transaction and no reads of its own.
    tapper: tuple[str, str, str] | None = None  # (platform, chat id, user id)


class Contended(Exception):
    """Another process wrote a row this batch meant to create: the batch goes one by one."""


class VoteStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        # Votes come in bursts: those that arrive together are committed together.
        self._group: GroupCommit[_Op] = GroupCommit(self._batch, self._single, track=db.track)

    async def current(self, proposal_id: int, member_id: int) -> int | None:
        async with self.db.read() as s:
            stmt = select(Ballot.option).where(Ballot.proposal_id == proposal_id, Ballot.member_id == member_id)
            return (await s.execute(stmt)).scalar_one_or_none()

    async def ballot(self, proposal_id: int, member_id: int) -> Ballot | None:
        async with self.db.read() as s:
            return await s.get(Ballot, (proposal_id, member_id))

    async def ballots(self, proposal_id: int) -> list[Ballot]:
        async with self.db.read() as s:
            stmt = select(Ballot).where(Ballot.proposal_id == proposal_id).order_by(Ballot.member_id)
            return list((await s.execute(stmt)).scalars())

    async def cast(
        self, proposal_id: int, member_id: int, option: int, *, now: datetime,
        event: tuple[str, str] | None = None, made_at: datetime | None = None,
    ) -> VoteOutcome:
        """Cast or change a vote; the last choice counts. `made_at`: when the platform says the
        member voted, if earlier than now (a vote made before the deadline counts until the count).
        Answered only once the vote is committed (with the others that arrived beside it)."""
        return await self._group.submit(_Op(proposal_id, member_id, option, now, event, made_at))

    async def withdraw(
        self, proposal_id: int, member_id: int, *, now: datetime, event: tuple[str, str] | None = None
    ) -> VoteOutcome:
        return await self._group.submit(_Op(proposal_id, member_id, None, now, event, None))

    async def tap(
        self, platform: str, chat_id: str, user_id: str, proposal_id: int, option: int | None, *,
        now: datetime, event: tuple[str, str] | None = None, made_at: datetime | None = None,
    ) -> VoteOutcome:
        """A vote (or, with option None, a withdrawal) from a button or poll in a room. Refusals
        are the store's errors with `coop`, `member` and `proposal` attached, so the handler can
        say why in the co-op's words: NoCoopHere, UnknownProposal, NoSuchOption, NotOnRegister,
        then as for cast."""
        return await self._group.submit(_Op(proposal_id, 0, option, now, event, made_at, (platform, chat_id, user_id)))

    async def _single(self, op: _Op) -> VoteOutcome:
        """One vote in its own transaction: the path a batch falls back to."""
        async with self.db.write() as s:
            coop = member = proposal = None
            try:
                if op.tapper is not None:
                    coop, member = (await _resolve(s, {op.tapper}))[op.tapper]
                    proposal = await s.get(Proposal, op.proposal_id)
                    refusal = _tap_refusal(coop, member, proposal, op)
                    if refusal is not None:
                        raise refusal
                    op = replace(op, member_id=member.id)
                await claim(s, op.event, op.now)
                outcome = await (_withdraw_one(s, op) if op.option is None else _cast_one(s, op))
            except StoreError as exc:
                s.expunge_all()  # the rollback must not expire what the refusal carries
                raise _about(exc, coop, member, proposal) from None
            return replace(outcome, coop=coop, member=member)

    async def _batch(self, ops: Sequence[_Op]) -> list[VoteOutcome | Exception]:
        """Votes that arrived together, in one transaction and a fixed number of statements.

        Every check the single path makes is made here against rows read once for the batch,
        in arrival order, so a member voting twice in one batch ends as if one by one.
        """
        pg = not self.db.is_sqlite
        async with self.db.write() as s:
            events = [(op.event[0], op.event[1][:255]) if op.event else None for op in ops]
            claimed = await _claimed(s, [event for event in events if event])
            tappers = await _resolve(s, {op.tapper for op in ops if op.tapper})
            proposal_ids = {op.proposal_id for op in ops}
            stmt = select(Proposal).where(Proposal.id.in_(proposal_ids))
            # FOR SHARE: batches do not block each other, but a close (FOR UPDATE) waits for them.
            proposals = {p.id: p for p in (await s.execute(stmt.with_for_update(read=True) if pg else stmt)).scalars()}
            ops = [_as_member(op, tappers) for op in ops]
            member_ids = {op.member_id for op in ops if op.member_id}
            electors = {
                (pid, mid): status
                for pid, mid, status in await s.execute(
                    select(Elector.proposal_id, Elector.member_id, Member.status)
                    .join(Member, Member.id == Elector.member_id)
                    .where(Elector.proposal_id.in_(proposal_ids), Elector.member_id.in_(member_ids))
                )
            }
            stmt = select(BALLOT.c.proposal_id, BALLOT.c.member_id, BALLOT.c.option).where(
                BALLOT.c.proposal_id.in_(proposal_ids), BALLOT.c.member_id.in_(member_ids)
            ).order_by(BALLOT.c.proposal_id, BALLOT.c.member_id)  # one lock order for every process
            stored = {(pid, mid): opt for pid, mid, opt in await s.execute(stmt.with_for_update() if pg else stmt)}

            current = dict(stored)
            outcomes: list[VoteOutcome | Exception] = []
            claims, logs, last_at = [], [], {}
            for op, event in zip(ops, events):
                key = (op.proposal_id, op.member_id)
                if event is not None and event in claimed:
                    outcomes.append(DuplicateEvent(f"{event[0]}:{event[1]}"))
                    continue
                coop, member = tappers.get(op.tapper, (None, None))
                proposal = proposals.get(op.proposal_id)
                refusal = (op.tapper and _tap_refusal(coop, member, proposal, op)) or _refusal(
                    proposal, electors.get(key), op
                )
                if refusal is not None:
                    outcomes.append(_about(refusal, coop, member, proposal))
                    continue
                if event is not None:
                    claimed.add(event)
                    claims.append(event)
                previous = current.get(key)
                outcomes.append(VoteOutcome(proposal, previous, op.option, coop, member))
                if previous == op.option:
                    continue
                kind = "vote_withdrawn" if op.option is None else "vote_cast" if previous is None else "vote_changed"
                data = {"previous": previous} if op.option is None else {"option": op.option, "previous": previous}
                logs.append({"coop_id": proposal.coop_id, "proposal_id": op.proposal_id, "member_id": op.member_id,
                             "kind": kind, "data": data, "at": op.now})
                current[key] = op.option
                last_at[key] = op.now

            if len(await claim_many(s, claims, max(op.now for op in ops))) != len(claims):
                raise Contended("an event was claimed by another process")
            if logs:
                # Each member's events go in in arrival order, so the last id names the current vote.
                event_ids = {}
                for event_id, pid, mid in await s.execute(
                    insert(s, EVENT).returning(EVENT.c.id, EVENT.c.proposal_id, EVENT.c.member_id), logs
                ):
                    event_ids[(pid, mid)] = max(event_id, event_ids.get((pid, mid), 0))
                await _settle(s, stored, current, event_ids, last_at)
        return outcomes


async def _claimed(session, events: list[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which of these platform events are already handled."""
    if not events:
        return set()
    ids = {event_id for _, event_id in events}
    rows = await session.execute(select(CLAIM.c.platform, CLAIM.c.event_id).where(CLAIM.c.event_id.in_(ids)))
    wanted = set(events)
    return {row for row in map(tuple, rows) if row in wanted}


async def _resolve(session, tappers: set[tuple[str, str, str]]) -> dict[tuple, tuple[Coop | None, Member | None]]:
    """Each tapper's co-op (by the room) and register entry (by the account), in two queries."""
    if not tappers:
        return {}
    chats = {(platform, chat_id) for platform, chat_id, _ in tappers}
    rows = await session.execute(
        select(Room.platform, Room.chat_id, Coop).join(Coop, Coop.id == Room.coop_id)
        .where(Room.chat_id.in_({chat_id for _, chat_id in chats}))
    )
    coops = {(platform, chat_id): coop for platform, chat_id, coop in rows if (platform, chat_id) in chats}
    members = {}
    if coops:
        rows = await session.execute(
            select(Account.coop_id, Account.platform, Account.user_id, Member)
            .join(Member, Member.id == Account.member_id)
            .where(Account.coop_id.in_({coop.id for coop in coops.values()}),
                   Account.user_id.in_({user_id for _, _, user_id in tappers}))
        )
        members = {(coop_id, platform, user_id): member for coop_id, platform, user_id, member in rows}
    resolved = {}
    for platform, chat_id, user_id in tappers:
        coop = coops.get((platform, chat_id))
        resolved[(platform, chat_id, user_id)] = (coop, coop and members.get((coop.id, platform, user_id)))
    return resolved


def _as_member(op: _Op, tappers: dict) -> _Op:
    member = tappers[op.tapper][1] if op.tapper else None
    return replace(op, member_id=member.id) if member is not None else op


def _tap_refusal(coop: Coop | None, member: Member | None, proposal: Proposal | None, op: _Op) -> Exception | None:
    # Button data is not trusted: the proposal must belong to this room's co-op, the option must
    # exist, and the tapper must be an active member, checked in this order as for a typed vote.
    if coop is None:
        return NoCoopHere()
    if proposal is None or proposal.coop_id != coop.id:
        return UnknownProposal()
    if op.option is not None and not 0 <= op.option < len(proposal.options):
        return NoSuchOption()
    if member is None or member.status != "active":
        return NotOnRegister()
    return None


def _about(exc: Exception, coop: Coop | None, member: Member | None, proposal: Proposal | None) -> Exception:
    """A refusal carries what the handler needs to word it."""
    exc.coop, exc.member, exc.proposal = coop, member, proposal
    return exc


def _refusal(proposal: Proposal | None, status: str | None, op: _Op) -> Exception | None:
    """What the single path would raise for this vote, in the same order; None if it stands."""
    if proposal is None:
        return NoResultFound(f"no proposal {op.proposal_id}")
    if proposal.status != "open":
        return ProposalNotOpen(proposal.status)
    if min(op.now, op.made_at or op.now) >= proposal.closes_at:
        return VotingEnded()
    if status != "active":
        return NotElector()
    if op.option is not None and not 0 <= op.option < len(proposal.options):
        return NoSuchOption()
    return None


async def _settle(session, stored: dict, current: dict, event_ids: dict, cast_at: dict) -> None:
    """Bring the ballots the batch changed to their final state in three statements."""
    updates, inserts, deletes = [], [], []
    for key, event_id in event_ids.items():
        row = {"p": key[0], "m": key[1], "o": current[key], "t": cast_at[key], "e": event_id}
        if current[key] is None:
            if key in stored:
                deletes.append(row)
        elif key in stored:
            updates.append(row)
        else:
            inserts.append({"proposal_id": key[0], "member_id": key[1], "option": current[key],
                            "cast_at": cast_at[key], "event_id": event_id})
    this = (BALLOT.c.proposal_id == bindparam("p")) & (BALLOT.c.member_id == bindparam("m"))
    if updates:
        await session.execute(
            update(BALLOT).where(this).values(option=bindparam("o"), cast_at=bindparam("t"), event_id=bindparam("e")),
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


async def _cast_one(s, op: _Op) -> VoteOutcome:
    proposal_id, member_id, option, now = op.proposal_id, op.member_id, op.option, op.now
    proposal = await _open_proposal(s, proposal_id, member_id, min(now, op.made_at or now))
    if not 0 <= option < len(proposal.options):
        raise NoSuchOption()
    key = (Ballot.proposal_id == proposal_id, Ballot.member_id == member_id)
    previous = (await s.execute(select(Ballot.option).where(*key).with_for_update())).scalar_one_or_none()
    if previous is None:
        inserted = await s.execute(
            insert(s, Ballot)
            .values(proposal_id=proposal_id, member_id=member_id, option=option, cast_at=now, event_id=0)
            .on_conflict_do_nothing()
            .returning(Ballot.member_id)
        )
        if inserted.first() is None:
            # The same member's other vote got in first and has committed: take its row lock
            # and treat this one as a change, so exactly one current vote remains.
            previous = (await s.execute(select(Ballot.option).where(*key).with_for_update())).scalar_one()
    if previous == option:
        return VoteOutcome(proposal, previous, option)
    # Logged only now, while holding the ballot's row lock, so the log's order for one
    # member is the order in which the ballot changed: a recount sees the same last vote.
    event_id = await log(
        s, proposal.coop_id, "vote_cast" if previous is None else "vote_changed", now,
        proposal_id=proposal_id, member_id=member_id, option=option, previous=previous,
    )
    await s.execute(update(Ballot).where(*key).values(option=option, cast_at=now, event_id=event_id))
    return VoteOutcome(proposal, previous, option)


async def _withdraw_one(s, op: _Op) -> VoteOutcome:
    proposal = await _open_proposal(s, op.proposal_id, op.member_id, op.now)
    key = (Ballot.proposal_id == op.proposal_id, Ballot.member_id == op.member_id)
    previous = (await s.execute(delete(Ballot).where(*key).returning(Ballot.option))).scalar_one_or_none()
    if previous is not None:
        await log(s, proposal.coop_id, "vote_withdrawn", op.now, proposal_id=op.proposal_id,
                  member_id=op.member_id, previous=previous)
    return VoteOutcome(proposal, previous, None)


async def _open_proposal(session, proposal_id: int, member_id: int, now: datetime) -> Proposal:
    # FOR SHARE: votes do not block each other, but a close (FOR UPDATE) waits for them. The row is
    # read afresh under the lock even if this session loaded it before (a tap does), so a close
    # that committed meanwhile is seen.
    stmt = (select(Proposal).where(Proposal.id == proposal_id).with_for_update(read=True)
            .execution_options(populate_existing=True))
    proposal = (await session.execute(stmt)).scalar_one()
    if proposal.status != "open":
        raise ProposalNotOpen(proposal.status)
    if now >= proposal.closes_at:
        raise VotingEnded()
    stmt = select(Member.status).join(Elector, Elector.member_id == Member.id).where(
        Elector.proposal_id == proposal_id, Elector.member_id == member_id
    )
    if (await session.execute(stmt)).scalar_one_or_none() != "active":
        raise NotElector()
    return proposal
