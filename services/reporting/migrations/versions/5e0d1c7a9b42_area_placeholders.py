"""known areas may be placeholders: level filled in when the registration arrives

Revision ID: 5e0d1c7a9b42
Revises: 91d28b8170f5
Create Date: 2026-12-01 15:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '5e0d1c7a9b42'
down_revision: str | None = '91d28b8170f5'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LEVEL = sa.Enum(
    'province', 'district', 'ward', 'commune', 'residential_group',
    name='arealevel', native_enum=False, length=32,
)


def upgrade() -> None:
    with op.batch_alter_table('knownarea') as batch:
        batch.alter_column('level', existing_type=LEVEL, nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM knownarea WHERE level IS NULL")
    with op.batch_alter_table('knownarea') as batch:
        batch.alter_column('level', existing_type=LEVEL, nullable=False)
