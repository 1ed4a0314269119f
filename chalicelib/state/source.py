"""The ``.tf`` source behind a state: what a resource block configures and what it tells Terraform
to ignore (``lifecycle { ignore_changes = [...] }``), with the file and line it says so.

``DRIFTWARDEN_SOURCE`` maps state locations to source locations, comma-separated ``STATE=SOURCE``:

- ``STATE`` is written like a ``DRIFTWARDEN_STATE`` entry: ``s3://bucket/key`` (one state),
  ``s3://bucket/prefix/`` (every state under it), a local state file or a local directory.
- ``SOURCE`` is an ``s3://bucket/prefix/`` that CI syncs the repository to, or a local directory.
- One state: ``SOURCE`` is its root module directory.
  A prefix: the state's directory below the prefix is mirrored below ``SOURCE``:
  ``s3://tfstate/=s3://tf-src/`` maps ``s3://tfstate/network/terraform.tfstate`` to the root
  module ``s3://tf-src/network/``. Other layouts list one ``STATE=SOURCE`` pair per state.
- Workspaces share their configuration, so ``s3://b/env:/<ws>/<key>`` maps like ``s3://b/<key>``
  (an explicit ``env:/<ws>/`` mapping wins). The longest matching ``STATE`` wins.

Within a module directory Terraform reads every ``*.tf`` and ``*.tf.json`` file (not
subdirectories), then merges ``override.tf`` / ``*_override.tf`` files into the blocks they name;
so does this module. Module calls resolve like ``terraform init`` does: a local source
(``./modules/net``) relative to the calling module's directory; any other source through
``.terraform/modules/modules.json`` when CI syncs it with the root module.

Everything read is cached per process: a directory is re-listed at most every ``ttl_seconds`` and a
file is re-parsed only when its ETag (S3) or mtime and size (local) changed.
"""

from __future__ import annotations

import json
import logging
import os
import posixpath
import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.errors import ConfigError, DriftwardenError
from chalicelib.state.hcl import Block, HclSyntaxError, parse_body, string_value
from chalicelib.state.locations import WORKSPACE_PREFIX

__all__ = [
    "ALL",
    "ResourceSource",
    "SourceError",
    "SourceIndex",
    "SourceMapping",
    "parse_address",
    "parse_source_mapping",
]

log = logging.getLogger(__name__)

ALL: Literal["all"] = "all"
META_ARGUMENTS = frozenset({"count", "for_each", "provider", "depends_on", "lifecycle", "provisioner",
                            "connection"})
_LOCAL_MODULE = ("./", "../", ".\\", "..\\")


class SourceError(DriftwardenError):
    """The source for a state cannot be read or does not say what the state implies. Names the
    file (or directory) and, when known, the line."""

    def __init__(self, file: str, line: int | None, message: str) -> None:
        super().__init__(f"{file}{'' if line is None else f':{line}'}: {message}")
        self.file = file
        self.line = line
        self.detail = message


@dataclass(frozen=True)
class ResourceSource:
    """What the resource block behind one address declares.

    ``ignore_changes`` is ``"all"`` or dotted attribute paths in the change-path form Driftwarden
    uses (``tags["Owner"]`` → ``tags.Owner``, ``root_block_device[0].volume_size`` →
    ``root_block_device.0.volume_size``). ``configured`` is the set of argument and nested-block
    names the block sets (``dynamic "ingress"`` counts as ``ingress``; meta-arguments such as
    ``count`` or ``lifecycle`` are not arguments of the resource and are left out).
    """

    address: str  # configuration address: no instance keys (module.net.aws_security_group.web)
    file: str
    line: int
    ignore_changes: frozenset[str] | Literal["all"]
    configured: frozenset[str]

    def ignores(self, path: str) -> bool:
        """Would Terraform ignore a difference at change path ``path`` (``tags.Owner``, ``ingress``)?
        An entry covers its own path and everything below it."""
        if self.ignore_changes == ALL:
            return True
        return any(path == p or path.startswith(p + ".") for p in self.ignore_changes)

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


# --- DRIFTWARDEN_SOURCE ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceMapping:
    state: str  # s3://bucket/key, s3://bucket/prefix/ or a local path (normalized)
    source: str  # s3://bucket/prefix/ (always ending in "/") or a local directory (normalized)
    prefix: bool

    def root_for(self, state_url: str) -> str | None:
        """The root module directory for ``state_url`` under this mapping, or None."""
        if not self.prefix:
            return self.source if state_url == self.state else None
        if not state_url.startswith(self.state):
            return None
        rel_dir = posixpath.dirname(state_url[len(self.state):].replace(os.sep, "/"))
        return _join(self.source, rel_dir) if rel_dir else self.source


def _norm_local(path: str) -> str:
    return os.path.abspath(os.path.expanduser(path))


def parse_source_mapping(value: str | None) -> tuple[SourceMapping, ...]:
    """``DRIFTWARDEN_SOURCE`` → mappings. Raises ConfigError naming the bad entry."""
    out: list[SourceMapping] = []
    seen: set[str] = set()
    for item in (value or "").split(","):
        item = item.strip()
        if not item:
            continue
        state, sep, source = (part.strip() for part in item.partition("="))
        if not sep or not state or not source:
            raise ConfigError(f"DRIFTWARDEN_SOURCE: {item!r} is not STATE=SOURCE")
        for part in (state, source):
            if "://" in part and not part.startswith("s3://"):
                raise ConfigError(f"DRIFTWARDEN_SOURCE: {part!r}: only s3:// URLs and local paths are "
                                  "supported")
            if part.startswith("s3://") and not part[len("s3://"):].split("/", 1)[0]:
                raise ConfigError(f"DRIFTWARDEN_SOURCE: {part!r} has no bucket")
        if state.startswith("s3://"):
            key = state[len("s3://"):].partition("/")[2]
            prefix = key == "" or key.endswith("/")
        else:
            prefix = state.endswith(("/", os.sep)) or os.path.isdir(state)
            state = _norm_local(state) + (os.sep if prefix else "")
        if source.startswith("s3://"):
            source = source if source.endswith("/") else source + "/"
        else:
            source = _norm_local(source)
        if state in seen:
            raise ConfigError(f"DRIFTWARDEN_SOURCE: {state!r} is mapped twice")
        seen.add(state)
        out.append(SourceMapping(state, source, prefix))
    return tuple(out)


# --- addresses ------------------------------------------------------------------------------------


def _split(text: str) -> list[str]:
    """Split an address on dots outside ``[...]``; index keys are dropped (``y["a.b"]`` → ``y``)."""
    parts: list[str] = []
    cur: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "[":
            if text.startswith('"', i + 1):
                end = text.find('"]', i + 2)
            else:
                end = text.find("]", i + 1) - 1
            if end < 0:
                raise ValueError(f"unclosed [ in {text!r}")
            i = end + 2
            continue
        if ch == ".":
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
        i += 1
    parts.append("".join(cur))
    if any(not p for p in parts):
        raise ValueError(f"empty part in {text!r}")
    return parts


def parse_address(address: str) -> tuple[tuple[str, ...], str, str, str]:
    """``module.net["a"].aws_x.y[0]`` → ((``net``,), ``managed``, ``aws_x``, ``y``). ValueError if not
    a resource address."""
    parts = _split(address.strip())
    modules: list[str] = []
    i = 0
    while i + 1 < len(parts) and parts[i] == "module":
        modules.append(parts[i + 1])
        i += 2
    mode = "managed"
    if i < len(parts) and parts[i] == "data":
        mode, i = "data", i + 1
    if len(parts) - i != 2:
        raise ValueError(f"not a resource address: {address!r}")
    return tuple(modules), mode, parts[i], parts[i + 1]


def _config_address(modules: Sequence[str], mode: str, tf_type: str, name: str) -> str:
    prefix = "".join(f"module.{m}." for m in modules)
    return f"{prefix}{'data.' if mode == 'data' else ''}{tf_type}.{name}"


# --- ignore_changes --------------------------------------------------------------------------------

_IDENT = r"[A-Za-z_][A-Za-z0-9_-]*"
_HEAD = re.compile(_IDENT)
_STEP = re.compile(rf'\.({_IDENT}|\d+)|\[\s*(?:(\d+)|"((?:[^"\\]|\\.)*)")\s*\]')


def traversal_path(expr: str) -> str | None:
    """``tags["Owner"]`` / ``tags.Owner`` / ``root_block_device[0].size`` → dotted path; None if
    ``expr`` is not a static attribute reference."""
    expr = expr.strip()
    head = _HEAD.match(expr)
    if not head:
        return None
    out = [head.group(0)]
    pos = head.end()
    while pos < len(expr):
        step = _STEP.match(expr, pos)
        if not step:
            return None
        out.append(next(g for g in step.groups() if g is not None).replace('\\"', '"').replace("\\\\", "\\"))
        pos = step.end()
    return ".".join(out)


def _ignore_entry(raw: Any) -> str | None:
    """One element of an ignore_changes list as hcl2 serializes it (``tags``, ``${tags["a"]}``,
    legacy ``"tags"``) or as a .tf.json string."""
    if not isinstance(raw, str):
        return None
    text = raw.strip()
    if text.startswith("${") and text.endswith("}"):
        text = text[2:-1]
    literal = string_value(text)
    if literal is not None:  # Terraform 0.11 style quoted reference
        text = literal
    return traversal_path(text)


def parse_ignore_changes(value: Any, file: str, line: int) -> frozenset[str] | Literal["all"]:
    if isinstance(value, str) and value.strip() in (ALL, '"all"', '"*"'):
        return ALL  # `all`; 0.11's ["*"] / "all" strings are accepted as Terraform 0.12 upgraded them
    if isinstance(value, list):
        if len(value) == 1 and isinstance(value[0], str) and value[0].strip() == '"*"':
            return ALL
        paths: set[str] = set()
        for raw in value:
            path = _ignore_entry(raw)
            if path is None or path == ALL:
                raise SourceError(file, line, f"ignore_changes element {raw!r} is not an attribute reference "
                                              "(write ignore_changes = all to ignore every attribute)")
            paths.add(path)
        return frozenset(paths)
    raise SourceError(file, line, f"ignore_changes must be a list of attribute references or all, "
                                  f"not {value!r}")


# --- one module directory ---------------------------------------------------------------------------


@dataclass
class _Decl:
    file: str
    line: int
    ignore_changes: frozenset[str] | Literal["all"]
    configured: frozenset[str]


@dataclass
class _Call:
    source: str | None
    file: str
    line: int


@dataclass
class _Module:
    dir: str
    resources: dict[tuple[str, str, str], _Decl] = field(default_factory=dict)
    calls: dict[str, _Call] = field(default_factory=dict)
    error: SourceError | None = None


def _is_override(name: str) -> bool:
    stem = name.removesuffix(".json").removesuffix(".tf")
    return stem == "override" or stem.endswith("_override")


def _decl_from_block(block: Block, file: str) -> tuple[_Decl, bool]:
    """The declaration and whether a lifecycle block set ignore_changes (for override merging)."""
    configured = {a.name for a in block.attrs if a.name not in META_ARGUMENTS}
    for sub in block.blocks:
        if sub.type == "dynamic" and sub.labels:
            configured.add(sub.labels[0])
        elif sub.type not in META_ARGUMENTS:
            configured.add(sub.type)
    ignore: frozenset[str] | Literal["all"] = frozenset()
    has_ignore = False
    for life in block.children("lifecycle"):
        attr = life.attr("ignore_changes")
        if attr is not None:
            ignore = parse_ignore_changes(attr.value, file, attr.line)
            has_ignore = True
    return _Decl(file, block.line, ignore, frozenset(configured)), has_ignore


def _hcl_items(text: str, file: str) -> Iterable[tuple[str, tuple[str, ...], _Decl | _Call, bool]]:
    """(kind, key, decl-or-call, sets_ignore) for every resource, data and module block in a .tf file."""
    try:
        root = parse_body(text, file)
    except HclSyntaxError as exc:
        column = f" (column {exc.column})" if exc.column else ""
        raise SourceError(file, exc.line, f"{exc.detail}{column}") from None
    for block in root.blocks:
        if block.type in ("resource", "data") and len(block.labels) == 2:
            decl, has_ignore = _decl_from_block(block, file)
            mode = "managed" if block.type == "resource" else "data"
            yield "resource", (mode, block.labels[0], block.labels[1]), decl, has_ignore
        elif block.type == "module" and len(block.labels) == 1:
            src = block.attr("source")
            yield "module", (block.labels[0],), _Call(string_value(src.value) if src else None, file,
                                                        src.line if src else block.line), False


def _json_objects(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, dict)]
    return []


def _json_line(text: str, *keys: str) -> int:
    """Line of the last of ``keys`` found in order (JSON keeps no positions): good enough to open the
    right place in the file."""
    pos = 0
    for key in keys:
        found = re.compile(rf'"{re.escape(key)}"\s*:').search(text, pos)
        if not found:
            break
        pos = found.start()
    return text.count("\n", 0, pos) + 1


def _json_items(text: str, file: str) -> Iterable[tuple[str, tuple[str, ...], _Decl | _Call, bool]]:
    """The same for Terraform's JSON syntax (``*.tf.json``, e.g. written by CDKTF)."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SourceError(file, exc.lineno, f"invalid JSON: {exc.msg} (column {exc.colno})") from None
    for top in _json_objects(doc):
        for section, mode in (("resource", "managed"), ("data", "data")):
            for by_type in _json_objects(top.get(section)):
                for tf_type, by_name in by_type.items():
                    for named in _json_objects(by_name):
                        for name, body in named.items():
                            line = _json_line(text, section, tf_type, name)
                            for obj in _json_objects(body):
                                configured = {k for k in obj if k not in META_ARGUMENTS and k != "//"}
                                ignore: frozenset[str] | Literal["all"] = frozenset()
                                has_ignore = False
                                for life in _json_objects(obj.get("lifecycle")):
                                    if "ignore_changes" in life:
                                        ignore = parse_ignore_changes(life["ignore_changes"], file, line)
                                        has_ignore = True
                                yield ("resource", (mode, tf_type, name),
                                       _Decl(file, line, ignore, frozenset(configured)), has_ignore)
        for by_name in _json_objects(top.get("module")):
            for name, body in by_name.items():
                for obj in _json_objects(body):
                    src = obj.get("source")
                    yield "module", (name,), _Call(src if isinstance(src, str) else None, file,
                                                   _json_line(text, "module", name)), False


def _build_module(dir_url: str, files: dict[str, str | SourceError]) -> _Module:
    """Merge the parsed files of one directory the way Terraform does (overrides last)."""
    mod = _Module(dir_url)
    if not files:
        mod.error = SourceError(dir_url, None, "no .tf or .tf.json files in this directory")
        return mod
    ordered = sorted(files, key=lambda n: (_is_override(n), n))
    try:
        for name in ordered:
            text = files[name]
            if isinstance(text, SourceError):
                raise text
            url = _join_file(dir_url, name)
            items = _json_items(text, url) if name.endswith(".tf.json") else _hcl_items(text, url)
            override = _is_override(name)
            for kind, key, item, has_ignore in items:
                if kind == "module":
                    assert isinstance(item, _Call)
                    if key[0] in mod.calls and not override:
                        prev = mod.calls[key[0]]
                        raise SourceError(item.file, item.line, f'duplicate module "{key[0]}" block '
                                                                f"(first at {prev.file}:{prev.line})")
                    if override and key[0] in mod.calls and item.source is None:
                        continue
                    mod.calls[key[0]] = item
                    continue
                assert isinstance(item, _Decl) and len(key) == 3
                rkey = (key[0], key[1], key[2])
                prev_decl = mod.resources.get(rkey)
                if not override:
                    if prev_decl is not None:
                        raise SourceError(item.file, item.line,
                                          f'duplicate {"data" if key[0] == "data" else "resource"} block '
                                          f'"{key[1]}" "{key[2]}" '
                                          f"(first at {prev_decl.file}:{prev_decl.line})")
                    mod.resources[rkey] = item
                elif prev_decl is None:
                    raise SourceError(item.file, item.line, f'override for "{key[1]}" "{key[2]}" has no base '
                                                            "block to override")
                else:  # arguments merge; lifecycle merges argument by argument
                    prev_decl.configured = prev_decl.configured | item.configured
                    if has_ignore:
                        prev_decl.ignore_changes = item.ignore_changes
    except SourceError as exc:
        mod.error = exc
    return mod


# --- storage ----------------------------------------------------------------------------------------


def _join(dir_url: str, rel: str) -> str:
    """Directory ``rel`` below (or above, with ``..``) ``dir_url``; S3 directories end in ``/``."""
    if dir_url.startswith("s3://"):
        bucket, _, key = dir_url[len("s3://"):].partition("/")
        joined = posixpath.normpath(posixpath.join("/" + key, rel.replace("\\", "/")))
        joined = joined.lstrip("/")
        return f"s3://{bucket}/{joined + '/' if joined and joined != '.' else ''}"
    return os.path.normpath(os.path.join(dir_url, rel))


def _join_file(dir_url: str, name: str) -> str:
    return dir_url + name if dir_url.startswith("s3://") else os.path.join(dir_url, name)


def _is_source_file(name: str) -> bool:
    return name.endswith((".tf", ".tf.json"))


# --- the index --------------------------------------------------------------------------------------


@dataclass
class _Listed:
    at: float
    signature: tuple[tuple[str, str], ...]  # (file name, etag / mtime:size)
    error: SourceError | None = None


class SourceIndex:
    """Answers "what does the source say about this address in this state?" with per-process caching.

    ``s3`` is a zero-argument callable returning an S3 client (lazy: local-only use never builds
    one). Reads need ``s3:ListBucket`` on the source prefixes and ``s3:GetObject`` on the files.
    """

    def __init__(self, mappings: Iterable[SourceMapping], s3: Callable[[], Any] | None = None, *,
                 ttl_seconds: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.mappings = tuple(sorted(mappings, key=lambda m: len(m.state), reverse=True))
        self.s3 = s3
        self.ttl_seconds = ttl_seconds
        self.clock = clock
        self.reads = 0  # file reads (tests assert the cache works)
        self.lists = 0  # directory listings
        self._listed: dict[str, _Listed] = {}
        self._modules: dict[str, tuple[tuple[tuple[str, str], ...], _Module]] = {}
        self._files: dict[tuple[str, str], str | SourceError] = {}
        self._manifests: dict[str, tuple[float, dict[str, str]]] = {}
        self._lock = threading.RLock()

    # --- public ----------------------------------------------------------------------------------
    def root_for(self, state_url: str) -> str | None:
        """The root module directory mapped to ``state_url``; None when nothing maps it."""
        candidates = self._candidates(state_url)
        for cand in candidates:
            explicit_only = len(candidates) > 1 and cand == state_url  # a workspace key, as stored
            for mapping in self.mappings:
                if explicit_only and f"/{WORKSPACE_PREFIX}" not in mapping.state:
                    continue  # s3://b/ covers env:/ws/k as k, not as a directory named env:
                root = mapping.root_for(cand)
                if root is not None:
                    return root
        return None

    def lookup(self, state_url: str, address: str) -> ResourceSource | None:
        """The block behind ``address`` (instance keys allowed) in the state's source; None when no
        source is mapped for this state. Raises SourceError (file, line) when the source cannot be
        read or parsed, or has no such block."""
        root = self.root_for(state_url)
        if root is None:
            return None
        try:
            modules, mode, tf_type, name = parse_address(address)
        except ValueError as exc:
            raise SourceError(state_url, None, str(exc)) from None
        with self._lock:
            top = self._module(root).error
            if top is not None and top.file == root:  # the mapped directory itself is missing or empty
                raise SourceError(root, None, f"{top.detail} (DRIFTWARDEN_SOURCE maps {state_url} here; it "
                                              "should be the root module directory)")
            directory = self._module_dir(root, modules)
            mod = self._module(directory)
            if mod.error is not None:
                raise mod.error
            decl = mod.resources.get((mode, tf_type, name))
        config_address = _config_address(modules, mode, tf_type, name)
        if decl is None:
            kind = "data" if mode == "data" else "resource"
            raise SourceError(directory, None,
                              f'no {kind} "{tf_type}" "{name}" block for {config_address}: the source '
                              "does not match the state (not yet synced, or not applied)")
        return ResourceSource(config_address, decl.file, decl.line, decl.ignore_changes, decl.configured)

    # --- resolution --------------------------------------------------------------------------------
    @staticmethod
    def _candidates(state_url: str) -> list[str]:
        if state_url.startswith("s3://"):
            bucket, _, key = state_url[len("s3://"):].partition("/")
            out = [state_url]
            if key.startswith(WORKSPACE_PREFIX):
                parts = key[len(WORKSPACE_PREFIX):].split("/", 1)
                if len(parts) == 2 and parts[1]:
                    out.append(f"s3://{bucket}/{parts[1]}")
            return out
        return [_norm_local(state_url)]

    def _module_dir(self, root: str, modules: Sequence[str]) -> str:
        directory = root
        for depth, name in enumerate(modules):
            mod = self._module(directory)
            if mod.error is not None:
                raise mod.error
            call = mod.calls.get(name)
            where = "module." + ".module.".join(modules[: depth + 1])
            if call is None:
                raise SourceError(directory, None,
                                  f'no module "{name}" block for {where}: the source does not match '
                                  "the state")
            if call.source is None:
                raise SourceError(call.file, call.line, f"{where} has no literal source")
            if call.source.startswith(_LOCAL_MODULE):
                directory = _join(directory, call.source)
            else:
                rel = self._manifest(root).get(".".join(modules[: depth + 1]))
                if rel is None:
                    raise SourceError(call.file, call.line,
                                      f"{where} comes from {call.source!r}, not a local path; sync "
                                      ".terraform/modules/ (written by terraform init) with the root module "
                                      "so Driftwarden can read it")
                directory = _join(root, rel)
            inner = self._module(directory).error
            if inner is not None and inner.file == directory:  # the directory itself is missing or empty
                raise SourceError(call.file, call.line,
                                  f"{where} (source {call.source!r}) is not in the synced source: {inner}")
        return directory

    def _manifest(self, root: str) -> dict[str, str]:
        """``.terraform/modules/modules.json``: module key (``net.sub``) → directory relative to root."""
        cached = self._manifests.get(root)
        if cached is not None and self.clock() - cached[0] < self.ttl_seconds:
            return cached[1]
        url = _join_file(_join(root, ".terraform/modules"), "modules.json")
        out: dict[str, str] = {}
        try:
            doc = json.loads(self._read(url))
            for entry in doc.get("Modules") or []:
                if isinstance(entry, dict) and entry.get("Key") and isinstance(entry.get("Dir"), str):
                    out[str(entry["Key"])] = entry["Dir"]
        except FileNotFoundError:
            pass
        except (ValueError, AttributeError) as exc:
            raise SourceError(url, None, f"unreadable module manifest: {exc}") from None
        self._manifests[root] = (self.clock(), out)
        return out

    # --- caching ----------------------------------------------------------------------------------
    def _module(self, directory: str) -> _Module:
        listed = self._listed.get(directory)
        if listed is None or self.clock() - listed.at >= self.ttl_seconds:
            try:
                listed = _Listed(self.clock(), self._list(directory))
            except SourceError as exc:  # remembered for the TTL: a missing source is not re-listed per event
                listed = _Listed(self.clock(), (), exc)
            self._listed[directory] = listed
        if listed.error is not None:
            return _Module(directory, error=listed.error)
        cached = self._modules.get(directory)
        if cached is not None and cached[0] == listed.signature:
            return cached[1]
        files: dict[str, str | SourceError] = {}
        for name, etag in listed.signature:
            url = _join_file(directory, name)
            key = (url, etag)
            if key not in self._files:
                for old in [k for k in self._files if k[0] == url]:
                    del self._files[old]  # an older version of this file
                try:
                    self._files[key] = self._read(url).decode("utf-8")
                except UnicodeDecodeError as exc:
                    self._files[key] = SourceError(url, None, f"not UTF-8: {exc}")
                except FileNotFoundError:
                    self._files[key] = SourceError(url, None, "disappeared while reading; retry")
            files[name] = self._files[key]
        mod = _build_module(directory, files)
        self._modules[directory] = (listed.signature, mod)
        return mod

    def _list(self, directory: str) -> tuple[tuple[str, str], ...]:
        self.lists += 1
        out: list[tuple[str, str]] = []
        if not directory.startswith("s3://"):
            try:
                with os.scandir(directory) as entries:
                    for entry in entries:
                        if entry.is_file() and _is_source_file(entry.name):
                            st = entry.stat()
                            out.append((entry.name, f"{st.st_mtime_ns}:{st.st_size}"))
            except OSError as exc:
                raise SourceError(directory, None,
                                  f"cannot list source directory: {exc.strerror or exc}") from None
            return tuple(sorted(out))
        if self.s3 is None:
            raise SourceError(directory, None, "an S3 client is required for s3:// sources")
        bucket, _, prefix = directory[len("s3://"):].partition("/")
        try:
            paginator = self.s3().get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=bucket, Prefix=prefix, Delimiter="/"):
                for obj in page.get("Contents", []):
                    name = obj["Key"][len(prefix):]
                    if name and "/" not in name and _is_source_file(name):
                        out.append((name, str(obj.get("ETag", ""))))
        except (ClientError, BotoCoreError) as exc:
            raise SourceError(directory, None, f"cannot list source: {exc}") from None
        return tuple(sorted(out))

    def _read(self, url: str) -> bytes:
        """Raises FileNotFoundError when absent; SourceError for any other read failure."""
        self.reads += 1
        if not url.startswith("s3://"):
            try:
                with open(url, "rb") as f:
                    return f.read()
            except FileNotFoundError:
                raise
            except OSError as exc:
                raise SourceError(url, None, f"cannot read: {exc.strerror or exc}") from None
        if self.s3 is None:
            raise SourceError(url, None, "an S3 client is required for s3:// sources")
        bucket, _, key = url[len("s3://"):].partition("/")
        try:
            body: bytes = self.s3().get_object(Bucket=bucket, Key=key)["Body"].read()
            return body
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise FileNotFoundError(url) from None
            raise SourceError(url, None, f"cannot read: {exc}") from None
        except BotoCoreError as exc:
            raise SourceError(url, None, f"cannot read: {exc}") from None
