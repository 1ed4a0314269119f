"""aws_sqs_queue_policy: a queue's access policy, declared apart from the queue.

It contributes ``policy`` to the queue object (``aws_sqs_queue`` reads and reverts). The policy
is compared as canonical JSON, so key order, whitespace and single-vs-list values never count.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.drift.normalize import canonical_policy
from chalicelib.models import Severity
from chalicelib.resources.aws_sqs_queue import KIND, POLICY_EVENTS, canonical_queue_url
from chalicelib.resources.base import Declared, ManagedResource, ResourcePlugin
from chalicelib.resources.data_common import mark_sensitive_roots
from chalicelib.resources.registry import register


@register
class AwsSqsQueuePolicy(ResourcePlugin):
    type = "aws_sqs_queue_policy"
    service = "sqs"
    object_kind = KIND
    owner = False
    id_attribute = "queue_url"
    events = POLICY_EVENTS
    compared = {"policy": Severity.HIGH}
    read_permissions = ("sqs:GetQueueAttributes",)

    def object_id(self, attrs: Mapping[str, Any]) -> str | None:
        value = attrs.get("queue_url") or attrs.get("id")
        return canonical_queue_url(str(value)) if value else None

    def declare(self, resource: ManagedResource, declared: Declared) -> None:
        declared.model["policy"] = canonical_policy(resource.attributes.get("policy"))
        mark_sensitive_roots(resource, declared)
