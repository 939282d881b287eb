"""What every registry aggregate's models share: the table base and the field types."""

from datetime import UTC, date, datetime
from typing import Annotated

from pydantic import AfterValidator
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

# Where in a request an error points (FastAPI's ``loc``).
Loc = list[str | int]


class RegistryTable(SQLModel, registry=registry()):
    """Base of the registry's tables: their own metadata, apart from other services'."""


def utcnow() -> datetime:
    return datetime.now(UTC)


def not_in_future(value: date) -> date:
    if value > date.today():
        raise ValueError("cannot be in the future")
    return value


PastDate = Annotated[date, AfterValidator(not_in_future)]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Reason = Annotated[str, Field(min_length=1, max_length=1000)]
