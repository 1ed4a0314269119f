"""Realistic Terraform estates of any size (v4 states, the AWS provider's attribute names).

A mix per 100 managed resources, the way platform teams' states look: 30 security groups with
rules (and 5 separate ingress-rule resources), 25 S3 buckets (v5 schema, encryption, versioning),
20 IAM roles with trust and inline policies (and 10 policy attachments), 5 VPCs, 5 subnets.
States hold at most ``PER_STATE`` resources, under modules with ``for_each`` keys; every fifth
state is a workspace copy (``env:/<ws>/...``), as the S3 backend stores them.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from typing import Any

from bench.common import ACCOUNT, REGION

PER_STATE = 400
PROVIDER = 'provider["registry.terraform.io/hashicorp/aws"]'
MIX = (
    ("aws_security_group", 30),
    ("aws_vpc_security_group_ingress_rule", 5),
    ("aws_s3_bucket", 25),
    ("aws_iam_role", 20),
    ("aws_iam_role_policy_attachment", 10),
    ("aws_vpc", 5),
    ("aws_subnet", 5),
)


def _hex(rng: random.Random, n: int = 17) -> str:
    return "".join(rng.choice("0123456789abcdef") for _ in range(n))


def sg_rule(protocol: str, port: int, cidrs: list[str], description: str = "") -> dict[str, Any]:
    return {
        "cidr_blocks": cidrs,
        "description": description,
        "from_port": port,
        "ipv6_cidr_blocks": [],
        "prefix_list_ids": [],
        "protocol": protocol,
        "security_groups": [],
        "self": False,
        "to_port": port,
    }


def security_group(gid: str, name: str, vpc: str, ingress: list[dict[str, Any]], team: str) -> dict[str, Any]:
    return {
        "arn": f"arn:aws:ec2:{REGION}:{ACCOUNT}:security-group/{gid}",
        "description": f"{name} tier",
        "egress": [{**sg_rule("-1", 0, ["0.0.0.0/0"]), "to_port": 0}],
        "id": gid,
        "ingress": ingress,
        "name": name,
        "name_prefix": "",
        "owner_id": ACCOUNT,
        "revoke_rules_on_delete": False,
        "tags": {"Name": name, "team": team},
        "tags_all": {"Name": name, "team": team, "managed-by": "terraform"},
        "timeouts": None,
        "vpc_id": vpc,
    }


def _security_group(rng: random.Random, i: int, team: str) -> dict[str, Any]:
    gid = f"sg-{_hex(rng)}"
    ports = rng.sample([22, 80, 443, 3306, 5432, 6379, 8080, 8443, 9090, 9200], rng.randint(2, 5))
    ingress = [sg_rule("tcp", p, [f"10.{rng.randint(0, 255)}.0.0/16"], f"{team} service {p}") for p in ports]
    return security_group(gid, f"{team}-sg-{i}", f"vpc-{_hex(rng)}", ingress, team)


def _ingress_rule(rng: random.Random, i: int, team: str) -> dict[str, Any]:
    rid = f"sgr-{_hex(rng)}"
    return {
        "arn": f"arn:aws:ec2:{REGION}:{ACCOUNT}:security-group-rule/{rid}",
        "cidr_ipv4": "10.0.0.0/8",
        "cidr_ipv6": None,
        "description": f"{team} rule {i}",
        "from_port": 443,
        "id": rid,
        "ip_protocol": "tcp",
        "prefix_list_id": None,
        "referenced_security_group_id": None,
        "security_group_id": f"sg-{_hex(rng)}",
        "security_group_rule_id": rid,
        "tags": None,
        "tags_all": {"managed-by": "terraform"},
        "to_port": 443,
    }


def _bucket(rng: random.Random, i: int, team: str) -> dict[str, Any]:
    name = f"{team}-{_hex(rng, 8)}-data-{i}"
    return {
        "acceleration_status": "",
        "acl": None,
        "arn": f"arn:aws:s3:::{name}",
        "bucket": name,
        "bucket_domain_name": f"{name}.s3.amazonaws.com",
        "bucket_prefix": "",
        "bucket_regional_domain_name": f"{name}.s3.{REGION}.amazonaws.com",
        "cors_rule": [],
        "force_destroy": False,
        "grant": [{"id": _hex(rng, 64), "permissions": ["FULL_CONTROL"], "type": "CanonicalUser", "uri": ""}],
        "hosted_zone_id": "Z3AQBSTGFYJSTF",
        "id": name,
        "lifecycle_rule": [],
        "logging": [],
        "object_lock_configuration": [],
        "object_lock_enabled": False,
        "policy": "",
        "region": REGION,
        "replication_configuration": [],
        "request_payer": "BucketOwner",
        "server_side_encryption_configuration": [
            {
                "rule": [
                    {
                        "apply_server_side_encryption_by_default": [
                            {"kms_master_key_id": "", "sse_algorithm": "AES256"}
                        ],
                        "bucket_key_enabled": False,
                    }
                ]
            }
        ],
        "tags": {"team": team},
        "tags_all": {"team": team, "managed-by": "terraform"},
        "timeouts": None,
        "versioning": [{"enabled": rng.random() < 0.5, "mfa_delete": False}],
        "website": [],
        "website_domain": None,
        "website_endpoint": None,
    }


def _role(rng: random.Random, i: int, team: str) -> dict[str, Any]:
    name = f"{team}-service-{i}"
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "lambda.amazonaws.com"}}
        ],
    }
    inline = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject"],
                "Resource": f"arn:aws:s3:::{team}-*/*",
            },
            {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": "*"},
        ],
    }
    return {
        "arn": f"arn:aws:iam::{ACCOUNT}:role/{name}",
        "assume_role_policy": json.dumps(trust),
        "create_date": "2025-06-01T10:00:00Z",
        "description": f"{team} service role",
        "force_detach_policies": False,
        "id": name,
        "inline_policy": [{"name": "app", "policy": json.dumps(inline)}],
        "managed_policy_arns": ["arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"],
        "max_session_duration": 3600,
        "name": name,
        "name_prefix": "",
        "path": "/",
        "permissions_boundary": "",
        "tags": {"team": team},
        "tags_all": {"team": team, "managed-by": "terraform"},
        "unique_id": f"AROA{_hex(rng, 16).upper()}",
    }


def _attachment(rng: random.Random, i: int, team: str) -> dict[str, Any]:
    role = f"{team}-service-{i}"
    return {
        "id": f"{role}-{_hex(rng, 20)}",
        "policy_arn": "arn:aws:iam::aws:policy/ReadOnlyAccess",
        "role": role,
    }


def _vpc(rng: random.Random, i: int, team: str) -> dict[str, Any]:
    vid = f"vpc-{_hex(rng)}"
    return {
        "arn": f"arn:aws:ec2:{REGION}:{ACCOUNT}:vpc/{vid}",
        "assign_generated_ipv6_cidr_block": False,
        "cidr_block": f"10.{i % 256}.0.0/16",
        "default_network_acl_id": f"acl-{_hex(rng)}",
        "default_route_table_id": f"rtb-{_hex(rng)}",
        "default_security_group_id": f"sg-{_hex(rng)}",
        "dhcp_options_id": f"dopt-{_hex(rng)}",
        "enable_dns_hostnames": True,
        "enable_dns_support": True,
        "enable_network_address_usage_metrics": False,
        "id": vid,
        "instance_tenancy": "default",
        "ipv6_association_id": "",
        "ipv6_cidr_block": "",
        "main_route_table_id": f"rtb-{_hex(rng)}",
        "owner_id": ACCOUNT,
        "tags": {"Name": f"{team}-{i}"},
        "tags_all": {"Name": f"{team}-{i}", "managed-by": "terraform"},
    }


def _subnet(rng: random.Random, i: int, team: str) -> dict[str, Any]:
    sid = f"subnet-{_hex(rng)}"
    return {
        "arn": f"arn:aws:ec2:{REGION}:{ACCOUNT}:subnet/{sid}",
        "assign_ipv6_address_on_creation": False,
        "availability_zone": f"{REGION}a",
        "availability_zone_id": "use1-az1",
        "cidr_block": f"10.{i % 256}.1.0/24",
        "id": sid,
        "map_public_ip_on_launch": False,
        "owner_id": ACCOUNT,
        "tags": {"Name": f"{team}-private-{i}"},
        "tags_all": {"Name": f"{team}-private-{i}", "managed-by": "terraform"},
        "vpc_id": f"vpc-{_hex(rng)}",
    }


MAKERS = {
    "aws_security_group": _security_group,
    "aws_vpc_security_group_ingress_rule": _ingress_rule,
    "aws_s3_bucket": _bucket,
    "aws_iam_role": _role,
    "aws_iam_role_policy_attachment": _attachment,
    "aws_vpc": _vpc,
    "aws_subnet": _subnet,
}


def resources(n: int, seed: int) -> Iterator[tuple[str, dict[str, Any]]]:
    """``n`` (type, attributes) pairs in the MIX proportions."""
    rng = random.Random(seed)
    plan = [t for t, share in MIX for _ in range(share)]
    for i in range(n):
        tf_type = plan[i % len(plan)]
        yield tf_type, MAKERS[tf_type](rng, i, f"team{seed % 50}")


def state_doc(items: list[tuple[str, dict[str, Any]]], serial: int = 1) -> dict[str, Any]:
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for n, (tf_type, attrs) in enumerate(items):
        module = f"module.svc{n // 40}"
        grouped.setdefault((module, tf_type), []).append(
            {"index_key": f"k{n}", "schema_version": 1, "attributes": attrs, "sensitive_attributes": []}
        )
    return {
        "version": 4,
        "terraform_version": "1.9.8",
        "serial": serial,
        "lineage": str(uuid.uuid4()),
        "outputs": {},
        "resources": [
            {
                "mode": "managed",
                "type": t,
                "name": "this",
                "module": m,
                "provider": PROVIDER,
                "instances": insts,
            }
            for (m, t), insts in grouped.items()
        ],
    }


def write_estate(
    s3: Any, bucket: str, prefix: str, n: int, target: tuple[str, dict[str, Any]] | None = None
) -> dict[str, Any]:
    """Write ``n`` managed resources in states of ``PER_STATE`` under ``s3://bucket/prefix``; the
    ``target`` resource goes into the middle state. Returns what was written."""
    states = max(1, -(-n // PER_STATE))
    keys, total, size = [], 0, 0
    for s in range(states):
        count = min(PER_STATE, n - s * PER_STATE)
        items = list(resources(count - (1 if target and s == states // 2 else 0), seed=s))
        if target and s == states // 2:
            items.insert(count // 2, target)
        team = f"team{s}"
        key = f"{prefix}{team}/terraform.tfstate"
        if s % 5 == 4:
            key = f"env:/ws{s}/{key}"  # a workspace of the same configuration
        body = json.dumps(state_doc(items, serial=s + 1), separators=(",", ":")).encode()
        s3.put_object(Bucket=bucket, Key=key, Body=body)
        keys.append(key)
        total += len(items)
        size += len(body)
    return {"states": states, "resources": total, "bytes": size, "keys": keys}
