# SPDX-License-Identifier: Apache-2.0
"""IMDS fault injection, request log, rate limits and the non-identity endpoints."""
from __future__ import annotations

import socket
import threading
import time
import urllib.error
import urllib.request

import pytest

from imds_arm_support import http
from podid_harness.azure.imds import ImdsEmulator
from podid_harness.azure.imds_metadata import scheduled_event

MD = {"Metadata": "true"}
TOKEN_Q = "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fvault.azure.net"


@pytest.mark.parametrize("status", [404, 410, 429, 500])
def test_injected_status_then_recovery(imds, status):
    imds.faults.add(status, count=2, path_regex=r"oauth2/token")
    got = [http(imds.url + TOKEN_Q, headers=MD).status for _ in range(3)]
    assert got == [status, status, 200]
    assert [e.status for e in imds.log.entries(r"oauth2/token")] == got


def test_retry_after_header_and_path_filter(imds):
    imds.faults.add(429, retry_after=2, count=None, path_regex=r"oauth2/token")
    r = http(imds.url + TOKEN_Q, headers=MD)
    assert r.status == 429 and r.headers["Retry-After"] == "2" and r.json()["error"] == "too_many_requests"
    assert http(imds.url + "/metadata/versions", headers=MD).status == 200


def test_latency_and_reset(imds):
    imds.faults.add(delay_s=0.3, count=1)
    t = time.monotonic()
    assert http(imds.url + TOKEN_Q, headers=MD).status == 200
    assert time.monotonic() - t >= 0.3
    imds.faults.add(reset=True, count=1)
    with pytest.raises((urllib.error.URLError, ConnectionError, socket.error)):
        urllib.request.urlopen(urllib.request.Request(imds.url + TOKEN_Q, headers=MD), timeout=5)
    assert imds.log.entries()[-1].status == 0
    assert http(imds.url + TOKEN_Q, headers=MD).status == 200


def test_log_records_headers_and_gaps(imds):
    for _ in range(3):
        http(imds.url + TOKEN_Q, headers={**MD, "User-Agent": "probe/1"})
        time.sleep(0.05)
    entries = imds.log.entries(r"oauth2/token")
    assert len(entries) == 3 and entries[0].header("user-agent") == "probe/1"
    assert entries[0].query["resource"] == ["https://vault.azure.net"]
    assert all(g >= 0.05 for g in imds.log.gaps(r"oauth2/token"))


def test_log_records_each_requests_source(imds):
    http(imds.url + TOKEN_Q, headers=MD)
    (entry,) = imds.log.entries(r"oauth2/token")
    assert entry.source[0] == "127.0.0.1" and entry.source[1] > 0
    assert imds.log.entries(sources={"127.0.0.1"}) == [entry]
    assert imds.log.entries(sources={"10.244.1.2"}) == []


def test_a_fault_with_a_probability_hits_that_share_of_requests(imds):
    imds.faults.add(500, count=None, path_regex=r"oauth2/token", probability=0.25)
    statuses = [http(imds.url + TOKEN_Q, headers=MD).status for _ in range(400)]
    assert set(statuses) == {200, 500}
    assert 60 <= statuses.count(500) <= 140, statuses.count(500)    # 100 expected; p(outside) < 1e-5


def test_probability_draws_are_reproducible_and_validated(cloud, issuer):
    def run() -> list[int]:
        emu = ImdsEmulator(cloud.state, issuer, vm="aks-nodepool1-vmss", instance="0")
        emu.faults.add(429, count=None, probability=0.5)
        with emu.serve() as srv:
            return [http(srv.url + TOKEN_Q, headers=MD).status for _ in range(30)]
    assert run() == run()
    with pytest.raises(ValueError):
        ImdsEmulator(cloud.state, issuer, vm="aks-nodepool1-vmss", instance="0").faults.add(500, probability=0)


def test_identity_rate_limit_20_per_second(cloud, issuer):
    emu = ImdsEmulator(cloud.state, issuer, vm=cloud.vmss_id, rate_limit=True)
    with emu.serve() as srv:
        statuses = [http(srv.url + TOKEN_Q, headers=MD).status for _ in range(25)]
    assert statuses.count(200) == 20 and statuses.count(429) == 5
    assert statuses[:20] == [200] * 20


def test_identity_rate_limit_5_concurrent(cloud, issuer):
    emu = ImdsEmulator(cloud.state, issuer, vm=cloud.vmss_id, rate_limit=True, token_latency_s=0.5)
    results: list[int] = []
    with emu.serve() as srv:
        threads = [threading.Thread(target=lambda: results.append(http(srv.url + TOKEN_Q, headers=MD).status))
                   for _ in range(7)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
    assert sorted(results) == [200] * 5 + [429] * 2


def test_instance_metadata(imds, cloud):
    doc = http(imds.url + "/metadata/instance?api-version=2021-02-01", headers=MD).json()
    assert doc["compute"]["vmScaleSetName"] == "aks-nodepool1-vmss"
    assert doc["compute"]["osProfile"]["computerName"] == "aks-nodepool1-vmss000000"
    assert doc["compute"]["subscriptionId"] == cloud.state.default_subscription
    r = http(imds.url + "/metadata/instance/compute/name?api-version=2021-02-01&format=text", headers=MD)
    assert (r.status, r.body) == (200, b"aks-nodepool1-vmss_0")
    assert http(imds.url + "/metadata/instance/compute/name?api-version=2021-02-01", headers=MD).status == 400
    assert http(imds.url + "/metadata/instance/compute/nope?api-version=2021-02-01", headers=MD).status == 404
    assert http(imds.url + "/metadata/instance?api-version=2021-02-01").status == 400
    assert b"api-version is invalid" in http(imds.url + "/metadata/instance", headers=MD).body


def test_versions_info_and_scheduled_events(imds, cloud):
    versions = http(imds.url + "/metadata/versions").json()["apiVersions"]
    assert versions[0] == "2017-03-01" and "2018-02-01" in versions
    assert http(imds.url + "/metadata/identity/info?api-version=2018-02-01",
                headers=MD).json() == {"tenantId": cloud.state.tenant_id}
    ev = scheduled_event("Reboot", ("aks-nodepool1-vmss_0",))
    imds.scheduled_events.append(ev)
    url = imds.url + "/metadata/scheduledevents?api-version=2020-07-01"
    doc = http(url, headers=MD).json()
    assert doc["Events"][0]["EventId"] == ev["EventId"]
    assert http(url, method="POST", headers=MD, body={"StartRequests": [{"EventId": ev["EventId"]}]}).status == 200
    assert http(url, headers=MD).json()["Events"] == []
    assert http(url, method="POST", headers=MD, body={"bad": 1}).status == 400
