"""aws_iam_group_policy: one inline policy contributing to its group's declared ``inline_policy``."""

from __future__ import annotations

from chalicelib.models import Severity
from chalicelib.resources.aws_iam_group import KIND
from chalicelib.resources.base import Declared, ManagedResource, ResourcePlugin
from chalicelib.resources.iam_common import GROUP, INLINE, declare_inline
from chalicelib.resources.registry import register


@register
class AwsIamGroupPolicy(ResourcePlugin):
    type = "aws_iam_group_policy"
    service = "iam"
    object_kind = KIND
    owner = False
    id_attribute = "group"
    global_service = True
    events = GROUP.inline_events()
    compared = {INLINE: Severity.HIGH}
    read_permissions = ("iam:ListGroupPolicies", "iam:GetGroupPolicy")

    def declare(self, resource: ManagedResource, declared: Declared) -> None:
        a = resource.attributes
        name = a.get("name") or str(a.get("id") or "").partition(":")[2]
        declare_inline(declared, name, a.get("policy"))
