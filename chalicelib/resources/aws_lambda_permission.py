"""aws_lambda_permission: one statement of a function's resource policy, keyed by ``statement_id``.

It contributes to the function object (``aws_lambda_function`` reads ``GetPolicy`` and compares).
A permission with a ``qualifier`` belongs to that alias/version's policy, a separate object
(``name:qualifier``). ``function_name`` may be a name or an ARN; both give the same id.
Statements are compared in this resource's vocabulary (principal, source_arn, ...), so an account
id and its ``:root`` ARN, or a condition in any key case, are equal.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.models import Severity
from chalicelib.resources.aws_lambda_function import (
    KIND,
    function_id,
    lambda_events,
    permission_from_state,
)
from chalicelib.resources.base import Declared, ManagedResource, ResourcePlugin
from chalicelib.resources.data_common import mark_sensitive_roots
from chalicelib.resources.registry import register


@register
class AwsLambdaPermission(ResourcePlugin):
    type = "aws_lambda_permission"
    service = "lambda"
    object_kind = KIND
    owner = False
    id_attribute = "function_name"
    events = lambda_events("AddPermission", "RemovePermission")
    compared = {"permissions": Severity.HIGH}
    read_permissions = ("lambda:GetPolicy",)

    def object_id(self, attrs: Mapping[str, Any]) -> str | None:
        name = attrs.get("function_name")
        return function_id(str(name), attrs.get("qualifier")) if name else None

    def declare(self, resource: ManagedResource, declared: Declared) -> None:
        attrs = resource.attributes
        sid = attrs.get("statement_id") or attrs.get("id")
        if sid:
            declared.model.setdefault("permissions", {})[str(sid)] = permission_from_state(attrs)
        mark_sensitive_roots(resource, declared)
