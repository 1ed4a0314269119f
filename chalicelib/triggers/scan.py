"""The scheduled backstop scan: every managed object of a covered type → the same pipeline.

Live reads are batched per (object kind, account, region) through ``read_live_many`` so APIs that
accept many ids or a filter cost one call per page, not one per resource. Shardable by a stable
hash of the object key, so a large estate can be split across concurrent invocations.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable

from chalicelib.errors import LiveReadError
from chalicelib.models import Finding
from chalicelib.pipeline import Pipeline
from chalicelib.resources.base import EventKind, ManagedResource
from chalicelib.triggers.cloudtrail import Ref

__all__ = ["in_shard", "scan"]

BATCH = 100


def in_shard(kind: str, object_id: str, shard: int, shards: int) -> bool:
    digest = hashlib.sha256(f"{kind}|{object_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % shards == shard


def scan(
    pipeline: Pipeline,
    progress: Callable[[int, int], None] | None = None,
    *,
    state_prefix: str | None = None,
    shard: int = 0,
    shards: int = 1,
) -> list[Finding]:
    pipeline.index.refresh()
    groups: dict[tuple[str, str | None, str | None], list[tuple[str, ManagedResource]]] = defaultdict(list)
    for kind, oid, resources in pipeline.index.objects():
        if state_prefix and not any(r.state_url.startswith(state_prefix) for r in resources):
            continue
        if shards > 1 and not in_shard(kind, oid, shard, shards):
            continue
        first = resources[0]
        groups[(kind, first.account, first.region)].append((oid, first))
    total = sum(len(v) for v in groups.values())
    findings: list[Finding] = []
    for (kind, account, region), members in sorted(groups.items(), key=lambda kv: str(kv[0])):
        owner = pipeline.registry.owner(kind)
        ctx = pipeline.contexts(account, region)
        for start in range(0, len(members), BATCH):
            batch = members[start:start + BATCH]
            try:
                live = owner.read_live_many(ctx, [oid for oid, _ in batch])
            except LiveReadError:
                live = None  # fall back to one read per object; each failure becomes its own error finding
            for oid, _ in batch:
                ref = Ref(kind, oid, EventKind.MODIFY, account, region)
                findings.append(pipeline.judge(ref, None, live_cache=live))
                if progress:
                    progress(len(findings), total)
    return findings
