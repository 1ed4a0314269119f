"""Deployment tooling (generate.py, package.py) beside the Terraform module; never packaged into Lambda."""
