"""RDS end to end through the pipeline: DB instances, clusters and parameter groups.

moto applies every RDS modification immediately and has no pending modifications, no
``DBParameterGroupName`` change on ``ModifyDBInstance``, no Performance Insights and no
``ResetDBParameterGroup``. Tests that need those use botocore's ``Stubber`` with responses shaped
like real ``DescribeDBInstances`` / ``DescribeDBParameters`` output (their docstrings say so).
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from chalicelib.aws import ClientFactory
from chalicelib.models import RemediationStatus, Severity, Status
from chalicelib.pipeline import Pipeline
from chalicelib.resources.registry import default_registry
from chalicelib.state.index import StateIndex
from chalicelib.state.tfstate import parse_state
from tests.conftest import make_pipeline
from tests.harness.events import ACCOUNT, cloudtrail_event
from tests.harness.tfstate import StateBuilder

RDS = "rds.amazonaws.com"
REGION = "us-east-1"


# --- state entries with the provider's attribute names (cf. corpus m1oojv/rajeshgattu96 states) ---------
def db_attributes(inst: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    ident = inst["DBInstanceIdentifier"]
    attrs = {
        "address": f"{ident}.abcdefghijkl.{REGION}.rds.amazonaws.com",
        "allocated_storage": inst["AllocatedStorage"], "allow_major_version_upgrade": None,
        "apply_immediately": None, "arn": inst["DBInstanceArn"],
        "auto_minor_version_upgrade": inst["AutoMinorVersionUpgrade"], "availability_zone": "us-east-1a",
        "backup_retention_period": inst["BackupRetentionPeriod"], "backup_window": "03:00-03:30",
        "ca_cert_identifier": inst.get("CACertificateIdentifier", ""), "character_set_name": "",
        "copy_tags_to_snapshot": inst["CopyTagsToSnapshot"], "db_name": None,
        "db_subnet_group_name": "default",
        "delete_automated_backups": True, "deletion_protection": inst["DeletionProtection"],
        "enabled_cloudwatch_logs_exports": [],
        "endpoint": f"{ident}.abcdefghijkl.{REGION}.rds.amazonaws.com:5432",
        "engine": inst["Engine"], "engine_version": inst["EngineVersion"], "final_snapshot_identifier": None,
        "iam_database_authentication_enabled": inst["IAMDatabaseAuthenticationEnabled"],
        "id": inst.get("DbiResourceId", "db-ABCDEFGHIJKLMNOPQRSTUVWXY"), "identifier": ident,
        "identifier_prefix": "", "instance_class": inst["DBInstanceClass"], "iops": 0, "kms_key_id": "",
        "maintenance_window": "sun:05:00-sun:05:30", "manage_master_user_password": None,
        "max_allocated_storage": 0, "monitoring_interval": 0, "multi_az": inst["MultiAZ"],
        "parameter_group_name": inst["DBParameterGroups"][0]["DBParameterGroupName"],
        "password": "REDACTED-BY-CORPUS-COLLECTOR", "performance_insights_enabled": False,
        "port": 5432, "publicly_accessible": inst.get("PubliclyAccessible", False),
        "resource_id": inst.get("DbiResourceId"),
        "skip_final_snapshot": True, "status": "available", "storage_encrypted": False,
        "storage_type": inst["StorageType"], "tags": {"team": "data"},
        "tags_all": {"team": "data", "env": "prod"},
        "username": "app",
        "vpc_security_group_ids": sorted(g["VpcSecurityGroupId"] for g in inst["VpcSecurityGroups"]),
    }
    attrs.update(overrides)
    return attrs


def modify_event(ident: str, **request: Any) -> dict[str, Any]:
    return cloudtrail_event("ModifyDBInstance", RDS, {"dBInstanceIdentifier": ident, "applyImmediately": True,
                                                      **request},
                            {"dBInstanceIdentifier": ident, "dBInstanceStatus": "modifying"})


@pytest.fixture
def db(aws):
    """One managed PostgreSQL instance (deletion protection on, 7-day backups), state in S3."""
    rds, s3, ec2 = aws.client("rds"), aws.client("s3"), aws.client("ec2")
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    sg_app = ec2.create_security_group(GroupName="db-app", Description="app", VpcId=vpc)["GroupId"]
    sg_other = ec2.create_security_group(GroupName="db-other", Description="other", VpcId=vpc)["GroupId"]
    rds.create_db_instance(DBInstanceIdentifier="orders-db", DBInstanceClass="db.t3.micro", Engine="postgres",
                           AllocatedStorage=20, MasterUsername="app",
                           MasterUserPassword="not-a-real-password",
                           BackupRetentionPeriod=7, DeletionProtection=True, PubliclyAccessible=False,
                           VpcSecurityGroupIds=[sg_app], Tags=[{"Key": "team", "Value": "data"},
                                                                {"Key": "env", "Value": "prod"}])
    inst = rds.describe_db_instances(DBInstanceIdentifier="orders-db")["DBInstances"][0]
    s3.create_bucket(Bucket="tfstate")
    StateBuilder().add("aws_db_instance", "orders", db_attributes(inst), module="module.data").put(
        s3, "tfstate", "prod/data.tfstate")
    pipeline = make_pipeline(aws, "s3://tfstate/prod/", iac_principals=("arn:aws:iam::*:role/terraform-*",))
    return pipeline, rds, sg_other


def _live(rds: Any, ident: str = "orders-db") -> dict[str, Any]:
    return rds.describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"][0]


def test_made_public_without_deletion_protection_is_critical_and_reverts(db):
    pipeline, rds, _ = db
    rds.modify_db_instance(DBInstanceIdentifier="orders-db", PubliclyAccessible=True,
                           DeletionProtection=False,
                           ApplyImmediately=True)
    event = modify_event("orders-db", publiclyAccessible=True, deletionProtection=False)
    [finding] = pipeline.process_event(event)
    assert finding.status is Status.DRIFT and finding.severity is Severity.CRITICAL
    assert finding.resource.address == "module.data.aws_db_instance.orders"
    assert finding.resource.id == "orders-db"
    assert [(c.path, c.declared, c.live, c.severity, c.rule) for c in finding.changes] == [
        ("deletion_protection", True, False, Severity.CRITICAL, "rds-deletion-protection-off"),
        ("publicly_accessible", False, True, Severity.CRITICAL, "rds-made-public"),
    ]
    [call] = finding.plan
    assert (call.operation, call.params) == ("ModifyDBInstance", {
        "DBInstanceIdentifier": "orders-db", "DeletionProtection": True, "PubliclyAccessible": False,
        "ApplyImmediately": True})
    result = pipeline.revert(finding)
    assert result.status is RemediationStatus.REVERTED, result.reason
    live = _live(rds)
    assert live["PubliclyAccessible"] is False and live["DeletionProtection"] is True
    assert pipeline.process_event(event)[0].status is Status.IN_SYNC


def test_backups_off_is_critical(db):
    pipeline, rds, _ = db
    rds.modify_db_instance(DBInstanceIdentifier="orders-db", BackupRetentionPeriod=0, ApplyImmediately=True)
    [finding] = pipeline.process_event(modify_event("orders-db", backupRetentionPeriod=0))
    assert [(c.path, c.declared, c.live, c.rule) for c in finding.changes] == [
        ("backup_retention_period", 7, 0, "rds-backups-off")]
    assert finding.severity is Severity.CRITICAL
    assert pipeline.revert(finding).status is RemediationStatus.REVERTED
    assert _live(rds)["BackupRetentionPeriod"] == 7


def test_sizing_and_hygiene_changes_are_medium_or_low_and_revert(db):
    pipeline, rds, _ = db
    rds.modify_db_instance(DBInstanceIdentifier="orders-db", DBInstanceClass="db.t3.large", MultiAZ=True,
                           StorageType="gp3", AutoMinorVersionUpgrade=False, CopyTagsToSnapshot=True,
                           EnableIAMDatabaseAuthentication=True, CACertificateIdentifier="rds-ca-rsa4096-g1",
                           ApplyImmediately=True)
    [finding] = pipeline.process_event(modify_event("orders-db", dBInstanceClass="db.t3.large", multiAZ=True))
    got = {c.path: (c.declared, c.live, c.severity) for c in finding.changes}
    assert got == {
        "instance_class": ("db.t3.micro", "db.t3.large", Severity.MEDIUM),
        "multi_az": (False, True, Severity.MEDIUM),
        "storage_type": ("gp2", "gp3", Severity.MEDIUM),
        "auto_minor_version_upgrade": (True, False, Severity.LOW),
        "copy_tags_to_snapshot": (False, True, Severity.LOW),
        "iam_database_authentication_enabled": (False, True, Severity.MEDIUM),
        "ca_cert_identifier": (got["ca_cert_identifier"][0], "rds-ca-rsa4096-g1", Severity.MEDIUM),
    }
    assert finding.severity is Severity.MEDIUM
    [call] = finding.plan
    assert call.params["ApplyImmediately"] is True  # the CA certificate cannot wait for the window
    assert pipeline.revert(finding).status is RemediationStatus.REVERTED
    live = _live(rds)
    assert (live["DBInstanceClass"], live["MultiAZ"], live["StorageType"]) == ("db.t3.micro", False, "gp2")


def test_security_group_swap_is_high_and_reverts(db):
    pipeline, rds, sg_other = db
    declared = sorted(g["VpcSecurityGroupId"] for g in _live(rds)["VpcSecurityGroups"])
    rds.modify_db_instance(DBInstanceIdentifier="orders-db", VpcSecurityGroupIds=[sg_other],
                           ApplyImmediately=True)
    [finding] = pipeline.process_event(modify_event("orders-db", vPCSecurityGroupIds=[sg_other]))
    assert [(c.path, c.declared, c.live, c.severity) for c in finding.changes] == [
        ("vpc_security_group_ids", declared, [sg_other], Severity.HIGH)]
    assert pipeline.revert(finding).status is RemediationStatus.REVERTED
    assert [g["VpcSecurityGroupId"] for g in _live(rds)["VpcSecurityGroups"]] == declared


def test_tags_compare_against_tags_all_and_revert(db):
    pipeline, rds, _ = db
    arn = _live(rds)["DBInstanceArn"]
    rds.add_tags_to_resource(ResourceName=arn, Tags=[{"Key": "team", "Value": "someone-else"},
                                                     {"Key": "aws:cloudformation:stack-name", "Value": "x"}])
    rds.remove_tags_from_resource(ResourceName=arn, TagKeys=["env"])
    event = cloudtrail_event("AddTagsToResource", RDS, {"resourceName": arn, "tags": [
        {"key": "team", "value": "someone-else"}]})
    [finding] = pipeline.process_event(event)
    assert [(c.path, c.declared, c.live, c.severity) for c in finding.changes] == [
        ("tags.env", "prod", None, Severity.LOW), ("tags.team", "data", "someone-else", Severity.LOW)]
    assert pipeline.revert(finding).status is RemediationStatus.REVERTED
    assert pipeline.process_event(event)[0].status is Status.IN_SYNC


def test_storage_autoscaling_growth_is_not_drift_but_manual_growth_is(aws):
    rds, s3 = aws.client("rds"), aws.client("s3")
    for ident in ("auto-db", "fixed-db"):
        rds.create_db_instance(DBInstanceIdentifier=ident, DBInstanceClass="db.t3.micro", Engine="postgres",
                               AllocatedStorage=20, MasterUsername="app",
                               MasterUserPassword="not-a-real-password",
                               PubliclyAccessible=False)
    s3.create_bucket(Bucket="tfstate")
    state = StateBuilder()
    untagged = {"tags": {}, "tags_all": {}}
    state.add("aws_db_instance", "auto", db_attributes(_live(rds, "auto-db"), max_allocated_storage=100,
                                                       **untagged))
    state.add("aws_db_instance", "fixed", db_attributes(_live(rds, "fixed-db"), **untagged))
    state.put(s3, "tfstate", "prod/db.tfstate")
    pipeline = make_pipeline(aws, "s3://tfstate/prod/")
    for ident in ("auto-db", "fixed-db"):
        rds.modify_db_instance(DBInstanceIdentifier=ident, AllocatedStorage=40, ApplyImmediately=True)
    [auto] = pipeline.process_event(modify_event("auto-db", allocatedStorage=40))
    assert auto.status is Status.IN_SYNC, [c.to_dict() for c in auto.changes]
    [fixed] = pipeline.process_event(modify_event("fixed-db", allocatedStorage=40))
    assert [(c.path, c.declared, c.live) for c in fixed.changes] == [("allocated_storage", 20, 40)]
    assert fixed.plan == ()  # AWS cannot shrink storage: reported, never reverted
    assert pipeline.revert(fixed).status is RemediationStatus.REFUSED


def test_password_change_and_unrelated_calls_are_not_drift(db):
    """``masterUserPassword`` is write-only (never readable, never compared); reboots are skipped."""
    pipeline, rds, _ = db
    rds.modify_db_instance(DBInstanceIdentifier="orders-db", MasterUserPassword="another-password",
                           ApplyImmediately=True)
    [finding] = pipeline.process_event(modify_event("orders-db", masterUserPassword="****"))
    assert finding.status is Status.IN_SYNC, finding.reason
    [reboot] = pipeline.process_event(cloudtrail_event("RebootDBInstance", RDS, {
        "dBInstanceIdentifier": "orders-db", "forceFailover": False}))
    assert reboot.status is Status.SKIPPED
    assert "does not change declared attributes" in reboot.reason and reboot.resource.id == "orders-db"


def test_mixed_case_identifier_and_unmanaged_instance(db):
    pipeline, rds, _ = db
    rds.modify_db_instance(DBInstanceIdentifier="orders-db", PubliclyAccessible=True, ApplyImmediately=True)
    [finding] = pipeline.process_event(modify_event("Orders-DB", publiclyAccessible=True))
    assert finding.status is Status.DRIFT and finding.resource.id == "orders-db"
    rds.create_db_instance(DBInstanceIdentifier="scratch", DBInstanceClass="db.t3.micro", Engine="postgres",
                           AllocatedStorage=20, MasterUsername="app",
                           MasterUserPassword="not-a-real-password")
    [other] = pipeline.process_event(modify_event("scratch", publiclyAccessible=True))
    assert other.status is Status.UNMANAGED


def test_iac_principal_is_ignored_and_delete_is_deleted(db):
    pipeline, rds, _ = db
    from tests.harness.events import role_identity
    event = modify_event("orders-db", deletionProtection=False)
    tf = cloudtrail_event("ModifyDBInstance", RDS, event["detail"]["requestParameters"], None,
                          identity=role_identity("terraform-apply"), console=False)
    assert pipeline.process_event(tf)[0].status is Status.IGNORED
    rds.modify_db_instance(DBInstanceIdentifier="orders-db", DeletionProtection=False, ApplyImmediately=True)
    rds.delete_db_instance(DBInstanceIdentifier="orders-db", SkipFinalSnapshot=True)
    [deleted] = pipeline.process_event(cloudtrail_event("DeleteDBInstance", RDS, {
        "dBInstanceIdentifier": "orders-db", "skipFinalSnapshot": True}, {"dBInstanceStatus": "deleting"}))
    assert deleted.status is Status.DELETED
    assert deleted.resource.address == "module.data.aws_db_instance.orders"


# --- Stubber: what moto does not model ----------------------------------------------------------------
def stub_pipeline(state: StateBuilder, service: str = "rds") -> tuple[Pipeline, Stubber]:
    factory = ClientFactory(session_factory=lambda: boto3.session.Session(region_name=REGION),
                            default_region=REGION)
    doc = parse_state("s3://tfstate/prod/data.tfstate", state.json())
    pipeline = Pipeline(default_registry(), StateIndex.from_docs(default_registry(), [doc]), factory.context)
    stub = Stubber(factory.client(service, REGION))
    stub.activate()
    return pipeline, stub


def described(**overrides: Any) -> dict[str, Any]:
    """A ``DescribeDBInstances`` instance as AWS returns it (abridged to the fields read)."""
    inst = {
        "DBInstanceIdentifier": "orders-db", "DBInstanceClass": "db.t3.micro", "Engine": "postgres",
        "DBInstanceStatus": "available", "AllocatedStorage": 20, "BackupRetentionPeriod": 7,
        "DBParameterGroups": [{"DBParameterGroupName": "orders-pg16", "ParameterApplyStatus": "in-sync"}],
        "VpcSecurityGroups": [{"VpcSecurityGroupId": "sg-0123456789abcdef0", "Status": "active"}],
        "PendingModifiedValues": {}, "MultiAZ": False, "EngineVersion": "16.3",
        "AutoMinorVersionUpgrade": True,
        "PubliclyAccessible": False, "StorageType": "gp3", "DbiResourceId": "db-ABCDEFGHIJKLMNOPQRSTUVWXY",
        "CACertificateIdentifier": "rds-ca-rsa2048-g1", "CopyTagsToSnapshot": True,
        "DBInstanceArn": f"arn:aws:rds:{REGION}:{ACCOUNT}:db:orders-db",
        "IAMDatabaseAuthenticationEnabled": False,
        "PerformanceInsightsEnabled": True, "DeletionProtection": True,
        "TagList": [{"Key": "team", "Value": "data"}, {"Key": "env", "Value": "prod"}],
    }
    inst.update(overrides)
    return {"DBInstances": [inst]}


def test_pending_modification_parameter_group_and_insights_are_drift(aws):
    """Stubber (moto applies changes at once, cannot swap parameter groups, has no Performance
    Insights): a class change waiting for the maintenance window is already drift, and the revert
    waits for the window too (the state's ``apply_immediately`` is unset)."""
    state = StateBuilder().add("aws_db_instance", "orders", db_attributes(
        described()["DBInstances"][0], performance_insights_enabled=True, max_allocated_storage=0),
        module="module.data")
    pipeline, stub = stub_pipeline(state)
    drifted = described(PendingModifiedValues={"DBInstanceClass": "db.r6g.2xlarge"},
                        DBParameterGroups=[{"DBParameterGroupName": "default.postgres16",
                                            "ParameterApplyStatus": "pending-reboot"}],
                        PerformanceInsightsEnabled=False)
    where = {"DBInstanceIdentifier": "orders-db"}
    stub.add_response("describe_db_instances", drifted, where)
    [finding] = pipeline.process_event(modify_event("orders-db", dBInstanceClass="db.r6g.2xlarge",
                                                    applyImmediately=False))
    assert [(c.path, c.declared, c.live, c.rule) for c in finding.changes] == [
        ("instance_class", "db.t3.micro", "db.r6g.2xlarge",
         "aws_db_instance.instance_class (pending-modification)"),
        ("parameter_group_name", "orders-pg16", "default.postgres16", "aws_db_instance.parameter_group_name"),
        ("performance_insights_enabled", True, False, "aws_db_instance.performance_insights_enabled"),
    ]
    [call] = finding.plan
    assert call.params == {"DBInstanceIdentifier": "orders-db", "DBInstanceClass": "db.t3.micro",
                           "DBParameterGroupName": "orders-pg16", "EnablePerformanceInsights": True,
                           "ApplyImmediately": False}
    stub.add_response("describe_db_instances", drifted, where)  # compare-and-set re-read
    stub.add_response("modify_db_instance", {"DBInstance": {"DBInstanceIdentifier": "orders-db"}},
                      call.params)
    stub.add_response("describe_db_instances", described(), where)  # verification
    result = pipeline.revert(finding)
    assert result.status is RemediationStatus.REVERTED, result.reason
    stub.assert_no_pending_responses()


def test_instance_in_deleting_status_is_deleted(aws):
    """Stubber: right after ``DeleteDBInstance`` AWS still describes the instance as ``deleting``."""
    state = StateBuilder().add("aws_db_instance", "orders", db_attributes(described()["DBInstances"][0]))
    pipeline, stub = stub_pipeline(state)
    stub.add_response("describe_db_instances", described(DBInstanceStatus="deleting"),
                      {"DBInstanceIdentifier": "orders-db"})
    [finding] = pipeline.process_event(cloudtrail_event("DeleteDBInstance", RDS, {
        "dBInstanceIdentifier": "orders-db", "skipFinalSnapshot": True}))
    assert finding.status is Status.DELETED


# --- clusters ------------------------------------------------------------------------------------------
def cluster_attributes(c: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    attrs = {
        "allocated_storage": 0, "allow_major_version_upgrade": None, "apply_immediately": None,
        "arn": c["DBClusterArn"], "availability_zones": ["us-east-1a", "us-east-1b", "us-east-1c"],
        "backtrack_window": 0, "backup_retention_period": c["BackupRetentionPeriod"],
        "cluster_identifier": c["DBClusterIdentifier"], "cluster_identifier_prefix": "",
        "cluster_members": [],
        "cluster_resource_id": c["DbClusterResourceId"], "copy_tags_to_snapshot": c["CopyTagsToSnapshot"],
        "database_name": "", "db_cluster_parameter_group_name": c["DBClusterParameterGroup"],
        "deletion_protection": c["DeletionProtection"], "enabled_cloudwatch_logs_exports": [],
        "endpoint": c["Endpoint"], "engine": c["Engine"], "engine_mode": "provisioned",
        "engine_version": "15", "engine_version_actual": c["EngineVersion"],
        "iam_database_authentication_enabled": c["IAMDatabaseAuthenticationEnabled"], "iam_roles": [],
        "id": c["DBClusterIdentifier"], "kms_key_id": "", "master_password": "REDACTED-BY-CORPUS-COLLECTOR",
        "master_username": "app", "port": 5432, "preferred_backup_window": c["PreferredBackupWindow"],
        "preferred_maintenance_window": c["PreferredMaintenanceWindow"], "skip_final_snapshot": True,
        "storage_encrypted": False, "tags": {}, "tags_all": {}, "vpc_security_group_ids": [],
    }
    attrs.update(overrides)
    return attrs


@pytest.fixture
def cluster(aws):
    rds, s3 = aws.client("rds"), aws.client("s3")
    rds.create_db_cluster(DBClusterIdentifier="orders-aurora", Engine="aurora-postgresql",
                          EngineVersion="15.4",
                          MasterUsername="app", MasterUserPassword="not-a-real-password",
                          DeletionProtection=True,
                          BackupRetentionPeriod=14)
    c = rds.describe_db_clusters(DBClusterIdentifier="orders-aurora")["DBClusters"][0]
    s3.create_bucket(Bucket="tfstate")
    StateBuilder().add("aws_rds_cluster", "orders", cluster_attributes(c)).put(s3, "tfstate",
                                                                               "prod/aurora.tfstate")
    return make_pipeline(aws, "s3://tfstate/prod/"), rds


def test_cluster_protection_and_backups_cut_are_critical_and_revert(cluster):
    pipeline, rds = cluster
    rds.modify_db_cluster(DBClusterIdentifier="orders-aurora", DeletionProtection=False,
                          BackupRetentionPeriod=1,
                          CopyTagsToSnapshot=True, ApplyImmediately=True)
    event = cloudtrail_event("ModifyDBCluster", RDS, {"dBClusterIdentifier": "orders-aurora",
                                                      "deletionProtection": False,
                                                      "backupRetentionPeriod": 1})
    [finding] = pipeline.process_event(event)
    assert [(c.path, c.declared, c.live, c.severity) for c in finding.changes] == [
        ("backup_retention_period", 14, 1, Severity.MEDIUM),
        ("copy_tags_to_snapshot", False, True, Severity.LOW),
        ("deletion_protection", True, False, Severity.CRITICAL),
    ]
    assert finding.plan[0].operation == "ModifyDBCluster"
    assert pipeline.revert(finding).status is RemediationStatus.REVERTED
    assert pipeline.process_event(event)[0].status is Status.IN_SYNC


def test_cluster_engine_prefix_is_not_drift_an_upgrade_is_but_never_reverted(cluster):
    pipeline, rds = cluster
    event = cloudtrail_event("ModifyDBCluster", RDS, {"dBClusterIdentifier": "orders-aurora",
                                                      "engineVersion": "16.1"})
    assert pipeline.process_event(event)[0].status is Status.IN_SYNC  # declared "15" matches live 15.4
    rds.modify_db_cluster(DBClusterIdentifier="orders-aurora", EngineVersion="16.1",
                          AllowMajorVersionUpgrade=True,
                          ApplyImmediately=True)
    [finding] = pipeline.process_event(event)
    assert [(c.path, c.declared, c.live) for c in finding.changes] == [("engine_version", "15", "16.1")]
    assert finding.plan == ()


def test_cluster_reboot_is_skipped_and_delete_is_deleted(cluster):
    pipeline, rds = cluster
    [reboot] = pipeline.process_event(cloudtrail_event("RebootDBCluster", RDS, {
        "dBClusterIdentifier": "orders-aurora"}))
    assert reboot.status is Status.SKIPPED
    rds.modify_db_cluster(DBClusterIdentifier="orders-aurora", DeletionProtection=False,
                          ApplyImmediately=True)
    rds.delete_db_cluster(DBClusterIdentifier="orders-aurora", SkipFinalSnapshot=True)
    [deleted] = pipeline.process_event(cloudtrail_event("DeleteDBCluster", RDS, {
        "dBClusterIdentifier": "orders-aurora", "skipFinalSnapshot": True}))
    assert deleted.status is Status.DELETED and deleted.resource.address == "aws_rds_cluster.orders"


# --- parameter groups ---------------------------------------------------------------------------------
def pg_attributes(name: str, parameters: list[dict[str, str]]) -> dict[str, Any]:
    return {"arn": f"arn:aws:rds:{REGION}:{ACCOUNT}:pg:{name}", "description": "orders parameters",
            "family": "postgres16", "id": name, "name": name, "name_prefix": "", "parameter": parameters,
            "skip_destroy": False, "tags": {}, "tags_all": {}}


def test_parameter_value_change_is_drift_and_reverts(aws):
    rds, s3 = aws.client("rds"), aws.client("s3")
    rds.create_db_parameter_group(DBParameterGroupName="orders-pg16", DBParameterGroupFamily="postgres16",
                                  Description="orders parameters")
    rds.modify_db_parameter_group(DBParameterGroupName="orders-pg16", Parameters=[
        {"ParameterName": "log_statement", "ParameterValue": "ddl", "ApplyMethod": "immediate"}])
    s3.create_bucket(Bucket="tfstate")
    StateBuilder().add("aws_db_parameter_group", "orders", pg_attributes("orders-pg16", [
        {"apply_method": "immediate", "name": "log_statement", "value": "ddl"}])).put(s3, "tfstate",
                                                                                      "prod/pg.tfstate")
    pipeline = make_pipeline(aws, "s3://tfstate/prod/")
    event = cloudtrail_event("ModifyDBParameterGroup", RDS, {"dBParameterGroupName": "orders-pg16",
                                                             "parameters": [
        {"parameterName": "log_statement", "parameterValue": "all", "applyMethod": "immediate"}]})
    assert pipeline.process_event(event)[0].status is Status.IN_SYNC
    rds.modify_db_parameter_group(DBParameterGroupName="orders-pg16", Parameters=[
        {"ParameterName": "log_statement", "ParameterValue": "all", "ApplyMethod": "immediate"}])
    [finding] = pipeline.process_event(event)
    assert [(c.path, c.declared, c.live, c.severity) for c in finding.changes] == [
        ("parameter.log_statement", "ddl", "all", Severity.MEDIUM)]
    assert [c.operation for c in finding.plan] == ["ModifyDBParameterGroup"]
    assert pipeline.revert(finding).status is RemediationStatus.REVERTED
    assert pipeline.process_event(event)[0].status is Status.IN_SYNC


def test_undeclared_tls_parameter_is_high_and_reset_to_default(aws):
    """Stubber (moto has no ``ResetDBParameterGroup``): an undeclared user-set ``rds.force_ssl=0`` is
    HIGH and is reset to the engine default, ``pending-reboot`` because the parameter is static."""
    state = StateBuilder().add("aws_db_parameter_group", "orders", pg_attributes("orders-pg16", [
        {"apply_method": "immediate", "name": "log_statement", "value": "ddl"}]))
    pipeline, stub = stub_pipeline(state)
    group = {"DBParameterGroups": [{"DBParameterGroupName": "orders-pg16",
                                    "DBParameterGroupFamily": "postgres16",
                                    "Description": "orders parameters",
                                    "DBParameterGroupArn": f"arn:aws:rds:{REGION}:{ACCOUNT}:pg:orders-pg16"}]}

    def param(name: str, value: str, apply_type: str) -> dict[str, Any]:
        return {"ParameterName": name, "ParameterValue": value, "Source": "user", "ApplyType": apply_type,
                "DataType": "string", "IsModifiable": True, "ApplyMethod": "immediate"}

    def reads(user: list[dict[str, Any]]) -> None:
        stub.add_response("describe_db_parameter_groups", group, {"DBParameterGroupName": "orders-pg16"})
        stub.add_response("describe_db_parameters", {"Parameters": user},
                          {"DBParameterGroupName": "orders-pg16", "Source": "user"})
        stub.add_response("describe_db_parameters", {"Parameters": []},
                          {"DBParameterGroupName": "orders-pg16", "Source": "system"})
        stub.add_response("list_tags_for_resource", {"TagList": []},
                          {"ResourceName": f"arn:aws:rds:{REGION}:{ACCOUNT}:pg:orders-pg16"})

    drifted = [param("log_statement", "ddl", "dynamic"), param("rds.force_ssl", "0", "static")]
    reads(drifted)
    [finding] = pipeline.process_event(json.loads(json.dumps(cloudtrail_event(
        "ModifyDBParameterGroup", RDS, {"dBParameterGroupName": "orders-pg16", "parameters": [
            {"parameterName": "rds.force_ssl", "parameterValue": "0", "applyMethod": "pending-reboot"}]}))))
    assert [(c.path, c.declared, c.live, c.severity, c.rule) for c in finding.changes] == [
        ("parameter.rds.force_ssl", None, "0", Severity.HIGH, "rds-tls-enforcement-off")]
    [call] = finding.plan
    assert (call.operation, call.params) == ("ResetDBParameterGroup", {
        "DBParameterGroupName": "orders-pg16", "ResetAllParameters": False,
        "Parameters": [{"ParameterName": "rds.force_ssl", "ApplyMethod": "pending-reboot"}]})
    reads(drifted)
    stub.add_response("reset_db_parameter_group", {"DBParameterGroupName": "orders-pg16"}, call.params)
    reads([param("log_statement", "ddl", "dynamic")])
    assert pipeline.revert(finding).status is RemediationStatus.REVERTED
    stub.assert_no_pending_responses()
