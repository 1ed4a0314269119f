"""Triggers only find resources: CloudTrail events and the scan produce references; the pipeline decides."""
