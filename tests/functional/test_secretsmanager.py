"""Secrets Manager (aws_secretsmanager_secret) end to end through the pipeline, on moto.

Given a secret and a state written with the provider's real attribute names (the corpus's
``aws_secretsmanager_secret``: id = full ARN, ``policy`` optional+computed, ``kms_key_id`` ""), when a
console-style change is made with boto3 and the matching CloudTrail event is replayed, then the
finding names exactly the changed metadata with the right severity and a revert restores it.

Secret values are never read, compared or shown: every Secrets Manager call the pipeline makes is
recorded and ``GetSecretValue`` must never be among them; a value in an event's request (un-redacted,
as a misconfigured trail or a test might carry it) never reaches a finding.

Rotation on this type exists only in provider v3/v4 states; moto's ``RotateSecret`` tries to run the
rotation Lambda through Docker, so that test uses botocore's Stubber with AWS-shaped responses.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from chalicelib.models import Finding, RemediationStatus, Severity, Status
from chalicelib.pipeline import Pipeline
from chalicelib.resources.registry import default_registry
from chalicelib.state.index import StateIndex
from chalicelib.state.tfstate import parse_state
from tests.conftest import make_pipeline
from tests.harness.events import cloudtrail_event
from tests.harness.tfstate import StateBuilder

SM = "secretsmanager.amazonaws.com"
STATE_BUCKET = "driftwarden-secrets-states"
ACCOUNT = "123456789012"
SECRET_VALUE = "s3cr3t-Hunter2-never-shown"


@dataclass
class Secret:
    session: boto3.session.Session
    sm: Any
    s3: Any
    name: str
    arn: str
    calls: list[str]

    def pipeline(self, state: StateBuilder) -> Pipeline:
        prefix = f"sm-{uuid.uuid4().hex[:10]}/"
        state.put(self.s3, STATE_BUCKET, f"{prefix}terraform.tfstate")
        return make_pipeline(self.session, f"s3://{STATE_BUCKET}/{prefix}")

    def event(self, name: str, request: dict[str, Any], *, by_name: bool = True,
              response: dict[str, Any] | None = None) -> dict[str, Any]:
        """CloudTrail names the secret as the caller did and answers with the full ARN."""
        return cloudtrail_event(name, SM, {"secretId": self.name if by_name else self.arn, **request},
                                {"arn": self.arn, "name": self.name} if response is None else response)


@pytest.fixture(scope="module")
def account(aws_module: boto3.session.Session) -> Iterator[tuple[boto3.session.Session, list[str]]]:
    """The module's moto account, with every Secrets Manager operation any client makes recorded."""
    calls: list[str] = []
    aws_module.events.register("before-call.secrets-manager",
                               lambda model, **_: calls.append(model.name))
    aws_module.client("s3").create_bucket(Bucket=STATE_BUCKET)
    yield aws_module, calls


@pytest.fixture
def secret(account: tuple[boto3.session.Session, list[str]]) -> Iterator[Secret]:
    session, calls = account
    sm = session.client("secretsmanager")
    name = f"prod/db-{uuid.uuid4().hex[:6]}/password"
    made = sm.create_secret(Name=name, Description="database password", SecretString=SECRET_VALUE,
                            Tags=[{"Key": "team", "Value": "data"}, {"Key": "env", "Value": "prod"}])
    yield Secret(session, sm, session.client("s3"), name, made["ARN"], calls)
    assert "GetSecretValue" not in calls, "a secret value was read"


# --- state shapes (provider attribute names, as in ../shared/corpus/tfstate) ----------------------
def secret_state(secret: Secret, *, policy: dict[str, Any] | None = None, **legacy: Any) -> dict[str, Any]:
    return {
        "arn": secret.arn, "description": "database password", "force_overwrite_replica_secret": False,
        "id": secret.arn, "kms_key_id": "", "name": secret.name, "name_prefix": "",
        "policy": json.dumps(policy) if policy else "", "recovery_window_in_days": 30, "region": "us-east-1",
        "replica": [], "tags": {"team": "data"}, "tags_all": {"env": "prod", "team": "data"}, **legacy,
    }


def read_policy(secret: Secret, *, principal: Any = None) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{
        "Sid": "AppRead", "Effect": "Allow",
        "Principal": principal or {"AWS": f"arn:aws:iam::{ACCOUNT}:role/app"},
        "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"], "Resource": "*"}]}


def only(findings: list[Finding]) -> Finding:
    assert len(findings) == 1, findings
    return findings[0]


def changes(finding: Finding) -> list[tuple[str, Any, Any]]:
    return [(c.path, c.declared, c.live) for c in finding.changes]


def revert_and_replay(pipeline: Pipeline, finding: Finding, event: dict[str, Any]) -> None:
    plugin = default_registry().get("aws_secretsmanager_secret")
    assert all(f"{c.service}:{c.operation}" in plugin.revert_permissions for c in finding.plan), finding.plan
    result = pipeline.revert(finding)
    assert result.status is RemediationStatus.REVERTED, result.reason
    again = only(pipeline.process_event(event))
    assert again.status is Status.IN_SYNC, (again.reason, changes(again))


# === metadata ===================================================================================
def test_description_change_is_low_reverted_and_no_value_is_read_or_shown(secret: Secret) -> None:
    pipeline = secret.pipeline(StateBuilder().add("aws_secretsmanager_secret", "db", secret_state(secret),
                                                  module="module.db_secret"))
    secret.sm.update_secret(SecretId=secret.name, Description="rotated by hand", SecretString="new-value-xyz")
    event = secret.event("UpdateSecret", {"description": "rotated by hand", "secretString": SECRET_VALUE})
    finding = only(pipeline.process_event(event))
    assert finding.status is Status.DRIFT and finding.severity is Severity.LOW
    assert finding.resource.address == "module.db_secret.aws_secretsmanager_secret.db"
    assert changes(finding) == [("description", "database password", "rotated by hand")]
    [call] = finding.plan
    assert call.params == {"SecretId": secret.arn, "Description": "database password"}
    shown = json.dumps(finding.to_dict())
    assert SECRET_VALUE not in shown and "new-value-xyz" not in shown
    revert_and_replay(pipeline, finding, event)
    assert "DescribeSecret" in secret.calls  # the recorder sees the pipeline's calls
    assert set(secret.calls) <= {"CreateSecret", "UpdateSecret", "DescribeSecret", "GetResourcePolicy"}


def test_kms_key_change_is_high_and_reverted_to_the_default_key(secret: Secret) -> None:
    pipeline = secret.pipeline(StateBuilder().add("aws_secretsmanager_secret", "db", secret_state(secret)))
    key = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    secret.sm.update_secret(SecretId=secret.arn, KmsKeyId=key)
    event = secret.event("UpdateSecret", {"kmsKeyId": key}, by_name=False)
    finding = only(pipeline.process_event(event))
    assert finding.severity is Severity.HIGH and "encryption-key-changed" in finding.reason
    assert changes(finding) == [("kms_key_id", "", key)]
    assert finding.plan[0].params == {"SecretId": secret.arn, "KmsKeyId": "alias/aws/secretsmanager"}
    revert_and_replay(pipeline, finding, event)


def test_tags_default_tags_are_not_drift_and_tag_drift_is_reverted(secret: Secret) -> None:
    pipeline = secret.pipeline(StateBuilder().add("aws_secretsmanager_secret", "db", secret_state(secret)))
    same = secret.event("TagResource", {"tags": [{"key": "env", "value": "prod"}]}, by_name=False,
                        response={})
    assert only(pipeline.process_event(same)).status is Status.IN_SYNC
    secret.sm.untag_resource(SecretId=secret.arn, TagKeys=["team"])
    event = secret.event("UntagResource", {"tagKeys": ["team"]}, by_name=False, response={})
    finding = only(pipeline.process_event(event))
    assert finding.severity is Severity.LOW and changes(finding) == [("tags.team", "data", None)]
    assert [c.operation for c in finding.plan] == ["TagResource"]
    revert_and_replay(pipeline, finding, event)


# === resource policy ============================================================================
def test_public_resource_policy_is_critical_and_reverted(secret: Secret) -> None:
    declared = read_policy(secret)
    secret.sm.put_resource_policy(SecretId=secret.arn, ResourcePolicy=json.dumps(declared))
    pipeline = secret.pipeline(StateBuilder().add("aws_secretsmanager_secret", "db",
                                                  secret_state(secret, policy=declared)))
    public = read_policy(secret, principal="*")
    secret.sm.put_resource_policy(SecretId=secret.name, ResourcePolicy=json.dumps(public))
    event = secret.event("PutResourcePolicy", {"resourcePolicy": json.dumps(public)})
    finding = only(pipeline.process_event(event))
    assert finding.status is Status.DRIFT and finding.severity is Severity.CRITICAL
    assert "policy-grants-public" in finding.reason and [c.path for c in finding.changes] == ["policy"]
    assert [c.operation for c in finding.plan] == ["PutResourcePolicy"]
    revert_and_replay(pipeline, finding, event)


def test_conditioned_wildcard_and_reordered_policy_are_not_critical(secret: Secret) -> None:
    declared = read_policy(secret)
    secret.sm.put_resource_policy(SecretId=secret.arn, ResourcePolicy=json.dumps(declared))
    pipeline = secret.pipeline(StateBuilder().add("aws_secretsmanager_secret", "db",
                                                  secret_state(secret, policy=declared)))
    stmt = declared["Statement"][0]
    reordered = {"Statement": [{**stmt, "Action": list(reversed(stmt["Action"]))}], "Version": "2012-10-17"}
    secret.sm.put_resource_policy(SecretId=secret.arn, ResourcePolicy=json.dumps(reordered, indent=2))
    event = secret.event("PutResourcePolicy", {"resourcePolicy": json.dumps(reordered)})
    assert only(pipeline.process_event(event)).status is Status.IN_SYNC
    org_only = read_policy(secret, principal="*")
    org_only["Statement"][0]["Condition"] = {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}
    secret.sm.put_resource_policy(SecretId=secret.arn, ResourcePolicy=json.dumps(org_only))
    finding = only(pipeline.process_event(event))
    assert finding.severity is Severity.HIGH and "resource-policy-changed" in finding.reason


def test_deleted_resource_policy_is_drift_and_reverted(secret: Secret) -> None:
    declared = read_policy(secret)
    secret.sm.put_resource_policy(SecretId=secret.arn, ResourcePolicy=json.dumps(declared))
    pipeline = secret.pipeline(StateBuilder().add("aws_secretsmanager_secret", "db",
                                                  secret_state(secret, policy=declared)))
    secret.sm.delete_resource_policy(SecretId=secret.name)
    event = secret.event("DeleteResourcePolicy", {})
    finding = only(pipeline.process_event(event))
    assert finding.severity is Severity.MEDIUM
    assert [(c.path, c.live) for c in finding.changes] == [("policy", None)]
    revert_and_replay(pipeline, finding, event)


# === ids, values, lifecycle =====================================================================
def test_ids_names_arns_and_unresolvable_names(secret: Secret) -> None:
    pipeline = secret.pipeline(StateBuilder().add("aws_secretsmanager_secret", "db", secret_state(secret)))
    by_name = only(pipeline.process_event(secret.event("UpdateSecret", {"description": "database password"})))
    assert by_name.status is Status.IN_SYNC and by_name.resource.id == secret.arn
    # CloudTrail's other spelling of the response key
    spelled = only(pipeline.process_event(secret.event(
        "UpdateSecret", {}, response={"aRN": secret.arn, "name": secret.name})))
    assert spelled.resource.id == secret.arn
    unresolvable = only(pipeline.process_event(
        secret.event("UpdateSecret", {"description": "x"}, response={})))
    assert unresolvable.status is Status.ERROR and "no resource id" in unresolvable.reason


def test_secret_value_writes_are_skipped_and_create_delete_are_judged(secret: Secret) -> None:
    pipeline = secret.pipeline(StateBuilder().add("aws_secretsmanager_secret", "db", secret_state(secret)))
    secret.sm.put_secret_value(SecretId=secret.arn, SecretString="another")
    put = only(pipeline.process_event(secret.event(
        "PutSecretValue", {"secretString": "HIDDEN_DUE_TO_SECURITY_REASONS"})))
    assert put.status is Status.SKIPPED and put.resource.id == secret.arn
    other = secret.sm.create_secret(Name=f"hand-made-{uuid.uuid4().hex[:6]}", SecretString="x")
    created = only(pipeline.process_event(cloudtrail_event("CreateSecret", SM, {"name": other["Name"]},
                                                           {"arn": other["ARN"], "name": other["Name"]})))
    assert created.status is Status.UNMANAGED and created.resource.id == other["ARN"]
    secret.sm.delete_secret(SecretId=secret.arn, RecoveryWindowInDays=7)
    deleted = only(pipeline.process_event(secret.event("DeleteSecret", {"recoveryWindowInDays": 7})))
    assert deleted.status is Status.DELETED and "no longer exists" in deleted.reason


# === legacy rotation (Stubber) ==================================================================
class _Ctx:
    def __init__(self, client: Any) -> None:
        self.client_ = client
        self.account, self.region = ACCOUNT, "us-east-1"

    def client(self, service: str) -> Any:
        assert service == "secretsmanager", service
        return self.client_


def test_rotation_cancelled_on_a_v4_state_is_high_and_reverted_without_rotating() -> None:
    """Stubber with AWS-shaped DescribeSecret/GetResourcePolicy/RotateSecret responses."""
    arn = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:legacy/api-key-Ab12Cd"
    fn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:rotate-api-key"
    state = StateBuilder().add("aws_secretsmanager_secret", "api", {
        "arn": arn, "description": "", "id": arn, "kms_key_id": "", "name": "legacy/api-key",
        "name_prefix": None, "policy": None, "recovery_window_in_days": 30, "rotation_enabled": True,
        "rotation_lambda_arn": fn,
        "rotation_rules": [{"automatically_after_days": 30}], "tags": {}, "tags_all": {}})
    doc = parse_state("s3://states/legacy.tfstate", state.json())
    index = StateIndex.from_docs(default_registry(), [doc])
    client = boto3.session.Session(region_name="us-east-1").client("secretsmanager")
    stub = Stubber(client)
    pipeline = Pipeline(default_registry(), index, lambda account, region: _Ctx(client))

    def describe(enabled: bool) -> None:
        stub.add_response("describe_secret", {
            "ARN": arn, "Name": "legacy/api-key", "RotationEnabled": enabled, "RotationLambdaARN": fn,
            "RotationRules": {"AutomaticallyAfterDays": 30},
            "LastChangedDate": datetime(2026, 11, 21, tzinfo=UTC),
            "VersionIdsToStages": {"EXAMPLE1-90ab-cdef-fedc-ba987EXAMPLE": ["AWSCURRENT"]},
        }, {"SecretId": arn})
        stub.add_response("get_resource_policy", {"ARN": arn, "Name": "legacy/api-key"}, {"SecretId": arn})

    describe(False)  # the event
    describe(False)  # revert: re-read before acting
    stub.add_response("rotate_secret", {"ARN": arn, "Name": "legacy/api-key"}, {
        "SecretId": arn, "RotationLambdaARN": fn, "RotationRules": {"AutomaticallyAfterDays": 30},
        "RotateImmediately": False})
    describe(True)  # revert: verify
    describe(True)  # replay
    with stub:
        event = cloudtrail_event("CancelRotateSecret", SM, {"secretId": "legacy/api-key"},
                                 {"arn": arn, "name": "legacy/api-key"})
        finding = only(pipeline.process_event(event))
        assert finding.status is Status.DRIFT and finding.severity is Severity.HIGH
        assert changes(finding) == [("rotation_enabled", True, False)]
        assert "rotation-disabled" in finding.reason
        assert pipeline.revert(finding).status is RemediationStatus.REVERTED
        assert only(pipeline.process_event(event)).status is Status.IN_SYNC
        stub.assert_no_pending_responses()
