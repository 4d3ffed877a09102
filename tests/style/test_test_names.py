# SPDX-License-Identifier: Apache-2.0
"""One naming style for the C++ tests: TEST(Suite, WhatItChecks), both parts PascalCase (GoogleTest reserves
underscores in test names; the suite names already were PascalCase). A snake_case name fails here with its file
and line, so the style does not drift back."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEST_MACRO = re.compile(r"^\s*(TEST|TEST_F|TEST_P|TYPED_TEST)\((\w+),\s*(\w+)\)", re.M)
PASCAL = re.compile(r"^[A-Z][A-Za-z0-9]*$")


def cpp_test_sources():
    return sorted((ROOT / "tests").rglob("*_test.cpp")) + sorted((ROOT / "tests").rglob("*_tests.cpp"))


def test_every_gtest_name_is_pascal_case():
    sources = cpp_test_sources()
    assert sources, "no *_test.cpp under tests/: the glob is wrong"
    bad = []
    seen = 0
    for path in sources:
        text = path.read_text()
        for m in TEST_MACRO.finditer(text):
            seen += 1
            suite, name = m.group(2), m.group(3)
            if not PASCAL.match(suite) or not PASCAL.match(name):
                line = text.count("\n", 0, m.start()) + 1
                bad.append(f"{path.relative_to(ROOT)}:{line}: {m.group(1)}({suite}, {name})")
    assert seen > 100, f"only {seen} tests found: the pattern is wrong"
    assert not bad, "test names must be PascalCase:\n" + "\n".join(bad)
