"""Reading a caller from an issuer's claims, which verifier a token goes to, and the settings
that choose them. Keycloak's own tokens are verified in tests/integration/test_keycloak.py."""

import asyncio

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from shared.auth import AuthError, ConfigurationError, Principal, Role, TokenCodec, TokenVerifier
from shared.oidc import ClaimMapping, IssuerKeys, OidcVerifier, claim_at, token_verifier
from shared.settings import ROLE_NAMES, ServiceSettings
from tests.support import TEST_SIGNING_KEY

MAPPING = ClaimMapping()
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ISSUER = "http://127.0.0.1:1/realms/antt"  # nothing listens: these tests never fetch keys


def claims(**extra: object) -> dict[str, object]:
    return {"preferred_username": "officer-haihoa", "sub": "id-1", **extra}


def test_role_names_in_settings_are_the_roles() -> None:
    assert {role.value for role in Role} == ROLE_NAMES


def test_an_officer_reads_with_the_areas_of_the_token() -> None:
    principal = MAPPING.principal(
        claims(realm_access={"roles": ["officer", "offline_access"]}, antt_areas=["QN-HH"])
    )
    assert principal == Principal(subject="officer-haihoa", role=Role.OFFICER, areas=("QN-HH",))


def test_the_subject_falls_back_to_sub() -> None:
    principal = MAPPING.principal({"sub": "id-9", "realm_access": {"roles": ["auditor"]}})
    assert principal.subject == "id-9" and principal.everywhere


@pytest.mark.parametrize(
    ("token_claims", "reason"),
    [
        ({"realm_access": {"roles": ["admin"]}}, "no subject"),
        (claims(realm_access={"roles": ["offline_access"]}), "no ANTT role"),
        (claims(), "no ANTT role"),
        (claims(realm_access={"roles": ["admin", "officer"]}, antt_areas=["X"]), "several"),
        (claims(realm_access={"roles": ["officer"]}), "must list their areas in antt_areas"),
        (claims(realm_access={"roles": ["officer"]}, antt_areas=[3]), "list of area codes"),
    ],
)
def test_claims_that_name_no_single_role_or_no_areas_are_refused(
    token_claims: dict[str, object], reason: str
) -> None:
    with pytest.raises(AuthError, match=reason):
        MAPPING.principal(token_claims)


def test_a_configured_mapping_reads_other_role_names_and_claims() -> None:
    mapping = ClaimMapping(
        roles_claim="groups",
        areas_claim="wards",
        role_names={"ward-police": Role.OFFICER},
    )
    principal = mapping.principal(claims(groups=["ward-police"], wards="QN-HH, HN-QA"))
    assert principal.role is Role.OFFICER and principal.areas == ("QN-HH", "HN-QA")


@given(st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=5), max_size=4))
def test_a_claim_path_missing_anywhere_reads_as_none(document: dict[str, object]) -> None:
    assert claim_at(document, "realm_access.roles") is None or "realm_access" in document


@given(st.lists(st.sampled_from(sorted(ROLE_NAMES)), min_size=1, max_size=5))
def test_a_token_acts_in_its_one_role_or_is_refused(names: list[str]) -> None:
    token_claims = claims(realm_access={"roles": names}, antt_areas=["QN-HH"])
    if len(set(names)) == 1:
        assert MAPPING.principal(token_claims).role == Role(names[0])
    else:
        with pytest.raises(AuthError, match="several ANTT roles"):
            MAPPING.principal(token_claims)


def settings(**values: object) -> ServiceSettings:
    return ServiceSettings.model_validate(values)


def test_production_refuses_hs256_keys_and_needs_an_issuer() -> None:
    with pytest.raises(ConfigurationError, match="ANTT_OIDC_ISSUER is required"):
        token_verifier(settings(env="production"))
    with pytest.raises(ConfigurationError, match="unset ANTT_JWT_SECRET"):
        token_verifier(settings(env="prod", oidc_issuer=ISSUER, jwt_secret=TEST_SIGNING_KEY))
    verifier, keys = token_verifier(settings(env="prod", oidc_issuer=ISSUER))
    assert verifier.development is None and keys is not None and not keys.loaded


def test_development_and_tests_keep_the_hs256_key() -> None:
    verifier, keys = token_verifier(settings(env="test", jwt_secret=TEST_SIGNING_KEY))
    assert verifier.development is not None and verifier.issuer is None and keys is None
    verifier, _ = token_verifier(
        settings(env="test", jwt_secret=TEST_SIGNING_KEY, oidc_issuer=ISSUER)
    )
    assert verifier.development is not None and verifier.issuer is not None
    with pytest.raises(ConfigurationError):
        token_verifier(settings(env="test"))


@pytest.mark.parametrize("algorithms", [["HS256"], ["none"], ["RS256", "HS512"]])
def test_symmetric_or_no_algorithm_cannot_verify_an_issuer(algorithms: list[str]) -> None:
    with pytest.raises(ValidationError, match="cannot verify an issuer's tokens"):
        settings(oidc_algorithms=algorithms)


def test_a_role_mapping_to_no_role_is_refused() -> None:
    with pytest.raises(ValidationError, match="superuser is not a role here"):
        settings(oidc_role_names={"chief": "superuser"})


def verify(verifier: TokenVerifier, token: str) -> Principal:
    return asyncio.run(verifier.decode(token))


def issuer_only() -> TokenVerifier:
    keys = IssuerKeys(ISSUER, ["RS256", "ES256"])
    return TokenVerifier(OidcVerifier(keys, "antt", MAPPING), development=None)


def test_without_the_development_key_hs256_is_refused_by_name() -> None:
    token = TokenCodec(TEST_SIGNING_KEY).issue("x", Role.ADMIN)
    with pytest.raises(AuthError, match="token algorithm HS256 is not accepted"):
        verify(issuer_only(), token)


def test_an_unsigned_token_is_refused_by_name() -> None:
    token = jwt.encode({"sub": "x", "iss": ISSUER}, key=None, algorithm="none")
    with pytest.raises(AuthError, match="token algorithm none is not accepted"):
        verify(issuer_only(), token)


def test_another_issuers_token_is_refused_before_any_key_is_sought() -> None:
    token = jwt.encode(
        {"sub": "x", "iss": "http://elsewhere/realms/x"},
        RSA_KEY,
        algorithm="RS256",
        headers={"kid": "k1"},
    )
    with pytest.raises(AuthError, match="token was issued by another issuer"):
        verify(issuer_only(), token)


def test_before_the_keys_load_a_token_is_refused_saying_so() -> None:
    token = jwt.encode({"sub": "x", "iss": ISSUER}, RSA_KEY, algorithm="RS256")
    with pytest.raises(AuthError, match="keys are not loaded yet"):
        verify(issuer_only(), token)


def test_garbage_is_malformed() -> None:
    with pytest.raises(AuthError, match="malformed"):
        verify(issuer_only(), "not.a.token")
