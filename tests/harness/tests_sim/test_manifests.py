# SPDX-License-Identifier: Apache-2.0
"""The Node and Pod objects handed to a Kubernetes API stand-in describe the simulated node truthfully."""
from __future__ import annotations

import re

from podid_harness.sim import Node, azure_provider_id, pod_manifest


class RecordingApi:
    def __init__(self):
        self.nodes, self.pods, self.deleted = [], [], []

    def create_node(self, manifest):
        self.nodes.append(manifest)

    def create_pod(self, manifest):
        self.pods.append(manifest)

    def delete_pod(self, namespace, name):
        self.deleted.append((namespace, name))


def test_provider_id_is_a_vmss_instance():
    pid = azure_provider_id(subscription="s", resource_group="rg", vmss="vmss1", instance=3)
    assert pid == ("azure:///subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/"
                   "virtualMachineScaleSets/vmss1/virtualMachines/3")
    assert re.fullmatch(r"azure:///subscriptions/[0-9a-f-]{36}/resourceGroups/[^/]+/providers/Microsoft\.Compute/"
                        r"virtualMachineScaleSets/[^/]+/virtualMachines/\d+", azure_provider_id())


def test_pod_manifest_reflects_qos_and_runtime():
    m = pod_manifest("p", "ns", "u", "n", "10.0.0.2", "10.0.0.1", qos="guaranteed", runtime="crio",
                     container_id="c" * 64)
    assert m["status"]["qosClass"] == "Guaranteed"
    res = m["spec"]["containers"][0]["resources"]
    assert res["requests"] == res["limits"]
    assert m["status"]["containerStatuses"][0]["containerID"] == "cri-o://" + "c" * 64
    assert pod_manifest("p", "ns", "u", "n", "i", "h", qos="besteffort")["spec"]["containers"][0]["resources"] == {}


def test_node_and_pods_are_registered_with_the_api(root):
    api = RecordingApi()
    with Node.create(name="node-a", api=api, provider_id=azure_provider_id(instance=7)) as node:
        (n,) = api.nodes
        assert n["metadata"]["name"] == "node-a" and n["spec"]["providerID"].endswith("/virtualMachines/7")
        assert {"type": "InternalIP", "address": node.bridge_ip} in n["status"]["addresses"]
        pod = node.add_pod("web", namespace="apps", labels={"aadpodidbinding": "id1"}, service_account="sa1")
        hostpod = node.add_pod("hostie", host_network=True, qos="besteffort")
        m = api.pods[0]
        assert m["metadata"] == {"name": "web", "namespace": "apps", "uid": pod.uid,
                                 "labels": {"aadpodidbinding": "id1"},
                                 "creationTimestamp": m["metadata"]["creationTimestamp"]}
        assert m["spec"]["nodeName"] == "node-a" and m["spec"]["serviceAccountName"] == "sa1"
        assert m["spec"]["hostNetwork"] is False
        assert m["status"]["phase"] == "Running" and m["status"]["podIP"] == pod.ip
        assert m["status"]["podIPs"] == [{"ip": pod.ip}] and m["status"]["hostIP"] == node.bridge_ip
        assert m["status"]["containerStatuses"][0]["containerID"] == "containerd://" + pod.container_id
        h = api.pods[1]
        assert h["spec"]["hostNetwork"] is True and h["status"]["podIP"] == node.bridge_ip
        other = RecordingApi()
        node.add_pod("elsewhere", api=other)         # a per-pod api wins over the node's
        assert [p["metadata"]["name"] for p in other.pods] == ["elsewhere"] and len(api.pods) == 2
        node.remove_pod(pod)
        assert api.deleted == [("apps", "web")]
