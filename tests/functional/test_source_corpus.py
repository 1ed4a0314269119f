"""Every real state in the corpus, judged with its real ``.tf`` source mapped by ``DRIFTWARDEN_SOURCE``.

tests/fixtures/corpus/tfstate/<stem>.tfstate[.backup].json was written from the configuration in
tests/fixtures/corpus/tf/<stem> (MANIFEST.tsv). Through the wiring the Lambda uses, each state gets
its directory, and every managed object of a covered type is judged by ``Pipeline.judge`` with its
source read: a resource whose block is found is judged silently, one whose block cannot be read says
which file and line and that judgment fell back to the state. Live models are injected through
``judge(live_cache=...)`` (the scan's batched-read path), so no AWS object needs to exist.

The corpus sources contain no ``ignore_changes``, so copies get one (``ignore_changes = [tags]`` in
every block of a type that compares tags, inside an existing ``lifecycle`` block where there is one):
a tag drift on each such object is then ``ignored`` naming the block's file and line, while the
unmodified source reports the same drift. The same is shown end to end on moto with a CloudTrail
event, and a source that no longer parses falls back to state-only judgment and still reports drift.
Expected files and lines come from a plain text scan of the sources, never from the code under test.
"""

from __future__ import annotations

import copy
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib import wiring
from chalicelib.models import Finding, Severity, Status
from chalicelib.pipeline import Pipeline
from chalicelib.resources.base import EventKind, ManagedResource
from chalicelib.resources.registry import default_registry
from chalicelib.state.source import SourceError, parse_address
from chalicelib.triggers.cloudtrail import Ref
from tests.conftest import CORPUS
from tests.harness.events import cloudtrail_event

STATES = sorted((Path(CORPUS) / "tfstate").iterdir())
INJECTED = "dw-injected"
BUCKET_STEM = "MuhammedAnzam__Terraform-based-AWS-infrastructure-deployment__s3__terraform"
BUCKET = "webs3bucketusingterraform1"  # aws_s3_bucket.bucket in that state


def source_dir_for(state: Path) -> Path:
    """MANIFEST.tsv: tf/<stem> holds the configuration of tfstate/<stem>.tfstate[.backup].json."""
    return Path(CORPUS) / "tf" / state.name.split(".tfstate")[0]


# --- an independent reading of the text -------------------------------------------------------------------
_HEAD = re.compile(r'^[ \t]*resource[ \t]+"([^"]+)"[ \t]+"([^"]+)"[ \t]*\{', re.M)
_LIFECYCLE = re.compile(r"^[ \t]*lifecycle[ \t]*\{", re.M)


def block_end(text: str, brace: int) -> int:
    """Offset just after the brace closing the one at ``brace`` (strings and comments skipped)."""
    depth, i = 0, brace
    while i < len(text):
        ch = text[i]
        if ch == '"':
            i += 1
            while i < len(text) and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
        elif ch == "#" or text.startswith("//", i):
            i = text.find("\n", i)
            if i < 0:
                return len(text)
            continue
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise AssertionError("unbalanced braces")


def resource_heads(directory: Path) -> dict[tuple[str, str], tuple[Path, int]]:
    """(type, name) → (file, line) of every ``resource`` block in the directory's ``*.tf`` files."""
    out: dict[tuple[str, str], tuple[Path, int]] = {}
    for path in sorted(directory.glob("*.tf")):
        text = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), path.read_text(), flags=re.S)
        for m in _HEAD.finditer(text):
            out[(m.group(1), m.group(2))] = (path, text.count("\n", 0, m.start()) + 1)
    return out


def tag_comparing_types() -> set[str]:
    return {p.type for p in default_registry() if p.owner and "tags" in p.compared}


def inject_ignore_tags(text: str, types: set[str]) -> tuple[str, int]:
    """``ignore_changes = [tags]`` in every block of ``types`` (inside its own lifecycle block when
    it has one). Returns the new text and how many blocks were changed."""
    out, changed = text, 0
    for m in reversed(list(_HEAD.finditer(text))):
        if m.group(1) not in types:
            continue
        end = block_end(out, m.end() - 1)
        life = _LIFECYCLE.search(out, m.end(), end)
        if life is not None:
            out = out[:life.end()] + "\n    ignore_changes = [tags]\n" + out[life.end():]
        else:
            out = out[:m.end()] + "\n  lifecycle {\n    ignore_changes = [tags]\n  }\n" + out[m.end():]
        changed += 1
    return out, changed


def config_address(address: str) -> str:
    modules, _, tf_type, name = parse_address(address)
    return "".join(f"module.{m}." for m in modules) + f"{tf_type}.{name}"


# --- judging every object of a state ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def account(aws_module: boto3.session.Session) -> Iterator[boto3.session.Session]:
    """Nothing here reads AWS (live models are injected), but no stray call may leave the process."""
    yield aws_module


def corpus_pipeline(env: Any, state: Path, source: Path) -> Pipeline:
    env(DRIFTWARDEN_STATE=str(state), DRIFTWARDEN_SOURCE=f"{state}={source}")
    pipeline = wiring.pipeline()
    assert pipeline.source is not None and pipeline.source.root_for(str(state)) == str(source)
    pipeline.index.ensure_fresh()
    assert not pipeline.index.errors
    return pipeline


def objects(pipeline: Pipeline) -> list[tuple[str, str, list[ManagedResource]]]:
    return [(kind, oid, list(resources)) for kind, oid, resources in pipeline.index.objects()]


def judge(pipeline: Pipeline, kind: str, oid: str, resources: list[ManagedResource],
          live: dict[str, Any]) -> Finding:
    first = resources[0]
    return pipeline.judge(Ref(kind, oid, EventKind.MODIFY, first.account, first.region), None,
                          live_cache={oid: live})


def declared_model(pipeline: Pipeline, kind: str, oid: str,
                   resources: list[ManagedResource]) -> dict[str, Any]:
    return copy.deepcopy(pipeline.declared(kind, oid, resources).model)


@pytest.mark.parametrize("state", STATES, ids=lambda p: p.name.split(".tfstate")[0][:60])
def test_every_corpus_state_is_judged_with_its_source(account: Any, env: Any, state: Path) -> None:
    """Each object judged in sync against its own declaration; a note naming file and line exactly
    for the resources whose block the source cannot give (modules the corpus does not hold)."""
    source = source_dir_for(state)
    pipeline = corpus_pipeline(env, state, source)
    heads = resource_heads(source)
    source_index = pipeline.source
    assert source_index is not None
    found = judged = 0
    for kind, oid, resources in objects(pipeline):
        finding = judge(pipeline, kind, oid, resources, declared_model(pipeline, kind, oid, resources))
        assert finding.status is Status.IN_SYNC, finding.reason
        judged += 1
        for res in resources:
            modules, _, tf_type, name = parse_address(res.address)
            try:
                got = source_index.lookup(res.state_url, res.address)
            except SourceError as exc:
                assert modules or (tf_type, name) not in heads, (res.address, str(exc))
                assert exc.file.startswith(str(source)), exc.file
                assert f"source unreadable ({exc}); judged from the state only" in finding.reason
                continue
            assert got is not None and not modules
            assert (Path(got.file), got.line) == heads[(tf_type, name)], res.address
            found += 1
        if all(not parse_address(r.address)[0] and (r.type, parse_address(r.address)[3]) in heads
               for r in resources):
            assert "source unreadable" not in finding.reason, finding.reason
    assert judged, "every corpus state has at least one covered object"
    assert found or all(r.module for _, _, rs in objects(pipeline) for r in rs)


@pytest.mark.parametrize("state", STATES, ids=lambda p: p.name.split(".tfstate")[0][:60])
def test_an_ignore_changes_added_to_a_corpus_source_is_honoured(account: Any, env: Any, state: Path,
                                                                tmp_path: Path) -> None:
    """A tag drift on every object whose owner block now says ``ignore_changes = [tags]`` is ignored,
    naming that block's file and line; with the source as committed the same drift is reported."""
    types = tag_comparing_types()
    plain_dir = source_dir_for(state)
    edited = tmp_path / plain_dir.name
    shutil.copytree(plain_dir, edited)
    injected = 0
    for path in edited.glob("*.tf"):
        text, n = inject_ignore_tags(path.read_text(), types)
        path.write_text(text)
        injected += n
    heads = resource_heads(edited)
    plain = corpus_pipeline(env, state, plain_dir)
    quiet = corpus_pipeline(env, state, edited)
    registry = default_registry()
    checked = 0
    for kind, oid, resources in objects(quiet):
        owner_type = registry.owner(kind).type
        owner = next((r for r in resources if r.type == owner_type), None)
        if owner is None or owner_type not in types or parse_address(owner.address)[0]:
            continue  # no owner resource, a type without tags, or a module the corpus does not hold
        _, _, tf_type, name = parse_address(owner.address)
        if (tf_type, name) not in heads:
            continue  # the state has a resource its source no longer declares (unit-tested elsewhere)
        live = declared_model(quiet, kind, oid, resources)
        tags = live.get("tags") if isinstance(live.get("tags"), dict) else {}
        live["tags"] = {**tags, INJECTED: "by hand"}
        loud = judge(plain, kind, oid, resources, copy.deepcopy(live))
        assert loud.status is Status.DRIFT, loud.reason
        assert [c.path for c in loud.changes] == [f"tags.{INJECTED}"], loud.reason
        assert loud.severity is Severity.LOW
        finding = judge(quiet, kind, oid, resources, live)
        path, line = heads[(tf_type, name)]
        assert finding.status is Status.IGNORED, finding.reason
        assert finding.reason.startswith(f"lifecycle.ignore_changes (tags.{INJECTED}) on "
                                         f"{config_address(owner.address)} at {path}:{line}"), finding.reason
        checked += 1
    if injected and any(not r.module for _, _, rs in objects(quiet) for r in rs if r.type in types):
        assert checked, "an ignore_changes was injected into a block this state manages"


def test_the_corpus_tests_are_not_vacuous() -> None:
    """Most states have a root-module block of a tag-comparing type, so the test above checks them."""
    types = tag_comparing_types()
    with_blocks = [s for s in STATES if any(t in types for t, _ in resource_heads(source_dir_for(s)))]
    assert len(STATES) >= 20 and len(with_blocks) >= 15


# --- end to end on moto: a CloudTrail event, the source beside a real corpus state --------------------------
@pytest.fixture
def corpus_bucket(account: boto3.session.Session) -> Iterator[Any]:
    """The bucket of the corpus state, as its configuration made it (versioning on, SSE-S3), and a
    tag someone added by hand afterwards."""
    s3 = account.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_encryption(Bucket=BUCKET, ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    s3.put_bucket_tagging(Bucket=BUCKET, Tagging={"TagSet": [{"Key": "owner", "Value": "bob"}]})
    yield s3
    s3.delete_bucket_tagging(Bucket=BUCKET)
    s3.delete_bucket_encryption(Bucket=BUCKET)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Suspended"})
    s3.delete_bucket(Bucket=BUCKET)


def tagging_event() -> dict[str, Any]:
    return cloudtrail_event("PutBucketTagging", "s3.amazonaws.com", {
        "bucketName": BUCKET, "Host": f"{BUCKET}.s3.amazonaws.com", "tagging": "",
        "Tagging": {"xmlns": "http://s3.amazonaws.com/doc/2006-03-01/",
                    "TagSet": {"Tag": [{"Key": "owner", "Value": "bob"}]}}})


def bucket_source(tmp_path: Path) -> tuple[Path, Path, Path]:
    state = next(s for s in STATES if s.name.startswith(BUCKET_STEM))
    edited = tmp_path / BUCKET_STEM
    shutil.copytree(source_dir_for(state), edited)
    main = edited / "main.tf"
    text, n = inject_ignore_tags(main.read_text(), {"aws_s3_bucket"})
    assert n == 1
    main.write_text(text)
    return state, edited, main


def test_ignore_changes_in_a_corpus_source_is_honoured_for_a_cloudtrail_event(
        corpus_bucket: Any, env: Any, tmp_path: Path) -> None:
    state, edited, main = bucket_source(tmp_path)
    [(path, line)] = [v for k, v in resource_heads(edited).items() if k == ("aws_s3_bucket", "bucket")]
    env(DRIFTWARDEN_STATE=str(state))
    [loud] = wiring.pipeline().process_event(tagging_event())
    assert loud.status is Status.DRIFT and [c.path for c in loud.changes] == ["tags.owner"], loud.reason
    env(DRIFTWARDEN_STATE=str(state), DRIFTWARDEN_SOURCE=f"{state}={edited}")
    [finding] = wiring.pipeline().process_event(tagging_event())
    assert finding.status is Status.IGNORED
    assert (path, line) == (main, 6)
    assert finding.reason == f"lifecycle.ignore_changes (tags.owner) on aws_s3_bucket.bucket at {main}:6"
    assert finding.resource.address == "aws_s3_bucket.bucket" and finding.resource.state == str(state)


def test_a_source_that_does_not_parse_falls_back_to_the_state_and_still_reports_drift(
        corpus_bucket: Any, env: Any, tmp_path: Path) -> None:
    """Someone pushes a half-written block. The ignore_changes in the same file can no longer be
    trusted, so the tag drift is reported, and the reason says which file and line broke."""
    state, edited, main = bucket_source(tmp_path)
    broken_line = len(main.read_text().splitlines()) + 3
    with main.open("a") as f:
        f.write('\nresource "aws_s3_bucket" "logs" {\n  bucket = \n}\n')
    env(DRIFTWARDEN_STATE=str(state), DRIFTWARDEN_SOURCE=f"{state}={edited}")
    [finding] = wiring.pipeline().process_event(tagging_event())
    assert finding.status is Status.DRIFT and finding.severity is Severity.LOW
    assert [c.path for c in finding.changes] == ["tags.owner"]
    assert f"source unreadable ({main}:{broken_line}: " in finding.reason, finding.reason
    assert "judged from the state only" in finding.reason
    assert finding.reason.startswith("1 attribute change(s) differ from aws_s3_bucket.bucket; "
                                     "severity low by rule ")
