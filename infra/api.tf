# HTTP API for Slack interactivity. Payload format 1.0: Chalice's app.app routes on
# requestContext.resourcePath, which format 1.0 fills from the route ("POST /slack/actions" ->
# "/slack/actions"). Routes come from app.py via generated/functions.json.

locals {
  api = { for name, f in local.manifest : name => f if f.trigger == "http" }
  api_routes = merge({}, [for name, f in local.api : {
    for r in f.routes : "${r.method} ${r.path}" => name
  }]...)
  slack_path = one([for key, name in local.api_routes : trimprefix(key, "POST ") if startswith(key, "POST ") && endswith(key, "/slack/actions")])
  slack_request_url = local.slack_path == null ? null : "${one([for a in aws_apigatewayv2_api.http : a.api_endpoint])}${local.slack_path}"
}

resource "aws_apigatewayv2_api" "http" {
  for_each = local.api

  name          = var.name
  description   = "Driftwarden: Slack interactivity"
  protocol_type = "HTTP"
  tags          = local.tags
}

resource "aws_apigatewayv2_integration" "lambda" {
  for_each = local.api

  api_id                 = aws_apigatewayv2_api.http[each.key].id
  integration_type       = "AWS_PROXY"
  integration_method     = "POST"
  integration_uri        = aws_lambda_function.fn[each.key].invoke_arn
  payload_format_version = "1.0"
  timeout_milliseconds   = 29000
}

resource "aws_apigatewayv2_route" "route" {
  for_each = local.api_routes

  api_id    = aws_apigatewayv2_api.http[each.value].id
  route_key = each.key
  target    = "integrations/${aws_apigatewayv2_integration.lambda[each.value].id}"
}

resource "aws_cloudwatch_log_group" "api" {
  for_each = local.api

  name              = "/aws/apigateway/${var.name}-${each.key}"
  retention_in_days = var.log_retention_days
  tags              = local.tags
}

resource "aws_apigatewayv2_stage" "default" {
  for_each = local.api

  api_id      = aws_apigatewayv2_api.http[each.key].id
  name        = "$default"
  auto_deploy = true

  default_route_settings {
    throttling_burst_limit = 50
    throttling_rate_limit  = 20
  }

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.api[each.key].arn
    format = jsonencode({
      requestId = "$context.requestId"
      ip        = "$context.identity.sourceIp"
      time      = "$context.requestTime"
      route     = "$context.routeKey"
      status    = "$context.status"
      latency   = "$context.integrationLatency"
      error     = "$context.integrationErrorMessage"
    })
  }

  tags = local.tags
}

resource "aws_lambda_permission" "api" {
  for_each = local.api

  statement_id  = "apigateway"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.fn[each.key].function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.http[each.key].execution_arn}/*/*"
}
