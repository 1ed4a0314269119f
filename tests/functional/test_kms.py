"""KMS keys and aliases end to end through the pipeline, on moto.

Given a managed key (an ``aws_kms_key`` state entry with the provider's attribute names, cf.
../shared/corpus/tfstate), when a console-style call changes it and the CloudTrail record is replayed
(naming the key by ARN, as the console does, or by id), then the finding names the changed attributes
with the judged severity; the revert restores them and a second replay is ``in_sync``. One moto
account serves the module; every test makes its own key and writes its own state.

moto does not report ``RotationPeriodInDays`` (AWS does while rotation is on): the plugin compares
the period only when AWS reports it, so these tests neither depend on nor hide that gap.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from chalicelib.models import RemediationStatus, Severity, Status
from chalicelib.pipeline import Pipeline
from tests.conftest import make_pipeline
from tests.harness.events import ACCOUNT, cloudtrail_event
from tests.harness.tfstate import StateBuilder

KMS = "kms.amazonaws.com"
REGION = "us-east-1"
BUCKET = "tfstate-kms-family"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"
APP_ROLES = [f"arn:aws:iam::{ACCOUNT}:role/orders-api", f"arn:aws:iam::{ACCOUNT}:role/orders-worker"]
POLICY = {
    "Version": "2012-10-17",
    "Id": "orders-key",
    "Statement": [
        {"Sid": "Enable IAM User Permissions", "Effect": "Allow", "Principal": {"AWS": ROOT},
         "Action": "kms:*", "Resource": "*"},
        {"Sid": "OrdersServices", "Effect": "Allow", "Principal": {"AWS": APP_ROLES},
         "Action": ["kms:Decrypt", "kms:GenerateDataKey*"], "Resource": "*"},
    ],
}
_keys = itertools.count(1)


@dataclass
class Kms:
    session: Any
    kms: Any
    s3: Any


@pytest.fixture(scope="module")
def env(aws_module) -> Kms:
    s3 = aws_module.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    return Kms(aws_module, aws_module.client("kms"), s3)


def deploy(env: Kms, state: StateBuilder) -> Pipeline:
    prefix = f"stack-{next(_keys)}/"
    state.put(env.s3, BUCKET, prefix + "terraform.tfstate")
    return make_pipeline(env.session, f"s3://{BUCKET}/{prefix}")


def key_arn(kid: str) -> str:
    return f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{kid}"


def managed_key(env: Kms) -> tuple[str, Pipeline]:
    """A key as Terraform made it: rotation on, the policy above, Name tag plus default_tags team."""
    kid = env.kms.create_key(Description="orders data key", Policy=json.dumps(POLICY, indent=4),
                             Tags=[{"TagKey": "Name", "TagValue": "orders"},
                                   {"TagKey": "team", "TagValue": "platform"}])["KeyMetadata"]["KeyId"]
    env.kms.enable_key_rotation(KeyId=kid)
    state = StateBuilder().add("aws_kms_key", "orders", {
        "arn": key_arn(kid), "bypass_policy_lockout_safety_check": False, "custom_key_store_id": "",
        "customer_master_key_spec": "SYMMETRIC_DEFAULT", "deletion_window_in_days": 30,
        "description": "orders data key", "enable_key_rotation": True, "id": kid, "is_enabled": True,
        "key_id": kid, "key_usage": "ENCRYPT_DECRYPT", "multi_region": False,
        "policy": json.dumps(POLICY, separators=(",", ":")), "rotation_period_in_days": 365,
        "tags": {"Name": "orders"}, "tags_all": {"Name": "orders", "team": "platform"}, "timeouts": None,
        "xks_key_id": ""}, module="module.orders")
    return kid, deploy(env, state)


def event(name: str, request: dict[str, Any], response: dict[str, Any] | None = None) -> dict[str, Any]:
    kid = request.get("keyId", "")
    resources = [{"accountId": ACCOUNT, "type": "AWS::KMS::Key", "ARN": key_arn(kid.rsplit("/", 1)[-1])}]
    raw = cloudtrail_event(name, KMS, request, response)
    raw["detail"]["resources"] = resources if kid else []
    return raw


def assert_reverts(pipeline: Pipeline, finding: Any, replay: dict[str, Any]) -> None:
    result = pipeline.revert(finding)
    assert result.status is RemediationStatus.REVERTED, result.reason
    [again] = pipeline.process_event(replay)
    assert again.status is Status.IN_SYNC, again.reason


PUBLIC = {**POLICY, "Statement": [*POLICY["Statement"], {"Sid": "Anyone", "Effect": "Allow", "Principal": "*",
                                                          "Action": "kms:Decrypt", "Resource": "*"}]}

Group = tuple[Callable[[Any, str], Any], str, dict[str, Any], list[str], Severity, str, list[str]]
KEY_GROUPS: dict[str, Group] = {
    # group: (console change, event, extra requestParameters, changed paths, severity, rule,
    #         revert operations)
    "policy-made-public": (
        lambda kms, kid: kms.put_key_policy(KeyId=kid, PolicyName="default", Policy=json.dumps(PUBLIC)),
        "PutKeyPolicy", {"policyName": "default", "policy": json.dumps(PUBLIC),
                         "bypassPolicyLockoutSafetyCheck": False},
        ["policy"], Severity.CRITICAL, "key-policy-grants-public", ["PutKeyPolicy"]),
    "rotation-disabled": (
        lambda kms, kid: kms.disable_key_rotation(KeyId=kid), "DisableKeyRotation", {},
        ["enable_key_rotation"], Severity.HIGH, "key-rotation-disabled", ["EnableKeyRotation"]),
    "key-disabled": (
        lambda kms, kid: kms.disable_key(KeyId=kid), "DisableKey", {},
        ["is_enabled"], Severity.CRITICAL, "key-disabled", ["EnableKey"]),
    "scheduled-for-deletion": (
        lambda kms, kid: kms.schedule_key_deletion(KeyId=kid, PendingWindowInDays=7), "ScheduleKeyDeletion",
        {"pendingWindowInDays": 7},
        ["is_enabled", "pending_deletion"], Severity.CRITICAL, "key-scheduled-for-deletion",
        ["CancelKeyDeletion", "EnableKey"]),
    "description": (
        lambda kms, kid: kms.update_key_description(KeyId=kid, Description="scratch"), "UpdateKeyDescription",
        {"description": "scratch"}, ["description"], Severity.LOW, "key-description-changed",
        ["UpdateKeyDescription"]),
    "tag-removed": (
        lambda kms, kid: kms.untag_resource(KeyId=kid, TagKeys=["Name"]), "UntagResource",
        {"tagKeys": ["Name"]},
        ["tags.Name"], Severity.LOW, "tags-changed", ["TagResource"]),
    "tag-added": (
        lambda kms, kid: kms.tag_resource(KeyId=kid, Tags=[{"TagKey": "owner", "TagValue": "mallory"}]),
        "TagResource", {"tags": [{"tagKey": "owner", "tagValue": "mallory"}]},
        ["tags.owner"], Severity.LOW, "tags-changed", ["UntagResource"]),
}


@pytest.mark.parametrize("group", list(KEY_GROUPS))
def test_key_attribute_group_drifts_and_reverts(env, group):
    change, name, params, paths, severity, rule, operations = KEY_GROUPS[group]
    kid, pipeline = managed_key(env)
    change(env.kms, kid)
    replay = event(name, {"keyId": key_arn(kid), **params})
    [finding] = pipeline.process_event(replay)
    assert finding.status is Status.DRIFT, finding.reason
    assert finding.resource.id == kid, "the ARN in the record normalizes to the key id"
    assert finding.resource.address == "module.orders.aws_kms_key.orders"
    assert sorted(c.path for c in finding.changes) == paths
    assert finding.severity is severity
    assert rule in {c.rule for c in finding.changes}
    assert [c.operation for c in finding.plan] == operations
    assert_reverts(pipeline, finding, replay)


def test_scheduled_deletion_revert_leaves_the_key_enabled(env):
    """CancelKeyDeletion alone leaves a key Disabled; the plan enables it again."""
    kid, pipeline = managed_key(env)
    env.kms.schedule_key_deletion(KeyId=kid, PendingWindowInDays=30)
    [finding] = pipeline.process_event(event("ScheduleKeyDeletion", {"keyId": kid, "pendingWindowInDays": 30},
                                             {"keyId": key_arn(kid), "keyState": "PendingDeletion"}))
    assert pipeline.revert(finding).status is RemediationStatus.REVERTED
    meta = env.kms.describe_key(KeyId=kid)["KeyMetadata"]
    assert (meta["KeyState"], meta["Enabled"]) == ("Enabled", True)


def test_reordered_and_reformatted_key_policy_is_not_drift(env):
    kid, pipeline = managed_key(env)
    shuffled = {"Statement": [
        {"Resource": "*", "Action": ["kms:GenerateDataKey*", "kms:Decrypt"],
         "Principal": {"AWS": APP_ROLES[::-1]}, "Effect": "Allow", "Sid": "OrdersServices"},
        {"Action": ["kms:*"], "Resource": ["*"], "Effect": "Allow", "Principal": {"AWS": [ROOT]},
         "Sid": "Enable IAM User Permissions"},
    ], "Id": "orders-key", "Version": "2012-10-17"}
    text = json.dumps(shuffled, indent=2)
    env.kms.put_key_policy(KeyId=kid, PolicyName="default", Policy=text)
    [finding] = pipeline.process_event(event("PutKeyPolicy", {"keyId": kid, "policyName": "default",
                                                              "policy": text}))
    assert finding.status is Status.IN_SYNC, finding.reason


def test_enable_and_cancel_calls_that_restore_the_declaration_are_in_sync(env):
    kid, pipeline = managed_key(env)
    env.kms.disable_key(KeyId=kid)
    env.kms.enable_key(KeyId=kid)
    [finding] = pipeline.process_event(event("EnableKey", {"keyId": kid}))
    assert finding.status is Status.IN_SYNC, finding.reason


def test_created_key_is_unmanaged(env):
    _, pipeline = managed_key(env)
    other = env.kms.create_key()["KeyMetadata"]
    [finding] = pipeline.process_event(cloudtrail_event("CreateKey", KMS, {"keyUsage": "ENCRYPT_DECRYPT"},
                                                        {"keyMetadata": {"keyId": other["KeyId"],
                                                                         "arn": other["Arn"]}}))
    assert finding.status is Status.UNMANAGED and finding.resource.id == other["KeyId"]


# --- aws_kms_alias ----------------------------------------------------------------------------------
def managed_alias(env: Kms) -> tuple[str, str, str, Pipeline]:
    name = f"alias/orders-{next(_keys)}"
    key = env.kms.create_key()["KeyMetadata"]["KeyId"]
    other = env.kms.create_key()["KeyMetadata"]["KeyId"]
    env.kms.create_alias(AliasName=name, TargetKeyId=key)
    state = StateBuilder().add("aws_kms_alias", "orders", {
        "arn": f"arn:aws:kms:{REGION}:{ACCOUNT}:{name}", "id": name, "name": name, "name_prefix": "",
        "target_key_arn": key_arn(key), "target_key_id": key})
    return name, key, other, deploy(env, state)


def alias_event(name: str, alias: str, **extra: str) -> dict[str, Any]:
    return cloudtrail_event(name, KMS, {"aliasName": alias, **extra}, None)


def test_alias_moved_to_another_key_is_high_and_reverted(env):
    alias, key, other, pipeline = managed_alias(env)
    env.kms.update_alias(AliasName=alias, TargetKeyId=other)
    replay = alias_event("UpdateAlias", alias, targetKeyId=other)
    [finding] = pipeline.process_event(replay)
    assert [(c.path, c.declared, c.live, c.severity, c.rule) for c in finding.changes] == [
        ("target_key_id", key, other, Severity.HIGH, "alias-retargeted")]
    assert [(c.operation, c.params) for c in finding.plan] == [
        ("UpdateAlias", {"AliasName": alias, "TargetKeyId": key})]
    assert_reverts(pipeline, finding, replay)


def test_alias_deleted_is_deleted(env):
    alias, _, _, pipeline = managed_alias(env)
    env.kms.delete_alias(AliasName=alias)
    [finding] = pipeline.process_event(alias_event("DeleteAlias", alias))
    assert finding.status is Status.DELETED
    assert finding.resource.address == "aws_kms_alias.orders"
