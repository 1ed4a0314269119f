"""Every AWS call a plugin makes is declared in its read/revert permissions (DESIGN §3, §6.5).

A ``before-call.*.*`` hook on the boto3 session sees every API call, maps it to the IAM action that
authorizes it (``chalicelib.iam_policy.iam_action``: S3's own action names, API Gateway's verbs) and
attributes it to what was running: a plugin's ``read_live``, the executor running a plugin's revert
plan, or Driftwarden itself (state index, store) - which must stay within the detector's own
statements. Three exercises, generic over the registry so plugins added later are covered:

1. the security-group family end to end on moto: event -> judge -> revert -> re-judge;
2. every owner plugin's ``read_live`` on moto, with object ids from its recorded CloudTrail events
   (the objects mostly do not exist there: the not-found path);
3. every owner plugin's ``read_live`` against responses synthesized from the botocore service model
   (every output member present; moto needs no support for the service), then its revert plan for a
   synthetic change, checked as data without calling AWS.

Exercise 3 answers from the service model, not from AWS: it proves which operations a plugin calls,
not that it handles real responses (its own functional tests do that).
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.awsrequest import AWSResponse
from moto import mock_aws

from chalicelib.aws import ClientFactory
from chalicelib.iam_policy import APP_ACTIONS, iam_action
from chalicelib.models import RemediationStatus, Status
from chalicelib.pipeline import Pipeline
from chalicelib.remediation.executor import assert_safe
from chalicelib.resources.base import Declared, LiveContext, ManagedResource, ResourcePlugin
from chalicelib.resources.registry import Registry, default_registry
from chalicelib.triggers.cloudtrail import parse_event
from tests.conftest import make_pipeline
from tests.fixtures_index import records_for
from tests.harness.events import sg_rule_event
from tests.harness.tfstate import StateBuilder, sg_attributes, sg_rule_block

REGISTRY = default_registry()
OWNERS = [p for p in REGISTRY if p.owner]
APP_ALLOWED = {a for actions in APP_ACTIONS.values() for a in actions}
CURRENT: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar("dw_plugin", default=None)
CALL_BUDGET = 200  # per plugin exercise: a plugin looping on synthesized data stops here


@dataclass(frozen=True)
class Call:
    plugin: str | None  # None: Driftwarden itself
    phase: str  # "read" | "revert" | "app"
    action: str
    operation: str


@dataclass
class Recorder:
    """The botocore hook. ``synthesize``: answer from the service model instead of sending."""

    synthesize: bool = False
    calls: list[Call] = field(default_factory=list)

    def install(self, session: boto3.session.Session) -> boto3.session.Session:
        session.events.register("before-call.*.*", self.before_call)
        return session

    def before_call(self, model: Any, params: Any = None, **_: Any) -> Any:
        current = CURRENT.get()
        action = iam_action(model.service_model.signing_name, model.name, model.http.get("method"))
        self.calls.append(Call(current[0] if current else None, current[1] if current else "app", action,
                               f"{model.service_model.service_name}.{model.name}"))
        if not self.synthesize:
            return None
        if len(self.calls) > CALL_BUDGET:
            raise RuntimeError(f"more than {CALL_BUDGET} calls: a loop on synthesized data")
        return AWSResponse("https://synthesized.invalid", 200, {}, None), synthesized_response(model)


_PAGINATION = ("token", "marker")
_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def _sample(shape: Any, name: str, depth: int = 0) -> Any:
    """A value of ``shape`` that botocore accepts back as a parameter: enums take their first
    value, strings their member name padded to the minimum length (ARNs look like ARNs)."""
    kind = shape.type_name
    if depth > 12:
        return None
    if kind == "structure":
        out = {}
        for member, member_shape in shape.members.items():
            if any(p in member.lower() for p in _PAGINATION):
                continue  # one page: nothing to continue from
            truncated = member in ("IsTruncated", "Truncated")
            value = False if truncated else _sample(member_shape, member, depth + 1)
            if value is not None:
                out[member] = value
        return out
    if kind == "list":
        item = _sample(shape.member, name, depth + 1)
        return [] if item is None else [item]
    if kind == "map":
        value = _sample(shape.value, "Value", depth + 1)
        return {} if value is None else {_sample(shape.key, "Key", depth + 1): value}
    if kind == "string":
        if shape.enum:
            return shape.enum[0]
        text = (f"arn:aws:synthesized:us-east-1:123456789012:{name.lower()}/synthesized"
                if name.lower().endswith("arn") else name)
        return text.ljust(int(shape.metadata.get("min", 0)), "x")
    if kind in ("integer", "long"):
        return max(int(shape.metadata.get("min", 1)), 1)
    if kind in ("float", "double"):
        return 1.0
    if kind == "boolean":
        return True
    if kind == "timestamp":
        return _EPOCH
    if kind == "blob":
        return b"synthesized"
    return None


def synthesized_response(model: Any) -> dict[str, Any]:
    """Every output member present, one element per list, a single page."""
    body = _sample(model.output_shape, "Output") if model.output_shape else {}
    body["ResponseMetadata"] = {"HTTPStatusCode": 200, "RequestId": "synthesized", "HTTPHeaders": {},
                                "RetryAttempts": 0}
    return body


# --- attribution ----------------------------------------------------------------------------------------


@contextlib.contextmanager
def acting(plugin: str, phase: str) -> Iterator[None]:
    token = CURRENT.set((plugin, phase))
    try:
        yield
    finally:
        CURRENT.reset(token)


@pytest.fixture
def attributed(monkeypatch):
    """Attribute calls: every owner's read_live to (type, "read"); a pipeline revert (its executor
    calls) to (owner type, "revert"), its re-reads still to "read"."""
    for plugin in OWNERS:
        original = type(plugin).read_live

        @functools.wraps(original)
        def read_live(ctx: LiveContext, object_id: str, _plugin: ResourcePlugin = plugin,
                      _original: Any = original) -> Any:
            with acting(_plugin.type, "read"):
                return _original(_plugin, ctx, object_id)

        # an instance attribute, removed afterwards (restoring a bound method would shadow the class)
        vars(plugin)["read_live"] = read_live
    original_revert = Pipeline.revert

    def revert(self: Pipeline, finding: Any) -> Any:
        with acting(self.registry.owner(finding.object_kind).type, "revert"):
            return original_revert(self, finding)

    monkeypatch.setattr(Pipeline, "revert", revert)
    yield
    for plugin in OWNERS:
        vars(plugin).pop("read_live", None)


def undeclared(calls: list[Call], registry: Registry) -> list[str]:
    """Calls whose IAM action is not declared where it must be."""
    problems = []
    for call in calls:
        if call.plugin is None:
            if call.action not in APP_ALLOWED:
                problems.append(f"Driftwarden itself called {call.operation} ({call.action}), which no "
                                "detector statement grants (chalicelib/iam_policy.py APP_ACTIONS)")
            continue
        plugin = registry.get(call.plugin)
        assert plugin is not None
        declared = plugin.read_permissions if call.phase == "read" else plugin.revert_permissions
        if call.action not in declared:
            where = "read_permissions" if call.phase == "read" else "revert_permissions"
            problems.append(f"{call.plugin}: {call.operation} needs {call.action}, "
                            f"which is not in its {where}")
    return sorted(set(problems))


_BOTOCORE = botocore.session.get_session()


def _signing(service: str) -> tuple[str, Any]:
    model = _BOTOCORE.get_service_model(service)
    return model.signing_name, model


def plan_actions(plan: tuple[Any, ...]) -> list[str]:
    """The IAM action of each planned call, as the executor would make it."""
    out = []
    for call in plan:
        signing, model = _signing(call.service)
        operation = model.operation_model(call.operation)
        out.append(iam_action(signing, operation.name, operation.http.get("method")))
    return out


# --- 1. the security-group family, end to end on moto ---------------------------------------------------

WORLD_SSH = [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]


def test_security_group_pipeline_calls_are_declared(aws, attributed):
    ec2, s3 = aws.client("ec2"), aws.client("s3")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    gid = ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc)["GroupId"]
    group = ec2.describe_security_groups(GroupIds=[gid])["SecurityGroups"][0]
    s3.create_bucket(Bucket="tfstate")
    attributes = sg_attributes(group, ingress=[sg_rule_block("tcp", 443, 443, ["0.0.0.0/0"])], egress=[])
    StateBuilder().add("aws_security_group", "web", attributes).put(s3, "tfstate", "prod/net.tfstate")
    ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=WORLD_SSH)

    recorder = Recorder()
    pipeline = make_pipeline(recorder.install(boto3.session.Session(region_name="us-east-1")), "s3://tfstate/prod/")
    event = sg_rule_event("AuthorizeSecurityGroupIngress", gid, WORLD_SSH)
    [finding] = pipeline.process_event(event)
    assert finding.status is Status.DRIFT, finding.reason
    result = pipeline.revert(finding)
    assert result.status is RemediationStatus.REVERTED, result.reason
    [again] = pipeline.process_event(event)
    assert again.status is Status.IN_SYNC

    seen = {(c.plugin, c.phase, c.action) for c in recorder.calls}
    assert ("aws_security_group", "read", "ec2:DescribeSecurityGroups") in seen
    assert ("aws_security_group", "revert", "ec2:RevokeSecurityGroupIngress") in seen
    assert (None, "app", "s3:ListBucket") in seen and (None, "app", "s3:GetObject") in seen
    assert undeclared(recorder.calls, REGISTRY) == []


# --- 2 and 3. every owner plugin ------------------------------------------------------------------------


def object_ids(plugin: ResourcePlugin) -> list[str]:
    """Ids in the right format for this object kind, from recorded CloudTrail events."""
    ids: list[str] = []
    for member in REGISTRY.family(plugin.object_kind):
        for spec in member.events:
            for _, doc in records_for(spec.source, spec.name):
                for oid in spec.extract(parse_event(doc).record):
                    if oid not in ids:
                        ids.append(oid)
    return ids[:2] or ["driftwarden-probe"]


ACTIVE: contextvars.ContextVar[Recorder | None] = contextvars.ContextVar("dw_iam_recorder", default=None)


def _dispatch(model: Any, **kwargs: Any) -> Any:
    recorder = ACTIVE.get()
    return recorder.before_call(model, **kwargs) if recorder else None


@functools.cache
def shared_context() -> LiveContext:
    """One session and client cache for every exercise (models load once); the hook hands each call
    to the recorder of the exercise running."""
    session = boto3.session.Session(region_name="us-east-1")
    session.events.register("before-call.*.*", _dispatch)
    factory = ClientFactory(session_factory=lambda: session, default_region="us-east-1")
    return factory.context(None, "us-east-1")


def _context(session: boto3.session.Session) -> LiveContext:
    factory = ClientFactory(session_factory=lambda: session, default_region="us-east-1")
    return factory.context(None, "us-east-1")


def _perturbed(value: Any) -> Any:
    """A declared value that differs from ``value`` the way a console edit would make it differ."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value + 1
    if isinstance(value, str):
        return value + "-declared"
    if isinstance(value, dict):
        return dict(list(value.items())[1:]) if value else {"declared": "value"}
    if isinstance(value, frozenset):
        return frozenset(sorted(value, key=str)[1:])
    if value is None:
        return "declared"
    return value


@dataclass
class Exercise:
    calls: list[Call] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    plans: list[tuple[Any, ...]] = field(default_factory=list)


def exercise(plugin: ResourcePlugin, synthesize: bool, plan: bool = False) -> Exercise:
    out = Exercise()
    ctx = shared_context()
    for oid in object_ids(plugin):
        recorder = Recorder(synthesize=synthesize)
        token = ACTIVE.set(recorder)
        try:
            with acting(plugin.type, "read"):
                live = plugin.read_live(ctx, oid)
        except Exception as exc:  # synthesized data may not make sense to the plugin: keep what it called
            out.errors.append(f"{oid}: {type(exc).__name__}: {exc}")
            live = None
        finally:
            ACTIVE.reset(token)
        out.calls += recorder.calls
        if plan and isinstance(live, dict) and live:
            resource = ManagedResource(plugin.type, f"{plugin.type}.probe", "s3://probe/probe.tfstate", {})
            declared = Declared(plugin.object_kind, oid, [resource],
                                model={k: _perturbed(v) for k, v in live.items()})
            try:
                changes = plugin.diff(declared, live)
                calls = plugin.plan_revert(oid, changes, declared, live) if changes else ()
            except Exception as exc:
                out.errors.append(f"{oid} plan: {type(exc).__name__}: {exc}")
                continue
            assert_safe(calls)
            out.plans.append(calls)
            out.calls += [Call(plugin.type, "revert", a, f"{c.service}.{c.operation}")
                          for a, c in zip(plan_actions(calls), calls, strict=True)]
    return out


@pytest.mark.parametrize("plugin", OWNERS, ids=lambda p: p.type)
def test_read_live_on_moto_calls_only_declared_operations(aws_module, plugin):
    result = exercise(plugin, synthesize=False)
    assert result.calls, f"{plugin.type}.read_live made no AWS call ({result.errors})"
    assert undeclared(result.calls, REGISTRY) == []


@pytest.mark.parametrize("plugin", OWNERS, ids=lambda p: p.type)
def test_read_live_and_revert_plan_on_synthesized_responses_are_declared(aws_module, plugin):
    # aws_module: moto answers anything that escaped the synthesizer, never a real endpoint
    result = exercise(plugin, synthesize=True, plan=plugin.revertible())
    assert any(c.phase == "read" for c in result.calls), f"{plugin.type}.read_live made no AWS call"
    assert undeclared(result.calls, REGISTRY) == []


def test_security_group_revert_plan_is_exercised_on_synthesized_responses(aws_module):
    """Exercise 3 reaches revert plans (not vacuous): the security group's synthetic drift plans
    authorize/revoke/tag calls, all declared."""
    plugin = REGISTRY.get("aws_security_group")
    result = exercise(plugin, synthesize=True, plan=True)
    planned = {c.action for c in result.calls if c.phase == "revert"}
    assert planned and planned <= set(plugin.revert_permissions), (planned, result.errors)


# --- the check can fail ---------------------------------------------------------------------------------


class _Undeclared(ResourcePlugin):
    """Reads two things, declares one."""

    type = "aws_probe_undeclared"
    service = "ec2"
    object_kind = "ec2:probe"
    read_permissions = ("ec2:DescribeSecurityGroups",)
    revert_permissions = ("ec2:CreateTags",)

    def read_live(self, ctx: LiveContext, object_id: str) -> dict[str, Any] | None:
        self.call(ctx, "describe_security_groups", GroupIds=[object_id])
        self.call(ctx, "describe_vpcs", VpcIds=["vpc-0123456789abcdef0"])
        return {"name": "x"}


def test_an_undeclared_call_is_reported():
    registry = Registry()
    registry.register(_Undeclared)
    plugin = registry.get("aws_probe_undeclared")
    recorder = Recorder(synthesize=True)
    with mock_aws(), acting(plugin.type, "read"):
        plugin.read_live(_context(recorder.install(boto3.session.Session(region_name="us-east-1"))), "sg-1")
    assert [c.action for c in recorder.calls] == ["ec2:DescribeSecurityGroups", "ec2:DescribeVpcs"]
    assert undeclared(recorder.calls, registry) == [
        "aws_probe_undeclared: ec2.DescribeVpcs needs ec2:DescribeVpcs, which is not in its read_permissions"]
    outside = [Call(None, "app", "dynamodb:DeleteTable", "dynamodb.DeleteTable")]
    assert undeclared(outside, registry)[0].startswith("Driftwarden itself called dynamodb.DeleteTable")


def test_iam_action_names_follow_iam_not_the_api():
    s3 = _BOTOCORE.get_service_model("s3")
    assert iam_action("s3", "ListObjectsV2") == "s3:ListBucket"
    assert iam_action("s3", "GetBucketEncryption") == "s3:GetEncryptionConfiguration"
    assert iam_action("s3", "DeletePublicAccessBlock") == "s3:PutBucketPublicAccessBlock"
    assert iam_action("s3", "GetBucketPolicy") == "s3:GetBucketPolicy"
    assert iam_action(s3.signing_name, "HeadObject") == "s3:GetObject"
    assert iam_action(_BOTOCORE.get_service_model("cloudwatch").signing_name, "DescribeAlarms") == \
        "cloudwatch:DescribeAlarms"
    assert iam_action("apigateway", "GetRestApi", "GET") == "apigateway:GET"
    assert iam_action("lambda", "UpdateFunctionConfiguration20150331v2") == \
        "lambda:UpdateFunctionConfiguration"
    assert iam_action("cloudfront", "GetDistributionConfig2020_05_31") == "cloudfront:GetDistributionConfig"


@pytest.mark.parametrize("plugin", list(REGISTRY), ids=lambda p: p.type)
def test_declared_names_are_iam_actions_not_api_names(plugin):
    """s3:GetBucketEncryption is an API name; IAM only knows s3:GetEncryptionConfiguration."""
    for action in (*plugin.read_permissions, *plugin.revert_permissions):
        prefix, name = action.split(":", 1)
        expected = iam_action(prefix, name)
        assert expected == action, f"{plugin.type}: declare {expected}, not {action}"
