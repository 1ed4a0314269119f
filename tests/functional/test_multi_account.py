"""Multi-account and multi-region: assume a role per event account, map states to accounts."""

from __future__ import annotations

import boto3
import pytest

from chalicelib.aws import ClientFactory
from chalicelib.models import Status
from chalicelib.pipeline import Pipeline
from chalicelib.resources.registry import default_registry
from chalicelib.state.index import StateIndex
from chalicelib.state.locations import parse_locations
from tests.harness.events import sg_rule_event
from tests.harness.tfstate import StateBuilder, sg_attributes

MEMBER = "222233334444"
WORLD_SSH = [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]


@pytest.fixture
def member_setup(aws):
    creds = aws.client("sts").assume_role(RoleArn=f"arn:aws:iam::{MEMBER}:role/driftwarden-member",
                                          RoleSessionName="setup")["Credentials"]
    member = boto3.session.Session(aws_access_key_id=creds["AccessKeyId"],
                                   aws_secret_access_key=creds["SecretAccessKey"],
                                   aws_session_token=creds["SessionToken"], region_name="eu-west-1")
    ec2, s3 = member.client("ec2"), aws.client("s3")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    gid = ec2.create_security_group(GroupName="api", Description="api", VpcId=vpc)["GroupId"]
    group = ec2.describe_security_groups(GroupIds=[gid])["SecurityGroups"][0]
    s3.create_bucket(Bucket="central-states")
    StateBuilder().add("aws_security_group", "api", sg_attributes(group, ingress=[], egress=[], account=MEMBER,
                                                                  region="eu-west-1")).put(
        s3, "central-states", "member/api.tfstate")
    ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=WORLD_SSH)
    assumed: list[str] = []
    session = boto3.session.Session(region_name="us-east-1")
    factory = ClientFactory(session_factory=lambda: session, default_region="us-east-1",
                            role_template="arn:aws:iam::{account}:role/driftwarden-member")
    original = factory._make

    def spy(service, region, account):
        if account:
            assumed.append(f"{service}/{region}/{account}")
        return original(service, region, account)

    factory._make = spy  # type: ignore[method-assign]
    return factory, gid, assumed


def _pipeline(factory, state, overrides=()):
    index = StateIndex(default_registry(), parse_locations(state), s3=lambda: factory.client("s3"),
                       account_overrides=overrides)
    return Pipeline(default_registry(), index, factory.context)


def test_reads_assume_the_member_role_in_the_event_account_and_region(member_setup):
    factory, gid, assumed = member_setup
    pipeline = _pipeline(factory, "s3://central-states/member/")
    event = sg_rule_event("AuthorizeSecurityGroupIngress", gid, WORLD_SSH, account=MEMBER, region="eu-west-1")
    [finding] = pipeline.process_event(event)
    assert finding.status is Status.DRIFT, finding.reason
    assert "ec2/eu-west-1/222233334444" in assumed
    assert factory.home_account() == "123456789012", "moto's own account is not assumed into"


def test_account_inferred_from_state_arns(member_setup):
    factory, _, _ = member_setup
    pipeline = _pipeline(factory, "s3://central-states/member/")
    pipeline.index.refresh()
    assert pipeline.index.accounts() == {MEMBER}


def test_event_for_an_unmapped_account_is_unsupported_never_silent(member_setup):
    factory, gid, _ = member_setup
    pipeline = _pipeline(factory, "s3://central-states/member/")
    event = sg_rule_event("AuthorizeSecurityGroupIngress", gid, WORLD_SSH, account="999988887777")
    [finding] = pipeline.process_event(event)
    assert finding.status is Status.UNSUPPORTED
    assert "no Terraform state is mapped to account 999988887777" in finding.reason


def test_configured_mapping_overrides_inference(member_setup):
    factory, gid, _ = member_setup
    pipeline = _pipeline(factory, "s3://central-states/member/", overrides=(("s3://central-states/member/",
                                                                             "555566667777"),))
    pipeline.index.refresh()
    assert pipeline.index.accounts() == {"555566667777"}
    [finding] = pipeline.process_event(
        sg_rule_event("AuthorizeSecurityGroupIngress", gid, WORLD_SSH, account=MEMBER, region="eu-west-1"))
    assert finding.status is Status.UNSUPPORTED


def test_same_name_in_two_regions_is_judged_per_region(aws):
    """ECR repositories are keyed by name: the eu-west-1 event must not see the us-east-1 declaration."""
    from tests.conftest import make_pipeline
    from tests.harness.events import cloudtrail_event

    for region in ("us-east-1", "eu-west-1"):
        aws.client("ecr", region_name=region).create_repository(repositoryName="app",
                                                                imageTagMutability="IMMUTABLE")
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="regional-states")
    repo = aws.client("ecr").describe_repositories(repositoryNames=["app"])["repositories"][0]
    StateBuilder().add("aws_ecr_repository", "app", {
        "id": "app", "name": "app", "arn": repo["repositoryArn"], "image_tag_mutability": "IMMUTABLE",
        "image_scanning_configuration": [{"scan_on_push": False}], "encryption_configuration": [
            {"encryption_type": "AES256", "kms_key": ""}], "force_delete": None, "registry_id": repo["registryId"],
        "repository_url": repo["repositoryUri"], "tags": None, "tags_all": {}},
    ).put(s3, "regional-states", "ecr.tfstate")
    aws.client("ecr", region_name="eu-west-1").put_image_tag_mutability(repositoryName="app",
                                                                      imageTagMutability="MUTABLE")
    pipeline = make_pipeline(aws, "s3://regional-states/")
    event = cloudtrail_event("PutImageTagMutability", "ecr.amazonaws.com",
                             {"repositoryName": "app", "imageTagMutability": "MUTABLE"}, region="eu-west-1")
    [finding] = pipeline.process_event(event)
    assert finding.status is Status.UNMANAGED, finding.reason


def test_an_unreadable_index_is_a_clear_error_never_unmanaged(aws):
    from chalicelib.errors import StateError
    from tests.conftest import make_pipeline

    pipeline = make_pipeline(aws, "")
    pipeline.index.ensure_fresh = lambda: None  # type: ignore[method-assign]

    def broken(*_args, **_kw):
        raise StateError("s3://idx/shards/7.json.gz", "cannot read index shard 7")

    pipeline.index.lookup = broken  # type: ignore[method-assign]
    [finding] = pipeline.process_event(sg_rule_event("AuthorizeSecurityGroupIngress", "sg-0123456789abcdef0",
                                                     WORLD_SSH))
    assert finding.status is Status.ERROR
    assert "cannot read the state index" in finding.reason and "internal error" not in finding.reason
