"""aws_lambda_function_url: a function's URL config (auth type, CORS, invoke mode).

It contributes ``function_url`` to the function object (``name`` or ``name:qualifier``); the
function plugin reads ``GetFunctionUrlConfig`` and compares. ``authorization_type`` turned to
``NONE`` makes the function public to the internet: CRITICAL. A deleted URL is restored with
``CreateFunctionUrlConfig`` (AWS assigns a new URL, as a Terraform apply would).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.models import Severity
from chalicelib.resources.aws_lambda_function import KIND, cors_from_state, function_id, lambda_events
from chalicelib.resources.base import Declared, ManagedResource, ResourcePlugin
from chalicelib.resources.data_common import block, mark_sensitive_roots
from chalicelib.resources.registry import register


@register
class AwsLambdaFunctionUrl(ResourcePlugin):
    type = "aws_lambda_function_url"
    service = "lambda"
    object_kind = KIND
    owner = False
    id_attribute = "function_name"
    events = lambda_events("CreateFunctionUrlConfig", "UpdateFunctionUrlConfig", "DeleteFunctionUrlConfig")
    compared = {"function_url": Severity.HIGH}
    read_permissions = ("lambda:GetFunctionUrlConfig",)

    def object_id(self, attrs: Mapping[str, Any]) -> str | None:
        name = attrs.get("function_name")
        return function_id(str(name), attrs.get("qualifier")) if name else None

    def declare(self, resource: ManagedResource, declared: Declared) -> None:
        attrs = resource.attributes
        declared.model["function_url"] = {
            "authorization_type": str(attrs.get("authorization_type") or "AWS_IAM").upper(),
            "cors": cors_from_state(block(attrs, "cors")),
            "invoke_mode": str(attrs.get("invoke_mode") or "BUFFERED").upper(),
        }
        mark_sensitive_roots(resource, declared)
