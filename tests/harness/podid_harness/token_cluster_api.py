# SPDX-License-Identifier: Apache-2.0
"""What TokenCluster's API stand-in holds besides the objects tests make: the aadpodidentity.k8s.io CRDs as the
predecessor's MIC wrote against them, schema open so that a test can write any object MIC wrote (the
controller's cluster loads deploy/crds/ instead, structural schemas and all), and what the agent may do."""
from __future__ import annotations

from typing import Any, Iterable

from .identity_objects import GROUP

AGENT_USER = "system:serviceaccount:kube-system:podid-agent"
TOKEN_AUDIENCE = "api://AzureADTokenExchange"

# What the chart's ClusterRole grants the agent: the node's pods, the four CRDs, Secrets of service-principal
# identities, service accounts (federated), its Node (startup taint) and Events. Anything else it asks for is a
# 403 in api.request_log.
AGENT_RULES = [
    (["get", "list", "watch"], [""], ["pods"]),
    (["list", "watch"], [""], ["serviceaccounts"]),
    (["get", "list", "watch", "patch", "update"], [""], ["nodes"]),
    (["get", "list", "watch"], [""], ["secrets"]),
    (["create", "patch", "update"], ["", "events.k8s.io"], ["events"]),
    (["get", "list", "watch"], [GROUP], ["azureidentities", "azureidentitybindings", "azureassignedidentities",
                                         "azurepodidentityexceptions"]),
]


def crd(kind: str, plural: str, columns: Iterable[tuple[str, str, str]] = (), status_subresource: bool = False
        ) -> dict:
    """An aadpodidentity.k8s.io/v1 CustomResourceDefinition (namespaced; schema open, as the stand-in does not
    validate)."""
    version: dict[str, Any] = {
        "name": "v1", "served": True, "storage": True,
        "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
        "additionalPrinterColumns": [{"name": n, "type": t, "jsonPath": p} for n, t, p in columns]
        + [{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}],
    }
    if status_subresource:
        version["subresources"] = {"status": {}}
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.{GROUP}", "annotations": {"api-approved.kubernetes.io": "unapproved"}},
            "spec": {"group": GROUP, "scope": "Namespaced", "versions": [version],
                     "names": {"kind": kind, "listKind": kind + "List", "plural": plural,
                               "singular": kind.lower()}}}


CRDS = [
    crd("AzureIdentity", "azureidentities", [("Type", "integer", ".spec.type"), ("ClientID", "string",
                                                                                  ".spec.clientID")]),
    crd("AzureIdentityBinding", "azureidentitybindings", [("AzureIdentity", "string", ".spec.azureIdentity"),
                                                          ("Selector", "string", ".spec.selector")]),
    # podid's controller writes status.status through /status (tests_kube/fixtures): declared here too.
    crd("AzureAssignedIdentity", "azureassignedidentities", [("Pod", "string", ".spec.pod"),
                                                             ("Node", "string", ".spec.nodename"),
                                                             ("State", "string", ".status.status")],
        status_subresource=True),
    crd("AzurePodIdentityException", "azurepodidentityexceptions"),
]
