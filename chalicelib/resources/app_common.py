"""Helpers shared by the ELBv2, Route 53, ECR, Secrets Manager and EventBridge plugins.

Not a plugin module (the registry only loads ``aws_*``). What lives here is what more than one of
those families needs: ids that JMESPath alone cannot produce (composed keys, case and trailing-dot
normalization, ARN filtering by resource type), reads where "not found" means "unset" rather than
"gone", canonical JSON, and tag reverts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from chalicelib.drift.normalize import tags_from_aws
from chalicelib.models import ApiCall, Change
from chalicelib.resources.base import EventKind, EventSpec, Gone, LiveContext, ResourcePlugin, call_aws

__all__ = [
    "MISSING",
    "Derive",
    "DerivedSpec",
    "arn_resource",
    "as_bool",
    "as_int",
    "call_optional",
    "canonical_json",
    "changed",
    "derived",
    "first_block",
    "flat",
    "live_tags",
    "request",
    "response",
    "str_set",
    "tag_calls",
    "tag_reverts",
    "text",
]

# One of ``triggers.cloudtrail.REDACTED``: an id that should be in the record but is not. The pipeline
# turns it into an ``error`` finding ("cannot tell which ... changed") instead of guessing.
MISSING = "..."

Derive = Callable[[Any, Mapping[str, Any]], Iterable[Any]]


@dataclass(frozen=True)
class DerivedSpec(EventSpec):
    """An ``EventSpec`` whose ids need Python after the JMESPath.

    ``ids`` still selects the raw material (and is what the coverage table shows); ``derive(found,
    record)`` turns it into object ids: it composes keys (Route 53 ``ZONE_name_TYPE``), normalizes
    case and trailing dots, keeps only ARNs of its own resource type. ``id_prefix`` defaults to ``""``
    so that finding nothing is silent (a tag call that names only other kinds is not this plugin's);
    ``derive`` returns ``MISSING`` when an id should be there and is not, so the pipeline says so.
    """

    id_prefix: str | None = ""
    derive: Derive | None = field(default=None, compare=False, hash=False, repr=False)

    def extract(self, record: Mapping[str, Any]) -> list[str]:
        if self.derive is None:
            return super().extract(record)
        found = self.compiled.search(record)
        out: list[str] = []
        for value in self.derive(found, record):
            if value is None or value == "":
                continue
            text_value = str(value)
            if text_value not in out:
                out.append(text_value)
        return out


def derived(source: str, name: str, ids: str, derive: Derive, kind: EventKind = EventKind.MODIFY,
            note: str = "", *, always_names: bool = False) -> DerivedSpec:
    """A ``DerivedSpec``. ``always_names``: every call of this API names one of our objects, so
    finding no id is reported as "no resource id at <ids>" (``derive`` returns nothing then)."""
    return DerivedSpec(source, name, ids, kind, None if always_names else "", note=note, derive=derive)


def flat(value: Any) -> list[Any]:
    """A JMESPath result as a flat list (a scalar becomes a one-element list, ``None`` nothing)."""
    if value is None:
        return []
    if isinstance(value, list):
        out: list[Any] = []
        for item in value:
            out.extend(flat(item))
        return out
    return [value]


def request(record: Mapping[str, Any]) -> Mapping[str, Any]:
    params = record.get("requestParameters")
    return params if isinstance(params, Mapping) else {}


def response(record: Mapping[str, Any]) -> Mapping[str, Any]:
    params = record.get("responseElements")
    return params if isinstance(params, Mapping) else {}


# --- values -------------------------------------------------------------------------------------
def first_block(attrs: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    """The single nested block a state attribute holds (``access_logs = [{...}]``), or ``{}``."""
    value = attrs.get(name)
    if isinstance(value, list) and value and isinstance(value[0], Mapping):
        return value[0]
    if isinstance(value, Mapping):
        return value
    return {}


def text(value: Any) -> str:
    """Absent and empty are the same string for comparison (AWS omits what the state holds as "")."""
    return "" if value is None else str(value)


def as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def as_int(value: Any) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def str_set(values: Iterable[Any]) -> frozenset[str]:
    """An unordered set of plain strings in ``normalize.atom`` form (decodes back to the string)."""
    return frozenset(json.dumps(str(v)) for v in values if v not in (None, ""))


def _sort_lists(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _sort_lists(v) for k, v in value.items()}
    if isinstance(value, list):
        items = [_sort_lists(v) for v in value]
        return sorted(items, key=lambda v: json.dumps(v, sort_keys=True))
    return value


def canonical_json(doc: Any, *, sort_lists: bool = False) -> str:
    """Canonical text of a JSON document (key order and whitespace never matter; with ``sort_lists``
    neither does array order, e.g. EventBridge patterns where an array is a set of alternatives).
    Empty stays ``""``; text that is not JSON is compared as given."""
    if doc is None or doc == "":
        return ""
    parsed = doc
    if isinstance(doc, (str, bytes, bytearray)):
        try:
            parsed = json.loads(doc)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return doc.decode() if isinstance(doc, (bytes, bytearray)) else doc
    if sort_lists:
        parsed = _sort_lists(parsed)
    return json.dumps(parsed, sort_keys=True, separators=(",", ":"))


def live_tags(tags: Iterable[Mapping[str, Any]] | Mapping[str, Any] | None) -> dict[str, str]:
    """AWS tags as a map, without the ``aws:`` keys AWS manages itself."""
    return {k: v for k, v in tags_from_aws(tags).items() if not k.startswith("aws:")}


# --- reads --------------------------------------------------------------------------------------
def call_optional(plugin: ResourcePlugin, ctx: LiveContext, operation: str, absent: Iterable[str],
                  **params: Any) -> Any:
    """A read whose not-found code means "this attribute is unset" (a repository without a policy),
    not "the object is gone": returns ``None`` for those codes; the plugin's ``gone_codes`` still
    raise ``Gone``; anything else is a ``LiveReadError``."""
    absent = set(absent)
    try:
        return call_aws(ctx.client(plugin.service), operation, absent | set(plugin.gone_codes), **params)
    except Gone as exc:
        if str(exc) in absent:
            return None
        raise


# --- reverts ------------------------------------------------------------------------------------
def tag_calls(
    changes: Iterable[Change],
    set_tags: Callable[[dict[str, str]], ApiCall],
    remove_tags: Callable[[list[str]], ApiCall],
) -> list[ApiCall]:
    """One call restoring every changed declared tag and one removing every undeclared one."""
    sets: dict[str, str] = {}
    removes: list[str] = []
    for ch in changes:
        if not ch.path.startswith("tags."):
            continue
        key = ch.path.split(".", 1)[1]
        if ch.declared is None:
            removes.append(key)
        else:
            sets[key] = ch.declared
    calls = []
    if sets:
        calls.append(set_tags(dict(sorted(sets.items()))))
    if removes:
        calls.append(remove_tags(sorted(removes)))
    return calls


def tag_reverts(
    changes: Iterable[Change],
    service: str,
    label: str,
    base: Mapping[str, Any],
    *,
    add: tuple[str, str] = ("TagResource", "Tags"),
    remove: tuple[str, str] = ("UntagResource", "TagKeys"),
) -> list[ApiCall]:
    """``tag_calls`` for the usual shape: ``add`` = (operation, list-of-Key/Value parameter),
    ``remove`` = (operation, list-of-keys parameter), both with ``base`` (the resource's id)."""
    return tag_calls(
        changes,
        lambda tags: ApiCall(service, add[0],
                             {**base, add[1]: [{"Key": k, "Value": v} for k, v in tags.items()]},
                             f"set tag(s) {', '.join(tags)} on {label}"),
        lambda keys: ApiCall(service, remove[0], {**base, remove[1]: keys},
                             f"remove undeclared tag(s) {', '.join(keys)} from {label}"),
    )


def changed(changes: Iterable[Change], *prefixes: str) -> list[Change]:
    """The changes at one of ``prefixes`` or below it (``health_check`` → ``health_check.path``)."""
    return [c for c in changes if any(c.path == p or c.path.startswith(p + ".") for p in prefixes)]


_ARN = re.compile(r"^arn:aws[\w-]*:([\w-]+):([\w-]*):(\d{12})?:(.+)$")


def arn_resource(arn: Any) -> str | None:
    """The resource part of an ARN (``repository/team/app``), or ``None`` if it is not an ARN."""
    m = _ARN.match(str(arn or ""))
    return m.group(4) if m else None
