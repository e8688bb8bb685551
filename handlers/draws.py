"""Draws anyone can replay (SPEC 'Draws anyone can replay'): commitment, key, picks, the replay."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

Person = TypeVar("Person")


def new_secret() -> bytes:
    # The bot's only source of chance: what it draws is decided by this secret and the members' shuffles.
    return secrets.token_bytes(32)


def commitment(secret: bytes) -> str:
    return hashlib.sha256(secret).hexdigest()


def key(secret_hex: str, contributions: Sequence[str]) -> bytes:
    """K = sha256(utf8(secret_hex + "\\n" + "\\n".join(contributions in the order received)))."""
    return hashlib.sha256((secret_hex + "\n" + "\n".join(contributions)).encode("utf-8")).digest()


def value(draw_key: bytes, j: int) -> int:
    """The j-th draw value (j = 1, 2, …): int.from_bytes(sha256(K + j.to_bytes(4, "big")), "big")."""
    return int.from_bytes(hashlib.sha256(draw_key + j.to_bytes(4, "big")).digest(), "big")


@dataclass(frozen=True)
class Picks(Generic[Person]):
    seated: tuple[Person, ...]  # in the order drawn
    skipped: tuple[Person, ...]  # drawn, but their organisation already held a seat
    unfilled: int  # seats left empty because no one was left to draw
    values: int  # draw values used: j ran from 1 to this


def picks(draw_key: bytes, pool: Sequence[Person], seats: int, *,
          organisation: Callable[[Person], Hashable | None] | None = None) -> Picks[Person]:
    """The SPEC's picks; with `organisation`, at most one seat per organisation (None: no limit).

    Pick j = 1, 2, … takes the person at value(K, j) % (people left) of those left, in pool order,
    and removes them. Our reading of "Organisation limits skip a person and take the next draw
    value": a drawn person whose organisation already holds a seat is removed from those left
    without a seat, and the next j is drawn. Removed, because they can no longer be seated in this
    draw; not their whole organisation at the first seat, for then no one would ever be skipped.
    Fewer people than seats: everyone who can be seated is, and `unfilled` counts the rest.
    """
    if seats < 1:
        raise ValueError(f"a draw has at least one seat, not {seats}")
    left, seated, skipped, taken, j = list(pool), [], [], set(), 0
    while left and len(seated) < seats:
        j += 1
        person = left.pop(value(draw_key, j) % len(left))
        held = organisation(person) if organisation else None
        if held is not None and held in taken:
            skipped.append(person)
            continue
        seated.append(person)
        taken.add(held)
    return Picks(tuple(seated), tuple(skipped), seats - len(seated), j)


# The same algorithm in the few lines a member pastes into Python; `draw D<n>` shows it filled in.
REPLAY = '''import hashlib
commitment = {commitment!r}
secret = {secret!r}
contributions = {contributions!r}
pool = {pool!r}
organisations = {organisations}
seats = {seats!r}
assert hashlib.sha256(bytes.fromhex(secret)).hexdigest() == commitment, "the secret is not the one committed to"
K = hashlib.sha256((secret + "\\n" + "\\n".join(contributions)).encode("utf-8")).digest()
left, seated, taken, j = list(range(len(pool))), [], set(), 0
while left and len(seated) < seats:
    j += 1
    i = left.pop(int.from_bytes(hashlib.sha256(K + j.to_bytes(4, "big")).digest(), "big") % len(left))
    if organisations[i] is None or organisations[i] not in taken:  # one seat per organisation
        seated.append(i)
        taken.add(organisations[i])
print("\\n".join(f"{{i + 1}}. {{pool[i]}}" for i in seated))
'''


def replay_snippet(commitment_hex: str, secret_hex: str, contributions: Sequence[str], pool: Sequence[str],
                   seats: int, organisations: Sequence[str | None] | None = None) -> str:
    """Python a member runs to replay a draw from its posted values; it prints `<number>. <name>`."""
    if organisations is not None and len(organisations) != len(pool):
        raise ValueError(f"{len(organisations)} organisations for a pool of {len(pool)}")
    return REPLAY.format(
        commitment=commitment_hex, secret=secret_hex, contributions=list(contributions), pool=list(pool),
        organisations=repr(list(organisations)) if organisations else "[None] * len(pool)", seats=seats,
    )


def replay_problem(announced: dict, drawn: dict) -> str | None:
    """A draw checked from its two records in the minutes (`draw_announced`, `draw_drawn` data):
    the revealed secret must be the one committed to at the announcement, and the pool then
    announced (with each person's organisation, if any), with the shuffles in order, must seat
    exactly who was seated. None if it holds."""
    try:
        secret, commitment_then = drawn["secret"], announced["commitment"]
        if drawn.get("commitment") != commitment_then or commitment(bytes.fromhex(secret)) != commitment_then:
            return "the secret revealed is not the one committed to at the announcement"
        pool = announced["pool"]
        picked = picks(key(secret, list(drawn["contributions"])), list(range(len(pool))), int(announced["seats"]),
                       organisation=lambda i: pool[i].get("org"))
        # By id and name: a draw of things (a mirror shift's formats) has no ids, only names.
        if [(pool[i]["id"], pool[i]["name"]) for i in picked.seated] != [(seat["id"], seat["name"])
                                                                       for seat in drawn["seated"]]:
            return "a replay of the announced pool and the shuffles seats other people"
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        return f"its records cannot be replayed ({type(exc).__name__}: {exc})"
    return None


def shuffled(items: Sequence[Person]) -> list[Person]:
    """`items` in an order no one can foresee or replay: the SPEC's picks of every item, keyed by a
    fresh secret that is never kept (the confessions' order, which must tie no text to its sender)."""
    if not items:
        return []
    return list(picks(hashlib.sha256(new_secret()).digest(), items, len(items)).seated)
