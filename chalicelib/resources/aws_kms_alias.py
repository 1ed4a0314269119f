"""aws_kms_alias: which key an alias points to.

Applications that encrypt "with ``alias/app``" follow the alias, so an alias moved to another key
(``UpdateAlias``) silently changes which key protects new data: HIGH. Aliases are indexed by name
(``alias/...``, the provider's id); alias ARNs in records normalize to the name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.drift.diff import RawChange
from chalicelib.models import ApiCall, Change, Severity
from chalicelib.resources.aws_kms_key import KMS, key_id
from chalicelib.resources.base import (
    Declared,
    EventKind,
    EventSpec,
    Gone,
    LiveContext,
    ManagedResource,
    ResourcePlugin,
)
from chalicelib.resources.registry import register

KIND = "kms:alias"
_ALIAS = "requestParameters.aliasName"


def alias_name(value: str) -> str:
    """``arn:aws:kms:<region>:<account>:alias/name`` → ``alias/name``."""
    if value.startswith("arn:") and ":alias/" in value:
        return "alias/" + value.split(":alias/", 1)[1]
    return value


class KmsAliasSpec(EventSpec):
    """An ``EventSpec`` whose ids are alias names or ARNs, normalized to names (the index key)."""

    def extract(self, record: Mapping[str, Any]) -> list[str]:
        out: list[str] = []
        for value in super().extract(record):
            name = alias_name(value)
            if name not in out:
                out.append(name)
        return out


@register
class AwsKmsAlias(ResourcePlugin):
    type = "aws_kms_alias"
    service = "kms"
    object_kind = KIND
    events = (
        KmsAliasSpec(KMS, "UpdateAlias", _ALIAS),
        KmsAliasSpec(KMS, "DeleteAlias", _ALIAS, EventKind.DELETE),
        KmsAliasSpec(KMS, "CreateAlias", _ALIAS, EventKind.CREATE),
    )
    compared = {"target_key_id": Severity.HIGH}
    read_permissions = ("kms:ListAliases",)
    revert_permissions = ("kms:UpdateAlias",)
    gone_codes = frozenset({"NotFoundException"})

    def object_id(self, attrs: Mapping[str, Any]) -> str | None:
        value = attrs.get("name") or attrs.get("id") or attrs.get("arn")
        return alias_name(str(value)) if value else None

    def declare(self, resource: ManagedResource, declared: Declared) -> None:
        target = resource.attributes.get("target_key_id") or resource.attributes.get("target_key_arn")
        if target:
            declared.model["target_key_id"] = key_id(str(target))

    def read_live(self, ctx: LiveContext, object_id: str) -> dict[str, Any] | None:
        params: dict[str, Any] = {}
        try:
            while True:
                page = self.call(ctx, "list_aliases", **params)
                for alias in page.get("Aliases") or []:
                    if alias.get("AliasName") == object_id:
                        target = alias.get("TargetKeyId")
                        return {"target_key_id": key_id(str(target)) if target else None}
                if not page.get("Truncated") or not page.get("NextMarker"):
                    return None
                params = {"Marker": page["NextMarker"]}
        except Gone:
            return None

    def severity(self, change: RawChange) -> tuple[Severity, str]:
        return Severity.HIGH, "alias-retargeted"

    def plan_revert(
        self, object_id: str, changes: list[Change], declared: Declared, live: Mapping[str, Any]
    ) -> tuple[ApiCall, ...]:
        target = declared.model.get("target_key_id")
        if not target or not any(c.path == "target_key_id" for c in changes):
            return ()
        return (ApiCall("kms", "UpdateAlias", {"AliasName": object_id, "TargetKeyId": target},
                        f"point {object_id} back at key {target}"),)
