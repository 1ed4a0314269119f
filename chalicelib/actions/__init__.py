"""Slack interactivity and the finding/decision store."""
