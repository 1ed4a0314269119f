"""infra/ (the Terraform module), validated structurally: there is no terraform binary here.

Every infra/**/*.tf and examples/**/*.tf parses with python-hcl2 (8.x: quotes kept on strings and
labels, blocks marked ``__is_block__``); every reference resolves inside its module; module calls
pass exactly the child's variables; the generated files Terraform reads are fresh and agree with
the registry and app.py; IAM is least privilege and generated; the bundle builds.
"""

from __future__ import annotations

import itertools
import json
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import hcl2
import pytest
import yaml

from chalicelib import iam_policy
from chalicelib.notify.blocks import REVERT
from chalicelib.resources.base import EventSpec, ResourcePlugin
from chalicelib.resources.registry import Registry, default_registry
from chalicelib.state.locations import parse_locations
from chalicelib.triggers.cloudtrail import eventbridge_pattern
from infra import generate, package

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
EXAMPLES = ROOT / "examples"
DEPLOY_DOC = ROOT / "docs" / "DEPLOY.md"
MODULE_DIRS = sorted({p.parent for p in [*INFRA.rglob("*.tf"), *EXAMPLES.rglob("*.tf")]})
META_ARGS = {"source", "version", "count", "for_each", "providers", "depends_on"}
# Functions and blocks newer than required_version >= 1.5 would break on the oldest allowed Terraform.
NEWER_THAN_1_5 = re.compile(r"\b(templatestring|ephemeralasnull|issensitive)\s*\(|provider::")


# --- a small HCL model ----------------------------------------------------------------------------------


def unquote(text: str) -> str:
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] == '"' else text


def _balanced(text: str, start: int) -> int:
    """Index just past the ``}`` closing the ``{`` at ``start`` (strings inside are skipped)."""
    depth, i, in_str = 0, start, False
    while i < len(text):
        c = text[i]
        if in_str:
            if c == "\\":
                i += 2
                continue
            if c == '"':
                in_str = False
            elif c in "$%" and text.startswith("{", i + 1):
                i = _balanced(text, i + 1)
                continue
        elif c == '"':
            in_str = True
        elif c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return len(text)


def code_of(text: str) -> str:
    """The code in an hcl2 value: literal string contents dropped, interpolations kept."""
    if text.startswith("${") and text.endswith("}"):
        text = text[2:-1]
    out, i, in_str = [], 0, False
    while i < len(text):
        c = text[i]
        if in_str:
            if c == "\\":
                i += 2
                continue
            if text.startswith("$${", i):
                i += 3
                continue
            if c in "$%" and text.startswith("{", i + 1):
                end = _balanced(text, i + 1)
                out.append(" " + code_of("${" + text[i + 2:end - 1] + "}") + " ")
                i = end
                continue
            if c == '"':
                in_str = False
                out.append('""')
        elif c == '"':
            in_str = True
        else:
            out.append(c)
        i += 1
    return "".join(out)


def strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for k, v in node.items():
            if not k.startswith("__"):
                yield from strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from strings(v)


def literal_strings(node: Any) -> Iterator[str]:
    """Plain string literals (no interpolation) anywhere in a block, including inside expressions."""
    for text in strings(node):
        for m in re.finditer(r'"((?:[^"\\$]|\\.)*)"', text):
            yield m.group(1)


REF = {
    "var": re.compile(r"(?<![\w.])var\.([A-Za-z_][\w-]*)"),
    "local": re.compile(r"(?<![\w.])local\.([A-Za-z_][\w-]*)"),
    "module": re.compile(r"(?<![\w.])module\.([A-Za-z_][\w-]*)(?:\[[^\]]*\])?(?:\.([A-Za-z_][\w-]*))?"),
    "data": re.compile(r"(?<![\w.])data\.([a-z0-9_]+)\.([A-Za-z_][\w-]*)"),
    "resource": re.compile(r"(?<![\w.:])(aws_[a-z0-9_]+)\.([A-Za-z_][\w-]*)"),
    "provider": re.compile(r"(?<![\w.:])aws\.([A-Za-z_][\w-]*)"),
}


@dataclass
class Module:
    path: Path
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    variables: dict[str, dict[str, Any]] = field(default_factory=dict)
    locals: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    resources: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    data: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    modules: dict[str, dict[str, Any]] = field(default_factory=dict)
    providers: list[dict[str, Any]] = field(default_factory=list)
    terraform: list[dict[str, Any]] = field(default_factory=list)

    @property
    def rel(self) -> str:
        return str(self.path.relative_to(ROOT)) if self.path.is_relative_to(ROOT) else str(self.path)

    def blocks(self) -> Iterator[tuple[str, dict[str, Any]]]:
        for (t, n), b in self.resources.items():
            yield f"resource {t}.{n}", b
        for (t, n), b in self.data.items():
            yield f"data {t}.{n}", b
        for n, b in self.modules.items():
            yield f"module {n}", b
        for n, b in self.outputs.items():
            yield f"output {n}", b
        for n, b in self.variables.items():
            yield f"variable {n}", b
        for n, v in self.locals.items():
            yield f"local {n}", {"value": v}
        for i, b in enumerate(self.providers):
            yield f"provider #{i}", b

    def refs(self, kind: str) -> Iterator[tuple[str, tuple[str, ...]]]:
        for where, block in self.blocks():
            for text in strings(block):
                for m in REF[kind].finditer(code_of(text)):
                    yield where, m.groups()


@cache
def load_module(path: Path) -> Module:
    mod = Module(path)
    for tf in sorted(path.glob("*.tf")):
        with tf.open() as fh:
            doc = hcl2.load(fh)
        mod.files[tf.name] = doc
        for block in doc.get("variable", []):
            for name, body in block.items():
                mod.variables[unquote(name)] = body
        for block in doc.get("locals", []):
            mod.locals.update({k: v for k, v in block.items() if not k.startswith("__")})
        for block in doc.get("output", []):
            for name, body in block.items():
                mod.outputs[unquote(name)] = body
        for kind, target in (("resource", mod.resources), ("data", mod.data)):
            for block in doc.get(kind, []):
                for rtype, named in block.items():
                    for rname, body in named.items():
                        target[(unquote(rtype), unquote(rname))] = body
        for block in doc.get("module", []):
            for name, body in block.items():
                mod.modules[unquote(name)] = body
        for block in doc.get("provider", []):
            for _, body in block.items():
                mod.providers.append(body)
        mod.terraform.extend(doc.get("terraform", []))
    return mod


def child_of(mod: Module, call: dict[str, Any]) -> Module:
    source = unquote(call["source"])
    assert source.startswith(("./", "../")), f"{mod.rel}: module source {source!r} is not local"
    path = (mod.path / source).resolve()
    assert path.is_dir(), f"{mod.rel}: module source {source} does not exist"
    return load_module(path)


MODULES = [load_module(p) for p in MODULE_DIRS]
IDS = [m.rel for m in MODULES]


# --- parsing and references -----------------------------------------------------------------------------


def test_every_tf_file_parses_and_the_layout_is_complete():
    tf_files = sorted(str(p.relative_to(ROOT)) for p in [*INFRA.rglob("*.tf"), *EXAMPLES.rglob("*.tf")])
    parsed = sorted(f"{m.rel}/{name}" for m in MODULES for name in m.files)
    assert parsed == tf_files
    assert {m.rel for m in MODULES} >= {"infra", "infra/member", "infra/trail", "examples/deploy"}


@pytest.mark.parametrize("mod", MODULES, ids=IDS)
def test_terraform_and_provider_versions(mod):
    assert mod.terraform, f"{mod.rel}: no terraform block"
    [tf] = mod.terraform
    assert unquote(tf["required_version"]) == ">= 1.5"
    [providers] = tf["required_providers"]
    assert set(providers) - {"__is_block__"} == {"aws"}
    assert unquote(providers["aws"]["source"]) == "hashicorp/aws"
    assert unquote(providers["aws"]["version"]) == ">= 5.0"


def reference_problems(mod: Module) -> list[str]:
    """What `terraform validate` would say about references: each must name something declared."""
    problems = []
    for where, (name,) in mod.refs("var"):
        if name not in mod.variables:
            problems.append(f"{where}: var.{name} is not declared")
    for where, (name,) in mod.refs("local"):
        if name not in mod.locals:
            problems.append(f"{where}: local.{name} is not defined")
    for where, (rtype, rname) in mod.refs("data"):
        if (rtype, rname) not in mod.data:
            problems.append(f"{where}: data.{rtype}.{rname} is not declared")
    for where, (rtype, rname) in mod.refs("resource"):
        if (rtype, rname) not in mod.resources:
            problems.append(f"{where}: {rtype}.{rname} is not declared")
    for where, (name, output) in mod.refs("module"):
        if name not in mod.modules:
            problems.append(f"{where}: module.{name} is not declared")
        elif output and output not in child_of(mod, mod.modules[name]).outputs:
            problems.append(f"{where}: module.{name} has no output {output!r}")
    aliases = {unquote(p["alias"]) for p in mod.providers if "alias" in p}
    for where, (alias,) in mod.refs("provider"):
        if alias not in aliases:
            problems.append(f"{where}: provider aws.{alias} is not configured")
    return problems


def unused_problems(mod: Module) -> list[str]:
    used_vars = {n for _, (n,) in mod.refs("var")}
    used_locals = {n for _, (n,) in mod.refs("local")}
    return ([f"variable {n} is never used" for n in sorted(set(mod.variables) - used_vars)]
            + [f"local {n} is never used" for n in sorted(set(mod.locals) - used_locals)])


def module_call_problems(mod: Module) -> list[str]:
    problems = []
    for name, call in mod.modules.items():
        child = child_of(mod, call)
        args = {k for k in call if not k.startswith("__")} - META_ARGS
        for arg in sorted(args - set(child.variables)):
            problems.append(f"module.{name} passes {arg}, which {child.rel} does not declare")
        for var in sorted({v for v, body in child.variables.items() if "default" not in body} - args):
            problems.append(f"module.{name} does not pass {var}, which {child.rel} requires")
    return problems


def meta_argument_problems(mod: Module) -> list[str]:
    problems = []
    for where, block in mod.blocks():
        if not where.startswith(("resource", "data", "module")):
            continue
        code = " ".join(code_of(s) for s in strings(block))
        if re.search(r"(?<![\w.])each\.(key|value)", code) and "for_each" not in block:
            problems.append(f"{where} uses each.* without for_each")
        if re.search(r"(?<![\w.])count\.index", code) and "count" not in block:
            problems.append(f"{where} uses count.index without count")
    return problems


def compatibility_problems(mod: Module) -> list[str]:
    """Anything the oldest allowed versions (Terraform 1.5, AWS provider 5.0) would reject."""
    problems = []
    for where, block in mod.blocks():
        for text in strings(block):
            if NEWER_THAN_1_5.search(code_of(text)):
                problems.append(f"{where}: needs a newer Terraform: {text[:80]}")
    for name, body in mod.variables.items():
        # Validation conditions may only reference their own variable before Terraform 1.9.
        for validation in body.get("validation", []):
            others = {n for n in REF["var"].findall(code_of(validation["condition"])) if n != name}
            if others:
                problems.append(f"variable {name}: validation references {sorted(others)} (Terraform 1.9+)")
    for doc in mod.files.values():
        for block in sorted(set(doc) & {"removed", "ephemeral"}):
            problems.append(f"{mod.rel}: a {block} block needs a newer Terraform")
    for t in sorted({t for t, _ in mod.resources} | {t for t, _ in mod.data}):
        if not t.startswith("aws_"):
            problems.append(f"{t}: only the aws provider is declared")
    return problems


CHECKS = (reference_problems, unused_problems, module_call_problems, meta_argument_problems,
          compatibility_problems)


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("mod", MODULES, ids=IDS)
def test_module_is_valid(mod, check):
    problems = check(mod)
    assert not problems, "\n".join(problems)


BROKEN = {
    "main.tf": """
terraform {
  required_version = ">= 1.5"
}
variable "used" {
  type = string
  validation {
    condition     = var.used != var.other
    error_message = "x"
  }
}
variable "other" {
  type    = string
  default = "x"
}
variable "idle" {
  type    = string
  default = "x"
}
locals {
  a = "${var.used}-${var.missing}-data.json"
  b = local.nowhere
  c = templatestring(local.a, {})
}
resource "aws_sqs_queue" "q" {
  name = "${local.a}-${each.key}"
  tags = { x = aws_sns_topic.missing.arn, y = data.aws_region.here.name, z = module.child.nothing }
}
module "child" {
  source  = "./child"
  unknown = 1
}
output "o" {
  value = [local.b, local.c, module.elsewhere.x]
}
""",
    "child/main.tf": """
variable "needed" {
  type = string
}
output "out" {
  value = var.needed
}
""",
}


def test_the_checks_catch_a_broken_module(tmp_path):
    """Negative control: every check above finds what it is for (and not the decoys)."""
    for name, text in BROKEN.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    mod = load_module(tmp_path)
    assert sorted(p.split(": ", 1)[1] for p in reference_problems(mod)) == sorted([
        "var.missing is not declared", "local.nowhere is not defined",
        "aws_sns_topic.missing is not declared",
        "data.aws_region.here is not declared", "module.child has no output 'nothing'",
        "module.elsewhere is not declared"])
    assert unused_problems(mod) == ["variable idle is never used"]
    child = f"{mod.rel}/child"
    assert module_call_problems(mod) == [f"module.child passes unknown, which {child} does not declare",
                                         f"module.child does not pass needed, which {child} requires"]
    assert meta_argument_problems(mod) == ["resource aws_sqs_queue.q uses each.* without for_each"]
    found = compatibility_problems(mod)
    assert any("templatestring" in p for p in found)
    assert any("validation references ['other']" in p for p in found)


@pytest.mark.parametrize("mod", [m for m in MODULES if m.path.is_relative_to(INFRA)],
                         ids=[m.rel for m in MODULES if m.path.is_relative_to(INFRA)])
def test_variables_are_described_and_required_ones_documented(mod):
    doc = DEPLOY_DOC.read_text()
    for name, body in mod.variables.items():
        assert unquote(body.get("description", "")).strip(), f"{mod.rel}: variable {name} has no description"
        assert "type" in body, f"{mod.rel}: variable {name} has no type"
        if "default" not in body:
            assert f"`{name}`" in doc, f"{mod.rel}: required variable {name} is not listed in docs/DEPLOY.md"
    for name, body in mod.outputs.items():
        assert unquote(body.get("description", "")).strip(), f"{mod.rel}: output {name} has no description"


def test_required_inputs_are_the_ones_the_issue_names():
    central = load_module(INFRA)
    required = {n for n, b in central.variables.items() if "default" not in b}
    assert required == {"state_locations", "slack_secret_arn", "slack_channel", "approvers", "iac_principals"}
    for optional in ("member_account_ids", "member_regions", "scan_schedule", "finding_ttl_hours",
                     "auto_revert", "source_locations", "policy_location", "state_accounts", "create_trail"):
        assert "default" in central.variables[optional], optional


# --- generated files ------------------------------------------------------------------------------------


@cache
def rendered() -> dict[str, str]:
    return generate.render()


def test_generated_files_are_fresh():
    stale = generate.stale_files(rendered())
    assert not stale, f"infra/generated is stale ({', '.join(stale)}): {generate.REGENERATE}"


def test_generated_files_are_what_terraform_reads():
    central, member = load_module(INFRA), load_module(INFRA / "member")
    central_code = [s for s in strings(central.locals) if "jsondecode(file(" in s]
    member_code = [s for s in strings(member.locals) if "jsondecode(file(" in s]
    # the central rules take their patterns from functions.json (on_cloudtrail's are the CloudTrail
    # patterns, see test_functions_manifest_matches_app_py); members forward with the same patterns
    for name in ("functions.json", "detector-policy.json", "remediator-policy.json"):
        assert any(f"{{path.module}}/generated/{name}" in s for s in central_code), name
    for name in ("cloudtrail-patterns.json", "detector-policy.json", "remediator-policy.json"):
        assert any(f"{{path.module}}/../generated/{name}" in s for s in member_code), name
    for name in rendered():
        if name.endswith(".json"):
            json.loads((INFRA / "generated" / name).read_text())


def test_cloudtrail_patterns_cover_the_registry_and_fit_eventbridge():
    patterns = json.loads(rendered()["cloudtrail-patterns.json"])
    registry = default_registry()
    want = eventbridge_pattern(registry)
    assert patterns
    for p in patterns:
        text = generate.compact(p)
        assert len(text) <= generate.PATTERN_LIMIT, len(text)
        assert not set("<>&") & set(text), "Terraform's jsonencode escapes <>&: sizes would differ"
        assert p["detail-type"] == ["AWS API Call via CloudTrail"]
    sources = [s for p in patterns for s in p["source"]]
    assert sorted(sources) == want["source"], "every covered source exactly once"


def test_functions_manifest_matches_app_py():
    import app as app_module

    functions = json.loads(rendered()["functions.json"])
    assert functions["on_cloudtrail"]["bus"] == "central"
    assert functions["on_cloudtrail"]["patterns"] == json.loads(rendered()["cloudtrail-patterns.json"])
    assert functions["on_schedule"]["schedule"] == "rate(1 hour)"
    assert {"method": "POST", "path": "/slack/actions"} in functions["api"]["routes"]
    handlers = {src.name: src.handler_string for src in app_module.app.event_sources}
    assert {k: v for k, v in ((n, f["handler"]) for n, f in functions.items()) if k != "api"} == handlers
    keys = {frozenset(f) for f in functions.values()}
    assert len(keys) == 1, "every entry has every key (Terraform reads any attribute of any entry)"


def test_functions_manifest_wires_future_handlers():
    """The handlers the issue announces deploy with no Terraform edit: an SQS worker, an S3 state
    handler (EventBridge "Object Created") and a sweep on a schedule."""
    from chalice import Chalice, Rate

    app = Chalice(app_name="probe")

    @app.on_cw_event({"detail-type": [generate.CLOUDTRAIL_DETAIL_TYPE], "source": ["aws.ec2"]},
                     name="on_cloudtrail")
    def on_cloudtrail(event):  # pragma: no cover - never invoked
        return None

    @app.on_sqs_message(queue="revert", batch_size=1, name="on_revert_queue")
    def on_revert_queue(event):  # pragma: no cover
        return None

    @app.on_cw_event({"source": ["aws.s3"], "detail-type": ["Object Created"]}, name="on_state_change")
    def on_state_change(event):  # pragma: no cover
        return None

    @app.schedule(Rate(15, unit=Rate.MINUTES), name="on_sweep")
    def on_sweep(event):  # pragma: no cover
        return None

    functions = generate.functions_manifest(app)
    worker = functions["on_revert_queue"]
    assert (worker["trigger"], worker["queue"], worker["batch_size"]) == ("sqs", "revert", 1)
    assert functions["on_state_change"]["bus"] == "default"
    assert functions["on_state_change"]["scope"] == "state-buckets"
    assert functions["on_sweep"]["schedule"] == "rate(15 minutes)"

    bad = Chalice(app_name="probe")

    @bad.on_s3_event(bucket="tfstate", name="on_s3")
    def on_s3(event):  # pragma: no cover
        return None

    with pytest.raises(generate.GenerateError, match="Object Created"):
        generate.functions_manifest(bad)


def test_remediator_role_follows_whoever_reverts():
    """The decision worker (the SQS handler) runs reverts; with auto_revert the judging functions
    revert inline too (chalicelib/actions/workflow.py). Nobody else gets the remediator role."""
    central = load_module(INFRA)
    functions = json.loads(rendered()["functions.json"])
    sqs = [n for n, f in functions.items() if f["trigger"] == "sqs"]
    assert "on_decision" in sqs, "the worker the Terraform expects (decision_worker)"
    worker = central.locals["decision_worker"]
    assert "local.sqs_functions[0]" in worker and '"on_decision"' in worker
    remediators = central.locals["remediator_functions"]
    assert "local.decision_worker" in remediators
    assert "var.auto_revert ? local.judging_functions" in remediators
    assert '"on_cloudtrail", "on_deferred", "on_schedule"' in central.locals["judging_functions"]
    assert {"on_cloudtrail", "on_schedule"} <= set(functions)
    assert "DRIFTWARDEN_QUEUE_URL" in central.locals["environment"]
    assert "local.decision_queue" in central.locals["environment"]["DRIFTWARDEN_QUEUE_URL"]


# --- EventBridge pattern splitting ----------------------------------------------------------------------


def _synthetic_registry(sources: int, names_per_source: int = 1) -> Registry:
    registry = Registry()
    for i in range(sources):
        events = tuple(EventSpec(f"service{i:03d}withalongername.amazonaws.com", f"UpdateThing{j:03d}",
                                 "requestParameters.id") for j in range(names_per_source))
        cls = type(f"Synthetic{i}", (ResourcePlugin,), {
            "__module__": __name__, "type": f"aws_synthetic_{i}", "service": "ec2",
            "object_kind": f"synthetic:{i}",
            "events": events, "compared": {}, "read_permissions": (f"ec2:DescribeThing{i}",),
            "revert_permissions": (f"ec2:ModifyThing{i}",),
        })
        registry.register(cls)
    return registry


def test_a_registry_that_outgrows_one_rule_is_split_into_several():
    registry = _synthetic_registry(300)
    pattern = eventbridge_pattern(registry)
    assert len(generate.compact(pattern)) > 4 * generate.PATTERN_LIMIT
    parts = generate.split_pattern(pattern)
    assert len(parts) >= 5
    seen: list[str] = []
    for part in parts:
        assert len(generate.compact(part)) <= generate.PATTERN_LIMIT
        rest = {k: v for k, v in part.items() if k != "source"}
        assert rest == {"detail-type": [generate.CLOUDTRAIL_DETAIL_TYPE]}
        seen += part["source"]
    assert sorted(seen) == pattern["source"], "the rules together match exactly the original sources"
    # greedy packing: no two neighbouring parts could have been one rule
    for a, b in itertools.pairwise(parts):
        assert len(generate.compact({**a, "source": a["source"] + b["source"]})) > generate.PATTERN_LIMIT


def test_splitting_recurses_into_nested_fields_and_keeps_the_rest():
    names = [f"PutSomethingRatherLong{i:04d}" for i in range(400)]
    pattern = {"source": ["aws.ec2", "aws.s3"], "detail-type": ["AWS API Call via CloudTrail"],
               "detail": {"eventName": names, "errorCode": [{"exists": False}]}}
    parts = generate.split_pattern(pattern, limit=1024)
    assert all(len(generate.compact(p)) <= 1024 for p in parts)
    assert sorted(n for p in parts for n in p["detail"]["eventName"]) == sorted(names)
    for p in parts:
        assert p["source"] == ["aws.ec2", "aws.s3"] and p["detail"]["errorCode"] == [{"exists": False}]


def test_an_unsplittable_pattern_fails_loudly():
    with pytest.raises(generate.GenerateError, match="cannot be split"):
        generate.split_pattern({"source": ["aws." + "x" * 3000]})


def test_the_real_registry_fits_with_room_to_grow():
    size = len(generate.compact(eventbridge_pattern(default_registry())))
    assert size <= generate.PATTERN_LIMIT
    pattern = eventbridge_pattern(default_registry())
    assert generate.split_pattern(pattern) == [pattern]


# --- IAM: generated, least privilege, and consistent with infra/ ----------------------------------------

READ_PREFIXES = ("describe", "get", "list", "batchget", "lookup", "search", "view")
# Data-plane reads that would expose contents if granted on every resource.
NEVER_ON_EVERYTHING = {"secretsmanager:GetSecretValue", "kms:Decrypt", "s3:GetObject", "s3:GetObjectVersion",
                       "dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan", "dynamodb:BatchGetItem",
                       "sts:AssumeRole", "iam:PassRole", "lambda:InvokeFunction"}


def _actions(docs: list[dict[str, Any]]) -> list[str]:
    return [a for d in docs for s in d["Statement"] for a in s["Action"]]


def test_generated_policies_are_exactly_the_registry():
    registry = default_registry()
    read = json.loads(rendered()["detector-policy.json"])
    revert = json.loads(rendered()["remediator-policy.json"])
    assert sorted(_actions(read)) == iam_policy.read_actions(registry)
    assert sorted(_actions(revert)) == iam_policy.revert_actions(registry)
    assert len(_actions(read)) == len(set(_actions(read)))
    declared_reverts = {a for p in registry for a in p.revert_permissions}
    assert set(_actions(revert)) <= declared_reverts
    for doc in [*read, *revert]:
        for stmt in doc["Statement"]:
            assert stmt["Effect"] == "Allow" and stmt["Resource"] == "*"
            assert stmt["Sid"].startswith(("Regional", "Global"))
            scope_global = stmt["Sid"].startswith("Global")
            assert all(iam_policy.is_global(a) == scope_global for a in stmt["Action"]), stmt["Sid"]
            if "Condition" in stmt:
                assert stmt["Action"] == ["iam:PassRole"], "only PassRole carries a generated condition"


def test_pass_role_only_to_the_services_that_need_it():
    registry = default_registry()
    for role in ("detector", "remediator"):
        for stmt in iam_policy.registry_statements(role, registry):
            if "iam:PassRole" in stmt["Action"]:
                assert stmt["Action"] == ["iam:PassRole"]
                services = stmt["Condition"]["StringEquals"]["iam:PassedToService"]
                assert services and all(s.endswith(".amazonaws.com") for s in services)
    probe = _synthetic_registry(2)
    type(probe.get("aws_synthetic_1")).revert_permissions = ("ec2:ModifyThing1", "iam:PassRole")
    [*_, passing] = iam_policy.registry_statements("remediator", probe)
    assert passing == {"Sid": "GlobalPassRoleRevert", "Effect": "Allow", "Action": ["iam:PassRole"],
                       "Resource": "*",
                       "Condition": {"StringEquals": {"iam:PassedToService": ["ec2.amazonaws.com"]}}}


def test_not_revertible_types_get_no_write_permission():
    registry = default_registry()
    granted = set(iam_policy.revert_actions(registry))
    for plugin in registry:
        if not plugin.revertible():
            others = {a for p in registry if p.revertible() for a in p.revert_permissions}
            leaked = (set(plugin.revert_permissions) - others) & granted
            assert not leaked, f"{plugin.type} is not revertible but {sorted(leaked)} are granted"


def test_detector_reads_are_read_only():
    for action in iam_policy.read_actions(default_registry()):
        verb = action.split(":", 1)[1].lower()
        assert verb.startswith(READ_PREFIXES), f"{action} is in read_permissions but does not look read-only"
        assert action not in NEVER_ON_EVERYTHING, f"{action} must not be granted on every resource"
    for role in ("detector", "remediator"):
        for stmt in iam_policy.registry_statements(role, default_registry()):
            if "Condition" not in stmt:
                risky = set(stmt["Action"]) & NEVER_ON_EVERYTHING
                assert not risky, f"{role}: {sorted(risky)} on every resource without a condition"
            assert not any("*" in a for a in stmt["Action"]), stmt["Sid"]


def test_policies_fit_iam_limits_even_with_every_region():
    regions = [f"xx-region-{i}" for i in range(30)]
    docs = {role: json.loads(rendered()[f"{role}-policy.json"]) for role in ("detector", "remediator")}
    for role, role_docs in docs.items():
        for doc in role_docs:
            condition = {"StringEquals": {"aws:RequestedRegion": regions}}
            restricted = {**doc, "Statement": [
                {**s, "Condition": condition} if s["Sid"].startswith("Regional") else s
                for s in doc["Statement"]]}
            assert iam_policy.policy_size(restricted) <= iam_policy.MANAGED_POLICY_LIMIT, role
    # the worker's role: reads + reverts + its own statements, within IAM's default 10 managed policies
    assert len(docs["detector"]) + len(docs["remediator"]) + 1 <= 10


def test_split_document_spreads_actions_and_keeps_statements_whole():
    doc = {"Version": "2012-10-17", "Statement": [
        {"Sid": "RegionalRead", "Effect": "Allow", "Resource": "*",
         "Action": [f"ec2:DescribeThing{i:04d}" for i in range(400)]},
        {"Sid": "GlobalRead", "Effect": "Allow", "Action": ["iam:GetRole"], "Resource": "*"}]}
    parts = iam_policy.split_document(doc, limit=2000)
    assert len(parts) > 3
    assert all(iam_policy.policy_size(p) <= 2000 for p in parts)
    assert _actions(parts) == _actions([doc])
    assert all(s["Resource"] == "*" and s["Sid"] in ("RegionalRead", "GlobalRead")
               for p in parts for s in p["Statement"])
    with pytest.raises(ValueError, match="cannot fit"):
        iam_policy.split_document(doc, limit=60)


def test_policy_document_for_the_cli():
    registry = default_registry()
    detector = iam_policy.policy_document("detector", registry)
    assert sorted(_actions([detector])) == iam_policy.read_actions(registry)
    env = {
        "DRIFTWARDEN_STATE": "s3://tfstate/prod/,s3://other/env/net.tfstate",
        "DRIFTWARDEN_SOURCE": "s3://tfstate/prod/=s3://tf-src/prod",
        "DRIFTWARDEN_POLICY": "s3://tf-src/driftwarden.hcl",
        "DRIFTWARDEN_TABLE": "dw-findings", "DRIFTWARDEN_AUDIT_TABLE": "dw-audit",
        "DRIFTWARDEN_IDEMPOTENCY_TABLE": "dw-idem",
        "DRIFTWARDEN_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/111111111111/dw-revert",
        "DRIFTWARDEN_SLACK_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:111111111111:secret:dw-AbCdEf",
        "DRIFTWARDEN_MEMBER_ROLE": "arn:aws:iam::{account}:role/driftwarden-detector",
    }
    env["DRIFTWARDEN_DEFER_QUEUE_URL"] = "https://sqs.eu-west-1.amazonaws.com/111111111111/dw-deferred"
    resources = iam_policy.Resources.from_env(env, account="111111111111", region="eu-west-1")
    full = iam_policy.policy_document("detector", registry, resources)
    by_sid = {s["Sid"]: s for s in full["Statement"]}
    assert by_sid["StateRead"]["Resource"] == [
        "arn:aws:s3:::other/env/net.tfstate", "arn:aws:s3:::other/env:/*/env/net.tfstate",
        "arn:aws:s3:::tfstate/env:/*/prod/*", "arn:aws:s3:::tfstate/prod/*"]
    assert by_sid["StateList"]["Condition"] == {
        "StringLike": {"s3:prefix": ["env/net.tfstate", "env:/*", "prod/*"]}}
    assert by_sid["SourceRead"]["Resource"] == ["arn:aws:s3:::tf-src/prod/*"]
    assert by_sid["SourceList"]["Condition"] == {"StringLike": {"s3:prefix": ["prod/*"]}}
    assert by_sid["PolicyRead"]["Resource"] == ["arn:aws:s3:::tf-src/driftwarden.hcl"]
    assert by_sid["QueueSend"]["Resource"] == ["arn:aws:sqs:eu-west-1:111111111111:dw-deferred",
                                               "arn:aws:sqs:eu-west-1:111111111111:dw-revert"]
    assert "QueueConsume" not in by_sid
    assert by_sid["FindingsTable"]["Resource"] == [
        "arn:aws:dynamodb:eu-west-1:111111111111:table/dw-findings"]
    assert by_sid["AssumeMemberRoles"]["Resource"] == ["arn:aws:iam::*:role/driftwarden-detector"]
    worker = iam_policy.policy_document("remediator", registry,
                                        iam_policy.Resources.from_env(env, "remediator"))
    worker_sids = {s["Sid"]: s for s in worker["Statement"]}
    assert worker_sids["QueueConsume"]["Resource"] == ["arn:aws:sqs:eu-west-1:111111111111:dw-revert"]
    assert worker_sids["QueueSend"]["Resource"] == ["arn:aws:sqs:eu-west-1:111111111111:dw-deferred"], \
        "the worker never enqueues decisions"
    generated = [s for s in worker["Statement"] if s["Sid"].startswith(("Regional", "Global"))]
    assert sorted(_actions([{"Statement": generated}])) == iam_policy.revert_actions(registry), \
        "the remediator's registry part is the reverts only"
    whole = iam_policy.Resources(state=tuple(parse_locations("s3://tfstate/")))
    [state_list] = [s for s in iam_policy.app_statements("detector", whole) if s["Sid"] == "StateList"]
    assert "Condition" not in state_list, "a whole-bucket list carries no s3:prefix"
    with pytest.raises(ValueError):
        iam_policy.policy_document("admin", registry)


def _hcl_app_statements() -> dict[str, dict[str, Any]]:
    central = load_module(INFRA)
    out = {}
    for stmt in central.locals["app_statement_list"]:
        out[unquote(stmt["sid"])] = {
            "actions": [unquote(a) for a in stmt["actions"]],
            "resources": stmt["resources"],
        }
    return out


def test_infra_app_statements_match_iam_policy():
    hcl = _hcl_app_statements()
    assert list(hcl) == list(iam_policy.APP_ACTIONS), "same statements, same order"
    for sid, actions in iam_policy.APP_ACTIONS.items():
        assert hcl[sid]["actions"] == list(actions), sid
    # the worker never sends; each role consumes only the queues its own functions are mapped to
    assert "q != local.decision_queue" in hcl["QueueSend"]["resources"]["remediator"]
    assert hcl["QueueConsume"]["resources"] == "${local.consumed_queues}"
    assert "f.role == role" in load_module(INFRA).locals["consumed_queues"]
    assert hcl["AssumeMemberRoles"]["resources"] == "${local.member_role_arns}"


def test_infra_grants_registry_actions_only_through_generated_files():
    """No hand-written IAM action of a covered service in infra/: it would drift from the registry.
    Resource policies for AWS service principals (trail bucket, queues, bus) are exempt."""
    registry = default_registry()
    registry_actions = set(iam_policy.read_actions(registry)) | set(iam_policy.revert_actions(registry))
    exempt = {"aws_s3_bucket_policy", "aws_sqs_queue_policy", "aws_cloudwatch_event_bus_policy"}
    for mod in MODULES:
        for (rtype, rname), body in mod.resources.items():
            if rtype in exempt:
                continue
            hand = {s for s in literal_strings(body) if s in registry_actions}
            assert not hand, f"{mod.rel}: {rtype}.{rname} lists {sorted(hand)} by hand"
        # app_statement_list is held to chalicelib.iam_policy.APP_ACTIONS by its own test
        others = {k: v for k, v in mod.locals.items() if k != "app_statement_list"}
        hand = {s for s in literal_strings(others) if s in registry_actions}
        assert not hand, f"{mod.rel}: locals list {sorted(hand)} by hand"


def test_member_roles_keep_read_and_revert_apart():
    member = load_module(INFRA / "member")
    attachments = {name: code_of(body["role"]) + " <- " + code_of(body["policy_arn"])
                   for (t, name), body in member.resources.items() if t == "aws_iam_role_policy_attachment"}
    assert attachments == {
        "detector_read": "aws_iam_role.detector[0].name <- aws_iam_policy.read[each.key].arn",
        "remediator_read": "aws_iam_role.remediator[0].name <- aws_iam_policy.read[each.key].arn",
        "remediator_revert": "aws_iam_role.remediator[0].name <- aws_iam_policy.revert[each.key].arn",
    }
    assert {n for t, n in member.resources if t == "aws_iam_role_policy"} == {"forwarder"}
    central = load_module(INFRA)
    assert central.resources[("aws_iam_role_policy_attachment", "lambda_revert")]["role"] == \
        '${aws_iam_role.lambda["remediator"].name}'


# --- environment, Slack, API ----------------------------------------------------------------------------

ISSUE_ENV = {"DRIFTWARDEN_STATE", "DRIFTWARDEN_SOURCE", "DRIFTWARDEN_POLICY", "DRIFTWARDEN_IAC_PRINCIPALS",
             "DRIFTWARDEN_SELF_PRINCIPALS", "DRIFTWARDEN_TABLE", "DRIFTWARDEN_AUDIT_TABLE",
             "DRIFTWARDEN_IDEMPOTENCY_TABLE", "DRIFTWARDEN_QUEUE_URL", "DRIFTWARDEN_APPROVERS",
             "DRIFTWARDEN_MEMBER_ROLE", "DRIFTWARDEN_AUTO_REVERT", "DRIFTWARDEN_FINDING_TTL_HOURS",
             "DRIFTWARDEN_SLACK_SECRET_ARN", "SLACK_CHANNEL"}


def _infra_env() -> set[str]:
    central = load_module(INFRA)
    names = set(central.locals["environment"])
    names |= {unquote(v) for k, v in central.locals["queue_url_variables"].items() if not k.startswith("__")}
    fn = central.resources[("aws_lambda_function", "fn")]
    names |= set(re.findall(r"\b([A-Z][A-Z0-9_]+)\s*=", code_of(fn["environment"][0]["variables"])))
    return names


def test_functions_get_every_setting_the_issue_names():
    env = _infra_env()
    assert env >= ISSUE_ENV, sorted(ISSUE_ENV - env)
    assert not {"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"} & env, "secrets come from Secrets Manager"
    read = set()
    for path in (ROOT / "chalicelib").rglob("*.py"):
        read |= set(re.findall(r"""["']((?:DRIFTWARDEN|SLACK)_[A-Z0-9_]+)["']""", path.read_text()))
    typos = {n for n in env - ISSUE_ENV - read if not n.startswith("POWERTOOLS_")}
    assert not typos, f"infra/ sets {sorted(typos)}, which nothing reads"


def test_slack_manifest_is_ready_to_paste():
    manifest = yaml.safe_load((INFRA / "slack-app-manifest.yaml").read_text())
    info = manifest["display_information"]
    assert 0 < len(info["name"]) <= 35 and len(info["description"]) <= 140
    assert re.fullmatch(r"#[0-9a-fA-F]{6}", info["background_color"])
    assert manifest["features"]["bot_user"]["display_name"]
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == {
        "chat:write", "chat:write.public", "users:read", "users:read.email", "usergroups:read"}
    interactivity = manifest["settings"]["interactivity"]
    assert interactivity["is_enabled"] is True
    url = interactivity["request_url"]
    assert url.startswith("https://") and url.endswith("/slack/actions")
    functions = json.loads(rendered()["functions.json"])
    assert {"method": "POST", "path": "/slack/actions"} in functions["api"]["routes"]
    # outputs.tf renders the manifest by replacing exactly this placeholder
    central = load_module(INFRA)
    assert url in central.outputs["slack_app_manifest"]["value"]


def _http_api_v1_event(body: str, headers: dict[str, str],
                       resource_path: str = "/slack/actions") -> dict[str, Any]:
    """An API Gateway HTTP API event, payload format 1.0, shaped like recorded ones (route key
    "POST /slack/actions": resourceId is the route key, resourcePath its path)."""
    return {
        "version": "1.0", "resource": resource_path, "path": "/slack/actions", "httpMethod": "POST",
        "headers": {k.lower(): v for k, v in headers.items()},
        "multiValueHeaders": {k.lower(): [v] for k, v in headers.items()},
        "queryStringParameters": None, "multiValueQueryStringParameters": None,
        "requestContext": {
            "accountId": "123456789012", "apiId": "abc123",
            "domainName": "abc123.execute-api.eu-west-1.amazonaws.com",
            "domainPrefix": "abc123", "extendedRequestId": "Fg8wBjeaIAMEJeQ=", "httpMethod": "POST",
            "identity": {"sourceIp": "203.0.113.10", "userAgent": "Slackbot 1.0 (+https://api.slack.com/robots)"},
            "path": "/slack/actions", "protocol": "HTTP/1.1", "requestId": "Fg8wBjeaIAMEJeQ=",
            "requestTime": "21/Nov/2026:20:15:34 +0000", "requestTimeEpoch": 1795292134389,
            "resourceId": f"POST {resource_path}", "resourcePath": resource_path, "stage": "$default",
        },
        "pathParameters": None, "stageVariables": None, "body": body, "isBase64Encoded": False,
    }


def test_http_api_payload_v1_reaches_the_slack_route(env, tmp_path):
    """Why infra/ uses payload format 1.0 with explicit route keys: Chalice's app.app routes on
    requestContext.resourcePath; a "$default" route would not reach /slack/actions."""
    from app import app as chalice_app
    from tests.harness.slack_sign import block_action_body, sign

    env(SLACK_SIGNING_SECRET="s3cret", DRIFTWARDEN_STORE_DIR=str(tmp_path))
    body = block_action_body("f-unknown", REVERT)
    ok = chalice_app(_http_api_v1_event(body, sign("s3cret", body)), None)
    assert ok["statusCode"] == 200, ok
    forged = chalice_app(_http_api_v1_event(body, sign("wrong", body)), None)
    assert forged["statusCode"] == 401
    catch_all = chalice_app(_http_api_v1_event(body, sign("s3cret", body), resource_path="$default"), None)
    assert catch_all["statusCode"] >= 400


# --- packaging ------------------------------------------------------------------------------------------


def _fake_chalice(functions: dict[str, Any], extra_files: dict[str, str],
                  handlers: dict[str, str] | None = None):
    def run(cmd: list[str], env: dict[str, str]) -> None:
        out = Path(cmd[-1])
        out.mkdir(parents=True)
        with zipfile.ZipFile(out / "deployment.zip", "w") as zf:
            for name, text in extra_files.items():
                zf.writestr(name, text)
        tf = {"resource": {"aws_lambda_function": {
            name: {"handler": h, "runtime": "python3.11"}
            for name, h in (handlers or {n: f["handler"] for n, f in functions.items()}).items()}}}
        (out / "chalice.tf.json").write_text(json.dumps(tf))
        assert env["AWS_DEFAULT_REGION"]
    return run


def test_package_refuses_a_bundle_that_would_not_run(tmp_path):
    functions = json.loads(rendered()["functions.json"])
    plugins = [type(p).__module__.rsplit(".", 1)[-1] for p in default_registry()]
    good = {"app.py": "", **{f"chalicelib/resources/{m}.py": "" for m in plugins}}
    zip_path, tf = package.chalice_package(tmp_path / "a", runner=_fake_chalice(functions, good))
    package.verify_bundle(zip_path, tf, functions, plugins)
    runner = _fake_chalice(functions, {**good, "tests/x.py": ""})
    zip_path, tf = package.chalice_package(tmp_path / "b", runner=runner)
    with pytest.raises(package.PackageError, match="dev-only"):
        package.verify_bundle(zip_path, tf, functions, plugins)
    missing = {k: v for k, v in good.items() if k != "chalicelib/resources/aws_security_group.py"}
    zip_path, tf = package.chalice_package(tmp_path / "c", runner=_fake_chalice(functions, missing))
    with pytest.raises(package.PackageError, match="aws_security_group"):
        package.verify_bundle(zip_path, tf, functions, plugins)
    handlers = {"on_new": "app.on_new", **{n: f["handler"] for n, f in functions.items()}}
    zip_path, tf = package.chalice_package(tmp_path / "d", runner=_fake_chalice(functions, good, handlers))
    with pytest.raises(package.PackageError, match="make generate"):
        package.verify_bundle(zip_path, tf, functions, plugins)


def test_make_package_builds_the_bundle_infra_deploys(tmp_path):
    """The real `chalice package` (about 10 s; pip resolves requirements.txt, cached afterwards)."""
    meta = package.build(tmp_path / "build", generated_dir=tmp_path / "generated")
    assert meta["runtime"].startswith("python3.") and meta["architecture"] == "x86_64"
    assert not generate.stale_files(rendered(), tmp_path / "generated")
    with zipfile.ZipFile(tmp_path / "build" / "deployment.zip") as zf:
        names = set(zf.namelist())
    assert {"app.py", "chalicelib/iam_policy.py", "chalicelib/resources/aws_security_group.py"} <= names
    assert any(n.startswith("slack_sdk/") for n in names) and any(n.startswith("boto3/") for n in names)
    assert not any(n.startswith(("tests/", "infra/", "bench/", "examples/")) for n in names)
    assert json.loads((tmp_path / "build" / "package.json").read_text())["handlers"] == \
        {n: f["handler"] for n, f in json.loads(rendered()["functions.json"]).items()}
