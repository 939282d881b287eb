import pytest


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
async def database_url(request, tmp_path):
    """Every database test runs on the embedded default and on the compose database (marked
    ``postgresql``: ``make unit`` leaves that half to ``make test``)."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'service.db'}"
    return await request.getfixturevalue("postgres").create_database()
