# SPDX-License-Identifier: Apache-2.0
"""Every command in the user documentation is either run here or marked `# azure-only` (doc_blocks.py says
how blocks are marked). What runs, and against what:

  - ```sh blocks of kubectl (and podid doctor / explain) commands: bash -euo pipefail, with only kubectl and
    the built podid on PATH, against the harness's Kubernetes API stand-in (doc_stand_in.py) holding podid's
    deploy manifests (README.md applies them itself, as a user would); Azure values the quickstart gets from
    `az` are fake here (FAKE_AZURE); a block marked with a doc-check gets that check's set-up and assertions
    (doc_check_steps.py);
  - the README's set-up commands: scripts/demo runs its scenario (root), scripts/test is CI's entry point;
  - ```yaml blocks: parsed, applied to the stand-in.

The other test_doc_*.py files check the rest of the docs against the code: network policies, metrics and audit
lines, the migration guide, troubleshooting, and the names and links the pages use; test_doc_paths.py the
repository paths. Nothing here reaches Azure or a cluster: the session runs in an isolated network namespace
(ctest: ISOLATED_NETNS) and the stand-in listens on loopback."""
from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from doc_blocks import DOCS, LANGUAGES, ROOT, Block, all_blocks, blocks, doc_checks, rel, shell_variables_set, \
    shell_variables_used
from doc_check_steps import CHECKS
from doc_stand_in import FAKE_AZURE, apply_deploy, seed_quickstart
from podid_harness.paths import BUILD

README = ROOT / "README.md"
SHELL_BUILTIN_VARIABLES = {"RANDOM", "HOME", "PATH"}

# First words of commands a runnable block may use; anything else must be marked azure-only.
RUNNABLE_WORDS = {"kubectl", "podid", "while", "read", "do", "done", "for", "in", "if", "then", "else", "fi", "echo",
                  "test", "[", "true", "false"}
SCRIPTS = {"scripts/demo", "scripts/test"}


# ---- helpers ---------------------------------------------------------------------------------------------------
def runnable_shell_blocks(doc: Path) -> list[Block]:
    return [b for b in blocks(doc) if b.lang == "sh" and not b.azure_only]


def is_scripts_block(b: Block) -> bool:
    return bool(command_words(b.text) & SCRIPTS)


def command_words(script: str) -> set[str]:
    """First words of the commands of a script: heredoc bodies and comments skipped, continuations joined,
    split at |, ||, &&, ;, `do` and `then`, leading VAR=value assignments dropped."""
    words: set[str] = set()
    lines = script.splitlines()
    logical, i = [], 0
    while i < len(lines):
        line = lines[i]
        heredoc = re.search(r"<<-?\s*'?\"?(\w+)", line)
        while line.rstrip().endswith("\\") and i + 1 < len(lines):
            i += 1
            line = line.rstrip()[:-1] + " " + lines[i]
        logical.append(line)
        i += 1
        if heredoc:
            while i < len(lines) and lines[i].strip() != heredoc.group(1):
                i += 1
            i += 1
    for line in logical:
        line = re.sub(r"(^|\s)#.*$", "", re.sub(r"'[^']*'", "''", line))
        for part in re.split(r"\|\||&&|[|;]|\$\(|\bdo\b|\bthen\b", line):
            tokens = [t for t in part.split() if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", t)]
            if tokens and tokens[0] not in (")", "}"):
                words.add(tokens[0])
    return words


# ---- every block is marked ----------------------------------------------------------------------------------
def test_every_block_names_a_known_language():
    bad = [f"{b.where}: ```{b.lang}" for b in all_blocks() if b.lang not in LANGUAGES]
    assert not bad, f"fenced blocks must be one of {sorted(LANGUAGES)} (```text for diagrams): {bad}"


def test_every_shell_block_is_run_here_or_marked_azure_only():
    unmarked = []
    for b in all_blocks():
        if b.lang != "sh" or b.azure_only:
            continue
        words = command_words(b.text)
        if words & SCRIPTS:
            if words - SCRIPTS:
                unmarked.append(f"{b.where}: scripts/ commands share a block with {sorted(words - SCRIPTS)}")
            continue
        if words - RUNNABLE_WORDS:
            unmarked.append(f"{b.where}: {sorted(words - RUNNABLE_WORDS)}")
    assert not unmarked, "commands this test cannot run; start the block with `# azure-only` or teach " \
                         f"test_doc_commands.py to run them: {unmarked}"


def test_doc_checks_name_known_checks_and_mark_blocks():
    for doc in DOCS:
        marked = [b.check for b in blocks(doc) if b.check]
        for name in doc_checks(doc):
            assert name in CHECKS, f"{rel(doc)}: unknown doc-check {name!r}"
            assert name in marked, f"{rel(doc)}: doc-check {name!r} is not followed by a block"
    assert {b.check for b in all_blocks() if b.check} == set(CHECKS), "a check in CHECKS is used nowhere"


def test_the_quickstart_can_be_followed_top_to_bottom():
    """Every variable a README block uses was set by an earlier block (a reader has it in their shell)."""
    have = set(SHELL_BUILTIN_VARIABLES)
    for b in blocks(README):
        if b.lang != "sh":
            continue
        missing = shell_variables_used(b.text) - have - shell_variables_set(b.text)
        assert not missing, f"{b.where}: {sorted(missing)} used before any block sets them"
        have |= shell_variables_set(b.text)
    assert set(FAKE_AZURE) <= have, sorted(set(FAKE_AZURE) - have)


# ---- running them -------------------------------------------------------------------------------------------
DOCS_WITH_COMMANDS = [d for d in DOCS if any(not is_scripts_block(b) for b in runnable_shell_blocks(d))
                      or any(b.lang == "yaml" for b in blocks(d))]


@pytest.mark.parametrize("doc", DOCS_WITH_COMMANDS, ids=rel)
def test_doc_commands_run_against_the_api_stand_in(doc, cluster):
    api = cluster.api
    if doc != README:
        apply_deploy(cluster)       # the README installs podid itself
        seed_quickstart(api)
    ran = 0
    for b in blocks(doc):
        if b.lang == "yaml":
            objs = [o for o in yaml.safe_load_all(b.text) if isinstance(o, dict)]
            assert objs, f"{b.where}: empty YAML block"
            if any("kind" in o for o in objs):
                cluster.run("kubectl apply -f - <<'EOF'\n" + b.text + "EOF\n", b.where)
            ran += 1
            continue
        if b.lang != "sh" or b.azure_only or is_scripts_block(b):
            continue
        missing = shell_variables_used(b.text) - set(cluster.env) - shell_variables_set(b.text)
        assert not missing, f"{b.where}: no value for {sorted(missing)} here (add it to FAKE_AZURE)"
        before, after = CHECKS.get(b.check, (None, None)) if b.check else (None, None)
        if before:
            before(api)
        out = cluster.run(b.text, b.where)
        if after:
            after(api, out)
        ran += 1
    assert ran, f"{rel(doc)}: nothing ran"


def test_readme_setup_commands():
    """`scripts/demo` is run (its scenario: scripts/demo installs and builds first, which ctest has done);
    `scripts/test` runs every test, this one included: what is checked is that CI runs exactly it."""
    (setup,) = [b for b in runnable_shell_blocks(README) if is_scripts_block(b)]
    assert command_words(setup.text) == SCRIPTS, setup.text
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^exec scripts/test\s*$", ci, re.M), ".ci/run no longer runs scripts/test"
    for script in SCRIPTS:
        assert os.access(ROOT / script, os.X_OK), f"{script} is not executable"
    if os.geteuid() != 0:
        pytest.skip("scripts/demo needs root (network namespaces, cgroups, BPF)")
    if not (BUILD / "agent" / "podid-agent").exists():
        pytest.fail(f"no podid-agent in {BUILD}: build first", pytrace=False)
    r = subprocess.run(["/usr/bin/python3", str(ROOT / "scripts" / "demo.py")], cwd=ROOT,
                       env={**os.environ, "PODID_BUILD_DIR": str(BUILD)}, capture_output=True, text=True,
                       timeout=180)
    assert r.returncode == 0, f"scripts/demo.py failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
