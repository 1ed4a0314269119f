"""aws_iam_user_group_membership: the groups one user belongs to (non-exclusive in the provider),
contributing to the user's declared ``groups``. See ``aws_iam_user`` for when extra groups count."""

from __future__ import annotations

from chalicelib.models import Severity
from chalicelib.resources.aws_iam_user import KIND, MEMBERSHIP_EVENTS_BY_USER
from chalicelib.resources.base import Declared, ManagedResource, ResourcePlugin
from chalicelib.resources.registry import register


@register
class AwsIamUserGroupMembership(ResourcePlugin):
    type = "aws_iam_user_group_membership"
    service = "iam"
    object_kind = KIND
    owner = False
    id_attribute = "user"
    global_service = True
    events = MEMBERSHIP_EVENTS_BY_USER
    compared = {"groups": Severity.HIGH}
    read_permissions = ("iam:ListGroupsForUser",)

    def declare(self, resource: ManagedResource, declared: Declared) -> None:
        groups = frozenset(str(g) for g in resource.attributes.get("groups") or [] if g)
        declared.model["groups"] = frozenset(declared.model.get("groups", frozenset())) | groups
