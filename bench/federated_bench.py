# SPDX-License-Identifier: Apache-2.0
"""Federated identities (issue 13), figures side by side in one run on one simulated node:

  A. First token for a new federated pod: the agent mints a pod-bound service-account token (TokenRequest, as the
     node's kubelet credential) and exchanges it at Entra ID; against the same for a new pod of a service account
     whose access token is already cached (neither call), and a cached token (a pod asking again).
  B. Against a standard-mode pod whose identity is not yet on its scale set: from the pod's creation to its first
     token while what a controller must do at the least is done for it (ARM GET and PATCH of the scale set, the
     long-running operation polled to Succeeded, the AzureAssignedIdentity written Assigned). The ARM emulator
     finishes its operation after one poll; on Azure a VMSS identity update alone takes 40-60 s (aad-pod-identity's
     maintainers, shared/reference/aad-pod-identity.md), which B's figure leaves out.
  C. Upstream calls for PODID_BENCH_FED_REQUESTS (1,000) requests from PODID_BENCH_FED_PODS (100) pods sharing
     PODID_BENCH_FED_ACCOUNTS (10) service accounts: TokenRequests (goal: at most one per pod), Entra exchanges (goal:
     one per service account and resource per token life) and calls to the node's IMDS (none).

First-token times are client-timed inside the pod (bench-http-load --until-status, from its start: the lower
bound) and from the moment the pod exists, client spawn included (the upper bound). Prints figures and ratios; no
pass or fail. Run as root through `scripts/bench federated`.
"""
from __future__ import annotations

import json
import os
import ssl
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "harness"))

from podid_harness.agent_runner import BUILD, IMDS  # noqa: E402
from podid_harness.httpbase import thread_in_netns  # noqa: E402
from podid_harness.token_cluster import PYTHON, CLIENT, TokenCluster, token_path  # noqa: E402

LOAD = BUILD / "bench" / "bench-http-load"
PATH = token_path()
FIRST_TOKEN_PODS = int(os.environ.get("PODID_BENCH_FIRST_TOKEN_PODS", "5"))
FAN_PODS = int(os.environ.get("PODID_BENCH_FED_PODS", "100"))
FAN_ACCOUNTS = int(os.environ.get("PODID_BENCH_FED_ACCOUNTS", "10"))
FAN_REQUESTS = int(os.environ.get("PODID_BENCH_FED_REQUESTS", "1000"))
WI_LABEL = {"azure.workload.identity/use": "true"}
ARM = "https://management.azure.com/"


def med(xs):
    return statistics.median(xs)


def first_token(pod, seconds: float = 10) -> tuple[float, float]:
    """(client-timed ms, ms from now including the client's spawn) until the pod's first 200."""
    created = time.monotonic()
    out = pod.run([str(LOAD), "--addr", IMDS, "--port", "80", "--path", PATH, "--header", "Metadata: true",
                   "--until-status", "--seconds", str(seconds)], timeout=seconds + 30)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    if not r["ok"]:
        raise RuntimeError(f"no first token for {pod.namespace}/{pod.name}: {r}")
    return r["elapsed_us"] / 1000, (time.monotonic() - created) * 1000


def cached_p50_us(pod) -> float:
    out = pod.run([str(LOAD), "--addr", IMDS, "--port", "80", "--path", PATH, "--header", "Metadata: true",
                   "--connections", "1", "--seconds", "1"], timeout=60)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    if r["bad_status"] or r["errors"]:
        raise RuntimeError(f"cached requests failed: {r}")
    return r["p50_us"]


def token_requests(c: TokenCluster) -> int:
    return len([e for e in c.api.requests(verb="create", resource="serviceaccounts") if e.get("subresource") == "token"])


def exchanges(c: TokenCluster) -> int:
    return len([r for r in c.entra.token_log if r.credential == "federated"])


def federated_first_tokens(c: TokenCluster) -> dict:
    out = {"new service account": ([], []), "cached service account": ([], [])}
    for i in range(FIRST_TOKEN_PODS):
        ns, sa = "first", f"sa-{i}"
        ident = c.add_federated_identity(ns, f"fid-{i}", subjects=[(ns, sa)], crd=False)
        c.service_account(ns, sa, client_id=ident.client_id)
        c.settle()
        for kind in out:
            pod = c.add_pod(f"{kind.split()[0]}-{i}", ns, labels=WI_LABEL, service_account=sa, settle=False)
            client_ms, upper_ms = first_token(pod)
            out[kind][0].append(client_ms)
            out[kind][1].append(upper_ms)
    out["cached token"] = ([cached_p50_us(pod) / 1000], [])
    return out


class MinimalAssigner:
    """What a controller must do at the least to put one identity on the node's scale set and say so: ARM GET,
    PATCH, the long-running operation polled to Succeeded, then the AzureAssignedIdentity written Assigned."""

    def __init__(self, c: TokenCluster) -> None:
        self.c = c
        principal = "00000000-0000-4000-8000-00000000c0de"
        sub = c.cloud.default_subscription
        c.cloud.assign_role(principal, "Virtual Machine Contributor", f"/subscriptions/{sub}")
        c.cloud.assign_role(principal, "Managed Identity Operator", f"/subscriptions/{sub}")
        self.token, _ = c.issuer.issue(audience=ARM, oid=principal, appid=principal)
        self.ctx = ssl.create_default_context(cafile=c.ca.bundle_path)
        self.calls = 0

    def _call(self, method: str, url: str, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(url, data=data, method=method,
                                     headers={"Authorization": f"Bearer {self.token}",
                                              "Content-Type": "application/json"})
        self.calls += 1
        with thread_in_netns(self.c.node.netns):
            with urllib.request.urlopen(req, context=self.ctx, timeout=30) as r:
                return json.loads(r.read() or b"null"), dict(r.headers)

    def assign(self, pod, ident) -> None:
        vmss = self.c.arm_server.url + self.c.vmss.resource_id + "?api-version=2019-12-01"
        current, _ = self._call("GET", vmss)
        kinds = ["SystemAssigned"] if "SystemAssigned" in current.get("identity", {}).get("type", "") else []
        body = {"identity": {"type": ", ".join(kinds + ["UserAssigned"]),
                             "userAssignedIdentities": {ident.resource_id: {}}}}
        _, headers = self._call("PATCH", vmss, body)
        poll = headers.get("Azure-AsyncOperation") or headers.get("azure-asyncoperation")
        while poll:
            status, headers = self._call("GET", poll)
            if status.get("status") != "InProgress":
                break
            time.sleep(float(headers.get("Retry-After") or headers.get("retry-after") or 1))
        self.c.assign(pod, ident)      # the AzureAssignedIdentity, Assigned (the VMSS has it already)


def standard_first_tokens(c: TokenCluster) -> dict:
    assigner = MinimalAssigner(c)
    client, upper, arm_calls = [], [], []
    for i in range(FIRST_TOKEN_PODS):
        ident = c.add_identity("std", f"id-{i}", on_vmss=False)
        c.bind("std", f"bind-{i}", ident, f"sel-{i}")
        c.settle()
        pod = c.add_pod(f"std-{i}", "std", binding=f"sel-{i}", settle=False)
        before = assigner.calls
        worker = threading.Thread(target=assigner.assign, args=(pod, ident))
        worker.start()
        client_ms, upper_ms = first_token(pod, seconds=60)
        worker.join()
        client.append(client_ms)
        upper.append(upper_ms)
        arm_calls.append(assigner.calls - before)
    return {"client": client, "upper": upper, "arm_calls": arm_calls}


def fan_in(c: TokenCluster) -> dict:
    ns = "fan"
    for a in range(FAN_ACCOUNTS):
        ident = c.add_federated_identity(ns, f"fid-{a}", subjects=[(ns, f"sa-{a}")], crd=False)
        c.service_account(ns, f"sa-{a}", client_id=ident.client_id)
    pods = [c.add_pod(f"p{i}", ns, labels=WI_LABEL, service_account=f"sa-{i % FAN_ACCOUNTS}", settle=False)
            for i in range(FAN_PODS)]
    c.settle()
    tr0, ex0, imds0 = token_requests(c), exchanges(c), len(c.imds_token_requests())
    per_pod = max(1, FAN_REQUESTS // FAN_PODS)
    req = {"path": PATH, "method": "GET", "headers": {"Metadata": "true"}}
    served = 0
    start = time.monotonic()
    for pod in pods:
        out = pod.run([PYTHON, str(CLIENT), json.dumps({"requests": [req] * per_pod, "keepalive": True,
                                                        "host": IMDS, "port": 80, "timeout": 15})], timeout=60)
        served += sum(1 for r in json.loads(out.stdout) if r.get("status") == 200)
    return {"requests": per_pod * FAN_PODS, "served": served, "seconds": time.monotonic() - start,
            "token_requests": token_requests(c) - tr0, "exchanges": exchanges(c) - ex0,
            "imds": len(c.imds_token_requests()) - imds0}


def main() -> int:
    if os.geteuid() != 0:
        print("federated_bench: needs root (network namespaces, cgroups, BPF)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="podid-federated-bench-") as tmp:
        with TokenCluster(Path(tmp) / "cluster", mode="standard", arm=True) as c:
            fed = federated_first_tokens(c)
            std = standard_first_tokens(c)
            fan = fan_in(c)

    print(f"first token, {FIRST_TOKEN_PODS} pods each (medians; client-timed .. from pod creation, spawn included):")
    new_client, new_upper = fed["new service account"]
    cached_client, cached_upper = fed["cached service account"]
    print(f"  federated, new service account (TokenRequest + Entra exchange) {med(new_client):8.1f} .. "
          f"{med(new_upper):.1f} ms")
    print(f"  federated, service account already served (no upstream call)   {med(cached_client):8.1f} .. "
          f"{med(cached_upper):.1f} ms")
    print(f"  federated, cached token (same pod again, p50)                   {fed['cached token'][0][0]:8.2f} ms")
    print(f"  standard, identity not on the scale set (emulated ARM: GET, PATCH, {med(std['arm_calls']) - 2:.0f} "
          f"LRO poll(s); AAI Assigned) {med(std['client']):8.1f} .. {med(std['upper']):.1f} ms")
    print(f"  ratio standard / federated (new service account, client-timed): "
          f"{med(std['client']) / med(new_client):.1f}; on Azure add the 40-60 s a VMSS identity update takes")
    print(f"{fan['requests']} requests from {FAN_PODS} pods sharing {FAN_ACCOUNTS} service accounts "
          f"({fan['served']} served, {fan['seconds']:.1f} s):")
    print(f"  TokenRequests {fan['token_requests']} (goal <= {FAN_PODS}: one per pod at most), "
          f"Entra exchanges {fan['exchanges']} (goal {FAN_ACCOUNTS}: one per service account and resource), "
          f"IMDS calls {fan['imds']}; requests per upstream call "
          f"{fan['requests'] / max(1, fan['token_requests'] + fan['exchanges']):.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
