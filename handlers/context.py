"""What a verb gets: the stores, the time, who spoke where, and their standing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime

from handlers import i18n, texts
from handlers.charter import Charter
from handlers.errors import BadArguments, Conflict, NoCoop, NotAllowed, NotAMember
from handlers.parsing import one_line
from handlers.ports import LastLooks
from handlers.types import ChatRef, Reply, UserRef, looks_like_platform_id
from handlers.verbs import VERBS, VerbTable
from storage.models import Coop, Member, Proposal
from storage.stores import Stores

MAX_DISPLAY_NAME = 120


def coop_language(coop: Coop | None) -> str:
    """What the co-op's rooms are written to in: its charter's `language`."""
    return Charter.one(coop.charter, "language") if coop is not None else i18n.DEFAULT


@asynccontextmanager
async def in_language_of(stores: Stores, coop_id: int) -> AsyncIterator[None]:
    """Due work (a draw, an audit's step, a close) speaks to a co-op's rooms: in its language."""
    with i18n.use(coop_language(await stores.coops.get(coop_id))):
        yield


@asynccontextmanager
async def in_language_of_room(stores: Stores, chat: ChatRef) -> AsyncIterator[None]:
    """What an adapter says in a room by itself (a refused poll answer, a redaction's reason): in the
    language of the co-op the room belongs to."""
    with i18n.use(coop_language(await stores.coops.get_by_room(chat.platform, chat.chat_id))):
        yield


def own_language(coop: Coop | None, member: Member | None) -> str:
    """What is sent to one member alone is in their own language, if they chose one, else the co-op's."""
    return i18n.first(member.language if member is not None else None, coop_language(coop))


@dataclass(frozen=True)
class Context:
    stores: Stores
    chat: ChatRef
    sender: UserRef
    now: datetime
    prefix: str
    coop: Coop | None = None
    member: Member | None = None  # the sender's register entry, whatever its status
    ally_of: str | None = None  # the organisation's name, when the sender's entry is an ally's
    event: tuple[str, str] | None = None  # (platform, event id) for exactly-once handling
    before_close: LastLooks = field(default_factory=dict)  # adapters' last look before a count (see ports)
    verbs: VerbTable = VERBS
    revising: Proposal | None = None  # an edit of the message that opened this proposal
    corrects: str | None = None  # an edit: the message it corrects, which a vote it casts stands for
    feed_base: str | None = None  # the public URL calendar feeds are served under, if the bot serves them

    @property
    def charter(self) -> Charter:
        return Charter.from_json(self.coop.charter)

    @property
    def language(self) -> str:
        """The language of this event's answers: the sender's own in a direct chat, else the room's."""
        return own_language(self.coop, self.member) if self.chat.is_direct else coop_language(self.coop)

    @property
    def sender_name(self) -> str:
        """The name the sender goes by on their platform, as the register would hold it."""
        return one_line(self.sender.display_name)[:MAX_DISPLAY_NAME] or self.sender.user_id

    def require_coop(self) -> Coop:
        if self.coop is None:
            raise NoCoop(texts.NO_COOP_DIRECT if self.chat.is_direct else texts.NO_COOP.format(prefix=self.prefix))
        return self.coop

    def require_member(self) -> Member:
        coop = self.require_coop()
        if self.member is not None and self.member.status == "removed" and self.member.org_id is not None:
            raise NotAMember(texts.NOT_AN_ALLY_ANY_MORE.format(coop=coop.name))
        if self.member is None or self.member.status == "removed":
            raise NotAMember(texts.NOT_A_MEMBER.format(coop=coop.name, prefix=self.prefix))
        if self.member.status == "pending":
            raise NotAMember(texts.NOT_A_MEMBER_PENDING.format(coop=coop.name))
        if self.member.status == "ally":
            raise NotAMember(texts.NOT_A_MEMBER_ALLY.format(coop=coop.name, org=self.ally_of or "?"))
        if self.member.status != "active":
            raise NotAMember(texts.NOT_A_MEMBER.format(coop=coop.name, prefix=self.prefix))
        return self.member

    @property
    def is_ally(self) -> bool:
        """The sender is an ally of an affiliated organisation. Disaffiliating an organisation lapses
        its allies in the same transaction, so an entry still "ally" has an affiliated organisation."""
        return self.member is not None and self.member.status == "ally" and self.member.org_id is not None

    def require_member_or_ally(self) -> Member:
        """An active member, or an ally of an affiliated organisation (allies never vote)."""
        if self.coop is not None and self.is_ally:
            return self.member
        return self.require_member()

    def require_steward(self) -> Member:
        member = self.require_member()
        if member.role != "steward":
            raise NotAllowed(texts.NOT_A_STEWARD.format(coop=self.coop.name))
        return member

    async def member_named(self, who: str) -> Member | None:
        """The member someone names: by account id, @mention or display name. None if unknown."""
        who = one_line(who)
        if not who:
            raise BadArguments(texts.MISSING_ARGUMENT.format(what=i18n.gettext("whom")))
        # An id or an @handle names an account, never a display name: anyone can call themselves
        # "@carol:example.org" or "123456789" and be admitted in the place of the person meant.
        platform = self.sender.platform
        bare = who.removeprefix("@") if platform != "matrix" else who
        by_account = platform != "console" and (who.startswith("@") or looks_like_platform_id(platform, bare))
        found = await self.stores.members.find(self.coop.id, platform, who, names=not by_account)
        if len(found) > 1:
            accounts = await self.stores.members.accounts(self.coop.id)
            ids = ", ".join(a.user_id for a in accounts if a.member_id in {m.id for m in found})
            raise Conflict(texts.MEMBER_AMBIGUOUS.format(who=who, ids=ids))
        return found[0] if found else None

    def only_in_direct(self, text: str) -> list[Reply]:
        """The answer to a command whose effect is announced in every room: in a room that
        announcement is the answer; a direct chat, which gets no announcement, hears `text`."""
        return [Reply(text)] if self.chat.is_direct else []

    def mandate_note(self) -> str:
        """A line on a lapsed mandate, for the answers that describe the co-op; "" while it stands."""
        if self.coop is None or self.coop.mandate_lapsed_at is None:
            return ""
        lapsed = texts.when(self.coop.mandate_lapsed_at, self.charter.tz)
        return "\n" + texts.MANDATE_STANDING.format(coop=self.coop.name, when=lapsed, title=texts.SUNSET_TITLE)


async def learn_name(stores: Stores, member: Member | None, sender: UserRef) -> Member | None:
    """Admitted by id before they spoke: the register takes the name they go by."""
    if member is not None and member.display_name == sender.user_id != sender.display_name:
        name = one_line(sender.display_name)[:MAX_DISPLAY_NAME] or sender.user_id
        return await stores.members.rename(member.id, name)
    return member
