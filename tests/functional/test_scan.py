"""The backstop scan: finds drift planted in 3 of 50 groups, batches reads, exits 2 on drift."""

from __future__ import annotations

import json

import pytest

from chalicelib import wiring
from chalicelib.cli import main
from chalicelib.models import Status
from chalicelib.triggers.scan import in_shard, scan
from tests.harness.tfstate import StateBuilder, sg_attributes

OPEN = [{"IpProtocol": "tcp", "FromPort": 3389, "ToPort": 3389, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]


@pytest.fixture(scope="module")
def estate(aws_module):
    ec2, s3 = aws_module.client("ec2"), aws_module.client("s3")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    s3.create_bucket(Bucket="estate-states")
    ids = []
    for chunk in range(5):  # 5 states x 10 groups, one per workspace-ish key
        state = StateBuilder()
        for i in range(10):
            gid = ec2.create_security_group(GroupName=f"g{chunk}-{i}", Description="x", VpcId=vpc)["GroupId"]
            group = ec2.describe_security_groups(GroupIds=[gid])["SecurityGroups"][0]
            state.add("aws_security_group", "g", sg_attributes(group, ingress=[], egress=[]), index_key=i,
                      module=f"module.team{chunk}")
            ids.append(gid)
        state.put(s3, "estate-states", f"teams/team{chunk}.tfstate")
    planted = [ids[3], ids[27], ids[44]]
    for gid in planted:
        ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=OPEN)
    return aws_module, ids, planted


def test_scan_finds_exactly_the_planted_drift_with_batched_reads(estate):
    from tests.conftest import make_pipeline

    session, _, planted = estate
    pipeline = make_pipeline(session, "s3://estate-states/teams/")
    factory = pipeline.contexts.__self__  # the ClientFactory behind the pipeline
    findings = scan(pipeline)
    assert len(findings) == 50
    drift = sorted(f.resource.id for f in findings if f.status is Status.DRIFT)
    assert drift == sorted(planted)
    assert {f.status for f in findings} == {Status.DRIFT, Status.IN_SYNC}
    describes = factory.calls.get("EC2:DescribeSecurityGroups", 0)
    assert describes <= 5, f"{describes} describe calls for 50 groups: reads are not batched"


def test_shards_partition_the_estate(estate):
    from tests.conftest import make_pipeline

    session, ids, _ = estate
    seen = []
    for shard in range(3):
        seen += [f.resource.id for f in scan(make_pipeline(session, "s3://estate-states/teams/"),
                                             shard=shard, shards=3)]
    assert sorted(seen) == sorted(ids)
    assert len({in_shard("ec2:security-group", i, 0, 3) for i in ids}) == 2


@pytest.mark.parametrize(("flag", "expected"), [([], 0), (["--detailed-exitcode"], 2)])
def test_cli_scan_detailed_exitcode(estate, monkeypatch, capsys, flag, expected):
    monkeypatch.setenv("DRIFTWARDEN_STATE", "s3://estate-states/teams/")
    wiring.reset()
    try:
        assert main(["scan", "--format", "json", *flag]) == expected
    finally:
        wiring.reset()
    out = capsys.readouterr()
    lines = [json.loads(x) for x in out.out.splitlines()]
    assert sum(1 for x in lines if x["status"] == "drift") == 3
    assert "AWS API call(s)" in out.err


def test_cli_scan_without_drift_exits_0_even_with_flag(estate, monkeypatch, capsys):
    monkeypatch.setenv("DRIFTWARDEN_STATE", "s3://estate-states/teams/")
    wiring.reset()
    try:
        assert main(["scan", "--detailed-exitcode", "--state", "s3://estate-states/none/"]) == 0
    finally:
        wiring.reset()
