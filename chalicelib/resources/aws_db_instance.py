"""aws_db_instance: an RDS DB instance, keyed by its ``identifier``.

Why ``identifier`` and not ``id``: AWS provider v5 made ``id`` the DbiResourceId (``db-ABC...``),
while every CloudTrail call names the instance by identifier. RDS stores identifiers in lower case,
so event ids are lower-cased too.

Live values are *effective* values: a console change applied "during the next maintenance window"
sits in ``PendingModifiedValues`` and is drift already, even though ``DBInstanceClass`` still
shows the old value. Storage autoscaling (``max_allocated_storage``) grows ``allocated_storage``
by design: growth within the limit is not drift (Terraform ignores it too), and AWS can never
shrink storage, so storage growth is reported but never reverted. ``RebootDBInstance`` and
``StartDBInstance`` change no declared attribute and are skipped with that reason; an instance
in ``deleting`` status is already gone for drift purposes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.drift.diff import RawChange
from chalicelib.drift.normalize import tags_from_state
from chalicelib.models import ApiCall, Change, Severity
from chalicelib.resources.base import Declared, EventKind, EventSpec, Gone, LiveContext, ManagedResource
from chalicelib.resources.data_common import (
    DataPlugin,
    NotRevertible,
    arn_parts,
    as_bool,
    as_int,
    live_tags,
    mark_sensitive_roots,
    tag_edits,
)
from chalicelib.resources.registry import register

KIND = "rds:db-instance"
RDS = "rds.amazonaws.com"
GONE_STATUSES = frozenset({"deleting", "deleted"})


def rds_identifier(value: str, record: Mapping[str, Any]) -> str | None:
    """RDS identifiers are case-insensitive and stored lower-case; an ARN becomes its name."""
    parts = arn_parts(value)
    if parts:
        kind, _, name = parts[5].partition(":")
        return name.lower() if kind in ("db", "cluster", "pg") and name else None
    return value.lower()


def rds_arn_of(kind: str) -> Any:
    """A transform keeping only RDS ARNs of one resource kind (``db``, ``cluster``, ``pg``)."""

    def transform(value: str, record: Mapping[str, Any]) -> str | None:
        parts = arn_parts(value)
        if not parts or parts[2] != "rds":
            return None
        res_kind, _, name = parts[5].partition(":")
        return name.lower() if res_kind == kind and name else None

    return transform


def rds_tag_events(kind: str) -> tuple[EventSpec, ...]:
    """RDS tags one ARN per call; each plugin claims the ARNs of its own kind."""
    return tuple(EventSpec(RDS, name, "requestParameters.resourceName", id_prefix="arn:",
                                 transform=rds_arn_of(kind))
                 for name in ("AddTagsToResource", "RemoveTagsFromResource"))


def rds_tag_calls(arn: str | None, changes: list[Change], label: str) -> list[ApiCall]:
    to_set, to_remove = tag_edits(changes)
    if (to_set or to_remove) and not arn:
        raise NotRevertible("the live ARN is unknown, so tags cannot be restored")
    calls: list[ApiCall] = []
    if to_set:
        tags = [{"Key": k, "Value": v} for k, v in sorted(to_set.items())]
        calls.append(ApiCall("rds", "AddTagsToResource", {"ResourceName": arn, "Tags": tags},
                             f"set tag(s) {', '.join(sorted(to_set))} on {label}"))
    if to_remove:
        calls.append(ApiCall("rds", "RemoveTagsFromResource", {"ResourceName": arn, "TagKeys": to_remove},
                             f"remove tag(s) {', '.join(to_remove)} from {label}"))
    return calls


def active_groups(groups: Any) -> list[str]:
    """VPC security group ids in effect (a group being removed no longer counts)."""
    return sorted(g["VpcSecurityGroupId"] for g in groups or [] if g.get("Status") != "removing")


def mark_pending(changes: list[Change], live: Mapping[str, Any]) -> list[Change]:
    """Say so when the live value is a modification waiting for the maintenance window."""
    pending = set(live.get("_pending") or ())
    return [Change(c.path, c.declared, c.live, c.severity, c.rule + " (pending-modification)", c.sensitive)
            if c.path in pending else c for c in changes]


def _public(ch: RawChange) -> tuple[Severity, str] | None:
    return (Severity.CRITICAL, "rds-made-public") if ch.live is True else None


def _deletion_protection(ch: RawChange) -> tuple[Severity, str] | None:
    return (Severity.CRITICAL, "rds-deletion-protection-off") if ch.live is False else None


def _backups(ch: RawChange) -> tuple[Severity, str] | None:
    return (Severity.CRITICAL, "rds-backups-off") if ch.live == 0 else None


RDS_RULES = {"publicly_accessible": _public, "deletion_protection": _deletion_protection,
             "backup_retention_period": _backups}

# Terraform attribute → ModifyDBInstance parameter.
_MODIFY = {
    "publicly_accessible": "PubliclyAccessible",
    "deletion_protection": "DeletionProtection",
    "backup_retention_period": "BackupRetentionPeriod",
    "instance_class": "DBInstanceClass",
    "multi_az": "MultiAZ",
    "iam_database_authentication_enabled": "EnableIAMDatabaseAuthentication",
    "allocated_storage": "AllocatedStorage",
    "storage_type": "StorageType",
    "parameter_group_name": "DBParameterGroupName",
    "vpc_security_group_ids": "VpcSecurityGroupIds",
    "auto_minor_version_upgrade": "AutoMinorVersionUpgrade",
    "ca_cert_identifier": "CACertificateIdentifier",
    "copy_tags_to_snapshot": "CopyTagsToSnapshot",
    "performance_insights_enabled": "EnablePerformanceInsights",
}
# Changes that must not wait for a maintenance window.
_URGENT = {"publicly_accessible", "deletion_protection", "backup_retention_period",
           "iam_database_authentication_enabled", "vpc_security_group_ids", "ca_cert_identifier"}
# PendingModifiedValues key → Terraform attribute.
_PENDING = {"DBInstanceClass": "instance_class", "AllocatedStorage": "allocated_storage",
            "BackupRetentionPeriod": "backup_retention_period", "MultiAZ": "multi_az",
            "StorageType": "storage_type", "CACertificateIdentifier": "ca_cert_identifier",
            "IAMDatabaseAuthenticationEnabled": "iam_database_authentication_enabled"}
_BOOLS = ("publicly_accessible", "deletion_protection", "multi_az", "iam_database_authentication_enabled",
          "auto_minor_version_upgrade", "copy_tags_to_snapshot", "performance_insights_enabled")
_INTS = ("backup_retention_period", "allocated_storage")
_OPTIONAL_STRINGS = ("instance_class", "storage_type", "parameter_group_name", "ca_cert_identifier")


@register
class AwsDbInstance(DataPlugin):
    type = "aws_db_instance"
    computed = frozenset({"parameter_group_name", "ca_cert_identifier", "storage_type", "multi_az",
                          "allocated_storage"})
    service = "rds"
    object_kind = KIND
    id_attribute = "identifier"
    _ID = "requestParameters.dBInstanceIdentifier"
    _NEW = f"responseElements.dBInstanceIdentifier || {_ID}"
    events = (
        EventSpec(RDS, "ModifyDBInstance", _ID, transform=rds_identifier),
        EventSpec(RDS, "RebootDBInstance", _ID, EventKind.NOOP, transform=rds_identifier,
                        note="a reboot changes no declared attribute"),
        EventSpec(RDS, "StartDBInstance", _ID, EventKind.NOOP, transform=rds_identifier,
                        note="starting a stopped instance changes no declared attribute"),
        EventSpec(RDS, "DeleteDBInstance", _ID, EventKind.DELETE, transform=rds_identifier),
        EventSpec(RDS, "CreateDBInstance", _NEW, EventKind.CREATE, transform=rds_identifier),
        EventSpec(RDS, "CreateDBInstanceReadReplica", _NEW, EventKind.CREATE, transform=rds_identifier),
        EventSpec(RDS, "RestoreDBInstanceFromDBSnapshot", _NEW, EventKind.CREATE,
                        transform=rds_identifier),
        *rds_tag_events("db"),
    )
    compared = {
        "publicly_accessible": Severity.MEDIUM,
        "deletion_protection": Severity.MEDIUM,
        "backup_retention_period": Severity.MEDIUM,
        "instance_class": Severity.MEDIUM,
        "multi_az": Severity.MEDIUM,
        "iam_database_authentication_enabled": Severity.MEDIUM,
        "allocated_storage": Severity.MEDIUM,
        "storage_type": Severity.MEDIUM,
        "parameter_group_name": Severity.MEDIUM,
        "vpc_security_group_ids": Severity.HIGH,
        "auto_minor_version_upgrade": Severity.LOW,
        "ca_cert_identifier": Severity.MEDIUM,
        "copy_tags_to_snapshot": Severity.LOW,
        "performance_insights_enabled": Severity.LOW,
        "tags": Severity.LOW,
    }
    rules = RDS_RULES
    read_permissions = ("rds:DescribeDBInstances",)
    revert_permissions = ("rds:ModifyDBInstance", "rds:AddTagsToResource", "rds:RemoveTagsFromResource")
    gone_codes = frozenset({"DBInstanceNotFound", "DBInstanceNotFoundFault"})
    deleted_severity = Severity.CRITICAL

    def object_id(self, attrs: Mapping[str, Any]) -> str | None:
        value = attrs.get("identifier") or attrs.get("id")
        return str(value).lower() if value else None

    def declare(self, resource: ManagedResource, declared: Declared) -> None:
        attrs, model = resource.attributes, declared.model
        for key in _BOOLS:
            if as_bool(attrs.get(key)) is not None:
                model[key] = as_bool(attrs.get(key))
        for key in _INTS:
            if as_int(attrs.get(key)) is not None:
                model[key] = as_int(attrs.get(key))
        for key in _OPTIONAL_STRINGS:  # optional+computed: "" means "whatever AWS chose"
            if attrs.get(key):
                model[key] = str(attrs[key])
        if attrs.get("vpc_security_group_ids"):
            model["vpc_security_group_ids"] = sorted(attrs["vpc_security_group_ids"])
        model["tags"] = tags_from_state(attrs)
        model["_max_allocated_storage"] = as_int(attrs.get("max_allocated_storage")) or 0
        model["_apply_immediately"] = bool(as_bool(attrs.get("apply_immediately")))
        mark_sensitive_roots(resource, declared)

    def read_live(self, ctx: LiveContext, object_id: str) -> dict[str, Any] | None:
        try:
            found = self.call(ctx, "describe_db_instances", DBInstanceIdentifier=object_id)["DBInstances"]
        except Gone:
            return None
        if not found or str(found[0].get("DBInstanceStatus", "")).lower() in GONE_STATUSES:
            return None
        return self.live_model(found[0])

    def read_live_many(self, ctx: LiveContext, object_ids: list[str]) -> dict[str, dict[str, Any] | None]:
        """One paginated DescribeDBInstances per 100 identifiers (a db-instance-id filter tolerates
        missing ones)."""
        out: dict[str, dict[str, Any] | None] = dict.fromkeys(object_ids)
        for start in range(0, len(object_ids), 100):
            chunk = object_ids[start:start + 100]
            marker: str | None = None
            while True:
                kwargs: dict[str, Any] = {"Filters": [{"Name": "db-instance-id", "Values": chunk}],
                                          "MaxRecords": 100}
                if marker:
                    kwargs["Marker"] = marker
                resp = self.call(ctx, "describe_db_instances", **kwargs)
                for inst in resp.get("DBInstances", []):
                    oid = str(inst.get("DBInstanceIdentifier", "")).lower()
                    if oid in out and str(inst.get("DBInstanceStatus", "")).lower() not in GONE_STATUSES:
                        out[oid] = self.live_model(inst)
                marker = resp.get("Marker")
                if not marker:
                    break
        return out

    @staticmethod
    def live_model(inst: Mapping[str, Any]) -> dict[str, Any]:
        pending = inst.get("PendingModifiedValues") or {}

        def eff(key: str) -> Any:
            return pending[key] if pending.get(key) is not None else inst.get(key)

        groups = inst.get("DBParameterGroups") or []
        return {
            "publicly_accessible": as_bool(inst.get("PubliclyAccessible")),
            "deletion_protection": as_bool(inst.get("DeletionProtection")),
            "backup_retention_period": as_int(eff("BackupRetentionPeriod")),
            "instance_class": eff("DBInstanceClass"),
            "multi_az": as_bool(eff("MultiAZ")),
            "iam_database_authentication_enabled": as_bool(eff("IAMDatabaseAuthenticationEnabled")),
            "allocated_storage": as_int(eff("AllocatedStorage")),
            "storage_type": eff("StorageType"),
            "parameter_group_name": groups[0].get("DBParameterGroupName") if groups else None,
            "vpc_security_group_ids": active_groups(inst.get("VpcSecurityGroups")),
            "auto_minor_version_upgrade": as_bool(inst.get("AutoMinorVersionUpgrade")),
            "ca_cert_identifier": eff("CACertificateIdentifier"),
            "copy_tags_to_snapshot": as_bool(inst.get("CopyTagsToSnapshot")),
            "performance_insights_enabled": bool(inst.get("PerformanceInsightsEnabled")),
            "tags": live_tags(inst.get("TagList")),
            "_arn": inst.get("DBInstanceArn"),
            "_pending": sorted(_PENDING[k] for k, v in pending.items() if k in _PENDING and v is not None),
        }

    def ignore(self, raw: RawChange, declared: Declared, live: Mapping[str, Any]) -> bool:
        if raw.attribute == "allocated_storage":
            limit = declared.model.get("_max_allocated_storage") or 0
            grown = isinstance(raw.live, int) and isinstance(raw.declared, int) and raw.live > raw.declared
            return bool(limit and grown and raw.live <= limit)  # storage autoscaling did it
        return False

    def diff(self, declared: Declared, live: Mapping[str, Any]) -> list[Change]:
        return mark_pending(super().diff(declared, live), live)

    def revert_calls(
        self, object_id: str, changes: list[Change], declared: Declared, live: Mapping[str, Any]
    ) -> list[ApiCall]:
        params: dict[str, Any] = {}
        for ch in changes:
            if ch.path.startswith("tags."):
                continue
            if ch.path == "allocated_storage" and isinstance(ch.live, int) and ch.live > (ch.declared or 0):
                raise NotRevertible("AWS cannot shrink allocated storage")
            if ch.path not in _MODIFY or ch.declared is None:
                raise NotRevertible(f"{ch.path} has no declared value to restore")
            params[_MODIFY[ch.path]] = ch.declared
        calls: list[ApiCall] = []
        if params:
            urgent = bool(_URGENT & {c.path for c in changes})
            apply_now = urgent or bool(declared.model.get("_apply_immediately"))
            fields = ", ".join(c.path for c in changes if c.path in _MODIFY)
            when = "immediately" if apply_now else "in the next maintenance window"
            calls.append(ApiCall("rds", "ModifyDBInstance",
                                 {"DBInstanceIdentifier": object_id, **params, "ApplyImmediately": apply_now},
                                 f"restore {fields} on DB instance {object_id} ({when})"))
        calls += rds_tag_calls(live.get("_arn"), changes, f"DB instance {object_id}")
        return calls
