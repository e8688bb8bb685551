"""Issue 19's ways of deciding together (SPEC third set): proxies with consent, ranked and approval
ballots, hidden results, reasons and reminders; the recounts (start check, `coopbot verify`) of each
combination, through the core as a chat on SQLite and PostgreSQL."""

from __future__ import annotations

import json

from bot.export import collect
from bot.verify import problems
from handlers import draws
from schedules.due import run_due
from tests.test_proxies import allow_proxies, ballot_of


async def _checked(chat) -> None:
    stores = chat.gov.stores
    assert await stores.minutes.check(stores.proposals.recount, draws.replay_problem) == []
    data = json.loads(json.dumps(await collect(stores)))
    assert problems(data) == []


async def test_a_consent_proxy_ballot_is_in_the_quorum_and_its_recount(chat):
    await allow_proxies(chat)
    await chat.say("alice", "/propose Four-day week\n  method: consent\nMonday to Thursday.")
    await chat.say("m3", "/proxy m2\n  for: #2")
    await chat.say("m2", "/vote 2 consent")
    await chat.say("alice", "/close 2")
    assert "Voted by proxy: m3 (with m2)." in chat.last, chat.last
    await _checked(chat)


async def test_ranked_and_approval_proxy_ballots_recount_open_and_secret(chat, clock):
    await allow_proxies(chat, members=5, limit=2)
    await chat.say("m3", "/proxy m2\n  until: 30d")
    n = 1
    for method in ("vote", "ranked", "approval"):
        for ballot in ("open", "secret"):
            n += 1
            options = "" if method == "vote" else "\n  options: Ana | Ben | Cy"
            await chat.say("alice", f"/propose Pick {n}\n  method: {method}\n  ballot: {ballot}{options}")
            await chat.say("m2", f"/vote {n} " + ("Against" if method == "vote" else "Ben Cy"))
            await chat.say("m1", f"/vote {n} " + ("For" if method == "vote" else "Ana"))
    clock.advance(days=8)
    await run_due(chat.gov.stores, clock.now(), chat.gov.before_close)
    for number in range(2, n + 1):
        p = await chat.gov.stores.proposals.get(1, number)
        assert p.status == "closed", number
        assert sum(p.result["counts"]) == 3 or p.result.get("voters") == 3, (number, p.result)
    await _checked(chat)
