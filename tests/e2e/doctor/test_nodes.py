# SPDX-License-Identifier: Apache-2.0
"""`podid doctor`'s per-node findings, from what the Node objects carry (the kubelet's status.nodeInfo, AKS's
labels): a pool on a kernel too old for podid, one without the frame hooks, one with all of them, and kubenet.
Read from the one node list doctor makes: no call per node."""
from __future__ import annotations

from podid_harness.controller_cluster import NODE_RG


def set_node(cluster, name: str, kernel: str, plugin: str = "") -> None:
    node = cluster.api.get("nodes", name, "")
    node["status"]["nodeInfo"] = {"kernelVersion": kernel, "containerRuntimeVersion": "containerd://1.7.15",
                                  "osImage": "Ubuntu 22.04.4 LTS"}
    cluster.api.update_status(node)
    if plugin:
        cluster.api.patch("nodes", name, {"metadata": {"labels": {"kubernetes.azure.com/network-plugin": plugin}}},
                          namespace="")


def test_kernels_and_kubenet_from_the_node_objects(cluster, doctor):
    old = cluster.add_scale_set(NODE_RG, "legacy-vmss", nodes=2)
    ubuntu = cluster.add_scale_set(NODE_RG, "ubuntu-vmss")
    azl = cluster.add_scale_set(NODE_RG, "azl-vmss")
    for n in old.nodes:
        set_node(cluster, n, "5.4.0-1109-azure")
    set_node(cluster, ubuntu.nodes[0], "5.15.0-1064-azure", plugin="kubenet")
    set_node(cluster, azl.nodes[0], "6.6.64.2-9.azl3", plugin="kubenet")
    doctor.agents_everywhere()
    calls_before = len(cluster.api.requests(verb="get", resource="nodes"))

    r = doctor.run("doctor", azure=False)
    assert r.status == 1, r.stdout + r.stderr
    too_old = r.finding("KernelTooOld")
    assert too_old["object"] == f"Nodes {old.nodes[0]}, {old.nodes[1]}" and too_old["severity"] == "error"
    assert "kernel 5.4.0-1109-azure is older than 5.8" in too_old["cause"]
    assert "--name legacy-vmss --node-image-only" in too_old["fix"]
    no_hooks = r.finding("KernelWithoutFrameHooks")
    assert no_hooks["object"] == f"Node {ubuntu.nodes[0]}" and "NET_RAW" in no_hooks["cause"]
    kubenet = r.finding("NetworkPluginKubenet")
    assert kubenet["severity"] == "info" and kubenet["object"] == f"Nodes {azl.nodes[0]}, {ubuntu.nodes[0]}"
    assert not [f for f in r.json()["findings"] if azl.nodes[0] in f["object"] and f["code"].startswith("Kernel")]
    # No read of a single node: the nodes come from the one list.
    assert len(cluster.api.requests(verb="get", resource="nodes")) == calls_before
