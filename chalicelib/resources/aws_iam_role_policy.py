"""aws_iam_role_policy: one inline policy contributing to its role's declared ``inline_policy``."""

from __future__ import annotations

from typing import Any

from chalicelib.models import Severity
from chalicelib.resources.aws_iam_role import KIND
from chalicelib.resources.base import Declared, ManagedResource, ResourcePlugin
from chalicelib.resources.iam_common import INLINE, ROLE, declare_inline
from chalicelib.resources.registry import register


@register
class AwsIamRolePolicy(ResourcePlugin):
    type = "aws_iam_role_policy"
    service = "iam"
    object_kind = KIND
    owner = False
    id_attribute = "role"
    global_service = True
    events = ROLE.inline_events()
    compared = {INLINE: Severity.HIGH}
    read_permissions = ("iam:ListRolePolicies", "iam:GetRolePolicy")

    def declare(self, resource: ManagedResource, declared: Declared) -> None:
        a: dict[str, Any] = dict(resource.attributes)
        name = a.get("name") or str(a.get("id") or "").partition(":")[2]
        declare_inline(declared, name, a.get("policy"))
