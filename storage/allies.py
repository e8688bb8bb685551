"""Store for affiliated organisations and their allies (register entries with status "ally")."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from storage.common import announce, claim, log
from storage.db import Database
from storage.errors import AlreadyExists, HasAllies, NotAffiliated, RegisterChanged, SeatedAuditor
from storage.models import Account, Audit, Auditor, Coop, Member, Organisation

# Entries that may become allies: a request to join, or someone once removed. Never an active
# member (allies come from outside the co-op) and never someone already an ally.
MAY_BECOME_ALLY = ("pending", "removed")


class AllyStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def affiliated(self, coop_id: int) -> list[Organisation]:
        """The co-op's affiliated organisations, in the order they were affiliated."""
        async with self.db.read() as s:
            return await _affiliated(s, coop_id)

    async def get(self, org_id: int) -> Organisation | None:
        async with self.db.read() as s:
            return await s.get(Organisation, org_id)

    async def roster(self, coop_id: int) -> list[tuple[Organisation, list[Member]]]:
        """Each affiliated organisation with its allies, in the order they were added."""
        async with self.db.read() as s:
            orgs = await _affiliated(s, coop_id)
            stmt = (select(Member).where(Member.coop_id == coop_id, Member.status == "ally")
                    .order_by(Member.admitted_at, Member.id))
            allies = list((await s.execute(stmt)).scalars())
            return [(o, [m for m in allies if m.org_id == o.id]) for o in orgs]

    async def add(
        self, coop_id: int, *, org_id: int, member_id: int | None, new_account: tuple[str, str, str] | None,
        by: int, now: datetime, event: tuple[str, str] | None = None,
        render: Callable[[Member, Organisation], str] | None = None, first: bool = False,
    ) -> Member:
        """Make a register entry (or someone new, by (platform, user id, display name)) an ally
        of an affiliated organisation. Under the register's lock the organisation and the entry
        are checked again: NotAffiliated, or RegisterChanged when the entry may not become an ally
        (any more). AlreadyExists("account") if a new account's id was taken meanwhile. With
        `first`, HasAllies if the organisation has an ally already."""
        try:
            async with self.db.write() as s:
                await claim(s, event, now)
                await s.get(Coop, coop_id, with_for_update=True)  # register changes go one at a time
                org = await s.get(Organisation, org_id, populate_existing=True)
                if org is None or org.coop_id != coop_id or org.status != "affiliated":
                    raise NotAffiliated()
                if first and (await s.execute(select(Member.id).where(
                        Member.org_id == org.id, Member.status == "ally").limit(1))).first():
                    raise HasAllies()
                if member_id is None:
                    # Someone new: unless, meanwhile, the same id got an entry (a second `ally` at once).
                    platform, user_id, name = new_account
                    member = (await s.execute(select(Member).join(Account, Account.member_id == Member.id).where(
                        Account.coop_id == coop_id, Account.platform == platform, Account.user_id == user_id,
                    ))).scalar_one_or_none()
                    if member is None:
                        member = Member(coop_id=coop_id, display_name=name, status="new", requested_at=now)
                        s.add(member)
                        await s.flush()
                        s.add(Account(coop_id=coop_id, member_id=member.id, platform=platform, user_id=user_id))
                else:
                    member = await s.get(Member, member_id, with_for_update=True, populate_existing=True)
                if member.status not in (*MAY_BECOME_ALLY, "new"):
                    raise RegisterChanged(member.status, member.org_id)
                was = member.status
                member.status, member.org_id, member.role = "ally", org.id, "member"
                member.admitted_at, member.removed_at = now, None
                await log(s, coop_id, "ally_added", now, member_id=member.id, org=org.name, by=by, was=was)
                if render is not None:
                    # Every room hears who may now be drawn as an auditor, and who added them.
                    await announce(s, coop_id, "ally", render(member, org), now)
                return member
        except IntegrityError:
            # The account's unique constraint: another command created this id's entry between our
            # look and our insert (a `join` does not take the register's lock). Nothing was written.
            raise AlreadyExists("account") from None

    async def remove(
        self, coop_id: int, member_id: int, *, by: int, now: datetime, event: tuple[str, str] | None = None,
        render: Callable[[Member, Organisation | None], str] | None = None, spare_auditors: bool = False,
    ) -> Member:
        """An ally is an ally no more (status "removed"). RegisterChanged if they were not an ally;
        with `spare_auditors`, SeatedAuditor if they sit as an auditor of an audit not yet closed."""
        async with self.db.write() as s:
            await claim(s, event, now)
            await s.get(Coop, coop_id, with_for_update=True)
            member = await s.get(Member, member_id, with_for_update=True, populate_existing=True)
            if member.status != "ally":
                raise RegisterChanged(member.status, member.org_id)
            if spare_auditors:
                seated = (await s.execute(select(Audit.number).join(Auditor, Auditor.audit_id == Audit.id).where(
                    Auditor.member_id == member_id, Audit.status != "closed"))).scalar()
                if seated is not None:
                    raise SeatedAuditor(seated)
            org = await s.get(Organisation, member.org_id) if member.org_id else None
            member.status, member.removed_at = "removed", now
            await log(s, coop_id, "ally_removed", now, member_id=member.id, org=org.name if org else None, by=by)
            if render is not None:
                await announce(s, coop_id, "ally", render(member, org), now)
            return member


async def _affiliated(session, coop_id: int) -> list[Organisation]:
    stmt = (select(Organisation).where(Organisation.coop_id == coop_id, Organisation.status == "affiliated")
            .order_by(Organisation.changed_at, Organisation.id))
    return list((await session.execute(stmt)).scalars())


async def affiliate(session, coop_id: int, name: str, *, proposal_id: int, now: datetime) -> None:
    """A passed `affiliate:` proposal, in its close's transaction: the organisation is affiliated
    (again, if it was once disaffiliated). Already affiliated (two proposals passed): no change."""
    key = name.casefold()
    org = (await session.execute(select(Organisation).where(
        Organisation.coop_id == coop_id, Organisation.key == key).with_for_update())).scalar_one_or_none()
    if org is not None and org.status == "affiliated":
        return
    if org is None:
        org = Organisation(coop_id=coop_id, name=name, key=key, changed_at=now)
        session.add(org)
    org.name, org.status, org.changed_at, org.proposal_id = name, "affiliated", now, proposal_id
    await session.flush()
    await log(session, coop_id, "affiliated", now, proposal_id=proposal_id, org=name)


async def disaffiliate(session, coop_id: int, name: str, *, proposal_id: int, now: datetime) -> list[str]:
    """A passed `disaffiliate:` proposal, in its close's transaction: the organisation is
    disaffiliated and every ally of it lapses (status "removed"). Returns the lapsed allies' names;
    nothing changes if it is not affiliated (any more)."""
    # The golden-share holder reaches here only by a protected decision (handlers.proposals._decide).
    org = (await session.execute(select(Organisation).where(
        Organisation.coop_id == coop_id, Organisation.key == name.casefold()).with_for_update())).scalar_one_or_none()
    if org is None or org.status != "affiliated":
        return []
    org.status, org.changed_at, org.proposal_id = "disaffiliated", now, proposal_id
    stmt = (select(Member).where(Member.coop_id == coop_id, Member.status == "ally", Member.org_id == org.id)
            .order_by(Member.id).with_for_update())
    lapsed = list((await session.execute(stmt)).scalars())
    for member in lapsed:
        member.status, member.removed_at = "removed", now
    await log(session, coop_id, "disaffiliated", now, proposal_id=proposal_id, org=org.name,
              lapsed=[m.display_name for m in lapsed])
    return [m.display_name for m in lapsed]
