# SPDX-License-Identifier: Apache-2.0
"""What a ControllerCluster test makes and holds: scale sets and VMs with their Nodes, identities with their
role grants and AzureIdentities, bindings, pods, and the AzureAssignedIdentities the controller writes for them.
`ClusterObjects` is the part of ControllerCluster (controller_cluster.py) that makes them; it uses the cluster's
`api` (KubeApiServer) and `cloud` (AzureState)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Optional

from .azure.state import Compute, rg_id
from .controller_deploy import MI_OPERATOR, VM_CONTRIBUTOR
from .identity_objects import (AAI, AZURE_IDENTITY, BINDING, BINDING_LABEL, FEDERATED_ANNOTATION, IDENTITY_RG,
                               IdentityRef, azure_identity, identity_binding)
from .waiting import wait_for


def provider_id(compute: Compute, instance: str = "") -> str:
    """spec.providerID as the Azure cloud provider writes it (lower-case `azure:///`, ARM casing kept)."""
    base = f"azure://{compute.resource_id}"
    return f"{base}/virtualMachines/{instance}" if instance != "" else base



# ---- what tests hold ------------------------------------------------------------------------------------------
@dataclass
class ScaleSet:
    compute: Compute
    nodes: list[str]

    @property
    def resource_id(self) -> str:
        return self.compute.resource_id

    @property
    def name(self) -> str:
        return self.compute.name


@dataclass
class PodRef:
    namespace: str
    name: str
    node: Optional[str]
    selector: Optional[str]


class ClusterObjects:
    """Mixin of ControllerCluster: the objects tests make, in Azure and in the API."""

    # ---- roles -------------------------------------------------------------------------------------------
    def grant(self, role: str, scope: str) -> None:
        self.cloud.assign_role(self.principal_id, role, scope)

    def revoke(self, role: str, scope: str) -> None:
        self.cloud.remove_role(self.principal_id, role, scope)

    def _grant_rg(self, rg: str) -> None:
        if self.grant_vm_contributor and rg.lower() not in self._granted_rgs:
            self.grant(VM_CONTRIBUTOR, rg_id(self.subscription, rg))
            self._granted_rgs.add(rg.lower())

    # ---- compute and nodes -------------------------------------------------------------------------------
    def add_scale_set(self, rg: str, name: str, nodes: int = 1, system_assigned: bool = False) -> ScaleSet:
        """A uniform VMSS with `nodes` instances, and one Node object per instance (named by computer name)."""
        vmss = self.cloud.add_vmss(rg, name, instances=[str(i) for i in range(nodes)],
                                   system_assigned=system_assigned)
        self._grant_rg(rg)
        names = []
        for inst in vmss.instances:
            self.add_node(inst.name, provider_id(vmss, inst.instance_id), pool=name)
            names.append(inst.name)
        ss = ScaleSet(vmss, names)
        self.scale_sets[vmss.resource_id.lower()] = ss
        return ss

    def add_vm(self, rg: str, name: str, system_assigned: bool = False) -> ScaleSet:
        """A standalone VM (availability set) and its Node."""
        vm = self.cloud.add_vm(rg, name, system_assigned=system_assigned)
        self._grant_rg(rg)
        self.add_node(name, provider_id(vm))
        ss = ScaleSet(vm, [name])
        self.scale_sets[vm.resource_id.lower()] = ss
        return ss

    def add_flex_scale_set(self, rg: str, name: str, nodes: int = 1) -> list[ScaleSet]:
        """A VMSS in Flexible orchestration: each member is a VM of its own, so each node is its own compute (its
        providerID names the VM, as on AKS); one ScaleSet per member VM."""
        _, vms = self.cloud.add_flex_vmss(rg, name, instances=nodes)
        self._grant_rg(rg)
        out = []
        for vm in vms:
            node = vm.instances[0].name
            self.add_node(node, provider_id(vm), pool=name)
            ss = ScaleSet(vm, [node])
            self.scale_sets[vm.resource_id.lower()] = ss
            out.append(ss)
        return out

    def add_node(self, name: str, provider: str, pool: str = "") -> dict:
        labels = {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux"}
        if pool:
            labels["kubernetes.azure.com/agentpool"] = pool
        return self.api.create_node({
            "apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels},
            "spec": {"providerID": provider},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]}})

    def move_node(self, node: str, target: ScaleSet, instance: str = "0") -> dict:
        """Point a Node's providerID at another scale set (a re-imaged node joining another pool by name)."""
        obj = self.api.get("nodes", node, "")
        obj["spec"]["providerID"] = provider_id(target.compute, instance if target.compute.kind.endswith(
            "ScaleSets") else "")
        return self.api.update(obj)

    def delete_node(self, node: str) -> None:
        self.api.delete("nodes", node, "")

    # ---- identities and bindings -------------------------------------------------------------------------
    def add_identity(self, ns: str, name: str, rg: str = IDENTITY_RG, grant_operator: bool = True,
                     create_cr: bool = True, federated: bool = False) -> IdentityRef:
        """A user-assigned identity in Azure and its AzureIdentity (type 0) in `ns`; the controller gets Managed
        Identity Operator on it unless grant_operator=False. federated=True annotates it podid.io/federated."""
        ident = self.cloud.add_identity(rg, name)
        if grant_operator:
            self.grant(MI_OPERATOR, ident.resource_id)
        ref = IdentityRef.managed(ns, name, ident)
        self.identities[(ns, name)] = ref
        if create_cr:
            self.api.create(azure_identity(ns, name, {"type": 0, "resourceID": ident.resource_id,
                                                      "clientID": ident.client_id},
                                           {FEDERATED_ANNOTATION: "true"} if federated else None))
        return ref

    def bind(self, ns: str, identity: IdentityRef, selector: str, name: Optional[str] = None) -> dict:
        name = name or f"{identity.name}-binding"
        self.bindings[(ns, name)] = (identity, selector)
        return self.api.create(identity_binding(ns, name, identity.name, selector))

    def unbind(self, ns: str, name: str) -> None:
        self.bindings.pop((ns, name), None)
        self.api.delete(BINDING, name, ns)

    def identity_cr(self, identity: IdentityRef) -> dict:
        return self.api.get(AZURE_IDENTITY, identity.name, identity.namespace)

    def binding_cr(self, ns: str, name: str) -> dict:
        return self.api.get(BINDING, name, ns)

    # ---- pods --------------------------------------------------------------------------------------------
    def pod_manifest(self, ns: str, name: str, node: Optional[str], selector: Optional[str]) -> dict:
        labels = {"app": name.rsplit("-", 1)[0]}
        if selector is not None:
            labels[BINDING_LABEL] = selector
        spec: dict = {"containers": [{"name": "app", "image": "mcr.microsoft.com/azure-cli"}]}
        if node:
            spec["nodeName"] = node
        return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns, "labels": labels},
                "spec": spec, "status": {"phase": "Running" if node else "Pending"}}

    def add_pod(self, ns: str, name: str, node: Optional[str], selector: Optional[str] = None) -> PodRef:
        self.api.create_pod(self.pod_manifest(ns, name, node, selector))
        ref = PodRef(ns, name, node, selector)
        self.pods[(ns, name)] = ref
        return ref

    def delete_pod(self, pod: PodRef) -> None:
        self.pods.pop((pod.namespace, pod.name), None)
        self.api.delete_pod(pod.namespace, pod.name)

    def identities_of(self, pod: PodRef) -> list[IdentityRef]:
        """The identities bound to `pod` through the bindings this cluster made (MIC's matching, §2.4)."""
        if pod.selector is None:
            return []
        return sorted({id(i): i for (ns, _), (i, sel) in self.bindings.items()
                       if sel == pod.selector and i.namespace == ns}.values(), key=lambda i: (i.namespace, i.name))

    # ---- AzureAssignedIdentities (aai_name: StandInCluster) ----------------------------------------------
    def aai(self, pod: PodRef, identity: IdentityRef, ns: str = "default") -> Optional[dict]:
        return self.api.find(AAI, self.aai_name(pod, identity), ns)

    def aais(self, ns: str = "") -> list[dict]:
        return self.api.list(AAI, namespace=ns)

    @staticmethod
    def aai_state(obj: Optional[dict]) -> Optional[str]:
        return None if obj is None else (obj.get("status") or {}).get("status")

    def wait_assigned(self, *pods: PodRef, timeout: float = 60, ns: str = "default") -> list[dict]:
        """Every bound identity of every pod has an AzureAssignedIdentity in state Assigned."""
        want = [(p, i) for p in pods for i in self.identities_of(p)]
        if not want:
            raise ValueError("no pod given is bound to an identity this cluster knows")

        def done():
            objs = [self.aai(p, i, ns) for p, i in want]
            return objs if all(self.aai_state(o) == "Assigned" for o in objs) else None

        return wait_for(done, timeout, f"Assigned AzureAssignedIdentities for {len(want)} (pod, identity) pairs",
                        diagnose=lambda: self._diagnose([self.aai_name(p, i) for p, i in want], ns))

    def wait_aai_gone(self, pod: PodRef, identity: IdentityRef, timeout: float = 60, ns: str = "default") -> None:
        wait_for(lambda: self.aai(pod, identity, ns) is None, timeout, f"{self.aai_name(pod, identity)} deleted",
                 diagnose=lambda: self._diagnose([self.aai_name(pod, identity)], ns))

    def wait_on_compute(self, target: ScaleSet, identity: IdentityRef, present: bool = True,
                        timeout: float = 60) -> None:
        wait_for(lambda: (identity.key in self.cloud.assigned_ids(target.resource_id)) == present, timeout,
                 f"{identity.name} {'on' if present else 'off'} {target.name}", diagnose=self.diagnostics)

    def _diagnose(self, names: list[str], ns: str) -> str:
        lines = []
        for n in names[:20]:
            o = self.api.find(AAI, n, ns)
            lines.append(f"  AAI {ns}/{n}: {'absent' if o is None else json.dumps(o.get('status'))}")
        return "\n".join(lines) + "\n" + self.diagnostics()
