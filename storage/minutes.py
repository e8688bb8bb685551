"""Store for the minutes: leaves appended in the caller's transaction, posted and witnessed heads,
and the start check that the log still agrees with every head and every count."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import merkle
from storage.db import Database
from storage.errors import StoreError
from storage.models import Coop, GovernanceEvent, Minute, PostedHead, Proposal, Witness

# The event kinds that are leaves of the minutes: every record that changes what was decided.
# A later feature adds its kinds here (verdicts, vetoes, pay changes, drift, confession counts).
LEAF_KINDS = frozenset({
    "proposal_opened", "proposal_closed", "charter_amended", "waiver", "vow", "payout",
    "draw_announced", "draw_drawn", "affiliated", "disaffiliated",
    # Liberation audits, step by step: started, auditors seated, each verdict, the co-op's verdict,
    # a redraw, the revision demand met or missed, the assembly's decision on the stewards.
    "audit_started", "audit_opened", "verdict", "audit_closed", "audit_redrawn", "revision_met", "revision_missed",
    "stewards_kept", "stewards_lapsed", "stewards_seated",
    # The pay scale: a pay rate set, or a change the wage-ratio cap refused; a cap amended below the
    # pay scale's ratio, which makes a revision due (a pay demand, numbered as an audit).
    "pay_set", "pay_refused", "pay_breach",
    # Protected decisions: an organisation's consent, the golden share's veto and call-in.
    "consent", "veto", "protected",
    # Rituals: a mirror shift and an adversary drill, step by step (a shift's leaves say how many
    # confessions were read, never what), and the drift timeline's own entries.
    "mirror_started", "mirror_opened", "mirror_format", "mirror_closed", "confessions_read",
    "drill_started", "drill_opened", "drill_closed", "drift",
})
MIN_PREFIX = 8  # hex characters a witness must give, so a guess cannot hit a head by chance


class Inconsistent(StoreError):
    """The minutes disagree with a head, an event or a count: the bot must not start."""


class NeverPosted(StoreError):
    """No head the bot posted for this co-op starts with the prefix."""


class Ambiguous(StoreError):
    """More than one posted head starts with the prefix."""


@dataclass(frozen=True)
class Head:
    size: int
    root: str  # hex

    @property
    def digest(self) -> bytes:
        return bytes.fromhex(self.root)


@dataclass(frozen=True)
class Problem:
    """What does not hold in a co-op's minutes, at the first size where it shows."""

    coop: str
    size: int
    what: str


def record_of(kind: str, at: datetime, coop_id: int, proposal_id: int | None, member_id: int | None,
              data: dict) -> dict:
    """The leaf's record for a logged event. The event's own fields sit beside its data, which is
    nested (a proposal's data has a `kind` of its own), normalised as the JSON column stores it."""
    record = {"kind": kind, "at": at.astimezone(timezone.utc).isoformat(), "coop": coop_id, "data": json.loads(json.dumps(data))}
    if proposal_id is not None:
        record["proposal"] = proposal_id
    if member_id is not None:
        record["member"] = member_id
    return record


async def append(session: AsyncSession, coop_id: int, kind: str, record: dict, now: datetime,
                 event_id: int | None = None) -> Head:
    """In the caller's transaction: the record becomes the co-op's next leaf. The co-op row is
    locked first, so appends of one co-op queue (PostgreSQL; SQLite has one writer) and the
    primary key (coop_id, seq) refuses two leaves in one place if anything slipped past."""
    size, frontier = (await session.execute(
        select(Coop.minutes_size, Coop.minutes_frontier).where(Coop.id == coop_id).with_for_update()
    )).one()
    tree = merkle.MerkleLog.resume(size, [bytes.fromhex(h) for h in frontier])
    text = merkle.canonical(record).decode("utf-8")
    leaf = merkle.leaf_hash(record)
    seq = tree.append(leaf)
    session.add(Minute(coop_id=coop_id, seq=seq, kind=kind, record=text, leaf=leaf.hex(), event_id=event_id, at=now))
    await session.execute(update(Coop).where(Coop.id == coop_id).values(
        minutes_size=tree.size, minutes_frontier=[h.hex() for h in tree.frontier]))
    await session.flush()
    return Head(tree.size, tree.head().hex())


async def post_head(session: AsyncSession, coop_id: int, now: datetime) -> Head:
    """In the caller's transaction (the one queuing the announcement that shows it): the co-op's
    head as it stands, recorded as posted."""
    head = await _head(session, coop_id)
    session.add(PostedHead(coop_id=coop_id, size=head.size, root=head.root, at=now))
    await session.flush()
    return head


async def _head(session: AsyncSession, coop_id: int) -> Head:
    size, frontier = (await session.execute(
        select(Coop.minutes_size, Coop.minutes_frontier).where(Coop.id == coop_id))).one()
    return Head(size, merkle.MerkleLog.resume(size, [bytes.fromhex(h) for h in frontier]).head().hex())


class MinutesStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def head(self, coop_id: int) -> Head:
        async with self.db.read() as s:
            return await _head(s, coop_id)

    async def leaves(self, coop_id: int) -> list[Minute]:
        async with self.db.read() as s:
            return list((await s.execute(select(Minute).where(Minute.coop_id == coop_id).order_by(Minute.seq))).scalars())

    async def posted(self, coop_id: int) -> list[PostedHead]:
        async with self.db.read() as s:
            stmt = select(PostedHead).where(PostedHead.coop_id == coop_id).order_by(PostedHead.id)
            return list((await s.execute(stmt)).scalars())

    async def witnessed(self, coop_id: int) -> list[Witness]:
        async with self.db.read() as s:
            return list((await s.execute(select(Witness).where(Witness.coop_id == coop_id).order_by(Witness.id))).scalars())

    async def witness(self, coop_id: int, member_id: int, prefix: str, now: datetime) -> Head:
        """Record that the member saw the posted head starting with `prefix` (lower-case hex).
        Raises NeverPosted or Ambiguous."""
        async with self.db.write() as s:
            stmt = (select(PostedHead.size, PostedHead.root).where(
                PostedHead.coop_id == coop_id, PostedHead.root.startswith(prefix, autoescape=True)).distinct())
            heads = {Head(size, root) for size, root in (await s.execute(stmt)).all()}
            if not heads:
                raise NeverPosted(prefix)
            if len(heads) > 1:
                raise Ambiguous(prefix)
            head = heads.pop()
            # Once per member and head: saying it again changes nothing (and cannot grow the table).
            from storage.common import insert  # here: storage.common imports this module to append leaves

            await s.execute(insert(s, Witness).values(coop_id=coop_id, member_id=member_id, size=head.size,
                                                      root=head.root, at=now).on_conflict_do_nothing())
            return head

    async def check(self, recount: Callable[[int, int], Awaitable[list[int]]],
                    replay: Callable[[dict, dict], str | None] | None = None) -> list[Problem]:
        """Every co-op's minutes against themselves, every posted and witnessed head, the events
        they record, every closed proposal's recount and (`replay`) every draw made, from its own
        two records; the first problem of each co-op."""
        async with self.db.read() as s:
            coops = list((await s.execute(select(Coop).order_by(Coop.id))).scalars())
            # Which co-ops have anything to check, in three statements: a co-op with no leaf, no
            # edge and no head has nothing that could disagree (a thousand new co-ops start at once).
            recorded = set((await s.execute(select(Minute.coop_id).group_by(Minute.coop_id))).scalars())
            recorded |= set((await s.execute(select(PostedHead.coop_id).group_by(PostedHead.coop_id))).scalars())
            recorded |= set((await s.execute(select(Witness.coop_id).group_by(Witness.coop_id))).scalars())
        problems = []
        for coop in coops:
            if coop.id not in recorded and coop.minutes_size == 0 and not coop.minutes_frontier:
                continue
            found = await self._check(coop, recount, replay)
            if found:
                problems.append(min(found, key=lambda p: p.size))
        return problems

    async def _check(self, coop: Coop, recount, replay=None) -> list[Problem]:
        async with self.db.read() as s:
            leaves = list((await s.execute(
                select(Minute).where(Minute.coop_id == coop.id).order_by(Minute.seq))).scalars())
            events = {e.id: e for e in (await s.execute(select(GovernanceEvent).where(
                GovernanceEvent.id.in_([m.event_id for m in leaves if m.event_id is not None])))).scalars()}
            heads = [(h.size, h.root, "posted") for h in (await s.execute(
                select(PostedHead).where(PostedHead.coop_id == coop.id))).scalars()]
            heads += [(w.size, w.root, "witnessed") for w in (await s.execute(
                select(Witness).where(Witness.coop_id == coop.id))).scalars()]
            proposals = {p.id: p for p in (await s.execute(
                select(Proposal).where(Proposal.coop_id == coop.id, Proposal.status == "closed"))).scalars()}
            # A consent proposal is decided by its objections: they are counted again from the log too.
            # Imported here: storage.objections imports storage.common, which imports this module.
            from storage.objections import recounted_in

            objected = {pid: await recounted_in(s, pid) for pid, p in proposals.items() if p.method == "consent"}
        found = []

        def bad(size: int, what: str) -> None:
            found.append(Problem(coop.name, size, what))

        hashes, announced = [], {}
        for seq, m in enumerate(leaves):
            if m.seq != seq:
                bad(seq + 1, f"leaf {seq} is missing")
                break
            try:
                record = json.loads(m.record)
                ok = merkle.canonical(record).decode("utf-8") == m.record and merkle.leaf_hash(record).hex() == m.leaf
            except ValueError:
                record, ok = None, False
            if not ok:
                bad(seq + 1, f"leaf {seq} does not hash to its stored hash")
            event = events.get(m.event_id)
            if m.event_id is not None and (event is None or record != record_of(
                    event.kind, event.at, event.coop_id, event.proposal_id, event.member_id, event.data)):
                bad(seq + 1, f"leaf {seq} no longer matches the event it records")
            if record and record.get("kind") == "proposal_closed":
                pid = record.get("proposal")
                for what in await _count_problems(record, proposals.get(pid), recount, objected.get(pid)):
                    bad(seq + 1, f"leaf {seq}: {what}")
            data = record.get("data") if isinstance(record, dict) else None
            if isinstance(data, dict) and record.get("kind") == "draw_announced":
                announced[data.get("number")] = data
            if replay is not None and isinstance(data, dict) and record.get("kind") == "draw_drawn":
                what = (replay(announced[data.get("number")], data) if data.get("number") in announced
                        else "drawn without an announcement in the minutes")
                if what:
                    bad(seq + 1, f"leaf {seq}: draw D{data.get('number')}: {what}")
            hashes.append(bytes.fromhex(m.leaf))
        if coop.minutes_size != len(hashes) or merkle.MerkleLog(hashes).frontier != tuple(
                bytes.fromhex(h) for h in coop.minutes_frontier):
            bad(min(coop.minutes_size, len(hashes)) + 1, "the stored edge of the tree does not match its leaves")
        # Each distinct head once, the roots of the prefixes in one pass (a witness repeated, or
        # thousands of heads, cost no more than the leaves).
        tree, leaf = merkle.MerkleLog(), 0
        for size, root, how in sorted(set(heads)):
            if size > len(hashes):
                bad(size, f"the {how} head {root[:merkle.SHORT_HEX]} of size {size} is beyond the minutes")
                continue
            while leaf < size:
                tree.append(hashes[leaf])
                leaf += 1
            if tree.head().hex() != root:
                bad(size, f"the {how} head {root[:merkle.SHORT_HEX]} of size {size} does not match")
        return found


async def _count_problems(record: dict, proposal: Proposal | None, recount, objected: dict | None = None) -> list[str]:
    """A closed proposal's tally in its leaf against its stored result and a recount of the log;
    for a consent proposal, also its objections and quorum count against `objected`, their recount."""
    if proposal is None:
        return ["its proposal is not closed in the database"]
    counts = (record.get("data", {}).get("result") or {}).get("counts")
    stored = {k: v for k, v in (proposal.result or {}).items() if k != "minutes"}
    problems = []
    if stored != record["data"].get("result"):
        problems.append(f"the stored result of proposal {proposal.number} differs from its minutes")
    if counts != await recount(proposal.id, len(proposal.options)):
        problems.append(f"a recount of proposal {proposal.number} differs from its minutes")
    if objected is not None and objected != objections_of(record["data"].get("result") or {}):
        problems.append(f"a recount of proposal {proposal.number}'s objections differs from its minutes")
    return problems


def objections_of(result: dict) -> dict:
    """A consent result's objections and quorum count, in the shape of their recount
    (`storage.objections.recounted_in`): what `coopbot verify` and the start check compare."""
    reasons = sorted(o.get("reason") for o in result.get("objections") or [])
    return {"objections": reasons, "voters": result.get("voters")}
