# SPDX-License-Identifier: Apache-2.0
"""1,000 token requests at once from 50 pods (10 identities, 5 pods each, 20 keep-alive requests per pod, all
pods' clients started together): every answer is 200 with the asking pod's own identity, and the node's IMDS
sees exactly one call per (identity, resource)."""
from __future__ import annotations

import json
import subprocess
import time

from helpers import assert_token_for

from podid_harness.token_cluster import CLIENT, PYTHON, VAULT, HttpResult, token_path

IDENTITIES, PODS_PER_IDENTITY, REQUESTS_PER_POD = 10, 5, 20
WARM_RESOURCE = "https://storage.azure.com/"


def test_thousand_concurrent_requests_from_fifty_pods(cluster, uniq):
    ns = uniq("load")
    pods = []       # (pod, identity)
    for i in range(IDENTITIES):
        ident = cluster.add_identity(ns, f"id-{i}")
        cluster.bind(ns, f"bind-{i}", ident, f"sel-{i}")
        for j in range(PODS_PER_IDENTITY):
            pods.append((cluster.add_pod(f"pod-{i}-{j}", ns, binding=f"sel-{i}", settle=False), ident))
    for pod, ident in pods:
        cluster.assign(pod, ident)
    cluster.settle(extra_s=1.0)
    # Every pod known to the agent before the burst, without touching the burst's resource.
    for pod, ident in pods:
        r = cluster.wait_token(pod, resource=WARM_RESOURCE)
        assert_token_for(r, ident, WARM_RESOURCE)

    before = len(cluster.imds_token_requests())
    cfg = json.dumps({"requests": [{"path": token_path(VAULT), "headers": {"Metadata": "true"}}],
                      "repeat": REQUESTS_PER_POD, "keepalive": True, "timeout": 30})
    started = time.monotonic()
    procs = [(pod, ident, pod.popen([PYTHON, str(CLIENT), cfg], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True)) for pod, ident in pods]
    failures, total = [], 0
    for pod, ident, proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        results = [HttpResult.of(d) for d in json.loads(out)]
        assert len(results) == REQUESTS_PER_POD
        total += len(results)
        for r in results:
            try:
                assert_token_for(r, ident)
            except AssertionError as e:
                failures.append(f"{pod.name}: {e}")
    elapsed = time.monotonic() - started
    assert total == IDENTITIES * PODS_PER_IDENTITY * REQUESTS_PER_POD
    assert not failures, f"{len(failures)} of {total} failed, e.g. {failures[:3]}"
    new = cluster.imds_token_requests()[before:]
    per_identity = {}
    for e in new:
        key = (e.query.get("client_id", [""])[0], e.query.get("resource", [""])[0])
        per_identity[key] = per_identity.get(key, 0) + 1
    expected = {(ident.client_id, VAULT): 1 for _, ident in pods}
    assert per_identity == expected, per_identity
    print(f"{total} requests from {len(pods)} pods in {elapsed:.2f}s")
