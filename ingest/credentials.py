"""Content Credentials (C2PA): the manifest store a photo or video carries, read and
validated by the C2PA project's own library (``c2pa-python``), with the network off.

A camera, phone or editing tool that signs what it makes embeds a C2PA manifest store
(JUMBF) in the file: who signed it, with which tool, the actions taken and the
ingredients used, and hashes binding it to the file's bytes. ``read_credentials`` hands
the bytes to the library and sums up what it found as ``metadata["c2pa"]``
(``CREDENTIAL_STATES`` lists the states); the store itself, as the library renders it
in JSON, goes into ``Extracted.manifest_store``.

Nothing named by the file is ever contacted: a manifest that lives at a URL the file
gives (a "remote" or "cloud" manifest) is reported as ``remote`` with that URL, not
fetched; certificate revocation (OCSP) is not fetched; and the library's list of hosts
it may reach is empty, so even a setting missed here cannot reach the network
(``READER_SETTINGS``; ``tests/test_credentials.py`` proves it with a local server the
file names and by tracing the process's ``connect`` calls). Trust is checked against
the anchors the library ships, offline: a manifest signed by an unknown certificate is
still ``valid`` (its hashes and signature hold) with ``signingCredential.untrusted``
among its codes.

A store the library cannot read, or any error of the library, is a ``warning``
(``CredentialsUnreadable``), never a failed file.
"""

from __future__ import annotations

import io
import json
import os
import re
from typing import TYPE_CHECKING, Any, BinaryIO

from ingest.errors import EvidenceError
from ingest.lazy import lazy_import

if TYPE_CHECKING:
    import c2pa
else:
    c2pa = lazy_import("c2pa")

#: What ``metadata["c2pa"]["state"]`` can be.
CREDENTIAL_STATES = {
    "valid": "a manifest store whose active manifest validates (its signature and the "
    "hashes binding it to these bytes hold); it may still be signed by an untrusted "
    "certificate (see codes)",
    "invalid": "a manifest store that does not validate: a signature or a hash does not "
    "match (see codes; altered=true when its hash of the content no longer matches)",
    "remote": "the file points to a manifest stored elsewhere (remote_url); it was not "
    "fetched, so nothing was validated",
    "absent": "no manifest store in the file",
    "unsupported": "the C2PA library cannot read this format",
    "unreadable": "a manifest store the library could not read (see the warning)",
}

#: The reader's settings (c2pa-rs settings schema): validate as the specification asks,
#: but never touch the network.
READER_SETTINGS: dict[str, Any] = {
    "verify": {
        "verify_after_reading": True,
        "verify_trust": True,
        "verify_timestamp_trust": True,
        "remote_manifest_fetch": False,
        "ocsp_fetch": False,
    },
    # No host may be contacted, whatever else asks for it (defence in depth).
    "core": {"allowed_network_hosts": []},
}

#: Hashes binding a manifest to the content: their mismatch means the bytes (pixels,
#: frames) were changed after signing. ``assertion.hashedURI.mismatch`` is about the
#: manifest's own assertions and is not one of them.
_CONTENT_HASH = re.compile(r"^assertion\.(data|bmff|boxes|collection)Hash\.mismatch$")
#: The manifest store's JSON is kept up to this size; a larger one is summed up only.
MAX_STORE_BYTES = 1024 * 1024
#: At most this many actions, ingredients, codes are summed up; text is cut to ``_TEXT``.
_LIST = 100
_TEXT = 500
_REMOTE_URL = re.compile(r"(?:from url |remote URI \")(\S+?)\"?(?:\s|$)")


class CredentialsUnreadable(EvidenceError):
    """Content Credentials (C2PA manifest store) cannot be read."""


class ManifestStoreTooLarge(EvidenceError):
    """C2PA manifest store is too large to keep; only its summary was kept."""


def read_credentials(
    data: bytes | None, path: str | os.PathLike[str] | None, mime: str | None
) -> tuple[dict[str, Any], dict[str, Any] | None, list[EvidenceError]]:
    """Read and validate the C2PA manifest store of one file, offline.

    Args:
        data: The file's bytes, when in memory (photos); else ``path`` is opened.
        path: The file, when ``data`` is None (videos).
        mime: The sniffed MIME type, as a hint for the library (it checks the bytes).

    Returns:
        ``(summary, store, problems)``: the summary for ``metadata["c2pa"]``, the
        manifest store's JSON (None when there is none or it is not kept) and the
        problems to record as warnings. Never raises for what the file holds.
    """
    try:
        if data is not None:
            return _read(io.BytesIO(data), mime)
        if path is None:
            raise ValueError("read_credentials needs the bytes or a path")
        with open(path, "rb") as fh:
            return _read(fh, mime)
    except MemoryError:
        problem = CredentialsUnreadable("out of memory")
    except Exception as exc:  # the library (or its loading) failed: a warning only
        problem = CredentialsUnreadable(_one_line(exc))
    return {"present": None, "state": "unreadable"}, None, [problem]


def _read(
    stream: BinaryIO, mime: str | None
) -> tuple[dict[str, Any], dict[str, Any] | None, list[EvidenceError]]:
    fmt = mime if mime and mime in _supported() else None
    with c2pa.Context.from_dict(READER_SETTINGS) as context:
        try:
            reader = c2pa.Reader(fmt, stream, context=context)
        except c2pa.C2paError.ManifestNotFound:
            return {"present": False, "state": "absent"}, None, []
        except c2pa.C2paError.NotSupported:
            return {"present": None, "state": "unsupported"}, None, []
        except c2pa.C2paError as exc:
            text = str(exc)
            if isinstance(exc, c2pa.C2paError.RemoteManifest) or text.startswith("Remote"):
                found = _REMOTE_URL.search(text)
                url = found.group(1)[:2000] if found else None
                return {"present": True, "state": "remote", "remote_url": url}, None, []
            if fmt is None and text.startswith(("NotSupported", "UnsupportedType")):
                return {"present": None, "state": "unsupported"}, None, []
            summary = {"present": True, "state": "unreadable"}
            return summary, None, [CredentialsUnreadable(_one_line(exc))]
        try:
            with reader:
                text = reader.json()
                embedded = reader.is_embedded()
        except c2pa.C2paError as exc:
            summary = {"present": True, "state": "unreadable"}
            return summary, None, [CredentialsUnreadable(_one_line(exc))]
    store = json.loads(text)
    summary = summarize(store)
    summary["embedded"] = embedded
    problems: list[EvidenceError] = []
    if len(text.encode("utf-8")) > MAX_STORE_BYTES:
        problems.append(ManifestStoreTooLarge(f"{len(text):,} characters"))
        return summary, None, problems
    return summary, store, problems


_SUPPORTED: frozenset[str] | None = None


def _supported() -> frozenset[str]:
    global _SUPPORTED
    if _SUPPORTED is None:
        _SUPPORTED = frozenset(c2pa.Reader.get_supported_mime_types())
    return _SUPPORTED


def summarize(store: dict[str, Any]) -> dict[str, Any]:
    """The summary of a manifest store as the library renders it (``Reader.json()``):
    state and codes of its validation, and who signed the active manifest, when, with
    which tool, its actions and ingredients."""
    manifests = store.get("manifests") or {}
    label = store.get("active_manifest")
    active = manifests.get(label) if isinstance(manifests, dict) else None
    active = active if isinstance(active, dict) else {}
    results = store.get("validation_results") or {}
    mine = results.get("activeManifest") or {}
    failures = _codes(mine.get("failure"))
    if not mine:  # an older rendering: the failures of the active manifest only
        failures = _codes(store.get("validation_status"))
    ingredient_failures: list[str] = []
    for delta in results.get("ingredientDeltas") or []:
        ingredient_failures += _codes(((delta or {}).get("validationDeltas") or {}).get("failure"))
    raw_state = store.get("validation_state")
    if raw_state in ("Valid", "Trusted"):
        state = "valid"
    elif raw_state == "Invalid" or any(c != "signingCredential.untrusted" for c in failures):
        state = "invalid"
    else:
        state = "valid"
    signature = active.get("signature_info") or {}
    return {
        "present": True,
        "state": state,
        "validation_state": raw_state,
        "trusted": raw_state == "Trusted",
        "altered": any(_CONTENT_HASH.match(c) for c in failures),
        "codes": _unique(failures),
        "informational": _unique(_codes(mine.get("informational"))),
        "ingredient_codes": _unique(ingredient_failures),
        "manifests": len(manifests) if isinstance(manifests, dict) else 0,
        "active_manifest": _text(label),
        "claim_generator": _text(_generator(active)),
        "title": _text(active.get("title")),
        "signer": {
            "issuer": _text(signature.get("issuer")),
            "common_name": _text(signature.get("common_name")),
            "alg": _text(signature.get("alg")),
            "serial": _text(signature.get("cert_serial_number")),
        },
        "signed_at": _text(signature.get("time")),
        "actions": _actions(active)[:_LIST],
        "ingredients": [_ingredient(i) for i in (active.get("ingredients") or [])[:_LIST]],
    }


def _generator(active: dict[str, Any]) -> str | None:
    if active.get("claim_generator"):
        return str(active["claim_generator"])
    infos = active.get("claim_generator_info") or []
    names = [
        " ".join(str(i[k]) for k in ("name", "version") if i.get(k))
        for i in infos
        if isinstance(i, dict)
    ]
    return ", ".join(n for n in names if n) or None


def _actions(active: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for assertion in active.get("assertions") or []:
        if not isinstance(assertion, dict):
            continue
        if not str(assertion.get("label", "")).startswith("c2pa.actions"):
            continue
        for action in (assertion.get("data") or {}).get("actions") or []:
            if not isinstance(action, dict):
                continue
            agent = action.get("softwareAgent")
            if isinstance(agent, dict):
                agent = " ".join(str(agent[k]) for k in ("name", "version") if agent.get(k))
            params = action.get("parameters")
            described = action.get("description") or (
                params.get("description") if isinstance(params, dict) else None
            )
            out.append(
                {
                    "action": _text(action.get("action")),
                    "when": _text(action.get("when")),
                    "software_agent": _text(agent),
                    "digital_source_type": _text(action.get("digitalSourceType")),
                    "description": _text(described),
                }
            )
    return out


def _ingredient(ingredient: Any) -> dict[str, Any]:
    ingredient = ingredient if isinstance(ingredient, dict) else {}
    return {
        "title": _text(ingredient.get("title")),
        "format": _text(ingredient.get("format")),
        "relationship": _text(ingredient.get("relationship")),
        "instance_id": _text(ingredient.get("instance_id")),
        "document_id": _text(ingredient.get("document_id")),
        "manifest": _text(ingredient.get("active_manifest")),
    }


def _codes(statuses: Any) -> list[str]:
    return [str(s["code"]) for s in statuses or [] if isinstance(s, dict) and s.get("code")]


def _unique(codes: list[str]) -> list[str]:
    return [_text(c) or "" for c in dict.fromkeys(codes)][:_LIST]


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return str(value)[:_TEXT]


def _one_line(exc: BaseException) -> str:
    text = " ".join((str(exc) or type(exc).__name__).split())
    return text[:300]
