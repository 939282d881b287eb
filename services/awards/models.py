"""The awards tables' base and metadata, with every aggregate's tables imported into it (so
that Alembic's env.py and create_all see them all)."""

from services.awards.awards import models as awards
from services.awards.certifications import models as certifications
from services.awards.common import AwardsTable
from services.awards.nominations import models as nominations
from services.awards.replicas import models as replicas
from services.awards.scores import models as scores
from services.awards.suggestions import models as suggestions
from shared.idempotency import idempotency_table

# Idempotency-Key answers of the create routes (shared/idempotency.py), kept beside the
# records they created.
idempotency_table(AwardsTable.metadata)

__all__ = [
    "AwardsTable",
    "awards",
    "certifications",
    "nominations",
    "replicas",
    "scores",
    "suggestions",
]
