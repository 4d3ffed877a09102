# SPDX-License-Identifier: Apache-2.0
"""Kubernetes Node and Pod objects as the API server would hold them for a simulated node and its pods.

The agent learns a pod's namespace, service account, hostNetwork flag and IPs from these, and the controller
learns a node's VM scale set from spec.providerID, so they carry the fields real clients read, spelled as the
API server spells them (status.qosClass, containerID with the runtime's scheme, podIPs beside podIP...).
"""
from __future__ import annotations

import datetime
from typing import Optional

from .layout import CONTAINER_ID_SCHEME

DEFAULT_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
DEFAULT_RESOURCE_GROUP = "MC_podid-test_podid-cluster_eastus"
DEFAULT_VMSS = "aks-nodepool1-12345678-vmss"
_QOS_CLASS = {"guaranteed": "Guaranteed", "burstable": "Burstable", "besteffort": "BestEffort"}
# Resources that make the kubelet put the pod in the QoS class asked for.
_RESOURCES = {"guaranteed": {"requests": {"cpu": "100m", "memory": "64Mi"},
                             "limits": {"cpu": "100m", "memory": "64Mi"}},
              "burstable": {"requests": {"cpu": "50m", "memory": "32Mi"}},
              "besteffort": {}}


def now_rfc3339() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def azure_provider_id(subscription: str = DEFAULT_SUBSCRIPTION, resource_group: str = DEFAULT_RESOURCE_GROUP,
                      vmss: str = DEFAULT_VMSS, instance: int = 0) -> str:
    """spec.providerID of a VMSS instance, as the Azure cloud provider writes it."""
    return (f"azure:///subscriptions/{subscription}/resourceGroups/{resource_group}/providers/"
            f"Microsoft.Compute/virtualMachineScaleSets/{vmss}/virtualMachines/{instance}")


def node_manifest(name: str, node_ip: str, pod_cidr: str, provider_id: Optional[str] = None,
                  labels: Optional[dict] = None, created: Optional[str] = None) -> dict:
    provider_id = provider_id or azure_provider_id()
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                       "kubernetes.io/arch": "amd64", "node.kubernetes.io/instance-type": "Standard_D4s_v3",
                       "topology.kubernetes.io/region": "eastus", "kubernetes.azure.com/agentpool": "nodepool1",
                       **(labels or {})},
            "creationTimestamp": created or now_rfc3339(),
        },
        "spec": {"providerID": provider_id, "podCIDR": pod_cidr, "podCIDRs": [pod_cidr]},
        "status": {
            "addresses": [{"type": "InternalIP", "address": node_ip}, {"type": "Hostname", "address": name}],
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}],
            "nodeInfo": {"operatingSystem": "linux", "architecture": "amd64"},
        },
    }


def pod_manifest(name: str, namespace: str, uid: str, node_name: str, pod_ip: str, host_ip: str,
                 labels: Optional[dict] = None, service_account: str = "default", host_network: bool = False,
                 qos: str = "burstable", runtime: str = "containerd", container_id: str = "",
                 created: Optional[str] = None) -> dict:
    created = created or now_rfc3339()
    container = {"name": "app", "image": "mcr.microsoft.com/azure-cli:latest",
                 "resources": _RESOURCES[qos]}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "uid": uid, "labels": dict(labels or {}),
                     "creationTimestamp": created},
        "spec": {
            "nodeName": node_name,
            "serviceAccountName": service_account,
            "serviceAccount": service_account,        # the deprecated alias the API server still fills in
            "hostNetwork": host_network,
            "containers": [container],
            "restartPolicy": "Always",
        },
        "status": {
            "phase": "Running",
            "qosClass": _QOS_CLASS[qos],
            "hostIP": host_ip,
            "hostIPs": [{"ip": host_ip}],
            "podIP": pod_ip,
            "podIPs": [{"ip": pod_ip}],
            "startTime": created,
            "conditions": [{"type": t, "status": "True"}
                           for t in ("PodScheduled", "Initialized", "ContainersReady", "Ready")],
            "containerStatuses": [{
                "name": "app", "image": container["image"], "ready": True, "started": True,
                "restartCount": 0, "containerID": CONTAINER_ID_SCHEME[runtime] + container_id,
                "state": {"running": {"startedAt": created}},
            }],
        },
    }
