"""Alembic environment of the registry service (its own tables only)."""

from services.registry.models import RegistryTable
from shared.migrations import run_environment

run_environment(RegistryTable.metadata)
