# SPDX-License-Identifier: Apache-2.0
"""IMDS paths other than the token endpoint, and token requests the agent must refuse before anything else:
forwarded to the node's IMDS (the emulator at 169.254.169.254:80 in the node's namespace) only when on the
allow-list, never with an X-Forwarded-For; malformed token paths and bad requests answered 400 and never
forwarded (the emulator's request log is the proof)."""
from __future__ import annotations

import json

import pytest
from helpers import assert_no_token, bound_pod, json_error

from podid_harness.token_cluster import VAULT

MISSING_HEADER = b'{"error":"invalid_request","error_description":"Required metadata header not specified"}'


def _log_paths(cluster) -> list[str]:
    return [e.raw_path for e in cluster.imds.log.entries()]


def test_instance_metadata_is_forwarded_without_x_forwarded_for(cluster, uniq):
    pod = cluster.add_pod(uniq("pod"), uniq("ns"))
    before = len(cluster.imds.log.entries())
    r = cluster.http(pod, "/metadata/instance?api-version=2021-02-01")
    assert r.status == 200, str(r)
    doc = r.json()
    assert doc["compute"]["vmScaleSetName"] == cluster.vmss.name
    assert doc["compute"]["resourceId"].lower().startswith(cluster.vmss.resource_id.lower())
    (entry,) = cluster.imds.log.entries()[before:]
    assert entry.raw_path == "/metadata/instance?api-version=2021-02-01"
    assert entry.header("x-forwarded-for") is None and entry.header("metadata") == "true"
    # format=text and a leaf path come back as the emulator wrote them.
    r = cluster.http(pod, "/metadata/instance/compute/vmScaleSetName?api-version=2021-02-01&format=text")
    assert (r.status, r.body) == (200, cluster.vmss.name), str(r)


@pytest.mark.parametrize("path", [
    "/metadata/versions",
    "/metadata/identity/info?api-version=2018-02-01",
    "/metadata/scheduledevents?api-version=2020-07-01",
    "/metadata/attested/document?api-version=2020-09-01",
    "/metadata/loadbalancer?api-version=2020-10-01",
])
def test_allowed_paths_are_forwarded_as_sent(cluster, uniq, path):
    pod = cluster.add_pod(uniq("pod"), uniq("ns"))
    before = len(cluster.imds.log.entries())
    r = cluster.http(pod, path)
    assert r.status is not None, str(r)
    new = cluster.imds.log.entries()[before:]
    assert [e.raw_path for e in new] == [path]
    assert new[0].header("x-forwarded-for") is None
    assert r.status == new[0].status, (str(r), new[0].status)   # the upstream's answer, passed on


@pytest.mark.parametrize("path", [
    "/metadata/secrets?api-version=2021-02-01",
    "/",
    "/latest/meta-data/",
])
def test_paths_outside_the_allow_list_are_not_forwarded(cluster, uniq, path):
    pod = cluster.add_pod(uniq("pod"), uniq("ns"))
    before = _log_paths(cluster)
    r = cluster.http(pod, path)
    assert r.status in (400, 403, 404), str(r)
    assert _log_paths(cluster) == before


@pytest.mark.parametrize("path", [
    "/metadata/identity//oauth2/token?api-version=2018-02-01&resource=" + VAULT,
    "/metadata/identity/oauth2/token/x?api-version=2018-02-01&resource=" + VAULT,
    "/metadata/identity/oauth2//token?api-version=2018-02-01&resource=" + VAULT,
    "/metadata//identity/oauth2/token?api-version=2018-02-01&resource=" + VAULT,
    "/metadata/identity/oauth2/token//?api-version=2018-02-01&resource=" + VAULT,
    "/metadata/identity/oauth2/tokenx?api-version=2018-02-01&resource=" + VAULT,
])
def test_malformed_token_paths_are_400_and_never_forwarded(cluster, uniq, path):
    pod, _ = bound_pod(cluster, uniq)
    before = _log_paths(cluster)
    r = cluster.http(pod, path)
    assert r.status == 400, str(r)
    assert_no_token(r)
    json_error(r)
    assert _log_paths(cluster) == before


@pytest.mark.parametrize("case,path,headers,status,body", [
    ("no Metadata header", "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=" + VAULT, {},
     400, MISSING_HEADER),
    ("Metadata: false", "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=" + VAULT,
     {"Metadata": "false"}, 400, MISSING_HEADER),
    ("SDK probe", "/metadata/identity/oauth2/token", {}, 400, MISSING_HEADER),
    ("X-Forwarded-For", "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=" + VAULT,
     {"Metadata": "true", "X-Forwarded-For": "10.0.0.1"}, 400, None),
    ("no resource", "/metadata/identity/oauth2/token?api-version=2018-02-01", {"Metadata": "true"}, 400, None),
    ("duplicate resource", "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=" + VAULT +
     "&resource=https://management.azure.com/", {"Metadata": "true"}, 400, None),
])
def test_bad_token_requests_are_refused_and_not_forwarded(cluster, uniq, case, path, headers, status, body):
    pod, _ = bound_pod(cluster, uniq)
    before = _log_paths(cluster)
    r = cluster.http(pod, path, headers=headers)
    assert r.status == status, str(r)
    assert_no_token(r)
    if body is not None:
        assert r.body.encode() == body, str(r)
    else:
        assert json_error(r)["error"] == "invalid_request", str(r)
    assert _log_paths(cluster) == before


def test_post_to_the_token_endpoint_is_405(cluster, uniq):
    pod, _ = bound_pod(cluster, uniq)
    before = _log_paths(cluster)
    r = cluster.http(pod, "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=" + VAULT,
                     method="POST", headers={"Metadata": "true", "Content-Length": "0"})
    assert r.status == 405 and r.headers.get("allow") == "GET", str(r)
    assert _log_paths(cluster) == before
    json.loads(r.body)


@pytest.mark.parametrize("path", [
    "/metadata/instance/../identity/oauth2/token?api-version=2018-02-01&resource=" + VAULT,
    "/metadata/instance/%2e%2e/identity/oauth2/token?api-version=2018-02-01&resource=" + VAULT,
    "/metadata/versions/../identity/oauth2/token?api-version=2018-02-01&resource=" + VAULT,
    "/metadata/identity/info/../oauth2/token?api-version=2018-02-01&resource=" + VAULT,
])
def test_dot_segments_never_reach_the_token_endpoint_upstream(cluster, uniq, path):
    """An allowed prefix followed by `..` must not become a way to the node's own token: the agent neither
    answers with a token nor forwards the path (IMDS or a proxy in between might normalise it)."""
    pod = cluster.add_pod(uniq("pod"), uniq("ns"))
    before = _log_paths(cluster)
    r = cluster.http(pod, path)
    assert_no_token(r)
    assert r.status in (400, 403, 404), str(r)
    assert _log_paths(cluster) == before


@pytest.mark.parametrize("method,path,reason", [
    ("GET", "/metadata/identity/getPlatformMetadata?api-version=2025-05-01", "msi_v2_not_served"),
    ("POST", "/metadata/identity/issuecredential?cid=x&uaid=y&api-version=2025-05-01", "msi_v2_not_served"),
    ("GET", "/metadata/identity/oauth2/authorize?api-version=2018-02-01", "identity_path_not_served"),
])
def test_identity_paths_other_than_the_token_are_404_and_never_reach_imds(cluster, uniq, flags_passthrough_identity,
                                                                        method, path, reason):
    """MSI v2 would issue a credential for any identity on the VM: a pod must never reach it through the agent,
    even when the passthrough allow-list names the whole identity category."""
    pod, _ = bound_pod(cluster, uniq)
    before = _log_paths(cluster)
    r = cluster.http(pod, path, method=method)
    assert r.status == 404 and json.loads(r.body) == {"error": "Not found"}, str(r)
    assert _log_paths(cluster) == before
    assert any(a.get("reason") == reason for a in cluster.wait_audit(lambda a: a.get("reason") == reason))


@pytest.fixture
def flags_passthrough_identity(cluster):
    cluster.restart_agent(["--passthrough-prefix", "/metadata/identity", "--passthrough-prefix", "/metadata/versions"])
    yield
    cluster.restart_agent([])
