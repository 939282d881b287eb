"""e-ID help counts what the police count: level 1 activated, level 2 collected, level 2
activated

The e-ID activity (``eid_assistance``) had two items, ``level_1`` and ``level_2``, so a
ward could not record "thu nhận định danh điện tử mức 2 cho 7.081 trường hợp, hướng dẫn
kích hoạt mức 2 cho 5.845 trường hợp" (Hải Hòa's seed): both are level 2. The items become
``level_1_activated``, ``level_2_collected`` and ``level_2_activated``. Existing records:

- ``level_1`` → ``level_1_activated``: a level 1 account is registered and activated by
  its owner in one go; what was helped is its activation.
- ``level_2`` → ``level_2_collected``: every level 2 account starts with the police
  collecting the application (photo, fingerprints); that is the step a ward counted, and
  the activations are its subset, so no activation is claimed that was not recorded.

Both the activities' measures and the statistics tallies are renamed (a row already under
the new name for the same activity, area and period, unit, is summed into). Events already
published keep the names they were sent with: the log is history.

Revision ID: c3902493652d
Revises: de79e16f6d6a
Create Date: 2026-12-08 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'c3902493652d'
down_revision: str | None = 'de79e16f6d6a'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIVITY_TYPE = 'eid_assistance'
RENAMED = [('level_1', 'level_1_activated'), ('level_2', 'level_2_collected')]

# Per table: the key columns besides ``item``, and which rows are e-ID help.
TABLES = {
    'activitymeasure': (
        ('activity_id', 'unit'),
        "activity_id IN (SELECT id FROM activity WHERE activity_type = :kind)",
    ),
    'measuretally': (
        ('area_id', 'span', 'bucket', 'activity_type', 'unit'),
        "activity_type = :kind",
    ),
}


def rename_item(table: str, old: str, new: str) -> None:
    keys, eid = TABLES[table]
    same = " AND ".join(f"other.{key} = {table}.{key}" for key in keys)
    twin = f"SELECT {{}} FROM {table} other WHERE other.item = {{}} AND {same}"
    params = {'kind': ACTIVITY_TYPE, 'old': old, 'new': new}
    bind = op.get_bind()
    # A row already under the new name takes the old one's quantity; the old one goes.
    bind.execute(
        sa.text(
            f"UPDATE {table} SET quantity_milli = quantity_milli + "
            f"({twin.format('other.quantity_milli', ':old')}) "
            f"WHERE item = :new AND {eid} AND EXISTS ({twin.format('1', ':old')})"
        ),
        params,
    )
    bind.execute(
        sa.text(
            f"DELETE FROM {table} WHERE item = :old AND {eid} "
            f"AND EXISTS ({twin.format('1', ':new')})"
        ),
        params,
    )
    bind.execute(
        sa.text(f"UPDATE {table} SET item = :new WHERE item = :old AND {eid}"), params
    )


def upgrade() -> None:
    for table in TABLES:
        for old, new in RENAMED:
            rename_item(table, old, new)


def downgrade() -> None:
    # level_2_activated has no older name: it stays (the statistics still show it).
    for table in TABLES:
        for old, new in RENAMED:
            rename_item(table, new, old)
