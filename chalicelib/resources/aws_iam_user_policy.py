"""aws_iam_user_policy: one inline policy contributing to its user's declared ``inline_policy``."""

from __future__ import annotations

from chalicelib.models import Severity
from chalicelib.resources.aws_iam_user import KIND
from chalicelib.resources.base import Declared, ManagedResource, ResourcePlugin
from chalicelib.resources.iam_common import INLINE, USER, declare_inline
from chalicelib.resources.registry import register


@register
class AwsIamUserPolicy(ResourcePlugin):
    type = "aws_iam_user_policy"
    service = "iam"
    object_kind = KIND
    owner = False
    id_attribute = "user"
    global_service = True
    events = USER.inline_events()
    compared = {INLINE: Severity.HIGH}
    read_permissions = ("iam:ListUserPolicies", "iam:GetUserPolicy")

    def declare(self, resource: ManagedResource, declared: Declared) -> None:
        a = resource.attributes
        name = a.get("name") or str(a.get("id") or "").partition(":")[2]
        declare_inline(declared, name, a.get("policy"))
