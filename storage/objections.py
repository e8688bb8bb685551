"""Store for consent decisions: objections raised and withdrawn, and the author's revisions, each
one transaction under the proposal's row lock (which votes share and the close takes)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, exists, func, select

from storage.common import announce, insert, log, queue_direct, still_voting
from storage.db import Database
from storage.errors import StoreError
from storage.models import Account, Ballot, Elector, GovernanceEvent, Member, Objection, Proposal


class NotConsent(StoreError):
    """The proposal is not decided by consent."""


class NotElector(StoreError):
    """The member is not an active member on the proposal's frozen register."""


class NoObjection(StoreError):
    """The member has no objection standing to withdraw."""


class TooManyRevisions(StoreError):
    """The proposal was revised as often as a consent proposal may be."""


@dataclass(frozen=True)
class Standing:
    """An objection that stands: who, why, since when, and whether they also hold a ballot (the
    quorum counts each member once)."""

    member_id: int
    name: str
    reason: str
    raised_at: datetime
    voted: bool


@dataclass(frozen=True)
class Revised:
    """What a revision did: the proposal as it is now, how many revisions it has had, the members
    whose ballots it cleared (id, name, option) and the objections still standing."""

    proposal: Proposal
    revision: int
    cleared: list[tuple[int, str, int]]
    objections: list[Standing]


async def standing_in(s, proposal_id: int) -> list[Standing]:
    """The objections standing on a proposal, oldest first."""
    voted = exists().where(Ballot.proposal_id == proposal_id, Ballot.member_id == Objection.member_id)
    stmt = (select(Objection.member_id, Member.display_name, Objection.reason, Objection.raised_at, voted)
            .join(Member, Member.id == Objection.member_id)
            .where(Objection.proposal_id == proposal_id)
            .order_by(Objection.raised_at, Objection.member_id))
    return [Standing(*row) for row in (await s.execute(stmt)).all()]


async def recounted_in(s, proposal_id: int) -> dict:
    """Counted again from the event log alone: the reasons of the objections that stood at the end
    (sorted) and how many members consented, abstained or objected (the quorum's count), each
    member's last vote and last objection deciding (a ballot the close cast by proxy is a vote:
    `vote_by_proxy`). A consent ballot is never secret, so the vote events hold the choices."""
    stmt = (select(GovernanceEvent.member_id, GovernanceEvent.kind, GovernanceEvent.data)
            .where(GovernanceEvent.proposal_id == proposal_id,
                   GovernanceEvent.kind.in_(("vote_cast", "vote_changed", "vote_withdrawn", "vote_by_proxy",
                                             "objection_raised", "objection_withdrawn")))
            .order_by(GovernanceEvent.id))
    voted: dict[int, bool] = {}
    objected: dict[int, str] = {}
    for member_id, kind, data in (await s.execute(stmt)).all():
        if kind == "objection_raised":
            objected[member_id] = data["reason"]
        elif kind == "objection_withdrawn":
            objected.pop(member_id, None)
        else:
            voted[member_id] = kind != "vote_withdrawn"
    said = {m for m, v in voted.items() if v} | set(objected)
    return {"objections": sorted(objected.values()), "voters": len(said)}


async def _open_consent(s, proposal_id: int, event: tuple[str, str] | None, now: datetime) -> Proposal:
    proposal = await still_voting(s, proposal_id, event, now)
    if proposal.method != "consent":
        raise NotConsent()
    return proposal


async def _accounts(s, ids: list[int]) -> list[tuple[int, str, str]]:
    """(member id, platform, user id) of every account of these members still active: someone
    removed since (their objection or ballot stays) is not written to about the co-op's business."""
    if not ids:
        return []
    stmt = (select(Account.member_id, Account.platform, Account.user_id)
            .join(Member, (Member.id == Account.member_id) & (Member.status == "active"))
            .where(Account.member_id.in_(ids)))
    return list((await s.execute(stmt.order_by(Account.id))).all())


async def _revisions(s, proposal_id: int) -> int:
    stmt = select(func.count()).select_from(GovernanceEvent).where(
        GovernanceEvent.proposal_id == proposal_id, GovernanceEvent.kind == "consent_revised")
    return (await s.execute(stmt)).scalar_one()


class ObjectionStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def standing(self, proposal_id: int) -> list[Standing]:
        async with self.db.read() as s:
            return await standing_in(s, proposal_id)

    async def stands(self, proposal_id: int, member_id: int) -> bool:
        """Whether this member's objection to the proposal stands."""
        async with self.db.read() as s:
            return (await s.execute(select(Objection.member_id).where(
                Objection.proposal_id == proposal_id, Objection.member_id == member_id))).first() is not None

    async def recount(self, proposal_id: int) -> dict:
        """`recounted_in`: the objections and the quorum's count, again from the event log."""
        async with self.db.read() as s:
            return await recounted_in(s, proposal_id)

    async def revisions(self, proposal_id: int) -> int:
        """How many times its author has revised this consent proposal."""
        async with self.db.read() as s:
            return await _revisions(s, proposal_id)

    async def lodge(self, proposal_id: int, member_id: int, *, reason: str, now: datetime,
                    event: tuple[str, str] | None = None) -> tuple[Proposal, str | None]:
        """Raise (or restate) a member's objection: the proposal and the reason it replaced (None:
        a new objection). Only a member on the frozen register, still active, objects."""
        async with self.db.write() as s:
            proposal = await _open_consent(s, proposal_id, event, now)
            elector = (await s.execute(
                select(Member.status).join(Elector, (Elector.member_id == Member.id) & (Elector.proposal_id == proposal_id))
                .where(Member.id == member_id))).scalar_one_or_none()
            if elector != "active":
                raise NotElector()
            before = (await s.execute(select(Objection.reason).where(
                Objection.proposal_id == proposal_id, Objection.member_id == member_id))).scalar_one_or_none()
            # The primary key keeps one objection per member: a second one (or a race of two) restates it.
            stmt = insert(s, Objection).values(proposal_id=proposal_id, member_id=member_id, reason=reason, raised_at=now)
            await s.execute(stmt.on_conflict_do_update(index_elements=["proposal_id", "member_id"],
                                                       set_={"reason": reason, "raised_at": now}))
            await log(s, proposal.coop_id, "objection_raised", now, proposal_id=proposal_id, member_id=member_id,
                      number=proposal.number, reason=reason, replaced=before is not None)
            return proposal, before

    async def withdraw(self, proposal_id: int, member_id: int, *, now: datetime,
                       event: tuple[str, str] | None = None) -> Proposal:
        """Withdraw a member's objection; NoObjection if none stands."""
        async with self.db.write() as s:
            proposal = await _open_consent(s, proposal_id, event, now)
            gone = (await s.execute(delete(Objection).where(
                Objection.proposal_id == proposal_id, Objection.member_id == member_id)
                .returning(Objection.reason))).scalar_one_or_none()
            if gone is None:
                raise NoObjection()
            await log(s, proposal.coop_id, "objection_withdrawn", now, proposal_id=proposal_id, member_id=member_id,
                      number=proposal.number)
            return proposal

    async def revise(self, proposal_id: int, *, body: str, now: datetime, most: int,
                     closes_at: Callable[[Proposal], datetime],
                     render: Callable[[Revised], tuple[str, Callable[[int], str | None]]],
                     direct_platforms: tuple[str, ...], event: tuple[str, str] | None = None) -> Revised:
        """The author's new text for an open consent proposal (at most `most` revisions): the body
        is replaced, the ballots given to the old text are cleared (each logged as withdrawn, so a
        recount agrees), objections stay, the close moves to `closes_at(proposal)` if later. The
        room is told and each member who had voted or objected gets a direct word: `render` gives
        the room's text and, per member id, theirs."""
        async with self.db.write() as s:
            proposal = await _open_consent(s, proposal_id, event, now)
            done = await _revisions(s, proposal_id)
            if done >= most:
                raise TooManyRevisions()
            cleared = list((await s.execute(
                delete(Ballot).where(Ballot.proposal_id == proposal_id)
                .returning(Ballot.member_id, Ballot.option))).all())
            names = dict((await s.execute(select(Member.id, Member.display_name).where(
                Member.id.in_([m for m, _ in cleared])))).all()) if cleared else {}
            for member_id, option in sorted(cleared):
                # The ballot was for another text: withdrawn, as the log tells it to a recount.
                await log(s, proposal.coop_id, "vote_withdrawn", now, proposal_id=proposal_id, member_id=member_id,
                          previous=option, revised=True)
            proposal.body = body
            proposal.closes_at = max(proposal.closes_at, closes_at(proposal))
            # A vote made before this (a poll response still on its way) was for the old text.
            proposal.revised_at = now
            await log(s, proposal.coop_id, "consent_revised", now, proposal_id=proposal_id,
                      member_id=proposal.author_id, number=proposal.number, revision=done + 1,
                      cleared=sorted(m for m, _ in cleared), closes_at=proposal.closes_at.isoformat())
            await s.flush()
            revised = Revised(proposal, done + 1, sorted((m, names.get(m, "?"), o) for m, o in cleared),
                              await standing_in(s, proposal_id))
            text, word = render(revised)
            await announce(s, proposal.coop_id, "consent_revised", text, now, proposal_id=proposal_id)
            told = sorted({m for m, _, _ in revised.cleared} | {o.member_id for o in revised.objections})
            await queue_direct(s, proposal.coop_id, [
                (platform, user_id, said) for member_id, platform, user_id in await _accounts(s, told)
                if platform in direct_platforms and (said := word(member_id))], now)
            return revised
