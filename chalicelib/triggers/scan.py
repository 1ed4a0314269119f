"""The scheduled backstop scan: every managed object of a covered type → the same pipeline."""

from __future__ import annotations

from collections.abc import Callable

from chalicelib.models import Finding
from chalicelib.pipeline import Pipeline
from chalicelib.resources.base import EventKind
from chalicelib.triggers.cloudtrail import Ref

__all__ = ["scan"]


def scan(pipeline: Pipeline, progress: Callable[[int, int], None] | None = None) -> list[Finding]:
    pipeline.index.refresh()
    objects = list(pipeline.index.objects())
    findings = []
    for i, (kind, oid, resources) in enumerate(objects, 1):
        first = resources[0]
        findings.append(pipeline.judge(Ref(kind, oid, EventKind.MODIFY, first.account, first.region), None))
        if progress:
            progress(i, len(objects))
    return findings
