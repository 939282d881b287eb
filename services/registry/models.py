"""Registry tables: the table base, and every aggregate's models imported so that Alembic's
env.py and ``create_all`` see all of ``RegistryTable.metadata``. Each aggregate's tables
and schemas live in ``services/registry/<aggregate>/models.py``."""

from services.registry.areas import models as areas
from services.registry.cameras import models as cameras
from services.registry.common import RegistryTable
from services.registry.honours import models as honours
from services.registry.imports import models as imports
from services.registry.initiatives import models as initiatives
from services.registry.people import models as people
from services.registry.rosters import models as rosters
from services.registry.summaries import models as summaries
from services.registry.teams import models as teams

__all__ = [
    "RegistryTable",
    "areas",
    "cameras",
    "honours",
    "imports",
    "initiatives",
    "people",
    "rosters",
    "summaries",
    "teams",
]
