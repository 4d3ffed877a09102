# SPDX-License-Identifier: Apache-2.0
"""An agent that has just started serves pods at once (the kernel's pinned links send them to it as soon as it
listens), before it has listed the cluster. Until every watch has listed once, a bound pod gets the retryable
pending answer, never Azure's "Identity not found", which its SDK would take as final: under load, killed and
restarted, the agent answered 400 to bound pods for the first few hundred milliseconds (test_under_fire.py)."""
from __future__ import annotations

import signal
import time

from helpers import assert_token_for, bound_pod, json_error


def synced(cluster) -> dict:
    return {labels["watch"]: v for labels, v in cluster.metric_series("podid_k8s_watch_synced")}


def test_a_pod_asking_before_the_bindings_are_listed_is_told_to_retry(cluster, uniq):
    pod, (ident,) = bound_pod(cluster, uniq)
    assert_token_for(cluster.token(pod), ident)

    cluster.agent.kill(signal.SIGKILL)
    cluster.api.faults.fail_next(1_000_000, 500, path_regex="azureidentitybindings")
    try:
        cluster.agent.start()       # serving; it cannot list the bindings, so it is not ready
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            watches = synced(cluster)
            if watches.get("pods") == 1 and watches.get("azureassignedidentities") == 1:
                break
            time.sleep(0.05)
        assert watches.get("pods") == 1 and watches.get("azureidentitybindings") == 0, watches
        r = cluster.token(pod)
        assert r.status == 404, str(r)
        assert json_error(r)["error"] == "not_found", str(r)
        audit = cluster.wait_audit(lambda l: l.get("reason") == "caches_not_synced")
        assert audit and audit[-1]["decision"] == "not_ready", audit
    finally:
        cluster.api.faults.clear()
    cluster.wait_ready()
    assert_token_for(cluster.wait_token(pod), ident)
