"""What a verb handler gets: the stores, the time, who spoke where, and their standing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from handlers import texts
from handlers.charter import Charter
from handlers.errors import NoCoop, NotAllowed, NotAMember
from handlers.parsing import one_line
from handlers.ports import CloseHook
from handlers.types import ChatRef, UserRef
from storage.models import Coop, Member
from storage.stores import Stores


@dataclass
class Context:
    stores: Stores
    chat: ChatRef
    sender: UserRef
    now: datetime
    prefix: str
    coop: Coop | None = None
    member: Member | None = None  # the sender's register entry, whatever its status
    event: tuple[str, str] | None = None  # (platform, event id) for exactly-once handling
    before_close: tuple[CloseHook, ...] = ()  # adapters' last look before a count (see ports)

    @property
    def charter(self) -> Charter:
        return Charter.from_json(self.coop.charter)

    def require_coop(self) -> Coop:
        if self.coop is None:
            raise NoCoop(texts.NO_COOP_DIRECT if self.chat.is_direct else texts.NO_COOP.format(prefix=self.prefix))
        return self.coop

    def require_member(self) -> Member:
        coop = self.require_coop()
        if self.member is None or self.member.status in ("removed",):
            raise NotAMember(texts.NOT_A_MEMBER.format(coop=coop.name, prefix=self.prefix))
        if self.member.status == "pending":
            raise NotAMember(texts.NOT_A_MEMBER_PENDING.format(coop=coop.name))
        return self.member

    def require_steward(self) -> Member:
        member = self.require_member()
        if member.role != "steward":
            raise NotAllowed(texts.NOT_A_STEWARD.format(coop=self.coop.name))
        return member


async def learn_name(stores: Stores, member: Member | None, sender: UserRef) -> Member | None:
    """Admitted by id before they spoke: the register takes the name they go by."""
    if member is not None and member.display_name == sender.user_id != sender.display_name:
        name = one_line(sender.display_name)[:120] or sender.user_id
        return await stores.members.rename(member.id, name)
    return member
