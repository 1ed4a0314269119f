"""Route 53 (aws_route53_record, aws_route53_zone) end to end through the pipeline, on moto.

Given a hosted zone and records, and a state written with the provider's real attribute names (shapes
from ../shared/corpus/tfstate, including terraformer-style ids such as ``Z1_www.example.com._A_``),
when a console-style change is made with boto3 and the matching ``ChangeResourceRecordSets`` event is
replayed, then every change of the batch is judged on its own (a managed record drifts, a record
created next to it is unmanaged, a deleted managed record is deleted), and a revert UPSERTs exactly
the declared record set back.

moto gap we never depend on: it returns wildcard names as ``*.`` where AWS returns ``\\052.``; the
plugin decodes AWS's escapes, and a unit check below feeds it the AWS form directly.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from chalicelib.models import Action, Finding, RemediationStatus, Severity, Status
from chalicelib.pipeline import Pipeline
from chalicelib.resources.aws_route53_record import AwsRoute53Record, parse_record_key, record_key
from chalicelib.resources.registry import default_registry
from tests.conftest import make_pipeline
from tests.harness.events import cloudtrail_event
from tests.harness.tfstate import StateBuilder

R53 = "route53.amazonaws.com"
STATE_BUCKET = "driftwarden-route53-states"


@dataclass
class Zone:
    session: boto3.session.Session
    r53: Any
    s3: Any
    id: str
    name: str

    def pipeline(self, state: StateBuilder) -> Pipeline:
        prefix = f"r53-{uuid.uuid4().hex[:10]}/"
        state.put(self.s3, STATE_BUCKET, f"{prefix}terraform.tfstate")
        return make_pipeline(self.session, f"s3://{STATE_BUCKET}/{prefix}")

    def change(self, *changes: tuple[str, dict[str, Any]]) -> None:
        self.r53.change_resource_record_sets(HostedZoneId=self.id, ChangeBatch={"Changes": [
            {"Action": action, "ResourceRecordSet": rrset} for action, rrset in changes]})


@pytest.fixture(scope="module")
def account(aws_module: boto3.session.Session) -> Iterator[boto3.session.Session]:
    aws_module.client("s3").create_bucket(Bucket=STATE_BUCKET)
    yield aws_module


@pytest.fixture
def zone(account: boto3.session.Session) -> Zone:
    """A fresh public zone (unique name) in the module's moto account."""
    r53 = account.client("route53")
    name = f"z{uuid.uuid4().hex[:8]}.example.com"
    zid = r53.create_hosted_zone(Name=name, CallerReference=uuid.uuid4().hex,
                                 HostedZoneConfig={"Comment": "Managed by Terraform"})["HostedZone"]["Id"]
    return Zone(account, r53, account.client("s3"), zid.rsplit("/", 1)[-1], name)


# --- state shapes (provider attribute names, as in ../shared/corpus/tfstate) ----------------------
def record_state(
    zone_id: str,
    name: str,
    rtype: str,
    *,
    records: list[str] | None = None,
    ttl: int | None = 300,
    alias: dict[str, Any] | None = None,
    set_identifier: str = "",
    weight: int | None = None,
    state_id: str | None = None,
) -> dict[str, Any]:
    return {
        "alias": [alias] if alias else [], "allow_overwrite": None, "cidr_routing_policy": [],
        "failover_routing_policy": [], "fqdn": name, "geolocation_routing_policy": [],
        "geoproximity_routing_policy": [], "health_check_id": "",
        "id": state_id or "_".join(p for p in (zone_id, name, rtype, set_identifier) if p),
        "latency_routing_policy": [], "multivalue_answer_routing_policy": None, "name": name,
        "records": records or [], "set_identifier": set_identifier, "ttl": 0 if alias else ttl, "type": rtype,
        "weighted_routing_policy": [{"weight": weight}] if weight is not None else [], "zone_id": zone_id,
    }


def zone_state(zone: Zone, *, comment: str = "Managed by Terraform", tags: dict[str, str] | None = None,
               default_tags: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "arn": f"arn:aws:route53:::hostedzone/{zone.id}", "comment": comment, "delegation_set_id": "",
        "force_destroy": False, "id": zone.id, "name": zone.name,
        "name_servers": ["ns-2048.awsdns-64.com", "ns-2049.awsdns-65.net", "ns-2050.awsdns-66.org",
                         "ns-2051.awsdns-67.co.uk"],
        "primary_name_server": "ns-2048.awsdns-64.com", "tags": tags,
        "tags_all": {**(default_tags or {}), **(tags or {})}, "vpc": [], "zone_id": zone.id,
    }


def rrset(name: str, rtype: str, values: list[str] | None = None, ttl: int = 300,
          **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"Name": name, "Type": rtype, **extra}
    if values is not None:
        out["TTL"] = ttl
        out["ResourceRecords"] = [{"Value": v} for v in values]
    return out


def batch_event(zone_id: str, *changes: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    """``ChangeResourceRecordSets`` as CloudTrail records it (lower-camel keys, ``tTL``)."""
    items = []
    for action, rs in changes:
        rec: dict[str, Any] = {"name": rs["Name"], "type": rs["Type"]}
        if "TTL" in rs:
            rec["tTL"] = rs["TTL"]
            rec["resourceRecords"] = [{"value": r["Value"]} for r in rs["ResourceRecords"]]
        if "SetIdentifier" in rs:
            rec["setIdentifier"] = rs["SetIdentifier"]
        if "Weight" in rs:
            rec["weight"] = rs["Weight"]
        if "AliasTarget" in rs:
            a = rs["AliasTarget"]
            rec["aliasTarget"] = {"hostedZoneId": a["HostedZoneId"], "dNSName": a["DNSName"],
                                  "evaluateTargetHealth": a["EvaluateTargetHealth"]}
        items.append({"action": action, "resourceRecordSet": rec})
    return cloudtrail_event("ChangeResourceRecordSets", R53,
                            {"hostedZoneId": zone_id, "changeBatch": {"changes": items}},
                            {"changeInfo": {"id": "/change/C2682N5HXP0BZ4", "status": "PENDING",
                                            "submittedAt": "Nov 21, 2026, 9:00:00 AM"}})


def only(findings: list[Finding]) -> Finding:
    assert len(findings) == 1, findings
    return findings[0]


def changes(finding: Finding) -> list[tuple[str, Any, Any]]:
    return [(c.path, c.declared, c.live) for c in finding.changes]


def revert_and_replay(pipeline: Pipeline, finding: Finding, event: dict[str, Any]) -> list[Finding]:
    plugin = default_registry().get(finding.resource.type)
    assert all(f"{c.service}:{c.operation}" in plugin.revert_permissions for c in finding.plan), finding.plan
    result = pipeline.revert(finding)
    assert result.status is RemediationStatus.REVERTED, result.reason
    return pipeline.process_event(event)


def live_record(zone: Zone, name: str, rtype: str) -> dict[str, Any]:
    sets = zone.r53.list_resource_record_sets(HostedZoneId=zone.id)["ResourceRecordSets"]
    return next(r for r in sets if r["Name"].rstrip(".") == name and r["Type"] == rtype)


# === aws_route53_record =========================================================================
def test_upsert_of_a_managed_record_is_high_drift_and_reverted(zone: Zone) -> None:
    www = f"www.{zone.name}"
    zone.change(("CREATE", rrset(www, "A", ["192.0.2.10", "192.0.2.11"])))
    pipeline = zone.pipeline(StateBuilder().add("aws_route53_record", "www", record_state(
        zone.id, www, "A", records=["192.0.2.11", "192.0.2.10"]), module="module.dns"))
    hijack = rrset(www, "A", ["203.0.113.66"], ttl=60)
    zone.change(("UPSERT", hijack))
    event = batch_event(f"/hostedzone/{zone.id}", ("UPSERT", {**hijack, "Name": www.upper() + "."}))
    finding = only(pipeline.process_event(event))
    assert finding.status is Status.DRIFT and finding.severity is Severity.HIGH
    assert finding.resource.address == "module.dns.aws_route53_record.www"
    assert finding.resource.id == f"{zone.id}_{www}_A"
    assert changes(finding) == [("records", None, "203.0.113.66"), ("records", "192.0.2.10", None),
                                ("records", "192.0.2.11", None), ("ttl", 300, 60)]
    assert "dns-answer-changed" in finding.reason
    [call] = finding.plan
    assert call.operation == "ChangeResourceRecordSets"
    assert call.params["ChangeBatch"]["Changes"] == [{"Action": "UPSERT", "ResourceRecordSet": {
        "Name": f"{www}.", "Type": "A", "TTL": 300,
        "ResourceRecords": [{"Value": "192.0.2.10"}, {"Value": "192.0.2.11"}]}}]
    again = only(revert_and_replay(pipeline, finding, event))
    assert again.status is Status.IN_SYNC, changes(again)
    values = sorted(r["Value"] for r in live_record(zone, www, "A")["ResourceRecords"])
    assert values == ["192.0.2.10", "192.0.2.11"]


def test_one_batch_two_records_two_verdicts(zone: Zone) -> None:
    """One change to a managed record and one CREATE of a record no state declares: two findings."""
    api = f"api.{zone.name}"
    zone.change(("CREATE", rrset(api, "CNAME", ["lb-1.example.net"])))
    pipeline = zone.pipeline(StateBuilder().add("aws_route53_record", "api", record_state(
        zone.id, api, "CNAME", records=["lb-1.example.net"])))
    moved = rrset(api, "CNAME", ["lb-2.example.net"])
    added = rrset(f"shadow.{zone.name}", "A", ["198.51.100.9"])
    zone.change(("UPSERT", moved), ("CREATE", added))
    findings = pipeline.process_event(batch_event(zone.id, ("UPSERT", moved), ("CREATE", added)))
    by_id = {f.resource.id: f for f in findings}
    assert set(by_id) == {f"{zone.id}_{api}_CNAME", f"{zone.id}_shadow.{zone.name}_A"}
    managed, unmanaged = by_id[f"{zone.id}_{api}_CNAME"], by_id[f"{zone.id}_shadow.{zone.name}_A"]
    assert managed.status is Status.DRIFT and managed.severity is Severity.HIGH
    assert changes(managed) == [("records", None, "lb-2.example.net"), ("records", "lb-1.example.net", None)]
    assert unmanaged.status is Status.UNMANAGED and unmanaged.action is Action.ALERT
    assert "created outside Terraform" in unmanaged.reason
    assert managed.id != unmanaged.id


def test_delete_of_a_managed_record_is_deleted_and_of_an_unmanaged_one_unmanaged(zone: Zone) -> None:
    old, stray = rrset(f"old.{zone.name}", "TXT", ['"v=1"']), rrset(f"stray.{zone.name}", "TXT", ['"x"'])
    zone.change(("CREATE", old), ("CREATE", stray))
    pipeline = zone.pipeline(StateBuilder().add("aws_route53_record", "old", record_state(
        zone.id, f"old.{zone.name}", "TXT", records=["v=1"])))
    zone.change(("DELETE", old), ("DELETE", stray))
    findings = pipeline.process_event(batch_event(zone.id, ("DELETE", old), ("DELETE", stray)))
    statuses = {f.resource.id.split("_")[1]: f.status for f in findings}
    assert statuses == {f"old.{zone.name}": Status.DELETED, f"stray.{zone.name}": Status.UNMANAGED}
    deleted = next(f for f in findings if f.status is Status.DELETED)
    assert deleted.resource.address == "aws_route53_record.old" and not deleted.plan


def test_not_drift_quoting_order_case_wildcards_and_weighted_sets(zone: Zone) -> None:
    """TXT values are stored unquoted by the provider; record order, name case and the trailing dot
    never matter; a wildcard and two weighted records (set identifiers) each resolve to their key."""
    wild, w = f"*.{zone.name}", f"w.{zone.name}"
    txt = rrset(wild, "TXT", ['"hello world"', '"v=spf1 -all"'])
    blue = rrset(w, "A", ["192.0.2.2"], ttl=60, SetIdentifier="blue", Weight=10)
    green = rrset(w, "A", ["192.0.2.3"], ttl=60, SetIdentifier="green", Weight=90)
    zone.change(("CREATE", txt), ("CREATE", blue), ("CREATE", green))
    state = StateBuilder()
    state.add("aws_route53_record", "wild",
              record_state(zone.id, wild, "TXT", records=["v=spf1 -all", "hello world"]))
    for rs in (blue, green):
        state.add("aws_route53_record", "w", record_state(
            zone.id, w, "A", records=[rs["ResourceRecords"][0]["Value"]], ttl=60,
            set_identifier=rs["SetIdentifier"], weight=rs["Weight"]), index_key=rs["SetIdentifier"])
    pipeline = zone.pipeline(state)
    event = batch_event(zone.id, ("UPSERT", {**txt, "Name": f"*.{zone.name.upper()}."}), ("UPSERT", blue),
                        ("UPSERT", green))
    findings = pipeline.process_event(event)
    assert sorted(f.resource.address for f in findings) == [
        'aws_route53_record.w["blue"]', 'aws_route53_record.w["green"]', "aws_route53_record.wild"]
    assert all(f.status is Status.IN_SYNC for f in findings), [(f.resource.id, changes(f)) for f in findings]


def test_weight_change_is_medium_and_reverted(zone: Zone) -> None:
    w = f"w.{zone.name}"
    blue = rrset(w, "A", ["192.0.2.2"], ttl=60, SetIdentifier="blue", Weight=10)
    zone.change(("CREATE", blue))
    pipeline = zone.pipeline(StateBuilder().add("aws_route53_record", "blue", record_state(
        zone.id, w, "A", records=["192.0.2.2"], ttl=60, set_identifier="blue", weight=10)))
    shifted = {**blue, "Weight": 100}
    zone.change(("UPSERT", shifted))
    event = batch_event(zone.id, ("UPSERT", shifted))
    finding = only(pipeline.process_event(event))
    assert finding.severity is Severity.MEDIUM
    assert changes(finding) == [("weighted_routing_policy.weight", 10, 100)]
    rs = finding.plan[0].params["ChangeBatch"]["Changes"][0]["ResourceRecordSet"]
    assert (rs["SetIdentifier"], rs["Weight"], rs["TTL"]) == ("blue", 10, 60)
    assert only(revert_and_replay(pipeline, finding, event)).status is Status.IN_SYNC


def test_alias_turned_into_plain_records_is_drift_and_the_alias_is_restored(zone: Zone) -> None:
    """The corpus shape: an ALB alias (``dualstack.`` and the trailing dot are the same name) under a
    terraformer-style state id."""
    app = f"app.{zone.name}"
    lb_dns = "web-alb-1234.us-east-1.elb.amazonaws.com"
    alias = {"HostedZoneId": "Z35SXDOTRQ7X7K", "DNSName": f"dualstack.{lb_dns}.",
             "EvaluateTargetHealth": False}
    zone.change(("CREATE", rrset(app, "A", AliasTarget=alias)))
    state = record_state(zone.id, app, "A", state_id=f"{zone.id}_{app}._A_", alias={
        "evaluate_target_health": False, "zone_id": "Z35SXDOTRQ7X7K", "name": lb_dns})
    pipeline = zone.pipeline(StateBuilder().add("aws_route53_record", "app", state))
    assert only(pipeline.process_event(batch_event(zone.id, ("UPSERT", rrset(app, "A", AliasTarget=alias))))
                ).status is Status.IN_SYNC
    plain = rrset(app, "A", ["203.0.113.5"])
    zone.change(("DELETE", rrset(app, "A", AliasTarget=alias)), ("CREATE", plain))
    event = batch_event(zone.id, ("DELETE", rrset(app, "A", AliasTarget=alias)), ("CREATE", plain))
    finding = only(pipeline.process_event(event))  # DELETE+CREATE of one record: one reference, judged once
    assert finding.status is Status.DRIFT and finding.severity is Severity.HIGH
    assert changes(finding) == [
        ("alias.evaluate_target_health", False, None), ("alias.name", lb_dns, None),
        ("alias.zone_id", "Z35SXDOTRQ7X7K", None), ("records", None, "203.0.113.5"), ("ttl", None, 300)]
    assert only(revert_and_replay(pipeline, finding, event)).status is Status.IN_SYNC
    live = live_record(zone, app, "A")
    assert "ResourceRecords" not in live and live["AliasTarget"]["HostedZoneId"] == "Z35SXDOTRQ7X7K"


def test_record_keys_match_the_provider_id_whatever_the_spelling() -> None:
    """Corpus state ids (provider and terraformer forms) and event spellings meet on one key; AWS's
    octal escape for ``*`` decodes; names with underscores (ACM validation records) split back."""
    plugin = AwsRoute53Record()
    corpus_attrs = {"fqdn": "awx.theorynomi.com", "id": "Z018830435ZHS3HMYDX8T_awx.theorynomi.com._A_",
                    "name": "awx.theorynomi.com", "set_identifier": "", "type": "A",
                    "zone_id": "Z018830435ZHS3HMYDX8T"}
    assert plugin.object_id(corpus_attrs) == "Z018830435ZHS3HMYDX8T_awx.theorynomi.com_A"
    from_event = record_key("/hostedzone/Z018830435ZHS3HMYDX8T", "AWX.theorynomi.com.", "a")
    assert from_event == plugin.object_id(corpus_attrs)
    assert record_key("Z1", "\\052.example.com.", "TXT") == "Z1_*.example.com_TXT"
    acm = "Z0334537ZRL2UFCJKNNH__c4e2cbcd0095ac4602d76b9e2bc65520.lakshikabatteryworks.store._CNAME"
    name = "_c4e2cbcd0095ac4602d76b9e2bc65520.lakshikabatteryworks.store"
    assert parse_record_key(acm) == ("Z0334537ZRL2UFCJKNNH", name, "CNAME", None)
    assert parse_record_key("Z1_w.example.com_A_blue_v2") == ("Z1", "w.example.com", "A", "blue_v2")
    live = plugin.live_model({"Name": "\\052.example.com.", "Type": "TXT", "TTL": 300,
                              "ResourceRecords": [{"Value": '"hello"'}]})
    assert live["records"] == frozenset({'"hello"'})  # the atom of the unquoted value


def test_redacted_record_name_is_an_error_not_a_guess(zone: Zone) -> None:
    pipeline = zone.pipeline(StateBuilder())
    event = cloudtrail_event("ChangeResourceRecordSets", R53, {"hostedZoneId": zone.id, "changeBatch": {
        "changes": [{"action": "UPSERT", "resourceRecordSet": {"name": "...", "type": "A"}}]}})
    finding = only(pipeline.process_event(event))
    assert finding.status is Status.ERROR and "cannot tell which route53:record" in finding.reason


# === aws_route53_zone ===========================================================================
def test_zone_comment_change_is_low_and_reverted(zone: Zone) -> None:
    pipeline = zone.pipeline(StateBuilder().add("aws_route53_zone", "main", zone_state(zone)))
    zone.r53.update_hosted_zone_comment(Id=zone.id, Comment="edited in the console")
    event = cloudtrail_event("UpdateHostedZoneComment", R53,
                             {"id": zone.id, "comment": "edited in the console"})
    finding = only(pipeline.process_event(event))
    assert finding.status is Status.DRIFT and finding.severity is Severity.LOW
    assert changes(finding) == [("comment", "Managed by Terraform", "edited in the console")]
    assert only(revert_and_replay(pipeline, finding, event)).status is Status.IN_SYNC
    assert zone.r53.get_hosted_zone(Id=zone.id)["HostedZone"]["Config"]["Comment"] == "Managed by Terraform"


def test_zone_tags_default_tags_are_not_drift_and_tag_drift_is_reverted(zone: Zone) -> None:
    zone.r53.change_tags_for_resource(ResourceType="hostedzone", ResourceId=zone.id, AddTags=[
        {"Key": "team", "Value": "dns"}, {"Key": "env", "Value": "prod"}])
    pipeline = zone.pipeline(StateBuilder().add("aws_route53_zone", "main", zone_state(
        zone, tags={"team": "dns"}, default_tags={"env": "prod"})))
    same = cloudtrail_event("ChangeTagsForResource", R53, {
        "resourceType": "hostedzone", "resourceId": zone.id, "addTags": [{"key": "team", "value": "dns"}]})
    assert only(pipeline.process_event(same)).status is Status.IN_SYNC
    zone.r53.change_tags_for_resource(ResourceType="hostedzone", ResourceId=zone.id,
                                      AddTags=[{"Key": "owner", "Value": "bob"}], RemoveTagKeys=["team"])
    event = cloudtrail_event("ChangeTagsForResource", R53, {
        "resourceType": "hostedzone", "resourceId": zone.id, "addTags": [{"key": "owner", "value": "bob"}],
        "removeTagKeys": ["team"]})
    finding = only(pipeline.process_event(event))
    assert finding.severity is Severity.LOW
    assert changes(finding) == [("tags.owner", None, "bob"), ("tags.team", "dns", None)]
    assert only(revert_and_replay(pipeline, finding, event)).status is Status.IN_SYNC
    health_check_tags = cloudtrail_event("ChangeTagsForResource", R53, {
        "resourceType": "healthcheck", "resourceId": "b3c9cbc6-cd18-43bc-93f8-9e557example"})
    assert only(pipeline.process_event(health_check_tags)).status is Status.UNSUPPORTED


def test_zone_created_by_hand_is_unmanaged_and_deleted_zone_is_deleted(zone: Zone, account: Any) -> None:
    pipeline = zone.pipeline(StateBuilder().add("aws_route53_zone", "main", zone_state(zone)))
    other = account.client("route53").create_hosted_zone(Name=f"o{uuid.uuid4().hex[:6]}.example.org",
                                                         CallerReference=uuid.uuid4().hex)["HostedZone"]
    created = only(pipeline.process_event(cloudtrail_event("CreateHostedZone", R53, {"name": other["Name"]},
                                                           {"hostedZone": {"id": other["Id"]}})))
    assert created.status is Status.UNMANAGED and created.resource.id == other["Id"].rsplit("/", 1)[-1]
    ns_soa = zone.r53.list_resource_record_sets(HostedZoneId=zone.id)["ResourceRecordSets"]
    assert {r["Type"] for r in ns_soa} == {"NS", "SOA"}
    zone.r53.delete_hosted_zone(Id=zone.id)
    deleted = only(pipeline.process_event(cloudtrail_event("DeleteHostedZone", R53, {"id": zone.id})))
    assert deleted.status is Status.DELETED and deleted.resource.address == "aws_route53_zone.main"
