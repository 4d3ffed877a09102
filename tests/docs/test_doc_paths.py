# SPDX-License-Identifier: Apache-2.0
"""Every repository path the documentation names exists in the repository.

docs/architecture.md walks a reader through the code file by file, and the README's layout and set-up name
files too: a file renamed or moved without the page would send the reader nowhere. A path is a token, in an
inline code span or in a ```text diagram, that either starts with one of the repository's top-level
directories (`agent/serve/admission.h`, `bpf/lib/`) or has a slash and ends like a source or document file
(so a misspelt top-level directory is still caught). A path with `*` is a glob and must match something. Paths
on a node (`/sys/fs/bpf`), API groups (`aadpodidentity.k8s.io/v1`), labels and annotations are none of these.

No exceptions: a path that exists only once another branch is merged fails here until it is."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from doc_blocks import DOCS, ROOT, blocks

ARCHITECTURE = ROOT / "docs" / "architecture.md"

# Top-level directories a path may start with: those of the source tree, not what a build leaves beside it.
BUILD_OUTPUT = re.compile(r"^(build.*|node_modules|__pycache__)$")
TOP_DIRS = {p.name for p in ROOT.iterdir()
            if p.is_dir() and not BUILD_OUTPUT.match(p.name) and not p.name.startswith(".")} | {".ci"}
FILE_SUFFIX = re.compile(r"\.(h|c|cpp|py|md|yaml|yml|json|cmake|sh|txt)$")
PATH_TOKEN = re.compile(r"^[\w.*-]+(/[\w.*-]*)*$")

_CODE_SPAN = re.compile(r"`([^`\n]+)`")
_FENCE = re.compile(r"^ *```")


def _prose(doc: Path) -> str:
    """The document without its fenced blocks."""
    out, fenced = [], False
    for line in doc.read_text().splitlines():
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            out.append(line)
    return "\n".join(out)


def _as_path(token: str) -> str | None:
    """The repository path a token names, or None when it names none."""
    token = token.split("::")[0]                                  # tests/x.py::test_y
    token = re.sub(r":\d+$", "", token).rstrip(".,;:)")         # file.cpp:120, end of a sentence
    token = token.lstrip("(")
    if not PATH_TOKEN.match(token) or token.startswith(("/", "-")):
        return None
    first = token.split("/")[0]
    if BUILD_OUTPUT.match(first):                                 # build/..., build-demo/...: made, not kept
        return None
    if "/" in token and first in TOP_DIRS:
        return token
    if "/" in token and FILE_SUFFIX.search(token):
        return token
    return None


def diagram_words(text: str) -> list[str]:
    """The words of a diagram, split at spaces and at the box drawing around them (`│agent/x.h│`)."""
    return re.findall(r"[\w./*:-]+", text, re.ASCII)


def named_paths(doc: Path) -> list[str]:
    """Every repository path the document names, in order of appearance, without repeats."""
    tokens = _CODE_SPAN.findall(_prose(doc))
    for b in blocks(doc):
        if b.lang == "text":
            tokens += diagram_words(b.text)
    paths = [p for t in tokens if (p := _as_path(t.strip()))]
    return list(dict.fromkeys(paths))


def exists(path: str) -> bool:
    if "*" in path:
        return any(ROOT.glob(path))
    return (ROOT / path).exists()


def test_the_rule_tells_paths_from_other_slashed_names():
    assert _as_path("agent/serve/admission.h") == "agent/serve/admission.h"
    assert _as_path("bpf/lib/") == "bpf/lib/"
    assert _as_path("common/azure/federated_*") == "common/azure/federated_*"
    assert _as_path("tests/docs/test_doc_paths.py::test_x") == "tests/docs/test_doc_paths.py"
    assert _as_path("agnet/serve/admission.h") == "agnet/serve/admission.h"  # misspelt: still checked
    assert _as_path(".ci/run") == ".ci/run"
    assert _as_path("../README.md") == "../README.md"
    for not_a_path in ("aadpodidentity.k8s.io/v1", "/sys/fs/bpf/podid/", "connect4/6", "podid.io/federated",
                       "<bpffs>/podid/v<ABI>/", "--federated", "kubectl get pods", "169.254.169.254:80", "build/compile_commands.json", "build-demo/build.log"):
        assert _as_path(not_a_path) is None, not_a_path
    assert not exists("agnet/serve/admission.h") and not exists("common/azure/no_such_*")
    assert diagram_words("│ accept ─ agent/serve/admission.h│──▶ IMDS") == \
        ["accept", "agent/serve/admission.h", "IMDS"]


def test_the_architecture_page_names_the_files_it_walks_through():
    # A page that stopped naming files (or a rule that stopped finding them) would pass the check below.
    assert len(named_paths(ARCHITECTURE)) >= 40, named_paths(ARCHITECTURE)


@pytest.mark.parametrize("doc", DOCS, ids=lambda d: str(d.relative_to(ROOT)))
def test_repository_paths_the_docs_name_exist(doc):
    missing = [p for p in named_paths(doc) if not exists(p)]
    assert not missing, f"{doc.relative_to(ROOT)} names paths that are not in the repository: {missing}"
