"""CloudTrail trails end to end through the pipeline, on moto.

Given a managed trail (an ``aws_cloudtrail`` state entry with the provider's attribute names), when a
console-style call changes it and the CloudTrail record is replayed (naming the trail by ARN or by
name, as callers do), then the finding names the changed attributes with the judged severity: a
stopped trail, logs sent elsewhere or management events no longer recorded are CRITICAL. The revert
restores the declaration and a second replay is ``in_sync``. One moto account serves the module;
every test makes its own trail and writes its own state.

moto appends Insights selectors where AWS replaces them: the Insights test uses botocore's Stubber.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from typing import Any

import pytest
from botocore.stub import Stubber

from chalicelib.models import RemediationStatus, Severity, Status
from chalicelib.pipeline import Pipeline
from tests.conftest import make_pipeline
from tests.harness.events import ACCOUNT, cloudtrail_event
from tests.harness.tfstate import StateBuilder

CLOUDTRAIL = "cloudtrail.amazonaws.com"
REGION = "us-east-1"
STATE_BUCKET = "tfstate-cloudtrail-family"
LOGS = "org-audit-logs"
KMS_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0"
LOG_GROUP = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:cloudtrail/org-audit:*"
LOG_ROLE = f"arn:aws:iam::{ACCOUNT}:role/cloudtrail-to-cloudwatch"
MANAGEMENT = {"name": "Management events", "field_selector": [
    {"field": "eventCategory", "equals": ["Management"], "starts_with": [], "ends_with": [], "not_equals": [],
     "not_starts_with": [], "not_ends_with": []}]}
_names = itertools.count(1)


@dataclass
class Env:
    session: Any
    ct: Any
    s3: Any


@pytest.fixture(scope="module")
def env(aws_module) -> Env:
    s3 = aws_module.client("s3")
    for bucket in (STATE_BUCKET, LOGS, "someone-elses-bucket"):
        s3.create_bucket(Bucket=bucket)
    return Env(aws_module, aws_module.client("cloudtrail"), s3)


@dataclass
class Trail:
    name: str
    arn: str
    pipeline: Pipeline


def managed_trail(env: Env, *, logging: bool = True, **state: Any) -> Trail:
    """A multi-region trail with log-file validation, encryption and CloudWatch Logs delivery."""
    name = f"org-audit-{next(_names)}"
    arn = env.ct.create_trail(Name=name, S3BucketName=LOGS, IsMultiRegionTrail=True,
                              EnableLogFileValidation=True, IncludeGlobalServiceEvents=True, KmsKeyId=KMS_KEY,
                              CloudWatchLogsLogGroupArn=LOG_GROUP, CloudWatchLogsRoleArn=LOG_ROLE,
                              TagsList=[{"Key": "Name", "Value": name}, {"Key": "team", "Value": "security"}]
                              )["TrailARN"]
    if logging:
        env.ct.start_logging(Name=name)
    attrs = {
        "advanced_event_selector": [], "arn": arn, "cloud_watch_logs_group_arn": LOG_GROUP,
        "cloud_watch_logs_role_arn": LOG_ROLE, "enable_log_file_validation": True, "enable_logging": logging,
        "event_selector": [], "home_region": REGION, "id": arn, "include_global_service_events": True,
        "insight_selector": [], "is_multi_region_trail": True, "is_organization_trail": False,
        "kms_key_id": KMS_KEY, "name": name, "s3_bucket_name": LOGS, "s3_key_prefix": "",
        "sns_topic_name": "",
        "tags": {"Name": name}, "tags_all": {"Name": name, "team": "security"}, **state}
    prefix = f"stack-{name}/"
    StateBuilder().add("aws_cloudtrail", "org", attrs, module="module.audit").put(
        env.s3, STATE_BUCKET, prefix + "terraform.tfstate")
    return Trail(name, arn, make_pipeline(env.session, f"s3://{STATE_BUCKET}/{prefix}"))


def event(name: str, request: dict[str, Any], response: dict[str, Any] | None = None) -> dict[str, Any]:
    return cloudtrail_event(name, CLOUDTRAIL, request, response)


def assert_reverts(trail: Trail, finding: Any, replay: dict[str, Any]) -> None:
    result = trail.pipeline.revert(finding)
    assert result.status is RemediationStatus.REVERTED, result.reason
    [again] = trail.pipeline.process_event(replay)
    assert again.status is Status.IN_SYNC, again.reason


def test_stopped_trail_is_critical_and_restarted(env):
    trail = managed_trail(env)
    env.ct.stop_logging(Name=trail.arn)
    replay = event("StopLogging", {"name": trail.arn})
    [finding] = trail.pipeline.process_event(replay)
    assert finding.status is Status.DRIFT and finding.severity is Severity.CRITICAL
    assert finding.resource.id == trail.name, "the ARN in the record normalizes to the trail name"
    assert finding.resource.address == "module.audit.aws_cloudtrail.org"
    assert [(c.path, c.declared, c.live, c.rule) for c in finding.changes] == [
        ("enable_logging", True, False, "trail-stopped")]
    assert [(c.operation, c.params) for c in finding.plan] == [("StartLogging", {"Name": trail.name})]
    assert_reverts(trail, finding, replay)
    assert env.ct.get_trail_status(Name=trail.name)["IsLogging"] is True


UPDATES = {
    # group: (UpdateTrail arguments, changed paths -> rule, severity)
    "narrowed": ({"IsMultiRegionTrail": False, "EnableLogFileValidation": False,
                  "IncludeGlobalServiceEvents": False},
                 {"is_multi_region_trail": "trail-narrowed-to-one-region",
                  "enable_log_file_validation": "log-file-validation-disabled",
                  "include_global_service_events": "trail-global-service-events-excluded"}, Severity.HIGH),
    "logs-redirected": ({"S3BucketName": "someone-elses-bucket"},
                        {"s3_bucket_name": "trail-logs-redirected"}, Severity.CRITICAL),
    "encryption-and-cloudwatch-removed": (
        {"KmsKeyId": "", "CloudWatchLogsLogGroupArn": "", "CloudWatchLogsRoleArn": ""},
        {"kms_key_id": "trail-encryption-removed",
         "cloud_watch_logs_group_arn": "trail-cloudwatch-delivery-removed",
         "cloud_watch_logs_role_arn": "trail-cloudwatch-delivery-removed"}, Severity.HIGH),
}


@pytest.mark.parametrize("group", list(UPDATES))
def test_update_trail_group_drifts_and_reverts(env, group):
    update, rules, severity = UPDATES[group]
    trail = managed_trail(env)
    env.ct.update_trail(Name=trail.name, **update)
    recorded = {k[0].lower() + k[1:]: v for k, v in update.items()}
    replay = event("UpdateTrail", {"name": trail.name, **recorded},
                   {"name": trail.name, "trailARN": trail.arn})
    [finding] = trail.pipeline.process_event(replay)
    assert {c.path: c.rule for c in finding.changes} == rules
    assert finding.severity is severity
    [call] = finding.plan
    assert call.operation == "UpdateTrail" and call.params["Name"] == trail.name
    assert_reverts(trail, finding, replay)


SELECTORS = {
    # group: (declared advanced selectors, PutEventSelectors arguments, rule, severity)
    "management-events-excluded": (
        [], {"EventSelectors": [{"ReadWriteType": "ReadOnly", "IncludeManagementEvents": False,
                                 "DataResources": [{"Type": "AWS::S3::Object", "Values": []},
                                                   {"Type": "AWS::Lambda::Function", "Values": []}],
                                 "ExcludeManagementEventSources": []}]},
        "trail-management-events-excluded", Severity.CRITICAL),
    "data-events-added": (
        [], {"EventSelectors": [{"ReadWriteType": "All", "IncludeManagementEvents": True,
                                 "DataResources": [{"Type": "AWS::S3::Object", "Values": ["arn:aws:s3"]}],
                                 "ExcludeManagementEventSources": []}]},
        "trail-event-selectors-changed", Severity.HIGH),
    "advanced-management-selector-replaced": (
        [MANAGEMENT], {"AdvancedEventSelectors": [{"Name": "S3 only", "FieldSelectors": [
            {"Field": "eventCategory", "Equals": ["Data"]},
            {"Field": "resources.type", "Equals": ["AWS::S3::Object"]}]}]},
        "trail-management-events-excluded", Severity.CRITICAL),
}


def _recorded(value: Any) -> Any:
    """boto3 PascalCase arguments as CloudTrail records them (camelCase keys)."""
    if isinstance(value, dict):
        return {k[0].lower() + k[1:]: _recorded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_recorded(v) for v in value]
    return value


@pytest.mark.parametrize("group", list(SELECTORS))
def test_event_selector_group_drifts_and_reverts(env, group):
    declared_advanced, put, rule, severity = SELECTORS[group]
    trail = managed_trail(env, advanced_event_selector=declared_advanced)
    if declared_advanced:
        env.ct.put_event_selectors(TrailName=trail.name, AdvancedEventSelectors=[{
            "Name": "Management events",
            "FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}]}])
    env.ct.put_event_selectors(TrailName=trail.name, **put)
    replay = event("PutEventSelectors", {"trailName": trail.name, **_recorded(put)},
                   {"trailARN": trail.arn, **_recorded(put)})
    [finding] = trail.pipeline.process_event(replay)
    assert finding.status is Status.DRIFT and finding.severity is severity
    assert {c.rule for c in finding.changes} == {rule}
    assert [c.operation for c in finding.plan] == ["PutEventSelectors"]
    assert_reverts(trail, finding, replay)


def test_aws_default_event_selector_and_default_tags_are_not_drift(env):
    """AWS reports a default selector (all management events) for a trail whose state sets none."""
    trail = managed_trail(env)
    default = [{"ReadWriteType": "All", "IncludeManagementEvents": True, "DataResources": [],
                "ExcludeManagementEventSources": []}]
    env.ct.put_event_selectors(TrailName=trail.name, EventSelectors=default)
    replay = event("PutEventSelectors", {"trailName": trail.arn, "eventSelectors": _recorded(default)})
    [finding] = trail.pipeline.process_event(replay)
    assert finding.status is Status.IN_SYNC, finding.reason


def test_insight_selector_added_is_low_and_reverted(env):
    """Stubber, not moto: moto appends Insights selectors where AWS replaces them, so a revert could
    never be seen to work there. Every response below has the shape the CloudTrail API documents."""
    trail = managed_trail(env, insight_selector=[{"insight_type": "ApiCallRateInsight"}])
    client = env.session.client("cloudtrail", region_name=REGION)
    stub = Stubber(client)
    declared = [{"InsightType": "ApiCallRateInsight"}]
    both = [*declared, {"InsightType": "ApiErrorRateInsight"}]

    def reads(insights: list[dict[str, str]]) -> None:
        stub.add_response("get_trail", {"Trail": {
            "Name": trail.name, "S3BucketName": LOGS, "IncludeGlobalServiceEvents": True,
            "IsMultiRegionTrail": True,
            "HomeRegion": REGION, "TrailARN": trail.arn, "LogFileValidationEnabled": True,
            "CloudWatchLogsLogGroupArn": LOG_GROUP, "CloudWatchLogsRoleArn": LOG_ROLE, "KmsKeyId": KMS_KEY,
            "HasCustomEventSelectors": False, "HasInsightSelectors": True, "IsOrganizationTrail": False}},
            {"Name": trail.name})
        stub.add_response("get_trail_status", {"IsLogging": True}, {"Name": trail.name})
        stub.add_response("get_event_selectors", {"TrailARN": trail.arn, "EventSelectors": [
            {"ReadWriteType": "All", "IncludeManagementEvents": True, "DataResources": [],
             "ExcludeManagementEventSources": []}]}, {"TrailName": trail.name})
        stub.add_response("list_tags", {"ResourceTagList": [{"ResourceId": trail.arn, "TagsList": [
            {"Key": "Name", "Value": trail.name}, {"Key": "team", "Value": "security"}]}]},
            {"ResourceIdList": [trail.arn]})
        stub.add_response("get_insight_selectors", {"TrailARN": trail.arn, "InsightSelectors": insights},
                          {"TrailName": trail.name})

    reads(both)  # the event
    reads(both)  # compare-and-set before the revert
    stub.add_response("put_insight_selectors", {"TrailARN": trail.arn, "InsightSelectors": declared},
                      {"TrailName": trail.name, "InsightSelectors": declared})
    reads(declared)  # verification after the revert
    reads(declared)  # the replay
    pipeline = replace(trail.pipeline, contexts=lambda account, region: _Ctx(account, REGION, client))
    replay = event("PutInsightSelectors", {"trailName": trail.name, "insightSelectors": _recorded(both)})
    with stub:
        [finding] = pipeline.process_event(replay)
        assert [(c.path, c.live, c.severity, c.rule) for c in finding.changes] == [
            ("insight_selector", {"insight_type": "ApiErrorRateInsight"}, Severity.LOW,
             "trail-insights-added")]
        assert [(c.operation, c.params) for c in finding.plan] == [
            ("PutInsightSelectors", {"TrailName": trail.name, "InsightSelectors": declared})]
        assert_reverts(Trail(trail.name, trail.arn, pipeline), finding, replay)
        stub.assert_no_pending_responses()


@dataclass
class _Ctx:
    """A live context whose CloudTrail client is stubbed."""

    account: str | None
    region: str
    stubbed: Any

    def client(self, service: str) -> Any:
        assert service == "cloudtrail", service
        return self.stubbed


def test_tags_added_by_hand_are_low_and_removed(env):
    trail = managed_trail(env)
    env.ct.add_tags(ResourceId=trail.arn, TagsList=[{"Key": "owner", "Value": "mallory"}])
    replay = event("AddTags", {"resourceId": trail.arn, "tagsList": [{"key": "owner", "value": "mallory"}]})
    [finding] = trail.pipeline.process_event(replay)
    assert [(c.path, c.declared, c.live, c.severity) for c in finding.changes] == [
        ("tags.owner", None, "mallory", Severity.LOW)]
    assert [(c.operation, c.params) for c in finding.plan] == [
        ("RemoveTags", {"ResourceId": trail.arn, "TagsList": [{"Key": "owner"}]})]
    assert_reverts(trail, finding, replay)


def test_trail_started_where_the_state_keeps_it_off_is_reported_but_never_stopped(env):
    trail = managed_trail(env, logging=False)
    env.ct.start_logging(Name=trail.name)
    [finding] = trail.pipeline.process_event(event("StartLogging", {"name": trail.name}))
    assert [(c.path, c.severity) for c in finding.changes] == [("enable_logging", Severity.LOW)]
    assert "never stops a trail" in finding.changes[0].rule
    assert finding.plan == ()


def test_deleted_trail_is_deleted(env):
    trail = managed_trail(env)
    env.ct.delete_trail(Name=trail.name)
    [finding] = trail.pipeline.process_event(event("DeleteTrail", {"name": trail.name}))
    assert finding.status is Status.DELETED
    assert finding.resource.address == "module.audit.aws_cloudtrail.org"
