"""Write infra/generated/*.json from the plugin registry and app.py. Cheap: no packaging, no AWS.

    .venv/bin/python infra/generate.py            write the files
    .venv/bin/python infra/generate.py --check    exit 1 and name the stale files (CI, pre-commit)

What it writes (Terraform reads every file with ``jsondecode(file(...))``):

- ``cloudtrail-patterns.json``: the EventBridge patterns for CloudTrail API calls. Both the central
  bus rules and every member account's forwarding rules use them. A pattern longer than EventBridge
  allows is split into several rules that together match exactly the same events.
- ``functions.json``: every Lambda handler app.py declares, with its trigger. Terraform creates one
  function per entry, so a new handler needs no Terraform edit for the usual triggers.
- ``detector-policy.json`` / ``remediator-policy.json``: the registry's read and revert actions
  (``chalicelib.iam_policy``), each a list of IAM managed-policy documents small enough to take an
  ``aws:RequestedRegion`` condition and stay under IAM's size limit.
"""

from __future__ import annotations

import argparse
import copy
import importlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from chalicelib.iam_policy import MANAGED_POLICY_LIMIT, policy_document, policy_size, split_document  # noqa: E402
from chalicelib.resources.registry import Registry, default_registry  # noqa: E402
from chalicelib.triggers.cloudtrail import eventbridge_pattern  # noqa: E402

__all__ = ["GenerateError", "functions_manifest", "render", "split_pattern", "stale_files", "write_files"]

GENERATED = ROOT / "infra" / "generated"
PATTERN_LIMIT = 2048  # EventBridge's event pattern size limit (characters)
CLOUDTRAIL_DETAIL_TYPE = "AWS API Call via CloudTrail"
# Terraform adds an aws:RequestedRegion condition to regional statements; leave room for it
# (about 40 characters per region: every commercial region fits).
CONDITION_HEADROOM = 1200
POLICY_PACK_LIMIT = MANAGED_POLICY_LIMIT - CONDITION_HEADROOM
REGENERATE = "run `make generate` (or `.venv/bin/python infra/generate.py`); `make package` also regenerates"

README = """\
# Generated: do not edit

Written by `infra/generate.py` from the plugin registry (`chalicelib/resources/`) and `app.py`.
After adding or changing a plugin or a handler, regenerate and commit:

    make generate        # or: .venv/bin/python infra/generate.py

`tests/functional/test_infra.py` fails while these files are stale.
"""


class GenerateError(Exception):
    """app.py or the registry asks for something infra/ cannot deploy."""


def compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


# --- EventBridge patterns -------------------------------------------------------------------------


def _splittable_arrays(node: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], list[Any]]]:
    """Arrays that are the value list of one field: their values are OR-ed, so they can be spread
    over several rules. Only reached through objects (never inside a content filter); ``$or`` is left
    alone."""
    out: list[tuple[tuple[str, ...], list[Any]]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key.startswith("$"):
                continue
            if isinstance(value, list):
                out.append(((*path, key), value))
            elif isinstance(value, dict):
                out.extend(_splittable_arrays(value, (*path, key)))
    return out


def _with(pattern: dict[str, Any], path: tuple[str, ...], values: list[Any]) -> dict[str, Any]:
    out = copy.deepcopy(pattern)
    node = out
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = values
    return out


def split_pattern(pattern: dict[str, Any], limit: int = PATTERN_LIMIT) -> list[dict[str, Any]]:
    """One pattern → the fewest patterns (greedy) of at most ``limit`` characters whose union
    matches exactly the same events: the longest field's values are spread over several rules,
    everything else unchanged; repeated on another field if one value alone is still too long."""
    if len(compact(pattern)) <= limit:
        return [pattern]
    arrays = sorted(_splittable_arrays(pattern), key=lambda pv: -len(compact(pv[1])))
    arrays = [(p, v) for p, v in arrays if len(v) > 1]
    if not arrays:
        raise GenerateError(f"EventBridge pattern of {len(compact(pattern))} characters cannot be split "
                            f"below {limit}: {compact(pattern)[:200]}...")
    path, values = arrays[0]
    chunks: list[list[Any]] = []
    current: list[Any] = []
    for value in values:
        if current and len(compact(_with(pattern, path, [*current, value]))) > limit:
            chunks.append(current)
            current = []
        current.append(value)
    chunks.append(current)
    out: list[dict[str, Any]] = []
    for chunk in chunks:
        out.extend(split_pattern(_with(pattern, path, chunk), limit))
    return out


def _is_cloudtrail(pattern: dict[str, Any]) -> bool:
    return pattern.get("detail-type") == [CLOUDTRAIL_DETAIL_TYPE]


def _is_state_change(pattern: dict[str, Any]) -> bool:
    return pattern.get("source") == ["aws.s3"] and "Object Created" in (pattern.get("detail-type") or [])


# --- functions ------------------------------------------------------------------------------------


def _entry(handler: str, trigger: str, **values: Any) -> dict[str, Any]:
    """Every entry has every key, so Terraform can read any attribute of any function."""
    base: dict[str, Any] = {"handler": handler, "trigger": trigger, "bus": None, "scope": None,
                            "patterns": [], "schedule": None, "queue": None, "batch_size": None,
                            "batching_window": None, "routes": []}
    base.update(values)
    return base


def functions_manifest(app: Any, limit: int = PATTERN_LIMIT) -> dict[str, dict[str, Any]]:
    """Every Lambda function a Chalice app declares, with what triggers it.

    EventBridge handlers whose pattern is CloudTrail API calls listen on the central bus (member
    accounts forward there); S3 "Object Created" handlers are scoped to the state buckets; others
    listen on the default bus."""
    from chalice.app import (
        CloudWatchEventConfig,
        ScheduledEventConfig,
        ScheduleExpression,
        SQSEventConfig,
    )

    out: dict[str, dict[str, Any]] = {}
    if app.routes:
        routes = sorted({(method, path) for path, methods in app.routes.items() for method in methods})
        out["api"] = _entry("app.app", "http", routes=[{"method": m, "path": p} for m, p in routes])
    for src in app.event_sources:
        if src.name in out:
            raise GenerateError(f"two handlers are named {src.name!r}")
        if isinstance(src, CloudWatchEventConfig):
            pattern = src.event_pattern
            bus = "central" if _is_cloudtrail(pattern) else "default"
            scope = "state-buckets" if _is_state_change(pattern) else None
            out[src.name] = _entry(src.handler_string, "eventbridge", bus=bus, scope=scope,
                                   patterns=split_pattern(pattern, limit))
        elif isinstance(src, ScheduledEventConfig):
            expr = src.schedule_expression
            text = expr.to_string() if isinstance(expr, ScheduleExpression) else str(expr)
            out[src.name] = _entry(src.handler_string, "schedule", schedule=text)
        elif isinstance(src, SQSEventConfig):
            if not src.queue:
                raise GenerateError(f"{src.name}: give on_sqs_message a logical queue name (queue=...); "
                                    "infra/ creates the queue, so a queue ARN cannot be used")
            out[src.name] = _entry(src.handler_string, "sqs", queue=src.queue, batch_size=src.batch_size,
                                   batching_window=src.maximum_batching_window_in_seconds)
        else:
            raise GenerateError(f"{src.name}: {type(src).__name__} triggers are not deployed by infra/; "
                                "use an EventBridge pattern (S3 events arrive as 'Object Created'), a "
                                "schedule, SQS or a route")
    for fn in getattr(app, "pure_lambda_functions", []):
        if fn.name in out:
            raise GenerateError(f"two handlers are named {fn.name!r}")
        out[fn.name] = _entry(fn.handler_string, "invoke")
    return dict(sorted(out.items()))


def cloudtrail_patterns(functions: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """What member accounts forward to the central bus: every central-bus function's patterns."""
    seen: dict[str, dict[str, Any]] = {}
    for entry in functions.values():
        if entry["bus"] == "central":
            for pattern in entry["patterns"]:
                seen.setdefault(compact(pattern), pattern)
    return [seen[k] for k in sorted(seen)]


# --- files ----------------------------------------------------------------------------------------


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True) + "\n"


def load_app() -> Any:
    module = importlib.import_module("app")
    return module.app


def render(registry: Registry | None = None, app: Any = None) -> dict[str, str]:
    """File name → content, for everything in infra/generated/."""
    registry = registry if registry is not None else default_registry()
    app = app if app is not None else load_app()
    functions = functions_manifest(app)
    patterns = cloudtrail_patterns(functions)
    if not patterns:
        raise GenerateError("app.py has no EventBridge handler for CloudTrail API calls")
    forwarded = {s for p in patterns for s in p.get("source", [])}
    wanted = set(eventbridge_pattern(registry)["source"])
    if forwarded != wanted:
        raise GenerateError(f"app.py's CloudTrail pattern does not cover the registry: missing "
                            f"{sorted(wanted - forwarded)}, extra {sorted(forwarded - wanted)}")
    files = {
        "README.md": README,
        "cloudtrail-patterns.json": _json(patterns),
        "functions.json": _json(functions),
    }
    for role in ("detector", "remediator"):
        docs = split_document(policy_document(role, registry), POLICY_PACK_LIMIT)
        assert all(policy_size(d) <= POLICY_PACK_LIMIT for d in docs)
        files[f"{role}-policy.json"] = _json(docs)
    return files


def write_files(files: dict[str, str], directory: Path = GENERATED) -> list[str]:
    """Write what changed; remove generated files that are no longer produced. Returns the names."""
    directory.mkdir(parents=True, exist_ok=True)
    changed = []
    for name, text in files.items():
        path = directory / name
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            changed.append(name)
    for path in sorted(directory.iterdir()):
        if path.is_file() and path.name not in files:
            path.unlink()
            changed.append(path.name)
    return changed


def stale_files(files: dict[str, str], directory: Path = GENERATED) -> list[str]:
    """Names of files that differ from, are missing from or are extra in ``directory``."""
    out = [n for n, text in files.items()
           if not (directory / n).exists() or (directory / n).read_text() != text]
    if directory.is_dir():
        out += [p.name for p in directory.iterdir() if p.is_file() and p.name not in files]
    return sorted(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if infra/generated/ is stale")
    parser.add_argument("--out", type=Path, default=GENERATED, help="directory (default infra/generated)")
    args = parser.parse_args(argv)
    try:
        files = render()
    except GenerateError as exc:
        print(f"generate: {exc}", file=sys.stderr)
        return 2
    if args.check:
        stale = stale_files(files, args.out)
        if stale:
            print(f"infra/generated is stale ({', '.join(stale)}): {REGENERATE}", file=sys.stderr)
            return 1
        print("infra/generated is up to date")
        return 0
    changed = write_files(files, args.out)
    print(f"wrote {', '.join(changed)}" if changed else "infra/generated is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
