"""HCL front end shared by the source reader and the policy loader: python-hcl2 8.x, line-aware.

Why not ``hcl2.loads``: it drops line numbers (``SerializationOptions.with_meta`` exists in 8.1.4
but is not implemented), and its parser rebuilds the lark grammar (~4 s) in every process that
cannot write ``hcl2/.lark_cache.bin`` next to the installed package. In Lambda site-packages is
read-only and the wheel ships no cache, so every cold start would pay that.

So the grammar is pre-built into ``hcl2_grammar.pickle`` beside this module (shipped in the
deployment package with the rest of chalicelib/). Its header carries a key over the installed
hcl2 grammar, parser options and lark/hcl2 versions; a stale file is never used (we fall back to
hcl2's own parser and log how to rebuild). Rebuild after upgrading python-hcl2 or lark:

    .venv/bin/python -m chalicelib.state.hcl build      # writes the file
    .venv/bin/python -m chalicelib.state.hcl check      # exit 1 when it is stale

hcl2 is imported lazily: importing this module costs nothing until something is parsed.
"""

from __future__ import annotations

import functools
import hashlib
import io
import logging
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chalicelib.errors import DriftwardenError

__all__ = [
    "CACHE_FILE",
    "Attr",
    "Block",
    "HclSyntaxError",
    "build_cache",
    "cache_key",
    "parse_body",
    "parser",
    "parser_origin",
    "string_value",
]

log = logging.getLogger(__name__)

CACHE_FILE = Path(__file__).with_name("hcl2_grammar.pickle")
_MAGIC = b"driftwarden-hcl2-grammar/1 "
_HCL2_FILES = ("hcl2.lark", "parser.py", "postlexer.py")  # what decides the parse tables and options


class HclSyntaxError(DriftwardenError):
    """HCL that cannot be parsed. ``file:line:column: message``, like a compiler."""

    def __init__(self, file: str, line: int | None, column: int | None, message: str) -> None:
        where = file if line is None else f"{file}:{line}" + ("" if column is None else f":{column}")
        super().__init__(f"{where}: {message}")
        self.file = file
        self.line = line
        self.column = column
        self.detail = message


# --- the parser and its shipped grammar cache -------------------------------------------------------


def cache_key() -> str:
    """Identifies the grammar the installed hcl2 would build: its grammar and parser sources, the
    hcl2 and lark versions. A cache with another key is never loaded."""
    import hcl2
    import hcl2.parser
    import lark

    h = hashlib.sha256()
    base = Path(hcl2.parser.__file__).parent
    for name in _HCL2_FILES:
        h.update(name.encode() + b"\0" + (base / name).read_bytes() + b"\0")
    h.update(f"hcl2={hcl2.__version__};lark={lark.__version__}".encode())  # importlib.metadata costs 40 ms
    return h.hexdigest()


_origin: str | None = None


@functools.lru_cache(maxsize=1)
def parser() -> Any:
    """The LALR parser hcl2 uses, from the shipped cache when it matches the installed hcl2."""
    global _origin
    from lark import Lark

    loaded = _load_cache(CACHE_FILE, Lark)
    if loaded is not None:
        _origin = "shipped"
        return loaded
    import hcl2.parser

    _origin = "hcl2"
    return hcl2.parser.parser()


def parser_origin() -> str | None:
    """``shipped`` (our cache), ``hcl2`` (hcl2 built or loaded its own) or None (not built yet)."""
    return _origin


def _load_cache(path: Path, lark_cls: Any) -> Any:
    try:
        blob = path.read_bytes()
    except OSError:
        log.warning("no shipped HCL grammar cache at %s; the first parse rebuilds it (slow). "
                    "Run: python -m chalicelib.state.hcl build", path)
        return None
    header, _, body = blob.partition(b"\n")
    want = _MAGIC + cache_key().encode()
    if header != want:
        log.warning("shipped HCL grammar cache %s does not match the installed python-hcl2/lark; "
                    "the first parse rebuilds it (slow). Run: python -m chalicelib.state.hcl build", path)
        return None
    return lark_cls.load(io.BytesIO(zlib.decompress(body)))


def build_cache(path: Path = CACHE_FILE) -> Path:
    """Write the grammar cache for the installed hcl2 (what ``make package`` should run)."""
    import hcl2.parser

    buf = io.BytesIO()
    hcl2.parser.parser().save(buf)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(_MAGIC + cache_key().encode() + b"\n" + zlib.compress(buf.getvalue(), 9))
    tmp.replace(path)
    parser.cache_clear()
    return path


def cache_is_current(path: Path = CACHE_FILE) -> bool:
    try:
        with path.open("rb") as f:
            return f.readline().rstrip(b"\n") == _MAGIC + cache_key().encode()
    except OSError:
        return False


# --- a line-aware view of the document ------------------------------------------------------------


@dataclass
class Attr:
    """``name = value``. ``value`` is hcl2's serialization: strings keep their quotes, other
    expressions are ``${...}`` or bare (``tags``, ``all``), lists and objects are Python values."""

    name: str
    value: Any
    line: int


@dataclass
class Block:
    """``type "label" ... { body }`` with the line of its first token."""

    type: str
    labels: list[str]
    line: int
    end_line: int
    attrs: list[Attr] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)

    def attr(self, name: str) -> Attr | None:
        return next((a for a in self.attrs if a.name == name), None)

    def children(self, type_: str) -> Iterator[Block]:
        return (b for b in self.blocks if b.type == type_)


def _line(rule: Any, default: int = 0) -> int:
    meta = getattr(rule, "_meta", None)  # lark Meta kept by hcl2's rules (propagate_positions=True)
    return int(getattr(meta, "line", default) or default)


def _end_line(rule: Any, default: int = 0) -> int:
    meta = getattr(rule, "_meta", None)
    return int(getattr(meta, "end_line", default) or default)


def _unquote_label(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1]
    return text


def parse_body(text: str, file: str) -> Block:
    """Parse ``text`` into a root Block (type ``""``). Raises HclSyntaxError naming file:line."""
    import hcl2
    from hcl2.utils import SerializationOptions
    from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

    text = text.removeprefix("\ufeff")
    try:
        tree = parser().parse(text + "\n")  # hcl2 appends a newline too (lark issue 237)
    except UnexpectedEOF as exc:
        raise HclSyntaxError(file, text.count("\n") + 1, None, f"unexpected end of file; expected one of: "
                             f"{_expected(exc.expected)}") from None
    except UnexpectedToken as exc:
        tok = exc.token
        first = str(tok).strip().split("\n", 1)[0][:40]
        shown = "end of file" if tok.type == "$END" else repr(first) if first else "end of line"
        raise HclSyntaxError(file, exc.line if exc.line > 0 else None, exc.column if exc.column > 0 else None,
                             f"unexpected {shown}; expected one of: {_expected(exc.expected)}") from None
    except UnexpectedCharacters as exc:
        raise HclSyntaxError(file, exc.line, exc.column, f"unexpected character {exc.char!r}") from None
    except UnexpectedInput as exc:  # any other lark input error still has a position
        raise HclSyntaxError(file, getattr(exc, "line", None), getattr(exc, "column", None),
                             str(exc)) from None
    options = SerializationOptions(with_comments=False, preserve_heredocs=False)
    try:
        start = hcl2.transform(tree, discard_comments=True)
        return _block(start.body, "", [], options, 1, text.count("\n") + 1)
    except HclSyntaxError:
        raise
    except Exception as exc:  # hcl2's transformer raises plain errors for some valid-looking input
        raise HclSyntaxError(file, getattr(exc, "line", None), None, f"cannot read this HCL: {exc}") from None


_EXPECTED_NAMES = {"LBRACE": "{", "RBRACE": "}", "LSQB": "[", "RSQB": "]", "LPAR": "(", "RPAR": ")",
                   "EQ": "=", "COMMA": ",", "DOT": ".", "COLON": ":", "DBLQUOTE": '"', "NAME": "a name",
                   "NL_OR_COMMENT": "a new line", "INT_LITERAL": "a number", "FLOAT_LITERAL": "a number",
                   "TRUE": "true", "FALSE": "false", "NULL": "null"}


def _expected(names: Any) -> str:
    shown = sorted({_EXPECTED_NAMES.get(n, n.lower()) for n in names or ()})
    return ", ".join(shown[:8]) + (", ..." if len(shown) > 8 else "")


def _block(body: Any, type_: str, labels: list[str], options: Any, line: int, end_line: int) -> Block:
    from hcl2.rules.base import AttributeRule, BlockRule

    out = Block(type_, labels, line, end_line)
    for child in body.children:
        if isinstance(child, BlockRule):
            names = [_unquote_label(str(lbl.serialize(options))) for lbl in child.labels]
            out.blocks.append(_block(child.body, names[0], names[1:], options, _line(child, line),
                                     _end_line(child, line)))
        elif isinstance(child, AttributeRule):
            name = str(child.identifier.serialize(options))
            out.attrs.append(Attr(name, child.expression.serialize(options), _line(child, line)))
    return out


def string_value(value: Any) -> str | None:
    """The text of a literal HCL string (``"x"`` serialized as '"x"'); None for anything else
    (references, interpolations, numbers, lists)."""
    from hcl2.utils import process_escape_sequences

    if not isinstance(value, str) or len(value) < 2 or value[0] != '"' or value[-1] != '"':
        return None
    inner = value[1:-1]
    if "${" in inner.replace("$${", "") or "%{" in inner.replace("%%{", ""):
        return None
    return process_escape_sequences(inner).replace("$${", "${").replace("%%{", "%{")


# --- command line -----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m chalicelib.state.hcl",
                                 description="Build or check the shipped python-hcl2 grammar cache.")
    ap.add_argument("command", choices=["build", "check"])
    ap.add_argument("--path", type=Path, default=CACHE_FILE)
    args = ap.parse_args(argv)
    if args.command == "build":
        path = build_cache(args.path)
        print(f"wrote {path} ({path.stat().st_size} bytes) for key {cache_key()[:12]}")
        return 0
    if cache_is_current(args.path):
        print(f"{args.path} is current")
        return 0
    print(f"{args.path} is missing or stale: run python -m chalicelib.state.hcl build", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
