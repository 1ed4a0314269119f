"""aws_iam_user: the owner of the IAM user object (id: the user name).

Compared: ``permissions_boundary`` (HIGH when removed), ``path`` (MEDIUM: it changes the user's ARN,
which trust and resource policies name), ``tags`` (LOW), the user's policies from
``aws_iam_user_policy_attachment`` / ``aws_iam_user_policy`` (``managed_policy_arns``,
``inline_policy.<name>``; admin CRITICAL, other HIGH; extra ones only when the user is managed), and
``groups`` from ``aws_iam_user_group_membership``.

Group membership. ``aws_iam_user_group_membership`` is non-exclusive in the provider and is keyed by
the user; ``aws_iam_group_membership`` is exclusive and keyed by the group (``aws_iam_group`` judges
it). A user object sees only its own membership resources, so a group missing from the user is
drift, and an extra group is drift only when the user itself is managed *and* its memberships are
declared user-side (the provider documents the two membership styles as conflicting). A user whose
groups no resource declares is not judged on groups: Terraform would not be either.

Access keys are their own object (``aws_iam_access_key``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.drift.normalize import tags_from_state
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
from chalicelib.resources.iam_common import (
    ARNS,
    IAM,
    INLINE,
    USER,
    diff_boundary,
    diff_policies,
    diff_scalar,
    diff_tags,
    live_tags,
    paged,
    plan_boundary,
    plan_policies,
    plan_tags,
    read_policies,
    state_boundary,
)
from chalicelib.resources.registry import register

KIND = "iam:user"
_UN = USER.trail_key
MEMBERSHIP_EVENTS_BY_USER = (EventSpec(IAM, "AddUserToGroup", _UN),
                             EventSpec(IAM, "RemoveUserFromGroup", _UN))


@register
class AwsIamUser(ResourcePlugin):
    type = "aws_iam_user"
    service = "iam"
    object_kind = KIND
    global_service = True
    events = (
        *USER.policy_events(),
        *MEMBERSHIP_EVENTS_BY_USER,
        EventSpec(IAM, "PutUserPermissionsBoundary", _UN),
        EventSpec(IAM, "DeleteUserPermissionsBoundary", _UN),
        EventSpec(IAM, "UpdateUser", _UN, note="a rename makes the managed name disappear: reported deleted"),
        EventSpec(IAM, "TagUser", _UN),
        EventSpec(IAM, "UntagUser", _UN),
        EventSpec(IAM, "CreateUser", _UN, EventKind.CREATE),
        EventSpec(IAM, "DeleteUser", _UN, EventKind.DELETE),
    )
    compared = {
        "permissions_boundary": Severity.HIGH,
        "path": Severity.MEDIUM,
        "tags": Severity.LOW,
        ARNS: Severity.HIGH,
        INLINE: Severity.HIGH,
        "groups": Severity.HIGH,
    }
    read_permissions = ("iam:GetUser", "iam:ListGroupsForUser", *USER.policy_read_permissions)
    revert_permissions = (
        "iam:UpdateUser",
        "iam:PutUserPermissionsBoundary",
        "iam:TagUser",
        "iam:UntagUser",
        "iam:AddUserToGroup",
        "iam:RemoveUserFromGroup",
        *USER.policy_revert_permissions,
    )
    gone_codes = frozenset({"NoSuchEntity"})

    def declare(self, resource: ManagedResource, declared: Declared) -> None:
        a = resource.attributes
        declared.model.setdefault(ARNS, frozenset())
        declared.model.setdefault(INLINE, {})
        if "permissions_boundary" in a:
            declared.model["permissions_boundary"] = state_boundary(a)
        declared.model["path"] = a.get("path") or "/"
        declared.model["tags"] = tags_from_state(a)

    def read_live(self, ctx: LiveContext, object_id: str) -> dict[str, Any] | None:
        try:
            user = self.call(ctx, "get_user", UserName=object_id)["User"]
            policies = read_policies(self, ctx, USER, object_id)
            groups = paged(self, ctx, "list_groups_for_user", "Groups", UserName=object_id)
        except Gone:
            return None
        boundary = (user.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")
        return {
            "permissions_boundary": boundary or None,
            "path": user.get("Path") or "/",
            "tags": live_tags(user.get("Tags")),
            "groups": frozenset(g["GroupName"] for g in groups),
            **policies,
        }

    def diff(self, declared: Declared, live: Mapping[str, Any]) -> list[Change]:
        managed = declared.owned_by(self.type)
        out = diff_boundary(declared, live)
        out += diff_scalar(declared, live, "path", Severity.MEDIUM, "path-changed")
        out += diff_policies(declared, live, managed)
        out += self._groups(declared, live, managed)
        if managed:
            out += diff_tags(declared, live)
        return out

    @staticmethod
    def _groups(declared: Declared, live: Mapping[str, Any], managed: bool) -> list[Change]:
        if "groups" not in declared.model:
            return []
        want, have = declared.model["groups"], live.get("groups", frozenset())
        out = [Change("groups", g, None, Severity.MEDIUM, "group-membership-removed")
               for g in sorted(want - have)]
        if managed:
            out += [Change("groups", None, g, Severity.HIGH, "user-added-to-group")
                    for g in sorted(have - want)]
        return out

    def plan_revert(
        self, object_id: str, changes: list[Change], declared: Declared, live: Mapping[str, Any]
    ) -> tuple[ApiCall, ...]:
        boundary = plan_boundary(USER, object_id, changes)
        policies = plan_policies(USER, object_id, changes)
        if boundary is None or policies is None:
            return ()
        calls = boundary + policies
        for ch in changes:
            if ch.path == "path":
                calls.append(ApiCall("iam", "UpdateUser", {"UserName": object_id, "NewPath": ch.declared},
                                     f"restore path {ch.declared} of user {object_id}"))
            elif ch.path == "groups" and ch.declared is None:
                calls.append(ApiCall("iam", "RemoveUserFromGroup",
                                     {"GroupName": ch.live, "UserName": object_id},
                                     f"remove user {object_id} from undeclared group {ch.live}"))
            elif ch.path == "groups":
                calls.append(ApiCall("iam", "AddUserToGroup",
                                     {"GroupName": ch.declared, "UserName": object_id},
                                     f"add user {object_id} back to group {ch.declared}"))
        calls += plan_tags("User", "UserName", object_id, changes)
        return tuple(calls)
