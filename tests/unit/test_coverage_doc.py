"""docs/COVERAGE.md is generated from the registry; this fails when it is stale."""

from __future__ import annotations

from pathlib import Path

from chalicelib.cli import coverage_markdown, coverage_rows

DOC = Path(__file__).resolve().parents[2] / "docs" / "COVERAGE.md"


def test_coverage_doc_is_current():
    expected = coverage_markdown(coverage_rows())
    assert DOC.read_text() == expected, "docs/COVERAGE.md is stale: run `make coverage-doc`"

