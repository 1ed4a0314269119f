# Minimal Driftwarden deployment: a central (tooling/security) account in eu-west-1 watching itself
# and one member account. See docs/DEPLOY.md. Replace every value in `locals` first, and run
# `make package` (repo root) before `terraform init && terraform apply` here.

terraform {
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0"
    }
  }
}

locals {
  central_region    = "eu-west-1"
  member_account_id = "222222222222"
  # A role in the member account that this Terraform run may assume to create Driftwarden's roles.
  member_admin_role = "arn:aws:iam::222222222222:role/OrganizationAccountAccessRole"
  # IAM, CloudFront and Route 53 API calls are recorded in us-east-1: watch it too.
  regions = ["eu-west-1", "us-east-1"]
}

provider "aws" {
  region = local.central_region
}

# The central account's us-east-1 (global-service events land there).
provider "aws" {
  alias  = "central_us_east_1"
  region = "us-east-1"
}

provider "aws" {
  alias  = "member"
  region = local.central_region

  assume_role {
    role_arn = local.member_admin_role
  }
}

provider "aws" {
  alias  = "member_us_east_1"
  region = "us-east-1"

  assume_role {
    role_arn = local.member_admin_role
  }
}

module "driftwarden" {
  source = "../../infra"

  # Required (docs/DEPLOY.md explains each).
  state_locations  = ["s3://example-terraform-state/prod/"]
  slack_secret_arn = "arn:aws:secretsmanager:eu-west-1:111111111111:secret:driftwarden/slack-AbCdEf"
  slack_channel    = "C0123456789"
  approvers        = ["U0123456789"]
  iac_principals   = ["arn:aws:iam::*:role/terraform-*"]

  member_account_ids = [local.member_account_id]
  member_regions     = local.regions
  # the prod states describe resources in the member account: the scan reads them there
  state_accounts = { "s3://example-terraform-state/prod/" = local.member_account_id }
  create_trail       = false # true if no organization trail records these accounts
}

# The central account in us-east-1: forward only (its roles exist already, created by the module).
module "central_us_east_1" {
  source    = "../../infra/member"
  providers = { aws = aws.central_us_east_1 }

  central_event_bus_arn     = module.driftwarden.member_module_inputs.central_event_bus_arn
  detector_principal_arns   = module.driftwarden.member_module_inputs.detector_principal_arns
  remediator_principal_arns = module.driftwarden.member_module_inputs.remediator_principal_arns
  create_roles              = false
}

# The member account: roles once (IAM is global), forwarding in every watched region.
module "member" {
  source    = "../../infra/member"
  providers = { aws = aws.member }

  central_event_bus_arn     = module.driftwarden.member_module_inputs.central_event_bus_arn
  detector_principal_arns   = module.driftwarden.member_module_inputs.detector_principal_arns
  remediator_principal_arns = module.driftwarden.member_module_inputs.remediator_principal_arns
  allowed_regions           = module.driftwarden.member_module_inputs.allowed_regions
}

module "member_us_east_1" {
  source    = "../../infra/member"
  providers = { aws = aws.member_us_east_1 }

  central_event_bus_arn     = module.driftwarden.member_module_inputs.central_event_bus_arn
  detector_principal_arns   = module.driftwarden.member_module_inputs.detector_principal_arns
  remediator_principal_arns = module.driftwarden.member_module_inputs.remediator_principal_arns
  create_roles              = false
}

output "slack_request_url" {
  description = "Set this as the Slack app's Interactivity Request URL."
  value       = module.driftwarden.slack_request_url
}

output "function_names" {
  description = "Lambda functions, for `aws logs tail /aws/lambda/<name>`."
  value       = module.driftwarden.function_names
}
