"""A count waits for every platform's votes (issue 13, item 8): in the README's "one process per
platform" setup the Telegram process does not count a proposal before the Matrix process has
brought in the Matrix votes made up to the closing time; a platform that cannot be reached holds
the count for at most the grace, and the result then says so."""

from __future__ import annotations

import re
from datetime import timedelta

from handlers.events import VoteCast
from handlers.router import Governance
from handlers.types import UserRef
from tests.conftest import Chat
from tests.test_link import link

STEWARD, MEMBER = "10", "11"  # Telegram ids
ALICE, BOB = "@alice:hs.test", "@bob:hs.test"  # Matrix ids: alice is the steward's linked account
MATRIX_ROOM = "!bakery:hs.test"


class Processes:
    """Two bot processes on one database: one serves Telegram, the other Matrix. The Matrix
    process's last look brings in what `poll` holds: poll responses its sync has not delivered."""

    def __init__(self, stores, clock) -> None:
        self.clock = clock
        self.poll: list[VoteCast] = []
        self.reachable = True
        self.telegram = Governance(stores, clock, bot_names=("coopbot",), before_close={"telegram": None})
        self.matrix = Governance(stores, clock, bot_names=("coopbot",), before_close={"matrix": self._look})
        self.group = Chat(self.telegram, "telegram", "-100")
        self.room = Chat(self.matrix, "matrix", MATRIX_ROOM)

    async def _look(self, proposal_id: int) -> None:
        if not self.reachable:
            raise ConnectionError("502 Bad Gateway")
        while self.poll:
            await self.matrix.handle_vote(self.poll.pop())

    async def start(self) -> None:
        """A co-op founded in the Telegram group, its steward linked to a Matrix account that
        binds the Matrix room, one member on each platform."""
        assert "set up" in await self.group.say(STEWARD, "/setup Red Bakery")
        assert "admitted" in await self.group.say(STEWARD, f"/admit {MEMBER}")
        assert "Linked" in await link(self.telegram, ("telegram", STEWARD), ("matrix", ALICE))
        code = re.search(r"Room code: (\S+)", await self.group.say(STEWARD, "/roomcode")).group(1)
        assert "bound to Red Bakery" in await self.room.say(ALICE, f"/bind {code}")
        await self.room.say(BOB, "/join")
        assert "admitted" in await self.room.say(ALICE, f"/admit {BOB}")

    def poll_response(self, proposal_id: int, option: int, made_at) -> None:
        self.poll.append(VoteCast(self.room.chat, UserRef("matrix", BOB, "bob"), proposal_id, option,
                                  f"$poll-{len(self.poll)}", made_at=made_at))

    async def tick(self, process: Governance) -> None:
        """One run of that process's clock."""
        from schedules.due import run_due

        await run_due(process.stores, self.clock.now(), process.before_close)


async def test_the_telegram_process_waits_for_the_matrix_votes(gov, clock):
    """The Telegram process reaches the closing time first: it does not count. The Matrix process
    then brings in a poll response made a minute before the deadline, and the count holds it."""
    two = Processes(gov.stores, clock)
    await two.start()
    await two.group.say(STEWARD, "/propose Van\ncloses: 1h")
    p = (await gov.stores.proposals.list(1))[0]
    assert "Recorded: For" in await two.group.say(MEMBER, "/vote 1 for")
    clock.advance(minutes=59)
    two.poll_response(p.id, 1, clock.now())  # Against, made before the deadline, not yet synced
    clock.advance(minutes=1, seconds=1)
    await two.tick(two.telegram)
    assert (await gov.stores.proposals.get_by_id(p.id)).status == "open"
    assert not [t for t in await two.group.drain() if t.startswith("Result")]
    await two.tick(two.matrix)
    closed = await gov.stores.proposals.get_by_id(p.id)
    assert closed.status == "closed" and closed.result["counts"] == [1, 1, 0]
    result = [t for t in await two.group.drain() if t.startswith("Result of #1 Van")]
    assert len(result) == 1 and "For 1 · Against 1" in result[0]
    assert "last look" not in result[0] and "Closed late" not in result[0]


async def test_a_platform_unreachable_for_the_grace_is_counted_without_and_the_result_says_so(gov, clock):
    """The homeserver is down: the Matrix process's last look fails at every tick. The count waits
    ten minutes, then goes ahead; the result names Matrix as not looked at."""
    two = Processes(gov.stores, clock)
    await two.start()
    await two.group.say(STEWARD, "/propose Van\ncloses: 1h")
    p = (await gov.stores.proposals.list(1))[0]
    await two.group.say(MEMBER, "/vote 1 for")
    two.reachable = False
    clock.advance(hours=1, seconds=1)
    for _ in range(9):
        await two.tick(two.matrix)
        await two.tick(two.telegram)
        assert (await gov.stores.proposals.get_by_id(p.id)).status == "open"
        clock.advance(minutes=1)
    clock.advance(minutes=1)
    await two.tick(two.telegram)
    closed = await gov.stores.proposals.get_by_id(p.id)
    assert closed.status == "closed" and closed.result["counts"] == [1, 0, 0]
    assert closed.result["unchecked"] == ["matrix"]
    result = [t for t in await two.group.drain() if t.startswith("Result of #1 Van")]
    assert len(result) == 1 and "Counted without a last look at Matrix" in result[0]
    assert "not in this count" in result[0]
    # Shown again later, the result still says it.
    assert "Counted without a last look at Matrix" in await two.group.say(MEMBER, "/show 1")


async def test_a_process_down_at_the_deadline_is_waited_for(gov, clock):
    """Only the Telegram process runs at the closing time (the Matrix one is being restarted): the
    count waits; the Matrix process comes back within the grace and its look completes it."""
    two = Processes(gov.stores, clock)
    await two.start()
    await two.group.say(STEWARD, "/propose Van\ncloses: 1h")
    p = (await gov.stores.proposals.list(1))[0]
    clock.advance(minutes=30)
    two.poll_response(p.id, 0, clock.now())
    clock.advance(minutes=31)
    for _ in range(5):
        await two.tick(two.telegram)
        clock.advance(minutes=1)
    assert (await gov.stores.proposals.get_by_id(p.id)).status == "open"
    await two.tick(two.matrix)
    closed = await gov.stores.proposals.get_by_id(p.id)
    assert closed.status == "closed" and closed.result["counts"] == [1, 0, 0]
    assert "unchecked" not in closed.result


async def test_a_stewards_close_waits_for_the_other_platform_and_ends_voting_now(gov, clock):
    """A steward closes early from Telegram while the Matrix process has not looked: voting ends
    at once (a later vote is refused), the steward is told the count follows, and the result,
    once Matrix's votes are in, is the steward's close with the reason."""
    two = Processes(gov.stores, clock)
    await two.start()
    await two.group.say(STEWARD, "/propose Van\ncloses: 48h")
    p = (await gov.stores.proposals.list(1))[0]
    two.poll_response(p.id, 0, clock.now())
    clock.advance(seconds=5)
    answer = await two.group.say(STEWARD, "/close 1 settled at the meeting")
    assert "Voting on #1 has ended" in answer and "Matrix" in answer
    assert (await gov.stores.proposals.get_by_id(p.id)).status == "open"
    clock.advance(seconds=5)
    assert "the result is being counted" in await two.group.say(MEMBER, "/vote 1 against")
    await two.tick(two.matrix)
    closed = await gov.stores.proposals.get_by_id(p.id)
    assert closed.status == "closed" and closed.result["counts"] == [1, 0, 0]
    result = [t for t in await two.group.drain() if t.startswith("Result of #1 Van")]
    assert len(result) == 1 and "settled at the meeting" in result[0]
    assert (closed.ended_by, closed.end_reason) == (1, "settled at the meeting")


async def test_one_process_serving_every_platform_counts_at_once(gov, clock):
    """The usual setup, one process for both platforms: the last looks happen inside the count, so
    nothing waits, and a steward's close is immediate."""
    two = Processes(gov.stores, clock)
    both = Governance(gov.stores, clock, bot_names=("coopbot",),
                      before_close={**two.telegram.before_close, **two.matrix.before_close})
    await two.start()
    await two.group.say(STEWARD, "/propose Van\ncloses: 1h")
    await two.group.say(STEWARD, "/propose Bus\ncloses: 1h")
    first, second = await gov.stores.proposals.list(1)
    two.poll_response(first.id, 0, clock.now())
    assert await Chat(both, "telegram", "-100").say(STEWARD, "/close 2 no need") == ""
    clock.advance(hours=1, seconds=1)
    await two.tick(both)
    assert [p.status for p in await gov.stores.proposals.list(1)] == ["closed", "closed"]
    assert (await gov.stores.proposals.get_by_id(first.id)).result["counts"] == [1, 0, 0]


async def test_once_voting_has_ended_the_author_cannot_withdraw_while_the_count_waits(gov, clock):
    """A steward's close waits for Matrix, or the deadline passed and the count waits: the votes
    are the co-op's now. The author's withdrawal is refused; the result is published."""
    two = Processes(gov.stores, clock)
    await two.start()
    await two.group.say(MEMBER, "/propose Van\ncloses: 48h")
    await two.group.say(MEMBER, "/propose Bus\ncloses: 1h")
    await two.group.say(STEWARD, "/vote 1 against")
    assert "Voting on #1 has ended" in await two.group.say(STEWARD, "/close 1 decided at the meeting")
    assert "being counted" in await two.group.say(MEMBER, "/withdraw 1 never mind")
    clock.advance(hours=1, minutes=2)
    await two.tick(two.telegram)  # #2 waits for Matrix
    assert "being counted" in await two.group.say(MEMBER, "/withdraw 2 losing")
    await two.tick(two.matrix)
    assert [p.status for p in await gov.stores.proposals.list(1)] == ["closed", "closed"]
    assert (await gov.stores.proposals.get(1, 1)).result["counts"] == [0, 1, 0]


async def test_a_stewards_close_after_the_deadline_never_moves_it_later(gov, clock):
    """#1's time came at T; at T+5m the count still waits for Matrix and a steward sends /close.
    The deadline stays T: a poll response made at T+3m is refused, and the result is the clock's
    close, not an early one."""
    two = Processes(gov.stores, clock)
    await two.start()
    await two.group.say(MEMBER, "/propose Van\ncloses: 1h")
    p = await gov.stores.proposals.get(1, 1)
    clock.advance(hours=1, seconds=1)
    await two.tick(two.telegram)
    clock.advance(minutes=3)
    two.poll_response(p.id, 1, clock.now())  # made after the deadline
    clock.advance(minutes=2)
    assert "being counted" in await two.group.say(STEWARD, "/close 1 too late")
    assert (await gov.stores.proposals.get(1, 1)).closes_at == p.closes_at
    await two.tick(two.matrix)
    closed = await gov.stores.proposals.get(1, 1)
    assert closed.status == "closed" and closed.result["counts"] == [0, 0, 0]
    assert closed.ended_by is None


async def test_a_failed_early_close_does_not_use_up_the_grace(gov, clock, monkeypatch):
    """A steward's /close fails (a database hiccup). At the real deadline two days later, the count
    still waits for Matrix and counts the poll response made before it."""
    two = Processes(gov.stores, clock)
    await two.start()
    await two.group.say(MEMBER, "/propose Van\ncloses: 48h")
    p = await gov.stores.proposals.get(1, 1)

    async def hiccup(*args, **kwargs):
        raise ConnectionError("database restarted")

    monkeypatch.setattr(gov.stores.proposals, "end_voting", hiccup)
    await two.group.say(STEWARD, "/close 1 x")
    monkeypatch.undo()
    assert (await gov.stores.proposals.get(1, 1)).counting_since is None
    clock.advance(hours=47)
    two.poll_response(p.id, 0, clock.now())
    clock.advance(hours=1, seconds=1)
    await two.tick(two.telegram)
    assert (await gov.stores.proposals.get(1, 1)).status == "open"  # waits for Matrix
    await two.tick(two.matrix)
    closed = await gov.stores.proposals.get(1, 1)
    assert closed.result["counts"] == [1, 0, 0] and "unchecked" not in closed.result


async def test_a_telegram_process_alone_counts_a_telegram_only_coop_at_once(gov, clock):
    """Telegram's votes reach the database as they are made: a co-op with only a Telegram group is
    counted at its deadline by the Telegram process, without waiting for anyone."""
    telegram = Governance(gov.stores, clock, bot_names=("coopbot",), before_close={"telegram": None})
    group = Chat(telegram, "telegram", "-100")
    await group.say(STEWARD, "/setup Red Bakery")
    await group.say(STEWARD, "/propose Van\ncloses: 1h")
    clock.advance(hours=1, seconds=1)
    from schedules.due import run_due

    await run_due(gov.stores, clock.now(), telegram.before_close)
    closed = (await gov.stores.proposals.list(1))[0]
    assert closed.status == "closed" and "unchecked" not in closed.result
