"""The catalogue's route: what reporting accepts, for forms and clients."""

from services.reporting.catalogue.models import CatalogueActivityType, CataloguePublic
from services.reporting.catalogue.rules import Catalogue
from services.reporting.incidents.rules import IncidentSeverity
from shared.auth import Access, ProtectedRouter
from shared.events import IncidentSource
from shared.runtime import ServiceRuntime

ACCESS = {"catalogue": Access.READ}


def public_catalogue(catalogue: Catalogue) -> CataloguePublic:
    groups: dict[str, list[str]] = {}
    for category, group in catalogue.category_groups.items():
        groups.setdefault(group, []).append(category)
    return CataloguePublic(
        category_groups=groups,
        severities=[s.value for s in IncidentSeverity],
        sources=[s.value for s in IncidentSource],
        activity_types=[
            CatalogueActivityType(
                activity_type=kind,
                measures=dict(spec.measures),
                free_items=spec.free_items,
                outcomes=list(spec.outcomes),
                topic=spec.topic,
                incident_link=spec.incident_link,
            )
            for kind, spec in catalogue.activity_types.items()
        ],
        units=list(catalogue.units),
        whole_units=list(catalogue.whole_units),
    )


def create_router(accepted: Catalogue, runtime: ServiceRuntime) -> ProtectedRouter:
    router = runtime.router(ACCESS)

    @router.get("/catalogue", response_model=CataloguePublic, tags=["catalogue"])
    async def catalogue() -> CataloguePublic:
        """Categories by group, severities, sources, activity types with their measures."""
        return public_catalogue(accepted)

    return router
