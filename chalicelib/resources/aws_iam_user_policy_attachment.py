"""aws_iam_user_policy_attachment: one managed policy ARN contributing to its user's declared
``managed_policy_arns``."""

from __future__ import annotations

from chalicelib.models import Severity
from chalicelib.resources.aws_iam_user import KIND
from chalicelib.resources.base import Declared, ManagedResource, ResourcePlugin
from chalicelib.resources.iam_common import ARNS, USER, declare_attachment
from chalicelib.resources.registry import register


@register
class AwsIamUserPolicyAttachment(ResourcePlugin):
    type = "aws_iam_user_policy_attachment"
    service = "iam"
    object_kind = KIND
    owner = False
    id_attribute = "user"
    global_service = True
    events = USER.attachment_events()
    compared = {ARNS: Severity.HIGH}
    read_permissions = ("iam:ListAttachedUserPolicies",)

    def declare(self, resource: ManagedResource, declared: Declared) -> None:
        declare_attachment(declared, resource.attributes.get("policy_arn"))
