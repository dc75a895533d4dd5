"""Content Credentials made for tests: a throw-away certificate authority and signing
certificate (``cryptography``), JPEGs signed with them by the C2PA library
(``c2pa-python``), embedded or pointing to a remote manifest, and the same bytes with a
few pixels changed after signing.

Nothing here touches the network: the certificates are made in memory, no timestamp
authority is asked, and a "remote" manifest's URL is whatever the test gives (a local
server it runs, so that it can tell whether anyone came to fetch it).
"""

from __future__ import annotations

import datetime
import io
from dataclasses import dataclass

#: The action a camera records when it captures a picture.
CAPTURE = {
    "action": "c2pa.created",
    "digitalSourceType": "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture",
}


@dataclass(frozen=True)
class TestSigner:
    """A certificate chain (signing certificate, then its CA) and the private key."""

    chain_pem: bytes
    key_pem: bytes
    ca_pem: bytes
    issuer: str


def make_signer(ocsp_url: str | None = None, organization: str = "Evidence Test Lab") -> TestSigner:
    """A CA and an ES256 signing certificate it issued, valid from yesterday for a month;
    ``ocsp_url``: the revocation responder its certificate names (AIA), if any."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)

    def name(cn: str) -> x509.Name:
        return x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, cn),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            ]
        )

    def usage(**on: bool) -> x509.KeyUsage:
        flags = dict.fromkeys(
            (
                "digital_signature",
                "content_commitment",
                "key_encipherment",
                "data_encipherment",
                "key_agreement",
                "key_cert_sign",
                "crl_sign",
                "encipher_only",
                "decipher_only",
            ),
            False,
        )
        return x509.KeyUsage(**{**flags, **on})

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("Evidence Test Root CA"))
        .issuer_name(name("Evidence Test Root CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(usage(key_cert_sign=True, crl_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(name("Evidence Test Camera"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage(digital_signature=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
    )
    if ocsp_url:
        where = x509.UniformResourceIdentifier(ocsp_url)
        access = x509.AccessDescription(AuthorityInformationAccessOID.OCSP, where)
        builder = builder.add_extension(x509.AuthorityInformationAccess([access]), False)
    cert = builder.sign(ca_key, hashes.SHA256())
    pem = serialization.Encoding.PEM
    return TestSigner(
        chain_pem=cert.public_bytes(pem) + ca.public_bytes(pem),
        key_pem=key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
        ca_pem=ca.public_bytes(pem),
        issuer=organization,
    )


def sign_jpeg(
    jpeg: bytes,
    signer: TestSigner,
    *,
    title: str = "capture.jpg",
    remote_url: str | None = None,
    generator: str = "evidence-tests",
) -> tuple[bytes, bytes]:
    """``(signed JPEG, manifest store bytes)``: ``jpeg`` with a C2PA manifest of one
    capture action, signed by ``signer``; with ``remote_url`` the file holds only that
    URL and the store is meant to be served there."""
    import c2pa

    manifest = {
        "claim_generator_info": [{"name": generator, "version": "1.0"}],
        "title": title,
        "assertions": [{"label": "c2pa.actions", "data": {"actions": [CAPTURE]}}],
    }
    info = c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, signer.chain_pem, signer.key_pem, None)
    settings = {
        "builder": {"thumbnail": {"enabled": False}},
        "verify": {"verify_after_sign": False},
    }
    with (
        c2pa.Signer.from_info(info) as sign,
        c2pa.Context.from_dict(settings) as context,
        c2pa.Builder(manifest, context=context) as builder,
    ):
        if remote_url:
            builder.set_no_embed()
            builder.set_remote_url(remote_url)
        out = io.BytesIO()
        store = builder.sign(sign, "image/jpeg", io.BytesIO(jpeg), out)
    return out.getvalue(), bytes(store)


def alter_pixels(jpeg: bytes) -> bytes:
    """The same JPEG with one byte of its compressed picture data changed (well after
    the start of the scan, so the C2PA segments before it are untouched and the picture
    still decodes): the pixels differ, the manifest no longer matches them."""
    sos = jpeg.rindex(b"\xff\xda")
    eoi = jpeg.rindex(b"\xff\xd9")
    for at in range(sos + (eoi - sos) * 3 // 4, eoi):
        old = jpeg[at]
        new = old ^ 0x10
        if 0xFF not in (old, new, jpeg[at - 1]) and jpeg[at + 1] != 0xFF:
            return jpeg[:at] + bytes([new]) + jpeg[at + 1 :]
    raise ValueError("no byte of the scan can be changed safely")
