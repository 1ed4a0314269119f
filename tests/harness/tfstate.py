"""Write Terraform v4 state documents with the AWS provider's real attribute names (dev-only)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

PROVIDER = 'provider["registry.terraform.io/hashicorp/aws"]'


@dataclass
class StateBuilder:
    serial: int = 1
    lineage: str = field(default_factory=lambda: str(uuid.uuid4()))
    resources: list[dict[str, Any]] = field(default_factory=list)

    def add(self, tf_type: str, name: str, attributes: dict[str, Any], *, module: str | None = None,
            index_key: Any = None, sensitive: list[list[dict[str, Any]]] | None = None) -> StateBuilder:
        inst: dict[str, Any] = {"schema_version": 1, "attributes": attributes,
                                "sensitive_attributes": sensitive or []}
        if index_key is not None:
            inst["index_key"] = index_key
        for res in self.resources:
            if res["type"] == tf_type and res["name"] == name and res.get("module") == module:
                res["instances"].append(inst)
                return self
        res = {"mode": "managed", "type": tf_type, "name": name, "provider": PROVIDER, "instances": [inst]}
        if module:
            res["module"] = module
        self.resources.append(res)
        return self

    def doc(self) -> dict[str, Any]:
        return {"version": 4, "terraform_version": "1.9.8", "serial": self.serial, "lineage": self.lineage,
                "outputs": {}, "resources": self.resources}

    def json(self) -> str:
        return json.dumps(self.doc(), indent=1)

    def put(self, s3: Any, bucket: str, key: str) -> None:
        s3.put_object(Bucket=bucket, Key=key, Body=self.json().encode())


def sg_rule_block(protocol: str, from_port: int, to_port: int, cidrs: list[str] | None = None,
                  description: str = "", security_groups: list[str] | None = None,
                  self_: bool = False) -> dict[str, Any]:
    return {"cidr_blocks": cidrs or [], "description": description, "from_port": from_port,
            "ipv6_cidr_blocks": [], "prefix_list_ids": [], "protocol": protocol,
            "security_groups": security_groups or [], "self": self_, "to_port": to_port}


def sg_attributes(group: dict[str, Any], *, ingress: list[dict[str, Any]], egress: list[dict[str, Any]],
                  tags: dict[str, str] | None = None, default_tags: dict[str, str] | None = None,
                  account: str = "123456789012", region: str = "us-east-1") -> dict[str, Any]:
    gid = group["GroupId"]
    return {
        "arn": f"arn:aws:ec2:{region}:{account}:security-group/{gid}",
        "description": group.get("Description", "Managed by Terraform"),
        "egress": egress,
        "id": gid,
        "ingress": ingress,
        "name": group["GroupName"],
        "name_prefix": "",
        "owner_id": account,
        "revoke_rules_on_delete": False,
        "tags": tags,
        "tags_all": {**(default_tags or {}), **(tags or {})},
        "timeouts": None,
        "vpc_id": group.get("VpcId"),
    }
