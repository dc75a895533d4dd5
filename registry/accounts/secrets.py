"""Passwords and bearer tokens: how each is made, kept and checked.

* Passwords are hashed with Argon2id (argon2-cffi, its default parameters): a password
  is low-entropy, so its hash must be slow to guess against.
* Tokens are ``evd_<id>_<secret>``: ``id`` (8 random bytes, hex) names the token in
  listings, revocations and the custody log; ``secret`` is 32 random bytes
  (``secrets.token_urlsafe``). Only ``SHA-256(secret)`` is kept. A slow hash buys nothing
  against guessing 256 random bits, and a fast one keeps every API request cheap (an
  Argon2 check per request would cost tens of milliseconds of CPU each); the stored
  digest is compared with ``hmac.compare_digest`` (constant time).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from typing import Any

TOKEN_PREFIX = "evd_"
_TOKEN = re.compile(r"^evd_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$")


def hash_password(password: str) -> str:
    """An Argon2id hash of ``password`` (argon2 is imported only here)."""
    from argon2 import PasswordHasher

    return PasswordHasher().hash(password)


def check_password(stored: str | None, password: str) -> bool:
    """Whether ``password`` matches the Argon2 hash ``stored`` (False without one)."""
    if not stored:
        return False
    from argon2 import PasswordHasher
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return bool(PasswordHasher().verify(stored, password))
    except (VerificationError, InvalidHashError):
        return False


def new_token() -> tuple[str, str, str]:
    """A fresh token: ``(token id, the token to hand out once, SHA-256 of its secret)``."""
    token_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    return token_id, f"{TOKEN_PREFIX}{token_id}_{secret}", digest(secret)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def split_token(token: str) -> tuple[str, str] | None:
    """``(token id, secret)`` of a well-formed token, else None."""
    found = _TOKEN.match(token.strip())
    return (found.group(1), found.group(2)) if found else None


def secret_matches(record: dict[str, Any], secret: str) -> bool:
    """Constant-time comparison of a token's secret with its stored digest."""
    stored = str(record.get("sha256") or "")
    return hmac.compare_digest(stored.encode("ascii"), digest(secret).encode("ascii"))
