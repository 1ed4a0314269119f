# Work queues (with a dead-letter queue each) and one queue for events no function could take.
#
# Every SQS handler in app.py gets the queue it names (on_sqs_message(queue="driftwarden-decisions")
# -> "<name>-decisions"; with the default name exactly what app.py says). The decision queue, where
# the Slack route puts Approve/Revert decisions (DRIFTWARDEN_QUEUE_URL), always exists.

locals {
  decision_queue = local.decision_worker == null ? "driftwarden-decisions" : local.manifest[local.decision_worker].queue
  queue_names    = toset(concat([local.decision_queue], [for f in values(local.manifest) : f.queue if f.trigger == "sqs"]))

  # The variable that gives the functions each queue's URL (chalicelib/config.py). The decision
  # queue's is DRIFTWARDEN_QUEUE_URL (main.tf).
  queue_url_variables = {
    "driftwarden-deferred" = "DRIFTWARDEN_DEFER_QUEUE_URL" # Terraform-agent events re-checked later
  }
  queue_environment = {
    for q, variable in local.queue_url_variables : variable => aws_sqs_queue.work[q].url if contains(local.queue_names, q) && q != local.decision_queue
  }

  # A message must stay invisible while its consumer may still be working on it (AWS: 6x timeout).
  queue_visibility = {
    for q in local.queue_names : q => max(30, [for name, f in local.functions : 6 * f.timeout if f.trigger == "sqs" && f.queue == q]...)
  }
}

resource "aws_sqs_queue" "dlq" {
  for_each = local.queue_names

  name                      = "${var.name}-${trimprefix(each.key, "driftwarden-")}-dlq"
  message_retention_seconds = 1209600 # 14 days: time to look before it is gone
  sqs_managed_sse_enabled   = true
  tags                      = local.tags
}

resource "aws_sqs_queue" "work" {
  for_each = local.queue_names

  name                       = "${var.name}-${trimprefix(each.key, "driftwarden-")}"
  visibility_timeout_seconds = local.queue_visibility[each.key]
  message_retention_seconds  = 345600
  sqs_managed_sse_enabled    = true
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq[each.key].arn
    maxReceiveCount     = var.max_receive_count
  })
  tags = local.tags
}

# EventBridge deliveries that failed and asynchronous invocations that failed after retries.
resource "aws_sqs_queue" "failed_events" {
  name                      = "${var.name}-failed-events"
  message_retention_seconds = 1209600
  sqs_managed_sse_enabled   = true
  tags                      = local.tags
}

resource "aws_sqs_queue_policy" "failed_events" {
  queue_url = aws_sqs_queue.failed_events.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "EventBridgeDeadLetters"
      Effect    = "Allow"
      Principal = { Service = "events.amazonaws.com" }
      Action    = "sqs:SendMessage"
      Resource  = aws_sqs_queue.failed_events.arn
      Condition = {
        ArnLike = {
          "aws:SourceArn" = [
            "arn:${local.partition}:events:${local.region}:${local.account_id}:rule/${var.name}-*",
            "arn:${local.partition}:events:${local.region}:${local.account_id}:rule/${var.name}/${var.name}-*",
          ]
        }
      }
    }]
  })
}
