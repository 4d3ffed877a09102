# SPDX-License-Identifier: Apache-2.0
"""A cluster for podid-controller on one machine: the Kubernetes API stand-in, ARM, Entra ID (or IMDS), and
the controller's processes, all on 127.0.0.1 with ports chosen by the OS.

    with ControllerCluster(tmp_path) as c:
        pool = c.add_scale_set("MC_rg", "aks-pool1", nodes=2)     # VMSS in AzureState + Node objects
        web = c.add_identity("shop", "web-id")                    # UAMI (+ Managed Identity Operator) + AzureIdentity
        c.bind("shop", web, selector="web")                       # AzureIdentityBinding
        c.start_controller()
        pod = c.add_pod("shop", "web-0", pool.nodes[0], selector="web")
        c.wait_assigned(pod)                                      # AzureAssignedIdentity Assigned
        assert web.resource_id.lower() in c.cloud.assigned_ids(pool.resource_id)
        assert c.arm.counters["PATCH vmss"] == 1

No simulated nodes: the controller only talks to the API and to ARM, so nodes and pods exist as API objects
only, and the scale sets and identities only in `AzureState`. What it builds:

    KubeApiServer (HTTPS, the run's TestCA) with the four aadpodidentity.k8s.io CRDs and the controller's
        namespace; the controller authenticates with a token limited to CONTROLLER_RULES (the chart's RBAC)
    ArmEmulator over HTTPS (TestCA), long-running updates polled through Azure-AsyncOperation
    EntraEmulator over HTTPS (service-principal auth, the default), or ImdsEmulator over HTTP (auth="msi")
    environment.json  {"name": "AzureStackCloud", resourceManagerEndpoint: ARM, activeDirectoryEndpoint: Entra}
    azure.json        cloud AzureStackCloud, the service principal (or useManagedIdentityExtension)

Roles are explicit: the controller's principal gets Virtual Machine Contributor on each node resource group
(`add_scale_set`/`add_vm`, unless grant_vm_contributor=False) and Managed Identity Operator on each identity
(`add_identity`, unless grant_operator=False); `grant()`/`revoke()` change them later.

Processes started by `start_controller` are killed by pid when the cluster closes (also when a test fails).
The binary is <PODID_BUILD_DIR>/controller/podid-controller (default <repo>/build).

The parts, one concern each: standin_cluster.py (what this cluster and TokenCluster share: the CA, the Azure
state, the API stand-in, tear-down), identity_objects.py (the aad-pod-identity names, IdentityRef, manifests),
controller_deploy.py (CRDs, RBAC and names from deploy/), controller_objects.py (scale sets, VMs, nodes,
identities, bindings, pods, AAIs: `ClusterObjects`), controller_process.py (one replica), waiting.py (bounded
polling). This module builds the servers, runs the replicas and observes them, and re-exports what tests import.
"""
from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import uuid
from pathlib import Path
from typing import Any, Iterable, Optional

from .azure.arm import ArmEmulator
from .azure.entra import EntraEmulator
from .azure.imds import ImdsEmulator
from .azure.state import Identity
from .controller_deploy import (ARM_AUDIENCE, CONTROLLER_NS, CONTROLLER_RULES, CONTROLLER_USER, KUBE_WRITES,
                                LEASE_NAME, MI_OPERATOR, VM_CONTRIBUTOR, controller_rules, load_crds)
from .controller_objects import ClusterObjects, PodRef, ScaleSet, provider_id
from .controller_process import CONTROLLER, FAST_ARGS, ControllerProcess, free_port
from .identity_objects import (AAI, AAI_FINALIZER, AZURE_IDENTITY, BINDING, BINDING_LABEL, GROUP, IDENTITY_RG,
                               NODE_RG, IdentityRef)
from .paths import BUILD, REPO
from .prometheus_text import parse_samples
from .standin_cluster import StandInCluster
from .waiting import WaitTimeout, wait_for


# ---- the cluster ----------------------------------------------------------------------------------------------
class ControllerCluster(StandInCluster, ClusterObjects):
    """See the module docstring.

    `auth`: "sp" (service principal, secret, through the Entra emulator) or "msi" (a user-assigned identity
    through the IMDS emulator, the way AKS runs it; the identity is the cloud config's userAssignedIdentityID and
    so immutable). `lro_polls`: polls answered InProgress before an update succeeds. `kube_rules`: the
    controller's API permissions (None: CONTROLLER_RULES; "admin": everything). `controller_args`: flags added to
    every replica (FAST_ARGS are the defaults they override)."""

    def __init__(self, tmp: Path, *, auth: str = "sp", lro: bool = True, lro_polls: int = 1,
                 grant_vm_contributor: bool = True, kube_rules: Any = None,
                 controller_args: Iterable[str] = (), immutable_identity: bool = False,
                 history_window: int = 20000) -> None:
        if auth not in ("sp", "msi"):
            raise ValueError(f"auth {auth!r} is not 'sp' or 'msi'")
        super().__init__(tmp)
        self.auth, self.lro, self.lro_polls = auth, lro, lro_polls
        self.grant_vm_contributor = grant_vm_contributor
        self._kube_rules = kube_rules
        self.controller_args = list(controller_args)
        self._immutable_identity = immutable_identity
        self._history_window = history_window
        self.controllers: dict[int, ControllerProcess] = {}
        self._all_processes: list[ControllerProcess] = []
        self.scale_sets: dict[str, ScaleSet] = {}
        self.identities: dict[tuple[str, str], IdentityRef] = {}
        self.bindings: dict[tuple[str, str], tuple[IdentityRef, str]] = {}   # (ns, name) -> (identity, selector)
        self.pods: dict[tuple[str, str], PodRef] = {}
        self._granted_rgs: set[str] = set()
        self.cluster_identity: Optional[Identity] = None
        self.crd_source = self.rbac_source = ""

    # ---- life cycle --------------------------------------------------------------------------------------
    def close(self) -> None:
        for p in self._all_processes:
            with contextlib.suppress(Exception):
                p.kill(signal.SIGKILL, timeout=10)
        super().close()

    def _build(self) -> None:
        st = self._stack
        self._start_azure("podid controller-cluster CA")
        self.subscription = self.cloud.default_subscription
        tls = self.ca.server_context(["127.0.0.1", "localhost"])

        self.arm = ArmEmulator(self.cloud, self.issuer, lro=self.lro, lro_polls=self.lro_polls)
        self.arm_server = st.enter_context(self.arm.serve(tls=tls))
        self.entra = EntraEmulator(self.issuer)
        self.entra_server = st.enter_context(self.entra.serve(tls=tls))
        self.arm.entra = self.entra  # ARM lists the federated credentials Entra ID checks

        self.secret = "podid-" + uuid.uuid4().hex
        self.imds: Optional[ImdsEmulator] = None
        if self.auth == "sp":
            self.sp = self.entra.register_app(secret=self.secret, display_name="podid-controller")
            self.principal_id, self.client_id = self.sp.object_id, self.sp.client_id
        else:
            # The controller runs on a system pool whose kubelet identity is its ARM identity (AKS's layout).
            self.system_pool = self.cloud.add_vmss(NODE_RG, "aks-system-vmss", instances=["0"])
            self.cluster_identity = self.cloud.add_identity(NODE_RG, "podid-cluster-agentpool")
            self.cloud.assign_identity(self.system_pool.resource_id, self.cluster_identity.resource_id)
            self.principal_id, self.client_id = self.cluster_identity.principal_id, self.cluster_identity.client_id
            self.imds = ImdsEmulator(self.cloud, self.issuer, vm=self.system_pool.resource_id, instance="0")
            self.imds_server = st.enter_context(self.imds.serve(host="127.0.0.1", port=0))
        if self._immutable_identity and self.cluster_identity is None:
            # The cluster's own identity named in azure.json (userAssignedIdentityID) without using it to log in.
            self.cluster_identity = self.cloud.add_identity(NODE_RG, "podid-cluster-agentpool")

        crds, self.crd_source = load_crds()
        if len(crds) != 4:
            raise RuntimeError(f"expected the four {GROUP} CRDs in {self.crd_source}, found {len(crds)}")
        self._start_api(crds, history_window=self._history_window)
        self.api.ensure_namespace(CONTROLLER_NS)
        if self._kube_rules is not None:
            rules, self.rbac_source = self._kube_rules, "test"
        else:
            rules, self.rbac_source = controller_rules()
        self.kube_token, self.kubeconfig = self._component_kubeconfig(self.tmp / "controller.kubeconfig",
                                                                      CONTROLLER_USER, rules, CONTROLLER_NS)
        self.kube_user = CONTROLLER_USER if self.kube_token else "podid-harness-admin"
        self.environment_file = self._write_json("environment.json", {
            "name": "AzureStackCloud", "resourceManagerEndpoint": self.arm_server.url + "/",
            "activeDirectoryEndpoint": self.entra_server.url + "/", "tokenAudience": ARM_AUDIENCE})
        self.cloud_config = self._write_json("azure.json", self.azure_json())

    def _write_json(self, name: str, obj: dict) -> Path:
        path = self.tmp / name
        path.write_text(json.dumps(obj, indent=2))
        return path

    def azure_json(self, **overrides: Any) -> dict:
        """The cloud config the cluster's controller reads; `write_cloud_config(**overrides)` rewrites it."""
        msi = self.auth == "msi"
        cfg = {"cloud": "AzureStackCloud", "tenantId": self.cloud.tenant_id, "subscriptionId": self.subscription,
               "resourceGroup": NODE_RG, "location": self.cloud.location, "vmType": "vmss",
               "aadClientId": "msi" if msi else self.client_id, "aadClientSecret": "" if msi else self.secret,
               "useManagedIdentityExtension": msi,
               "userAssignedIdentityID": self.cluster_identity.client_id if self.cluster_identity else ""}
        cfg.update(overrides)
        return cfg

    def write_cloud_config(self, **overrides: Any) -> Path:
        self.cloud_config = self._write_json("azure.json", self.azure_json(**overrides))
        return self.cloud_config


    # ---- observations ------------------------------------------------------------------------------------
    def events(self, reason: Optional[str] = None, kind: Optional[str] = None,
               name: Optional[str] = None) -> list[dict]:
        """Core and events.k8s.io Events, optionally by reason and involved/regarding object."""
        out = []
        for res in ("events", "events.events.k8s.io"):
            for e in self.api.list(res):
                obj = e.get("involvedObject") or e.get("regarding") or {}
                if reason is not None and e.get("reason") != reason:
                    continue
                if kind is not None and obj.get("kind") != kind:
                    continue
                if name is not None and obj.get("name") != name:
                    continue
                out.append(e)
        return out

    def kube_writes(self, verb: Optional[str] = None, resource: Optional[str] = None) -> list[dict]:
        """API write requests the controller made (its user), optionally one verb / resource."""
        return [e for e in self.api.requests(user=self.kube_user, resource=resource)
                if e.get("verb") in KUBE_WRITES and (verb is None or e.get("verb") == verb)]

    def forbidden(self) -> list[str]:
        """The controller's API requests refused 403, as "verb path", in order."""
        return [f"{e.get('verb')} {e.get('path')}" for e in self._forbidden(self.kube_user)]

    def arm_calls(self, op: str, target: Optional[ScaleSet] = None) -> list:
        """ARM requests of one operation ("PATCH vmss", "GET vmss", ...), optionally against one compute."""
        entries = self.arm.log.entries(op=op)
        if target is not None:
            tail = target.resource_id.lower()
            entries = [e for e in entries if e.path.rstrip("/").lower().endswith(tail)]
        return entries

    def lease(self) -> Optional[dict]:
        return self.api.find("leases", LEASE_NAME, CONTROLLER_NS)

    def ledgers(self) -> list[dict]:
        return self.api.list("configmaps", namespace=CONTROLLER_NS,
                             label_selector="app.kubernetes.io/managed-by=podid-controller")

    def diagnostics(self) -> str:
        """What a failed test wants to see: ARM calls, forbidden API requests, events, the replicas' log tails."""
        out = [f"ARM counters: {dict(self.arm.counters)}",
               f"kube writes by controller: {len(self.kube_writes())}; forbidden: {self.forbidden()[:10]}",
               "events: " + "; ".join(f"{e.get('reason')}: {e.get('message', e.get('note', ''))[:200]}"
                                      for e in self.events()[-10:])]
        for p in self._all_processes:
            out.append(f"--- podid-controller replica {p.replica} pid {p.pid} "
                       f"({'running' if p.alive() else f'exited {p.proc.returncode}'}), log tail:")
            out.append(p.log()[-3000:])
        return "\n".join(out)

    # ---- the controller ----------------------------------------------------------------------------------
    def controller_command(self, replica: int, port: int, extra: Iterable[str] = ()) -> list[str]:
        flags = dict(FAST_ARGS)
        flags.update({"--kubeconfig": str(self.kubeconfig), "--namespace": CONTROLLER_NS,
                      "--cloud-config": str(self.cloud_config), "--azure-ca-file": self.ca.bundle_path,
                      "--leader-election-identity": f"replica-{replica}", "--listen": f"127.0.0.1:{port}"})
        if self.imds is not None:
            flags["--imds-endpoint"] = self.imds_server.url
        args = [str(CONTROLLER)]
        overridden = {a.split("=", 1)[0] for a in [*self.controller_args, *extra] if a.startswith("--")}
        for k, v in flags.items():
            if k not in overridden:
                args += [k, v]
        return args + self.controller_args + list(extra)

    def controller_env(self) -> dict:
        # PODID_<FLAG> variables are flags to the controller: none leaks in from the test's environment.
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("AZURE_", "KUBERNETES_", "MIC_", "PODID_"))}
        env.pop("POD_NAMESPACE", None)
        env["AZURE_ENVIRONMENT_FILEPATH"] = str(self.environment_file)
        # Nothing may go to a proxy (and so off the machine).
        for k in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
            env.pop(k, None)
        env["NO_PROXY"] = env["no_proxy"] = "*"
        return env

    def start_controller(self, *extra_args: str, replica: int = 0, wait_live: bool = True,
                         env: Optional[dict] = None, timeout: float = 30) -> ControllerProcess:
        """Start one replica (`replica` picks its leader-election identity and log files). Replaces a dead
        replica of the same number; refuses to start a second live one."""
        if not CONTROLLER.exists():
            raise RuntimeError(f"{CONTROLLER} is not built (cmake --build <build> --target podid-controller)")
        old = self.controllers.get(replica)
        if old is not None and old.alive():
            raise RuntimeError(f"replica {replica} is already running (pid {old.pid})")
        port = free_port()
        args = self.controller_command(replica, port, extra_args)
        n = sum(1 for p in self._all_processes if p.replica == replica)
        out = self.tmp / f"controller-{replica}.{n}.stdout"
        err = self.tmp / f"controller-{replica}.{n}.stderr"
        with open(out, "w") as fo, open(err, "w") as fe:
            proc = subprocess.Popen(args, stdout=fo, stderr=fe, stdin=subprocess.DEVNULL,
                                    env={**self.controller_env(), **(env or {})})
        cp = ControllerProcess(replica, f"replica-{replica}", port, args, proc, out, err)
        self.controllers[replica] = cp
        self._all_processes.append(cp)
        if wait_live:
            self.wait_live(cp, timeout)
        return cp

    def wait_live(self, cp: ControllerProcess, timeout: float = 30) -> None:
        def live():
            if not cp.alive():
                raise RuntimeError(f"podid-controller exited {cp.proc.returncode}:\n{cp.log()[-4000:]}")
            return cp.http_get("/healthz")[0] == 200
        wait_for(live, timeout, f"podid-controller replica {cp.replica} /healthz",
                 diagnose=lambda: cp.log()[-3000:])

    def wait_ready(self, cp: ControllerProcess, timeout: float = 30) -> None:
        wait_for(lambda: cp.http_get("/readyz")[0] == 200, timeout, f"replica {cp.replica} /readyz",
                 diagnose=lambda: cp.log()[-3000:])

    def leader(self) -> Optional[str]:
        """The Lease's holderIdentity, if a live lease exists."""
        lease = self.lease()
        return ((lease or {}).get("spec") or {}).get("holderIdentity") or None

    def wait_leader(self, timeout: float = 40, not_: Optional[str] = None) -> ControllerProcess:
        """The replica that holds the Lease (and says so in podid_controller_is_leader)."""
        def find():
            holder = self.leader()
            if not holder or holder == not_:
                return None
            for cp in self.controllers.values():
                if cp.identity == holder and cp.alive() and self.metric("podid_controller_is_leader", cp) == 1:
                    return cp
            return None
        return wait_for(find, timeout, "a leader" + (f" other than {not_}" if not_ else ""),
                        diagnose=self.diagnostics)

    def stop_controller(self, replica: int = 0, sig: int = signal.SIGTERM) -> Optional[int]:
        cp = self.controllers.get(replica)
        return cp.kill(sig) if cp is not None else None

    # ---- metrics -----------------------------------------------------------------------------------------
    def metrics(self, replica: Any = 0) -> str:
        cp = replica if isinstance(replica, ControllerProcess) else self.controllers[replica]
        status, text = cp.http_get("/metrics")
        if status != 200:
            raise AssertionError(f"/metrics of replica {cp.replica}: HTTP {status} {text[:300]}")
        return text

    def metric(self, name: str, replica: Any = 0, **labels: str) -> float:
        """Sum of the samples of `name` whose labels include `labels` (0 when none)."""
        return sum(v for ls, v in parse_samples(self.metrics(replica), name)
                   if all(ls.get(k) == want for k, want in labels.items()))


__all__ = ["ControllerCluster", "ControllerProcess", "ScaleSet", "IdentityRef", "PodRef", "CONTROLLER",
           "CONTROLLER_NS", "CONTROLLER_RULES", "AAI", "AAI_FINALIZER", "AZURE_IDENTITY", "BINDING", "NODE_RG",
           "IDENTITY_RG", "VM_CONTRIBUTOR", "MI_OPERATOR", "WaitTimeout", "wait_for", "parse_samples",
           "load_crds", "controller_rules", "provider_id", "LEASE_NAME", "BINDING_LABEL", "GROUP", "BUILD", "REPO"]
