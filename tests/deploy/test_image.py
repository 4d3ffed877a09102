# SPDX-License-Identifier: Apache-2.0
"""The Dockerfile, checked without building it (CI does not build the image: scripts/image and
tests/deploy/image_run do, on request). What it copies exists and is installed where it copies from, the
manifests run binaries the image ships, the runtime stage installs a package for every shared library the built
binaries need, and the image the README's quickstart builds is the one every manifest and the chart name."""
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import MANIFESTS, REPO, load_docs

DOCKERFILE = (REPO / "Dockerfile").read_text()
# Provided by debian:12-slim itself (essential packages).
BASE_PACKAGES = {"libc6", "libstdc++6", "libgcc-s1", "zlib1g"}


def instructions() -> list[tuple[str, str, str]]:
    """(stage, instruction, arguments), continuation lines joined."""
    out, stage = [], ""
    for line in re.sub(r"\\\n", " ", DOCKERFILE).splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        op, _, args = line.partition(" ")
        if op == "FROM":
            stage = args.split(" AS ")[-1].strip() if " AS " in args else "final"
        out.append((stage, op, args))
    return out


def copied_binaries() -> dict[str, str]:
    """/out/bin/<name> copied from the build stage -> its path in the image."""
    out = {}
    for stage, op, args in instructions():
        if op == "COPY" and args.startswith("--from=build"):
            *sources, dest = shlex.split(args)[1:]
            for s in sources:
                assert s.startswith("/out/bin/"), s
                out[Path(s).name] = dest + Path(s).name if dest.endswith("/") else dest
    return out


def cmake_lists() -> str:
    return "\n".join(p.read_text() for p in REPO.rglob("CMakeLists.txt")
                     if not any(part.startswith("build") for part in p.relative_to(REPO).parts))


def test_build_stage_copies_the_tree_and_runs_existing_scripts():
    build = [(op, args) for stage, op, args in instructions() if stage == "build"]
    assert ("COPY", ". .") in build
    runs = " ".join(args for op, args in build if op == "RUN")
    for script in re.findall(r"scripts/[\w-]+", runs):
        assert os.access(REPO / script, os.X_OK), script
    assert "cmake --install /build --prefix /out" in runs and "PODID_BUILD_DIR=/build" in runs


def dockerignore_patterns() -> list[tuple[bool, re.Pattern]]:
    """(is an exception "!...", regex) per line of .dockerignore, with Docker's rules: paths relative to the
    context root, `*` and `?` within one path segment, `**` across any number of them, a trailing `/` ignored
    (so a pattern matches a file or a directory, and a directory takes everything under it)."""
    out = []
    for line in (REPO / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = line.lstrip("!").strip("/")
        rx = ""
        for token in re.split(r"(\*\*/|\*\*|\*|\?)", pattern):
            rx += {"**/": "(?:.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}.get(token, re.escape(token))
        out.append((negate, re.compile(rx + r"\Z")))
    return out


def docker_ignores(path: str, patterns) -> bool:
    """Whether `docker build` leaves `path` out of the context: the last pattern matching it or a directory above
    it decides."""
    parts = path.split("/")
    candidates = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    ignored = False
    for negate, rx in patterns:
        if any(rx.match(c) for c in candidates):
            ignored = not negate
    return ignored


def test_dockerignore_keeps_every_tracked_file_and_drops_local_build_trees():
    patterns = dockerignore_patterns()
    for local in ("build/agent/podid-agent", "build-deploy/CMakeCache.txt", ".git/HEAD",
                  "tests/harness/node/node_modules/@azure/identity/package.json", "node_modules/x",
                  "tests/deploy/__pycache__/conftest.cpython-311.pyc", "common/x.pyc", ".pytest_cache/v/x"):
        assert docker_ignores(local, patterns), local
    r = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z"], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip("not a git checkout")
    tracked = [f for f in r.stdout.split("\0") if f]
    assert "scripts/build" in tracked and "CMakeLists.txt" in tracked
    dropped = [f for f in tracked if docker_ignores(f, patterns)]
    assert not dropped, f".dockerignore leaves out files the image is built from: {dropped[:10]}"


def test_every_copied_binary_is_a_target_installed_to_bin():
    text = cmake_lists()
    binaries = copied_binaries()
    assert set(binaries) == {"podid-agent", "podid-controller"}
    for name in binaries:
        assert re.search(rf"add_executable\({re.escape(name)}\b", text), f"no target {name}"
        assert re.search(rf"install\(TARGETS {re.escape(name)} RUNTIME DESTINATION bin\)", text), \
            f"{name}: no install(TARGETS {name} RUNTIME DESTINATION bin), so /out/bin/{name} would not exist"


def test_manifests_run_binaries_the_image_ships():
    shipped = set(copied_binaries().values())
    docs = load_docs(MANIFESTS, MANIFESTS / "variants", MANIFESTS / "uninstall")
    seen = 0
    for doc in docs:
        spec = doc.get("spec", {}).get("template", {}).get("spec", {})
        for c in spec.get("containers", []) + spec.get("initContainers", []):
            command = c["command"][0]
            if command == "/bin/sh":
                # Shell scripts call podid-agent through PATH (/usr/bin).
                script = " ".join(c.get("args", []) + c["command"][2:])
                for binary in re.findall(r"\bpodid-[a-z]+\b", script):
                    assert f"/usr/bin/{binary}" in shipped, binary
            else:
                assert command in shipped, command
            seen += 1
    assert seen >= 5


def test_default_user_is_non_root_and_the_agent_overrides_it():
    users = [args for stage, op, args in instructions() if stage == "final" and op == "USER"]
    assert users == ["65532:65532"]
    ds = next(d for d in load_docs(MANIFESTS) if d["kind"] == "DaemonSet")
    agent = ds["spec"]["template"]["spec"]["containers"][0]
    assert agent["securityContext"]["runAsUser"] == 0


def built_binary(name: str) -> Path:
    roots = [Path(os.environ["PODID_BUILD_DIR"])] if os.environ.get("PODID_BUILD_DIR") else []
    roots += sorted(REPO.glob("build*"))
    for root in roots:
        for candidate in (root / "agent" / name, root / "controller" / name):
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return candidate
    pytest.skip(f"{name} is not built (scripts/build)")


def runtime_packages() -> set[str]:
    final = " ".join(args for stage, op, args in instructions() if stage == "final" and op == "RUN")
    m = re.search(r"apt-get install -y --no-install-recommends ([^&]+)", final)
    return set(m.group(1).split())


@pytest.mark.parametrize("name", ["podid-agent", "podid-controller"])
def test_runtime_stage_installs_every_shared_library(name):
    binary = built_binary(name)
    ldd = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=True).stdout
    paths = re.findall(r"=> (/\S+)", ldd)
    assert paths
    needed = set()
    for p in paths:
        real = os.path.realpath(p)
        # Merged /usr: dpkg knows each file under the directory its package ships it in, /lib or /usr/lib.
        candidates = {p, real} | {c.replace("/usr/lib/", "/lib/", 1) for c in (p, real)} | \
            {c.replace("/lib/", "/usr/lib/", 1) for c in (p, real) if not c.startswith("/usr/")}
        for candidate in sorted(candidates):
            r = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
            if r.returncode == 0:
                needed.add(r.stdout.split(":")[0])
                break
        else:
            pytest.fail(f"{name}: no Debian package owns {p} ({real})")
    missing = needed - runtime_packages() - BASE_PACKAGES
    assert not missing, f"{name} links libraries of {sorted(missing)}, which the runtime stage does not install"


# ---- the image the quickstart builds is the one everything names ---------------------------------------------
def readme_shell_blocks() -> list[str]:
    return re.findall(r"```sh\n(.*?)```", (REPO / "README.md").read_text(), re.S)


def workload_images(root: Path) -> list[str]:
    images = []
    for f in sorted(root.rglob("*.yaml")):
        for doc in yaml.safe_load_all(f.read_text()):
            spec = ((doc or {}).get("spec") or {}).get("template", {}).get("spec", {})
            images += [c["image"] for c in spec.get("containers", []) + spec.get("initContainers", [])]
    return images


def test_quickstart_builds_the_image_the_manifests_and_the_chart_name(tmp_path):
    blocks = readme_shell_blocks()
    built = [m for b in blocks for m in re.findall(r"az acr build --registry \$ACR --image (\S+) \.", b)]
    assert len(built) == 1, "the quickstart should build the image once, with az acr build"
    repository, tag = built[0].split(":")
    pushed = f"podidtest.azurecr.io/{repository}:{tag}"

    # Every container of the manifests names one image, the chart's default; the quickstart's rewrite command,
    # run on a copy, turns every one of them into the image it built.
    shipped = workload_images(MANIFESTS)
    assert len(shipped) >= 5 and len(set(shipped)) == 1, set(shipped)
    values = yaml.safe_load((REPO / "deploy" / "helm" / "podid" / "values.yaml").read_text())["image"]
    assert shipped[0] == f"{values['repository']}:{values['tag']}"
    (rewrite,) = [b for b in blocks if "sed -i" in b and "deploy/manifests" in b]
    shutil.copytree(REPO / "deploy", tmp_path / "deploy")
    r = subprocess.run(["/bin/bash", "-euo", "pipefail", "-c", rewrite], cwd=tmp_path, capture_output=True,
                       text=True, env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "ACR": "podidtest"})
    assert r.returncode == 0, r.stderr
    assert set(workload_images(tmp_path / "deploy" / "manifests")) == {pushed}

    # Helm: the single setting, with the chart's tag being the one built.
    helm = [b for b in blocks if "helm install" in b]
    assert helm and all(f"--set image.repository=$ACR.azurecr.io/{repository}" in b for b in helm), helm
    assert str(values["tag"]) == tag


def test_runtime_stage_installs_no_compiler_and_no_headers():
    packages = runtime_packages()
    assert packages, "no apt-get install in the runtime stage"
    tools = {"gcc", "g++", "cpp", "clang", "llvm", "make", "cmake", "binutils", "build-essential", "bpftool"}
    bad = {p for p in packages
           if p.endswith("-dev") or p.split("-")[0] in tools or re.match(r"(gcc|g\+\+|clang|llvm)-[0-9]", p)}
    assert not bad, f"the runtime stage installs build tools or headers: {sorted(bad)}"
    copies = [args for stage, op, args in instructions() if stage == "final" and op == "COPY"]
    assert all(a.startswith("--from=build /out/bin/") for a in copies), copies
