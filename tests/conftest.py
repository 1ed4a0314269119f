"""Test setup. moto is imported before anything creates a boto3 session (DESIGN §5)."""

from __future__ import annotations

import os

os.environ.update({
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_SERVICE_NAME": "driftwarden",
})
for _var in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "DRIFTWARDEN_STATE", "DRIFTWARDEN_TABLE", "SLACK_BOT_TOKEN"):
    os.environ.pop(_var, None)

import boto3  # noqa: E402
import moto  # noqa: E402,F401  (must precede boto3 sessions)
import pytest  # noqa: E402
from moto import mock_aws  # noqa: E402

from chalicelib import wiring  # noqa: E402
from chalicelib.aws import ClientFactory  # noqa: E402
from chalicelib.pipeline import Pipeline  # noqa: E402
from chalicelib.resources.registry import default_registry  # noqa: E402
from chalicelib.state.index import StateIndex  # noqa: E402
from chalicelib.state.locations import parse_locations  # noqa: E402

CORPUS = os.path.join(os.path.dirname(__file__), "fixtures", "corpus")  # vendored ../shared/corpus


@pytest.fixture
def aws():
    """A fresh moto account for one test."""
    with mock_aws():
        yield boto3.session.Session(region_name="us-east-1")


@pytest.fixture(scope="module")
def aws_module():
    """A moto account shared by a module's tests (EC2 under moto is slow to start)."""
    with mock_aws():
        yield boto3.session.Session(region_name="us-east-1")


@pytest.fixture
def env(monkeypatch, tmp_path):
    """Set environment variables for one test and drop cached wiring before and after.
    Local stores (findings, audit trail) go to the test's own directory."""
    monkeypatch.setenv("DRIFTWARDEN_STORE_DIR", str(tmp_path / "findings"))
    monkeypatch.setenv("DRIFTWARDEN_AUDIT_FILE", str(tmp_path / "audit.jsonl"))
    wiring.reset()

    def set_env(**values: str) -> None:
        for k, v in values.items():
            monkeypatch.setenv(k, v)
        wiring.reset()

    yield set_env
    wiring.reset()


def make_pipeline(session: boto3.session.Session, state_urls: str, **kw) -> Pipeline:
    """A pipeline over the given ``DRIFTWARDEN_STATE``-style locations, on a session (moto)."""
    factory = ClientFactory(session_factory=lambda: session, default_region="us-east-1")
    index = StateIndex(default_registry(), parse_locations(state_urls), s3=lambda: factory.client("s3"))
    return Pipeline(default_registry(), index, factory.context, **kw)


@pytest.fixture
def corpus_dir() -> str:
    path = os.path.abspath(CORPUS)
    assert os.path.isdir(path), f"corpus not found at {path}"
    return path
