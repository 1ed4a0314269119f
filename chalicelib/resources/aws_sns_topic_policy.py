"""aws_sns_topic_policy: a topic's access policy, declared apart from the topic.

It contributes ``policy`` to the topic object (``aws_sns_topic`` reads and reverts), compared as
canonical JSON. SNS always has a policy (AWS writes a default one), so a managed topic's policy
is always compared.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.drift.normalize import canonical_policy
from chalicelib.models import Severity
from chalicelib.resources.aws_sns_topic import KIND, POLICY_EVENTS
from chalicelib.resources.base import Declared, ManagedResource, ResourcePlugin
from chalicelib.resources.data_common import mark_sensitive_roots
from chalicelib.resources.registry import register


@register
class AwsSnsTopicPolicy(ResourcePlugin):
    type = "aws_sns_topic_policy"
    service = "sns"
    object_kind = KIND
    owner = False
    id_attribute = "arn"
    events = POLICY_EVENTS
    compared = {"policy": Severity.HIGH}
    read_permissions = ("sns:GetTopicAttributes",)

    def object_id(self, attrs: Mapping[str, Any]) -> str | None:
        value = attrs.get("arn") or attrs.get("id")
        return str(value) if value else None

    def declare(self, resource: ManagedResource, declared: Declared) -> None:
        declared.model["policy"] = canonical_policy(resource.attributes.get("policy"))
        mark_sensitive_roots(resource, declared)
