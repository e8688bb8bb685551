"""All stores over one database, built once in main() and handed to the handlers."""

from __future__ import annotations

from dataclasses import dataclass

from storage.allies import AllyStore
from storage.audits import AuditStore
from storage.cards import CardStore
from storage.confessions import ConfessionStore
from storage.coops import CoopStore
from storage.cursors import CursorStore
from storage.db import Database
from storage.draws import DrawStore
from storage.feeds import FeedStore
from storage.drift import DriftStore
from storage.members import MemberStore
from storage.minutes import MinutesStore
from storage.objections import ObjectionStore
from storage.outbox import OutboxStore
from storage.firewalls import FirewallStore
from storage.pay import PayStore
from storage.rituals import RitualStore
from storage.proposals import ProposalStore
from storage.proxies import ProxyStore
from storage.record import RecordStore
from storage.rounds import RoundStore
from storage.votes import VoteStore


@dataclass(frozen=True)
class Stores:
    db: Database
    coops: CoopStore
    members: MemberStore
    proposals: ProposalStore
    votes: VoteStore
    outbox: OutboxStore
    cards: CardStore
    cursors: CursorStore
    rounds: RoundStore
    draws: DrawStore
    minutes: MinutesStore
    allies: AllyStore
    audits: AuditStore
    record: RecordStore
    pay: PayStore
    firewalls: FirewallStore
    rituals: RitualStore
    drift: DriftStore
    confessions: ConfessionStore
    objections: ObjectionStore
    proxies: ProxyStore
    feeds: FeedStore

    @classmethod
    def over(cls, db: Database) -> Stores:
        return cls(
            db, CoopStore(db), MemberStore(db), ProposalStore(db), VoteStore(db), OutboxStore(db), CardStore(db),
            CursorStore(db), RoundStore(db), DrawStore(db), MinutesStore(db), AllyStore(db),
            AuditStore(db), RecordStore(db), PayStore(db), FirewallStore(db), RitualStore(db),
            DriftStore(db),
            ConfessionStore(db), ObjectionStore(db), ProxyStore(db), FeedStore(db),
        )
