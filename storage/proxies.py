"""Store for proxies: given, replaced and revoked under the members' row locks, and applied at a close."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import aliased

from storage.common import claim, insert, log, queue_direct
from storage.db import Database
from storage.errors import ProposalNotOpen, StoreError
from storage.models import Account, Ballot, Elector, Member, Objection, Proposal, Proxy


class HolderNotActive(StoreError):
    """The member who would hold the proxy is not an active member (read under their row lock)."""


class ProxyLimit(StoreError):
    """The holder already holds as many proxies as the charter allows."""

    def __init__(self, held: int) -> None:
        super().__init__(held)
        self.held = held


@dataclass(frozen=True)
class Lent:
    """A proxy as the rule at a close sees it (`handlers.proxies.counted`)."""

    giver_id: int
    holder_id: int
    proposal_id: int | None
    until: datetime | None
    given_at: datetime
    revoked_at: datetime | None
    giver_active: bool
    holder_active: bool = True


@dataclass(frozen=True)
class ProxyFacts:
    """What a close reads for the rule that says which proxies count: the proposal, the moment its
    voting ended, the charter as it stands, the proxies of the electors with no ballot (those not
    revoked before that moment), who voted on it themselves (a proxy's ballot is never one) and
    who has an objection standing on it (a consent proposal)."""

    proposal: Proposal
    moment: datetime
    charter: dict
    proxies: tuple[Lent, ...]
    voted: frozenset[int]
    objected: frozenset[int] = frozenset()


# The rule: given the facts, the proxies whose holder's vote is copied for their giver.
Rule = Callable[[ProxyFacts], list[Lent]]


@dataclass(frozen=True)
class Held:
    """An unrevoked proxy with the names it shows: given by `giver` to `holder`."""

    giver_id: int
    giver: str
    holder_id: int
    holder: str
    proposal_id: int | None
    number: int | None  # the proposal's number, for `for: #N`
    status: str | None  # the proposal's status, for `for: #N`
    until: datetime | None
    given_at: datetime


def _lent(row) -> Lent:
    return Lent(row.giver_id, row.holder_id, row.proposal_id, row.until, row.given_at, row.revoked_at,
                row.status == "active", row.holder_status == "active")


class ProxyStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def give(
        self, coop_id: int, giver_id: int, holder_id: int, *, proposal_id: int | None, until: datetime | None,
        limit: int, now: datetime, event: tuple[str, str] | None = None,
        tell: Callable[[list[tuple[str, str]]], list[tuple[str, str, str]]] | None = None,
    ) -> Proxy | None:
        """Lend the giver's vote to the holder, replacing the giver's unrevoked proxy (returned, if
        there was one), in one transaction. Both members' rows are locked (in id order, so two
        processes never wait on each other), so two givers racing to the same holder count each
        other: past `limit` proxies held at once, ProxyLimit. HolderNotActive, or ProposalNotOpen
        for a proposal that ended meanwhile. `tell` gives the direct words to the holder's accounts."""
        async with self.db.write() as s:
            await claim(s, event, now)
            locked = {m.id: m for m in (await s.execute(
                select(Member).where(Member.id.in_({giver_id, holder_id})).order_by(Member.id)
                .with_for_update().execution_options(populate_existing=True))).scalars()}
            holder = locked.get(holder_id)
            if holder is None or holder.coop_id != coop_id or holder.status != "active":
                raise HolderNotActive()
            if proposal_id is not None:
                status, closes_at = (await s.execute(select(Proposal.status, Proposal.closes_at)
                                                     .where(Proposal.id == proposal_id))).one()
                if status != "open":
                    raise ProposalNotOpen(status)
                if closes_at <= now:  # its voting has ended: the count would never take this proxy
                    raise ProposalNotOpen("counting")
            # The giver's own proxy to this holder is being replaced, so it is not counted; nor is one
            # from a member removed since, which no count takes (`handlers.proxies.counted`).
            held = (await s.execute(select(func.count()).select_from(Proxy).where(
                Proxy.holder_id == holder_id, Proxy.giver_id != giver_id, _in_force(now),
                Proxy.giver_id.in_(select(Member.id).where(Member.status == "active"))))).scalar_one()
            if held >= limit:
                raise ProxyLimit(held)
            replaced = (await s.execute(
                update(Proxy).where(Proxy.giver_id == giver_id, Proxy.revoked_at.is_(None)).values(revoked_at=now)
                .returning(Proxy.id, Proxy.holder_id))).first()
            s.add(Proxy(coop_id=coop_id, giver_id=giver_id, holder_id=holder_id, proposal_id=proposal_id, until=until,
                        given_at=now))
            await log(s, coop_id, "proxy_given", now, proposal_id=proposal_id, member_id=giver_id, holder=holder_id,
                      **({"until": until.isoformat()} if until else {}),
                      **({"replaced": replaced.id} if replaced else {}))
            if tell is not None:
                accounts = (await s.execute(select(Account.platform, Account.user_id)
                                            .where(Account.member_id == holder_id).order_by(Account.id))).all()
                await queue_direct(s, coop_id, tell([tuple(a) for a in accounts]), now)
            return replaced

    async def revoke(self, giver_id: int, *, now: datetime, event: tuple[str, str] | None = None) -> Held | None:
        """Revoke the giver's unrevoked proxy: what it was, or None if there was none."""
        async with self.db.write() as s:
            await claim(s, event, now)
            revoked = (await s.execute(
                update(Proxy).where(Proxy.giver_id == giver_id, Proxy.revoked_at.is_(None)).values(revoked_at=now)
                .returning(Proxy.id, Proxy.coop_id))).first()
            if revoked is None:
                return None
            await log(s, revoked.coop_id, "proxy_revoked", now, member_id=giver_id, proxy=revoked.id)
            return (await _held(s, Proxy.id == revoked.id))[0]

    async def of_member(self, member_id: int, now: datetime) -> tuple[Held | None, list[Held]]:
        """The proxy the member gave and those they hold (from members still active), still in force now."""
        async with self.db.read() as s:
            gave = await _held(s, Proxy.giver_id == member_id, Proxy.revoked_at.is_(None), _in_force(now))
            held = await _held(s, Proxy.holder_id == member_id, Proxy.revoked_at.is_(None), _in_force(now),
                               Proxy.giver_id.in_(select(Member.id).where(Member.status == "active")))
            return (gave[0] if gave else None), held

    async def pending(self, proposal: Proposal) -> list[Held]:
        """Unrevoked proxies between active members, of the proposal's electors who have neither
        voted on it nor object to it, with names (the handlers' rule says which cover it): what
        its card says while it is open."""
        voted = select(Ballot.member_id).where(Ballot.proposal_id == proposal.id, Ballot.member_id == Proxy.giver_id)
        objected = select(Objection.member_id).where(Objection.proposal_id == proposal.id,
                                                     Objection.member_id == Proxy.giver_id)
        elector = select(Elector.member_id).where(Elector.proposal_id == proposal.id,
                                                  Elector.member_id == Proxy.giver_id)
        active = select(Member.id).where(Member.status == "active")
        async with self.db.read() as s:
            return await _held(s, Proxy.coop_id == proposal.coop_id, Proxy.revoked_at.is_(None), elector.exists(),
                               ~voted.exists(), ~objected.exists(), Proxy.giver_id.in_(active),
                               Proxy.holder_id.in_(active))


def _in_force(now: datetime):
    """An unrevoked proxy still lends a vote now: until a later date, or for a proposal still open."""
    open_ = aliased(Proposal)  # the query may join Proposal itself: this one stays the subquery's own
    return and_(Proxy.revoked_at.is_(None),
                or_(and_(Proxy.proposal_id.is_(None), Proxy.until > now),
                    and_(Proxy.proposal_id.is_not(None),
                         select(open_.id).where(open_.id == Proxy.proposal_id, open_.status == "open").exists())))


async def _held(s, *where) -> list[Held]:
    giver, holder = aliased(Member), aliased(Member)
    stmt = (select(Proxy.giver_id, giver.display_name, Proxy.holder_id, holder.display_name, Proxy.proposal_id,
                   Proposal.number, Proposal.status, Proxy.until, Proxy.given_at)
            .join(giver, giver.id == Proxy.giver_id).join(holder, holder.id == Proxy.holder_id)
            .outerjoin(Proposal, Proposal.id == Proxy.proposal_id)
            .where(*where).order_by(Proxy.given_at, Proxy.id))
    return [Held(*row) for row in (await s.execute(stmt)).all()]


async def resolve(s, proposal: Proposal, charter: dict, now: datetime, rule: Rule) -> list[tuple[str, str]]:
    """At the close, in its transaction and before the counts are read: for each proxy `rule`
    counts, a ballot for its giver copying the holder's own vote (`proxy_by` the holder), logged
    as `vote_by_proxy`. The givers' and holders' names, for the result. On a secret ballot nothing
    may say afterwards which ballot a proxy cast: whose vote went with whose is public (the card,
    `proxy_given`), so naming the giver as voting by proxy would tie two members' choices together,
    and with the tally that can name a third's. There the ballot is logged as any secret vote
    (`vote_cast`, no data: `storage.votes._logged`), `proxy_by` is forgotten with the choices when
    the ballot is sealed (`storage.proposals._seal`), and nothing is returned for the result."""
    moment = min(now, proposal.closes_at)
    own = {row.member_id: row for row in (await s.execute(
        select(Ballot.member_id, Ballot.option, Ballot.choices)
        .where(Ballot.proposal_id == proposal.id, Ballot.proxy_by.is_(None)))).all()}
    holder = aliased(Member)
    candidates = (await s.execute(
        select(Proxy.giver_id, Proxy.holder_id, Proxy.proposal_id, Proxy.until, Proxy.given_at, Proxy.revoked_at,
               Member.status, holder.status.label("holder_status"))
        .join(Elector, and_(Elector.proposal_id == proposal.id, Elector.member_id == Proxy.giver_id))
        .join(Member, Member.id == Proxy.giver_id)
        .join(holder, holder.id == Proxy.holder_id)
        .where(Proxy.coop_id == proposal.coop_id, or_(Proxy.revoked_at.is_(None), Proxy.revoked_at > moment),
               ~select(Ballot.member_id).where(Ballot.proposal_id == proposal.id,
                                               Ballot.member_id == Proxy.giver_id).exists())
        # Locked: an `unproxy` or a replacement in flight is waited for and seen, not counted past.
        .order_by(Proxy.giver_id, Proxy.id).with_for_update(of=Proxy))).all()
    if not candidates:
        return []
    objected = frozenset((await s.execute(
        select(Objection.member_id).where(Objection.proposal_id == proposal.id))).scalars())
    counted = rule(ProxyFacts(proposal, moment, charter, tuple(_lent(row) for row in candidates), frozenset(own),
                              objected))
    if not counted:
        return []
    names = dict((await s.execute(select(Member.id, Member.display_name).where(
        Member.id.in_({x for lent in counted for x in (lent.giver_id, lent.holder_id)})))).all())
    secret = proposal.ballot == "secret"
    marked = []
    for lent in counted:
        theirs = own[lent.holder_id]
        data = {} if secret else {"option": theirs.option, "by": lent.holder_id,
                                  **({"choices": theirs.choices} if theirs.choices is not None else {})}
        event_id = await log(s, proposal.coop_id, "vote_cast" if secret else "vote_by_proxy", now,
                             proposal_id=proposal.id, member_id=lent.giver_id, **data)
        await s.execute(insert(s, Ballot).values(
            proposal_id=proposal.id, member_id=lent.giver_id, option=theirs.option, choices=theirs.choices,
            cast_at=now, event_id=event_id, proxy_by=lent.holder_id))
        if not secret:
            marked.append((names[lent.giver_id], names[lent.holder_id]))
    return marked
