"""People log in as themselves: the real Keycloak's tokens against the real services. Logins
as the demo users, revocation, logout, rotated keys, every kind of untrustworthy token, and
an issuer that is down when a service starts."""

import base64
import hashlib
import hmac
import json
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from shared.local_kafka import free_port
from shared.login import LoginError, password_token
from shared.settings import PROJECT_ROOT
from tests.integration.conftest import Stack, start_service
from tests.keycloak import DEMO_PASSWORD, KeycloakAdmin, Logins

pytestmark = pytest.mark.integration

LOGIN = (sys.executable, "-m", "services.cli", "login", "--user")


@pytest.fixture(scope="module")
def admin_api(stack: Stack) -> KeycloakAdmin:
    return KeycloakAdmin(stack.keycloak)


@pytest.fixture(scope="module")
def logins(stack: Stack) -> Logins:
    logins = Logins()
    logins.issuer = stack.keycloak.issuer
    return logins


def until(check, within: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "not within the time allowed"
        time.sleep(0.3)


def test_antt_login_gives_a_token_the_services_accept(stack: Stack) -> None:
    login = subprocess.run(
        [*LOGIN, "officer-quangan", "--password-stdin", "--issuer", stack.keycloak.issuer],
        input=f"{DEMO_PASSWORD}\n",
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        timeout=60,
        check=False,
    )
    assert login.returncode == 0, login.stderr
    token = login.stdout.strip()
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["antt_areas"] == ["HN-QA"] and claims["exp"] - claims["iat"] == 300
    response = httpx.get(
        f"{stack.url('registry')}/areas", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200, response.text


def test_a_wrong_password_is_refused_saying_so(stack: Stack) -> None:
    login = subprocess.run(
        [*LOGIN, "auditor", "--password-stdin", "--issuer", stack.keycloak.issuer],
        input="not-the-password\n",
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        timeout=60,
        check=False,
    )
    assert login.returncode == 1 and login.stdout == ""
    assert "Invalid user credentials" in login.stderr


def test_a_disabled_user_gets_no_new_token(stack: Stack, admin_api: KeycloakAdmin) -> None:
    issuer = stack.keycloak.issuer
    assert password_token(issuer, "antt-cli", "officer-quangan", DEMO_PASSWORD)
    admin_api.set_enabled("antt", "officer-quangan", False)
    try:
        with pytest.raises(LoginError, match=r"disabled|Invalid user credentials"):
            password_token(issuer, "antt-cli", "officer-quangan", DEMO_PASSWORD)
    finally:
        admin_api.set_enabled("antt", "officer-quangan", True)
    assert password_token(issuer, "antt-cli", "officer-quangan", DEMO_PASSWORD)


def test_logging_out_ends_the_refresh_token(stack: Stack) -> None:
    endpoint = f"{stack.keycloak.issuer}/protocol/openid-connect"
    tokens = httpx.post(
        f"{endpoint}/token",
        data={
            "grant_type": "password",
            "client_id": "antt-cli",
            "username": "auditor",
            "password": DEMO_PASSWORD,
        },
    ).json()
    refresh = {"client_id": "antt-cli", "refresh_token": tokens["refresh_token"]}
    refreshed = httpx.post(f"{endpoint}/token", data={"grant_type": "refresh_token", **refresh})
    assert refreshed.status_code == 200
    refresh["refresh_token"] = refreshed.json()["refresh_token"]
    assert httpx.post(f"{endpoint}/logout", data=refresh).status_code == 204
    again = httpx.post(f"{endpoint}/token", data={"grant_type": "refresh_token", **refresh})
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_tokens_signed_with_a_rotated_key_are_accepted(
    stack: Stack, admin_api: KeycloakAdmin, logins: Logins
) -> None:
    realm_id = admin_api.call("GET", "/antt").json()["id"]
    admin_api.call(
        "POST",
        "/antt/components",
        {
            "name": f"rotated-{uuid.uuid4().hex[:6]}",
            "providerId": "rsa-generated",
            "providerType": "org.keycloak.keys.KeyProvider",
            "parentId": realm_id,
            "config": {"priority": ["500"], "keySize": ["2048"], "algorithm": ["RS256"]},
        },
    )
    token = password_token(stack.keycloak.issuer, "antt-cli", "auditor", DEMO_PASSWORD)
    kid = jwt.get_unverified_header(token)["kid"]
    published = httpx.get(f"{stack.keycloak.issuer}/protocol/openid-connect/certs").json()
    assert kid in {key["kid"] for key in published["keys"]}

    def accepted() -> bool:  # a refresh of the keys is rate-limited to one per 10 s
        response = httpx.get(
            f"{stack.url('awards')}/awards", headers={"Authorization": f"Bearer {token}"}
        )
        return response.status_code == 200

    until(accepted, within=20)


def forged(stack: Stack) -> dict[str, object]:
    now = int(time.time())
    return {
        "iss": stack.keycloak.issuer,
        "aud": "antt",
        "sub": "forger",
        "preferred_username": "forger",
        "iat": now,
        "exp": now + 300,
        "realm_access": {"roles": ["admin"]},
    }


def unsigned_token(claims: dict[str, object], header: dict[str, str]) -> str:
    def part(value: dict[str, object] | dict[str, str]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part(header)}.{part(claims)}."


def hs256_with(key: bytes, claims: dict[str, object]) -> str:
    head_and_body = unsigned_token(claims, {"alg": "HS256", "typ": "JWT"})[:-1]
    signature = hmac.new(key, head_and_body.encode(), hashlib.sha256).digest()
    return f"{head_and_body}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"


def short_lived_client(admin_api: KeycloakAdmin, audience: str, lifespan: int) -> str:
    client_id = f"test-{uuid.uuid4().hex[:6]}"
    admin_api.call(
        "POST",
        "/antt/clients",
        {
            "clientId": client_id,
            "publicClient": True,
            "directAccessGrantsEnabled": True,
            "standardFlowEnabled": False,
            "attributes": {"access.token.lifespan": str(lifespan)},
            "protocolMappers": [
                {
                    "name": "audience",
                    "protocol": "openid-connect",
                    "protocolMapper": "oidc-audience-mapper",
                    "config": {"included.custom.audience": audience, "access.token.claim": "true"},
                }
            ],
        },
    )
    return client_id


@pytest.fixture(scope="module")
def elsewhere_issuer(admin_api: KeycloakAdmin) -> Iterator[str]:
    """A second realm of the same Keycloak: another issuer with keys of its own."""
    realm = f"elsewhere-{uuid.uuid4().hex[:6]}"
    admin_api.call(
        "POST",
        "",
        {
            "realm": realm,
            "enabled": True,
            "roles": {"realm": [{"name": "admin"}]},
            "clients": [
                {"clientId": "cli", "publicClient": True, "directAccessGrantsEnabled": True}
            ],
            "users": [
                {
                    "username": "intruder",
                    "enabled": True,
                    "email": "intruder@elsewhere.example",
                    "firstName": "In",
                    "lastName": "Truder",
                    "credentials": [{"type": "password", "value": "pw", "temporary": False}],
                    "realmRoles": ["admin"],
                }
            ],
        },
    )
    yield f"{admin_api.keycloak.url}/realms/{realm}"
    admin_api.call("DELETE", f"/{realm}")


def test_untrustworthy_tokens_get_401_saying_why(
    stack: Stack, admin_api: KeycloakAdmin, elsewhere_issuer: str
) -> None:
    issuer = stack.keycloak.issuer
    expiring = short_lived_client(admin_api, "antt", lifespan=1)
    expired = password_token(issuer, expiring, "admin", DEMO_PASSWORD)
    other_audience = password_token(
        issuer, short_lived_client(admin_api, "elsewhere", 300), "admin", DEMO_PASSWORD
    )
    foreign = password_token(elsewhere_issuer, "cli", "intruder", "pw")
    forger_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    unknown_kid = jwt.encode(
        forged(stack), forger_key, algorithm="RS256", headers={"kid": "forged-key"}
    )
    published = httpx.get(f"{issuer}/protocol/openid-connect/certs").json()["keys"]
    public_pem = jwt.PyJWK(next(k for k in published if k["use"] == "sig")).key.public_bytes(
        encoding=Encoding.PEM, format=PublicFormat.SubjectPublicKeyInfo
    )
    cases = {
        "expired": (expired, "token expired"),
        "another issuer": (foreign, "token was issued by another issuer"),
        "another audience": (other_audience, "token is meant for another audience"),
        "unknown kid": (unknown_kid, "token is signed by a key the issuer does not publish"),
        "alg none": (
            unsigned_token(forged(stack), {"alg": "none", "typ": "JWT"}),
            "token algorithm none is not accepted",
        ),
        # ANTT_ENV=test keeps the suite's HS256 key: the public key signs nothing there.
        "HS256 with the public key": (
            hs256_with(public_pem, forged(stack)),
            "token signature does not verify",
        ),
    }
    time.sleep(12)  # the 1 s token outlives the services' 10 s allowance for clock skew
    for case, (token, reason) in cases.items():
        for service in ("registry", "reporting", "awards"):
            response = httpx.get(
                f"{stack.url(service)}/audit", headers={"Authorization": f"Bearer {token}"}
            )
            assert response.status_code == 401, (case, service, response.text)
            message = response.json()["detail"][0]["msg"]
            assert message == reason, (case, service, message)
            assert token not in response.text


class DiscoveryDocument(BaseHTTPRequestHandler):
    """Serves one document, as an issuer's discovery endpoint does."""

    document = b"{}"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(self.document)

    def log_message(self, *_: object) -> None:
        pass


def test_an_issuer_down_at_start_is_retried_until_its_keys_load(
    stack: Stack, logins: Logins, tmp_path: Path
) -> None:
    port = free_port()
    service = start_service(
        "registry",
        stack.kafka,
        tmp_path,
        f"sqlite+aiosqlite:///{tmp_path / 'registry.db'}",
        {
            "ANTT_OIDC_ISSUER": stack.keycloak.issuer,
            # Where it reads the discovery document: nothing answers there yet.
            "ANTT_OIDC_DISCOVERY_URL": f"http://127.0.0.1:{port}/discovery",
        },
    )
    server = None
    try:
        until(lambda: _ready(service.url) == 503, within=60)
        checks = httpx.get(f"{service.url}/ready").json()["checks"]
        assert checks == {"database": True, "broker": True, "identity_provider": False}
        refused = httpx.get(f"{service.url}/areas", headers=logins["admin"])
        assert refused.status_code == 401
        assert "keys are not loaded yet" in refused.json()["detail"][0]["msg"]
        time.sleep(2)  # a few attempts, further and further apart
        DiscoveryDocument.document = httpx.get(
            f"{stack.keycloak.issuer}/.well-known/openid-configuration"
        ).content
        server = ThreadingHTTPServer(("127.0.0.1", port), DiscoveryDocument)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        until(lambda: _ready(service.url) == 200, within=45)
        assert httpx.get(f"{service.url}/areas", headers=logins["admin"]).status_code == 200
        retries = [
            line
            for line in service.log_lines()
            if line.get("event") == "identity_provider_unreachable"
        ]
        assert retries and "retry_in" in retries[0]
    finally:
        if server is not None:
            server.shutdown()
        service.process.terminate()
        service.process.wait(timeout=30)


def _ready(url: str) -> int:
    try:
        return httpx.get(f"{url}/ready", timeout=3).status_code
    except httpx.HTTPError:
        return 0
