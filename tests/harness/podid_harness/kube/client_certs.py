# SPDX-License-Identifier: Apache-2.0
"""X.509 client certificates as the API server authenticates them (`--client-ca-file`): the subject's CN is the
user, each O a group. Kubelets authenticate this way as `system:node:<node>` in group `system:nodes`, which is
the credential podid-agent borrows to mint pod-bound service-account tokens (docs/security.md).

The stand-in's client CA is its own, made at run time and apart from the serving CA, as on a real cluster; its
key lives in memory only. Certificates it issues are written where the test says (a kubeconfig's neighbours).
One CA serves every stand-in of a process (`ClientCA.shared()`): suites start hundreds of servers, and an RSA
key each would cost seconds for nothing a test checks.
"""
from __future__ import annotations

import datetime
import ssl
import threading
from dataclasses import dataclass
from typing import Iterable, Optional

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_BACKDATE = datetime.timedelta(minutes=5)


@dataclass(frozen=True)
class IssuedClientCert:
    user: str
    groups: tuple[str, ...]
    cert_pem: bytes
    key_pem: bytes


class ClientCA:
    _shared: Optional["ClientCA"] = None
    _shared_lock = threading.Lock()

    @classmethod
    def shared(cls) -> "ClientCA":
        with cls._shared_lock:
            if cls._shared is None:
                cls._shared = cls()
            return cls._shared

    def __init__(self, common_name: str = "podid kube stand-in client CA") -> None:
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        now = datetime.datetime.now(datetime.timezone.utc)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        self.certificate = (
            x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(self._key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - _BACKDATE)
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False),
                           critical=True)
            .sign(self._key, hashes.SHA256()))
        self.pem = self.certificate.public_bytes(serialization.Encoding.PEM).decode()

    def issue(self, user: str, groups: Iterable[str] = (), days: float = 1.0) -> IssuedClientCert:
        """A client certificate for `user` (CN) in `groups` (one O each), as the kubelet's CSR gets signed."""
        groups = tuple(groups)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        now = datetime.datetime.now(datetime.timezone.utc)
        attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, g) for g in groups]
        attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, user))
        cert = (x509.CertificateBuilder().subject_name(x509.Name(attrs)).issuer_name(self.certificate.subject)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - _BACKDATE).not_valid_after(now + datetime.timedelta(days=days))
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
                .sign(self._key, hashes.SHA256()))
        key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                    serialization.NoEncryption())
        return IssuedClientCert(user, groups, cert.public_bytes(serialization.Encoding.PEM), key_pem)

    def accept_on(self, ctx: ssl.SSLContext) -> None:
        """Make a server context ask for (not require) client certificates signed by this CA."""
        ctx.load_verify_locations(cadata=self.pem)
        ctx.verify_mode = ssl.CERT_OPTIONAL


def identity_of(peer_cert: Optional[dict]) -> Optional[tuple[str, tuple[str, ...]]]:
    """(user, groups) from a verified peer certificate as ssl.SSLSocket.getpeercert() gives it, or None."""
    if not peer_cert:
        return None
    user, groups = "", []
    for rdn in peer_cert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                user = value
            elif key == "organizationName":
                groups.append(value)
    return (user, tuple(groups)) if user else None
