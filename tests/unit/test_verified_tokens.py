"""A verified token is remembered for a while, within its own validity: a client's every
request is not verified anew, yet an expired token, a token not valid yet and a token whose
key the issuer withdrew are still refused."""

import asyncio
import time
from collections.abc import Mapping
from typing import Any

import jwt
import pytest

import shared.auth
from shared.auth import AuthError, Principal, Role, TokenCodec, TokenVerifier
from tests.support import TEST_SIGNING_KEY


class CountingCodec(TokenCodec):
    """The development codec, counting the tokens it verifies."""

    verified = 0

    def decode(self, token: str) -> Principal:
        self.verified += 1
        return super().decode(token)


class WithdrawableIssuer:
    """An issuer's verifier (HS512 here, to keep the test small) whose key can be withdrawn."""

    algorithms = ("HS512",)
    key = TEST_SIGNING_KEY + "-issuer-only-test-key-of-64-bytes-or-more-for-hs512"

    def __init__(self) -> None:
        self.withdrawn = False

    def issue(self, **claims: Any) -> str:
        now = int(time.time())
        return jwt.encode({"sub": "x", "iat": now, "exp": now + 3600, **claims}, self.key, "HS512")

    async def decode(self, token: str, header: Mapping[str, Any]) -> Principal:
        if self.withdrawn:
            raise AuthError("token is signed by a key the issuer does not publish")
        claims = jwt.decode(token, self.key, algorithms=["HS512"])
        return Principal(subject=claims["sub"], role=Role.AUDITOR, areas=())


def verify(verifier: TokenVerifier, token: str) -> Principal:
    return asyncio.run(verifier.decode(token))


def test_a_token_is_verified_once_then_remembered_and_another_token_on_its_own() -> None:
    codec = CountingCodec(TEST_SIGNING_KEY)
    verifier = TokenVerifier(None, codec)
    officer = codec.issue("officer-haihoa", Role.OFFICER, ["QN-HH"])
    assert verify(verifier, officer) == verify(verifier, officer)
    assert codec.verified == 1
    auditor = codec.issue("auditor", Role.AUDITOR)
    assert verify(verifier, auditor).role is Role.AUDITOR
    assert verify(verifier, officer).areas == ("QN-HH",)
    assert codec.verified == 2


def test_a_remembered_token_still_expires() -> None:
    codec = CountingCodec(TEST_SIGNING_KEY)
    verifier = TokenVerifier(None, codec)
    token = codec.issue("officer-haihoa", Role.OFFICER, ["QN-HH"], ttl_seconds=1)
    verify(verifier, token)
    expires = jwt.decode(token, options={"verify_signature": False})["exp"]
    time.sleep(max(0.0, expires - time.time()) + 0.05)
    with pytest.raises(AuthError, match="token expired"):
        verify(verifier, token)
    assert codec.verified == 2


def test_a_refused_token_is_never_remembered() -> None:
    codec = CountingCodec(TEST_SIGNING_KEY)
    verifier = TokenVerifier(None, codec)
    forged = TokenCodec("another-key-that-is-long-enough-to-sign-with!!").issue("x", Role.ADMIN)
    for _ in range(2):
        with pytest.raises(AuthError, match="signature does not verify"):
            verify(verifier, forged)
    assert codec.verified == 2
    now = int(time.time())
    early = jwt.encode(
        {"sub": "x", "role": "admin", "iss": "antt", "aud": "antt", "iat": now,
         "nbf": now + 600, "exp": now + 3600},
        TEST_SIGNING_KEY, algorithm="HS256",
    )  # fmt: skip
    for _ in range(2):
        with pytest.raises(AuthError, match="not valid yet"):
            verify(verifier, early)


def test_after_a_while_a_token_is_verified_again_and_a_withdrawn_key_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    issuer = WithdrawableIssuer()
    verifier = TokenVerifier(issuer, None, remember_seconds=60)
    token = issuer.issue()
    verify(verifier, token)
    issuer.withdrawn = True
    assert verify(verifier, token).subject == "x"  # remembered: within the minute
    later = time.time() + 61
    monkeypatch.setattr(shared.auth.time, "time", lambda: later)
    with pytest.raises(AuthError, match="does not publish"):
        verify(verifier, token)


def test_the_remembered_tokens_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shared.auth, "VERIFIED_TOKENS_KEPT", 3)
    codec = CountingCodec(TEST_SIGNING_KEY)
    verifier = TokenVerifier(None, codec)
    tokens = [codec.issue(f"auditor-{n}", Role.AUDITOR) for n in range(4)]
    for token in tokens:
        verify(verifier, token)
    verify(verifier, tokens[-1])  # the newest is still remembered
    assert codec.verified == 4
    verify(verifier, tokens[0])  # the oldest was let go
    assert codec.verified == 5
