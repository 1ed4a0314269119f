# Findings (the workflow's store: findings, pointers, counters; conditional writes), audit (an
# append-only hash chain) and the Powertools idempotency records. All on demand, encrypted, with
# point-in-time recovery. Key schemas: chalicelib/actions/store.py, chalicelib/audit.py.

resource "aws_dynamodb_table" "findings" {
  name                        = "${var.name}-findings"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "id"
  deletion_protection_enabled = var.table_deletion_protection

  attribute {
    name = "id"
    type = "S"
  }

  # Epoch seconds on short-lived items (hourly revert counters). Findings expire logically
  # (on_sweep, DRIFTWARDEN_FINDING_TTL_HOURS) and stay for the record.
  ttl {
    attribute_name = "ttl"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled = true
  }

  tags = local.tags
}

# Who changed what, who approved or reverted it, and when: one hash chain per partition ("chain"),
# records in "seq" order, never overwritten. Kept (no TTL) for auditors.
resource "aws_dynamodb_table" "audit" {
  name                        = "${var.name}-audit"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "chain"
  range_key                   = "seq"
  deletion_protection_enabled = var.table_deletion_protection

  attribute {
    name = "chain"
    type = "S"
  }

  attribute {
    name = "seq"
    type = "N"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled = true
  }

  tags = local.tags
}

# aws_lambda_powertools.utilities.idempotency.DynamoDBPersistenceLayer: key "id", TTL "expiration".
resource "aws_dynamodb_table" "idempotency" {
  name                        = "${var.name}-idempotency"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "id"
  deletion_protection_enabled = var.table_deletion_protection

  attribute {
    name = "id"
    type = "S"
  }

  ttl {
    attribute_name = "expiration"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled = true
  }

  tags = local.tags
}
