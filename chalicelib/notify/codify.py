"""Codify an accepted drift: the Terraform change that makes the configuration say what AWS now says.

When someone approves a drift, the next ``terraform apply`` would undo it unless the configuration
is changed to match. Given the finding (address, type, changes with declared and live values) this
module produces:

- with the resource's ``.tf`` source: a unified diff that edits the ``resource "TYPE" "NAME"``
  block in place (changed attributes rewritten, ``tags.KEY`` edited inside the tags map, security
  group ``ingress``/``egress`` nested blocks added, narrowed or removed);
- always: a standalone HCL snippet (a resource block with only the changed assignments) to merge by
  hand.

The source is edited as text, not re-serialized, so comments and layout survive. Only literal
values are rewritten: an attribute set from an expression (``var.x``, ``local.tags``) is left alone
and a note says where the value must change instead. Sensitive values are never written out.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from chalicelib.errors import DriftwardenError
from chalicelib.models import MASK, Change, Finding

__all__ = ["Codification", "HclEditError", "codify", "codify_in_files", "hcl_string", "hcl_value",
           "parse_address"]

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_RESERVED = {"true", "false", "null", "for", "in", "if", "endif", "endfor"}
_SET_BLOCKS = {"aws_security_group": ("ingress", "egress")}
_PEER_FIELDS = ("cidr_blocks", "ipv6_cidr_blocks", "prefix_list_ids", "security_groups")
_UNKNOWN = object()  # an expression we do not evaluate


class HclEditError(DriftwardenError):
    """The source could not be scanned as HCL (unbalanced braces, unterminated string...)."""


@dataclass(frozen=True)
class Codification:
    address: str | None
    snippet: str
    diff: str | None = None
    edited: str | None = None
    path: str | None = None
    applied: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {"address": self.address, "snippet": self.snippet, "diff": self.diff, "path": self.path,
                "applied": list(self.applied), "notes": list(self.notes)}


# --- addresses ------------------------------------------------------------------------------------------


def _split_address(address: str) -> list[str]:
    parts, cur, depth, quoted = [], "", 0, False
    for ch in address:
        if ch == '"' and depth:
            quoted = not quoted
        elif not quoted and ch == "[":
            depth += 1
        elif not quoted and ch == "]":
            depth -= 1
        if ch == "." and not depth and not quoted:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return parts


def parse_address(address: str) -> tuple[list[str], str, str, str | None]:
    """``module.net.aws_x.y["k"]`` → (["net"], "aws_x", "y", '"k"'). Raises ``ValueError``."""
    parts = _split_address(address)
    modules: list[str] = []
    i = 0
    while i < len(parts) and parts[i] == "module" and i + 1 < len(parts):
        modules.append(parts[i + 1])
        i += 2
    if i < len(parts) and parts[i] == "data":
        i += 1
    if len(parts) - i != 2:
        raise ValueError(f"not a resource address: {address!r}")
    tf_type, name = parts[i], parts[i + 1]
    index = None
    if "[" in name:
        name, _, rest = name.partition("[")
        index = rest[:-1]
    return modules, tf_type, name, index


# --- HCL values -----------------------------------------------------------------------------------------


def hcl_string(text: str) -> str:
    out = ['"']
    i = 0
    while i < len(text):
        ch = text[i]
        if ch in "$%" and text.startswith("{", i + 1):
            out.append(ch + ch + "{")
            i += 2
            continue
        out.append({"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(ch)
                   or (f"\\u{ord(ch):04x}" if ord(ch) < 32 else ch))
        i += 1
    out.append('"')
    return "".join(out)


def _hcl_key(key: Any) -> str:
    text = str(key)
    return text if _PLAIN_KEY.match(text) and text not in _RESERVED else hcl_string(text)


def _json_document(value: str) -> Any:
    text = value.strip()
    if not text.startswith(("{", "[")):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def hcl_value(value: Any, indent: str = "", *, jsonencode: bool = True) -> str:
    """A Python value as an HCL literal. JSON documents in strings (policies) become ``jsonencode(...)``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    if isinstance(value, str):
        doc = _json_document(value) if jsonencode else None
        if isinstance(doc, (dict, list)):
            return f"jsonencode({hcl_value(doc, indent, jsonencode=False)})"
        return hcl_string(value)
    inner = indent + "  "
    if isinstance(value, Mapping):
        if not value:
            return "{}"
        lines = [f"{inner}{_hcl_key(k)} = {hcl_value(v, inner, jsonencode=jsonencode)}" for k, v in value.items()]
        return "{\n" + "\n".join(lines) + f"\n{indent}}}"
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else list(value)
        rendered = [hcl_value(v, inner, jsonencode=jsonencode) for v in items]
        if all("\n" not in r for r in rendered) and sum(len(r) for r in rendered) < 80:
            return "[" + ", ".join(rendered) + "]"
        return "[\n" + "".join(f"{inner}{r},\n" for r in rendered) + f"{indent}]"
    return hcl_string(str(value))


# --- a small HCL scanner (enough to find blocks, attributes and expression extents) -----------------------


@dataclass
class _Attr:
    name: str
    start: int  # start of the line (or of the name when something precedes it on the line)
    name_at: int
    value_start: int
    value_end: int  # end of the expression, before trailing spaces/comments
    end: int  # after the line's newline


@dataclass
class _Block:
    type: str
    labels: list[str]
    start: int
    name_at: int
    open: int  # index of "{"
    close: int  # index of "}"
    end: int


class _Scanner:
    def __init__(self, text: str) -> None:
        self.t = text
        self.n = len(text)

    def error(self, at: int, msg: str) -> HclEditError:
        line = self.t.count("\n", 0, at) + 1
        return HclEditError(f"line {line}: {msg}")

    def skip_comment(self, i: int) -> int:
        t = self.t
        if t.startswith("#", i) or t.startswith("//", i):
            j = t.find("\n", i)
            return self.n if j < 0 else j
        if t.startswith("/*", i):
            j = t.find("*/", i + 2)
            if j < 0:
                raise self.error(i, "unterminated /* comment")
            return j + 2
        return i

    def skip_ws(self, i: int, newlines: bool = True) -> int:
        """Skip spaces and comments; with ``newlines=False`` stop at a newline or a line comment."""
        t = self.t
        while i < self.n:
            ch = t[i]
            if ch in " \t\r" or (newlines and ch == "\n"):
                i += 1
            elif t.startswith("/*", i) or (newlines and (ch == "#" or t.startswith("//", i))):
                i = self.skip_comment(i)
            else:
                return i
        return i

    def skip_string(self, i: int) -> int:
        t, n = self.t, self.n
        i += 1
        while i < n:
            ch = t[i]
            if ch == "\\":
                i += 2
                continue
            if ch == '"':
                return i + 1
            if t.startswith("$${", i) or t.startswith("%%{", i):
                i += 3
                continue
            if ch in "$%" and t.startswith("{", i + 1):
                i = self.skip_group(i + 1)
                continue
            if ch == "\n":
                raise self.error(i, "unterminated string")
            i += 1
        raise self.error(i, "unterminated string")

    def skip_heredoc(self, i: int) -> int:
        m = re.compile(r"<<-?([A-Za-z_][A-Za-z0-9_]*)[ \t]*\r?\n").match(self.t, i)
        if not m:
            return i + 2
        marker = m.group(1)
        j = m.end()
        while j < self.n:
            eol = self.t.find("\n", j)
            line = self.t[j:] if eol < 0 else self.t[j:eol]
            if line.strip() == marker:
                return j + len(line)
            if eol < 0:
                break
            j = eol + 1
        raise self.error(i, f"unterminated heredoc <<{marker}")

    def skip_group(self, i: int) -> int:
        """From an opening ``{``/``[``/``(`` to just after its match."""
        closer = {"{": "}", "[": "]", "(": ")"}
        stack = [closer[self.t[i]]]
        i += 1
        while i < self.n:
            ch = self.t[i]
            if ch == '"':
                i = self.skip_string(i)
            elif self.t.startswith("<<", i):
                i = self.skip_heredoc(i)
            elif ch in "#/":
                j = self.skip_comment(i)
                i = j if j != i else i + 1
            elif ch in closer:
                stack.append(closer[ch])
                i += 1
            elif ch in ")]}":
                if ch != stack.pop():
                    raise self.error(i, f"unbalanced {ch!r}")
                i += 1
                if not stack:
                    return i
            else:
                i += 1
        raise self.error(i, "unbalanced brackets (missing closing brace?)")

    def scan_expr(self, i: int, stops: str = "\n") -> tuple[int, int]:
        """An expression from ``i``: (end of expression text, index where scanning stopped)."""
        t = self.t
        last = i
        while i < self.n:
            ch = t[i]
            if ch in stops or ch in ")]}":
                break
            if ch == '"':
                i = self.skip_string(i)
                last = i
            elif t.startswith("<<", i) and re.match(r"<<-?[A-Za-z_]", t[i:i + 4]):
                i = self.skip_heredoc(i)
                last = i
            elif ch in "{[(":
                i = self.skip_group(i)
                last = i
            elif ch == "#" or t.startswith("//", i) or t.startswith("/*", i):
                j = self.skip_comment(i)
                if t.startswith("/*", i):
                    i = j
                    continue
                i = j
                break
            elif ch in " \t\r":
                i += 1
            else:
                i += 1
                last = i
        return last, i

    def line_start(self, i: int) -> int:
        j = self.t.rfind("\n", 0, i) + 1
        return j if self.t[j:i].strip() == "" else i

    def line_end(self, i: int) -> int:
        """After the newline that follows ``i`` when only spaces/comments remain on the line."""
        j = self.skip_ws(i, newlines=False)
        if self.t.startswith("#", j) or self.t.startswith("//", j):
            j = self.skip_comment(j)
        if j >= self.n:
            return self.n
        if self.t[j] == "\n":
            return j + 1
        return i

    def body(self, start: int, end: int) -> list[_Attr | _Block]:
        """Attributes and blocks between ``start`` and ``end`` (exclusive)."""
        items: list[_Attr | _Block] = []
        i = start
        while True:
            i = self.skip_ws(i)
            if i >= end:
                return items
            m = _IDENT.match(self.t, i)
            if not m:
                raise self.error(i, f"unexpected {self.t[i]!r}")
            j = self.skip_ws(m.end(), newlines=False)
            if self.t.startswith("=", j) and not self.t.startswith("==", j):
                vstart = self.skip_ws(j + 1, newlines=False)
                vend, stop = self.scan_expr(vstart)
                end_at = stop + 1 if stop < self.n and self.t[stop] == "\n" else stop
                items.append(_Attr(m.group(), self.line_start(i), i, vstart, vend, end_at))
                i = end_at
                continue
            labels: list[str] = []
            k = j
            while k < end and self.t[k] != "{":
                if self.t[k] == '"':
                    e = self.skip_string(k)
                    labels.append(self.t[k + 1:e - 1])
                    k = self.skip_ws(e, newlines=False)
                elif lm := _IDENT.match(self.t, k):
                    labels.append(lm.group())
                    k = self.skip_ws(lm.end(), newlines=False)
                else:
                    raise self.error(k, f"expected a block or an attribute, found {self.t[k]!r}")
            if k >= end:
                raise self.error(i, f"block {m.group()!r} has no body")
            close = self.skip_group(k) - 1
            items.append(_Block(m.group(), labels, self.line_start(i), i, k, close, self.line_end(close + 1)))
            i = close + 1

    def object_items(self, open_at: int, close_at: int) -> list[tuple[str, int, int, int, int]]:
        """Entries of an object literal: (key, item start, value start, value end, item end)."""
        out: list[tuple[str, int, int, int, int]] = []
        i = open_at + 1
        while True:
            i = self.skip_ws(i)
            if i >= close_at:
                return out
            if self.t[i] == '"':
                e = self.skip_string(i)
                key = _literal(self.t[i:e])
                key = key if isinstance(key, str) else self.t[i + 1:e - 1]
            elif m := _IDENT.match(self.t, i):
                key, e = m.group(), m.end()
            elif self.t[i] == "(":
                e = self.skip_group(i)
                key = self.t[i:e]
            else:
                raise self.error(i, f"unexpected {self.t[i]!r} in an object")
            j = self.skip_ws(e, newlines=False)
            if self.t[j] not in "=:":
                raise self.error(j, "expected = in an object")
            vstart = self.skip_ws(j + 1, newlines=False)
            vend, stop = self.scan_expr(vstart, stops="\n,")
            item_end = stop
            if item_end < close_at and self.t[item_end] == ",":
                item_end += 1
            item_end = self.line_end(item_end) if item_end < close_at else item_end
            out.append((str(key), self.line_start(i), vstart, vend, item_end))
            i = max(item_end, stop)


def _literal(text: str) -> Any:
    """Evaluate a literal HCL expression (string without templates, number, bool, null, list);
    anything else is ``_UNKNOWN``."""
    text = text.strip()
    if text in ("true", "false"):
        return text == "true"
    if text == "null":
        return None
    if re.fullmatch(r"-?\d+(\.\d+)?", text):
        return float(text) if "." in text else int(text)
    if text.startswith('"') and text.endswith('"') and len(text) >= 2:
        body = text[1:-1]
        if re.search(r"(?<![$%])[$%]\{", body):
            return _UNKNOWN
        try:
            return json.loads('"' + body.replace("$${", "${").replace("%%{", "%{") + '"')
        except ValueError:
            return _UNKNOWN
    if text.startswith("[") and text.endswith("]"):
        sc = _Scanner(text)
        items: list[Any] = []
        i = 1
        while True:
            i = sc.skip_ws(i)
            if i >= len(text) - 1:
                return items
            end, stop = sc.scan_expr(i, stops=",\n")
            value = _literal(text[i:end])
            if value is _UNKNOWN:
                return _UNKNOWN
            items.append(value)
            i = stop + 1 if stop < len(text) - 1 and text[stop] in ",\n" else stop
            if stop >= len(text) - 1:
                return items
    return _UNKNOWN


# --- the editor -----------------------------------------------------------------------------------------


@dataclass
class _Edits:
    text: str
    ops: list[tuple[int, int, str]] = field(default_factory=list)

    def replace(self, start: int, end: int, new: str) -> None:
        self.ops.append((start, end, new))

    def apply(self) -> str:
        ordered = sorted(enumerate(self.ops), key=lambda p: (p[1][0], p[1][1], p[0]))
        for (_, a), (_, b) in pairwise(ordered):
            if b[0] < a[1]:
                raise HclEditError("overlapping edits")
        out = self.text
        for _, (start, end, new) in reversed(ordered):
            out = out[:start] + new + out[end:]
        return out


def _indent_of(sc: _Scanner, items: Sequence[_Attr | _Block], parent_start: int) -> str:
    for item in items:
        line = sc.t.rfind("\n", 0, item.name_at) + 1
        ws = sc.t[line:item.name_at]
        if ws.strip() == "":
            return ws
    return _line_indent(sc, parent_start) + "  "


def _insert_at(sc: _Scanner, block: _Block, items: Sequence[_Attr | _Block], after_attrs: bool) -> int:
    """Where a new line goes in ``block``: after the last attribute (or block), else before ``}``."""
    pool = [it for it in items if isinstance(it, _Attr)] if after_attrs else list(items)
    if pool:
        end = pool[-1].end
        if end > 0 and sc.t[end - 1] == "\n":
            return end
    # Before the closing brace's line (or right before "}" on a one-line block).
    line = sc.t.rfind("\n", 0, block.close) + 1
    return line if sc.t[line:block.close].strip() == "" and line > block.open else block.close


def _line(at: int, sc: _Scanner, indent: str, body: str) -> str:
    """A whole line to insert at ``at``; when ``at`` is mid-line (a one-line block) start a new line."""
    lead = "" if at == 0 or sc.t[at - 1] == "\n" else "\n"
    return f"{lead}{indent}{body}\n"


def _line_indent(sc: _Scanner, at: int) -> str:
    line = sc.t.rfind("\n", 0, at) + 1
    m = re.match(r"[ \t]*", sc.t[line:])
    return m.group() if m else ""


@dataclass
class _Plan:
    """What to do to one resource block, computed from the changes."""

    scalars: dict[str, Change] = field(default_factory=dict)
    maps: dict[str, dict[str, Change]] = field(default_factory=dict)
    nested: dict[str, dict[str, Change]] = field(default_factory=dict)
    sets: dict[str, list[Change]] = field(default_factory=dict)
    sensitive: list[Change] = field(default_factory=list)


def _plan(tf_type: str, changes: Sequence[Change], nested_blocks: set[str]) -> _Plan:
    plan = _Plan()
    for ch in changes:
        attr, _, key = ch.path.partition(".")
        if ch.sensitive or ch.live == MASK:
            plan.sensitive.append(ch)
        elif attr in _SET_BLOCKS.get(tf_type, ()) and not key:
            plan.sets.setdefault(attr, []).append(ch)
        elif key and attr in nested_blocks:
            plan.nested.setdefault(attr, {})[key] = ch
        elif key:
            plan.maps.setdefault(attr, {})[key] = ch
        else:
            plan.scalars[attr] = ch
    return plan


# --- security group rules -------------------------------------------------------------------------------


def _rule_peer(rule: Mapping[str, Any]) -> tuple[str, str]:
    for fld in _PEER_FIELDS:
        if rule.get(fld):
            return fld, str(rule[fld][0])
    raise ValueError(f"rule without a peer: {rule}")


def _rule_key(rule: Mapping[str, Any]) -> tuple[str, int, int]:
    from chalicelib.resources.aws_security_group import ports, protocol

    p = protocol(rule.get("protocol"))
    lo, hi = ports(p, rule.get("from_port"), rule.get("to_port"))
    return p, lo, hi


def _block_rule(sc: _Scanner, block: _Block) -> dict[str, Any]:
    attrs = {it.name: it for it in sc.body(block.open + 1, block.close) if isinstance(it, _Attr)}
    values = {name: _literal(sc.t[a.value_start:a.value_end]) for name, a in attrs.items()}
    return {"attrs": attrs, "values": values}


def _describe(rule: Mapping[str, Any]) -> str:
    p, lo, hi = _rule_key(rule)
    _, peer = _rule_peer(rule)
    port = "all ports" if p == "-1" else (str(lo) if lo == hi else f"{lo}-{hi}")
    return f"{'all traffic' if p == '-1' else p} {port} {peer}"


def _rule_body(rule: Mapping[str, Any], group_id: str | None) -> list[str]:
    p, lo, hi = _rule_key(rule)
    fld, peer = _rule_peer(rule)
    lines = [f"from_port = {lo}", f"to_port = {hi}", f"protocol = {hcl_string(p)}"]
    if fld == "security_groups" and group_id and peer == group_id:
        lines.append("self = true")
    else:
        lines.append(f"{fld} = {hcl_value([peer])}")
    if rule.get("description"):
        lines.append(f"description = {hcl_string(str(rule['description']))}")
    return lines


def _matches_rule(info: Mapping[str, Any], rule: Mapping[str, Any], group_id: str | None) -> bool | None:
    """Does this source block declare ``rule``'s atom? ``None`` when its values are expressions."""
    values = info["values"]
    needed = ("protocol", "from_port", "to_port")
    if any(values.get(k, None) is _UNKNOWN for k in needed):
        return None
    if _rule_key(values) != _rule_key(rule):
        return False
    fld, peer = _rule_peer(rule)
    if fld == "security_groups" and group_id and peer == group_id and values.get("self") is True:
        return True
    peers = values.get(fld)
    if peers is _UNKNOWN:
        return None
    return peer in (peers or [])


def _peer_count(info: Mapping[str, Any]) -> int:
    values = info["values"]
    count = sum(len(v) for f in _PEER_FIELDS if isinstance(v := values.get(f), list))
    return count + (1 if values.get("self") is True else 0)


# --- public API -----------------------------------------------------------------------------------------


def _find_resource(sc: _Scanner, tf_type: str, name: str) -> _Block | None:
    for item in sc.body(0, sc.n):
        if isinstance(item, _Block) and item.type == "resource" and item.labels[:2] == [tf_type, name]:
            return item
    return None


def codify(finding: Finding, source: tuple[str, str] | None = None) -> Codification:
    """The Terraform change for ``finding``'s accepted drift. ``source`` = (path, text) of a ``.tf``."""
    res = finding.resource
    address = res.address if res else None
    notes: list[str] = []
    if res is None or not address:
        return Codification(address, "# this finding names no managed resource: nothing to codify\n",
                            notes=("no Terraform address on the finding",))
    try:
        modules, tf_type, name, index = parse_address(address)
    except ValueError as exc:
        return Codification(address, f"# {exc}\n", notes=(str(exc),))
    if modules:
        notes.append(f"the block lives in the source of module {'.'.join(modules)}: if that module is shared, "
                     f"add an input variable instead of editing it for every caller")
    if index is not None:
        notes.append(f"{tf_type}.{name} has count/for_each: the block is shared by every instance, so this "
                     f"edit changes all of them; use a per-instance value if only [{index}] should change")
    snippet = _snippet(finding, tf_type, name, address, notes)
    if source is None:
        return Codification(address, snippet, notes=tuple(notes))
    path, text = source
    sc = _Scanner(text)
    try:
        block = _find_resource(sc, tf_type, name)
    except HclEditError as exc:
        notes.append(f"{path}: cannot scan the source ({exc}); use the snippet")
        return Codification(address, snippet, path=path, notes=tuple(notes))
    if block is None:
        notes.append(f'{path} has no resource "{tf_type}" "{name}" block; use the snippet')
        return Codification(address, snippet, path=path, notes=tuple(notes))
    edits = _Edits(text)
    try:
        applied = _edit_block(sc, edits, block, finding, tf_type, notes)
        edited = edits.apply() if applied else text
    except HclEditError as exc:
        notes.append(f"{path}: cannot edit the block ({exc}); use the snippet")
        applied = []
    notes = list(dict.fromkeys(notes))
    if not applied:
        return Codification(address, snippet, path=path, notes=tuple(notes))
    diff = "".join(difflib.unified_diff(text.splitlines(keepends=True), edited.splitlines(keepends=True),
                                        fromfile=f"a/{path}", tofile=f"b/{path}"))
    return Codification(address, snippet, diff, edited, path, tuple(applied), tuple(notes))


def codify_in_files(finding: Finding, files: Mapping[str, str]) -> Codification:
    """Like ``codify``, choosing the file (path → text) that holds the resource block."""
    if finding.resource and finding.resource.address:
        try:
            _, tf_type, name, _ = parse_address(finding.resource.address)
        except ValueError:
            return codify(finding)
        pattern = re.compile(rf'resource\s+"?{re.escape(tf_type)}"?\s+"?{re.escape(name)}"?\s*\{{')
        for path in sorted(files):
            if pattern.search(files[path]):
                return codify(finding, (path, files[path]))
    return codify(finding)


def _edit_block(sc: _Scanner, edits: _Edits, block: _Block, finding: Finding, tf_type: str,
                notes: list[str]) -> list[str]:
    items = sc.body(block.open + 1, block.close)
    attrs = {it.name: it for it in items if isinstance(it, _Attr)}
    blocks: dict[str, list[_Block]] = {}
    for it in items:
        if isinstance(it, _Block):
            blocks.setdefault(it.type, []).append(it)
    plan = _plan(tf_type, finding.changes, {k for k, v in blocks.items() if len(v) == 1})
    indent = _indent_of(sc, items, block.start)
    applied: list[str] = []
    inserts: list[str] = []
    for ch in plan.sensitive:
        notes.append(f"{ch.path} is sensitive: set it from a variable or secret store (value not shown)")
    for attr, ch in plan.scalars.items():
        if _edit_scalar(sc, edits, attrs.get(attr), attr, ch, indent, inserts, notes):
            applied.append(ch.path)
    for attr, keys in plan.maps.items():
        applied += _edit_map(sc, edits, attrs.get(attr), attr, keys, indent, inserts, notes)
    for attr, keys in plan.nested.items():
        inner = blocks[attr][0]
        inner_items = sc.body(inner.open + 1, inner.close)
        inner_attrs = {it.name: it for it in inner_items if isinstance(it, _Attr)}
        inner_indent = _indent_of(sc, inner_items, inner.start)
        inner_inserts: list[str] = []
        for key, ch in keys.items():
            if _edit_scalar(sc, edits, inner_attrs.get(key), key, ch, inner_indent, inner_inserts, notes):
                applied.append(ch.path)
        if inner_inserts:
            at = _insert_at(sc, inner, inner_items, after_attrs=True)
            edits.replace(at, at, "".join(_line(at, sc, inner_indent, ln) for ln in inner_inserts))
    group_id = finding.resource.id if finding.resource else None
    for direction, changes in plan.sets.items():
        applied += _edit_rules(sc, edits, block, items, blocks.get(direction, []), direction, changes, group_id,
                               indent, notes)
    if inserts:
        at = _insert_at(sc, block, items, after_attrs=True)
        edits.replace(at, at, "".join(_line(at, sc, indent, ln) for ln in inserts))
    return applied


def _edit_scalar(sc: _Scanner, edits: _Edits, attr: _Attr | None, name: str, ch: Change, indent: str,
                 inserts: list[str], notes: list[str]) -> bool:
    if attr is None:
        if ch.live is None:
            notes.append(f"{ch.path}: not set in the source and unset in AWS; nothing to change")
            return False
        inserts.append(f"{name} = {hcl_value(ch.live, indent)}")
        return True
    current = sc.t[attr.value_start:attr.value_end]
    if _literal(current) is _UNKNOWN and not current.lstrip().startswith(("{", "jsonencode(")):
        notes.append(f"{ch.path} is set from the expression `{current.strip()}`: change the value there to "
                     f"{hcl_value(ch.live)}")
        return False
    if ch.live is None:
        edits.replace(attr.start, attr.end, "")
        notes.append(f"{ch.path}: removed (unset in AWS); the provider default applies")
        return True
    edits.replace(attr.value_start, attr.value_end, hcl_value(ch.live, indent))
    return True


def _object_range(sc: _Scanner, attr: _Attr) -> tuple[int, int] | None:
    """The object literal an attribute's value is, or the last object argument of ``merge(...)``."""
    value = sc.t[attr.value_start:attr.value_end]
    if value.startswith("{"):
        return attr.value_start, attr.value_end - 1
    if re.match(r"merge\s*\(", value) and value.endswith(")"):
        close = attr.value_end - 1
        j = close - 1
        while j > attr.value_start and sc.t[j] in " \t\r\n,":
            j -= 1
        if sc.t[j] == "}":
            depth = 0
            for k in range(j, attr.value_start - 1, -1):
                if sc.t[k] == "}":
                    depth += 1
                elif sc.t[k] == "{":
                    depth -= 1
                    if depth == 0:
                        if sc.skip_group(k) - 1 == j:
                            return k, j
                        break
    return None


def _edit_map(sc: _Scanner, edits: _Edits, attr: _Attr | None, name: str, keys: Mapping[str, Change],
              indent: str, inserts: list[str], notes: list[str]) -> list[str]:
    if attr is None:
        additions = {k: ch.live for k, ch in keys.items() if ch.live is not None}
        for ch in keys.values():
            if ch.live is None:
                notes.append(f"{ch.path}: not in the source (provider default_tags or another module?); "
                             f"remove it where it is declared")
        if not additions:
            return []
        inserts.append(f"{name} = {hcl_value(additions, indent)}")
        return [keys[k].path for k in additions]
    rng = _object_range(sc, attr)
    if rng is None:
        expr = sc.t[attr.value_start:attr.value_end].strip()
        for ch in keys.values():
            notes.append(f"{ch.path}: {name} is set from `{expr}`; set {ch.path.split('.', 1)[1]} = "
                         f"{hcl_value(ch.live)} there" if ch.live is not None else
                         f"{ch.path}: {name} is set from `{expr}`; remove the key there")
        return []
    open_at, close_at = rng
    is_merge = open_at != attr.value_start
    entries = {key: (start, vs, ve, end) for key, start, vs, ve, end in sc.object_items(open_at, close_at)}
    one_line = "\n" not in sc.t[open_at:close_at]
    item_indent = indent + "  "
    for _key, start, _vs, _ve, _end in sc.object_items(open_at, close_at):
        if start > open_at and sc.t[start - 1] == "\n":
            item_indent = _line_indent(sc, start)
            break
    applied: list[str] = []
    if one_line:
        # Re-render the whole object on several lines, keeping every untouched value's text.
        rows = []
        for key, (_s, vs, ve, _e) in entries.items():
            if key in keys:
                continue
            rows.append((key, sc.t[vs:ve]))
        for key, ch in keys.items():
            if ch.live is not None:
                rows.append((key, hcl_value(ch.live, item_indent)))
            elif key not in entries:
                notes.append(f"{ch.path}: not in the source map; remove it where it is declared")
                continue
            applied.append(ch.path)
        inner_indent = _line_indent(sc, attr.name_at)
        body = "".join(f"{inner_indent}  {_hcl_key(k) if not k.startswith('(') else k} = {v}\n" for k, v in rows)
        edits.replace(open_at, close_at + 1, "{\n" + body + inner_indent + "}")
        return applied
    pending: list[str] = []
    for key, ch in keys.items():
        if key in entries:
            start, vs, ve, end = entries[key]
            if ch.live is None:
                edits.replace(start, end, "")
            else:
                edits.replace(vs, ve, hcl_value(ch.live, item_indent))
            applied.append(ch.path)
        elif ch.live is not None:
            pending.append(f"{_hcl_key(key)} = {hcl_value(ch.live, item_indent)}")
            applied.append(ch.path)
        elif is_merge:
            notes.append(f"{ch.path}: comes from an earlier argument of merge(); remove it there")
        else:
            notes.append(f"{ch.path}: not in the source map (provider default_tags?); remove it where declared")
    if pending:
        line = sc.t.rfind("\n", 0, close_at) + 1
        at = line if sc.t[line:close_at].strip() == "" else close_at
        text = "".join(f"{item_indent}{p}\n" for p in pending)
        edits.replace(at, at, text if at == line else "\n" + text)
    return applied


def _edit_rules(sc: _Scanner, edits: _Edits, block: _Block, items: Sequence[_Attr | _Block],
                rule_blocks: list[_Block], direction: str, changes: Sequence[Change], group_id: str | None,
                indent: str, notes: list[str]) -> list[str]:
    infos = [(b, _block_rule(sc, b)) for b in rule_blocks]
    removals: dict[int, list[tuple[str, str]]] = {}
    descriptions: dict[int, str] = {}
    additions: list[Mapping[str, Any]] = []
    applied: list[str] = []
    for ch in changes:
        rule = ch.declared if ch.declared is not None else ch.live
        if not isinstance(rule, Mapping):
            notes.append(f"{direction}: unexpected value {rule!r}; skipped")
            continue
        if ch.declared is None:
            additions.append(ch.live)
            applied.append(f"{direction}: add {_describe(ch.live)}")
            continue
        found = None
        for i, (_b, info) in enumerate(infos):
            match = _matches_rule(info, rule, group_id)
            if match is None:
                notes.append(f"{direction}: a block uses expressions; check it for {_describe(rule)} by hand")
            elif match:
                found = i
                break
        if found is None:
            notes.append(f"{direction} {_describe(rule)} is not declared inline in this block (an "
                         f"aws_security_group_rule or aws_vpc_security_group_*_rule resource?); change it there")
            continue
        if ch.live is None:
            removals.setdefault(found, []).append(_rule_peer(rule))
            applied.append(f"{direction}: remove {_describe(rule)}")
        else:
            descriptions[found] = str(ch.live.get("description") or "")
            if _peer_count(infos[found][1]) > 1:
                notes.append(f"{direction} {_describe(rule)}: the description is shared by every peer of its "
                             f"block; split the block if only this peer should change")
            applied.append(f"{direction}: description of {_describe(rule)}")
    for i, (blk, info) in enumerate(infos):
        gone = removals.get(i, [])
        if gone and len(gone) >= _peer_count(info):
            edits.replace(_with_blank_line_before(sc, blk.start), blk.end, "")
            continue
        for fld in _PEER_FIELDS:
            drop = {peer for f, peer in gone if f == fld}
            if drop and isinstance(info["values"].get(fld), list):
                kept = [p for p in info["values"][fld] if p not in drop]
                a = info["attrs"][fld]
                edits.replace(a.value_start, a.value_end, hcl_value(kept))
        if any(f == "security_groups" and group_id and p == group_id for f, p in gone) and \
                info["values"].get("self") is True:
            a = info["attrs"]["self"]
            edits.replace(a.value_start, a.value_end, "false")
        if i in descriptions:
            desc_attr = info["attrs"].get("description")
            if desc_attr is not None:
                edits.replace(desc_attr.value_start, desc_attr.value_end, hcl_string(descriptions[i]))
            else:
                inner_items = sc.body(blk.open + 1, blk.close)
                inner_indent = _indent_of(sc, inner_items, blk.start)
                at = _insert_at(sc, blk, inner_items, after_attrs=True)
                edits.replace(at, at, _line(at, sc, inner_indent, f"description = {hcl_string(descriptions[i])}"))
    if additions:
        anchor = rule_blocks[-1] if rule_blocks else None
        if anchor is not None and sc.t[anchor.end - 1:anchor.end] == "\n":
            at = anchor.end
        else:
            at = _insert_at(sc, block, items, after_attrs=False)
        lead = "" if at == 0 or sc.t[at - 1] == "\n" else "\n"
        gap = "\n" if items else ""  # a blank line between blocks, as terraform fmt leaves them
        text = "".join(gap + _render_block(direction, _rule_body(rule, group_id), indent) for rule in additions)
        edits.replace(at, at, lead + text)
    return applied


def _with_blank_line_before(sc: _Scanner, start: int) -> int:
    """Deleting a block also deletes the blank line that separated it from what came before."""
    if start == 0 or sc.t[start - 1] != "\n":
        return start
    prev = sc.t.rfind("\n", 0, start - 1) + 1
    return prev if sc.t[prev:start].strip() == "" else start


def _render_block(name: str, lines: Sequence[str], indent: str) -> str:
    inner = indent + "  "
    return f"{indent}{name} {{\n" + "".join(f"{inner}{ln}\n" for ln in lines) + f"{indent}}}\n"


# --- the standalone snippet -----------------------------------------------------------------------------


def _snippet(finding: Finding, tf_type: str, name: str, address: str, notes: list[str]) -> str:
    res = finding.resource
    group_id = res.id if res else None
    plan = _plan(tf_type, finding.changes, {a for c in finding.changes for a in [c.path.partition(".")[0]]
                                            if _looks_nested(tf_type, a)})
    ind = "  "
    body: list[str] = []
    for ch in plan.sensitive:
        body.append(f"{ind}# {ch.path} is sensitive: set it from a variable or a secret store (value not shown)")
    for attr, ch in plan.scalars.items():
        body.append(f"{ind}{attr} = {hcl_value(ch.live, ind)}")
    for attr, keys in plan.maps.items():
        rows = [f"{ind}  # other keys unchanged"]
        for key, ch in keys.items():
            if ch.live is None:
                rows.append(f"{ind}  # remove {hcl_string(key)} (it no longer exists in AWS)")
            else:
                rows.append(f"{ind}  {_hcl_key(key)} = {hcl_value(ch.live, ind + '  ')}")
        body.append(f"{ind}{attr} = {{\n" + "\n".join(rows) + f"\n{ind}}}")
    for attr, keys in plan.nested.items():
        rows = [f"{ind}  {key} = {hcl_value(ch.live, ind + '  ')}" for key, ch in keys.items()]
        body.append(f"{ind}{attr} {{\n" + "\n".join(rows) + f"\n{ind}}}")
    for direction, changes in plan.sets.items():
        for ch in changes:
            if ch.declared is None and isinstance(ch.live, Mapping):
                body.append(_render_block(direction, _rule_body(ch.live, group_id), ind).rstrip("\n"))
            elif ch.live is None and isinstance(ch.declared, Mapping):
                body.append(f"{ind}# remove from {direction}: {_describe(ch.declared)} (revoked in AWS)")
            elif isinstance(ch.live, Mapping):
                body.append(f"{ind}# {direction} {_describe(ch.live)}: set description = "
                            f"{hcl_string(str(ch.live.get('description') or ''))}")
    header = [f"# Codify the accepted drift on {address}"]
    if res and res.state:
        header.append(f"# (state {res.state})")
    header.append(f'# Merge into resource "{tf_type}" "{name}"; attributes not shown here stay as they are.')
    return "\n".join(header) + f'\nresource {hcl_string(tf_type)} {hcl_string(name)} {{\n' + \
        "\n".join(body) + ("\n" if body else "") + "}\n"


def _looks_nested(tf_type: str, attr: str) -> bool:
    """Sub-paths that are nested blocks rather than maps, when no source tells us. Maps (tags...) are
    the common case; a few well-known single blocks are listed here."""
    return attr in _KNOWN_SINGLE_BLOCKS.get(tf_type, ())


_KNOWN_SINGLE_BLOCKS: dict[str, tuple[str, ...]] = {
    "aws_s3_bucket": ("versioning", "logging", "website", "server_side_encryption_configuration"),
    "aws_instance": ("metadata_options", "root_block_device", "credit_specification"),
    "aws_lambda_function": ("environment", "tracing_config", "vpc_config"),
}
