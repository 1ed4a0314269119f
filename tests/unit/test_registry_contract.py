"""The registry-wide contract (DESIGN §3): every plugin is held to the same invariants."""

from __future__ import annotations

import json
import re

import jmespath
import pytest

from chalicelib.remediation.executor import ATTRIBUTE_DELETES
from chalicelib.resources.registry import default_registry
from chalicelib.triggers.cloudtrail import eventbridge_pattern, parse_event
from tests.fixtures_index import records_for

REGISTRY = default_registry()
PLUGINS = list(REGISTRY)
EVENTS = sorted({(p.type, e) for p in PLUGINS for e in p.events}, key=lambda t: (t[0], t[1].name))
IAM_ACTION = re.compile(r"^[a-z0-9-]+:[A-Z][A-Za-z0-9]+\*?$")


def test_registry_is_not_empty():
    assert len(REGISTRY) >= 4


@pytest.mark.parametrize("plugin", PLUGINS, ids=lambda p: p.type)
def test_plugin_declares_its_contract(plugin):
    assert plugin.type.startswith("aws_")
    assert type(plugin).__module__ == f"chalicelib.resources.{plugin.type}"
    assert plugin.compared, "compared attributes must be declared"
    assert plugin.read_permissions, "read permissions must be declared"
    for action in (*plugin.read_permissions, *plugin.revert_permissions):
        assert IAM_ACTION.match(action), action
    if plugin.owner:
        assert plugin.events, "an owner must declare the events that can change it"
        assert plugin.revert_permissions or plugin.not_revertible, \
            "an owner either declares revert permissions or says why it is not revertible"
    assert REGISTRY.owner(plugin.object_kind).owner


@pytest.mark.parametrize("plugin", PLUGINS, ids=lambda p: p.type)
def test_revert_permissions_never_delete_resources(plugin):
    for action in plugin.revert_permissions:
        op = action.split(":", 1)[1]
        assert not op.startswith(("Delete", "Terminate")) or op in ATTRIBUTE_DELETES, action


@pytest.mark.parametrize(("tf_type", "spec"), EVENTS, ids=lambda v: v if isinstance(v, str) else v.name)
def test_event_has_a_recorded_fixture_that_yields_an_id(tf_type, spec):
    jmespath.compile(spec.ids)
    records = records_for(spec.source, spec.name)
    assert records, f"no recorded CloudTrail event for {spec.source} {spec.name} (add one to tests/fixtures/cloudtrail)"
    ids = []
    for _, doc in records:
        ids += spec.extract(parse_event(doc).record)
    assert ids, f"{spec.ids!r} finds no id{' with prefix ' + spec.id_prefix if spec.id_prefix else ''} " \
                f"in any recorded {spec.name}"


def test_eventbridge_pattern_fits_the_default_size_limit():
    pattern = eventbridge_pattern(REGISTRY)
    assert len(json.dumps(pattern, separators=(",", ":"))) <= 2048
    assert pattern["detail-type"] == ["AWS API Call via CloudTrail"]
    assert {f"aws.{s.split('.amazonaws.com')[0]}" for s in REGISTRY.sources()} == set(pattern["source"])


@pytest.mark.parametrize("plugin", [p for p in PLUGINS if p.computed], ids=lambda p: p.type)
def test_computed_attributes_are_compared_attributes(plugin):
    """``computed`` names Optional+Computed attributes the plugin compares (a typo would mute nothing)."""
    assert plugin.computed <= set(plugin.compared), sorted(plugin.computed - set(plugin.compared))
