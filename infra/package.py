"""`make package`: regenerate infra/generated/, then build the Lambda bundle infra/ deploys.

    .venv/bin/python infra/package.py [--out infra/build] [--stage dev]

Writes ``<out>/deployment.zip`` (app.py, chalicelib/ and the pinned requirements.txt, built by
``chalice package`` for the Lambda platform) and ``<out>/package.json`` (runtime, architecture and
hash Terraform reads). ``chalice package --pkg-format terraform`` also emits ``chalice.tf.json``;
it pins Terraform < 1.4 and the AWS provider < 5 and knows nothing of the queue, tables, member
accounts or least-privilege roles, so it is only used as a cross-check: its functions and handler
strings must be exactly the ones in infra/generated/functions.json. infra/ defines the functions.

``chalice package`` needs ``AWS_DEFAULT_REGION`` (us-east-1 is used when unset; the bundle does not
depend on it) and network access to PyPI for requirements.txt (cached under .chalice/deployments).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from infra import generate  # noqa: E402

__all__ = ["PackageError", "build", "chalice_package", "verify_bundle"]

BUILD = ROOT / "infra" / "build"
ZIP_LIMIT = 50 * 1024 * 1024  # Lambda direct upload limit (zipped)
UNZIPPED_LIMIT = 250 * 1024 * 1024  # Lambda limit for the unzipped function
ARCHITECTURE = "x86_64"  # chalice package downloads manylinux x86_64 wheels
FORBIDDEN_TOP_LEVEL = ("tests", "infra", "bench", "examples", "docs")

Runner = Callable[[list[str], dict[str, str]], None]


class PackageError(Exception):
    """The bundle is missing, wrong or too big for Lambda."""


def _run(cmd: list[str], env: dict[str, str]) -> None:
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise PackageError(f"{' '.join(cmd[3:])} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")


def chalice_package(out_dir: Path, stage: str = "dev", runner: Runner = _run) -> tuple[Path, dict[str, Any]]:
    """Run ``chalice package --pkg-format terraform`` into ``out_dir``; the zip and the parsed
    chalice.tf.json."""
    env = dict(os.environ)
    env.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    cmd = [sys.executable, "-c", "import sys; from chalice.cli import main; sys.exit(main())",
           "--project-dir", str(ROOT), "package", "--pkg-format", "terraform", "--stage", stage, str(out_dir)]
    runner(cmd, env)
    zip_path, tf_path = out_dir / "deployment.zip", out_dir / "chalice.tf.json"
    if not zip_path.exists() or not tf_path.exists():
        raise PackageError(f"chalice package wrote no deployment.zip/chalice.tf.json in {out_dir}")
    return zip_path, json.loads(tf_path.read_text())


def verify_bundle(zip_path: Path, chalice_tf: dict[str, Any], functions: dict[str, dict[str, Any]],
                  plugin_modules: Sequence[str]) -> None:
    """The bundle runs what infra/ deploys: every handler's module, every plugin, nothing dev-only,
    within Lambda's size limits; Chalice's own idea of the functions matches functions.json."""
    lambdas = chalice_tf.get("resource", {}).get("aws_lambda_function", {})
    chalice_handlers = {f["handler"] for f in lambdas.values()}
    ours = {f["handler"] for f in functions.values()}
    if chalice_handlers != ours:
        raise PackageError(f"chalice would deploy handlers {sorted(chalice_handlers)} but infra/generated/"
                           f"functions.json has {sorted(ours)}: {generate.REGENERATE}")
    if zip_path.stat().st_size > ZIP_LIMIT:
        raise PackageError(f"{zip_path} is {zip_path.stat().st_size} bytes; Lambda takes at most {ZIP_LIMIT} "
                           "zipped (upload through S3 or trim requirements.txt)")
    with zipfile.ZipFile(zip_path) as zf:
        names = set(zf.namelist())
        unzipped = sum(i.file_size for i in zf.infolist())
    if unzipped > UNZIPPED_LIMIT:
        raise PackageError(f"{zip_path} unzips to {unzipped} bytes; Lambda allows {UNZIPPED_LIMIT}")
    modules = {h.rsplit(".", 1)[0] for h in ours}
    missing = sorted(f"{m.replace('.', '/')}.py" for m in modules if f"{m.replace('.', '/')}.py" not in names)
    missing += sorted(f"chalicelib/resources/{m}.py" for m in plugin_modules
                      if f"chalicelib/resources/{m}.py" not in names)
    if missing:
        raise PackageError(f"{zip_path} lacks {missing}")
    dev_only = sorted({n.split("/", 1)[0] for n in names if n.split("/", 1)[0] in FORBIDDEN_TOP_LEVEL})
    if dev_only:
        raise PackageError(f"{zip_path} contains dev-only directories {dev_only}")


def build(out_dir: Path = BUILD, stage: str = "dev", runner: Runner = _run,
          generated_dir: Path = generate.GENERATED) -> dict[str, Any]:
    """Regenerate, package, verify, and place deployment.zip + package.json in ``out_dir``."""
    from chalicelib.resources.registry import default_registry

    registry = default_registry()
    files = generate.render(registry)
    generate.write_files(files, generated_dir)
    functions = json.loads(files["functions.json"])
    with tempfile.TemporaryDirectory(prefix="driftwarden-package-") as tmp:
        zip_path, chalice_tf = chalice_package(Path(tmp) / "out", stage, runner)
        plugin_modules = [type(p).__module__.rsplit(".", 1)[-1] for p in registry]
        verify_bundle(zip_path, chalice_tf, functions, plugin_modules)
        runtimes = {f.get("runtime") for f in chalice_tf["resource"]["aws_lambda_function"].values()}
        if len(runtimes) != 1:
            raise PackageError(f"chalice built for several runtimes: {sorted(map(str, runtimes))}")
        out_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(zip_path, out_dir / "deployment.zip")
    digest = hashlib.sha256((out_dir / "deployment.zip").read_bytes()).hexdigest()
    meta = {"runtime": runtimes.pop(), "architecture": ARCHITECTURE, "sha256": digest,
            "handlers": {name: f["handler"] for name, f in functions.items()}}
    (out_dir / "package.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    return meta


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=BUILD, help="output directory (default infra/build)")
    parser.add_argument("--stage", default="dev", help="chalice stage whose config to package (default dev)")
    args = parser.parse_args(argv)
    try:
        meta = build(args.out, args.stage)
    except (PackageError, generate.GenerateError) as exc:
        print(f"package: {exc}", file=sys.stderr)
        return 1
    print(f"{args.out / 'deployment.zip'} ({meta['runtime']}, {meta['architecture']}, "
          f"sha256 {meta['sha256'][:12]}); functions: {', '.join(meta['handlers'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
