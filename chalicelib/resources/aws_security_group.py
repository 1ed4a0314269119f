"""aws_security_group: the owner of the EC2 security-group object.

Rules are compared as sets of *atoms*: one protocol/port range/peer each, the shape AWS itself
stores (one CIDR per rule). The declared side is the union of inline ``ingress``/``egress`` and
every ``aws_security_group_rule`` / ``aws_vpc_security_group_*_rule`` naming the group, so a rule
declared in a separate resource is never drift. The AWS-added default egress (all traffic to
0.0.0.0/0, ::/0) is not drift when nothing declares egress that way and the group's ``.tf`` block does
not set ``egress`` (Terraform would not report it then); when the source shows ``egress`` blocks (or
``egress = []``), it is drift like any other undeclared rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from chalicelib.drift.normalize import WORLD_CIDRS, tags_from_aws, tags_from_state
from chalicelib.models import ApiCall, Change, Severity
from chalicelib.resources.base import Declared, EventKind, EventSpec, Gone, LiveContext, ManagedResource, ResourcePlugin
from chalicelib.resources.registry import register

KIND = "ec2:security-group"
EC2 = "ec2.amazonaws.com"
_GID = "requestParameters.groupId || requestParameters.ModifySecurityGroupRulesRequest.GroupId"

SG_RULE_EVENTS: tuple[EventSpec, ...] = (
    EventSpec(EC2, "AuthorizeSecurityGroupIngress", _GID),
    EventSpec(EC2, "AuthorizeSecurityGroupEgress", _GID),
    EventSpec(EC2, "RevokeSecurityGroupIngress", _GID),
    EventSpec(EC2, "RevokeSecurityGroupEgress", _GID),
    EventSpec(EC2, "ModifySecurityGroupRules", _GID),
    EventSpec(EC2, "UpdateSecurityGroupRuleDescriptionsIngress", _GID),
    EventSpec(EC2, "UpdateSecurityGroupRuleDescriptionsEgress", _GID),
)

_PROTOCOLS = {"6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6", "all": "-1"}
WORLD = WORLD_CIDRS
DIRECTIONS = ("ingress", "egress")

# An atom key: (protocol, from_port, to_port, peer_type, peer). Value: description.
RuleKey = tuple[str, int, int, str, str]


def protocol(value: Any) -> str:
    text = str(value if value is not None else "-1").lower()
    return _PROTOCOLS.get(text, text)


def ports(proto: str, from_port: Any, to_port: Any) -> tuple[int, int]:
    if proto == "-1":
        return 0, 0
    return int(from_port if from_port is not None else -1), int(to_port if to_port is not None else -1)


def rule_keys(
    proto: Any, from_port: Any, to_port: Any, peers: Iterable[tuple[str, str]]
) -> list[RuleKey]:
    p = protocol(proto)
    lo, hi = ports(p, from_port, to_port)
    return [(p, lo, hi, peer_type, peer) for peer_type, peer in peers]


def key_to_rule(key: RuleKey, description: str) -> dict[str, Any]:
    """An atom in the provider's vocabulary, for findings and Slack."""
    p, lo, hi, peer_type, peer = key
    rule: dict[str, Any] = {"protocol": p, "from_port": lo, "to_port": hi}
    field = {"cidr": "cidr_blocks", "ipv6": "ipv6_cidr_blocks", "prefix_list": "prefix_list_ids",
             "sg": "security_groups"}[peer_type]
    rule[field] = [peer]
    rule["description"] = description
    return rule


def key_to_permission(key: RuleKey, description: str | None) -> dict[str, Any]:
    """An atom as one boto3 ``IpPermissions`` entry."""
    p, lo, hi, peer_type, peer = key
    perm: dict[str, Any] = {"IpProtocol": p}
    if p != "-1":
        perm["FromPort"], perm["ToPort"] = lo, hi
    desc = {"Description": description} if description else {}
    if peer_type == "cidr":
        perm["IpRanges"] = [{"CidrIp": peer, **desc}]
    elif peer_type == "ipv6":
        perm["Ipv6Ranges"] = [{"CidrIpv6": peer, **desc}]
    elif peer_type == "prefix_list":
        perm["PrefixListIds"] = [{"PrefixListId": peer, **desc}]
    else:
        user, _, gid = peer.rpartition("/")
        pair = {"GroupId": gid, **desc}
        if user:
            pair["UserId"] = user
        perm["UserIdGroupPairs"] = [pair]
    return perm


def state_block_peers(block: Mapping[str, Any], group_id: str) -> list[tuple[str, str]]:
    peers = [("cidr", c) for c in block.get("cidr_blocks") or []]
    peers += [("ipv6", c) for c in block.get("ipv6_cidr_blocks") or []]
    peers += [("prefix_list", c) for c in block.get("prefix_list_ids") or []]
    peers += [("sg", c) for c in block.get("security_groups") or []]
    if block.get("self"):
        peers.append(("sg", group_id))
    return peers


def add_rules(declared: Declared, direction: str, keys: list[RuleKey], description: Any) -> None:
    rules = declared.model.setdefault(direction, {})
    for key in keys:
        rules[key] = description or ""


def permission_keys(perm: Mapping[str, Any]) -> list[tuple[RuleKey, str]]:
    """A boto3 ``IpPermissions`` entry as atoms with their descriptions."""
    p = protocol(perm.get("IpProtocol"))
    lo, hi = ports(p, perm.get("FromPort"), perm.get("ToPort"))
    out: list[tuple[RuleKey, str]] = []
    for r in perm.get("IpRanges") or []:
        out.append(((p, lo, hi, "cidr", r["CidrIp"]), r.get("Description") or ""))
    for r in perm.get("Ipv6Ranges") or []:
        out.append(((p, lo, hi, "ipv6", r["CidrIpv6"]), r.get("Description") or ""))
    for r in perm.get("PrefixListIds") or []:
        out.append(((p, lo, hi, "prefix_list", r["PrefixListId"]), r.get("Description") or ""))
    for r in perm.get("UserIdGroupPairs") or []:
        out.append(((p, lo, hi, "sg", r["GroupId"]), r.get("Description") or ""))
    return out


def _is_default_egress(key: RuleKey) -> bool:
    return key[0] == "-1" and key[3] in ("cidr", "ipv6") and key[4] in WORLD


@register
class AwsSecurityGroup(ResourcePlugin):
    type = "aws_security_group"
    service = "ec2"
    object_kind = KIND
    events = (
        *SG_RULE_EVENTS,
        EventSpec(EC2, "CreateTags", "requestParameters.resourcesSet.items[].resourceId", id_prefix="sg-"),
        EventSpec(EC2, "DeleteTags", "requestParameters.resourcesSet.items[].resourceId", id_prefix="sg-"),
        EventSpec(EC2, "CreateSecurityGroup", "responseElements.groupId", EventKind.CREATE),
        EventSpec(EC2, "DeleteSecurityGroup", "requestParameters.groupId", EventKind.DELETE),
    )
    compared = {"ingress": Severity.HIGH, "egress": Severity.MEDIUM, "tags": Severity.LOW}
    read_permissions = ("ec2:DescribeSecurityGroups",)
    revert_permissions = (
        "ec2:AuthorizeSecurityGroupIngress",
        "ec2:AuthorizeSecurityGroupEgress",
        "ec2:RevokeSecurityGroupIngress",
        "ec2:RevokeSecurityGroupEgress",
        "ec2:UpdateSecurityGroupRuleDescriptionsIngress",
        "ec2:UpdateSecurityGroupRuleDescriptionsEgress",
        "ec2:CreateTags",
        "ec2:DeleteTags",
    )
    gone_codes = frozenset({"InvalidGroup.NotFound"})

    def declare(self, resource: ManagedResource, declared: Declared) -> None:
        attrs = resource.attributes
        gid = str(attrs.get("id"))
        for direction in DIRECTIONS:
            declared.model.setdefault(direction, {})
            for block in attrs.get(direction) or []:
                keys = rule_keys(block.get("protocol"), block.get("from_port"), block.get("to_port"),
                                 state_block_peers(block, gid))
                add_rules(declared, direction, keys, block.get("description"))
        declared.model["tags"] = tags_from_state(attrs)

    def read_live(self, ctx: LiveContext, object_id: str) -> dict[str, Any] | None:
        try:
            groups = self.call(ctx, "describe_security_groups", GroupIds=[object_id])["SecurityGroups"]
        except Gone:
            return None
        if not groups:
            return None
        return self.live_model(groups[0])

    def read_live_many(self, ctx: LiveContext, object_ids: list[str]) -> dict[str, dict[str, Any] | None]:
        """One paginated DescribeSecurityGroups per 200 ids (a group-id filter tolerates missing ids)."""
        out: dict[str, dict[str, Any] | None] = dict.fromkeys(object_ids)
        for start in range(0, len(object_ids), 200):
            chunk = object_ids[start:start + 200]
            token: str | None = None
            while True:
                kwargs: dict[str, Any] = {"Filters": [{"Name": "group-id", "Values": chunk}], "MaxResults": 1000}
                if token:
                    kwargs["NextToken"] = token
                resp = self.call(ctx, "describe_security_groups", **kwargs)
                for group in resp.get("SecurityGroups", []):
                    out[group["GroupId"]] = self.live_model(group)
                token = resp.get("NextToken")
                if not token:
                    break
        return out

    @staticmethod
    def live_model(group: Mapping[str, Any]) -> dict[str, Any]:
        model: dict[str, Any] = {}
        for direction, field in (("ingress", "IpPermissions"), ("egress", "IpPermissionsEgress")):
            rules: dict[RuleKey, str] = {}
            for perm in group.get(field) or []:
                for key, desc in permission_keys(perm):
                    rules[key] = desc
            model[direction] = rules
        model["tags"] = {k: v for k, v in tags_from_aws(group.get("Tags")).items() if not k.startswith("aws:")}
        return model

    def diff(self, declared: Declared, live: Mapping[str, Any]) -> list[Change]:
        out: list[Change] = []
        owner_managed = declared.owned_by(self.type)
        owner_address = declared.primary(self.type).address
        egress_configured = bool(owner_managed and declared.configures(owner_address, "egress"))
        for direction in DIRECTIONS:
            want: dict[RuleKey, str] = declared.model.get(direction, {})
            have: dict[RuleKey, str] = dict(live.get(direction, {}))
            if direction == "egress" and not egress_configured and not any(_is_default_egress(k) for k in want):
                for key in [k for k in have if _is_default_egress(k)]:
                    del have[key]
            for key in sorted(set(have) - set(want)):
                if not owner_managed:
                    continue  # only the group's owner resource declares "no other rules"
                sev, rule = self._added_severity(direction, key)
                out.append(Change(direction, None, key_to_rule(key, have[key]), sev, rule))
            for key in sorted(set(want) - set(have)):
                out.append(Change(direction, key_to_rule(key, want[key]), None, Severity.MEDIUM,
                                  f"{direction}-rule-removed"))
            for key in sorted(set(want) & set(have)):
                if want[key] != have[key]:
                    out.append(Change(direction, key_to_rule(key, want[key]), key_to_rule(key, have[key]),
                                      Severity.LOW, f"{direction}-rule-description-changed"))
        if "tags" in declared.model and owner_managed:
            want_tags, have_tags = declared.model["tags"], live.get("tags", {})
            for k in sorted(set(want_tags) | set(have_tags)):
                if want_tags.get(k) != have_tags.get(k):
                    out.append(Change(f"tags.{k}", want_tags.get(k), have_tags.get(k), Severity.LOW, "tags-changed"))
        return out

    @staticmethod
    def _added_severity(direction: str, key: RuleKey) -> tuple[Severity, str]:
        if direction == "ingress" and key[4] in WORLD:
            return Severity.CRITICAL, "ingress-open-to-world"
        if direction == "ingress":
            return Severity.HIGH, "ingress-rule-added"
        return Severity.MEDIUM, "egress-rule-added"

    def plan_revert(
        self, object_id: str, changes: list[Change], declared: Declared, live: Mapping[str, Any]
    ) -> tuple[ApiCall, ...]:
        calls: list[ApiCall] = []
        for ch in changes:
            if ch.path in DIRECTIONS:
                suffix = "Ingress" if ch.path == "ingress" else "Egress"
                rule = ch.live if ch.declared is None else ch.declared
                key = _rule_to_key(rule)
                if ch.declared is None:
                    op, desc, verb = f"RevokeSecurityGroup{suffix}", None, "revoke"
                elif ch.live is None:
                    op, desc, verb = f"AuthorizeSecurityGroup{suffix}", ch.declared["description"], "authorize"
                else:
                    op, desc = f"UpdateSecurityGroupRuleDescriptions{suffix}", ch.declared["description"]
                    verb = "restore description of"
                calls.append(ApiCall("ec2", op, {"GroupId": object_id, "IpPermissions": [key_to_permission(key, desc)]},
                                     f"{verb} {ch.path} {describe_rule(rule)} on {object_id}"))
            elif ch.path.startswith("tags."):
                tag = ch.path.split(".", 1)[1]
                if ch.declared is None:
                    calls.append(ApiCall("ec2", "DeleteTags", {"Resources": [object_id], "Tags": [{"Key": tag}]},
                                         f"remove tag {tag} from {object_id}"))
                else:
                    calls.append(ApiCall("ec2", "CreateTags",
                                         {"Resources": [object_id], "Tags": [{"Key": tag, "Value": ch.declared}]},
                                         f"set tag {tag}={ch.declared} on {object_id}"))
        return tuple(calls)


def _rule_to_key(rule: Mapping[str, Any]) -> RuleKey:
    for field, peer_type in (("cidr_blocks", "cidr"), ("ipv6_cidr_blocks", "ipv6"),
                             ("prefix_list_ids", "prefix_list"), ("security_groups", "sg")):
        if rule.get(field):
            return (rule["protocol"], rule["from_port"], rule["to_port"], peer_type, rule[field][0])
    raise ValueError(f"rule without peer: {rule}")


def describe_rule(rule: Mapping[str, Any]) -> str:
    """``tcp 22 from 0.0.0.0/0``: one rule atom in a line."""
    key = _rule_to_key(rule)
    p, lo, hi, _, peer = key
    port = "all ports" if p == "-1" else (str(lo) if lo == hi else f"{lo}-{hi}")
    proto = "all traffic" if p == "-1" else p
    return f"{proto} {port} {peer}".replace("all traffic all ports", "all traffic")
