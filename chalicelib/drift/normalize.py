"""Normalization helpers shared by plugins: make equal things compare equal.

Policies are compared as canonical JSON; unordered collections as sets of canonical atoms;
tags as plain maps. Every plugin uses these so "equal but reformatted" is never drift.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote

__all__ = [
    "WORLD_CIDRS",
    "atom",
    "atoms",
    "canonical_policy",
    "decode_atom",
    "policy_grants_public",
    "tags_from_aws",
    "tags_from_state",
]

_LIST_KEYS = {"Action", "NotAction", "Resource", "NotResource"}

#: CIDRs that mean "anyone on the internet" (security group, NACL and route judgments).
WORLD_CIDRS = frozenset({"0.0.0.0/0", "::/0"})


def _as_sorted_list(value: Any) -> list[Any]:
    items = value if isinstance(value, list) else [value]
    return sorted(items, key=lambda v: json.dumps(v, sort_keys=True))


def _canon_statement(stmt: Any) -> Any:
    if not isinstance(stmt, Mapping):
        return stmt
    out: dict[str, Any] = {}
    for key, value in stmt.items():
        if key == "Sid" and value in ("", None):
            continue
        if key in _LIST_KEYS:
            out[key] = _as_sorted_list(value)
        elif key in ("Principal", "NotPrincipal"):
            if isinstance(value, Mapping):
                out[key] = {k: _as_sorted_list(v) for k, v in value.items()}
            else:
                out[key] = value
        elif key == "Condition" and isinstance(value, Mapping):
            out[key] = {
                op: {k: _as_sorted_list(v) for k, v in (cond or {}).items()} if isinstance(cond, Mapping) else cond
                for op, cond in value.items()
            }
        else:
            out[key] = value
    return out


def parse_policy(doc: Any) -> Any:
    """A policy document as a Python structure, whatever form it arrived in (str, URL-encoded, dict)."""
    if doc is None or doc == "":
        return None
    if isinstance(doc, (bytes, bytearray)):
        doc = doc.decode()
    if isinstance(doc, str):
        text = doc.strip()
        if text.startswith("%7B") or text.startswith("%7b"):
            text = unquote(text)
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return text
    return doc


def canonical_policy(doc: Any) -> str | None:
    """Canonical JSON text of a policy: key order, whitespace, single-vs-list and statement order
    do not matter; URL-encoded IAM documents decode first. ``None``/empty stays ``None``."""
    parsed = parse_policy(doc)
    if parsed is None:
        return None
    if isinstance(parsed, Mapping):
        parsed = dict(parsed)
        stmts = parsed.get("Statement")
        if stmts is not None:
            stmts = stmts if isinstance(stmts, list) else [stmts]
            parsed["Statement"] = sorted(
                (_canon_statement(s) for s in stmts), key=lambda s: json.dumps(s, sort_keys=True)
            )
    return json.dumps(parsed, sort_keys=True, separators=(",", ":"))


def policy_grants_public(doc: Any) -> bool:
    """True when an Allow statement names ``Principal: "*"`` (or ``{"AWS": "*"}``) without conditions."""
    parsed = parse_policy(doc)
    if not isinstance(parsed, Mapping):
        return False
    stmts = parsed.get("Statement") or []
    stmts = stmts if isinstance(stmts, list) else [stmts]
    for stmt in stmts:
        if not isinstance(stmt, Mapping) or stmt.get("Effect") != "Allow" or stmt.get("Condition"):
            continue
        principal = stmt.get("Principal")
        if principal == "*":
            return True
        if isinstance(principal, Mapping):
            values = principal.get("AWS")
            if values == "*" or (isinstance(values, list) and "*" in values):
                return True
    return False


def atom(value: Mapping[str, Any]) -> str:
    """One element of an unordered set, as canonical JSON (hashable, readable when decoded)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def atoms(values: Iterable[Mapping[str, Any]]) -> frozenset[str]:
    return frozenset(atom(v) for v in values)


def decode_atom(text: str) -> Any:
    return json.loads(text)


def tags_from_aws(tags: Iterable[Mapping[str, Any]] | Mapping[str, Any] | None) -> dict[str, str]:
    """AWS ``[{"Key":..,"Value":..}]`` (any key case) or a plain map, as a plain map."""
    if not tags:
        return {}
    if isinstance(tags, Mapping):
        return {str(k): "" if v is None else str(v) for k, v in tags.items()}
    out: dict[str, str] = {}
    for tag in tags:
        key = tag.get("Key", tag.get("key"))
        value = tag.get("Value", tag.get("value"))
        if key is not None:
            out[str(key)] = "" if value is None else str(value)
    return out


def tags_from_state(attrs: Mapping[str, Any]) -> dict[str, str]:
    """Declared tags: ``tags_all`` (which includes provider ``default_tags``) when present, else ``tags``."""
    tags = attrs.get("tags_all")
    if tags is None:
        tags = attrs.get("tags")
    return tags_from_aws(tags)
