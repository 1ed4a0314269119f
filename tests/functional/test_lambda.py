"""Lambda end to end on moto: function configuration, code, concurrency, resource policy, URL.

moto needs docker only to *invoke* functions; create/get/update work without it (a zip with a
tiny handler and an IAM role created in moto). Event names carry the real API-version suffixes
(``UpdateFunctionConfiguration20150331v2``) and functions are named by ARN, as CloudTrail does.
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import pytest

from chalicelib.models import RemediationStatus, Severity, Status
from tests.conftest import make_pipeline
from tests.harness.events import ACCOUNT, cloudtrail_event
from tests.harness.tfstate import StateBuilder

LAMBDA = "lambda.amazonaws.com"
REGION = "us-east-1"
FN = "orders-api"
FN_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{FN}"
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:orders-events"


def package(body: str = "def handler(event, context):\n    return {'ok': True}\n") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("index.py", body)
    return buf.getvalue()


def function_attributes(cfg: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    """An ``aws_lambda_function`` state entry (cf. the corpus GomathiTechnologies state)."""
    attrs = {
        "architectures": ["x86_64"], "arn": cfg["FunctionArn"], "code_sha256": cfg["CodeSha256"],
        "code_signing_config_arn": "", "dead_letter_config": [], "description": cfg.get("Description", ""),
        "environment": [{"variables": dict(cfg.get("Environment", {}).get("Variables", {}))}],
        "ephemeral_storage": [{"size": 512}], "file_system_config": [], "filename": "build/orders-api.zip",
        "function_name": cfg["FunctionName"], "handler": cfg["Handler"], "id": cfg["FunctionName"],
        "image_config": [], "image_uri": "", "invoke_arn": f"arn:aws:apigateway:{REGION}:lambda:path/x",
        "kms_key_arn": "", "last_modified": cfg["LastModified"], "layers": [],
        "logging_config": [{"application_log_level": "", "log_format": "Text",
                            "log_group": f"/aws/lambda/{cfg['FunctionName']}", "system_log_level": ""}],
        "memory_size": cfg["MemorySize"], "package_type": "Zip", "publish": False,
        "qualified_arn": cfg["FunctionArn"] + ":$LATEST", "qualified_invoke_arn": "x",
        "replace_security_groups_on_destroy": None, "replacement_security_group_ids": None,
        "reserved_concurrent_executions": -1, "role": cfg["Role"], "runtime": cfg["Runtime"],
        "s3_bucket": None,
        "s3_key": None, "s3_object_version": None, "signing_job_arn": "", "signing_profile_version_arn": "",
        "skip_destroy": False, "snap_start": [], "source_code_hash": cfg["CodeSha256"],
        "source_code_size": 150,
        "tags": {"team": "orders"}, "tags_all": {"team": "orders"}, "timeout": cfg["Timeout"],
        "timeouts": None,
        "tracing_config": [{"mode": "PassThrough"}], "version": "$LATEST", "vpc_config": [],
    }
    attrs.update(overrides)
    return attrs


def permission_attributes(statement_id: str, principal: str, source_arn: str | None = None,
                          function_name: str = FN, qualifier: str = "") -> dict[str, Any]:
    return {"action": "lambda:InvokeFunction", "event_source_token": None, "function_name": function_name,
            "function_url_auth_type": None, "id": statement_id, "principal": principal,
            "principal_org_id": None,
            "qualifier": qualifier, "source_account": None, "source_arn": source_arn,
            "statement_id": statement_id,
            "statement_id_prefix": ""}


def url_attributes(auth: str = "AWS_IAM") -> dict[str, Any]:
    return {"authorization_type": auth, "cors": [], "function_arn": FN_ARN, "function_name": FN,
            "function_url": "https://abc.lambda-url.us-east-1.on.aws/", "id": FN, "invoke_mode": "BUFFERED",
            "qualifier": "", "timeouts": None, "url_id": "abc"}


def event(name: str, request: dict[str, Any], response: dict[str, Any] | None = None) -> dict[str, Any]:
    return cloudtrail_event(name, LAMBDA, request, response)


def config_event(**request: Any) -> dict[str, Any]:
    return event("UpdateFunctionConfiguration20150331v2", {"functionName": FN_ARN, **request},
                 {"functionName": FN, "functionArn": FN_ARN})


@pytest.fixture
def fn(aws):
    """A managed function with a declared SNS invoke permission and an IAM-auth function URL."""
    iam, lam, s3 = aws.client("iam"), aws.client("lambda"), aws.client("s3")
    role = iam.create_role(RoleName="orders-api", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    admin = iam.create_role(RoleName="admin-everything", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    lam.create_function(FunctionName=FN, Runtime="python3.12", Role=role, Handler="index.handler",
                        Code={"ZipFile": package()}, Timeout=10, MemorySize=256, Tags={"team": "orders"},
                        Environment={"Variables": {"STAGE": "prod", "DB_PASSWORD": "hunter2-prod"}})
    lam.add_permission(FunctionName=FN, StatementId="AllowSNS", Action="lambda:InvokeFunction",
                       Principal="sns.amazonaws.com", SourceArn=TOPIC)
    lam.create_function_url_config(FunctionName=FN, AuthType="AWS_IAM")
    cfg = lam.get_function(FunctionName=FN)["Configuration"]
    s3.create_bucket(Bucket="tfstate")
    state = StateBuilder()
    state.add("aws_lambda_function", "api", function_attributes(cfg))
    state.add("aws_lambda_permission", "sns", permission_attributes("AllowSNS", "sns.amazonaws.com", TOPIC))
    state.add("aws_lambda_function_url", "api", url_attributes())
    state.put(s3, "tfstate", "prod/orders.tfstate")
    return make_pipeline(aws, "s3://tfstate/prod/"), lam, admin


def test_role_swap_is_critical_and_sizing_medium_and_both_revert(fn):
    pipeline, lam, admin = fn
    lam.update_function_configuration(FunctionName=FN, Role=admin, Timeout=900, MemorySize=3008)
    ev = config_event(role=admin, timeout=900, memorySize=3008)
    [finding] = pipeline.process_event(ev)
    assert finding.status is Status.DRIFT and finding.severity is Severity.CRITICAL
    assert finding.resource.address == "aws_lambda_function.api" and finding.resource.id == FN
    got = {c.path: (c.declared, c.live, c.severity) for c in finding.changes}
    assert got == {"memory_size": (256, 3008, Severity.MEDIUM), "timeout": (10, 900, Severity.MEDIUM),
                   "role": (f"arn:aws:iam::{ACCOUNT}:role/orders-api", admin, Severity.CRITICAL)}
    [call] = finding.plan
    assert call.operation == "UpdateFunctionConfiguration"
    assert call.params == {"FunctionName": FN, "MemorySize": 256,
                           "Role": f"arn:aws:iam::{ACCOUNT}:role/orders-api",
                           "Timeout": 10}
    assert pipeline.revert(finding).status is RemediationStatus.REVERTED
    assert lam.get_function_configuration(FunctionName=FN)["Role"].endswith("role/orders-api")
    assert pipeline.process_event(ev)[0].status is Status.IN_SYNC


def test_environment_change_is_compared_but_masked_and_not_reverted(fn):
    pipeline, lam, _ = fn
    lam.update_function_configuration(FunctionName=FN, Environment={"Variables": {
        "STAGE": "prod", "DB_PASSWORD": "attacker-knows-this", "EXFIL_URL": "https://evil.example"}})
    [finding] = pipeline.process_event(config_event(environment={}))
    assert finding.status is Status.DRIFT
    assert [(c.path, c.sensitive) for c in finding.changes] == [("environment.DB_PASSWORD", True),
                                                                ("environment.EXFIL_URL", True)]
    text = json.dumps(finding.to_record())
    for secret in ("hunter2-prod", "attacker-knows-this", "https://evil.example"):
        assert secret not in text
    assert finding.plan == ()  # the plan would carry the secret values: never offered
    assert pipeline.revert(finding).status is RemediationStatus.REFUSED


def test_layer_injection_is_high_and_reverts(fn):
    pipeline, lam, _ = fn
    layer = lam.publish_layer_version(LayerName="totally-legit", Content={"ZipFile": package()},
                                      CompatibleRuntimes=["python3.12"])["LayerVersionArn"]
    lam.update_function_configuration(FunctionName=FN, Layers=[layer])
    ev = config_event(layers=[layer])
    [finding] = pipeline.process_event(ev)
    assert [(c.path, c.declared, c.live, c.severity) for c in finding.changes] == [
        ("layers", [], [layer], Severity.HIGH)]
    assert pipeline.revert(finding).status is RemediationStatus.REVERTED
    assert lam.get_function_configuration(FunctionName=FN).get("Layers", []) == []
    assert pipeline.process_event(ev)[0].status is Status.IN_SYNC


def test_vpc_attachment_is_drift_and_reverts(fn, aws):
    pipeline, lam, _ = fn
    ec2 = aws.client("ec2")
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    subnet = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"][0]["SubnetId"]
    sg = ec2.create_security_group(GroupName="fn", Description="fn", VpcId=vpc)["GroupId"]
    lam.update_function_configuration(FunctionName=FN, VpcConfig={"SubnetIds": [subnet],
                                                                  "SecurityGroupIds": [sg]})
    ev = config_event(vpcConfig={"subnetIds": [subnet], "securityGroupIds": [sg]})
    [finding] = pipeline.process_event(ev)
    assert [(c.path, c.live, c.severity) for c in finding.changes] == [
        ("vpc_config.security_group_ids", [sg], Severity.MEDIUM), ("vpc_config.subnet_ids", [subnet],
                                                                   Severity.MEDIUM)]
    [call] = finding.plan
    assert call.params == {"FunctionName": FN, "VpcConfig": {"SubnetIds": [], "SecurityGroupIds": []}}
    assert pipeline.revert(finding).status is RemediationStatus.REVERTED


def test_code_replaced_from_a_local_package_is_high_and_not_reverted(fn):
    pipeline, lam, _ = fn
    lam.update_function_code(FunctionName=FN, ZipFile=package("def handler(e, c):\n    return 'pwned'\n"))
    [finding] = pipeline.process_event(event("UpdateFunctionCode20150331v2", {"functionName": FN_ARN,
                                                                              "publish": False}))
    [change] = finding.changes
    assert (change.path, change.severity) == ("source_code_hash", Severity.HIGH)
    assert finding.plan == ()  # Driftwarden does not hold build/orders-api.zip


def test_code_from_a_versioned_s3_package_is_redeployed(aws):
    iam, lam, s3 = aws.client("iam"), aws.client("lambda"), aws.client("s3")
    role = iam.create_role(RoleName="worker", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    s3.create_bucket(Bucket="artifacts")
    s3.put_bucket_versioning(Bucket="artifacts", VersioningConfiguration={"Status": "Enabled"})
    version = s3.put_object(Bucket="artifacts", Key="worker.zip", Body=package())["VersionId"]
    lam.create_function(FunctionName="worker", Runtime="python3.12", Role=role, Handler="index.handler",
                        Code={"S3Bucket": "artifacts", "S3Key": "worker.zip", "S3ObjectVersion": version})
    cfg = lam.get_function(FunctionName="worker")["Configuration"]
    s3.create_bucket(Bucket="tfstate")
    StateBuilder().add("aws_lambda_function", "worker", function_attributes(
        cfg, filename=None, s3_bucket="artifacts", s3_key="worker.zip", s3_object_version=version,
        tags={}, tags_all={})).put(s3, "tfstate", "prod/worker.tfstate")
    pipeline = make_pipeline(aws, "s3://tfstate/prod/")
    lam.update_function_code(FunctionName="worker", ZipFile=package("def handler(e, c):\n    return 2\n"))
    ev = event("UpdateFunctionCode20150331v2", {"functionName": "worker"})
    [finding] = pipeline.process_event(ev)
    [call] = finding.plan
    assert (call.operation, call.params) == ("UpdateFunctionCode", {
        "FunctionName": "worker", "S3Bucket": "artifacts", "S3Key": "worker.zip", "S3ObjectVersion": version})
    assert pipeline.revert(finding).status is RemediationStatus.REVERTED
    assert pipeline.process_event(ev)[0].status is Status.IN_SYNC


def test_concurrency_zero_switches_the_function_off_high_and_reverts(fn):
    pipeline, lam, _ = fn
    lam.put_function_concurrency(FunctionName=FN, ReservedConcurrentExecutions=0)
    ev = event("PutFunctionConcurrency20171031", {"functionName": FN, "reservedConcurrentExecutions": 0})
    [finding] = pipeline.process_event(ev)
    assert [(c.path, c.declared, c.live, c.severity, c.rule) for c in finding.changes] == [
        ("reserved_concurrent_executions", -1, 0, Severity.HIGH, "lambda-function-throttled-to-zero")]
    assert [c.operation for c in finding.plan] == ["DeleteFunctionConcurrency"]
    assert pipeline.revert(finding).status is RemediationStatus.REVERTED
    assert pipeline.process_event(ev)[0].status is Status.IN_SYNC


def test_backdoor_permission_for_everyone_is_critical_and_removed(fn):
    """The stratus-red-team "backdoor Lambda" technique (corpus lambda-AddPermission20150331v2-stratus-1)."""
    pipeline, lam, _ = fn
    lam.add_permission(FunctionName=FN, StatementId="backdoor", Action="lambda:InvokeFunction", Principal="*")
    ev = event("AddPermission20150331v2", {"functionName": FN, "statementId": "backdoor",
                                           "action": "lambda:InvokeFunction", "principal": "*"})
    [finding] = pipeline.process_event(ev)
    assert [(c.path, c.declared, c.live, c.severity, c.rule) for c in finding.changes] == [
        ("permissions.backdoor", None, {"action": "lambda:InvokeFunction", "principal": "*"},
         Severity.CRITICAL,
         "lambda-policy-grants-public")]
    assert [(c.operation, c.params) for c in finding.plan] == [
        ("RemovePermission", {"FunctionName": FN, "StatementId": "backdoor"})]
    assert pipeline.revert(finding).status is RemediationStatus.REVERTED
    assert pipeline.process_event(ev)[0].status is Status.IN_SYNC


def test_declared_permission_removed_by_hand_is_restored(fn):
    pipeline, lam, _ = fn
    lam.remove_permission(FunctionName=FN, StatementId="AllowSNS")
    ev = event("RemovePermission20150331v2", {"functionName": FN, "statementId": "AllowSNS"})
    [finding] = pipeline.process_event(ev)
    assert [(c.path, c.live, c.severity) for c in finding.changes] == [
        ("permissions.AllowSNS", None, Severity.MEDIUM)]
    [call] = finding.plan
    assert call.params == {"FunctionName": FN, "StatementId": "AllowSNS", "Action": "lambda:InvokeFunction",
                           "Principal": "sns.amazonaws.com", "SourceArn": TOPIC}
    assert pipeline.revert(finding).status is RemediationStatus.REVERTED
    assert pipeline.process_event(ev)[0].status is Status.IN_SYNC


def test_function_url_made_public_is_critical_and_reverts(fn):
    pipeline, lam, _ = fn
    lam.update_function_url_config(FunctionName=FN, AuthType="NONE")
    ev = event("UpdateFunctionUrlConfig20211031", {"functionName": FN, "authType": "NONE"})
    [finding] = pipeline.process_event(ev)
    assert [(c.path, c.declared, c.live, c.severity, c.rule) for c in finding.changes] == [
        ("function_url.authorization_type", "AWS_IAM", "NONE", Severity.CRITICAL,
         "lambda-function-url-public")]
    assert [c.operation for c in finding.plan] == ["UpdateFunctionUrlConfig"]
    assert pipeline.revert(finding).status is RemediationStatus.REVERTED
    assert lam.get_function_url_config(FunctionName=FN)["AuthType"] == "AWS_IAM"
    assert pipeline.process_event(ev)[0].status is Status.IN_SYNC


def test_hand_made_public_url_on_a_managed_function_is_critical_but_not_deleted(aws):
    iam, lam, s3 = aws.client("iam"), aws.client("lambda"), aws.client("s3")
    role = iam.create_role(RoleName="r", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    lam.create_function(FunctionName="internal", Runtime="python3.12", Role=role, Handler="index.handler",
                        Code={"ZipFile": package()})
    s3.create_bucket(Bucket="tfstate")
    StateBuilder().add("aws_lambda_function", "internal", function_attributes(
        lam.get_function(FunctionName="internal")["Configuration"], tags={}, tags_all={})).put(
        s3, "tfstate", "prod/internal.tfstate")
    pipeline = make_pipeline(aws, "s3://tfstate/prod/")
    lam.create_function_url_config(FunctionName="internal", AuthType="NONE")
    [finding] = pipeline.process_event(event("CreateFunctionUrlConfig20211031",
                                             {"functionName": "internal", "authType": "NONE"}))
    [change] = finding.changes
    assert (change.path, change.declared, change.severity, change.rule) == (
        "function_url", None, Severity.CRITICAL, "lambda-function-url-public")
    assert finding.plan == ()  # DeleteFunctionUrlConfig is not an allowed revert operation


def test_not_drift_same_values_alias_permission_and_publish(fn):
    pipeline, lam, _ = fn
    lam.update_function_configuration(FunctionName=FN, Timeout=10)  # the declared value
    assert pipeline.process_event(config_event(timeout=10))[0].status is Status.IN_SYNC
    # an undeclared statement on an alias policy is not the function's: nothing there is managed
    version = lam.publish_version(FunctionName=FN)["Version"]
    lam.create_alias(FunctionName=FN, Name="live", FunctionVersion=version)
    lam.add_permission(FunctionName=FN, Qualifier="live", StatementId="alias-sns",
                       Action="lambda:InvokeFunction",
                       Principal="sns.amazonaws.com")
    [alias] = pipeline.process_event(event("AddPermission20150331v2", {
        "functionName": FN, "qualifier": "live", "statementId": "alias-sns"}))
    assert alias.status is Status.UNMANAGED and alias.resource.id == f"{FN}:live"
    [publish] = pipeline.process_event(event("PublishVersion20150331", {"functionName": FN}))
    assert publish.status is Status.SKIPPED


def test_delete_function_is_deleted(fn):
    pipeline, lam, _ = fn
    lam.delete_function(FunctionName=FN)
    [finding] = pipeline.process_event(event("DeleteFunction20150331", {"functionName": FN}))
    assert finding.status is Status.DELETED and finding.resource.address == "aws_lambda_function.api"


def test_container_image_swapped_is_high_and_redeployed(aws):
    iam, lam, s3 = aws.client("iam"), aws.client("lambda"), aws.client("s3")
    role = iam.create_role(RoleName="img", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    aws.client("ecr").create_repository(repositoryName="orders")
    image = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/orders:v1"
    lam.create_function(FunctionName="orders-img", Role=role, PackageType="Image", Code={"ImageUri": image})
    cfg = lam.get_function(FunctionName="orders-img")["Configuration"]
    s3.create_bucket(Bucket="tfstate")
    StateBuilder().add("aws_lambda_function", "img", function_attributes(
        {**cfg, "Handler": "", "Runtime": ""}, package_type="Image", image_uri=image, filename=None,
        tags={}, tags_all={})).put(s3, "tfstate", "prod/img.tfstate")
    pipeline = make_pipeline(aws, "s3://tfstate/prod/")
    lam.update_function_code(FunctionName="orders-img", ImageUri=image.replace(":v1", ":evil"))
    ev = event("UpdateFunctionCode20150331v2", {"functionName": "orders-img"})
    [finding] = pipeline.process_event(ev)
    assert [(c.path, c.declared, c.live, c.severity) for c in finding.changes] == [
        ("image_uri", image, image.replace(":v1", ":evil"), Severity.HIGH)]
    assert [(c.operation, c.params) for c in finding.plan] == [
        ("UpdateFunctionCode", {"FunctionName": "orders-img", "ImageUri": image})]
    assert pipeline.revert(finding).status is RemediationStatus.REVERTED
    assert pipeline.process_event(ev)[0].status is Status.IN_SYNC
