# SPDX-License-Identifier: Apache-2.0
"""KubeApiServer: the stand-in as tests use it from Python.

    with KubeApiServer.start(history_window=1000) as api:
        api.kubeconfig(tmp / "kubeconfig")              # for kubectl and the C++ agent
        token = api.add_token("agent", [("list", "", "pods")])
        api.create_pod({...}); api.faults.fail_next(2, 500)

Objects created from Python go through the same code path as HTTP writes (same resourceVersions, same watch
events), with two conveniences for test set-up: a missing namespace is created, and a pod's or node's status is
kept as given (as if the kubelet had written it).
"""
from __future__ import annotations

import base64
import os
import ssl
import time
from typing import Iterable, Optional

from ..azure.tlsca import TestCA
from ..httpbase import EmulatorServer
from .auth import ADMIN_USER, RuleLike
from .resources import ResourceType, pick
from .server import KubeEmulator


class KubeApiServer:
    def __init__(self, history_window: int = 1000, host: str = "127.0.0.1", port: int = 0,
                 bookmark_interval_s: float = 1.0, expired_watch_as_event: bool = True, tls: bool = True,
                 ca: Optional[TestCA] = None, netns: Optional[str] = None) -> None:
        """`tls=False` serves plain HTTP; client-go (kubectl) then refuses to send bearer tokens, so keep TLS
        for anything that authenticates the way a real client does. `ca` shares a run's CA with other
        emulators; by default the server mints its own and removes it on stop(). `netns` names a network
        namespace (/run/netns/<name>, e.g. a simulated node's) to listen in, for a client that runs there."""
        self.emulator = KubeEmulator(history_window, bookmark_interval_s, expired_watch_as_event)
        self._own_ca = tls and ca is None
        self.ca: Optional[TestCA] = (ca or TestCA(common_name="podid kube stand-in CA")) if tls else None
        ctx = self.ca.server_context((host, "localhost")) if self.ca else None
        if ctx is not None:
            self.emulator.client_ca.accept_on(ctx)     # client certificates (kubelets), besides bearer tokens
        self._server = EmulatorServer(self.emulator, host, port, tls=ctx, netns=netns)

    @classmethod
    def start(cls, **kwargs) -> "KubeApiServer":
        return cls(**kwargs)._start()

    def _start(self) -> "KubeApiServer":
        self._server.start()
        self.emulator.bind(self._server.url)
        return self

    def stop(self) -> None:
        self.emulator.store.end_watches("END")
        self._server.stop()
        if self._own_ca and self.ca is not None:
            self.ca.close()

    def down(self) -> None:
        """An outage: cut every watch and connection and stop listening (clients get ECONNREFUSED); the
        objects stay. `up()` listens again on the same address and port."""
        self.faults.drop_watches()
        self._down_port = self._server.port
        self._server.stop(cut_connections=True)

    def up(self) -> None:
        old = self._server
        self._server = EmulatorServer(self.emulator, old._host, self._down_port, tls=old._tls, netns=old.netns)
        self._server.start()

    def __enter__(self) -> "KubeApiServer":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # ---- connection facts --------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return self._server.url

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def ca_path(self) -> Optional[str]:
        """PEM bundle of the CA that signed the server certificate (None without TLS)."""
        return self.ca.bundle_path if self.ca else None

    def ssl_context(self) -> Optional[ssl.SSLContext]:
        """For Python clients (urllib): trusts the stand-in's CA and nothing else."""
        return self.ca.client_context() if self.ca else None

    @property
    def admin_token(self) -> str:
        return self.emulator.auth.admin_token

    @property
    def issuer(self) -> str:
        return self.emulator.signer.issuer

    def jwks(self) -> dict:
        return self.emulator.signer.jwks()

    @property
    def faults(self):
        return self.emulator.faults

    @property
    def request_log(self) -> list[dict]:
        with self.emulator._log_lock:
            return list(self.emulator.request_log)

    def requests(self, verb: Optional[str] = None, resource: Optional[str] = None,
                 user: Optional[str] = None) -> list[dict]:
        return [e for e in self.request_log if (verb is None or e.get("verb") == verb)
                and (resource is None or e.get("resource") == resource) and (user is None or e.get("user") == user)]

    def open_watches(self) -> list[str]:
        """One line per open watch: the client's User-Agent and the request path with its query."""
        return [w.label for w in self.emulator.store.watchers()]

    # ---- auth --------------------------------------------------------------------------------------------
    def add_token(self, user: str, rules: Iterable[RuleLike] = (), token: Optional[str] = None) -> str:
        """A bearer token for `user`, who may do what `rules` allow (see auth.rule for the accepted shapes)."""
        return self.emulator.auth.add_token(user, rules, token)

    def grant(self, user: str, rules: Iterable[RuleLike]) -> None:
        self.emulator.auth.grant(user, rules)

    def grant_group(self, group: str, rules: Iterable[RuleLike]) -> None:
        """Rules for every member of a group, as a ClusterRoleBinding to a Group subject (system:nodes...)."""
        self.emulator.auth.grant_group(group, rules)

    def rotate_signing_key(self, keep_old: bool = True) -> None:
        """A new service-account signing key (and `kid`); the old one stays in the JWKS only if `keep_old`."""
        self.emulator.signer.rotate(keep_old)

    def client_certificate(self, user: str, groups: Iterable[str] = ()):
        """A client certificate (CN user, O groups) of the stand-in's client CA: `.cert_pem`, `.key_pem`."""
        return self.emulator.client_ca.issue(user, groups)

    def node_kubeconfig(self, path, node: str) -> str:
        """A kubelet's kubeconfig for `node` (user system:node:<node>, group system:nodes), laid out as on a node:
        `client-certificate` and `client-key` name one PEM file, `pki/kubelet-client-current.pem` beside the
        kubeconfig, a symlink to the dated file that `rotate_node_certificate` replaces."""
        path = os.fspath(path)
        pki = os.path.join(os.path.dirname(os.path.abspath(path)), "pki")
        current = self._write_node_certificate(pki, node)
        return self._write_kubeconfig(path, "default-auth", f"    client-certificate: {current}\n"
                                                            f"    client-key: {current}\n")

    def rotate_node_certificate(self, kubeconfig_path, node: str) -> None:
        """What kubelet certificate rotation does: a new dated PEM, and the `current` symlink moved to it."""
        pki = os.path.join(os.path.dirname(os.path.abspath(os.fspath(kubeconfig_path))), "pki")
        self._write_node_certificate(pki, node)

    def _write_node_certificate(self, pki: str, node: str) -> str:
        os.makedirs(pki, mode=0o700, exist_ok=True)
        issued = self.emulator.client_ca.issue(f"system:node:{node}", ["system:nodes"])
        dated = os.path.join(pki, f"kubelet-client-{time.strftime('%Y-%m-%d-%H-%M-%S')}-{os.urandom(3).hex()}.pem")
        fd = os.open(dated, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(issued.cert_pem + issued.key_pem)
        current = os.path.join(pki, "kubelet-client-current.pem")
        tmp = current + ".tmp"
        if os.path.lexists(tmp):
            os.unlink(tmp)
        os.symlink(dated, tmp)
        os.replace(tmp, current)
        return current

    def kubeconfig(self, path, token: Optional[str] = None, user: str = "podid-test",
                   namespace: str = "default") -> str:
        """Write a kubeconfig (plain block YAML, no anchors or flow style) and return its path."""
        return self._write_kubeconfig(path, user, f'    token: "{token or self.admin_token}"\n', namespace)

    def _write_kubeconfig(self, path, user: str, credential: str, namespace: Optional[str] = None) -> str:
        """One cluster (this server, its CA inline), one user with `credential` (its indented YAML lines), one
        context; plain block YAML (no anchors or flow style), mode 0600."""
        ca = ""
        if self.ca is not None:
            with open(self.ca.bundle_path, "rb") as f:
                ca = f'    certificate-authority-data: "{base64.b64encode(f.read()).decode()}"\n'
        ns = f'    namespace: "{namespace}"\n' if namespace else ""
        text = (f'apiVersion: v1\nkind: Config\nclusters:\n- name: podid-standin\n  cluster:\n'
                f'    server: "{self.url}"\n{ca}users:\n- name: "{user}"\n  user:\n{credential}'
                f'contexts:\n- name: podid-standin\n  context:\n    cluster: podid-standin\n    user: "{user}"\n'
                f'{ns}current-context: podid-standin\npreferences: {{}}\n')
        path = os.fspath(path)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o600)
        return path

    # ---- objects -----------------------------------------------------------------------------------------
    def resource(self, name: str, group: Optional[str] = None) -> ResourceType:
        return pick(self.emulator.resources.types(), name, group)

    def _type_of(self, obj: dict) -> ResourceType:
        api_version, kind = obj.get("apiVersion", "v1"), obj.get("kind", "")
        group, _, version = api_version.rpartition("/")
        return self.emulator.resources.lookup(group, version, self.resource(kind, group).plural)

    def create(self, obj: dict, keep_status: bool = True, keep_uid: bool = True) -> dict:
        rt = self._type_of(obj)
        ns = (obj.get("metadata") or {}).get("namespace") or "default" if rt.namespaced else ""
        if ns and rt.plural != "namespaces":
            self.ensure_namespace(ns)
        return self.emulator.resources.create(rt, ns, obj, keep_status=keep_status, keep_uid=keep_uid)

    def ensure_namespace(self, name: str) -> dict:
        res = self.emulator.resources
        rt = res.lookup("", "v1", "namespaces")
        return self.emulator.store.find(rt, "", name) or res.create(rt, "", {"metadata": {"name": name}})

    def create_pod(self, manifest: dict) -> dict:
        return self.create({"apiVersion": "v1", "kind": "Pod", **manifest})

    def create_node(self, manifest: dict) -> dict:
        return self.create({"apiVersion": "v1", "kind": "Node", **manifest})

    def delete_pod(self, namespace: str, name: str) -> dict:
        """What a simulated node calls when a pod goes (podid_harness.sim: Node.remove_pod and close)."""
        return self.delete("pods", name, namespace)

    def get(self, resource: str, name: str, namespace: str = "default") -> dict:
        rt = self.resource(resource)
        return self.emulator.resources.get(rt, namespace if rt.namespaced else "", name)

    def find(self, resource: str, name: str, namespace: str = "default") -> Optional[dict]:
        try:
            return self.get(resource, name, namespace)
        except Exception:  # noqa: BLE001 - ApiError NotFound, as a None for tests
            return None

    def list(self, resource: str, namespace: str = "", label_selector: str = "",
             field_selector: str = "") -> list[dict]:
        rt = self.resource(resource)
        return self.emulator.resources.list(rt, namespace, label_selector, field_selector)["items"]

    def update(self, obj: dict, subresource: Optional[str] = None) -> dict:
        rt = self._type_of(obj)
        md = obj["metadata"]
        return self.emulator.resources.replace(rt, md.get("namespace", "") if rt.namespaced else "", md["name"],
                                               obj, subresource)

    def update_status(self, obj: dict) -> dict:
        return self.update(obj, "status")

    def patch(self, resource: str, name: str, patch, namespace: str = "default",
              content_type: str = "application/merge-patch+json", subresource: Optional[str] = None) -> dict:
        import json
        rt = self.resource(resource)
        body = patch if isinstance(patch, bytes) else json.dumps(patch).encode()
        return self.emulator.resources.patch(rt, namespace if rt.namespaced else "", name, content_type, body,
                                             subresource)

    def delete(self, resource: str, name: str, namespace: str = "default") -> dict:
        rt = self.resource(resource)
        return self.emulator.resources.delete(rt, namespace if rt.namespaced else "", name)

    @property
    def resource_version(self) -> int:
        return self.emulator.store.rv


__all__ = ["KubeApiServer", "ADMIN_USER"]
