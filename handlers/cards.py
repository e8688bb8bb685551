"""What a proposal's card shows now: the adapters post it once and keep it current by edits."""

from __future__ import annotations

from datetime import datetime

from dataclasses import dataclass

from handlers import i18n, texts
from handlers.charter import Charter
from handlers.proposals import describe
from storage.stores import Stores


@dataclass(frozen=True)
class CardView:
    proposal_id: int
    number: int
    text: str
    options: tuple[str, ...]
    is_open: bool  # buttons are shown only while voting is open
    ballot: str
    revised_at: datetime | None = None  # its author changed it (a native poll must be changed too)
    results_hidden: bool = False  # an open ballot's counts stay hidden until the close (a native poll too)
    method: str = "vote"  # ranked: buttons build a ranking, no native poll; approval: buttons and polls choose many
    language: str = i18n.DEFAULT  # the co-op's: adapters write the card's buttons and poll notes in it


async def card_view(stores: Stores, proposal_id: int, prefix: str) -> CardView | None:
    p = await stores.proposals.get_by_id(proposal_id)
    if p is None:
        return None
    coop = await stores.coops.get(p.coop_id)
    charter = Charter.from_json(coop.charter)
    with i18n.use(charter.language):  # a card is the room's: in the co-op's language, whoever moved it
        text = await describe(stores, p, charter, prefix)
        options = tuple(texts.option_labels(p.options))
    return CardView(p.id, p.number, text, options, p.status == "open", p.ballot, p.revised_at,
                    p.results_hidden, p.method, charter.language)
