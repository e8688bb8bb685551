"""Store for co-ops, the rooms bound to them, and short-lived room and link codes."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import Text, cast, delete, func, select, update

from storage.common import claim, log
from storage.db import Database
from storage.errors import AlreadyExists
from storage.models import Account, Card, Code, Coop, Member, Outbox, Room
from storage.votes import fold_ballots

# No 0/O or 1/I/L: codes are read off one phone and typed into another.
_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


def new_code() -> str:
    raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(8))
    return f"{raw[:4]}-{raw[4:]}"


class CoopStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, coop_id: int) -> Coop | None:
        async with self.db.read() as s:
            return await s.get(Coop, coop_id)

    async def get_by_name(self, name: str) -> Coop | None:
        async with self.db.read() as s:
            return (await s.execute(select(Coop).where(Coop.name == name))).scalar_one_or_none()

    async def get_by_room(self, platform: str, chat_id: str) -> Coop | None:
        async with self.db.read() as s:
            stmt = select(Coop).join(Room, Room.coop_id == Coop.id).where(
                Room.platform == platform, Room.chat_id == chat_id
            )
            return (await s.execute(stmt)).scalar_one_or_none()

    async def list(self) -> list[Coop]:
        async with self.db.read() as s:
            return list((await s.execute(select(Coop).order_by(Coop.id))).scalars())

    async def schedule_view(self) -> list[tuple[int, str, datetime, str]]:
        """(id, name, founded_at, charter as JSON text) of every co-op: what the due work reads
        each second. The text, not parsed JSON: an unchanged charter is recognised as a string."""
        async with self.db.read() as s:
            stmt = select(Coop.id, Coop.name, Coop.founded_at, cast(Coop.charter, Text)).order_by(Coop.id)
            return [tuple(row) for row in (await s.execute(stmt)).all()]

    async def rooms(self, coop_id: int) -> list[Room]:
        async with self.db.read() as s:
            return list((await s.execute(select(Room).where(Room.coop_id == coop_id).order_by(Room.id))).scalars())

    async def create(
        self,
        name: str,
        charter: dict,
        *,
        platform: str,
        chat_id: str,
        room_title: str,
        founder_user_id: str,
        founder_name: str,
        now: datetime,
        event: tuple[str, str] | None = None,
    ) -> tuple[Coop, Member]:
        """A co-op, its first room and its first steward, in one transaction."""
        async with self.db.write() as s:
            await claim(s, event, now)
            if (await s.execute(select(Room.id).where(Room.platform == platform, Room.chat_id == chat_id))).first():
                raise AlreadyExists("room")
            if (await s.execute(select(Coop.id).where(func.lower(Coop.name) == name.lower()))).first():
                raise AlreadyExists("name")
            coop = Coop(name=name, founded_at=now, charter=charter)
            s.add(coop)
            await s.flush()
            s.add(Room(coop_id=coop.id, platform=platform, chat_id=chat_id, title=room_title, bound_at=now))
            founder = Member(
                coop_id=coop.id, display_name=founder_name, role="steward", status="active",
                requested_at=now, admitted_at=now,
            )
            s.add(founder)
            await s.flush()
            s.add(Account(coop_id=coop.id, member_id=founder.id, platform=platform, user_id=founder_user_id))
            await log(s, coop.id, "coop_founded", now, member_id=founder.id, name=name, charter=charter)
            return coop, founder

    async def move_room(self, platform: str, old_chat_id: str, new_chat_id: str) -> None:
        """A chat got a new id (a Telegram group became a supergroup): its bindings follow."""
        async with self.db.write() as s:
            await s.execute(
                update(Room).where(Room.platform == platform, Room.chat_id == old_chat_id).values(chat_id=new_chat_id)
            )
            await s.execute(
                update(Outbox).where(Outbox.platform == platform, Outbox.chat_id == old_chat_id, Outbox.sent_at.is_(None))
                .values(chat_id=new_chat_id)
            )
            await s.execute(
                update(Card).where(Card.platform == platform, Card.chat_id == old_chat_id).values(chat_id=new_chat_id)
            )

    async def create_code(
        self, purpose: str, *, coop_id: int | None, platform: str, user_id: str, now: datetime, ttl: timedelta,
        chat_id: str | None = None,
    ) -> str:
        """A fresh code. A new link code replaces the account's earlier ones and the requests made
        with them, so at most one request ever waits for its confirmation."""
        async with self.db.write() as s:
            await s.execute(delete(Code).where(Code.expires_at < now))
            if purpose == "link":
                await s.execute(delete(Code).where(
                    Code.purpose == "link", Code.platform == platform, Code.user_id == user_id,
                ))
            code = new_code()
            s.add(Code(code=code, purpose=purpose, coop_id=coop_id, platform=platform, user_id=user_id,
                       created_at=now, expires_at=now + ttl, chat_id=chat_id))
            return code

    async def void_link_codes(self, codes: set[str], now: datetime) -> int:
        """Destroy these link codes (asked with or not): they were shown outside a direct chat.
        Returns how many were live."""
        if not codes:
            return 0
        async with self.db.write() as s:
            stmt = delete(Code).where(Code.code.in_(codes), Code.purpose == "link", Code.expires_at > now)
            return len((await s.execute(stmt.returning(Code.code))).all())

    async def bind_room(
        self, code: str, *, platform: str, chat_id: str, title: str, by_user_id: str, now: datetime,
        event: tuple[str, str] | None = None,
    ) -> tuple[str, Coop | None]:
        """Bind a room with a room code, brought by a steward of the code's co-op (on this
        platform's account, linked if need be). Returns ("bad_code" | "not_steward" | "bound", co-op).
        The code is spent, so it binds one room only."""
        async with self.db.write() as s:
            await claim(s, event, now)
            row = await s.get(Code, code)
            if row is None or row.purpose != "room" or row.expires_at <= now:
                return "bad_code", None
            steward = (await s.execute(
                select(Member.id).join(Account, Account.member_id == Member.id).where(
                    Account.coop_id == row.coop_id, Account.platform == platform, Account.user_id == by_user_id,
                    Member.status == "active", Member.role == "steward",
                )
            )).first()
            if steward is None:
                return "not_steward", await s.get(Coop, row.coop_id)
            if (await s.execute(select(Room.id).where(Room.platform == platform, Room.chat_id == chat_id))).first():
                raise AlreadyExists("room")
            await s.delete(row)
            s.add(Room(coop_id=row.coop_id, platform=platform, chat_id=chat_id, title=title, bound_at=now))
            await log(s, row.coop_id, "room_bound", now, platform=platform, chat_id=chat_id, by=by_user_id)
            return "bound", await s.get(Coop, row.coop_id)

    async def ask_link(
        self, code: str, *, platform: str, user_id: str, chat_id: str, now: datetime, ttl: timedelta,
        notice: Callable[[list[tuple[Coop, Member]]], str],
    ) -> tuple[str, list[tuple[Coop, Member]], str | None]:
        """This account asks, with the issuer's code, to become the issuer's member. Nothing is
        linked: the request waits `ttl` for the issuer's `link yes`, and the issuer is told in their
        direct chat (`notice` words it). Returns ("bad_code" | "self" | "same_platform" | "conflict"
        | "asked", the memberships concerned, the issuer's platform). The code is spent by the first
        request."""
        async with self.db.write() as s:
            row = await s.get(Code, code)
            if row is None or row.purpose != "link" or row.expires_at <= now or row.asked_user_id is not None:
                return "bad_code", [], None
            if (row.platform, row.user_id) == (platform, user_id):
                return "self", [], None
            if row.platform == platform:
                # One person, one account per platform: a second one on the same platform is
                # someone else, or a second voice.
                return "same_platform", [], None
            memberships = await _memberships(s, row.platform, row.user_id)
            if not memberships:
                return "bad_code", [], None
            if conflict := await _conflict(s, memberships, platform, user_id):
                return "conflict", [conflict], None
            row.asked_platform, row.asked_user_id, row.asked_chat_id = platform, user_id, chat_id
            row.expires_at = now + ttl
            s.add(Outbox(coop_id=memberships[0][0].id, platform=row.platform, chat_id=row.chat_id or row.user_id,
                         kind="direct", text=notice(memberships), created_at=now))
            return "asked", memberships, row.platform

    async def confirm_link(
        self, *, platform: str, user_id: str, now: datetime, notice: Callable[[list[tuple[Coop, Member]]], str],
    ) -> tuple[str, Code | None, list[tuple[Coop, Member]]]:
        """The issuer confirms the one request waiting for them: the account that asked becomes
        their member in every co-op they are on, and is told in its direct chat (`notice`). A
        register entry that account had (a join request, a removed duplicate) gives up its votes
        on open proposals to the member (`fold_ballots`), so a link never leaves two votes.
        Returns ("none" | "ambiguous" | "conflict" | "linked", the request, the memberships)."""
        async with self.db.write() as s:
            await s.execute(delete(Code).where(Code.expires_at <= now))
            asked = list((await s.execute(select(Code).where(
                Code.purpose == "link", Code.platform == platform, Code.user_id == user_id,
                Code.asked_user_id.is_not(None),
            ).with_for_update())).scalars())
            if not asked:
                return "none", None, []
            if len(asked) > 1:
                # Two accounts asked: at most one is the issuer's. Confirm neither.
                for row in asked:
                    await s.delete(row)
                return "ambiguous", None, []
            row = asked[0]
            memberships = await _memberships(s, platform, user_id)
            if not memberships:  # removed from every register since the code was given
                await s.delete(row)
                return "none", None, []
            if conflict := await _conflict(s, memberships, row.asked_platform, row.asked_user_id):
                return "conflict", row, [conflict]
            for coop, member in memberships:
                account = (await s.execute(select(Account).where(
                    Account.coop_id == coop.id, Account.platform == row.asked_platform,
                    Account.user_id == row.asked_user_id,
                ))).scalar_one_or_none()
                if account is None:
                    s.add(Account(coop_id=coop.id, member_id=member.id, platform=row.asked_platform,
                                  user_id=row.asked_user_id))
                elif account.member_id != member.id:
                    # A join request (or a removed entry) of this account: it becomes the member's,
                    # and whatever it voted counts once, as the member's.
                    await fold_ballots(s, coop.id, account.member_id, member.id, now)
                    account.member_id = member.id
                else:
                    continue
                await log(s, coop.id, "account_linked", now, member_id=member.id, platform=row.asked_platform,
                          user_id=row.asked_user_id)
            if memberships:
                s.add(Outbox(coop_id=memberships[0][0].id, platform=row.asked_platform,
                             chat_id=row.asked_chat_id or row.asked_user_id, kind="direct",
                             text=notice(memberships), created_at=now))
            await s.delete(row)
            await s.flush()
            s.expunge(row)  # the request stays readable for the reply
            return "linked", row, memberships


async def _memberships(s, platform: str, user_id: str) -> list[tuple[Coop, Member]]:
    """Every co-op where this account speaks for an active member, with that member."""
    stmt = (
        select(Coop, Member)
        .join(Member, Member.coop_id == Coop.id)
        .join(Account, Account.member_id == Member.id)
        .where(Account.platform == platform, Account.user_id == user_id, Member.status == "active")
        .order_by(Coop.id)
    )
    return [tuple(row) for row in (await s.execute(stmt)).all()]


async def _conflict(s, memberships, platform: str, user_id: str) -> tuple[Coop, Member] | None:
    """A co-op where this account already speaks for another active member, and that member."""
    for coop, member in memberships:
        existing = (await s.execute(
            select(Member).join(Account, Account.member_id == Member.id).where(
                Account.coop_id == coop.id, Account.platform == platform, Account.user_id == user_id
            )
        )).scalar_one_or_none()
        if existing is not None and existing.id != member.id and existing.status == "active":
            # Two active register entries for one person would give them two votes: refuse.
            return coop, existing
    return None
