# SPDX-License-Identifier: Apache-2.0
"""Reading the docs' Markdown tables: a `## ` section, one column's code spans, a table's body rows, the
`--flags` among cells."""
from __future__ import annotations

import re
from pathlib import Path

from doc_blocks import rel

_CELL_SPLIT = re.compile(r"(?<!\\)\|")


def section(doc: Path, heading: str) -> str:
    """The text under the `## ` heading that starts with `heading`, up to the next `## `."""
    m = re.search(rf"^## {re.escape(heading)}.*?$(.*?)(?=^## |\Z)", doc.read_text(), re.M | re.S)
    assert m, f"{rel(doc)}: no section {heading!r}"
    return m.group(1)


def cells(row: str) -> list[str]:
    return [c.strip() for c in _CELL_SPLIT.split(row)[1:-1]]


def table_column(doc: Path, heading: str, column: int) -> set[str]:
    """`--flags` (or `values`) in one column of the table under a `## ` heading."""
    found = []
    for row in section(doc, heading).splitlines():
        if row.startswith("|") and not re.match(r"^\|\s*-", row):
            parts = cells(row)
            if len(parts) > column:
                found.append(parts[column])
    return set(re.findall(r"`([^`]+)`", "\n".join(found[1:])))


def table_rows(doc: Path, heading: str, header: str) -> list[list[str]]:
    """The body rows (cells stripped) of the table whose header row is `header`, under a `## ` heading."""
    lines = section(doc, heading).splitlines()
    assert header in lines, f"{rel(doc)}: no table {header!r} under {heading!r}"
    rows = []
    for row in lines[lines.index(header) + 2:]:
        if not row.startswith("|"):
            break
        rows.append(cells(row))
    return rows


def flags_in(cells: set[str]) -> set[str]:
    return {m.group(0) for c in cells for m in [re.match(r"--[a-z][a-z0-9-]*", c)] if m}
