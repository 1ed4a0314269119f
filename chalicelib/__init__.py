"""Driftwarden: real-time drift responder for Terraform-managed AWS accounts.

Everything under this package runs in Lambda. Dev-only code (the demo environment, the Slack
stand-in) lives in ``tests/harness`` and is never packaged.
"""
