# SPDX-License-Identifier: Apache-2.0
"""A whole token cluster on one machine: one simulated node running podid-agent, and everything it talks to.

    with TokenCluster(tmp_path, mode="standard") as c:
        web = c.add_identity("shop", "web-id")                  # Azure UAMI + AzureIdentity CR
        c.bind("shop", "web-binding", web, selector="web")      # AzureIdentityBinding
        pod = c.add_pod("web-0", "shop", labels={"aadpodidbinding": "web"})
        c.assign(pod, web)                                      # AzureAssignedIdentity (Assigned) + VMSS
        c.settle()                                              # the agent's watches have caught up
        r = c.token(pod)                                        # GET 169.254.169.254 from inside the pod
        assert r.status == 200 and r.claims()["oid"] == web.principal_id

What it builds (all inside the node's network namespace, which has no route off the machine):

    node netns <prefix>-<node>
      imds0: 169.254.32.1 (agent's redirect address)
      eth0:  the uplink to the node's fabric namespace, which holds 169.254.169.254 (IMDS emulator on :80, the
             agent's upstream, reached as on Azure through the node's default route; pods' connections to it are
             redirected to the agent by the kernel)
      lo:    127.0.0.1:<port>  Kubernetes API stand-in (HTTPS, test CA), with the aadpodidentity.k8s.io CRDs
      cbr0:  10.244.1.1:<port> Entra ID emulator, 10.244.1.1:<port> Key Vault emulator, [ARM emulator] (HTTPS,
             test CA; pods reach them over the bridge)
      podid-agent in <node cgroup>/kubepods.slice/podid-agent (exempt from its own redirect), with
             --node-name, --kubeconfig (the stand-in above), --mode, SSL_CERT_FILE=<test CA>

Federated identities: the agent asks for pods' service-account tokens with the node's kubelet credential (a client
certificate of the API stand-in, `token_credential="kubelet"`, with the audience grant deploy/ gives system:nodes) or
with its own service account (`"service-account"`, granted create serviceaccounts/token); Entra ID checks those
tokens against the API stand-in's OIDC documents, fetched from inside the node's namespace. `add_federated_identity`
makes the identity (a UAMI registered with Entra, its federated credentials, optionally the AzureIdentity CR),
`service_account` annotates a service account as Azure Workload Identity does.

The Azure side is one AzureState/TokenIssuer: the node is instance 0 of a VMSS with a system-assigned identity;
`assign()` puts an identity on the VMSS as MIC would (and writes the AzureAssignedIdentity), `add_identity(...,
on_vmss=True)` pre-assigns it as managed mode expects. Requests from pods go through `imds_client.py`, run in
the pod's netns and container cgroup with Debian's python.
"""
from __future__ import annotations

import base64
import contextlib
import json
import shutil
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Optional
from urllib.parse import urlencode

import jwt

from .agent_runner import AGENT, IMDS, Agent, free_port
from .azure.entra import App, EntraEmulator
from .azure.imds import ImdsEmulator
from .azure.keyvault import KeyVaultEmulator
from .azure.state import AzureState, Identity
from .azure.tlsca import TestCA
from .azure.tokens import TokenIssuer
from .kube import KubeApiServer
from .sim import Node, Pod
from .sim.manifests import azure_provider_id
from .lifecycle import BuiltOnEnter
from .prometheus_text import parse_samples

PYTHON = "/usr/bin/python3"
CLIENT = Path(__file__).resolve().parent / "imds_client.py"
GROUP = "aadpodidentity.k8s.io"
TOKEN_PATH = "/metadata/identity/oauth2/token"
VAULT = "https://vault.azure.net"
ARM_RESOURCE = "https://management.azure.com/"
NODE_RG = "MC_podid_rg_eastus"
NODE_VMSS = "aks-nodepool1-vmss"
IDENTITY_RG = "podid-workloads"
BINDING_LABEL = "aadpodidbinding"
AAI_FINALIZER = "azureassignedidentity.finalizers.aadpodidentity.k8s.io"
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


@dataclass
class IdentityRef:
    """One identity as the tests see it: the AzureIdentity CR and what stands behind it in Azure."""
    namespace: str
    name: str
    type: int
    client_id: str
    principal_id: str          # the token's `oid`
    resource_id: str           # "" for service principals
    azure: Optional[Identity] = None   # type 0
    app: Optional[App] = None          # types 1 and 2


@dataclass
class HttpResult:
    status: Optional[int]
    headers: dict = field(default_factory=dict)
    body: str = ""
    elapsed_ms: float = 0.0
    error: Optional[str] = None

    @classmethod
    def of(cls, d: dict) -> "HttpResult":
        return cls(d.get("status"), d.get("headers") or {}, d.get("body", ""), d.get("elapsed_ms", 0.0),
                   d.get("error"))

    def json(self) -> Any:
        return json.loads(self.body)

    def claims(self) -> dict:
        """The access token's claims (not verified: the test only asks whose token it is)."""
        return decode_jwt(self.json()["access_token"])

    def __str__(self) -> str:
        return f"HTTP {self.status} {self.body[:600]!r} {self.error or ''} ({self.elapsed_ms} ms)"


def decode_jwt(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def token_path(resource: str = VAULT, api_version: str = "2018-02-01", **selectors: str) -> str:
    q = {"api-version": api_version, "resource": resource}
    q.update({k: v for k, v in selectors.items() if v is not None})
    return TOKEN_PATH + "?" + urlencode(q)


class PodConnection:
    """One keep-alive connection from inside a pod to 169.254.169.254:80 (imds_client.py --interactive)."""

    def __init__(self, pod: Pod, cfg: Optional[dict] = None) -> None:
        self.pod = pod
        self.proc = pod.popen([PYTHON, str(CLIENT), "--interactive", json.dumps(cfg or {})],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        ready = self.proc.stdout.readline()
        if json.loads(ready or "{}") != {"ready": True}:
            raise RuntimeError(f"pod client did not start: {ready!r} {self.proc.stderr.read()}")

    def request(self, path: str, headers: Optional[dict] = None, method: str = "GET") -> HttpResult:
        self.proc.stdin.write(json.dumps({"path": path, "method": method,
                                          "headers": {"Metadata": "true"} if headers is None else headers}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"pod client died: {self.proc.stderr.read()}")
        return HttpResult.of(json.loads(line))

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> "PodConnection":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class TokenCluster(BuiltOnEnter):
    """See the module docstring. `agent_args` are extra podid-agent flags (e.g. ["--not-ready-status", "503"]);
    `start_agent=False` leaves `start_agent()` to the test."""

    def __init__(self, tmp: Path, *, node_name: str = "node-a", mode: str = "standard",
                 agent_args: Iterable[str] = (), start_agent: bool = True, system_assigned: bool = True,
                 agent_rules: Optional[list] = None, imds_options: Optional[dict] = None, arm: bool = False,
                 node_taints: Iterable[dict] = (), token_credential: str = "kubelet") -> None:
        if mode not in ("standard", "managed", "federated"):
            raise ValueError(f"mode {mode!r} is not standard, managed or federated")
        if token_credential not in ("kubelet", "service-account"):
            raise ValueError(f"token_credential {token_credential!r} is not kubelet or service-account")
        self.token_credential = token_credential
        self.tmp = Path(tmp)
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.node_name, self.mode = node_name, mode
        self.agent_args = list(agent_args)
        self._start_agent, self._system_assigned, self._arm = start_agent, system_assigned, arm
        self._agent_rules = AGENT_RULES if agent_rules is None else agent_rules
        self._imds_options = dict(imds_options or {})
        self._node_taints = list(node_taints)
        self._stack = contextlib.ExitStack()
        self.agent: Optional[Agent] = None
        self.arm = self.arm_server = None

    # ---- life cycle ----------------------------------------------------------------------------------------
    def close(self) -> None:
        self._stack.close()

    def _build(self) -> None:
        st = self._stack
        self.ca = st.enter_context(TestCA(common_name="podid token-cluster CA"))
        self.issuer = TokenIssuer()
        self.cloud = AzureState(tenant_id=self.issuer.tenant_id)
        self.vmss = self.cloud.add_vmss(NODE_RG, NODE_VMSS, instances=["0"], system_assigned=self._system_assigned)
        self.node = st.enter_context(Node.create(
            name=self.node_name, cgroup_driver="systemd", network="kubenet",
            provider_id=azure_provider_id(self.cloud.default_subscription, NODE_RG, NODE_VMSS, 0)))
        self.node.add_fabric_address(f"{IMDS}/32")
        netns = self.node.netns

        self.imds = ImdsEmulator(self.cloud, self.issuer, vm=NODE_VMSS, instance="0", **self._imds_options)
        self.imds_server = st.enter_context(self.imds.serve(host=IMDS, port=80, netns=self.node.fabric_netns))

        tls = self.ca.server_context([self.node.bridge_ip])
        self.entra = EntraEmulator(self.issuer)
        self.entra_server = st.enter_context(self.entra.serve(tls=tls, host=self.node.bridge_ip, netns=netns))
        self.keyvault = KeyVaultEmulator(self.issuer, name="podid-e2e")
        self.keyvault.authority = self.entra_server.url
        self.keyvault_server = st.enter_context(self.keyvault.serve(tls=tls, host=self.node.bridge_ip,
                                                                    netns=netns))
        if self._arm:
            from .azure.arm import ArmEmulator
            self.arm = ArmEmulator(self.cloud, self.issuer, entra=self.entra)
            self.arm_server = st.enter_context(self.arm.serve(tls=tls, host=self.node.bridge_ip, netns=netns))

        self.api = KubeApiServer.start(host="127.0.0.1", ca=self.ca, netns=netns, bookmark_interval_s=1.0)
        st.callback(self.api.stop)
        # The node object now (the API needed the node's namespace first); pods come and go through the API.
        self.node.api = self.api
        node_obj = self.node.manifest()
        if self._node_taints:
            node_obj["spec"]["taints"] = self._node_taints
        self.api.create_node(node_obj)
        for c in CRDS:
            self.api.create(c)
        rules = list(self._agent_rules)
        if self.token_credential == "service-account":
            rules.append((["create"], [""], ["serviceaccounts/token"]))    # the fallback's grant (docs/security.md)
        self.agent_token = self.api.add_token(AGENT_USER, rules)
        self.kubeconfig = self.api.kubeconfig(self.tmp / "agent.kubeconfig", token=self.agent_token,
                                              user=AGENT_USER, namespace="kube-system")
        # The kubelet's credential, laid out as on a node, and the grant deploy/ gives system:nodes for the audience.
        self.kubelet_kubeconfig = self.api.node_kubeconfig(self.tmp / "kubelet" / "kubeconfig", self.node_name)
        self.api.grant_group("system:nodes", [(["request-serviceaccounts-token-audience"], [""], [TOKEN_AUDIENCE])])
        # Entra ID reads the cluster's OIDC issuer (the API stand-in) from where the stand-in listens.
        self.entra.oidc.netns = netns
        self.entra.oidc.ssl_context = self.ca.client_context()
        st.callback(self._stop_agent)
        if self._start_agent:
            self.start_agent()

    def agent_command_args(self) -> list[str]:
        return ["--node-name", self.node_name, "--kubeconfig", str(self.kubeconfig), "--mode", self.mode,
                "--token-request-credential", self.token_credential, "--kubelet-kubeconfig",
                str(self.kubelet_kubeconfig), "--federated-authority", self.entra_server.url + "/",
                "--federated-tenant-id", self.issuer.tenant_id, *self.agent_args]

    def start_agent(self, timeout: float = 30) -> Agent:
        if self.agent is None:
            cgroup = self.node.make_cgroup("podid-agent", under_kubepods=True)
            self.agent = Agent(self.node, self.tmp, f"podid-e2e-{uuid.uuid4().hex[:8]}",
                               free_port(self.node, self.node.agent_addr), cgroup,
                               extra=self.agent_command_args(), env={"SSL_CERT_FILE": self.ca.bundle_path})
        else:
            self.agent.extra = self.agent_command_args()
        self.agent.start(timeout=timeout)
        self.wait_ready(timeout)
        return self.agent

    def restart_agent(self, agent_args: Optional[Iterable[str]] = None, timeout: float = 30) -> Agent:
        """Stop the agent (SIGTERM) and start it again, with other extra flags if given (pins are reused)."""
        if agent_args is not None:
            self.agent_args = list(agent_args)
        if self.agent is not None:
            self.agent.kill(signal.SIGTERM)
        return self.start_agent(timeout)

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        status, body = None, ""
        while time.monotonic() < deadline:
            if self.agent.proc.poll() is not None:
                raise RuntimeError(f"podid-agent exited {self.agent.proc.returncode}:\n{self.agent_log()}")
            status, body = self.agent.ops_get("/readyz")
            if status == 200:
                return
            time.sleep(0.1)
        raise RuntimeError(f"podid-agent not ready after {timeout}s (/readyz {status} {body!r}); forbidden API "
                           f"requests: {self.forbidden_requests()}\n{self.agent_log()}")

    def _stop_agent(self) -> None:
        a = self.agent
        if a is None:
            return
        try:
            a.kill()
        finally:
            a.uninstall()
            if a.pins.exists():
                shutil.rmtree(a.pins, ignore_errors=True)

    def agent_log(self, tail: int = 6000) -> str:
        if self.agent is None or self.agent.log_path is None or not self.agent.log_path.exists():
            return "(no agent log)"
        return self.agent.log_path.read_text()[-tail:]

    def forbidden_requests(self) -> list[str]:
        return sorted({f"{e.get('verb')} {e.get('resource')}" for e in self.api.request_log
                       if e.get("code") == 403 and e.get("user") == AGENT_USER})

    # ---- Kubernetes objects --------------------------------------------------------------------------------
    def settle(self, extra_s: float = 0.3, timeout: float = 10) -> None:
        """Wait until every open watch has written out what happened so far, then `extra_s` for the agent to
        apply it: the barrier before asserting that the agent does NOT serve something."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(w.q.empty() for w in self.api.emulator.store.watchers()):
                break
            time.sleep(0.02)
        time.sleep(extra_s)

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
            ref = IdentityRef(namespace, name, 0, ident.client_id, ident.principal_id, ident.resource_id,
                              azure=ident)
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
        self.api.create({"apiVersion": f"{GROUP}/v1", "kind": "AzureIdentity",
                         "metadata": {"name": name, "namespace": namespace, "annotations": annotations},
                         "spec": spec})
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
            ref = IdentityRef(namespace, name, 0, ident.client_id, ident.principal_id, ident.resource_id,
                              azure=ident, app=app)
            spec = {"type": 0, "resourceID": ident.resource_id, "clientID": ident.client_id}
        for ns, sa in subjects:
            self.federate(ref, ns, sa)
        if crd:
            meta = {"name": name, "namespace": namespace,
                    "annotations": {"podid.io/federated": "true", **(annotations or {})}}
            self.api.create({"apiVersion": f"{GROUP}/v1", "kind": "AzureIdentity", "metadata": meta, "spec": spec})
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
        self.api.patch("azureidentities." + GROUP, ident.name,
                       {"spec": {"clientID": new.client_id, "resourceID": new.resource_id}}, ident.namespace)
        return IdentityRef(ident.namespace, ident.name, 0, new.client_id, new.principal_id, new.resource_id,
                           azure=new)

    def bind(self, namespace: str, binding: str, identity: IdentityRef | str, selector: str) -> dict:
        name = identity if isinstance(identity, str) else identity.name
        return self.api.create({"apiVersion": f"{GROUP}/v1", "kind": "AzureIdentityBinding",
                                "metadata": {"name": binding, "namespace": namespace},
                                "spec": {"azureIdentity": name, "selector": selector}})

    def unbind(self, namespace: str, binding: str) -> None:
        self.api.delete("azureidentitybindings." + GROUP, binding, namespace)

    def exception(self, namespace: str, labels: dict, name: Optional[str] = None) -> dict:
        return self.api.create({"apiVersion": f"{GROUP}/v1", "kind": "AzurePodIdentityException",
                                "metadata": {"name": name or f"exception-{uuid.uuid4().hex[:6]}",
                                             "namespace": namespace},
                                "spec": {"podLabels": dict(labels)}})

    @staticmethod
    def aai_name(pod: Pod, identity: IdentityRef) -> str:
        return f"{pod.name}-{pod.namespace}-{identity.name}"

    def _aai_namespace(self, identity: IdentityRef) -> str:
        namespaced = "--force-namespaced" in self.agent_args or self._identity_obj(identity)["metadata"].get(
            "annotations", {}).get("aadpodidentity.k8s.io/Behavior") == "namespaced"
        return identity.namespace if namespaced else "default"

    def _identity_obj(self, identity: IdentityRef) -> dict:
        return self.api.get("azureidentities." + GROUP, identity.name, identity.namespace)

    def assign(self, pod: Pod, identity: IdentityRef, state: str = "Assigned",
               binding: Optional[str] = None) -> dict:
        """Write the AzureAssignedIdentity as aad-pod-identity's MIC does (reference §3.3) and, when
        `state` is Assigned, put the identity on the VMSS so the node's IMDS serves it."""
        if binding is None:
            matches = [b for b in self.api.list("azureidentitybindings." + GROUP, identity.namespace)
                       if b["spec"].get("azureIdentity") == identity.name
                       and b["spec"].get("selector") == pod.labels.get(BINDING_LABEL)]
            binding_obj = matches[0] if matches else {}
        else:
            binding_obj = self.api.get("azureidentitybindings." + GROUP, binding, identity.namespace)
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
        obj = self.api.get("azureassignedidentities." + GROUP, self.aai_name(pod, identity),
                           self._aai_namespace(identity))
        obj["status"] = {"status": state, "availableReplicas": 1}
        return self.api.update_status(obj)

    def refresh_assignment(self, pod: Pod, identity: IdentityRef) -> dict:
        """Re-embed the current AzureIdentity (and binding) in the pod's AzureAssignedIdentity, as MIC does
        when an identity changes."""
        obj = self.api.get("azureassignedidentities." + GROUP, self.aai_name(pod, identity),
                           self._aai_namespace(identity))
        obj["spec"]["azureIdentityRef"] = self._identity_obj(identity)
        ref = obj["spec"].get("azureBindingRef") or {}
        name = (ref.get("metadata") or {}).get("name")
        if name:
            fresh = self.api.find("azureidentitybindings." + GROUP, name, identity.namespace)
            if fresh is not None:
                obj["spec"]["azureBindingRef"] = fresh
        return self.api.update(obj)

    def unassign(self, pod: Pod, identity: IdentityRef) -> None:
        ns, name = self._aai_namespace(identity), self.aai_name(pod, identity)
        plural = "azureassignedidentities." + GROUP
        obj = self.api.get(plural, name, ns)
        if obj["metadata"].get("finalizers"):
            obj["metadata"]["finalizers"] = []
            self.api.update(obj)
        if self.api.find(plural, name, ns) is not None:
            self.api.delete(plural, name, ns)

    # ---- pods ----------------------------------------------------------------------------------------------
    def add_pod(self, name: str, namespace: str = "default", labels: Optional[dict] = None,
                binding: Optional[str] = None, settle: bool = True, **kwargs) -> Pod:
        """A running pod on the node, in the API too; `binding` sets its aadpodidbinding label."""
        labels = dict(labels or {})
        if binding is not None:
            labels[BINDING_LABEL] = binding
        pod = self.node.add_pod(name, namespace=namespace, labels=labels, **kwargs)
        if settle:
            self.settle()
        return pod

    def delete_pod_object(self, pod: Pod) -> None:
        """Delete the Pod from the API only; its processes and connections keep running (a pod terminating)."""
        self.api.delete("pods", pod.name, pod.namespace)

    def remove_pod(self, pod: Pod) -> None:
        self.node.remove_pod(pod)

    # ---- requests from pods --------------------------------------------------------------------------------
    def batch(self, pod: Pod, requests: list[dict], *, keepalive: bool = True, repeat: int = 1,
              bind: Optional[str] = None, freebind: bool = False, transparent: bool = False,
              cap_net_raw: bool = True,
              timeout: float = 60, client_timeout: float = 15, host: str = IMDS, port: int = 80
              ) -> list[HttpResult]:
        """Requests from inside `pod` on one connection (keep-alive) or one each; `client_timeout` bounds each
        connect and answer, `timeout` the whole client process."""
        cfg = {"requests": requests, "keepalive": keepalive, "repeat": repeat, "host": host, "port": port,
               "timeout": client_timeout}
        if bind:
            cfg.update(bind=bind, freebind=freebind, transparent=transparent)
        out = pod.run([PYTHON, str(CLIENT), json.dumps(cfg)], cap_net_raw=cap_net_raw, timeout=timeout)
        if out.returncode != 0:
            raise RuntimeError(f"pod client failed ({out.returncode}): {out.stdout}\n{out.stderr}")
        return [HttpResult.of(r) for r in json.loads(out.stdout)]

    def http(self, pod: Pod, path: str, headers: Optional[dict] = None, method: str = "GET",
             **kwargs) -> HttpResult:
        """One request from inside `pod` to 169.254.169.254:80 (headers default to `Metadata: true`)."""
        req = {"path": path, "method": method, "headers": {"Metadata": "true"} if headers is None else headers}
        return self.batch(pod, [req], **kwargs)[0]

    def token(self, pod: Pod, resource: str = VAULT, api_version: str = "2018-02-01",
              headers: Optional[dict] = None, **selectors: str) -> HttpResult:
        return self.http(pod, token_path(resource, api_version, **selectors), headers)

    def wait_token(self, pod: Pod, status: int = 200, timeout: float = 10, **kwargs) -> HttpResult:
        """Ask until the answer has `status` (the agent has caught up) or `timeout`; returns the last answer."""
        deadline = time.monotonic() + timeout
        while True:
            r = self.token(pod, **kwargs)
            if r.status == status or time.monotonic() > deadline:
                return r
            time.sleep(0.1)

    def connect(self, pod: Pod, **cfg) -> PodConnection:
        return PodConnection(pod, cfg)

    def pod_env(self, **extra: str) -> dict:
        """A pod's environment: no AZURE_* override of any kind, the test CA trusted."""
        env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(self.tmp),
               "LANG": "C.UTF-8", "NODE_EXTRA_CA_CERTS": self.ca.bundle_path,
               "REQUESTS_CA_BUNDLE": self.ca.bundle_path, "SSL_CERT_FILE": self.ca.bundle_path}
        env.update(extra)
        return env

    # ---- agent observations --------------------------------------------------------------------------------
    def agent_metrics(self) -> str:
        status, text = self.agent.ops_get("/metrics")
        assert status == 200, (status, text[:300])
        return text

    def metric(self, name: str, **labels: str) -> float:
        return self.agent.metric(name, **labels)

    def metric_series(self, name: str) -> list[tuple[dict, float]]:
        """Every sample of `name` as ({label: value}, value)."""
        return parse_samples(self.agent_metrics(), name)

    def audit_lines(self) -> list[dict]:
        return [l for l in self.agent.lines() if l.get("audit") is True and l.get("msg") == "token decision"]

    def wait_audit(self, pred, timeout: float = 5) -> list[dict]:
        deadline = time.monotonic() + timeout
        while True:
            found = [l for l in self.audit_lines() if pred(l)]
            if found or time.monotonic() > deadline:
                return found
            time.sleep(0.05)

    def imds_token_requests(self) -> list:
        """The IMDS emulator's log of token requests (what the agent asked upstream)."""
        return self.imds.log.entries(r"(?i)/metadata/identity/oauth2/token")



def promtool_check(text: str) -> subprocess.CompletedProcess:
    """`promtool check metrics` on an exposition (promtool reads it from stdin)."""
    tool = shutil.which("promtool") or "/usr/bin/promtool"
    return subprocess.run([tool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)


__all__ = ["TokenCluster", "IdentityRef", "HttpResult", "PodConnection", "token_path", "decode_jwt",
           "parse_samples", "promtool_check", "VAULT", "ARM_RESOURCE", "TOKEN_PATH", "AGENT", "CRDS", "NODE_RG",
           "NODE_VMSS", "TOKEN_AUDIENCE"]
