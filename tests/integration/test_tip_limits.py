"""Reporting's per-client tip limit behind the console: the resident's address counts when
a trusted peer (ANTT_FORWARDED_ALLOW_IPS) forwards it, and a header from anyone else is
ignored, so no client can pick its own bucket."""

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from shared.local_kafka import LocalKafka
from tests.integration.conftest import start_service, wait_ready

pytestmark = pytest.mark.integration


def tip() -> dict[str, object]:
    # An area reporting has not heard of: counted by the limit, then refused (409/422).
    return {
        "area_id": str(uuid.uuid4()),
        "category": "theft",
        "summary": "Nghi trộm cắp",
        "occurred_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
    }


def sent_from(url: str, address: str) -> int:
    response = httpx.post(f"{url}/tips", json=tip(), headers={"X-Forwarded-For": address})
    return response.status_code


@pytest.mark.parametrize("trusted", [True, False], ids=["console-trusted", "nobody-trusted"])
def test_a_residents_address_counts_only_from_a_trusted_peer(
    kafka: LocalKafka, tmp_path: Path, trusted: bool
) -> None:
    settings = {"ANTT_TIPS_PER_CLIENT_PER_MINUTE": "2"}
    if trusted:
        settings["ANTT_FORWARDED_ALLOW_IPS"] = "127.0.0.1"
    reporting = start_service(
        "reporting", kafka, tmp_path, f"sqlite+aiosqlite:///{tmp_path}/reporting.db", settings
    )
    try:
        wait_ready(reporting)
        first = [sent_from(reporting.url, "203.0.113.7") for _ in range(3)]
        assert first[:2] != [429, 429] and first[2] == 429, first
        other = sent_from(reporting.url, "203.0.113.8")
        # Trusted: another resident has a bucket of their own. Not trusted: the header is
        # ignored, and every request came from 127.0.0.1, whose bucket is full.
        assert (other != 429) if trusted else (other == 429), other
    finally:
        reporting.process.terminate()
        reporting.process.wait(timeout=30)
