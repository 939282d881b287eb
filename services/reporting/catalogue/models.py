"""The catalogue's schemas: an activity type as configured, and the catalogue as shown."""

from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints
from pydantic import Field as PydanticField
from sqlmodel import Field, SQLModel

from services.reporting.catalogue.rules import CATALOGUE_NAME

CatalogueName = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=CATALOGUE_NAME)
]


class ActivityTypeSpec(BaseModel):
    """One activity type of the configurable catalogue (``ANTT_ACTIVITY_TYPES``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    measures: dict[str, str] = PydanticField(
        default_factory=dict, description="Fixed items and their units"
    )
    free_items: bool = PydanticField(
        default=False, description="Any item name, with a unit from ANTT_ACTIVITY_UNITS"
    )
    outcomes: list[str] = PydanticField(
        default_factory=list, description="If any, every record names one of them"
    )
    topic: bool = PydanticField(default=False, description="Takes a free-text topic")
    incident_link: bool = PydanticField(default=False, description="May name an incident")


class CatalogueActivityType(SQLModel):
    activity_type: str
    measures: dict[str, str] = Field(description="Fixed items and their units")
    free_items: bool
    outcomes: list[str]
    topic: bool
    incident_link: bool


class CataloguePublic(SQLModel):
    category_groups: dict[str, list[str]]
    severities: list[str]
    sources: list[str]
    activity_types: list[CatalogueActivityType]
    units: list[str]
    whole_units: list[str]
