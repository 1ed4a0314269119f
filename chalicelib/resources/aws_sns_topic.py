"""aws_sns_topic: an SNS topic (keyed by ARN), its policy and its subscriptions.

``aws_sns_topic_policy`` contributes the policy and ``aws_sns_topic_subscription`` contributes
subscriptions, keyed by protocol and endpoint (what SNS itself treats as one subscription).

Subscriptions — the decision: a subscription made by hand on a *managed* topic is drift on that
topic, not an unmanaged resource of its own. It is how data leaves a topic (an email or HTTPS
endpoint subscribed in the console), so it is named on the topic's finding and is HIGH when the
endpoint is outside AWS. It is never reverted: removing it means deleting a subscription, and a
revert never deletes. A declared subscription removed by hand is restored with ``Subscribe``
when its protocol confirms itself (SQS, Lambda, Firehose, application); an email/HTTP endpoint has
to confirm again, which Driftwarden cannot do, so no plan is offered. Subscriptions on topics no
state manages are not judged (their ``Subscribe`` events report the topic as unmanaged). A
sensitive endpoint (state ``sensitive_attributes``) is shown as a digest, never in clear.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from chalicelib.drift.diff import RawChange
from chalicelib.drift.normalize import canonical_policy, policy_grants_public, tags_from_state
from chalicelib.models import ApiCall, Change, Severity
from chalicelib.resources.base import Declared, EventKind, EventSpec, Gone, LiveContext, ManagedResource
from chalicelib.resources.data_common import (
    DataPlugin,
    NotRevertible,
    arn_parts,
    as_bool,
    canonical_json,
    live_tags,
    mark_sensitive_roots,
    tag_edits,
)
from chalicelib.resources.registry import register

KIND = "sns:topic"
SNS = "sns.amazonaws.com"
_TOPIC = "requestParameters.topicArn"
_SUBSCRIPTION = "requestParameters.subscriptionArn"
MAX_SUBSCRIPTION_READS = 100  # attribute reads per judgment; beyond it only presence is compared
SELF_CONFIRMING = frozenset({"sqs", "lambda", "firehose", "application"})
EXTERNAL = frozenset({"email", "email-json", "http", "https", "sms"})
SUBSCRIPTION_ATTRS = {"raw_message_delivery": "RawMessageDelivery", "filter_policy": "FilterPolicy",
                      "redrive_policy": "RedrivePolicy"}


def topic_arn(value: str, record: Mapping[str, Any]) -> str | None:
    """A topic ARN, or a subscription ARN (topic ARN + ``:<id>``) → the topic ARN."""
    parts = arn_parts(value)
    if not parts or parts[2] != "sns":
        return None
    return ":".join([*parts[:5], parts[5].split(":", 1)[0]])


def sns_events(*names: str, ids: str = _TOPIC, kind: EventKind = EventKind.MODIFY,
               **kw: Any) -> tuple[EventSpec, ...]:
    return tuple(EventSpec(SNS, n, ids, kind, transform=topic_arn, **kw) for n in names)


POLICY_EVENTS = sns_events("SetTopicAttributes", "AddPermission", "RemovePermission")
SUBSCRIPTION_EVENTS = (*sns_events("Subscribe", "ConfirmSubscription"),
                       *sns_events("Unsubscribe", "SetSubscriptionAttributes", ids=_SUBSCRIPTION))


def subscription_key(protocol: Any, endpoint: Any) -> str:
    return f"{protocol}:{endpoint}"


def subscription_attrs(raw_message_delivery: Any, filter_policy: Any, redrive_policy: Any) -> dict[str, Any]:
    return {"raw_message_delivery": bool(as_bool(raw_message_delivery)),
            "filter_policy": canonical_json(filter_policy), "redrive_policy": canonical_json(redrive_policy)}


def _label(key: str, sensitive: bool) -> str:
    if not sensitive:
        return key
    protocol = key.split(":", 1)[0]
    return f"{protocol}:#{hashlib.sha256(key.encode()).hexdigest()[:12]}"


def _policy(ch: RawChange) -> tuple[Severity, str] | None:
    if ch.live and policy_grants_public(ch.live):
        return Severity.CRITICAL, "sns-policy-grants-public"
    return None


def _kms(ch: RawChange) -> tuple[Severity, str] | None:
    return Severity.HIGH, "sns-encryption-changed"


_TOPIC_ATTRS = {"policy": "Policy", "kms_master_key_id": "KmsMasterKeyId",
                "delivery_policy": "DeliveryPolicy", "display_name": "DisplayName"}


@register
class AwsSnsTopic(DataPlugin):
    type = "aws_sns_topic"
    service = "sns"
    object_kind = KIND
    id_attribute = "arn"
    events = (
        *POLICY_EVENTS,
        *SUBSCRIPTION_EVENTS,
        *sns_events("TagResource", "UntagResource", ids="requestParameters.resourceArn", id_prefix="arn:"),
        *sns_events("DeleteTopic", kind=EventKind.DELETE),
        *sns_events("CreateTopic", ids="responseElements.topicArn", kind=EventKind.CREATE),
    )
    compared = {"policy": Severity.HIGH, "kms_master_key_id": Severity.HIGH, "delivery_policy": Severity.LOW,
                "display_name": Severity.LOW, "subscriptions": Severity.MEDIUM, "tags": Severity.LOW}
    rules = {"policy": _policy, "kms_master_key_id": _kms}
    read_permissions = ("sns:GetTopicAttributes", "sns:ListTagsForResource", "sns:ListSubscriptionsByTopic",
                        "sns:GetSubscriptionAttributes")
    revert_permissions = ("sns:SetTopicAttributes", "sns:TagResource", "sns:UntagResource",
                          "sns:SetSubscriptionAttributes", "sns:Subscribe")
    gone_codes = frozenset({"NotFound", "NotFoundException"})

    def object_id(self, attrs: Mapping[str, Any]) -> str | None:
        value = attrs.get("arn") or attrs.get("id")
        return str(value) if value else None

    def declare(self, resource: ManagedResource, declared: Declared) -> None:
        attrs, model = resource.attributes, declared.model
        model.setdefault("policy", canonical_policy(attrs.get("policy")))
        model["kms_master_key_id"] = str(attrs.get("kms_master_key_id") or "") or None
        model["delivery_policy"] = canonical_json(attrs.get("delivery_policy"))
        if attrs.get("display_name") is not None:
            model["display_name"] = str(attrs.get("display_name") or "")
        model["tags"] = tags_from_state(attrs)
        model.setdefault("subscriptions", {})
        mark_sensitive_roots(resource, declared)

    # --- live ------------------------------------------------------------------------------------
    def read_live(self, ctx: LiveContext, object_id: str) -> dict[str, Any] | None:
        try:
            a = self.call(ctx, "get_topic_attributes", TopicArn=object_id).get("Attributes") or {}
            tags = self.call(ctx, "list_tags_for_resource", ResourceArn=object_id).get("Tags")
            subs = self._subscriptions(ctx, object_id)
        except Gone:
            return None
        return {
            "policy": canonical_policy(a.get("Policy")),
            "kms_master_key_id": a.get("KmsMasterKeyId") or None,
            "delivery_policy": canonical_json(a.get("DeliveryPolicy")),
            "display_name": a.get("DisplayName") or "",
            "tags": live_tags(tags),
            "subscriptions": subs,
        }

    def _subscriptions(self, ctx: LiveContext, topic: str) -> dict[str, dict[str, Any]]:
        listed: list[dict[str, Any]] = []
        params: dict[str, Any] = {"TopicArn": topic}
        while True:
            page = self.call(ctx, "list_subscriptions_by_topic", **params)
            listed += page.get("Subscriptions") or []
            if not page.get("NextToken"):
                break
            params["NextToken"] = page["NextToken"]
        out: dict[str, dict[str, Any]] = {}
        reads = 0
        for sub in listed:
            arn = str(sub.get("SubscriptionArn") or "")
            entry: dict[str, Any] = {"protocol": sub.get("Protocol"), "endpoint": sub.get("Endpoint"),
                                     "arn": arn if arn.startswith("arn:") else None, "attrs": None}
            if entry["arn"] and reads < MAX_SUBSCRIPTION_READS:
                reads += 1
                try:
                    got = self.call(ctx, "get_subscription_attributes", SubscriptionArn=arn)["Attributes"]
                except Gone:
                    continue  # unsubscribed while we read: not there
                entry["attrs"] = subscription_attrs(got.get("RawMessageDelivery"), got.get("FilterPolicy"),
                                                    got.get("RedrivePolicy"))
            out[subscription_key(entry["protocol"], entry["endpoint"])] = entry
        return out

    # --- judgment --------------------------------------------------------------------------------
    def diff(self, declared: Declared, live: Mapping[str, Any]) -> list[Change]:
        model = {k: v for k, v in declared.model.items() if k != "subscriptions"}
        plain = Declared(declared.object_kind, declared.object_id, declared.resources, model,
                         declared.sensitive)
        return super().diff(plain, live) + self._subscription_changes(declared, live)

    def _subscription_changes(self, declared: Declared, live: Mapping[str, Any]) -> list[Change]:
        if "subscriptions" not in declared.model:
            return []
        want: dict[str, dict[str, Any]] = declared.model["subscriptions"]
        have: dict[str, dict[str, Any]] = live.get("subscriptions") or {}
        secret: set[str] = set(declared.model.get("_sensitive_subscriptions") or ())
        out: list[Change] = []
        for key in sorted(want):
            hidden = key in secret
            path = f"subscriptions.{_label(key, hidden)}"
            w = want[key]
            h = have.get(key)
            if h is None:
                out.append(Change(path, {"protocol": w["protocol"], "endpoint": w["endpoint"]}, None,
                                  Severity.MEDIUM, "sns-subscription-removed", hidden))
                continue
            for attr, value in (w.get("attrs") or {}).items():
                if h.get("attrs") is not None and h["attrs"].get(attr) != value:
                    out.append(Change(f"{path}.{attr}", value, h["attrs"].get(attr), Severity.MEDIUM,
                                      "sns-subscription-changed", hidden))
        if declared.owned_by(self.type):  # only the topic itself says "no other subscriptions"
            for key in sorted(set(have) - set(want)):
                h = have[key]
                external = h.get("protocol") in EXTERNAL
                seen = {"protocol": h["protocol"], "endpoint": h["endpoint"]}
                out.append(Change(f"subscriptions.{key}", None, seen,
                                  Severity.HIGH if external else Severity.MEDIUM,
                                  "sns-subscription-added-outside-terraform"))
        return out

    # --- revert ----------------------------------------------------------------------------------
    def revert_calls(
        self, object_id: str, changes: list[Change], declared: Declared, live: Mapping[str, Any]
    ) -> list[ApiCall]:
        name = object_id.rsplit(":", 1)[-1]
        calls: list[ApiCall] = []
        for ch in changes:
            if ch.path in _TOPIC_ATTRS:
                calls.append(ApiCall("sns", "SetTopicAttributes",
                                     {"TopicArn": object_id, "AttributeName": _TOPIC_ATTRS[ch.path],
                                      "AttributeValue": ch.declared or ""},
                                     f"restore {ch.path} of topic {name}"))
            elif ch.path.startswith("subscriptions."):
                calls += self._subscription_calls(object_id, ch, declared, live)
            elif not ch.path.startswith("tags."):
                raise NotRevertible(f"{ch.path} cannot be restored by Driftwarden")
        to_set, to_remove = tag_edits(changes)
        if to_set:
            calls.append(ApiCall("sns", "TagResource",
                                 {"ResourceArn": object_id, "Tags": [{"Key": k, "Value": v}
                                                                     for k, v in sorted(to_set.items())]},
                                 f"set tag(s) {', '.join(sorted(to_set))} on topic {name}"))
        if to_remove:
            calls.append(ApiCall("sns", "UntagResource", {"ResourceArn": object_id, "TagKeys": to_remove},
                                 f"remove tag(s) {', '.join(to_remove)} from topic {name}"))
        return calls

    @staticmethod
    def _subscription_calls(topic: str, ch: Change, declared: Declared,
                            live: Mapping[str, Any]) -> list[ApiCall]:
        if ch.declared is None:
            raise NotRevertible("removing a hand-made subscription deletes it; a revert never deletes")
        if ch.live is None:
            protocol, endpoint = ch.declared["protocol"], ch.declared["endpoint"]
            if protocol not in SELF_CONFIRMING:
                raise NotRevertible(f"a {protocol} endpoint must confirm a new subscription itself")
            want = declared.model["subscriptions"][subscription_key(protocol, endpoint)]
            attributes = {SUBSCRIPTION_ATTRS[k]: _attr_value(v) for k, v in (want.get("attrs") or {}).items()
                          if v not in (None, False)}
            return [ApiCall("sns", "Subscribe",
                            {"TopicArn": topic, "Protocol": protocol, "Endpoint": endpoint,
                             "Attributes": attributes, "ReturnSubscriptionArn": True},
                            f"re-subscribe {protocol} {endpoint} to topic {topic.rsplit(':', 1)[-1]}")]
        key_and_attr = ch.path.split(".", 1)[1]
        key, _, attr = key_and_attr.rpartition(".")
        sub = (live.get("subscriptions") or {}).get(key)
        if not sub or not sub.get("arn") or attr not in SUBSCRIPTION_ATTRS:
            raise NotRevertible("the live subscription could not be identified")
        return [ApiCall("sns", "SetSubscriptionAttributes",
                        {"SubscriptionArn": sub["arn"], "AttributeName": SUBSCRIPTION_ATTRS[attr],
                         "AttributeValue": _attr_value(ch.declared)},
                        f"restore {attr} of the {sub['protocol']} subscription {sub['endpoint']}")]


def _attr_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)
