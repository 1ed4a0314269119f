"""Security groups end to end through the pipeline, on moto: the walking skeleton's acceptance."""

from __future__ import annotations

import pytest

from chalicelib.models import RemediationStatus, Severity, Status
from tests.conftest import make_pipeline
from tests.harness.events import role_identity, sg_rule_event
from tests.harness.tfstate import StateBuilder, sg_attributes, sg_rule_block

WORLD_SSH = [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
HTTPS = {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
APP = {"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}


@pytest.fixture
def stack(aws):
    """A VPC, a group with 443 inline and 8080 in a separate rule resource, and its state in S3."""
    ec2, s3 = aws.client("ec2"), aws.client("s3")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    gid = ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc)["GroupId"]
    group = ec2.describe_security_groups(GroupIds=[gid])["SecurityGroups"][0]
    ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[HTTPS, APP])
    s3.create_bucket(Bucket="tfstate")
    state = StateBuilder()
    state.add("aws_security_group", "web", sg_attributes(group, ingress=[sg_rule_block("tcp", 443, 443, ["0.0.0.0/0"])],
                                                         egress=[], default_tags={"team": "platform"}),
              module="module.net")
    state.add("aws_vpc_security_group_ingress_rule", "app", {
        "id": "sgr-0123456789abcdef0", "security_group_id": gid, "ip_protocol": "tcp", "from_port": 8080,
        "to_port": 8080, "cidr_ipv4": "10.0.0.0/8", "cidr_ipv6": None, "prefix_list_id": None,
        "referenced_security_group_id": None, "description": None, "tags": None, "tags_all": {}},
        module="module.net")
    state.put(s3, "tfstate", "prod/network.tfstate")
    ec2.create_tags(Resources=[gid], Tags=[{"Key": "team", "Value": "platform"}])
    pipeline = make_pipeline(aws, "s3://tfstate/prod/", iac_principals=("arn:aws:iam::*:role/terraform-*",))
    return pipeline, ec2, gid


def test_world_open_ssh_is_critical_drift(stack):
    pipeline, ec2, gid = stack
    ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=WORLD_SSH)
    [finding] = pipeline.process_event(sg_rule_event("AuthorizeSecurityGroupIngress", gid, WORLD_SSH))
    assert finding.status is Status.DRIFT
    assert finding.severity is Severity.CRITICAL
    assert finding.resource.address == "module.net.aws_security_group.web"
    assert finding.resource.state == "s3://tfstate/prod/network.tfstate"
    assert [c.to_dict() for c in finding.changes] == [{
        "path": "ingress", "declared": None,
        "live": {"protocol": "tcp", "from_port": 22, "to_port": 22, "cidr_blocks": ["0.0.0.0/0"], "description": ""},
    }]
    assert "ingress-open-to-world" in finding.reason
    assert finding.actor.via_console and finding.actor.type == "IdentityCenterUser"


def test_rule_in_separate_resource_is_not_drift(stack):
    pipeline, _, gid = stack
    [finding] = pipeline.process_event(sg_rule_event("AuthorizeSecurityGroupIngress", gid, [APP]))
    assert finding.status is Status.IN_SYNC, finding.reason


def test_default_egress_and_default_tags_are_not_drift(stack):
    pipeline, ec2, gid = stack
    live = ec2.describe_security_groups(GroupIds=[gid])["SecurityGroups"][0]
    assert any(p["IpProtocol"] == "-1" for p in live["IpPermissionsEgress"]), "moto adds the AWS default egress"
    [finding] = pipeline.process_event(sg_rule_event("AuthorizeSecurityGroupEgress", gid, []))
    assert finding.status is Status.IN_SYNC, finding.reason


def test_added_and_removed_before_processing_is_in_sync(stack):
    pipeline, ec2, gid = stack
    ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=WORLD_SSH)
    ec2.revoke_security_group_ingress(GroupId=gid, IpPermissions=WORLD_SSH)
    [finding] = pipeline.process_event(sg_rule_event("AuthorizeSecurityGroupIngress", gid, WORLD_SSH))
    assert finding.status is Status.IN_SYNC


def test_failed_call_is_skipped(stack):
    pipeline, _, gid = stack
    [finding] = pipeline.process_event(
        sg_rule_event("AuthorizeSecurityGroupIngress", gid, WORLD_SSH, error_code="Client.UnauthorizedOperation"))
    assert finding.status is Status.SKIPPED
    assert "Client.UnauthorizedOperation" in finding.reason


def test_iac_principal_is_ignored(stack):
    pipeline, ec2, gid = stack
    ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=WORLD_SSH)
    event = sg_rule_event("AuthorizeSecurityGroupIngress", gid, WORLD_SSH,
                          identity=role_identity("terraform-apply", "ci"), console=False)
    [finding] = pipeline.process_event(event)
    assert finding.status is Status.IGNORED
    assert "terraform-*" in finding.reason


def test_revert_removes_exactly_the_undeclared_rule(stack):
    pipeline, ec2, gid = stack
    ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=WORLD_SSH)
    before = ec2.describe_security_groups(GroupIds=[gid])["SecurityGroups"][0]
    event = sg_rule_event("AuthorizeSecurityGroupIngress", gid, WORLD_SSH)
    [finding] = pipeline.process_event(event)
    assert [c.operation for c in finding.plan] == ["RevokeSecurityGroupIngress"]
    result = pipeline.revert(finding)
    assert result.status is RemediationStatus.REVERTED, result.reason
    after = ec2.describe_security_groups(GroupIds=[gid])["SecurityGroups"][0]
    removed = [p for p in before["IpPermissions"] if p not in after["IpPermissions"]]
    assert removed == [{**WORLD_SSH[0], "Ipv6Ranges": [], "PrefixListIds": [], "UserIdGroupPairs": []}] or (
        len(before["IpPermissions"]) - len(after["IpPermissions"]) == 1
        and all(p["FromPort"] != 22 for p in after["IpPermissions"]))
    assert after["IpPermissionsEgress"] == before["IpPermissionsEgress"]
    assert after.get("Tags") == before.get("Tags")
    [again] = pipeline.process_event(event)
    assert again.status is Status.IN_SYNC


def test_revert_refuses_when_live_moved_again(stack):
    pipeline, ec2, gid = stack
    ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=WORLD_SSH)
    [finding] = pipeline.process_event(sg_rule_event("AuthorizeSecurityGroupIngress", gid, WORLD_SSH))
    rdp = [{"IpProtocol": "tcp", "FromPort": 3389, "ToPort": 3389, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=rdp)
    result = pipeline.revert(finding)
    assert result.status is RemediationStatus.REFUSED
    assert "changed again" in result.reason
    live = ec2.describe_security_groups(GroupIds=[gid])["SecurityGroups"][0]["IpPermissions"]
    assert any(p.get("FromPort") == 22 for p in live), "a refused revert changes nothing"


def test_tag_drift_is_low_and_revertible(stack):
    pipeline, ec2, gid = stack
    ec2.create_tags(Resources=[gid], Tags=[{"Key": "team", "Value": "someone-else"}])
    from tests.harness.events import cloudtrail_event
    event = cloudtrail_event("CreateTags", "ec2.amazonaws.com",
                             {"resourcesSet": {"items": [{"resourceId": gid}]},
                              "tagSet": {"items": [{"key": "team", "value": "someone-else"}]}})
    [finding] = pipeline.process_event(event)
    assert finding.status is Status.DRIFT and finding.severity is Severity.LOW
    assert [c.to_dict() for c in finding.changes] == [{"path": "tags.team", "declared": "platform",
                                                      "live": "someone-else"}]
    assert pipeline.revert(finding).status is RemediationStatus.REVERTED
    assert pipeline.process_event(event)[0].status is Status.IN_SYNC


def test_create_unmanaged_and_delete_managed(stack):
    pipeline, ec2, gid = stack
    from tests.harness.events import cloudtrail_event
    vpc = ec2.describe_security_groups(GroupIds=[gid])["SecurityGroups"][0]["VpcId"]
    other = ec2.create_security_group(GroupName="hand-made", Description="x", VpcId=vpc)["GroupId"]
    [created] = pipeline.process_event(cloudtrail_event(
        "CreateSecurityGroup", "ec2.amazonaws.com", {"groupName": "hand-made", "groupDescription": "x"},
        {"_return": True, "groupId": other}))
    assert created.status is Status.UNMANAGED and created.resource.id == other
    ec2.delete_security_group(GroupId=gid)
    [deleted] = pipeline.process_event(cloudtrail_event("DeleteSecurityGroup", "ec2.amazonaws.com", {"groupId": gid},
                                                        {"_return": True}))
    assert deleted.status is Status.DELETED
    assert deleted.resource.address == "module.net.aws_security_group.web"


@pytest.fixture
def rule_stack(aws):
    """A group whose rules live only in rule resources: a legacy aws_security_group_rule (ingress)
    and an aws_vpc_security_group_egress_rule (egress)."""
    ec2, s3 = aws.client("ec2"), aws.client("s3")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    gid = ec2.create_security_group(GroupName="db", Description="db", VpcId=vpc)["GroupId"]
    group = ec2.describe_security_groups(GroupIds=[gid])["SecurityGroups"][0]
    pg = {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}
    https_out = {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
    ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[pg])
    ec2.authorize_security_group_egress(GroupId=gid, IpPermissions=[https_out])
    s3.create_bucket(Bucket="rules-state")
    state = StateBuilder()
    state.add("aws_security_group", "db", sg_attributes(group, ingress=[], egress=[]))
    state.add("aws_security_group_rule", "pg", {
        "id": "sgrule-1234567890", "type": "ingress", "security_group_id": gid, "protocol": "tcp",
        "from_port": 5432, "to_port": 5432, "cidr_blocks": ["10.0.0.0/8"], "ipv6_cidr_blocks": None,
        "prefix_list_ids": [], "source_security_group_id": None, "self": False, "description": None,
        "security_group_rule_id": "sgr-0aaaaaaaaaaaaaaa1", "timeouts": None})
    state.add("aws_vpc_security_group_egress_rule", "https_out", {
        "id": "sgr-0bbbbbbbbbbbbbbb2", "security_group_id": gid, "ip_protocol": "tcp", "from_port": 443,
        "to_port": 443, "cidr_ipv4": "0.0.0.0/0", "cidr_ipv6": None, "prefix_list_id": None,
        "referenced_security_group_id": None, "description": None, "tags": None, "tags_all": {}})
    state.put(s3, "rules-state", "db.tfstate")
    return make_pipeline(aws, "s3://rules-state/db.tfstate"), ec2, gid, pg, https_out


def test_rules_declared_only_in_rule_resources_are_in_sync(rule_stack):
    pipeline, _, gid, pg, https_out = rule_stack
    [ingress] = pipeline.process_event(sg_rule_event("AuthorizeSecurityGroupIngress", gid, [pg]))
    [egress] = pipeline.process_event(sg_rule_event("AuthorizeSecurityGroupEgress", gid, [https_out]))
    assert ingress.status is Status.IN_SYNC and egress.status is Status.IN_SYNC, (ingress.reason, egress.reason)


def test_legacy_rule_revoked_by_hand_is_drift_and_revert_restores_it(rule_stack):
    pipeline, ec2, gid, pg, _ = rule_stack
    ec2.revoke_security_group_ingress(GroupId=gid, IpPermissions=[pg])
    event = sg_rule_event("RevokeSecurityGroupIngress", gid, [pg])
    [finding] = pipeline.process_event(event)
    assert finding.status is Status.DRIFT and finding.severity is Severity.MEDIUM
    assert [(c.path, c.live, c.rule) for c in finding.changes] == [("ingress", None, "ingress-rule-removed")]
    assert finding.changes[0].declared["cidr_blocks"] == ["10.0.0.0/8"]
    assert [c.operation for c in finding.plan] == ["AuthorizeSecurityGroupIngress"]
    assert pipeline.revert(finding).status is RemediationStatus.REVERTED
    assert pipeline.process_event(event)[0].status is Status.IN_SYNC


def test_undeclared_egress_next_to_an_egress_rule_resource_is_drift(rule_stack):
    pipeline, ec2, gid, _, _ = rule_stack
    smtp = [{"IpProtocol": "tcp", "FromPort": 25, "ToPort": 25, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    ec2.authorize_security_group_egress(GroupId=gid, IpPermissions=smtp)
    event = sg_rule_event("AuthorizeSecurityGroupEgress", gid, smtp)
    [finding] = pipeline.process_event(event)
    assert finding.status is Status.DRIFT and finding.severity is Severity.MEDIUM
    assert [(c.path, c.live["from_port"], c.rule) for c in finding.changes] == [("egress", 25, "egress-rule-added")]
    assert pipeline.revert(finding).status is RemediationStatus.REVERTED
    assert pipeline.process_event(event)[0].status is Status.IN_SYNC
