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


class LastSteward(StoreError):
    """Removing this member would leave the co-op with no steward."""


class RemindedLately(StoreError):
    """The proposal's non-voters were reminded less than the allowed interval ago (`at`)."""

    def __init__(self, at) -> None:
        super().__init__(at)
        self.at = at


class AlreadyVoted(StoreError):
    """A proposal someone has voted on cannot be revised."""

    def __init__(self, number: int) -> None:
        super().__init__(number)
        self.number = number


class NotAffiliated(StoreError):
    """The organisation is not (or no longer) affiliated with the co-op."""


class HasAllies(StoreError):
    """The organisation has allies already (only they add more)."""


class RegisterChanged(StoreError):
    """The register entry is not what the command was decided on (another command changed it
    first): its status and organisation now, for the reply."""

    def __init__(self, status: str, org_id: int | None) -> None:
        super().__init__(status)
        self.status = status
        self.org_id = org_id


class SeatedAuditor(StoreError):
    """The ally sits as an auditor of an audit not yet closed (its number)."""

    def __init__(self, number: int) -> None:
        super().__init__(number)
        self.number = number
