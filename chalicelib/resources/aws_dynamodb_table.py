"""aws_dynamodb_table: a DynamoDB table, keyed by name (events may name it by ARN).

Compared: billing mode and provisioned capacity, streams, deletion protection, point-in-time
recovery (``DescribeContinuousBackups``), TTL (``DescribeTimeToLive``), server-side encryption,
table class, global secondary indexes and tags. Why some things are not drift:
- capacity under Application Auto Scaling moves by design (a scalable target for the table's
  read/write capacity exists): not drift, as ``ignore_changes`` would say in the configuration;
- capacity of an on-demand table, and an encryption block the state leaves empty (AWS-owned key).
Item-level calls (``PutItem``, ``ExecuteStatement``, ...) change no declared attribute: skipped.

Revert: DynamoDB runs one table update at a time (a second ``UpdateTable`` fails while the first
is in progress), so a plan restores at most one of billing/capacity, stream or encryption, plus
the independent settings (deletion protection, PITR, TTL, tags). GSIs are reported, never
reverted: creating or deleting an index is a data operation, not an attribute restore.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.drift.diff import RawChange
from chalicelib.drift.normalize import atom, tags_from_state
from chalicelib.models import ApiCall, Change, Severity
from chalicelib.resources.base import Declared, EventKind, EventSpec, Gone, LiveContext, ManagedResource, call_aws
from chalicelib.resources.data_common import (
    DataPlugin,
    NotRevertible,
    arn_parts,
    as_bool,
    as_int,
    block,
    live_tags,
    mark_sensitive_roots,
    tag_edits,
)
from chalicelib.resources.registry import register

KIND = "dynamodb:table"
DDB = "dynamodb.amazonaws.com"
_TABLE = "requestParameters.tableName"
_SCALING = {"dynamodb:table:ReadCapacityUnits": "read_capacity",
            "dynamodb:table:WriteCapacityUnits": "write_capacity"}


def table_name(value: str, record: Mapping[str, Any]) -> str | None:
    """A table name, or a table ARN (``...:table/NAME[/index/..|/stream/..]``) → the name."""
    parts = arn_parts(value)
    if not parts:
        return value
    if parts[2] != "dynamodb" or not parts[5].startswith("table/"):
        return None
    return parts[5].split("/")[1] or None


def _spec(name: str, ids: str, kind: EventKind = EventKind.MODIFY, **kw: Any) -> EventSpec:
    return EventSpec(DDB, name, ids, kind, transform=table_name, **kw)


_NOOP = "item-level calls change no declared attribute"
_RESOURCE_ARN = "requestParameters.resourceArn"


def _off(rule: str) -> Any:
    def check(ch: RawChange) -> tuple[Severity, str] | None:
        return (Severity.CRITICAL, rule) if ch.live is False else None
    return check


@register
class AwsDynamodbTable(DataPlugin):
    type = "aws_dynamodb_table"
    computed = frozenset({"read_capacity", "write_capacity"})
    service = "dynamodb"
    object_kind = KIND
    id_attribute = "name"
    events = (
        _spec("UpdateTable", f"{_TABLE} || responseElements.tableDescription.tableName"),
        _spec("UpdateContinuousBackups", _TABLE),
        _spec("UpdateTimeToLive", _TABLE),
        _spec("TagResource", _RESOURCE_ARN, id_prefix="arn:"),
        _spec("UntagResource", _RESOURCE_ARN, id_prefix="arn:"),
        _spec("DeleteTable", _TABLE, EventKind.DELETE),
        _spec("CreateTable", f"responseElements.tableDescription.tableName || {_TABLE}", EventKind.CREATE),
        _spec("PutItem", f"{_TABLE} || resources[].ARN", EventKind.NOOP, note=_NOOP),
        _spec("UpdateItem", f"{_TABLE} || resources[].ARN", EventKind.NOOP, note=_NOOP),
        _spec("ExecuteStatement", "resources[].ARN", EventKind.NOOP, note=_NOOP),
        _spec("BatchExecuteStatement", "resources[].ARN", EventKind.NOOP, note=_NOOP),
        _spec("TransactWriteItems", "requestParameters.requestItems[].tableName || resources[].ARN",
              EventKind.NOOP, note=_NOOP),
    )
    compared = {
        "billing_mode": Severity.MEDIUM,
        "read_capacity": Severity.MEDIUM,
        "write_capacity": Severity.MEDIUM,
        "stream_enabled": Severity.MEDIUM,
        "stream_view_type": Severity.MEDIUM,
        "deletion_protection_enabled": Severity.MEDIUM,
        "point_in_time_recovery": Severity.MEDIUM,
        "ttl": Severity.MEDIUM,
        "server_side_encryption": Severity.HIGH,
        "table_class": Severity.LOW,
        "global_secondary_index": Severity.MEDIUM,
        "tags": Severity.LOW,
    }
    rules = {"deletion_protection_enabled": _off("dynamodb-deletion-protection-off"),
             "point_in_time_recovery": _off("dynamodb-point-in-time-recovery-off")}
    read_permissions = ("dynamodb:DescribeTable", "dynamodb:DescribeContinuousBackups",
                        "dynamodb:DescribeTimeToLive", "dynamodb:ListTagsOfResource",
                        "application-autoscaling:DescribeScalableTargets")
    revert_permissions = ("dynamodb:UpdateTable", "dynamodb:UpdateContinuousBackups",
                          "dynamodb:UpdateTimeToLive", "dynamodb:TagResource", "dynamodb:UntagResource")
    gone_codes = frozenset({"ResourceNotFoundException", "TableNotFoundException"})
    deleted_severity = Severity.CRITICAL

    def object_id(self, attrs: Mapping[str, Any]) -> str | None:
        value = attrs.get("name") or attrs.get("id")
        return str(value) if value else None

    def declare(self, resource: ManagedResource, declared: Declared) -> None:
        attrs, model = resource.attributes, declared.model
        billing = str(attrs.get("billing_mode") or "PROVISIONED")
        model["billing_mode"] = billing
        if billing == "PROVISIONED":
            for key in ("read_capacity", "write_capacity"):
                if as_int(attrs.get(key)):
                    model[key] = as_int(attrs.get(key))
        stream = as_bool(attrs.get("stream_enabled"))
        if stream is not None:
            model["stream_enabled"] = stream
            if stream and attrs.get("stream_view_type"):
                model["stream_view_type"] = str(attrs["stream_view_type"])
        if as_bool(attrs.get("deletion_protection_enabled")) is not None:
            model["deletion_protection_enabled"] = as_bool(attrs.get("deletion_protection_enabled"))
        pitr = block(attrs, "point_in_time_recovery")
        if pitr is not None:
            model["point_in_time_recovery"] = bool(pitr.get("enabled"))
        ttl = block(attrs, "ttl")
        if ttl is not None:
            enabled = bool(ttl.get("enabled"))
            name = str(ttl.get("attribute_name") or "") if enabled else ""
            model["ttl"] = {"enabled": enabled, "attribute_name": name}
        sse = block(attrs, "server_side_encryption")
        if sse is not None:
            enabled = bool(sse.get("enabled"))
            want: dict[str, Any] = {"enabled": enabled}
            if enabled and sse.get("kms_key_arn"):
                want["kms_key_arn"] = str(sse["kms_key_arn"])
            model["server_side_encryption"] = want
        if attrs.get("table_class"):
            model["table_class"] = str(attrs["table_class"])
        if attrs.get("global_secondary_index") is not None:
            model["global_secondary_index"] = frozenset(
                _index(g.get("name"), g.get("hash_key"), g.get("range_key"), g.get("projection_type"))
                for g in attrs.get("global_secondary_index") or [] if isinstance(g, Mapping))
        model["tags"] = tags_from_state(attrs)
        mark_sensitive_roots(resource, declared)

    # --- live ------------------------------------------------------------------------------------
    def read_live(self, ctx: LiveContext, object_id: str) -> dict[str, Any] | None:
        try:
            table = self.call(ctx, "describe_table", TableName=object_id)["Table"]
            if str(table.get("TableStatus", "")).upper() == "DELETING":
                return None
            backups = self.call(ctx, "describe_continuous_backups", TableName=object_id)
            ttl = self.call(ctx, "describe_time_to_live", TableName=object_id)
            ttl = ttl.get("TimeToLiveDescription") or {}
            tags = self._tags(ctx, table["TableArn"])
        except Gone:
            return None
        model = self.live_model(table, backups, ttl, tags)
        if model["billing_mode"] == "PROVISIONED":
            model["_autoscaled"] = self._autoscaled(ctx, object_id)
        return model

    def _tags(self, ctx: LiveContext, arn: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        params: dict[str, Any] = {"ResourceArn": arn}
        while True:
            page = self.call(ctx, "list_tags_of_resource", **params)
            out += page.get("Tags") or []
            if not page.get("NextToken"):
                return out
            params["NextToken"] = page["NextToken"]

    def _autoscaled(self, ctx: LiveContext, name: str) -> list[str]:
        client = ctx.client("application-autoscaling")
        found = call_aws(client, "describe_scalable_targets", ServiceNamespace="dynamodb",
                         ResourceIds=[f"table/{name}"]).get("ScalableTargets") or []
        dims = {t.get("ScalableDimension") for t in found}
        return sorted(_SCALING[d] for d in dims if d in _SCALING)

    @staticmethod
    def live_model(table: Mapping[str, Any], backups: Mapping[str, Any], ttl: Mapping[str, Any],
                   tags: Any) -> dict[str, Any]:
        billing = (table.get("BillingModeSummary") or {}).get("BillingMode") or "PROVISIONED"
        throughput = table.get("ProvisionedThroughput") or {}
        stream = table.get("StreamSpecification") or {}
        sse = table.get("SSEDescription") or {}
        pitr = (backups.get("ContinuousBackupsDescription") or {}).get("PointInTimeRecoveryDescription") or {}
        ttl_on = ttl.get("TimeToLiveStatus") in ("ENABLED", "ENABLING")
        sse_on = sse.get("Status") in ("ENABLED", "UPDATING")
        return {
            "billing_mode": billing,
            "read_capacity": throughput.get("ReadCapacityUnits"),
            "write_capacity": throughput.get("WriteCapacityUnits"),
            "stream_enabled": bool(stream.get("StreamEnabled")),
            "stream_view_type": stream.get("StreamViewType") if stream.get("StreamEnabled") else None,
            "deletion_protection_enabled": bool(table.get("DeletionProtectionEnabled")),
            "point_in_time_recovery": pitr.get("PointInTimeRecoveryStatus") in ("ENABLED", "ENABLING"),
            "ttl": {"enabled": ttl_on, "attribute_name": str(ttl.get("AttributeName") or "") * ttl_on},
            "server_side_encryption": {"enabled": sse_on, "kms_key_arn": sse.get("KMSMasterKeyArn")}
            if sse_on else {"enabled": False},
            "table_class": (table.get("TableClassSummary") or {}).get("TableClass") or "STANDARD",
            "global_secondary_index": frozenset(
                _index(g.get("IndexName"), _key(g, "HASH"), _key(g, "RANGE"),
                       (g.get("Projection") or {}).get("ProjectionType"))
                for g in table.get("GlobalSecondaryIndexes") or []),
            "tags": live_tags(tags),
            "_arn": table.get("TableArn"),
            "_ttl_live_attribute": ttl.get("AttributeName"),
        }

    def ignore(self, raw: RawChange, declared: Declared, live: Mapping[str, Any]) -> bool:
        if raw.attribute in ("read_capacity", "write_capacity"):
            autoscaled = raw.attribute in (live.get("_autoscaled") or ())
            return autoscaled or live.get("billing_mode") != "PROVISIONED"
        # a declaration that does not name a key accepts whichever KMS key AWS uses
        return raw.path == "server_side_encryption.kms_key_arn" and raw.declared is None

    # --- revert ----------------------------------------------------------------------------------
    def revert_calls(
        self, object_id: str, changes: list[Change], declared: Declared, live: Mapping[str, Any]
    ) -> list[ApiCall]:
        model = declared.model
        paths = {c.path.split(".", 1)[0] for c in changes}
        calls: list[ApiCall] = []
        heavy: list[ApiCall] = []
        if "deletion_protection_enabled" in paths:
            value = model["deletion_protection_enabled"]
            calls.append(_update(object_id, f"turn deletion protection {_on(value)} for table {object_id}",
                                 DeletionProtectionEnabled=value))
        if "point_in_time_recovery" in paths:
            value = model["point_in_time_recovery"]
            calls.append(ApiCall("dynamodb", "UpdateContinuousBackups",
                                 {"TableName": object_id,
                                  "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": value}},
                                 f"turn point-in-time recovery {_on(value)} for table {object_id}"))
        if "ttl" in paths:
            calls.append(self._ttl_call(object_id, model["ttl"], live))
        if paths & {"billing_mode", "read_capacity", "write_capacity"}:
            heavy.append(self._billing_call(object_id, model, live))
        if paths & {"stream_enabled", "stream_view_type"}:
            heavy.append(self._stream_call(object_id, model, live))
        if "server_side_encryption" in paths:
            heavy.append(self._sse_call(object_id, model["server_side_encryption"]))
        if "global_secondary_index" in paths:
            raise NotRevertible("index changes are data operations; run terraform apply")
        if "table_class" in paths:
            cls = model["table_class"]
            heavy.append(_update(object_id, f"restore table class {cls} of {object_id}", TableClass=cls))
        if len(heavy) > 1:
            raise NotRevertible("DynamoDB applies one table update at a time; run terraform apply")
        return calls + heavy + self._tag_calls(object_id, changes, live)

    @staticmethod
    def _ttl_call(name: str, want: Mapping[str, Any], live: Mapping[str, Any]) -> ApiCall:
        have = live.get("ttl") or {}
        if want["enabled"] and have.get("enabled"):
            raise NotRevertible("switching TTL to another attribute needs two updates an hour apart")
        if want["enabled"]:
            spec = {"Enabled": True, "AttributeName": want["attribute_name"]}
            return ApiCall("dynamodb", "UpdateTimeToLive",
                           {"TableName": name, "TimeToLiveSpecification": spec},
                           f"turn TTL on ({want['attribute_name']}) for table {name}")
        attribute = live.get("_ttl_live_attribute") or have.get("attribute_name")
        spec = {"Enabled": False, "AttributeName": attribute}
        return ApiCall("dynamodb", "UpdateTimeToLive",
                       {"TableName": name, "TimeToLiveSpecification": spec}, f"turn TTL off for table {name}")

    @staticmethod
    def _billing_call(name: str, model: Mapping[str, Any], live: Mapping[str, Any]) -> ApiCall:
        if model["billing_mode"] == "PAY_PER_REQUEST":
            return _update(name, f"switch table {name} back to on-demand billing",
                           BillingMode="PAY_PER_REQUEST")
        if live.get("global_secondary_index") and live.get("billing_mode") != "PROVISIONED":
            raise NotRevertible("switching to provisioned needs capacity for every index")
        read, write = model.get("read_capacity"), model.get("write_capacity")
        if not read or not write:
            raise NotRevertible("the declared capacity is unknown")
        return _update(name, f"restore provisioned capacity {read}/{write} (read/write) of table {name}",
                       BillingMode="PROVISIONED",
                       ProvisionedThroughput={"ReadCapacityUnits": read, "WriteCapacityUnits": write})

    @staticmethod
    def _stream_call(name: str, model: Mapping[str, Any], live: Mapping[str, Any]) -> ApiCall:
        want = bool(model.get("stream_enabled"))
        if not want:
            return _update(name, f"turn the stream of table {name} off",
                           StreamSpecification={"StreamEnabled": False})
        if live.get("stream_enabled"):
            raise NotRevertible("changing a stream's view type means disabling it first (two updates)")
        view = model.get("stream_view_type")
        if not view:
            raise NotRevertible("the declared stream view type is unknown")
        return _update(name, f"turn the stream of table {name} on ({view})",
                       StreamSpecification={"StreamEnabled": True, "StreamViewType": view})

    @staticmethod
    def _sse_call(name: str, want: Mapping[str, Any]) -> ApiCall:
        if not want.get("enabled"):
            return _update(name, f"return table {name} to the AWS-owned encryption key",
                           SSESpecification={"Enabled": False})
        spec: dict[str, Any] = {"Enabled": True, "SSEType": "KMS"}
        if want.get("kms_key_arn"):
            spec["KMSMasterKeyId"] = want["kms_key_arn"]
        return _update(name, f"restore KMS encryption of table {name}", SSESpecification=spec)

    @staticmethod
    def _tag_calls(name: str, changes: list[Change], live: Mapping[str, Any]) -> list[ApiCall]:
        to_set, to_remove = tag_edits(changes)
        arn = live.get("_arn")
        calls = []
        if to_set:
            tags = [{"Key": k, "Value": v} for k, v in sorted(to_set.items())]
            calls.append(ApiCall("dynamodb", "TagResource", {"ResourceArn": arn, "Tags": tags},
                                 f"set tag(s) {', '.join(sorted(to_set))} on table {name}"))
        if to_remove:
            calls.append(ApiCall("dynamodb", "UntagResource", {"ResourceArn": arn, "TagKeys": to_remove},
                                 f"remove tag(s) {', '.join(to_remove)} from table {name}"))
        return calls


def _key(index: Mapping[str, Any], key_type: str) -> str | None:
    keys = index.get("KeySchema") or []
    return next((k["AttributeName"] for k in keys if k.get("KeyType") == key_type), None)


def _index(name: Any, hash_key: Any, range_key: Any, projection: Any) -> str:
    return atom({"name": name, "hash_key": hash_key, "range_key": range_key or None,
                 "projection_type": projection})


def _update(name: str, summary: str, **params: Any) -> ApiCall:
    return ApiCall("dynamodb", "UpdateTable", {"TableName": name, **params}, summary)


def _on(value: Any) -> str:
    return "on" if value else "off"
