"""DynamoDB tables end to end on moto: PITR, deletion protection, billing/capacity, TTL, streams, tags.

moto does not apply ``SSESpecification`` changes and never reports a table as ``DELETING``; those
cases use botocore's ``Stubber`` with responses shaped like real ``DescribeTable`` output.
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

DDB = "dynamodb.amazonaws.com"
REGION = "us-east-1"
TABLE_ARN = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/orders"
KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/11111111-2222-3333-4444-555555555555"


def table_attributes(**overrides: Any) -> dict[str, Any]:
    """An ``aws_dynamodb_table`` state entry (cf. the corpus CharlesGM / GomathiTechnologies states)."""
    attrs = {
        "arn": TABLE_ARN, "attribute": [{"name": "pk", "type": "S"}], "billing_mode": "PAY_PER_REQUEST",
        "deletion_protection_enabled": True, "global_secondary_index": [], "hash_key": "pk", "id": "orders",
        "import_table": [], "local_secondary_index": [], "name": "orders",
        "point_in_time_recovery": [{"enabled": True, "recovery_period_in_days": 35}], "range_key": None,
        "read_capacity": 0, "replica": [], "restore_date_time": None, "restore_source_name": None,
        "restore_source_table_arn": None, "restore_to_latest_time": None, "server_side_encryption": [],
        "stream_arn": "", "stream_enabled": False, "stream_label": "", "stream_view_type": "",
        "table_class": "STANDARD", "tags": {"team": "orders"}, "tags_all": {"team": "orders"},
        "timeouts": None,
        "ttl": [{"attribute_name": "", "enabled": False}], "write_capacity": 0,
    }
    attrs.update(overrides)
    return attrs


def create_table(ddb: Any, name: str = "orders", **kw: Any) -> None:
    params = {"BillingMode": "PAY_PER_REQUEST", **kw}
    ddb.create_table(TableName=name, AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}], DeletionProtectionEnabled=True,
                     Tags=[{"Key": "team", "Value": "orders"}], **params)
    ddb.update_continuous_backups(TableName=name, PointInTimeRecoverySpecification={
        "PointInTimeRecoveryEnabled": True})


def event(name: str, request: dict[str, Any], response: dict[str, Any] | None = None) -> dict[str, Any]:
    return cloudtrail_event(name, DDB, request, response)


@pytest.fixture
def table(aws):
    ddb, s3 = aws.client("dynamodb"), aws.client("s3")
    create_table(ddb)
    s3.create_bucket(Bucket="tfstate")
    StateBuilder().add("aws_dynamodb_table", "orders", table_attributes(), module="module.orders").put(
        s3, "tfstate", "prod/orders.tfstate")
    return make_pipeline(aws, "s3://tfstate/prod/"), ddb


def test_point_in_time_recovery_off_is_critical_and_reverts(table):
    pipeline, ddb = table
    ddb.update_continuous_backups(TableName="orders", PointInTimeRecoverySpecification={
        "PointInTimeRecoveryEnabled": False})
    ev = event("UpdateContinuousBackups", {"tableName": "orders", "pointInTimeRecoverySpecification": {
        "pointInTimeRecoveryEnabled": False}})
    [finding] = pipeline.process_event(ev)
    assert finding.resource.address == "module.orders.aws_dynamodb_table.orders"
    assert [(c.path, c.declared, c.live, c.severity, c.rule) for c in finding.changes] == [
        ("point_in_time_recovery", True, False, Severity.CRITICAL, "dynamodb-point-in-time-recovery-off")]
    assert [c.operation for c in finding.plan] == ["UpdateContinuousBackups"]
    assert pipeline.revert(finding).status is RemediationStatus.REVERTED
    assert pipeline.process_event(ev)[0].status is Status.IN_SYNC


def test_deletion_protection_off_is_critical_and_reverts(table):
    pipeline, ddb = table
    ddb.update_table(TableName="orders", DeletionProtectionEnabled=False)
    ev = event("UpdateTable", {"tableName": "orders", "deletionProtectionEnabled": False})
    [finding] = pipeline.process_event(ev)
    assert [(c.path, c.live, c.severity) for c in finding.changes] == [
        ("deletion_protection_enabled", False, Severity.CRITICAL)]
    assert pipeline.revert(finding).status is RemediationStatus.REVERTED
    assert ddb.describe_table(TableName="orders")["Table"]["DeletionProtectionEnabled"] is True


def test_switch_to_provisioned_is_medium_and_reverts_to_on_demand(table):
    pipeline, ddb = table
    ddb.update_table(TableName="orders", BillingMode="PROVISIONED",
                     ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1})
    ev = event("UpdateTable", {"tableName": "orders", "billingMode": "PROVISIONED"})
    [finding] = pipeline.process_event(ev)
    assert [(c.path, c.declared, c.live, c.severity) for c in finding.changes] == [
        ("billing_mode", "PAY_PER_REQUEST", "PROVISIONED", Severity.MEDIUM)]
    [call] = finding.plan
    assert call.params == {"TableName": "orders", "BillingMode": "PAY_PER_REQUEST"}
    assert pipeline.revert(finding).status is RemediationStatus.REVERTED
    assert pipeline.process_event(ev)[0].status is Status.IN_SYNC


def test_ttl_and_stream_turned_on_are_drift_but_two_table_updates_are_not_reverted(table):
    pipeline, ddb = table
    ddb.update_time_to_live(TableName="orders", TimeToLiveSpecification={"Enabled": True,
                                                                         "AttributeName": "exp"})
    ev = event("UpdateTimeToLive", {"tableName": "orders", "timeToLiveSpecification": {
        "enabled": True, "attributeName": "exp"}})
    [finding] = pipeline.process_event(ev)
    assert [(c.path, c.declared, c.live) for c in finding.changes] == [
        ("ttl.attribute_name", "", "exp"), ("ttl.enabled", False, True)]
    [call] = finding.plan
    assert call.params == {"TableName": "orders", "TimeToLiveSpecification": {"Enabled": False,
                                                                              "AttributeName": "exp"}}
    assert pipeline.revert(finding).status is RemediationStatus.REVERTED
    assert pipeline.process_event(ev)[0].status is Status.IN_SYNC
    ddb.update_table(TableName="orders", StreamSpecification={"StreamEnabled": True,
                                                              "StreamViewType": "NEW_IMAGE"})
    [stream] = pipeline.process_event(event("UpdateTable", {"tableName": "orders"}))
    assert [(c.path, c.declared, c.live) for c in stream.changes] == [("stream_enabled", False, True)]
    assert [c.params for c in stream.plan] == [{"TableName": "orders",
                                                "StreamSpecification": {"StreamEnabled": False}}]
    ddb.update_table(TableName="orders", BillingMode="PROVISIONED",
                     ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1})
    [both] = pipeline.process_event(event("UpdateTable", {"tableName": "orders"}))
    assert {c.path for c in both.changes} == {"billing_mode", "stream_enabled"}
    assert both.plan == ()  # DynamoDB applies one table update at a time


def test_provisioned_capacity_drift_unless_autoscaled(aws):
    ddb, s3, aas = aws.client("dynamodb"), aws.client("s3"), aws.client("application-autoscaling")
    throughput = {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
    for name in ("fixed", "scaled"):
        create_table(ddb, name, BillingMode="PROVISIONED", ProvisionedThroughput=throughput)
    aas.register_scalable_target(ServiceNamespace="dynamodb", ResourceId="table/scaled", MinCapacity=5,
                                 MaxCapacity=100, ScalableDimension="dynamodb:table:ReadCapacityUnits")
    s3.create_bucket(Bucket="tfstate")
    state = StateBuilder()
    for name in ("fixed", "scaled"):
        state.add("aws_dynamodb_table", name, table_attributes(
            name=name, id=name, arn=TABLE_ARN.replace("orders", name), billing_mode="PROVISIONED",
            read_capacity=5, write_capacity=5))
    state.put(s3, "tfstate", "prod/tables.tfstate")
    pipeline = make_pipeline(aws, "s3://tfstate/prod/")
    for name in ("fixed", "scaled"):
        ddb.update_table(TableName=name, ProvisionedThroughput={"ReadCapacityUnits": 50,
                                                                "WriteCapacityUnits": 5})
    [fixed] = pipeline.process_event(event("UpdateTable", {"tableName": "fixed"}))
    assert [(c.path, c.declared, c.live) for c in fixed.changes] == [("read_capacity", 5, 50)]
    assert fixed.plan[0].params["ProvisionedThroughput"] == throughput
    assert pipeline.revert(fixed).status is RemediationStatus.REVERTED
    [scaled] = pipeline.process_event(event("UpdateTable", {"tableName": "scaled"}))
    assert scaled.status is Status.IN_SYNC, scaled.reason


def test_tags_by_table_arn_are_low_and_revert(table):
    pipeline, ddb = table
    ddb.tag_resource(ResourceArn=TABLE_ARN, Tags=[{"Key": "team", "Value": "intruder"},
                                                  {"Key": "cost-center", "Value": "x"}])
    ev = event("TagResource", {"resourceArn": TABLE_ARN, "tags": [{"key": "team", "value": "intruder"}]})
    [finding] = pipeline.process_event(ev)
    assert [(c.path, c.live, c.severity) for c in finding.changes] == [
        ("tags.cost-center", "x", Severity.LOW), ("tags.team", "intruder", Severity.LOW)]
    assert [c.operation for c in finding.plan] == ["TagResource", "UntagResource"]
    assert pipeline.revert(finding).status is RemediationStatus.REVERTED
    assert pipeline.process_event(ev)[0].status is Status.IN_SYNC


def test_not_drift_item_writes_same_values_and_unmanaged(table):
    pipeline, ddb = table
    ddb.put_item(TableName="orders", Item={"pk": {"S": "1"}})
    [put] = pipeline.process_event(event("PutItem", {"tableName": "orders", "key": {"pk": "1"}}))
    assert put.status is Status.SKIPPED and "does not change declared attributes" in put.reason
    [same] = pipeline.process_event(event("UpdateTable", {"tableName": "orders",
                                                          "deletionProtectionEnabled": True}))
    assert same.status is Status.IN_SYNC
    create_table(ddb, "scratch")
    [other] = pipeline.process_event(event("UpdateTable", {"tableName": "scratch"}))
    assert other.status is Status.UNMANAGED


def test_delete_table_is_deleted(table):
    pipeline, ddb = table
    ddb.update_table(TableName="orders", DeletionProtectionEnabled=False)
    ddb.delete_table(TableName="orders")
    [finding] = pipeline.process_event(event("DeleteTable", {"tableName": "orders"}))
    assert finding.status is Status.DELETED


# --- Stubber: what moto does not model ------------------------------------------------------------------
def stub_pipeline(state: StateBuilder) -> tuple[Pipeline, Stubber]:
    factory = ClientFactory(session_factory=lambda: boto3.session.Session(region_name=REGION),
                            default_region=REGION)
    doc = parse_state("s3://tfstate/prod/orders.tfstate", state.json())
    pipeline = Pipeline(default_registry(), StateIndex.from_docs(default_registry(), [doc]), factory.context)
    stub = Stubber(factory.client("dynamodb", REGION))
    stub.activate()
    return pipeline, stub


def described(**overrides: Any) -> dict[str, Any]:
    table = {"TableName": "orders", "TableStatus": "ACTIVE", "TableArn": TABLE_ARN, "ItemCount": 0,
             "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
             "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
             "BillingModeSummary": {"BillingMode": "PAY_PER_REQUEST"},
             "DeletionProtectionEnabled": True,
             "SSEDescription": {"Status": "ENABLED", "SSEType": "KMS",
                                "KMSMasterKeyArn": KEY}}
    table.update(overrides)
    return {"Table": table}


def test_encryption_back_to_aws_owned_key_is_high(aws):
    """Stubber (moto ignores ``SSESpecification`` updates): the table declared KMS encryption with a
    customer key; live has fallen back to the AWS-owned key (no ``SSEDescription``)."""
    key = KEY
    state = StateBuilder().add("aws_dynamodb_table", "orders", table_attributes(
        server_side_encryption=[{"enabled": True, "kms_key_arn": key}]))
    pipeline, stub = stub_pipeline(state)
    table = described()
    del table["Table"]["SSEDescription"]
    stub.add_response("describe_table", table, {"TableName": "orders"})
    stub.add_response("describe_continuous_backups", {"ContinuousBackupsDescription": {
        "ContinuousBackupsStatus": "ENABLED",
        "PointInTimeRecoveryDescription": {"PointInTimeRecoveryStatus": "ENABLED"}}},
        {"TableName": "orders"})
    stub.add_response("describe_time_to_live", {"TimeToLiveDescription": {"TimeToLiveStatus": "DISABLED"}},
                      {"TableName": "orders"})
    stub.add_response("list_tags_of_resource", {"Tags": [{"Key": "team", "Value": "orders"}]},
                      {"ResourceArn": TABLE_ARN})
    [finding] = pipeline.process_event(event("UpdateTable", {"tableName": "orders", "sSESpecification": {
        "enabled": False}}))
    assert [(c.path, c.declared, c.live, c.severity) for c in finding.changes] == [
        ("server_side_encryption.enabled", True, False, Severity.HIGH),
        ("server_side_encryption.kms_key_arn", key, None, Severity.HIGH)]
    [call] = finding.plan
    assert call.params == {"TableName": "orders", "SSESpecification": {"Enabled": True, "SSEType": "KMS",
                                                                       "KMSMasterKeyId": key}}


def test_table_in_deleting_status_is_deleted(aws):
    """Stubber: right after ``DeleteTable`` AWS still describes the table, as ``DELETING``."""
    pipeline, stub = stub_pipeline(StateBuilder().add("aws_dynamodb_table", "orders", table_attributes()))
    stub.add_response("describe_table", described(TableStatus="DELETING"), {"TableName": "orders"})
    [finding] = pipeline.process_event(event("DeleteTable", {"tableName": "orders"}))
    assert finding.status is Status.DELETED
