# SPDX-License-Identifier: Apache-2.0
"""deploy/network-policies/ (and the chart's optional network policies): in every dialect (Kubernetes, Calico,
Cilium) they allow pods exactly the agent's default address and port, and kubectl applies them to the API
stand-in as deploy/network-policies/README.md says."""
from __future__ import annotations

import re

from doc_blocks import ROOT
from doc_stand_in import manifest_objects, name_of

POLICIES = ROOT / "deploy" / "network-policies"


def agent_default_address() -> tuple[str, int]:
    header = (ROOT / "agent" / "config.h").read_text()
    addr = re.search(r'kDefaultAgentAddress\s*=\s*"([0-9.]+)"', header).group(1)
    port = int(re.search(r"kDefaultAgentPort\s*=\s*(\d+)", header).group(1))
    return addr, port


def policy_allows(obj: dict) -> list[tuple[str, str, int]]:
    """(destination, protocol, port) of each egress allow, whatever the policy dialect; raises on a rule
    without ports (it would allow more than the agent)."""
    kind, spec, out = obj["kind"], obj.get("spec") or {}, []
    if kind == "NetworkPolicy" and obj["apiVersion"].startswith("networking.k8s.io/"):
        assert spec.get("policyTypes") == ["Egress"], obj
        for rule in spec.get("egress") or []:
            assert rule.get("ports"), f"{kind}: an egress rule without ports"
            for to in rule.get("to") or []:
                for p in rule["ports"]:
                    out.append((to["ipBlock"]["cidr"], p["protocol"], int(p["port"])))
    elif obj["apiVersion"].startswith("projectcalico.org/"):
        assert spec.get("types") == ["Egress"], obj
        for rule in spec.get("egress") or []:
            assert rule["action"] == "Allow" and rule["destination"].get("ports"), rule
            for net in rule["destination"]["nets"]:
                for port in rule["destination"]["ports"]:
                    out.append((net, rule["protocol"], int(port)))
    elif obj["apiVersion"].startswith("cilium.io/"):
        for rule in spec.get("egress") or []:
            assert rule.get("toPorts"), f"{kind}: an egress rule without toPorts"
            dests = rule.get("toCIDR") or [f"entity:{e}" for e in rule.get("toEntities") or []]
            assert dests, rule
            for d in dests:
                for tp in rule["toPorts"]:
                    for p in tp["ports"]:
                        out.append((d, p["protocol"], int(p["port"])))
    else:
        raise AssertionError(f"not a network policy this test knows: {obj['apiVersion']} {kind}")
    return out


def test_network_policies_allow_exactly_the_agents_address_and_port():
    addr, port = agent_default_address()
    files = sorted(POLICIES.glob("*.yaml"))
    assert {f.name for f in files} >= {"kubernetes-networkpolicy.yaml", "calico-networkpolicy.yaml",
                                       "cilium-networkpolicy.yaml"}
    files += sorted((ROOT / "deploy" / "manifests" / "optional").glob("networkpolicy*.yaml"))
    for f in files:
        objs = manifest_objects(f)
        assert objs, f.name
        for obj in objs:
            allows = policy_allows(obj)
            assert allows, f"{f.name}: {obj['kind']} allows nothing"
            for dest, proto, p in allows:
                assert (proto, p) == ("TCP", port), (f.name, obj["kind"], dest, proto, p)
                assert dest in (f"{addr}/32", "entity:host"), (f.name, obj["kind"], dest)
            assert (f"{addr}/32", "TCP", port) in allows, (f.name, obj["kind"], allows)


def test_network_policies_apply_to_the_api_stand_in(cluster):
    cluster.run("kubectl create namespace demo && kubectl apply -f deploy/network-policies/", "network-policies")
    for obj in manifest_objects(POLICIES):
        plural, name, ns = name_of(cluster.api, obj)
        assert cluster.api.find(plural, name, ns) is not None, f"{obj['kind']} {ns}/{name} not created"
