"""`make demo` end to end: a real loopback moto server and the Slack stand-in, in a fresh process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_demo_alerts_and_reverts():
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp"}
    out = subprocess.run([sys.executable, "-m", "chalicelib", "demo"], cwd=ROOT, capture_output=True, text=True,
                         timeout=120, env=env)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "ingress-open-to-world" in out.stdout
    assert "HTTP 401" in out.stdout
    assert "*reverted* by <@U0ALICE>" in out.stdout
    assert "Already decided" in out.stdout
    assert '"outcome": "reverted"' in out.stdout, "the SQS worker did the revert"
    assert "audit trail intact: 3 record(s)" in out.stdout
    assert "Demo passed" in out.stdout
