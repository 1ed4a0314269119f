"""Who made the change: actor attribution from real CloudTrail records, and the same actor in Slack.

Every identity type is covered by records from tests/fixtures/corpus/cloudtrail (their MANIFEST.tsv
``origin=`` note is checked too, so the table cannot drift onto the wrong file): IAM users (CLI,
console, console sign-in), assumed roles named ``role/session``, IAM Identity Center users resolved
from the ``AWSReservedSSO_*`` session, federated users, root, and AWS services acting for someone
(``invokedBy``). The corpus holds no record whose ``type`` is ``AWSService`` or ``AWSAccount``; those
two rows are written in the shape of the CloudTrail userIdentity reference and say so.

For each row: ``parse_event`` gives the expected ``Actor`` (type, name, via_console, source_ip,
invoked_by, arn) and principal ARNs (the session and the role behind it, which the IaC/self globs
match), and the Slack alert's *Who* field shows that actor.

A second check runs over the whole corpus: a record its MANIFEST says came from the console must
be attributed to the console, one from the CLI or an SDK must not.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from chalicelib.models import Action, Actor, Finding, ResourceInfo, Severity, Status
from chalicelib.notify.blocks import actor_line, alert_blocks, alert_text
from chalicelib.triggers.cloudtrail import CloudTrailEvent, parse_event

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "corpus"
RECORDS = CORPUS / "cloudtrail"


def manifest() -> dict[str, str]:
    out: dict[str, str] = {}
    for line in (CORPUS / "MANIFEST.tsv").read_text().splitlines()[1:]:
        cols = line.split("\t")
        out[cols[0]] = cols[-1]
    return out


MANIFEST = manifest()


def origin(name: str) -> str | None:
    m = re.search(r"origin=([^;]+)", MANIFEST.get(f"cloudtrail/{name}", ""))
    return m.group(1).strip() if m else None


def record(name: str) -> dict[str, Any]:
    return json.loads((RECORDS / name).read_text())


@dataclass(frozen=True)
class Row:
    record: str  # a corpus file, or a record built here (see DOCUMENTED)
    origin: str | None  # what MANIFEST.tsv says about it
    type: str | None
    name: str | None
    via_console: bool
    source_ip: str | None
    invoked_by: str | None
    arn: str | None
    principal_arns: tuple[str, ...]


ROWS = {
    "iam-user-cli": Row(
        "ec2-AuthorizeSecurityGroupIngress-elastic-1.json", "cli", "IAMUser", "test@elastic.co", False,
        "216.160.83.56", None, "arn:aws:iam::000000000:user/test@elastic.co",
        ("arn:aws:iam::000000000:user/test@elastic.co",)),
    "iam-user-console": Row(
        "cloudhsm-CreateCluster-custodian-1.json", "console", "IAMUser", "pratyush.mishra@capitalone.com",
        True, "204.63.43.37", None, "arn:aws:iam::644160558196:user/pratyush.mishra@capitalone.com",
        ("arn:aws:iam::644160558196:user/pratyush.mishra@capitalone.com",)),
    "iam-user-console-sign-in": Row(
        "ec2-RevokeSecurityGroupIngress-snsredmine-1.json", "console", "IAMUser", "matt", True,
        "24.61.240.20", "signin.amazonaws.com", "arn:aws:iam::913835907225:user/matt",
        ("arn:aws:iam::913835907225:user/matt",)),
    "assumed-role-console": Row(
        "ec2-AuthorizeSecurityGroupIngress-panther-1.json", "console", "AssumedRole", "TestAdmin/alan", True,
        "136.25.37.134", None, "arn:aws:sts::112233445566:assumed-role/TestAdmin/alan",
        ("arn:aws:sts::112233445566:assumed-role/TestAdmin/alan",
         "arn:aws:iam::112233445566:role/TestAdmin")),
    "assumed-role-cli": Row(
        "rds-ModifyDBInstance-panther-7.json", "cli", "AssumedRole", "DeveloperRole/developer", False,
        "203.0.113.45", None, "arn:aws:sts::123456789012:assumed-role/DeveloperRole/developer",
        ("arn:aws:sts::123456789012:assumed-role/DeveloperRole/developer",
         "arn:aws:iam::123456789012:role/DeveloperRole")),
    "identity-center-cli": Row(
        "ec2-CreateTags-pyctproc-1.json", "cli", "IdentityCenterUser", "example@domain.com", False,
        "50.200.00.200", None,
        "arn:aws:sts::062000000000:assumed-role/AWSReservedSSO_Admins_260008d6b2140109/example@domain.com",
        ("arn:aws:sts::062000000000:assumed-role/AWSReservedSSO_Admins_260008d6b2140109/example@domain.com",
         "arn:aws:iam::062000000000:role/aws-reserved/sso.amazonaws.com/us-west-2/"
         "AWSReservedSSO_Admins_260008d6b2140109")),
    "identity-center-console": Row(
        "kms-PutKeyPolicy-panther-2.json", "console", "IdentityCenterUser", "example.user", True, "10.0.0.1",
        None,
        "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_ExampleRole_xxxxxxxxxxxxxxxx/example.user",
        ("arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_ExampleRole_xxxxxxxxxxxxxxxx/example.user",
         "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/"
         "AWSReservedSSO_ExampleRole_xxxxxxxxxxxxxxxx")),
    "federated-user": Row(
        "lambda-UpdateFunctionCode20150331v2-panther-3.json", "cli", "FederatedUser", "federated-user", False,
        "203.0.113.50", None, "arn:aws:sts::123456789012:federated-user/federated-user",
        ("arn:aws:sts::123456789012:federated-user/federated-user",)),
    "root-console": Row(
        "appmesh-CreateVirtualNode-custodian-1.json", "console", "Root", "root", True, "81.100.136.98", None,
        "arn:aws:iam::659775036450:root", ("arn:aws:iam::659775036450:root",)),
    "root-console-sign-in": Row(
        "iam-CreateAccessKey-panther-6.json", "console", "Root", "root", True, "111.111.111.111",
        "signin.amazonaws.com", "arn:aws:iam::123456789012:root", ("arn:aws:iam::123456789012:root",)),
    "service-for-a-console-session": Row(
        "ec2-AuthorizeSecurityGroupIngress-bujs-1.json", "aws-service-via-console-session", "AssumedRole",
        "Shibboleth-InfraMgt/wrh@bu.edu", True, "AWS Internal", "cloudformation.amazonaws.com",
        "arn:aws:sts::770203350335:assumed-role/Shibboleth-InfraMgt/wrh@bu.edu",
        ("arn:aws:sts::770203350335:assumed-role/Shibboleth-InfraMgt/wrh@bu.edu",
         "arn:aws:iam::770203350335:role/Shibboleth-InfraMgt")),
    "service-linked-role": Row(
        "ec2-RunInstances-panther-1.json", "aws-service", "AssumedRole",
        "AWSServiceRoleForAutoScaling/AutoScaling", False, "autoscaling.amazonaws.com",
        "autoscaling.amazonaws.com",
        "arn:aws:sts::111122223333:assumed-role/AWSServiceRoleForAutoScaling/AutoScaling",
        ("arn:aws:sts::111122223333:assumed-role/AWSServiceRoleForAutoScaling/AutoScaling",
         "arn:aws:iam::111122223333:role/aws-service-role/autoscaling.amazonaws.com/"
         "AWSServiceRoleForAutoScaling")),
    "service-for-root": Row(
        "ec2-RunInstances-custodian-3.json", "aws-service", "Root", "root", False,
        "autoscaling.amazonaws.com", "autoscaling.amazonaws.com", "arn:aws:iam::619193117841:root",
        ("arn:aws:iam::619193117841:root",)),
    "aws-internal-without-a-type": Row(  # MANIFEST's origin here is a guess the record cannot support
        "kms-SynchronizeMultiRegionKey-awsdocs-1.json", None, None, None, False, "AWS Internal",
        "AWS Internal", None, ()),
    "aws-service-type": Row(
        "documented:AWSService", None, "AWSService", "config.amazonaws.com", False, "config.amazonaws.com",
        "config.amazonaws.com", None, ()),
    "other-aws-account": Row(
        "documented:AWSAccount", None, "AWSAccount", "111122223333", False, "203.0.113.5", None, None, ()),
}

DOCUMENTED: dict[str, dict[str, Any]] = {
    # userIdentity shapes from the CloudTrail user guide ("CloudTrail userIdentity element": AWSService
    # carries only invokedBy; AWSAccount the calling account), on a record otherwise like the corpus'.
    "documented:AWSService": {"type": "AWSService", "invokedBy": "config.amazonaws.com"},
    "documented:AWSAccount": {"type": "AWSAccount", "principalId": "AIDAEXAMPLEOTHERACCOUNT",
                              "accountId": "111122223333"},
}


def load(row: Row) -> CloudTrailEvent:
    if row.record in DOCUMENTED:
        raw = {"eventVersion": "1.08", "userIdentity": DOCUMENTED[row.record],
               "eventTime": "2026-11-21T09:00:00Z", "eventSource": "s3.amazonaws.com",
               "eventName": "PutBucketPolicy", "awsRegion": "us-east-1",
               "sourceIPAddress": row.source_ip, "userAgent": row.source_ip, "requestParameters": {},
               "responseElements": None, "eventID": "6f2b1f3e-0000-4000-8000-000000000001", "readOnly": False,
               "eventType": "AwsApiCall", "recipientAccountId": "123456789012"}
        return parse_event(raw)
    return parse_event(record(row.record))


@pytest.mark.parametrize("key", list(ROWS))
def test_actor_of_every_identity_type(key: str) -> None:
    row = ROWS[key]
    if row.origin is not None:
        assert origin(row.record) == row.origin, "the table names the record MANIFEST.tsv describes"
    event = load(row)
    actor = event.actor
    assert (actor.type, actor.name, actor.via_console, actor.source_ip, actor.invoked_by, actor.arn) == (
        row.type, row.name, row.via_console, row.source_ip, row.invoked_by, row.arn)
    assert event.principal_arns == row.principal_arns


def finding_for(event: CloudTrailEvent) -> Finding:
    """The finding the pipeline would build for this event (the alert renders only these fields)."""
    return Finding(event_id=event.event_id, event_name=event.name, event_source=event.source,
                   event_time=event.time, account=event.account, region=event.region, actor=event.actor,
                   status=Status.DRIFT, resource=ResourceInfo("aws_s3_bucket", "aws_s3_bucket.site", "site",
                                                              "s3://tfstate/site.tfstate"),
                   changes=(), severity=Severity.HIGH, action=Action.ALERT,
                   reason="1 attribute change(s) differ from aws_s3_bucket.site; severity high by rule "
                          "bucket-policy-changed (policy)")


def expected_who(row: Row) -> str:
    """The alert's *Who*, written out from the row: who, (type, how), via the service, from the address."""
    who = row.name or row.arn or "unknown principal"
    text = f"*{who}* ({row.type or 'unknown type'}, {'console' if row.via_console else 'CLI/SDK'})"
    if row.invoked_by:
        text += f" via {row.invoked_by}"
    if row.source_ip:
        text += f" from {row.source_ip}"
    return text


@pytest.mark.parametrize("key", list(ROWS))
def test_the_actor_is_in_the_slack_alert(key: str) -> None:
    row = ROWS[key]
    finding = finding_for(load(row))
    assert actor_line(finding) == expected_who(row)
    blocks = alert_blocks(finding)
    fields = [f["text"] for b in blocks if b["type"] == "section" for f in b.get("fields", [])]
    assert f"*Who*\n{expected_who(row)}" in fields
    assert json.dumps(blocks).count(json.dumps(expected_who(row))[1:-1]) == 1
    assert alert_text(finding).startswith("HIGH drift on aws_s3_bucket.site")


def test_identity_center_users_are_named_by_session_not_by_the_reserved_role() -> None:
    """The Slack line says who the person is; the permission set stays matchable for the globs."""
    event = parse_event(record("ec2-CreateTags-pyctproc-1.json"))
    assert "AWSReservedSSO" not in actor_line(finding_for(event))
    assert any("AWSReservedSSO_Admins_" in arn for arn in event.principal_arns)


def test_wrapped_and_lower_cased_records_attribute_the_same() -> None:
    """The EventBridge envelope and lower-cased keys (both in the corpus) change nothing."""
    raw = record("ec2-CreateTags-pyctproc-1.json")
    wrapped = {"version": "0", "id": "x", "detail-type": "AWS API Call via CloudTrail", "source": "aws.ec2",
               "account": "062000000000", "region": "us-east-1", "detail": raw}
    lowered = {k.lower(): v for k, v in raw.items()}
    lowered["useridentity"] = {k.lower(): v for k, v in raw["userIdentity"].items()}
    plain = parse_event(raw).actor
    assert parse_event(wrapped).actor == plain
    assert parse_event(lowered).actor == plain


# --- the whole corpus: console or not, as MANIFEST.tsv records it -------------------------------------------
_SERVICE_UA = re.compile(r"^[a-z0-9-]+\.amazonaws\.com$")


def corpus_by_origin() -> dict[str, list[tuple[str, Actor]]]:
    out: dict[str, list[tuple[str, Actor]]] = {"console": [], "programmatic": []}
    for path in sorted(RECORDS.glob("*.json")):
        how = origin(path.name)
        if how is None:
            continue
        actor = parse_event(json.loads(path.read_text())).actor
        ua = actor.user_agent or ""
        if how.startswith("console") and ua != "AWS Internal" and not (
                _SERVICE_UA.match(ua) and not ua.startswith(("console.", "signin."))):
            # ("AWS Internal" or a service's own host name cannot tell either way)
            out["console"].append((path.name, actor))
        elif how in ("cli", "sdk/other-programmatic"):
            out["programmatic"].append((path.name, actor))
    return out


def test_the_corpus_has_both_kinds() -> None:
    groups = corpus_by_origin()
    assert len(groups["console"]) >= 100 and len(groups["programmatic"]) >= 150


def test_every_console_record_is_attributed_to_the_console() -> None:
    """Includes the S3 console, whose user agent is bracketed (``[S3Console/0.4]``,
    ``[Mozilla/5.0 ...]``), and consoles that name themselves (``AWSConsole``, ``AWS CloudWatch
    Console``, ``EC2ConsoleBackend``)."""
    missed = [(name, actor.user_agent) for name, actor in corpus_by_origin()["console"]
              if not actor.via_console]
    assert missed == [], "\n".join(f"{n}: {ua}" for n, ua in missed)


def test_no_cli_or_sdk_record_is_attributed_to_the_console() -> None:
    wrong = [(name, actor.user_agent) for name, actor in corpus_by_origin()["programmatic"]
             if actor.via_console]
    assert wrong == [], wrong
