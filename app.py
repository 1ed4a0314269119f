"""Chalice composition root: decorators and one-line delegations. No boto3, no env reads, no logic."""

from chalice import Chalice, Rate, Response

from chalicelib import handlers

app = Chalice(app_name="driftwarden")


@app.on_cw_event(handlers.CLOUDTRAIL_PATTERN, name="on_cloudtrail")
def on_cloudtrail(event):
    return handlers.on_cloudtrail(event)


@app.on_cw_event(handlers.STATE_CHANGE_PATTERN, name="on_state_change")
def on_state_change(event):
    return handlers.on_state_change(event)


@app.on_sqs_message(queue="driftwarden-decisions", batch_size=1, name="on_decision")
def on_decision(event):
    return handlers.on_decision(event)


@app.on_sqs_message(queue="driftwarden-deferred", batch_size=1, name="on_deferred")
def on_deferred(event):
    return handlers.on_deferred(event)


@app.schedule(Rate(1, unit=Rate.HOURS), name="on_schedule")
def on_schedule(event):
    return handlers.on_schedule(event)


@app.schedule(Rate(15, unit=Rate.MINUTES), name="on_sweep")
def on_sweep(event):
    return handlers.on_sweep(event)


@app.route("/slack/actions", methods=["POST"], content_types=["application/x-www-form-urlencoded"])
def slack_actions():
    request = app.current_request
    status, body = handlers.slack_actions(request.raw_body, request.headers)  # type: ignore[union-attr]
    return Response(body=body, status_code=status)
