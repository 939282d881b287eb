"""Registry HTTP routes: thin, every change goes through the service layer."""

from typing import Annotated
from uuid import UUID

from fastapi import Query, Request

from services.registry.importer import TeamImporter
from services.registry.models import (
    AreaCreate,
    AreaMove,
    AreaPublic,
    AreaSummary,
    AreaUpdate,
    CameraCreate,
    CameraPublic,
    CameraRemove,
    CameraStatus,
    ImportReport,
    InitiativeCreate,
    InitiativeProfile,
    InitiativePublic,
    InitiativeRelaunch,
    InitiativeResultIn,
    InitiativeStatus,
    InitiativeStop,
    MemberIn,
    MemberLeave,
    MemberPublic,
    PersonCreate,
    PersonProfile,
    PersonPublic,
    RosterChange,
    TeamCreate,
    TeamDissolve,
    TeamKindPublic,
    TeamListItem,
    TeamPublic,
    TeamStatus,
    TeamUpdate,
)
from services.registry.service import RegistryService, TeamFilter
from shared.auth import Access, CurrentPrincipal, ProtectedRouter
from shared.errors import RuleViolationError, error_responses
from shared.events import AreaLevel
from shared.runtime import LimitQuery, OffsetQuery, ServiceRuntime

ERRORS = error_responses(404, 409)
WRITE_ERRORS = error_responses(403, 404, 409)

WithinQuery = Annotated[
    UUID | None, Query(alias="area_id", description="This area and everything below it")
]
TextQuery = Annotated[str | None, Query(min_length=1, max_length=100, description="Contains")]

ACCESS = {
    "list_team_kinds": Access.READ,
    "register_area": Access.WRITE,
    "list_areas": Access.READ,
    "get_area": Access.READ,
    "update_area": Access.WRITE,
    "move_area": Access.WRITE,
    "list_descendants": Access.READ,
    "area_summary": Access.READ,
    "register_person": Access.WRITE,
    "list_people": Access.READ,
    "get_person": Access.READ,
    "register_team": Access.WRITE,
    "list_teams": Access.READ,
    "get_team": Access.READ,
    "update_team": Access.WRITE,
    "dissolve_team": Access.WRITE,
    "team_members": Access.READ,
    "add_member": Access.WRITE,
    "remove_member": Access.WRITE,
    "change_roster": Access.WRITE,
    "launch_initiative": Access.WRITE,
    "list_initiatives": Access.READ,
    "get_initiative": Access.READ,
    "record_initiative_result": Access.WRITE,
    "stop_initiative": Access.WRITE,
    "relaunch_initiative": Access.WRITE,
    "install_camera": Access.WRITE,
    "list_cameras": Access.READ,
    "get_camera": Access.READ,
    "remove_camera": Access.WRITE,
    "import_teams": Access.WRITE,
}


def create_router(service: RegistryService, runtime: ServiceRuntime) -> ProtectedRouter:
    router = runtime.router(ACCESS)
    importer = TeamImporter(service)

    @router.get("/team-kinds", response_model=list[TeamKindPublic], tags=["teams"])
    async def list_team_kinds(principal: CurrentPrincipal) -> list[TeamKindPublic]:
        """The catalogue of team kinds, with their Vietnamese and English names."""
        return service.kinds()

    # --- areas ------------------------------------------------------------------------

    @router.post(
        "/areas", response_model=AreaPublic, tags=["areas"], status_code=201, responses=WRITE_ERRORS
    )
    async def register_area(body: AreaCreate, principal: CurrentPrincipal) -> AreaPublic:
        """Register a province, district, ward/commune or residential group."""
        return await service.register_area(body, principal)

    @router.get("/areas", response_model=list[AreaPublic], tags=["areas"], responses=ERRORS)
    async def list_areas(
        principal: CurrentPrincipal,
        within: WithinQuery = None,
        level: AreaLevel | None = None,
        q: TextQuery = None,
        offset: OffsetQuery = 0,
        limit: LimitQuery = 50,
    ) -> list[AreaPublic]:
        """Areas the caller may see, by code; filter by subtree, level or text."""
        return await service.list_areas(principal, within, level, q, offset, limit)

    @router.get("/areas/{area_id}", response_model=AreaPublic, tags=["areas"], responses=ERRORS)
    async def get_area(area_id: UUID, principal: CurrentPrincipal) -> AreaPublic:
        """One area."""
        return await service.get_area(area_id, principal)

    @router.patch(
        "/areas/{area_id}", response_model=AreaPublic, tags=["areas"], responses=WRITE_ERRORS
    )
    async def update_area(
        area_id: UUID, body: AreaUpdate, principal: CurrentPrincipal
    ) -> AreaPublic:
        """Rename an area or record its households; publishes area_updated."""
        return await service.update_area(area_id, body, principal)

    @router.post(
        "/areas/{area_id}/move", response_model=AreaPublic, tags=["areas"], responses=WRITE_ERRORS
    )
    async def move_area(area_id: UUID, body: AreaMove, principal: CurrentPrincipal) -> AreaPublic:
        """Move an area and its subtree under another parent; publishes area_moved."""
        return await service.move_area(area_id, body, principal)

    @router.get(
        "/areas/{area_id}/descendants",
        response_model=list[AreaPublic],
        tags=["areas"],
        responses=ERRORS,
    )
    async def list_descendants(
        area_id: UUID,
        principal: CurrentPrincipal,
        level: AreaLevel | None = None,
        offset: OffsetQuery = 0,
        limit: LimitQuery = 50,
    ) -> list[AreaPublic]:
        """Every area below this one (the area itself included), by code."""
        return await service.list_areas(principal, area_id, level, None, offset, limit)

    @router.get(
        "/areas/{area_id}/summary", response_model=AreaSummary, tags=["areas"], responses=ERRORS
    )
    async def area_summary(area_id: UUID, principal: CurrentPrincipal) -> AreaSummary:
        """Teams by kind, distinct members, cameras and running initiatives of the area and
        everything below it, from counters kept with every change."""
        return await service.area_summary(area_id, principal)

    # --- people -----------------------------------------------------------------------

    @router.post(
        "/people",
        response_model=PersonPublic,
        tags=["people"],
        status_code=201,
        responses=WRITE_ERRORS,
    )
    async def register_person(body: PersonCreate, principal: CurrentPrincipal) -> PersonPublic:
        """Register a person, to add to one or more teams by id."""
        return await service.register_person(body, principal)

    @router.get("/people", response_model=list[PersonPublic], tags=["people"], responses=ERRORS)
    async def list_people(
        principal: CurrentPrincipal,
        within: WithinQuery = None,
        q: TextQuery = None,
        offset: OffsetQuery = 0,
        limit: LimitQuery = 50,
    ) -> list[PersonPublic]:
        """People of the caller's areas, by name."""
        return await service.list_people(principal, within, q, offset, limit)

    @router.get(
        "/people/{person_id}", response_model=PersonProfile, tags=["people"], responses=ERRORS
    )
    async def get_person(person_id: UUID, principal: CurrentPrincipal) -> PersonProfile:
        """A person with every membership, current and past, and their honours."""
        return await service.get_person(person_id, principal)

    # --- teams ------------------------------------------------------------------------

    @router.post(
        "/teams", response_model=TeamPublic, tags=["teams"], status_code=201, responses=WRITE_ERRORS
    )
    async def register_team(body: TeamCreate, principal: CurrentPrincipal) -> TeamPublic:
        """Register a team with its leader, deputies and members, checked against the
        team rules of its province and kind."""
        return await service.register_team(body, principal)

    @router.get("/teams", response_model=list[TeamListItem], tags=["teams"], responses=ERRORS)
    async def list_teams(
        principal: CurrentPrincipal,
        within: WithinQuery = None,
        kind: str | None = None,
        team_status: Annotated[TeamStatus | None, Query(alias="status")] = None,
        q: TextQuery = None,
        offset: OffsetQuery = 0,
        limit: LimitQuery = 50,
    ) -> list[TeamListItem]:
        """Teams by name; filter by subtree, kind, status (active, dissolved) or text."""
        where = TeamFilter(within=within, kind=kind, status=team_status, q=q)
        return await service.list_teams(principal, where, offset, limit)

    @router.get("/teams/{team_id}", response_model=TeamPublic, tags=["teams"], responses=ERRORS)
    async def get_team(team_id: UUID, principal: CurrentPrincipal) -> TeamPublic:
        """A team with its current members and the honours it received."""
        return await service.get_team(team_id, principal)

    @router.patch(
        "/teams/{team_id}", response_model=TeamPublic, tags=["teams"], responses=WRITE_ERRORS
    )
    async def update_team(
        team_id: UUID, body: TeamUpdate, principal: CurrentPrincipal
    ) -> TeamPublic:
        """Change a team's name, kind, covered groups or founding decision."""
        return await service.update_team(team_id, body, principal)

    @router.post(
        "/teams/{team_id}/dissolve",
        response_model=TeamPublic,
        tags=["teams"],
        responses=WRITE_ERRORS,
    )
    async def dissolve_team(
        team_id: UUID, body: TeamDissolve, principal: CurrentPrincipal
    ) -> TeamPublic:
        """Dissolve a team: its members leave, it stays in history."""
        return await service.dissolve_team(team_id, body, principal)

    @router.get(
        "/teams/{team_id}/members",
        response_model=list[MemberPublic],
        tags=["teams"],
        responses=ERRORS,
    )
    async def team_members(
        team_id: UUID,
        principal: CurrentPrincipal,
        offset: OffsetQuery = 0,
        limit: LimitQuery = 50,
    ) -> list[MemberPublic]:
        """The team's full membership history, current and past, by joining date."""
        return await service.team_history(team_id, principal, offset, limit)

    @router.post(
        "/teams/{team_id}/members",
        response_model=TeamPublic,
        tags=["teams"],
        status_code=201,
        responses=WRITE_ERRORS,
    )
    async def add_member(team_id: UUID, body: MemberIn, principal: CurrentPrincipal) -> TeamPublic:
        """Add one member (an existing person by id, or a new one by name)."""
        return await service.add_member(team_id, body, principal)

    @router.post(
        "/teams/{team_id}/members/{person_id}/leave",
        response_model=TeamPublic,
        tags=["teams"],
        responses=WRITE_ERRORS,
    )
    async def remove_member(
        team_id: UUID, person_id: UUID, body: MemberLeave, principal: CurrentPrincipal
    ) -> TeamPublic:
        """A member leaves the team."""
        return await service.remove_member(team_id, person_id, body, principal)

    @router.post(
        "/teams/{team_id}/roster", response_model=TeamPublic, tags=["teams"], responses=WRITE_ERRORS
    )
    async def change_roster(
        team_id: UUID, body: RosterChange, principal: CurrentPrincipal
    ) -> TeamPublic:
        """Joins, leaves and role changes applied together, e.g. a new leader replacing the
        old; the rules are checked on the result."""
        return await service.change_roster(team_id, body, principal)

    # --- initiatives ------------------------------------------------------------------

    @router.post(
        "/initiatives",
        response_model=InitiativeProfile,
        tags=["initiatives"],
        status_code=201,
        responses=WRITE_ERRORS,
    )
    async def launch_initiative(
        body: InitiativeCreate, principal: CurrentPrincipal
    ) -> InitiativeProfile:
        """Launch an initiative (mô hình) in an area; publishes initiative_launched."""
        return await service.launch_initiative(body, principal)

    @router.get(
        "/initiatives",
        response_model=list[InitiativePublic],
        tags=["initiatives"],
        responses=ERRORS,
    )
    async def list_initiatives(
        principal: CurrentPrincipal,
        within: WithinQuery = None,
        initiative_status: Annotated[InitiativeStatus | None, Query(alias="status")] = None,
        offset: OffsetQuery = 0,
        limit: LimitQuery = 50,
    ) -> list[InitiativePublic]:
        """Initiatives by name; filter by subtree and status (running, stopped)."""
        return await service.list_initiatives(principal, within, initiative_status, offset, limit)

    @router.get(
        "/initiatives/{initiative_id}",
        response_model=InitiativeProfile,
        tags=["initiatives"],
        responses=ERRORS,
    )
    async def get_initiative(initiative_id: UUID, principal: CurrentPrincipal) -> InitiativeProfile:
        """An initiative with its runs and recorded results."""
        return await service.get_initiative(initiative_id, principal)

    @router.post(
        "/initiatives/{initiative_id}/results",
        response_model=InitiativeProfile,
        tags=["initiatives"],
        status_code=201,
        responses=WRITE_ERRORS,
    )
    async def record_initiative_result(
        initiative_id: UUID, body: InitiativeResultIn, principal: CurrentPrincipal
    ) -> InitiativeProfile:
        """Record what an initiative achieved by a date."""
        return await service.record_initiative_result(initiative_id, body, principal)

    @router.post(
        "/initiatives/{initiative_id}/stop",
        response_model=InitiativeProfile,
        tags=["initiatives"],
        responses=WRITE_ERRORS,
    )
    async def stop_initiative(
        initiative_id: UUID, body: InitiativeStop, principal: CurrentPrincipal
    ) -> InitiativeProfile:
        """Stop an initiative with the reason (e.g. it proved a formality)."""
        return await service.stop_initiative(initiative_id, body, principal)

    @router.post(
        "/initiatives/{initiative_id}/relaunch",
        response_model=InitiativeProfile,
        tags=["initiatives"],
        responses=WRITE_ERRORS,
    )
    async def relaunch_initiative(
        initiative_id: UUID, body: InitiativeRelaunch, principal: CurrentPrincipal
    ) -> InitiativeProfile:
        """Launch a stopped initiative again; publishes initiative_launched."""
        return await service.relaunch_initiative(initiative_id, body, principal)

    # --- cameras ----------------------------------------------------------------------

    @router.post(
        "/cameras",
        response_model=CameraPublic,
        tags=["cameras"],
        status_code=201,
        responses=WRITE_ERRORS,
    )
    async def install_camera(body: CameraCreate, principal: CurrentPrincipal) -> CameraPublic:
        """Record a community camera installed in an area, with who funded it."""
        return await service.install_camera(body, principal)

    @router.get("/cameras", response_model=list[CameraPublic], tags=["cameras"], responses=ERRORS)
    async def list_cameras(
        principal: CurrentPrincipal,
        within: WithinQuery = None,
        camera_status: Annotated[CameraStatus | None, Query(alias="status")] = None,
        offset: OffsetQuery = 0,
        limit: LimitQuery = 50,
    ) -> list[CameraPublic]:
        """Cameras by installation date; filter by subtree and status."""
        return await service.list_cameras(principal, within, camera_status, offset, limit)

    @router.get(
        "/cameras/{camera_id}", response_model=CameraPublic, tags=["cameras"], responses=ERRORS
    )
    async def get_camera(camera_id: UUID, principal: CurrentPrincipal) -> CameraPublic:
        """One camera."""
        return await service.get_camera(camera_id, principal)

    @router.post(
        "/cameras/{camera_id}/remove",
        response_model=CameraPublic,
        tags=["cameras"],
        responses=WRITE_ERRORS,
    )
    async def remove_camera(
        camera_id: UUID, body: CameraRemove, principal: CurrentPrincipal
    ) -> CameraPublic:
        """Record a camera taken down."""
        return await service.remove_camera(camera_id, body, principal)

    # --- bulk import ------------------------------------------------------------------

    @router.post(
        "/imports/teams",
        response_model=ImportReport,
        tags=["teams"],
        responses=error_responses(403, 422),
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"text/csv": {"schema": {"type": "string"}}},
            }
        },
    )
    async def import_teams(
        request: Request,
        principal: CurrentPrincipal,
        skip_invalid: bool = False,
    ) -> ImportReport:
        """Import teams and members from a CSV file (see the README for the columns). With
        any invalid row nothing is imported and the answer is 422 with every error, unless
        ``skip_invalid``; then the valid teams are imported and the rest reported."""
        data = await request.body()
        if not data:
            raise RuleViolationError("send the CSV file as the request body", ["body"])
        report = await importer.run(data, principal, skip_invalid=skip_invalid)
        if report.errors and not skip_invalid:
            raise ImportRejected(report)
        return report

    return router


class ImportRejected(RuleViolationError):
    """Nothing was imported: the answer lists every invalid row."""

    def __init__(self, report: ImportReport) -> None:
        super().__init__(f"{len(report.errors)} invalid row(s); nothing was imported", ["body"])
        self.report = report

    def detail(self) -> list[dict[str, object]]:
        return [
            {
                "loc": ["body", "row", error.row, error.field],
                "msg": error.message,
                "type": "invalid_row",
            }
            for error in self.report.errors
        ]
