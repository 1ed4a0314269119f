"""aws_ebs_encryption_by_default: the account's per-region "encrypt new EBS volumes" switch.

The key. The setting belongs to an (account, region) pair and the provider's id is the region name.
But ``Disable``/``EnableEbsEncryptionByDefault`` records carry no parameters at all, and the id path
only sees the record's parameters and response, not its region. So every state entry of this type is
indexed under one stable key, ``ebs-encryption-by-default``, and the region is resolved when judging:
the live read runs in the event's region (the pipeline's context) and the diff compares it with
the resource(s) declared for that region and account only (the provider's ``id``/region and the
state's account). A region no state declares therefore has nothing to compare and is never drift.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.models import ApiCall, Change, Severity
from chalicelib.resources.base import Declared, EventSpec, LiveContext, ManagedResource, ResourcePlugin
from chalicelib.resources.ec2_common import EC2, as_bool
from chalicelib.resources.registry import register

KIND = "ec2:ebs-encryption-by-default"
KEY = "ebs-encryption-by-default"
_CONSTANT = f"`\"{KEY}\"`"  # a JMESPath literal: these records name no resource


@register
class AwsEbsEncryptionByDefault(ResourcePlugin):
    type = "aws_ebs_encryption_by_default"
    service = "ec2"
    object_kind = KIND
    events = (
        EventSpec(EC2, "DisableEbsEncryptionByDefault", _CONSTANT),
        EventSpec(EC2, "EnableEbsEncryptionByDefault", _CONSTANT),
    )
    compared = {"enabled": Severity.HIGH}
    read_permissions = ("ec2:GetEbsEncryptionByDefault",)
    revert_permissions = ("ec2:EnableEbsEncryptionByDefault", "ec2:DisableEbsEncryptionByDefault")

    def object_id(self, attrs: Mapping[str, Any]) -> str | None:
        return KEY

    def declare(self, resource: ManagedResource, declared: Declared) -> None:
        a = resource.attributes
        region = str(a.get("region") or a.get("id") or resource.region or "")
        declared.model.setdefault("enabled_by_location", {})[(resource.account, region)] = as_bool(
            a.get("enabled"), default=True)

    def read_live(self, ctx: LiveContext, object_id: str) -> dict[str, Any] | None:
        answer = self.call(ctx, "get_ebs_encryption_by_default")
        return {"enabled": bool(answer.get("EbsEncryptionByDefault")), "_account": ctx.account,
                "_region": ctx.region}

    def declared_for(self, declared: Declared, live: Mapping[str, Any]) -> bool | None:
        """What the state says for the live read's region (and account, when both are known)."""
        region, account = live.get("_region"), live.get("_account")
        for (acct, reg), enabled in declared.model.get("enabled_by_location", {}).items():
            if reg == region and (acct is None or account is None or acct == account):
                return bool(enabled)
        return None

    def diff(self, declared: Declared, live: Mapping[str, Any]) -> list[Change]:
        want = self.declared_for(declared, live)
        have = live.get("enabled")
        if want is None or want == have:
            return []
        if want and not have:
            return [Change("enabled", True, False, Severity.HIGH, "ebs-encryption-by-default-disabled")]
        return [Change("enabled", False, True, Severity.LOW, "ebs-encryption-by-default-enabled")]

    def plan_revert(
        self, object_id: str, changes: list[Change], declared: Declared, live: Mapping[str, Any]
    ) -> tuple[ApiCall, ...]:
        region = live.get("_region")
        for ch in changes:
            if ch.path == "enabled" and ch.declared is True:
                return (ApiCall("ec2", "EnableEbsEncryptionByDefault", {},
                                f"turn EBS encryption by default back on in {region}"),)
            if ch.path == "enabled" and ch.declared is False:
                return (ApiCall("ec2", "DisableEbsEncryptionByDefault", {},
                                f"turn EBS encryption by default back off in {region}"),)
        return ()
