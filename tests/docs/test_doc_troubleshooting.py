# SPDX-License-Identifier: Apache-2.0
"""docs/troubleshooting.md's controller section: the Events, condition reasons and problem reasons it tables
are the ones controller/round/, controller/arm/ and controller/state/desired_state.h write."""
from __future__ import annotations

import re

from code_names import string_literals
from doc_blocks import ROOT
from doc_tables import table_rows


def test_controller_events_and_conditions_in_the_docs_are_the_ones_it_writes():
    doc, heading = ROOT / "docs" / "troubleshooting.md", "The controller: events, conditions and ARM errors"
    # What a round writes is decided in controller/round/ (round_interpretation.cpp, event_aggregator.cpp).
    round_files = sorted((ROOT / "controller" / "round").glob("*.cpp"))
    round_literals = string_literals("controller/round")
    events = table_rows(doc, heading, "| type | reason | message |")
    assert events, "no Event table"
    for kind, reason, _ in events:
        assert kind in ("Normal", "Warning"), kind
        name = reason.strip("`")
        assert name in round_literals, f"Event reason {name!r}: controller/round/ posts no such Event"
        assert any(f'"{name}"' in f.read_text() and f"EventType::k{kind}" in f.read_text() for f in round_files), \
            f"{name!r} is not posted as {kind}"
    # Condition reasons: the controller's own words are literals of controller/round/; ARM's codes are passed
    # through, and those the docs name are ones the ARM error parser handles.
    reasons = [r[0].strip("`") for r in table_rows(doc, heading, "| reason | what happened |")
               if r[0].startswith("`")]
    assert {"Throttled", "AssignmentPending", "LinkedAuthorizationFailed"} <= set(reasons), reasons
    arm_literals = string_literals("controller/arm")
    for reason in reasons:
        assert reason in round_literals or reason in arm_literals, f"condition reason {reason!r} comes from nowhere"
    code = "".join(f.read_text() for f in round_files)
    assert '.type = "Assigned"' in code and '.reason = "Assigned"' in code, "the condition's type or reason changed"
    assert '" Fix: "' in code, "the condition message no longer carries the fix"
    problems = [r[0].strip("`") for r in table_rows(doc, heading, "| reason | on | cause |")]
    code_problems = set(re.findall(r'kReason\w+ = "(\w+)"', (ROOT / "controller/state/desired_state.h").read_text()))
    assert code_problems, "no kReason constants in controller/state/desired_state.h"
    assert set(problems) == code_problems, f"documented {sorted(problems)}, the controller reports {sorted(code_problems)}"
