"""Real input: every corpus state loads, and every EC2 security-group event gets a clear verdict."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chalicelib.errors import StateError
from chalicelib.models import Status
from chalicelib.resources.registry import default_registry
from chalicelib.state.index import StateIndex
from chalicelib.state.tfstate import parse_state
from tests.conftest import make_pipeline
from tests.fixtures_index import CORPUS, corpus_files

STATES = sorted((CORPUS / "tfstate").glob("*.json"))
SG_EVENTS = {e.name for e in default_registry().get("aws_security_group").events}
SG_FILES = [p for p in corpus_files() if p.name.startswith("ec2-") and p.name.split("-")[1] in SG_EVENTS]


def test_corpus_is_present():
    assert len(STATES) >= 20 and len(SG_FILES) >= 10


@pytest.mark.parametrize("path", STATES, ids=lambda p: p.name)
def test_every_corpus_state_loads(path: Path):
    doc = parse_state(str(path), path.read_bytes())
    raw = json.loads(path.read_text())
    managed = sum(len(r.get("instances", [])) for r in raw["resources"] if r["mode"] == "managed")
    assert len(doc.resources) == managed
    assert all(r.address.count(r.type) >= 1 for r in doc.resources)


def test_modules_and_instance_keys_are_in_addresses():
    docs = [parse_state(str(p), p.read_bytes()) for p in STATES]
    addresses = [r.address for d in docs for r in d.resources]
    assert any(a.startswith("module.") for a in addresses)
    assert any(a.endswith("]") for a in addresses)


@pytest.mark.parametrize("bad", [b"{", b"[]", b'{"version": 3, "resources": []}',
                                 b'{"version": 4, "resources": {"x": 1}}', b"\xff\xfe"])
def test_malformed_states_are_clear_errors_naming_the_file(bad):
    with pytest.raises(StateError) as exc:
        parse_state("s3://b/broken.tfstate", bad)
    assert "s3://b/broken.tfstate" in str(exc.value)


def test_a_broken_state_never_empties_the_index_silently(aws):
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="state-bucket")
    s3.put_object(Bucket="state-bucket", Key="a/good.tfstate", Body=STATES[0].read_bytes())
    s3.put_object(Bucket="state-bucket", Key="a/bad.tfstate", Body=b'{"version": 9}')
    s3.put_object(Bucket="state-bucket", Key="env:/staging/a/ws.tfstate", Body=STATES[1].read_bytes())
    pipeline = make_pipeline(aws, "s3://state-bucket/a/")
    pipeline.index.refresh()
    assert {d.url for d in pipeline.index.docs()} == {"s3://state-bucket/a/good.tfstate", "s3://state-bucket/env:/staging/a/ws.tfstate"}
    assert list(pipeline.index.errors) == ["s3://state-bucket/a/bad.tfstate"]
    assert "unsupported state format version 9" in pipeline.index.errors["s3://state-bucket/a/bad.tfstate"]


@pytest.fixture(scope="module")
def corpus_pipeline(aws_module):
    docs = [parse_state(str(p), p.read_bytes()) for p in STATES]
    pipeline = make_pipeline(aws_module, "")
    pipeline.index = StateIndex.from_docs(default_registry(), docs)
    return pipeline


@pytest.mark.parametrize("path", SG_FILES, ids=lambda p: p.name)
def test_every_sg_corpus_event_gets_a_clear_verdict(corpus_pipeline, path: Path):
    findings = corpus_pipeline.process_payload(json.loads(path.read_text()))
    assert findings
    for f in findings:
        assert f.status in set(Status)
        assert f.reason
        if f.status is Status.ERROR:
            assert "internal error" not in f.reason, f.reason
        if f.status not in (Status.SKIPPED, Status.IGNORED, Status.ERROR, Status.UNSUPPORTED):
            assert f.resource is not None and f.resource.id
            if f.object_kind == "ec2:security-group":
                assert f.resource.id.startswith("sg-")
