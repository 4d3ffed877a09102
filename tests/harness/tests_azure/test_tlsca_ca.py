# SPDX-License-Identifier: Apache-2.0
"""The run-time test CA: servers it certifies are trusted by clients given only its bundle, for IPs, localhost
and arbitrary names; client certificates come in every shape the clients need; keys never outlive the CA."""
from __future__ import annotations

import os
import socket
import ssl
import stat

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_private_key, pkcs12

from entra_kv_support import call
from podid_harness.azure.tlsca import TestCA
from podid_harness.httpbase import EmulatorServer, Response


class _Hello:
    def handle(self, req):
        return Response.text(200, "hello")


@pytest.fixture
def ca():
    with TestCA() as authority:
        yield authority


def _serve(ca, names):
    return EmulatorServer(_Hello(), tls=ca.server_context(names))


def test_ip_and_localhost_are_trusted_with_the_bundle_only(ca):
    with _serve(ca, ["127.0.0.1", "localhost"]) as server:
        assert call(server.url, ctx=ca.client_context()).body == b"hello"
        assert call(f"https://localhost:{server.port}/", ctx=ca.client_context()).status == 200


def test_arbitrary_host_name_is_checked_against_the_certificate(ca):
    with _serve(ca, ["podid-test.vault.azure.net"]) as server:
        ctx = ca.client_context()
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw:
            with ctx.wrap_socket(raw, server_hostname="podid-test.vault.azure.net") as tls:
                assert tls.version() in ("TLSv1.2", "TLSv1.3")
        with pytest.raises(ssl.SSLCertVerificationError):
            call(server.url, ctx=ctx)      # 127.0.0.1 is not in this certificate


def test_system_trust_does_not_know_the_ca(ca):
    with _serve(ca, ["127.0.0.1"]) as server:
        with pytest.raises(ssl.SSLCertVerificationError):
            call(server.url, ctx=ssl.create_default_context())


def test_env_points_every_client_at_the_bundle(ca):
    env = ca.env()
    assert set(env) >= {"NODE_EXTRA_CA_CERTS", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"}
    assert all(v == ca.bundle_path for v in env.values())
    assert b"BEGIN CERTIFICATE" in open(ca.bundle_path, "rb").read()


def test_client_certificate_shapes(ca):
    cc = ca.issue_client("sp-one", pfx_password="pw")
    combined = open(cc.pem_path, "rb").read()
    assert load_pem_private_key(combined, None) is not None
    assert x509.load_pem_x509_certificate(combined.split(b"-----END PRIVATE KEY-----")[1]) == cc.certificate
    key, cert, _ = pkcs12.load_key_and_certificates(open(cc.pfx_path, "rb").read(), b"pw")
    assert cert == cc.certificate and key is not None
    assert len(cc.thumbprint_sha1_hex) == 40 and len(cc.x5t) == 27 and len(cc.x5t_s256) == 43
    unprotected = ca.issue_client("sp-two")
    assert pkcs12.load_key_and_certificates(open(unprotected.pfx_path, "rb").read(), None)[1] == unprotected.certificate


def test_self_signed_client_certificate(ca):
    cc = ca.issue_client("sp-self", self_signed=True)
    assert cc.certificate.issuer == cc.certificate.subject


def test_key_files_are_private_and_removed_on_close():
    authority = TestCA()
    cc = authority.issue_client()
    server = authority.issue_server(["127.0.0.1"])
    for path in (cc.key_path, cc.pem_path, server.key_path):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    authority.close()
    assert not os.path.exists(authority.directory)


def test_each_ca_is_distinct():
    with TestCA() as a, TestCA() as b:
        assert a.certificate.subject != b.certificate.subject
        with _serve(a, ["127.0.0.1"]) as server:
            with pytest.raises(ssl.SSLCertVerificationError):
                call(server.url, ctx=b.client_context())
