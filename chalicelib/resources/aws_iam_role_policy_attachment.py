"""aws_iam_role_policy_attachment: one managed policy ARN contributing to its role's declared
``managed_policy_arns``."""

from __future__ import annotations

from chalicelib.models import Severity
from chalicelib.resources.aws_iam_role import KIND
from chalicelib.resources.base import Declared, ManagedResource, ResourcePlugin
from chalicelib.resources.iam_common import ARNS, ROLE, declare_attachment
from chalicelib.resources.registry import register


@register
class AwsIamRolePolicyAttachment(ResourcePlugin):
    type = "aws_iam_role_policy_attachment"
    service = "iam"
    object_kind = KIND
    owner = False
    id_attribute = "role"
    global_service = True
    events = ROLE.attachment_events()
    compared = {ARNS: Severity.HIGH}
    read_permissions = ("iam:ListAttachedRolePolicies",)

    def declare(self, resource: ManagedResource, declared: Declared) -> None:
        declare_attachment(declared, resource.attributes.get("policy_arn"))
