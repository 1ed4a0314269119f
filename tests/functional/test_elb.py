"""The ELBv2 family (aws_lb, aws_lb_listener, aws_lb_target_group) end to end through the pipeline, on moto.

Given a load balancer, listener or target group and a state written with the provider's real attribute
names (shapes copied from ../shared/corpus/tfstate: v5 ``aws_lb`` with computed ``access_logs``, an
HTTPS listener with ``ssl_policy``/``certificate_arn``, a target group with ``health_check`` and
``stickiness`` blocks), when a console-style change is made with boto3 and the matching CloudTrail
event is replayed, then the finding names exactly the changed attributes with the right severity, and
a revert restores the declared value (a second replay is ``in_sync``).

moto gaps we never depend on: its load-balancer attribute list omits ``access_logs.s3.enabled`` and
``routing.*`` until they are set (AWS always lists them; the plugin reads a missing key as AWS's
default), and after HTTPS→HTTP it keeps echoing the certificate and TLS policy (AWS drops them; the
plugin treats a plain-text listener's TLS settings as unset either way).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from chalicelib.models import Finding, RemediationStatus, Severity, Status
from chalicelib.pipeline import Pipeline
from chalicelib.resources.registry import default_registry
from tests.conftest import make_pipeline
from tests.harness.events import cloudtrail_event
from tests.harness.tfstate import StateBuilder

ELB = "elasticloadbalancing.amazonaws.com"
STATE_BUCKET = "driftwarden-elb-states"
ACCOUNT = "123456789012"
IAM_PREFIX = {"elbv2": "elasticloadbalancing"}


@dataclass
class Net:
    session: boto3.session.Session
    elb: Any
    s3: Any
    vpc: str
    subnets: list[str]
    groups: list[str]
    certs: list[str]


@pytest.fixture(scope="module")
def net(aws_module: boto3.session.Session) -> Iterator[Net]:
    """One VPC, three subnets in three AZs, two security groups, two ACM certificates (EC2 under moto
    is slow to start: shared by the module; every test makes its own load balancer)."""
    ec2, s3, acm = aws_module.client("ec2"), aws_module.client("s3"), aws_module.client("acm")
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.20.{i}.0/24", AvailabilityZone=f"us-east-1{az}")
               ["Subnet"]["SubnetId"] for i, az in enumerate("abc", start=1)]
    groups = [ec2.create_security_group(GroupName=f"alb-{n}", Description=n, VpcId=vpc)["GroupId"]
              for n in ("web", "extra")]
    certs = [acm.request_certificate(DomainName=d)["CertificateArn"]
             for d in ("example.com", "other.example.com")]
    s3.create_bucket(Bucket=STATE_BUCKET)
    yield Net(aws_module, aws_module.client("elbv2"), s3, vpc, subnets, groups, certs)


def pipeline_for(net: Net, state: StateBuilder) -> Pipeline:
    prefix = f"elb-{uuid.uuid4().hex[:10]}/"
    state.put(net.s3, STATE_BUCKET, f"{prefix}terraform.tfstate")
    return make_pipeline(net.session, f"s3://{STATE_BUCKET}/{prefix}")


# --- state shapes (provider attribute names, as in ../shared/corpus/tfstate) ----------------------
def lb_state(
    lb: dict[str, Any],
    *,
    deletion_protection: bool = False,
    access_logs: dict[str, Any] | None = None,
    drop_invalid: bool = False,
    idle_timeout: int = 60,
    subnets: list[str] | None = None,
    tags: dict[str, str] | None = None,
    default_tags: dict[str, str] | None = None,
) -> dict[str, Any]:
    arn = lb["LoadBalancerArn"]
    subnet_ids = subnets if subnets is not None else [z["SubnetId"] for z in lb["AvailabilityZones"]]
    return {
        "access_logs": [access_logs or {"bucket": "", "enabled": False, "prefix": ""}],
        "arn": arn, "arn_suffix": arn.split(":loadbalancer/")[1], "client_keep_alive": 3600,
        "connection_logs": [{"bucket": "", "enabled": False, "prefix": ""}], "customer_owned_ipv4_pool": "",
        "desync_mitigation_mode": "defensive", "dns_name": lb["DNSName"],
        "dns_record_client_routing_policy": None,
        "drop_invalid_header_fields": drop_invalid, "enable_cross_zone_load_balancing": True,
        "enable_deletion_protection": deletion_protection, "enable_http2": True,
        "enable_tls_version_and_cipher_suite_headers": False, "enable_waf_fail_open": False,
        "enable_xff_client_port": False, "enable_zonal_shift": None,
        "enforce_security_group_inbound_rules_on_private_link_traffic": "", "id": arn,
        "idle_timeout": idle_timeout, "internal": False, "ip_address_type": "ipv4",
        "load_balancer_type": "application", "name": lb["LoadBalancerName"], "name_prefix": "",
        "preserve_host_header": False, "security_groups": list(lb.get("SecurityGroups") or []),
        "subnet_mapping": [{"allocation_id": "", "ipv6_address": "", "outpost_id": "",
                            "private_ipv4_address": "", "subnet_id": s} for s in subnet_ids],
        "subnets": subnet_ids, "tags": tags, "tags_all": {**(default_tags or {}), **(tags or {})},
        "timeouts": None, "vpc_id": lb["VpcId"], "xff_header_processing_mode": "append",
        "zone_id": lb.get("CanonicalHostedZoneId", "Z35SXDOTRQ7X7K"),
    }


def listener_state(lis: dict[str, Any], target_group_arn: str, *, ssl_policy: str = "",
                   certificate_arn: str | None = None) -> dict[str, Any]:
    return {
        "alpn_policy": None, "arn": lis["ListenerArn"], "certificate_arn": certificate_arn,
        "default_action": [{"authenticate_cognito": [], "authenticate_oidc": [], "fixed_response": [],
                            "forward": [], "order": 1, "redirect": [], "target_group_arn": target_group_arn,
                            "type": "forward"}],
        "id": lis["ListenerArn"], "load_balancer_arn": lis["LoadBalancerArn"],
        "mutual_authentication": [{"advertise_trust_store_ca_names": "", "mode": "off", "trust_store_arn": "",
                                   "ignore_client_certificate_expiry": False}],
        "port": lis["Port"], "protocol": lis["Protocol"], "region": "us-east-1",
        "routing_http_response_server_enabled": True, "ssl_policy": ssl_policy, "tags": {}, "tags_all": {},
        "tcp_idle_timeout_seconds": None, "timeouts": None,
    }


def tg_state(tg: dict[str, Any], *, deregistration_delay: str = "300",
             stickiness: dict[str, Any] | None = None, **health: Any) -> dict[str, Any]:
    arn = tg["TargetGroupArn"]
    hc = {"enabled": True, "healthy_threshold": 5, "interval": 30, "matcher": "200", "path": "/",
          "port": "traffic-port", "protocol": "HTTP", "timeout": 5, "unhealthy_threshold": 2, **health}
    return {
        "arn": arn, "arn_suffix": arn.split(":")[-1], "connection_termination": None,
        "deregistration_delay": deregistration_delay, "health_check": [hc], "id": arn,
        "ip_address_type": "ipv4",
        "lambda_multi_value_headers_enabled": False, "load_balancer_arns": [],
        "load_balancing_algorithm_type": "round_robin", "load_balancing_anomaly_mitigation": "off",
        "load_balancing_cross_zone_enabled": "use_load_balancer_configuration", "name": tg["TargetGroupName"],
        "name_prefix": "", "port": tg["Port"], "preserve_client_ip": None, "protocol": tg["Protocol"],
        "protocol_version": "HTTP1", "proxy_protocol_v2": False, "slow_start": 0,
        "stickiness": [stickiness or {"cookie_duration": 86400, "cookie_name": "", "enabled": False,
                                      "type": "lb_cookie"}],
        "tags": None, "tags_all": {}, "target_failover": [{"on_deregistration": None, "on_unhealthy": None}],
        "target_type": "instance", "vpc_id": tg["VpcId"],
    }


# --- helpers ------------------------------------------------------------------------------------
def make_lb(net: Net, **kw: Any) -> dict[str, Any]:
    name = f"alb-{uuid.uuid4().hex[:8]}"
    lb = net.elb.create_load_balancer(Name=name, Subnets=net.subnets[:2], SecurityGroups=net.groups[:1],
                                      **kw)["LoadBalancers"][0]
    return lb


def make_tg(net: Net) -> dict[str, Any]:
    return net.elb.create_target_group(Name=f"tg-{uuid.uuid4().hex[:8]}", Protocol="HTTP", Port=80,
                                       VpcId=net.vpc, HealthCheckPath="/")["TargetGroups"][0]


def elb_event(name: str, request: dict[str, Any], response: dict[str, Any] | None = None) -> dict[str, Any]:
    return cloudtrail_event(name, ELB, request, response)


def attrs_event(lb_arn: str, **values: str) -> dict[str, Any]:
    pairs = [{"key": k, "value": v} for k, v in values.items()]
    return elb_event("ModifyLoadBalancerAttributes", {"loadBalancerArn": lb_arn, "attributes": pairs},
                     {"attributes": pairs})


def only(findings: list[Finding]) -> Finding:
    assert len(findings) == 1, findings
    return findings[0]


def changes(finding: Finding) -> list[tuple[str, Any, Any]]:
    return [(c.path, c.declared, c.live) for c in finding.changes]


def assert_plan_permitted(finding: Finding) -> None:
    plugin = default_registry().get(finding.resource.type)
    for call in finding.plan:
        action = f"{IAM_PREFIX.get(call.service, call.service)}:{call.operation}"
        assert action in plugin.revert_permissions, call


def revert_and_replay(pipeline: Pipeline, finding: Finding, event: dict[str, Any]) -> None:
    assert_plan_permitted(finding)
    result = pipeline.revert(finding)
    assert result.status is RemediationStatus.REVERTED, result.reason
    again = only(pipeline.process_event(event))
    assert again.status is Status.IN_SYNC, (again.reason, changes(again))


def lb_attr(net: Net, arn: str, key: str) -> str:
    attrs = net.elb.describe_load_balancer_attributes(LoadBalancerArn=arn)["Attributes"]
    return {a["Key"]: a["Value"] for a in attrs}[key]


# === aws_lb =====================================================================================
def test_deletion_protection_off_is_critical_and_reverted(net: Net) -> None:
    lb = make_lb(net)
    arn = lb["LoadBalancerArn"]
    net.elb.modify_load_balancer_attributes(LoadBalancerArn=arn, Attributes=[
        {"Key": "deletion_protection.enabled", "Value": "true"}])
    pipeline = pipeline_for(net, StateBuilder().add("aws_lb", "web", lb_state(lb, deletion_protection=True),
                                                    module="module.edge"))
    net.elb.modify_load_balancer_attributes(LoadBalancerArn=arn, Attributes=[
        {"Key": "deletion_protection.enabled", "Value": "false"}])
    event = attrs_event(arn, **{"deletion_protection.enabled": "false"})
    finding = only(pipeline.process_event(event))
    assert finding.status is Status.DRIFT and finding.severity is Severity.CRITICAL
    assert changes(finding) == [("enable_deletion_protection", True, False)]
    assert "deletion-protection-off" in finding.reason
    assert finding.resource.address == "module.edge.aws_lb.web" and finding.resource.id == arn
    assert [(c.operation, c.params) for c in finding.plan] == [("ModifyLoadBalancerAttributes", {
        "LoadBalancerArn": arn, "Attributes": [{"Key": "deletion_protection.enabled", "Value": "true"}]})]
    revert_and_replay(pipeline, finding, event)
    assert lb_attr(net, arn, "deletion_protection.enabled") == "true"


def test_access_logs_disabled_is_high_and_reverted(net: Net) -> None:
    lb = make_lb(net)
    arn = lb["LoadBalancerArn"]
    logs = {"access_logs.s3.enabled": "true", "access_logs.s3.bucket": "alb-logs",
            "access_logs.s3.prefix": "web"}
    net.elb.modify_load_balancer_attributes(LoadBalancerArn=arn, Attributes=[
        {"Key": k, "Value": v} for k, v in logs.items()])
    state = lb_state(lb, access_logs={"bucket": "alb-logs", "enabled": True, "prefix": "web"})
    pipeline = pipeline_for(net, StateBuilder().add("aws_lb", "web", state))
    net.elb.modify_load_balancer_attributes(LoadBalancerArn=arn, Attributes=[
        {"Key": "access_logs.s3.enabled", "Value": "false"}])
    event = attrs_event(arn, **{"access_logs.s3.enabled": "false"})
    finding = only(pipeline.process_event(event))
    assert finding.severity is Severity.HIGH and "access-logs-disabled" in finding.reason
    assert changes(finding) == [("access_logs.enabled", True, False)]
    revert_and_replay(pipeline, finding, event)
    assert lb_attr(net, arn, "access_logs.s3.enabled") == "true"


def test_header_dropping_and_idle_timeout_are_medium_and_reverted(net: Net) -> None:
    lb = make_lb(net)
    arn = lb["LoadBalancerArn"]
    net.elb.modify_load_balancer_attributes(LoadBalancerArn=arn, Attributes=[
        {"Key": "routing.http.drop_invalid_header_fields.enabled", "Value": "true"}])
    pipeline = pipeline_for(net, StateBuilder().add("aws_lb", "web", lb_state(lb, drop_invalid=True)))
    values = {"routing.http.drop_invalid_header_fields.enabled": "false",
              "idle_timeout.timeout_seconds": "300"}
    net.elb.modify_load_balancer_attributes(LoadBalancerArn=arn, Attributes=[
        {"Key": k, "Value": v} for k, v in values.items()])
    event = attrs_event(arn, **values)
    finding = only(pipeline.process_event(event))
    assert finding.severity is Severity.MEDIUM
    assert changes(finding) == [("drop_invalid_header_fields", True, False), ("idle_timeout", 60, 300)]
    assert {c.rule for c in finding.changes} == {"invalid-header-dropping-disabled", "aws_lb.idle_timeout"}
    revert_and_replay(pipeline, finding, event)
    assert lb_attr(net, arn, "idle_timeout.timeout_seconds") == "60"


def test_security_groups_and_subnets_compare_as_sets_and_revert(net: Net) -> None:
    lb = make_lb(net)
    arn = lb["LoadBalancerArn"]
    # declared subnets listed in another order than AWS returns them: a set, never drift
    state = lb_state(lb, subnets=list(reversed(net.subnets[:2])))
    pipeline = pipeline_for(net, StateBuilder().add("aws_lb", "web", state))
    net.elb.set_security_groups(LoadBalancerArn=arn, SecurityGroups=net.groups)
    sg_event = elb_event("SetSecurityGroups", {"loadBalancerArn": arn, "securityGroups": net.groups},
                         {"securityGroupIds": net.groups})
    finding = only(pipeline.process_event(sg_event))
    assert finding.status is Status.DRIFT and finding.severity is Severity.MEDIUM
    assert changes(finding) == [("security_groups", None, net.groups[1])]
    assert [(c.operation, c.params["SecurityGroups"]) for c in finding.plan] == [
        ("SetSecurityGroups", [net.groups[0]])]
    revert_and_replay(pipeline, finding, sg_event)

    net.elb.set_subnets(LoadBalancerArn=arn, Subnets=net.subnets)
    sub_event = elb_event("SetSubnets", {"loadBalancerArn": arn, "subnets": net.subnets})
    finding = only(pipeline.process_event(sub_event))
    assert changes(finding) == [("subnets", None, net.subnets[2])]
    revert_and_replay(pipeline, finding, sub_event)
    live = net.elb.describe_load_balancers(LoadBalancerArns=[arn])["LoadBalancers"][0]
    assert sorted(z["SubnetId"] for z in live["AvailabilityZones"]) == sorted(net.subnets[:2])


def test_not_drift_default_tags_undeclared_logs_and_same_value_events(net: Net) -> None:
    """tags_all carries provider default_tags; an access_logs block the config never set (state
    holds enabled=false, bucket="") does not make console-enabled logging drift; an event that
    re-sets the declared value changes nothing."""
    lb = make_lb(net, Tags=[{"Key": "team", "Value": "edge"}, {"Key": "env", "Value": "prod"}])
    arn = lb["LoadBalancerArn"]
    state = lb_state(lb, tags={"team": "edge"}, default_tags={"env": "prod"})
    pipeline = pipeline_for(net, StateBuilder().add("aws_lb", "web", state))
    net.elb.modify_load_balancer_attributes(LoadBalancerArn=arn, Attributes=[
        {"Key": "access_logs.s3.enabled", "Value": "true"}, {"Key": "access_logs.s3.bucket", "Value": "x"}])
    tag_event = elb_event("AddTags", {"resourceArns": [arn], "tags": [{"key": "team", "value": "edge"}]})
    assert only(pipeline.process_event(tag_event)).status is Status.IN_SYNC
    logs_event = attrs_event(arn, **{"access_logs.s3.enabled": "true", "access_logs.s3.bucket": "x"})
    finding = only(pipeline.process_event(logs_event))
    assert finding.status is Status.IN_SYNC, changes(finding)


def test_tag_drift_is_low_and_reverted(net: Net) -> None:
    lb = make_lb(net, Tags=[{"Key": "team", "Value": "edge"}])
    arn = lb["LoadBalancerArn"]
    pipeline = pipeline_for(net, StateBuilder().add("aws_lb", "web", lb_state(lb, tags={"team": "edge"})))
    new_tags = [{"Key": "team", "Value": "other"}, {"Key": "owner", "Value": "bob"}]
    net.elb.add_tags(ResourceArns=[arn], Tags=new_tags)
    event = elb_event("AddTags", {"resourceArns": [arn], "tags": [{"key": t["Key"], "value": t["Value"]}
                                                                   for t in new_tags]})
    finding = only(pipeline.process_event(event))
    assert finding.severity is Severity.LOW
    assert changes(finding) == [("tags.owner", None, "bob"), ("tags.team", "edge", "other")]
    assert [c.operation for c in finding.plan] == ["AddTags", "RemoveTags"]
    revert_and_replay(pipeline, finding, event)


def test_created_by_hand_is_unmanaged_and_deleted_is_deleted(net: Net) -> None:
    managed = make_lb(net)
    pipeline = pipeline_for(net, StateBuilder().add("aws_lb", "web", lb_state(managed)))
    other = make_lb(net)
    created = only(pipeline.process_event(elb_event(
        "CreateLoadBalancer", {"name": other["LoadBalancerName"], "subnets": net.subnets[:2]},
        {"loadBalancers": [{"loadBalancerArn": other["LoadBalancerArn"], "type": "application"}]})))
    assert created.status is Status.UNMANAGED and created.resource.id == other["LoadBalancerArn"]
    net.elb.delete_load_balancer(LoadBalancerArn=managed["LoadBalancerArn"])
    deleted = only(pipeline.process_event(elb_event("DeleteLoadBalancer",
                                                    {"loadBalancerArn": managed["LoadBalancerArn"]})))
    assert deleted.status is Status.DELETED and deleted.resource.address == "aws_lb.web"


def test_classic_load_balancer_calls_are_not_claimed_and_missing_arn_is_an_error(net: Net) -> None:
    """Same event source, other API: a Classic ELB call names ``loadBalancerName``, never an ARN."""
    pipeline = pipeline_for(net, StateBuilder())
    classic = only(pipeline.process_event(elb_event("ModifyLoadBalancerAttributes", {
        "loadBalancerName": "legacy",
        "loadBalancerAttributes": {"crossZoneLoadBalancing": {"enabled": True}}})))
    assert classic.status is Status.UNSUPPORTED, classic.reason
    redacted = only(pipeline.process_event(elb_event("SetSubnets",
                                                     {"loadBalancerArn": "...", "subnets": []})))
    assert redacted.status is Status.ERROR and "cannot tell which elbv2:loadbalancer" in redacted.reason


# === aws_lb_listener ============================================================================
def https_listener(net: Net) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    lb, tg = make_lb(net), make_tg(net)
    lis = net.elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTPS", Port=443,
                                  SslPolicy="ELBSecurityPolicy-TLS13-1-2-2021-06",
                                  Certificates=[{"CertificateArn": net.certs[0]}],
                                  DefaultActions=[{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}]
                                  )["Listeners"][0]
    return lb, tg, lis


def test_https_downgraded_to_http_is_high_and_reverted(net: Net) -> None:
    _, tg, lis = https_listener(net)
    arn, tg_arn = lis["ListenerArn"], tg["TargetGroupArn"]
    state = listener_state(lis, tg_arn, ssl_policy="ELBSecurityPolicy-TLS13-1-2-2021-06",
                           certificate_arn=net.certs[0])
    pipeline = pipeline_for(net, StateBuilder().add("aws_lb_listener", "https", state))
    net.elb.modify_listener(ListenerArn=arn, Protocol="HTTP", Port=80)
    event = elb_event("ModifyListener", {"listenerArn": arn, "protocol": "HTTP", "port": 80},
                      {"listeners": [{"listenerArn": arn, "protocol": "HTTP", "port": 80}]})
    finding = only(pipeline.process_event(event))
    assert finding.status is Status.DRIFT and finding.severity is Severity.HIGH
    assert "listener-downgraded" in finding.reason
    assert changes(finding) == [
        ("certificate_arn", net.certs[0], ""), ("port", 443, 80), ("protocol", "HTTPS", "HTTP"),
        ("ssl_policy", "ELBSecurityPolicy-TLS13-1-2-2021-06", "")]
    [call] = finding.plan
    assert call.operation == "ModifyListener"
    assert call.params == {"ListenerArn": arn, "Protocol": "HTTPS", "Port": 443,
                           "SslPolicy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
                           "Certificates": [{"CertificateArn": net.certs[0]}]}
    revert_and_replay(pipeline, finding, event)
    live = net.elb.describe_listeners(ListenerArns=[arn])["Listeners"][0]
    assert (live["Protocol"], live["Port"]) == ("HTTPS", 443)


def test_certificate_policy_and_default_action_changes_are_medium_and_reverted(net: Net) -> None:
    _, tg, lis = https_listener(net)
    arn = lis["ListenerArn"]
    other_tg = make_tg(net)
    state = listener_state(lis, tg["TargetGroupArn"], ssl_policy="ELBSecurityPolicy-TLS13-1-2-2021-06",
                           certificate_arn=net.certs[0])
    pipeline = pipeline_for(net, StateBuilder().add("aws_lb_listener", "https", state))
    actions = [{"Type": "forward", "TargetGroupArn": other_tg["TargetGroupArn"]}]
    net.elb.modify_listener(ListenerArn=arn, SslPolicy="ELBSecurityPolicy-2016-08",
                            Certificates=[{"CertificateArn": net.certs[1]}], DefaultActions=actions)
    event = elb_event("ModifyListener", {"listenerArn": arn, "sslPolicy": "ELBSecurityPolicy-2016-08",
                                         "certificates": [{"certificateArn": net.certs[1]}],
                                         "defaultActions": [{"type": "forward",
                                                             "targetGroupArn": other_tg["TargetGroupArn"]}]})
    finding = only(pipeline.process_event(event))
    assert finding.severity is Severity.MEDIUM
    assert [c.path for c in finding.changes] == ["certificate_arn", "default_action", "ssl_policy"]
    assert finding.changes[1].declared == [{"type": "forward", "target_group_arn": tg["TargetGroupArn"]}]
    assert finding.changes[1].live == [{"type": "forward", "target_group_arn": other_tg["TargetGroupArn"]}]
    revert_and_replay(pipeline, finding, event)
    live = net.elb.describe_listeners(ListenerArns=[arn])["Listeners"][0]
    assert live["DefaultActions"][0]["TargetGroupArn"] == tg["TargetGroupArn"]
    assert live["Certificates"][0]["CertificateArn"] == net.certs[0]


def test_plain_listener_redirect_block_in_provider_shape_is_not_drift(net: Net) -> None:
    """A redirect declared with the provider's defaults (``#{host}`` ...) equals AWS's shape."""
    lb = make_lb(net)
    redirect = {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"}
    actions = [{"Type": "redirect", "RedirectConfig": redirect}]
    lis = net.elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80,
                                  DefaultActions=actions)["Listeners"][0]
    state = listener_state(lis, "")
    state["default_action"] = [{"authenticate_cognito": [], "authenticate_oidc": [], "fixed_response": [],
                                "forward": [], "order": 1, "target_group_arn": "", "type": "redirect",
                                "redirect": [{"host": "#{host}", "path": "/#{path}", "port": "443",
                                              "protocol": "HTTPS", "query": "#{query}",
                                              "status_code": "HTTP_301"}]}]
    pipeline = pipeline_for(net, StateBuilder().add("aws_lb_listener", "http", state))
    event = elb_event("ModifyListener", {"listenerArn": lis["ListenerArn"], "port": 80})
    finding = only(pipeline.process_event(event))
    assert finding.status is Status.IN_SYNC, changes(finding)


# === aws_lb_target_group ========================================================================
def test_health_check_change_is_medium_and_reverted(net: Net) -> None:
    tg = make_tg(net)
    arn = tg["TargetGroupArn"]
    pipeline = pipeline_for(net, StateBuilder().add("aws_lb_target_group", "app", tg_state(tg)))
    net.elb.modify_target_group(TargetGroupArn=arn, HealthCheckIntervalSeconds=10, HealthCheckPath="/healthz",
                                Matcher={"HttpCode": "200-399"})
    event = elb_event("ModifyTargetGroup", {"targetGroupArn": arn, "healthCheckIntervalSeconds": 10,
                                            "healthCheckPath": "/healthz",
                                            "matcher": {"httpCode": "200-399"}})
    finding = only(pipeline.process_event(event))
    assert finding.status is Status.DRIFT and finding.severity is Severity.MEDIUM
    assert changes(finding) == [("health_check.interval", 30, 10), ("health_check.matcher", "200", "200-399"),
                                ("health_check.path", "/", "/healthz")]
    [call] = finding.plan
    assert call.params == {"TargetGroupArn": arn, "HealthCheckIntervalSeconds": 30,
                           "Matcher": {"HttpCode": "200"}, "HealthCheckPath": "/"}
    revert_and_replay(pipeline, finding, event)


def test_deregistration_delay_and_stickiness_are_reverted(net: Net) -> None:
    tg = make_tg(net)
    arn = tg["TargetGroupArn"]
    pipeline = pipeline_for(net, StateBuilder().add("aws_lb_target_group", "app", tg_state(tg)))
    values = {"deregistration_delay.timeout_seconds": "5", "stickiness.enabled": "true",
              "stickiness.lb_cookie.duration_seconds": "60"}
    net.elb.modify_target_group_attributes(TargetGroupArn=arn, Attributes=[
        {"Key": k, "Value": v} for k, v in values.items()])
    event = elb_event("ModifyTargetGroupAttributes", {"targetGroupArn": arn, "attributes": [
        {"key": k, "value": v} for k, v in values.items()]})
    finding = only(pipeline.process_event(event))
    assert changes(finding) == [("deregistration_delay", 300, 5), ("stickiness.cookie_duration", 86400, 60),
                                ("stickiness.enabled", False, True)]
    [call] = finding.plan
    assert call.operation == "ModifyTargetGroupAttributes"
    assert {a["Key"]: a["Value"] for a in call.params["Attributes"]} == {
        "deregistration_delay.timeout_seconds": "300", "stickiness.lb_cookie.duration_seconds": "86400",
        "stickiness.enabled": "false", "stickiness.type": "lb_cookie"}
    revert_and_replay(pipeline, finding, event)


def test_one_tag_call_naming_a_group_and_a_listener_judges_each(net: Net) -> None:
    _, tg, lis = https_listener(net)
    state = StateBuilder().add("aws_lb_target_group", "app", tg_state(tg)).add(
        "aws_lb_listener", "https", listener_state(lis, tg["TargetGroupArn"], ssl_policy=lis["SslPolicy"],
                                                   certificate_arn=net.certs[0]))
    pipeline = pipeline_for(net, state)
    arns = [tg["TargetGroupArn"], lis["ListenerArn"]]
    net.elb.add_tags(ResourceArns=arns, Tags=[{"Key": "cost", "Value": "x"}])
    findings = pipeline.process_event(elb_event("AddTags", {"resourceArns": arns,
                                                            "tags": [{"key": "cost", "value": "x"}]}))
    assert sorted((f.resource.type, f.status, f.severity) for f in findings) == [
        ("aws_lb_listener", Status.DRIFT, Severity.LOW), ("aws_lb_target_group", Status.DRIFT, Severity.LOW)]
    for finding in findings:
        assert changes(finding) == [("tags.cost", None, "x")]
        assert pipeline.revert(finding).status is RemediationStatus.REVERTED
