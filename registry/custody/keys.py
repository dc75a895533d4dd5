"""Signing keys: the installation key made at ``init``, and the public keys that
verify custody entries.

Private keys are Ed25519 in PKCS#8 PEM files readable by the owner only (0600):
``keys/installation.key`` for the registry itself, ``keys/actors/<name>-<tag>.key`` for
people who sign their own entries (``tag`` tells apart names that sanitise alike).
Public keys live in ``keys/public/<key id>.pem`` so that anyone holding the registry
(or an export of it) can check every signature. A key id is the first 16 hex digits of
the SHA-256 of the raw 32-byte public key, so a public key file whose content was
swapped no longer matches its own name.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ingest import lazy_import
from registry.fsutil import atomic_write

if TYPE_CHECKING:
    from cryptography import exceptions
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )
else:
    # Signing and checking signatures only: listing or showing items needs neither.
    exceptions = lazy_import("cryptography.exceptions")
    serialization = lazy_import("cryptography.hazmat.primitives.serialization")
    ed25519 = lazy_import("cryptography.hazmat.primitives.asymmetric.ed25519")

INSTALLATION = "installation"
ACTORS = "actors"


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


@dataclass
class Signer:
    """A private key with its id."""

    name: str
    key: Ed25519PrivateKey

    @classmethod
    def generate(cls, name: str) -> Signer:
        """A new key pair named ``name``."""
        return cls(name, ed25519.Ed25519PrivateKey.generate())

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

    def create(self, name: str = INSTALLATION, *, path: str | None = None) -> Signer:
        """Make a new private key ``<name>.key`` (0600) and publish its public key."""
        path = path or os.path.join(self.folder, f"{_safe(name)}.key")
        if os.path.exists(path):
            raise FileExistsError(path)
        signer = Signer.generate(name)
        self.publish(signer)
        self.store(signer, path)
        return signer

    def publish(self, signer: Signer) -> str:
        """Write the public half of ``signer`` to ``public/<key id>.pem``."""
        os.makedirs(self.public_folder, exist_ok=True)
        public_pem = signer.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        path = os.path.join(self.public_folder, f"{signer.id}.pem")
        atomic_write(path, public_pem)
        self._public = None
        return path

    def store(self, signer: Signer, path: str) -> None:
        """Write the private key to ``path``, readable by the owner only."""
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        pem = signer.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        atomic_write(path, pem, mode=0o600)

    def signer(self, name: str = INSTALLATION, *, path: str | None = None) -> Signer:
        """Load the private key ``name``."""
        with open(path or os.path.join(self.folder, f"{_safe(name)}.key"), "rb") as fh:
            private = serialization.load_pem_private_key(fh.read(), password=None)
        if not isinstance(private, ed25519.Ed25519PrivateKey):
            raise ValueError(f"{name} is not an Ed25519 key")
        return Signer(name, private)

    # --- actors' keys -------------------------------------------------------------------

    def actor_key_path(self, actor: str) -> str:
        """Where the private key of ``actor`` lives (whether or not it exists)."""
        tag = hashlib.sha256(actor.encode("utf-8", "surrogatepass")).hexdigest()[:8]
        return os.path.join(self.folder, ACTORS, f"{_safe(actor)[:64]}-{tag}.key")

    def actor_signer(self, actor: str) -> Signer | None:
        """``actor``'s own key, when they have one here."""
        path = self.actor_key_path(actor)
        if not os.path.exists(path):
            return None
        return self.signer(actor, path=path)

    def public_pem(self, kid: str) -> bytes:
        """The PEM text of a published public key.

        Raises:
            KeyError: No valid key is published under ``kid``.
        """
        public = self.public_keys().get(kid)
        if public is None:
            raise KeyError(kid)
        return public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def published_files(self) -> dict[str, str | None]:
        """Every ``<id>.pem`` file name's id, with the id of the key it really holds
        (``None`` when it holds no Ed25519 key): a difference means the file was
        replaced."""
        found: dict[str, str | None] = {}
        if not os.path.isdir(self.public_folder):
            return found
        for name in sorted(os.listdir(self.public_folder)):
            if not name.endswith(".pem"):
                continue
            try:
                with open(os.path.join(self.public_folder, name), "rb") as fh:
                    public = serialization.load_pem_public_key(fh.read())
            except (OSError, ValueError):
                found[name[:-4]] = None
                continue
            found[name[:-4]] = (
                key_id(public) if isinstance(public, ed25519.Ed25519PublicKey) else None
            )
        return found

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
                    if isinstance(public, ed25519.Ed25519PublicKey) and key_id(public) == name[:-4]:
                        keys[name[:-4]] = public
            self._public = keys
        return self._public

    def verify(self, kid: str, message: bytes, signature: str) -> bool:
        public = self.public_keys().get(kid)
        if public is None:
            return False
        try:
            public.verify(base64.b64decode(signature), message)
        except (exceptions.InvalidSignature, ValueError):
            return False
        return True


def raw_public(public: Ed25519PublicKey) -> bytes:
    """The 32 raw bytes of a public key (what RFC 8032 verifiers take)."""
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _safe(name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "-_." else "_" for c in name).strip(".")
    return cleaned or "_"
