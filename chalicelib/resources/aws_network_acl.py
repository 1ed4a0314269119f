"""aws_network_acl: the owner of the network ACL object; entries compared as a set keyed by rule.

An entry is identified by (direction, rule number), as AWS identifies it: the same number with other
content is one *changed* entry (reverted with ``ReplaceNetworkAclEntry``), a number only one side
has is an added or removed entry. The declared side is the union of inline ``ingress``/``egress`` and
every ``aws_network_acl_rule`` naming the ACL. The catch-all deny entries AWS adds to every ACL
(rule 32767, and 32768 for IPv6) are AWS-managed and never drift; the provider hides them too.
Protocols are compared as AWS numbers (``tcp`` == ``6``); ports only where the protocol has ports,
ICMP type/code only for ICMP.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.drift.normalize import WORLD_CIDRS, tags_from_state
from chalicelib.models import ApiCall, Change, Severity
from chalicelib.resources.base import (
    Declared,
    EventKind,
    EventSpec,
    Gone,
    LiveContext,
    ManagedResource,
    ResourcePlugin,
)
from chalicelib.resources.ec2_common import (
    EC2,
    TAG_REVERT_PERMISSIONS,
    describe_by_filter,
    executor_allows,
    live_tags,
    tag_calls,
    tag_changes,
    tag_events,
)
from chalicelib.resources.registry import register

KIND = "ec2:network-acl"
_ACL_ID = "requestParameters.networkAclId"
ENTRY_EVENTS: tuple[EventSpec, ...] = (
    EventSpec(EC2, "CreateNetworkAclEntry", _ACL_ID),
    EventSpec(EC2, "ReplaceNetworkAclEntry", _ACL_ID),
    EventSpec(EC2, "DeleteNetworkAclEntry", _ACL_ID),
)
DIRECTIONS = ("ingress", "egress")
ENTRY_DELETE = "DeleteNetworkAclEntry"  # removes one entry, never the ACL
DEFAULT_RULES = frozenset({32767, 32768})
WORLD = WORLD_CIDRS
_PROTOCOL_NUMBERS = {"all": "-1", "tcp": "6", "udp": "17", "icmp": "1", "icmpv6": "58"}
_PORTED = frozenset({"6", "17"})
_ICMP = frozenset({"1", "58"})

Entry = dict[str, Any]


def protocol_number(value: Any) -> str:
    text = str(value if value not in (None, "") else "-1").lower()
    return _PROTOCOL_NUMBERS.get(text, text)


def entry(rule_no: Any, action: Any, protocol: Any, cidr: Any, ipv6: Any, from_port: Any, to_port: Any,
          icmp_type: Any, icmp_code: Any) -> Entry:
    """One ACL entry in the provider's vocabulary, with the fields the protocol does not use dropped."""
    proto = protocol_number(protocol)
    out: Entry = {"rule_no": int(rule_no), "action": str(action or "").lower(), "protocol": proto}
    if cidr:
        out["cidr_block"] = str(cidr)
    if ipv6:
        out["ipv6_cidr_block"] = str(ipv6)
    if proto in _PORTED:
        out["from_port"], out["to_port"] = int(from_port or 0), int(to_port or 0)
    if proto in _ICMP:
        out["icmp_type"] = int(icmp_type if icmp_type not in (None, "") else -1)
        out["icmp_code"] = int(icmp_code if icmp_code not in (None, "") else -1)
    return out


def state_block_entry(block: Mapping[str, Any]) -> Entry:
    """An inline ``ingress``/``egress`` block of ``aws_network_acl``."""
    return entry(block.get("rule_no"), block.get("action"), block.get("protocol"), block.get("cidr_block"),
                 block.get("ipv6_cidr_block"), block.get("from_port"), block.get("to_port"),
                 block.get("icmp_type"), block.get("icmp_code"))


def api_entry(e: Mapping[str, Any]) -> Entry:
    """A ``DescribeNetworkAcls`` entry."""
    ports = e.get("PortRange") or {}
    icmp = e.get("IcmpTypeCode") or {}
    return entry(e.get("RuleNumber"), e.get("RuleAction"), e.get("Protocol"), e.get("CidrBlock"),
                 e.get("Ipv6CidrBlock"), ports.get("From"), ports.get("To"),
                 icmp.get("Type"), icmp.get("Code"))


def add_entry(declared: Declared, direction: str, item: Entry) -> None:
    declared.model.setdefault(direction, {})[item["rule_no"]] = item


def entry_params(acl_id: str, direction: str, item: Entry) -> dict[str, Any]:
    """An entry as ``Create``/``ReplaceNetworkAclEntry`` parameters."""
    params: dict[str, Any] = {"NetworkAclId": acl_id, "RuleNumber": item["rule_no"],
                              "Egress": direction == "egress", "Protocol": item["protocol"],
                              "RuleAction": item["action"]}
    if item.get("cidr_block"):
        params["CidrBlock"] = item["cidr_block"]
    if item.get("ipv6_cidr_block"):
        params["Ipv6CidrBlock"] = item["ipv6_cidr_block"]
    if "from_port" in item:
        params["PortRange"] = {"From": item["from_port"], "To": item["to_port"]}
    if "icmp_type" in item:
        params["IcmpTypeCode"] = {"Type": item["icmp_type"], "Code": item["icmp_code"]}
    return params


def describe_entry(direction: str, item: Entry) -> str:
    """``ingress #100 allow all traffic from 0.0.0.0/0``: one entry in a line."""
    peer = item.get("cidr_block") or item.get("ipv6_cidr_block") or "?"
    proto = item["protocol"]
    if proto == "-1":
        what = "all traffic"
    elif "from_port" in item:
        name = {"6": "tcp", "17": "udp"}[proto]
        lo, hi = item["from_port"], item["to_port"]
        what = f"{name} {lo}" if lo == hi else f"{name} {lo}-{hi}"
    else:
        what = f"protocol {proto}"
    side = "from" if direction == "ingress" else "to"
    return f"{direction} #{item['rule_no']} {item['action']} {what} {side} {peer}"


def _opens_world(item: Entry) -> bool:
    peers = {item.get("cidr_block"), item.get("ipv6_cidr_block")}
    return item.get("action") == "allow" and bool(peers & WORLD)


def _exposure(item: Entry) -> int:
    """0: not open to the world; 1: some ports open to the world; 2: all traffic from the world."""
    if not _opens_world(item):
        return 0
    return 2 if item["protocol"] == "-1" else 1


@register
class AwsNetworkAcl(ResourcePlugin):
    type = "aws_network_acl"
    service = "ec2"
    object_kind = KIND
    events = (
        *ENTRY_EVENTS,
        *tag_events("acl-"),
        EventSpec(EC2, "CreateNetworkAcl", "responseElements.networkAcl.networkAclId", EventKind.CREATE),
        EventSpec(EC2, "DeleteNetworkAcl", _ACL_ID, EventKind.DELETE),
    )
    compared = {"ingress": Severity.HIGH, "egress": Severity.MEDIUM, "tags": Severity.LOW}
    read_permissions = ("ec2:DescribeNetworkAcls",)
    revert_permissions = ("ec2:CreateNetworkAclEntry", "ec2:ReplaceNetworkAclEntry", *TAG_REVERT_PERMISSIONS,
                          *(("ec2:" + ENTRY_DELETE,) if executor_allows(ENTRY_DELETE) else ()))
    gone_codes = frozenset({"InvalidNetworkAclID.NotFound"})

    def declare(self, resource: ManagedResource, declared: Declared) -> None:
        a = resource.attributes
        for direction in DIRECTIONS:
            declared.model.setdefault(direction, {})
            for block in a.get(direction) or []:
                add_entry(declared, direction, state_block_entry(block))
        declared.model["tags"] = tags_from_state(a)

    def read_live(self, ctx: LiveContext, object_id: str) -> dict[str, Any] | None:
        try:
            acls = self.call(ctx, "describe_network_acls", NetworkAclIds=[object_id])["NetworkAcls"]
        except Gone:
            return None
        return self.live_model(acls[0]) if acls else None

    def read_live_many(self, ctx: LiveContext, object_ids: list[str]) -> dict[str, dict[str, Any] | None]:
        found = describe_by_filter(self, ctx, "describe_network_acls", "network-acl-id", "NetworkAcls",
                                   "NetworkAclId", object_ids)
        return {oid: self.live_model(found[oid]) if oid in found else None for oid in object_ids}

    @staticmethod
    def live_model(acl: Mapping[str, Any]) -> dict[str, Any]:
        model: dict[str, Any] = {"ingress": {}, "egress": {}}
        for e in acl.get("Entries") or []:
            if int(e.get("RuleNumber", 0)) in DEFAULT_RULES:
                continue  # AWS's catch-all deny: not declared, not drift
            item = api_entry(e)
            model["egress" if e.get("Egress") else "ingress"][item["rule_no"]] = item
        model["tags"] = live_tags(acl.get("Tags"))
        return model

    def diff(self, declared: Declared, live: Mapping[str, Any]) -> list[Change]:
        out: list[Change] = []
        owner_managed = declared.owned_by(self.type)
        for direction in DIRECTIONS:
            want: dict[int, Entry] = declared.model.get(direction, {})
            have: dict[int, Entry] = live.get(direction, {})
            for no in sorted(set(have) - set(want)):
                if owner_managed:  # only the ACL's own resource declares "no other entries"
                    sev, rule = self._added_severity(direction, have[no])
                    if not executor_allows(ENTRY_DELETE):
                        rule += f" (not reverted automatically: the executor does not allow {ENTRY_DELETE})"
                    out.append(Change(direction, None, have[no], sev, rule))
            for no in sorted(set(want) - set(have)):
                deny = want[no]["action"] == "deny"
                out.append(Change(direction, want[no], None, Severity.HIGH if deny else Severity.MEDIUM,
                                  f"nacl-{direction}-{'deny' if deny else 'allow'}-entry-removed"))
            for no in sorted(set(want) & set(have)):
                if want[no] != have[no]:
                    sev, rule = self._changed_severity(direction, want[no], have[no])
                    out.append(Change(direction, want[no], have[no], sev, rule))
        if owner_managed:
            out.extend(tag_changes(declared.model.get("tags", {}), live.get("tags", {})))
        return out

    @staticmethod
    def _added_severity(direction: str, item: Entry) -> tuple[Severity, str]:
        if direction == "ingress" and _opens_world(item):
            if item["protocol"] == "-1":
                return Severity.CRITICAL, "nacl-allow-all-inbound-from-world"
            return Severity.HIGH, "nacl-inbound-open-to-world"
        if item["action"] == "deny":
            return Severity.MEDIUM, f"nacl-{direction}-deny-entry-added"
        sev = Severity.HIGH if direction == "ingress" else Severity.MEDIUM
        return sev, f"nacl-{direction}-allow-entry-added"

    @classmethod
    def _changed_severity(cls, direction: str, want: Entry, have: Entry) -> tuple[Severity, str]:
        if direction == "ingress" and _exposure(have) > _exposure(want):
            return cls._added_severity(direction, have)
        if want["action"] == "deny" and have["action"] == "allow":
            return Severity.HIGH, f"nacl-{direction}-deny-became-allow"
        return Severity.MEDIUM, f"nacl-{direction}-entry-changed"

    def plan_revert(
        self, object_id: str, changes: list[Change], declared: Declared, live: Mapping[str, Any]
    ) -> tuple[ApiCall, ...]:
        calls: list[ApiCall] = []
        for ch in changes:
            if ch.path not in DIRECTIONS:
                continue
            if ch.declared is None:
                if not executor_allows(ENTRY_DELETE):
                    continue  # said in the change's rule
                calls.append(ApiCall("ec2", ENTRY_DELETE,
                                     {"NetworkAclId": object_id, "RuleNumber": ch.live["rule_no"],
                                      "Egress": ch.path == "egress"},
                                     f"remove {describe_entry(ch.path, ch.live)} from {object_id}"))
            elif ch.live is None:
                calls.append(ApiCall("ec2", "CreateNetworkAclEntry",
                                     entry_params(object_id, ch.path, ch.declared),
                                     f"restore {describe_entry(ch.path, ch.declared)} on {object_id}"))
            else:
                calls.append(ApiCall("ec2", "ReplaceNetworkAclEntry",
                                     entry_params(object_id, ch.path, ch.declared),
                                     f"restore {describe_entry(ch.path, ch.declared)} on {object_id} (was "
                                     f"{describe_entry(ch.path, ch.live)})"))
        calls.extend(tag_calls(object_id, changes))
        return tuple(calls)
