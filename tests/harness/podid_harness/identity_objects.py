# SPDX-License-Identifier: Apache-2.0
"""The aad-pod-identity objects both test clusters write and read (TokenCluster for the agent, ControllerCluster
for the controller): their API names, the identity as tests hold it (`IdentityRef`), and the AzureIdentity and
AzureIdentityBinding manifests. One definition, so an agent test and a controller test mean the same object by
the same words."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from .azure.entra import App
from .azure.state import Identity

GROUP = "aadpodidentity.k8s.io"
AZURE_IDENTITY = "azureidentities." + GROUP
BINDING = "azureidentitybindings." + GROUP
AAI = "azureassignedidentities." + GROUP
BINDING_LABEL = "aadpodidbinding"
AAI_FINALIZER = "azureassignedidentity.finalizers.aadpodidentity.k8s.io"
FEDERATED_ANNOTATION = "podid.io/federated"

# Where the clusters' Azure objects live: the node pools' resource group (AKS's MC_ group) and the workloads'.
NODE_RG = "MC_podid_rg_eastus"
IDENTITY_RG = "podid-workloads"


@dataclass
class IdentityRef:
    """One identity as the tests see it: the AzureIdentity CR's place and what stands behind it in Azure."""
    namespace: str
    name: str
    type: int
    client_id: str
    principal_id: str          # the token's `oid`
    resource_id: str           # "" for service principals
    azure: Optional[Identity] = None   # type 0: the user-assigned identity in AzureState
    app: Optional[App] = None          # types 1 and 2, and federated identities: the Entra registration

    @classmethod
    def managed(cls, namespace: str, name: str, ident: Identity, app: Optional[App] = None) -> "IdentityRef":
        """A type-0 identity: a user-assigned managed identity."""
        return cls(namespace, name, 0, ident.client_id, ident.principal_id, ident.resource_id, azure=ident, app=app)

    @property
    def key(self) -> str:
        """How ARM and the controller compare identities: the resource ID, case-insensitive."""
        return self.resource_id.lower()


def azure_identity(namespace: str, name: str, spec: dict, annotations: Optional[dict] = None) -> dict:
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    if annotations is not None:
        metadata["annotations"] = annotations
    return {"apiVersion": f"{GROUP}/v1", "kind": "AzureIdentity", "metadata": metadata, "spec": spec}


def identity_binding(namespace: str, name: str, identity: str, selector: str) -> dict:
    return {"apiVersion": f"{GROUP}/v1", "kind": "AzureIdentityBinding",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"azureIdentity": identity, "selector": selector}}


def aai_name(pod: Any, identity: IdentityRef) -> str:
    """The AzureAssignedIdentity's name for (pod, identity), as MIC and podid-controller name it."""
    return f"{pod.name}-{pod.namespace}-{identity.name}"
