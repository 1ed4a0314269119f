"""ECR (aws_ecr_repository + its policy and lifecycle-policy contributors) end to end, on moto.

Given a repository and a state written with the provider's real attribute names (the corpus's v6
``aws_ecr_repository`` shape; ``aws_ecr_repository_policy`` / ``aws_ecr_lifecycle_policy`` keyed by
``repository``), when a console-style change is made with boto3 and the matching CloudTrail event is
replayed, then the finding names exactly the changed attributes with the right severity, a policy
granting ``Principal: "*"`` is CRITICAL, equal-but-reformatted policies are not drift, and a revert
restores the declared value (a second replay is ``in_sync``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from chalicelib.drift.normalize import canonical_policy
from chalicelib.models import Finding, RemediationStatus, Severity, Status
from chalicelib.pipeline import Pipeline
from chalicelib.resources.registry import default_registry
from tests.conftest import CORPUS, make_pipeline
from tests.harness.events import cloudtrail_event
from tests.harness.tfstate import StateBuilder

ECR = "ecr.amazonaws.com"
STATE_BUCKET = "driftwarden-ecr-states"
ACCOUNT = "123456789012"


def pull_policy(*, principal: Any = None, sid: str = "pull") -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{
        "Sid": sid, "Effect": "Allow", "Principal": principal or {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]}]}


LIFECYCLE = {"rules": [
    {"rulePriority": 1, "description": "expire untagged", "selection": {
        "tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 7},
     "action": {"type": "expire"}},
    {"rulePriority": 2, "description": "keep 30 releases", "selection": {
        "tagStatus": "tagged", "tagPrefixList": ["v", "release"], "countType": "imageCountMoreThan",
        "countNumber": 30}, "action": {"type": "expire"}}]}


@dataclass
class Repo:
    session: boto3.session.Session
    ecr: Any
    s3: Any
    name: str
    arn: str

    def pipeline(self, state: StateBuilder) -> Pipeline:
        prefix = f"ecr-{uuid.uuid4().hex[:10]}/"
        state.put(self.s3, STATE_BUCKET, f"{prefix}terraform.tfstate")
        return make_pipeline(self.session, f"s3://{STATE_BUCKET}/{prefix}")

    def event(self, name: str, request: dict[str, Any],
              response: dict[str, Any] | None = None) -> dict[str, Any]:
        return cloudtrail_event(name, ECR, {"repositoryName": self.name, **request},
                                {"registryId": ACCOUNT, "repositoryName": self.name, **(response or {})})


@pytest.fixture(scope="module")
def account(aws_module: boto3.session.Session) -> Iterator[boto3.session.Session]:
    aws_module.client("s3").create_bucket(Bucket=STATE_BUCKET)
    yield aws_module


@pytest.fixture
def repo(account: boto3.session.Session) -> Repo:
    """A fresh repository (IMMUTABLE tags, scan on push, one tag) with a unique name."""
    ecr = account.client("ecr")
    name = f"team/app-{uuid.uuid4().hex[:8]}"
    made = ecr.create_repository(repositoryName=name, imageTagMutability="IMMUTABLE",
                                 imageScanningConfiguration={"scanOnPush": True},
                                 tags=[{"Key": "team", "Value": "platform"}, {"Key": "env", "Value": "prod"}])
    return Repo(account, ecr, account.client("s3"), name, made["repository"]["repositoryArn"])


# --- state shapes (provider attribute names, as in ../shared/corpus/tfstate) ----------------------
def repo_state(repo: Repo, *, mutability: str = "IMMUTABLE", scan: bool = True) -> dict[str, Any]:
    return {
        "arn": repo.arn, "encryption_configuration": [{"encryption_type": "AES256", "kms_key": ""}],
        "force_delete": None, "id": repo.name, "image_scanning_configuration": [{"scan_on_push": scan}],
        "image_tag_mutability": mutability, "image_tag_mutability_exclusion_filter": [], "name": repo.name,
        "region": "us-east-1", "registry_id": ACCOUNT,
        "repository_url": f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/{repo.name}",
        "tags": {"team": "platform"}, "tags_all": {"env": "prod", "team": "platform"}, "timeouts": None,
    }


def policy_state(repo: Repo, doc: dict[str, Any]) -> dict[str, Any]:
    return {"id": repo.name, "policy": json.dumps(doc), "region": "us-east-1", "registry_id": ACCOUNT,
            "repository": repo.name}


def only(findings: list[Finding]) -> Finding:
    assert len(findings) == 1, findings
    return findings[0]


def changes(finding: Finding) -> list[tuple[str, Any, Any]]:
    return [(c.path, c.declared, c.live) for c in finding.changes]


def revert_and_replay(pipeline: Pipeline, finding: Finding, event: dict[str, Any]) -> None:
    owner = default_registry().owner("ecr:repository")
    assert all(f"{c.service}:{c.operation}" in owner.revert_permissions for c in finding.plan), finding.plan
    result = pipeline.revert(finding)
    assert result.status is RemediationStatus.REVERTED, result.reason
    again = only(pipeline.process_event(event))
    assert again.status is Status.IN_SYNC, (again.reason, changes(again))


# === aws_ecr_repository =========================================================================
def test_tag_immutability_turned_off_is_high_and_reverted(repo: Repo) -> None:
    state = StateBuilder().add("aws_ecr_repository", "app", repo_state(repo), module="module.ecr")
    pipeline = repo.pipeline(state)
    repo.ecr.put_image_tag_mutability(repositoryName=repo.name, imageTagMutability="MUTABLE")
    event = repo.event("PutImageTagMutability", {"imageTagMutability": "MUTABLE"},
                       {"imageTagMutability": "MUTABLE"})
    finding = only(pipeline.process_event(event))
    assert finding.status is Status.DRIFT and finding.severity is Severity.HIGH
    assert finding.resource.address == "module.ecr.aws_ecr_repository.app"
    assert finding.resource.id == repo.name
    assert changes(finding) == [("image_tag_mutability", "IMMUTABLE", "MUTABLE")]
    assert "tag-immutability-disabled" in finding.reason
    revert_and_replay(pipeline, finding, event)
    live = repo.ecr.describe_repositories(repositoryNames=[repo.name])["repositories"][0]
    assert live["imageTagMutability"] == "IMMUTABLE"


def test_scan_on_push_turned_off_is_medium_and_reverted(repo: Repo) -> None:
    pipeline = repo.pipeline(StateBuilder().add("aws_ecr_repository", "app", repo_state(repo)))
    repo.ecr.put_image_scanning_configuration(repositoryName=repo.name,
                                              imageScanningConfiguration={"scanOnPush": False})
    event = repo.event("PutImageScanningConfiguration", {"imageScanningConfiguration": {"scanOnPush": False}})
    finding = only(pipeline.process_event(event))
    assert finding.severity is Severity.MEDIUM and "scan-on-push-disabled" in finding.reason
    assert changes(finding) == [("image_scanning_configuration.scan_on_push", True, False)]
    assert [c.operation for c in finding.plan] == ["PutImageScanningConfiguration"]
    revert_and_replay(pipeline, finding, event)


def test_default_tags_are_not_drift_and_tag_drift_is_low_and_reverted(repo: Repo) -> None:
    pipeline = repo.pipeline(StateBuilder().add("aws_ecr_repository", "app", repo_state(repo)))
    same = cloudtrail_event("TagResource", ECR,
                            {"resourceArn": repo.arn, "tags": [{"key": "env", "value": "prod"}]})
    assert only(pipeline.process_event(same)).status is Status.IN_SYNC
    repo.ecr.tag_resource(resourceArn=repo.arn,
                          tags=[{"Key": "team", "Value": "other"}, {"Key": "x", "Value": "1"}])
    event = cloudtrail_event("TagResource", ECR, {"resourceArn": repo.arn, "tags": [
        {"key": "team", "value": "other"}, {"key": "x", "value": "1"}]})
    finding = only(pipeline.process_event(event))
    assert finding.severity is Severity.LOW
    assert changes(finding) == [("tags.team", "platform", "other"), ("tags.x", None, "1")]
    assert [c.operation for c in finding.plan] == ["TagResource", "UntagResource"]
    revert_and_replay(pipeline, finding, event)


def test_image_pushes_are_skipped_and_create_delete_are_judged(repo: Repo, account: Any) -> None:
    pipeline = repo.pipeline(StateBuilder().add("aws_ecr_repository", "app", repo_state(repo)))
    with open(f"{CORPUS}/cloudtrail/ecr-PutImage-panther-1.json") as fh:
        push = json.load(fh)
    skipped = only(pipeline.process_event(push))
    assert skipped.status is Status.SKIPPED and "does not change declared attributes" in skipped.reason
    other = f"hand-made-{uuid.uuid4().hex[:6]}"
    account.client("ecr").create_repository(repositoryName=other)
    created = only(pipeline.process_event(cloudtrail_event("CreateRepository", ECR, {"repositoryName": other},
                                                           {"repository": {"repositoryName": other}})))
    assert created.status is Status.UNMANAGED and created.resource.id == other
    repo.ecr.delete_repository(repositoryName=repo.name, force=True)
    deleted = only(pipeline.process_event(repo.event("DeleteRepository", {"force": True})))
    assert deleted.status is Status.DELETED and deleted.resource.address == "aws_ecr_repository.app"


# === aws_ecr_repository_policy ==================================================================
def test_public_repository_policy_is_critical_and_reverted(repo: Repo) -> None:
    declared = pull_policy()
    repo.ecr.set_repository_policy(repositoryName=repo.name, policyText=json.dumps(declared))
    state = StateBuilder().add("aws_ecr_repository", "app", repo_state(repo)).add(
        "aws_ecr_repository_policy", "app", policy_state(repo, declared))
    pipeline = repo.pipeline(state)
    public = pull_policy(principal="*", sid="PublicRead")
    repo.ecr.set_repository_policy(repositoryName=repo.name, policyText=json.dumps(public))
    event = repo.event("SetRepositoryPolicy", {"policyText": json.dumps(public), "force": False},
                       {"policyText": json.dumps(public, indent=2)})
    finding = only(pipeline.process_event(event))
    assert finding.status is Status.DRIFT and finding.severity is Severity.CRITICAL
    assert "policy-grants-public" in finding.reason
    assert [c.path for c in finding.changes] == ["policy"]
    assert json.loads(finding.changes[0].live)["Statement"][0]["Principal"] == "*"
    assert [c.operation for c in finding.plan] == ["SetRepositoryPolicy"]
    revert_and_replay(pipeline, finding, event)
    live = repo.ecr.get_repository_policy(repositoryName=repo.name)["policyText"]
    assert canonical_policy(live) == canonical_policy(declared)  # restored as canonical JSON: the same policy


def test_reordered_policy_is_not_drift_and_deleted_policy_is_reverted(repo: Repo) -> None:
    declared = pull_policy()
    state = StateBuilder().add("aws_ecr_repository_policy", "app", policy_state(repo, declared))
    pipeline = repo.pipeline(state)
    stmt = declared["Statement"][0]
    reordered = {"Statement": [{"Action": list(reversed(stmt["Action"])), "Principal": stmt["Principal"],
                                "Effect": "Allow", "Sid": "pull"}], "Version": "2012-10-17"}
    repo.ecr.set_repository_policy(repositoryName=repo.name, policyText=json.dumps(reordered, indent=4))
    event = repo.event("SetRepositoryPolicy", {"policyText": json.dumps(reordered)})
    assert only(pipeline.process_event(event)).status is Status.IN_SYNC
    repo.ecr.delete_repository_policy(repositoryName=repo.name)
    deleted = repo.event("DeleteRepositoryPolicy", {}, {"policyText": json.dumps(reordered)})
    finding = only(pipeline.process_event(deleted))
    assert finding.resource.address == "aws_ecr_repository_policy.app"  # only the policy is managed
    assert finding.severity is Severity.MEDIUM and "repository-policy-removed" in finding.reason
    assert [(c.path, c.live) for c in finding.changes] == [("policy", None)]
    revert_and_replay(pipeline, finding, deleted)


def test_a_policy_no_state_declares_is_not_compared(repo: Repo) -> None:
    """The repository is managed, its policy is not: Terraform would not report a policy either."""
    pipeline = repo.pipeline(StateBuilder().add("aws_ecr_repository", "app", repo_state(repo)))
    public = pull_policy(principal="*")
    repo.ecr.set_repository_policy(repositoryName=repo.name, policyText=json.dumps(public))
    event = repo.event("SetRepositoryPolicy", {"policyText": json.dumps(public)})
    finding = only(pipeline.process_event(event))
    assert finding.status is Status.IN_SYNC and not finding.changes


# === aws_ecr_lifecycle_policy ===================================================================
def test_lifecycle_policy_changed_and_deleted_are_medium_and_reverted(repo: Repo) -> None:
    repo.ecr.put_lifecycle_policy(repositoryName=repo.name, lifecyclePolicyText=json.dumps(LIFECYCLE))
    state = StateBuilder().add("aws_ecr_repository", "app", repo_state(repo)).add(
        "aws_ecr_lifecycle_policy", "app", {**policy_state(repo, LIFECYCLE)})
    pipeline = repo.pipeline(state)
    # rules listed in another order, tag prefixes reordered: the same policy
    same = {"rules": [dict(LIFECYCLE["rules"][1], selection={**LIFECYCLE["rules"][1]["selection"],
                                                              "tagPrefixList": ["release", "v"]}),
                      LIFECYCLE["rules"][0]]}
    repo.ecr.put_lifecycle_policy(repositoryName=repo.name, lifecyclePolicyText=json.dumps(same))
    put = repo.event("PutLifecyclePolicy", {"lifecyclePolicyText": json.dumps(same)})
    assert only(pipeline.process_event(put)).status is Status.IN_SYNC
    keep_3 = {"rules": [{**LIFECYCLE["rules"][1], "selection": {**LIFECYCLE["rules"][1]["selection"],
                                                                 "countNumber": 3}}]}
    repo.ecr.put_lifecycle_policy(repositoryName=repo.name, lifecyclePolicyText=json.dumps(keep_3))
    put = repo.event("PutLifecyclePolicy", {"lifecyclePolicyText": json.dumps(keep_3)})
    finding = only(pipeline.process_event(put))
    assert finding.severity is Severity.MEDIUM and [c.path for c in finding.changes] == ["lifecycle_policy"]
    assert "lifecycle-policy-changed" in finding.reason
    revert_and_replay(pipeline, finding, put)
    repo.ecr.delete_lifecycle_policy(repositoryName=repo.name)
    deleted = repo.event("DeleteLifecyclePolicy", {})
    finding = only(pipeline.process_event(deleted))
    assert [(c.path, c.live) for c in finding.changes] == [("lifecycle_policy", None)]
    assert [c.operation for c in finding.plan] == ["PutLifecyclePolicy"]
    revert_and_replay(pipeline, finding, deleted)
