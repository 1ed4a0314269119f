"""The attribute diff: normalized declared model vs normalized live model → attribute paths.

Value shapes a plugin may use in its models:
- ``dict``: a map (tags); compared per key, paths ``attr.key``.
- ``frozenset`` of canonical atoms (``normalize.atom``): an unordered set; one change per element
  present on only one side, with the decoded element as the value.
- anything else: compared by equality.
Only attributes present in the declared model are compared: what the configuration does not
declare is never drift.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.drift.normalize import decode_atom

__all__ = ["RawChange", "diff_models"]


@dataclass(frozen=True)
class RawChange:
    path: str
    attribute: str
    declared: Any
    live: Any


def diff_models(declared: Mapping[str, Any], live: Mapping[str, Any]) -> list[RawChange]:
    changes: list[RawChange] = []
    for attr in sorted(declared):
        want = declared[attr]
        have = live.get(attr)
        if isinstance(want, frozenset) or isinstance(have, frozenset):
            want_set = want if isinstance(want, frozenset) else frozenset()
            have_set = have if isinstance(have, frozenset) else frozenset()
            for extra in sorted(have_set - want_set):
                changes.append(RawChange(attr, attr, None, decode_atom(extra)))
            for missing in sorted(want_set - have_set):
                changes.append(RawChange(attr, attr, decode_atom(missing), None))
        elif isinstance(want, Mapping) and (have is None or isinstance(have, Mapping)):
            have_map = have or {}
            for key in sorted(set(want) | set(have_map)):
                if want.get(key) != have_map.get(key):
                    changes.append(RawChange(f"{attr}.{key}", attr, want.get(key), have_map.get(key)))
        elif want != have:
            changes.append(RawChange(attr, attr, want, have))
    return changes
