# SPDX-License-Identifier: Apache-2.0
"""Fixtures and a tiny HTTPS client shared by the Entra ID, Key Vault and test-CA suites.

Plain http.client, not an SDK: these suites check the emulators' bytes, and the real-client suites check that
SDKs accept them.
"""
from __future__ import annotations

import http.client
import json
import ssl
from dataclasses import dataclass
from typing import Optional
from urllib.parse import urlencode, urlsplit

import pytest

from podid_harness.azure.entra import EntraEmulator
from podid_harness.azure.keyvault import KeyVaultEmulator
from podid_harness.azure.tlsca import TestCA
from podid_harness.azure.tokens import TokenIssuer

TIMEOUT_S = 10


@dataclass
class Reply:
    status: int
    headers: dict[str, str]     # lower-cased names
    body: bytes

    def json(self):
        return json.loads(self.body)


def call(url: str, method: str = "GET", *, ctx: Optional[ssl.SSLContext] = None, form: Optional[dict] = None,
         headers: Optional[dict] = None, body: Optional[bytes] = None) -> Reply:
    parts = urlsplit(url)
    conn_cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    kwargs = {"context": ctx} if parts.scheme == "https" else {}
    conn = conn_cls(parts.hostname, parts.port, timeout=TIMEOUT_S, **kwargs)
    hdrs = dict(headers or {})
    if form is not None:
        body = urlencode(form).encode()
        hdrs.setdefault("Content-Type", "application/x-www-form-urlencoded")
    try:
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        conn.request(method, target, body=body, headers=hdrs)
        resp = conn.getresponse()
        return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
    finally:
        conn.close()


@pytest.fixture(scope="module")
def ca():
    with TestCA() as authority:
        yield authority


@pytest.fixture(scope="module")
def server_tls(ca):
    """One server certificate per module: RSA key generation is the slow part of these suites."""
    return ca.server_context()


@pytest.fixture(scope="module")
def ctx(ca):
    """Client TLS context trusting the test CA only."""
    return ca.client_context()


@pytest.fixture(scope="module")
def issuer():
    return TokenIssuer()


@pytest.fixture
def entra(issuer):
    return EntraEmulator(issuer)


@pytest.fixture
def entra_url(entra, server_tls):
    with entra.serve(tls=server_tls) as server:
        yield server.url


@pytest.fixture
def kv(issuer):
    return KeyVaultEmulator(issuer, name="podid-test")


@pytest.fixture
def kv_url(kv, server_tls):
    with kv.serve(tls=server_tls) as server:
        yield server.url

