"""The IAM family end to end through the pipeline, on moto.

Each test creates the IAM objects, writes their state entries with the AWS provider's real attribute
names (shapes from ../shared/corpus/tfstate), makes the console change with boto3, replays the
CloudTrail event for it and checks the finding, the severity rule, the revert and the replay after
it. Where moto lacks an API (user permissions boundaries) or ignores a parameter (``UpdateGroup
NewPath``), the test drives the same pipeline with botocore's ``Stubber`` and responses shaped like
real AWS, and says so.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from chalicelib.models import Action, RemediationStatus, Severity, Status
from chalicelib.pipeline import Pipeline
from chalicelib.resources.iam_common import canonical_iam_policy, is_admin_document
from chalicelib.resources.registry import default_registry
from chalicelib.state.index import StateIndex
from chalicelib.state.tfstate import parse_state
from tests.conftest import make_pipeline
from tests.harness.events import ACCOUNT, cloudtrail_event
from tests.harness.tfstate import StateBuilder

IAM = "iam.amazonaws.com"
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"

TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}
# What the provider writes to state for TRUST (jsonencode: sorted keys, compact).
TRUST_STATE = (
    '{"Statement":[{"Action":"sts:AssumeRole","Effect":"Allow","Principal":'
    '{"Service":"ec2.amazonaws.com"}}],"Version":"2012-10-17"}'
)
LOGS = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": "*"}
    ],
}
READ = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::app-data/*"}],
}
STAR = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
WRITE = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::app-data/*"}],
}


def compact(doc: dict[str, Any]) -> str:
    return json.dumps(doc, separators=(",", ":"))


def event(
    name: str, request: dict[str, Any] | None, response: dict[str, Any] | None = None
) -> dict[str, Any]:
    return cloudtrail_event(name, IAM, request, response)


def arn(kind: str, name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:{kind}/{name}"


# --- state entries with the provider's attribute names -----------------------------------------------
def role_attrs(
    name: str,
    *,
    trust: str = TRUST_STATE,
    description: str = "App servers",
    max_session: int = 3600,
    boundary: str = "",
    tags: dict[str, str] | None = None,
    default_tags: dict[str, str] | None = None,
    managed_policy_arns: list[str] | None = None,
    inline_policy: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    return {
        "arn": arn("role", name),
        "assume_role_policy": trust,
        "create_date": "2026-11-21T09:00:00Z",
        "description": description,
        "force_detach_policies": False,
        "id": name,
        "inline_policy": inline_policy if inline_policy is not None else [],
        "managed_policy_arns": managed_policy_arns or [],
        "max_session_duration": max_session,
        "name": name,
        "name_prefix": "",
        "path": "/",
        "permissions_boundary": boundary,
        "tags": tags,
        "tags_all": {**(default_tags or {}), **(tags or {})},
        "unique_id": "AROAEXAMPLEUNIQUE0001",
    }


def policy_attrs(policy_arn: str, document: str, *, tags: dict[str, str] | None = None) -> dict[str, Any]:
    name = policy_arn.rsplit("/", 1)[1]
    return {
        "arn": policy_arn,
        "attachment_count": 1,
        "description": "",
        "id": policy_arn,
        "name": name,
        "name_prefix": "",
        "path": "/",
        "policy": document,
        "policy_id": "ANPAEXAMPLEPOLICY0001",
        "tags": tags,
        "tags_all": tags or {},
    }


def user_attrs(
    name: str,
    *,
    path: str = "/",
    boundary: str | None = None,
    tags: dict[str, str] | None = None,
    default_tags: dict[str, str] | None = None,
) -> dict[str, Any]:
    return {
        "arn": arn("user", name.strip("/")),
        "force_destroy": False,
        "id": name,
        "name": name,
        "path": path,
        "permissions_boundary": boundary,
        "tags": tags,
        "tags_all": {**(default_tags or {}), **(tags or {})},
        "unique_id": "AIDAEXAMPLEUNIQUE0001",
    }


def group_attrs(name: str, path: str = "/") -> dict[str, Any]:
    return {
        "arn": arn("group", name),
        "id": name,
        "name": name,
        "path": path,
        "unique_id": "AGPAEXAMPLEUNIQUE001",
    }


def key_attrs(key_id: str, user: str, status: str = "Active") -> dict[str, Any]:
    return {
        "create_date": "2026-11-21T09:00:00Z",
        "encrypted_secret": None,
        "encrypted_ses_smtp_password_v4": None,
        "id": key_id,
        "key_fingerprint": None,
        "pgp_key": None,
        "secret": "REDACTED-IN-TEST",
        "ses_smtp_password_v4": "REDACTED-IN-TEST",
        "status": status,
        "user": user,
    }


KEY_SENSITIVE = [
    [{"type": "get_attr", "value": "secret"}],
    [{"type": "get_attr", "value": "ses_smtp_password_v4"}],
]


# --- the moto account ----------------------------------------------------------------------------------
@dataclass
class Account:
    session: boto3.session.Session
    iam: Any
    state: StateBuilder = field(default_factory=StateBuilder)
    _pipeline: Pipeline | None = None

    def save(self) -> Pipeline:
        self.state.put(self.session.client("s3"), "tfstate", "prod/iam.tfstate")
        self._pipeline = make_pipeline(self.session, "s3://tfstate/prod/")
        return self._pipeline

    @property
    def pipeline(self) -> Pipeline:
        assert self._pipeline is not None, "call save() first"
        return self._pipeline

    def replay(
        self, name: str, request: dict[str, Any] | None, response: dict[str, Any] | None = None
    ) -> Any:
        [finding] = self.pipeline.process_event(event(name, request, response))
        return finding

    def customer_policy(self, name: str, document: dict[str, Any]) -> str:
        return self.iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(document))["Policy"]["Arn"]


@pytest.fixture
def account(request: pytest.FixtureRequest) -> Iterator[Account]:
    """A fresh moto account. Loading moto's AWS-managed policies costs ~1.3 s, so only tests marked
    ``@WITH_AWS_POLICIES`` (they attach AdministratorAccess / ReadOnlyAccess) get them."""
    config = {"iam": {"load_aws_managed_policies": getattr(request, "param", None) == _AWS_POLICIES}}
    with mock_aws(config=config):
        session = boto3.session.Session(region_name="us-east-1")
        session.client("s3").create_bucket(Bucket="tfstate")
        yield Account(session, session.client("iam"))


_AWS_POLICIES = "aws-managed-policies"
WITH_AWS_POLICIES = pytest.mark.parametrize("account", [_AWS_POLICIES], indirect=True)


def changes(finding: Any) -> list[dict[str, Any]]:
    return [c.to_dict() for c in finding.changes]


def assert_reverted_then_in_sync(acct: Account, finding: Any, name: str, request: dict[str, Any]) -> None:
    result = acct.pipeline.revert(finding)
    assert result.status is RemediationStatus.REVERTED, result.reason
    again = acct.replay(name, request)
    assert again.status is Status.IN_SYNC, again.reason


# --- roles ---------------------------------------------------------------------------------------------
@pytest.fixture
def role(account: Account) -> Account:
    """Role ``app`` with a boundary, one attachment and one inline policy, each in its own resource."""
    iam = account.iam
    boundary = account.customer_policy("boundary", STAR)
    app_read = account.customer_policy("app-read", READ)
    iam.create_role(
        RoleName="app",
        AssumeRolePolicyDocument=json.dumps(TRUST, indent=2),
        Description="App servers",
        PermissionsBoundary=boundary,
        Tags=[{"Key": "team", "Value": "platform"}],
    )
    iam.attach_role_policy(RoleName="app", PolicyArn=app_read)
    iam.put_role_policy(RoleName="app", PolicyName="logs", PolicyDocument=json.dumps(LOGS))
    account.state.add(
        "aws_iam_role",
        "app",
        role_attrs(
            "app",
            boundary=boundary,
            default_tags={"team": "platform"},
            managed_policy_arns=[app_read],
            inline_policy=[{"name": "logs", "policy": compact(LOGS)}],
        ),
    )
    account.state.add(
        "aws_iam_role_policy_attachment",
        "app_read",
        {"id": f"app/{app_read}", "policy_arn": app_read, "role": "app"},
    )
    account.state.add(
        "aws_iam_role_policy",
        "logs",
        {"id": "app:logs", "name": "logs", "name_prefix": "", "policy": compact(LOGS), "role": "app"},
    )
    account.save()
    return account


@WITH_AWS_POLICIES
def test_admin_policy_attached_to_managed_role_is_critical_and_detached(role):
    role.iam.attach_role_policy(RoleName="app", PolicyArn=ADMIN)
    request = {"roleName": "app", "policyArn": ADMIN}
    finding = role.replay("AttachRolePolicy", request)
    assert finding.status is Status.DRIFT and finding.severity is Severity.CRITICAL
    assert "admin-policy-attached" in finding.reason
    assert finding.resource.address == "aws_iam_role.app" and finding.region == "us-east-1"
    assert changes(finding) == [{"path": "managed_policy_arns", "declared": None, "live": ADMIN}]
    assert [(c.operation, c.params) for c in finding.plan] == [
        ("DetachRolePolicy", {"RoleName": "app", "PolicyArn": ADMIN})
    ]
    assert_reverted_then_in_sync(role, finding, "AttachRolePolicy", request)
    assert [
        p["PolicyArn"] for p in role.iam.list_attached_role_policies(RoleName="app")["AttachedPolicies"]
    ] == [arn("policy", "app-read")]


def test_customer_policy_granting_star_on_star_is_critical(role):
    everything = role.customer_policy("everything", STAR)
    role.iam.attach_role_policy(RoleName="app", PolicyArn=everything)
    finding = role.replay("AttachRolePolicy", {"roleName": "app", "policyArn": everything})
    assert finding.severity is Severity.CRITICAL and "admin-policy-attached" in finding.reason


@WITH_AWS_POLICIES
def test_other_policy_attached_is_high(role):
    role.iam.attach_role_policy(RoleName="app", PolicyArn=READ_ONLY)
    finding = role.replay("AttachRolePolicy", {"roleName": "app", "policyArn": READ_ONLY})
    assert finding.status is Status.DRIFT and finding.severity is Severity.HIGH
    assert [c.rule for c in finding.changes] == ["policy-attached"]


def test_declared_attachment_detached_is_high_and_reattached(role):
    app_read = arn("policy", "app-read")
    role.iam.detach_role_policy(RoleName="app", PolicyArn=app_read)
    request = {"roleName": "app", "policyArn": app_read}
    finding = role.replay("DetachRolePolicy", request)
    assert finding.severity is Severity.HIGH
    assert changes(finding) == [{"path": "managed_policy_arns", "declared": app_read, "live": None}]
    assert [c.operation for c in finding.plan] == ["AttachRolePolicy"]
    assert_reverted_then_in_sync(role, finding, "DetachRolePolicy", request)


def test_inline_admin_policy_is_critical_and_deleted(role):
    role.iam.put_role_policy(RoleName="app", PolicyName="break-glass", PolicyDocument=json.dumps(STAR))
    request = {"roleName": "app", "policyName": "break-glass", "policyDocument": json.dumps(STAR)}
    finding = role.replay("PutRolePolicy", request)
    assert finding.severity is Severity.CRITICAL and "admin-policy-attached" in finding.reason
    assert [c.path for c in finding.changes] == ["inline_policy.break-glass"]
    assert [(c.operation, c.params) for c in finding.plan] == [
        ("DeleteRolePolicy", {"RoleName": "app", "PolicyName": "break-glass"})
    ]
    assert_reverted_then_in_sync(role, finding, "PutRolePolicy", request)
    assert role.iam.list_role_policies(RoleName="app")["PolicyNames"] == ["logs"]


def test_declared_inline_policy_rewritten_is_high_and_restored(role):
    wider = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "logs:*", "Resource": "*"}]}
    role.iam.put_role_policy(RoleName="app", PolicyName="logs", PolicyDocument=json.dumps(wider))
    request = {"roleName": "app", "policyName": "logs", "policyDocument": json.dumps(wider)}
    finding = role.replay("PutRolePolicy", request)
    assert finding.severity is Severity.HIGH
    [change] = finding.changes
    assert (change.path, change.rule) == ("inline_policy.logs", "inline-policy-changed")
    assert json.loads(change.live)["Statement"][0]["Action"] == ["logs:*"]
    assert [c.operation for c in finding.plan] == ["PutRolePolicy"]
    assert_reverted_then_in_sync(role, finding, "PutRolePolicy", request)


def test_declared_inline_policy_deleted_is_restored(role):
    role.iam.delete_role_policy(RoleName="app", PolicyName="logs")
    request = {"roleName": "app", "policyName": "logs"}
    finding = role.replay("DeleteRolePolicy", request)
    assert [(c.path, c.rule) for c in finding.changes] == [("inline_policy.logs", "inline-policy-removed")]
    assert finding.severity is Severity.HIGH
    assert_reverted_then_in_sync(role, finding, "DeleteRolePolicy", request)
    assert canonical_iam_policy(
        role.iam.get_role_policy(RoleName="app", PolicyName="logs")["PolicyDocument"]
    ) == canonical_iam_policy(LOGS)


def test_trust_policy_change_is_high_and_reverted(role):
    backdoor = {
        "Version": "2012-10-17",
        "Statement": [
            TRUST["Statement"][0],
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::193672423079:root"},
                "Action": "sts:AssumeRole",
            },
        ],
    }
    role.iam.update_assume_role_policy(RoleName="app", PolicyDocument=json.dumps(backdoor))
    request = {"roleName": "app", "policyDocument": json.dumps(backdoor)}
    finding = role.replay("UpdateAssumeRolePolicy", request)
    assert finding.severity is Severity.HIGH and "trust-policy-changed" in finding.reason
    assert [c.path for c in finding.changes] == ["assume_role_policy"]
    assert [c.operation for c in finding.plan] == ["UpdateAssumeRolePolicy"]
    assert_reverted_then_in_sync(role, finding, "UpdateAssumeRolePolicy", request)


def test_trust_policy_opened_to_anyone_is_critical(role):
    anyone = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
    }
    role.iam.update_assume_role_policy(RoleName="app", PolicyDocument=json.dumps(anyone))
    finding = role.replay("UpdateAssumeRolePolicy", {"roleName": "app", "policyDocument": json.dumps(anyone)})
    assert finding.severity is Severity.CRITICAL and "trust-policy-public" in finding.reason


def test_permissions_boundary_removed_is_high_and_restored(role):
    role.iam.delete_role_permissions_boundary(RoleName="app")
    request = {"roleName": "app"}
    finding = role.replay("DeleteRolePermissionsBoundary", request)
    assert finding.severity is Severity.HIGH
    assert changes(finding) == [
        {"path": "permissions_boundary", "declared": arn("policy", "boundary"), "live": None}
    ]
    assert [c.rule for c in finding.changes] == ["permissions-boundary-removed"]
    assert [c.operation for c in finding.plan] == ["PutRolePermissionsBoundary"]
    assert_reverted_then_in_sync(role, finding, "DeleteRolePermissionsBoundary", request)


def test_permissions_boundary_added_where_none_declared_is_medium_and_removed(account):
    iam = account.iam
    iam.create_role(RoleName="plain", AssumeRolePolicyDocument=json.dumps(TRUST), Description="App servers")
    account.state.add("aws_iam_role", "plain", role_attrs("plain"))
    account.save()
    deny_all = account.customer_policy(
        "deny-all",
        {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]},
    )
    iam.put_role_permissions_boundary(RoleName="plain", PermissionsBoundary=deny_all)
    request = {"roleName": "plain", "permissionsBoundary": deny_all}
    finding = account.replay("PutRolePermissionsBoundary", request)
    assert finding.severity is Severity.MEDIUM
    assert [c.rule for c in finding.changes] == ["permissions-boundary-added"]
    assert [c.operation for c in finding.plan] == ["DeleteRolePermissionsBoundary"]
    assert_reverted_then_in_sync(account, finding, "PutRolePermissionsBoundary", request)


def test_update_role_session_duration_and_description(role):
    role.iam.update_role(RoleName="app", Description="temporary", MaxSessionDuration=43200)
    request = {"roleName": "app", "description": "temporary", "maxSessionDuration": 43200}
    finding = role.replay("UpdateRole", request)
    assert finding.severity is Severity.MEDIUM
    assert sorted((c.path, c.severity.value, c.declared, c.live) for c in finding.changes) == [
        ("description", "low", "App servers", "temporary"),
        ("max_session_duration", "medium", 3600, 43200),
    ]
    assert [(c.operation, c.params) for c in finding.plan] == [
        ("UpdateRole", {"RoleName": "app", "MaxSessionDuration": 3600, "Description": "App servers"})
    ]
    assert_reverted_then_in_sync(role, finding, "UpdateRole", request)


def test_update_role_description_alone_is_low(role):
    role.iam.update_role_description(RoleName="app", Description="changed by hand")
    finding = role.replay("UpdateRoleDescription", {"roleName": "app", "description": "changed by hand"})
    assert finding.severity is Severity.LOW and [c.rule for c in finding.changes] == ["description-changed"]


def test_role_tags_are_low_and_reverted(role):
    role.iam.tag_role(
        RoleName="app", Tags=[{"Key": "team", "Value": "someone-else"}, {"Key": "x", "Value": "1"}]
    )
    request = {
        "roleName": "app",
        "tags": [{"key": "team", "value": "someone-else"}, {"key": "x", "value": "1"}],
    }
    finding = role.replay("TagRole", request)
    assert finding.severity is Severity.LOW
    assert changes(finding) == [
        {"path": "tags.team", "declared": "platform", "live": "someone-else"},
        {"path": "tags.x", "declared": None, "live": "1"},
    ]
    assert sorted(c.operation for c in finding.plan) == ["TagRole", "UntagRole"]
    assert_reverted_then_in_sync(role, finding, "TagRole", request)


def test_default_tags_and_untouched_role_are_in_sync(role):
    """``tags`` is null and ``tags_all`` carries the provider's default_tags: not drift."""
    finding = role.replay("TagRole", {"roleName": "app", "tags": [{"key": "team", "value": "platform"}]})
    assert finding.status is Status.IN_SYNC, finding.reason


@WITH_AWS_POLICIES
def test_extra_attachment_counts_only_when_the_role_itself_is_managed(account):
    """A state managing only an attachment says nothing about the role's other policies."""
    iam = account.iam
    app_read = account.customer_policy("app-read", READ)
    iam.create_role(RoleName="shared", AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.attach_role_policy(RoleName="shared", PolicyArn=app_read)
    account.state.add(
        "aws_iam_role_policy_attachment",
        "app_read",
        {"id": "shared-20261121090000000000000001", "policy_arn": app_read, "role": "shared"},
    )
    account.save()
    iam.attach_role_policy(RoleName="shared", PolicyArn=READ_ONLY)
    finding = account.replay("AttachRolePolicy", {"roleName": "shared", "policyArn": READ_ONLY})
    assert finding.status is Status.IN_SYNC, finding.reason
    assert finding.resource.address == "aws_iam_role_policy_attachment.app_read"
    iam.detach_role_policy(RoleName="shared", PolicyArn=app_read)
    detached = account.replay("DetachRolePolicy", {"roleName": "shared", "policyArn": app_read})
    assert detached.status is Status.DRIFT and detached.changes[0].declared == app_read


def test_role_state_policies_declare_only_without_separate_resources(account):
    """``managed_policy_arns``/``inline_policy`` on the role are Optional+Computed: a lagging ``[]``
    beside an attachment resource (real states do this) is not a declaration; alone, they are."""
    iam = account.iam
    app_read = account.customer_policy("app-read", READ)
    for name in ("lagging", "exclusive"):
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST), Description="App servers")
        iam.attach_role_policy(RoleName=name, PolicyArn=app_read)
    account.state.add(
        "aws_iam_role",
        "lagging",
        role_attrs("lagging", managed_policy_arns=[], inline_policy=[{"name": "", "policy": ""}]),
    )
    account.state.add(
        "aws_iam_role_policy_attachment",
        "lagging",
        {"id": "lagging-20261121090000000000000001", "policy_arn": app_read, "role": "lagging"},
    )
    account.state.add("aws_iam_role", "exclusive", role_attrs("exclusive", managed_policy_arns=[app_read]))
    account.save()
    assert account.replay("TagRole", {"roleName": "lagging", "tags": []}).status is Status.IN_SYNC
    assert account.replay("TagRole", {"roleName": "exclusive", "tags": []}).status is Status.IN_SYNC
    iam.detach_role_policy(RoleName="exclusive", PolicyArn=app_read)
    request = {"roleName": "exclusive", "policyArn": app_read}
    finding = account.replay("DetachRolePolicy", request)
    assert changes(finding) == [{"path": "managed_policy_arns", "declared": app_read, "live": None}]
    assert_reverted_then_in_sync(account, finding, "DetachRolePolicy", request)


def test_reformatted_policies_are_in_sync(account):
    """Reordered keys and statements, whitespace, single value vs list, and IAM's rewrite of a bare
    account id principal to its root ARN: equal policies, no drift."""
    iam = account.iam
    trust_live = {
        "Statement": [
            {"Action": ["sts:AssumeRole"], "Principal": {"AWS": "123456789012"}, "Effect": "Allow"},
            {"Effect": "Allow", "Principal": {"Service": ["ec2.amazonaws.com"]}, "Action": "sts:AssumeRole"},
        ],
        "Version": "2012-10-17",
    }
    trust_state = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "ec2.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                },
                {
                    "Sid": "",
                    "Effect": "Allow",
                    "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                    "Action": "sts:AssumeRole",
                },
            ],
        },
        indent=4,
    )
    inline_state = (
        '{\n\t"Version": "2012-10-17",\n\t"Statement": {"Resource": ["*"], "Effect": '
        '"Allow", "Action": ["logs:PutLogEvents", "logs:CreateLogStream"]}\n}\n'
    )
    iam.create_role(
        RoleName="fmt", AssumeRolePolicyDocument=json.dumps(trust_live), Description="App servers"
    )
    iam.put_role_policy(RoleName="fmt", PolicyName="logs", PolicyDocument=json.dumps(LOGS))
    account.state.add("aws_iam_role", "fmt", role_attrs("fmt", trust=trust_state))
    account.state.add(
        "aws_iam_role_policy",
        "logs",
        {"id": "fmt:logs", "name": "logs", "name_prefix": "", "policy": inline_state, "role": "fmt"},
    )
    account.save()
    finding = account.replay(
        "PutRolePolicy", {"roleName": "fmt", "policyName": "logs", "policyDocument": json.dumps(LOGS)}
    )
    assert finding.status is Status.IN_SYNC, [c.to_dict() for c in finding.changes]


def test_url_encoded_document_from_a_real_record_equals_its_json():
    """CloudTrail's CreateRole record carries the trust policy twice: as sent (JSON) and as IAM
    returns it (URL-encoded). Both canonicalize to the same document."""
    from tests.fixtures_index import CORPUS

    record = json.loads((CORPUS / "cloudtrail" / "iam-CreateRole-stratus-1.json").read_text())
    sent = record["requestParameters"]["assumeRolePolicyDocument"]
    returned = record["responseElements"]["role"]["assumeRolePolicyDocument"]
    assert returned.startswith("%7B") and sent.startswith("{")
    assert canonical_iam_policy(returned) == canonical_iam_policy(sent) is not None
    assert canonical_iam_policy(STAR) != canonical_iam_policy(READ)


@pytest.mark.parametrize(
    ("document", "admin"),
    [
        (STAR, True),
        ({"Statement": {"Effect": "Allow", "Action": ["*:*"], "Resource": ["*"]}}, True),
        ({"Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]}, False),
        ({"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}, False),
        ({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::b/*"}]}, False),
    ],
)
def test_admin_document_detection(document, admin):
    assert is_admin_document(json.dumps(document)) is admin


def test_create_role_is_unmanaged_and_delete_role_is_deleted(role):
    role.iam.create_role(RoleName="hand-made", AssumeRolePolicyDocument=json.dumps(TRUST))
    created = role.replay(
        "CreateRole", {"roleName": "hand-made", "assumeRolePolicyDocument": json.dumps(TRUST)}
    )
    assert created.status is Status.UNMANAGED and created.resource.id == "hand-made"
    assert created.action is Action.ALERT
    iam = role.iam
    iam.detach_role_policy(RoleName="app", PolicyArn=arn("policy", "app-read"))
    iam.delete_role_policy(RoleName="app", PolicyName="logs")
    iam.delete_role(RoleName="app")
    deleted = role.replay("DeleteRole", {"roleName": "app"})
    assert deleted.status is Status.DELETED and deleted.resource.address == "aws_iam_role.app"


# --- managed policies ------------------------------------------------------------------------------------
@pytest.fixture
def policy(account: Account) -> tuple[Account, str]:
    """Policy ``app-read`` whose state document is the real, tab-indented text from the corpus style."""
    policy_arn = account.customer_policy("app-read", READ)
    state_doc = (
        '{\n   "Version": "2012-10-17",\n   "Statement": [\n     {\n\t "Resource": '
        '"arn:aws:s3:::app-data/*",\n       "Action": ["s3:GetObject"],\n       "Effect": "Allow"\n'
        "     }\n   ]\n}\n"
    )
    account.iam.tag_policy(PolicyArn=policy_arn, Tags=[{"Key": "owner", "Value": "platform"}])
    account.state.add(
        "aws_iam_policy", "app_read", policy_attrs(policy_arn, state_doc, tags={"owner": "platform"})
    )
    account.save()
    return account, policy_arn


def test_new_default_version_granting_admin_is_critical_and_rolled_back(policy):
    acct, policy_arn = policy
    acct.iam.create_policy_version(PolicyArn=policy_arn, PolicyDocument=json.dumps(STAR), SetAsDefault=True)
    request = {"policyArn": policy_arn, "policyDocument": json.dumps(STAR), "setAsDefault": True}
    finding = acct.replay("CreatePolicyVersion", request)
    assert finding.status is Status.DRIFT and finding.severity is Severity.CRITICAL
    assert "admin-policy-document" in finding.reason
    assert [c.path for c in finding.changes] == ["policy"]
    assert [(c.operation, c.params) for c in finding.plan] == [
        ("SetDefaultPolicyVersion", {"PolicyArn": policy_arn, "VersionId": "v1"})
    ]
    assert_reverted_then_in_sync(acct, finding, "CreatePolicyVersion", request)
    assert acct.iam.get_policy(PolicyArn=policy_arn)["Policy"]["DefaultVersionId"] == "v1"
    assert len(acct.iam.list_policy_versions(PolicyArn=policy_arn)["Versions"]) == 2, "no version deleted"


def test_default_version_switched_is_high_and_switched_back(policy):
    acct, policy_arn = policy
    acct.iam.create_policy_version(PolicyArn=policy_arn, PolicyDocument=json.dumps(WRITE), SetAsDefault=False)
    acct.iam.set_default_policy_version(PolicyArn=policy_arn, VersionId="v2")
    request = {"policyArn": policy_arn, "versionId": "v2"}
    finding = acct.replay("SetDefaultPolicyVersion", request)
    assert finding.severity is Severity.HIGH and [c.rule for c in finding.changes] == [
        "policy-document-changed"
    ]
    assert_reverted_then_in_sync(acct, finding, "SetDefaultPolicyVersion", request)


def test_deleting_a_non_default_version_is_in_sync(policy):
    acct, policy_arn = policy
    acct.iam.create_policy_version(PolicyArn=policy_arn, PolicyDocument=json.dumps(WRITE), SetAsDefault=False)
    acct.iam.delete_policy_version(PolicyArn=policy_arn, VersionId="v2")
    finding = acct.replay("DeletePolicyVersion", {"policyArn": policy_arn, "versionId": "v2"})
    assert finding.status is Status.IN_SYNC, finding.reason


def test_declared_version_gone_is_restored_as_a_new_version(policy):
    acct, policy_arn = policy
    acct.iam.create_policy_version(PolicyArn=policy_arn, PolicyDocument=json.dumps(WRITE), SetAsDefault=True)
    acct.iam.delete_policy_version(PolicyArn=policy_arn, VersionId="v1")
    request = {"policyArn": policy_arn, "versionId": "v1"}
    finding = acct.replay("DeletePolicyVersion", request)
    assert [c.operation for c in finding.plan] == ["CreatePolicyVersion"]
    assert finding.plan[0].params["SetAsDefault"] is True
    assert_reverted_then_in_sync(acct, finding, "DeletePolicyVersion", request)


def test_five_versions_none_declared_gets_no_plan(policy):
    """IAM keeps at most five versions and a revert never deletes one: a human must choose."""
    acct, policy_arn = policy
    for i in range(4):
        doc = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": f"sqs:Action{i}", "Resource": "*"}],
        }
        acct.iam.create_policy_version(
            PolicyArn=policy_arn, PolicyDocument=json.dumps(doc), SetAsDefault=True
        )
    acct.iam.delete_policy_version(PolicyArn=policy_arn, VersionId="v1")
    acct.iam.create_policy_version(PolicyArn=policy_arn, PolicyDocument=json.dumps(WRITE), SetAsDefault=True)
    finding = acct.replay("CreatePolicyVersion", {"policyArn": policy_arn, "setAsDefault": True})
    assert finding.status is Status.DRIFT and finding.plan == ()
    assert acct.pipeline.revert(finding).status is RemediationStatus.REFUSED


def test_policy_tags_are_low_and_reverted(policy):
    acct, policy_arn = policy
    acct.iam.untag_policy(PolicyArn=policy_arn, TagKeys=["owner"])
    request = {"policyArn": policy_arn, "tagKeys": ["owner"]}
    finding = acct.replay("UntagPolicy", request)
    assert finding.severity is Severity.LOW
    assert changes(finding) == [{"path": "tags.owner", "declared": "platform", "live": None}]
    assert_reverted_then_in_sync(acct, finding, "UntagPolicy", request)


def test_create_policy_unmanaged_and_delete_policy_deleted(policy):
    acct, policy_arn = policy
    other = acct.customer_policy("hand-made", READ)
    created = acct.replay(
        "CreatePolicy",
        {"policyName": "hand-made", "policyDocument": json.dumps(READ)},
        {"policy": {"policyName": "hand-made", "arn": other, "defaultVersionId": "v1"}},
    )
    assert created.status is Status.UNMANAGED and created.resource.id == other
    acct.iam.delete_policy(PolicyArn=policy_arn)
    deleted = acct.replay("DeletePolicy", {"policyArn": policy_arn})
    assert deleted.status is Status.DELETED and deleted.resource.address == "aws_iam_policy.app_read"


# --- users, groups, memberships ---------------------------------------------------------------------------
@pytest.fixture
def user(account: Account) -> Account:
    """User ``alice`` in group ``developers`` (user-side membership), one attachment, one inline policy."""
    iam = account.iam
    app_read = account.customer_policy("app-read", READ)
    iam.create_user(UserName="alice", Tags=[{"Key": "team", "Value": "platform"}])
    iam.create_group(GroupName="developers")
    iam.create_group(GroupName="admins")
    iam.add_user_to_group(GroupName="developers", UserName="alice")
    iam.attach_user_policy(UserName="alice", PolicyArn=app_read)
    iam.put_user_policy(UserName="alice", PolicyName="logs", PolicyDocument=json.dumps(LOGS))
    account.state.add("aws_iam_user", "alice", user_attrs("alice", default_tags={"team": "platform"}))
    account.state.add(
        "aws_iam_user_policy_attachment",
        "alice_read",
        {"id": "alice-20261121090000000000000001", "policy_arn": app_read, "user": "alice"},
    )
    account.state.add(
        "aws_iam_user_policy",
        "alice_logs",
        {"id": "alice:logs", "name": "logs", "name_prefix": "", "policy": compact(LOGS), "user": "alice"},
    )
    account.state.add(
        "aws_iam_user_group_membership",
        "alice",
        {"groups": ["developers"], "id": "terraform-20261121090000000000000002", "user": "alice"},
    )
    account.save()
    return account


@WITH_AWS_POLICIES
def test_admin_policy_attached_to_user_is_critical_and_detached(user):
    user.iam.attach_user_policy(UserName="alice", PolicyArn=ADMIN)
    request = {"userName": "alice", "policyArn": ADMIN}
    finding = user.replay("AttachUserPolicy", request)
    assert finding.severity is Severity.CRITICAL and "admin-policy-attached" in finding.reason
    assert finding.resource.address == "aws_iam_user.alice"
    assert [(c.operation, c.params) for c in finding.plan] == [
        ("DetachUserPolicy", {"UserName": "alice", "PolicyArn": ADMIN})
    ]
    assert_reverted_then_in_sync(user, finding, "AttachUserPolicy", request)


def test_user_attachment_detached_is_reattached(user):
    app_read = arn("policy", "app-read")
    user.iam.detach_user_policy(UserName="alice", PolicyArn=app_read)
    request = {"userName": "alice", "policyArn": app_read}
    finding = user.replay("DetachUserPolicy", request)
    assert finding.severity is Severity.HIGH and [c.rule for c in finding.changes] == ["policy-detached"]
    assert_reverted_then_in_sync(user, finding, "DetachUserPolicy", request)


def test_undeclared_user_inline_policy_is_deleted_and_declared_one_restored(user):
    iam = user.iam
    iam.put_user_policy(UserName="alice", PolicyName="extra", PolicyDocument=json.dumps(WRITE))
    iam.delete_user_policy(UserName="alice", PolicyName="logs")
    request = {"userName": "alice", "policyName": "extra", "policyDocument": json.dumps(WRITE)}
    finding = user.replay("PutUserPolicy", request)
    assert sorted((c.path, c.rule) for c in finding.changes) == [
        ("inline_policy.extra", "inline-policy-added"),
        ("inline_policy.logs", "inline-policy-removed"),
    ]
    assert sorted(c.operation for c in finding.plan) == ["DeleteUserPolicy", "PutUserPolicy"]
    assert_reverted_then_in_sync(user, finding, "PutUserPolicy", request)
    assert iam.list_user_policies(UserName="alice")["PolicyNames"] == ["logs"]


def test_user_path_change_is_medium_and_reverted(account):
    """An untagged user: moto's UpdateUser drops the user's tags (AWS keeps them)."""
    account.iam.create_user(UserName="carol")
    account.state.add("aws_iam_user", "carol", user_attrs("carol"))
    account.save()
    account.iam.update_user(UserName="carol", NewPath="/contractors/")
    request = {"userName": "carol", "newPath": "/contractors/"}
    finding = account.replay("UpdateUser", request)
    assert finding.severity is Severity.MEDIUM
    assert changes(finding) == [{"path": "path", "declared": "/", "live": "/contractors/"}]
    assert [(c.operation, c.params) for c in finding.plan] == [
        ("UpdateUser", {"UserName": "carol", "NewPath": "/"})
    ]
    assert_reverted_then_in_sync(account, finding, "UpdateUser", request)


def test_user_tags_low_and_default_tags_in_sync(user):
    assert user.replay("TagUser", {"userName": "alice", "tags": []}).status is Status.IN_SYNC
    user.iam.untag_user(UserName="alice", TagKeys=["team"])
    request = {"userName": "alice", "tagKeys": ["team"]}
    finding = user.replay("UntagUser", request)
    assert finding.severity is Severity.LOW
    assert changes(finding) == [{"path": "tags.team", "declared": "platform", "live": None}]
    assert_reverted_then_in_sync(user, finding, "UntagUser", request)


def test_declared_group_left_is_medium_and_rejoined(user):
    user.iam.remove_user_from_group(GroupName="developers", UserName="alice")
    request = {"groupName": "developers", "userName": "alice"}
    findings = user.pipeline.process_event(event("RemoveUserFromGroup", request))
    by_kind = {f.object_kind: f for f in findings}
    assert set(by_kind) == {"iam:user", "iam:group"}
    assert by_kind["iam:group"].status is Status.UNMANAGED, "the group itself is in no state"
    finding = by_kind["iam:user"]
    assert finding.severity is Severity.MEDIUM
    assert changes(finding) == [{"path": "groups", "declared": "developers", "live": None}]
    assert [c.operation for c in finding.plan] == ["AddUserToGroup"]
    assert user.pipeline.revert(finding).status is RemediationStatus.REVERTED
    assert user.pipeline.rejudge(finding).status is Status.IN_SYNC


def test_user_added_to_undeclared_group_is_high_and_removed(user):
    user.iam.add_user_to_group(GroupName="admins", UserName="alice")
    findings = user.pipeline.process_event(
        event("AddUserToGroup", {"groupName": "admins", "userName": "alice"})
    )
    [finding] = [f for f in findings if f.object_kind == "iam:user"]
    assert finding.severity is Severity.HIGH
    assert [(c.rule, c.live) for c in finding.changes] == [("user-added-to-group", "admins")]
    assert [(c.operation, c.params) for c in finding.plan] == [
        ("RemoveUserFromGroup", {"GroupName": "admins", "UserName": "alice"})
    ]
    assert user.pipeline.revert(finding).status is RemediationStatus.REVERTED
    assert user.pipeline.rejudge(finding).status is Status.IN_SYNC


def test_create_user_unmanaged_and_delete_user_deleted(user):
    user.iam.create_user(UserName="mallory")
    created = user.replay("CreateUser", {"userName": "mallory"})
    assert created.status is Status.UNMANAGED and created.action is Action.ALERT
    iam = user.iam
    iam.detach_user_policy(UserName="alice", PolicyArn=arn("policy", "app-read"))
    iam.delete_user_policy(UserName="alice", PolicyName="logs")
    iam.remove_user_from_group(GroupName="developers", UserName="alice")
    iam.delete_user(UserName="alice")
    deleted = user.replay("DeleteUser", {"userName": "alice"})
    assert deleted.status is Status.DELETED and deleted.resource.address == "aws_iam_user.alice"


@pytest.fixture
def group(account: Account) -> Account:
    """Group ``ops`` (members exclusively declared: alice) with one attachment and one inline policy."""
    iam = account.iam
    app_read = account.customer_policy("app-read", READ)
    for name in ("alice", "mallory"):
        iam.create_user(UserName=name)
    iam.create_group(GroupName="ops")
    iam.add_user_to_group(GroupName="ops", UserName="alice")
    iam.attach_group_policy(GroupName="ops", PolicyArn=app_read)
    iam.put_group_policy(GroupName="ops", PolicyName="logs", PolicyDocument=json.dumps(LOGS))
    account.state.add("aws_iam_group", "ops", group_attrs("ops"))
    account.state.add(
        "aws_iam_group_policy_attachment",
        "ops_read",
        {"group": "ops", "id": "ops-20261121090000000000000001", "policy_arn": app_read},
    )
    account.state.add(
        "aws_iam_group_policy",
        "ops_logs",
        {"group": "ops", "id": "ops:logs", "name": "logs", "name_prefix": "", "policy": compact(LOGS)},
    )
    account.state.add(
        "aws_iam_group_membership",
        "ops",
        {"group": "ops", "id": "ops-members", "name": "ops-members", "users": ["alice"]},
    )
    account.save()
    return account


@WITH_AWS_POLICIES
def test_admin_policy_attached_to_group_is_critical_and_detached(group):
    group.iam.attach_group_policy(GroupName="ops", PolicyArn=ADMIN)
    request = {"groupName": "ops", "policyArn": ADMIN}
    finding = group.replay("AttachGroupPolicy", request)
    assert finding.severity is Severity.CRITICAL and "admin-policy-attached" in finding.reason
    assert finding.resource.address == "aws_iam_group.ops"
    assert [c.operation for c in finding.plan] == ["DetachGroupPolicy"]
    assert_reverted_then_in_sync(group, finding, "AttachGroupPolicy", request)


def test_group_attachment_detached_is_reattached(group):
    app_read = arn("policy", "app-read")
    group.iam.detach_group_policy(GroupName="ops", PolicyArn=app_read)
    request = {"groupName": "ops", "policyArn": app_read}
    finding = group.replay("DetachGroupPolicy", request)
    assert [c.rule for c in finding.changes] == ["policy-detached"]
    assert_reverted_then_in_sync(group, finding, "DetachGroupPolicy", request)


def test_declared_group_inline_policy_changed_is_restored(group):
    group.iam.put_group_policy(GroupName="ops", PolicyName="logs", PolicyDocument=json.dumps(WRITE))
    request = {"groupName": "ops", "policyName": "logs", "policyDocument": json.dumps(WRITE)}
    finding = group.replay("PutGroupPolicy", request)
    assert [c.rule for c in finding.changes] == ["inline-policy-changed"]
    assert_reverted_then_in_sync(group, finding, "PutGroupPolicy", request)


def test_undeclared_group_inline_policy_is_reverted_by_deleting_only_that_policy(group):
    """DeleteGroupPolicy removes an inline policy (an attribute of the group), never the group."""
    group.iam.put_group_policy(GroupName="ops", PolicyName="extra", PolicyDocument=json.dumps(STAR))
    finding = group.replay("PutGroupPolicy", {"groupName": "ops", "policyName": "extra"})
    assert finding.status is Status.DRIFT and finding.severity is Severity.CRITICAL
    assert [(c.operation, c.params) for c in finding.plan] == [
        ("DeleteGroupPolicy", {"GroupName": "ops", "PolicyName": "extra"})]
    result = group.pipeline.revert(finding)
    assert result.status is RemediationStatus.REVERTED, result.reason
    assert "extra" not in group.iam.list_group_policies(GroupName="ops")["PolicyNames"]
    assert group.iam.get_group(GroupName="ops")["Group"]["GroupName"] == "ops"


def test_user_added_to_exclusively_managed_group_is_drift(group):
    group.iam.add_user_to_group(GroupName="ops", UserName="mallory")
    findings = group.pipeline.process_event(
        event("AddUserToGroup", {"groupName": "ops", "userName": "mallory"})
    )
    by_kind = {f.object_kind: f for f in findings}
    assert by_kind["iam:user"].status is Status.UNMANAGED
    finding = by_kind["iam:group"]
    assert finding.severity is Severity.HIGH
    assert changes(finding) == [{"path": "users", "declared": None, "live": "mallory"}]
    assert [(c.operation, c.params) for c in finding.plan] == [
        ("RemoveUserFromGroup", {"GroupName": "ops", "UserName": "mallory"})
    ]
    assert group.pipeline.revert(finding).status is RemediationStatus.REVERTED
    assert group.pipeline.rejudge(finding).status is Status.IN_SYNC


@WITH_AWS_POLICIES
def test_user_added_to_admin_group_is_critical(group):
    group.iam.attach_group_policy(GroupName="ops", PolicyArn=ADMIN)
    group.iam.add_user_to_group(GroupName="ops", UserName="mallory")
    findings = group.pipeline.process_event(
        event("AddUserToGroup", {"groupName": "ops", "userName": "mallory"})
    )
    [finding] = [f for f in findings if f.object_kind == "iam:group"]
    assert sorted(c.rule for c in finding.changes) == ["admin-policy-attached", "user-added-to-admin-group"]
    assert all(c.severity is Severity.CRITICAL for c in finding.changes)


def test_declared_member_removed_is_medium_and_added_back(group):
    group.iam.remove_user_from_group(GroupName="ops", UserName="alice")
    findings = group.pipeline.process_event(
        event("RemoveUserFromGroup", {"groupName": "ops", "userName": "alice"})
    )
    [finding] = [f for f in findings if f.object_kind == "iam:group"]
    assert finding.severity is Severity.MEDIUM
    assert [(c.rule, c.declared) for c in finding.changes] == [("user-removed-from-group", "alice")]
    assert group.pipeline.revert(finding).status is RemediationStatus.REVERTED
    assert group.pipeline.rejudge(finding).status is Status.IN_SYNC


def test_create_group_unmanaged_and_delete_group_deleted(account):
    account.iam.create_group(GroupName="declared")
    account.state.add("aws_iam_group", "declared", group_attrs("declared"))
    account.save()
    account.iam.create_group(GroupName="contractors")
    created = account.replay("CreateGroup", {"groupName": "contractors"})
    assert created.status is Status.UNMANAGED and created.resource.id == "contractors"
    account.iam.delete_group(GroupName="declared")
    deleted = account.replay("DeleteGroup", {"groupName": "declared"})
    assert deleted.status is Status.DELETED and deleted.resource.address == "aws_iam_group.declared"


# --- access keys -------------------------------------------------------------------------------------------
@pytest.fixture
def key(account: Account) -> tuple[Account, str]:
    account.iam.create_user(UserName="ci")
    key_id = account.iam.create_access_key(UserName="ci")["AccessKey"]["AccessKeyId"]
    account.state.add("aws_iam_user", "ci", user_attrs("ci"))
    account.state.add("aws_iam_access_key", "ci", key_attrs(key_id, "ci"), sensitive=KEY_SENSITIVE)
    account.save()
    return account, key_id


def test_managed_key_deactivated_is_medium_and_reactivated(key):
    acct, key_id = key
    acct.iam.update_access_key(UserName="ci", AccessKeyId=key_id, Status="Inactive")
    request = {"userName": "ci", "accessKeyId": key_id, "status": "Inactive"}
    finding = acct.replay("UpdateAccessKey", request)
    assert finding.severity is Severity.MEDIUM and finding.resource.address == "aws_iam_access_key.ci"
    assert changes(finding) == [{"path": "status", "declared": "Active", "live": "Inactive"}]
    assert [(c.operation, c.params) for c in finding.plan] == [
        ("UpdateAccessKey", {"UserName": "ci", "AccessKeyId": key_id, "Status": "Active"})
    ]
    assert_reverted_then_in_sync(acct, finding, "UpdateAccessKey", request)


def test_declared_inactive_key_reactivated_is_high(account):
    account.iam.create_user(UserName="old")
    key_id = account.iam.create_access_key(UserName="old")["AccessKey"]["AccessKeyId"]
    account.state.add("aws_iam_access_key", "old", key_attrs(key_id, "old", status="Inactive"))
    account.save()
    request = {"userName": "old", "accessKeyId": key_id, "status": "Active"}
    finding = account.replay("UpdateAccessKey", request)
    assert finding.severity is Severity.HIGH and [c.rule for c in finding.changes] == [
        "access-key-reactivated"
    ]
    assert_reverted_then_in_sync(account, finding, "UpdateAccessKey", request)


def test_hand_made_key_on_managed_user_is_unmanaged(key):
    acct, key_id = key
    made = acct.iam.create_access_key(UserName="ci")["AccessKey"]
    response = {
        "accessKey": {
            "accessKeyId": made["AccessKeyId"],
            "status": "Active",
            "userName": "ci",
            "createDate": "Nov 21, 2026 9:00:00 AM",
        }
    }
    finding = acct.replay("CreateAccessKey", {"userName": "ci"}, response)
    assert finding.status is Status.UNMANAGED and finding.action is Action.ALERT
    assert finding.resource.id == made["AccessKeyId"] != key_id
    assert "created outside Terraform" in finding.reason


def test_managed_key_deleted_is_deleted_and_secret_never_shown(key):
    acct, key_id = key
    acct.iam.delete_access_key(UserName="ci", AccessKeyId=key_id)
    finding = acct.replay("DeleteAccessKey", {"userName": "ci", "accessKeyId": key_id})
    assert finding.status is Status.DELETED
    assert "REDACTED-IN-TEST" not in json.dumps(finding.to_record(), default=str)


def test_iam_plugins_are_global():
    plugins = [p for p in default_registry() if p.type.startswith("aws_iam_")]
    assert len(plugins) == 13
    assert all(p.global_service for p in plugins)


# --- where moto falls short: Stubber with real-shaped responses ------------------------------------------
class _StubContext:
    account = ACCOUNT
    region = "us-east-1"

    def __init__(self, client: Any) -> None:
        self._client = client

    def client(self, service: str) -> Any:
        assert service == "iam", service
        return self._client


def _stub_pipeline(state: StateBuilder, client: Any) -> Pipeline:
    registry = default_registry()
    index = StateIndex.from_docs(registry, [parse_state("s3://tfstate/prod/iam.tfstate", state.json())])
    ctx = _StubContext(client)
    return Pipeline(registry, index, lambda account, region: ctx)


_CREATED = "2026-11-21T09:00:00Z"


def _stub_user_read(stub: Stubber, boundary: str | None) -> None:
    user: dict[str, Any] = {
        "Path": "/",
        "UserName": "bob",
        "UserId": "AIDAEXAMPLEUNIQUE0002",
        "Arn": arn("user", "bob"),
        "CreateDate": _CREATED,
    }
    if boundary:
        user["PermissionsBoundary"] = {
            "PermissionsBoundaryType": "PermissionsBoundaryPolicy",
            "PermissionsBoundaryArn": boundary,
        }
    stub.add_response("get_user", {"User": user}, {"UserName": "bob"})
    stub.add_response(
        "list_attached_user_policies", {"AttachedPolicies": [], "IsTruncated": False}, {"UserName": "bob"}
    )
    stub.add_response("list_user_policies", {"PolicyNames": [], "IsTruncated": False}, {"UserName": "bob"})
    stub.add_response("list_groups_for_user", {"Groups": [], "IsTruncated": False}, {"UserName": "bob"})


def test_user_permissions_boundary_removed_is_high_and_restored():
    """Stubber: moto neither stores a user's boundary nor implements Put/DeleteUserPermissionsBoundary.
    Responses are GetUser/List* shapes as AWS returns them; every call is expected in order."""
    boundary = arn("policy", "boundary")
    state = StateBuilder().add("aws_iam_user", "bob", user_attrs("bob", boundary=boundary))
    client = boto3.client("iam", region_name="us-east-1")
    with Stubber(client) as stub:
        pipeline = _stub_pipeline(state, client)
        _stub_user_read(stub, None)  # judge the event
        _stub_user_read(stub, None)  # revert: compare-and-set re-read
        stub.add_response(
            "put_user_permissions_boundary", {}, {"UserName": "bob", "PermissionsBoundary": boundary}
        )
        _stub_user_read(stub, boundary)  # revert: verify
        [finding] = pipeline.process_event(event("DeleteUserPermissionsBoundary", {"userName": "bob"}))
        assert finding.status is Status.DRIFT and finding.severity is Severity.HIGH
        assert changes(finding) == [{"path": "permissions_boundary", "declared": boundary, "live": None}]
        assert [c.rule for c in finding.changes] == ["permissions-boundary-removed"]
        result = pipeline.revert(finding)
        assert result.status is RemediationStatus.REVERTED, result.reason
        stub.assert_no_pending_responses()


def test_user_boundary_added_where_none_declared_plans_its_removal():
    """Stubber (as above). DeleteUserPermissionsBoundary removes only the boundary attribute."""
    state = StateBuilder().add("aws_iam_user", "bob", user_attrs("bob"))
    client = boto3.client("iam", region_name="us-east-1")
    with Stubber(client) as stub:
        _stub_user_read(stub, arn("policy", "boundary"))
        [finding] = _stub_pipeline(state, client).process_event(
            event(
                "PutUserPermissionsBoundary",
                {"userName": "bob", "permissionsBoundary": arn("policy", "boundary")},
            )
        )
        assert finding.severity is Severity.MEDIUM and [c.rule for c in finding.changes] == [
            "permissions-boundary-added"
        ]
        assert [(c.operation, c.params) for c in finding.plan] == [
            ("DeleteUserPermissionsBoundary", {"UserName": "bob"})]
        stub.assert_no_pending_responses()


def _stub_group_read(stub: Stubber, path: str) -> None:
    group = {
        "Path": path,
        "GroupName": "ops",
        "GroupId": "AGPAEXAMPLEUNIQUE001",
        "Arn": arn("group", "ops"),
        "CreateDate": _CREATED,
    }
    stub.add_response("get_group", {"Group": group, "Users": [], "IsTruncated": False}, {"GroupName": "ops"})
    stub.add_response(
        "list_attached_group_policies", {"AttachedPolicies": [], "IsTruncated": False}, {"GroupName": "ops"}
    )
    stub.add_response("list_group_policies", {"PolicyNames": [], "IsTruncated": False}, {"GroupName": "ops"})


def test_group_path_change_is_medium_and_reverted():
    """Stubber: moto accepts UpdateGroup NewPath but ignores it."""
    state = StateBuilder().add("aws_iam_group", "ops", group_attrs("ops"))
    client = boto3.client("iam", region_name="us-east-1")
    with Stubber(client) as stub:
        pipeline = _stub_pipeline(state, client)
        _stub_group_read(stub, "/contractors/")
        _stub_group_read(stub, "/contractors/")
        stub.add_response("update_group", {}, {"GroupName": "ops", "NewPath": "/"})
        _stub_group_read(stub, "/")
        [finding] = pipeline.process_event(
            event("UpdateGroup", {"groupName": "ops", "newPath": "/contractors/"})
        )
        assert finding.severity is Severity.MEDIUM
        assert changes(finding) == [{"path": "path", "declared": "/", "live": "/contractors/"}]
        assert pipeline.revert(finding).status is RemediationStatus.REVERTED
        stub.assert_no_pending_responses()
