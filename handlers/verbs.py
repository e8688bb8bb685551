"""Verb declarations: a verb is one `@verb(...)` and one function; usage and help come from it."""

from __future__ import annotations

import difflib
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING

from handlers import texts
from storage.models import Proposal

if TYPE_CHECKING:
    from handlers.context import Context
    from handlers.types import Reply


class Standing(Enum):
    """Who may use a verb. The router checks it, in this order of strictness, before the verb runs."""

    ANYONE = "anyone"  # no co-op needed (help, setup, link, ...)
    IN_COOP = "in a co-op"  # anyone, in a room (or direct chat) that belongs to a co-op
    MEMBER = "member"  # an active member of the co-op
    MEMBER_OR_ALLY = "member or ally"  # an active member, or an ally of an affiliated organisation
    STEWARD = "steward"  # an active steward
    AUTHOR = "author"  # an active member who wrote the proposal the verb names


class Where(Enum):
    ANY = "any"
    ROOM = "room"  # a group room, not a direct chat
    DIRECT = "direct"  # a direct chat with the bot, so what it shows stays the sender's


@dataclass(frozen=True)
class Call:
    """What the router hands a verb: its own declaration and the input it checked."""

    verb: Verb
    args: str  # the rest of the first line (after the proposal number, for verbs that take one)
    lines: tuple[str, ...]  # the lines after the first, as typed
    settings: dict[str, str] = field(default_factory=dict)  # its declared `key: value` lines
    body: str = ""  # the other lines, for verbs that take a body
    proposal: Proposal | None = None  # the proposal named by `<#>`, for verbs that take one


Run = Callable[["Context", Call], Awaitable[list["Reply"]]]


@dataclass(frozen=True)
class Verb:
    name: str
    run: Run
    who: Standing
    summary: str  # one line, for `help` and Telegram's command menu
    args: str = ""  # what follows the verb on the first line, as shown in the usage
    keys: dict[str, str] = field(default_factory=dict)  # `key: value` lines it accepts -> what to write
    body: str | None = None  # what other lines are, if it takes them (e.g. "the proposal's text")
    proposal: bool = False  # the first word of the arguments is a proposal number, `#3` or `3`
    where: Where = Where.ANY
    hidden: bool = False  # works, but not listed (platform conventions such as Telegram's /start)
    # Its text is the sender's secret (a confession): the command's message is erased where the
    # platform allows, whatever the answer, and log lines never hold it (bot/logs.py).
    erase: bool = False
    # Its answer is all it says: nothing announced, nothing for the room (it reads, or changes only
    # the sender's own settings). In a direct chat it speaks the sender's own language; a verb that
    # may announce speaks the co-op's, so the room is never told anything in one member's language.
    alone: bool = False

    @property
    def takes_lines(self) -> bool:
        """Whether lines after the first mean anything to it: settings or a body."""
        return bool(self.keys) or self.body is not None

    def usage(self, prefix: str = "/") -> str:
        return texts.usage(self.name, self.args, self.keys, self.body, prefix)


class VerbTable:
    """The verbs the router knows, in the order `help` lists them."""

    def __init__(self, verbs: dict[str, Verb] | None = None) -> None:
        self._verbs: dict[str, Verb] = dict(verbs or {})

    def verb(self, name: str, *, who: Standing, summary: str, args: str = "", keys: dict[str, str] | None = None,
             body: str | None = None, proposal: bool = False, where: Where = Where.ANY,
             hidden: bool = False, erase: bool = False, alone: bool = False) -> Callable[[Run], Run]:
        """Declare the function below as verb `name` (maubot's `@command.new`, with its arguments)."""

        def declare(run: Run) -> Run:
            if name in self._verbs:
                raise ValueError(f"verb {name!r} is declared twice")
            self._verbs[name] = Verb(name, run, who, summary, args, dict(keys or {}), body, proposal, where, hidden,
                                     erase, alone)
            return run

        return declare

    def get(self, name: str) -> Verb | None:
        return self._verbs.get(name)

    def listed(self) -> Iterator[Verb]:
        return (v for v in self._verbs.values() if not v.hidden)

    def guess(self, name: str) -> str | None:
        """The listed verb a mistyped one most likely meant."""
        found = difflib.get_close_matches(name, [v.name for v in self.listed()], n=1, cutoff=0.6)
        return found[0] if found else None

    def copy(self) -> VerbTable:
        return VerbTable(self._verbs)


# Every verb of the bot; modules declare theirs with `@verb(...)` when the router imports them.
VERBS = VerbTable()
verb = VERBS.verb
