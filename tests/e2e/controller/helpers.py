# SPDX-License-Identifier: Apache-2.0
"""Set-ups and assertions shared by podid-controller's end-to-end tests."""
from __future__ import annotations

import threading
import time
from typing import Optional

from podid_harness.controller_cluster import (AAI_FINALIZER, ControllerCluster, IdentityRef, PodRef, ScaleSet,
                                              wait_for)


def bound_identity(c: ControllerCluster, ns: str, name: str, selector: Optional[str] = None,
                   **kwargs) -> IdentityRef:
    """An identity and a binding of it to `selector` (default: the identity's name)."""
    ident = c.add_identity(ns, name, **kwargs)
    c.bind(ns, ident, selector or name)
    return ident


def assert_assigned_identity_shape(c: ControllerCluster, obj: dict, pod: PodRef, ident: IdentityRef) -> None:
    """The AzureAssignedIdentity as the predecessor's MIC wrote it (reference §3.3)."""
    md = obj["metadata"]
    assert md["name"] == f"{pod.name}-{pod.namespace}-{ident.name}", md
    assert md["namespace"] == "default", md
    assert md.get("labels", {}).get("nodename") == pod.node, md
    assert AAI_FINALIZER in (md.get("finalizers") or []), md
    spec = obj["spec"]
    assert (spec.get("pod"), spec.get("podNamespace"), spec.get("nodename")) == (pod.name, pod.namespace,
                                                                                 pod.node), spec
    assert spec["azureIdentityRef"]["metadata"]["name"] == ident.name, spec["azureIdentityRef"]
    assert spec["azureIdentityRef"]["spec"]["resourceID"] == ident.resource_id, spec["azureIdentityRef"]
    assert spec["azureBindingRef"]["spec"]["selector"] == pod.selector, spec["azureBindingRef"]


def on_compute(c: ControllerCluster, target: ScaleSet, ident: IdentityRef) -> bool:
    return ident.key in c.cloud.assigned_ids(target.resource_id)


def messages(c: ControllerCluster, **kwargs) -> list[str]:
    return [e.get("message") or e.get("note") or "" for e in c.events(**kwargs)]


def conditions(obj: dict) -> list[dict]:
    return list(((obj or {}).get("status") or {}).get("conditions") or [])


class StateRecorder:
    """Records every state change of some AzureAssignedIdentities, with time.monotonic() stamps comparable to
    the ARM emulator's log (LogEntry.t), so a test can say what state an AAI was in when ARM saw a call."""

    def __init__(self, c: ControllerCluster, pairs: list[tuple[PodRef, IdentityRef]], interval: float = 0.02):
        self.c, self.pairs, self.interval = c, pairs, interval
        self.changes: list[tuple[float, str, Optional[str]]] = []   # (t, aai name, state)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        last: dict[str, Optional[str]] = {}
        while True:
            stopping = self._stop.is_set()   # one more sample after stop: what the test saw last is recorded
            for pod, ident in self.pairs:
                name = self.c.aai_name(pod, ident)
                state = self.c.aai_state(self.c.aai(pod, ident))
                if name not in last or last[name] != state:
                    last[name] = state
                    self.changes.append((time.monotonic(), name, state))
            if stopping:
                return
            self._stop.wait(self.interval)

    def first(self, name: str, state: str) -> Optional[float]:
        return next((t for t, n, s in self.changes if n == name and s == state), None)

    def __enter__(self) -> "StateRecorder":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def settle(c: ControllerCluster, seconds: float) -> None:
    """Let the controller run for a while (to show that something does NOT happen)."""
    time.sleep(seconds)


def wait_event(c: ControllerCluster, pred, timeout: float, what: str) -> list[dict]:
    return wait_for(lambda: [e for e in c.events() if pred(e)], timeout, what, diagnose=c.diagnostics)
