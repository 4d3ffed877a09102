# SPDX-License-Identifier: Apache-2.0
"""The part TokenCluster (token_cluster.py) and ControllerCluster (controller_cluster.py) share: a cluster of
stand-ins built on enter and torn down in reverse on close (also after a half-built one), one test CA, one
TokenIssuer and AzureState, the Kubernetes API stand-in with the aadpodidentity.k8s.io CRDs, and a kubeconfig
for the podid component under test limited to the rules its chart grants."""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Iterable, Optional

from .azure.state import AzureState
from .azure.tlsca import TestCA
from .azure.tokens import TokenIssuer
from .identity_objects import aai_name
from .kube import KubeApiServer
from .lifecycle import BuiltOnEnter


class StandInCluster(BuiltOnEnter):
    """Subclasses build in `_build` with the steps below; what a step starts is closed by `close()`, latest
    first (servers after the processes that use them: register a process's stop after the servers)."""

    aai_name = staticmethod(aai_name)

    def __init__(self, tmp: Path) -> None:
        self.tmp = Path(tmp)
        self.tmp.mkdir(parents=True, exist_ok=True)
        self._stack = contextlib.ExitStack()

    def close(self) -> None:
        self._stack.close()

    def _start_azure(self, ca_name: str) -> None:
        """The run's test CA (every HTTPS stand-in's issuer), the token signer and the Azure state behind ARM,
        IMDS and Entra ID."""
        self.ca = self._stack.enter_context(TestCA(common_name=ca_name))
        self.issuer = TokenIssuer()
        self.cloud = AzureState(tenant_id=self.issuer.tenant_id)

    def _start_api(self, crds: Iterable[dict], **options: Any) -> None:
        """The API stand-in on 127.0.0.1 (of `netns` when given) over HTTPS with the test CA, watches
        bookmarked every second, and `crds` created."""
        self.api = KubeApiServer.start(host="127.0.0.1", ca=self.ca, bookmark_interval_s=1.0, **options)
        self._stack.callback(self.api.stop)
        for c in crds:
            self.api.create(c)

    def _component_kubeconfig(self, path: Path, user: str, rules: Any, namespace: str) -> tuple[Optional[str], str]:
        """A bearer token for `user` limited to `rules` ("admin": no token, the stand-in's admin) and a kubeconfig
        with it: (token, kubeconfig path)."""
        token = None if rules == "admin" else self.api.add_token(user, rules)
        return token, self.api.kubeconfig(path, token=token, user=user, namespace=namespace)

    def _forbidden(self, user: str) -> list[dict]:
        """The API requests of `user` the stand-in refused (403): a rule the component's chart lacks."""
        return [e for e in self.api.requests(user=user) if e.get("code") == 403]
