"""The driftwarden command runs the same pipeline: replay (all input shapes), --revert, coverage."""

from __future__ import annotations

import json

import pytest

from chalicelib.cli import main
from tests.harness.events import sg_rule_event
from tests.harness.tfstate import StateBuilder, sg_attributes

WORLD_SSH = [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]


@pytest.fixture
def drifted(aws, env, tmp_path):
    ec2, s3 = aws.client("ec2"), aws.client("s3")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    gid = ec2.create_security_group(GroupName="db", Description="db", VpcId=vpc)["GroupId"]
    group = ec2.describe_security_groups(GroupIds=[gid])["SecurityGroups"][0]
    s3.create_bucket(Bucket="states")
    StateBuilder().add("aws_security_group", "db", sg_attributes(group, ingress=[], egress=[]), index_key="a").put(
        s3, "states", "env:/staging/db/terraform.tfstate")
    env(DRIFTWARDEN_STATE="s3://states/db/terraform.tfstate", DRIFTWARDEN_STORE_DIR=str(tmp_path / "store"))
    ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=WORLD_SSH)
    return ec2, gid


def _lines(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]


@pytest.mark.parametrize("shape", ["eventbridge", "bare", "list", "log-file"])
def test_replay_accepts_every_input_shape(drifted, tmp_path, capsys, shape):
    _, gid = drifted
    wrapped = sg_rule_event("AuthorizeSecurityGroupIngress", gid, WORLD_SSH)
    payload = {"eventbridge": wrapped, "bare": wrapped["detail"], "list": [wrapped],
               "log-file": {"Records": [wrapped["detail"]]}}[shape]
    path = tmp_path / "event.json"
    path.write_text(json.dumps(payload))
    assert main(["replay", str(path)]) == 0
    [finding] = _lines(capsys)
    assert finding["status"] == "drift" and finding["severity"] == "critical"
    assert finding["resource"]["address"] == 'aws_security_group.db["a"]'
    assert finding["resource"]["state"] == "s3://states/env:/staging/db/terraform.tfstate"
    assert set(finding) >= {"event_id", "event_name", "event_source", "event_time", "account", "region", "actor",
                            "status", "resource", "changes", "severity", "action", "reason"}
    assert "remediation" not in finding


def test_replay_revert_then_replay_is_in_sync(drifted, tmp_path, capsys):
    ec2, gid = drifted
    path = tmp_path / "event.json"
    path.write_text(json.dumps(sg_rule_event("AuthorizeSecurityGroupIngress", gid, WORLD_SSH)))
    assert main(["replay", str(path), "--revert"]) == 0
    [finding] = _lines(capsys)
    assert finding["remediation"]["status"] == "reverted"
    assert finding["remediation"]["calls"][0]["operation"] == "RevokeSecurityGroupIngress"
    assert ec2.describe_security_groups(GroupIds=[gid])["SecurityGroups"][0]["IpPermissions"] == []
    assert main(["replay", str(path)]) == 0
    assert _lines(capsys)[0]["status"] == "in_sync"


def test_unreadable_event_file_is_a_clear_error_line(drifted, tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert main(["replay", str(bad)]) == 1
    [line] = _lines(capsys)
    assert line["status"] == "error" and "bad.json" in line["reason"]


def test_coverage_json_lists_types_events_and_attributes(capsys):
    assert main(["coverage", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    by_type = {t["type"]: t for t in doc["types"]}
    sg = by_type["aws_security_group"]
    assert "ec2:AuthorizeSecurityGroupIngress" in sg["events"] and sg["compared"] == ["egress", "ingress", "tags"]
    assert sg["revertible"] is True
    assert doc["type_count"] == len(doc["types"]) and all(t["compared"] for t in doc["types"])
