# SPDX-License-Identifier: Apache-2.0
"""podid's Kubernetes client (kubeconfig_config -> ApiClient -> Reflector, through tests/tools/podid-k8s-probe)
against the API server stand-in: TLS with the stand-in's CA, a bearer token with list/watch rights only,
field selectors, bookmarks, resuming a dropped watch without a relist, and relisting when the version the
client holds has left the server's history (410)."""
from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Callable

import pytest

from podid_harness.kube import KubeApiServer

USER = "system:serviceaccount:kube-system:podid-agent"


def probe_binary() -> str:
    explicit = os.environ.get("PODID_K8S_PROBE")
    if explicit:
        return explicit
    build = os.environ.get("PODID_BUILD_DIR")
    if not build:
        pytest.fail("PODID_BUILD_DIR is not set: run through ctest, or set PODID_K8S_PROBE")
    path = Path(build) / "tests" / "tools" / "podid-k8s-probe"
    if not path.exists():
        pytest.fail(f"{path} is missing: build the podid-k8s-probe target first")
    return str(path)


class Probe:
    """podid-k8s-probe as a child process; its JSON lines are collected by a reader thread."""

    def __init__(self, kubeconfig: str, *args: str) -> None:
        self.proc = subprocess.Popen([probe_binary(), "--kubeconfig", kubeconfig, "--backoff-ms", "100", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: list[dict] = []
        self._q: "queue.Queue[dict]" = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for raw in self.proc.stdout:
            self._q.put(json.loads(raw))

    def wait_for(self, pred: Callable[[dict], bool], timeout: float = 10.0, what: str = "") -> dict:
        deadline = time.monotonic() + timeout
        for line in self.lines:
            if pred(line):
                return line
        while time.monotonic() < deadline:
            try:
                line = self._q.get(timeout=0.1)
            except queue.Empty:
                if self.proc.poll() is not None:
                    break
                continue
            self.lines.append(line)
            if pred(line):
                return line
        stderr = self.proc.stderr.read() if self.proc.poll() is not None else "(still running)"
        raise AssertionError(f"probe: no line for {what or pred} in {timeout}s; got {self.lines}; stderr: {stderr}")

    def events(self) -> list[tuple[str, str]]:
        return [(line["type"], line["name"]) for line in self.lines if line["kind"] == "event"]

    def stop(self) -> dict:
        """SIGTERM; returns the final stats line."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        line = self.wait_for(lambda l: l["kind"] == "stats", timeout=5, what="final stats")
        assert self.proc.wait(timeout=5) == 0
        return line["stats"]

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def pod(name: str, node: str, namespace: str = "team-a") -> dict:
    return {"metadata": {"name": name, "namespace": namespace, "labels": {"app": name.split("-")[0]}},
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "busybox"}]},
            "status": {"phase": "Running"}}


@pytest.fixture
def standin(request):
    params = getattr(request, "param", {})
    with KubeApiServer.start(bookmark_interval_s=0.3, **params) as api:
        yield api


@pytest.fixture
def kubeconfig(standin, tmp_path) -> str:
    """A kubeconfig holding the stand-in's CA and a token that may only list and watch pods, as the agent's."""
    token = standin.add_token(USER, [(["list", "watch"], [""], ["pods"])])
    return standin.kubeconfig(tmp_path / "kubeconfig", token=token, user="podid-agent")


@pytest.fixture
def probes():
    started: list[Probe] = []

    def start(*args: str) -> Probe:
        p = Probe(*args)
        started.append(p)
        return p

    yield start
    for p in started:
        p.kill()


def watches_of(api: KubeApiServer) -> list[dict]:
    """Watch requests that have ended (the stand-in logs a request when its answer is complete)."""
    return [e for e in api.requests(resource="pods") if e.get("verb") == "watch"]


def lists_of(api: KubeApiServer) -> list[dict]:
    return [e for e in api.requests(resource="pods") if e.get("verb") == "list"]


def wait_until(pred: Callable[[], bool], timeout: float = 10.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_lists_and_watches_a_nodes_pods_over_tls(standin, kubeconfig, probes):
    standin.create_pod(pod("web-1", "node-1"))
    standin.create_pod(pod("web-2", "node-2"))
    standin.create_pod(pod("db-1", "node-1", namespace="team-b"))
    probe = probes(kubeconfig, "--field-selector", "spec.nodeName=node-1")

    replace = probe.wait_for(lambda l: l["kind"] == "replace", what="the initial list")
    assert sorted(replace["items"]) == ["team-a/web-1", "team-b/db-1"]
    assert replace["stats"]["synced"] is True

    wait_until(lambda: standin.open_watches(), what="the probe's watch")
    (label,) = standin.open_watches()
    assert "allowWatchBookmarks=true" in label and "fieldSelector=spec.nodeName%3Dnode-1" in label, label
    standin.create_pod(pod("web-3", "node-1"))
    standin.create_pod(pod("web-4", "node-2"))  # another node: not ours
    standin.delete_pod("team-a", "web-1")
    probe.wait_for(lambda l: l["kind"] == "event" and l["type"] == "DELETED", what="DELETED web-1")
    assert probe.events() == [("ADDED", "team-a/web-3"), ("DELETED", "team-a/web-1")]

    stats = probe.stop()
    assert stats["lists"] == 1 and stats["failures"] == 0 and stats["relists_gone"] == 0
    (lst,) = lists_of(standin)
    assert lst["user"] == USER and lst["code"] == 200
    assert lst["query"]["fieldSelector"] == ["spec.nodeName=node-1"] and lst["query"]["limit"] == ["500"]
    assert lst["user_agent"] == "podid-k8s-probe"


def test_bookmarks_carry_the_version_forward(standin, kubeconfig, probes):
    standin.create_pod(pod("web-1", "node-1"))
    probe = probes(kubeconfig, "--field-selector", "spec.nodeName=node-1")
    replace = probe.wait_for(lambda l: l["kind"] == "replace")
    listed = standin.resource_version
    # Changes the probe's selector filters out: the only way it learns the newer version is a BOOKMARK.
    for i in range(5):
        standin.create_pod(pod(f"other-{i}", "node-2"))
    newest = standin.resource_version
    assert newest > listed
    time.sleep(1.0)  # a few bookmark intervals
    standin.faults.drop_watches()
    wait_until(lambda: any(f"resourceVersion={newest}" in w for w in standin.open_watches()), timeout=5,
               what=f"a watch resumed from resourceVersion {newest}")
    assert probe.events() == []
    stats = probe.stop()
    assert stats["lists"] == 1, "resumed, not relisted"
    assert replace["items"] == ["team-a/web-1"]


def test_dropped_watch_resumes_without_relist(standin, kubeconfig, probes):
    standin.create_pod(pod("web-1", "node-1"))
    probe = probes(kubeconfig)
    probe.wait_for(lambda l: l["kind"] == "replace")
    wait_until(lambda: standin.open_watches(), what="the probe's watch")
    standin.create_pod(pod("web-2", "node-1"))
    probe.wait_for(lambda l: l["kind"] == "event" and l["name"] == "team-a/web-2")

    standin.faults.drop_watches()
    wait_until(lambda: len(watches_of(standin)) == 1 and standin.open_watches(), what="a second watch")
    standin.create_pod(pod("web-3", "node-1"))
    probe.wait_for(lambda l: l["kind"] == "event" and l["name"] == "team-a/web-3", what="an event after the drop")

    stats = probe.stop()
    assert stats["lists"] == 1 and stats["relists_gone"] == 0
    assert stats["failures"] == 1, "the cut watch is one failure"
    assert stats["watches"] >= 2
    assert probe.events() == [("ADDED", "team-a/web-2"), ("ADDED", "team-a/web-3")]
    assert len(lists_of(standin)) == 1


@pytest.mark.parametrize("standin", [{"history_window": 5}, {"history_window": 5, "expired_watch_as_event": False}],
                         indirect=True, ids=["error-event", "http-410"])
def test_expired_version_relists(standin, kubeconfig, probes):
    standin.create_pod(pod("web-1", "node-1"))
    probe = probes(kubeconfig)
    probe.wait_for(lambda l: l["kind"] == "replace")
    wait_until(lambda: standin.open_watches(), what="the probe's watch")

    # Hold the probe's next watch while more changes than the history window happen, then let it in.
    standin.faults.pause(2.0)
    standin.faults.drop_watches()
    for i in range(10):
        standin.create_pod(pod(f"burst-{i}", "node-1"))
    relist = probe.wait_for(lambda l: l["kind"] == "replace" and l["stats"]["relists_gone"] >= 1, timeout=15,
                            what="a relist after 410")
    assert sorted(relist["items"]) == sorted(["team-a/web-1"] + [f"team-a/burst-{i}" for i in range(10)])

    # And it is back in step: a change after the relist arrives as an event.
    wait_until(lambda: standin.open_watches(), what="the watch after the relist")
    standin.create_pod(pod("after", "node-1"))
    probe.wait_for(lambda l: l["kind"] == "event" and l["name"] == "team-a/after")
    stats = probe.stop()
    assert stats["lists"] == 2 and stats["relists_gone"] == 1


def test_wrong_token_is_a_failure_not_an_empty_list(standin, tmp_path, probes):
    path = standin.kubeconfig(tmp_path / "kubeconfig", token="not-a-token")
    standin.create_pod(pod("web-1", "node-1"))
    probe = probes(path)
    wait_until(lambda: len([e for e in standin.request_log if e["code"] == 401]) >= 2, what="two refused lists")
    stats = probe.stop()
    assert not stats["synced"] and stats["failures"] >= 2
    assert "HTTP 401" in stats["last_error"], stats["last_error"]
    assert not [l for l in probe.lines if l["kind"] == "replace"]


def test_refuses_a_server_whose_certificate_it_cannot_verify(standin, tmp_path, probes):
    """A kubeconfig without the stand-in's CA: the system store does not trust it, so no request is sent."""
    text = Path(standin.kubeconfig(tmp_path / "with-ca")).read_text()
    stripped = "".join(l for l in text.splitlines(keepends=True) if "certificate-authority-data" not in l)
    (tmp_path / "no-ca").write_text(stripped)
    probe = probes(str(tmp_path / "no-ca"))
    time.sleep(1.0)
    stats = probe.stop()
    assert not stats["synced"] and stats["failures"] >= 1
    assert "certificate" in stats["last_error"], stats["last_error"]
    assert standin.request_log == []
