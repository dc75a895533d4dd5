"""A real RFC 3161 time-stamping authority for tests: OpenSSL's ``openssl ts -reply``
behind a local HTTP endpoint, with a CA and TSA certificates made here, and authorities
that misbehave in the ways a real one can.

``TestPki(folder)`` makes a CA, a second CA that nobody trusts, and TSA certificates
(``extendedKeyUsage = critical, timeStamping``): a good one, an expired one, one issued
by the untrusted CA, and the good one with a timeStamping usage that is not critical. ``TsaServer``
serves, under ``http://127.0.0.1:<port>/<kind>``, each kind in ``KINDS``:

* ``good``: the query as sent, signed by the good certificate;
* ``wrong-imprint``, ``wrong-nonce``: the query's imprint or nonce changed before
  OpenSSL signs it (a valid token over something else);
* ``bad-signature``: a good token whose signature has one bit flipped;
* ``expired``, ``untrusted``: signed with those certificates;
* ``noncritical-eku``: a good token carrying the good certificate re-issued with a
  non-critical timeStamping usage (OpenSSL will not sign with such a certificate);
* ``reject``: the query asks for a policy the TSA does not have (OpenSSL answers with
  status rejection);
* ``http-error``: HTTP 500; ``redirect``: HTTP 302 to ``good`` (must not be followed);
* ``garbage``: HTTP 200 with bytes that are not DER;
* ``hang``: reads the query and never answers (until the server stops).

Needs the ``openssl`` command; ``asn1crypto`` edits queries and replies.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
import subprocess
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

OPENSSL = shutil.which("openssl")
KINDS = (
    "good",
    "wrong-imprint",
    "wrong-nonce",
    "bad-signature",
    "expired",
    "untrusted",
    "noncritical-eku",
    "reject",
    "http-error",
    "redirect",
    "garbage",
    "hang",
)
POLICY = "1.3.6.1.4.1.55555.1.1"

_CONFIG = """\
[ tsa ]
default_tsa = tsa_config
[ tsa_config ]
dir = {dir}
serial = {dir}/serial
crypto_device = builtin
signer_cert = {cert}
signer_key = {dir}/tsa.key
signer_digest = sha256
default_policy = {policy}
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = no
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


class TestPki:
    """Keys and certificates in ``folder`` (``ca.pem`` is the trust anchor)."""

    __test__ = False  # not a pytest class

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        now = dt.datetime.now(dt.UTC)
        self.ca_key = ec.generate_private_key(ec.SECP256R1())
        self.ca = self._ca("Evidence Test Root CA", self.ca_key, now)
        other_key = ec.generate_private_key(ec.SECP256R1())
        self.other_ca = self._ca("Nobody's Root CA", other_key, now)
        self.tsa_key = ec.generate_private_key(ec.SECP256R1())
        day = dt.timedelta(days=1)
        good = self._tsa(self.ca, self.ca_key, now - day, now + 30 * day)
        certs = {
            "good": good,
            "expired": self._tsa(self.ca, self.ca_key, now - 30 * day, now - day),
            "untrusted": self._tsa(self.other_ca, other_key, now - day, now + 30 * day),
        }
        # The good certificate again (same key, issuer and serial) but with a timeStamping
        # usage that is not critical: OpenSSL will not sign with it, so the server swaps
        # it into a good token, whose signature then still verifies.
        self.noncritical = self._tsa(
            self.ca,
            self.ca_key,
            now - day,
            now + 30 * day,
            serial=good.serial_number,
            critical=False,
        )
        self.ca_file = folder / "ca.pem"
        self.ca_file.write_bytes(_pem(self.ca))
        (folder / "other-ca.pem").write_bytes(_pem(self.other_ca))
        (folder / "tsa.key").write_bytes(
            self.tsa_key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        (folder / "serial").write_text("01\n")
        self.configs = {}
        for kind, cert in certs.items():
            (folder / f"{kind}.pem").write_bytes(_pem(cert))
            config = folder / f"{kind}.cnf"
            config.write_text(
                _CONFIG.format(dir=folder, cert=folder / f"{kind}.pem", policy=POLICY)
            )
            self.configs[kind] = config
        self.tsa_cert_file = folder / "good.pem"

    def _ca(self, cn: str, key: ec.EllipticCurvePrivateKey, now: dt.datetime) -> x509.Certificate:
        usage = x509.KeyUsage(False, False, False, False, False, True, True, False, False)
        return (
            x509.CertificateBuilder()
            .subject_name(_name(cn))
            .issuer_name(_name(cn))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=365))
            .not_valid_after(now + dt.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(usage, critical=True)
            .sign(key, hashes.SHA256())
        )

    def _tsa(
        self,
        issuer: x509.Certificate,
        issuer_key: ec.EllipticCurvePrivateKey,
        not_before: dt.datetime,
        not_after: dt.datetime,
        *,
        serial: int | None = None,
        critical: bool = True,
    ) -> x509.Certificate:
        usage = x509.KeyUsage(True, False, False, False, False, False, False, False, False)
        return (
            x509.CertificateBuilder()
            .subject_name(_name("Evidence Test TSA"))
            .issuer_name(issuer.subject)
            .public_key(self.tsa_key.public_key())
            .serial_number(serial or x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(usage, critical=True)
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=critical
            )
            .sign(issuer_key, hashes.SHA256())
        )


def _edit_query(query: bytes, kind: str) -> bytes:
    from asn1crypto import tsp

    req = tsp.TimeStampReq.load(query)
    if kind == "wrong-imprint":
        req["message_imprint"]["hashed_message"] = hashlib.sha256(b"something else").digest()
    elif kind == "wrong-nonce":
        req["nonce"] = (req["nonce"].native or 0) + 1
    elif kind == "reject":
        req["req_policy"] = "1.3.6.1.4.1.55555.9.9"
    return req.dump(force=True)


def _swap_certificate(reply: bytes, cert: x509.Certificate) -> bytes:
    from asn1crypto import cms, tsp

    resp = tsp.TimeStampResp.load(reply)
    der = cert.public_bytes(serialization.Encoding.DER)
    resp["time_stamp_token"]["content"]["certificates"] = [cms.CertificateChoices.load(der)]
    return resp.dump(force=True)


def _flip_signature(reply: bytes) -> bytes:
    from asn1crypto import tsp

    resp = tsp.TimeStampResp.load(reply)
    signer = resp["time_stamp_token"]["content"]["signer_infos"][0]
    signature = bytearray(signer["signature"].native)
    signature[-1] ^= 0x01  # the last byte of ECDSA's s: still DER, no longer the signature
    signer["signature"] = bytes(signature)
    return resp.dump(force=True)


class TsaServer:
    """The authorities of ``KINDS`` on one local port; ``url(kind)`` is each one's URL."""

    def __init__(self, pki: TestPki) -> None:
        self.pki = pki
        self.requests: list[str] = []
        self._released = threading.Event()
        self._openssl = threading.Lock()  # openssl ts -reply updates one serial file
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                kind = self.path.strip("/")
                query = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                server.requests.append(kind)
                if kind == "hang":
                    server._released.wait(timeout=600)
                    return
                if kind == "redirect":
                    self.send_response(302)
                    self.send_header("Location", server.url("good"))
                    self.end_headers()
                    return
                if kind == "http-error" or kind not in KINDS:
                    self.send_error(500 if kind == "http-error" else 404)
                    return
                if self.headers.get("Content-Type") != "application/timestamp-query":
                    self.send_error(415)
                    return
                try:
                    body = b"\x01\x02 not DER" if kind == "garbage" else server.reply(kind, query)
                except subprocess.CalledProcessError as exc:
                    self.send_error(500, exc.stderr.decode(errors="replace")[-200:])
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/timestamp-reply")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, kind: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{kind}"

    def reply(self, kind: str, query: bytes) -> bytes:
        """What ``openssl ts -reply`` answers to the (edited) query."""
        config = self.pki.configs.get(kind, self.pki.configs["good"])
        with self._openssl, tempfile.TemporaryDirectory() as tmp:
            q, r = os.path.join(tmp, "q.tsq"), os.path.join(tmp, "r.tsr")
            Path(q).write_bytes(_edit_query(query, kind))
            subprocess.run(
                [str(OPENSSL), "ts", "-reply", "-config", str(config), "-queryfile", q, "-out", r],
                check=True,
                capture_output=True,
            )
            reply = Path(r).read_bytes()
        if kind == "noncritical-eku":
            return _swap_certificate(reply, self.pki.noncritical)
        return _flip_signature(reply) if kind == "bad-signature" else reply

    def close(self) -> None:
        self._released.set()
        self.httpd.shutdown()
        self.httpd.server_close()
