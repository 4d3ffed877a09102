# SPDX-License-Identifier: Apache-2.0
"""The names the docs use exist: `file::test` names, relative links and their anchors, the commands the README
shows for each binary (in its `help`), and the ctest names and labels the docs tell a reader to run."""
from __future__ import annotations

import json
import re
import subprocess

import pytest

from code_names import usage_commands
from doc_blocks import DOCS, ROOT, rel
from podid_harness.paths import BUILD

README = ROOT / "README.md"


def test_named_tests_exist():
    refs = set()
    for doc in DOCS:
        refs |= set(re.findall(r"(tests/[\w/]+\.py)::(test_\w+)", doc.read_text()))
    assert refs, "the docs name no tests"
    missing = [f"{f}::{t}" for f, t in sorted(refs)
               if not (ROOT / f).exists() or not re.search(rf"^def {t}\(", (ROOT / f).read_text(), re.M)]
    assert not missing, f"tests named in the docs that do not exist: {missing}"


def github_anchor(heading: str) -> str:
    a = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", ""))
    return a.replace(" ", "-")


def test_links_resolve():
    broken = []
    for doc in DOCS:
        text = doc.read_text()
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"^[a-z]+://", target):
                continue
            path, _, anchor = target.partition("#")
            dest = (doc.parent / path).resolve() if path else doc
            if not dest.exists():
                broken.append(f"{rel(doc)}: {target}")
            elif anchor and dest.suffix == ".md":
                anchors = {github_anchor(h) for h in re.findall(r"^#+ (.*)$", dest.read_text(), re.M)}
                if anchor not in anchors:
                    broken.append(f"{rel(doc)}: {target} (no such heading)")
    assert not broken, broken


@pytest.mark.parametrize("name,binary", [("podid-agent", BUILD / "agent" / "podid-agent"),
                                         ("podid-controller", BUILD / "controller" / "podid-controller")])
def test_commands_the_readme_names_are_in_the_binaries_usage(name, binary):
    named = set(re.findall(rf"^{name} ([a-z]+)\b", README.read_text(), re.M))
    assert named, f"README shows no {name} command"
    listed = usage_commands(binary)
    if listed is None:
        pytest.fail(f"{binary} missing: build {name} first", pytrace=False)
    assert named <= listed, f"README names {sorted(named - listed)}, which `{name} help` does not list"


def test_ctest_names_and_labels_the_docs_use_exist():
    r = subprocess.run(["ctest", "-N", "--show-only=json-v1"], cwd=BUILD, capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        pytest.fail(f"ctest -N in {BUILD} failed: configure the build first\n{r.stderr}", pytrace=False)
    tests = json.loads(r.stdout)["tests"]
    names = {t["name"] for t in tests}
    labels = {label for t in tests for p in t.get("properties", []) if p["name"] == "LABELS" for label in p["value"]}
    # Tests registered only on request (cmake -D...=ON), which the docs may name with how to turn them on.
    optional = {"deploy_image_run": "PODID_IMAGE_TESTS"}
    for doc in DOCS:
        text = doc.read_text()
        for label in re.findall(r"ctest[^`\n]*? -L ([\w-]+)", text):
            assert label in labels, f"{rel(doc)}: ctest -L {label}: no test carries that label"
        for regex in re.findall(r"ctest[^`\n]*? -R ([\w|]+)", text):
            if regex in optional:
                assert optional[regex] in text, f"{rel(doc)}: {regex} needs -D{optional[regex]}=ON, say so"
                continue
            assert any(re.search(regex, n) for n in names), f"{rel(doc)}: ctest -R {regex} selects no test"
