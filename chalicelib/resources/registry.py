"""The plugin registry: explicit and loud.

Plugins register with ``@register``. Importing ``chalicelib.resources`` modules is done by walking
the package (``load``), so adding a type never means editing a central list. A duplicate type, a
module whose name is not its type, a kind with no owner (or two), or two plugins extracting the
same event differently for one kind raises ``RegistryError`` at import.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

from chalicelib.errors import RegistryError
from chalicelib.resources.base import EventSpec, ResourcePlugin

__all__ = ["Claim", "Registry", "default_registry", "normalize_event_name", "register"]

_VERSION_SUFFIX = re.compile(r"\d{8}(v\d+)?$")


def normalize_event_name(name: str) -> str:
    """Lambda-style versioned names (``UpdateFunctionConfiguration20150331v2``) → the API name."""
    return _VERSION_SUFFIX.sub("", name or "")


@dataclass(frozen=True)
class Claim:
    plugin: ResourcePlugin
    spec: EventSpec


class Registry:
    def __init__(self) -> None:
        self._plugins: dict[str, ResourcePlugin] = {}
        self._claims: dict[tuple[str, str], list[Claim]] = defaultdict(list)
        self._owners: dict[str, ResourcePlugin] = {}
        self._loaded = False

    # --- registration ----------------------------------------------------------------------------
    def register(self, cls: type[ResourcePlugin]) -> type[ResourcePlugin]:
        for attr in ("type", "service", "object_kind"):
            if not getattr(cls, attr, None):
                raise RegistryError(f"{cls.__name__}: missing class attribute {attr!r}")
        module_leaf = cls.__module__.rsplit(".", 1)[-1]
        if cls.__module__.startswith("chalicelib.resources.") and module_leaf != cls.type:
            raise RegistryError(f"{cls.__module__}: module name must equal its type {cls.type!r}")
        if cls.type in self._plugins:
            raise RegistryError(f"duplicate plugin for {cls.type!r}")
        plugin = cls()
        if cls.owner and cls.object_kind in self._owners:
            raise RegistryError(
                f"{cls.object_kind!r} has two owners: {self._owners[cls.object_kind].type} and {cls.type}"
            )
        for spec in cls.events:
            key = (spec.source, spec.name)
            for other in self._claims[key]:
                same_scope = other.spec.id_prefix == spec.id_prefix
                if other.plugin.object_kind == plugin.object_kind and same_scope and other.spec.ids != spec.ids:
                    raise RegistryError(
                        f"{spec.source}/{spec.name}: {other.plugin.type} and {cls.type} extract "
                        f"{plugin.object_kind} ids differently ({other.spec.ids!r} vs {spec.ids!r})"
                    )
            self._claims[key].append(Claim(plugin, spec))
        self._plugins[cls.type] = plugin
        if cls.owner:
            self._owners[cls.object_kind] = plugin
        return cls

    def load(self, package: str = "chalicelib.resources") -> Registry:
        """Import every plugin module in ``package`` (once) and check kinds have owners."""
        if self._loaded:
            return self
        pkg = importlib.import_module(package)
        for info in pkgutil.iter_modules(pkg.__path__):
            if info.name.startswith("aws_"):
                importlib.import_module(f"{package}.{info.name}")
        self._loaded = True
        self.check()
        return self

    def check(self) -> None:
        for plugin in self._plugins.values():
            if plugin.object_kind not in self._owners:
                raise RegistryError(f"{plugin.type}: object kind {plugin.object_kind!r} has no owner plugin")

    # --- lookups ---------------------------------------------------------------------------------
    def __iter__(self) -> Iterator[ResourcePlugin]:
        return iter(sorted(self._plugins.values(), key=lambda p: p.type))

    def __len__(self) -> int:
        return len(self._plugins)

    def __contains__(self, tf_type: object) -> bool:
        return tf_type in self._plugins

    def get(self, tf_type: str) -> ResourcePlugin | None:
        return self._plugins.get(tf_type)

    def owner(self, object_kind: str) -> ResourcePlugin:
        try:
            return self._owners[object_kind]
        except KeyError:
            raise RegistryError(f"no owner plugin for {object_kind!r}") from None

    def family(self, object_kind: str) -> list[ResourcePlugin]:
        return [p for p in self if p.object_kind == object_kind]

    def claims(self, source: str, name: str) -> list[Claim]:
        return list(self._claims.get((source, normalize_event_name(name)), ()))

    def handles_source(self, source: str) -> bool:
        return any(src == source for src, _ in self._claims)

    def event_names(self) -> set[tuple[str, str]]:
        return set(self._claims)

    def sources(self) -> list[str]:
        return sorted({src for src, _ in self._claims})


_DEFAULT = Registry()


def register(cls: type[ResourcePlugin]) -> type[ResourcePlugin]:
    """Class decorator: add a plugin to the default registry."""
    return _DEFAULT.register(cls)


def default_registry() -> Registry:
    """The default registry with every plugin module under ``chalicelib.resources`` loaded."""
    return _DEFAULT.load()
