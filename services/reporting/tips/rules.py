"""Tip rules: tip numbers a resident can read out, and follow secrets kept only as
salted hashes."""

import hashlib
import hmac
import secrets

TIP_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I to misread


def new_tip_number() -> str:
    code = "".join(secrets.choice(TIP_ALPHABET) for _ in range(8))
    return f"T-{code[:4]}-{code[4:]}"


def as_typed_by_handler(tip_number: str) -> str:
    """A tip handler may type the number as the resident read it out, in either case."""
    return tip_number.upper()


def new_secret() -> str:
    return secrets.token_urlsafe(18)


def hash_secret(secret: str, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, n=2**14, r=8, p=1)
    return f"scrypt${salt.hex()}${digest.hex()}"


def secret_matches(secret: str, stored: str) -> bool:
    _, salt, _ = stored.split("$")
    return hmac.compare_digest(hash_secret(secret, bytes.fromhex(salt)), stored)
