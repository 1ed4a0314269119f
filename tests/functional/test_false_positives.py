"""No noise: what Terraform would not report is never drift (issue "judge drift the way Terraform would").

Every case runs the real pipeline on moto: a state written with the provider's attribute names, a
console-style (or Terraform-style) change made with boto3, and the CloudTrail record replayed. Each
gives ``in_sync`` or ``ignored`` and the reason names what decided it: the canonical comparison,
the ``lifecycle.ignore_changes`` entry (with the ``.tf`` file and line), the policy rule, the IaC or
self principal, or the state serial that caught up. Where a case is quiet *because* of a source or
policy, the same change without it is shown to be drift, so the test cannot pass vacuously.

One moto account serves the module (EC2 is slow to start); each test makes its own objects and
writes its own state under its own key.
"""

from __future__ import annotations

import itertools
import json
import types
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib import cli, wiring
from chalicelib.drift.policy import PolicyStore
from chalicelib.models import Finding, Status
from chalicelib.pipeline import Pipeline
from chalicelib.state.source import SourceIndex, parse_source_mapping
from tests.conftest import make_pipeline
from tests.harness.events import ACCOUNT, cloudtrail_event, role_identity, sg_rule_event
from tests.harness.tfstate import StateBuilder, sg_attributes, sg_rule_block

REGION = "us-east-1"
STATE_BUCKET = "noise-false-positive-states"
TF_UA = "APN/1.0 HashiCorp/1.0 Terraform/1.9.8 (+https://www.terraform.io) terraform-provider-aws/5.80.0"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "policy"
SQS, KMS, IAM, S3 = "sqs.amazonaws.com", "kms.amazonaws.com", "iam.amazonaws.com", "s3.amazonaws.com"
_stacks = itertools.count(1)


# --- the account ---------------------------------------------------------------------------------------
@dataclass
class Account:
    session: boto3.session.Session
    s3: Any

    def deploy(self, state: StateBuilder, *, source: Path | None = None, policy: Path | None = None,
               **kw: Any) -> tuple[Pipeline, str]:
        """Write ``state`` under a fresh key; a pipeline over it, with ``source`` mapped to that key
        (``DRIFTWARDEN_SOURCE`` form) and ``policy`` loaded as ``DRIFTWARDEN_POLICY`` would be."""
        prefix = f"stack-{next(_stacks)}/"
        url = f"s3://{STATE_BUCKET}/{prefix}terraform.tfstate"
        state.put(self.s3, STATE_BUCKET, prefix + "terraform.tfstate")
        if source is not None:
            kw["source"] = SourceIndex(parse_source_mapping(f"{url}={source}"), s3=lambda: self.s3)
        if policy is not None:
            kw["policy"] = PolicyStore(str(policy)).get
        return make_pipeline(self.session, f"s3://{STATE_BUCKET}/{prefix}", **kw), url


@pytest.fixture(scope="module")
def acct(aws_module: boto3.session.Session) -> Iterator[Account]:
    s3 = aws_module.client("s3")
    s3.create_bucket(Bucket=STATE_BUCKET)
    yield Account(aws_module, s3)


def only(findings: list[Finding]) -> Finding:
    assert len(findings) == 1, [f.reason for f in findings]
    return findings[0]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def write_source(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def user_identity(name: str = "dev") -> dict[str, Any]:
    return {"type": "IAMUser", "principalId": "AIDAEXAMPLEDEVELOPER",
            "arn": f"arn:aws:iam::{ACCOUNT}:user/{name}", "accountId": ACCOUNT, "accessKeyId": "AKIAEXAMPLE",
            "userName": name}


# --- state entries with the provider's attribute names (cf. tests/fixtures/corpus/tfstate) ---------------
def queue_attrs(url: str, **overrides: Any) -> dict[str, Any]:
    name = url.rsplit("/", 1)[-1]
    attrs: dict[str, Any] = {
        "arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}", "content_based_deduplication": False,
        "deduplication_scope": "", "delay_seconds": 0, "fifo_queue": False, "fifo_throughput_limit": "",
        "id": url, "kms_data_key_reuse_period_seconds": 300, "kms_master_key_id": "",
        "max_message_size": 262144,
        "message_retention_seconds": 345600, "name": name, "name_prefix": "", "policy": "",
        "receive_wait_time_seconds": 0, "redrive_allow_policy": "", "redrive_policy": "",
        "sqs_managed_sse_enabled": True, "tags": {"team": "orders"}, "tags_all": {"team": "orders"},
        "url": url,
        "visibility_timeout_seconds": 30,
    }
    attrs.update(overrides)
    return attrs


def make_queue(acct: Account, tags: dict[str, str] | None = None, **attributes: str) -> str:
    sqs = acct.session.client("sqs")
    return sqs.create_queue(QueueName=unique("orders"), tags=tags or {"team": "orders"},
                            Attributes={"MaximumMessageSize": "262144", **attributes})["QueueUrl"]


def queue_event(name: str, url: str, request: dict[str, Any], **kw: Any) -> dict[str, Any]:
    return cloudtrail_event(name, SQS, {"queueUrl": url, **request}, None, **kw)


def key_attrs(kid: str, policy: str, **overrides: Any) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        "arn": key_arn(kid), "bypass_policy_lockout_safety_check": False, "custom_key_store_id": "",
        "customer_master_key_spec": "SYMMETRIC_DEFAULT", "deletion_window_in_days": 30,
        "description": "orders data key", "enable_key_rotation": False, "id": kid, "is_enabled": True,
        "key_id": kid, "key_usage": "ENCRYPT_DECRYPT", "multi_region": False, "policy": policy,
        "rotation_period_in_days": 0, "tags": {}, "tags_all": {}, "timeouts": None, "xks_key_id": "",
    }
    attrs.update(overrides)
    return attrs


def key_arn(kid: str) -> str:
    return f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{kid}"


KEY_POLICY = {
    "Version": "2012-10-17",
    "Id": "orders-key",
    "Statement": [
        {"Sid": "Enable IAM User Permissions", "Effect": "Allow",
         "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:*", "Resource": "*"},
        {"Sid": "OrdersServices", "Effect": "Allow",
         "Principal": {"AWS": [f"arn:aws:iam::{ACCOUNT}:role/orders-api",
                               f"arn:aws:iam::{ACCOUNT}:role/orders-worker"]},
         "Action": ["kms:Decrypt", "kms:GenerateDataKey*"], "Resource": "*"},
    ],
}


def make_key(acct: Account, **state: Any) -> tuple[str, StateBuilder]:
    """A key as Terraform made it: the policy above (compact in the state, as jsonencode writes it)."""
    kms = acct.session.client("kms")
    made = kms.create_key(Description="orders data key", Policy=json.dumps(KEY_POLICY, indent=4))
    kid = made["KeyMetadata"]["KeyId"]
    builder = StateBuilder().add("aws_kms_key", "orders",
                                 key_attrs(kid, json.dumps(KEY_POLICY, separators=(",", ":")), **state))
    return kid, builder


def key_event(name: str, kid: str, request: dict[str, Any] | None = None) -> dict[str, Any]:
    raw = cloudtrail_event(name, KMS, {"keyId": key_arn(kid), **(request or {})}, None)
    raw["detail"]["resources"] = [{"accountId": ACCOUNT, "type": "AWS::KMS::Key", "ARN": key_arn(kid)}]
    return raw


TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": ["lambda.amazonaws.com", "ec2.amazonaws.com"]},
     "Action": "sts:AssumeRole"}]}
LOGS = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": "*"},
    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::app-data/*"}]}


def role_attrs(name: str, trust: str, **overrides: Any) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        "arn": f"arn:aws:iam::{ACCOUNT}:role/{name}", "assume_role_policy": trust,
        "create_date": "2026-11-21T09:00:00Z", "description": "", "force_detach_policies": False, "id": name,
        "inline_policy": [], "managed_policy_arns": [], "max_session_duration": 3600, "name": name,
        "name_prefix": "", "path": "/", "permissions_boundary": "", "tags": {}, "tags_all": {},
        "unique_id": "AROAEXAMPLEUNIQUE0001",
    }
    attrs.update(overrides)
    return attrs


def bucket_attrs(name: str, policy: str = "") -> dict[str, Any]:
    """``aws_s3_bucket`` as provider v5 records it (inline blocks are computed mirrors, not declarations)."""
    return {
        "acceleration_status": "", "acl": None, "arn": f"arn:aws:s3:::{name}", "bucket": name,
        "bucket_domain_name": f"{name}.s3.amazonaws.com", "bucket_prefix": "",
        "bucket_regional_domain_name": f"{name}.s3.{REGION}.amazonaws.com", "cors_rule": [],
        "force_destroy": False,
        "grant": [], "hosted_zone_id": "Z3AQBSTGFYJSTF", "id": name, "lifecycle_rule": [], "logging": [],
        "object_lock_configuration": [], "object_lock_enabled": False, "policy": policy, "region": REGION,
        "replication_configuration": [], "request_payer": "BucketOwner",
        "server_side_encryption_configuration": [], "tags": None, "tags_all": {}, "timeouts": None,
        "versioning": [{"enabled": False, "mfa_delete": False}],
        "website": [], "website_domain": None, "website_endpoint": None,
    }


# === 1. equal policies, written differently ================================================================
def test_bucket_policy_reordered_and_reformatted_is_in_sync(acct: Account) -> None:
    bucket = unique("dw-fp-policy")
    acct.s3.create_bucket(Bucket=bucket)
    doc = {"Version": "2012-10-17", "Statement": [
        {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
         "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
         "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
        {"Sid": "AccountRead", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
         "Action": ["s3:GetObject", "s3:ListBucket"],
         "Resource": [f"arn:aws:s3:::{bucket}/*", f"arn:aws:s3:::{bucket}"]},
    ]}
    state = (StateBuilder().add("aws_s3_bucket", "data", bucket_attrs(bucket, json.dumps(doc)))
             .add("aws_s3_bucket_policy", "data", {"bucket": bucket, "id": bucket,
                                                   "policy": json.dumps(doc, separators=(",", ":"))}))
    pipeline, _ = acct.deploy(state)
    # statements and keys reversed, one-element lists for strings, lists reordered, pretty-printed
    reordered = {"Statement": [dict(reversed(list(s.items()))) for s in reversed(doc["Statement"])],
                 "Version": "2012-10-17"}
    reordered["Statement"][0]["Action"] = ["s3:ListBucket", "s3:GetObject"]
    reordered["Statement"][1]["Action"] = ["s3:*"]
    reordered["Statement"][1]["Resource"] = list(reversed(doc["Statement"][0]["Resource"]))
    acct.s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(reordered, indent=4))
    finding = only(pipeline.process_event(cloudtrail_event(
        "PutBucketPolicy", S3, {"bucketName": bucket, "policy": [""], "bucketPolicy": reordered})))
    assert finding.status is Status.IN_SYNC, [c.to_dict() for c in finding.changes]
    assert finding.reason == "live s3:bucket matches what 2 managed resource(s) declare"
    assert finding.resource.address == "aws_s3_bucket.data"


def test_trust_policy_reordered_is_in_sync(acct: Account) -> None:
    iam = acct.session.client("iam")
    name = unique("app")
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))
    compact = json.dumps(TRUST, sort_keys=True, separators=(",", ":"))
    pipeline, _ = acct.deploy(StateBuilder().add("aws_iam_role", "app", role_attrs(name, compact)))
    reordered = {"Statement": [{"Action": ["sts:AssumeRole"], "Principal": {"Service": [
        "ec2.amazonaws.com", "lambda.amazonaws.com"]}, "Effect": "Allow"}], "Version": "2012-10-17"}
    iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(reordered, indent=2))
    request = {"roleName": name, "policyDocument": json.dumps(reordered, indent=2)}
    finding = only(pipeline.process_event(cloudtrail_event("UpdateAssumeRolePolicy", IAM, request)))
    assert finding.status is Status.IN_SYNC, [c.to_dict() for c in finding.changes]
    assert finding.reason == "live iam:role matches what 1 managed resource(s) declare"


def test_inline_role_policy_reformatted_is_in_sync(acct: Account) -> None:
    """The inline policy lives in its own ``aws_iam_role_policy``: the union of declarations decides."""
    iam = acct.session.client("iam")
    name = unique("worker")
    trust = json.dumps(TRUST, separators=(",", ":"))
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)
    iam.put_role_policy(RoleName=name, PolicyName="logs", PolicyDocument=json.dumps(LOGS))
    state = (StateBuilder()
             .add("aws_iam_role", "worker", role_attrs(name, trust, inline_policy=[
                 {"name": "logs", "policy": json.dumps(LOGS, separators=(",", ":"))}]))
             .add("aws_iam_role_policy", "logs", {"id": f"{name}:logs", "name": "logs", "name_prefix": "",
                                                  "policy": json.dumps(LOGS, sort_keys=True), "role": name}))
    pipeline, _ = acct.deploy(state)
    rewritten = {"Version": "2012-10-17", "Statement": [
        {"Resource": ["arn:aws:s3:::app-data/*"], "Action": ["s3:GetObject"], "Effect": "Allow"},
        {"Resource": "*", "Action": ["logs:PutLogEvents", "logs:CreateLogStream"], "Effect": "Allow"}]}
    iam.put_role_policy(RoleName=name, PolicyName="logs", PolicyDocument=json.dumps(rewritten, indent=3))
    request = {"roleName": name, "policyName": "logs", "policyDocument": json.dumps(rewritten)}
    finding = only(pipeline.process_event(cloudtrail_event("PutRolePolicy", IAM, request)))
    assert finding.status is Status.IN_SYNC, [c.to_dict() for c in finding.changes]
    assert finding.reason == "live iam:role matches what 2 managed resource(s) declare"


def test_key_policy_reordered_is_in_sync(acct: Account) -> None:
    kid, state = make_key(acct)
    pipeline, _ = acct.deploy(state)
    statements = [dict(reversed(list(s.items()))) for s in reversed(KEY_POLICY["Statement"])]
    statements[0]["Principal"] = {"AWS": list(reversed(KEY_POLICY["Statement"][1]["Principal"]["AWS"]))}
    statements[0]["Action"] = ["kms:GenerateDataKey*", "kms:Decrypt"]
    statements[1]["Action"] = ["kms:*"]
    reordered = {"Statement": statements, "Id": "orders-key", "Version": "2012-10-17"}
    kms = acct.session.client("kms")
    kms.put_key_policy(KeyId=kid, PolicyName="default", Policy=json.dumps(reordered, indent=2))
    finding = only(pipeline.process_event(key_event("PutKeyPolicy", kid, {
        "policyName": "default", "policy": json.dumps(reordered), "bypassPolicyLockoutSafetyCheck": False})))
    assert finding.status is Status.IN_SYNC, [c.to_dict() for c in finding.changes]
    assert finding.reason == "live kms:key matches what 1 managed resource(s) declare"


def test_queue_policy_reordered_is_in_sync(acct: Account) -> None:
    url = make_queue(acct)
    arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{url.rsplit('/', 1)[-1]}"
    doc = {"Version": "2012-10-17", "Statement": [
        {"Sid": "S3Uploads", "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
         "Action": "SQS:SendMessage", "Resource": arn,
         "Condition": {"ArnEquals": {"aws:SourceArn": "arn:aws:s3:::orders-uploads"}}},
        {"Sid": "Workers", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/worker"},
         "Action": ["SQS:ReceiveMessage", "SQS:DeleteMessage"], "Resource": arn}]}
    sqs = acct.session.client("sqs")
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(doc)})
    state = (StateBuilder().add("aws_sqs_queue", "orders", queue_attrs(url))
             .add("aws_sqs_queue_policy", "orders", {"id": url, "policy": json.dumps(doc, sort_keys=True),
                                                     "queue_url": url}))
    pipeline, _ = acct.deploy(state)
    reordered = {"Statement": [
        {"Resource": [arn], "Action": ["SQS:DeleteMessage", "SQS:ReceiveMessage"],
         "Principal": {"AWS": [f"arn:aws:iam::{ACCOUNT}:role/worker"]}, "Effect": "Allow", "Sid": "Workers"},
        {"Condition": {"ArnEquals": {"aws:SourceArn": ["arn:aws:s3:::orders-uploads"]}}, "Resource": arn,
         "Action": ["SQS:SendMessage"], "Principal": {"Service": "s3.amazonaws.com"}, "Effect": "Allow",
         "Sid": "S3Uploads"}], "Version": "2012-10-17"}
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(reordered, indent=2)})
    finding = only(pipeline.process_event(queue_event("SetQueueAttributes", url, {
        "attributes": {"Policy": json.dumps(reordered, indent=2)}})))
    assert finding.status is Status.IN_SYNC, [c.to_dict() for c in finding.changes]
    assert finding.reason == "live sqs:queue matches what 2 managed resource(s) declare"


# === 2. what the .tf source tells Terraform to ignore, or does not set ==================================
def test_ignore_changes_on_tags_is_ignored_and_names_file_and_line(acct: Account, tmp_path: Path) -> None:
    url = make_queue(acct)
    name = url.rsplit("/", 1)[-1]
    src = write_source(tmp_path / "src", {"main.tf": (
        'provider "aws" {\n  region = "us-east-1"\n}\n\n'
        f'resource "aws_sqs_queue" "orders" {{\n  name = "{name}"\n  tags = {{\n    team = "orders"\n  }}\n\n'
        "  lifecycle {\n    ignore_changes = [tags]\n  }\n}\n")})
    state = StateBuilder().add("aws_sqs_queue", "orders", queue_attrs(url))
    quiet, _ = acct.deploy(state, source=src)
    plain, _ = acct.deploy(state)
    acct.session.client("sqs").tag_queue(QueueUrl=url, Tags={"team": "payments", "cost-center": "42"})
    event = queue_event("TagQueue", url, {"tags": {"team": "payments", "cost-center": "42"}})
    assert only(plain.process_event(event)).status is Status.DRIFT, "without the source this is drift"
    finding = only(quiet.process_event(event))
    assert finding.status is Status.IGNORED
    assert finding.reason == ("lifecycle.ignore_changes (tags.cost-center, tags.team) on "
                              f"aws_sqs_queue.orders at {src / 'main.tf'}:5")
    assert finding.changes == () and finding.plan == ()


def test_ignore_changes_all_is_ignored_and_names_file_and_line(acct: Account, tmp_path: Path) -> None:
    kid, state = make_key(acct)
    src = write_source(tmp_path / "src", {
        "versions.tf": 'terraform {\n  required_version = ">= 1.5"\n}\n',
        "kms.tf": ('# the key is handed over to the security team after creation\n'
                   'resource "aws_kms_key" "orders" {\n  description = "orders data key"\n'
                   "  lifecycle {\n    ignore_changes = all\n  }\n}\n")})
    quiet, _ = acct.deploy(state, source=src)
    plain, _ = acct.deploy(state)
    kms = acct.session.client("kms")
    kms.disable_key(KeyId=kid)
    kms.update_key_description(KeyId=kid, Description="owned by security now")
    event = key_event("DisableKey", kid)
    assert only(plain.process_event(event)).status is Status.DRIFT
    finding = only(quiet.process_event(event))
    assert finding.status is Status.IGNORED
    assert finding.reason == f"lifecycle.ignore_changes (all) on aws_kms_key.orders at {src / 'kms.tf'}:2"


def test_ignore_changes_on_one_tag_in_a_local_module(acct: Account, tmp_path: Path) -> None:
    """``module.queues.aws_sqs_queue.orders``: the block is found through the module call's local source,
    and ``tags["LastScanned"]`` covers only that tag."""
    url = make_queue(acct, tags={"team": "orders", "LastScanned": "2026-01-01"})
    src = write_source(tmp_path / "live", {
        "main.tf": 'module "queues" {\n  source = "./modules/queues"\n}\n',
        "modules/queues/main.tf": (
            'variable "tags" {\n  type    = map(string)\n  default = {}\n}\n\n'
            'resource "aws_sqs_queue" "orders" {\n  name = "orders"\n  tags = var.tags\n'
            '  lifecycle {\n    ignore_changes = [tags["LastScanned"]]\n  }\n}\n')})
    tags = {"team": "orders", "LastScanned": "2026-01-01"}
    state = StateBuilder().add("aws_sqs_queue", "orders", queue_attrs(url, tags=tags, tags_all=tags),
                               module="module.queues")
    pipeline, _ = acct.deploy(state, source=src)
    acct.session.client("sqs").tag_queue(QueueUrl=url, Tags={"LastScanned": "2026-11-21"})
    event = queue_event("TagQueue", url, {"tags": {"LastScanned": "2026-11-21"}})
    finding = only(pipeline.process_event(event))
    assert finding.status is Status.IGNORED
    where = tmp_path / "live" / "modules" / "queues" / "main.tf"
    assert finding.reason == ("lifecycle.ignore_changes (tags.LastScanned) on "
                              f"module.queues.aws_sqs_queue.orders at {where}:6")
    assert finding.resource.address == "module.queues.aws_sqs_queue.orders"


def test_ignore_changes_from_an_override_file(acct: Account, tmp_path: Path) -> None:
    """``*_override.tf`` merges into its block as Terraform merges it; the base block's line is cited."""
    kid, state = make_key(acct, enable_key_rotation=True)
    acct.session.client("kms").enable_key_rotation(KeyId=kid)
    src = write_source(tmp_path / "src", {
        "main.tf": 'resource "aws_kms_key" "orders" {\n  description         = "orders data key"\n'
                   "  enable_key_rotation = true\n}\n",
        "rotation_override.tf": 'resource "aws_kms_key" "orders" {\n  lifecycle {\n'
                                "    ignore_changes = [enable_key_rotation]\n  }\n}\n"})
    pipeline, _ = acct.deploy(state, source=src)
    acct.session.client("kms").disable_key_rotation(KeyId=kid)
    finding = only(pipeline.process_event(key_event("DisableKeyRotation", kid)))
    assert finding.status is Status.IGNORED
    assert finding.reason == (f"lifecycle.ignore_changes (enable_key_rotation) on aws_kms_key.orders "
                              f"at {src / 'main.tf'}:1")


def test_computed_attribute_the_configuration_does_not_set_is_in_sync(acct: Account, tmp_path: Path) -> None:
    """``description`` of ``aws_kms_key`` is Optional+Computed: a block that does not set it takes
    whatever AWS has, so ``terraform plan`` shows nothing when someone edits it."""
    kid, state = make_key(acct)
    src = write_source(tmp_path / "src", {"kms.tf": (
        'resource "aws_kms_key" "orders" {\n  policy = jsonencode({})\n\n'
        '  tags = {\n    Name = "orders"\n  }\n}\n')})
    quiet, _ = acct.deploy(state, source=src)
    plain, _ = acct.deploy(state)
    acct.session.client("kms").update_key_description(KeyId=kid, Description="rotated by the platform team")
    event = key_event("UpdateKeyDescription", kid, {"description": "rotated by the platform team"})
    loud = only(plain.process_event(event))
    assert loud.status is Status.DRIFT and [c.path for c in loud.changes] == ["description"]
    finding = only(quiet.process_event(event))
    assert finding.status is Status.IN_SYNC
    assert finding.reason == (f"differs only in attributes the configuration at {src / 'kms.tf'}:1 does not "
                              "set (description): Terraform would not report them")


def test_provider_default_tags_in_tags_all_are_not_drift(acct: Account, tmp_path: Path) -> None:
    """The block sets ``Name``; provider ``default_tags`` add ``env`` and ``team``, which only
    ``tags_all`` records. AWS has all three: nothing differs, with or without the source."""
    url = make_queue(acct, tags={"Name": "orders", "env": "prod", "team": "platform"})
    state = StateBuilder().add("aws_sqs_queue", "orders", queue_attrs(
        url, tags={"Name": "orders"}, tags_all={"Name": "orders", "env": "prod", "team": "platform"}))
    src = write_source(tmp_path / "src", {"main.tf": (
        'provider "aws" {\n  default_tags {\n    tags = {\n      env  = "prod"\n      team = "platform"\n'
        '    }\n  }\n}\n\nresource "aws_sqs_queue" "orders" {\n  name = "orders"\n'
        '  tags = {\n    Name = "orders"\n  }\n}\n')})
    event = queue_event("TagQueue", url, {"tags": {"env": "prod"}})
    acct.session.client("sqs").tag_queue(QueueUrl=url, Tags={"env": "prod"})
    for kw in ({}, {"source": src}):
        pipeline, _ = acct.deploy(state, **kw)
        finding = only(pipeline.process_event(event))
        assert finding.status is Status.IN_SYNC, [c.to_dict() for c in finding.changes]
        assert finding.reason == "live sqs:queue matches what 1 managed resource(s) declare"


# === 3. security groups: the AWS default egress rule, rules declared elsewhere ==========================
@pytest.fixture(scope="module")
def vpc(acct: Account) -> str:
    ec2 = acct.session.client("ec2")
    return str(ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"])


def managed_group(acct: Account, vpc: str) -> tuple[str, StateBuilder]:
    ec2 = acct.session.client("ec2")
    gid = ec2.create_security_group(GroupName=unique("web"), Description="web", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
        {"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}])
    group = ec2.describe_security_groups(GroupIds=[gid])["SecurityGroups"][0]
    state = StateBuilder()
    state.add("aws_security_group", "web", sg_attributes(
        group, ingress=[sg_rule_block("tcp", 443, 443, ["0.0.0.0/0"])], egress=[]), module="module.net")
    state.add("aws_vpc_security_group_ingress_rule", "app", {
        "id": "sgr-0123456789abcdef0", "security_group_id": gid, "ip_protocol": "tcp", "from_port": 8080,
        "to_port": 8080, "cidr_ipv4": "10.0.0.0/8", "cidr_ipv6": None, "prefix_list_id": None,
        "referenced_security_group_id": None, "description": None, "tags": None, "tags_all": {}},
        module="module.net")
    return gid, state


def test_aws_default_egress_rule_is_not_drift(acct: Account, vpc: str) -> None:
    gid, state = managed_group(acct, vpc)
    live = acct.session.client("ec2").describe_security_groups(GroupIds=[gid])["SecurityGroups"][0]
    assert [p["IpProtocol"] for p in live["IpPermissionsEgress"]] == ["-1"], "moto adds the default egress"
    pipeline, _ = acct.deploy(state)
    finding = only(pipeline.process_event(sg_rule_event("AuthorizeSecurityGroupEgress", gid, [])))
    assert finding.status is Status.IN_SYNC, [c.to_dict() for c in finding.changes]
    assert finding.reason == "live ec2:security-group matches what 2 managed resource(s) declare"


def test_rule_declared_in_a_separate_resource_is_not_drift(acct: Account, vpc: str) -> None:
    gid, state = managed_group(acct, vpc)
    pipeline, _ = acct.deploy(state)
    app = {"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}
    finding = only(pipeline.process_event(sg_rule_event("AuthorizeSecurityGroupIngress", gid, [app])))
    assert finding.status is Status.IN_SYNC, [c.to_dict() for c in finding.changes]
    assert finding.reason == "live ec2:security-group matches what 2 managed resource(s) declare"
    assert finding.resource.address == "module.net.aws_security_group.web"


# === 4. who made it: Terraform's own role, Driftwarden itself ===============================================
def test_terraform_apply_by_the_iac_role_is_ignored(acct: Account, env: Any) -> None:
    """``DRIFTWARDEN_IAC_PRINCIPALS`` through the wiring the Lambda uses; the same change made by a
    person is drift (so the principal, not the comparison, is what made it quiet)."""
    url = make_queue(acct)
    prefix = f"stack-{next(_stacks)}/"
    StateBuilder().add("aws_sqs_queue", "orders", queue_attrs(url)).put(acct.s3, STATE_BUCKET,
                                                                         prefix + "terraform.tfstate")
    env(DRIFTWARDEN_STATE=f"s3://{STATE_BUCKET}/{prefix}",
        DRIFTWARDEN_IAC_PRINCIPALS="arn:aws:iam::*:role/terraform-*, arn:aws:iam::*:role/atlantis")
    acct.session.client("sqs").set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "120"})
    request = {"attributes": {"VisibilityTimeout": "120"}}
    by_ci = queue_event("SetQueueAttributes", url, request, console=False, user_agent=TF_UA,
                        identity=role_identity("terraform-apply", "ci-4711"))
    finding = only(wiring.pipeline().process_event(by_ci))
    assert finding.status is Status.IGNORED
    assert finding.reason == ("made by an IaC principal (matches arn:aws:iam::*:role/terraform-*): "
                              "Terraform's own change")
    by_person = only(wiring.pipeline().process_event(queue_event("SetQueueAttributes", url, request)))
    assert by_person.status is Status.DRIFT


def test_iac_role_apply_is_ignored_at_once_when_terraform_rechecks_are_on(acct: Account) -> None:
    """With re-checks of Terraform agents on (``DRIFTWARDEN_DEFER_QUEUE_URL``, or ``replay
    --terraform-recheck``), Terraform's own role is still Terraform's own role: its apply is ignored
    there and then, not deferred as if it were "a Terraform agent outside the IaC principals"."""
    url = make_queue(acct)
    deferred: list[Any] = []
    pipeline, _ = acct.deploy(StateBuilder().add("aws_sqs_queue", "orders", queue_attrs(url)),
                              iac_principals=("arn:aws:iam::*:role/terraform-*",),
                              defer=lambda raw, serials: deferred.append(raw))
    acct.session.client("sqs").set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "120"})
    event = queue_event("SetQueueAttributes", url, {"attributes": {"VisibilityTimeout": "120"}},
                        console=False, user_agent=TF_UA, identity=role_identity("terraform-apply", "ci-4711"))
    finding = only(pipeline.process_event(event))
    assert finding.status is Status.IGNORED, finding.reason
    assert finding.reason == ("made by an IaC principal (matches arn:aws:iam::*:role/terraform-*): "
                              "Terraform's own change")
    assert deferred == []


def test_driftwardens_own_revert_is_ignored(acct: Account, env: Any) -> None:
    url = make_queue(acct)
    prefix = f"stack-{next(_stacks)}/"
    StateBuilder().add("aws_sqs_queue", "orders", queue_attrs(url)).put(acct.s3, STATE_BUCKET,
                                                                         prefix + "terraform.tfstate")
    env(DRIFTWARDEN_STATE=f"s3://{STATE_BUCKET}/{prefix}",
        DRIFTWARDEN_SELF_PRINCIPALS="arn:aws:iam::*:role/driftwarden-*")
    acct.session.client("sqs").set_queue_attributes(QueueUrl=url, Attributes={"DelaySeconds": "5"})
    event = queue_event("SetQueueAttributes", url, {"attributes": {"DelaySeconds": "5"}},
                        identity=role_identity("driftwarden-remediator", "driftwarden"), console=False,
                        user_agent="Boto3/1.35.0 md/Botocore#1.35.0 app/driftwarden")
    finding = only(wiring.pipeline().process_event(event))
    assert finding.status is Status.IGNORED
    assert finding.reason == "Driftwarden's own change (principal matches arn:aws:iam::*:role/driftwarden-*)"


# === 5. a local `terraform apply` whose state catches up ====================================================
def test_local_terraform_apply_whose_state_catches_up_is_in_sync(acct: Account) -> None:
    """Someone runs ``terraform apply`` from a laptop as themselves (not an IaC principal). The event is
    deferred; by the re-check the apply has written a newer state that declares the live value."""
    url = make_queue(acct)
    deferred: list[tuple[Any, dict[str, int]]] = []
    before = StateBuilder(serial=41)
    before.add("aws_sqs_queue", "orders", queue_attrs(url))
    pipeline, state_url = acct.deploy(before, defer=lambda raw, serials: deferred.append((raw, serials)))
    acct.session.client("sqs").set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "90"})
    event = queue_event("SetQueueAttributes", url, {"attributes": {"VisibilityTimeout": "90"}},
                        identity=user_identity("alice"), console=False, user_agent=TF_UA)
    first = only(pipeline.process_event(event))
    assert first.status is Status.SKIPPED and "deferred" in first.reason
    [(raw, serials)] = deferred
    assert serials == {state_url: 41}
    after = StateBuilder(serial=42, lineage=before.lineage)
    after.add("aws_sqs_queue", "orders", queue_attrs(url, visibility_timeout_seconds=90))
    after.put(acct.s3, STATE_BUCKET, state_url.split(f"s3://{STATE_BUCKET}/", 1)[1])
    pipeline.index.refresh()
    finding = only(pipeline.process_event(raw, recheck=serials))
    assert finding.status is Status.IN_SYNC
    assert finding.reason == (f"a Terraform apply outside the pipeline ({TF_UA}); the state caught up "
                              "(serial 41 → 42) and declares the live value")


def test_local_terraform_apply_through_cli_replay_recheck(acct: Account, env: Any, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """``driftwarden replay --terraform-recheck 0``: the apply finishes writing its state while
    Driftwarden waits (the wait is where the state is rewritten here)."""
    url = make_queue(acct)
    key = f"stack-{next(_stacks)}/terraform.tfstate"
    before = StateBuilder(serial=7)
    before.add("aws_sqs_queue", "orders", queue_attrs(url))
    before.put(acct.s3, STATE_BUCKET, key)
    env(DRIFTWARDEN_STATE=f"s3://{STATE_BUCKET}/{key}")
    sqs = acct.session.client("sqs")
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"MessageRetentionPeriod": "86400"})
    path = tmp_path / "event.json"
    path.write_text(json.dumps(queue_event("SetQueueAttributes", url, {
        "attributes": {"MessageRetentionPeriod": "86400"}}, identity=user_identity("bob"), console=False,
        user_agent=TF_UA)))

    def apply_finishes(seconds: float) -> None:
        assert seconds == 0
        after = StateBuilder(serial=8, lineage=before.lineage)
        after.add("aws_sqs_queue", "orders", queue_attrs(url, message_retention_seconds=86400))
        after.put(acct.s3, STATE_BUCKET, key)

    monkeypatch.setattr(cli, "time", types.SimpleNamespace(sleep=apply_finishes))
    assert cli.main(["replay", str(path), "--terraform-recheck", "0"]) == 0
    first, recheck = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert first["status"] == "skipped" and "deferred" in first["reason"]
    assert recheck["status"] == "in_sync"
    assert recheck["reason"].endswith("the state caught up (serial 7 → 8) and declares the live value")
    assert recheck["actor"]["user_agent"] == TF_UA


# === 6. nothing left to see =================================================================================
def test_value_set_to_what_is_already_declared_is_in_sync(acct: Account) -> None:
    url = make_queue(acct, VisibilityTimeout="30", DelaySeconds="0")
    pipeline, _ = acct.deploy(StateBuilder().add("aws_sqs_queue", "orders", queue_attrs(url)))
    acct.session.client("sqs").set_queue_attributes(QueueUrl=url, Attributes={
        "VisibilityTimeout": "30", "DelaySeconds": "0"})
    finding = only(pipeline.process_event(queue_event("SetQueueAttributes", url, {
        "attributes": {"VisibilityTimeout": "30", "DelaySeconds": "0"}})))
    assert finding.status is Status.IN_SYNC
    assert finding.reason == "live sqs:queue matches what 1 managed resource(s) declare"


def test_change_undone_before_processing_is_in_sync(acct: Account) -> None:
    kid, state = make_key(acct)
    pipeline, _ = acct.deploy(state)
    kms = acct.session.client("kms")
    kms.disable_key(KeyId=kid)
    kms.enable_key(KeyId=kid)
    finding = only(pipeline.process_event(key_event("DisableKey", kid)))
    assert finding.status is Status.IN_SYNC
    assert finding.reason == "live kms:key matches what 1 managed resource(s) declare"


# === 7. the policy file ================================================================================
def test_policy_ignore_rule_on_an_attribute_path(acct: Account, tmp_path: Path) -> None:
    policy = tmp_path / "policy.hcl"
    policy.write_text('# the cost tool stamps this tag on everything\nrule "ignore-cost-stamp" {\n'
                      '  match {\n    type      = "aws_sqs_queue"\n    attribute = ["tags.CostReport"]\n  }\n'
                      '  action = "ignore"\n}\n')
    url = make_queue(acct)
    pipeline, _ = acct.deploy(StateBuilder().add("aws_sqs_queue", "orders", queue_attrs(url)), policy=policy)
    sqs = acct.session.client("sqs")
    sqs.tag_queue(QueueUrl=url, Tags={"CostReport": "2026-11"})
    finding = only(pipeline.process_event(queue_event("TagQueue", url, {"tags": {"CostReport": "2026-11"}})))
    assert finding.status is Status.IGNORED
    assert finding.reason == "every difference is ignored by policy rule ignore-cost-stamp"
    # only that path: another tag on the same queue is still drift
    sqs.tag_queue(QueueUrl=url, Tags={"team": "someone-else"})
    still = only(pipeline.process_event(queue_event("TagQueue", url, {"tags": {"team": "someone-else"}})))
    assert still.status is Status.DRIFT and [c.path for c in still.changes] == ["tags.team"]


def test_shipped_noisy_autoscaling_example_ignores_the_inventory_scanner(acct: Account) -> None:
    """examples/policy/noisy-autoscaling.hcl as shipped: the scanner's tag stamps are ignored."""
    url = make_queue(acct)
    pipeline, _ = acct.deploy(StateBuilder().add("aws_sqs_queue", "orders", queue_attrs(url)),
                              policy=EXAMPLES / "noisy-autoscaling.hcl")
    tags = {"LastScanned": "2026-11-21T09:00:00Z", "ScannedBy": "inventory"}
    acct.session.client("sqs").tag_queue(QueueUrl=url, Tags=tags)
    event = queue_event("TagQueue", url, {"tags": tags}, console=False,
                        identity=role_identity("inventory-scanner", "nightly"))
    finding = only(pipeline.process_event(event))
    assert finding.status is Status.IGNORED
    assert finding.reason == "every difference is ignored by policy rule ignore-inventory-tags"
    by_person = only(pipeline.process_event(queue_event("TagQueue", url, {"tags": tags})))
    assert by_person.status is Status.DRIFT, "the rule is scoped to the scanner's role"
