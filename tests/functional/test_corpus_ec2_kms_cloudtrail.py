"""Every real EC2/VPC, KMS and CloudTrail record in the corpus that these families cover, one test each.

Given a recorded event (bare or EventBridge-wrapped, failed, redacted, anonymized, with ids given as
ARNs or names), then the trigger resolves it to exactly the objects the record names, by the rule
written out here independently of the plugins' id paths; and the pipeline says clearly what it
makes of it, never raising: with no state, ``unmanaged`` (or ``skipped`` for a failed call or a
run-state change, ``error`` for a redacted id). With a state that manages every id the corpus names
(the provider's own attribute names), the same records find their managed resource, which proves
the event's id and the state index agree (an ARN in a KMS or CloudTrail record included): the
resources do not exist in moto, so the verdict is ``deleted`` (or ``error`` where AWS calls the id
malformed), never ``unmanaged``. Records from the corpus's anonymized regions (``cn-northsouth-2r``)
are resolved but not read live: no AWS endpoint exists for them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

import boto3
import pytest

from chalicelib.models import Status
from chalicelib.resources.aws_ebs_encryption_by_default import KEY as EBS_DEFAULT_KEY
from chalicelib.resources.base import EventKind
from chalicelib.resources.registry import default_registry
from chalicelib.triggers.cloudtrail import REDACTED, parse_event, resolve_refs
from tests.conftest import CORPUS, make_pipeline
from tests.harness.tfstate import StateBuilder

CLOUDTRAIL_DIR = os.path.abspath(os.path.join(CORPUS, "cloudtrail"))
STATE_BUCKET = "driftwarden-ec2-kms-trail-corpus"
PREFIX_KIND = {"i-": "ec2:instance", "vol-": "ec2:volume", "acl-": "ec2:network-acl",
               "rtb-": "ec2:route-table", "vpc-": "ec2:vpc", "subnet-": "ec2:subnet",
               "lt-": "ec2:launch-template"}
KINDS = {*PREFIX_KIND.values(), "ec2:ebs-encryption-by-default", "kms:key", "kms:alias", "cloudtrail:trail"}
REAL_REGIONS = set(boto3.session.Session().get_available_regions("ec2"))

Expected = list[tuple[str, str | None]]


def _record(raw: Mapping[str, Any]) -> Mapping[str, Any]:
    detail = raw.get("detail")
    return detail if isinstance(detail, Mapping) else raw


def _id(value: Any) -> str | None:
    return value if isinstance(value, str) and value and value not in REDACTED else None


def _tail(value: Any, marker: str) -> str | None:
    """``arn:...:<marker><name>`` -> ``<name>``; plain names and ids as they are."""
    text = _id(value)
    return text.split(marker, 1)[1] if text and text.startswith("arn:") and marker in text else text


def _instances(block: Any) -> list[str | None]:
    items = (block or {}).get("instancesSet", {}).get("items", []) if isinstance(block, Mapping) else []
    return [_id(i.get("instanceId")) for i in items] or [None]


def expected(rec: Mapping[str, Any]) -> Expected:
    """What the record names, read straight from it (the table the plugins must agree with)."""
    name, rp, re = rec["eventName"], rec.get("requestParameters") or {}, rec.get("responseElements") or {}
    if name in ("ModifyInstanceAttribute",):
        return [("ec2:instance", _id(rp.get("instanceId")))]
    if name in ("StartInstances", "StopInstances", "TerminateInstances"):
        return [("ec2:instance", i) for i in _instances(rp)]
    if name == "RunInstances":
        return [("ec2:instance", i) for i in _instances(re)]
    if name in ("CreateTags", "DeleteTags"):
        ids = [_id(r.get("resourceId")) for r in rp.get("resourcesSet", {}).get("items", [])]
        return [(kind, rid) for rid in ids if rid
                for prefix, kind in PREFIX_KIND.items() if rid.startswith(prefix)]
    table = {
        "CreateNetworkAclEntry": ("ec2:network-acl", rp.get("networkAclId")),
        "CreateRoute": ("ec2:route-table", rp.get("routeTableId")),
        "CreateVpc": ("ec2:vpc", (re.get("vpc") or {}).get("vpcId")),
        "DeleteVpc": ("ec2:vpc", rp.get("vpcId")),
        "DeleteSubnet": ("ec2:subnet", rp.get("subnetId")),
        "CreateVolume": ("ec2:volume", re.get("volumeId")),
        "DisableEbsEncryptionByDefault": ("ec2:ebs-encryption-by-default", EBS_DEFAULT_KEY),
        "CreateKey": ("kms:key", (re.get("keyMetadata") or {}).get("keyId")),
        "CreateAlias": ("kms:alias", rp.get("aliasName")),
        "UpdateAlias": ("kms:alias", rp.get("aliasName")),
        "DeleteAlias": ("kms:alias", rp.get("aliasName")),
    }
    if name in table:
        kind, value = table[name]
        return [(kind, _id(value))]
    if rec["eventSource"] == "kms.amazonaws.com":
        return [("kms:key", _tail(rp.get("keyId"), ":key/"))]
    if rec["eventSource"] == "cloudtrail.amazonaws.com":
        return [("cloudtrail:trail", _tail(rp.get("name") or rp.get("trailName"), ":trail/"))]
    raise AssertionError(f"no expectation written for {name}")


def _corpus() -> list[tuple[str, dict[str, Any]]]:
    registry = default_registry()
    out = []
    for fname in sorted(os.listdir(CLOUDTRAIL_DIR)):
        if not fname.startswith(("ec2-", "kms-", "cloudtrail-")) or not fname.endswith(".json"):
            continue
        with open(os.path.join(CLOUDTRAIL_DIR, fname)) as fh:
            raw = json.load(fh)
        rec = _record(raw)
        claims = registry.claims(rec.get("eventSource", ""), rec.get("eventName", ""))
        if any(c.plugin.object_kind in KINDS for c in claims):
            out.append((fname, raw))
    return out


CASES = _corpus()
FILES = [name for name, _ in CASES]


def _refs(raw: Mapping[str, Any]) -> list[Any]:
    return [r for r in resolve_refs(default_registry(), parse_event(raw)) if r.object_kind in KINDS]


def test_corpus_has_the_records_this_coverage_is_about():
    names = {_record(raw)["eventName"] for _, raw in CASES}
    assert len(CASES) >= 70, len(CASES)
    assert {"StopLogging", "DeleteTrail", "PutEventSelectors", "UpdateTrail", "ScheduleKeyDeletion",
            "PutKeyPolicy", "DisableKey", "UpdateAlias", "CreateNetworkAclEntry", "CreateRoute",
            "ModifyInstanceAttribute", "DisableEbsEncryptionByDefault", "TerminateInstances",
            "CreateTags"} <= names


@pytest.mark.parametrize("fname", FILES)
def test_record_resolves_to_the_objects_it_names(fname):
    raw = dict(CASES)[fname]
    got = sorted(((r.object_kind, r.object_id) for r in _refs(raw)), key=str)
    assert got == sorted(expected(_record(raw)), key=str)


@pytest.fixture(scope="module")
def pipelines(aws_module):
    """Two pipelines over one moto account: no state at all, and a state managing every named id."""
    s3 = aws_module.client("s3")
    s3.create_bucket(Bucket=STATE_BUCKET)
    states: dict[str, StateBuilder] = {}  # one state per account, as teams keep them
    seen: set[tuple[str, str, str, str]] = set()
    for _, raw in CASES:
        rec = _record(raw)
        account, region = str(rec.get("recipientAccountId") or "123456789012"), str(rec.get("awsRegion"))
        for kind, oid in expected(rec):
            if oid is None or (account, region, kind, oid) in seen:
                continue  # ids are regional (an alias name exists once per region): one entry per region
            seen.add((account, region, kind, oid))
            tf_type, attrs = _state_entry(kind, oid, account, region)
            states.setdefault(account, StateBuilder()).add(tf_type, f"r{len(seen)}", attrs)
    for account, state in states.items():
        # An ARN naming the account, for states whose only entry has none (EBS encryption by default).
        state.add("aws_cloudtrail", "anchor", _state_entry("cloudtrail:trail", f"anchor-{account}", account,
                                                          "us-east-1")[1])
        state.put(s3, STATE_BUCKET, f"managed/{account}.tfstate")
    return {"none": make_pipeline(aws_module, f"s3://{STATE_BUCKET}/nothing-here/"),
            "managed": make_pipeline(aws_module, f"s3://{STATE_BUCKET}/managed/")}


def _state_entry(kind: str, oid: str, account: str, region: str) -> tuple[str, dict[str, Any]]:
    """A minimal state entry with the provider's attribute names for the id the corpus names."""
    if kind == "kms:key":
        return "aws_kms_key", {"arn": f"arn:aws:kms:{region}:{account}:key/{oid}", "id": oid, "key_id": oid,
                               "is_enabled": True, "enable_key_rotation": False, "description": "",
                               "tags": {},
                               "tags_all": {}}
    if kind == "kms:alias":
        return "aws_kms_alias", {"arn": f"arn:aws:kms:{region}:{account}:{oid}", "id": oid, "name": oid,
                                 "target_key_id": "1234abcd-12ab-34cd-56ef-1234567890ab"}
    if kind == "cloudtrail:trail":
        arn = f"arn:aws:cloudtrail:{region}:{account}:trail/{oid}"
        return "aws_cloudtrail", {"arn": arn, "id": arn, "name": oid, "enable_logging": True,
                                  "s3_bucket_name": "trail-logs", "tags": {}, "tags_all": {}}
    if kind == "ec2:ebs-encryption-by-default":
        return "aws_ebs_encryption_by_default", {"id": region, "enabled": True}
    tf_type = {"ec2:instance": "aws_instance", "ec2:volume": "aws_ebs_volume",
               "ec2:network-acl": "aws_network_acl", "ec2:route-table": "aws_route_table",
               "ec2:vpc": "aws_vpc", "ec2:subnet": "aws_subnet",
               "ec2:launch-template": "aws_launch_template"}[kind]
    resource = {"ec2:instance": "instance", "ec2:volume": "volume", "ec2:network-acl": "network-acl",
                "ec2:route-table": "route-table", "ec2:vpc": "vpc", "ec2:subnet": "subnet",
                "ec2:launch-template": "launch-template"}[kind]
    return tf_type, {"arn": f"arn:aws:ec2:{region}:{account}:{resource}/{oid}", "id": oid, "tags": {},
                     "tags_all": {}}


def _findings(pipelines: dict[str, Any], which: str, fname: str) -> list[Any]:
    findings = pipelines[which].process_event(dict(CASES)[fname])
    return [f for f in findings if f.object_kind in KINDS or f.object_kind is None]


@pytest.mark.parametrize("fname", FILES)
def test_pipeline_without_state_says_what_it_makes_of_the_record(pipelines, fname):
    rec = _record(dict(CASES)[fname])
    findings = _findings(pipelines, "none", fname)
    assert findings
    if rec.get("errorCode"):
        assert [f.status for f in findings] == [Status.SKIPPED] and rec["errorCode"] in findings[0].reason
        return
    by_id = {f.resource.id if f.resource else None: f for f in findings}
    refs = sorted(_refs(dict(CASES)[fname]), key=lambda r: str((r.object_kind, r.object_id)))
    for (_kind, oid), ref in zip(sorted(expected(rec), key=str), refs, strict=True):
        if oid is None:
            assert any(f.status is Status.ERROR and "cannot tell" in f.reason for f in findings)
        elif ref.event_kind is EventKind.NOOP:
            assert by_id[oid].status is Status.SKIPPED
        else:
            assert by_id[oid].status is Status.UNMANAGED, by_id[oid].reason


LIVE_CASES = [name for name, raw in CASES
              if _record(raw).get("awsRegion") in REAL_REGIONS and not _record(raw).get("errorCode")
              and any(oid for _, oid in expected(_record(raw)))]


@pytest.mark.parametrize("fname", LIVE_CASES)
def test_pipeline_with_state_finds_the_managed_resource(pipelines, fname):
    rec = _record(dict(CASES)[fname])
    judged = [f for f in _findings(pipelines, "managed", fname)
              if f.resource is not None and f.status is not Status.SKIPPED]
    assert judged or rec["eventName"] in ("StartInstances", "StopInstances")
    for finding in judged:
        assert finding.status is not Status.UNMANAGED, finding.reason
        assert finding.resource.address is not None
        if finding.object_kind == "ec2:ebs-encryption-by-default":  # exists everywhere; moto starts it off
            assert finding.status is Status.DRIFT
            assert finding.changes[0].rule == "ebs-encryption-by-default-disabled"
        else:
            assert finding.status in (Status.DELETED, Status.ERROR), (finding.status, finding.reason)
