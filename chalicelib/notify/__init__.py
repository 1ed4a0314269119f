"""Slack: pure Block Kit builders (``blocks``) and the client wrapper (``slack``)."""
