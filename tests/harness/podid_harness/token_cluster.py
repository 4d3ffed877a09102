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

The parts, one concern each: standin_cluster.py (what this cluster and ControllerCluster share: the CA, the Azure
state, the API stand-in, tear-down), identity_objects.py (the aad-pod-identity names, IdentityRef, manifests),
token_cluster_api.py (the CRDs and the agent's grants), token_cluster_objects.py (identities, bindings, service
accounts and assignments: `TokenClusterObjects`), pod_requests.py (requests from pods and their answers),
agent_runner.py (the agent process). This module builds the node and the servers, runs the agent, makes pods,
sends requests and observes, and re-exports what tests import.
"""
from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
import uuid
from pathlib import Path
from typing import Iterable, Optional

from .agent_runner import AGENT, IMDS, Agent, free_port
from .azure.entra import EntraEmulator
from .azure.imds import ImdsEmulator
from .azure.keyvault import KeyVaultEmulator
from .identity_objects import BINDING_LABEL, GROUP, NODE_RG, IdentityRef
from .pod_requests import (ARM_RESOURCE, CLIENT, PYTHON, TOKEN_PATH, VAULT, HttpResult, PodConnection, decode_jwt,
                           token_path)
from .prometheus_text import parse_samples
from .sim import Node, Pod
from .sim.manifests import azure_provider_id
from .standin_cluster import StandInCluster
from .token_cluster_api import AGENT_RULES, AGENT_USER, CRDS, TOKEN_AUDIENCE
from .token_cluster_objects import TokenClusterObjects
from .waiting import poll_until, wait_for

NODE_VMSS = "aks-nodepool1-vmss"


class TokenCluster(StandInCluster, TokenClusterObjects):
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
        super().__init__(tmp)
        self.token_credential = token_credential
        self.node_name, self.mode = node_name, mode
        self.agent_args = list(agent_args)
        self._start_agent, self._system_assigned, self._arm = start_agent, system_assigned, arm
        self._agent_rules = AGENT_RULES if agent_rules is None else agent_rules
        self._imds_options = dict(imds_options or {})
        self._node_taints = list(node_taints)
        self.agent: Optional[Agent] = None
        self.arm = self.arm_server = None

    # ---- life cycle ----------------------------------------------------------------------------------------
    def _build(self) -> None:
        st = self._stack
        self._start_azure("podid token-cluster CA")
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

        self._start_api(CRDS, netns=netns)
        # The node object now (the API needed the node's namespace first); pods come and go through the API.
        self.node.api = self.api
        node_obj = self.node.manifest()
        if self._node_taints:
            node_obj["spec"]["taints"] = self._node_taints
        self.api.create_node(node_obj)
        rules = list(self._agent_rules)
        if self.token_credential == "service-account":
            rules.append((["create"], [""], ["serviceaccounts/token"]))    # the fallback's grant (docs/security.md)
        self.agent_token, self.kubeconfig = self._component_kubeconfig(self.tmp / "agent.kubeconfig", AGENT_USER,
                                                                       rules, "kube-system")
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
        last = (None, "")

        def ready() -> bool:
            nonlocal last
            if self.agent.proc.poll() is not None:
                raise RuntimeError(f"podid-agent exited {self.agent.proc.returncode}:\n{self.agent_log()}")
            last = self.agent.ops_get("/readyz")
            return last[0] == 200
        wait_for(ready, timeout, "podid-agent /readyz",
                 diagnose=lambda: f"/readyz {last[0]} {last[1]!r}; forbidden API requests: "
                                  f"{self.forbidden_requests()}\n{self.agent_log()}")

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
        """The agent's API requests refused 403, as "verb resource", each once."""
        return sorted({f"{e.get('verb')} {e.get('resource')}" for e in self._forbidden(AGENT_USER)})

    # ---- Kubernetes objects --------------------------------------------------------------------------------
    def settle(self, extra_s: float = 0.3, timeout: float = 10) -> None:
        """Wait until every open watch has written out what happened so far, then `extra_s` for the agent to
        apply it: the barrier before asserting that the agent does NOT serve something."""
        poll_until(lambda: all(w.q.empty() for w in self.api.emulator.store.watchers()), bool, timeout, 0.02)
        time.sleep(extra_s)

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
        return poll_until(lambda: self.token(pod, **kwargs), lambda r: r.status == status, timeout, 0.1)

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
        return poll_until(lambda: [l for l in self.audit_lines() if pred(l)], bool, timeout, 0.05)

    def imds_token_requests(self) -> list:
        """The IMDS emulator's log of token requests (what the agent asked upstream)."""
        return self.imds.log.entries(r"(?i)/metadata/identity/oauth2/token")



def promtool_check(text: str) -> subprocess.CompletedProcess:
    """`promtool check metrics` on an exposition (promtool reads it from stdin)."""
    tool = shutil.which("promtool") or "/usr/bin/promtool"
    return subprocess.run([tool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)


# What tests, benches and scripts import from here (the pieces live in the modules imported above).
__all__ = ["TokenCluster", "IdentityRef", "HttpResult", "PodConnection", "token_path", "decode_jwt",
           "parse_samples", "promtool_check", "VAULT", "ARM_RESOURCE", "TOKEN_PATH", "AGENT", "AGENT_USER", "CRDS",
           "GROUP", "IMDS", "NODE_RG", "NODE_VMSS", "PYTHON", "CLIENT", "TOKEN_AUDIENCE"]
