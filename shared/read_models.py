"""Read models: a service's local copy of another service's aggregates, kept from events.

Kafka keeps one aggregate's events in order, but not the order between aggregates: a team
can arrive before its area, a credit before its team. Every read model answers that the
same way, with the two functions here:

- a reference to an aggregate not seen yet is kept, and the referenced row is held as a
  *placeholder* (version 0) with whatever the referring event knows (``hold_reference``);
- the aggregate's own event fills the row in when it arrives, since any real version is
  newer than 0 (``apply_if_newer``); facts only the first event carries (an area's level)
  are filled in whatever the version (``fills``).

Nothing is dead-lettered for arriving early, and a stale event (a redelivery, an older
version) changes nothing.
"""

from dataclasses import dataclass
from typing import Any, TypeGuard, TypeVar

from sqlmodel.ext.asyncio.session import AsyncSession

PLACEHOLDER_VERSION = 0
Row = TypeVar("Row")


async def apply_if_newer(
    session: AsyncSession,
    model: Any,
    key: Any,
    version: int,
    values: dict[str, Any],
    fills: dict[str, Any] | None = None,
) -> bool:
    """Store ``values`` as version ``version`` of row ``key``, unless the row already holds
    that version or a newer one; ``fills`` are set where the row still lacks them (None),
    whatever the version. True if ``values`` were stored."""
    row = await session.get(model, key)
    if row is None:
        session.add(model(id=key, version=version, **(fills or {}), **values))
        return True
    missing = {name: value for name, value in (fills or {}).items() if getattr(row, name) is None}
    newer = row.version < version
    if newer:
        missing.update(values, version=version)
    if missing:
        row.sqlmodel_update(missing)
        session.add(row)
    return newer


async def hold_reference(session: AsyncSession, model: Any, key: Any, **known: Any) -> Any:
    """The row ``key`` of ``model``; if its aggregate's events have not arrived yet, a
    placeholder holding ``known``, which those events fill in when they come."""
    row = await session.get(model, key)
    if row is None:
        row = model(id=key, version=PLACEHOLDER_VERSION, **known)
        session.add(row)
    return row


def is_known(row: Row | None) -> TypeGuard[Row]:
    """True once the aggregate's own events have been applied (not only referred to)."""
    return row is not None and getattr(row, "version", 0) > PLACEHOLDER_VERSION


@dataclass(frozen=True)
class ParentChange:
    old_parent: Any
    first: bool  # the node hung unattached until now (a placeholder, or just registered)


async def set_parent_if_newer(
    session: AsyncSession, model: Any, key: Any, parent_id: Any, version: int
) -> ParentChange | None:
    """A tree node's parent keeps its own version (``parent_version``): a registration
    and a later move both set it, and an older one never undoes a newer. The change, or
    None when the row holds that version or a newer one."""
    row = await session.get(model, key)
    if row is None or version <= row.parent_version:
        return None
    change = ParentChange(old_parent=row.parent_id, first=row.parent_version == 0)
    row.parent_id = parent_id
    row.parent_version = version
    session.add(row)
    return change
