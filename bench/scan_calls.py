"""Scan API calls per 100 managed resources, per Terraform type (benchmark 3).

One child process: for each measured type it creates live objects on the moto server, writes a
state declaring them (the provider's attribute names), runs the scheduled scan over that state
alone and counts every AWS call with botocore's ``before-call`` hook (``ClientFactory.calls``).
Calls that read the state itself (S3 ListObjectsV2/GetObject) are not the type's cost and are
left out. Types not measured here are listed from the registry with the read actions they declare.
"""

from __future__ import annotations

import json
import random
import sys
import time
from collections.abc import Callable
from typing import Any

from bench.common import ACCOUNT, REGION, emit

BATCHING = ("aws_security_group", "aws_instance", "aws_db_instance")
STATE_BUCKET = "bench-scan-states"
TARGET_PER_100 = 5


def _tags(name: str) -> dict[str, Any]:
    return {"tags": {"Name": name}, "tags_all": {"Name": name}}


def make_security_groups(s: Any, n: int) -> list[dict[str, Any]]:
    from bench.estate import security_group

    ec2 = s.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
    out = []
    for i in range(n):
        gid = ec2.create_security_group(GroupName=f"scan-{i}", Description="scan tier", VpcId=vpc)["GroupId"]
        out.append(
            security_group(gid, f"scan-{i}", vpc, [], "scan") | {"description": "scan tier", "egress": []}
        )
    return out


def make_instances(s: Any, n: int) -> list[dict[str, Any]]:
    ec2 = s.client("ec2")
    insts = ec2.run_instances(ImageId="ami-12c6146b", MinCount=n, MaxCount=n, InstanceType="t3.micro")[
        "Instances"
    ]
    return [
        {
            "id": i["InstanceId"],
            "arn": f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/{i['InstanceId']}",
            "ami": "ami-12c6146b",
            "instance_type": "t3.micro",
            "disable_api_termination": False,
            "disable_api_stop": False,
            "source_dest_check": True,
            "ebs_optimized": False,
            "user_data": None,
            "vpc_security_group_ids": [g["GroupId"] for g in i.get("SecurityGroups", [])],
            "metadata_options": [
                {
                    "http_endpoint": "enabled",
                    "http_put_response_hop_limit": 1,
                    "http_tokens": "optional",
                    "instance_metadata_tags": "disabled",
                }
            ],
            **_tags(f"scan-{n}"),
        }
        for i in insts
    ]


def make_db_instances(s: Any, n: int) -> list[dict[str, Any]]:
    rds = s.client("rds")
    out = []
    for i in range(n):
        name = f"scan-db-{i}"
        db = rds.create_db_instance(
            DBInstanceIdentifier=name,
            DBInstanceClass="db.t3.micro",
            Engine="postgres",
            AllocatedStorage=20,
            MasterUsername="app",
            MasterUserPassword="not-a-password",
            BackupRetentionPeriod=7,
        )["DBInstance"]
        out.append(
            {
                "identifier": name,
                "id": db.get("DbiResourceId", name),
                "arn": db["DBInstanceArn"],
                "instance_class": "db.t3.micro",
                "allocated_storage": 20,
                "backup_retention_period": 7,
                "publicly_accessible": False,
                "deletion_protection": False,
                "multi_az": False,
                "storage_type": "gp2",
                "max_allocated_storage": 0,
                **_tags(name),
            }
        )
    return out


def make_vpcs(s: Any, n: int) -> list[dict[str, Any]]:
    ec2 = s.client("ec2")
    out = []
    for i in range(n):
        vid = ec2.create_vpc(CidrBlock=f"10.{100 + i}.0.0/16")["Vpc"]["VpcId"]
        out.append(
            {
                "id": vid,
                "arn": f"arn:aws:ec2:{REGION}:{ACCOUNT}:vpc/{vid}",
                "cidr_block": f"10.{100 + i}.0.0/16",
                "enable_dns_support": True,
                "enable_dns_hostnames": False,
                "instance_tenancy": "default",
                **_tags(f"scan-vpc-{i}"),
            }
        )
    return out


def make_subnets(s: Any, n: int) -> list[dict[str, Any]]:
    ec2 = s.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.50.0.0/16")["Vpc"]["VpcId"]
    out = []
    for i in range(n):
        sid = ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.50.{i}.0/24")["Subnet"]["SubnetId"]
        out.append(
            {
                "id": sid,
                "arn": f"arn:aws:ec2:{REGION}:{ACCOUNT}:subnet/{sid}",
                "vpc_id": vpc,
                "cidr_block": f"10.50.{i}.0/24",
                "map_public_ip_on_launch": False,
                **_tags(f"scan-subnet-{i}"),
            }
        )
    return out


def make_buckets(s: Any, n: int) -> list[dict[str, Any]]:
    from bench.estate import _bucket

    s3 = s.client("s3")
    out = []
    for i in range(n):
        name = f"scan-bucket-{i}"
        s3.create_bucket(Bucket=name)
        attrs = _bucket(random.Random(i), i, "scan")
        out.append(attrs | {"bucket": name, "id": name, "arn": f"arn:aws:s3:::{name}"})
    return out


def make_roles(s: Any, n: int) -> list[dict[str, Any]]:
    from bench.estate import _role

    iam = s.client("iam")
    out = []
    for i in range(n):
        attrs = _role(random.Random(i), i, "scan")
        iam.create_role(RoleName=attrs["name"], AssumeRolePolicyDocument=attrs["assume_role_policy"])
        iam.put_role_policy(
            RoleName=attrs["name"], PolicyName="app", PolicyDocument=attrs["inline_policy"][0]["policy"]
        )
        out.append(attrs | {"managed_policy_arns": []})
    return out


def make_queues(s: Any, n: int) -> list[dict[str, Any]]:
    sqs = s.client("sqs")
    out = []
    for i in range(n):
        url = sqs.create_queue(QueueName=f"scan-q-{i}")["QueueUrl"]
        out.append(
            {
                "id": url,
                "url": url,
                "name": f"scan-q-{i}",
                "arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:scan-q-{i}",
                "visibility_timeout_seconds": 30,
                "message_retention_seconds": 345600,
                "delay_seconds": 0,
                "fifo_queue": False,
                "sqs_managed_sse_enabled": True,
                "policy": "",
                **_tags(f"scan-q-{i}"),
            }
        )
    return out


def make_topics(s: Any, n: int) -> list[dict[str, Any]]:
    sns = s.client("sns")
    out = []
    for i in range(n):
        arn = sns.create_topic(Name=f"scan-t-{i}")["TopicArn"]
        out.append(
            {
                "id": arn,
                "arn": arn,
                "name": f"scan-t-{i}",
                "display_name": "",
                "fifo_topic": False,
                "kms_master_key_id": "",
                **_tags(f"scan-t-{i}"),
            }
        )
    return out


def make_tables(s: Any, n: int) -> list[dict[str, Any]]:
    ddb = s.client("dynamodb")
    out = []
    for i in range(n):
        name = f"scan-table-{i}"
        ddb.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        out.append(
            {
                "id": name,
                "name": name,
                "arn": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}",
                "billing_mode": "PAY_PER_REQUEST",
                "hash_key": "id",
                "deletion_protection_enabled": False,
                "point_in_time_recovery": [{"enabled": False}],
                **_tags(name),
            }
        )
    return out


def make_log_groups(s: Any, n: int) -> list[dict[str, Any]]:
    logs = s.client("logs")
    out = []
    for i in range(n):
        name = f"/scan/app-{i}"
        logs.create_log_group(logGroupName=name)
        out.append(
            {
                "id": name,
                "name": name,
                "arn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{name}",
                "retention_in_days": 0,
                "kms_key_id": "",
                **_tags(name),
            }
        )
    return out


def make_keys(s: Any, n: int) -> list[dict[str, Any]]:
    kms = s.client("kms")
    out = []
    for _ in range(n):
        meta = kms.create_key(Description="scan")["KeyMetadata"]
        out.append(
            {
                "id": meta["KeyId"],
                "key_id": meta["KeyId"],
                "arn": meta["Arn"],
                "description": "scan",
                "is_enabled": True,
                "enable_key_rotation": False,
                **_tags("scan-key"),
            }
        )
    return out


MEASURED: dict[str, tuple[Callable[[Any, int], list[dict[str, Any]]], int]] = {
    "aws_security_group": (make_security_groups, 100),
    "aws_instance": (make_instances, 100),
    "aws_db_instance": (make_db_instances, 100),
    "aws_vpc": (make_vpcs, 20),
    "aws_subnet": (make_subnets, 100),
    "aws_s3_bucket": (make_buckets, 20),
    "aws_iam_role": (make_roles, 20),
    "aws_sqs_queue": (make_queues, 20),
    "aws_sns_topic": (make_topics, 20),
    "aws_dynamodb_table": (make_tables, 20),
    "aws_cloudwatch_log_group": (make_log_groups, 20),
    "aws_kms_key": (make_keys, 20),
}
STATE_READS = {"S3:ListObjectsV2", "S3:GetObject"}


def measure() -> dict[str, Any]:
    import boto3

    from chalicelib.aws import ClientFactory
    from chalicelib.models import Status
    from chalicelib.pipeline import Pipeline
    from chalicelib.resources.base import ResourcePlugin
    from chalicelib.resources.registry import default_registry
    from chalicelib.state.index import StateIndex
    from chalicelib.state.locations import parse_locations
    from chalicelib.triggers.scan import scan
    from tests.harness.tfstate import StateBuilder

    session = boto3.session.Session(region_name=REGION)
    session.client("s3").create_bucket(Bucket=STATE_BUCKET)
    registry = default_registry()
    rows: dict[str, Any] = {}
    for tf_type, (make, n) in MEASURED.items():
        started = time.perf_counter()
        try:
            state = StateBuilder()
            for i, attrs in enumerate(make(session, n)):
                state.add(tf_type, "r", attrs, index_key=i)
            session.client("s3").put_object(
                Bucket=STATE_BUCKET, Key=f"{tf_type}.tfstate", Body=json.dumps(state.doc()).encode()
            )
            factory = ClientFactory(default_region=REGION)
            index = StateIndex(
                registry,
                parse_locations(f"s3://{STATE_BUCKET}/{tf_type}.tfstate"),
                s3=lambda f=factory: f.client("s3"),
            )
            findings = scan(Pipeline(registry, index, factory.context))
            calls = {op: c for op, c in sorted(factory.calls.items()) if op not in STATE_READS}
            total = sum(calls.values())
            statuses: dict[str, int] = {}
            for f in findings:
                statuses[f.status.value] = statuses.get(f.status.value, 0) + 1
            rows[tf_type] = {
                "objects": n,
                "judged": len(findings),
                "calls": calls,
                "total": total,
                "per_100": total * 100 / n,
                "statuses": statuses,
                "errors": [f.reason for f in findings if f.status is Status.ERROR][:2],
                "seconds": time.perf_counter() - started,
            }
        except Exception as exc:  # report it: a bench must not hide a type it could not measure
            rows[tf_type] = {"objects": n, "failed": f"{type(exc).__name__}: {exc}"}
    others = {}
    for plugin in registry:
        if plugin.owner and plugin.type not in MEASURED:
            batched = type(plugin).read_live_many is not ResourcePlugin.read_live_many
            others[plugin.type] = {"read_actions": list(plugin.read_permissions), "batched": batched}
    return {"measured": rows, "others": others, "target_per_100": TARGET_PER_100, "batching": list(BATCHING)}


if __name__ == "__main__":
    emit(measure())
    sys.exit(0)
