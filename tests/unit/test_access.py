"""Access control and informant privacy, unit level: tokens, start-up refusals, the access
table, tip-offs, abuse limits and key rotation."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.fernet import Fernet
from fastapi import FastAPI
from sqlmodel import select

from services.registry.app import Settings as RegistrySettings
from services.registry.app import create_app as create_registry
from services.reporting.app import Settings as ReportingSettings
from services.reporting.app import create_app as create_reporting
from services.reporting.models import TipOff
from services.reporting.tips.service import InformantVault
from shared.auth import (
    Access,
    Authenticator,
    AuthError,
    ConfigurationError,
    ProtectedRouter,
    Role,
    TokenCodec,
    TokenVerifier,
)
from tests.support import (
    TEST_INFORMANT_KEY,
    TEST_SIGNING_KEY,
    announce_area,
    bearer,
    running_app,
    unit_settings,
)

CODEC = TokenCodec(TEST_SIGNING_KEY)


def test_token_round_trip_keeps_role_and_areas():
    principal = CODEC.decode(CODEC.issue("officer-1", Role.OFFICER, ["HN-QA", "HN-TH"]))
    assert (principal.subject, principal.role, principal.areas) == (
        "officer-1",
        Role.OFFICER,
        ("HN-QA", "HN-TH"),
    )
    assert not principal.everywhere and principal.may(Access.WRITE)
    assert not principal.may(Access.INFORMANT) and not principal.may(Access.AUDIT)


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (CODEC.issue("x", Role.ADMIN, ttl_seconds=-5), "expired"),
        (TokenCodec("some-other-key-that-is-long-enough-xx").issue("x", Role.ADMIN), "signature"),
        (TokenCodec(TEST_SIGNING_KEY, issuer="else").issue("x", Role.ADMIN), "another system"),
        ("a.b.c", "malformed"),
        ("", "malformed"),
    ],
)
def test_untrustworthy_tokens_say_why(token, reason):
    with pytest.raises(AuthError, match=reason):
        CODEC.decode(token)


def test_scoped_roles_need_areas():
    with pytest.raises(ValueError, match="at least one area"):
        CODEC.issue("x", Role.TIP_HANDLER, [])


@pytest.mark.parametrize(
    ("env", "needed"), [("prod", "ANTT_OIDC_ISSUER is required"), ("test", "ANTT_JWT_SECRET")]
)
def test_service_refuses_to_start_without_a_way_to_verify_tokens(env, needed, tmp_path):
    settings = RegistrySettings(env=env, database_url=f"sqlite+aiosqlite:///{tmp_path}/r.db")
    with pytest.raises(ConfigurationError, match=needed):
        create_registry(settings)


def test_production_refuses_a_signing_key(tmp_path):
    settings = RegistrySettings(
        env="prod",
        jwt_secret=TEST_SIGNING_KEY,
        oidc_issuer="http://127.0.0.1:1/realms/antt",
        database_url=f"sqlite+aiosqlite:///{tmp_path}/r.db",
    )
    with pytest.raises(ConfigurationError, match="unset ANTT_JWT_SECRET"):
        create_registry(settings)


def test_short_signing_key_is_refused(tmp_path):
    settings = RegistrySettings(
        env="test", jwt_secret="short", database_url=f"sqlite+aiosqlite:///{tmp_path}/r.db"
    )
    with pytest.raises(ConfigurationError, match="32 bytes"):
        create_registry(settings)


def test_signing_key_from_file(tmp_path):
    key_file = tmp_path / "jwt.key"
    key_file.write_text(TEST_SIGNING_KEY + "\n")
    app = create_registry(
        RegistrySettings(
            env="test",
            jwt_secret_file=key_file,
            database_url=f"sqlite+aiosqlite:///{tmp_path}/r.db",
        )
    )
    assert isinstance(app, FastAPI)


def test_reporting_refuses_to_start_without_informant_keys(tmp_path):
    settings = ReportingSettings(
        env="prod",
        oidc_issuer="http://127.0.0.1:1/realms/antt",
        database_url=f"sqlite+aiosqlite:///{tmp_path}/r.db",
    )
    with pytest.raises(ConfigurationError, match="ANTT_INFORMANT_KEYS"):
        create_reporting(settings)


def test_a_route_without_an_access_rule_cannot_be_added():
    router = ProtectedRouter({"listed": Access.READ}, Authenticator(TokenVerifier(None, CODEC)))

    with pytest.raises(RuntimeError, match="unlisted"):

        @router.get("/x")
        async def unlisted() -> None:
            return None


@pytest.mark.parametrize(
    "create, settings_cls",
    [(create_registry, RegistrySettings), (create_reporting, ReportingSettings)],
)
def test_every_route_shows_its_access_rule_in_openapi(create, settings_cls, tmp_path):
    app = create(unit_settings(settings_cls, f"sqlite+aiosqlite:///{tmp_path}/db"))
    document = app.openapi()
    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert operation["x-access"] in {a.value for a in Access}, (path, method)
            if operation["x-access"] != "public":
                assert "401" in operation["responses"] and "403" in operation["responses"]


AREA_ID = uuid.uuid4()


@pytest.fixture
async def reporting(database_url):
    app = create_reporting(
        unit_settings(ReportingSettings, database_url, tips_per_client_per_minute=3)
    )
    async with running_app(app, headers={}) as (client, runtime):
        await announce_area(runtime.broker, AREA_ID, "TH-HH", "Phường Hải Hòa")
        yield client, runtime


def tip(**informant):
    return {
        "area_id": str(AREA_ID),
        "category": "drugs",
        "summary": "Nghi có người bán ma túy",
        "occurred_at": (datetime.now(UTC) - timedelta(hours=5)).isoformat(),
        **({"informant": informant} if informant else {}),
    }


async def test_tip_receipt_lets_the_informant_follow_and_nobody_else(reporting):
    client, _ = reporting
    receipt = (await client.post("/tips", json=tip(full_name="Nguyễn Văn An"))).json()
    assert receipt["tip_number"].startswith("T-") and len(receipt["secret"]) >= 16
    ok = await client.get(
        f"/tips/{receipt['tip_number']}", headers={"X-Tip-Secret": receipt["secret"]}
    )
    assert ok.status_code == 200 and ok.json()["status"] == "reported"
    wrong = await client.get(
        f"/tips/{receipt['tip_number']}", headers={"X-Tip-Secret": "not-the-secret"}
    )
    unknown = await client.get("/tips/T-AAAA-AAAA", headers={"X-Tip-Secret": receipt["secret"]})
    assert wrong.status_code == unknown.status_code == 404
    assert wrong.json() == unknown.json()  # no way to tell a wrong secret from a wrong number


async def test_informant_details_are_encrypted_at_rest(reporting):
    client, runtime = reporting
    await client.post("/tips", json=tip(full_name="Trần Thị Bích", contact="0912345678"))
    async with runtime.sessions() as session:
        stored = (await session.exec(select(TipOff))).one()
    assert "Bích" not in (stored.informant_name or "")
    assert "0912345678" not in (stored.informant_contact or "")
    assert stored.informant_name and stored.informant_name.startswith("gAAAA")


async def test_anonymous_tip_has_no_informant_details(reporting):
    client, _ = reporting
    response = await client.post("/tips", json=tip())
    assert response.status_code == 201
    incident_id = (
        await client.get("/audit", headers=bearer(Role.ADMIN), params={"action": "submit_tip"})
    ).json()[0]["object_id"]
    path = f"/incidents/{incident_id}/informant"
    informant = await client.get(path, headers=bearer(Role.TIP_HANDLER, "TH-HH"))
    assert informant.json()["anonymous"] is True and informant.json()["full_name"] is None
    assert (await client.get(path, headers=bearer(Role.ADMIN))).status_code == 403


async def test_validation_errors_never_echo_what_was_sent(reporting):
    client, _ = reporting
    secret_name = "Lê Văn Bí Mật " * 30  # too long
    response = await client.post("/tips", json=tip(full_name=secret_name))
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "informant", "full_name"]
    assert "Bí Mật" not in response.text


async def test_tips_are_rate_limited_per_client_with_retry_after(reporting):
    client, _ = reporting
    statuses = [(await client.post("/tips", json=tip())).status_code for _ in range(4)]
    assert statuses == [201, 201, 201, 429]
    refused = await client.post("/tips", json=tip())
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1


async def test_oversized_and_malformed_bodies_are_4xx(reporting):
    client, _ = reporting
    huge = await client.post(
        "/tips",
        content=b'{"summary": "' + b"x" * 2_000_000 + b'"}',
        headers={"content-type": "application/json"},
    )
    assert huge.status_code == 413
    broken = await client.post(
        "/tips", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert broken.status_code == 422


async def test_informant_keys_can_be_rotated(database_url):
    app = create_reporting(unit_settings(ReportingSettings, database_url))
    service = app.state.service.tips
    async with running_app(app) as (client, runtime):
        await announce_area(runtime.broker, AREA_ID, "TH-HH", "Phường Hải Hòa")
        await client.post("/tips", json=tip(full_name="Phạm Văn Cường", contact="0987000111"))
        new_key = Fernet.generate_key().decode()
        service.vault = InformantVault([new_key, TEST_INFORMANT_KEY])
        assert await service.reseal_informants() == 1
        service.vault = InformantVault([new_key])  # the old key is gone: still readable
        incident_id = (await client.get("/audit", params={"action": "submit_tip"})).json()[0][
            "object_id"
        ]
        informant = await client.get(
            f"/incidents/{incident_id}/informant", headers=bearer(Role.TIP_HANDLER, "TH-HH")
        )
        assert informant.json()["full_name"] == "Phạm Văn Cường"


async def test_nul_characters_are_refused_alike_on_every_database(database_url):
    app = create_registry(unit_settings(RegistrySettings, database_url))
    async with running_app(app) as (client, _):
        body = await client.post("/areas", json={"code": "N", "name": "a\u0000b", "level": "ward"})
        query = await client.get("/audit", params={"subject": "a\u0000b"})
        fine = await client.post("/areas", json={"code": "N", "name": "Phường", "level": "ward"})
    assert body.status_code == 422 and body.json()["detail"][0]["loc"] == ["body"]
    assert query.status_code == 422 and query.json()["detail"][0]["loc"] == ["query"]
    assert fine.status_code == 201  # the refused one wrote nothing: the code is still free
