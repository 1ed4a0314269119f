"""aws_lb_listener: one ELBv2 listener, keyed by its ARN.

Compared: protocol, port, TLS policy, default certificate, default actions, tags. HTTPS→HTTP (or
TLS→TCP) is HIGH: traffic that was encrypted is now plain text. A plain-text listener has no
effective TLS policy or certificate, whatever a describe call echoes back, so they read as unset.

Default actions are normalized to a small vocabulary both sides share (the provider's blocks and the
API's ``DefaultActions`` carry the same thing in different shapes): ordered by ``order``; a forward
to one target group is just that group (weights and disabled stickiness do not matter with one
group); redirect fields get the provider's defaults (``#{host}`` ...).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.drift.diff import RawChange
from chalicelib.drift.normalize import tags_from_state
from chalicelib.models import ApiCall, Change, Severity
from chalicelib.resources.app_common import as_bool, as_int, first_block, text
from chalicelib.resources.aws_lb import elb_events, elb_tag_calls, read_elb_tags
from chalicelib.resources.base import Declared, Gone, LiveContext, ManagedResource, ResourcePlugin
from chalicelib.resources.registry import register

ENCRYPTED = {"HTTPS": "HTTP", "TLS": "TCP"}
_REDIRECT_DEFAULTS = {"host": "#{host}", "path": "/#{path}", "port": "#{port}", "protocol": "#{protocol}",
                      "query": "#{query}"}
_REDIRECT_API = {"host": "Host", "path": "Path", "port": "Port", "protocol": "Protocol", "query": "Query",
                 "status_code": "StatusCode"}
_FIXED_API = {"content_type": "ContentType", "message_body": "MessageBody", "status_code": "StatusCode"}
_COGNITO_API = {"user_pool_arn": "UserPoolArn", "user_pool_client_id": "UserPoolClientId",
                "user_pool_domain": "UserPoolDomain"}
_OIDC_API = {"issuer": "Issuer", "client_id": "ClientId", "authorization_endpoint": "AuthorizationEndpoint",
             "token_endpoint": "TokenEndpoint", "user_info_endpoint": "UserInfoEndpoint"}


def _forward(groups: list[tuple[str, int]], stickiness: tuple[bool, int | None]) -> dict[str, Any]:
    if len(groups) == 1:
        return {"type": "forward", "target_group_arn": groups[0][0]}
    out: dict[str, Any] = {"type": "forward",
                           "target_groups": [{"arn": arn, "weight": w} for arn, w in sorted(groups)]}
    if stickiness[0]:
        out["stickiness_duration"] = stickiness[1]
    return out


def action_from_state(block: Mapping[str, Any]) -> dict[str, Any]:
    kind = text(block.get("type"))
    if kind == "forward":
        fwd = first_block(block, "forward")
        groups = [(text(g.get("arn")), as_int(g.get("weight")) or 0) for g in fwd.get("target_group") or []]
        if not groups and block.get("target_group_arn"):
            groups = [(text(block["target_group_arn"]), 1)]
        stick = first_block(fwd, "stickiness")
        return _forward(groups, (as_bool(stick.get("enabled")), as_int(stick.get("duration"))))
    if kind == "redirect":
        r = first_block(block, "redirect")
        out = {"type": kind, **{k: text(r.get(k)) or d for k, d in _REDIRECT_DEFAULTS.items()}}
        out["status_code"] = text(r.get("status_code"))
        return out
    if kind == "fixed-response":
        f = first_block(block, "fixed_response")
        return {"type": kind, **{k: text(f.get(k)) for k in _FIXED_API}}
    if kind == "authenticate-cognito":
        c = first_block(block, "authenticate_cognito")
        return {"type": kind, **{k: text(c.get(k)) for k in _COGNITO_API}}
    if kind == "authenticate-oidc":
        o = first_block(block, "authenticate_oidc")
        return {"type": kind, **{k: text(o.get(k)) for k in _OIDC_API}}
    return {"type": kind}


def action_from_api(action: Mapping[str, Any]) -> dict[str, Any]:
    kind = text(action.get("Type"))
    if kind == "forward":
        cfg = action.get("ForwardConfig") or {}
        groups = [(text(g.get("TargetGroupArn")), as_int(g.get("Weight")) or 0)
                  for g in cfg.get("TargetGroups") or []]
        if not groups and action.get("TargetGroupArn"):
            groups = [(text(action["TargetGroupArn"]), 1)]
        stick = cfg.get("TargetGroupStickinessConfig") or {}
        return _forward(groups, (as_bool(stick.get("Enabled")), as_int(stick.get("DurationSeconds"))))
    if kind == "redirect":
        r = action.get("RedirectConfig") or {}
        out = {"type": kind, **{k: text(r.get(_REDIRECT_API[k])) or d for k, d in _REDIRECT_DEFAULTS.items()}}
        out["status_code"] = text(r.get("StatusCode"))
        return out
    if kind == "fixed-response":
        f = action.get("FixedResponseConfig") or {}
        return {"type": kind, **{k: text(f.get(api)) for k, api in _FIXED_API.items()}}
    if kind == "authenticate-cognito":
        c = action.get("AuthenticateCognitoConfig") or {}
        return {"type": kind, **{k: text(c.get(api)) for k, api in _COGNITO_API.items()}}
    if kind == "authenticate-oidc":
        o = action.get("AuthenticateOidcConfig") or {}
        return {"type": kind, **{k: text(o.get(api)) for k, api in _OIDC_API.items()}}
    return {"type": kind}


def action_to_api(action: Mapping[str, Any], order: int) -> dict[str, Any] | None:
    """A normalized action back to boto3 ``DefaultActions`` form; ``None`` when it cannot be rebuilt
    from what the state holds (authentication actions need settings and secrets the state lacks)."""
    kind = action["type"]
    out: dict[str, Any] = {"Type": kind, "Order": order}
    if kind == "forward" and "target_group_arn" in action:
        out["TargetGroupArn"] = action["target_group_arn"]
    elif kind == "forward":
        cfg: dict[str, Any] = {"TargetGroups": [{"TargetGroupArn": g["arn"], "Weight": g["weight"]}
                                                for g in action["target_groups"]]}
        if "stickiness_duration" in action:
            cfg["TargetGroupStickinessConfig"] = {"Enabled": True,
                                                  "DurationSeconds": action["stickiness_duration"]}
        out["ForwardConfig"] = cfg
    elif kind == "redirect":
        out["RedirectConfig"] = {api: action[k] for k, api in _REDIRECT_API.items() if action.get(k)}
    elif kind == "fixed-response":
        out["FixedResponseConfig"] = {api: action[k] for k, api in _FIXED_API.items() if action.get(k)}
    else:
        return None
    return out


def _ordered(items: list[Mapping[str, Any]], order_key: str) -> list[Mapping[str, Any]]:
    """Actions in evaluation order (``order``, else list position: moto omits ``Order``)."""
    ranked = sorted(enumerate(items), key=lambda p: (as_int(p[1].get(order_key)) or p[0] + 1, p[0]))
    return [b for _, b in ranked]


@register
class AwsLbListener(ResourcePlugin):
    type = "aws_lb_listener"
    service = "elbv2"
    object_kind = "elbv2:listener"
    events = elb_events(
        ":listener/",
        (("ModifyListener", "requestParameters.listenerArn"),),
        ("CreateListener", "responseElements.listeners[].listenerArn"),
        ("DeleteListener", "requestParameters.listenerArn"),
        report_missing_tags=False,
    )
    compared = {"protocol": Severity.HIGH, "port": Severity.MEDIUM, "ssl_policy": Severity.MEDIUM,
                "certificate_arn": Severity.MEDIUM, "default_action": Severity.MEDIUM, "tags": Severity.LOW}
    read_permissions = ("elasticloadbalancing:DescribeListeners", "elasticloadbalancing:DescribeTags")
    revert_permissions = ("elasticloadbalancing:ModifyListener", "elasticloadbalancing:AddTags",
                          "elasticloadbalancing:RemoveTags")
    gone_codes = frozenset({"ListenerNotFound", "LoadBalancerNotFound"})

    def declare(self, resource: ManagedResource, declared: Declared) -> None:
        a = resource.attributes
        m = declared.model
        m["protocol"] = text(a.get("protocol")).upper()
        m["port"] = as_int(a.get("port"))
        # Empty in state = not set in the configuration (a plain-text listener): nothing declared.
        if a.get("ssl_policy"):
            m["ssl_policy"] = text(a["ssl_policy"])
        if a.get("certificate_arn"):
            m["certificate_arn"] = text(a["certificate_arn"])
        actions = _ordered([b for b in a.get("default_action") or [] if isinstance(b, Mapping)], "order")
        m["default_action"] = [action_from_state(b) for b in actions]
        m["tags"] = tags_from_state(a)

    def read_live(self, ctx: LiveContext, object_id: str) -> dict[str, Any] | None:
        try:
            found = self.call(ctx, "describe_listeners", ListenerArns=[object_id]).get("Listeners") or []
            if not found:
                return None
            tags = read_elb_tags(self, ctx, object_id)
        except Gone:
            return None
        lis = found[0]
        protocol = text(lis.get("Protocol")).upper()
        encrypted = protocol in ENCRYPTED
        certs = lis.get("Certificates") or []
        default = next((c for c in certs if c.get("IsDefault")), certs[0] if certs else {})
        return {
            "protocol": protocol,
            "port": as_int(lis.get("Port")),
            "ssl_policy": text(lis.get("SslPolicy")) if encrypted else "",
            "certificate_arn": text(default.get("CertificateArn")) if encrypted else "",
            "default_action": [action_from_api(x)
                               for x in _ordered(lis.get("DefaultActions") or [], "Order")],
            "tags": tags,
        }

    def severity(self, change: RawChange) -> tuple[Severity, str]:
        if change.attribute == "protocol" and ENCRYPTED.get(str(change.declared)) == change.live:
            return Severity.HIGH, "listener-downgraded"
        if change.attribute == "tags":
            return Severity.LOW, "tags-changed"
        if change.attribute == "protocol":
            return Severity.MEDIUM, f"{self.type}.protocol"
        return self.compared.get(change.attribute, Severity.MEDIUM), f"{self.type}.{change.attribute}"

    def plan_revert(
        self, object_id: str, changes: list[Change], declared: Declared, live: Mapping[str, Any]
    ) -> tuple[ApiCall, ...]:
        m = declared.model
        paths = {c.path for c in changes}
        params: dict[str, Any] = {"ListenerArn": object_id}
        restored: list[str] = []
        if "protocol" in paths:
            params["Protocol"] = m["protocol"]
            restored.append(f"protocol {m['protocol']}")
        if "port" in paths:
            params["Port"] = m["port"]
            restored.append(f"port {m['port']}")
        # Back to an encrypted protocol, AWS wants the TLS policy and certificate in the same call.
        back_to_tls = "protocol" in paths and m["protocol"] in ENCRYPTED
        if ("ssl_policy" in paths or back_to_tls) and m.get("ssl_policy"):
            params["SslPolicy"] = m["ssl_policy"]
            restored.append(f"TLS policy {m['ssl_policy']}")
        if ("certificate_arn" in paths or back_to_tls) and m.get("certificate_arn"):
            params["Certificates"] = [{"CertificateArn": m["certificate_arn"]}]
            restored.append("default certificate")
        if "default_action" in paths:
            actions = [action_to_api(a, i + 1) for i, a in enumerate(m["default_action"])]
            if any(a is None for a in actions):
                return ()  # an authentication action cannot be rebuilt from state: no partial plan
            params["DefaultActions"] = actions
            restored.append("default action(s)")
        calls: list[ApiCall] = []
        if len(params) > 1:
            calls.append(ApiCall("elbv2", "ModifyListener", params,
                                 f"restore {', '.join(restored)} on listener {object_id}"))
        calls.extend(elb_tag_calls(object_id, changes))
        return tuple(calls)
