# SPDX-License-Identifier: Apache-2.0
"""A throw-away certificate authority for the emulators' HTTPS, made at run time.

Real SDKs insist on HTTPS for Entra ID and Key Vault, so every test run mints a fresh CA, server certificates
for the names the emulators are reached by (127.0.0.1, localhost, any test host name), and client certificates
for service principals that authenticate with a certificate. Keys live only in a temporary directory that
`close()` removes: nothing here is ever committed, and nothing outside the run trusts this CA.

Clients trust it through `bundle_path` (NODE_EXTRA_CA_CERTS, REQUESTS_CA_BUNDLE, SSL_CERT_FILE: see `env()`).
"""
from __future__ import annotations

import base64
import datetime
import hashlib
import ipaddress
import os
import shutil
import ssl
import tempfile
import uuid
from dataclasses import dataclass
from typing import Iterable, Optional

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DEFAULT_SERVER_NAMES = ("127.0.0.1", "localhost", "::1")

# Backdating covers clock skew between the test process and clients that check notBefore strictly.
_BACKDATE = datetime.timedelta(minutes=5)


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _san(names: Iterable[str]) -> x509.SubjectAlternativeName:
    entries: list[x509.GeneralName] = []
    for name in names:
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            entries.append(x509.DNSName(name))
    return x509.SubjectAlternativeName(entries)


@dataclass(frozen=True)
class ServerCert:
    cert_path: str
    key_path: str
    names: tuple[str, ...]


@dataclass(frozen=True)
class ClientCert:
    """A service principal's certificate, in every shape the clients under test want it."""
    certificate: x509.Certificate
    cert_pem: bytes
    key_pem: bytes
    pem_path: str             # key + certificate in one PEM (azure-identity's CertificateCredential, msal-node)
    cert_path: str            # certificate alone (what gets registered with Entra)
    key_path: str
    pfx_path: str             # PKCS#12 of key + certificate, protected by pfx_password ("" = none)
    pfx_password: str

    @property
    def der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)

    @property
    def thumbprint_sha1_hex(self) -> str:
        return hashlib.sha1(self.der).hexdigest().upper()

    @property
    def x5t(self) -> str:
        return base64.urlsafe_b64encode(hashlib.sha1(self.der).digest()).rstrip(b"=").decode()

    @property
    def x5t_s256(self) -> str:
        return base64.urlsafe_b64encode(hashlib.sha256(self.der).digest()).rstrip(b"=").decode()


class TestCA:
    """One CA per run. Use as a context manager, or call close() to delete the key material."""

    __test__ = False  # not a pytest test class despite the name

    def __init__(self, directory: Optional[str] = None, common_name: str = "podid test CA") -> None:
        self._owns_dir = directory is None
        self.directory = directory or tempfile.mkdtemp(prefix="podid-ca-")
        os.chmod(self.directory, 0o700)
        self._key = _key()
        now = datetime.datetime.now(datetime.timezone.utc)
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{common_name} {uuid.uuid4().hex[:8]}")])
        self.certificate = (
            x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(self._key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - _BACKDATE).not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, encipher_only=False,
                                         decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self._key.public_key()), critical=False)
            .sign(self._key, hashes.SHA256()))
        self.bundle_path = self._write("ca.pem", self.certificate.public_bytes(serialization.Encoding.PEM))

    # -- files ---------------------------------------------------------------------------------------------
    def _write(self, name: str, data: bytes) -> str:
        path = os.path.join(self.directory, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        return path

    def _sign(self, subject_cn: str, public_key, *, names: Iterable[str] = (), server: bool) -> x509.Certificate:
        now = datetime.datetime.now(datetime.timezone.utc)
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject_cn)]))
            .issuer_name(self.certificate.subject).public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _BACKDATE).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()),
                           critical=False))
        names = list(names)
        if names:
            builder = builder.add_extension(_san(names), critical=False)
        return builder.sign(self._key, hashes.SHA256())

    # -- servers -------------------------------------------------------------------------------------------
    def issue_server(self, names: Iterable[str] = DEFAULT_SERVER_NAMES) -> ServerCert:
        names = tuple(names)
        key = _key()
        cert = self._sign(names[0], key.public_key(), names=names, server=True)
        stem = f"server-{uuid.uuid4().hex[:8]}"
        # The chain file carries the CA too, so clients that were given only the CA still build the path.
        chain = cert.public_bytes(serialization.Encoding.PEM) + self.certificate.public_bytes(serialization.Encoding.PEM)
        return ServerCert(self._write(f"{stem}.pem", chain), self._write(f"{stem}.key", _key_pem(key)), names)

    def server_context(self, names: Iterable[str] = DEFAULT_SERVER_NAMES) -> ssl.SSLContext:
        """An SSLContext for EmulatorServer(tls=...), valid for `names` (IP literals or DNS names)."""
        cert = self.issue_server(names)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(cert.cert_path, cert.key_path)
        return ctx

    def client_context(self) -> ssl.SSLContext:
        """An SSLContext for Python clients (urllib, http.client) that trusts this CA and nothing else."""
        ctx = ssl.create_default_context(cafile=self.bundle_path)
        return ctx

    def env(self) -> dict[str, str]:
        """Environment for child processes so that Node, requests and OpenSSL trust this CA."""
        return {"NODE_EXTRA_CA_CERTS": self.bundle_path, "REQUESTS_CA_BUNDLE": self.bundle_path,
                "SSL_CERT_FILE": self.bundle_path, "CURL_CA_BUNDLE": self.bundle_path}

    # -- service principals -------------------------------------------------------------------------------
    def issue_client(self, common_name: str = "podid-sp", pfx_password: str = "",
                     self_signed: bool = False) -> ClientCert:
        """A certificate + key for a service principal. Entra only checks the registered public key, so
        `self_signed=True` (what `az ad sp create-for-rbac --create-cert` makes) works the same."""
        key = _key()
        if self_signed:
            now = datetime.datetime.now(datetime.timezone.utc)
            name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
            cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                    .serial_number(x509.random_serial_number()).not_valid_before(now - _BACKDATE)
                    .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
        else:
            cert = self._sign(common_name, key.public_key(), server=False)
        stem = f"client-{common_name}-{uuid.uuid4().hex[:8]}"
        cert_pem = cert.public_bytes(serialization.Encoding.PEM)
        key_pem = _key_pem(key)
        encryption = (serialization.BestAvailableEncryption(pfx_password.encode()) if pfx_password
                      else serialization.NoEncryption())
        pfx = pkcs12.serialize_key_and_certificates(common_name.encode(), key, cert, None, encryption)
        return ClientCert(
            certificate=cert, cert_pem=cert_pem, key_pem=key_pem,
            pem_path=self._write(f"{stem}-combined.pem", key_pem + cert_pem),
            cert_path=self._write(f"{stem}.pem", cert_pem), key_path=self._write(f"{stem}.key", key_pem),
            pfx_path=self._write(f"{stem}.pfx", pfx), pfx_password=pfx_password)

    # -- lifetime ------------------------------------------------------------------------------------------
    def close(self) -> None:
        if self._owns_dir:
            shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> "TestCA":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
