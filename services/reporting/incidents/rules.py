"""Incident rules: its severity classes, the lifecycle's allowed moves, and what a
duplicate link may do."""

from enum import StrEnum
from uuid import UUID

from shared.errors import ConflictError, RuleViolationError
from shared.events import IncidentStatus


class IncidentSeverity(StrEnum):
    """How grave an incident is, in the Penal Code's four classes (Điều 9 BLHS 2015) for
    crimes, and ``minor`` for what is not a crime (administrative violations, disputes)."""

    MINOR = "minor"
    LESS_SERIOUS = "less_serious"  # ít nghiêm trọng
    SERIOUS = "serious"  # nghiêm trọng
    VERY_SERIOUS = "very_serious"  # rất nghiêm trọng
    ESPECIALLY_SERIOUS = "especially_serious"  # đặc biệt nghiêm trọng


# reported → verified → resolved | mediated | referred | dismissed; a report that proves
# false may be dismissed before verification. The four outcomes are final.
ALLOWED_TRANSITIONS: dict[IncidentStatus, tuple[IncidentStatus, ...]] = {
    IncidentStatus.REPORTED: (IncidentStatus.VERIFIED, IncidentStatus.DISMISSED),
    IncidentStatus.VERIFIED: (
        IncidentStatus.RESOLVED,
        IncidentStatus.MEDIATED,
        IncidentStatus.REFERRED,
        IncidentStatus.DISMISSED,
    ),
    IncidentStatus.RESOLVED: (),
    IncidentStatus.MEDIATED: (),
    IncidentStatus.REFERRED: (),
    IncidentStatus.DISMISSED: (),
}


def check_status_change(
    incident_id: UUID,
    current: IncidentStatus,
    target: IncidentStatus,
    duplicate_of: UUID | None,
) -> None:
    """A status change is a move the lifecycle allows, on an incident that is not linked
    as a duplicate (its original's status is the one that changes)."""
    if duplicate_of is not None:
        raise ConflictError(
            f"incident {incident_id} is linked as a duplicate of "
            f"{duplicate_of}; change the status of that one",
            ["path", "incident_id"],
        )
    allowed = ALLOWED_TRANSITIONS[current]
    if target not in allowed:
        rule = f"allowed: {', '.join(allowed)}" if allowed else f"{current} is final"
        raise ConflictError(
            f"cannot move an incident from {current} to {target}; {rule}",
            ["body", "status"],
        )


def check_may_become_duplicate(
    incident_id: UUID, duplicate_of: UUID | None, original_id: UUID
) -> None:
    """An incident is linked once, and never to itself."""
    if duplicate_of is not None:
        raise ConflictError(
            f"incident {incident_id} is already linked as a duplicate of {duplicate_of}",
            ["path", "incident_id"],
        )
    if original_id == incident_id:
        raise RuleViolationError("an incident cannot repeat itself", ["body", "duplicate_of"])


def check_original(original_id: UUID, original_duplicate_of: UUID | None) -> None:
    """Links point at an original, never at another duplicate (no chains)."""
    if original_duplicate_of is not None:
        raise RuleViolationError(
            f"incident {original_id} is itself a duplicate of {original_duplicate_of}: "
            "link to that one",
            ["body", "duplicate_of"],
        )


def check_has_no_duplicates(incident_id: UUID, repeated: bool) -> None:
    """An incident that others repeat stays an original (no chains)."""
    if repeated:
        raise ConflictError(
            f"other incidents are linked as duplicates of {incident_id}; "
            "it cannot become a duplicate itself",
            ["path", "incident_id"],
        )
