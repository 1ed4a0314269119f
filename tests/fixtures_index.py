"""Find recorded CloudTrail events (shared corpus first, then tests/fixtures/cloudtrail) by call."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "fixtures" / "corpus"  # vendored copy of ../shared/corpus (see its README)
FIXTURES = ROOT / "tests" / "fixtures" / "cloudtrail"


def _record(doc: Any) -> Any:
    return doc.get("detail", doc) if isinstance(doc, dict) and "detail-type" in doc else doc


@functools.cache
def all_records() -> tuple[tuple[Path, Any], ...]:
    out = []
    for folder in (CORPUS / "cloudtrail", FIXTURES):
        for path in sorted(folder.glob("*.json")):
            try:
                out.append((path, json.loads(path.read_text())))
            except json.JSONDecodeError:
                out.append((path, None))
    return tuple(out)


def corpus_files() -> list[Path]:
    return sorted((CORPUS / "cloudtrail").glob("*.json"))


def records_for(source: str, name: str) -> list[tuple[Path, dict[str, Any]]]:
    from chalicelib.resources.registry import normalize_event_name

    hits = []
    for path, doc in all_records():
        rec = _record(doc)
        if not isinstance(rec, dict):
            continue
        src = rec.get("eventSource") or rec.get("eventsource")
        ev = rec.get("eventName") or rec.get("eventname") or ""
        if src == source and normalize_event_name(ev) == name:
            hits.append((path, doc))
    return hits
