"""Ranked choice (instant runoff, STV) and approval voting, through the core as a chat on SQLite
and PostgreSQL: typed rankings and sets, taps that append and toggle, the published tie-break
draw, the rounds, secrecy, the export."""

from __future__ import annotations

from tests.conftest import make_coop


async def test_smoke(chat, clock):
    await make_coop(chat, 4)
    await chat.say("alice", "/propose Stewards\n  method: ranked\n  seats: 2\n  options: Ana | Ben | Cy | Dee")
    print(chat.announced[-2:])
    print(await chat.say("m1", "/vote 1 Ben Ana"))
    print(await chat.say("m2", "/vote 1 2 1 3"))
    print(await chat.say("m3", "/vote 1 Ben | Cy"))
    print(await chat.say("m3", "/vote 1 Ben | Ben"))
    print(await chat.say("m3", "/vote 1 Ben | Zed"))
    print(await chat.say("m3", "/vote 1 Ben"))
    print(await chat.say("m4", "/show 1"))
    clock.advance(hours=1)
    print(await chat.say("alice", "/close 1"))
    print(chat.announced[-3:])
