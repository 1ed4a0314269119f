"""The multi-state index: (object kind, live id) → every managed resource describing that object.

Built from every state under the configured locations. Re-listing is cheap and re-reading is by
ETag, so a warm Lambda reuses what it has and reads only states that changed; ``refresh_one``
re-reads just the state an S3 event names. A state that cannot be read is recorded in ``errors``
(never silently dropped): a lookup that finds nothing while errors exist cannot say "unmanaged",
and the pipeline reports ``error`` instead.

With a persisted form (``index_url``, see ``persist.py`` and docs/SCALING.md) a cold start reads a
small manifest instead of every state, and a lookup reads at most one shard (cached, bounded LRU).
States read in this process that are newer than the persisted form (or when there is none) form
the in-memory *overlay*, which always wins over the shards. ``refresh``/``refresh_one`` write
what they read back to the persisted form; ``ensure_fresh`` (the event path) never writes.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
import uuid
from collections import OrderedDict, defaultdict, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from itertools import groupby, islice
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.errors import StateError
from chalicelib.resources.base import ManagedResource
from chalicelib.resources.registry import Registry
from chalicelib.state.locations import WORKSPACE_PREFIX, StateLocation
from chalicelib.state.persist import (
    TARGET_PER_SHARD,
    Conflict,
    IndexStore,
    Manifest,
    Record,
    ShardStates,
    StateMeta,
    decode,
    decode_shard,
    digest,
    encode,
    encode_shard,
    object_hash,
    shard_count_for,
    shard_of,
    shard_states,
    strip_etag,
)
from chalicelib.state.tfstate import StateDoc, parse_state

__all__ = ["StateIndex"]

log = logging.getLogger(__name__)

Key = tuple[str, str]
_Change = tuple[str | None, int, list[Record]]  # one state's records in one shard: (lineage, serial, records)
_Digests = tuple[dict[str, str] | None, str | None, tuple[Any, int] | None]
_AccountOf = Callable[[str, str | None], str | None]
_READ_ERRORS = (ClientError, BotoCoreError, OSError)
_RETRIES = 8


@dataclass
class _Entry:
    """A state read in this process (the overlay)."""

    etag: str
    doc: StateDoc | None
    error: str | None = None  # this version is unreadable (StateError); ``doc`` is the last good one


@dataclass
class _Shard:
    """A persisted shard in memory: the record blob, and where each key's records are in it."""

    gen: int  # manifest generation it was read under
    by_key: dict[Key, list[tuple[str, int, int]]]  # key → (state url, offset, length)
    blob: bytes
    parsed: dict[Key, list[ManagedResource]] = field(default_factory=dict)

    def resources(self, key: Key, account_of: _AccountOf) -> list[ManagedResource]:
        found = self.parsed.get(key)
        if found is None:
            where = self.by_key.get(key, ())
            found = [_resource(self.blob[o:o + n], url, account_of(url, None)) for url, o, n in where]
            self.parsed[key] = found
        return found


def _record(kind: str, oid: str, res: ManagedResource) -> Record:
    rec = [res.type, res.address, res.attributes, sorted(res.sensitive_paths), res.module, res.account,
           res.region]
    raw = json.dumps(rec, separators=(",", ":"), default=str).encode()
    return kind, oid, raw


def _resource(raw: bytes, url: str, account: str | None) -> ManagedResource:
    rec = json.loads(raw)
    return ManagedResource(rec[0], rec[1], url, rec[2], frozenset(rec[3]), rec[4], account or rec[5], rec[6])


@dataclass
class StateIndex:
    registry: Registry
    locations: list[StateLocation]
    s3: Callable[[], Any] | None = None  # returns an S3 client (lazy: local-only use never builds one)
    ttl_seconds: float = 60.0
    clock: Callable[[], float] = time.monotonic
    account_overrides: tuple[tuple[str, str], ...] = ()  # (state URL prefix, account id)
    index_url: str | None = None  # s3://bucket/prefix/ of the persisted form (DRIFTWARDEN_INDEX_URL)
    cache_shards: int = 32  # shards kept in memory (LRU)
    workers: int = 8  # parallel S3 requests when building or committing the persisted form
    store: IndexStore | None = None
    errors: dict[str, str] = field(default_factory=dict)
    reads: int = 0  # Terraform state documents read
    shard_reads: int = 0  # persisted shards read
    _overlay: dict[str, _Entry] = field(default_factory=dict)
    _overlay_index: dict[Key, list[ManagedResource]] = field(default_factory=dict)
    _manifest: Manifest | None = None
    _manifest_etag: str | None = None  # what is at the manifest key (even when unusable)
    _persisted: set[str] = field(default_factory=set)  # states whose shard records are current here
    _current: dict[str, str] = field(default_factory=dict)  # last listing: url → ETag
    _shards: OrderedDict[int, _Shard] = field(default_factory=OrderedDict)
    _accounts: set[str | None] = field(default_factory=set)
    _loaded_at: float | None = None

    def __post_init__(self) -> None:
        if self.store is None and self.index_url:
            self.store = IndexStore.from_url(self.index_url, self._client)

    def _client(self) -> Any:
        assert self.s3 is not None, "an S3 client factory is required for s3:// locations and the index"
        return self.s3()

    # --- loading ---------------------------------------------------------------------------------
    @classmethod
    def from_docs(cls, registry: Registry, docs: Iterable[StateDoc]) -> StateIndex:
        index = cls(registry, [])
        for doc in docs:
            index._overlay[doc.url] = _Entry("static", doc)
        index._reindex()
        index._loaded_at = float("inf")
        return index

    def ensure_fresh(self) -> None:
        """The event path: re-list after the TTL, read only what changed, never write the index."""
        if self._loaded_at is None or self.clock() - self._loaded_at >= self.ttl_seconds:
            self._sync(persist=False)

    def refresh(self) -> None:
        """Re-list every location; re-read only states whose ETag changed; update the persisted form."""
        self._sync(persist=True)

    def refresh_one(self, url: str, etag: str | None = None) -> bool:
        """One state was written (an S3 event): re-read just it and update the persisted form.

        Returns whether the state was read. ``etag`` (from the event) skips the read when this
        version is already indexed. A state that no longer exists is removed.
        """
        if not self._covers_url(url):
            return False
        if self.store is not None:
            self._load_manifest()
            if self._manifest is None:
                self._sync(persist=True)  # first build: reads every state once
                return True
            if self._loaded_at is None and not self._current:
                self._adopt_manifest_view()
        elif self._loaded_at is None:
            self._sync(persist=False)
            return True
        known = self._known_etag(url)
        meta = self._manifest.states.get(url) if self._manifest else None
        if etag and strip_etag(etag) in {known, meta.bad_etag if meta else None} - {None}:
            return False
        try:
            body, new_etag = self._fetch(url)
        except FileNotFoundError:
            return self._forget(url)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return self._forget(url)
            self.errors[url] = f"{url}: cannot read: {exc}"
            return False
        except (BotoCoreError, OSError) as exc:
            self.errors[url] = f"{url}: cannot read: {exc}"
            return False
        self.reads += 1
        if new_etag == known and url not in self.errors:
            return True
        self._accept(url, new_etag, body, self.errors)
        self._current[url] = new_etag
        self._settle()
        if self.store is not None and self._manifest is not None:
            self._persist(self._commit, [])
        return True

    # --- sync ------------------------------------------------------------------------------------
    def _sync(self, persist: bool) -> None:
        seen, _, errors, failed = self._list_all()
        if self.store is not None:
            self._load_manifest()
            if persist and self._needs_build():
                self._persist(self._build, seen, errors)
        m = self._manifest
        for loc in failed:  # keep what we had for a location we could not list, rather than emptying it
            known = set(self._overlay) | set(self._current) | (set(m.states) if m else set())
            for url in known:
                if url.startswith(loc.url) and url not in seen:
                    seen[url] = self._known_etag(url) or ""
        to_read: list[tuple[str, str]] = []
        for url, etag in seen.items():
            meta = m.states.get(url) if m else None
            if meta is not None and etag and etag in (meta.etag, meta.bad_etag):
                self._overlay.pop(url, None)  # the persisted form is current for this version
                if etag == meta.bad_etag and meta.error:
                    errors[url] = meta.error
                continue
            cached = self._overlay.get(url)
            if cached is not None and cached.etag == etag:
                if cached.error:
                    errors[url] = cached.error
                continue
            to_read.append((url, etag))
        for url, etag, body, exc in self._fetch_many([u for u, _ in to_read], dict(to_read)):
            if exc is not None:
                log.error("state read failed", extra={"state": url, "error": str(exc)})
                errors[url] = f"{url}: cannot read: {exc}"
                self._overlay.setdefault(url, _Entry("", None))  # "" never matches: retried next time
                continue
            self.reads += 1
            assert body is not None
            self._accept(url, etag, body, errors)
        for url in [u for u in self._overlay if u not in seen]:
            del self._overlay[url]
        self._current = seen
        self.errors = errors
        self._settle()
        if persist and self.store is not None and self._manifest is not None:
            self._persist(self._commit, [u for u in self._manifest.states if u not in seen])
        self._loaded_at = self.clock()

    def _accept(self, url: str, etag: str, body: bytes, errors: dict[str, str]) -> None:
        """Parse one state into the overlay; an unreadable version keeps the last good one and says so."""
        cached = self._overlay.get(url)
        try:
            self._overlay[url] = _Entry(etag, parse_state(url, body))
            errors.pop(url, None)
        except StateError as exc:
            log.error("state unreadable", extra={"state": url, "error": str(exc)})
            errors[url] = str(exc)
            self._overlay[url] = _Entry(etag, cached.doc if cached else None, str(exc))

    def _settle(self) -> None:
        """Recompute which states the shards serve (not overridden by a readable overlay doc)."""
        m = self._manifest
        self._persisted = set()
        if m is not None:
            for url, meta in m.states.items():
                if not meta.etag or (self._current and url not in self._current):
                    continue
                entry = self._overlay.get(url)
                if entry is None or entry.doc is None:
                    self._persisted.add(url)
        self._reindex()

    def _adopt_manifest_view(self) -> None:
        """No listing yet (a cold ``refresh_one``): take the manifest's word for every other state."""
        assert self._manifest is not None
        for url, meta in self._manifest.states.items():
            self._current[url] = meta.bad_etag or meta.etag
            if meta.bad_etag and meta.error:
                self.errors[url] = meta.error
        self._settle()

    def _forget(self, url: str) -> bool:
        self._overlay.pop(url, None)
        self._current.pop(url, None)
        self.errors.pop(url, None)
        self._settle()
        if self.store is not None and self._manifest is not None and url in self._manifest.states:
            self._persist(self._commit, [url])
        return True

    def _known_etag(self, url: str) -> str | None:
        entry = self._overlay.get(url)
        if entry is not None and entry.etag:
            return entry.etag
        meta = self._manifest.states.get(url) if self._manifest else None
        return meta.etag if meta and meta.etag else None

    def _covers_url(self, url: str) -> bool:
        for loc in self.locations:
            if loc.scheme == "file" and (url == loc.key or url.startswith(loc.key.rstrip("/") + "/")):
                return True
            base = f"s3://{loc.bucket}/"
            if loc.scheme == "s3" and url.startswith(base) and loc.matches(url[len(base):]):
                return True
        return False

    # --- listing and reading -----------------------------------------------------------------------
    def _list_all(self) -> tuple[dict[str, str], dict[str, int], dict[str, str], list[StateLocation]]:
        seen: dict[str, str] = {}
        sizes: dict[str, int] = {}
        errors: dict[str, str] = {}
        failed: list[StateLocation] = []
        workspaces: dict[str, list[dict[str, Any]]] = {}  # bucket → its env:/ objects, listed once
        for loc in self.locations:
            try:
                for url, etag, size in self._list(loc, workspaces):
                    seen[url] = etag
                    sizes[url] = size
            except _READ_ERRORS as exc:
                errors[loc.url] = f"cannot list state location: {exc}"
                failed.append(loc)
        return seen, sizes, errors, failed

    def _list(
        self, loc: StateLocation, workspaces: dict[str, list[dict[str, Any]]]
    ) -> Iterator[tuple[str, str, int]]:
        if loc.scheme == "file":
            path = Path(loc.key)
            found = [*sorted(path.rglob("*.tfstate")), *sorted(path.rglob("*.tfstate.json"))]
            files = found if path.is_dir() else [path]
            for f in files:
                st = f.stat()
                yield str(f), f"{st.st_mtime_ns}:{st.st_size}", st.st_size
            return
        paginator = self._client().get_paginator("list_objects_v2")

        def listing(prefix: str) -> list[dict[str, Any]]:
            pages = paginator.paginate(Bucket=loc.bucket, Prefix=prefix)
            return [o for page in pages for o in page.get("Contents", [])]

        objects = listing(loc.key)
        if not loc.key.startswith(WORKSPACE_PREFIX):
            if loc.bucket not in workspaces:
                workspaces[loc.bucket] = listing(WORKSPACE_PREFIX)
            objects += workspaces[loc.bucket]
        for obj in objects:
            if loc.matches(obj["Key"]):
                url = f"s3://{loc.bucket}/{obj['Key']}"
                yield url, strip_etag(obj.get("ETag")), int(obj.get("Size") or 0)

    def _fetch(self, url: str) -> tuple[bytes, str]:
        """One state document and the version read (thread-safe: counting is the caller's)."""
        if not url.startswith("s3://"):
            path = Path(url)
            st = path.stat()
            return path.read_bytes(), f"{st.st_mtime_ns}:{st.st_size}"
        bucket, _, key = url[len("s3://"):].partition("/")
        resp = self._client().get_object(Bucket=bucket, Key=key)
        return resp["Body"].read(), strip_etag(resp.get("ETag"))

    def _fetch_many(
        self, urls: list[str], etags: dict[str, str]
    ) -> Iterator[tuple[str, str, bytes | None, Exception | None]]:
        """Read states in parallel, in order, with a bounded read-ahead (memory stays bounded)."""
        if len(urls) <= 1 or self.workers <= 1:
            for url in urls:
                try:
                    body, etag = self._fetch(url)
                    yield url, etag if url.startswith("s3://") else etags.get(url, etag), body, None
                except _READ_ERRORS as exc:
                    yield url, etags.get(url, ""), None, exc
            return
        with ThreadPoolExecutor(self.workers) as pool:
            it = iter(urls)
            pending = deque((u, pool.submit(self._fetch, u)) for u in islice(it, self.workers * 2))
            while pending:
                url, fut = pending.popleft()
                nxt = next(it, None)
                if nxt is not None:
                    pending.append((nxt, pool.submit(self._fetch, nxt)))
                try:
                    body, etag = fut.result()
                    yield url, etag if url.startswith("s3://") else etags.get(url, etag), body, None
                except _READ_ERRORS as exc:
                    yield url, etags.get(url, ""), None, exc

    def account_of(self, url: str, inferred: str | None) -> str | None:
        """Configured mapping (``DRIFTWARDEN_STATE_ACCOUNTS``) wins; else the account in the state's ARNs."""
        for prefix, account in self.account_overrides:
            if url.startswith(prefix):
                return account
        return inferred

    def _indexed(self, doc: StateDoc) -> Iterator[tuple[str, str, ManagedResource]]:
        for res in doc.resources:
            plugin = self.registry.get(res.type)
            if plugin is None:
                continue
            oid = plugin.object_id(res.attributes)
            if oid:
                yield plugin.object_kind, oid, res

    def _reindex(self) -> None:
        by_object: dict[Key, list[ManagedResource]] = defaultdict(list)
        accounts: set[str | None] = set()
        for url, entry in self._overlay.items():
            if entry.doc is None:
                continue
            override = self.account_of(url, None)
            accounts.add(override or entry.doc.account)
            for kind, oid, res in self._indexed(entry.doc):
                if override and res.account != override:
                    res = replace(res, account=override)
                by_object[(kind, oid)].append(res)
        if self._manifest is not None:
            for url in self._persisted:
                accounts.add(self.account_of(url, None) or self._manifest.states[url].account)
        self._overlay_index = dict(by_object)
        self._accounts = accounts

    # --- the persisted form: reading ----------------------------------------------------------------
    def _load_manifest(self) -> None:
        """(Re)read the manifest; a conditional GET, so an unchanged one costs a 304."""
        assert self.store is not None
        try:
            body, etag, not_modified = self.store.get(self.store.manifest_key(), self._manifest_etag)
        except _READ_ERRORS as exc:
            log.error("index manifest unreadable; keeping what we have", extra={"error": str(exc)})
            return
        if not_modified:
            return
        self._manifest_etag = etag
        if body is None:
            self._use_manifest(None)
            return
        try:
            manifest: Manifest | None = Manifest.from_json(decode(body), etag)
        except (ValueError, KeyError, TypeError, OSError, EOFError) as exc:
            log.error("index manifest is corrupt; states are read directly until it is rebuilt",
                      extra={"error": str(exc)})
            manifest = None
        self._use_manifest(manifest)

    def _use_manifest(self, manifest: Manifest | None) -> None:
        old = self._manifest
        self._manifest = manifest
        if manifest is None or old is None or (old.layout, old.shards) != (manifest.layout, manifest.shards):
            self._shards.clear()
        else:
            for k in [k for k, s in self._shards.items() if manifest.shard_gen[k] > s.gen]:
                del self._shards[k]
        if self._loaded_at is not None:
            self._settle()

    def _needs_build(self) -> bool:
        m = self._manifest
        if m is None:
            return True
        total = sum(meta.count for meta in m.states.values())
        return total > 4 * TARGET_PER_SHARD * m.shards  # the estate outgrew the layout: re-shard

    def _shard(self, k: int, *, cache: bool = True) -> _Shard:
        m = self._manifest
        assert m is not None and self.store is not None
        hit = self._shards.get(k)
        if hit is not None:
            self._shards.move_to_end(k)
            return hit
        body = self._shard_body(m.layout, k)
        if body is None:  # every shard of a layout exists: the layout was replaced under us
            self._manifest_etag = None
            self._load_manifest()
            m = self._manifest
            if m is None:
                return _Shard(0, {}, b"")
            body = self._shard_body(m.layout, k)
        by_key: dict[Key, list[tuple[str, int, int]]] = defaultdict(list)
        stale: list[str] = []
        head, blob = decode_shard(body) if body else ([], b"")
        offset = 0
        for url, lineage, _serial, records in head:
            meta = m.states.get(url)
            usable = meta is not None and bool(meta.etag)
            if meta is not None and meta.etag and lineage != meta.lineage:
                stale.append(url)  # another lineage than the manifest names: never trust it
                usable = False
            for kind, oid, length in records:
                if usable:
                    by_key[(kind, oid)].append((url, offset, length))
                offset += length
        shard = _Shard(m.gen, dict(by_key), blob)
        if cache:
            self._shards[k] = shard
            while len(self._shards) > max(1, self.cache_shards):
                self._shards.popitem(last=False)
        for url in stale:
            if url in self._persisted:
                log.warning("index shard holds another lineage than its manifest; reading the state directly",
                            extra={"state": url, "shard": k})
                self._read_into_overlay(url)
        return shard

    def _read_into_overlay(self, url: str) -> None:
        for _, etag, body, exc in self._fetch_many([url], {}):
            if exc is not None:
                self.errors[url] = f"{url}: cannot read: {exc}"
                self._persisted.discard(url)
                return
            self.reads += 1
            assert body is not None
            self._accept(url, etag, body, self.errors)
        self._settle()

    # --- the persisted form: writing ---------------------------------------------------------------
    def _persist(self, write: Callable[..., None], *args: Any) -> None:
        """Write the persisted form; a failure leaves it behind (readers then read the changed states
        themselves) but never fails the refresh, the scan or the state-change handler."""
        try:
            write(*args)
        except (*_READ_ERRORS, Conflict) as exc:
            log.error("index not persisted; states stay readable directly", extra={"error": str(exc)})

    def _shard_body(self, layout: str, k: int) -> bytes | None:
        assert self.store is not None
        try:
            body, _, _ = self.store.get(self.store.shard_key(layout, k))
        except _READ_ERRORS as exc:  # never answer "unmanaged" from a shard we could not read
            raise StateError(self.store.url, f"cannot read index shard {k}: {exc}") from exc
        self.shard_reads += 1
        return body

    def _build(self, seen: dict[str, str], errors: dict[str, str]) -> None:
        """Write a complete new layout from every state (streamed: one state in memory at a time)."""
        store, old = self.store, self._manifest
        assert store is not None
        layout = uuid.uuid4().hex[:12]
        metas: dict[str, StateMeta] = {}
        urls = sorted(seen)
        hashes: list[tuple[int, int, int, str, str, str]] = []  # (hash, offset, length, url, kind, id)
        with tempfile.SpooledTemporaryFile(max_size=32 << 20) as spill:
            for url, etag, body, exc in self._fetch_many(urls, seen):
                if exc is not None:  # left out of the manifest: readers will read it themselves
                    errors[url] = f"{url}: cannot read: {exc}"
                    continue
                self.reads += 1
                assert body is not None
                try:
                    doc = parse_state(url, body)
                except StateError as err:
                    errors[url] = str(err)
                    metas[url] = StateMeta("", bad_etag=etag, error=str(err))
                    continue
                count = 0
                for kind, oid, res in self._indexed(doc):
                    _, _, raw = _record(kind, oid, res)
                    hashes.append((object_hash(kind, oid), spill.tell(), len(raw), url, kind, oid))
                    spill.write(raw)
                    count += 1
                metas[url] = StateMeta(etag, doc.serial, doc.lineage, doc.terraform_version, doc.account,
                                       doc.region, count)
                del doc, body
            shards = shard_count_for(len(hashes))
            hashes.sort(key=lambda t: (t[0] % shards, t[1]))
            digests: dict[str, dict[str, str]] = defaultdict(dict)
            grouped = {k: list(g) for k, g in groupby(hashes, key=lambda t: t[0] % shards)}
            del hashes

            def shard_doc(k: int) -> bytes:
                by_url: dict[str, list[Record]] = defaultdict(list)
                for _, offset, length, url, kind, oid in grouped.get(k, ()):
                    spill.seek(offset)
                    by_url[url].append((kind, oid, spill.read(length)))
                for url, recs in by_url.items():
                    digests[url][str(k)] = digest(recs)
                return encode_shard(k, {u: (metas[u].lineage, metas[u].serial, r) for u, r in by_url.items()})

            with ThreadPoolExecutor(self.workers) as pool:
                window: deque[Any] = deque()
                for k in range(shards):  # the spill file is read here, in order; uploads overlap
                    body = shard_doc(k)
                    window.append(pool.submit(store.put, store.shard_key(layout, k), body, create_only=True))
                    while len(window) > self.workers * 2:
                        window.popleft().result()
                for fut in window:
                    fut.result()
                for fut in [pool.submit(store.put, store.digest_key(layout, url),
                                        encode({"url": url, "l": metas[url].lineage, "s": metas[url].serial,
                                                "d": digests.get(url, {})}), create_only=True)
                            for url in metas if metas[url].etag]:
                    fut.result()
        gen = (old.gen if old else 0) + 1
        manifest = Manifest(gen, layout, shards, [gen] * shards, metas)
        try:
            manifest.etag = store.put(store.manifest_key(), encode(manifest.to_json()),
                                      if_match=self._manifest_etag, create_only=self._manifest_etag is None)
        except Conflict:
            log.warning("another writer built the index first; using theirs", extra={"layout": layout})
            self._drop_layout(layout, shards, list(metas))
            self._manifest_etag = None
            self._load_manifest()
            return
        log.info("index built", extra={"layout": layout, "shards": shards, "states": len(metas),
                                       "records": sum(m.count for m in metas.values())})
        self._manifest_etag = manifest.etag
        self._overlay.clear()
        self._use_manifest(manifest)
        if old is not None:
            self._drop_layout(old.layout, old.shards, list(old.states))

    def _drop_layout(self, layout: str, shards: int, urls: list[str]) -> None:
        assert self.store is not None
        keys = [self.store.shard_key(layout, k) for k in range(shards)]
        keys += [self.store.digest_key(layout, url) for url in urls]
        self.store.delete_many(keys)

    def _commit(self, removed: list[str]) -> None:
        """Write what the overlay knows that the persisted form does not (changed shards only)."""
        store, m = self.store, self._manifest
        assert store is not None and m is not None
        updates: dict[str, tuple[StateMeta, StateDoc | None]] = {}
        for url, entry in self._overlay.items():
            if not entry.etag:
                continue  # a read failed: nothing to persist (retried next time)
            old = m.states.get(url)
            if entry.error is None and entry.doc is not None:
                d = entry.doc
                count = sum(1 for _ in self._indexed(d))
                updates[url] = (StateMeta(entry.etag, d.serial, d.lineage, d.terraform_version, d.account,
                                          d.region, count), d)
            elif entry.error is not None and (old is None or old.bad_etag != entry.etag):
                base = old or StateMeta("")
                updates[url] = (replace(base, bad_etag=entry.etag, error=entry.error), None)
        if not updates and not removed:
            return
        changes: dict[int, dict[str, _Change | None]] = defaultdict(dict)
        digest_writes: list[tuple[str, dict[str, Any], str | None]] = []
        for url, (meta, doc) in list(updates.items()):
            if doc is None:
                continue
            groups: dict[int, list[Record]] = defaultdict(list)
            for kind, oid, res in self._indexed(doc):
                groups[shard_of(kind, oid, m.shards)].append(_record(kind, oid, res))
            new = {str(k): digest(recs) for k, recs in groups.items()}
            old_digests, digest_etag, version = self._digests(m, url)
            if version is not None and version[0] == meta.lineage and version[1] > meta.serial:
                del updates[url]  # a newer serial of this state is indexed already: ours is stale
                continue
            if old_digests is None:
                touched = set(range(m.shards))
            elif version is not None and version[0] != meta.lineage:  # a new lineage: every shard says so
                touched = {int(k) for k in set(new) | set(old_digests)}
            else:  # only shards whose records changed (an unchanged shard keeps the older serial: fine)
                touched = {int(k) for k in set(new) | set(old_digests) if new.get(k) != old_digests.get(k)}
            for k in touched:
                changes[k][url] = (meta.lineage, meta.serial, groups.get(k, []))
            record = {"url": url, "l": meta.lineage, "s": meta.serial, "d": new}
            digest_writes.append((url, record, digest_etag))
        for url in removed:
            old_digests, _, _ = self._digests(m, url)
            for k in range(m.shards) if old_digests is None else map(int, old_digests):
                changes[k][url] = None
        with ThreadPoolExecutor(self.workers) as pool:
            for fut in [pool.submit(self._merge_shard, m.layout, k, c) for k, c in changes.items()]:
                fut.result()
            for fut in [pool.submit(self._put_digest, m.layout, url, d, e) for url, d, e in digest_writes]:
                fut.result()
        if removed:
            store.delete_many([store.digest_key(m.layout, url) for url in removed])
        for _ in range(_RETRIES):
            latest = self._manifest
            assert latest is not None
            if latest.layout != m.layout:
                log.warning("index re-sharded while committing; this update is kept in memory")
                return
            gen = latest.gen + 1
            states = dict(latest.states)
            for url, (meta, _) in updates.items():
                cur = states.get(url)
                if cur is None or meta.newer_than(cur):
                    states[url] = meta
            for url in removed:
                states.pop(url, None)
            shard_gen = list(latest.shard_gen)
            for k in changes:
                shard_gen[k] = gen
            manifest = Manifest(gen, latest.layout, latest.shards, shard_gen, states)
            try:
                body = encode(manifest.to_json())
                manifest.etag = store.put(store.manifest_key(), body, if_match=latest.etag)
            except Conflict:
                self._manifest_etag = None
                self._load_manifest()
                if self._manifest is None:
                    return
                continue
            self._manifest_etag = manifest.etag
            for k in changes:
                self._shards.pop(k, None)
            self._manifest = manifest
            for url in updates:
                if url in self._overlay and self._overlay[url].error is None:
                    del self._overlay[url]  # the shards serve it now
            self._settle()
            return
        log.error("index manifest commit kept losing races; the update stays in memory")

    def _digests(self, m: Manifest, url: str) -> _Digests:
        """A state's per-shard digests (None when unknown: every shard may hold its records), the
        digest file's ETag, and the (lineage, serial) they describe."""
        assert self.store is not None
        body, etag, _ = self.store.get(self.store.digest_key(m.layout, url))
        if body is not None:
            doc = decode(body)
            return dict(doc.get("d") or {}), etag, (doc.get("l"), int(doc.get("s") or 0))
        meta = m.states.get(url)
        return (None if meta is not None and meta.etag else {}), None, None

    def _put_digest(self, layout: str, url: str, doc: dict[str, Any], etag: str | None) -> None:
        assert self.store is not None
        key = self.store.digest_key(layout, url)
        for _ in range(_RETRIES):
            try:
                self.store.put(key, encode(doc), if_match=etag, create_only=etag is None)
                return
            except Conflict:
                body, etag, _ = self.store.get(key)
                if body is not None:
                    cur = decode(body)
                    if cur.get("l") == doc["l"] and int(cur.get("s", 0)) > doc["s"]:
                        return  # a newer version of this state got there first
        raise Conflict(f"{key}: too many concurrent writers")

    def _merge_shard(self, layout: str, k: int, changes: dict[str, _Change | None]) -> None:
        """Replace these states' records in shard ``k`` (compare-and-set; an older serial never wins)."""
        assert self.store is not None
        key = self.store.shard_key(layout, k)
        for _ in range(_RETRIES):
            body, etag, _ = self.store.get(key)
            states: ShardStates = shard_states(body)
            changed = False
            for url, entry in changes.items():
                cur = states.get(url)
                if cur is not None and entry is not None and cur[0] == entry[0] and cur[1] > entry[1]:
                    continue  # a newer serial of this state is there already
                if entry is None or not entry[2]:
                    if cur is not None:
                        del states[url]
                        changed = True
                    continue
                states[url] = entry
                changed = True
            if not changed:
                return
            try:
                self.store.put(key, encode_shard(k, states), if_match=etag, create_only=etag is None)
                return
            except Conflict:
                continue
        raise Conflict(f"{key}: too many concurrent writers")

    # --- queries ---------------------------------------------------------------------------------
    def lookup(self, object_kind: str, object_id: str, account: str | None = None) -> list[ManagedResource]:
        """O(1): every managed resource describing this object (in ``account``, when given and known).

        Reads at most one persisted shard (then cached)."""
        key = (object_kind, object_id)
        found: list[ManagedResource] = []
        if self._manifest is not None and self._persisted:
            shard = self._shard(shard_of(object_kind, object_id, self._manifest.shards))
            found.extend(r for r in shard.resources(key, self.account_of) if r.state_url in self._persisted)
        found.extend(self._overlay_index.get(key, ()))
        if account is None:
            return found
        return [r for r in found if r.account in (None, account)]

    def covers_account(self, account: str | None) -> bool:
        """Is any state mapped to ``account``? States whose account is unknown cover every account."""
        return account is None or not self._accounts or account in self._accounts or None in self._accounts

    def accounts(self) -> set[str]:
        return {a for a in self._accounts if a}

    def objects(self) -> Iterator[tuple[str, str, list[ManagedResource]]]:
        """Every managed object of a covered type (for the scheduled scan).

        With a persisted form this streams shard by shard (sorted within a shard): O(one shard) memory."""
        m = self._manifest
        if m is None or not self._persisted:
            for (kind, oid), resources in sorted(self._overlay_index.items()):
                yield kind, oid, list(resources)
            return
        overlay: dict[int, dict[Key, list[ManagedResource]]] = defaultdict(dict)
        for key, resources in self._overlay_index.items():
            overlay[shard_of(key[0], key[1], m.shards)][key] = resources
        for k in range(m.shards):
            merged: dict[Key, list[ManagedResource]] = defaultdict(list)
            shard = self._shard(k, cache=False)
            for key in shard.by_key:
                resources = shard.resources(key, self.account_of)
                merged[key].extend(r for r in resources if r.state_url in self._persisted)
            for key, resources in overlay.get(k, {}).items():
                merged[key].extend(resources)
            for (kind, oid), resources in sorted(merged.items()):
                if resources:
                    yield kind, oid, list(resources)

    def states(self) -> dict[str, str]:
        """Every known state → the ETag indexed (cheap: no shard is read)."""
        out = {url: e.etag for url, e in self._overlay.items() if e.doc is not None}
        if self._manifest is not None:
            out.update({url: self._manifest.states[url].etag for url in self._persisted})
        return out

    def docs(self) -> list[StateDoc]:
        """Every readable state. With a persisted form this reads every shard (tools, not the event
        path) and the documents carry the indexed resources only."""
        out = [e.doc for e in self._overlay.values() if e.doc is not None]
        return out + self._materialize(self._persisted)

    def doc(self, url: str) -> StateDoc | None:
        entry = self._overlay.get(url)
        if entry is not None and entry.doc is not None:
            return entry.doc
        found = self._materialize({url} & self._persisted)
        return found[0] if found else None

    def _materialize(self, urls: set[str]) -> list[StateDoc]:
        m = self._manifest
        if m is None or not urls:
            return []
        by_url: dict[str, list[ManagedResource]] = defaultdict(list)
        for k in range(m.shards):
            shard = self._shard(k, cache=False)
            for key, where in shard.by_key.items():
                if any(url in urls for url, _, _ in where):
                    for res in shard.resources(key, self.account_of):
                        if res.state_url in urls:
                            by_url[res.state_url].append(res)
        out = []
        for url in sorted(urls):
            meta = m.states[url]
            out.append(StateDoc(url, meta.serial, meta.lineage, meta.terraform_version, tuple(by_url[url]),
                                meta.account, meta.region))
        return out

    def __len__(self) -> int:
        persisted = sum(self._manifest.states[u].count for u in self._persisted) if self._manifest else 0
        return persisted + sum(len(v) for v in self._overlay_index.values())
