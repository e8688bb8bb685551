"""Helpers every store uses inside its transaction: dialect inserts, event claims, the log."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage import minutes
from storage.errors import DuplicateEvent, ProposalNotOpen
from storage.models import GovernanceEvent, InboundEvent, Outbox, Proposal, Room


# What a chat sees first when its budget is short: cards, results, reminders and audits go before
# routine announcements (joins, vows, rounds) queued earlier.
URGENT, ROUTINE = 0, 1
URGENT_KINDS = frozenset({"proposal_opened", "proposal_result", "proposal_withdrawn", "reminder", "audit",
                          "draw_announced", "draw_drawn", "firewall", "ritual", "consent_revised"})


def priority(kind: str) -> int:
    return URGENT if kind in URGENT_KINDS else ROUTINE


def insert(session: AsyncSession, model):
    """An INSERT that knows ON CONFLICT on both SQLite and PostgreSQL."""
    dialect = session.bind.dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model)


async def claim(session: AsyncSession, event: tuple[str, str] | None, now: datetime) -> None:
    """Record a platform event as handled, in the caller's transaction. A second delivery of
    the same event raises DuplicateEvent, so its effect is rolled back and never doubled."""
    if event is None:
        return
    platform, event_id = event
    stmt = (
        insert(session, InboundEvent)
        .values(platform=platform, event_id=event_id[:255], handled_at=now)
        .on_conflict_do_nothing()
        .returning(InboundEvent.event_id)
    )
    if (await session.execute(stmt)).first() is None:
        raise DuplicateEvent(f"{platform}:{event_id}")


async def claim_many(session: AsyncSession, events: list[tuple[str, str]], now: datetime) -> set[tuple[str, str]]:
    """`claim` for many events in one statement; returns those claimed here (the others were
    handled before). Sorted, so two processes claiming overlapping sets on PostgreSQL take the
    keys in one order (no deadlock)."""
    if not events:
        return set()
    rows = [{"platform": platform, "event_id": event_id[:255], "handled_at": now}
            for platform, event_id in sorted(set(events))]
    # On the table, not the ORM class: one cached statement sent as multi-row batches.
    table = InboundEvent.__table__
    stmt = insert(session, table).on_conflict_do_nothing().returning(table.c.platform, table.c.event_id)
    return set(map(tuple, await session.execute(stmt, rows)))


async def log(
    session: AsyncSession,
    coop_id: int,
    kind: str,
    now: datetime,
    /,
    *,
    proposal_id: int | None = None,
    member_id: int | None = None,
    **data,
) -> int:
    """Append to the co-op's event log, in the caller's transaction; a kind in `LEAF_KINDS` is also
    the next leaf of the co-op's minutes, in the same transaction."""
    event = GovernanceEvent(
        coop_id=coop_id, proposal_id=proposal_id, member_id=member_id, kind=kind, data=data, at=now
    )
    session.add(event)
    await session.flush()
    if kind in minutes.LEAF_KINDS:
        record = minutes.record_of(kind, now, coop_id, proposal_id, member_id, data)
        await minutes.append(session, coop_id, kind, record, now, event_id=event.id)
    return event.id


async def announce(
    session: AsyncSession, coop_id: int, kind: str, text: str, now: datetime, *, proposal_id: int | None = None
) -> None:
    """Queue an announcement for every room bound to the co-op, in the caller's transaction,
    so it goes out if and only if the change it announces is committed."""
    rooms = (await session.execute(select(Room.platform, Room.chat_id).where(Room.coop_id == coop_id))).all()
    for platform, chat_id in rooms:
        session.add(
            Outbox(
                coop_id=coop_id,
                platform=platform,
                chat_id=chat_id,
                kind=kind,
                priority=priority(kind),
                proposal_id=proposal_id,
                text=text,
                created_at=now,
            )
        )


async def still_voting(s, proposal_id: int, event: tuple[str, str] | None, now: datetime) -> Proposal:
    """Claim the event and lock the proposal; raise unless it is open and its voting time has not
    come. Once it has, the count may be waiting (for a platform's votes): the votes are the co-op's
    then, and neither withdrawing, revising nor an early close may change what they decide."""
    await claim(s, event, now)
    proposal = await s.get(Proposal, proposal_id, with_for_update=True, populate_existing=True)
    if proposal.status != "open":
        raise ProposalNotOpen(proposal.status)
    if proposal.closes_at <= now:
        raise ProposalNotOpen("counting")
    return proposal


async def queue_direct(s, coop_id: int, rows, now: datetime) -> None:
    """Direct messages (platform, chat, text) queued in the caller's transaction."""
    for platform, chat_id, text in rows:
        s.add(Outbox(coop_id=coop_id, platform=platform, chat_id=chat_id, kind="direct", priority=priority("direct"),
                     text=text, created_at=now))
