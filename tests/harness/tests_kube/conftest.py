# SPDX-License-Identifier: Apache-2.0
"""Fixtures for the API server stand-in's tests: one CA per session, a fresh server per test, and a small HTTP
client (urllib for one-shot calls, http.client for streamed watches)."""
from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from typing import Iterator, Optional

import pytest

from podid_harness.azure.tlsca import TestCA
from podid_harness.kube import KubeApiServer


def pytest_configure(config):
    config.addinivalue_line("markers", "real_client: drives the stand-in with a real client (kubectl)")


@pytest.fixture(scope="session")
def ca():
    with TestCA(common_name="podid kube tests CA") as c:
        yield c


@pytest.fixture
def api(ca):
    with KubeApiServer.start(ca=ca, bookmark_interval_s=0.5) as server:
        yield server


class Client:
    """Talks to the stand-in as one bearer token. Answers are (status, decoded JSON or bytes, headers)."""

    def __init__(self, api: KubeApiServer, token: Optional[str] = None) -> None:
        self.api, self.token = api, token if token is not None else api.admin_token
        self.ctx = api.ssl_context()

    def _headers(self, extra: Optional[dict]) -> dict:
        h = {"Accept": "application/json"}
        if self.token:
            h["Authorization"] = f"Bearer {self.token}"
        h.update(extra or {})
        return h

    def call(self, method: str, path: str, body=None, ctype: str = "application/json",
             headers: Optional[dict] = None):
        data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        h = self._headers(headers)
        if data is not None:
            h["Content-Type"] = ctype
        req = urllib.request.Request(self.api.url + path, data=data, method=method, headers=h)
        try:
            with urllib.request.urlopen(req, context=self.ctx, timeout=10) as r:
                return r.status, _decode(r.read()), dict(r.headers)
        except urllib.error.HTTPError as e:
            return e.code, _decode(e.read()), dict(e.headers)

    def ok(self, method: str, path: str, body=None, ctype: str = "application/json", expect=(200, 201)):
        status, out, _ = self.call(method, path, body, ctype)
        assert status in expect, (status, out)
        return out

    def watch(self, path: str, timeout: float = 5.0) -> "Watch":
        return Watch(self, path, timeout)


class Watch:
    """A streamed watch; iterate for decoded events. Closing it hangs up, as a client would."""

    def __init__(self, client: Client, path: str, timeout: float) -> None:
        host, port = client.api.url.split("://")[1].rsplit(":", 1)
        self.conn = http.client.HTTPSConnection(host, int(port), context=client.ctx, timeout=timeout)
        self.conn.request("GET", path, headers=client._headers(None))
        self.resp = self.conn.getresponse()
        self.status = self.resp.status
        assert self.resp.getheader("Transfer-Encoding") == "chunked" or self.status != 200

    def next(self) -> dict:
        line = self.resp.readline()
        if not line:
            raise EOFError("watch ended")
        return json.loads(line)

    def __iter__(self) -> Iterator[dict]:
        while True:
            try:
                yield self.next()
            except EOFError:
                return

    def next_non_bookmark(self) -> dict:
        while True:
            ev = self.next()
            if ev["type"] != "BOOKMARK":
                return ev

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "Watch":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _decode(raw: bytes):
    try:
        return json.loads(raw)
    except ValueError:
        return raw


@pytest.fixture
def client(api) -> Client:
    return Client(api)


WIDGET_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.podid.io"},
    "spec": {"group": "example.podid.io", "scope": "Namespaced",
             "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wd"]},
             "versions": [{"name": "v1", "served": True, "storage": True, "subresources": {"status": {}},
                           "additionalPrinterColumns": [{"name": "Size", "type": "integer",
                                                         "jsonPath": ".spec.size"}],
                           "schema": {"openAPIV3Schema": {"type": "object",
                                                          "x-kubernetes-preserve-unknown-fields": True}}}]}}


def pod(name: str, node: str = "", labels: Optional[dict] = None, ns: str = "default") -> dict:
    spec = {"containers": [{"name": "app", "image": "busybox"}]}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns, "labels": labels or {}},
            "spec": spec}
