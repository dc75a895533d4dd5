"""RFC 3161 trusted timestamps: asking a time-stamping authority (TSA) for a token over
some bytes, and checking a token against them and a trust anchor.

This module knows nothing of the registry (``timestamps.py`` puts tokens on checkpoints).
The ASN.1 and CMS work is done by ``rfc3161-client`` (request, parsing, the CMS
signature and the chain, which OpenSSL checks with purpose ``timestampsign`` at the
token's own genTime) and ``cryptography`` (certificates); nothing here encodes DER.

A request is ``TimeStampReq`` version 1 with the SHA-256 message imprint of the bytes,
a random 64-bit nonce and ``certReq`` true, POSTed as ``application/timestamp-query``
to the one URL the operator gave: only ``http`` and ``https``, no redirect followed, the
answer read up to ``MAX_REPLY`` bytes within ``timeout`` seconds.

``token_problems`` lists every check a token fails, each named by ``Failure.check``:

* ``reply``: not a DER ``TimeStampResp``; ``status``: not granted;
* ``imprint``: not SHA-256, or not the SHA-256 of the bytes; ``nonce``: not ours;
* ``eku``: the signer's certificate lacks a critical extendedKeyUsage timeStamping;
* ``signature``: the CMS signature does not verify;
* ``certificate``: no chain to the trust anchor valid at genTime (expired, untrusted);
* ``gen_time``: genTime outside the tolerance around the expected time.

Transport failures are ``http``, ``timeout`` and ``unreachable``.
"""

from __future__ import annotations

import hashlib
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ingest import lazy_import

if TYPE_CHECKING:
    import rfc3161_client
    from cryptography import x509
else:
    # Only `checkpoint --tsa` and the verification of stored tokens need them.
    rfc3161_client = lazy_import("rfc3161_client")
    x509 = lazy_import("cryptography.x509")

QUERY_TYPE = "application/timestamp-query"
REPLY_TYPE = "application/timestamp-reply"
#: No TSA reply comes near this; a larger one is not read.
MAX_REPLY = 1 << 20
SHA256_OID = "2.16.840.1.101.3.4.2.1"
TIME_STAMPING_OID = "1.3.6.1.5.5.7.3.8"


@dataclass
class Failure(Exception):
    """A timestamp that could not be obtained or does not check out."""

    check: str
    message: str

    def __str__(self) -> str:
        return f"{self.check}: {self.message}"


@dataclass(frozen=True)
class TrustAnchor:
    """The root certificate(s) a TSA's chain must end in: a PEM file's bytes."""

    pem: bytes
    certificates: tuple[Any, ...] = field(compare=False)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.pem).hexdigest()

    @property
    def subjects(self) -> list[str]:
        return [c.subject.rfc4514_string() for c in self.certificates]

    @classmethod
    def from_pem(cls, pem: bytes) -> TrustAnchor:
        """Parse a PEM file of one or more certificates.

        Raises:
            ValueError: No certificate in it.
        """
        try:
            certs = x509.load_pem_x509_certificates(pem)
        except ValueError as exc:
            raise ValueError(f"not a PEM certificate file ({exc})") from None
        return cls(pem, tuple(certs))


@dataclass(frozen=True)
class Token:
    """What a checked token says (``der``: the whole ``TimeStampResp``)."""

    der: bytes
    gen_time: str
    serial: str
    policy: str
    nonce: str | None
    imprint: str
    tsa_name: str
    signer: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "gen_time": self.gen_time,
            "serial": self.serial,
            "policy": self.policy,
            "nonce": self.nonce,
            "imprint": self.imprint,
            "tsa_name": self.tsa_name,
            "signer": self.signer,
        }


def check_url(url: str) -> str:
    """``url`` if it is an http(s) URL with a host.

    Raises:
        ValueError: Another scheme (file:, ftp:...) or no host.
    """
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{url!r} is not an http(s) URL")
    return url


def build_request(message: bytes) -> tuple[bytes, int]:
    """A DER ``TimeStampReq`` over SHA-256(``message``) and its random nonce."""
    req = (
        rfc3161_client.TimestampRequestBuilder()
        .data(message)
        .hash_algorithm(rfc3161_client.HashAlgorithm.SHA256)
        .nonce(nonce=True)
        .cert_request(cert_request=True)
        .build()
    )
    return req.as_bytes(), int(req.nonce)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str):
        raise Failure("http", f"HTTP {code} redirect to {newurl!r} (not followed)")


def post(url: str, query: bytes, timeout: float) -> bytes:
    """POST a query to a TSA and return the body of its answer.

    Raises:
        Failure: ``http`` (an error status, a redirect, a bad URL), ``timeout``,
            ``unreachable``.
    """
    try:
        check_url(url)
    except ValueError as exc:
        raise Failure("http", str(exc)) from None
    request = urllib.request.Request(
        url, data=query, method="POST", headers={"Content-Type": QUERY_TYPE, "Accept": REPLY_TYPE}
    )
    opener = urllib.request.build_opener(_NoRedirect())
    try:
        with opener.open(request, timeout=timeout) as answer:
            body = answer.read(MAX_REPLY + 1)
    except urllib.error.HTTPError as exc:
        raise Failure("http", f"HTTP {exc.code} {exc.reason}") from None
    except TimeoutError:
        raise Failure("timeout", f"no answer within {timeout:g} s") from None
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, TimeoutError):
            raise Failure("timeout", f"no answer within {timeout:g} s") from None
        raise Failure("unreachable", str(exc.reason)) from None
    except OSError as exc:  # a reset or a closed connection half-way through the answer
        raise Failure("unreachable", f"{type(exc).__name__}: {exc}") from None
    if len(body) > MAX_REPLY:
        raise Failure("reply", f"answer is larger than {MAX_REPLY} bytes")
    return body


def parse(der: bytes) -> Any:
    """The ``rfc3161_client.TimeStampResponse`` in ``der``.

    Raises:
        Failure: ``reply``, it is not one.
    """
    try:
        return rfc3161_client.decode_timestamp_response(der)
    except Exception as exc:  # the parser raises ValueError and its own kinds
        raise Failure("reply", f"not a DER TimeStampResp ({_short(exc)})") from None


def token_problems(
    der: bytes,
    message: bytes,
    anchor: TrustAnchor,
    *,
    nonce: int | None = None,
    around: datetime | None = None,
    tolerance: float = 0.0,
    not_before: datetime | None = None,
) -> tuple[Token | None, list[Failure]]:
    """Check a ``TimeStampResp`` (DER) over ``message``; every failed check is listed.

    ``nonce``: the one the request carried. ``around``: genTime must be within
    ``tolerance`` seconds of it (at request time); ``not_before``: genTime must not be
    earlier than this minus ``tolerance`` (when checked later).
    """
    try:
        resp = parse(der)
    except Failure as exc:
        return None, [exc]
    if resp.status != 0:
        said = "; ".join(resp.status_string) or "no reason given"
        return None, [Failure("status", f"status {resp.status}, not granted: {said}")]
    info = resp.tst_info
    problems = []
    imprint = info.message_imprint
    want = hashlib.sha256(message).digest()
    if imprint.hash_algorithm.dotted_string != SHA256_OID:
        problems.append(Failure("imprint", f"hash {imprint.hash_algorithm.dotted_string}"))
    elif imprint.message != want:
        problems.append(
            Failure("imprint", f"token covers {imprint.message.hex()}, expected {want.hex()}")
        )
    if nonce is not None and info.nonce != nonce:
        problems.append(Failure("nonce", f"token has nonce {info.nonce}, the request {nonce}"))
    signer, why = _signer(resp)
    if signer is None:
        problems.append(Failure("eku", why))
    else:
        problems.extend(_eku_problems(signer))
    problems.extend(_chain_problems(resp, anchor, want, bool(problems)))
    gen_time = info.gen_time
    if around is not None and abs((gen_time - around).total_seconds()) > tolerance:
        problems.append(
            Failure(
                "gen_time",
                f"genTime {gen_time.isoformat()} is more than {tolerance:g} s "
                f"from {around.isoformat()}",
            )
        )
    if not_before is not None and gen_time < not_before - timedelta(seconds=tolerance):
        problems.append(
            Failure(
                "gen_time",
                f"genTime {gen_time.isoformat()} is before "
                f"{not_before.isoformat()} minus {tolerance:g} s",
            )
        )
    token = Token(
        der=der,
        gen_time=gen_time.isoformat(),
        serial=str(info.serial_number),
        policy=info.policy.dotted_string,
        nonce=None if info.nonce is None else str(info.nonce),
        imprint=imprint.message.hex(),
        tsa_name=_general_name(info.name),
        signer=signer.subject.rfc4514_string() if signer is not None else "",
    )
    return token, problems


def _signer(resp: Any) -> tuple[Any, str]:
    """The certificate the token's SignerInfo names (issuer and serial), from the token."""
    infos = list(resp.signed_data.signer_infos)
    if len(infos) != 1:
        return None, f"{len(infos)} signers, expected one"
    si = infos[0]
    for der in resp.signed_data.certificates:
        cert = x509.load_der_x509_certificate(der)
        if cert.issuer == si.issuer and cert.serial_number == si.serial_number:
            return cert, ""
    return None, "the token does not carry its signer's certificate"


def _eku_problems(cert: Any) -> list[Failure]:
    try:
        ext = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except x509.ExtensionNotFound:
        return [Failure("eku", "the TSA certificate has no extendedKeyUsage")]
    if TIME_STAMPING_OID not in [u.dotted_string for u in ext.value]:
        return [Failure("eku", "the TSA certificate's extendedKeyUsage lacks timeStamping")]
    if not ext.critical:
        return [Failure("eku", "the TSA certificate's extendedKeyUsage is not critical")]
    return []


_OPENSSL_DATA = re.compile(r'data: "([^"]*)"')
_OPENSSL_REASON = re.compile(r'reason: "([^"]*)"')


def _chain_problems(resp: Any, anchor: TrustAnchor, digest: bytes, named: bool) -> list[Failure]:
    """The CMS signature, and the chain from the signer to the anchor at genTime
    (``named``: the checks before this one already found something)."""
    verifier = rfc3161_client.VerifierBuilder(roots=list(anchor.certificates)).build()
    try:
        verifier.verify(resp, digest)
    except rfc3161_client.VerificationError as exc:
        text = str(exc)
        if not text.startswith("Error while verifying certificates"):
            # The library checks imprint, nonce and EKU after the signature and chain,
            # which therefore passed; the checks above name what failed.
            return [] if named else [Failure("signature", _short(exc))]
        reasons = list(dict.fromkeys(_OPENSSL_REASON.findall(text)))
        if "certificate verify error" in reasons:
            detail = "; ".join(_OPENSSL_DATA.findall(text)) or _short(exc)
            return [Failure("certificate", f"no valid chain to the trust anchor: {detail}")]
        detail = ", ".join(reasons) or _short(exc)
        return [Failure("signature", f"the CMS signature does not verify: {detail}")]
    return []


def _general_name(name: Any) -> str:
    if name is None:
        return ""
    value = getattr(name, "value", name)
    return value.rfc4514_string() if hasattr(value, "rfc4514_string") else str(value)


def _short(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300] or type(exc).__name__
