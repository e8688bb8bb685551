"""Store for protected decisions: the organisations' consent, the golden share's veto and call-in,
each one transaction under the proposal's row lock (which the close takes too)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from storage.common import announce, insert, log, still_voting
from storage.db import Database
from storage.errors import StoreError
from storage.models import Consent, Member, Organisation, Proposal


class NotProtected(StoreError):
    """The proposal is not a protected decision."""


class AlreadyProtected(StoreError):
    """The proposal is protected already."""


class AlreadyVetoed(StoreError):
    """The golden share vetoed this proposal already."""


class NoVoice(StoreError):
    """The person does not speak for an organisation that has a voice here: `why` is "ally" (not
    an ally of an affiliated organisation), "frozen" (their organisation was not affiliated when
    the proposal became protected) or "holder" (not an ally of the golden-share holder)."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


@dataclass(frozen=True)
class Voice:
    """One organisation with a voice on a protected proposal: what it said (None: nothing yet),
    through whom, and whether it still counts (its organisation is still affiliated)."""

    org: str
    yes: bool | None
    by: str | None
    counted: bool


async def freeze(s, coop_id: int, protection: dict, now: datetime) -> dict:
    """A protection with the organisations affiliated now frozen into it, as the register is
    frozen into the electorate: one affiliated later has no voice, one removed loses its voice."""
    ids = (await s.execute(select(Organisation.id).where(
        Organisation.coop_id == coop_id, Organisation.status == "affiliated").order_by(Organisation.id))).scalars()
    return {**protection, "bodies": list(ids), "since": now.isoformat()}


async def voices_in(s, proposal: Proposal) -> list[Voice]:
    """Every organisation frozen into the proposal's protection, with its voice, in their order."""
    ids = (proposal.protection or {}).get("bodies") or []
    if not ids:
        return []
    stmt = (select(Organisation.id, Organisation.name, Organisation.status, Consent.yes, Member.display_name)
            .outerjoin(Consent, (Consent.org_id == Organisation.id) & (Consent.proposal_id == proposal.id))
            .outerjoin(Member, Member.id == Consent.member_id)
            .where(Organisation.id.in_(ids)))
    rows = {row[0]: row for row in (await s.execute(stmt)).all()}
    return [Voice(rows[i][1], rows[i][3], rows[i][4], rows[i][2] == "affiliated") for i in ids if i in rows]


async def _speaker(s, proposal: Proposal, member_id: int, holder: str | None = None) -> tuple[Member, Organisation]:
    """The ally and their organisation, read under the proposal's lock: an ally of an affiliated
    organisation (and, with `holder`, of the organisation whose casefolded name it is)."""
    found = (await s.execute(select(Member, Organisation).join(Organisation, Organisation.id == Member.org_id)
                             .where(Member.id == member_id, Member.coop_id == proposal.coop_id))).first()
    if found is None or found[0].status != "ally" or found[1].status != "affiliated":
        raise NoVoice("ally")
    if holder is not None and found[1].key != holder:
        raise NoVoice("holder")
    return found[0], found[1]


class FirewallStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def voices(self, proposal: Proposal) -> list[Voice]:
        async with self.db.read() as s:
            return await voices_in(s, proposal)

    async def consent(self, proposal_id: int, member_id: int, *, yes: bool, now: datetime,
                      event: tuple[str, str] | None = None) -> tuple[Proposal, str, bool | None]:
        """An ally's consent (or refusal) for their organisation; the last one counts. The
        proposal, the organisation's name and what it had said before (None: nothing)."""
        async with self.db.write() as s:
            proposal = await still_voting(s, proposal_id, event, now)
            if proposal.protection is None:
                raise NotProtected()
            member, org = await _speaker(s, proposal, member_id)
            if org.id not in proposal.protection.get("bodies", []):
                raise NoVoice("frozen")
            before = (await s.execute(select(Consent.yes).where(
                Consent.proposal_id == proposal_id, Consent.org_id == org.id))).scalar_one_or_none()
            stmt = insert(s, Consent).values(proposal_id=proposal_id, org_id=org.id, member_id=member.id, yes=yes, at=now)
            await s.execute(stmt.on_conflict_do_update(index_elements=["proposal_id", "org_id"],
                                                       set_={"member_id": member.id, "yes": yes, "at": now}))
            await log(s, proposal.coop_id, "consent", now, proposal_id=proposal.id, member_id=member.id,
                      number=proposal.number, org=org.name, yes=yes)
            return proposal, org.name, before

    async def veto(self, proposal_id: int, member_id: int, *, holder: str, reason: str, now: datetime,
                   render: Callable[[Proposal], str], event: tuple[str, str] | None = None) -> Proposal:
        """The golden-share holder's veto (`holder`: its casefolded name), by one of its allies:
        recorded once, logged and announced in every room. The proposal can no longer pass, so its
        voting ends now (the clock counts it at its next look, if the caller does not first)."""
        async with self.db.write() as s:
            proposal = await still_voting(s, proposal_id, event, now)
            if proposal.protection is None:
                raise NotProtected()
            if proposal.veto is not None:
                raise AlreadyVetoed()
            member, org = await _speaker(s, proposal, member_id, holder)
            proposal.closes_at = now
            proposal.veto = {"id": member.id, "name": member.display_name, "org": org.name, "reason": reason,
                             "at": now.isoformat()}
            await log(s, proposal.coop_id, "veto", now, proposal_id=proposal.id, member_id=member.id,
                      number=proposal.number, org=org.name, reason=reason)
            await s.flush()
            await announce(s, proposal.coop_id, "firewall", render(proposal), now, proposal_id=proposal.id)
            return proposal

    async def protect(self, proposal_id: int, member_id: int, *, holder: str, rule: dict, threshold: list,
                      closes_at: Callable[[Proposal], datetime], now: datetime, render: Callable[[Proposal], str],
                      event: tuple[str, str] | None = None) -> Proposal:
        """The golden-share holder calls an open proposal in: from now on it is a protected
        decision, with the protected rule (`rule`), the organisations affiliated now and the share
        of them that must consent (`threshold`), open until `closes_at(proposal)` at the earliest."""
        async with self.db.write() as s:
            proposal = await still_voting(s, proposal_id, event, now)
            if proposal.protection is not None:
                raise AlreadyProtected()
            member, org = await _speaker(s, proposal, member_id, holder)
            proposal.kind, proposal.rule = "protected", rule
            proposal.closes_at = max(proposal.closes_at, closes_at(proposal))
            proposal.protection = await freeze(s, proposal.coop_id, {
                "threshold": threshold, "by": {"id": member.id, "name": member.display_name, "org": org.name}}, now)
            await log(s, proposal.coop_id, "protected", now, proposal_id=proposal.id, member_id=member.id,
                      number=proposal.number, org=org.name, rule=rule, threshold=threshold,
                      bodies=len(proposal.protection["bodies"]), closes_at=proposal.closes_at.isoformat())
            await s.flush()
            await announce(s, proposal.coop_id, "firewall", render(proposal), now, proposal_id=proposal.id)
            return proposal
