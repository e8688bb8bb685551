"""Typed refusals. Each carries the text the user sees; the router turns them into replies."""

from __future__ import annotations


class GovernanceError(Exception):
    """A request the co-op's rules refuse. Nothing was written."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


class BadArguments(GovernanceError):
    """Input that does not parse; the reply shows what was wrong and the usage line."""

    def __init__(self, problem: str, usage: str | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.usage = usage


class NoCoop(GovernanceError):
    """The chat is not bound to a co-op."""


class NotAMember(GovernanceError):
    """The sender is not on the co-op's register."""


class NotAllowed(GovernanceError):
    """The sender lacks the standing (steward, author) this needs."""


class NotFound(GovernanceError):
    """A proposal or member that does not exist in this co-op."""


class ProposalClosed(GovernanceError):
    """The proposal is no longer open for votes or changes."""


class Conflict(GovernanceError):
    """The request clashes with the current state (already a member, name taken, ...)."""

