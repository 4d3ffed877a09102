# SPDX-License-Identifier: Apache-2.0
"""The user documentation as data: its files, its fenced blocks, and how each block is marked.

Marking convention (tests/docs/README.md says the same for people):
  - every fenced block names its language: ```sh (commands), ```yaml, ```json, ```promql, ```text (diagrams,
    usage synopses, anything not meant to be run or parsed);
  - a ```sh block whose first line is `# azure-only` needs Azure (a subscription, an AKS cluster, Helm or
    a tool against a real cluster) and is not run; every other ```sh block is run by test_doc_commands.py;
  - an HTML comment `<!-- doc-check: NAME -->` on the line before a block names the extra set-up and
    assertions test_doc_commands.py wraps around it."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parents[2]

# README.md, docs/*.md and the READMEs of deploy/ directories a user is sent to.
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "deploy" / "network-policies" / "README.md"]

LANGUAGES = {"sh", "yaml", "json", "promql", "text"}
AZURE_ONLY = "# azure-only"

_FENCE = re.compile(r"^(?P<indent> *)```(?P<lang>[^\s`]*)\s*$")
_CHECK = re.compile(r"^\s*<!--\s*doc-check:\s*(?P<name>[a-z0-9-]+)\s*-->\s*$")


@dataclass(frozen=True)
class Block:
    doc: Path
    line: int              # 1-based line of the opening fence
    lang: str
    text: str
    check: Optional[str]   # the doc-check name, if any

    @property
    def where(self) -> str:
        return f"{self.doc.relative_to(ROOT)}:{self.line}"

    @property
    def azure_only(self) -> bool:
        first = self.text.lstrip("\n").splitlines()[0] if self.text.strip() else ""
        return first.strip() == AZURE_ONLY or first.strip().startswith(AZURE_ONLY + ":")


def blocks(doc: Path) -> list[Block]:
    """Every fenced block of a Markdown file, in order. Raises ValueError on an unclosed fence."""
    out: list[Block] = []
    lines = doc.read_text().splitlines()
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        start, lang, indent = i, m.group("lang"), len(m.group("indent"))
        check = None
        j = start - 1
        while j >= 0 and not lines[j].strip():
            j -= 1
        if j >= 0 and (c := _CHECK.match(lines[j])):
            check = c.group("name")
        i += 1
        body = []
        while i < len(lines) and not re.match(r"^ *```\s*$", lines[i]):
            # A fence indented inside a list item: its lines lose up to as many spaces (CommonMark), so a
            # here-document's closing word is found where the shell looks for it.
            line = lines[i]
            body.append(line[min(indent, len(line) - len(line.lstrip(" "))):])
            i += 1
        if i == len(lines):
            raise ValueError(f"{doc.relative_to(ROOT)}:{start + 1}: unclosed code fence")
        out.append(Block(doc, start + 1, lang, "\n".join(body) + "\n", check))
        i += 1
    return out


def rel(p: Path) -> str:
    """A path as messages and test ids name it: relative to the repository."""
    return str(p.relative_to(ROOT))


def all_blocks() -> list[Block]:
    return [b for d in DOCS for b in blocks(d)]


def doc_checks(doc: Path) -> list[str]:
    """Every doc-check marker in a file, whether or not a block follows it."""
    return [m.group("name") for line in doc.read_text().splitlines() if (m := _CHECK.match(line))]


def shell_variables_used(script: str) -> set[str]:
    """$NAME and ${NAME} outside single quotes (what bash would expand)."""
    unquoted = re.sub(r"'[^']*'", "", script)
    return set(re.findall(r"\$\{?([A-Z_][A-Z0-9_]*)", unquoted))


def shell_variables_set(script: str) -> set[str]:
    """NAME=... at the start of a command (also after export)."""
    return set(re.findall(r"(?:^|[\s;])(?:export\s+)?([A-Z_][A-Z0-9_]*)=", script, re.M))
