"""aws_cloudwatch_event_rule: an EventBridge rule, keyed like the provider's id: the rule name on the
default bus, ``<bus>/<name>`` on any other bus (bus ARNs in events are reduced to the bus name).

Compared: schedule, event pattern (canonical JSON; arrays are sets of alternatives, so their order
does not matter), state (a declared-enabled rule found DISABLED is HIGH: whatever it fed has
silently stopped), description (LOW), role, tags (LOW). Targets are their own type
(``aws_cloudwatch_event_target``) with their own key, judged one target at a time.

Revert: Enable/DisableRule when only the state moved; otherwise ``PutRule`` with the full declared
definition, because PutRule replaces every setting it is not given with null.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.drift.diff import RawChange
from chalicelib.drift.normalize import tags_from_state
from chalicelib.models import ApiCall, Change, Severity
from chalicelib.resources.app_common import (
    MISSING,
    arn_resource,
    canonical_json,
    derived,
    live_tags,
    request,
    tag_reverts,
    text,
)
from chalicelib.resources.base import Declared, EventKind, Gone, LiveContext, ManagedResource, ResourcePlugin
from chalicelib.resources.registry import register

EVENTS = "events.amazonaws.com"
DEFAULT_BUS = "default"


def bus_name(value: Any) -> str:
    """An event bus as its name: ``None``/"" is the default bus; an ARN ends in ``event-bus/<name>``."""
    name = text(value).strip()
    if not name:
        return DEFAULT_BUS
    resource = arn_resource(name)
    if resource and resource.startswith("event-bus/"):
        return resource[len("event-bus/"):]
    return name


def rule_key(bus: Any, name: Any) -> str | None:
    rule = text(name).strip()
    if not rule or rule == MISSING:
        return None
    b = bus_name(bus)
    return rule if b == DEFAULT_BUS else f"{b}/{rule}"


def split_rule_key(key: str) -> tuple[str, str]:
    """``bus/name`` → (bus, name); rule names never contain ``/`` (partner bus names do)."""
    bus, _, name = key.rpartition("/")
    return (bus or DEFAULT_BUS), name


def _rule_ids(found: Any, record: Mapping[str, Any]) -> list[str]:
    params = request(record)
    key = rule_key(params.get("eventBusName"), params.get("name"))
    return [key] if key else []


def _tagged_rule(found: Any, record: Mapping[str, Any]) -> list[str]:
    """Tag calls name any EventBridge resource by ARN; only ``rule/[bus/]name`` is ours."""
    resource = arn_resource(found)
    if resource is None:
        return [MISSING]
    if not resource.startswith("rule/"):
        return []
    path = resource[len("rule/"):]
    bus, _, name = path.rpartition("/")
    key = rule_key(bus, name)
    return [key] if key else []


_NAME = "requestParameters.name"


def event_pattern(doc: Any) -> str:
    return canonical_json(doc, sort_lists=True)


@register
class AwsCloudwatchEventRule(ResourcePlugin):
    type = "aws_cloudwatch_event_rule"
    service = "events"
    object_kind = "events:rule"
    events = (
        # PutRule creates or replaces: judged like any change when managed, "created outside
        # Terraform" (alert) when no state declares the rule
        derived(EVENTS, "PutRule", _NAME, _rule_ids, EventKind.CREATE, "creates or replaces a rule",
                always_names=True),
        derived(EVENTS, "EnableRule", _NAME, _rule_ids, always_names=True),
        derived(EVENTS, "DisableRule", _NAME, _rule_ids, always_names=True),
        derived(EVENTS, "DeleteRule", _NAME, _rule_ids, EventKind.DELETE, always_names=True),
        derived(EVENTS, "TagResource", "requestParameters.resourceARN", _tagged_rule),
        derived(EVENTS, "UntagResource", "requestParameters.resourceARN", _tagged_rule),
    )
    compared = {"schedule_expression": Severity.MEDIUM, "event_pattern": Severity.MEDIUM,
                "state": Severity.HIGH, "description": Severity.LOW, "role_arn": Severity.MEDIUM,
                "tags": Severity.LOW}
    read_permissions = ("events:DescribeRule", "events:ListTagsForResource")
    revert_permissions = ("events:PutRule", "events:EnableRule", "events:DisableRule", "events:TagResource",
                          "events:UntagResource")
    gone_codes = frozenset({"ResourceNotFoundException"})

    def object_id(self, attrs: Mapping[str, Any]) -> str | None:
        return rule_key(attrs.get("event_bus_name"), attrs.get("name"))

    def declare(self, resource: ManagedResource, declared: Declared) -> None:
        a = resource.attributes
        m = declared.model
        m["schedule_expression"] = text(a.get("schedule_expression"))
        m["event_pattern"] = event_pattern(a.get("event_pattern"))
        if a.get("state"):
            m["state"] = text(a["state"]).upper()
        elif a.get("is_enabled") is not None:  # provider < 5.x had only is_enabled
            m["state"] = "ENABLED" if a["is_enabled"] else "DISABLED"
        m["description"] = text(a.get("description"))
        m["role_arn"] = text(a.get("role_arn"))
        m["tags"] = tags_from_state(a)

    def read_live(self, ctx: LiveContext, object_id: str) -> dict[str, Any] | None:
        bus, name = split_rule_key(object_id)
        params = {"Name": name, **({"EventBusName": bus} if bus != DEFAULT_BUS else {})}
        try:
            rule = self.call(ctx, "describe_rule", **params)
            tags = self.call(ctx, "list_tags_for_resource", ResourceARN=rule["Arn"]).get("Tags")
        except Gone:
            return None
        return {
            "schedule_expression": text(rule.get("ScheduleExpression")),
            "event_pattern": event_pattern(rule.get("EventPattern")),
            "state": text(rule.get("State")).upper(),
            "description": text(rule.get("Description")),
            "role_arn": text(rule.get("RoleArn")),
            "tags": live_tags(tags),
            "_arn": rule.get("Arn"),  # never declared, so never compared: the tag reverts' target
        }

    def severity(self, change: RawChange) -> tuple[Severity, str]:
        if change.attribute == "state" and change.live == "DISABLED":
            return Severity.HIGH, "rule-disabled"
        if change.attribute in ("description", "tags"):
            return Severity.LOW, f"{change.attribute}-changed"
        return Severity.MEDIUM, f"{self.type}.{change.attribute}"

    def plan_revert(
        self, object_id: str, changes: list[Change], declared: Declared, live: Mapping[str, Any]
    ) -> tuple[ApiCall, ...]:
        m = declared.model
        bus, name = split_rule_key(object_id)
        on_bus = {"EventBusName": bus} if bus != DEFAULT_BUS else {}
        definition = {c.path for c in changes if not c.path.startswith("tags.")}
        calls: list[ApiCall] = []
        if definition == {"state"} and m.get("state") in ("ENABLED", "DISABLED"):
            op = "EnableRule" if m["state"] == "ENABLED" else "DisableRule"
            calls.append(ApiCall("events", op, {"Name": name, **on_bus},
                                 f"{op[:-4].lower()} rule {object_id} again"))
        elif definition:
            params: dict[str, Any] = {"Name": name, **on_bus}
            if m.get("state"):
                params["State"] = m["state"]
            for key, api in (("schedule_expression", "ScheduleExpression"), ("event_pattern", "EventPattern"),
                             ("description", "Description"), ("role_arn", "RoleArn")):
                if m.get(key):
                    params[api] = m[key]
            calls.append(ApiCall("events", "PutRule", params,
                                 f"put rule {object_id} back to its declared definition "
                                 f"(restoring {', '.join(sorted(definition))})"))
        arn = live.get("_arn")
        if arn:
            calls.extend(tag_reverts(changes, "events", f"rule {object_id}", {"ResourceARN": arn}))
        return tuple(calls)
