"""``DRIFTWARDEN_STATE`` locations: ``s3://bucket/key`` or ``s3://bucket/prefix/`` (comma-separated).

A prefix means every ``*.tfstate`` under it. Workspaces are included: the S3 backend stores
workspace ``ws`` of key ``path/terraform.tfstate`` at ``env:/ws/path/terraform.tfstate``.
Local paths (a file or a directory) are accepted too, for the CLI.
"""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.errors import ConfigError

__all__ = ["StateLocation", "parse_locations"]

WORKSPACE_PREFIX = "env:/"


@dataclass(frozen=True)
class StateLocation:
    scheme: str  # "s3" or "file"
    bucket: str
    key: str  # object key, key prefix ending in "/", or a local path

    @property
    def is_prefix(self) -> bool:
        return self.scheme == "s3" and (self.key == "" or self.key.endswith("/"))

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.key}" if self.scheme == "s3" else self.key

    def matches(self, key: str) -> bool:
        """Does object ``key`` belong to this location (workspace copies included)?"""
        candidates = [key]
        if key.startswith(WORKSPACE_PREFIX):
            parts = key[len(WORKSPACE_PREFIX):].split("/", 1)
            if len(parts) == 2:
                candidates.append(parts[1])
        for cand in candidates:
            if self.is_prefix and cand.startswith(self.key) and cand.endswith(".tfstate"):
                return True
            if not self.is_prefix and cand == self.key:
                return True
        return False


def parse_locations(value: str | None) -> list[StateLocation]:
    out: list[StateLocation] = []
    for item in (value or "").split(","):
        item = item.strip()
        if not item:
            continue
        if item.startswith("s3://"):
            rest = item[len("s3://"):]
            bucket, _, key = rest.partition("/")
            if not bucket:
                raise ConfigError(f"DRIFTWARDEN_STATE: {item!r} has no bucket")
            out.append(StateLocation("s3", bucket, key))
        elif "://" in item:
            raise ConfigError(f"DRIFTWARDEN_STATE: {item!r}: only s3:// URLs and local paths are supported")
        else:
            out.append(StateLocation("file", "", item))
    return out
