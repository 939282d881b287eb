"""Who a nomination may name and where the recipient belongs."""

from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

from shared.errors import RuleViolationError
from shared.events import RecipientKind


class RecipientSource(StrEnum):
    """What ``recipient_id`` points at."""

    PERSON = "person"  # a registry person (individual)
    TEAM = "team"  # a registry team (collective)
    AREA = "area"  # a ward, commune or residential group (collective)
    NAMED = "named"  # no registry record: named in recipient_name, placed by area_id


@dataclass(frozen=True)
class Recipient:
    source: RecipientSource
    id: UUID
    name: str
    area_id: UUID


def check_named_recipient(
    kind: RecipientKind, recipient_name: str | None, area_id: UUID | None
) -> tuple[str, UUID]:
    """A recipient without a registry id is named, and placed in an area, by the request."""
    if recipient_name is None:
        raise RuleViolationError(
            "a recipient without a registry id is named in recipient_name",
            ["body", "recipient_name"],
        )
    if area_id is None:
        raise RuleViolationError(
            f"a recipient without a registry id ({kind}) names its area in area_id",
            ["body", "area_id"],
        )
    return recipient_name, area_id


def as_nominated(found: Recipient, recipient_name: str | None, area_id: UUID | None) -> Recipient:
    """A registry recipient as the request names it: its own area (area_id, if given, must
    be that one) and the registry's name unless the request gives another."""
    if area_id is not None and area_id != found.area_id:
        raise RuleViolationError(
            "area_id must be left out or be the recipient's own area",
            ["body", "area_id"],
        )
    return Recipient(found.source, found.id, recipient_name or found.name, found.area_id)
