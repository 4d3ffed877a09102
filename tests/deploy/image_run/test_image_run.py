# SPDX-License-Identifier: Apache-2.0
"""The image, run the way deploy/manifests run it (podman, runc), after scripts/image built it:

  - the agent DaemonSet: its init container's command makes the redirect address, then the agent container runs
    with exactly the manifest's user, capabilities, read-only root file system, volume mounts (bpffs, the host's
    cgroup tree read only, a memory /tmp), host network (the simulated node's) and arguments, and serves a pod's
    token through 169.254.169.254;
  - the controller Deployment's non-root variant: uid 65532, no capability, no privilege escalation, read-only
    root file system, its cloud configuration from the environment, against the emulators; it assigns an
    identity.

Everything is read from the manifests, so a capability, mount, path or user that the manifests and the image
disagree on fails here. What a cluster would add is added the way a cluster adds it: the service account token
and CA at /var/run/secrets/kubernetes.io/serviceaccount with KUBERNETES_SERVICE_HOST/PORT (in-cluster
configuration), the CA of the emulators, and for the simulated node `--cgroup-path` (its kubepods is not the
host's) and `--pin-name` (its pins must not meet a real podid's).

Opt-in (cmake -DPODID_IMAGE_TESTS=ON; see README "The image"): building the image takes minutes. Root."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import yaml

from podid_harness.controller_cluster import NODE_RG, ControllerCluster
from podid_harness.privileged import require_root
from podid_harness.token_cluster import AGENT_USER, VAULT, TokenCluster

REPO = Path(__file__).resolve().parents[3]
MANIFESTS = REPO / "deploy" / "manifests"
SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


def load(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def workload(path: Path, kind: str) -> dict:
    return next(d for d in load(path) if d["kind"] == kind)


IMAGE = workload(MANIFESTS / "11-agent-daemonset.yaml", "DaemonSet")["spec"]["template"]["spec"]["containers"][0]["image"]


def podman(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
    # runc: crun refuses hybrid cgroup hierarchies (this machine's).
    r = subprocess.run(["podman", "--runtime", "runc", *args], capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)}: exit {r.returncode}\n{r.stdout}\n{r.stderr}")
    return r


@pytest.fixture(scope="module", autouse=True)
def image():
    require_root("running the image")
    if shutil.which("podman") is None:
        pytest.fail("podman missing: scripts/install-deps --image", pytrace=False)
    if podman("image", "exists", IMAGE, check=False).returncode != 0:
        pytest.fail(f"{IMAGE} is not built: run scripts/image first", pytrace=False)
    return IMAGE


class Containers:
    """Containers this test started, removed by name at the end."""

    def __init__(self):
        self.names: list[str] = []

    def name(self, role: str) -> str:
        n = f"podid-image-test-{role}-{uuid.uuid4().hex[:8]}"
        self.names.append(n)
        return n

    def remove_all(self):
        for n in self.names:
            podman("rm", "--force", "--time", "2", n, check=False)


@pytest.fixture
def containers():
    c = Containers()
    yield c
    c.remove_all()


def limits() -> list[str]:
    # Below this machine's limits: a CI runner that is itself a container may lack CAP_SYS_RESOURCE, and the
    # runtime then cannot set the (higher) defaults. The agent needs far fewer descriptors than this.
    return ["--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096"]


def run_args(pod: dict, container: dict, host_paths: dict[str, str], env: dict[str, str],
             substitutions: dict[str, str]) -> list[str]:
    """`podman run` flags for one container of a pod spec, as the kubelet would set it up: user, capabilities,
    read-only root, privilege escalation, mounts (hostPath volumes through `host_paths`: manifest path -> path on
    this machine), host network, command and arguments ($(VAR) expanded as the kubelet does)."""
    sc = {**(pod.get("securityContext") or {}), **(container.get("securityContext") or {})}
    args = [*limits()]
    if "runAsUser" in sc:
        args += ["--user", f"{sc['runAsUser']}:{sc.get('runAsGroup', sc['runAsUser'])}"]
    assert not sc.get("privileged"), "privileged containers are not what podid ships"
    if sc.get("readOnlyRootFilesystem"):
        args.append("--read-only")
    if sc.get("allowPrivilegeEscalation") is False:
        args += ["--security-opt", "no-new-privileges"]
    caps = sc.get("capabilities") or {}
    assert caps.get("drop") == ["ALL"], container["name"]
    args.append("--cap-drop=all")
    for cap in caps.get("add") or []:
        args.append(f"--cap-add={cap}")
    volumes = {v["name"]: v for v in pod.get("volumes") or []}
    for m in container.get("volumeMounts") or []:
        v = volumes[m["name"]]
        if "hostPath" in v:
            src = host_paths[v["hostPath"]["path"]]
            opts = ["ro"] if m.get("readOnly") else ["rw"]
            if m.get("mountPropagation") == "HostToContainer":
                opts.append("rslave")
            args += ["--volume", f"{src}:{m['mountPath']}:{','.join(opts)}"]
        elif "emptyDir" in v:
            assert v["emptyDir"].get("medium") == "Memory", v
            args += ["--tmpfs", f"{m['mountPath']}:rw,size={v['emptyDir'].get('sizeLimit', '1Mi').replace('Mi', 'm')}"]
        else:
            raise AssertionError(f"volume kind this test does not know: {v}")
    for e in container.get("env") or []:
        if "value" in e:
            args += ["--env", f"{e['name']}={e['value']}"]
        else:
            args += ["--env", f"{e['name']}={substitutions[e['name']]}"]
    for k, v in env.items():
        args += ["--env", f"{k}={v}"]
    return args


def expand(words: list[str], substitutions: dict[str, str]) -> list[str]:
    out = []
    for w in words:
        for k, v in substitutions.items():
            w = w.replace(f"$({k})", v)
        out.append(w)
    return out


def service_account(tmp: Path, token: str, ca_pem: str) -> Path:
    d = tmp / "serviceaccount"
    d.mkdir()
    (d / "token").write_text(token)
    (d / "ca.crt").write_text(ca_pem)
    for f in (d, d / "token", d / "ca.crt"):
        f.chmod(0o755 if f.is_dir() else 0o644)   # the kubelet's projected volume is readable by the pod's user
    return d


def cgroup2_mount() -> str:
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        left, _, right = line.partition(" - ")
        if right.startswith("cgroup2 "):
            return left.split()[4]
    pytest.skip("no cgroup2 mount")


def host_cgroup_root() -> str:
    """What hostPath /sys/fs/cgroup is on this machine: the cgroup2 mount, or the hybrid tree holding it."""
    mount = cgroup2_mount()
    return "/sys/fs/cgroup" if mount.startswith("/sys/fs/cgroup") else mount


def test_agent_daemonset_serves_a_pods_token(tmp_path, containers):
    ds = workload(MANIFESTS / "11-agent-daemonset.yaml", "DaemonSet")
    pod = ds["spec"]["template"]["spec"]
    assert pod["hostNetwork"] is True
    pin = f"podid-image-{uuid.uuid4().hex[:8]}"
    with TokenCluster(tmp_path / "cluster", mode="standard", start_agent=False) as c:
        ident = c.add_identity("shop", "web-id")
        c.bind("shop", "web", ident, "web")
        app = c.add_pod("app", "shop", binding="web")
        c.assign(app, ident)     # what podid-controller would write
        sa = service_account(tmp_path, c.agent_token, Path(c.ca.bundle_path).read_text())
        node_netns = f"ns:/run/netns/{c.node.netns}"
        host_paths = {"/sys/fs/bpf": "/sys/fs/bpf", "/sys/fs/cgroup": host_cgroup_root()}
        subs = {"NODE_NAME": c.node_name}
        api_port = c.api.port

        init = pod["initContainers"][0]
        assert init["image"] == IMAGE
        # Kernels without the dummy driver (this CI machine's): the interface made beforehand as an ifb, so
        # the init container's `ip link show podid0 || ip link add ...` finds it and goes on as on a node.
        if c.node.run(["ip", "link", "add", "podid0", "type", "dummy"]).returncode != 0:
            c.node.run(["ip", "link", "add", "podid0", "type", "ifb"], check=True)
        podman("run", "--name", containers.name("init"), "--network", node_netns,
                   *run_args(pod, init, host_paths, {}, subs),
                   "--entrypoint", json.dumps(init["command"]), IMAGE, *expand(init.get("args", []), subs))
        assert "podid0" in c.node.run(["ip", "-o", "link", "show", "podid0"], check=True).stdout

        agent = pod["containers"][0]
        assert agent["image"] == IMAGE
        env = {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": str(api_port)}
        extra = ["--cgroup-path", str(c.node.kubepods_dir), "--pin-name", pin]
        name = containers.name("agent")
        try:
            podman("run", "--detach", "--name", name, "--network", node_netns,
                   "--volume", f"{sa}:{SA_DIR}:ro", *run_args(pod, agent, host_paths, env, subs),
                   "--entrypoint", json.dumps(agent["command"]), IMAGE, *expand(agent["args"], subs), *extra)
            port = next(p["containerPort"] for p in agent["ports"] if p["name"] == "ops")
            deadline = time.monotonic() + 60
            ready = ""
            while time.monotonic() < deadline:
                out = c.node.run(["/usr/bin/python3", "-c",
                                  "import urllib.request,sys\n"
                                  "try: print(urllib.request.urlopen(sys.argv[1], timeout=2).status)\n"
                                  "except Exception as e: print(e)", f"http://127.0.0.1:{port}/readyz"])
                ready = out.stdout.strip()
                if ready == "200":
                    break
                if podman("inspect", "--format", "{{.State.Running}}", name).stdout.strip() != "true":
                    break
                time.sleep(0.5)
            logs = podman("logs", name, check=False)
            assert ready == "200", f"agent not ready ({ready}):\n{logs.stdout[-3000:]}{logs.stderr[-3000:]}"
            r = c.token(app)
            assert r.status == 200, f"{r}\n{podman('logs', name, check=False).stderr[-3000:]}"
            assert r.claims()["oid"] == ident.principal_id
        finally:
            podman("stop", "--time", "5", name, check=False)
            # The pins outlive the container on purpose (fail closed): remove them with the image's own uninstall.
            podman("run", "--rm", *limits(), "--user", "0:0", "--cap-drop=all", "--cap-add=BPF",
                   "--cap-add=NET_ADMIN", "--cap-add=SYS_ADMIN", "--volume", "/sys/fs/bpf:/sys/fs/bpf:rw",
                   "--volume", f"{host_cgroup_root()}:/sys/fs/cgroup:ro", "--network", node_netns,
                   "--entrypoint", '["/usr/bin/podid-agent"]', IMAGE, "uninstall", "--pin-name", pin, check=False)


def test_controller_non_root_variant_assigns_an_identity(tmp_path, containers):
    deployment = workload(MANIFESTS / "variants" / "21-controller-deployment-secret-config.yaml", "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    main = pod["containers"][0]
    assert main["image"] == IMAGE and pod["securityContext"]["runAsUser"] != 0
    with ControllerCluster(tmp_path / "cluster") as c:
        pool = c.add_scale_set(NODE_RG, "aks-pool1", nodes=1)
        web = c.add_identity("shop", "web-id")
        c.bind("shop", web, "web")
        sa = service_account(tmp_path, c.kube_token, Path(c.ca.bundle_path).read_text())
        files = tmp_path / "azure"
        files.mkdir()
        shutil.copy(c.environment_file, files / "environment.json")
        shutil.copy(c.ca.bundle_path, files / "ca.pem")
        for f in (files, *files.iterdir()):
            f.chmod(0o755 if f.is_dir() else 0o644)
        cfg = c.azure_json()
        secret = {"CLOUD": cfg["cloud"], "TENANT_ID": cfg["tenantId"], "SUBSCRIPTION_ID": cfg["subscriptionId"],
                  "RESOURCE_GROUP": cfg["resourceGroup"], "VM_TYPE": cfg["vmType"], "CLIENT_ID": cfg["aadClientId"],
                  "CLIENT_SECRET": cfg["aadClientSecret"]}
        env = {**secret, "KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": str(c.api.port),
               "AZURE_ENVIRONMENT_FILEPATH": "/etc/podid-test/environment.json"}
        subs = {"POD_NAMESPACE": "podid-system"}
        port = next(p["containerPort"] for p in main["ports"] if p["name"] == "metrics")
        listen = [a for a in main["args"] if a.startswith("--listen=")]
        assert listen == [f"--listen=0.0.0.0:{port}"]
        # The controller's port on this namespace's loopback is taken by nothing else the cluster runs.
        name = containers.name("controller")
        podman("run", "--detach", "--name", name, "--network", "host",
               "--volume", f"{sa}:{SA_DIR}:ro", "--volume", f"{files}:/etc/podid-test:ro",
               *run_args(pod, main, {}, env, subs),
               "--entrypoint", json.dumps(main["command"]), IMAGE, *expand(main["args"], subs),
               "--azure-ca-file=/etc/podid-test/ca.pem")
        try:
            web_pod = c.add_pod("shop", "web-0", pool.nodes[0], selector="web")
            try:
                c.wait_assigned(web_pod, timeout=60)
            except Exception:
                logs = podman("logs", name, check=False)
                raise AssertionError(f"not assigned:\n{logs.stdout[-3000:]}{logs.stderr[-3000:]}")
            assert web.resource_id.lower() in c.cloud.assigned_ids(pool.resource_id)
            user = podman("inspect", "--format", "{{.Config.User}}", name).stdout.strip()
            assert user == f"{pod['securityContext']['runAsUser']}:{pod['securityContext']['runAsGroup']}", user
        finally:
            podman("stop", "--time", "5", name, check=False)


def test_runtime_image_holds_no_compiler_and_no_development_package():
    r = podman("run", "--rm", *limits(), "--network", "none", "--entrypoint", '["/bin/sh", "-c"]', IMAGE,
               "for t in cc gcc g++ c++ cpp clang ld as make cmake; do command -v $t; done; "
               "dpkg-query -W -f='${Package}\\n'")
    lines = r.stdout.split()
    tools = [line for line in lines if line.startswith("/")]
    assert not tools, f"compilers or build tools in the runtime image: {tools}"
    packages = set(lines) - set(tools)
    assert "libprometheus-cpp-core1.0" in packages and "libbpf1" in packages, sorted(packages)
    # gcc-12-base is not a compiler: it is the directory of libgcc-s1's documentation, in every Debian image.
    development = sorted(p for p in packages if p.endswith("-dev") or re.fullmatch(
        r"(gcc|g\+\+|cpp|clang|llvm|binutils|make|cmake)(-[0-9.]+)?|binutils-.*|libclang.*|libllvm.*", p))
    assert not development, f"development packages in the runtime image: {development}"
