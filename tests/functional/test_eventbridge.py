"""EventBridge (aws_cloudwatch_event_rule, aws_cloudwatch_event_target) end to end, on moto.

Given rules and targets and a state written with the provider's real attribute names (v5 shapes:
``state`` next to the deprecated ``is_enabled``, ``event_bus_name``, target blocks as empty lists),
when a console-style change is made with boto3 and the matching CloudTrail event is replayed, then a
disabled rule is HIGH, a redirected or removed target is HIGH, equal-but-reformatted patterns and
inputs are not drift, every target named by one ``PutTargets`` call gets its own verdict, and a
revert restores the declared definition (a second replay is ``in_sync``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from chalicelib.models import Action, Finding, RemediationStatus, Severity, Status
from chalicelib.pipeline import Pipeline
from chalicelib.resources.registry import default_registry
from tests.conftest import make_pipeline
from tests.harness.events import cloudtrail_event
from tests.harness.tfstate import StateBuilder

EVENTS = "events.amazonaws.com"
STATE_BUCKET = "driftwarden-events-states"
ACCOUNT = "123456789012"
PATTERN = {"source": ["aws.ec2"], "detail-type": ["EC2 Instance State-change Notification"],
           "detail": {"state": ["stopped", "terminated"]}}
QUEUE = f"arn:aws:sqs:us-east-1:{ACCOUNT}:alerts"
FUNCTION = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:report"


@dataclass
class Env:
    session: boto3.session.Session
    ev: Any
    s3: Any

    def pipeline(self, state: StateBuilder) -> Pipeline:
        prefix = f"events-{uuid.uuid4().hex[:10]}/"
        state.put(self.s3, STATE_BUCKET, f"{prefix}terraform.tfstate")
        return make_pipeline(self.session, f"s3://{STATE_BUCKET}/{prefix}")


@pytest.fixture(scope="module")
def env(aws_module: boto3.session.Session) -> Iterator[Env]:
    aws_module.client("s3").create_bucket(Bucket=STATE_BUCKET)
    yield Env(aws_module, aws_module.client("events"), aws_module.client("s3"))


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


# --- state shapes (provider attribute names, v5) -----------------------------------------------
def rule_state(name: str, *, bus: str = "default", schedule: str = "", pattern: dict[str, Any] | None = None,
               state: str | None = "ENABLED", description: str = "", tags: dict[str, str] | None = None,
               default_tags: dict[str, str] | None = None, is_enabled: bool | None = True) -> dict[str, Any]:
    path = name if bus == "default" else f"{bus}/{name}"
    return {
        "arn": f"arn:aws:events:us-east-1:{ACCOUNT}:rule/{path}", "description": description,
        "event_bus_name": bus, "event_pattern": json.dumps(pattern) if pattern else None,
        "force_destroy": False,
        "id": path, "is_enabled": is_enabled, "name": name, "name_prefix": "", "role_arn": "",
        "schedule_expression": schedule, "state": state, "tags": tags,
        "tags_all": {**(default_tags or {}), **(tags or {})},
    }


def target_state(rule: str, target_id: str, arn: str, *, bus: str = "default", input_: str = "",
                 input_transformer: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "appsync_target": [], "arn": arn, "batch_target": [], "dead_letter_config": [], "ecs_target": [],
        "event_bus_name": bus, "force_destroy": False, "http_target": [], "id": f"{rule}-{target_id}",
        "input": input_, "input_path": "",
        "input_transformer": [input_transformer] if input_transformer else [],
        "kinesis_target": [], "redshift_target": [], "retry_policy": [], "role_arn": "", "rule": rule,
        "run_command_targets": [], "sagemaker_pipeline_target": [], "sqs_target": [], "target_id": target_id,
    }


def ev_event(name: str, request: dict[str, Any], response: dict[str, Any] | None = None) -> dict[str, Any]:
    return cloudtrail_event(name, EVENTS, request, response)


def put_targets_event(rule: str, targets: list[dict[str, Any]], bus: str | None = None) -> dict[str, Any]:
    request: dict[str, Any] = {"rule": rule, "targets": [{k[0].lower() + k[1:]: v for k, v in t.items()}
                                                          for t in targets]}
    if bus:
        request["eventBusName"] = bus
    return ev_event("PutTargets", request, {"failedEntryCount": 0, "failedEntries": []})


def only(findings: list[Finding]) -> Finding:
    assert len(findings) == 1, findings
    return findings[0]


def changes(finding: Finding) -> list[tuple[str, Any, Any]]:
    return [(c.path, c.declared, c.live) for c in finding.changes]


def revert_and_replay(pipeline: Pipeline, finding: Finding, event: dict[str, Any]) -> list[Finding]:
    plugin = default_registry().get(finding.resource.type)
    assert all(f"{c.service}:{c.operation}" in plugin.revert_permissions for c in finding.plan), finding.plan
    result = pipeline.revert(finding)
    assert result.status is RemediationStatus.REVERTED, result.reason
    return pipeline.process_event(event)


# === aws_cloudwatch_event_rule ==================================================================
def test_disabled_rule_is_high_and_enabled_again(env: Env) -> None:
    name = unique("nightly")
    env.ev.put_rule(Name=name, ScheduleExpression="cron(0 3 * * ? *)", Description="nightly report")
    pipeline = env.pipeline(StateBuilder().add("aws_cloudwatch_event_rule", "nightly", rule_state(
        name, schedule="cron(0 3 * * ? *)", description="nightly report"), module="module.jobs"))
    env.ev.disable_rule(Name=name)
    event = ev_event("DisableRule", {"name": name})
    finding = only(pipeline.process_event(event))
    assert finding.status is Status.DRIFT and finding.severity is Severity.HIGH
    assert finding.resource.address == "module.jobs.aws_cloudwatch_event_rule.nightly"
    assert changes(finding) == [("state", "ENABLED", "DISABLED")] and "rule-disabled" in finding.reason
    assert [(c.operation, c.params) for c in finding.plan] == [("EnableRule", {"Name": name})]
    assert only(revert_and_replay(pipeline, finding, event)).status is Status.IN_SYNC
    assert env.ev.describe_rule(Name=name)["State"] == "ENABLED"


def test_schedule_and_description_change_is_reverted_with_the_full_definition(env: Env) -> None:
    name = unique("sync")
    env.ev.put_rule(Name=name, ScheduleExpression="rate(1 hour)", Description="hourly sync")
    pipeline = env.pipeline(StateBuilder().add("aws_cloudwatch_event_rule", "sync", rule_state(
        name, schedule="rate(1 hour)", description="hourly sync", is_enabled=None)))
    env.ev.put_rule(Name=name, ScheduleExpression="rate(1 day)")  # PutRule clears what it is not given
    event = ev_event("PutRule", {"name": name, "scheduleExpression": "rate(1 day)"},
                     {"ruleArn": f"arn:aws:events:us-east-1:{ACCOUNT}:rule/{name}"})
    finding = only(pipeline.process_event(event))
    assert finding.severity is Severity.MEDIUM
    assert changes(finding) == [("description", "hourly sync", ""), ("schedule_expression", "rate(1 hour)",
                                                                      "rate(1 day)")]
    [call] = finding.plan
    assert (call.operation, call.params) == ("PutRule", {"Name": name, "State": "ENABLED",
                                                         "ScheduleExpression": "rate(1 hour)",
                                                         "Description": "hourly sync"})
    assert only(revert_and_replay(pipeline, finding, event)).status is Status.IN_SYNC


def test_reformatted_pattern_on_a_custom_bus_is_not_drift_and_a_real_change_is(env: Env) -> None:
    """Keys, whitespace and the order of alternatives never matter; the bus is part of the key, and
    CloudTrail may name the bus by ARN."""
    bus, name = unique("orders"), unique("stopped")
    env.ev.create_event_bus(Name=bus)
    env.ev.put_rule(Name=name, EventBusName=bus, EventPattern=json.dumps(PATTERN))
    pipeline = env.pipeline(StateBuilder().add("aws_cloudwatch_event_rule", "stopped", rule_state(
        name, bus=bus, pattern=PATTERN)))
    same = {"detail": {"state": ["terminated", "stopped"]}, "detail-type": PATTERN["detail-type"],
            "source": ["aws.ec2"]}
    env.ev.put_rule(Name=name, EventBusName=bus, EventPattern=json.dumps(same, indent=2))
    bus_arn = f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus/{bus}"
    event = ev_event("PutRule", {"name": name, "eventBusName": bus_arn, "eventPattern": json.dumps(same)})
    finding = only(pipeline.process_event(event))
    assert finding.status is Status.IN_SYNC and finding.resource.id == f"{bus}/{name}", changes(finding)
    narrower = {**PATTERN, "detail": {"state": ["terminated"]}}
    env.ev.put_rule(Name=name, EventBusName=bus, EventPattern=json.dumps(narrower))
    finding = only(pipeline.process_event(event))
    assert [c.path for c in finding.changes] == ["event_pattern"] and finding.severity is Severity.MEDIUM
    assert [c.params.get("EventBusName") for c in finding.plan] == [bus]
    assert only(revert_and_replay(pipeline, finding, event)).status is Status.IN_SYNC


def test_rule_tags_default_tags_are_not_drift_and_tag_drift_is_reverted(env: Env) -> None:
    name = unique("tagged")
    arn = env.ev.put_rule(Name=name, ScheduleExpression="rate(5 minutes)",
                          Tags=[{"Key": "team", "Value": "ops"}, {"Key": "env", "Value": "prod"}])["RuleArn"]
    pipeline = env.pipeline(StateBuilder().add("aws_cloudwatch_event_rule", "tagged", rule_state(
        name, schedule="rate(5 minutes)", tags={"team": "ops"}, default_tags={"env": "prod"})))
    same = ev_event("TagResource", {"resourceARN": arn, "tags": [{"key": "env", "value": "prod"}]})
    assert only(pipeline.process_event(same)).status is Status.IN_SYNC
    env.ev.tag_resource(ResourceARN=arn, Tags=[{"Key": "team", "Value": "someone"}])
    event = ev_event("TagResource", {"resourceARN": arn, "tags": [{"key": "team", "value": "someone"}]})
    finding = only(pipeline.process_event(event))
    assert finding.severity is Severity.LOW and changes(finding) == [("tags.team", "ops", "someone")]
    assert only(revert_and_replay(pipeline, finding, event)).status is Status.IN_SYNC
    bus_arn = f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus/default"
    bus_tags = ev_event("TagResource", {"resourceARN": bus_arn, "tags": [{"key": "a", "value": "b"}]})
    assert only(pipeline.process_event(bus_tags)).status is Status.UNSUPPORTED


def test_deleted_rule_is_deleted_and_its_targets_too(env: Env) -> None:
    name = unique("gone")
    env.ev.put_rule(Name=name, ScheduleExpression="rate(1 hour)")
    env.ev.put_targets(Rule=name, Targets=[{"Id": "fn", "Arn": FUNCTION}])
    state = StateBuilder()
    state.add("aws_cloudwatch_event_rule", "gone", rule_state(name, schedule="rate(1 hour)"))
    state.add("aws_cloudwatch_event_target", "fn", target_state(name, "fn", FUNCTION))
    pipeline = env.pipeline(state)
    env.ev.remove_targets(Rule=name, Ids=["fn"])
    env.ev.delete_rule(Name=name)
    deleted = only(pipeline.process_event(ev_event("DeleteRule", {"name": name})))
    assert deleted.status is Status.DELETED and deleted.resource.address == "aws_cloudwatch_event_rule.gone"
    target = only(pipeline.process_event(ev_event("RemoveTargets", {"rule": name, "ids": ["fn"]})))
    assert target.status is Status.DELETED, target.reason


# === aws_cloudwatch_event_target ================================================================
def test_one_put_targets_call_redirects_a_managed_target_and_adds_an_unmanaged_one(env: Env) -> None:
    name = unique("alerts")
    env.ev.put_rule(Name=name, EventPattern=json.dumps(PATTERN))
    managed = {"Id": "queue", "Arn": QUEUE, "Input": json.dumps({"severity": "high", "team": "ops"})}
    env.ev.put_targets(Rule=name, Targets=[managed])
    pipeline = env.pipeline(StateBuilder().add("aws_cloudwatch_event_target", "queue", target_state(
        name, "queue", QUEUE, input_='{"team": "ops", "severity": "high"}')))
    redirected = {**managed, "Arn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:elsewhere"}
    added = {"Id": "extra", "Arn": FUNCTION}
    env.ev.put_targets(Rule=name, Targets=[redirected, added])
    event = put_targets_event(name, [redirected, added])
    findings = {f.resource.id: f for f in pipeline.process_event(event)}
    assert set(findings) == {f"default/{name}/queue", f"default/{name}/extra"}
    drift, unmanaged = findings[f"default/{name}/queue"], findings[f"default/{name}/extra"]
    assert drift.status is Status.DRIFT and drift.severity is Severity.HIGH
    assert changes(drift) == [("arn", QUEUE, redirected["Arn"])] and "target-redirected" in drift.reason
    assert unmanaged.status is Status.UNMANAGED and unmanaged.action is Action.ALERT
    [call] = drift.plan
    assert call.params["Targets"] == [{**managed}]  # live target with only the ARN put back
    again = {f.resource.id: f for f in revert_and_replay(pipeline, drift, event)}
    assert again[f"default/{name}/queue"].status is Status.IN_SYNC


def test_removed_target_is_high_drift_and_re_added(env: Env) -> None:
    name = unique("report")
    env.ev.put_rule(Name=name, ScheduleExpression="rate(1 day)")
    transformer = {"InputPathsMap": {"time": "$.time"}, "InputTemplate": '{"at": <time>}'}
    env.ev.put_targets(Rule=name, Targets=[{"Id": "fn", "Arn": FUNCTION, "InputTransformer": transformer}])
    pipeline = env.pipeline(StateBuilder().add("aws_cloudwatch_event_target", "fn", target_state(
        name, "fn", FUNCTION, input_transformer={"input_paths": {"time": "$.time"},
                                                 "input_template": '{"at": <time>}'})))
    env.ev.remove_targets(Rule=name, Ids=["fn"])
    event = ev_event("RemoveTargets", {"rule": name, "ids": ["fn"]},
                     {"failedEntryCount": 0, "failedEntries": []})
    finding = only(pipeline.process_event(event))
    assert finding.status is Status.DRIFT and finding.severity is Severity.HIGH
    assert "target-removed" in finding.reason
    assert changes(finding) == [("target", {"rule": name, "event_bus_name": "default", "target_id": "fn",
                                            "arn": FUNCTION}, None)]
    [call] = finding.plan
    assert call.params == {"Rule": name,
                           "Targets": [{"Id": "fn", "Arn": FUNCTION, "InputTransformer": transformer}]}
    assert only(revert_and_replay(pipeline, finding, event)).status is Status.IN_SYNC


def test_input_transformer_change_is_medium_and_reverted(env: Env) -> None:
    name = unique("shape")
    env.ev.put_rule(Name=name, ScheduleExpression="rate(1 day)")
    transformer = {"InputPathsMap": {"time": "$.time"}, "InputTemplate": '{"at": <time>}'}
    env.ev.put_targets(Rule=name, Targets=[{"Id": "fn", "Arn": FUNCTION, "InputTransformer": transformer}])
    pipeline = env.pipeline(StateBuilder().add("aws_cloudwatch_event_target", "fn", target_state(
        name, "fn", FUNCTION, input_transformer={"input_paths": {"time": "$.time"},
                                                 "input_template": '{"at": <time>}'})))
    changed = {"InputPathsMap": {"time": "$.time", "who": "$.account"}, "InputTemplate": '{"who": <who>}'}
    env.ev.put_targets(Rule=name, Targets=[{"Id": "fn", "Arn": FUNCTION, "InputTransformer": changed}])
    event = put_targets_event(name, [{"Id": "fn", "Arn": FUNCTION, "InputTransformer": changed}])
    finding = only(pipeline.process_event(event))
    assert finding.severity is Severity.MEDIUM
    assert changes(finding) == [("input_transformer.input_paths.who", None, "$.account"),
                                ("input_transformer.input_template", '{"at": <time>}', '{"who": <who>}')]
    assert only(revert_and_replay(pipeline, finding, event)).status is Status.IN_SYNC


def test_target_without_ids_is_an_error(env: Env) -> None:
    pipeline = env.pipeline(StateBuilder())
    finding = only(pipeline.process_event(ev_event("RemoveTargets", {"rule": "r"})))
    assert finding.status is Status.ERROR and "no resource id" in finding.reason


def test_rule_created_by_hand_is_unmanaged_and_alerted(env: Env) -> None:
    pipeline = env.pipeline(StateBuilder().add("aws_cloudwatch_event_rule", "other",
                                               rule_state(unique("other"), schedule="rate(1 hour)")))
    name = unique("by-hand")
    arn = env.ev.put_rule(Name=name, ScheduleExpression="rate(1 minute)")["RuleArn"]
    event = ev_event("PutRule", {"name": name, "scheduleExpression": "rate(1 minute)"}, {"ruleArn": arn})
    finding = only(pipeline.process_event(event))
    assert finding.status is Status.UNMANAGED and finding.action is Action.ALERT
    assert "created outside Terraform" in finding.reason
