"""Terraform state format v4 → ``ManagedResource`` records.

Only ``mode == "managed"`` resources are kept. Each instance gets its full address, modules and
``count``/``for_each`` keys included (``module.net.aws_security_group.web["a"]``). Sensitive
attribute paths are kept as dotted paths so nothing sensitive is ever shown.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.errors import StateError
from chalicelib.resources.base import ManagedResource

__all__ = ["StateDoc", "format_address", "parse_state", "sensitive_paths"]

_ARN_ACCOUNT = re.compile(r"^arn:aws[\w-]*:[\w-]+:([\w-]*):(\d{12}):")


@dataclass(frozen=True)
class StateDoc:
    url: str
    serial: int
    lineage: str | None
    terraform_version: str | None
    resources: tuple[ManagedResource, ...]
    account: str | None
    region: str | None


def format_address(module: str | None, tf_type: str, name: str, index_key: Any) -> str:
    base = f"{module + '.' if module else ''}{tf_type}.{name}"
    if index_key is None:
        return base
    if isinstance(index_key, bool) or not isinstance(index_key, int):
        return f'{base}["{index_key}"]'
    return f"{base}[{index_key}]"


def sensitive_paths(raw: Any) -> frozenset[str]:
    """State ``sensitive_attributes`` (lists of get_attr/index steps) → dotted paths."""
    out: set[str] = set()
    for path in raw or []:
        if not isinstance(path, list):
            continue
        parts: list[str] = []
        for step in path:
            if isinstance(step, Mapping) and step.get("type") == "get_attr":
                parts.append(str(step.get("value")))
            elif isinstance(step, Mapping) and step.get("type") == "index":
                value = step.get("value")
                parts.append(str(value.get("value") if isinstance(value, Mapping) else value))
        if parts:
            out.add(".".join(parts))
    return frozenset(out)


def _infer_location(resources: list[ManagedResource]) -> tuple[str | None, str | None]:
    accounts: dict[str, int] = {}
    regions: dict[str, int] = {}
    for res in resources:
        arn = res.attributes.get("arn")
        if isinstance(arn, str):
            m = _ARN_ACCOUNT.match(arn)
            if m:
                accounts[m.group(2)] = accounts.get(m.group(2), 0) + 1
                if m.group(1):
                    regions[m.group(1)] = regions.get(m.group(1), 0) + 1
    account = max(accounts, key=lambda k: accounts[k]) if accounts else None
    region = max(regions, key=lambda k: regions[k]) if regions else None
    return account, region


def parse_state(url: str, text: str | bytes) -> StateDoc:
    """Parse one state file. Raises ``StateError`` naming ``url`` for anything unreadable."""
    try:
        doc = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise StateError(url, f"not valid JSON ({exc})") from None
    if not isinstance(doc, Mapping):
        raise StateError(url, "not a Terraform state (top level is not an object)")
    version = doc.get("version")
    if version != 4:
        raise StateError(url, f"unsupported state format version {version!r} (Driftwarden reads version 4)")
    raw_resources = doc.get("resources")
    if raw_resources is None:
        raw_resources = []
    if not isinstance(raw_resources, list):
        raise StateError(url, "'resources' is not a list")
    resources = list(_iter_resources(url, raw_resources))
    account, region = _infer_location(resources)
    if account or region:
        resources = [
            ManagedResource(r.type, r.address, r.state_url, r.attributes, r.sensitive_paths, r.module,
                            _arn_account(r) or account, _arn_region(r) or region)
            for r in resources
        ]
    return StateDoc(url, int(doc.get("serial") or 0), doc.get("lineage"), doc.get("terraform_version"),
                    tuple(resources), account, region)


def _arn_account(res: ManagedResource) -> str | None:
    m = _ARN_ACCOUNT.match(str(res.attributes.get("arn") or ""))
    return m.group(2) if m else None


def _arn_region(res: ManagedResource) -> str | None:
    m = _ARN_ACCOUNT.match(str(res.attributes.get("arn") or ""))
    return (m.group(1) or None) if m else None


def _iter_resources(url: str, raw_resources: list[Any]) -> Iterator[ManagedResource]:
    for i, res in enumerate(raw_resources):
        if not isinstance(res, Mapping):
            raise StateError(url, f"resources[{i}] is not an object")
        if res.get("mode") != "managed":
            continue
        tf_type, name = res.get("type"), res.get("name")
        if not isinstance(tf_type, str) or not isinstance(name, str):
            raise StateError(url, f"resources[{i}] has no type/name")
        module = res.get("module") or None
        for j, inst in enumerate(res.get("instances") or []):
            if not isinstance(inst, Mapping) or not isinstance(inst.get("attributes"), Mapping):
                raise StateError(url, f"{tf_type}.{name} instance {j} has no attributes object")
            yield ManagedResource(
                type=tf_type,
                address=format_address(module, tf_type, name, inst.get("index_key")),
                state_url=url,
                attributes=inst["attributes"],
                sensitive_paths=sensitive_paths(inst.get("sensitive_attributes")),
                module=module,
            )
