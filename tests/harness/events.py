"""Build CloudTrail events exactly as EventBridge delivers them, from the boto3 call they record.

moto does not record CloudTrail; tests and the demo make the call with boto3, then build the
event a real account would emit for it (shape taken from recorded events in ../shared/corpus).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

ACCOUNT = "123456789012"
CONSOLE_USER_AGENT = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
                      "Chrome/120.0.0.0 Safari/537.36")


def console_identity(account: str = ACCOUNT, role: str = "AWSReservedSSO_AdministratorAccess_0123456789abcdef",
                     session: str = "alice@example.com") -> dict[str, Any]:
    return {
        "type": "AssumedRole",
        "principalId": f"AROAEXAMPLE:{session}",
        "arn": f"arn:aws:sts::{account}:assumed-role/{role}/{session}",
        "accountId": account,
        "accessKeyId": "ASIAEXAMPLE",
        "sessionContext": {
            "sessionIssuer": {"type": "Role", "principalId": "AROAEXAMPLE",
                              "arn": f"arn:aws:iam::{account}:role/aws-reserved/sso.amazonaws.com/{role}",
                              "accountId": account, "userName": role},
            "attributes": {"creationDate": "2026-11-21T09:00:00Z", "mfaAuthenticated": "false"},
        },
    }


def role_identity(role: str, session: str = "session", account: str = ACCOUNT) -> dict[str, Any]:
    return {
        "type": "AssumedRole",
        "principalId": f"AROAEXAMPLE:{session}",
        "arn": f"arn:aws:sts::{account}:assumed-role/{role}/{session}",
        "accountId": account,
        "sessionContext": {"sessionIssuer": {"type": "Role", "arn": f"arn:aws:iam::{account}:role/{role}",
                                             "accountId": account, "userName": role}},
    }


def cloudtrail_event(
    name: str,
    source: str,
    request: dict[str, Any] | None,
    response: dict[str, Any] | None = None,
    *,
    identity: dict[str, Any] | None = None,
    console: bool = True,
    user_agent: str | None = None,
    region: str = "us-east-1",
    account: str = ACCOUNT,
    error_code: str | None = None,
    wrapped: bool = True,
    event_id: str | None = None,
) -> dict[str, Any]:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    detail: dict[str, Any] = {
        "eventVersion": "1.09",
        "userIdentity": identity or console_identity(account),
        "eventTime": now,
        "eventSource": source,
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": "203.0.113.10",
        "userAgent": user_agent or (CONSOLE_USER_AGENT if console else "aws-cli/2.15.0 Python/3.11.6"),
        "requestParameters": request,
        "responseElements": response,
        "requestID": str(uuid.uuid4()),
        "eventID": event_id or str(uuid.uuid4()),
        "readOnly": False,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": account,
        "eventCategory": "Management",
    }
    if console:
        detail["sessionCredentialFromConsole"] = "true"
    if error_code:
        detail["errorCode"] = error_code
        detail["errorMessage"] = "simulated failure"
    if not wrapped:
        return detail
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws." + source.split(".amazonaws.com")[0],
        "account": account,
        "time": now,
        "region": region,
        "resources": [],
        "detail": detail,
    }


def ip_permissions_to_cloudtrail(perms: list[dict[str, Any]]) -> dict[str, Any]:
    """boto3 ``IpPermissions`` → CloudTrail's ``ipPermissions.items`` shape."""
    items = []
    for p in perms:
        item: dict[str, Any] = {"ipProtocol": p["IpProtocol"], "groups": {}, "ipRanges": {}, "ipv6Ranges": {},
                                "prefixListIds": {}}
        if "FromPort" in p:
            item["fromPort"], item["toPort"] = p["FromPort"], p["ToPort"]
        if p.get("IpRanges"):
            item["ipRanges"] = {"items": [{"cidrIp": r["CidrIp"], **({"description": r["Description"]}
                                                                    if r.get("Description") else {})}
                                          for r in p["IpRanges"]]}
        if p.get("UserIdGroupPairs"):
            item["groups"] = {"items": [{"groupId": g["GroupId"]} for g in p["UserIdGroupPairs"]]}
        items.append(item)
    return {"items": items}


def sg_rule_event(name: str, group_id: str, perms: list[dict[str, Any]], **kw: Any) -> dict[str, Any]:
    response = {"requestId": str(uuid.uuid4()), "_return": True}
    return cloudtrail_event(name, "ec2.amazonaws.com",
                            {"groupId": group_id, "ipPermissions": ip_permissions_to_cloudtrail(perms)},
                            response, **kw)
