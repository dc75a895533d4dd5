"""Signing keys: the installation key made at ``init``, and the public keys that
verify custody entries.

Private keys are Ed25519 in PKCS#8 PEM files readable by the owner only (0600).
Public keys live in ``keys/public/<key id>.pem`` so that anyone holding the registry
(or an export of it) can check every signature. A key id is the first 16 hex digits of
the SHA-256 of the raw 32-byte public key.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from .fsutil import atomic_write

INSTALLATION = "installation"


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


@dataclass
class Signer:
    """A private key with its id."""

    name: str
    key: Ed25519PrivateKey

    @property
    def id(self) -> str:
        return key_id(self.key.public_key())

    def sign(self, message: bytes) -> str:
        return base64.b64encode(self.key.sign(message)).decode("ascii")


class KeyRing:
    """The keys folder of a registry."""

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self.public_folder = os.path.join(folder, "public")
        self._public: dict[str, Ed25519PublicKey] | None = None

    def create(self, name: str = INSTALLATION) -> Signer:
        """Make a new private key ``<name>.key`` (0600) and publish its public key."""
        os.makedirs(self.public_folder, exist_ok=True)
        path = os.path.join(self.folder, f"{_safe(name)}.key")
        if os.path.exists(path):
            raise FileExistsError(path)
        private = Ed25519PrivateKey.generate()
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        atomic_write(path, pem, mode=0o600)
        signer = Signer(name, private)
        public_pem = private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        atomic_write(os.path.join(self.public_folder, f"{signer.id}.pem"), public_pem)
        self._public = None
        return signer

    def signer(self, name: str = INSTALLATION) -> Signer:
        """Load the private key ``name``."""
        with open(os.path.join(self.folder, f"{_safe(name)}.key"), "rb") as fh:
            private = serialization.load_pem_private_key(fh.read(), password=None)
        if not isinstance(private, Ed25519PrivateKey):
            raise ValueError(f"{name} is not an Ed25519 key")
        return Signer(name, private)

    def has(self, name: str) -> bool:
        return os.path.exists(os.path.join(self.folder, f"{_safe(name)}.key"))

    def public_keys(self) -> dict[str, Ed25519PublicKey]:
        """Every published public key by id (a file whose name is not its key's id is
        ignored, so a swapped key file cannot vouch for another key's signatures)."""
        if self._public is None:
            keys: dict[str, Ed25519PublicKey] = {}
            if os.path.isdir(self.public_folder):
                for name in sorted(os.listdir(self.public_folder)):
                    if not name.endswith(".pem"):
                        continue
                    with open(os.path.join(self.public_folder, name), "rb") as fh:
                        try:
                            public = serialization.load_pem_public_key(fh.read())
                        except ValueError:
                            continue
                    if isinstance(public, Ed25519PublicKey) and key_id(public) == name[:-4]:
                        keys[name[:-4]] = public
            self._public = keys
        return self._public

    def verify(self, kid: str, message: bytes, signature: str) -> bool:
        public = self.public_keys().get(kid)
        if public is None:
            return False
        try:
            public.verify(base64.b64decode(signature), message)
        except (InvalidSignature, ValueError):
            return False
        return True


def _safe(name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "-_." else "_" for c in name).strip(".")
    return cleaned or "_"
