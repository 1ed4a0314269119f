"""app.py is a composition root: no boto3, no environment reads, no network on import."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_app_py_imports_no_boto3_and_reads_no_env():
    tree = ast.parse((ROOT / "app.py").read_text())
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert imported <= {"chalice", "chalicelib"}
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} | {
        n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    assert not names & {"environ", "getenv", "os", "boto3"}


def test_importing_app_touches_no_network():
    code = (
        "import socket\n"
        "def refuse(*a, **k):\n    raise AssertionError('network touched on import')\n"
        "socket.socket.connect = refuse\nsocket.create_connection = refuse\nsocket.getaddrinfo = refuse\n"
        "import app\nprint(sorted(app.app.handler_map))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                         env={"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "us-east-1"})
    assert out.returncode == 0, out.stderr
    assert "on_cloudtrail" in out.stdout and "slack_actions" in out.stdout
