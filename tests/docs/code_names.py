# SPDX-License-Identifier: Apache-2.0
"""What the code and the built binaries name, for the docs to be compared with: metric registrations and string
literals in the C++ sources, flags and commands in a binary's `help`."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Iterator, Optional

from doc_blocks import ROOT


def sources(path: str) -> Iterator[Path]:
    """The C++ sources at a repository path: the file itself, or every .cpp and .h under the directory."""
    full = ROOT / path
    if full.is_file():
        yield full
    else:
        yield from sorted(f for f in full.rglob("*") if f.suffix in (".cpp", ".h"))


def _matches_in_sources(pattern: str, paths: tuple[str, ...]) -> set[str]:
    found: set[str] = set()
    for p in paths:
        for f in sources(p):
            found |= set(re.findall(pattern, f.read_text(errors="replace")))
    return found


def code_metric_names(*dirs: str) -> set[str]:
    """Metric names registered with `.Name("...")` under `dirs`."""
    return _matches_in_sources(r'\.Name\("([a-z_:][a-z0-9_:]*)"\)', dirs)


def string_literals(*paths: str) -> set[str]:
    """Every C++ string literal's contents (escapes as written) at `paths`."""
    return _matches_in_sources(r'"((?:[^"\\]|\\.)*)"', paths)


def _help(binary: Path) -> Optional[subprocess.CompletedProcess]:
    if not binary.exists():
        return None
    return subprocess.run([str(binary), "help"], capture_output=True, text=True, timeout=30)


def help_flags(binary: Path) -> Optional[set[str]]:
    """The `--flags` a binary's `help` lists, or None when it is not built or `help` fails."""
    r = _help(binary)
    if r is None or r.returncode != 0:
        return None
    return set(re.findall(r"(?m)^\s+(--[a-z][a-z0-9-]*)", r.stdout))


def usage_commands(binary: Path) -> Optional[set[str]]:
    """The commands a binary's usage text lists (`podid-agent help`), or None when it is not built."""
    r = _help(binary)
    if r is None:
        return None
    text = r.stdout
    listed = re.search(r"^commands:\n(.*?)\n\n", text, re.M | re.S)
    if listed:
        return set(re.findall(r"^  ([a-z]+)\s", listed.group(1), re.M))
    synopsis = re.search(r"^usage: \S+ \[([a-z|]+)\]", text, re.M)
    return set(synopsis.group(1).split("|")) if synopsis else set()
