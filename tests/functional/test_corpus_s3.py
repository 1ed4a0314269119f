"""Every real S3 CloudTrail record in the corpus whose event the S3 family covers, one test each.

Given a recorded event (bare, EventBridge-wrapped, failed, redacted, with missing fields), then the
trigger resolves it to exactly the bucket its ``requestParameters.bucketName`` names, or the pipeline
says clearly why it cannot (``skipped`` for a failed call, ``error`` for a missing/redacted id or an
unreadable record) — never an exception. The pipeline runs twice, on moto: with no state (the bucket
is unmanaged) and with a state managing every bucket the corpus names (the live bucket is read in the
event's region and found in sync: replaying a record does not apply its change).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from typing import Any

import boto3
import pytest

from chalicelib.models import Status
from chalicelib.pipeline import Pipeline
from chalicelib.resources import s3_common as c
from chalicelib.resources.base import EventKind
from chalicelib.resources.registry import default_registry
from chalicelib.triggers.cloudtrail import REDACTED, parse_event, resolve_refs
from tests.conftest import CORPUS, make_pipeline
from tests.harness.tfstate import StateBuilder

CLOUDTRAIL = os.path.abspath(os.path.join(CORPUS, "cloudtrail"))
STATE_BUCKET = "driftwarden-s3-corpus-states"
EXPECTED_KIND = {"CreateBucket": EventKind.CREATE, "DeleteBucket": EventKind.DELETE}


def _record(raw: Mapping[str, Any]) -> Mapping[str, Any]:
    """The CloudTrail record itself, read independently of the code under test."""
    detail = raw.get("detail")
    return detail if isinstance(detail, Mapping) else raw


def _covered_names() -> set[str]:
    registry = default_registry()
    return {
        name
        for source, name in registry.event_names()
        if source == c.S3
        and any(claim.plugin.object_kind == c.KIND for claim in registry.claims(source, name))
    }


def _corpus() -> list[tuple[str, dict[str, Any]]]:
    covered = _covered_names()
    out = []
    for name in sorted(os.listdir(CLOUDTRAIL)):
        if not name.startswith("s3-") or not name.endswith(".json"):
            continue
        with open(os.path.join(CLOUDTRAIL, name)) as fh:
            raw = json.load(fh)
        if _record(raw).get("eventName") in covered:
            out.append((name, raw))
    return out


CASES = _corpus()


def _bucket(raw: Mapping[str, Any]) -> str | None:
    value = (_record(raw).get("requestParameters") or {}).get("bucketName")
    return value if isinstance(value, str) and value and value not in REDACTED else None


def test_corpus_covers_every_s3_event_the_family_claims_that_was_recorded() -> None:
    names = {_record(raw)["eventName"] for _, raw in CASES}
    assert len(CASES) >= 50, len(CASES)
    assert {
        "PutBucketPolicy",
        "PutBucketPublicAccessBlock",
        "DeleteBucketPublicAccessBlock",
        "PutBucketVersioning",
        "PutBucketEncryption",
        "DeleteBucketEncryption",
        "PutBucketAcl",
        "PutBucketOwnershipControls",
        "PutBucketLogging",
        "PutBucketLifecycle",
        "PutBucketTagging",
        "CreateBucket",
        "DeleteBucket",
    } <= names


@pytest.fixture(scope="module")
def pipelines(aws_module: boto3.session.Session) -> Iterator[tuple[Pipeline, Pipeline]]:
    """(no state, a state managing every bucket the corpus names — each bucket created in moto)."""
    s3 = aws_module.client("s3")
    s3.create_bucket(Bucket=STATE_BUCKET)
    s3.put_object(Bucket=STATE_BUCKET, Key="empty/terraform.tfstate", Body=StateBuilder().json().encode())
    state = StateBuilder()
    for bucket in sorted({b for _, raw in CASES if (b := _bucket(raw))}):
        s3.create_bucket(Bucket=bucket)
        owner = s3.get_bucket_acl(Bucket=bucket)["Owner"]["ID"]
        state.add(
            "aws_s3_bucket",
            bucket.replace("-", "_"),
            {
                "acl": None,
                "arn": f"arn:aws:s3:::{bucket}",
                "bucket": bucket,
                "id": bucket,
                "grant": [{"id": owner, "permissions": ["FULL_CONTROL"], "type": "CanonicalUser", "uri": ""}],
                "lifecycle_rule": [],
                "logging": [],
                "object_lock_enabled": False,
                "policy": "",
                "server_side_encryption_configuration": [],
                "tags": None,
                "tags_all": {},
                "versioning": [{"enabled": False, "mfa_delete": False}],
            },
        )
    state.put(s3, STATE_BUCKET, "managed/terraform.tfstate")
    yield (
        make_pipeline(aws_module, f"s3://{STATE_BUCKET}/empty/"),
        make_pipeline(aws_module, f"s3://{STATE_BUCKET}/managed/"),
    )


@pytest.mark.parametrize(("name", "raw"), CASES, ids=[name for name, _ in CASES])
def test_corpus_event_resolves_to_its_bucket_or_says_why_not(
    name: str, raw: dict[str, Any], pipelines: tuple[Pipeline, Pipeline]
) -> None:
    unmanaged_pipeline, managed_pipeline = pipelines
    record = _record(raw)
    bucket = _bucket(raw)
    failed = bool(record.get("errorCode"))
    event = parse_event(raw)  # every covered record is readable, including EventBridge envelopes
    refs = resolve_refs(default_registry(), event)
    assert len(refs) == 1, refs
    [ref] = refs
    assert ref.object_kind == c.KIND
    assert ref.event_kind is EXPECTED_KIND.get(event.name, EventKind.MODIFY)
    assert ref.object_id == bucket
    if bucket is None:
        assert ref.note, "a missing or redacted id must say so"

    for pipeline in (unmanaged_pipeline, managed_pipeline):
        [finding] = pipeline.process_event(raw)
        if failed:
            assert finding.status is Status.SKIPPED and record["errorCode"] in finding.reason
        elif bucket is None:
            assert finding.status is Status.ERROR
            assert "cannot tell which s3:bucket changed" in finding.reason, finding.reason
        elif pipeline is unmanaged_pipeline:
            assert finding.status is Status.UNMANAGED, finding.reason
            assert finding.resource.id == bucket
        else:
            assert finding.status is Status.IN_SYNC, (finding.reason, finding.changes)
            assert finding.resource.id == bucket and finding.resource.type == "aws_s3_bucket"
