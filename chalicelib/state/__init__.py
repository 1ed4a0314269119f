"""Terraform state: the v4 reader, S3 locations, and the multi-state index."""
