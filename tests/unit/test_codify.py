"""Codify accepted drift: edits to real-shaped .tf sources and standalone snippets, re-parsed with
python-hcl2 8.x (quoted strings and labels, ``__is_block__`` markers) so the output is valid HCL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import hcl2
import pytest

from chalicelib.models import MASK, Action, Actor, Change, Finding, ResourceInfo, Severity, Status
from chalicelib.notify.codify import codify, codify_in_files, hcl_value, parse_address

CORPUS_TF = Path(__file__).resolve().parents[1] / "fixtures" / "corpus" / "tf"
SSH_WORLD = {"protocol": "tcp", "from_port": 22, "to_port": 22, "cidr_blocks": ["0.0.0.0/0"], "description": ""}


def finding(address: str, tf_type: str, changes: list[Change], rid: str = "sg-0123456789abcdef0") -> Finding:
    return Finding(
        event_id="e-1", event_name="AuthorizeSecurityGroupIngress", event_source="ec2.amazonaws.com",
        event_time="2024-05-01T10:00:00Z", account="123456789012", region="us-east-1",
        actor=Actor("arn:aws:sts::123456789012:assumed-role/Admin/alice", "AssumedRole", "alice", True),
        status=Status.DRIFT, resource=ResourceInfo(tf_type, address, rid, "s3://tfstate/prod/app.tfstate"),
        changes=tuple(changes), severity=Severity.HIGH, action=Action.ALERT, reason="test")


def unq(value: Any) -> Any:
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    if isinstance(value, list):
        return [unq(v) for v in value]
    if isinstance(value, dict):
        return {unq(k): unq(v) for k, v in value.items() if not k.startswith("__")}
    return value


def resource(text: str, tf_type: str, name: str) -> dict[str, Any]:
    doc = hcl2.loads(text)
    for entry in doc.get("resource", []):
        body = entry.get(f'"{tf_type}"', {}).get(f'"{name}"')
        if body is not None:
            return body
    raise AssertionError(f"{tf_type}.{name} not in {doc}")


def rules(body: dict[str, Any], direction: str) -> set[tuple]:
    out = set()
    for block in body.get(direction, []):
        b = unq(block)
        for field in ("cidr_blocks", "ipv6_cidr_blocks", "security_groups", "prefix_list_ids"):
            for peer in b.get(field, []):
                out.add((str(b["protocol"]).lower(), b["from_port"], b["to_port"], peer, b.get("description", "")))
        if b.get("self") is True:
            out.add((str(b["protocol"]).lower(), b["from_port"], b["to_port"], "self", b.get("description", "")))
    return out


SG_SOURCE = '''\
# Web tier security group.
resource "aws_security_group" "web" {
  name        = "web"
  description = "web tier" # shown in the console
  vpc_id      = var.vpc_id

  ingress {
    description = "https"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }

  ingress {
    from_port   = 8080
    to_port     = 8080
    protocol    = "TCP"
    cidr_blocks = ["10.0.0.0/8", "172.16.0.0/12"]
  }

  egress {
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }

  tags = {
    Name  = "web"
    Owner = "platform" # team alias
    "kubernetes.io/role" = "lb"
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_iam_policy" "web" {
  name   = "web-${var.env}"
  policy = <<EOF
{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
EOF
}
'''


def test_security_group_ingress_added_removed_and_narrowed():
    f = finding("module.net.aws_security_group.web", "aws_security_group", [
        Change("ingress", None, SSH_WORLD, Severity.CRITICAL),
        Change("ingress", {**SSH_WORLD, "from_port": 443, "to_port": 443, "description": "https"}, None),
        Change("ingress", {"protocol": "tcp", "from_port": 8080, "to_port": 8080,
                           "cidr_blocks": ["172.16.0.0/12"], "description": ""}, None),
    ])
    result = codify(f, ("modules/net/sg.tf", SG_SOURCE))
    assert result.diff and result.diff.startswith("--- a/modules/net/sg.tf\n+++ b/modules/net/sg.tf\n")
    body = resource(result.edited, "aws_security_group", "web")
    assert rules(body, "ingress") == {("tcp", 22, 22, "0.0.0.0/0", ""), ("tcp", 8080, 8080, "10.0.0.0/8", "")}
    assert rules(body, "egress") == {("-1", 0, 0, "0.0.0.0/0", "")}, "egress untouched"
    assert unq(body["tags"]) == {"Name": "web", "Owner": "platform", "kubernetes.io/role": "lb"}
    assert "# shown in the console" in result.edited and "# team alias" in result.edited, "comments survive"
    assert len(result.applied) == 3
    assert any("module net" in n for n in result.notes)
    # The other resource (with a heredoc) is untouched.
    assert SG_SOURCE.split('resource "aws_iam_policy"')[1] == result.edited.split('resource "aws_iam_policy"')[1]


def test_security_group_description_change_and_self_peer():
    f = finding("aws_security_group.web", "aws_security_group", [
        Change("ingress", {**SSH_WORLD, "from_port": 443, "to_port": 443, "description": "https"},
               {**SSH_WORLD, "from_port": 443, "to_port": 443, "description": "https (CDN only)"}),
        Change("ingress", None, {"protocol": "tcp", "from_port": 5432, "to_port": 5432,
                                 "security_groups": ["sg-0123456789abcdef0"], "description": ""}),
    ])
    result = codify(f, ("sg.tf", SG_SOURCE))
    body = resource(result.edited, "aws_security_group", "web")
    got = rules(body, "ingress")
    assert ("tcp", 443, 443, "0.0.0.0/0", "https (CDN only)") in got
    assert ("tcp", 5432, 5432, "self", "") in got, "the group's own id is written as self = true"
    hcl2.loads(result.snippet)


def test_rule_declared_elsewhere_is_a_note_not_an_edit():
    f = finding("aws_security_group.web", "aws_security_group", [
        Change("ingress", {**SSH_WORLD, "from_port": 9000, "to_port": 9000}, None)])
    result = codify(f, ("sg.tf", SG_SOURCE))
    assert result.diff is None and result.edited is None
    assert any("not declared inline" in n for n in result.notes)
    hcl2.loads(result.snippet)


def test_tag_changes_inside_the_tags_map():
    f = finding("aws_security_group.web", "aws_security_group", [
        Change("tags.Owner", "platform", "payments", Severity.LOW, "tags-changed"),
        Change("tags.kubernetes.io/role", "lb", None, Severity.LOW, "tags-changed"),
        Change("tags.CostCenter", None, "cc-42", Severity.LOW, "tags-changed"),
    ])
    result = codify(f, ("sg.tf", SG_SOURCE))
    body = resource(result.edited, "aws_security_group", "web")
    assert unq(body["tags"]) == {"Name": "web", "Owner": "payments", "CostCenter": "cc-42"}
    assert "# team alias" in result.edited
    assert "+    CostCenter = \"cc-42\"" in result.diff
    snippet = resource(result.snippet, "aws_security_group", "web")
    assert unq(snippet["tags"]) == {"Owner": "payments", "CostCenter": "cc-42"}
    assert "remove \"kubernetes.io/role\"" in result.snippet


@pytest.mark.parametrize("tags_src, expected", [
    ('tags = { Name = "api", Owner = "platform" }', {"Name": "api", "Owner": "payments"}),
    ('tags = merge(var.common_tags, { Name = "api" })', None),
])
def test_tag_change_in_one_line_map_and_merge(tags_src, expected):
    src = f'resource "aws_s3_bucket" "api" {{\n  bucket = "api-logs"\n  {tags_src}\n}}\n'
    f = finding("aws_s3_bucket.api", "aws_s3_bucket", [Change("tags.Owner", "platform", "payments")], rid="api-logs")
    result = codify(f, ("s3.tf", src))
    text = result.edited
    body = resource(text, "aws_s3_bucket", "api")
    if expected is not None:
        assert unq(body["tags"]) == expected
    else:  # the override goes into merge()'s last object, which wins over var.common_tags
        assert 'Owner = "payments"' in text and "var.common_tags" in text
        assert text.index("var.common_tags") < text.index('Owner = "payments"')


def test_tags_from_a_variable_are_left_alone_with_a_note():
    src = 'resource "aws_s3_bucket" "api" {\n  bucket = "api-logs"\n  tags   = var.tags\n}\n'
    f = finding("aws_s3_bucket.api", "aws_s3_bucket", [Change("tags.Owner", "platform", "payments")], rid="api-logs")
    result = codify(f, ("s3.tf", src))
    assert result.edited is None
    assert any("var.tags" in n for n in result.notes)


def test_scalar_change_on_a_db_instance():
    src = '''resource "aws_db_instance" "main" {
  identifier          = "orders"
  engine              = "postgres"
  instance_class      = "db.t3.micro"
  deletion_protection = true
  password            = var.db_password
  backup_retention_period = var.retention
}
'''
    f = finding("aws_db_instance.main", "aws_db_instance", [
        Change("deletion_protection", True, False, Severity.HIGH, "deletion-protection-disabled"),
        Change("multi_az", None, True),
        Change("password", MASK, MASK, sensitive=True),
        Change("backup_retention_period", 7, 1),
    ], rid="orders")
    result = codify(f, ("rds.tf", src))
    body = unq(resource(result.edited, "aws_db_instance", "main"))
    assert body["deletion_protection"] is False
    assert body["multi_az"] is True
    assert body["password"] == "${var.db_password}", "sensitive values are never written"
    assert body["backup_retention_period"] == "${var.retention}", "expressions are left alone"
    assert any("password is sensitive" in n for n in result.notes)
    assert any("var.retention" in n and "1" in n for n in result.notes)
    assert MASK not in result.edited and MASK not in result.snippet
    snippet = unq(resource(result.snippet, "aws_db_instance", "main"))
    assert snippet == {"deletion_protection": False, "multi_az": True, "backup_retention_period": 1}


def test_module_and_indexed_addresses_find_the_block_by_type_and_name():
    src = 'resource "aws_db_instance" "main" {\n  count = 2\n  deletion_protection = true\n}\n'
    f = finding('module.data["eu"].aws_db_instance.main[1]', "aws_db_instance",
                [Change("deletion_protection", True, False)], rid="orders-1")
    result = codify_in_files(f, {"modules/data/other.tf": "# nothing here\n", "modules/data/main.tf": src})
    assert result.path == "modules/data/main.tf"
    assert unq(resource(result.edited, "aws_db_instance", "main"))["deletion_protection"] is False
    assert any("count/for_each" in n for n in result.notes)
    assert any('module data["eu"]' in n for n in result.notes)
    assert parse_address('module.a.module.b["x.y"].aws_x.n[0]') == (["a", 'b["x.y"]'], "aws_x", "n", "0")


def test_missing_block_falls_back_to_the_snippet():
    f = finding("aws_security_group.api", "aws_security_group", [Change("tags.Owner", None, "bob")])
    result = codify(f, ("sg.tf", SG_SOURCE))
    assert result.diff is None
    assert any('no resource "aws_security_group" "api"' in n for n in result.notes)
    assert unq(resource(result.snippet, "aws_security_group", "api")["tags"]) == {"Owner": "bob"}


def test_snippet_without_source_is_valid_hcl_for_tricky_values():
    policy = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*",' \
             '"Condition":{"IpAddress":{"aws:SourceIp":["10.0.0.0/8"]}}}]}'
    f = finding("aws_s3_bucket_policy.logs", "aws_s3_bucket_policy", [
        Change("policy", None, policy),
        Change("tags.a:b", None, 'quote " and ${interp} and %{tpl}\nnewline'),
        Change("tags.for", None, "reserved word as a key"),
    ], rid="logs")
    result = codify(f)
    assert result.diff is None
    body = resource(result.snippet, "aws_s3_bucket_policy", "logs")
    assert body["policy"].startswith("${jsonencode(")
    assert '"aws:SourceIp"' in body["policy"]
    assert unq(body["tags"])["a:b"] == 'quote \\" and $${interp} and %%{tpl}\\nnewline'
    assert hcl_value(["a", 1, True, None]) == '["a", 1, true, null]'


def test_real_corpus_security_group_edited_and_reparsed():
    """vmeazevedo/terraform_aws sg/main.tf (unaligned, upper-case protocol, no tags)."""
    path = CORPUS_TF / "vmeazevedo__terraform_aws__sg__terraform" / "main.tf"
    text = path.read_text()
    f = finding("aws_security_group.webtrafic", "aws_security_group", [
        Change("ingress", None, {**SSH_WORLD, "cidr_blocks": ["203.0.113.0/24"], "description": "office ssh"}),
        Change("egress", {**SSH_WORLD, "from_port": 443, "to_port": 443}, None),
        Change("tags.Owner", None, "alice"),
    ])
    result = codify(f, ("sg/main.tf", text))
    assert result.notes == ()
    body = resource(result.edited, "aws_security_group", "webtrafic")
    assert rules(body, "ingress") == {("tcp", 443, 443, "0.0.0.0/0", ""), ("tcp", 22, 22, "203.0.113.0/24",
                                                                          "office ssh")}
    assert "egress" not in body
    assert unq(body["tags"]) == {"Owner": "alice"}
    assert unq(body["name"]) == "Allow HTTPS"
    ec2 = unq(resource(result.edited, "aws_instance", "ec2"))
    assert ec2["security_groups"] == ["${aws_security_group.webtrafic.name}"], "the rest of the file is untouched"
    hcl2.loads(result.snippet)
