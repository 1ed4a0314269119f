"""The .tf source behind a state: parsing (real corpus sources), the shipped grammar cache,
DRIFTWARDEN_SOURCE mapping (prefixes, workspaces), module resolution, ignore_changes and caching.

Expected values come from independent scans of the text (regexes and a brace counter), never from
the code under test."""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import hcl2
import pytest

from chalicelib.errors import ConfigError
from chalicelib.state import hcl
from chalicelib.state.source import (
    ALL,
    ResourceSource,
    SourceError,
    SourceIndex,
    parse_address,
    parse_source_mapping,
    traversal_path,
)
from chalicelib.state.tfstate import parse_state

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "fixtures" / "corpus"
TF_FILES = sorted(p for p in (CORPUS / "tf").rglob("*") if p.suffix in (".tf", ".tfvars"))
STATES = sorted((CORPUS / "tfstate").iterdir())


def source_dir_for(state: Path) -> Path:
    """MANIFEST.tsv: tf/<name> holds the source of tfstate/<name>.tfstate[.backup].json."""
    return CORPUS / "tf" / state.name.split(".tfstate")[0]


# --- an independent reading of the text ---------------------------------------------------------------

_RESOURCE_HEAD = re.compile(r'^\s*(resource|data)\s+"([^"]+)"\s+"([^"]+)"\s*\{', re.M)
_MODULE_HEAD = re.compile(r'^\s*module\s+"([^"]+)"\s*\{', re.M)


def _block_end(text: str, open_brace: int) -> int:
    """Offset just after the brace closing the one at ``open_brace`` (skips strings and comments)."""
    depth, i = 0, open_brace
    while i < len(text):
        ch = text[i]
        if ch == '"':
            i += 1
            while i < len(text) and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
        elif ch == "#" or text.startswith("//", i):
            i = text.find("\n", i)
            if i < 0:
                return len(text)
            continue
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise AssertionError("unbalanced braces")


def uncomment(text: str) -> str:
    """Blank out /* ... */ comments, keeping line numbers."""
    return re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)


def scan_blocks(text: str) -> list[tuple[str, str, str, int, str]]:
    """(kind, type, name, line, body) of every top-level resource/data block."""
    text = uncomment(text)
    out = []
    for m in _RESOURCE_HEAD.finditer(text):
        end = _block_end(text, m.end() - 1)
        line = text.count("\n", 0, m.start(1)) + 1
        out.append((m.group(1), m.group(2), m.group(3), line, text[m.end():end - 1]))
    return out


def scan_modules(text: str) -> dict[str, tuple[int, str]]:
    text = uncomment(text)
    out = {}
    for m in _MODULE_HEAD.finditer(text):
        body = text[m.end():_block_end(text, m.end() - 1) - 1]
        src = re.search(r'^\s*source\s*=\s*"([^"]+)"', body, re.M)
        assert src, "every corpus module call has a literal source"
        out[m.group(1)] = (text.count("\n", 0, m.end() + src.start(1)) + 1, src.group(1))  # the source line
    return out


def scan_ignore_changes(body: str) -> set[str] | str | None:
    m = re.search(r"ignore_changes\s*=\s*(all\b|\[.*\])[ \t]*$", body, re.M)
    if not m:
        return None
    if m.group(1) == "all":
        return ALL
    items = [i.strip() for i in m.group(1)[1:-1].split(",") if i.strip()]
    return {re.sub(r'\["([^"]+)"\]', r".\1", i).replace('"', "") for i in items}


# --- parsing the corpus --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", TF_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_corpus_file_parses_with_block_lines(path: Path) -> None:
    """Each real .tf/.tfvars file parses (or fails with file:line); the blocks we see, and their
    lines, are the ones a plain text scan finds; the values equal what hcl2.loads gives."""
    text = path.read_text()
    try:
        body = hcl.parse_body(text, str(path))
    except hcl.HclSyntaxError as exc:  # a clear error naming the file and line is acceptable
        assert exc.file == str(path) and exc.line and str(exc).startswith(f"{path}:{exc.line}")
        return
    seen = sorted((b.type, b.labels[0], b.labels[1], b.line) for b in body.blocks
                  if b.type in ("resource", "data"))
    expected = sorted((k, t, n, line) for k, t, n, line, _ in scan_blocks(text))
    assert seen == expected
    loaded = hcl2.loads(text)
    assert len(loaded.get("resource", [])) == sum(1 for b in body.blocks if b.type == "resource")
    top = {a.name: a.value for a in body.attrs}
    assert top == {k: v for k, v in loaded.items() if k in top}


def test_the_corpus_has_the_shapes_we_rely_on() -> None:
    """Guards the corpus tests below against becoming vacuous."""
    texts = [p.read_text() for p in TF_FILES]
    assert len(TF_FILES) >= 70
    assert sum(len(scan_blocks(t)) for t in texts) >= 200
    assert sum(len(scan_modules(t)) for t in texts) >= 10
    assert any("lifecycle" in t for t in texts)


def corpus_index() -> SourceIndex:
    return SourceIndex(parse_source_mapping(",".join(f"{s}={source_dir_for(s)}" for s in STATES)))


@pytest.mark.parametrize("state", STATES, ids=lambda p: p.name)
def test_every_corpus_state_finds_its_blocks(state: Path) -> None:
    """Every managed resource in a real state either resolves to the block a text scan finds (file,
    line, no ignore_changes, as the corpus has none), or fails for a reason the scan confirms: its
    module's directory is not in the corpus, or the source has no such block."""
    index = corpus_index()
    src = source_dir_for(state)
    assert index.root_for(str(state)) == str(src)
    files = {f: f.read_text() for f in sorted(src.glob("*.tf"))}
    blocks = {(k, t, n): (f, line, body) for f, text in files.items()
              for k, t, n, line, body in scan_blocks(text)}
    modules = {name: (f, line, s) for f, text in files.items()
               for name, (line, s) in scan_modules(text).items()}
    doc = parse_state(str(state), state.read_bytes())
    assert doc.resources
    resolved = 0
    for res in doc.resources:
        mods, mode, tf_type, name = parse_address(res.address)
        kind = "resource" if mode == "managed" else "data"
        if mods:
            f, line, msrc = modules[mods[0]]
            with pytest.raises(SourceError) as err:
                index.lookup(str(state), res.address)
            assert not (src / msrc).resolve().joinpath("main.tf").exists()
            assert (err.value.file, err.value.line) == (str(f), line)
            assert f"module.{mods[0]}" in str(err.value) and msrc in str(err.value)
            continue
        if (kind, tf_type, name) not in blocks:
            with pytest.raises(SourceError, match=f'no resource "{tf_type}" "{name}" block'):
                index.lookup(str(state), res.address)
            continue
        f, line, body = blocks[(kind, tf_type, name)]
        got = index.lookup(str(state), res.address)
        assert got is not None
        assert (got.file, got.line) == (str(f), line)
        assert scan_ignore_changes(body) is None and got.ignore_changes == frozenset()
        resolved += 1
    assert resolved or all(r.module for r in doc.resources)


def _inject_ignore_changes(text: str) -> str:
    """Give every resource block an ignore_changes naming it (in its lifecycle block if it has one)."""
    out = text
    for _, tf_type, name, _, _ in reversed(scan_blocks(text)):
        m = re.search(rf'^\s*resource\s+"{re.escape(tf_type)}"\s+"{re.escape(name)}"\s*\{{', out, re.M)
        if m is None:
            continue
        entry = f'ignore_changes = [tags["k-{name}"], description]'
        end = _block_end(out, m.end() - 1)
        life = re.compile(r"^\s*lifecycle\s*\{", re.M).search(out, m.end(), end)
        at = life.end() if life else m.end()
        added = "\n    " + entry + "\n" if life else f"\n  lifecycle {{\n    {entry}\n  }}\n"
        out = out[:at] + added + out[at:]
    return out


@pytest.mark.parametrize("state", STATES, ids=lambda p: p.name)
def test_every_ignore_changes_in_a_corpus_source_is_returned_for_its_address(state: Path,
                                                                            tmp_path: Path) -> None:
    """The corpus sources with an ignore_changes added to every resource block (inside an existing
    lifecycle block where there is one): each resource's own entries come back for its address."""
    src = tmp_path / "src"
    shutil.copytree(source_dir_for(state), src)
    for f in src.glob("*.tf"):
        f.write_text(_inject_ignore_changes(f.read_text()))
    index = SourceIndex(parse_source_mapping(f"{state}={src}"))
    doc = parse_state(str(state), state.read_bytes())
    scanned = {(t, n): (f, line, scan_ignore_changes(body)) for f in src.glob("*.tf")
               for k, t, n, line, body in scan_blocks(f.read_text()) if k == "resource"}
    checked = 0
    for res in doc.resources:
        mods, _, tf_type, name = parse_address(res.address)
        if mods or (tf_type, name) not in scanned:
            continue
        f, line, expected = scanned[(tf_type, name)]
        got = index.lookup(str(state), res.address)
        assert got is not None and (got.file, got.line) == (str(f), line)
        assert expected == {f"tags.k-{name}", "description"}
        assert got.ignore_changes == frozenset(expected)
        assert got.ignores(f"tags.k-{name}") and got.ignores("description") and not got.ignores("tags.other")
        checked += 1
    assert checked or all(r.module for r in doc.resources) or state.name.startswith("m1oojv")


# --- the grammar cache -----------------------------------------------------------------------------------


def test_shipped_grammar_cache_matches_the_installed_hcl2() -> None:
    assert hcl.CACHE_FILE.exists(), "run: python -m chalicelib.state.hcl build"
    assert hcl.cache_is_current(), "hcl2 or lark changed: run python -m chalicelib.state.hcl build"


def test_a_fresh_process_parses_from_the_shipped_cache_when_hcl2_cannot_cache(tmp_path: Path) -> None:
    """Like a Lambda cold start: hcl2's own cache file is unreadable and unwritable, so only the
    shipped cache can avoid the grammar rebuild."""
    code = textwrap.dedent(f"""
        import hcl2.parser
        hcl2.parser.PARSER_FILE = {str(tmp_path / "missing" / "cache.bin")!r}
        from chalicelib.state import hcl
        body = hcl.parse_body('resource "aws_s3_bucket" "b" {{\\n  bucket = "x"\\n}}\\n', "t.tf")
        print(hcl.parser_origin(), body.blocks[0].labels, body.blocks[0].line)
    """)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["shipped", "['aws_s3_bucket',", "'b']", "1"]
    assert not (tmp_path / "missing").exists()


def test_a_stale_cache_is_never_loaded(tmp_path: Path) -> None:
    from lark import Lark

    stale = tmp_path / "g.pickle"
    blob = hcl.CACHE_FILE.read_bytes()
    stale.write_bytes(blob.replace(hcl.cache_key().encode(), b"0" * 64, 1))
    assert hcl._load_cache(stale, Lark) is None
    assert not hcl.cache_is_current(stale)
    fresh = hcl.build_cache(tmp_path / "fresh.pickle")
    assert hcl.cache_is_current(fresh)
    loaded = hcl._load_cache(fresh, Lark)
    text = (TF_FILES[0]).read_text() + "\n"
    assert loaded.parse(text) == hcl2.parser.parser().parse(text)


def test_hcl_cli_check_and_build(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "g.pickle"
    assert hcl.main(["check", "--path", str(target)]) == 1
    assert hcl.main(["build", "--path", str(target)]) == 0
    assert hcl.main(["check", "--path", str(target)]) == 0
    assert "is current" in capsys.readouterr().out


@pytest.mark.parametrize(("text", "line", "column"), [
    ('resource "a" "b" {\n  x = \n}\n', 2, None),
    ('resource "a" "b" {\n  x = 1 +\n\n  $\n}\n', 4, 3),
    ('a = 1\nb = @\n', 2, 5),
    ('x {\n', None, None),
])
def test_syntax_errors_name_file_and_line(text: str, line: int | None, column: int | None) -> None:
    with pytest.raises(hcl.HclSyntaxError) as err:
        hcl.parse_body(text, "bad.tf")
    if line is not None:
        assert err.value.line == line and str(err.value).startswith(f"bad.tf:{line}")
    if column is not None:
        assert err.value.column == column
    assert err.value.file == "bad.tf"
    assert "unexpected" in str(err.value)


# --- ignore_changes, configured, addresses ---------------------------------------------------------------


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def index_for(state: str, src: Path, **kw: object) -> SourceIndex:
    return SourceIndex(parse_source_mapping(f"{state}={src}"), **kw)  # type: ignore[arg-type]


SG = """\
resource "aws_security_group" "web" {
  name   = "web"
  count  = 2
  tags   = { Owner = "a" }
  egress = []
  ingress {
    from_port = 22
  }
  dynamic "ingress_rule" {
    for_each = var.rules
    content {
      port = ingress_rule.value
    }
  }
  lifecycle {
    create_before_destroy = true
    ignore_changes = [tags["Owner"], tags.Env, ingress, root_block_device[0].volume_size, "description"]
  }
}

resource "aws_instance" "a" {
  ami = "ami-1"
  lifecycle { ignore_changes = all }
}
"""


def test_ignore_changes_forms_and_configured(tmp_path: Path) -> None:
    src = write(tmp_path, {"main.tf": SG})
    index = index_for("s3://st/app.tfstate", src)
    sg = index.lookup("s3://st/app.tfstate", 'aws_security_group.web[1]')
    assert sg == ResourceSource("aws_security_group.web", str(src / "main.tf"), 1,
                                frozenset({"tags.Owner", "tags.Env", "ingress", "description",
                                           "root_block_device.0.volume_size"}),
                                frozenset({"name", "tags", "egress", "ingress", "ingress_rule"}))
    assert sg.ignores("tags.Owner") and sg.ignores("ingress") and sg.ignores("description")
    assert not sg.ignores("tags") and not sg.ignores("tags.Owner2") and not sg.ignores("egress")
    inst = index.lookup("s3://st/app.tfstate", "aws_instance.a")
    assert inst is not None and inst.ignore_changes == ALL
    assert inst.line == SG.splitlines().index('resource "aws_instance" "a" {') + 1
    assert inst.ignores("anything.at.all") and inst.configured == frozenset({"ami"})


@pytest.mark.parametrize(("value", "expected"), [
    ('["*"]', ALL),
    ('"all"', ALL),
    ("[]", frozenset()),
    ('[tags["a.b"], tags["x\\"y"]]', frozenset({"tags.a.b", 'tags.x"y'})),
])
def test_ignore_changes_legacy_and_edge_forms(tmp_path: Path, value: str, expected: object) -> None:
    write(tmp_path, {"main.tf": f'resource "aws_s3_bucket" "b" {{\n  lifecycle {{\n'
                                f"    ignore_changes = {value}\n  }}\n}}\n"})
    got = index_for("/st.tfstate", tmp_path).lookup("/st.tfstate", "aws_s3_bucket.b")
    assert got is not None and got.ignore_changes == expected


@pytest.mark.parametrize("value", ["[upper(tags)]", "local.ignored", "[all]", '[tags["a"] + 1]'])
def test_ignore_changes_that_is_not_a_reference_is_an_error_at_its_line(tmp_path: Path, value: str) -> None:
    write(tmp_path, {"main.tf": f'resource "aws_s3_bucket" "b" {{\n  bucket = "x"\n  lifecycle {{\n'
                                f"    ignore_changes = {value}\n  }}\n}}\n"})
    with pytest.raises(SourceError) as err:
        index_for("/st.tfstate", tmp_path).lookup("/st.tfstate", "aws_s3_bucket.b")
    assert (err.value.file, err.value.line) == (str(tmp_path / "main.tf"), 4)
    assert "ignore_changes" in str(err.value)


def test_traversal_paths() -> None:
    assert traversal_path('tags["Owner"]') == "tags.Owner"
    assert traversal_path("a.b[0].c") == "a.b.0.c"
    assert traversal_path("a.0") == "a.0"
    assert traversal_path("f(x)") is None and traversal_path("") is None and traversal_path("a[b]") is None


def test_parse_address() -> None:
    assert parse_address('module.net["a.b"].module.x[0].aws_sg.web["k.1"]') == (("net", "x"), "managed",
                                                                                 "aws_sg", "web")
    assert parse_address("data.aws_iam_policy_document.p") == ((), "data", "aws_iam_policy_document", "p")
    for bad in ("aws_sg", "module.net", "a.b.c", 'aws_x.y["unclosed'):
        with pytest.raises(ValueError):
            parse_address(bad)


# --- modules -----------------------------------------------------------------------------------------------

MODULES = {
    "envs/prod/main.tf": """\
        module "net" {
          source = "../../modules/net"
        }
        module "vpc" {
          source  = "terraform-aws-modules/vpc/aws"
          version = "5.0.0"
        }
        """,
    "modules/net/main.tf": """\
        resource "aws_security_group" "web" {
          lifecycle {
            ignore_changes = [ingress]
          }
        }
        module "inner" {
          source = "./inner"
        }
        """,
    "modules/net/inner/x.tf": """\

        resource "aws_s3_bucket" "logs" {
          bucket = "logs"
        }
        """,
}


def test_local_modules_resolve_relative_to_the_calling_module(tmp_path: Path) -> None:
    write(tmp_path, MODULES)
    index = index_for("s3://st/prod.tfstate", tmp_path / "envs" / "prod")
    web = index.lookup("s3://st/prod.tfstate", "module.net.aws_security_group.web")
    assert web is not None and web.address == "module.net.aws_security_group.web"
    assert (web.file, web.line, web.ignore_changes) == (str(tmp_path / "modules/net/main.tf"), 1,
                                                        frozenset({"ingress"}))
    logs = index.lookup("s3://st/prod.tfstate", 'module.net["eu"].module.inner.aws_s3_bucket.logs')
    assert logs is not None and (logs.file, logs.line) == (str(tmp_path / "modules/net/inner/x.tf"), 2)
    with pytest.raises(SourceError, match=r'no module "nope" block for module\.nope'):
        index.lookup("s3://st/prod.tfstate", "module.nope.aws_s3_bucket.b")


def test_a_registry_module_needs_the_terraform_init_manifest(tmp_path: Path) -> None:
    write(tmp_path, MODULES)
    index = index_for("s3://st/prod.tfstate", tmp_path / "envs" / "prod")
    with pytest.raises(SourceError) as err:
        index.lookup("s3://st/prod.tfstate", "module.vpc.aws_vpc.this[0]")
    assert (err.value.file, err.value.line) == (str(tmp_path / "envs/prod/main.tf"), 5)
    assert ".terraform/modules" in str(err.value)
    write(tmp_path, {
        "envs/prod/.terraform/modules/modules.json": json.dumps({"Modules": [
            {"Key": "", "Source": "", "Dir": "."},
            {"Key": "vpc", "Source": "registry.terraform.io/terraform-aws-modules/vpc/aws",
             "Version": "5.0.0", "Dir": ".terraform/modules/vpc"}]}),
        "envs/prod/.terraform/modules/vpc/main.tf": 'resource "aws_vpc" "this" {\n  count = 1\n}\n',
    })
    index = index_for("s3://st/prod.tfstate", tmp_path / "envs" / "prod")
    vpc = index.lookup("s3://st/prod.tfstate", "module.vpc.aws_vpc.this[0]")
    assert vpc is not None and vpc.file == str(tmp_path / "envs/prod/.terraform/modules/vpc/main.tf")


def test_a_module_whose_directory_is_not_synced_names_the_module_block(tmp_path: Path) -> None:
    write(tmp_path, {"main.tf": 'resource "aws_s3_bucket" "a" {}\n\n'
                                'module "gone" {\n  source = "./gone"\n}\n'})
    with pytest.raises(SourceError) as err:
        index_for("/s.tfstate", tmp_path).lookup("/s.tfstate", "module.gone.aws_s3_bucket.b")
    assert (err.value.file, err.value.line) == (str(tmp_path / "main.tf"), 4)
    assert "module.gone (source './gone') is not in the synced source" in str(err.value)


# --- Terraform's file rules ------------------------------------------------------------------------------


def test_override_files_merge_into_their_base_block(tmp_path: Path) -> None:
    write(tmp_path, {
        "main.tf": 'resource "aws_s3_bucket" "b" {\n  bucket = "x"\n  lifecycle {\n'
                   "    ignore_changes = [tags]\n  }\n}\n",
        "z_override.tf": 'resource "aws_s3_bucket" "b" {\n  acl = "private"\n  lifecycle {\n'
                         "    ignore_changes = [acl]\n  }\n}\n",
        "override.tf": 'resource "aws_s3_bucket" "b" {\n  force_destroy = true\n}\n',
    })
    got = index_for("/s.tfstate", tmp_path).lookup("/s.tfstate", "aws_s3_bucket.b")
    assert got is not None and (got.file, got.line) == (str(tmp_path / "main.tf"), 1)
    assert got.ignore_changes == frozenset({"acl"})
    assert got.configured == frozenset({"bucket", "acl", "force_destroy"})


@pytest.mark.parametrize(("files", "file", "line", "message"), [
    ({"a.tf": 'resource "aws_s3_bucket" "b" {}\n', "b.tf": '\n\nresource "aws_s3_bucket" "b" {}\n'},
     "b.tf", 3, "duplicate resource block"),
    ({"a.tf": 'resource "aws_s3_bucket" "b" {}\n', "x_override.tf": 'resource "aws_s3_bucket" "c" {}\n'},
     "x_override.tf", 1, "no base block"),
    ({"a.tf": 'resource "aws_s3_bucket" "b" {}\n', "broken.tf": 'variable "x" {\n  default = \n}\n'},
     "broken.tf", 2, "unexpected"),
    ({"a.tf.json": '{"resource": {"aws_s3_bucket": {"b": {"bucket": "x",}}}}'},
     "a.tf.json", 1, "invalid JSON"),
])
def test_invalid_sources_fail_with_file_and_line(tmp_path: Path, files: dict[str, str], file: str, line: int,
                                                 message: str) -> None:
    write(tmp_path, files)
    with pytest.raises(SourceError) as err:
        index_for("/s.tfstate", tmp_path).lookup("/s.tfstate", "aws_s3_bucket.b")
    assert (err.value.file, err.value.line) == (str(tmp_path / file), line)
    assert message in str(err.value) and str(err.value).startswith(f"{tmp_path / file}:{line}:")


def test_tf_json_resources_with_lines(tmp_path: Path) -> None:
    doc = {"resource": {"aws_s3_bucket": {"a": {"bucket": "a"}, "b": {
        "bucket": "b", "count": 1, "lifecycle": {"ignore_changes": ["tags[\"Owner\"]", "acl"]}}}}}
    write(tmp_path, {"main.tf.json": json.dumps(doc, indent=2)})
    text = (tmp_path / "main.tf.json").read_text()
    got = index_for("/s.tfstate", tmp_path).lookup("/s.tfstate", "aws_s3_bucket.b[0]")
    assert got is not None and got.ignore_changes == frozenset({"tags.Owner", "acl"})
    assert got.line == text.splitlines().index('    "b": {'.replace("    ", "      ")) + 1
    assert got.configured == frozenset({"bucket"})


# --- DRIFTWARDEN_SOURCE --------------------------------------------------------------------------------


def test_mapping_prefixes_workspaces_and_longest_match(tmp_path: Path) -> None:
    mappings = parse_source_mapping(
        "s3://tfstate/=s3://src/repo/, s3://tfstate/teams/payments/terraform.tfstate=s3://src/payments-root,"
        "s3://tfstate/env:/staging/net/terraform.tfstate=s3://src/staging-net/")
    index = SourceIndex(mappings)
    assert index.root_for("s3://tfstate/network/terraform.tfstate") == "s3://src/repo/network/"
    assert index.root_for("s3://tfstate/root.tfstate") == "s3://src/repo/"
    assert index.root_for("s3://tfstate/teams/payments/terraform.tfstate") == "s3://src/payments-root/"
    assert index.root_for("s3://tfstate/env:/prod/teams/payments/terraform.tfstate") == "s3://src/payments-root/"
    assert index.root_for("s3://tfstate/env:/prod/net/terraform.tfstate") == "s3://src/repo/net/"
    assert index.root_for("s3://tfstate/env:/staging/net/terraform.tfstate") == "s3://src/staging-net/"
    assert index.root_for("s3://other/x.tfstate") is None
    assert index.lookup("s3://other/x.tfstate", "aws_s3_bucket.b") is None
    local = tmp_path / "states"
    local.mkdir()
    lm = parse_source_mapping(f"{local}={tmp_path / 'src'}")
    assert lm[0].prefix
    assert SourceIndex(lm).root_for(str(local / "app" / "terraform.tfstate")) == str(tmp_path / "src" / "app")


def test_relative_local_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI passes state paths as given (often relative); the mapping may be relative too."""
    write(tmp_path, {"src/main.tf": 'resource "aws_s3_bucket" "b" {}\n', "states/app.tfstate": "{}"})
    monkeypatch.chdir(tmp_path)
    index = SourceIndex(parse_source_mapping("states/app.tfstate=./src"))
    got = index.lookup("states/app.tfstate", "aws_s3_bucket.b")
    assert got is not None and got.file == str(tmp_path / "src" / "main.tf")
    assert index.lookup(str(tmp_path / "states" / "app.tfstate"), "aws_s3_bucket.b") == got


@pytest.mark.parametrize(("value", "message"), [
    ("s3://tfstate/x.tfstate", "not STATE=SOURCE"),
    ("s3://tfstate/x=gs://src/", "only s3://"),
    ("s3:///x=s3://src/", "has no bucket"),
    ("s3://a/x=s3://src/,s3://a/x=s3://other/", "mapped twice"),
])
def test_mapping_errors(value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_source_mapping(value)


def test_missing_or_empty_root_says_what_maps_there(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    for root in (tmp_path / "missing", tmp_path / "empty"):
        with pytest.raises(SourceError, match=r"DRIFTWARDEN_SOURCE maps /s\.tfstate here") as err:
            index_for("/s.tfstate", root).lookup("/s.tfstate", "aws_s3_bucket.b")
        assert err.value.file == str(root)


# --- caching ---------------------------------------------------------------------------------------------


def test_local_source_is_read_once_then_only_when_changed(tmp_path: Path) -> None:
    write(tmp_path, {"a.tf": 'resource "aws_s3_bucket" "a" {}\n',
                     "b.tf": 'resource "aws_s3_bucket" "b" {}\n'})
    now = [0.0]
    index = index_for("/s.tfstate", tmp_path, ttl_seconds=60, clock=lambda: now[0])
    for _ in range(3):
        index.lookup("/s.tfstate", "aws_s3_bucket.a")
        index.lookup("/s.tfstate", "aws_s3_bucket.b")
    assert (index.reads, index.lists) == (2, 1)
    (tmp_path / "b.tf").write_text('resource "aws_s3_bucket" "b" {\n  lifecycle {\n'
                                   "    ignore_changes = [acl]\n  }\n}\n")
    assert index.lookup("/s.tfstate", "aws_s3_bucket.b").ignore_changes == frozenset()  # within the TTL
    now[0] = 61
    assert index.lookup("/s.tfstate", "aws_s3_bucket.b").ignore_changes == frozenset({"acl"})
    assert (index.reads, index.lists) == (3, 2)


def test_s3_source_with_modules_cached_by_etag(aws) -> None:  # type: ignore[no-untyped-def]
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="src")
    put = {"live/app/main.tf": 'module "net" {\n  source = "../../modules/net"\n}\n',
           "live/app/nested/ignored.tf": 'resource "aws_s3_bucket" "a" {}\n',
           "live/app/README.md": "not terraform",
           "modules/net/sg.tf": 'resource "aws_security_group" "web" {\n  lifecycle {\n'
                                "    ignore_changes = [tags]\n  }\n}\n"}
    for key, body in put.items():
        s3.put_object(Bucket="src", Key=key, Body=body.encode())
    now = [0.0]
    index = SourceIndex(parse_source_mapping("s3://tfstate/=s3://src/live/"), lambda: s3, ttl_seconds=60,
                        clock=lambda: now[0])
    got = index.lookup("s3://tfstate/env:/dev/app/terraform.tfstate", "module.net.aws_security_group.web")
    assert got == ResourceSource("module.net.aws_security_group.web", "s3://src/modules/net/sg.tf", 1,
                                 frozenset({"tags"}), frozenset())
    assert index.reads == 2
    # a subdirectory is not part of the module
    with pytest.raises(SourceError, match='no resource "aws_s3_bucket" "a"'):
        index.lookup("s3://tfstate/app/terraform.tfstate", "aws_s3_bucket.a")
    s3.put_object(Bucket="src", Key="modules/net/sg.tf", Body=b'resource "aws_security_group" "web" {}\n')
    now[0] = 100
    got = index.lookup("s3://tfstate/app/terraform.tfstate", "module.net.aws_security_group.web")
    assert got is not None and got.ignore_changes == frozenset()
    assert index.reads == 3  # only the changed file was read again


def test_unreadable_s3_source_is_a_source_error() -> None:
    from botocore.exceptions import ClientError

    class Denied:
        def get_paginator(self, _: str) -> Denied:
            return self

        def paginate(self, **_: object) -> list[object]:
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "ListObjectsV2")

    index = SourceIndex(parse_source_mapping("s3://t/a.tfstate=s3://src/a/"), lambda: Denied())
    with pytest.raises(SourceError, match="AccessDenied"):
        index.lookup("s3://t/a.tfstate", "aws_s3_bucket.b")


def test_no_s3_client_for_an_s3_source() -> None:
    with pytest.raises(SourceError, match="S3 client is required"):
        index = SourceIndex(parse_source_mapping("s3://t/a.tfstate=s3://src/a/"))
        index.lookup("s3://t/a.tfstate", "aws_x.y")


def test_corpus_index_caches_across_states() -> None:
    index = corpus_index()
    for state in STATES:
        for res in parse_state(str(state), state.read_bytes()).resources:
            with contextlib.suppress(SourceError):
                index.lookup(str(state), res.address)
    reads, lists = index.reads, index.lists
    assert reads == sum(1 for s in STATES for _ in source_dir_for(s).glob("*.tf"))
    for state in STATES:
        for res in parse_state(str(state), state.read_bytes()).resources[:3]:
            with contextlib.suppress(SourceError):
                index.lookup(str(state), res.address)
    assert (index.reads, index.lists) == (reads, lists)
