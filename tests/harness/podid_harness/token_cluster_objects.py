# SPDX-License-Identifier: Apache-2.0
"""What a TokenCluster test makes in Azure and in the API: identities (managed, service principal, federated),
annotated service accounts, bindings, exceptions, and AzureAssignedIdentities written as aad-pod-identity's MIC
wrote them. `TokenClusterObjects` is the part of TokenCluster (token_cluster.py) that makes them; it uses the
cluster's `api`, `cloud`, `vmss`, `entra` and `mode`."""
from __future__ import annotations

import base64
import uuid
from typing import Iterable, Optional

from .identity_objects import (AAI, AAI_FINALIZER, AZURE_IDENTITY, BINDING, BINDING_LABEL, FEDERATED_ANNOTATION,
                               GROUP, IDENTITY_RG, IdentityRef, azure_identity, identity_binding)
from .sim import Pod
from .token_cluster_api import TOKEN_AUDIENCE


class TokenClusterObjects:
    """Mixin of TokenCluster: the objects tests make, in Azure and in the API."""

    def add_identity(self, namespace: str, name: str, type: int = 0, *, on_vmss: Optional[bool] = None,
                     namespaced: bool = False, client_id: Optional[str] = None, secret: str = "s3cret-value",
                     annotations: Optional[dict] = None) -> IdentityRef:
        """An identity and its AzureIdentity CR. Type 0: a user-assigned managed identity in AzureState
        (put on the VMSS now if `on_vmss`, default: in managed mode; in standard mode `assign()` does it).
        Type 1: an app registration in the Entra emulator with `secret`, a Secret holding it, and the CR
        pointing at the emulator (`adEndpoint`). `client_id` overrides the CR's clientID (a wrong one)."""
        annotations = dict(annotations or {})
        if namespaced:
            annotations["aadpodidentity.k8s.io/Behavior"] = "namespaced"
        if type == 0:
            ident = self.cloud.add_identity(IDENTITY_RG, f"{namespace}-{name}")
            if on_vmss if on_vmss is not None else self.mode == "managed":
                self.cloud.assign_identity(self.vmss.resource_id, ident.resource_id)
            ref = IdentityRef.managed(namespace, name, ident)
            spec = {"type": 0, "resourceID": ident.resource_id, "clientID": client_id or ident.client_id}
        elif type == 1:
            app = self.entra.register_app(secret=secret, display_name=f"{namespace}-{name}")
            secret_name = f"{name}-sp"
            self.api.create({"apiVersion": "v1", "kind": "Secret",
                             "metadata": {"name": secret_name, "namespace": namespace}, "type": "Opaque",
                             "data": {"clientSecret": base64.b64encode(secret.encode()).decode()}})
            ref = IdentityRef(namespace, name, 1, app.client_id, app.object_id, "", app=app)
            spec = {"type": 1, "tenantID": self.issuer.tenant_id, "clientID": client_id or app.client_id,
                    "clientPassword": {"name": secret_name, "namespace": namespace},
                    "adEndpoint": self.entra_server.url + "/"}
        else:
            raise ValueError(f"identity type {type} is not supported here (0 or 1)")
        self.api.create(azure_identity(namespace, name, spec, annotations))
        return ref

    def add_federated_identity(self, namespace: str, name: str, *, subjects: Iterable[tuple[str, str]] = (),
                               crd: bool = True, app_registration: bool = False,
                               annotations: Optional[dict] = None) -> IdentityRef:
        """A federated identity: a user-assigned identity (or, with `app_registration`, an app registration) known
        to Entra ID with one federated credential per (namespace, service account) in `subjects`, issuer the API
        stand-in. Nothing is put on the scale set. With `crd`, also its AzureIdentity, annotated
        podid.io/federated: "true" (type 0 with resourceID and clientID as the predecessor's objects had them)."""
        if app_registration:
            app = self.entra.register_app(display_name=f"{namespace}-{name}")
            ref = IdentityRef(namespace, name, 1, app.client_id, app.object_id, "", app=app)
            spec = {"type": 1, "clientID": app.client_id, "tenantID": self.issuer.tenant_id}
        else:
            ident = self.cloud.add_identity(IDENTITY_RG, f"{namespace}-{name}")
            app = self.entra.register_app(client_id=ident.client_id, object_id=ident.principal_id,
                                          display_name=ident.name)
            ref = IdentityRef.managed(namespace, name, ident, app=app)
            spec = {"type": 0, "resourceID": ident.resource_id, "clientID": ident.client_id}
        for ns, sa in subjects:
            self.federate(ref, ns, sa)
        if crd:
            self.api.create(azure_identity(namespace, name, spec,
                                           {FEDERATED_ANNOTATION: "true", **(annotations or {})}))
        return ref

    def federate(self, ident: IdentityRef, namespace: str, service_account: str, issuer: Optional[str] = None):
        """A federated identity credential for system:serviceaccount:<namespace>:<service_account>."""
        return self.entra.add_federated_credential(ident.app, issuer or self.api.issuer,
                                                   f"system:serviceaccount:{namespace}:{service_account}",
                                                   TOKEN_AUDIENCE, name=f"{namespace}-{service_account}")

    def service_account(self, namespace: str, name: str, client_id: Optional[str] = None,
                        tenant_id: Optional[str] = None) -> dict:
        """Create (or re-annotate) a service account as Azure Workload Identity's users write them."""
        annotations = {}
        if client_id is not None:
            annotations["azure.workload.identity/client-id"] = client_id
        if tenant_id is not None:
            annotations["azure.workload.identity/tenant-id"] = tenant_id
        existing = self.api.find("serviceaccounts", name, namespace)
        if existing is None:
            return self.api.create({"apiVersion": "v1", "kind": "ServiceAccount",
                                    "metadata": {"name": name, "namespace": namespace, "annotations": annotations}})
        existing["metadata"]["annotations"] = annotations
        return self.api.update(existing)

    def retarget_identity(self, ident: IdentityRef) -> IdentityRef:
        """Point the AzureIdentity CR at a new Azure identity (new clientID and resourceID), already on the
        VMSS, as an operator replacing a UAMI would. Returns the new reference (same CR)."""
        new = self.cloud.add_identity(IDENTITY_RG, f"{ident.namespace}-{ident.name}-{uuid.uuid4().hex[:6]}")
        self.cloud.assign_identity(self.vmss.resource_id, new.resource_id)
        self.api.patch(AZURE_IDENTITY, ident.name,
                       {"spec": {"clientID": new.client_id, "resourceID": new.resource_id}}, ident.namespace)
        return IdentityRef.managed(ident.namespace, ident.name, new)

    def bind(self, namespace: str, binding: str, identity: IdentityRef | str, selector: str) -> dict:
        name = identity if isinstance(identity, str) else identity.name
        return self.api.create(identity_binding(namespace, binding, name, selector))

    def unbind(self, namespace: str, binding: str) -> None:
        self.api.delete(BINDING, binding, namespace)

    def exception(self, namespace: str, labels: dict, name: Optional[str] = None) -> dict:
        return self.api.create({"apiVersion": f"{GROUP}/v1", "kind": "AzurePodIdentityException",
                                "metadata": {"name": name or f"exception-{uuid.uuid4().hex[:6]}",
                                             "namespace": namespace},
                                "spec": {"podLabels": dict(labels)}})

    def _aai_namespace(self, identity: IdentityRef) -> str:
        namespaced = "--force-namespaced" in self.agent_args or self._identity_obj(identity)["metadata"].get(
            "annotations", {}).get("aadpodidentity.k8s.io/Behavior") == "namespaced"
        return identity.namespace if namespaced else "default"

    def _identity_obj(self, identity: IdentityRef) -> dict:
        return self.api.get(AZURE_IDENTITY, identity.name, identity.namespace)

    def assign(self, pod: Pod, identity: IdentityRef, state: str = "Assigned",
               binding: Optional[str] = None) -> dict:
        """Write the AzureAssignedIdentity as aad-pod-identity's MIC does (reference §3.3) and, when
        `state` is Assigned, put the identity on the VMSS so the node's IMDS serves it."""
        if binding is None:
            matches = [b for b in self.api.list(BINDING, identity.namespace)
                       if b["spec"].get("azureIdentity") == identity.name
                       and b["spec"].get("selector") == pod.labels.get(BINDING_LABEL)]
            binding_obj = matches[0] if matches else {}
        else:
            binding_obj = self.api.get(BINDING, binding, identity.namespace)
        if state == "Assigned" and identity.azure is not None:
            self.cloud.assign_identity(self.vmss.resource_id, identity.resource_id)
        obj = {"apiVersion": f"{GROUP}/v1", "kind": "AzureAssignedIdentity",
               "metadata": {"name": self.aai_name(pod, identity), "namespace": self._aai_namespace(identity),
                            "labels": {"nodename": self.node_name}, "finalizers": [AAI_FINALIZER]},
               "spec": {"pod": pod.name, "podNamespace": pod.namespace, "nodename": self.node_name,
                        "azureIdentityRef": self._identity_obj(identity), "azureBindingRef": binding_obj},
               "status": {"status": state, "availableReplicas": 1}}
        return self.api.create(obj, keep_status=True)

    def set_assignment_state(self, pod: Pod, identity: IdentityRef, state: str) -> dict:
        if state == "Assigned" and identity.azure is not None:
            self.cloud.assign_identity(self.vmss.resource_id, identity.resource_id)
        obj = self.api.get(AAI, self.aai_name(pod, identity),
                           self._aai_namespace(identity))
        obj["status"] = {"status": state, "availableReplicas": 1}
        return self.api.update_status(obj)

    def refresh_assignment(self, pod: Pod, identity: IdentityRef) -> dict:
        """Re-embed the current AzureIdentity (and binding) in the pod's AzureAssignedIdentity, as MIC does
        when an identity changes."""
        obj = self.api.get(AAI, self.aai_name(pod, identity),
                           self._aai_namespace(identity))
        obj["spec"]["azureIdentityRef"] = self._identity_obj(identity)
        ref = obj["spec"].get("azureBindingRef") or {}
        name = (ref.get("metadata") or {}).get("name")
        if name:
            fresh = self.api.find(BINDING, name, identity.namespace)
            if fresh is not None:
                obj["spec"]["azureBindingRef"] = fresh
        return self.api.update(obj)

    def unassign(self, pod: Pod, identity: IdentityRef) -> None:
        ns, name = self._aai_namespace(identity), self.aai_name(pod, identity)
        obj = self.api.get(AAI, name, ns)
        if obj["metadata"].get("finalizers"):
            obj["metadata"]["finalizers"] = []
            self.api.update(obj)
        if self.api.find(AAI, name, ns) is not None:
            self.api.delete(AAI, name, ns)
