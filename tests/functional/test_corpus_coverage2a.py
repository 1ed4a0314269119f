"""Every corpus CloudTrail record of the Coverage II (a) services gets the verdict we expect.

The table below is the reviewed outcome for each covered record in ../shared/corpus/cloudtrail,
judged against every corpus Terraform state: failed calls are skipped, reboots/failovers/item
writes are skipped with a reason, a redacted id or a missing ``queueUrl`` is a clear error, and
everything else names the object it touched (none is managed by a corpus state, so: unmanaged).
Records of these services that no plugin claims (snapshots, DB security groups, activity streams)
are reported ``unsupported``, never silently dropped. Then, real corpus states: an event naming
each managed object resolves to its address (moto holds none of them, so the verdict is
``deleted``), including the provider-v5 DB instance whose ``id`` is the resource id.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chalicelib.models import Status
from chalicelib.resources.registry import default_registry, normalize_event_name
from chalicelib.state.index import StateIndex
from chalicelib.state.tfstate import parse_state
from tests.conftest import make_pipeline
from tests.fixtures_index import CORPUS, _record, corpus_files
from tests.harness.events import cloudtrail_event

MINE = ("aws_db_instance", "aws_rds_cluster", "aws_db_parameter_group", "aws_lambda_function",
        "aws_lambda_permission", "aws_lambda_function_url", "aws_dynamodb_table", "aws_sqs_queue",
        "aws_sqs_queue_policy", "aws_sns_topic", "aws_sns_topic_policy", "aws_sns_topic_subscription",
        "aws_cloudwatch_log_group")
SERVICES = ("rds", "lambda", "dynamodb", "sqs", "sns", "logs")
REGISTRY = default_registry()
COVERED = {(e.source, e.name) for t in MINE for e in REGISTRY.get(t).events}


def _key(path: Path) -> tuple[str, str]:
    rec = _record(json.loads(path.read_text()))
    return rec.get("eventSource", ""), normalize_event_name(rec.get("eventName", ""))


SERVICE_FILES = [p for p in corpus_files() if p.name.split("-", 1)[0] in SERVICES]
COVERED_FILES = [p for p in SERVICE_FILES if _key(p) in COVERED]
OTHER_FILES = [p for p in SERVICE_FILES if _key(p) not in COVERED]

EXPECTED: dict[str, tuple[str, str | None]] = {
    "dynamodb-BatchExecuteStatement-awsdocs-1.json": ("skipped", "Music"),
    "dynamodb-DeleteTable-awsdocs-1.json": ("unmanaged", "Music"),
    "dynamodb-ExecuteStatement-awsdocs-1.json": ("skipped", "Music"),
    "dynamodb-PutItem-awsdocs-1.json": ("skipped", "Music"),
    "dynamodb-TransactWriteItems-awsdocs-1.json": ("skipped", "Music"),
    "dynamodb-TransactWriteItems-awsdocs-2.json": ("skipped", None),
    "dynamodb-UpdateItem-awsdocs-1.json": ("skipped", None),
    "dynamodb-UpdateTable-awsdocs-1.json": ("unmanaged", "Music"),
    "lambda-AddPermission20150331-panther-1.json": ("unmanaged", "my-lambda-function"),
    "lambda-AddPermission20150331v2-panther-1.json": ("unmanaged", "my-lambda-function"),
    "lambda-AddPermission20150331v2-stratus-1.json": ("unmanaged", "stratus-red-team-backdoor-f-func"),
    "lambda-CreateFunction20150331-miaplatform-1.json": ("skipped", None),
    "lambda-DeleteFunction-panther-1.json": ("unmanaged", "basic-node-task"),
    "lambda-DeleteFunction-panther-2.json": ("unmanaged", "basic-node-task"),
    "lambda-DeleteFunction-panther-3.json": ("unmanaged", "basic-node-task"),
    "lambda-DeleteFunction-panther-4.json": ("unmanaged", "my-lambda-function"),
    "lambda-DeleteFunction20150331-miaplatform-1.json": ("unmanaged", "the-function-name"),
    "lambda-PublishVersion20150331-miaplatform-1.json": ("skipped", "the-function-name"),
    "lambda-RemovePermission-panther-1.json": ("unmanaged", "my-lambda-function"),
    "lambda-TagResource20170331v2-miaplatform-1.json": ("unmanaged", "the-function-name"),
    "lambda-UpdateFunctionCode20150331-panther-1.json": ("unmanaged", "my-lambda-function"),
    "lambda-UpdateFunctionCode20150331v2-miaplatform-1.json": ("unmanaged", "the-function-name"),
    "lambda-UpdateFunctionCode20150331v2-panther-1.json": ("unmanaged", "production-api"),
    "lambda-UpdateFunctionCode20150331v2-panther-2.json": ("unmanaged", "production-api"),
    "lambda-UpdateFunctionCode20150331v2-panther-3.json": ("unmanaged", "production-api"),
    "lambda-UpdateFunctionCode20150331v2-panther-4.json": ("unmanaged", "my-lambda-function"),
    "lambda-UpdateFunctionCode20150331v2-stratus-1.json":
        ("unmanaged", "stratus-red-team-olc-func-vayhjqkdav"),
    "lambda-UpdateFunctionConfiguration20150331v2-panther-1.json": ("unmanaged", "production-api"),
    "lambda-UpdateFunctionConfiguration20150331v2-panther-2.json": ("unmanaged", "my-lambda-function"),
    "lambda-UpdateFunctionConfiguration20150331v2-panther-3.json": ("unmanaged", "production-api"),
    "lambda-UpdateFunctionConfiguration20150331v2-panther-4.json": ("unmanaged", "production-api"),
    "lambda-UpdateFunctionConfiguration20150331v2-panther-5.json": ("unmanaged", "my-lambda-function"),
    "lambda-UpdateFunctionConfiguration20150331v2-stratus-1.json":
        ("unmanaged", "stratus-red-team-lambda-layer-simpleLambda"),
    "logs-CreateLogStream-panther-1.json": ("skipped", "/aws/lambda/panther-analysis-api"),
    "rds-CreateDBInstance-custodian-1.json": ("unmanaged", "onenessdb"),
    "rds-CreateDBInstance-panther-1.json": ("unmanaged", "test-instance"),
    "rds-CreateDBInstanceReadReplica-panther-1.json": ("unmanaged", "replica-instance"),
    "rds-DeleteDBCluster-panther-1.json": ("unmanaged", "aurora-cluster-prod"),
    "rds-DeleteDBCluster-streamalert-1.json": ("error", None),
    "rds-DeleteDBInstance-panther-1.json": ("unmanaged", "production-mysql-db"),
    "rds-DeleteDBInstance-panther-2.json": ("unmanaged", "customer-data-db"),
    "rds-DeleteDBInstance-panther-3.json": ("skipped", None),
    "rds-FailoverDBCluster-panther-1.json": ("skipped", "aurora-cluster-prod"),
    "rds-FailoverDBCluster-panther-2.json": ("skipped", None),
    "rds-ModifyDBCluster-panther-1.json": ("unmanaged", "aurora-cluster"),
    "rds-ModifyDBCluster-panther-2.json": ("unmanaged", "aurora-production"),
    "rds-ModifyDBCluster-panther-3.json": ("unmanaged", "aurora-cluster"),
    "rds-ModifyDBInstance-elastic-1.json": ("unmanaged", "test-cloudtrail-event-instance-31611"),
    "rds-ModifyDBInstance-panther-1.json": ("unmanaged", "production-mysql"),
    "rds-ModifyDBInstance-panther-10.json": ("skipped", None),
    "rds-ModifyDBInstance-panther-11.json": ("unmanaged", "my-database"),
    "rds-ModifyDBInstance-panther-12.json": ("unmanaged", "my-database"),
    "rds-ModifyDBInstance-panther-2.json": ("unmanaged", "customer-database"),
    "rds-ModifyDBInstance-panther-3.json": ("unmanaged", "production-db"),
    "rds-ModifyDBInstance-panther-4.json": ("unmanaged", "production-db"),
    "rds-ModifyDBInstance-panther-5.json": ("skipped", None),
    "rds-ModifyDBInstance-panther-6.json": ("unmanaged", "my-db"),
    "rds-ModifyDBInstance-panther-7.json": ("unmanaged", "production-db"),
    "rds-ModifyDBInstance-panther-8.json": ("unmanaged", "production-db"),
    "rds-ModifyDBInstance-panther-9.json": ("unmanaged", "production-db"),
    "rds-RebootDBCluster-panther-1.json": ("skipped", "aurora-cluster-prod"),
    "rds-RebootDBInstance-panther-1.json": ("skipped", "production-mysql"),
    "rds-RebootDBInstance-panther-2.json": ("skipped", None),
    "rds-RestoreDBInstanceFromDBSnapshot-panther-1.json": ("unmanaged", "test-instance"),
    "rds-RestoreDBInstanceFromDBSnapshot-panther-2.json": ("unmanaged", "test-instance"),
    "rds-StartDBInstance-panther-1.json": ("skipped", "dev-database"),
    "sns-CreateTopic-streamalert-1.json": ("unmanaged", "arn:aws:sns:us-east-1:123456789123:test"),
    "sns-SetTopicAttributes-streamalert-1.json": ("unmanaged", "arn:aws:sns:us-east-1:123456789123:test"),
    "sns-SetTopicAttributes-streamalert-2.json": ("unmanaged", "arn:aws:sns:us-east-1:123456789123:test"),
    "sqs-AddPermission-awsdocs-1.json":
        ("unmanaged", "https://sqs.us-east-2.amazon.com/123456789012/MyQueue"),
    "sqs-CreateQueue-awsdocs-1.json": ("unmanaged", "https://sqs.us-east-2.amazon.com/123456789012/MyQueue"),
    "sqs-DeleteQueue-awsdocs-1.json": ("unmanaged", "https://sqs.us-east-2.amazon.com/123456789012/MyQueue"),
    "sqs-RemovePermission-awsdocs-1.json":
        ("unmanaged", "https://sqs.us-east-2.amazon.com/123456789012/MyQueue"),
    "sqs-SetQueueAttributes-awsdocs-1.json":
        ("unmanaged", "https://sqs.us-east-2.amazon.com/123456789012/MyQueue"),
    "sqs-SetQueueAttributes-panther-1.json": ("error", None),
    "sqs-SetQueueAttributes-streamalert-1.json":
        ("unmanaged", "https://sqs.us-east-1.amazonaws.com/123456789123/tmp"),
}


@pytest.fixture(scope="module")
def corpus_pipeline(aws_module):
    docs = [parse_state(str(p), p.read_bytes()) for p in sorted((CORPUS / "tfstate").glob("*.json"))]
    pipeline = make_pipeline(aws_module, "")
    pipeline.index = StateIndex.from_docs(REGISTRY, docs)
    return pipeline


def test_the_table_covers_every_covered_corpus_record():
    assert len(COVERED_FILES) >= 70
    assert sorted(EXPECTED) == sorted(p.name for p in COVERED_FILES)


@pytest.mark.parametrize("path", COVERED_FILES, ids=lambda p: p.name)
def test_covered_corpus_record_gets_the_expected_verdict(corpus_pipeline, path: Path):
    findings = corpus_pipeline.process_payload(json.loads(path.read_text()))
    assert len(findings) == 1
    [finding] = findings
    assert finding.reason and "internal error" not in finding.reason, finding.reason
    got = (finding.status.value, finding.resource.id if finding.resource else None)
    assert got == EXPECTED[path.name], finding.reason


@pytest.mark.parametrize("path", OTHER_FILES, ids=lambda p: p.name)
def test_unclaimed_records_of_these_services_are_unsupported_or_skipped(corpus_pipeline, path: Path):
    findings = corpus_pipeline.process_payload(json.loads(path.read_text()))
    assert findings
    for f in findings:
        assert f.status in (Status.UNSUPPORTED, Status.SKIPPED), (f.status, f.reason)
        assert f.reason and "internal error" not in f.reason


def _managed_cases() -> list[tuple[str, dict, str]]:
    """(label, event in the state's own account and region, expected address)."""
    lam, rds, ddb = "lambda.amazonaws.com", "rds.amazonaws.com", "dynamodb.amazonaws.com"

    def ev(name: str, source: str, request: dict, account: str, region: str) -> dict:
        return cloudtrail_event(name, source, request, account=account, region=region)

    return [
        ("db instance, provider v5 id", ev("ModifyDBInstance", rds, {
            "dBInstanceIdentifier": "cloudzenia-db", "publiclyAccessible": True}, "122976268417",
            "ap-south-1"),
         "module.rds.aws_db_instance.db_instance"),
        ("db instance in nested modules", ev("ModifyDBInstance", rds,
                                             {"dBInstanceIdentifier": "Terraform-Test"},
                                             "694111956301", "ap-northeast-1"),
         "module.db.module.db_instance.aws_db_instance.this[0]"),
        ("parameter group", ev("ModifyDBParameterGroup", rds, {
            "dBParameterGroupName": "terraform-test-20200206121219468300000002"}, "694111956301",
            "ap-northeast-1"),
         "module.db.module.db_parameter_group.aws_db_parameter_group.this[0]"),
        ("function by ARN", ev("UpdateFunctionConfiguration20150331v2", lam, {
            "functionName": "arn:aws:lambda:ca-central-1:679451892136:function:triggerOtpLambda"},
            "679451892136", "ca-central-1"), "aws_lambda_function.trigger_otp_lambda"),
        ("alias permission", ev("AddPermission20150331v2", lam, {
            "functionName": "receiver_lambda", "qualifier": "lambda_alias", "statementId": "x"},
            "660847692645", "eu-west-2"), "aws_lambda_permission.allow_sns"),
        ("table by ARN", ev("TagResource", ddb, {
            "resourceArn": "arn:aws:dynamodb:us-east-1:211125457892:table/alasco-dynamodb"},
            "211125457892", "us-east-1"), "aws_dynamodb_table.terraform_locks"),
        ("queue", ev("SetQueueAttributes", "sqs.amazonaws.com", {
            "queueUrl": "https://sqs.us-east-1.amazonaws.com/026131848615/video-processing-queue",
            "attributes": {"VisibilityTimeout": "1"}}, "026131848615", "us-east-1"),
            "aws_sqs_queue.video_queue"),
        ("topic by subscription ARN", ev("Unsubscribe", "sns.amazonaws.com", {
            "subscriptionArn": "arn:aws:sns:ap-south-1:518102956141:user-updates-topic:"
                               "b3de7dea-1459-4f52-822e-c533d53e07c2"}, "518102956141", "ap-south-1"),
         "aws_sns_topic.user_updates"),
        ("log group", ev("PutRetentionPolicy", "logs.amazonaws.com", {
            "logGroupName": "/cloudzenia/microservice", "retentionInDays": 1}, "122976268417", "ap-south-1"),
         "module.ecs.aws_cloudwatch_log_group.ecs_logs"),
    ]


@pytest.mark.parametrize(("label", "event", "address"), _managed_cases(),
                         ids=[c[0] for c in _managed_cases()])
def test_events_on_real_corpus_state_objects_resolve_to_their_address(corpus_pipeline, label, event, address):
    [finding] = corpus_pipeline.process_event(event)
    assert finding.status is Status.DELETED, finding.reason  # moto holds none of these objects
    assert finding.resource.address == address


def test_every_corpus_state_object_of_these_types_declares_cleanly(corpus_pipeline):
    seen = set()
    for kind, oid, managed in corpus_pipeline.index.objects():
        if not any(r.type in MINE for r in managed):
            continue
        declared = corpus_pipeline.declared(kind, oid, managed)
        assert declared.model, (kind, oid)
        seen.update(r.type for r in managed)
    assert seen >= {"aws_db_instance", "aws_db_parameter_group", "aws_lambda_function",
                    "aws_lambda_permission",
                    "aws_dynamodb_table", "aws_sqs_queue", "aws_sqs_queue_policy", "aws_sns_topic",
                    "aws_sns_topic_subscription", "aws_cloudwatch_log_group"}
