"""Store for co-ops, the rooms bound to them, and short-lived room and link codes."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import Text, cast, delete, func, select, update

from storage.common import claim, log
from storage.db import Database
from storage.errors import AlreadyExists
from storage.models import Account, Card, Code, Coop, Member, Outbox, Room

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
        self, purpose: str, *, coop_id: int | None, platform: str, user_id: str, now: datetime, ttl: timedelta
    ) -> str:
        async with self.db.write() as s:
            await s.execute(delete(Code).where(Code.expires_at < now))
            code = new_code()
            s.add(Code(code=code, purpose=purpose, coop_id=coop_id, platform=platform, user_id=user_id,
                       created_at=now, expires_at=now + ttl))
            return code

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

    async def link(
        self, code: str, *, platform: str, user_id: str, now: datetime
    ) -> tuple[str, list[tuple[Coop, Member]]]:
        """Attach this account to every member the code's issuer is. Returns a status word
        ("bad_code", "self", "conflict", "linked") and the memberships concerned."""
        async with self.db.write() as s:
            row = await s.get(Code, code)
            if row is None or row.purpose != "link" or row.expires_at <= now:
                return "bad_code", []
            if (row.platform, row.user_id) == (platform, user_id):
                return "self", []
            stmt = (
                select(Coop, Member)
                .join(Member, Member.coop_id == Coop.id)
                .join(Account, Account.member_id == Member.id)
                .where(Account.platform == row.platform, Account.user_id == row.user_id, Member.status == "active")
            )
            memberships = list((await s.execute(stmt)).all())
            for coop, member in memberships:
                existing = (
                    await s.execute(
                        select(Member).join(Account, Account.member_id == Member.id).where(
                            Account.coop_id == coop.id, Account.platform == platform, Account.user_id == user_id
                        )
                    )
                ).scalar_one_or_none()
                if existing is not None and existing.id != member.id and existing.status == "active":
                    # Two active register entries for one person would give them two votes: refuse.
                    return "conflict", [(coop, existing)]
            for coop, member in memberships:
                account = (await s.execute(select(Account).where(
                    Account.coop_id == coop.id, Account.platform == platform, Account.user_id == user_id
                ))).scalar_one_or_none()
                if account is None:
                    s.add(Account(coop_id=coop.id, member_id=member.id, platform=platform, user_id=user_id))
                elif account.member_id != member.id:
                    # A join request (or a removed entry) of this account: it becomes the member's.
                    account.member_id = member.id
                else:
                    continue
                await log(s, coop.id, "account_linked", now, member_id=member.id, platform=platform, user_id=user_id)
            await s.delete(row)
            return "linked", memberships
