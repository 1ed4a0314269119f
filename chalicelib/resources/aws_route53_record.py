"""aws_route53_record: one record set, keyed like the provider's own state id.

Key: ``<ZONEID>_<name>_<TYPE>[_<set_identifier>]`` with the name lower-cased, without its trailing
dot and with Route 53's octal escapes decoded (``\\052`` → ``*``). The state side builds it from
``zone_id``/``fqdn``/``type``/``set_identifier`` (so terraformer-style ids such as
``Z1_www.example.com._A_`` index the same way); the event side builds it from each change of
``requestParameters.changeBatch.changes``. Every change of a batch is its own reference, judged on
its own: ``UPSERT`` compares, ``CREATE`` of an undeclared record is unmanaged, ``DELETE`` of a
managed record is deleted.

Compared: the answer (``records`` as a set, or ``alias``), ``ttl``, routing-policy settings that
are declared, ``health_check_id``. A record is declared either with records or with an alias, and
the other form declared absent, so turning one into the other is drift. TXT/SPF values are compared
without their outer quotes (the provider stores them unquoted).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from chalicelib.drift.diff import RawChange
from chalicelib.drift.normalize import decode_atom
from chalicelib.errors import LiveReadError
from chalicelib.models import ApiCall, Change, Severity
from chalicelib.resources.app_common import (
    MISSING,
    Derive,
    as_int,
    derived,
    first_block,
    flat,
    request,
    str_set,
    text,
)
from chalicelib.resources.aws_route53_zone import R53, zone_id
from chalicelib.resources.base import Declared, EventKind, Gone, LiveContext, ManagedResource, ResourcePlugin
from chalicelib.resources.registry import register

RR_TYPES = frozenset({"A", "AAAA", "CAA", "CNAME", "DS", "HTTPS", "MX", "NAPTR", "NS", "PTR", "SOA", "SPF",
                      "SRV", "SSHFP", "SVCB", "TLSA", "TXT"})
_OCTAL = re.compile(r"\\(\d{3})")
_ANSWER = ("records", "ttl", "alias.name", "alias.zone_id", "alias.evaluate_target_health")
_ROUTING = {  # model path -> ResourceRecordSet field
    "weighted_routing_policy.weight": "Weight",
    "failover_routing_policy.type": "Failover",
    "latency_routing_policy.region": "Region",
    "multivalue_answer_routing_policy": "MultiValueAnswer",
}


def record_name(name: Any) -> str:
    """DNS names compare case-insensitively, with or without the trailing dot; Route 53 returns
    special characters as octal escapes (``\\052.example.com.`` is ``*.example.com``)."""
    return _OCTAL.sub(lambda m: chr(int(m.group(1), 8)), text(name).strip()).lower().rstrip(".")


def record_key(zone: Any, name: Any, rtype: Any, set_id: Any = None) -> str | None:
    z = zone_id(zone)
    n = record_name(name)
    t = text(rtype).strip().upper()
    if not z or not n or not t or MISSING in (n, t):
        return None
    return f"{z}_{n}_{t}" + (f"_{set_id}" if set_id else "")


def parse_record_key(key: str) -> tuple[str, str, str, str | None] | None:
    """``Z1_www.example.com_A_blue`` → (zone, name, type, set id). Names are lower case, so the first
    upper-case record-type token after the zone ends the name (names may contain ``_``)."""
    zone, _, rest = key.partition("_")
    parts = rest.split("_")
    for i in range(1, len(parts)):
        if parts[i] in RR_TYPES:
            name = record_name("_".join(parts[:i]))
            set_id = "_".join(parts[i + 1:]) or None
            return (zone, name, parts[i], set_id) if zone and name else None
    return None


def _get(d: Mapping[str, Any], key: str) -> Any:
    """CloudTrail spells record-set keys inconsistently (``tTL``, ``HostedZoneId``): ignore case."""
    lowered = key.lower()
    return next((v for k, v in d.items() if str(k).lower() == lowered), None)


def change_keys(actions: frozenset[str], report_unresolvable: bool) -> Derive:
    """Record keys of the batch's changes with one of ``actions``. The ``UPSERT`` spec also reports a
    change it cannot key (no zone, name or type: redacted) so the pipeline says so, once."""

    def derive(found: Any, record: Mapping[str, Any]) -> list[str]:
        zone = request(record).get("hostedZoneId")
        changes = [c for c in flat(found) if isinstance(c, Mapping)]
        out: list[str] = []
        unresolvable = not changes
        for change in changes:
            rrset = _get(change, "resourceRecordSet") or {}
            key = record_key(zone, _get(rrset, "name"), _get(rrset, "type"), _get(rrset, "setIdentifier"))
            if key is None:
                unresolvable = True
            elif text(_get(change, "action")).upper() in actions:
                out.append(key)
        if unresolvable and report_unresolvable:
            out.append(MISSING)
        return out

    return derive


def record_value(rtype: str, value: Any) -> str:
    v = text(value)
    if rtype in ("TXT", "SPF") and len(v) >= 2 and v.startswith('"') and v.endswith('"'):
        return v[1:-1]
    return v


def api_value(rtype: str, value: str) -> str:
    return f'"{value}"' if rtype in ("TXT", "SPF") else value


def alias_name(value: Any) -> str | None:
    if not value:
        return None
    name = record_name(value)
    return name[len("dualstack."):] if name.startswith("dualstack.") else name


_CHANGES = "requestParameters.changeBatch.changes"


@register
class AwsRoute53Record(ResourcePlugin):
    type = "aws_route53_record"
    service = "route53"
    object_kind = "route53:record"
    global_service = True
    events = (
        derived(R53, "ChangeResourceRecordSets", _CHANGES, change_keys(frozenset({"UPSERT"}), True),
                note="one reference per UPSERT change"),
        derived(R53, "ChangeResourceRecordSets", _CHANGES, change_keys(frozenset({"CREATE"}), False),
                EventKind.CREATE, note="one reference per CREATE change"),
        derived(R53, "ChangeResourceRecordSets", _CHANGES, change_keys(frozenset({"DELETE"}), False),
                EventKind.DELETE, note="one reference per DELETE change"),
    )
    compared = {"records": Severity.HIGH, "alias": Severity.HIGH, "ttl": Severity.MEDIUM,
                "weighted_routing_policy": Severity.MEDIUM, "failover_routing_policy": Severity.MEDIUM,
                "latency_routing_policy": Severity.MEDIUM, "health_check_id": Severity.MEDIUM,
                "multivalue_answer_routing_policy": Severity.MEDIUM}
    read_permissions = ("route53:ListResourceRecordSets",)
    revert_permissions = ("route53:ChangeResourceRecordSets",)
    gone_codes = frozenset({"NoSuchHostedZone"})

    def object_id(self, attrs: Mapping[str, Any]) -> str | None:
        name = attrs.get("fqdn")
        if not name:
            parsed = parse_record_key(text(attrs.get("id")))
            name = parsed[1] if parsed else attrs.get("name")
        return record_key(attrs.get("zone_id"), name, attrs.get("type"), attrs.get("set_identifier"))

    def declare(self, resource: ManagedResource, declared: Declared) -> None:
        a = resource.attributes
        rtype = text(a.get("type")).upper()
        m = declared.model
        alias = first_block(a, "alias")
        m["alias.name"] = alias_name(alias.get("name"))
        m["alias.zone_id"] = text(alias.get("zone_id")) or None
        m["alias.evaluate_target_health"] = bool(alias.get("evaluate_target_health")) if alias else None
        m["records"] = str_set(record_value(rtype, v) for v in a.get("records") or [])
        m["ttl"] = None if alias else as_int(a.get("ttl"))
        weighted = first_block(a, "weighted_routing_policy")
        if weighted:
            m["weighted_routing_policy.weight"] = as_int(weighted.get("weight"))
        failover = first_block(a, "failover_routing_policy")
        if failover:
            m["failover_routing_policy.type"] = text(failover.get("type"))
        latency = first_block(a, "latency_routing_policy")
        if latency:
            m["latency_routing_policy.region"] = text(latency.get("region"))
        if a.get("multivalue_answer_routing_policy") is not None:
            m["multivalue_answer_routing_policy"] = bool(a.get("multivalue_answer_routing_policy"))
        m["health_check_id"] = text(a.get("health_check_id"))

    def read_live(self, ctx: LiveContext, object_id: str) -> dict[str, Any] | None:
        parsed = parse_record_key(object_id)
        if parsed is None:
            raise LiveReadError(f"{object_id!r} is not a record key (ZONEID_name_TYPE[_setid])")
        zone, name, rtype, set_id = parsed
        params: dict[str, Any] = {"HostedZoneId": zone, "StartRecordName": name, "StartRecordType": rtype,
                                  "MaxItems": "100"}
        pages = 0
        try:
            while True:
                pages += 1
                if pages > 100:  # one name and type never spans this many pages: a broken paginator
                    raise LiveReadError(f"ListResourceRecordSets for {object_id} did not finish paginating")
                page = self.call(ctx, "list_resource_record_sets", **params)
                for rs in page.get("ResourceRecordSets") or []:
                    if record_name(rs.get("Name")) != name or rs.get("Type") != rtype:
                        return None  # listed in order from (name, type): it is not there
                    if (rs.get("SetIdentifier") or None) == set_id:
                        return self.live_model(rs)
                if not page.get("IsTruncated"):
                    return None
                params.update(StartRecordName=page["NextRecordName"], StartRecordType=page["NextRecordType"])
                if page.get("NextRecordIdentifier"):
                    params["StartRecordIdentifier"] = page["NextRecordIdentifier"]
        except Gone:
            return None

    @staticmethod
    def live_model(rs: Mapping[str, Any]) -> dict[str, Any]:
        rtype = text(rs.get("Type"))
        alias = rs.get("AliasTarget") or {}
        return {
            "alias.name": alias_name(alias.get("DNSName")),
            "alias.zone_id": text(alias.get("HostedZoneId")) or None,
            "alias.evaluate_target_health": bool(alias.get("EvaluateTargetHealth")) if alias else None,
            "records": str_set(record_value(rtype, r.get("Value")) for r in rs.get("ResourceRecords") or []),
            "ttl": as_int(rs.get("TTL")),
            "weighted_routing_policy.weight": as_int(rs.get("Weight")),
            "failover_routing_policy.type": text(rs.get("Failover")),
            "latency_routing_policy.region": text(rs.get("Region")),
            "multivalue_answer_routing_policy": bool(rs.get("MultiValueAnswer")),
            "health_check_id": text(rs.get("HealthCheckId")),
            "_raw": dict(rs),  # never declared, so never compared: the base of the revert's UPSERT
        }

    def severity(self, change: RawChange) -> tuple[Severity, str]:
        if change.attribute in ("records", "alias.name", "alias.zone_id"):
            return Severity.HIGH, "dns-answer-changed"
        return Severity.MEDIUM, f"{self.type}.{change.attribute}"

    def plan_revert(
        self, object_id: str, changes: list[Change], declared: Declared, live: Mapping[str, Any]
    ) -> tuple[ApiCall, ...]:
        """One UPSERT: the live record set with exactly the changed settings put back. The whole
        answer (records/TTL or alias) is restored together: they are one setting to Route 53."""
        parsed = parse_record_key(object_id)
        raw = live.get("_raw")
        if parsed is None or not isinstance(raw, Mapping):
            return ()
        zone, _, rtype, _ = parsed
        m = declared.model
        rrset = dict(raw)
        paths = {c.path for c in changes}
        if paths & set(_ANSWER):
            for key in ("AliasTarget", "TTL", "ResourceRecords"):
                rrset.pop(key, None)
            if m.get("alias.name"):
                rrset["AliasTarget"] = {"HostedZoneId": m["alias.zone_id"], "DNSName": m["alias.name"],
                                        "EvaluateTargetHealth": bool(m["alias.evaluate_target_health"])}
            else:
                rrset["TTL"] = m["ttl"]
                rrset["ResourceRecords"] = [{"Value": api_value(rtype, v)}
                                            for v in sorted(decode_atom(x) for x in m["records"])]
        for path, api in _ROUTING.items():
            if path in paths:
                rrset[api] = m[path]
        if "health_check_id" in paths:
            if m["health_check_id"]:
                rrset["HealthCheckId"] = m["health_check_id"]
            else:
                rrset.pop("HealthCheckId", None)
        what = ", ".join(sorted(paths))
        return (ApiCall("route53", "ChangeResourceRecordSets", {"HostedZoneId": zone, "ChangeBatch": {
            "Comment": "Driftwarden: restore the declared record set",
            "Changes": [{"Action": "UPSERT", "ResourceRecordSet": rrset}]}},
            f"UPSERT {rrset.get('Name')} {rtype} in zone {zone} restoring {what}"),)
