"""The finding store: one record per finding, decisions by conditional write (first one wins).

Two adapters with one contract: DynamoDB (Lambda; table name from ``DRIFTWARDEN_TABLE``) and a
local JSON directory (the CLI on its own). The Slack button carries only the finding id; the
finding itself lives here.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from botocore.exceptions import ClientError

from chalicelib.models import Finding

__all__ = ["DynamoFindingStore", "FileFindingStore", "FindingStore", "StoredFinding", "utcnow"]

OPEN = "open"


def utcnow() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class StoredFinding:
    finding: Finding
    state: str = OPEN  # open | approved | reverted | refused | failed | expired
    decision: dict[str, Any] | None = None
    slack: dict[str, Any] | None = None
    history: list[dict[str, Any]] = field(default_factory=list)

    def to_item(self) -> dict[str, Any]:
        return {
            "id": self.finding.id,
            "finding": json.dumps(self.finding.to_record(), default=str),
            "state": self.state,
            "decision": json.dumps(self.decision) if self.decision else None,
            "slack": json.dumps(self.slack) if self.slack else None,
            "history": json.dumps(self.history),
        }

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> StoredFinding:
        return cls(
            finding=Finding.from_record(json.loads(item["finding"])),
            state=item.get("state", OPEN),
            decision=json.loads(item["decision"]) if item.get("decision") else None,
            slack=json.loads(item["slack"]) if item.get("slack") else None,
            history=json.loads(item.get("history") or "[]"),
        )


class FindingStore(Protocol):
    def put(self, finding: Finding) -> bool:
        """Store a new finding; False if one with this id already exists (redelivery)."""

    def get(self, finding_id: str) -> StoredFinding | None: ...

    def set_slack(self, finding_id: str, ref: dict[str, Any]) -> None: ...

    def decide(self, finding_id: str, decision: dict[str, Any]) -> bool:
        """Record a decision only if none was made yet. True if this call won."""

    def finish(self, finding_id: str, state: str, detail: dict[str, Any]) -> None: ...


class DynamoFindingStore:
    def __init__(self, table: Any) -> None:
        self.table = table

    def put(self, finding: Finding) -> bool:
        item = StoredFinding(finding, history=[{"at": utcnow(), "event": "detected"}]).to_item()
        item = {k: v for k, v in item.items() if v is not None}
        try:
            self.table.put_item(Item=item, ConditionExpression="attribute_not_exists(id)")
            return True
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise

    def get(self, finding_id: str) -> StoredFinding | None:
        item = self.table.get_item(Key={"id": finding_id}, ConsistentRead=True).get("Item")
        return StoredFinding.from_item(item) if item else None

    def all(self) -> list[StoredFinding]:
        """Every stored finding (a consistent, paginated scan: for the CI gate, not the hot path)."""
        kwargs: dict[str, Any] = {"ConsistentRead": True}
        items: list[dict[str, Any]] = []
        while True:
            page = self.table.scan(**kwargs)
            items.extend(page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return [StoredFinding.from_item(item) for item in items]
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def set_slack(self, finding_id: str, ref: dict[str, Any]) -> None:
        self.table.update_item(Key={"id": finding_id}, UpdateExpression="SET slack = :s",
                               ExpressionAttributeValues={":s": json.dumps(ref)})

    def decide(self, finding_id: str, decision: dict[str, Any]) -> bool:
        try:
            self.table.update_item(
                Key={"id": finding_id},
                UpdateExpression="SET decision = :d, #s = :s",
                ConditionExpression="attribute_exists(id) AND #s = :open",
                ExpressionAttributeNames={"#s": "state"},
                ExpressionAttributeValues={":d": json.dumps(decision), ":s": decision["action"] + "_requested",
                                           ":open": OPEN},
            )
            return True
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise

    def finish(self, finding_id: str, state: str, detail: dict[str, Any]) -> None:
        current = self.get(finding_id)
        history = (current.history if current else []) + [{"at": utcnow(), "event": state, **detail}]
        self.table.update_item(Key={"id": finding_id}, UpdateExpression="SET #s = :s, history = :h",
                               ExpressionAttributeNames={"#s": "state"},
                               ExpressionAttributeValues={":s": state, ":h": json.dumps(history, default=str)})


class FileFindingStore:
    """One JSON file per finding under a directory; a lock makes decide() first-wins in-process,
    and ``O_EXCL`` creation makes put() first-wins across processes."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self._lock = threading.Lock()

    def _path(self, finding_id: str) -> Path:
        return self.root / f"{finding_id}.json"

    def _write(self, stored: StoredFinding) -> None:
        tmp = self._path(stored.finding.id).with_suffix(".tmp")
        tmp.write_text(json.dumps(stored.to_item(), indent=1))
        tmp.replace(self._path(stored.finding.id))

    def put(self, finding: Finding) -> bool:
        self.root.mkdir(parents=True, exist_ok=True)
        item = StoredFinding(finding, history=[{"at": utcnow(), "event": "detected"}]).to_item()
        try:
            fd = os.open(self._path(finding.id), os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w") as fh:
            fh.write(json.dumps(item, indent=1))
        return True

    def get(self, finding_id: str) -> StoredFinding | None:
        path = self._path(finding_id)
        if not path.exists():
            return None
        return StoredFinding.from_item(json.loads(path.read_text()))

    def all(self) -> list[StoredFinding]:
        return [StoredFinding.from_item(json.loads(p.read_text())) for p in sorted(self.root.glob("*.json"))]

    def set_slack(self, finding_id: str, ref: dict[str, Any]) -> None:
        with self._lock:
            stored = self.get(finding_id)
            if stored:
                stored.slack = ref
                self._write(stored)

    def decide(self, finding_id: str, decision: dict[str, Any]) -> bool:
        with self._lock:
            stored = self.get(finding_id)
            if stored is None or stored.state != OPEN:
                return False
            stored.decision = decision
            stored.state = decision["action"] + "_requested"
            self._write(stored)
            return True

    def finish(self, finding_id: str, state: str, detail: dict[str, Any]) -> None:
        with self._lock:
            stored = self.get(finding_id)
            if stored:
                stored.state = state
                stored.history.append({"at": utcnow(), "event": state, **detail})
                self._write(stored)
