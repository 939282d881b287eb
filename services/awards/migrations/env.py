"""Alembic environment of the awards service (its own tables only)."""

from services.awards.models import AwardsTable
from shared.migrations import run_environment

run_environment(AwardsTable.metadata)
