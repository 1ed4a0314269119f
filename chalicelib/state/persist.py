"""The persisted state index (``DRIFTWARDEN_INDEX_URL=s3://bucket/prefix/``).

Why: without it every cold start lists and re-reads every Terraform state (hundreds of files, many
MB) before it can judge one event. With it a cold start reads one small manifest and, per lookup,
at most one shard; a changed state rewrites only the shards whose records changed.

Objects under the prefix (gzip-compressed JSON):

- ``manifest.json.gz``: ``{v, gen, layout, shards, shard_gen[], states: {url: meta}}``. One
  compact entry per state (ETag, serial, lineage, account, region, record count, and the error
  when its newest version is unreadable). ``shard_gen[k]`` is the manifest generation that last
  changed shard ``k``: a warm reader drops exactly the cached shards that changed.
- ``<layout>/shards/<k>.json.gz``: every record whose ``(kind, id)`` hashes to ``k``, grouped by
  state with that state's lineage and serial: a JSON header line, then the records (``encode_shard``).
- ``<layout>/states/<sha1(url)>.json.gz``: per state, a digest of its records in each shard, so an
  update knows which shards to rewrite (and which ones it left).

Every write is compare-and-set (S3 conditional writes: ``If-Match`` / ``If-None-Match: *``) and a
merge never replaces a state's records with an older serial of the same lineage, so concurrent
writers cannot lose each other's updates. Shards are written before the manifest names them.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.errors import ConfigError

__all__ = ["Conflict", "IndexStore", "Manifest", "Record", "ShardStates", "StateMeta", "decode",
           "decode_shard", "digest", "encode", "encode_shard", "object_hash", "shard_count_for", "shard_of",
           "shard_states", "strip_etag"]

FORMAT = 1
TARGET_PER_SHARD = 256  # records per shard the layout aims at: a lookup parses ~256 records at most
MIN_SHARDS = 16
MAX_SHARDS = 1 << 16


def shard_count_for(records: int) -> int:
    """Smallest power of two keeping shards near ``TARGET_PER_SHARD`` records."""
    n = MIN_SHARDS
    while n < MAX_SHARDS and n * TARGET_PER_SHARD < records:
        n *= 2
    return n


def object_hash(kind: str, object_id: str) -> int:
    """A stable 64-bit hash of an object key (``shard = hash % shards``; shards is a power of two)."""
    return int.from_bytes(hashlib.blake2b(f"{kind}\x1f{object_id}".encode(), digest_size=8).digest(), "big")


def shard_of(kind: str, object_id: str, shards: int) -> int:
    return object_hash(kind, object_id) % shards


def encode(doc: Any) -> bytes:
    return gzip.compress(json.dumps(doc, separators=(",", ":"), default=str).encode(), compresslevel=5)


def decode(body: bytes) -> Any:
    return json.loads(gzip.decompress(body))


Record = tuple[str, str, bytes]  # (kind, object id, the record as compact JSON)
ShardStates = dict[str, tuple["str | None", int, list[Record]]]  # url → (lineage, serial, records)


def encode_shard(k: int, states: ShardStates) -> bytes:
    """A JSON header line (states, and per record its key and length), then the records back to back.

    Why: a reader parses only the header and, per lookup, the few records it needs; decoding every
    record of a shard costs more than fetching it."""
    head: list[Any] = []
    blobs: list[bytes] = []
    for url, (lineage, serial, records) in states.items():
        head.append([url, lineage, serial, [[kind, oid, len(raw)] for kind, oid, raw in records]])
        blobs.extend(raw for _, _, raw in records)
    header = json.dumps({"v": FORMAT, "k": k, "states": head}, separators=(",", ":")).encode()
    return gzip.compress(header + b"\n" + b"".join(blobs), compresslevel=5)


def decode_shard(body: bytes) -> tuple[list[Any], bytes]:
    """(header states, record blob): offsets follow from the lengths, in order."""
    header, _, blob = gzip.decompress(body).partition(b"\n")
    return json.loads(header)["states"], blob


def shard_states(body: bytes | None) -> ShardStates:
    """A shard's content for merging (records stay raw bytes: nothing is re-encoded)."""
    out: ShardStates = {}
    if body is None:
        return out
    head, blob = decode_shard(body)
    offset = 0
    for url, lineage, serial, records in head:
        items: list[Record] = []
        for kind, oid, length in records:
            items.append((kind, oid, blob[offset:offset + length]))
            offset += length
        out[url] = (lineage, int(serial), items)
    return out


def digest(records: Iterable[Record]) -> str:
    h = hashlib.blake2b(digest_size=8)
    for kind, oid, raw in sorted(records):
        h.update(f"{kind}\x1f{oid}\x1f{len(raw)}\x1f".encode())
        h.update(raw)
    return h.hexdigest()


def strip_etag(etag: str | None) -> str:
    return (etag or "").strip('"')


_CONFLICT_CODES = ("PreconditionFailed", "ConditionalRequestConflict", "NoSuchKey")


class Conflict(Exception):
    """A conditional write lost a race (HTTP 412 / 409): re-read, merge, retry."""


@dataclass
class StateMeta:
    """What the manifest keeps about one state (records live in the shards)."""

    etag: str  # the version whose records are in the shards ("" when none ever was readable)
    serial: int = 0
    lineage: str | None = None
    terraform_version: str | None = None
    account: str | None = None
    region: str | None = None
    count: int = 0  # indexed records
    bad_etag: str | None = None  # a newer version that could not be parsed ...
    error: str | None = None  # ... and why

    def to_json(self) -> list[Any]:
        return [self.etag, self.serial, self.lineage, self.terraform_version, self.account, self.region,
                self.count, self.bad_etag, self.error]

    @classmethod
    def from_json(cls, raw: list[Any]) -> StateMeta:
        return cls(*raw)

    def newer_than(self, other: StateMeta) -> bool:
        """Same lineage: the higher serial wins (ties go to the newcomer); new lineage: the newcomer."""
        return self.lineage != other.lineage or self.serial >= other.serial


@dataclass
class Manifest:
    gen: int
    layout: str
    shards: int
    shard_gen: list[int]
    states: dict[str, StateMeta]
    etag: str | None = None  # the S3 ETag it was read with (for compare-and-set)

    def to_json(self) -> dict[str, Any]:
        return {"v": FORMAT, "gen": self.gen, "layout": self.layout, "shards": self.shards,
                "shard_gen": self.shard_gen, "states": {u: m.to_json() for u, m in self.states.items()}}

    @classmethod
    def from_json(cls, raw: dict[str, Any], etag: str | None) -> Manifest:
        if raw.get("v") != FORMAT:
            raise ValueError(f"unsupported index format {raw.get('v')!r}")
        states = {u: StateMeta.from_json(m) for u, m in raw["states"].items()}
        shard_gen = [int(g) for g in raw["shard_gen"]]
        return cls(int(raw["gen"]), str(raw["layout"]), int(raw["shards"]), shard_gen, states, etag)


@dataclass
class IndexStore:
    """S3 objects under ``s3://bucket/prefix/``; ``s3`` returns a client (lazy)."""

    bucket: str
    prefix: str
    s3: Callable[[], Any]
    gets: int = 0
    puts: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def from_url(cls, url: str, s3: Callable[[], Any]) -> IndexStore:
        if not url.startswith("s3://"):
            raise ConfigError(f"DRIFTWARDEN_INDEX_URL={url!r}: expected s3://bucket/prefix/")
        bucket, _, prefix = url[len("s3://"):].partition("/")
        if not bucket:
            raise ConfigError(f"DRIFTWARDEN_INDEX_URL={url!r} has no bucket")
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        return cls(bucket, prefix, s3)

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    # --- keys ------------------------------------------------------------------------------------
    def manifest_key(self) -> str:
        return f"{self.prefix}manifest.json.gz"

    def shard_key(self, layout: str, k: int) -> str:
        return f"{self.prefix}{layout}/shards/{k:05d}.json.gz"

    def digest_key(self, layout: str, url: str) -> str:
        return f"{self.prefix}{layout}/states/{hashlib.sha1(url.encode()).hexdigest()}.json.gz"

    # --- I/O -------------------------------------------------------------------------------------
    def get(self, key: str, if_none_match: str | None = None) -> tuple[bytes | None, str | None, bool]:
        """(body, etag, not_modified). A missing object is (None, None, False)."""
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if if_none_match:
            kwargs["IfNoneMatch"] = if_none_match
        with self._lock:
            self.gets += 1
        try:
            resp = self.s3().get_object(**kwargs)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in ("304", "NotModified") or status == 304:
                return None, if_none_match, True
            if code in ("NoSuchKey", "404"):
                return None, None, False
            raise
        return resp["Body"].read(), strip_etag(resp.get("ETag")), False

    def put(self, key: str, body: bytes, *, if_match: str | None = None, create_only: bool = False) -> str:
        """Conditional PUT: ``if_match`` (replace exactly that version) or ``create_only``."""
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": key, "Body": body,
                                  "ContentType": "application/json", "ContentEncoding": "gzip"}
        if if_match:
            kwargs["IfMatch"] = f'"{strip_etag(if_match)}"'
        elif create_only:
            kwargs["IfNoneMatch"] = "*"
        with self._lock:
            self.puts += 1
        try:
            resp = self.s3().put_object(**kwargs)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in _CONFLICT_CODES or status in (409, 412):
                raise Conflict(f"{key}: {code or status}") from exc
            raise
        return strip_etag(resp.get("ETag"))

    def delete_many(self, keys: list[str]) -> None:
        """Best effort (an old layout after a re-shard): leftovers are harmless, never read again."""
        for start in range(0, len(keys), 1000):
            chunk = keys[start:start + 1000]
            try:
                self.s3().delete_objects(Bucket=self.bucket,
                                         Delete={"Objects": [{"Key": k} for k in chunk], "Quiet": True})
            except ClientError:
                return
