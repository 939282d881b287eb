"""outbox: topics per aggregate, event type in its own column

Revision ID: 91d28b8170f5
Revises: 4b012d06b8ae
Create Date: 2026-12-01 15:00:00
"""

from collections.abc import Sequence

from alembic import op

from shared.migrations import outbox_topics_per_aggregate

revision: str = '91d28b8170f5'
down_revision: str | None = '4b012d06b8ae'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    outbox_topics_per_aggregate(op)


def downgrade() -> None:
    op.execute("UPDATE outbox SET topic = event_type")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("event_type")
