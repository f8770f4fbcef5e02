"""scripts/audit.py: a known vulnerability fails the run; an unreachable vulnerability service
is a clear note, never a silent pass that audited nothing."""

from __future__ import annotations

import importlib.util
from pathlib import Path

spec = importlib.util.spec_from_file_location(
    "audit", Path(__file__).resolve().parents[1] / "scripts" / "audit.py"
)
assert spec is not None and spec.loader is not None
audit = importlib.util.module_from_spec(spec)
spec.loader.exec_module(audit)

SKIPPED = "Dependency not found on PyPI and could not be audited: x (1.0)"


def test_a_known_vulnerability_fails_the_run_naming_it():
    code, lines = audit.judge(
        [
            {"name": "requests", "version": "2.0.0", "vulns": [
                {"id": "PYSEC-2023-74", "fix_versions": ["2.31.0"]}]},
            {"name": "idna", "version": "3.7", "vulns": []},
        ]
    )  # fmt: skip
    assert code == 1
    assert lines == ["pip-audit: requests 2.0.0: PYSEC-2023-74 (fixed in 2.31.0)"]


def test_nothing_audited_is_a_note_not_a_pass():
    code, lines = audit.judge(
        [{"name": "requests", "version": "2.32.3", "skip_reason": SKIPPED}] * 3
    )
    assert code == 0
    assert lines == [
        "pip-audit: NOT RUN, no vulnerability service reached: none of 3 packages could be audited"
    ]


def test_partly_audited_names_what_was_skipped():
    code, lines = audit.judge(
        [
            {"name": "requests", "version": "2.32.3", "vulns": []},
            {"name": "private-pkg", "version": "1.0", "skip_reason": SKIPPED},
        ]
    )
    assert code == 0
    assert lines == [
        "pip-audit: 1 packages not audited: private-pkg",
        "pip-audit: 1 packages audited, no known vulnerabilities",
    ]
