"""Store for ballots: one current vote per member and proposal, every change logged."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update

from storage.common import claim, insert, log
from storage.db import Database
from storage.errors import NotElector, ProposalNotOpen, VotingEnded
from storage.models import Ballot, Elector, Member, Proposal


@dataclass(frozen=True)
class VoteOutcome:
    proposal: Proposal
    previous: int | None  # the option replaced, None for a first vote
    option: int | None  # the option now recorded, None after a withdrawal


class VoteStore:
    def __init__(self, db: Database) -> None:
        self.db = db

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
        member voted, if earlier than now (a vote made before the deadline counts until the count)."""
        async with self.db.write() as s:
            await claim(s, event, now)
            proposal = await _open_proposal(s, proposal_id, member_id, min(now, made_at or now))
            if not 0 <= option < len(proposal.options):
                raise ValueError("option out of range")
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

    async def withdraw(
        self, proposal_id: int, member_id: int, *, now: datetime, event: tuple[str, str] | None = None
    ) -> VoteOutcome:
        async with self.db.write() as s:
            await claim(s, event, now)
            proposal = await _open_proposal(s, proposal_id, member_id, now)
            key = (Ballot.proposal_id == proposal_id, Ballot.member_id == member_id)
            previous = (await s.execute(delete(Ballot).where(*key).returning(Ballot.option))).scalar_one_or_none()
            if previous is not None:
                await log(
                    s, proposal.coop_id, "vote_withdrawn", now, proposal_id=proposal_id, member_id=member_id,
                    previous=previous,
                )
            return VoteOutcome(proposal, previous, None)


async def _open_proposal(session, proposal_id: int, member_id: int, now: datetime) -> Proposal:
    # FOR SHARE: votes do not block each other, but a close (FOR UPDATE) waits for them.
    stmt = select(Proposal).where(Proposal.id == proposal_id).with_for_update(read=True)
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
