# SPDX-License-Identifier: Apache-2.0
"""The agent runs with exactly the capabilities its DaemonSet grants: a first start (load, attach, pin) and a
restart that takes over the pinned links, as uid 0 with only those capabilities (setpriv), then
`podid-agent uninstall` with none. And the set is not larger than needed: without SYS_ADMIN the takeover fails.
Needs root, bpffs at /sys/fs/bpf, cgroup v2 and a built podid-agent (kernel path only: --kube off)."""
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import MANIFESTS, REPO, load_docs
from podid_harness.privileged import require_root

PIN_NAME = f"podid-deploy-caps-{os.getpid()}"


def daemonset_capabilities() -> list[str]:
    ds = next(d for d in load_docs(MANIFESTS) if d["kind"] == "DaemonSet")
    agent = next(c for c in ds["spec"]["template"]["spec"]["containers"] if c["name"] == "agent")
    caps = agent["securityContext"]["capabilities"]
    assert caps["drop"] == ["ALL"]
    return caps["add"]


def agent_binary() -> Path:
    for root in ([Path(os.environ["PODID_BUILD_DIR"])] if os.environ.get("PODID_BUILD_DIR") else []) + \
            sorted(REPO.glob("build*")):
        if (root / "agent" / "podid-agent").is_file():
            return root / "agent" / "podid-agent"
    pytest.skip("podid-agent is not built")


def cgroup2_root() -> Path:
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split(" - ")
        if len(fields) == 2 and fields[1].startswith("cgroup2 "):
            return Path(line.split()[4])
    pytest.skip("no cgroup2 mount")


@pytest.fixture
def host():
    require_root("loading BPF programs")
    if not shutil.which("setpriv"):
        pytest.skip("setpriv (util-linux) not found")
    cgroup = cgroup2_root() / PIN_NAME
    cgroup.mkdir()
    binary = agent_binary()
    yield binary, cgroup
    subprocess.run([str(binary), "uninstall", "--pin-name", PIN_NAME], capture_output=True)
    cgroup.rmdir()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_agent(binary: Path, cgroup: Path, caps: list[str]) -> tuple[bool, str]:
    """Starts the agent with only `caps`; (whether /readyz answered ok, its log)."""
    spec = "-all" + "".join(f",+{c.lower()}" for c in caps)
    ops = free_port()
    cmd = ["setpriv", "--reuid", "0", f"--inh-caps={spec}", f"--ambient-caps={spec}", f"--bounding-set={spec}",
           str(binary), "run", "--kube", "off", "--cgroup-path", str(cgroup), "--pin-name", PIN_NAME,
           "--listen", f"127.0.0.1:{free_port()}", "--ops-listen", f"127.0.0.1:{ops}"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    ready = False
    try:
        for _ in range(50):
            if proc.poll() is not None:
                break
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{ops}/readyz", timeout=1) as r:
                    ready = r.status == 200
                    break
            except OSError:
                time.sleep(0.1)
    finally:
        if proc.poll() is None:
            proc.terminate()
        out, _ = proc.communicate(timeout=10)
    return ready, out


def test_the_daemonsets_capabilities_are_enough_and_needed(host):
    binary, cgroup = host
    caps = daemonset_capabilities()
    ready, log = run_agent(binary, cgroup, caps)
    assert ready and '"reused_link":false' in log, log
    ready, log = run_agent(binary, cgroup, caps)          # a restart: takes over the pinned links
    assert ready and '"reused_link":true' in log, log
    # Without SYS_ADMIN (PERFMON instead, which the verifier then wants) a restart cannot take over.
    ready, log = run_agent(binary, cgroup, [c for c in caps if c != "SYS_ADMIN"] + ["PERFMON"])
    assert not ready and "cannot start" in log, log
    # Unpinning needs uid 0 and no capability (the uninstall DaemonSet's container holds only NET_ADMIN).
    r = subprocess.run(["setpriv", "--reuid", "0", "--inh-caps=-all", "--ambient-caps=-all", "--bounding-set=-all",
                        str(binary), "uninstall", "--pin-name", PIN_NAME], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert not (Path("/sys/fs/bpf") / PIN_NAME).exists()
