"""aws_sns_topic_subscription: one subscription, contributed to its topic's ``subscriptions``.

Keyed by protocol and endpoint (SNS's own notion of "the same subscription"), not by ARN: a
pending email subscription has no ARN yet. Compared per subscription: presence,
``raw_message_delivery``, ``filter_policy`` and ``redrive_policy`` (canonical JSON). When the state
marks ``endpoint`` sensitive (a webhook URL with a token), the subscription is shown by a digest
and its changes are masked. See ``aws_sns_topic`` for why hand-made subscriptions on a managed
topic are drift on the topic.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.models import Severity
from chalicelib.resources.aws_sns_topic import KIND, SUBSCRIPTION_EVENTS, subscription_attrs, subscription_key
from chalicelib.resources.base import Declared, ManagedResource, ResourcePlugin
from chalicelib.resources.data_common import mark_sensitive_roots
from chalicelib.resources.registry import register


@register
class AwsSnsTopicSubscription(ResourcePlugin):
    type = "aws_sns_topic_subscription"
    service = "sns"
    object_kind = KIND
    owner = False
    id_attribute = "topic_arn"
    events = SUBSCRIPTION_EVENTS
    compared = {"subscriptions": Severity.MEDIUM}
    read_permissions = ("sns:ListSubscriptionsByTopic", "sns:GetSubscriptionAttributes")

    def object_id(self, attrs: Mapping[str, Any]) -> str | None:
        value = attrs.get("topic_arn")
        return str(value) if value else None

    def declare(self, resource: ManagedResource, declared: Declared) -> None:
        attrs = resource.attributes
        key = subscription_key(attrs.get("protocol"), attrs.get("endpoint"))
        declared.model.setdefault("subscriptions", {})[key] = {
            "protocol": attrs.get("protocol"),
            "endpoint": attrs.get("endpoint"),
            "attrs": subscription_attrs(attrs.get("raw_message_delivery"), attrs.get("filter_policy"),
                                        attrs.get("redrive_policy")),
        }
        if any(p.split(".", 1)[0] == "endpoint" for p in resource.sensitive_paths):
            declared.model.setdefault("_sensitive_subscriptions", set()).add(key)
        mark_sensitive_roots(resource, declared)
