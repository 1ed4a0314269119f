"""aws_cloudwatch_event_target: one target of an EventBridge rule, its own object kind.

Why not a contributor to the rule: a ``PutTargets``/``RemoveTargets`` call names several targets,
and each is its own Terraform resource with its own verdict (a managed target redirected is drift,
a target added by hand next to it is unmanaged). Key: ``<bus>/<rule>/<target id>`` with the bus
name (``default`` for the default bus). Rule names and target ids never contain ``/``, so the key
splits back unambiguously even for partner buses (whose names do). The provider's own id
(``rule-targetid``) cannot: both parts may contain ``-``.

A target removed from a rule that still exists is drift (HIGH, revertible with ``PutTargets``),
not "deleted": the target has no life of its own in AWS. A rule that is gone makes its targets
deleted. Compared: target ARN (changed is HIGH: events now go elsewhere), role, input / input path /
input transformer, dead-letter queue, SQS message group, and retry policy when declared.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.drift.diff import RawChange
from chalicelib.errors import LiveReadError
from chalicelib.models import ApiCall, Change, Severity
from chalicelib.resources.app_common import (
    MISSING,
    Derive,
    as_int,
    canonical_json,
    derived,
    first_block,
    request,
    text,
)
from chalicelib.resources.aws_cloudwatch_event_rule import DEFAULT_BUS, EVENTS, bus_name
from chalicelib.resources.base import Declared, EventKind, Gone, LiveContext, ManagedResource, ResourcePlugin
from chalicelib.resources.registry import register

# Target blocks this plugin does not model. A removed target declaring one cannot be rebuilt from state.
UNMODELLED = ("ecs_target", "batch_target", "http_target", "run_command_targets", "redshift_target",
              "sagemaker_pipeline_target", "appsync_target")
MAX_PAGES = 100  # a rule holds at most 5 targets today; anything longer is a broken paginator
# model path prefix -> PutTargets field it lives in
_API_FIELD = {"arn": "Arn", "role_arn": "RoleArn", "input": "Input", "input_path": "InputPath",
              "input_transformer": "InputTransformer", "dead_letter_config": "DeadLetterConfig",
              "retry_policy": "RetryPolicy", "sqs_target": "SqsParameters",
              "kinesis_target": "KinesisParameters"}


def target_key(bus: Any, rule: Any, target_id: Any) -> str | None:
    r, t = text(rule).strip(), text(target_id).strip()
    if not r or not t or MISSING in (r, t):
        return None
    return f"{bus_name(bus)}/{r}/{t}"


def split_target_key(key: str) -> tuple[str, str, str]:
    bus, rule, target = key.rsplit("/", 2)
    return bus, rule, target


def _target_ids(list_key: str, id_key: str | None) -> Derive:
    def derive(found: Any, record: Mapping[str, Any]) -> list[str]:
        params = request(record)
        items = params.get(list_key) or []
        ids = [i.get(id_key) if id_key and isinstance(i, Mapping) else i for i in items]
        keys = [target_key(params.get("eventBusName"), params.get("rule"), i) for i in ids]
        out = [k for k in keys if k]
        return out if len(out) == len(keys) else [*out, MISSING]

    return derive


def target_from_state(a: Mapping[str, Any]) -> dict[str, Any]:
    """The declared target in ``PutTargets`` form (modelled fields only)."""
    t: dict[str, Any] = {"Id": text(a.get("target_id")), "Arn": text(a.get("arn"))}
    if a.get("role_arn"):
        t["RoleArn"] = text(a["role_arn"])
    if a.get("input"):
        t["Input"] = text(a["input"])
    if a.get("input_path"):
        t["InputPath"] = text(a["input_path"])
    it = first_block(a, "input_transformer")
    if it:
        t["InputTransformer"] = {"InputPathsMap": dict(it.get("input_paths") or {}),
                                 "InputTemplate": text(it.get("input_template"))}
    dlq = first_block(a, "dead_letter_config")
    if dlq.get("arn"):
        t["DeadLetterConfig"] = {"Arn": text(dlq["arn"])}
    rp = first_block(a, "retry_policy")
    retry_fields = (("maximum_event_age_in_seconds", "MaximumEventAgeInSeconds"),
                    ("maximum_retry_attempts", "MaximumRetryAttempts"))
    retry = {api: as_int(rp.get(k)) for k, api in retry_fields if as_int(rp.get(k)) is not None}
    if retry:
        t["RetryPolicy"] = retry
    sqs = first_block(a, "sqs_target")
    if sqs.get("message_group_id"):
        t["SqsParameters"] = {"MessageGroupId": text(sqs["message_group_id"])}
    kinesis = first_block(a, "kinesis_target")
    if kinesis.get("partition_key_path"):
        t["KinesisParameters"] = {"PartitionKeyPath": text(kinesis["partition_key_path"])}
    return t


def model_of(t: Mapping[str, Any]) -> dict[str, Any]:
    """A ``PutTargets``/``ListTargetsByRule`` target in the model vocabulary (both sides use this)."""
    it = t.get("InputTransformer") or {}
    retry = t.get("RetryPolicy") or {}
    return {
        "arn": text(t.get("Arn")),
        "role_arn": text(t.get("RoleArn")),
        "input": canonical_json(t.get("Input")),
        "input_path": text(t.get("InputPath")),
        "input_transformer.input_template": text(it.get("InputTemplate")),
        "input_transformer.input_paths": {k: text(v) for k, v in (it.get("InputPathsMap") or {}).items()},
        "dead_letter_config.arn": text((t.get("DeadLetterConfig") or {}).get("Arn")),
        "sqs_target.message_group_id": text((t.get("SqsParameters") or {}).get("MessageGroupId")),
        "retry_policy.maximum_event_age_in_seconds": as_int(retry.get("MaximumEventAgeInSeconds")),
        "retry_policy.maximum_retry_attempts": as_int(retry.get("MaximumRetryAttempts")),
    }


@register
class AwsCloudwatchEventTarget(ResourcePlugin):
    type = "aws_cloudwatch_event_target"
    service = "events"
    object_kind = "events:target"
    events = (
        derived(EVENTS, "PutTargets", "requestParameters.targets[].id", _target_ids("targets", "id"),
                EventKind.CREATE, note="adds or replaces targets; one reference each", always_names=True),
        derived(EVENTS, "RemoveTargets", "requestParameters.ids", _target_ids("ids", None), EventKind.DELETE,
                note="one reference per removed target", always_names=True),
    )
    compared = {"target": Severity.HIGH, "arn": Severity.HIGH, "role_arn": Severity.MEDIUM,
                "input": Severity.MEDIUM, "input_path": Severity.MEDIUM, "input_transformer": Severity.MEDIUM,
                "dead_letter_config": Severity.MEDIUM, "retry_policy": Severity.MEDIUM,
                "sqs_target": Severity.MEDIUM}
    read_permissions = ("events:ListTargetsByRule",)
    revert_permissions = ("events:PutTargets",)
    gone_codes = frozenset({"ResourceNotFoundException"})

    def object_id(self, attrs: Mapping[str, Any]) -> str | None:
        return target_key(attrs.get("event_bus_name"), attrs.get("rule"), attrs.get("target_id"))

    def declare(self, resource: ManagedResource, declared: Declared) -> None:
        a = resource.attributes
        model = model_of(target_from_state(a))
        for key in ("retry_policy.maximum_event_age_in_seconds", "retry_policy.maximum_retry_attempts"):
            if model[key] is None:  # AWS applies a default retry policy: compare only what is declared
                del model[key]
        declared.model.update(model)

    def read_live(self, ctx: LiveContext, object_id: str) -> dict[str, Any] | None:
        bus, rule, target_id = split_target_key(object_id)
        params: dict[str, Any] = {"Rule": rule, **({"EventBusName": bus} if bus != DEFAULT_BUS else {})}
        seen: set[str] = set()
        try:
            while True:
                page = self.call(ctx, "list_targets_by_rule", **params)
                for t in page.get("Targets") or []:
                    if t.get("Id") == target_id:
                        return {**model_of(t), "_raw": dict(t)}  # _raw: never declared, never compared
                token = page.get("NextToken")
                if not token:
                    return {"_absent": True}
                if token in seen or len(seen) >= MAX_PAGES:  # never call a target removed on a guess
                    raise LiveReadError(f"ListTargetsByRule for {rule} did not finish paginating")
                seen.add(token)
                params["NextToken"] = token
        except Gone:
            return None  # the rule itself is gone

    def diff(self, declared: Declared, live: Mapping[str, Any]) -> list[Change]:
        if live.get("_absent"):
            bus, rule, target_id = split_target_key(declared.object_id)
            summary = {"rule": rule, "event_bus_name": bus, "target_id": target_id,
                       "arn": declared.model.get("arn")}
            return [Change("target", summary, None, Severity.HIGH, "target-removed")]
        return super().diff(declared, live)

    def severity(self, change: RawChange) -> tuple[Severity, str]:
        if change.attribute == "arn":
            return Severity.HIGH, "target-redirected"
        return Severity.MEDIUM, f"{self.type}.{change.attribute}"

    def plan_revert(
        self, object_id: str, changes: list[Change], declared: Declared, live: Mapping[str, Any]
    ) -> tuple[ApiCall, ...]:
        bus, rule, target_id = split_target_key(object_id)
        attrs = declared.primary(self.type).attributes
        wanted = target_from_state(attrs)
        if live.get("_absent"):
            if any(attrs.get(block) for block in UNMODELLED):
                return ()  # its ECS/Batch/HTTP/... settings are not modelled: no partial re-creation
            target, verb = wanted, "re-add"
        else:
            target = dict(live.get("_raw") or {})
            for prefix in sorted({c.path.split(".", 1)[0] for c in changes}):
                api = _API_FIELD[prefix]
                if api in wanted:
                    target[api] = wanted[api]
                else:
                    target.pop(api, None)
            verb = "restore"
        params = {"Rule": rule, "Targets": [target], **({"EventBusName": bus} if bus != DEFAULT_BUS else {})}
        return (ApiCall("events", "PutTargets", params,
                        f"{verb} target {target_id} of rule {rule} as declared ({target.get('Arn')})"),)
