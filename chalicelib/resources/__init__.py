"""Resource plugins: one module per Terraform resource type (module name == type).

Modules are found by walking this package; there is no central list to edit.
"""

from chalicelib.resources.base import EventKind, EventSpec, ResourcePlugin
from chalicelib.resources.registry import Registry, default_registry, register

__all__ = ["EventKind", "EventSpec", "Registry", "ResourcePlugin", "default_registry", "register"]
