"""The multi-state index: (object kind, live id) → every managed resource describing that object.

Built from every state under the configured locations. Re-listing is cheap and re-reading is by
ETag, so a warm Lambda reuses what it has and reads only states that changed. A state that cannot
be read is recorded in ``errors`` (never silently dropped): a lookup that finds nothing while
errors exist cannot say "unmanaged", and the pipeline reports ``error`` instead.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.errors import StateError
from chalicelib.resources.base import ManagedResource
from chalicelib.resources.registry import Registry
from chalicelib.state.locations import WORKSPACE_PREFIX, StateLocation
from chalicelib.state.tfstate import StateDoc, parse_state

__all__ = ["StateIndex"]

log = logging.getLogger(__name__)


@dataclass
class _Entry:
    etag: str
    doc: StateDoc | None


@dataclass
class StateIndex:
    registry: Registry
    locations: list[StateLocation]
    s3: Callable[[], Any] | None = None  # returns an S3 client (lazy: local-only use never builds one)
    ttl_seconds: float = 60.0
    clock: Callable[[], float] = time.monotonic
    account_overrides: tuple[tuple[str, str], ...] = ()  # (state URL prefix, account id)
    errors: dict[str, str] = field(default_factory=dict)
    _entries: dict[str, _Entry] = field(default_factory=dict)
    _by_object: dict[tuple[str, str], list[ManagedResource]] = field(default_factory=dict)
    _accounts: set[str | None] = field(default_factory=set)
    _loaded_at: float | None = None
    reads: int = 0

    # --- loading ---------------------------------------------------------------------------------
    @classmethod
    def from_docs(cls, registry: Registry, docs: Iterable[StateDoc]) -> StateIndex:
        index = cls(registry, [])
        for doc in docs:
            index._entries[doc.url] = _Entry("static", doc)
        index._rebuild()
        index._loaded_at = float("inf")
        return index

    def ensure_fresh(self) -> None:
        if self._loaded_at is None or self.clock() - self._loaded_at >= self.ttl_seconds:
            self.refresh()

    def refresh(self) -> None:
        """Re-list every location; re-read only states whose ETag changed."""
        seen: dict[str, str] = {}
        errors: dict[str, str] = {}
        for loc in self.locations:
            try:
                for url, etag in self._list(loc):
                    seen[url] = etag
            except (ClientError, BotoCoreError, OSError) as exc:
                errors[loc.url] = f"cannot list state location: {exc}"
                # keep what we had for this location rather than emptying it
                for url in self._entries:
                    if url.startswith(loc.url):
                        seen.setdefault(url, self._entries[url].etag)
        for url, etag in seen.items():
            cached = self._entries.get(url)
            if cached is not None and cached.etag == etag:
                if cached.doc is None and url in self.errors:
                    errors[url] = self.errors[url]
                continue
            try:
                doc = parse_state(url, self._read(url))
                self._entries[url] = _Entry(etag, doc)
            except StateError as exc:
                log.error("state unreadable", extra={"state": url, "error": str(exc)})
                errors[url] = str(exc)
                self._entries[url] = _Entry(etag, cached.doc if cached else None)
            except (ClientError, BotoCoreError, OSError) as exc:
                log.error("state read failed", extra={"state": url, "error": str(exc)})
                errors[url] = f"{url}: cannot read: {exc}"
                if cached is None:
                    self._entries[url] = _Entry("", None)
        for url in [u for u in self._entries if u not in seen]:
            del self._entries[url]
        self.errors = errors
        self._rebuild()
        self._loaded_at = self.clock()

    def _list(self, loc: StateLocation) -> Iterator[tuple[str, str]]:
        if loc.scheme == "file":
            path = Path(loc.key)
            files = sorted(path.rglob("*.tfstate")) + sorted(path.rglob("*.tfstate.json")) if path.is_dir() else [path]
            for f in files:
                yield str(f), f"{f.stat().st_mtime_ns}:{f.stat().st_size}"
            return
        assert self.s3 is not None, "an S3 client factory is required for s3:// locations"
        client = self.s3()
        paginator = client.get_paginator("list_objects_v2")
        prefixes = [loc.key, WORKSPACE_PREFIX]
        for prefix in prefixes:
            for page in paginator.paginate(Bucket=loc.bucket, Prefix=prefix):
                for obj in page.get("Contents", []):
                    if loc.matches(obj["Key"]):
                        yield f"s3://{loc.bucket}/{obj['Key']}", obj.get("ETag", "")

    def _read(self, url: str) -> bytes:
        self.reads += 1
        if not url.startswith("s3://"):
            return Path(url).read_bytes()
        assert self.s3 is not None
        bucket, _, key = url[len("s3://"):].partition("/")
        body: bytes = self.s3().get_object(Bucket=bucket, Key=key)["Body"].read()
        return body

    def account_of(self, url: str, inferred: str | None) -> str | None:
        """Configured mapping (``DRIFTWARDEN_STATE_ACCOUNTS``) wins; else the account in the state's ARNs."""
        for prefix, account in self.account_overrides:
            if url.startswith(prefix):
                return account
        return inferred

    def _rebuild(self) -> None:
        by_object: dict[tuple[str, str], list[ManagedResource]] = defaultdict(list)
        accounts: set[str | None] = set()
        for entry in self._entries.values():
            if entry.doc is None:
                continue
            override = self.account_of(entry.doc.url, None)
            accounts.add(override or entry.doc.account)
            for res in entry.doc.resources:
                if override and res.account != override:
                    res = replace(res, account=override)
                plugin = self.registry.get(res.type)
                if plugin is None:
                    continue
                oid = plugin.object_id(res.attributes)
                if oid:
                    by_object[(plugin.object_kind, oid)].append(res)
        self._by_object = dict(by_object)
        self._accounts = accounts

    # --- queries ---------------------------------------------------------------------------------
    def lookup(self, object_kind: str, object_id: str, account: str | None = None) -> list[ManagedResource]:
        """O(1): every managed resource describing this object (in ``account``, when given and known)."""
        found = self._by_object.get((object_kind, object_id), ())
        if account is None:
            return list(found)
        return [r for r in found if r.account in (None, account)]

    def covers_account(self, account: str | None) -> bool:
        """Is any state mapped to ``account``? States whose account is unknown cover every account."""
        return account is None or not self._accounts or account in self._accounts or None in self._accounts

    def accounts(self) -> set[str]:
        return {a for a in self._accounts if a}

    def objects(self) -> Iterator[tuple[str, str, list[ManagedResource]]]:
        """Every managed object of a covered type (for the scheduled scan)."""
        for (kind, oid), resources in sorted(self._by_object.items()):
            yield kind, oid, list(resources)

    def docs(self) -> list[StateDoc]:
        return [e.doc for e in self._entries.values() if e.doc is not None]

    def doc(self, url: str) -> StateDoc | None:
        entry = self._entries.get(url)
        return entry.doc if entry else None

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_object.values())
