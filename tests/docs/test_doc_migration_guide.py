# SPDX-License-Identifier: Apache-2.0
"""docs/migrating-from-aad-pod-identity.md: the flag tables name exactly the flags `podid-agent help` and
`podid-controller help` list (both ways), and every chart value it maps to (and every `--set` in the docs) is in
deploy/helm/podid/values.yaml."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Optional

import pytest
import yaml

from code_names import help_flags
from doc_blocks import ROOT, all_blocks
from doc_tables import flags_in, table_column
from podid_harness.paths import BUILD

MIGRATION_DOC = ROOT / "docs" / "migrating-from-aad-pod-identity.md"


def assert_the_guide_names_exactly_the_flags_of(name: str, binary: Path, heading: str) -> None:
    """The flags in the table under `heading` are those `<binary> help` lists, both ways."""
    real = help_flags(binary)
    if real is None:
        pytest.fail(f"{binary} missing or `help` failed: build {name} first", pytrace=False)
    documented = flags_in(table_column(MIGRATION_DOC, heading, 1))
    assert documented - real == set(), f"not flags of {name}: {sorted(documented - real)}"
    assert real - documented == set(), f"{name} flags missing from the guide: {sorted(real - documented)}"


def test_agent_flags_in_the_migration_guide_are_the_agents():
    assert_the_guide_names_exactly_the_flags_of("podid-agent", BUILD / "agent" / "podid-agent",
                                                "Flags: NMI -> podid-agent")


def test_controller_flags_in_the_migration_guide_are_the_controllers():
    assert_the_guide_names_exactly_the_flags_of("podid-controller", BUILD / "controller" / "podid-controller",
                                                "Flags: MIC -> podid-controller")


def helm_values() -> Optional[dict]:
    path = ROOT / "deploy" / "helm" / "podid" / "values.yaml"
    return yaml.safe_load(path.read_text()) if path.exists() else None


def test_helm_values_in_the_migration_guide_exist_in_the_chart():
    values = helm_values()
    assert values is not None, "deploy/helm/podid/values.yaml is missing but the docs describe it"
    documented = {c for c in table_column(MIGRATION_DOC, "Helm values: aad-pod-identity chart -> podid chart", 1)
                  if re.fullmatch(r"[A-Za-z][A-Za-z0-9]*(\.[A-Za-z][A-Za-z0-9]*)*", c)}
    assert documented, "no chart values in the mapping"
    missing = []
    for path in sorted(documented):
        node = values
        for key in path.split("."):
            if not isinstance(node, dict) or key not in node:
                missing.append(path)
                break
            node = node[key]
    assert not missing, f"values the guide names but deploy/helm/podid/values.yaml lacks: {missing}"
    for b in all_blocks():
        for path in re.findall(r"--set ([A-Za-z][\w.]*)=", b.text):
            node = values
            for key in path.split("."):
                assert isinstance(node, dict) and key in node, f"{b.where}: --set {path}: no such chart value"
                node = node[key]
