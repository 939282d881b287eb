"""Alembic environment of the reporting service (its own tables only)."""

from services.reporting.models import ReportingTable
from shared.migrations import run_environment

run_environment(ReportingTable.metadata)
