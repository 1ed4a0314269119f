"""Every real CloudTrail record in the corpus from ELBv2, Route 53, ECR, Secrets Manager and
EventBridge, one test each, against a table of what it must resolve to.

Given a recorded event (bare or EventBridge-wrapped, redacted, with missing fields, from another API
on the same event source), then the trigger resolves it to exactly the objects in the table (Route 53:
one reference per change of the batch) and the pipeline gives the table's verdict - or says clearly
why it cannot (``skipped``, ``error``, ``unsupported``) - never an exception. Each record runs twice on
moto: with no state (everything is unmanaged) and with a state managing what it names (the verdict
then comes from the live object: recreated in moto where its recorded id allows, else gone).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest

from chalicelib.models import Severity, Status
from chalicelib.pipeline import Pipeline
from chalicelib.resources.registry import default_registry
from chalicelib.triggers.cloudtrail import parse_event, resolve_refs
from tests.conftest import CORPUS, make_pipeline
from tests.harness.tfstate import StateBuilder

CLOUDTRAIL = os.path.abspath(os.path.join(CORPUS, "cloudtrail"))
FIXTURES = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "fixtures", "cloudtrail"))
PREFIXES = ("elasticloadbalancing-", "route53-", "ecr-", "secretsmanager-", "events-")
KINDS = {"elbv2:loadbalancer", "elbv2:listener", "elbv2:targetgroup", "route53:record", "route53:hostedzone",
         "ecr:repository", "secretsmanager:secret", "events:rule", "events:target"}
STATE_BUCKET = "driftwarden-coverage2b-corpus"

R53_AWSDOCS = "Z1PA6795UKMFR9"
LB_ARN = "arn:aws:elasticloadbalancing:us-east-1:123456789123:loadbalancer/app/test/433ae0ba96204181"
SECRET_PALOMA = "arn:aws:secretsmanager:us-west-2:123456789012:secret:paloma/example-secret-xxxxxx"
SECRET_TEST = "arn:aws:secretsmanager:us-east-1:123456789123:secret:test-zeCISw"
PRIVATE_PULL = {"Version": "2012-10-17", "Statement": [{
    "Sid": "pull", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
    "Action": ["ecr:BatchGetImage"]}]}
EC2_PATTERN = '{"detail-type": ["EC2 Instance State-change Notification"], "source": ["aws.ec2"]}'


@dataclass(frozen=True)
class Case:
    """What one recorded event must resolve to, with no state and with a state that manages it."""

    refs: tuple[tuple[str, str | None], ...]
    unmanaged: Status
    managed: Status
    severity: Severity | None = None  # of the managed verdict, when it is drift
    state: tuple[tuple[str, str, dict[str, Any]], ...] = field(default=())  # (type, name, attributes)


def _ecr_state(name: str, region: str, account: str) -> tuple[tuple[str, str, dict[str, Any]], ...]:
    return (("aws_ecr_repository_policy", "repo", {
        "id": name, "policy": json.dumps(PRIVATE_PULL), "region": region, "registry_id": account,
        "repository": name}),)


def _record_state(zone: str, name: str) -> tuple[str, str, dict[str, Any]]:
    return ("aws_route53_record", name.split(".")[0], {
        "alias": [], "fqdn": name, "health_check_id": "", "id": f"{zone}_{name}_A", "name": name,
        "records": ["192.0.1.1"], "set_identifier": "", "ttl": 300, "type": "A", "zone_id": zone})


def _secret_state(arn: str, name: str) -> tuple[tuple[str, str, dict[str, Any]], ...]:
    return (("aws_secretsmanager_secret", "s", {"arn": arn, "description": "", "id": arn, "kms_key_id": "",
                                                 "name": name, "policy": "", "tags": {}, "tags_all": {}}),)


# pushing an image never changes a declared attribute: skipped before any state lookup
PUSH = Case((("ecr:repository", "testrepo"),), Status.SKIPPED, Status.SKIPPED)


TABLE: dict[str, Case] = {
    "ecr-PutImage-panther-1.json": PUSH,
    "ecr-PutImage-panther-2.json": PUSH,
    "ecr-PutImage-panther-3.json": PUSH,
    "ecr-PutImage-panther-4.json": PUSH,
    # the recorded public policy is applied to a recreated repository whose declared policy is private
    "ecr-SetRepositoryPolicy-panther-1.json": Case(
        (("ecr:repository", "community"),), Status.UNMANAGED, Status.DRIFT, Severity.CRITICAL,
        _ecr_state("community", "eu-west-1", "112233445566")),
    "ecr-SetRepositoryPolicy-streamalert-1.json": Case(
        (("ecr:repository", "test"),), Status.UNMANAGED, Status.DRIFT, Severity.CRITICAL,
        _ecr_state("test", "us-east-1", "123456789123")),
    "elasticloadbalancing-AddTags-custodian-1.json": Case(
        (("elbv2:loadbalancer", LB_ARN),), Status.UNMANAGED, Status.DELETED, None,
        (("aws_lb", "test", {"arn": LB_ARN, "id": LB_ARN, "name": "test", "load_balancer_type": "application",
                             "enable_deletion_protection": False, "tags": {}, "tags_all": {}}),)),
    # a Classic Load Balancer call on the same event source: not an ELBv2 object, said so
    "elasticloadbalancing-CreateLoadBalancerPolicy-custodian-1.json": Case((), Status.UNSUPPORTED,
                                                                           Status.UNSUPPORTED),
    # recreated in moto from the record itself: replaying a record does not re-apply it, so in sync
    "events-PutRule-awsdocs-1.json": Case(
        (("events:rule", "cttest2"),), Status.UNMANAGED, Status.IN_SYNC, None,
        (("aws_cloudwatch_event_rule", "cttest2", {
            "arn": "arn:aws:events:us-east-1:123456789012:rule/cttest2", "description": "",
            "event_bus_name": "default", "id": "cttest2", "name": "cttest2", "role_arn": "",
            "event_pattern": EC2_PATTERN,
            "schedule_expression": "", "state": "ENABLED", "tags": {}, "tags_all": {}}),)),
    # one reference per change: two CREATEs in one batch
    "route53-ChangeResourceRecordSets-awsdocs-1.json": Case(
        (("route53:record", f"{R53_AWSDOCS}_prod.example.com_A"),
         ("route53:record", f"{R53_AWSDOCS}_test.example.com_A")),
        Status.UNMANAGED, Status.DELETED, None,
        (_record_state(R53_AWSDOCS, "prod.example.com"), _record_state(R53_AWSDOCS, "test.example.com"))),
    # zone id given as /hostedzone/..., name without its trailing dot
    "route53-ChangeResourceRecordSets-custodian-1.json": Case(
        (("route53:record", "Z3U1111222111_awsapichanges.info_A"),), Status.UNMANAGED, Status.DELETED, None,
        (_record_state("Z3U1111222111", "awsapichanges.info"),)),
    "route53-CreateHealthCheck-awsdocs-1.json": Case((), Status.UNSUPPORTED, Status.UNSUPPORTED),
    "route53-DeleteHostedZone-awsdocs-1.json": Case(
        (("route53:hostedzone", R53_AWSDOCS),), Status.UNMANAGED, Status.DELETED, None,
        (("aws_route53_zone", "main", {"arn": f"arn:aws:route53:::hostedzone/{R53_AWSDOCS}", "comment": "",
                                       "id": R53_AWSDOCS, "name": "example.com", "tags": {}, "tags_all": {},
                                       "zone_id": R53_AWSDOCS}),)),
    # no secretId, no response: cannot tell which secret, and says so
    "secretsmanager-PutResourcePolicy-panther-1.json": Case(
        (("secretsmanager:secret", None),), Status.ERROR, Status.ERROR),
    "secretsmanager-PutResourcePolicy-panther-2.json": Case(
        (("secretsmanager:secret", SECRET_PALOMA),), Status.UNMANAGED, Status.DELETED, None,
        _secret_state(SECRET_PALOMA, "paloma/example-secret")),
    # named "test" by the caller; the response's "aRN" is the key
    "secretsmanager-PutResourcePolicy-streamalert-1.json": Case(
        (("secretsmanager:secret", SECRET_TEST),), Status.UNMANAGED, Status.DELETED, None,
        _secret_state(SECRET_TEST, "test")),
}


def _record(raw: Mapping[str, Any]) -> Mapping[str, Any]:
    detail = raw.get("detail")
    return detail if isinstance(detail, Mapping) else raw


def _load(folder: str, name: str) -> dict[str, Any]:
    with open(os.path.join(folder, name)) as fh:
        return json.load(fh)


def _corpus_files() -> list[str]:
    return sorted(n for n in os.listdir(CLOUDTRAIL) if n.startswith(PREFIXES) and n.endswith(".json"))


def _covered(raw: Mapping[str, Any]) -> bool:
    rec = _record(raw)
    claims = default_registry().claims(rec["eventSource"], rec["eventName"])
    return any(c.plugin.object_kind in KINDS for c in claims)


@pytest.fixture(scope="module")
def session(aws_module: boto3.session.Session) -> Iterator[boto3.session.Session]:
    aws_module.client("s3").create_bucket(Bucket=STATE_BUCKET)
    yield aws_module


def _pipeline(session: boto3.session.Session, case: Case | None) -> Pipeline:
    prefix = f"corpus-{uuid.uuid4().hex[:10]}/"
    if case is not None and case.state:
        state = StateBuilder()
        for tf_type, name, attrs in case.state:
            state.add(tf_type, name, attrs)
        state.put(session.client("s3"), STATE_BUCKET, f"{prefix}terraform.tfstate")
    return make_pipeline(session, f"s3://{STATE_BUCKET}/{prefix}")


def _recreate(session: boto3.session.Session, name: str, raw: Mapping[str, Any]) -> None:
    """Recreate in moto what the recorded id allows (ECR names, rule names); others stay gone."""
    rec = _record(raw)
    params, region = rec.get("requestParameters") or {}, rec.get("awsRegion")
    if name.startswith("ecr-SetRepositoryPolicy"):
        ecr = session.client("ecr", region_name=region)
        repo = params["repositoryName"]
        if repo not in {r["repositoryName"] for r in ecr.describe_repositories()["repositories"]}:
            ecr.create_repository(repositoryName=repo)
        ecr.set_repository_policy(repositoryName=repo, policyText=params["policyText"])
    if name.startswith("events-PutRule"):
        session.client("events", region_name=region).put_rule(
            Name=params["name"], EventPattern=params["eventPattern"], State=params["state"])


# --- the table matches the corpus ----------------------------------------------------------------
def test_the_table_lists_every_record_of_these_sources() -> None:
    assert set(_corpus_files()) == set(TABLE)
    covered = [n for n in _corpus_files() if _covered(_load(CLOUDTRAIL, n))]
    assert len(covered) == 14, covered
    for name in set(TABLE) - set(covered):
        assert TABLE[name].unmanaged is Status.UNSUPPORTED, name


@pytest.mark.parametrize("name", sorted(TABLE))
def test_record_resolves_to_the_objects_in_the_table(name: str) -> None:
    event = parse_event(_load(CLOUDTRAIL, name))
    refs = [(r.object_kind, r.object_id) for r in resolve_refs(default_registry(), event)]
    assert refs == list(TABLE[name].refs)


@pytest.mark.parametrize("name", sorted(TABLE))
def test_record_without_state_gives_the_table_verdict(session: boto3.session.Session, name: str) -> None:
    case = TABLE[name]
    findings = _pipeline(session, None).process_payload(_load(CLOUDTRAIL, name))
    verdicts = [(f.status, f.reason) for f in findings]
    assert findings and all(f.status is case.unmanaged for f in findings), verdicts
    assert len(findings) == max(1, len(case.refs))
    assert not any("internal error" in f.reason for f in findings)
    if case.unmanaged is Status.UNMANAGED:
        assert sorted(f.resource.id for f in findings) == sorted(oid for _, oid in case.refs)


@pytest.mark.parametrize("name", sorted(TABLE))
def test_record_with_a_state_that_manages_it_gives_the_table_verdict(session: boto3.session.Session,
                                                                       name: str) -> None:
    case = TABLE[name]
    raw = _load(CLOUDTRAIL, name)
    _recreate(session, name, raw)
    findings = _pipeline(session, case).process_payload(raw)
    verdicts = [(f.status, f.reason) for f in findings]
    assert findings and all(f.status is case.managed for f in findings), verdicts
    assert not any("internal error" in f.reason for f in findings)
    if case.state and case.managed not in (Status.SKIPPED, Status.ERROR, Status.UNSUPPORTED):
        addresses = {f"{t}.{n}" for t, n, _ in case.state}
        assert {f.resource.address for f in findings} <= addresses
    if case.severity is not None:
        assert all(f.severity is case.severity for f in findings)
        assert all(f.plan for f in findings), "a drift finding here is revertible"


# --- the family's own fixtures (tests/fixtures/cloudtrail) never break the pipeline ---------------
FIXTURE_FILES = sorted(n for n in os.listdir(FIXTURES) if n.startswith(PREFIXES) and n.endswith(".json"))


@pytest.mark.parametrize("name", FIXTURE_FILES)
def test_fixture_records_resolve_and_are_judged_without_state(session: boto3.session.Session,
                                                               name: str) -> None:
    raw = _load(FIXTURES, name)
    refs = resolve_refs(default_registry(), parse_event(raw))
    assert refs and all(r.object_id for r in refs), refs
    findings = _pipeline(session, None).process_payload(raw)
    verdicts = [(f.status, f.reason) for f in findings]
    assert {f.status for f in findings} <= {Status.UNMANAGED, Status.SKIPPED}, verdicts
