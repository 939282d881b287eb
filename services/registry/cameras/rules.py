"""Camera rules: the funding comes from the catalogue; a removal follows the installation."""

from collections.abc import Collection
from datetime import date
from enum import StrEnum

from shared.errors import ConflictError, RuleViolationError, UnknownReferenceError


class CameraStatus(StrEnum):
    INSTALLED = "installed"
    REMOVED = "removed"


def check_funding(funding: str, catalogue: Collection[str]) -> None:
    if funding not in catalogue:
        raise UnknownReferenceError(
            f"unknown funding {funding!r}; one of {', '.join(catalogue)}", ["body", "funding"]
        )


def check_removal(
    status: CameraStatus, removed_on: date | None, installed_on: date, removing_on: date
) -> None:
    if status is CameraStatus.REMOVED:
        raise ConflictError(f"camera was already removed on {removed_on}", ["path", "camera_id"])
    if removing_on < installed_on:
        raise RuleViolationError(
            f"removed_on is before the installation ({installed_on})", ["body", "removed_on"]
        )
