"""Every real IAM CloudTrail record in the corpus whose call an IAM plugin covers resolves to the
right object id(s), and goes through the pipeline to a clear verdict — never an exception.

The table below is written by reading each record (not generated from the code under test). A record
that a plugin covers but that is missing from the table fails, so new corpus files get a row.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chalicelib.models import Status
from chalicelib.pipeline import Pipeline
from chalicelib.resources.registry import default_registry
from chalicelib.state.index import StateIndex
from chalicelib.triggers.cloudtrail import parse_event, resolve_refs
from tests.fixtures_index import corpus_files

REGISTRY = default_registry()
COVERED = {(e.source, e.name) for p in REGISTRY if p.type.startswith("aws_iam_") for e in p.events}
ROLE, USER, GROUP, POLICY, KEY = "iam:role", "iam:user", "iam:group", "iam:policy", "iam:access-key"

# file → the (object kind, id) pairs it names; ``None`` id: the record does not say which object.
EXPECTED: dict[str, set[tuple[str, str | None]]] = {
    "iam-AddUserToGroup-awsdocs-1.json": {(USER, "Bob"), (GROUP, "admin")},
    "iam-AttachRolePolicy-panther-1.json": {(ROLE, "LambdaFunctionRole-1111")},
    "iam-AttachRolePolicy-panther-2.json": {(ROLE, "LambdaFunctionRole-1111")},
    "iam-AttachRolePolicy-panther-3.json": {(ROLE, "new-role")},
    "iam-AttachRolePolicy-panther-4.json": {(ROLE, "new-role")},
    "iam-AttachRolePolicy-rusttests-1.json": {(ROLE, "practicum_test_role1")},
    "iam-AttachRolePolicy-stratus-1.json": {(ROLE, "stratus-red-team-malicious-iam-role")},
    "iam-AttachUserPolicy-panther-1.json": {(USER, "new-user")},
    "iam-AttachUserPolicy-panther-2.json": {(USER, "new-user")},
    "iam-AttachUserPolicy-panther-3.json": {(USER, "test-user")},
    "iam-AttachUserPolicy-stratus-1.json": {(USER, "malicious-iam-user")},
    "iam-CreateAccessKey-panther-1.json": {(KEY, "ABCDEFG")},
    "iam-CreateAccessKey-panther-2.json": {(KEY, "ABCDEFG")},
    "iam-CreateAccessKey-panther-3.json": {(KEY, "ABCDEFG")},
    "iam-CreateAccessKey-panther-4.json": {(KEY, "ABCDEFG")},
    "iam-CreateAccessKey-panther-5.json": {(KEY, None)},  # failed call, no request/response
    "iam-CreateAccessKey-panther-6.json": {(KEY, "1111")},  # root's own key: no userName anywhere
    "iam-CreateAccessKey-panther-7.json": {(KEY, "1111")},
    "iam-CreateAccessKey-stratus-1.json": {(KEY, "AKIAL80DWDVKKM0UXEER")},
    "iam-CreateAccessKey-stratus-2.json": {(KEY, "AKIAXAFZN8JEPF6L682H")},
    "iam-CreatePolicyVersion-rusttests-1.json": {(POLICY, "arn:aws:iam::014824332634:policy/Dome9CloudBots")},
    "iam-CreateRole-panther-1.json": {(ROLE, "new-role")},
    "iam-CreateRole-stratus-1.json": {(ROLE, "stratus-red-team-malicious-iam-role")},
    "iam-CreateUser-awsdocs-1.json": {(USER, "Bob")},
    "iam-CreateUser-panther-1.json": {(USER, "new-user")},
    "iam-CreateUser-panther-2.json": {(USER, "user")},
    "iam-CreateUser-panther-3.json": {(USER, "user")},
    "iam-CreateUser-panther-4.json": {(USER, "user")},
    "iam-CreateUser-panther-5.json": {(USER, "user")},
    "iam-CreateUser-panther-6.json": {(USER, "user")},
    "iam-CreateUser-stratus-1.json": {(USER, "malicious-iam-user")},
    "iam-DeleteGroupPolicy-panther-1.json": {(GROUP, "group")},
    "iam-DeleteGroupPolicy-panther-2.json": {(GROUP, "group")},
    "iam-DeletePolicy-rusttests-1.json": {(POLICY, "arn:aws:iam::014824332634:policy/test-policy")},
    "iam-DeleteRole-rusttests-1.json": {(ROLE, "practicum_test_role1")},
    "iam-DeleteRolePolicy-rusttests-1.json": {(ROLE, "practicum_test_role_inline")},
    "iam-DetachRolePolicy-rusttests-1.json": {(ROLE, "practicum_test_role1")},
    "iam-PutRolePolicy-rusttests-1.json": {(ROLE, "practicum_test_role_inline")},
    "iam-PutUserPolicy-panther-1.json": {(USER, "test-user")},
    "iam-PutUserPolicy-panther-2.json": {(USER, "compromised_user")},
    "iam-PutUserPolicy-panther-3.json": {(USER, None)},  # requestParameters null
    "iam-UpdateAssumeRolePolicy-panther-1.json": {(ROLE, None)},  # edited sample without roleName
    "iam-UpdateAssumeRolePolicy-panther-2.json": {(ROLE, None)},
    "iam-UpdateAssumeRolePolicy-panther-3.json": {(ROLE, None)},
    "iam-UpdateAssumeRolePolicy-stratus-1.json": {(ROLE, "stratus-red-team-backdoor-r-role")},
}


def _record(path: Path) -> dict[str, Any]:
    doc = json.loads(path.read_text())
    return doc.get("detail", doc) if "detail-type" in doc else doc


def _covered_files() -> list[Path]:
    out = []
    for path in corpus_files():
        if not path.name.startswith("iam-"):
            continue
        rec = _record(path)
        if (rec.get("eventSource"), rec.get("eventName")) in COVERED:
            out.append(path)
    return out


FILES = _covered_files()


class _NoLiveReads:
    """No state manages these objects, so the pipeline must never need to read AWS."""

    account = None
    region = "us-east-1"

    def client(self, service: str) -> Any:
        raise AssertionError(f"unexpected live read ({service}) for an unmanaged object")


def test_the_table_covers_every_covered_corpus_record():
    assert {p.name for p in FILES} == set(EXPECTED)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_record_resolves_to_its_ids(path):
    event = parse_event(json.loads(path.read_text()))
    refs = resolve_refs(REGISTRY, event)
    assert {(r.object_kind, r.object_id) for r in refs} == EXPECTED[path.name]
    assert all(r.region for r in refs), "IAM events carry a region (us-east-1 for the global endpoint)"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_record_gets_a_clear_verdict(path):
    pipeline = Pipeline(REGISTRY, StateIndex.from_docs(REGISTRY, []), lambda account, region: _NoLiveReads())
    findings = pipeline.process_payload(json.loads(path.read_text()))
    record = _record(path)
    assert findings
    for finding in findings:
        assert finding.reason
        if record.get("errorCode"):
            assert finding.status is Status.SKIPPED and record["errorCode"] in finding.reason
        elif finding.resource is None or not finding.resource.id:
            assert finding.status is Status.ERROR and "cannot tell which" in finding.reason
        else:
            assert finding.status is Status.UNMANAGED, finding.reason
    if not record.get("errorCode"):
        expected_ids = {oid for _, oid in EXPECTED[path.name]}
        assert {f.resource.id if f.resource else None for f in findings} == expected_ids
