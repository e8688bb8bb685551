"""The tables: co-ops, rooms, the register, proposals, ballots, the event log and the outbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, text, false as sa_false, BigInteger, Boolean, Column, ForeignKey, Index, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime


def _ts(nullable: bool = False) -> Any:
    return Field(sa_column=Column(UTCDateTime(), nullable=nullable))


def _fk(target: str, nullable: bool = False, ondelete: str = "CASCADE") -> Any:
    return Field(
        sa_column=Column(Integer, ForeignKey(target, ondelete=ondelete), nullable=nullable, index=False)
    )


class Coop(SQLModel, table=True):
    __tablename__ = "coop"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=120, unique=True)
    founded_at: datetime = _ts()
    charter: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    next_proposal_number: int = Field(default=1)
    mandate_lapsed_at: datetime | None = _ts(nullable=True)  # a sunset vote failed; until a renewal passes
    # The minutes' right edge (storage.merkle.MerkleLog.resume): its size and the frontier's hex
    # roots, kept on the row that an append locks, so an append is O(log n) and appends queue.
    minutes_size: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    minutes_frontier: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]"))


class Room(SQLModel, table=True):
    """A chat (Telegram group, Matrix room, console room) bound to one co-op."""

    __tablename__ = "room"
    __table_args__ = (UniqueConstraint("platform", "chat_id", name="uq_room_platform_chat"),)

    id: int | None = Field(default=None, primary_key=True)
    coop_id: int = _fk("coop.id")
    platform: str = Field(max_length=16)
    chat_id: str = Field(max_length=255)
    title: str = Field(default="", max_length=255)
    bound_at: datetime = _ts()


class Member(SQLModel, table=True):
    """One person on a co-op's register, whatever platforms they use."""

    __tablename__ = "member"
    __table_args__ = (Index("ix_member_coop_status", "coop_id", "status"),)

    id: int | None = Field(default=None, primary_key=True)
    coop_id: int = _fk("coop.id")
    display_name: str = Field(max_length=120)
    role: str = Field(default="member", max_length=16)  # member | steward
    # pending | active | removed | ally (a person of an affiliated organisation: never votes)
    status: str = Field(default="pending", max_length=16)
    requested_at: datetime = _ts()
    admitted_at: datetime | None = _ts(nullable=True)
    removed_at: datetime | None = _ts(nullable=True)
    # An ally's organisation. No ON DELETE: SQLite adds a column's reference only inline, where its
    # reflection cannot read one (organisations are never deleted, only disaffiliated).
    org_id: int | None = _fk("organisation.id", nullable=True, ondelete=None)
    # The language of what is sent to this member alone (`whoami` with `language:`); None: the co-op's.
    language: str | None = Field(default=None, max_length=8)


class Account(SQLModel, table=True):
    """A platform identity of a member; linked accounts point at the same member."""

    __tablename__ = "account"
    __table_args__ = (
        UniqueConstraint("coop_id", "platform", "user_id", name="uq_account_coop_platform_user"),
        Index("ix_account_member", "member_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    coop_id: int = _fk("coop.id")
    member_id: int = _fk("member.id")
    platform: str = Field(max_length=16)
    user_id: str = Field(max_length=255)
    handle: str | None = Field(default=None, max_length=255)  # e.g. a Telegram @username, for mentions


class Code(SQLModel, table=True):
    """A short-lived code: `roomcode` (bind a room) or `link` (join two accounts; once redeemed,
    the request waiting for the issuer's confirmation)."""

    __tablename__ = "code"

    code: str = Field(primary_key=True, max_length=32)
    purpose: str = Field(max_length=16)  # room | link
    coop_id: int | None = _fk("coop.id", nullable=True)  # room codes: the co-op to bind to
    platform: str = Field(max_length=16)  # who asked for it
    user_id: str = Field(max_length=255)
    created_at: datetime = _ts()
    expires_at: datetime = _ts()  # for a link code asked with, the end of the issuer's time to confirm
    chat_id: str | None = Field(default=None, max_length=255)  # link codes: the issuer's direct chat
    # A link code redeemed: the account that asks to be linked, and its direct chat. Nothing is
    # linked until the issuer confirms (`link yes`).
    asked_platform: str | None = Field(default=None, max_length=16)
    asked_user_id: str | None = Field(default=None, max_length=255)
    asked_chat_id: str | None = Field(default=None, max_length=255)


class Proposal(SQLModel, table=True):
    __tablename__ = "proposal"
    __table_args__ = (
        UniqueConstraint("coop_id", "number", name="uq_proposal_coop_number"),
        Index("ix_proposal_status_closes", "status", "closes_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    coop_id: int = _fk("coop.id")
    number: int
    title: str = Field(max_length=200)
    body: str = Field(default="", max_length=4000)
    author_id: int | None = _fk("member.id", nullable=True, ondelete="RESTRICT")  # None: mandated by the charter
    kind: str = Field(max_length=16)  # ordinary | strategic | constitutional | protected
    ballot: str = Field(max_length=8)  # open | secret
    options: list = Field(sa_column=Column(JSON, nullable=False))
    rule: dict = Field(sa_column=Column(JSON, nullable=False))  # quorum and threshold, frozen at opening
    opened_at: datetime = _ts()
    closes_at: datetime = _ts()
    status: str = Field(default="open", max_length=16)  # open | closed | withdrawn
    purpose: str | None = Field(default=None, max_length=16)  # "sunset": renews the co-op's mandate
    action: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))  # e.g. {"waive": member id}
    electorate_size: int
    ended_at: datetime | None = _ts(nullable=True)
    ended_by: int | None = _fk("member.id", nullable=True, ondelete="RESTRICT")
    end_reason: str | None = Field(default=None, max_length=500)
    result: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    # When the count was first tried: a count waits (a bounded grace from here) until every
    # platform with a room in the co-op has brought in its votes up to the closing time.
    counting_since: datetime | None = _ts(nullable=True)
    # The platform message that opened it, so an edit of that message can revise it; when it was
    # last revised, so a vote made before that (a poll response still on its way) is refused.
    source: str | None = Field(default=None, max_length=255)
    revised_at: datetime | None = _ts(nullable=True)
    # The audit a proposal answers (purpose "revision": `revises: A<n>`) or was convened by
    # (purpose "assembly": an emergency assembly's confidence vote).
    audit_id: int | None = _fk("audit.id", nullable=True, ondelete=None)  # no ON DELETE, as member.org_id
    # A protected decision (SPEC "Firewalls"): the organisations affiliated when it became protected
    # ("bodies", ids, frozen as the register is), the share of them that must consent ("threshold",
    # frozen as the rule is), since when, and who called it in ("by", for `protect`).
    protection: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    # The golden-share holder's veto: who, for which organisation, why and when.
    veto: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    # An open ballot whose counts (and who chose what) stay hidden until the close (`results: hidden`).
    results_hidden: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, server_default=sa_false()))
    # The adversary drill a temptation was put to (purpose "drill": votes count, nothing takes effect).
    ritual_id: int | None = _fk("ritual.id", nullable=True, ondelete=None)  # no ON DELETE, as audit_id
    # How members decide (SPEC third set): vote | consent | ranked | approval; `seats` for STV.
    method: str = Field(default="vote", max_length=16, sa_column_kwargs={"server_default": "vote"})
    seats: int | None = None
    # A ranked proposal's draw of its options, announced at the opening: equal counts go by its order.
    draw_id: int | None = _fk("draw.id", nullable=True, ondelete=None)


class LastLook(SQLModel, table=True):
    """A platform's votes on a proposal brought in up to `at` (Matrix poll responses a sync may
    have skipped), by whichever process serves that platform: the count waits for these."""

    __tablename__ = "last_look"

    proposal_id: int = Field(
        sa_column=Column(Integer, ForeignKey("proposal.id", ondelete="CASCADE"), primary_key=True)
    )
    platform: str = Field(primary_key=True, max_length=16)
    at: datetime = _ts()


class Elector(SQLModel, table=True):
    """The register frozen when a proposal opened: who may vote on it and whom turnout counts."""

    __tablename__ = "elector"

    proposal_id: int = Field(
        sa_column=Column(Integer, ForeignKey("proposal.id", ondelete="CASCADE"), primary_key=True)
    )
    member_id: int = Field(
        sa_column=Column(Integer, ForeignKey("member.id", ondelete="CASCADE"), primary_key=True)
    )


class Ballot(SQLModel, table=True):
    """A member's current vote on a proposal. The primary key is the one-vote guard; the member's
    own index finds the vote a message cast (`source`) when the message is edited or deleted.

    When a secret ballot ends (closed or withdrawn), `option` is set to NULL in the transaction
    that records its tally: the row then says only that the member voted, and when."""

    __tablename__ = "ballot"
    __table_args__ = (Index("ix_ballot_member", "member_id"),)

    proposal_id: int = Field(
        sa_column=Column(Integer, ForeignKey("proposal.id", ondelete="CASCADE"), primary_key=True)
    )
    member_id: int = Field(
        sa_column=Column(Integer, ForeignKey("member.id", ondelete="CASCADE"), primary_key=True)
    )
    option: int | None = None  # None: a secret ballot's choice, destroyed at its end
    cast_at: datetime = _ts()
    event_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    # The platform event that cast it (a message, a poll response, a tap), so deleting that
    # message withdraws the vote and editing it corrects the vote; None once a secret ballot ends.
    source: str | None = Field(default=None, max_length=255)
    # Why the member voted so (`reason:` on a typed vote; open ballots only): replaced by the next vote.
    reason: str | None = Field(default=None, max_length=500)
    # A ranking (method ranked: option indices, most preferred first) or the approved options
    # (method approval, ascending); `option` then holds the first of them. None for other methods,
    # and once a secret ballot ends: then SQL NULL, never JSON's null (`none_as_null`), written in bulk or not.
    choices: list | None = Field(default=None, sa_column=Column(JSON(none_as_null=True), nullable=True))
    # A ballot the close cast for this member by proxy: the holder (a member id) whose own vote it
    # copies. None for a member's own vote, and once a secret ballot ends (it would tie the
    # member's choice to the holder's: `storage.proposals._seal`).
    proxy_by: int | None = None


class Objection(SQLModel, table=True):
    """A member's standing objection to a consent proposal, with its reason (shown on the card):
    the primary key keeps one per member; a second `object` replaces the reason, `unobject` deletes it."""

    __tablename__ = "objection"

    proposal_id: int = Field(
        sa_column=Column(Integer, ForeignKey("proposal.id", ondelete="CASCADE"), primary_key=True)
    )
    member_id: int = Field(
        sa_column=Column(Integer, ForeignKey("member.id", ondelete="CASCADE"), primary_key=True)
    )
    reason: str = Field(max_length=500)
    raised_at: datetime = _ts()


class GovernanceEvent(SQLModel, table=True):
    """Append-only log of everything that changes a decision, so any result can be recounted."""

    __tablename__ = "governance_event"
    __table_args__ = (Index("ix_event_proposal", "proposal_id", "id"),)

    id: int | None = Field(
        default=None, sa_column=Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    )
    coop_id: int = _fk("coop.id")
    proposal_id: int | None = _fk("proposal.id", nullable=True)
    member_id: int | None = _fk("member.id", nullable=True)
    kind: str = Field(max_length=32)
    data: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    at: datetime = _ts()


class InboundEvent(SQLModel, table=True):
    """Platform events already handled, so a redelivered update counts once."""

    __tablename__ = "inbound_event"

    platform: str = Field(primary_key=True, max_length=16)
    event_id: str = Field(primary_key=True, max_length=255)
    handled_at: datetime = _ts()
    # A command that was refused (nothing done): an edit of it is the corrected command.
    refused: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, server_default=sa_false()))


class Outbox(SQLModel, table=True):
    """Announcements queued in the same transaction as the change they announce."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "platform", "sent_at", "id"),)

    id: int | None = Field(
        default=None, sa_column=Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    )
    coop_id: int = _fk("coop.id")
    platform: str = Field(max_length=16)
    chat_id: str = Field(max_length=255)
    kind: str = Field(max_length=32)  # proposal_opened | proposal_result | proposal_withdrawn | notice
    # 0 (urgent: cards, results, reminders, audits) goes before 1 (routine) within a chat; set
    # from `kind` when queued (storage.common.priority).
    priority: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    proposal_id: int | None = _fk("proposal.id", nullable=True)
    text: str
    created_at: datetime = _ts()
    sent_at: datetime | None = _ts(nullable=True)
    # Several processes on one PostgreSQL database: a row is delivered by the one that claims it.
    claimed_by: str | None = Field(default=None, max_length=64)
    claimed_until: datetime | None = _ts(nullable=True)
    # Delivery state lives on the row, so a crash or a restart loses no retry: tries so far, when
    # the next may be made (a chat whose next row waits is left alone), what went wrong last, and
    # whether delivery was abandoned (a permanent refusal; `sent_at` then says when).
    attempts: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    next_attempt_at: datetime | None = _ts(nullable=True)
    last_error: str | None = Field(default=None, max_length=500)
    gave_up: bool = Field(default=False, sa_column_kwargs={"server_default": sa_false()})


class Card(SQLModel, table=True):
    """A proposal's card as posted in one chat, so its tally can be kept current by edits."""

    __tablename__ = "card"
    __table_args__ = (
        UniqueConstraint("platform", "chat_id", "proposal_id", name="uq_card_chat_proposal"),
        Index("ix_card_poll", "platform", "chat_id", "poll_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    proposal_id: int = _fk("proposal.id")
    platform: str = Field(max_length=16)
    chat_id: str = Field(max_length=255)
    message_id: str = Field(max_length=255)
    poll_id: str | None = Field(default=None, max_length=255)  # a native poll posted beside the card
    text: str  # what the card shows now; an edit is needed only when the new rendering differs
    final: bool = Field(default=False)  # the closing edit is done; the card no longer changes
    updated_at: datetime = _ts()


class Cursor(SQLModel, table=True):
    """A platform's committed position (the Matrix sync token), moved only after the events
    before it are stored."""

    __tablename__ = "cursor"

    platform: str = Field(primary_key=True, max_length=16)
    name: str = Field(primary_key=True, max_length=64)
    value: str
    updated_at: datetime = _ts()



class Round(SQLModel, table=True):
    """A surplus round: the movement share to the funds first, the rest to the members."""

    __tablename__ = "round"
    __table_args__ = (UniqueConstraint("coop_id", "number", name="uq_round_coop_number"),)

    id: int | None = Field(default=None, primary_key=True)
    coop_id: int = _fk("coop.id")
    number: int
    currency: str = Field(max_length=3)
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))  # minor units
    movement_share: str = Field(max_length=16)
    member_split: str = Field(max_length=8)
    opened_at: datetime = _ts()
    opened_by: int = _fk("member.id", ondelete="RESTRICT")
    payout_at: datetime | None = _ts(nullable=True)
    status: str = Field(default="open", max_length=8)  # open | paid
    paid_at: datetime | None = _ts(nullable=True)
    paid_by: int | None = _fk("member.id", nullable=True, ondelete="RESTRICT")


class Allocation(SQLModel, table=True):
    """One line of a round's split: a fund's part, or a member's share (with hours if by hours)."""

    __tablename__ = "allocation"
    __table_args__ = (Index("ix_allocation_round", "round_id"),)

    id: int | None = Field(default=None, primary_key=True)
    round_id: int = _fk("round.id")
    fund: str | None = Field(default=None, max_length=120)
    member_id: int | None = _fk("member.id", nullable=True)
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    hours: str | None = Field(default=None, max_length=16)


class Vow(SQLModel, table=True):
    """A member's public vow for a round; restated vows are kept, the last one stands."""

    __tablename__ = "vow"
    __table_args__ = (Index("ix_vow_round_member", "round_id", "member_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    round_id: int = _fk("round.id")
    member_id: int = _fk("member.id")
    text: str
    at: datetime = _ts()


class Waiver(SQLModel, table=True):
    """A member's vow waived for a round by a passed proposal."""

    __tablename__ = "waiver"

    round_id: int = Field(sa_column=Column(Integer, ForeignKey("round.id", ondelete="CASCADE"), primary_key=True))
    member_id: int = Field(sa_column=Column(Integer, ForeignKey("member.id", ondelete="CASCADE"), primary_key=True))
    proposal_id: int = _fk("proposal.id")


class Draw(SQLModel, table=True):
    """A lottery anyone can replay (SPEC 'Draws anyone can replay'): its pool and exclusions as
    announced, the commitment, and the secret kept from the announcement (so a restart draws with
    the committed one) but shown only once drawn."""

    __tablename__ = "draw"
    __table_args__ = (
        UniqueConstraint("coop_id", "number", name="uq_draw_coop_number"),
        Index("ix_draw_status_at", "status", "draw_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    coop_id: int = _fk("coop.id")
    number: int
    purpose: str = Field(max_length=100)
    seats: int
    source: str = Field(default="members", max_length=8)  # members | allies
    pool: list = Field(sa_column=Column(JSON, nullable=False))  # [{"id": member id, "name": …}] in register order
    excluded: list = Field(sa_column=Column(JSON, nullable=False))  # [{"name": …, "reason": …}]
    commitment: str = Field(max_length=64)  # sha256(secret) hex
    secret: str = Field(max_length=64)  # hex; shown only once drawn
    draw_at: datetime = _ts()
    status: str = Field(default="announced", max_length=16)  # announced | drawn
    result: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    created_at: datetime = _ts()
    created_by: int | None = _fk("member.id", nullable=True, ondelete="RESTRICT")  # None: opened by the bot
    drawn_at: datetime | None = _ts(nullable=True)


class DrawContribution(SQLModel, table=True):
    """A member's `shuffle`: one line of their own randomness, in the order received."""

    __tablename__ = "draw_contribution"
    __table_args__ = (UniqueConstraint("draw_id", "seq", name="uq_draw_contribution_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    draw_id: int = _fk("draw.id")
    seq: int
    member_id: int | None = _fk("member.id", nullable=True, ondelete="SET NULL")
    text: str = Field(max_length=200)
    at: datetime = _ts()


class Minute(SQLModel, table=True):
    """One leaf of a co-op's minutes: the record (canonical JSON) and its RFC 9162 leaf hash.
    Append-only; the primary key is the guard that two appends never share a place."""

    __tablename__ = "minute"

    coop_id: int = Field(sa_column=Column(Integer, ForeignKey("coop.id", ondelete="CASCADE"), primary_key=True))
    seq: int = Field(primary_key=True)  # 0-based: the leaf's index in the tree
    kind: str = Field(max_length=32)
    record: str  # canonical JSON, exactly the bytes hashed after 0x00
    leaf: str = Field(max_length=64)  # sha256(0x00 || record), hex
    event_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))  # the governance_event row
    at: datetime = _ts()


class PostedHead(SQLModel, table=True):
    """A head of the minutes the bot announced (queued with a result), which the log must keep extending."""

    __tablename__ = "posted_head"
    __table_args__ = (Index("ix_posted_head_coop", "coop_id", "size"),)

    id: int | None = Field(default=None, primary_key=True)
    coop_id: int = _fk("coop.id")
    size: int
    root: str = Field(max_length=64)
    at: datetime = _ts()


class Witness(SQLModel, table=True):
    """A member's word that they saw a posted head."""

    __tablename__ = "witness"
    __table_args__ = (
        Index("ix_witness_coop", "coop_id", "size"),
        UniqueConstraint("coop_id", "member_id", "size", name="uq_witness_member_size"),
    )

    id: int | None = Field(default=None, primary_key=True)
    coop_id: int = _fk("coop.id")
    member_id: int = _fk("member.id")
    size: int
    root: str = Field(max_length=64)
    at: datetime = _ts()


class Organisation(SQLModel, table=True):
    """An organisation of the movement the co-op affiliated by a passed proposal; its people are
    allies (`member.status` "ally", `member.org_id`)."""

    __tablename__ = "organisation"
    __table_args__ = (UniqueConstraint("coop_id", "key", name="uq_organisation_coop_key"),)

    id: int | None = Field(default=None, primary_key=True)
    coop_id: int = _fk("coop.id")
    name: str = Field(max_length=120)
    key: str = Field(max_length=120)  # the name casefolded: one organisation, however it is typed
    status: str = Field(default="affiliated", max_length=16)  # affiliated | disaffiliated
    changed_at: datetime = _ts()
    proposal_id: int | None = _fk("proposal.id", nullable=True, ondelete="SET NULL")  # the last decision on it


class Audit(SQLModel, table=True):
    """A liberation audit A<n>: its auditors' draw, its window, the co-op's verdict and what that
    set in motion (`stage`). At most one audit of a co-op is not closed (a partial unique index)."""

    __tablename__ = "audit"
    __table_args__ = (
        UniqueConstraint("coop_id", "number", name="uq_audit_coop_number"),
        Index("uq_audit_coop_running", "coop_id", unique=True,
              sqlite_where=text("status <> 'closed'"), postgresql_where=text("status <> 'closed'")),
        Index("ix_audit_stage", "stage"),
    )

    id: int | None = Field(default=None, primary_key=True)
    coop_id: int = _fk("coop.id")
    number: int
    status: str = Field(default="drawing", max_length=16)  # drawing | open | closed
    reason: str = Field(max_length=16)  # calendar | steward
    started_at: datetime = _ts()
    started_by: int | None = _fk("member.id", nullable=True, ondelete="RESTRICT")
    draw_id: int | None = _fk("draw.id", nullable=True, ondelete="RESTRICT")  # the auditors' draw (the redraw's, if redrawn)
    redrawn: bool = Field(default=False)
    window_ends_at: datetime | None = _ts(nullable=True)
    closed_at: datetime | None = _ts(nullable=True)
    verdict: str | None = Field(default=None, max_length=24)  # revolutionary | reformist | counter-revolutionary | none
    # After the verdict: revision (due by revision_due_at) → revised, or assembly (convened) →
    # kept | lapsed (stewards' roles lapsed, `lapsed` their ids) → reseated; done: nothing follows.
    stage: str | None = Field(default=None, max_length=16)
    revision_due_at: datetime | None = _ts(nullable=True)
    lapsed: list | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    stewards_draw_id: int | None = _fk("draw.id", nullable=True, ondelete="RESTRICT")


class Auditor(SQLModel, table=True):
    """An ally seated by an audit's draw."""

    __tablename__ = "auditor"

    audit_id: int = Field(sa_column=Column(Integer, ForeignKey("audit.id", ondelete="CASCADE"), primary_key=True))
    member_id: int = Field(sa_column=Column(Integer, ForeignKey("member.id", ondelete="CASCADE"), primary_key=True))
    org_id: int | None = _fk("organisation.id", nullable=True, ondelete="SET NULL")
    draw_id: int = _fk("draw.id", ondelete="RESTRICT")


class Verdict(SQLModel, table=True):
    """An auditor's verdict on an audit, with findings; restated in place until the audit closes."""

    __tablename__ = "verdict"

    audit_id: int = Field(sa_column=Column(Integer, ForeignKey("audit.id", ondelete="CASCADE"), primary_key=True))
    member_id: int = Field(sa_column=Column(Integer, ForeignKey("member.id", ondelete="CASCADE"), primary_key=True))
    grade: str = Field(max_length=24)
    findings: str = Field(default="", max_length=4000)
    at: datetime = _ts()


class Consent(SQLModel, table=True):
    """An affiliated organisation's voice on a protected proposal: one per organisation (any of its
    allies speaks for it; the last one counts)."""

    __tablename__ = "consent"
    __table_args__ = (UniqueConstraint("proposal_id", "org_id", name="uq_consent_proposal_org"),)

    id: int | None = Field(default=None, primary_key=True)
    proposal_id: int = _fk("proposal.id")
    org_id: int = _fk("organisation.id", ondelete="RESTRICT")
    member_id: int = _fk("member.id", ondelete="RESTRICT")
    yes: bool
    at: datetime = _ts()


class Pay(SQLModel, table=True):
    """A pay rate recorded for a member, or a change the wage-ratio cap refused. A member's current
    pay is their latest 'set' row; every row is the history."""

    __tablename__ = "pay"
    __table_args__ = (Index("ix_pay_coop_member", "coop_id", "member_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    coop_id: int = _fk("coop.id")
    member_id: int = _fk("member.id", ondelete="RESTRICT")
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))  # minor units, per `per`
    currency: str = Field(max_length=3)
    per: str = Field(max_length=8)  # hour | month
    hours: int | None = None  # a month's hours, for monthly pay
    # The hourly equivalent in minor units per hour, exactly: str(Fraction), "2500" or "500000/173".
    hourly: str = Field(max_length=64)
    # The ratio highest : lowest the change gave (or would have given), str(Fraction).
    ratio: str = Field(max_length=64)
    set_at: datetime = _ts()
    set_by: int = _fk("member.id", ondelete="RESTRICT")
    status: str = Field(max_length=8)  # set | refused


class Ritual(SQLModel, table=True):
    """A mirror shift (`kind` "mirror": its facilitator and format drawn by lot, the speaking order,
    confessions read) or an adversary drill ("drill": its red team drawn, its record at the end),
    numbered per co-op and kind. Each step moves the row on under its lock (`status` drawing →
    open → closed); a partial unique index allows one of each kind under way per co-op."""

    __tablename__ = "ritual"
    __table_args__ = (
        UniqueConstraint("coop_id", "kind", "number", name="uq_ritual_coop_kind_number"),
        Index("uq_ritual_coop_kind_running", "coop_id", "kind", unique=True,
              sqlite_where=text("status <> 'closed'"), postgresql_where=text("status <> 'closed'")),
    )

    id: int | None = Field(default=None, primary_key=True)
    coop_id: int = _fk("coop.id")
    kind: str = Field(max_length=8)  # mirror | drill
    number: int
    status: str = Field(max_length=8)  # drawing | open | closed
    started_at: datetime = _ts()
    ends_at: datetime | None = _ts(nullable=True)  # the shift's or the drill's end, once drawn
    closed_at: datetime | None = _ts(nullable=True)
    draw_id: int | None = _fk("draw.id", nullable=True, ondelete="RESTRICT")  # facilitator, or red team
    format_draw_id: int | None = _fk("draw.id", nullable=True, ondelete="RESTRICT")  # a mirror shift's format
    facilitator_id: int | None = _fk("member.id", nullable=True, ondelete="RESTRICT")
    format: str | None = Field(default=None, max_length=500)
    redesigns: int = 0  # how often the facilitator rewrote the drawn format
    speaking_order: list | None = Field(default=None, sa_column=Column(JSON, nullable=True))  # names, newest first
    confessions_read: int | None = None  # only their number is kept
    record: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))  # a drill's record


class Drift(SQLModel, table=True):
    """A moment a member recorded the co-op drifting from its purpose (`drift`): on the timeline."""

    __tablename__ = "drift"
    __table_args__ = (UniqueConstraint("coop_id", "number", name="uq_drift_coop_number"),)

    id: int | None = Field(default=None, primary_key=True)
    coop_id: int = _fk("coop.id")
    number: int
    text: str = Field(max_length=1000)
    happened_at: datetime = _ts()  # `when:`, or when it was recorded
    proposal_id: int | None = _fk("proposal.id", nullable=True, ondelete="SET NULL")  # `about: #N`
    member_id: int = _fk("member.id", ondelete="RESTRICT")
    recorded_at: datetime = _ts()


class ConfessionBox(SQLModel, table=True):
    """A co-op's confessions waiting for the next mirror shift: texts only, in one row, shuffled at
    every addition, so neither a row, a key, a time nor an order ties one to its sender."""

    __tablename__ = "confession_box"

    coop_id: int = Field(sa_column=Column(Integer, ForeignKey("coop.id", ondelete="CASCADE"), primary_key=True))
    texts: list = Field(sa_column=Column(JSON, nullable=False))


class Proxy(SQLModel, table=True):
    """A member's vote lent to another (`proxy <member>`): for one proposal (`proposal_id`) or for
    every proposal closing before `until`. The close copies the holder's own vote for a giver who
    did not vote (storage.proxies.resolve). A partial unique index keeps one unrevoked proxy per
    giver: a new one revokes the old in its transaction."""

    __tablename__ = "proxy"
    __table_args__ = (
        Index("uq_proxy_giver_unrevoked", "giver_id", unique=True,
              sqlite_where=text("revoked_at IS NULL"), postgresql_where=text("revoked_at IS NULL")),
        Index("ix_proxy_holder", "holder_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    coop_id: int = _fk("coop.id")
    giver_id: int = _fk("member.id")
    holder_id: int = _fk("member.id")
    proposal_id: int | None = _fk("proposal.id", nullable=True)  # `for: #N`
    until: datetime | None = _ts(nullable=True)  # `until: <date>`
    given_at: datetime = _ts()
    revoked_at: datetime | None = _ts(nullable=True)  # `unproxy`, or replaced by a new proxy


class CalendarFeed(SQLModel, table=True):
    """A co-op's private calendar feed (`calendar` in a direct chat): the URL's token, looked up by
    its SHA-256 (`token_hash`), and kept as it is (`token`) because the bot shows the same URL to
    every member who asks, as it would a password it must hand out again. `calendar revoke` sets
    `revoked_at`; a partial unique index keeps one unrevoked feed per co-op."""

    __tablename__ = "calendar_feed"
    __table_args__ = (
        Index("uq_calendar_feed_coop_unrevoked", "coop_id", unique=True,
              sqlite_where=text("revoked_at IS NULL"), postgresql_where=text("revoked_at IS NULL")),
    )

    id: int | None = Field(default=None, primary_key=True)
    coop_id: int = _fk("coop.id")
    token_hash: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    token: str = Field(max_length=64)
    created_at: datetime = _ts()
    revoked_at: datetime | None = _ts(nullable=True)
