# SPDX-License-Identifier: Apache-2.0
"""The agent's last token decisions per pod, on its node-local decisions listener (what `podid explain` reads):
a pod's served and refused requests with the pod's cgroup, nobody else's, and no way in from a pod."""
from __future__ import annotations

import json
import time

from helpers import assert_identity_not_found, assert_token_for, bound_pod

from podid_harness.paths import BUILD
from podid_harness.token_cluster import VAULT

PODID = BUILD / "cli" / "podid"


def _decisions(cluster, pod, want: int) -> dict:
    """The agent's answer for `pod` once it holds `want` decisions (each is kept as its audit line is written)."""
    deadline = time.monotonic() + 5
    while True:
        status, body = cluster.agent.decisions_get(f"/podid/v1/decisions?pod_uid={pod.uid}")
        assert status == 200, body
        doc = json.loads(body)
        if len(doc["decisions"]) >= want or time.monotonic() > deadline:
            return doc
        time.sleep(0.1)


def test_decisions_show_a_served_and_a_refused_pod_with_their_cgroups(cluster, uniq):
    pod, (ident,) = bound_pod(cluster, uniq)
    unbound = cluster.add_pod(uniq("pod"), pod.namespace)
    assert_token_for(cluster.token(pod), ident)
    assert_identity_not_found(cluster.wait_token(unbound, status=400))

    served = _decisions(cluster, pod, 1)
    assert (served["node"], served["namespace"], served["pod"]) == (cluster.node.name, pod.namespace, pod.name)
    assert served["cgroup"]["id"] == pod.pod_cgroup_id(), served
    assert served["cgroup"]["path"].endswith(pod.pod_cgroup_dir.name), served
    (d,) = served["decisions"]
    assert (d["decision"], d["client_id"], d["resource"], d["status"]) == ("served", ident.client_id, VAULT, 200), d
    assert d["cgroup_id"] == pod.cgroup_id() and d["reason"] == "bound", d

    refused = _decisions(cluster, unbound, 1)
    assert refused["cgroup"]["id"] == unbound.pod_cgroup_id(), refused
    assert [(d["decision"], d["reason"], d["status"]) for d in refused["decisions"]] == [
        ("not_found", "no_binding", 400)], refused
    # Each pod sees only its own.
    assert all(d["cgroup_id"] == unbound.cgroup_id() for d in refused["decisions"]), refused


def test_pods_cannot_reach_the_decisions_listener(cluster, uniq):
    pod, (ident,) = bound_pod(cluster, uniq)
    assert_token_for(cluster.token(pod), ident)
    port = int(cluster.agent.serving["decisions"].rpartition(":")[2])
    assert cluster.agent.serving["decisions"].startswith("127.0.0.1:")
    # From inside the pod (with NET_RAW, as containerd grants it): its own loopback, and every address of the
    # node it can route to. Each must fail to connect; a success prints the address.
    probe = ("import socket,sys\n"
             "for a in sys.argv[2:]:\n"
             "    s = socket.socket(); s.settimeout(2)\n"
             "    try:\n"
             "        s.connect((a, int(sys.argv[1]))); print('reached', a)\n"
             "    except OSError as e:\n"
             "        print('refused', a, e.__class__.__name__)\n"
             "    finally:\n"
             "        s.close()\n")
    addresses = ["127.0.0.1", cluster.node.bridge_ip, cluster.node.agent_addr]
    out = pod.run(["/usr/bin/python3", "-c", probe, str(port), *addresses], cap_net_raw=True, check=True)
    assert "reached" not in out.stdout, out.stdout
    assert out.stdout.count("refused") == len(addresses), out.stdout
    # The node itself reads it.
    status, _ = cluster.agent.decisions_get(f"/podid/v1/decisions?pod_uid={pod.uid}")
    assert status == 200


def _explain(cluster, pod, *extra: str):
    """`podid explain` run on the node (where the agent's loopback listener is), as JSON."""
    out = cluster.node.run([str(PODID), "explain", f"{pod.namespace}/{pod.name}", "--kubeconfig",
                            str(cluster.kubeconfig), "-o", "json", *extra], check=False)
    assert out.returncode in (0, 1), out.stderr
    return json.loads(out.stdout)


def test_explain_shows_the_pods_cgroup_and_last_decisions_from_its_nodes_agent(cluster, uniq):
    pod, (ident,) = bound_pod(cluster, uniq)
    unbound = cluster.add_pod(uniq("pod"), pod.namespace)
    assert_token_for(cluster.token(pod), ident)
    assert_identity_not_found(cluster.wait_token(unbound, status=400))
    _decisions(cluster, unbound, 1)
    url = f"http://{cluster.agent.serving['decisions']}"

    e = _explain(cluster, pod, "--agent-url", url)
    assert e["cgroup"] == {"id": pod.pod_cgroup_id(), "path": e["cgroup"]["path"]}, e
    assert e["agent"]["fetched"] and e["agent"]["node"] == cluster.node.name, e["agent"]
    assert [(d["decision"], d["client_id"], d["resource"]) for d in e["agent"]["decisions"]] == [
        ("served", ident.client_id, VAULT)], e["agent"]

    refused = _explain(cluster, unbound, "--agent-url", url)
    assert [(d["decision"], d["reason"]) for d in refused["agent"]["decisions"]] == [("not_found", "no_binding")]

    # The agent not reached: said, with how to read the audit lines instead; the rest of the answer stands.
    closed = _explain(cluster, pod, "--agent-url", "http://127.0.0.1:1")
    assert not closed["agent"]["fetched"] and "did not answer" in closed["agent"]["note"], closed["agent"]
    assert closed["client_id"] == ident.client_id and closed["outcome"] == "identity", closed
    assert closed["cgroup"] is None
