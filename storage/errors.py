"""What a store refuses; handlers turn these into the co-op's words."""

from __future__ import annotations


class StoreError(Exception):
    """A write the current state does not allow. The transaction was rolled back."""


class DuplicateEvent(StoreError):
    """The platform delivered this event before and its effect is already stored."""


class AlreadyExists(StoreError):
    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


class ProposalNotOpen(StoreError):
    def __init__(self, status: str) -> None:
        super().__init__(status)
        self.status = status


class VotingEnded(StoreError):
    """The closing time has passed, though the proposal is not closed yet."""


class NotElector(StoreError):
    """The member is not on the proposal's frozen register, or is no longer active."""


class LastSteward(StoreError):
    """Removing this member would leave the co-op with no steward."""


class NoSuchOption(StoreError, ValueError):
    """The vote names an option the proposal does not have."""


class NoCoopHere(StoreError):
    """A tap in a room bound to no co-op."""


class UnknownProposal(StoreError):
    """A tap names a proposal that is not this room's co-op's (forged or stale button data)."""


class NotOnRegister(StoreError):
    """A tap by someone who is not an active member of the room's co-op."""
