"""Store for the member register and the platform accounts that speak for each member."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, or_, select, update

from storage.common import claim, log
from storage.db import Database
from storage.errors import LastSteward
from storage.models import Account, Coop, GovernanceEvent, Member, Proxy, Room
from storage.rounds import forfeit_shares


class MemberStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def by_account(self, coop_id: int, platform: str, user_id: str) -> Member | None:
        async with self.db.read() as s:
            stmt = select(Member).join(Account, Account.member_id == Member.id).where(
                Account.coop_id == coop_id, Account.platform == platform, Account.user_id == user_id
            )
            return (await s.execute(stmt)).scalar_one_or_none()

    async def memberships(self, platform: str, user_id: str) -> list[Member]:
        """Every active member's or ally's register entry this account speaks for, across co-ops."""
        async with self.db.read() as s:
            return await _memberships(s, platform, user_id)

    async def get(self, member_id: int) -> Member | None:
        async with self.db.read() as s:
            return await s.get(Member, member_id)

    async def names(self, member_ids: list[int]) -> dict[int, str]:
        async with self.db.read() as s:
            rows = await s.execute(select(Member.id, Member.display_name).where(Member.id.in_(member_ids)))
            return dict(rows.all())

    async def register(self, coop_id: int) -> list[Member]:
        """Everyone the co-op knows, active first, in the order they were admitted."""
        async with self.db.read() as s:
            stmt = select(Member).where(Member.coop_id == coop_id).order_by(Member.id)
            return list((await s.execute(stmt)).scalars())

    async def accounts(self, coop_id: int) -> list[Account]:
        async with self.db.read() as s:
            return list((await s.execute(select(Account).where(Account.coop_id == coop_id).order_by(Account.id))).scalars())

    async def names_in_room(self, platform: str, chat_id: str) -> list[tuple[str, str]]:
        """The accounts of this platform on the register of the co-op the room belongs to, as
        (account id, member's name); [] for a room of no co-op."""
        async with self.db.read() as s:
            stmt = (
                select(Account.user_id, Member.display_name)
                .join(Member, Member.id == Account.member_id)
                .join(Room, Room.coop_id == Account.coop_id)
                .where(Room.platform == platform, Room.chat_id == chat_id, Account.platform == platform)
                .order_by(Account.id)
            )
            return [tuple(row) for row in (await s.execute(stmt)).all()]

    async def count_active(self, coop_id: int) -> int:
        async with self.db.read() as s:
            stmt = select(func.count()).select_from(Member).where(Member.coop_id == coop_id, Member.status == "active")
            return (await s.execute(stmt)).scalar_one()

    async def find(self, coop_id: int, platform: str, text: str, *, names: bool = True) -> list[Member]:
        """Members named by `text`: an account id or handle on this platform, or (with `names`) a
        display name."""
        bare = text.removeprefix("@") if platform != "matrix" else text
        async with self.db.read() as s:
            by_id = select(Account.member_id).where(
                Account.coop_id == coop_id,
                Account.platform == platform,
                or_(Account.user_id == text, Account.user_id == bare, Account.handle == bare.lower()),
            )
            stmt = select(Member).where(
                Member.coop_id == coop_id,
                or_(
                    Member.id.in_(by_id),
                    *((func.lower(Member.display_name) == text.lower(),
                       func.lower(Member.display_name) == bare.lower()) if names else ()),
                ),
            ).order_by(Member.id)
            return list((await s.execute(stmt)).scalars())

    async def rename(self, member_id: int, name: str) -> Member:
        async with self.db.write() as s:
            member = await s.get(Member, member_id, with_for_update=True)
            member.display_name = name
            return member

    async def languages(self, coop_ids: Iterable[int]) -> dict[int, str]:
        """Member id -> the language a member chose for themselves, for those who chose one."""
        async with self.db.read() as s:
            rows = await s.execute(select(Member.id, Member.language).where(
                Member.coop_id.in_(list(coop_ids)), Member.language.is_not(None)))
            return dict(rows.all())

    async def set_language(self, member_id: int, code: str | None) -> Member:
        async with self.db.write() as s:
            member = await s.get(Member, member_id, with_for_update=True)
            member.language = code
            return member

    async def set_handle(self, platform: str, user_id: str, handle: str) -> bool:
        """Remember the @name an account goes by, so members can name it in commands. False if no
        account of that id exists (yet): nothing was stored. An @name is one account's at a time:
        one its owner gave up may since be someone else's, so any other account that had it
        loses it (an @name then names only the account seen holding it last)."""
        async with self.db.write() as s:
            result = await s.execute(
                update(Account).where(Account.platform == platform, Account.user_id == user_id).values(handle=handle)
            )
            if result.rowcount:
                await s.execute(update(Account).where(Account.platform == platform, Account.handle == handle,
                                                      Account.user_id != user_id).values(handle=None))
            return result.rowcount > 0

    async def request_join(
        self, coop_id: int, *, platform: str, user_id: str, name: str, now: datetime,
        event: tuple[str, str] | None = None,
    ) -> Member:
        """A pending entry for this account (a removed member asking again becomes pending)."""
        async with self.db.write() as s:
            await claim(s, event, now)
            member = (
                await s.execute(
                    select(Member).join(Account, Account.member_id == Member.id).where(
                        Account.coop_id == coop_id, Account.platform == platform, Account.user_id == user_id
                    )
                )
            ).scalar_one_or_none()
            if member is None:
                member = Member(coop_id=coop_id, display_name=name, status="pending", requested_at=now)
                s.add(member)
                await s.flush()
                s.add(Account(coop_id=coop_id, member_id=member.id, platform=platform, user_id=user_id))
            elif member.status == "removed":
                member.status, member.requested_at = "pending", now
            await log(s, coop_id, "join_requested", now, member_id=member.id)
            return member

    async def admit(
        self, coop_id: int, *, member_id: int | None, new_account: tuple[str, str, str] | None,
        role: str, by: int, now: datetime, event: tuple[str, str] | None = None,
    ) -> Member:
        """Admit a known member, or someone new named by (platform, user id, display name)."""
        async with self.db.write() as s:
            await claim(s, event, now)
            await _lock_register(s, coop_id)
            if member_id is not None:
                member = await s.get(Member, member_id, with_for_update=True)
            else:
                platform, user_id, name = new_account
                member = Member(coop_id=coop_id, display_name=name, requested_at=now)
                s.add(member)
                await s.flush()
                s.add(Account(coop_id=coop_id, member_id=member.id, platform=platform, user_id=user_id))
            was = (member.status, member.role)
            if member.role == "steward" and role != "steward" and member.status == "active":
                await _keep_a_steward(s, coop_id, member.id)
            member.status, member.role = "active", role
            if was[0] != "active":
                member.admitted_at, member.removed_at = now, None
            await log(s, coop_id, "member_admitted", now, member_id=member.id, role=role, by=by, was=list(was))
            return member

    async def admit_many(
        self, coop_id: int, member_ids: list[int] | None, *, by: int, now: datetime,
        event: tuple[str, str] | None = None,
    ) -> list[Member]:
        """Admit as members, in one transaction, these register entries (None: every pending
        request, read under the register's lock). Entries already active are left as they are.
        Returns those admitted, in the order they asked."""
        async with self.db.write() as s:
            await claim(s, event, now)
            await _lock_register(s, coop_id)
            # Only requests to join and removed entries: an ally is unallied first, never admitted as is.
            stmt = select(Member).where(Member.coop_id == coop_id, Member.status.in_(("pending", "removed")))
            if member_ids is None:
                stmt = stmt.where(Member.status == "pending")
            else:
                stmt = stmt.where(Member.id.in_(member_ids))
            admitted = list((await s.execute(stmt.order_by(Member.id).with_for_update())).scalars())
            for member in admitted:
                was = [member.status, member.role]
                member.status, member.role, member.admitted_at, member.removed_at = "active", "member", now, None
                # The log entry `log` would write, without a flush per member: one batch of thousands.
                s.add(GovernanceEvent(coop_id=coop_id, member_id=member.id, kind="member_admitted", at=now,
                                      data={"role": "member", "by": by, "was": was}))
            return admitted

    async def pending(self, coop_id: int, limit: int) -> tuple[list[str], int]:
        """The newest `limit` names waiting to be admitted, newest first, and how many wait."""
        async with self.db.read() as s:
            waiting = (Member.coop_id == coop_id, Member.status == "pending")
            total = (await s.execute(select(func.count()).select_from(Member).where(*waiting))).scalar_one()
            names = select(Member.display_name).where(*waiting).order_by(Member.id.desc()).limit(limit)
            return list((await s.execute(names)).scalars()), total

    async def remove(
        self, coop_id: int, member_id: int, *, by: int, now: datetime, forfeit_as: str,
        event: tuple[str, str] | None = None,
    ) -> list:
        """Take a member off the register; their unpaid shares of open rounds go to the movement
        funds, as fund lines named `forfeit_as`, and the proxies they gave or hold are revoked (a
        member admitted again starts with none), in the same transaction. Returns those (round, amount)."""
        async with self.db.write() as s:
            await claim(s, event, now)
            await _lock_register(s, coop_id)
            member = await s.get(Member, member_id, with_for_update=True)
            if member.role == "steward":
                await _keep_a_steward(s, coop_id, member.id)
            member.status, member.removed_at = "removed", now
            await log(s, coop_id, "member_removed", now, member_id=member.id, by=by)
            revoked = (await s.execute(
                update(Proxy).where(or_(Proxy.giver_id == member.id, Proxy.holder_id == member.id),
                                    Proxy.revoked_at.is_(None))
                .values(revoked_at=now).returning(Proxy.id, Proxy.giver_id))).all()
            for proxy_id, giver_id in sorted(revoked):
                await log(s, coop_id, "proxy_revoked", now, member_id=giver_id, proxy=proxy_id, removed=member.id)
            return await forfeit_shares(s, coop_id, member.id, forfeit_as, now)


async def _lock_register(session, coop_id: int) -> None:
    # Register changes of one co-op go one at a time, so two stewards removing each other
    # at once cannot leave the co-op with none.
    await session.get(Coop, coop_id, with_for_update=True)


async def _keep_a_steward(session, coop_id: int, leaving: int) -> None:
    stmt = select(func.count()).select_from(Member).where(
        Member.coop_id == coop_id, Member.role == "steward", Member.status == "active", Member.id != leaving
    )
    if (await session.execute(stmt)).scalar_one() == 0:
        raise LastSteward()


async def _memberships(session, platform: str, user_id: str) -> list[Member]:
    # Allies too: they talk to the bot in any bound room or a direct chat.
    stmt = select(Member).join(Account, Account.member_id == Member.id).where(
        Account.platform == platform, Account.user_id == user_id, Member.status.in_(("active", "ally"))
    )
    return list((await session.execute(stmt)).scalars())
