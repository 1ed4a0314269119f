"""The S3 bucket family end to end through the pipeline, on moto.

Given a bucket and a state written with the AWS provider's real attribute names (shapes copied from
the corpus states: v5 ``aws_s3_bucket`` with computed inline blocks, v3-era states without
``object_lock_enabled``, split ``aws_s3_bucket_*`` resources), when a console-style change is made with
boto3 and the matching CloudTrail event is replayed, then the finding names exactly the changed
attributes with the right severity, and a revert restores the declared value.

moto gaps we never depend on (DESIGN §5): it applies no default SSE-S3, public access block or
BucketOwnerEnforced to new buckets, accepts malformed policies, ignores MFADelete and
TransitionDefaultMinimumObjectSize, and expands ``log-delivery-write`` without WRITE. Tests that need
AWS's real behaviour there use botocore's Stubber with AWS-shaped responses (see the end of the file).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore import xform_name
from botocore.stub import Stubber

from chalicelib.models import Finding, RemediationStatus, Severity, Status
from chalicelib.pipeline import Pipeline
from chalicelib.resources import s3_common as c
from chalicelib.resources.base import Declared, ManagedResource
from chalicelib.resources.registry import default_registry
from tests.conftest import make_pipeline
from tests.harness.events import cloudtrail_event
from tests.harness.tfstate import StateBuilder

STATE_BUCKET = "driftwarden-s3-family-states"
ACCOUNT = "123456789012"
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
LOG_DELIVERY = "http://acs.amazonaws.com/groups/s3/LogDelivery"


# --- state shapes (provider attribute names, as in ../shared/corpus/tfstate)
def bucket_v5(name: str, owner_id: str, *, tags: dict[str, str] | None = None,
              default_tags: dict[str, str] | None = None, **overrides: Any) -> dict[str, Any]:
    """``aws_s3_bucket`` as provider v4+/v5 records it: inline blocks are computed mirrors of live."""
    attrs: dict[str, Any] = {
        "acceleration_status": "", "acl": None, "arn": f"arn:aws:s3:::{name}", "bucket": name,
        "bucket_domain_name": f"{name}.s3.amazonaws.com", "bucket_prefix": "",
        "bucket_regional_domain_name": f"{name}.s3.us-east-1.amazonaws.com", "cors_rule": [],
        "force_destroy": False,
        "grant": [{"id": owner_id, "permissions": ["FULL_CONTROL"], "type": "CanonicalUser", "uri": ""}],
        "hosted_zone_id": "Z3AQBSTGFYJSTF", "id": name, "lifecycle_rule": [], "logging": [],
        "object_lock_configuration": [], "object_lock_enabled": False, "policy": "", "region": "us-east-1",
        "replication_configuration": [], "request_payer": "BucketOwner",
        "server_side_encryption_configuration": [{"rule": [{"apply_server_side_encryption_by_default": [
            {"kms_master_key_id": "", "sse_algorithm": "AES256"}], "bucket_key_enabled": False}]}],
        "tags": tags, "tags_all": {**(default_tags or {}), **(tags or {})}, "timeouts": None,
        "versioning": [{"enabled": False, "mfa_delete": False}], "website": [], "website_domain": None,
        "website_endpoint": None,
    }
    attrs.update(overrides)
    return attrs


def bucket_v3(name: str, **overrides: Any) -> dict[str, Any]:
    """``aws_s3_bucket`` from a provider v2/v3 state (Terraform 0.12): inline blocks were arguments."""
    attrs: dict[str, Any] = {
        "acceleration_status": "", "acl": "private", "arn": f"arn:aws:s3:::{name}", "bucket": name,
        "bucket_domain_name": f"{name}.s3.amazonaws.com", "bucket_prefix": None,
        "bucket_regional_domain_name": f"{name}.s3.us-east-1.amazonaws.com", "cors_rule": [],
        "force_destroy": False, "grant": [], "hosted_zone_id": "Z3AQBSTGFYJSTF", "id": name,
        "lifecycle_rule": [], "logging": [], "object_lock_configuration": [], "policy": None,
        "region": "us-east-1", "replication_configuration": [], "request_payer": "BucketOwner",
        "server_side_encryption_configuration": [], "tags": {},
        "versioning": [{"enabled": False, "mfa_delete": False}],
        "website": [], "website_domain": None, "website_endpoint": None,
    }
    attrs.update(overrides)
    return attrs


def log_delivery_grants(owner_id: str) -> list[dict[str, Any]]:
    """boto3 ``Grants``: the owner plus what S3 server access logging needs on a target bucket."""
    return [{"Grantee": {"Type": "CanonicalUser", "ID": owner_id}, "Permission": "FULL_CONTROL"},
            {"Grantee": {"Type": "Group", "URI": LOG_DELIVERY}, "Permission": "WRITE"},
            {"Grantee": {"Type": "Group", "URI": LOG_DELIVERY}, "Permission": "READ_ACP"}]


def acp_state(owner_id: str, grants: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """boto3 ``Grants`` as ``aws_s3_bucket_acl.access_control_policy`` records them."""
    return [{"grant": [{"grantee": [{"display_name": "", "email_address": "", "type": g["Grantee"]["Type"],
                                     "id": g["Grantee"].get("ID", ""), "uri": g["Grantee"].get("URI", "")}],
                        "permission": g["Permission"]} for g in grants],
             "owner": [{"display_name": "", "id": owner_id}]}]


def policy_doc(bucket: str, *statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def deny_insecure(bucket: str) -> dict[str, Any]:
    return {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
            "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}}


def allow_account_read(bucket: str) -> dict[str, Any]:
    return {"Sid": "AccountRead", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
            "Action": ["s3:GetObject", "s3:ListBucket"],
            "Resource": [f"arn:aws:s3:::{bucket}/*", f"arn:aws:s3:::{bucket}"]}


def public_read(bucket: str) -> dict[str, Any]:
    return {"Sid": "PublicRead", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{bucket}/*"}


# --- events (requestParameters shaped like the corpus records)
def s3_event(name: str, bucket: str, **request: Any) -> dict[str, Any]:
    params = {"bucketName": bucket, "Host": f"{bucket}.s3.us-east-1.amazonaws.com", **request}
    return cloudtrail_event(name, c.S3, params, None)


XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/"


# --- fixtures
@dataclass
class Env:
    session: boto3.session.Session
    s3: Any
    bucket: str
    owner_id: str

    def pipeline(self, state: StateBuilder) -> Pipeline:
        prefix = f"{self.bucket}/"
        state.put(self.s3, STATE_BUCKET, f"{prefix}terraform.tfstate")
        return make_pipeline(self.session, f"s3://{STATE_BUCKET}/{prefix}")


@pytest.fixture(scope="module")
def s3_account(aws_module: boto3.session.Session) -> Iterator[boto3.session.Session]:
    aws_module.client("s3").create_bucket(Bucket=STATE_BUCKET)
    yield aws_module


@pytest.fixture
def env(s3_account: boto3.session.Session) -> Env:
    """A fresh bucket (unique name) in the module's moto account."""
    s3 = s3_account.client("s3")
    bucket = f"dw-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    owner = s3.get_bucket_acl(Bucket=bucket)["Owner"]["ID"]
    return Env(s3_account, s3, bucket, owner)


def only(findings: list[Finding]) -> Finding:
    assert len(findings) == 1, findings
    return findings[0]


def changes(finding: Finding) -> list[tuple[str, Any, Any]]:
    return [(ch.path, ch.declared, ch.live) for ch in finding.changes]


def rules(finding: Finding) -> set[str]:
    return {ch.rule for ch in finding.changes}


def assert_plan_permitted(finding: Finding) -> None:
    """Every call a plan makes maps to an IAM action the owner plugin declares."""
    owner = default_registry().owner(c.KIND)
    for call in finding.plan:
        assert call.operation in c.IAM_REVERT, call.operation
        assert c.IAM_REVERT[call.operation] in owner.revert_permissions, call.operation


def revert_and_replay(pipeline: Pipeline, finding: Finding, event: dict[str, Any]) -> None:
    assert_plan_permitted(finding)
    result = pipeline.revert(finding)
    assert result.status is RemediationStatus.REVERTED, result.reason
    again = only(pipeline.process_event(event))
    assert again.status is Status.IN_SYNC, (again.reason, changes(again))


# === aws_s3_bucket (owner): tags and the legacy inline blocks
def test_tag_change_is_low_drift_and_reverted(env: Env) -> None:
    attrs = bucket_v5(env.bucket, env.owner_id, tags={"team": "data"}, default_tags={"env": "prod"})
    pipeline = env.pipeline(StateBuilder().add("aws_s3_bucket", "data", attrs))
    tag_set = [{"Key": "team", "Value": "someone-else"}, {"Key": "env", "Value": "prod"},
               {"Key": "extra", "Value": "x"}]
    env.s3.put_bucket_tagging(Bucket=env.bucket, Tagging={"TagSet": tag_set})
    event = s3_event("PutBucketTagging", env.bucket, tagging="",
                     Tagging={"xmlns": XMLNS, "TagSet": {"Tag": tag_set}})
    finding = only(pipeline.process_event(event))
    assert finding.status is Status.DRIFT and finding.severity is Severity.LOW
    assert changes(finding) == [("tags.extra", None, "x"), ("tags.team", "data", "someone-else")]
    assert finding.resource.address == "aws_s3_bucket.data"
    assert [call.operation for call in finding.plan] == ["PutBucketTagging"]
    revert_and_replay(pipeline, finding, event)
    tags = {t["Key"]: t["Value"] for t in env.s3.get_bucket_tagging(Bucket=env.bucket)["TagSet"]}
    assert tags == {"team": "data", "env": "prod"}


def test_all_tags_removed_and_undeclared_tags_deleted(env: Env) -> None:
    pipeline = env.pipeline(StateBuilder().add("aws_s3_bucket", "b", bucket_v5(env.bucket, env.owner_id)))
    env.s3.put_bucket_tagging(Bucket=env.bucket, Tagging={"TagSet": [{"Key": "owner", "Value": "bob"}]})
    event = s3_event("PutBucketTagging", env.bucket)
    finding = only(pipeline.process_event(event))
    assert changes(finding) == [("tags.owner", None, "bob")]
    assert [call.operation for call in finding.plan] == ["DeleteBucketTagging"]
    revert_and_replay(pipeline, finding, event)


def test_default_tags_in_tags_all_are_not_drift(env: Env) -> None:
    """Provider default_tags live only in tags_all; AWS has them; nothing differs."""
    state = StateBuilder().add("aws_s3_bucket", "b", bucket_v5(env.bucket, env.owner_id, tags={"Name": "b"},
                                                              default_tags={"env": "prod", "team": "x"}))
    pipeline = env.pipeline(state)
    env.s3.put_bucket_tagging(Bucket=env.bucket, Tagging={"TagSet": [
        {"Key": "env", "Value": "prod"}, {"Key": "team", "Value": "x"}, {"Key": "Name", "Value": "b"}]})
    finding = only(pipeline.process_event(s3_event("PutBucketTagging", env.bucket)))
    assert finding.status is Status.IN_SYNC, changes(finding)


def test_v5_computed_inline_blocks_are_not_declarations(env: Env) -> None:
    """A v5 state records AES256 and versioning off for every bucket it reads: neither is declared,
    so enabling versioning or switching to KMS by hand is not drift (Terraform would not plan it)."""
    pipeline = env.pipeline(StateBuilder().add("aws_s3_bucket", "b", bucket_v5(env.bucket, env.owner_id)))
    env.s3.put_bucket_versioning(Bucket=env.bucket, VersioningConfiguration={"Status": "Enabled"})
    env.s3.put_bucket_encryption(Bucket=env.bucket, ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]})
    for name in ("PutBucketVersioning", "PutBucketEncryption"):
        finding = only(pipeline.process_event(s3_event(name, env.bucket)))
        assert finding.status is Status.IN_SYNC, (name, changes(finding))


def test_aws_default_encryption_is_not_drift_when_none_declared(env: Env) -> None:
    """Since 2023 AWS applies SSE-S3 to every bucket. moto does not, so the test applies it the way AWS
    does; a state that records no encryption at all (bucket read before 2023) must stay in sync."""
    attrs = bucket_v5(env.bucket, env.owner_id, server_side_encryption_configuration=[])
    legacy = bucket_v3(env.bucket)  # v3 state, no SSE declared
    env.s3.put_bucket_encryption(Bucket=env.bucket, ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": False}]})
    for state_attrs in (attrs, legacy):
        pipeline = env.pipeline(StateBuilder().add("aws_s3_bucket", "b", state_attrs))
        finding = only(pipeline.process_event(s3_event("PutBucketEncryption", env.bucket)))
        assert finding.status is Status.IN_SYNC, changes(finding)


@pytest.fixture
def legacy_env(env: Env) -> tuple[Env, Pipeline]:
    """A v3-era bucket declaring versioning, SSE-S3, logging, a lifecycle rule and acl = "private"
    inline, applied to moto the way provider v3 applied it."""
    log_bucket = log_target(env, f"{env.bucket}-logs")
    attrs = bucket_v3(
        env.bucket, tags={"Application": "ci"},
        versioning=[{"enabled": True, "mfa_delete": False}],
        server_side_encryption_configuration=[{"rule": [{"apply_server_side_encryption_by_default": [
            {"kms_master_key_id": "", "sse_algorithm": "AES256"}]}]}],
        logging=[{"target_bucket": log_bucket, "target_prefix": "s3/ci-bucket"}],
        lifecycle_rule=[{"abort_incomplete_multipart_upload_days": 7, "enabled": True,
                         "expiration": [{"date": "", "days": 0, "expired_object_delete_marker": True}],
                         "id": "object-archive-rule", "noncurrent_version_expiration": [{"days": 395}],
                         "noncurrent_version_transition": [{"days": 30, "storage_class": "ONEZONE_IA"}],
                         "prefix": "", "tags": {}, "transition": []}],
    )
    s3 = env.s3
    s3.put_bucket_versioning(Bucket=env.bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_encryption(Bucket=env.bucket, ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    s3.put_bucket_logging(Bucket=env.bucket, BucketLoggingStatus={"LoggingEnabled": {
        "TargetBucket": log_bucket, "TargetPrefix": "s3/ci-bucket"}})
    s3.put_bucket_lifecycle_configuration(Bucket=env.bucket, LifecycleConfiguration={"Rules": [{
        "ID": "object-archive-rule", "Status": "Enabled", "Filter": {"Prefix": ""},
        "Expiration": {"ExpiredObjectDeleteMarker": True},
        "NoncurrentVersionTransitions": [{"NoncurrentDays": 30, "StorageClass": "ONEZONE_IA"}],
        "NoncurrentVersionExpiration": {"NoncurrentDays": 395},
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7}}]})
    s3.put_bucket_tagging(Bucket=env.bucket, Tagging={"TagSet": [{"Key": "Application", "Value": "ci"}]})
    pipeline = env.pipeline(StateBuilder().add("aws_s3_bucket", "bucket", attrs))
    return env, pipeline


def test_legacy_inline_declarations_start_in_sync(legacy_env: tuple[Env, Pipeline]) -> None:
    env, pipeline = legacy_env
    finding = only(pipeline.process_event(s3_event("PutBucketLifecycle", env.bucket)))
    assert finding.status is Status.IN_SYNC, changes(finding)


def _suspend_versioning(s3: Any, bucket: str) -> dict[str, Any]:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    return s3_event("PutBucketVersioning", bucket, versioning="",
                    VersioningConfiguration={"Status": "Suspended", "xmlns": XMLNS})


def _kms_encryption(s3: Any, bucket: str) -> dict[str, Any]:
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]})
    return s3_event("PutBucketEncryption", bucket)


def _logging_off(s3: Any, bucket: str) -> dict[str, Any]:
    s3.put_bucket_logging(Bucket=bucket, BucketLoggingStatus={})
    return s3_event("PutBucketLogging", bucket, logging="", BucketLoggingStatus={"xmlns": XMLNS})


def _lifecycle_deleted(s3: Any, bucket: str) -> dict[str, Any]:
    s3.delete_bucket_lifecycle(Bucket=bucket)
    return s3_event("DeleteBucketLifecycle", bucket, lifecycle="")


def _public_read_acl(s3: Any, bucket: str) -> dict[str, Any]:
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    return s3_event("PutBucketAcl", bucket, acl=[""], **{"x-amz-acl": ["public-read"]})


@pytest.mark.parametrize(("change", "expected_paths", "severity", "rule", "operation"), [
    (_suspend_versioning, ["versioning_configuration.status"], Severity.HIGH, "bucket-versioning-suspended",
     "PutBucketVersioning"),
    (_kms_encryption, ["server_side_encryption_configuration.sse_algorithm"], Severity.HIGH,
     "bucket-encryption-changed", "PutBucketEncryption"),
    (_logging_off, ["logging"], Severity.HIGH, "bucket-logging-disabled", "PutBucketLogging"),
    (_lifecycle_deleted, ["lifecycle_rule.object-archive-rule"], Severity.MEDIUM,
     "bucket-lifecycle-rule-removed", "PutBucketLifecycleConfiguration"),
    (_public_read_acl, ["grant"], Severity.CRITICAL, "bucket-acl-public", "PutBucketAcl"),
])
def test_legacy_inline_attribute_drift_and_revert(legacy_env: tuple[Env, Pipeline], change: Any,
                                                  expected_paths: list[str], severity: Severity, rule: str,
                                                  operation: str) -> None:
    env, pipeline = legacy_env
    event = change(env.s3, env.bucket)
    finding = only(pipeline.process_event(event))
    assert finding.status is Status.DRIFT
    assert [ch.path for ch in finding.changes] == expected_paths
    assert finding.severity is severity and rules(finding) == {rule}
    assert rule in finding.reason
    assert [call.operation for call in finding.plan] == [operation]
    revert_and_replay(pipeline, finding, event)


def test_undeclared_public_policy_on_managed_bucket_is_critical_and_deleted(env: Env) -> None:
    pipeline = env.pipeline(StateBuilder().add("aws_s3_bucket", "site", bucket_v5(env.bucket, env.owner_id)))
    doc = policy_doc(env.bucket, public_read(env.bucket))
    env.s3.put_bucket_policy(Bucket=env.bucket, Policy=json.dumps(doc))
    event = s3_event("PutBucketPolicy", env.bucket, bucketPolicy=doc, policy=[""])
    finding = only(pipeline.process_event(event))
    assert finding.status is Status.DRIFT and finding.severity is Severity.CRITICAL
    assert "bucket-policy-public" in finding.reason
    [ch] = finding.changes
    assert (ch.path, ch.declared) == ("policy", None)
    assert ch.live["Statement"][0]["Principal"] == "*"
    plan = [(call.operation, call.params) for call in finding.plan]
    assert plan == [("DeleteBucketPolicy", {"Bucket": env.bucket})]
    revert_and_replay(pipeline, finding, event)
    with pytest.raises(env.s3.exceptions.ClientError):
        env.s3.get_bucket_policy(Bucket=env.bucket)


def test_public_grant_on_bucket_without_declared_acl_is_critical(env: Env) -> None:
    """v5 state: the owner-only grant list is computed, not declared; a public grant is still drift,
    and the revert keeps every other live grant."""
    pipeline = env.pipeline(StateBuilder().add("aws_s3_bucket", "b", bucket_v5(env.bucket, env.owner_id)))
    env.s3.put_bucket_acl(Bucket=env.bucket, AccessControlPolicy={"Owner": {"ID": env.owner_id}, "Grants": [
        {"Grantee": {"Type": "CanonicalUser", "ID": env.owner_id}, "Permission": "FULL_CONTROL"},
        {"Grantee": {"Type": "Group", "URI": LOG_DELIVERY}, "Permission": "WRITE"},
        {"Grantee": {"Type": "Group", "URI": ALL_USERS}, "Permission": "READ"}]})
    event = s3_event("PutBucketAcl", env.bucket, acl=[""])
    finding = only(pipeline.process_event(event))
    assert finding.severity is Severity.CRITICAL
    assert changes(finding) == [("grant", None, {"type": "Group", "uri": ALL_USERS, "permission": "READ"})]
    revert_and_replay(pipeline, finding, event)
    grants = env.s3.get_bucket_acl(Bucket=env.bucket)["Grants"]
    assert {g["Grantee"].get("URI") for g in grants} == {None, LOG_DELIVERY}


def test_create_bucket_unmanaged_and_delete_bucket_managed(env: Env) -> None:
    pipeline = env.pipeline(StateBuilder().add("aws_s3_bucket", "b", bucket_v5(env.bucket, env.owner_id)))
    other = f"{env.bucket}-handmade"
    env.s3.create_bucket(Bucket=other)
    created = only(pipeline.process_event(s3_event("CreateBucket", other)))
    assert created.status is Status.UNMANAGED and created.resource.id == other
    env.s3.delete_bucket(Bucket=env.bucket)
    deleted = only(pipeline.process_event(s3_event("DeleteBucket", env.bucket)))
    assert deleted.status is Status.DELETED and deleted.resource.address == "aws_s3_bucket.b"
    gone = only(pipeline.process_event(s3_event("PutBucketTagging", env.bucket)))
    assert gone.status is Status.DELETED


def test_failed_call_is_skipped(env: Env) -> None:
    pipeline = env.pipeline(StateBuilder().add("aws_s3_bucket", "b", bucket_v5(env.bucket, env.owner_id)))
    event = cloudtrail_event("DeleteBucketPolicy", c.S3, {"bucketName": env.bucket},
                             error_code="AccessDenied")
    finding = only(pipeline.process_event(event))
    assert finding.status is Status.SKIPPED and "AccessDenied" in finding.reason


# === split resources next to a v5 bucket: never reported twice
def test_split_resource_owns_its_aspect_and_is_reported_once(env: Env) -> None:
    """The v5 bucket's computed ``versioning``/``server_side_encryption_configuration`` mirror the split
    resources; a change is one finding change, judged against the split resource's declaration."""
    kms = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    env.s3.put_bucket_versioning(Bucket=env.bucket, VersioningConfiguration={"Status": "Enabled"})
    env.s3.put_bucket_encryption(Bucket=env.bucket, ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": kms},
         "BucketKeyEnabled": True}]})
    sse_rule = [{"apply_server_side_encryption_by_default": [{"kms_master_key_id": kms,
                                                              "sse_algorithm": "aws:kms"}],
                 "bucket_key_enabled": True}]
    bucket = bucket_v5(env.bucket, env.owner_id, versioning=[{"enabled": True, "mfa_delete": False}],
                       server_side_encryption_configuration=[{"rule": sse_rule}])
    state = (StateBuilder()
             .add("aws_s3_bucket", "b", bucket)
             .add("aws_s3_bucket_versioning", "b", {
                 "bucket": env.bucket, "expected_bucket_owner": "", "id": env.bucket, "mfa": None,
                 "versioning_configuration": [{"mfa_delete": "", "status": "Enabled"}]})
             .add("aws_s3_bucket_server_side_encryption_configuration", "b", {
                 "bucket": env.bucket, "expected_bucket_owner": "", "id": env.bucket, "rule": sse_rule}))
    pipeline = env.pipeline(state)
    assert only(pipeline.process_event(s3_event("PutBucketEncryption", env.bucket))).status is Status.IN_SYNC
    event = _suspend_versioning(env.s3, env.bucket)
    finding = only(pipeline.process_event(event))
    assert changes(finding) == [("versioning_configuration.status", "Enabled", "Suspended")]
    assert finding.resource.address == "aws_s3_bucket.b"
    revert_and_replay(pipeline, finding, event)


def test_split_acl_wins_over_legacy_inline_canned_acl(env: Env) -> None:
    """A v3-era bucket still says ``acl = "private"`` while a later ``aws_s3_bucket_acl`` declares the
    log-delivery grants explicitly: the split resource is the declaration, so the live grants match."""
    grants = log_delivery_grants(env.owner_id)
    env.s3.put_bucket_acl(Bucket=env.bucket,
                          AccessControlPolicy={"Owner": {"ID": env.owner_id}, "Grants": grants})
    state = (StateBuilder()
             .add("aws_s3_bucket", "logs", bucket_v3(env.bucket))
             .add("aws_s3_bucket_acl", "logs", {
                 "access_control_policy": acp_state(env.owner_id, grants), "acl": None, "bucket": env.bucket,
                 "expected_bucket_owner": "", "id": env.bucket}))
    pipeline = env.pipeline(state)
    assert only(pipeline.process_event(s3_event("PutBucketAcl", env.bucket))).status is Status.IN_SYNC
    env.s3.put_bucket_acl(Bucket=env.bucket, ACL="private")
    finding = only(pipeline.process_event(s3_event("PutBucketAcl", env.bucket)))
    assert rules(finding) == {"bucket-acl-grant-removed"} and len(finding.changes) == 2


# === aws_s3_bucket_policy
PolicyEnv = tuple[Env, Pipeline, dict[str, Any]]


@pytest.fixture
def policy_env(env: Env) -> tuple[Env, Pipeline, dict[str, Any]]:
    doc = policy_doc(env.bucket, deny_insecure(env.bucket), allow_account_read(env.bucket))
    env.s3.put_bucket_policy(Bucket=env.bucket, Policy=json.dumps(doc))
    state = (StateBuilder()
             .add("aws_s3_bucket", "b", bucket_v5(env.bucket, env.owner_id, policy=json.dumps(doc)))
             .add("aws_s3_bucket_policy", "b", {"bucket": env.bucket, "id": env.bucket,
                                                "policy": json.dumps(doc, separators=(",", ":"))}))
    return env, env.pipeline(state), doc


def test_reordered_reformatted_policy_is_in_sync(policy_env: PolicyEnv) -> None:
    env, pipeline, doc = policy_env
    reordered = {"Statement": [dict(reversed(list(s.items()))) for s in reversed(doc["Statement"])],
                 "Version": "2012-10-17"}
    reordered["Statement"][1]["Action"] = ["s3:*"]  # a one-element list instead of the declared string
    reordered["Statement"][0]["Principal"] = {"AWS": ACCOUNT}  # S3 stores account ids as root ARNs
    reordered["Statement"][0]["Action"] = ["s3:ListBucket", "s3:GetObject"]
    env.s3.put_bucket_policy(Bucket=env.bucket, Policy=json.dumps(reordered, indent=4))
    finding = only(pipeline.process_event(s3_event("PutBucketPolicy", env.bucket, bucketPolicy=reordered)))
    assert finding.status is Status.IN_SYNC, changes(finding)


def test_changed_policy_is_high_and_restored(policy_env: PolicyEnv) -> None:
    env, pipeline, _ = policy_env
    changed = policy_doc(env.bucket, allow_account_read(env.bucket))  # the TLS-only deny was dropped
    env.s3.put_bucket_policy(Bucket=env.bucket, Policy=json.dumps(changed))
    event = s3_event("PutBucketPolicy", env.bucket, bucketPolicy=changed, policy=[""])
    finding = only(pipeline.process_event(event))
    assert finding.severity is Severity.HIGH and rules(finding) == {"bucket-policy-changed"}
    [ch] = finding.changes
    assert ch.path == "policy" and len(ch.declared["Statement"]) == 2 and len(ch.live["Statement"]) == 1
    assert finding.resource.address == "aws_s3_bucket.b"
    revert_and_replay(pipeline, finding, event)


def test_declared_policy_deleted_is_drift_and_re_put(policy_env: PolicyEnv) -> None:
    env, pipeline, _ = policy_env
    env.s3.delete_bucket_policy(Bucket=env.bucket)
    event = s3_event("DeleteBucketPolicy", env.bucket, policy=[""])
    finding = only(pipeline.process_event(event))
    assert finding.severity is Severity.HIGH and rules(finding) == {"bucket-policy-deleted"}
    assert finding.changes[0].live is None
    assert [call.operation for call in finding.plan] == ["PutBucketPolicy"]
    revert_and_replay(pipeline, finding, event)


def test_policy_made_public_is_critical(policy_env: PolicyEnv) -> None:
    env, pipeline, doc = policy_env
    public = policy_doc(env.bucket, *doc["Statement"], public_read(env.bucket))
    env.s3.put_bucket_policy(Bucket=env.bucket, Policy=json.dumps(public))
    event = s3_event("PutBucketPolicy", env.bucket, bucketPolicy=public)
    finding = only(pipeline.process_event(event))
    assert finding.severity is Severity.CRITICAL and rules(finding) == {"bucket-policy-public"}
    revert_and_replay(pipeline, finding, event)


def test_principal_star_with_condition_is_not_public(policy_env: PolicyEnv) -> None:
    env, pipeline, doc = policy_env
    vpce = {**public_read(env.bucket), "Condition": {"StringEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}}}
    scoped = policy_doc(env.bucket, *doc["Statement"], vpce)
    env.s3.put_bucket_policy(Bucket=env.bucket, Policy=json.dumps(scoped))
    finding = only(pipeline.process_event(s3_event("PutBucketPolicy", env.bucket)))
    assert finding.severity is Severity.HIGH and rules(finding) == {"bucket-policy-changed"}


# === aws_s3_bucket_public_access_block
PAB_ON = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
          "RestrictPublicBuckets": True}


@pytest.fixture
def pab_env(env: Env) -> tuple[Env, Pipeline]:
    env.s3.put_public_access_block(Bucket=env.bucket, PublicAccessBlockConfiguration=PAB_ON)
    state = StateBuilder().add("aws_s3_bucket_public_access_block", "b", {
        "block_public_acls": True, "block_public_policy": True, "bucket": env.bucket, "id": env.bucket,
        "ignore_public_acls": True, "restrict_public_buckets": True})
    return env, env.pipeline(state)


def test_public_access_block_relaxed_is_critical(pab_env: tuple[Env, Pipeline]) -> None:
    env, pipeline = pab_env
    relaxed = {**PAB_ON, "BlockPublicPolicy": False, "RestrictPublicBuckets": False}
    env.s3.put_public_access_block(Bucket=env.bucket, PublicAccessBlockConfiguration=relaxed)
    event = s3_event("PutBucketPublicAccessBlock", env.bucket, publicAccessBlock=[""],
                     PublicAccessBlockConfiguration={"xmlns": XMLNS, **relaxed})
    finding = only(pipeline.process_event(event))
    assert finding.severity is Severity.CRITICAL
    assert changes(finding) == [("block_public_policy", True, False),
                                ("restrict_public_buckets", True, False)]
    assert rules(finding) == {"bucket-public-access-block-relaxed"}
    assert finding.resource.address == "aws_s3_bucket_public_access_block.b"
    revert_and_replay(pipeline, finding, event)


def test_public_access_block_deleted_is_critical(pab_env: tuple[Env, Pipeline]) -> None:
    env, pipeline = pab_env
    env.s3.delete_public_access_block(Bucket=env.bucket)
    event = s3_event("DeleteBucketPublicAccessBlock", env.bucket, publicAccessBlock="")
    finding = only(pipeline.process_event(event))
    assert finding.severity is Severity.CRITICAL and len(finding.changes) == 4
    assert rules(finding) == {"bucket-public-access-block-removed"}
    assert [call.operation for call in finding.plan] == ["PutPublicAccessBlock"]
    revert_and_replay(pipeline, finding, event)
    assert env.s3.get_public_access_block(Bucket=env.bucket)["PublicAccessBlockConfiguration"] == PAB_ON


def test_undeclared_public_access_block_is_not_compared(env: Env) -> None:
    """AWS turns all four blocks on for new buckets; a state without the split resource is silent."""
    pipeline = env.pipeline(StateBuilder().add("aws_s3_bucket", "b", bucket_v5(env.bucket, env.owner_id)))
    env.s3.put_public_access_block(Bucket=env.bucket, PublicAccessBlockConfiguration=PAB_ON)
    finding = only(pipeline.process_event(s3_event("PutBucketPublicAccessBlock", env.bucket)))
    assert finding.status is Status.IN_SYNC


# === aws_s3_bucket_versioning
def versioning_state(bucket: str, status: str = "Enabled", mfa_delete: str = "") -> StateBuilder:
    return StateBuilder().add("aws_s3_bucket_versioning", "b", {
        "bucket": bucket, "expected_bucket_owner": "", "id": bucket, "mfa": None,
        "versioning_configuration": [{"mfa_delete": mfa_delete, "status": status}]})


def test_versioning_suspended_is_high_and_re_enabled(env: Env) -> None:
    env.s3.put_bucket_versioning(Bucket=env.bucket, VersioningConfiguration={"Status": "Enabled"})
    pipeline = env.pipeline(versioning_state(env.bucket))
    event = _suspend_versioning(env.s3, env.bucket)
    finding = only(pipeline.process_event(event))
    assert finding.severity is Severity.HIGH and rules(finding) == {"bucket-versioning-suspended"}
    assert changes(finding) == [("versioning_configuration.status", "Enabled", "Suspended")]
    revert_and_replay(pipeline, finding, event)
    assert env.s3.get_bucket_versioning(Bucket=env.bucket)["Status"] == "Enabled"


def test_mfa_delete_disabled_is_reported_but_not_reverted(env: Env) -> None:
    """Declared mfa_delete Enabled, live Disabled (moto ignores MFADelete, so the live side is simply
    the never-set default; the state is what declares it). Only the root user's MFA can restore it,
    so the finding offers no plan at all — not even for the versioning status that drifted with it."""
    env.s3.put_bucket_versioning(Bucket=env.bucket, VersioningConfiguration={"Status": "Suspended"})
    pipeline = env.pipeline(versioning_state(env.bucket, mfa_delete="Enabled"))
    event = s3_event("PutBucketVersioning", env.bucket,
                     VersioningConfiguration={"Status": "Suspended", "MfaDelete": "Disabled"})
    finding = only(pipeline.process_event(event))
    assert finding.severity is Severity.HIGH
    assert rules(finding) == {"bucket-versioning-suspended", "bucket-mfa-delete-disabled"}
    assert changes(finding) == [("versioning_configuration.status", "Enabled", "Suspended"),
                                ("versioning_configuration.mfa_delete", "Enabled", "Disabled")]
    assert finding.plan == ()
    result = pipeline.revert(finding)
    assert result.status is RemediationStatus.REFUSED
    assert env.s3.get_bucket_versioning(Bucket=env.bucket)["Status"] == "Suspended"


def test_declared_disabled_matches_never_versioned_bucket(env: Env) -> None:
    pipeline = env.pipeline(versioning_state(env.bucket, status="Disabled"))
    assert only(pipeline.process_event(s3_event("PutBucketVersioning", env.bucket))).status is Status.IN_SYNC
    env.s3.put_bucket_versioning(Bucket=env.bucket, VersioningConfiguration={"Status": "Enabled"})
    event = s3_event("PutBucketVersioning", env.bucket)
    finding = only(pipeline.process_event(event))
    assert finding.severity is Severity.MEDIUM and rules(finding) == {"bucket-versioning-enabled"}
    # A versioned bucket can never be "Disabled" again: Suspended is the declared state's equivalent.
    revert_and_replay(pipeline, finding, event)
    assert env.s3.get_bucket_versioning(Bucket=env.bucket)["Status"] == "Suspended"


# === aws_s3_bucket_server_side_encryption_configuration
KMS_KEY = "arn:aws:kms:us-east-1:123456789012:key/0f0e0d0c-aaaa-bbbb-cccc-000000000001"


@pytest.fixture
def kms_env(env: Env) -> tuple[Env, Pipeline]:
    env.s3.put_bucket_encryption(Bucket=env.bucket, ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": KMS_KEY},
         "BucketKeyEnabled": True}]})
    state = StateBuilder().add("aws_s3_bucket_server_side_encryption_configuration", "b", {
        "bucket": env.bucket, "expected_bucket_owner": "", "id": env.bucket,
        "rule": [{"apply_server_side_encryption_by_default": [{"kms_master_key_id": KMS_KEY,
                                                                "sse_algorithm": "aws:kms"}],
                  "bucket_key_enabled": True}]})
    return env, env.pipeline(state)


def test_encryption_downgraded_is_high_and_restored(kms_env: tuple[Env, Pipeline]) -> None:
    env, pipeline = kms_env
    env.s3.put_bucket_encryption(Bucket=env.bucket, ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": True}]})
    event = s3_event("PutBucketEncryption", env.bucket)
    finding = only(pipeline.process_event(event))
    assert finding.severity is Severity.HIGH and rules(finding) == {"bucket-encryption-changed"}
    assert changes(finding) == [("server_side_encryption_configuration.sse_algorithm", "aws:kms", "AES256"),
                                ("server_side_encryption_configuration.kms_master_key_id", KMS_KEY, "")]
    revert_and_replay(pipeline, finding, event)


def test_encryption_deleted_is_high_and_restored(kms_env: tuple[Env, Pipeline]) -> None:
    """moto removes the configuration (real AWS resets it to SSE-S3: see the Stubber test below)."""
    env, pipeline = kms_env
    env.s3.delete_bucket_encryption(Bucket=env.bucket)
    event = s3_event("DeleteBucketEncryption", env.bucket, encryption="")
    finding = only(pipeline.process_event(event))
    assert finding.severity is Severity.HIGH and rules(finding) == {"bucket-encryption-removed"}
    assert [ch.path for ch in finding.changes] == ["server_side_encryption_configuration"]
    revert_and_replay(pipeline, finding, event)


def test_bucket_key_toggle_is_medium(kms_env: tuple[Env, Pipeline]) -> None:
    env, pipeline = kms_env
    env.s3.put_bucket_encryption(Bucket=env.bucket, ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": KMS_KEY},
         "BucketKeyEnabled": False}]})
    finding = only(pipeline.process_event(s3_event("PutBucketEncryption", env.bucket)))
    assert finding.severity is Severity.MEDIUM and rules(finding) == {"bucket-key-changed"}


# === aws_s3_bucket_acl
def test_canned_private_acl_made_public_read_is_critical(env: Env) -> None:
    env.s3.put_bucket_acl(Bucket=env.bucket, ACL="private")
    state = (StateBuilder()
             .add("aws_s3_bucket", "b", bucket_v5(env.bucket, env.owner_id))
             .add("aws_s3_bucket_acl", "b", {
                 "access_control_policy": [{
                     "grant": [{"grantee": [{"display_name": "", "email_address": "", "id": env.owner_id,
                                             "type": "CanonicalUser", "uri": ""}],
                                "permission": "FULL_CONTROL"}],
                     "owner": [{"display_name": "", "id": env.owner_id}]}],
                 "acl": "private", "bucket": env.bucket, "expected_bucket_owner": "",
                 "id": f"{env.bucket},private"}))
    pipeline = env.pipeline(state)
    event = _public_read_acl(env.s3, env.bucket)
    finding = only(pipeline.process_event(event))
    assert finding.severity is Severity.CRITICAL
    assert changes(finding) == [("grant", None, {"type": "Group", "uri": ALL_USERS, "permission": "READ"})]
    plan = [(call.operation, call.params.get("ACL")) for call in finding.plan]
    assert plan == [("PutBucketAcl", "private")]
    revert_and_replay(pipeline, finding, event)


def test_explicit_grants_added_and_removed(env: Env) -> None:
    grants = log_delivery_grants(env.owner_id)
    env.s3.put_bucket_acl(Bucket=env.bucket,
                          AccessControlPolicy={"Owner": {"ID": env.owner_id}, "Grants": grants})
    pipeline = env.pipeline(StateBuilder().add("aws_s3_bucket_acl", "logs", {
        "access_control_policy": acp_state(env.owner_id, grants), "acl": "", "bucket": env.bucket,
        "expected_bucket_owner": "", "id": env.bucket}))
    other = "e" * 64
    env.s3.put_bucket_acl(Bucket=env.bucket, AccessControlPolicy={"Owner": {"ID": env.owner_id}, "Grants": [
        grants[0], grants[2], {"Grantee": {"Type": "CanonicalUser", "ID": other}, "Permission": "READ"}]})
    event = s3_event("PutBucketAcl", env.bucket, acl=[""])
    finding = only(pipeline.process_event(event))
    assert finding.severity is Severity.HIGH
    assert {(ch.rule, ch.severity) for ch in finding.changes} == {
        ("bucket-acl-grant-added", Severity.HIGH), ("bucket-acl-grant-removed", Severity.MEDIUM)}
    assert changes(finding) == [
        ("grant", None, {"type": "CanonicalUser", "id": other, "permission": "READ"}),
        ("grant", {"type": "Group", "uri": LOG_DELIVERY, "permission": "WRITE"}, None)]
    revert_and_replay(pipeline, finding, event)


# === aws_s3_bucket_ownership_controls
def ownership_state(bucket: str, value: str = "BucketOwnerEnforced") -> StateBuilder:
    return StateBuilder().add("aws_s3_bucket_ownership_controls", "b", {
        "bucket": bucket, "id": bucket, "rule": [{"object_ownership": value}]})


def test_ownership_controls_relaxed_re_enables_acls(env: Env) -> None:
    env.s3.put_bucket_ownership_controls(Bucket=env.bucket, OwnershipControls={"Rules": [
        {"ObjectOwnership": "BucketOwnerEnforced"}]})
    pipeline = env.pipeline(ownership_state(env.bucket))
    env.s3.put_bucket_ownership_controls(Bucket=env.bucket, OwnershipControls={"Rules": [
        {"ObjectOwnership": "BucketOwnerPreferred"}]})
    event = s3_event("PutBucketOwnershipControls", env.bucket, ownershipControls="", OwnershipControls={
        "xmlns": XMLNS, "Rule": {"ObjectOwnership": "BucketOwnerPreferred"}})
    finding = only(pipeline.process_event(event))
    assert finding.severity is Severity.HIGH and rules(finding) == {"bucket-acls-re-enabled"}
    assert changes(finding) == [("object_ownership", "BucketOwnerEnforced", "BucketOwnerPreferred")]
    revert_and_replay(pipeline, finding, event)


def test_ownership_controls_deleted(env: Env) -> None:
    env.s3.put_bucket_ownership_controls(Bucket=env.bucket, OwnershipControls={"Rules": [
        {"ObjectOwnership": "ObjectWriter"}]})
    pipeline = env.pipeline(ownership_state(env.bucket, "ObjectWriter"))
    env.s3.delete_bucket_ownership_controls(Bucket=env.bucket)
    event = s3_event("DeleteBucketOwnershipControls", env.bucket)
    finding = only(pipeline.process_event(event))
    assert finding.severity is Severity.MEDIUM and rules(finding) == {"bucket-ownership-changed"}
    assert changes(finding) == [("object_ownership", "ObjectWriter", None)]
    revert_and_replay(pipeline, finding, event)


# === aws_s3_bucket_logging
def log_target(env: Env, name: str) -> str:
    """A bucket the log delivery group may write to (AWS and moto refuse other targets)."""
    env.s3.create_bucket(Bucket=name)
    env.s3.put_bucket_acl(Bucket=name, AccessControlPolicy={"Owner": {"ID": env.owner_id},
                                                            "Grants": log_delivery_grants(env.owner_id)})
    return name


@pytest.fixture
def logging_env(env: Env) -> tuple[Env, Pipeline, str]:
    target = log_target(env, f"{env.bucket}-logs")
    env.s3.put_bucket_logging(Bucket=env.bucket, BucketLoggingStatus={"LoggingEnabled": {
        "TargetBucket": target, "TargetPrefix": "log/"}})
    state = StateBuilder().add("aws_s3_bucket_logging", "b", {
        "bucket": env.bucket, "expected_bucket_owner": "", "id": env.bucket, "target_bucket": target,
        "target_grant": [], "target_object_key_format": [], "target_prefix": "log/"})
    return env, env.pipeline(state), target


def test_logging_disabled_is_high_and_restored(logging_env: tuple[Env, Pipeline, str]) -> None:
    env, pipeline, target = logging_env
    event = _logging_off(env.s3, env.bucket)
    finding = only(pipeline.process_event(event))
    assert finding.severity is Severity.HIGH and rules(finding) == {"bucket-logging-disabled"}
    assert changes(finding) == [("logging", {"target_bucket": target, "target_prefix": "log/"}, None)]
    revert_and_replay(pipeline, finding, event)


def test_logging_retargeted_and_prefix_changed(logging_env: tuple[Env, Pipeline, str]) -> None:
    env, pipeline, _ = logging_env
    elsewhere = log_target(env, f"{env.bucket}-exfil")
    env.s3.put_bucket_logging(Bucket=env.bucket, BucketLoggingStatus={"LoggingEnabled": {
        "TargetBucket": elsewhere, "TargetPrefix": "elsewhere/"}})
    event = s3_event("PutBucketLogging", env.bucket)
    finding = only(pipeline.process_event(event))
    assert finding.severity is Severity.HIGH
    assert [(ch.path, ch.rule) for ch in finding.changes] == [
        ("logging.target_bucket", "bucket-logging-retargeted"),
        ("logging.target_prefix", "bucket-logging-changed")]
    revert_and_replay(pipeline, finding, event)


# === aws_s3_bucket_lifecycle_configuration
def lifecycle_state(bucket: str) -> StateBuilder:
    """An SDKv2-era (provider 4.x/5.x) state: empty strings and zeros for unset numbers."""
    return StateBuilder().add("aws_s3_bucket_lifecycle_configuration", "b", {
        "bucket": bucket, "expected_bucket_owner": "", "id": bucket,
        "rule": [
            {"abort_incomplete_multipart_upload": [{"days_after_initiation": 7}],
             "expiration": [{"date": "", "days": 365, "expired_object_delete_marker": False}],
             "filter": [{"and": [], "object_size_greater_than": "", "object_size_less_than": "",
                         "prefix": "logs/", "tag": []}],
             "id": "expire-logs", "noncurrent_version_expiration": [], "noncurrent_version_transition": [],
             "prefix": "", "status": "Enabled",
             "transition": [{"date": "", "days": 30, "storage_class": "STANDARD_IA"},
                            {"date": "", "days": 90, "storage_class": "GLACIER"}]},
            {"abort_incomplete_multipart_upload": [], "expiration": [],
             "filter": [{"and": [{"object_size_greater_than": 0, "object_size_less_than": 0, "prefix": "tmp/",
                                  "tags": {"class": "scratch", "team": "data"}}],
                         "object_size_greater_than": "", "object_size_less_than": "", "prefix": "",
                         "tag": []}],
             "id": "old-versions", "noncurrent_version_expiration": [{"newer_noncurrent_versions": "",
                                                                      "noncurrent_days": 30}],
             "noncurrent_version_transition": [], "prefix": "", "status": "Enabled", "transition": []}],
        "timeouts": None, "transition_default_minimum_object_size": "all_storage_classes_128K"})


LIFECYCLE_RULES = [
    {"ID": "expire-logs", "Status": "Enabled", "Filter": {"Prefix": "logs/"}, "Expiration": {"Days": 365},
     "Transitions": [{"Days": 90, "StorageClass": "GLACIER"}, {"Days": 30, "StorageClass": "STANDARD_IA"}],
     "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7}},
    {"ID": "old-versions", "Status": "Enabled", "Filter": {"And": {
        "Prefix": "tmp/", "Tags": [{"Key": "team", "Value": "data"}, {"Key": "class", "Value": "scratch"}]}},
     "NoncurrentVersionExpiration": {"NoncurrentDays": 30}},
]


@pytest.fixture
def lifecycle_env(env: Env) -> tuple[Env, Pipeline]:
    env.s3.put_bucket_lifecycle_configuration(Bucket=env.bucket,
                                              LifecycleConfiguration={"Rules": LIFECYCLE_RULES})
    return env, env.pipeline(lifecycle_state(env.bucket))


def test_lifecycle_as_applied_is_in_sync(lifecycle_env: tuple[Env, Pipeline]) -> None:
    env, pipeline = lifecycle_env
    finding = only(pipeline.process_event(s3_event("PutBucketLifecycle", env.bucket)))
    assert finding.status is Status.IN_SYNC, changes(finding)


def test_lifecycle_rule_changed_is_medium_and_restored(lifecycle_env: tuple[Env, Pipeline]) -> None:
    env, pipeline = lifecycle_env
    nuked = [{**LIFECYCLE_RULES[0], "Expiration": {"Days": 1}}, LIFECYCLE_RULES[1]]
    env.s3.put_bucket_lifecycle_configuration(Bucket=env.bucket, LifecycleConfiguration={"Rules": nuked})
    event = s3_event("PutBucketLifecycle", env.bucket, lifecycle="", LifecycleConfiguration={
        "xmlns": XMLNS, "Rule": {"ID": "expire-logs", "Status": "Enabled", "Expiration": {"Days": 1}}})
    finding = only(pipeline.process_event(event))
    assert finding.severity is Severity.MEDIUM and rules(finding) == {"bucket-lifecycle-rule-changed"}
    [ch] = finding.changes
    assert ch.path == "lifecycle_rule.expire-logs"
    assert (ch.declared["expiration"], ch.live["expiration"]) == ({"days": 365}, {"days": 1})
    revert_and_replay(pipeline, finding, event)


def test_lifecycle_deleted_is_drift_per_rule(lifecycle_env: tuple[Env, Pipeline]) -> None:
    env, pipeline = lifecycle_env
    event = _lifecycle_deleted(env.s3, env.bucket)
    finding = only(pipeline.process_event(event))
    assert [ch.path for ch in finding.changes] == ["lifecycle_rule.expire-logs",
                                                   "lifecycle_rule.old-versions"]
    assert rules(finding) == {"bucket-lifecycle-rule-removed"} and finding.severity is Severity.MEDIUM
    revert_and_replay(pipeline, finding, event)


def test_lifecycle_rule_added_by_hand(lifecycle_env: tuple[Env, Pipeline]) -> None:
    env, pipeline = lifecycle_env
    extra = {"ID": "hand-made", "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": 1}}
    env.s3.put_bucket_lifecycle_configuration(Bucket=env.bucket,
                                              LifecycleConfiguration={"Rules": [*LIFECYCLE_RULES, extra]})
    event = s3_event("PutBucketLifecycleConfiguration", env.bucket)
    finding = only(pipeline.process_event(event))
    assert changes(finding) == [("lifecycle_rule.hand-made", None, {
        "id": "hand-made", "status": "Enabled", "filter": {}, "expiration": {"days": 1}})]
    revert_and_replay(pipeline, finding, event)


# === live reads: declared IAM actions, and AWS's real defaults (Stubber)
def test_every_read_call_is_a_declared_permission(env: Env) -> None:
    """Instrument botocore: each operation read_live makes must map to a declared IAM read action."""
    owner = default_registry().owner(c.KIND)
    seen: list[str] = []
    s3 = env.session.client("s3")
    s3.meta.events.register("before-call.s3.*", lambda model, **_: seen.append(model.name))

    class Ctx:
        account, region = ACCOUNT, "us-east-1"

        def client(self, service: str) -> Any:
            return s3

    assert owner.read_live(Ctx(), env.bucket) is not None
    assert seen, "no calls recorded"
    for op in seen:
        assert c.IAM_READ[xform_name(op)] in owner.read_permissions, op
    for plugin in default_registry().family(c.KIND):
        assert set(plugin.read_permissions) <= set(owner.read_permissions), plugin.type
        assert set(plugin.revert_permissions) <= set(owner.revert_permissions), plugin.type


class StubCtx:
    """A LiveContext whose S3 client answers from botocore's Stubber (real-AWS response shapes)."""

    account, region = ACCOUNT, "us-east-1"

    def __init__(self) -> None:
        self.s3 = boto3.session.Session(region_name="us-east-1").client("s3")
        self.stub = Stubber(self.s3)

    def client(self, service: str) -> Any:
        return self.s3


OWNER_ID = "9f1e0fbd5e2d6d0f8f76a5f8a2cfbc5b0b7ddf4e8b1b2e6f3a8d2c4e9d1f0a7b"


def stub_new_bucket_reads(stub: Stubber, bucket: str, *, encryption: dict[str, Any]) -> None:
    """What GetBucket* return for a bucket created with today's AWS defaults (April 2023 onwards):
    SSE-S3, all four public access blocks on, BucketOwnerEnforced, owner-only ACL, nothing else."""
    b = {"Bucket": bucket}
    stub.add_response("get_bucket_versioning", {}, b)
    stub.add_response("get_bucket_acl", {"Owner": {"ID": OWNER_ID}, "Grants": [
        {"Grantee": {"Type": "CanonicalUser", "ID": OWNER_ID}, "Permission": "FULL_CONTROL"}]}, b)
    stub.add_client_error("get_bucket_policy", "NoSuchBucketPolicy", "The bucket policy does not exist", 404,
                          expected_params=b)
    stub.add_response("get_public_access_block", {"PublicAccessBlockConfiguration": PAB_ON}, b)
    stub.add_response("get_bucket_encryption",
                      {"ServerSideEncryptionConfiguration": {"Rules": [encryption]}}, b)
    stub.add_response("get_bucket_ownership_controls", {"OwnershipControls": {"Rules": [
        {"ObjectOwnership": "BucketOwnerEnforced"}]}}, b)
    stub.add_response("get_bucket_logging", {}, b)
    stub.add_client_error("get_bucket_lifecycle_configuration", "NoSuchLifecycleConfiguration",
                          "The lifecycle configuration does not exist", 404, expected_params=b)
    stub.add_response("get_bucket_tagging", {"TagSet": [{"Key": "Name", "Value": "b"}]}, b)


SSE_S3_DEFAULT = {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": False}


def judge(resources: list[tuple[str, dict[str, Any]]], ctx: StubCtx, bucket: str) -> list[tuple[str, str]]:
    registry = default_registry()
    managed = [ManagedResource(t, f"{t}.b", "s3://states/x.tfstate", a) for t, a in resources]
    declared = Declared(c.KIND, bucket, managed)
    for res in sorted(managed, key=lambda r: r.type != "aws_s3_bucket"):
        registry.get(res.type).declare(res, declared)
    owner = registry.owner(c.KIND)
    with ctx.stub:
        live = owner.read_live(ctx, bucket)
        ctx.stub.assert_no_pending_responses()
    assert live is not None
    return [(ch.path, ch.rule) for ch in owner.diff(declared, live)]


def test_real_aws_defaults_are_not_drift_for_a_plain_v5_bucket() -> None:
    """Stubber (moto has none of these defaults): a v5 state declaring only tags is in sync with a
    bucket that carries AWS's own SSE-S3, public access block and BucketOwnerEnforced."""
    ctx = StubCtx()
    stub_new_bucket_reads(ctx.stub, "plain-bucket", encryption=SSE_S3_DEFAULT)
    attrs = bucket_v5("plain-bucket", OWNER_ID, tags={"Name": "b"})
    assert judge([("aws_s3_bucket", attrs)], ctx, "plain-bucket") == []


def test_real_aws_delete_bucket_encryption_resets_to_sse_s3() -> None:
    """Stubber: on AWS, DeleteBucketEncryption leaves SSE-S3 in place (moto removes it). A declared
    KMS configuration then differs by algorithm and key: HIGH, not "removed"."""
    ctx = StubCtx()
    stub_new_bucket_reads(ctx.stub, "kms-bucket", encryption=SSE_S3_DEFAULT)
    split = {"bucket": "kms-bucket", "expected_bucket_owner": "", "id": "kms-bucket",
             "rule": [{"apply_server_side_encryption_by_default": [{"kms_master_key_id": KMS_KEY,
                                                                     "sse_algorithm": "aws:kms"}],
                       "bucket_key_enabled": None}]}
    found = judge([("aws_s3_bucket", bucket_v5("kms-bucket", OWNER_ID, tags={"Name": "b"})),
                   ("aws_s3_bucket_server_side_encryption_configuration", split)], ctx, "kms-bucket")
    assert found == [("server_side_encryption_configuration.sse_algorithm", "bucket-encryption-changed"),
                     ("server_side_encryption_configuration.kms_master_key_id", "bucket-encryption-changed")]


def test_access_denied_read_is_an_error_not_drift() -> None:
    """Stubber: a live read AWS refuses becomes LiveReadError (the pipeline's ``error``), never drift."""
    from chalicelib.errors import LiveReadError

    ctx = StubCtx()
    ctx.stub.add_response("get_bucket_versioning", {}, {"Bucket": "locked"})
    ctx.stub.add_client_error("get_bucket_acl", "AccessDenied", "Access Denied", 403,
                              expected_params={"Bucket": "locked"})
    with ctx.stub, pytest.raises(LiveReadError):
        default_registry().owner(c.KIND).read_live(ctx, "locked")


def test_lifecycle_normalization_round_trip_without_moto() -> None:
    """moto drops ``ObjectSizeGreaterThan`` inside ``And`` and ``NewerNoncurrentVersions``; check the
    three vocabularies (framework-era state, AWS response, revert request) agree on them directly."""
    state_rules = [{
        "id": "big-tmp", "status": "Enabled", "prefix": None,
        "filter": [{"and": [{"object_size_greater_than": 1024, "object_size_less_than": None,
                             "prefix": "tmp/", "tags": {"class": "scratch"}}],
                    "object_size_greater_than": None, "object_size_less_than": None, "prefix": None,
                    "tag": []}],
        "expiration": [{"date": "2030-01-01T00:00:00Z", "days": None, "expired_object_delete_marker": None}],
        "noncurrent_version_expiration": [{"newer_noncurrent_versions": 2, "noncurrent_days": 30}],
        "noncurrent_version_transition": [{"newer_noncurrent_versions": 3, "noncurrent_days": 7,
                                           "storage_class": "GLACIER_IR"}],
        "transition": [], "abort_incomplete_multipart_upload": []}]
    aws_rules = [{"ID": "big-tmp", "Status": "Enabled",
                  "Filter": {"And": {"Prefix": "tmp/", "Tags": [{"Key": "class", "Value": "scratch"}],
                                     "ObjectSizeGreaterThan": 1024}},
                  "Expiration": {"Date": __import__("datetime").datetime(2030, 1, 1)},
                  "NoncurrentVersionExpiration": {"NoncurrentDays": 30, "NewerNoncurrentVersions": 2},
                  "NoncurrentVersionTransitions": [{"NoncurrentDays": 7, "StorageClass": "GLACIER_IR",
                                                    "NewerNoncurrentVersions": 3}]}]
    declared = c.lifecycle_from_split(state_rules)
    assert declared == {"big-tmp": {
        "id": "big-tmp", "status": "Enabled",
        "filter": {"prefix": "tmp/", "tags": {"class": "scratch"}, "object_size_greater_than": 1024},
        "expiration": {"date": "2030-01-01"},
        "noncurrent_version_expiration": {"noncurrent_days": 30, "newer_noncurrent_versions": 2},
        "noncurrent_version_transition": [{"noncurrent_days": 7, "storage_class": "GLACIER_IR",
                                           "newer_noncurrent_versions": 3}]}}
    assert declared == c.lifecycle_from_aws(aws_rules)
    request = c.lifecycle_to_aws(declared)
    assert request[0]["Filter"] == aws_rules[0]["Filter"]
    assert request[0]["Expiration"] == {"Date": "2030-01-01T00:00:00Z"}
    assert c.lifecycle_from_aws(request) == declared


def test_transition_default_minimum_object_size_is_compared_when_declared() -> None:
    """moto always answers ``all_storage_classes_128K``; judge the models directly."""
    registry = default_registry()
    owner = registry.owner(c.KIND)
    attrs = lifecycle_state("sized").doc()["resources"][0]["instances"][0]["attributes"]
    attrs = {**attrs, "transition_default_minimum_object_size": "varies_by_storage_class"}
    res = ManagedResource("aws_s3_bucket_lifecycle_configuration", "aws_s3_bucket_lifecycle_configuration.b",
                          "s3://states/x.tfstate", attrs)
    declared = Declared(c.KIND, "sized", [res])
    registry.get(res.type).declare(res, declared)
    live = owner.live_model(versioning={}, acl={}, policy=None, pab=None, encryption=None, ownership=None,
                            logging={}, tagging=None,
                            lifecycle={"Rules": LIFECYCLE_RULES,
                                       "TransitionDefaultMinimumObjectSize": "all_storage_classes_128K"})
    [change] = owner.diff(declared, live)
    assert (change.path, change.declared, change.live, change.severity) == (
        "transition_default_minimum_object_size", "varies_by_storage_class", "all_storage_classes_128K",
        Severity.MEDIUM)
    [call] = owner.plan_revert("sized", [change], declared, live)
    assert call.params["TransitionDefaultMinimumObjectSize"] == "varies_by_storage_class"
    assert len(call.params["LifecycleConfiguration"]["Rules"]) == 2


# === real corpus states: what each bucket declares
def corpus_declared(state_file: str) -> dict[str, dict[str, Any]]:
    """Every bucket's declared model in one real state (../shared/corpus/tfstate)."""
    from chalicelib.state.tfstate import parse_state
    from tests.conftest import CORPUS

    path = f"{CORPUS}/tfstate/{state_file}"
    with open(path) as fh:
        doc = parse_state(path, fh.read())
    registry = default_registry()
    by_bucket: dict[str, list[ManagedResource]] = {}
    for res in doc.resources:
        plugin = registry.get(res.type)
        if plugin is not None and plugin.object_kind == c.KIND:
            by_bucket.setdefault(plugin.object_id(res.attributes), []).append(res)
    out = {}
    for bucket, resources in by_bucket.items():
        declared = Declared(c.KIND, bucket, resources)
        for res in sorted(resources, key=lambda r: (r.type != "aws_s3_bucket", r.address)):
            registry.get(res.type).declare(res, declared)
        out[bucket] = declared.model
    return out


def test_corpus_v5_state_with_split_resources() -> None:
    models = corpus_declared("CharlesGM__alasco-terraform__s3__terraform.tfstate.json")
    assert models == {"alasco-ghost": {
        "tags": {"Environment": "DEV", "Name": "Terraform State Bucket"},
        "policy": None,  # no policy anywhere: an added one is drift
        "block_public_acls": True, "block_public_policy": True, "ignore_public_acls": True,
        "restrict_public_buckets": True,
        "versioning_configuration": {"status": "Enabled"},  # the split resource, not the computed mirror
    }}


def test_corpus_v5_state_with_split_encryption() -> None:
    state = "MuhammedAnzam__Terraform-based-AWS-infrastructure-deployment__s3__terraform.tfstate.json"
    [model] = corpus_declared(state).values()
    assert model[c.SSE] == {"sse_algorithm": "AES256", "kms_master_key_id": ""}
    assert model["versioning_configuration"] == {"status": "Enabled"}
    assert "grant" not in model and "acl" not in model  # the owner-only grant is AWS's default


def test_corpus_v2_era_state_declares_its_inline_blocks() -> None:
    """Terraform 0.12 / provider v2: inline blocks were arguments, so what the state holds is declared
    (the ``logs-nl`` bucket is a data source there: not managed, not judged)."""
    models = corpus_declared("nl253__TerraformInfrastructure__s3__terraform.tfstate.json")
    assert set(models) == {"my-special-bucket-for-storing-stuff"}
    stuff = models["my-special-bucket-for-storing-stuff"]
    assert stuff["acl"] == "private" and stuff["tags"] == {}
    assert stuff["logging"] == {"target_bucket": "logs-nl",
                                "target_prefix": "my-special-bucket-for-storing-stuff"}
    assert stuff[c.SSE] == {"sse_algorithm": "AES256", "kms_master_key_id": ""}
    principal = json.loads(stuff["policy"])["Statement"][0]["Principal"]
    assert principal == {"AWS": ["arn:aws:iam::660847692645:user/ma"]}  # from aws_s3_bucket_policy
    assert "versioning_configuration" not in stuff
    errored = "nl253__TerraformInfrastructure__aws-s3-ci-bucket__errored.tfstate.json"
    ci = corpus_declared(errored)["codebuild-nl"]
    assert ci["versioning_configuration"] == {"status": "Enabled"}
    assert ci["lifecycle_rule"] == {"object-archive-rule": {
        "id": "object-archive-rule", "status": "Enabled", "filter": {},
        "expiration": {"expired_object_delete_marker": True},
        "noncurrent_version_expiration": {"noncurrent_days": 395},
        "noncurrent_version_transition": [{"noncurrent_days": 30, "storage_class": "ONEZONE_IA"}],
        "abort_incomplete_multipart_upload": {"days_after_initiation": 7}}}
