"""Read models: a service's local copy of another service's aggregates, kept from events."""

from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession


async def apply_if_newer(
    session: AsyncSession, model: Any, key: Any, version: int, values: dict[str, Any]
) -> bool:
    """Store ``values`` as version ``version`` of row ``key``, unless the row already holds
    that version or a newer one (events may come again, or out of order); True if stored."""
    row = await session.get(model, key)
    if row is not None and row.version >= version:
        return False
    if row is None:
        row = model(id=key, version=version, **values)
    else:
        row.sqlmodel_update({**values, "version": version})
    session.add(row)
    return True
