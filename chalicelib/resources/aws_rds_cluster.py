"""aws_rds_cluster: an Aurora / Multi-AZ DB cluster, keyed by ``cluster_identifier``.

Like DB instances, live values are effective values (``PendingModifiedValues`` first) and a
cluster in ``deleting`` status is gone. ``engine_version`` may be declared as a prefix ("8.0");
a live version that starts with it is in sync, and an upgrade is reported but never reverted:
AWS cannot downgrade an engine. Reboots and failovers change no declared attribute.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.drift.diff import RawChange
from chalicelib.drift.normalize import tags_from_state
from chalicelib.models import ApiCall, Change, Severity
from chalicelib.resources.aws_db_instance import (
    GONE_STATUSES,
    RDS,
    RDS_RULES,
    active_groups,
    mark_pending,
    rds_identifier,
    rds_tag_calls,
    rds_tag_events,
)
from chalicelib.resources.base import Declared, EventKind, EventSpec, Gone, LiveContext, ManagedResource
from chalicelib.resources.data_common import (
    DataPlugin,
    NotRevertible,
    as_bool,
    as_int,
    live_tags,
    mark_sensitive_roots,
)
from chalicelib.resources.registry import register

KIND = "rds:db-cluster"
_ID = "requestParameters.dBClusterIdentifier"

_MODIFY = {
    "deletion_protection": "DeletionProtection",
    "backup_retention_period": "BackupRetentionPeriod",
    "iam_database_authentication_enabled": "EnableIAMDatabaseAuthentication",
    "copy_tags_to_snapshot": "CopyTagsToSnapshot",
    "vpc_security_group_ids": "VpcSecurityGroupIds",
    "db_cluster_parameter_group_name": "DBClusterParameterGroupName",
    "preferred_backup_window": "PreferredBackupWindow",
}
_PENDING = {"BackupRetentionPeriod": "backup_retention_period",
            "IAMDatabaseAuthenticationEnabled": "iam_database_authentication_enabled",
            "EngineVersion": "engine_version"}


@register
class AwsRdsCluster(DataPlugin):
    type = "aws_rds_cluster"
    computed = frozenset({"preferred_backup_window", "db_cluster_parameter_group_name", "engine_version"})
    service = "rds"
    object_kind = KIND
    id_attribute = "cluster_identifier"
    events = (
        EventSpec(RDS, "ModifyDBCluster", _ID, transform=rds_identifier),
        EventSpec(RDS, "DeleteDBCluster", _ID, EventKind.DELETE, transform=rds_identifier),
        EventSpec(RDS, "CreateDBCluster", f"responseElements.dBClusterIdentifier || {_ID}",
                        EventKind.CREATE, transform=rds_identifier),
        EventSpec(RDS, "RebootDBCluster", _ID, EventKind.NOOP, transform=rds_identifier,
                        note="a reboot changes no declared attribute"),
        EventSpec(RDS, "FailoverDBCluster", _ID, EventKind.NOOP, transform=rds_identifier,
                        note="a failover changes no declared attribute"),
        *rds_tag_events("cluster"),
    )
    compared = {
        "deletion_protection": Severity.MEDIUM,
        "backup_retention_period": Severity.MEDIUM,
        "iam_database_authentication_enabled": Severity.MEDIUM,
        "copy_tags_to_snapshot": Severity.LOW,
        "vpc_security_group_ids": Severity.HIGH,
        "db_cluster_parameter_group_name": Severity.MEDIUM,
        "preferred_backup_window": Severity.LOW,
        "engine_version": Severity.MEDIUM,
        "tags": Severity.LOW,
    }
    rules = RDS_RULES
    read_permissions = ("rds:DescribeDBClusters",)
    revert_permissions = ("rds:ModifyDBCluster", "rds:AddTagsToResource", "rds:RemoveTagsFromResource")
    gone_codes = frozenset({"DBClusterNotFoundFault", "DBClusterNotFound"})
    deleted_severity = Severity.CRITICAL

    def object_id(self, attrs: Mapping[str, Any]) -> str | None:
        value = attrs.get("cluster_identifier") or attrs.get("id")
        return str(value).lower() if value else None

    def declare(self, resource: ManagedResource, declared: Declared) -> None:
        attrs, model = resource.attributes, declared.model
        for key in ("deletion_protection", "iam_database_authentication_enabled", "copy_tags_to_snapshot"):
            if as_bool(attrs.get(key)) is not None:
                model[key] = as_bool(attrs.get(key))
        if as_int(attrs.get("backup_retention_period")) is not None:
            model["backup_retention_period"] = as_int(attrs.get("backup_retention_period"))
        for key in ("db_cluster_parameter_group_name", "preferred_backup_window", "engine_version"):
            if attrs.get(key):
                model[key] = str(attrs[key])
        if attrs.get("vpc_security_group_ids"):
            model["vpc_security_group_ids"] = sorted(attrs["vpc_security_group_ids"])
        model["tags"] = tags_from_state(attrs)
        mark_sensitive_roots(resource, declared)

    def read_live(self, ctx: LiveContext, object_id: str) -> dict[str, Any] | None:
        try:
            found = self.call(ctx, "describe_db_clusters", DBClusterIdentifier=object_id)["DBClusters"]
        except Gone:
            return None
        if not found or str(found[0].get("Status", "")).lower() in GONE_STATUSES:
            return None
        return self.live_model(found[0])

    @staticmethod
    def live_model(cluster: Mapping[str, Any]) -> dict[str, Any]:
        pending = cluster.get("PendingModifiedValues") or {}

        def eff(key: str) -> Any:
            return pending[key] if pending.get(key) is not None else cluster.get(key)

        return {
            "deletion_protection": as_bool(cluster.get("DeletionProtection")),
            "backup_retention_period": as_int(eff("BackupRetentionPeriod")),
            "iam_database_authentication_enabled": as_bool(eff("IAMDatabaseAuthenticationEnabled")),
            "copy_tags_to_snapshot": as_bool(cluster.get("CopyTagsToSnapshot")),
            "vpc_security_group_ids": active_groups(cluster.get("VpcSecurityGroups")),
            "db_cluster_parameter_group_name": cluster.get("DBClusterParameterGroup"),
            "preferred_backup_window": cluster.get("PreferredBackupWindow"),
            "engine_version": eff("EngineVersion"),
            "tags": live_tags(cluster.get("TagList")),
            "_arn": cluster.get("DBClusterArn"),
            "_pending": sorted(_PENDING[k] for k, v in pending.items() if k in _PENDING and v is not None),
        }

    def ignore(self, raw: RawChange, declared: Declared, live: Mapping[str, Any]) -> bool:
        if raw.attribute == "engine_version" and isinstance(raw.live, str) and isinstance(raw.declared, str):
            return raw.live.startswith(raw.declared + ".") or raw.live == raw.declared
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
            if ch.path == "engine_version":
                raise NotRevertible("AWS cannot downgrade a cluster's engine version")
            if ch.path not in _MODIFY or ch.declared is None:
                raise NotRevertible(f"{ch.path} has no declared value to restore")
            params[_MODIFY[ch.path]] = ch.declared
        calls: list[ApiCall] = []
        if params:
            fields = ", ".join(c.path for c in changes if c.path in _MODIFY)
            calls.append(ApiCall("rds", "ModifyDBCluster",
                                 {"DBClusterIdentifier": object_id, **params, "ApplyImmediately": True},
                                 f"restore {fields} on DB cluster {object_id} (immediately)"))
        calls += rds_tag_calls(live.get("_arn"), changes, f"DB cluster {object_id}")
        return calls
