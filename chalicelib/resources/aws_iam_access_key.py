"""aws_iam_access_key: the owner of an IAM access key (id: the access key id).

Compared: ``status`` (the provider default ``Active`` made explicit). A declared-inactive key turned
back on is HIGH (a dormant credential is live again); a declared-active key turned off is MEDIUM (it
breaks whatever uses it). Revert: ``UpdateAccessKey`` back to the declared status. The secret, SES
password and PGP material are never read or compared.

A key created by hand (``CreateAccessKey`` whose new key id is in no state) is reported
``unmanaged`` by the pipeline, on a managed user or not. Deactivating it (``UpdateAccessKey
Status=Inactive``, reversible, unlike deleting it) is the containment we would offer, but unmanaged
findings carry no plan in the pipeline today, so the alert names the key and its user and a human
acts. Driftwarden never deletes a key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.models import ApiCall, Change, Severity
from chalicelib.resources.base import (
    Declared,
    EventKind,
    EventSpec,
    Gone,
    LiveContext,
    ManagedResource,
    ResourcePlugin,
)
from chalicelib.resources.iam_common import IAM
from chalicelib.resources.registry import register

KIND = "iam:access-key"


@register
class AwsIamAccessKey(ResourcePlugin):
    type = "aws_iam_access_key"
    service = "iam"
    object_kind = KIND
    global_service = True
    events = (
        EventSpec(IAM, "UpdateAccessKey", "requestParameters.accessKeyId"),
        EventSpec(IAM, "CreateAccessKey", "responseElements.accessKey.accessKeyId", EventKind.CREATE),
        EventSpec(IAM, "DeleteAccessKey", "requestParameters.accessKeyId", EventKind.DELETE),
    )
    compared = {"status": Severity.HIGH}
    read_permissions = ("iam:GetAccessKeyLastUsed", "iam:ListAccessKeys")
    revert_permissions = ("iam:UpdateAccessKey",)
    gone_codes = frozenset({"NoSuchEntity"})

    def declare(self, resource: ManagedResource, declared: Declared) -> None:
        declared.model["status"] = resource.attributes.get("status") or "Active"
        declared.model["user"] = resource.attributes.get("user")

    def read_live(self, ctx: LiveContext, object_id: str) -> dict[str, Any] | None:
        """CloudTrail and the state give the key id; ``GetAccessKeyLastUsed`` names its user."""
        try:
            user = self.call(ctx, "get_access_key_last_used", AccessKeyId=object_id).get("UserName")
            if not user:
                return None
            keys = self.call(ctx, "list_access_keys", UserName=user)["AccessKeyMetadata"]
        except Gone:
            return None
        for key in keys:
            if key["AccessKeyId"] == object_id:
                return {"status": key["Status"], "user": user}
        return None

    def diff(self, declared: Declared, live: Mapping[str, Any]) -> list[Change]:
        want, have = declared.model["status"], live.get("status")
        if want == have:
            return []
        if have == "Active":
            return [Change("status", want, have, Severity.HIGH, "access-key-reactivated")]
        return [Change("status", want, have, Severity.MEDIUM, "access-key-deactivated")]

    def plan_revert(
        self, object_id: str, changes: list[Change], declared: Declared, live: Mapping[str, Any]
    ) -> tuple[ApiCall, ...]:
        user = live.get("user") or declared.model.get("user")
        return tuple(
            ApiCall("iam", "UpdateAccessKey",
                    {"UserName": user, "AccessKeyId": object_id, "Status": ch.declared},
                    f"set access key {object_id} of user {user} back to {ch.declared}")
            for ch in changes if ch.path == "status"
        )
