"""The finding store: one record per finding; every state change is a conditional write.

The logic lives once in ``FindingStore``; it runs over a four-operation key-value port with two
adapters: DynamoDB (Lambda; ``DRIFTWARDEN_TABLE``, key ``id``) and a local JSON directory (the CLI
on its own). Besides findings the table holds small pointer items:

- ``fp#<fingerprint>``: the finding that owns *this drift* (same resource, paths, live values), so a
  re-detection by another event or by the scan updates it instead of alerting twice;
- ``res#<resource id>``: the latest open finding for a resource, so a burst of changes to one
  resource updates one Slack message in place;
- ``cap#<resource id>#<hour>``: reverts per resource per hour (the revert-war cap).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Any, Protocol

from botocore.exceptions import ClientError

from chalicelib.models import Finding

__all__ = [
    "DynamoKV",
    "FileKV",
    "FindingStore",
    "KeyValue",
    "Put",
    "StoredFinding",
    "dynamo_store",
    "file_store",
    "utcnow",
]

OPEN = "open"
DECIDED_PREFIX = ("approve_requested", "revert_requested")
#: States in which a finding still owns its drift (a re-detection is the same alert).
LIVE_STATES = frozenset({OPEN, "approved", "approve_requested", "revert_requested"})


def utcnow() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Put(str, Enum):
    NEW = "new"  # stored; alert
    DUPLICATE = "duplicate"  # this finding id is already stored (a redelivered event)
    REDETECTED = "redetected"  # the same drift is already owned by another live finding


@dataclass
class StoredFinding:
    finding: Finding
    state: str = OPEN  # open | approve_requested | revert_requested | approved | reverted | refused |
    #                    failed | not_needed | expired | superseded
    decision: dict[str, Any] | None = None
    slack: dict[str, Any] | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    detected_at: float = 0.0

    def to_item(self) -> dict[str, Any]:
        f = self.finding
        return {
            "id": f.id,
            "kind": "finding",
            "finding": json.dumps(f.to_record(), default=str),
            "state": self.state,
            "decision": json.dumps(self.decision) if self.decision else None,
            "slack": json.dumps(self.slack) if self.slack else None,
            "history": json.dumps(self.history, default=str),
            "fingerprint": f.fingerprint,
            "resource_id": f.resource.id if f.resource else None,
            "detected_at": str(self.detected_at),
        }

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> StoredFinding:
        return cls(
            finding=Finding.from_record(json.loads(item["finding"])),
            state=item.get("state", OPEN),
            decision=json.loads(item["decision"]) if item.get("decision") else None,
            slack=json.loads(item["slack"]) if item.get("slack") else None,
            history=json.loads(item.get("history") or "[]"),
            detected_at=float(item.get("detected_at") or 0),
        )


class KeyValue(Protocol):
    """The port: what the store needs from a table."""

    def create(self, key: str, item: dict[str, Any]) -> bool:
        """Write ``item`` only if ``key`` does not exist. True if written."""

    def get(self, key: str) -> dict[str, Any] | None: ...

    def update(self, key: str, values: dict[str, Any], expect: dict[str, Any] | None = None) -> bool:
        """Set ``values`` on an existing item, only if every ``expect`` field equals its value."""

    def scan(self, kind: str) -> Iterator[dict[str, Any]]: ...

    def incr(self, key: str, ttl_epoch: int) -> int:
        """Atomically add one to a counter item; return the new value."""


class DynamoKV:
    def __init__(self, table: Any) -> None:
        self.table = table

    def create(self, key: str, item: dict[str, Any]) -> bool:
        body = {k: v for k, v in {**item, "id": key}.items() if v is not None}
        try:
            self.table.put_item(Item=body, ConditionExpression="attribute_not_exists(id)")
            return True
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise

    def get(self, key: str) -> dict[str, Any] | None:
        item: dict[str, Any] | None = self.table.get_item(Key={"id": key}, ConsistentRead=True).get("Item")
        return item

    def update(self, key: str, values: dict[str, Any], expect: dict[str, Any] | None = None) -> bool:
        names: dict[str, str] = {}
        vals: dict[str, Any] = {}
        sets = []
        for i, (k, v) in enumerate(values.items()):
            names[f"#v{i}"], vals[f":v{i}"] = k, v
            sets.append(f"#v{i} = :v{i}")
        cond = ["attribute_exists(id)"]
        for i, (k, v) in enumerate((expect or {}).items()):
            names[f"#e{i}"], vals[f":e{i}"] = k, v
            cond.append(f"#e{i} = :e{i}")
        try:
            self.table.update_item(Key={"id": key}, UpdateExpression="SET " + ", ".join(sets),
                                   ConditionExpression=" AND ".join(cond), ExpressionAttributeNames=names,
                                   ExpressionAttributeValues=vals)
            return True
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise

    def scan(self, kind: str) -> Iterator[dict[str, Any]]:
        kwargs: dict[str, Any] = {"ConsistentRead": True, "FilterExpression": "#k = :k",
                                  "ExpressionAttributeNames": {"#k": "kind"}, "ExpressionAttributeValues": {":k": kind}}
        while True:
            page = self.table.scan(**kwargs)
            yield from page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def incr(self, key: str, ttl_epoch: int) -> int:
        resp = self.table.update_item(Key={"id": key}, UpdateExpression="ADD #c :one SET #t = :ttl, #k = :kind",
                                      ExpressionAttributeNames={"#c": "count", "#t": "ttl", "#k": "kind"},
                                      ExpressionAttributeValues={":one": 1, ":ttl": ttl_epoch, ":kind": "counter"},
                                      ReturnValues="UPDATED_NEW")
        return int(resp["Attributes"]["count"])


class FileKV:
    """One JSON file per item. A process-wide lock serializes conditional writes; creation uses
    ``O_EXCL`` so two processes cannot both create the same item."""

    _lock = threading.Lock()

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        return self.root / (key.replace("/", "_").replace("#", "~") + ".json")

    def create(self, key: str, item: dict[str, Any]) -> bool:
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(self._path(key), os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w") as fh:
            fh.write(json.dumps({**item, "id": key}, indent=1))
        return True

    def get(self, key: str) -> dict[str, Any] | None:
        path = self._path(key)
        if not path.exists():
            return None
        data: dict[str, Any] = json.loads(path.read_text())
        return data

    def update(self, key: str, values: dict[str, Any], expect: dict[str, Any] | None = None) -> bool:
        with self._lock:
            item = self.get(key)
            if item is None or any(item.get(k) != v for k, v in (expect or {}).items()):
                return False
            item.update(values)
            tmp = self._path(key).with_suffix(".tmp")
            tmp.write_text(json.dumps(item, indent=1))
            tmp.replace(self._path(key))
            return True

    def scan(self, kind: str) -> Iterator[dict[str, Any]]:
        for path in sorted(self.root.glob("*.json")):
            item = json.loads(path.read_text())
            if item.get("kind") == kind:
                yield item

    def incr(self, key: str, ttl_epoch: int) -> int:
        with self._lock:
            item = self.get(key)
            if item is None:
                self.create(key, {"kind": "counter", "count": 1, "ttl": ttl_epoch})
                return 1
            count = int(item.get("count", 0)) + 1
            self.update(key, {"count": count})
            return count


class FindingStore:
    def __init__(self, kv: KeyValue, clock: Callable[[], float] = time.time) -> None:
        self.kv = kv
        self.clock = clock

    # --- detection ------------------------------------------------------------------------------
    def put(self, finding: Finding) -> tuple[Put, StoredFinding]:
        """Store a new finding unless it is a redelivery or the same live drift re-detected."""
        existing = self.get(finding.id)
        if existing is not None:
            return Put.DUPLICATE, existing
        fp_key = f"fp#{finding.fingerprint}"
        owner = self.kv.get(fp_key)
        if owner:
            current = self.get(owner["finding_id"])
            if current is not None and current.state in LIVE_STATES:
                self._append(current, {"event": "redetected", "by": finding.event_id or "scan",
                                       "event_name": finding.event_name})
                return Put.REDETECTED, current
        stored = StoredFinding(finding, history=[{"at": utcnow(), "event": "detected"}], detected_at=self.clock())
        if not self.kv.create(finding.id, stored.to_item()):
            again = self.get(finding.id)
            assert again is not None
            return Put.DUPLICATE, again
        if owner is None:
            if not self.kv.create(fp_key, {"kind": "pointer", "finding_id": finding.id}):
                self.kv.update(fp_key, {"finding_id": finding.id})
        else:
            self.kv.update(fp_key, {"finding_id": finding.id}, expect={"finding_id": owner["finding_id"]})
        return Put.NEW, stored

    def get(self, finding_id: str) -> StoredFinding | None:
        item = self.kv.get(finding_id)
        return StoredFinding.from_item(item) if item and item.get("kind", "finding") == "finding" else None

    def all(self) -> list[StoredFinding]:
        return sorted((StoredFinding.from_item(i) for i in self.kv.scan("finding")), key=lambda s: s.detected_at)

    def open_findings(self) -> list[StoredFinding]:
        return [s for s in self.all() if s.state == OPEN]

    # --- grouping -----------------------------------------------------------------------------------
    def latest_open_for(self, resource_id: str, window_seconds: float) -> StoredFinding | None:
        """The open finding for this resource whose message was posted within the window."""
        pointer = self.kv.get(f"res#{resource_id}")
        if not pointer:
            return None
        current = self.get(pointer["finding_id"])
        if current is None or current.state != OPEN or not current.slack:
            return None
        if self.clock() - float(pointer.get("posted_at", 0)) > window_seconds:
            return None
        return current

    def set_slack(self, finding_id: str, ref: dict[str, Any]) -> None:
        self.kv.update(finding_id, {"slack": json.dumps(ref)})
        stored = self.get(finding_id)
        if stored and stored.finding.resource:
            key = f"res#{stored.finding.resource.id}"
            item = {"kind": "pointer", "finding_id": finding_id, "posted_at": str(self.clock())}
            if not self.kv.create(key, item):
                self.kv.update(key, {"finding_id": finding_id, "posted_at": item["posted_at"]})

    def supersede(self, old_id: str, new_id: str) -> bool:
        """The newer finding judges the same resource as a whole, so it replaces the older alert."""
        return self._transition(old_id, {OPEN}, "superseded", {"by": new_id})

    # --- decisions ----------------------------------------------------------------------------------
    def decide(self, finding_id: str, decision: dict[str, Any]) -> bool:
        """Record a decision only if none was made yet (conditional write: the first click wins)."""
        return self.kv.update(finding_id, {"decision": json.dumps(decision),
                                           "state": f"{decision['action']}_requested"}, expect={"state": OPEN})

    def finish(self, finding_id: str, state: str, detail: dict[str, Any]) -> None:
        stored = self.get(finding_id)
        if stored is None:
            return
        history = [*stored.history, {"at": utcnow(), "event": state, **detail}]
        self.kv.update(finding_id, {"state": state, "history": json.dumps(history, default=str)})

    def expire(self, finding_id: str) -> bool:
        return self._transition(finding_id, {OPEN}, "expired", {})

    def _transition(self, finding_id: str, from_states: set[str], to: str, detail: dict[str, Any]) -> bool:
        stored = self.get(finding_id)
        if stored is None or stored.state not in from_states:
            return False
        history = [*stored.history, {"at": utcnow(), "event": to, **detail}]
        return self.kv.update(finding_id, {"state": to, "history": json.dumps(history, default=str)},
                              expect={"state": stored.state})

    def _append(self, stored: StoredFinding, entry: dict[str, Any]) -> None:
        history = [*stored.history, {"at": utcnow(), **entry}]
        self.kv.update(stored.finding.id, {"history": json.dumps(history, default=str)})

    # --- revert-war cap ----------------------------------------------------------------------------
    def count_revert(self, resource_id: str) -> int:
        """Count one revert of ``resource_id`` in the current hour; return the hour's total."""
        now = self.clock()
        hour = datetime.fromtimestamp(now, UTC).strftime("%Y%m%d%H")
        return self.kv.incr(f"cap#{resource_id}#{hour}", int(now) + 7200)


def dynamo_store(table: Any, clock: Callable[[], float] = time.time) -> FindingStore:
    return FindingStore(DynamoKV(table), clock)


def file_store(root: str | os.PathLike[str], clock: Callable[[], float] = time.time) -> FindingStore:
    return FindingStore(FileKV(root), clock)
