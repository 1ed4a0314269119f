"""CloudWatch Logs groups end to end: retention and tags on moto, KMS association with Stubber.

moto does not implement ``AssociateKmsKey`` / ``DisassociateKmsKey``; the encryption tests use
botocore's ``Stubber`` with ``DescribeLogGroups`` responses shaped like real ones.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from chalicelib.aws import ClientFactory
from chalicelib.models import RemediationStatus, Severity, Status
from chalicelib.pipeline import Pipeline
from chalicelib.resources.registry import default_registry
from chalicelib.state.index import StateIndex
from chalicelib.state.tfstate import parse_state
from tests.conftest import make_pipeline
from tests.harness.events import ACCOUNT, cloudtrail_event
from tests.harness.tfstate import StateBuilder

LOGS = "logs.amazonaws.com"
REGION = "us-east-1"
GROUP = "/aws/lambda/orders-api"
GROUP_ARN = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{GROUP}"
KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def group_attributes(**overrides: Any) -> dict[str, Any]:
    """An ``aws_cloudwatch_log_group`` state entry (cf. the corpus rajeshgattu96 state)."""
    attrs = {"arn": GROUP_ARN, "id": GROUP, "kms_key_id": "", "log_group_class": "STANDARD", "name": GROUP,
             "name_prefix": "", "retention_in_days": 30, "skip_destroy": False, "tags": None,
             "tags_all": {"team": "orders"}}
    attrs.update(overrides)
    return attrs


def event(name: str, request: dict[str, Any]) -> dict[str, Any]:
    return cloudtrail_event(name, LOGS, request)


@pytest.fixture
def group(aws):
    logs, s3 = aws.client("logs"), aws.client("s3")
    logs.create_log_group(logGroupName=GROUP, tags={"team": "orders"})
    logs.put_retention_policy(logGroupName=GROUP, retentionInDays=30)
    s3.create_bucket(Bucket="tfstate")
    StateBuilder().add("aws_cloudwatch_log_group", "api", group_attributes()).put(s3, "tfstate",
                                                                                  "prod/logs.tfstate")
    return make_pipeline(aws, "s3://tfstate/prod/"), logs


def test_retention_cut_is_medium_and_reverts(group):
    pipeline, logs = group
    logs.put_retention_policy(logGroupName=GROUP, retentionInDays=1)
    ev = event("PutRetentionPolicy", {"logGroupName": GROUP, "retentionInDays": 1})
    [finding] = pipeline.process_event(ev)
    assert [(c.path, c.declared, c.live, c.severity) for c in finding.changes] == [
        ("retention_in_days", 30, 1, Severity.MEDIUM)]
    assert [(c.operation, c.params) for c in finding.plan] == [
        ("PutRetentionPolicy", {"logGroupName": GROUP, "retentionInDays": 30})]
    assert pipeline.revert(finding).status is RemediationStatus.REVERTED
    assert pipeline.process_event(ev)[0].status is Status.IN_SYNC


def test_retention_removed_is_drift_and_reverts(group):
    pipeline, logs = group
    logs.delete_retention_policy(logGroupName=GROUP)
    ev = event("DeleteRetentionPolicy", {"logGroupName": GROUP})
    [finding] = pipeline.process_event(ev)
    assert [(c.path, c.declared, c.live) for c in finding.changes] == [("retention_in_days", 30, 0)]
    assert pipeline.revert(finding).status is RemediationStatus.REVERTED
    assert logs.describe_log_groups(logGroupNamePrefix=GROUP)["logGroups"][0]["retentionInDays"] == 30


def test_tags_by_arn_are_low_and_revert(group):
    pipeline, logs = group
    logs.tag_resource(resourceArn=GROUP_ARN, tags={"team": "intruder"})
    ev = event("TagResource", {"resourceArn": GROUP_ARN, "tags": {"team": "intruder"}})
    [finding] = pipeline.process_event(ev)
    assert finding.resource.id == GROUP
    assert [(c.path, c.live, c.severity) for c in finding.changes] == [("tags.team", "intruder",
                                                                        Severity.LOW)]
    assert pipeline.revert(finding).status is RemediationStatus.REVERTED
    assert pipeline.process_event(ev)[0].status is Status.IN_SYNC


def test_log_streams_are_skipped_unmanaged_and_deleted(group):
    pipeline, logs = group
    [stream] = pipeline.process_event(event("CreateLogStream", {"logGroupName": GROUP,
                                                                "logStreamName": "2024/05/02/[$LATEST]abc"}))
    assert stream.status is Status.SKIPPED
    logs.create_log_group(logGroupName="/scratch")
    assert pipeline.process_event(event("CreateLogGroup",
                                        {"logGroupName": "/scratch"}))[0].status is Status.UNMANAGED
    # a prefix match is not the group: /aws/lambda/orders-api-v2 must not stand in for it
    logs.create_log_group(logGroupName=GROUP + "-v2")
    logs.delete_log_group(logGroupName=GROUP)
    [deleted] = pipeline.process_event(event("DeleteLogGroup", {"logGroupName": GROUP}))
    assert deleted.status is Status.DELETED and deleted.resource.address == "aws_cloudwatch_log_group.api"


# --- Stubber: KMS association (moto has none) -------------------------------------------------------------
def stub_pipeline(state: StateBuilder) -> tuple[Pipeline, Stubber]:
    factory = ClientFactory(session_factory=lambda: boto3.session.Session(region_name=REGION),
                            default_region=REGION)
    doc = parse_state("s3://tfstate/prod/logs.tfstate", state.json())
    pipeline = Pipeline(default_registry(), StateIndex.from_docs(default_registry(), [doc]), factory.context)
    stub = Stubber(factory.client("logs", REGION))
    stub.activate()
    return pipeline, stub


def reads(stub: Stubber, kms: str | None) -> None:
    group: dict[str, Any] = {"logGroupName": GROUP, "creationTime": 1714644030000, "retentionInDays": 30,
                             "metricFilterCount": 0, "arn": GROUP_ARN + ":*", "storedBytes": 0,
                             "logGroupClass": "STANDARD", "logGroupArn": GROUP_ARN}
    if kms:
        group["kmsKeyId"] = kms
    stub.add_response("describe_log_groups", {"logGroups": [group]}, {"logGroupNamePrefix": GROUP})
    stub.add_response("list_tags_for_resource", {"tags": {"team": "orders"}}, {"resourceArn": GROUP_ARN})


def test_kms_key_removed_is_high_and_reassociated(aws):
    """Stubber: the declared key was disassociated in the console."""
    pipeline, stub = stub_pipeline(StateBuilder().add("aws_cloudwatch_log_group", "api",
                                                      group_attributes(kms_key_id=KEY)))
    reads(stub, None)
    [finding] = pipeline.process_event(event("DisassociateKmsKey", {"logGroupName": GROUP}))
    assert [(c.path, c.declared, c.live, c.severity, c.rule) for c in finding.changes] == [
        ("kms_key_id", KEY, None, Severity.HIGH, "logs-encryption-removed")]
    [call] = finding.plan
    assert (call.operation, call.params) == ("AssociateKmsKey", {"logGroupName": GROUP, "kmsKeyId": KEY})
    reads(stub, None)
    stub.add_response("associate_kms_key", {}, call.params)
    reads(stub, KEY)
    assert pipeline.revert(finding).status is RemediationStatus.REVERTED
    stub.assert_no_pending_responses()


def test_undeclared_kms_key_is_high_and_disassociated(aws):
    """Stubber: someone encrypted the group with their own key (they could then lock readers out)."""
    pipeline, stub = stub_pipeline(StateBuilder().add("aws_cloudwatch_log_group", "api", group_attributes()))
    reads(stub, KEY)
    [finding] = pipeline.process_event(event("AssociateKmsKey", {"logGroupName": GROUP, "kmsKeyId": KEY}))
    assert [(c.path, c.declared, c.live, c.rule) for c in finding.changes] == [
        ("kms_key_id", None, KEY, "logs-encryption-changed")]
    assert [(c.operation, c.params) for c in finding.plan] == [("DisassociateKmsKey",
                                                                {"logGroupName": GROUP})]
