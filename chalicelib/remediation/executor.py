"""The one executor of revert plans. What the approver saw is exactly what runs.

Guard rails: a plan may never delete or terminate a resource. Attribute-level removals that
restore a declared absence (a tag, an inline policy, a bucket policy) are the only ``Delete*``
operations allowed, and they are listed here by name.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from botocore import xform_name
from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.errors import RemediationError
from chalicelib.models import ApiCall
from chalicelib.resources.base import LiveContext

__all__ = ["ATTRIBUTE_DELETES", "assert_safe", "execute"]

log = logging.getLogger(__name__)

# Delete* operations that remove an attribute of a resource, never the resource itself.
ATTRIBUTE_DELETES = frozenset({
    "DeleteTags",
    "DeleteBucketPolicy",
    "DeleteBucketTagging",
    "DeleteBucketLifecycle",
    "DeleteBucketEncryption",
    "DeleteBucketOwnershipControls",
    "DeletePublicAccessBlock",
    "DeleteRolePolicy",
    "DeleteUserPolicy",
    "DeleteRolePermissionsBoundary",
    "DeleteUserPermissionsBoundary",
    "DeleteGroupPolicy",
    "DeleteNetworkAclEntry",  # one entry of an ACL, never the ACL
    "DeleteRoute",  # one route of a table, never the table
    "DeleteRetentionPolicy",
    "DeleteFunctionConcurrency",
    "DeleteResourcePolicy",
    "DeleteRepositoryPolicy",
    "DeleteLifecyclePolicy",
})
_FORBIDDEN_PREFIXES = ("Delete", "Terminate", "Destroy", "Purge", "ScheduleKeyDeletion")


def assert_safe(calls: Iterable[ApiCall]) -> None:
    for call in calls:
        if call.operation.startswith(_FORBIDDEN_PREFIXES) and call.operation not in ATTRIBUTE_DELETES:
            raise RemediationError(f"refusing {call.iam_action}: a revert never deletes a resource")


def execute(calls: tuple[ApiCall, ...], ctx: LiveContext) -> list[dict[str, Any]]:
    """Run every call in order; stop at the first failure and say which one failed."""
    assert_safe(calls)
    results = []
    for i, call in enumerate(calls):
        client = ctx.client(call.service)
        try:
            resp = getattr(client, xform_name(call.operation))(**call.params)
        except (ClientError, BotoCoreError) as exc:
            log.error("revert call failed", extra={"call": call.iam_action, "error": str(exc)})
            raise RemediationError(f"call {i + 1}/{len(calls)} {call.iam_action} failed: {exc}") from exc
        results.append({"operation": call.operation, "status": (resp or {}).get("ResponseMetadata", {}).get(
            "HTTPStatusCode")})
    return results
