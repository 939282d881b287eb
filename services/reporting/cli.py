"""Reporting's ``antt`` command: ``antt reseal-informants``, run on reporting's database
(``ANTT_DATABASE_URL``). ``services/cli.py`` adds it to ``antt``."""

import asyncio

from shared.commands import console


def reseal_informants() -> None:
    """Re-encrypt every informant record with the newest of ANTT_INFORMANT_KEYS (rotation)."""
    # The app is built only when the command runs: `antt --help` stays quick.
    from services.reporting.app import create_app

    service = create_app().state.service
    count = asyncio.run(service.reseal_informants())
    console.print(f"re-encrypted the informant details of {count} tip(s) with the newest key")
