"""aws_iam_role: the owner of the IAM role object (id: the role name).

Compared: ``assume_role_policy`` (trust, HIGH; CRITICAL when it newly lets anyone assume the role),
``permissions_boundary`` (HIGH when removed), ``max_session_duration`` (MEDIUM), ``description``
(LOW), ``tags`` (LOW), and the role's policies: ``managed_policy_arns`` and ``inline_policy.<name>``
(an admin / ``"*"`` on ``"*"`` policy attached or inlined is CRITICAL, any other policy change HIGH).

Which resources declare the role's policies. The provider's ``managed_policy_arns`` and
``inline_policy`` on ``aws_iam_role`` are Optional+Computed: the state holds them whether or not the
configuration sets them, as read at the role's last refresh. That read can precede attachments made
in the same apply (real states show ``managed_policy_arns = []`` beside an attachment resource, and
``inline_policy = [{name = "", policy = ""}]`` placeholders) and can keep a policy Terraform
detached later. The provider documents the role attributes and the separate resources as mutually
exclusive ways to manage one role, so:

- when any ``aws_iam_role_policy_attachment`` manages the role, those resources alone declare its
  attachments and the role's ``managed_policy_arns`` is a refreshed snapshot, not a declaration;
  otherwise the role's ``managed_policy_arns`` declares them (exclusive mode, or "none");
- the same for ``aws_iam_role_policy`` and the role's ``inline_policy``.

Extra live attachments / inline policies are drift only when ``aws_iam_role`` itself is managed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.drift.normalize import policy_grants_public, tags_from_state
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
    ROLE,
    canonical_iam_policy,
    declare_attachment,
    declare_inline,
    diff_boundary,
    diff_policies,
    diff_scalar,
    diff_tags,
    live_tags,
    plan_boundary,
    plan_policies,
    plan_tags,
    read_policies,
    state_boundary,
)
from chalicelib.resources.registry import register

KIND = "iam:role"
_RN = ROLE.trail_key


@register
class AwsIamRole(ResourcePlugin):
    type = "aws_iam_role"
    service = "iam"
    object_kind = KIND
    global_service = True
    events = (
        *ROLE.policy_events(),
        EventSpec(IAM, "UpdateAssumeRolePolicy", _RN),
        EventSpec(IAM, "PutRolePermissionsBoundary", _RN),
        EventSpec(IAM, "DeleteRolePermissionsBoundary", _RN),
        EventSpec(IAM, "UpdateRole", _RN),
        EventSpec(IAM, "UpdateRoleDescription", _RN),
        EventSpec(IAM, "TagRole", _RN),
        EventSpec(IAM, "UntagRole", _RN),
        EventSpec(IAM, "CreateRole", _RN, EventKind.CREATE),
        EventSpec(IAM, "DeleteRole", _RN, EventKind.DELETE),
    )
    compared = {
        "assume_role_policy": Severity.HIGH,
        "permissions_boundary": Severity.HIGH,
        "max_session_duration": Severity.MEDIUM,
        "description": Severity.LOW,
        "tags": Severity.LOW,
        ARNS: Severity.HIGH,
        INLINE: Severity.HIGH,
    }
    read_permissions = ("iam:GetRole", *ROLE.policy_read_permissions)
    revert_permissions = (
        "iam:UpdateAssumeRolePolicy",
        "iam:UpdateRole",
        "iam:PutRolePermissionsBoundary",
        "iam:DeleteRolePermissionsBoundary",
        "iam:TagRole",
        "iam:UntagRole",
        *ROLE.policy_revert_permissions,
    )
    gone_codes = frozenset({"NoSuchEntity"})

    def declare(self, resource: ManagedResource, declared: Declared) -> None:
        a = resource.attributes
        declared.model.setdefault(ARNS, frozenset())
        declared.model.setdefault(INLINE, {})
        if "assume_role_policy" in a:
            declared.model["assume_role_policy"] = canonical_iam_policy(a.get("assume_role_policy"))
        if "permissions_boundary" in a:
            declared.model["permissions_boundary"] = state_boundary(a)
        if a.get("max_session_duration") is not None:
            declared.model["max_session_duration"] = int(a["max_session_duration"])
        if "description" in a:
            declared.model["description"] = a.get("description") or ""
        declared.model["tags"] = tags_from_state(a)
        types = {r.type for r in declared.resources}
        if "aws_iam_role_policy_attachment" not in types:
            for arn in a.get("managed_policy_arns") or []:
                declare_attachment(declared, arn)
        if "aws_iam_role_policy" not in types:
            for block in a.get("inline_policy") or []:
                declare_inline(declared, block.get("name"), block.get("policy"))

    def read_live(self, ctx: LiveContext, object_id: str) -> dict[str, Any] | None:
        try:
            role = self.call(ctx, "get_role", RoleName=object_id)["Role"]
            policies = read_policies(self, ctx, ROLE, object_id)
        except Gone:
            return None
        boundary = (role.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")
        return {
            "assume_role_policy": canonical_iam_policy(role.get("AssumeRolePolicyDocument")),
            "permissions_boundary": boundary or None,
            "max_session_duration": int(role.get("MaxSessionDuration") or 3600),
            "description": role.get("Description") or "",
            "tags": live_tags(role.get("Tags")),
            **policies,
        }

    def diff(self, declared: Declared, live: Mapping[str, Any]) -> list[Change]:
        managed = declared.owned_by(self.type)
        out = self._trust(declared, live)
        out += diff_boundary(declared, live)
        out += diff_scalar(declared, live, "max_session_duration", Severity.MEDIUM,
                           "max-session-duration-changed")
        out += diff_scalar(declared, live, "description", Severity.LOW, "description-changed")
        out += diff_policies(declared, live, managed)
        if managed:
            out += diff_tags(declared, live)
        return out

    @staticmethod
    def _trust(declared: Declared, live: Mapping[str, Any]) -> list[Change]:
        if "assume_role_policy" not in declared.model:
            return []
        want, have = declared.model["assume_role_policy"], live.get("assume_role_policy")
        if want == have:
            return []
        if policy_grants_public(have) and not policy_grants_public(want):
            return [Change("assume_role_policy", want, have, Severity.CRITICAL, "trust-policy-public")]
        return [Change("assume_role_policy", want, have, Severity.HIGH, "trust-policy-changed")]

    def plan_revert(
        self, object_id: str, changes: list[Change], declared: Declared, live: Mapping[str, Any]
    ) -> tuple[ApiCall, ...]:
        calls: list[ApiCall] = []
        by_path = {c.path: c for c in changes}
        if "assume_role_policy" in by_path:
            trust = by_path["assume_role_policy"].declared
            calls.append(ApiCall("iam", "UpdateAssumeRolePolicy",
                                 {"RoleName": object_id, "PolicyDocument": trust},
                                 f"restore the declared trust policy of role {object_id}"))
        update: dict[str, Any] = {}
        if "max_session_duration" in by_path:
            update["MaxSessionDuration"] = by_path["max_session_duration"].declared
        if "description" in by_path:
            update["Description"] = by_path["description"].declared
        if update:
            calls.append(ApiCall("iam", "UpdateRole", {"RoleName": object_id, **update},
                                 f"restore {', '.join(sorted(update))} of role {object_id}"))
        boundary = plan_boundary(ROLE, object_id, changes)
        policies = plan_policies(ROLE, object_id, changes)
        if boundary is None or policies is None:
            return ()
        calls += boundary + policies
        calls += plan_tags("Role", "RoleName", object_id, changes)
        return tuple(calls)
