"""The audit trail: an append-only, hash-chained record of every transition of every finding.

Auditors ask "who changed what, who approved or reverted it, and when" (DESIGN §6.4). Each record
names the AWS actor, the Slack user or CI identity that decided, the finding, the resource address,
and the before/after values with secrets masked (``Change.to_dict`` masks sensitive changes; detail
keys that look like secrets are masked here too).

Records are never overwritten: every write is conditional on its sequence number being free, and
each record carries ``prev_hash`` (the previous record's ``hash``) and its own ``hash`` =
sha256(canonical JSON of the record without ``hash``). ``verify()`` recomputes the chain, so an
edited, deleted or re-ordered record is reported. A chain cannot prove that records were not cut off
at the *end*; anchor ``head()`` somewhere else (a CI log, a Slack message) when that matters.

Two adapters with one interface (``append`` / ``iter`` / ``verify`` / ``head``):

- ``DynamoAuditLog``: one item per record, partition key ``chain`` (S, one value per trail, default
  ``"driftwarden"``) and sort key ``seq`` (N). Reading the partition in key order reads the chain in
  order; ``append`` reads the head and writes ``seq = head + 1`` with ``attribute_not_exists``, so two
  concurrent writers cannot fork the chain: the loser re-reads the head and retries. Table name from
  ``DRIFTWARDEN_AUDIT_TABLE``.
- ``FileAuditLog``: JSON lines (one record a line) for CLI-only teams; appends hold an exclusive
  ``flock`` while they read the head and write.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TextIO

from botocore.exceptions import ClientError

from chalicelib.errors import ConfigError, DriftwardenError
from chalicelib.models import MASK, Change, Finding

try:  # POSIX only; on other systems appends are serialized in-process only.
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "AUDIT_EVENTS",
    "GENESIS",
    "AuditConflict",
    "AuditError",
    "AuditLog",
    "AuditRecord",
    "DynamoAuditLog",
    "FileAuditLog",
    "audit_log_from_env",
    "new_record",
    "parse_since",
    "record_hash",
    "run_audit_cli",
    "verify_chain",
]

AUDIT_EVENTS = frozenset({
    "detected", "notified", "approved", "reverted", "refused", "failed", "expired", "auto-reverted",
    "gate-override", "not_needed", "superseded", "escalated",
})
GENESIS = "0" * 64
DEFAULT_CHAIN = "driftwarden"
DEFAULT_FILE = ".driftwarden/audit.jsonl"

_SECRET_KEY = re.compile(r"(password|passwd|secret|token|private[_-]?key|credential|api[_-]?key)", re.I)


class AuditError(DriftwardenError):
    """The audit trail could not be read or written."""


class AuditConflict(AuditError):
    """A record with this sequence number already exists (records are never overwritten)."""


def utcnow() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _plain(value: Any) -> Any:
    """JSON round trip: what is hashed is exactly what is stored and read back."""
    return json.loads(json.dumps(value, default=str))


def scrub(value: Any) -> Any:
    """Mask values under keys that look like secrets (``detail`` is free-form: revert call params...)."""
    if isinstance(value, Mapping):
        return {str(k): (MASK if _SECRET_KEY.search(str(k)) and v is not None else scrub(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v) for v in value]
    return value


@dataclass(frozen=True)
class AuditRecord:
    """One transition. ``seq``/``prev_hash``/``hash`` are set by the log on append."""

    event: str
    at: str
    finding_id: str | None = None
    resource: str | None = None
    resource_id: str | None = None
    state: str | None = None
    aws_actor: dict[str, Any] | None = None
    slack_user: str | None = None
    ci_identity: dict[str, Any] | None = None
    changes: list[dict[str, Any]] = field(default_factory=list)
    detail: dict[str, Any] = field(default_factory=dict)
    seq: int = 0
    prev_hash: str = ""
    hash: str = ""

    def body(self) -> dict[str, Any]:
        """Everything the hash covers: the whole record except ``hash`` itself."""
        return {
            "seq": self.seq, "prev_hash": self.prev_hash, "event": self.event, "at": self.at,
            "finding_id": self.finding_id, "resource": self.resource, "resource_id": self.resource_id,
            "state": self.state, "aws_actor": self.aws_actor, "slack_user": self.slack_user,
            "ci_identity": self.ci_identity, "changes": self.changes, "detail": self.detail,
        }

    def to_dict(self) -> dict[str, Any]:
        return {**self.body(), "hash": self.hash}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AuditRecord:
        return cls(
            event=str(data["event"]), at=str(data["at"]), finding_id=data.get("finding_id"),
            resource=data.get("resource"), resource_id=data.get("resource_id"), state=data.get("state"),
            aws_actor=data.get("aws_actor"), slack_user=data.get("slack_user"), ci_identity=data.get("ci_identity"),
            changes=list(data.get("changes") or []), detail=dict(data.get("detail") or {}),
            seq=int(data.get("seq") or 0), prev_hash=str(data.get("prev_hash") or ""), hash=str(data.get("hash") or ""),
        )

    def chained(self, prev: AuditRecord | None) -> AuditRecord:
        """This record as the successor of ``prev`` (``None``: the first record)."""
        rec = replace(self, seq=(prev.seq + 1) if prev else 1, prev_hash=prev.hash if prev else GENESIS, hash="")
        return replace(rec, hash=record_hash(rec.body()))


def canonical_json(body: Mapping[str, Any]) -> str:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def record_hash(body: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_json(body).encode()).hexdigest()


def new_record(
    event: str,
    finding: Finding | None = None,
    *,
    at: str | None = None,
    slack_user: str | None = None,
    ci_identity: Mapping[str, Any] | None = None,
    detail: Mapping[str, Any] | None = None,
    changes: Iterable[Any] | None = None,
    resource: str | None = None,
    state: str | None = None,
) -> AuditRecord:
    """An unchained record for ``event``; resource, actor and (masked) changes come from ``finding``.

    ``changes`` overrides the finding's changes (``Change`` objects or already-masked dicts).
    """
    if event not in AUDIT_EVENTS:
        raise AuditError(f"unknown audit event {event!r} (one of {', '.join(sorted(AUDIT_EVENTS))})")
    res = finding.resource if finding else None
    source = changes if changes is not None else (finding.changes if finding else ())
    change_dicts = [c.to_dict() if isinstance(c, Change) else dict(c) for c in source]
    return AuditRecord(
        event=event,
        at=at or utcnow(),
        finding_id=finding.id if finding else None,
        resource=resource or (res.address or res.id if res else None),
        resource_id=res.id if res else None,
        state=state or (res.state if res else None),
        aws_actor=_plain(finding.actor.to_dict()) if finding else None,
        slack_user=slack_user,
        ci_identity=_plain(dict(ci_identity)) if ci_identity else None,
        changes=_plain(change_dicts),
        detail=_plain(scrub(dict(detail or {}))),
    )


def verify_chain(records: Iterable[AuditRecord]) -> list[str]:
    """Problems in a chain given in ``seq`` order: altered records, gaps, broken links, duplicates."""
    problems: list[str] = []
    prev: AuditRecord | None = None
    for rec in records:
        expected = prev.seq + 1 if prev else 1
        if rec.seq < expected:
            problems.append(f"seq {rec.seq}: out of order or duplicated (expected {expected})")
        elif rec.seq > expected:
            missing = f"{expected}" if rec.seq == expected + 1 else f"{expected}-{rec.seq - 1}"
            problems.append(f"seq {missing}: missing (deleted?); the chain is broken before seq {rec.seq}")
        elif rec.prev_hash != (prev.hash if prev else GENESIS):
            problems.append(f"seq {rec.seq}: prev_hash does not match the hash of seq {expected - 1} "
                            f"(a record was replaced or removed)")
        actual = record_hash(rec.body())
        if actual != rec.hash:
            problems.append(f"seq {rec.seq}: content does not match its hash (the record was altered)")
        if rec.event not in AUDIT_EVENTS:
            problems.append(f"seq {rec.seq}: unknown event {rec.event!r}")
        prev = rec
    return problems


def parse_since(value: str) -> datetime:
    """``2024-05-01``, ``2024-05-01T10:00:00Z`` or with an offset → an aware UTC datetime."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"--since {value!r} is not an ISO 8601 date or time (e.g. 2024-05-01T10:00:00Z)") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _matches(rec: AuditRecord, resource: str | None, since: datetime | None, finding_id: str | None) -> bool:
    if resource is not None and resource not in (rec.resource, rec.resource_id):
        return False
    if finding_id is not None and rec.finding_id != finding_id:
        return False
    if since is not None:
        try:
            if parse_since(rec.at) < since:
                return False
        except ValueError:
            return True  # an unparseable time is shown, never hidden; verify() checks integrity
    return True


def _since(value: str | datetime | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)
    return parse_since(value)


class AuditLog(Protocol):
    def append(self, record: AuditRecord) -> AuditRecord:
        """Chain ``record`` after the current head and store it; returns it with seq/prev_hash/hash."""

    def iter(self, resource: str | None = None, since: str | datetime | None = None,
             finding_id: str | None = None) -> Iterator[AuditRecord]: ...

    def verify(self) -> list[str]:
        """Every integrity problem found (empty: the chain is intact)."""

    def head(self) -> AuditRecord | None: ...


# --- DynamoDB -----------------------------------------------------------------------------------------


class DynamoAuditLog:
    """Items ``{chain, seq, hash, prev_hash, event, at, finding_id, resource, body}``; ``body`` is the
    record's JSON (what is hashed); the other attributes are copies for reading and filtering, and
    ``verify`` checks they agree with it."""

    def __init__(self, table: Any, chain: str = DEFAULT_CHAIN, *, max_attempts: int = 25,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.table = table
        self.chain = chain
        self.max_attempts = max_attempts
        self.sleep = sleep

    def _items(self, descending: bool = False, limit: int | None = None) -> Iterator[dict[str, Any]]:
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": "#c = :c", "ExpressionAttributeNames": {"#c": "chain"},
            "ExpressionAttributeValues": {":c": self.chain}, "ConsistentRead": True,
            "ScanIndexForward": not descending,
        }
        if limit:
            kwargs["Limit"] = limit
        while True:
            page = self.table.query(**kwargs)
            yield from page.get("Items", [])
            if limit or "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    @staticmethod
    def _record(item: Mapping[str, Any]) -> AuditRecord:
        try:
            return AuditRecord.from_dict({**json.loads(item["body"]), "hash": item.get("hash", "")})
        except (KeyError, TypeError, ValueError) as exc:
            raise AuditError(f"audit record seq {item.get('seq')} is unreadable ({exc}); "
                             f"run `driftwarden audit --verify`") from None

    def head(self) -> AuditRecord | None:
        for item in self._items(descending=True, limit=1):
            return self._record(item)
        return None

    def write(self, record: AuditRecord) -> None:
        """Store a chained record; ``AuditConflict`` if its ``seq`` is taken (never overwrites)."""
        if record.seq < 1 or not record.hash:
            raise AuditError("only chained records can be written (use append)")
        item = {"chain": self.chain, "seq": record.seq, "hash": record.hash, "prev_hash": record.prev_hash,
                "event": record.event, "at": record.at, "body": canonical_json(record.body())}
        if record.finding_id:
            item["finding_id"] = record.finding_id
        if record.resource:
            item["resource"] = record.resource
        try:
            self.table.put_item(Item=item, ConditionExpression="attribute_not_exists(#c)",
                                ExpressionAttributeNames={"#c": "chain"})
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise AuditConflict(f"audit record seq {record.seq} already exists") from None
            raise AuditError(f"cannot write audit record: {exc}") from exc

    def append(self, record: AuditRecord) -> AuditRecord:
        for attempt in range(self.max_attempts):
            try:
                chained = record.chained(self.head())
                self.write(chained)
                return chained
            except AuditConflict:
                # Someone else took this seq: re-read the head and chain after their record.
                self.sleep(min(0.5, 0.01 * (2 ** attempt)) * random.random())
            except ClientError as exc:
                raise AuditError(f"cannot read the audit trail head: {exc}") from exc
        raise AuditConflict(f"gave up appending to audit chain {self.chain!r} after {self.max_attempts} conflicts")

    def iter(self, resource: str | None = None, since: str | datetime | None = None,
             finding_id: str | None = None) -> Iterator[AuditRecord]:
        after = _since(since)
        for item in self._items():
            rec = self._record(item)
            if _matches(rec, resource, after, finding_id):
                yield rec

    def verify(self) -> list[str]:
        problems: list[str] = []
        records: list[AuditRecord] = []
        for item in self._items():
            seq = int(item.get("seq", 0))
            try:
                body = json.loads(item["body"])
            except (KeyError, TypeError, ValueError):
                problems.append(f"seq {seq}: body is missing or not JSON")
                continue
            rec = AuditRecord.from_dict({**body, "hash": item.get("hash", "")})
            if rec.seq != seq:
                problems.append(f"seq {seq}: the item key says {seq} but the record says {rec.seq}")
            for attr in ("event", "at", "finding_id", "resource", "prev_hash"):
                if item.get(attr) != (getattr(rec, attr) or None):
                    problems.append(f"seq {seq}: attribute {attr!r} differs from the hashed record")
            records.append(rec)
        return problems + verify_chain(records)


# --- JSON lines file -----------------------------------------------------------------------------------


class FileAuditLog:
    """One JSON record a line. Appends take an exclusive ``flock`` (cross-process) and a thread lock."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def _lines(self) -> Iterator[tuple[int, str]]:
        if not self.path.exists():
            return
        with self.path.open(encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if line.strip():
                    yield n, line

    def _parse(self, n: int, line: str) -> AuditRecord:
        try:
            return AuditRecord.from_dict(json.loads(line))
        except (KeyError, TypeError, ValueError) as exc:
            raise AuditError(f"{self.path}:{n}: unreadable audit record ({exc}); "
                             f"run `driftwarden audit --verify`") from None

    @staticmethod
    def _last_line(fh: Any) -> str | None:
        """The last non-empty line, read backwards from the end (appends stay O(1) in file size)."""
        fh.seek(0, os.SEEK_END)
        end = fh.tell()
        buf = b""
        pos = end
        while pos > 0:
            step = min(4096, pos)
            pos -= step
            fh.seek(pos)
            buf = fh.read(step) + buf
            stripped = buf.rstrip(b"\n")
            if b"\n" in stripped:
                return stripped.rsplit(b"\n", 1)[1].decode("utf-8")
        stripped = buf.rstrip(b"\n")
        return stripped.decode("utf-8") if stripped else None

    def _locked(self, fn: Callable[[Any], AuditRecord]) -> AuditRecord:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, self.path.open("a+b") as fh:
            if fcntl is not None:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                return fn(fh)
            finally:
                if fcntl is not None:
                    fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    def _head_in(self, fh: Any) -> AuditRecord | None:
        line = self._last_line(fh)
        return self._parse(0, line) if line else None

    @staticmethod
    def _write_line(fh: Any, record: AuditRecord) -> None:
        fh.seek(0, os.SEEK_END)
        fh.write((canonical_json(record.to_dict()) + "\n").encode("utf-8"))
        fh.flush()
        os.fsync(fh.fileno())

    def head(self) -> AuditRecord | None:
        if not self.path.exists():
            return None
        with self.path.open("rb") as fh:
            return self._head_in(fh)

    def write(self, record: AuditRecord) -> None:
        """Append a chained record only if it is the direct successor of the head (never overwrites)."""
        if record.seq < 1 or not record.hash:
            raise AuditError("only chained records can be written (use append)")

        def go(fh: Any) -> AuditRecord:
            head = self._head_in(fh)
            head_seq = head.seq if head else 0
            if record.seq <= head_seq:
                raise AuditConflict(f"audit record seq {record.seq} already exists")
            if record.seq != head_seq + 1 or record.prev_hash != (head.hash if head else GENESIS):
                raise AuditConflict(f"audit record seq {record.seq} does not follow the head (seq {head_seq})")
            self._write_line(fh, record)
            return record

        self._locked(go)

    def append(self, record: AuditRecord) -> AuditRecord:
        def go(fh: Any) -> AuditRecord:
            chained = record.chained(self._head_in(fh))
            self._write_line(fh, chained)
            return chained

        return self._locked(go)

    def iter(self, resource: str | None = None, since: str | datetime | None = None,
             finding_id: str | None = None) -> Iterator[AuditRecord]:
        after = _since(since)
        for n, line in self._lines():
            rec = self._parse(n, line)
            if _matches(rec, resource, after, finding_id):
                yield rec

    def verify(self) -> list[str]:
        problems: list[str] = []
        records: list[AuditRecord] = []
        for n, line in self._lines():
            try:
                records.append(AuditRecord.from_dict(json.loads(line)))
            except (KeyError, TypeError, ValueError):
                problems.append(f"line {n}: not a readable audit record")
        return problems + verify_chain(records)


# --- construction and the `driftwarden audit` command ---------------------------------------------------


def audit_log_from_env(env: Mapping[str, str] | None = None,
                       table_factory: Callable[[str], Any] | None = None) -> AuditLog:
    """``DRIFTWARDEN_AUDIT_TABLE`` → DynamoDB (``table_factory(name)`` builds the boto3 Table, so no
    client is created here); else ``DRIFTWARDEN_AUDIT_FILE`` (default ``.driftwarden/audit.jsonl``)."""
    env = os.environ if env is None else env
    table = env.get("DRIFTWARDEN_AUDIT_TABLE")
    if table:
        if table_factory is None:
            raise ConfigError("DRIFTWARDEN_AUDIT_TABLE is set but no DynamoDB table factory was given")
        return DynamoAuditLog(table_factory(table), env.get("DRIFTWARDEN_AUDIT_CHAIN") or DEFAULT_CHAIN)
    return FileAuditLog(env.get("DRIFTWARDEN_AUDIT_FILE") or DEFAULT_FILE)


def _who(rec: AuditRecord) -> str:
    if rec.slack_user:
        return f"slack:{rec.slack_user}"
    if rec.ci_identity:
        ci = rec.ci_identity
        return f"{ci.get('system', 'ci')}:{ci.get('actor', '?')}"
    actor = rec.aws_actor or {}
    return str(actor.get("arn") or actor.get("name") or "-")


def _format_change(change: Mapping[str, Any]) -> str:
    def short(v: Any) -> str:
        return "∅" if v is None else json.dumps(v, sort_keys=True, default=str)

    return f"{change.get('path')}: {short(change.get('declared'))} → {short(change.get('live'))}"


def run_audit_cli(log: AuditLog, *, resource: str | None = None, since: str | None = None, verify: bool = False,
                  fmt: str = "text", out: TextIO | None = None, err: TextIO | None = None) -> int:
    """``driftwarden audit [--resource ADDR] [--since ISO] [--verify] [--format text|json]``.

    Prints the trail (oldest first), or with ``verify`` checks the whole chain. Exit codes: 0 fine,
    1 integrity problems found (``--verify``) or an unreadable record, 2 bad arguments.
    """
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        after = parse_since(since) if since else None
    except ValueError as exc:
        print(f"driftwarden audit: {exc}", file=err)
        return 2
    if verify:
        try:
            problems = log.verify()
            head = log.head() if not problems else None
        except AuditError as exc:
            problems, head = [str(exc)], None
        if fmt == "json":
            print(json.dumps({"intact": not problems, "problems": problems,
                              "head": {"seq": head.seq, "hash": head.hash} if head else None}), file=out)
        elif problems:
            print(f"audit trail FAILED verification ({len(problems)} problem(s)):", file=out)
            for p in problems:
                print(f"  - {p}", file=out)
        elif head is None:
            print("audit trail is empty", file=out)
        else:
            print(f"audit trail intact: {head.seq} record(s); head seq {head.seq} hash {head.hash}", file=out)
        return 1 if problems else 0
    try:
        records = list(log.iter(resource=resource, since=after))
    except AuditError as exc:
        print(f"driftwarden audit: {exc}", file=err)
        return 1
    if fmt == "json":
        for rec in records:
            print(json.dumps(rec.to_dict(), sort_keys=True), file=out)
        return 0
    if not records:
        print("no audit records match", file=out)
        return 0
    print(f"{'SEQ':>5}  {'AT':<20}  {'EVENT':<13}  {'RESOURCE':<48}  {'FINDING':<20}  WHO", file=out)
    for rec in records:
        print(f"{rec.seq:>5}  {rec.at:<20}  {rec.event:<13}  {(rec.resource or '-'):<48}  "
              f"{(rec.finding_id or '-'):<20}  {_who(rec)}", file=out)
        for change in rec.changes:
            print(f"{'':>7}{_format_change(change)}", file=out)
        reason = rec.detail.get("reason")
        if reason:
            print(f"{'':>7}reason: {reason}", file=out)
    return 0
