"""The resource plugin contract (DESIGN §3).

A plugin is one Terraform resource type. It declares, as class attributes:

- ``type``: the Terraform type (the module name must equal it);
- ``service``: the boto3 service it reads and reverts through;
- ``object_kind``: the AWS object it describes. Several types may describe one object
  (``aws_security_group`` and ``aws_vpc_security_group_ingress_rule`` both describe an EC2 security
  group); exactly one of them is the ``owner`` and reads, compares and reverts the object. The
  declared side of a comparison is the union of what every managed resource of the kind declares;
- ``events``: the CloudTrail calls that can change it, with a JMESPath to the object id(s);
- ``compared``: attribute → default severity (the coverage table is built from this);
- ``read_permissions`` / ``revert_permissions``: the IAM actions it needs;
- ``not_revertible``: why a revert is not offered, when it is not.

and implements ``declare`` (state attributes → declared model) and, for owners, ``read_live``
(boto3 → live model in the same vocabulary, ``None`` when gone) and ``plan_revert`` (changes →
API calls as data). The default ``diff`` compares the two models with ``drift.diff``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from functools import cached_property
from typing import Any, ClassVar, Protocol

import jmespath
from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.drift.diff import RawChange, diff_models
from chalicelib.errors import LiveReadError
from chalicelib.models import ApiCall, Change, Severity

__all__ = [
    "Declared",
    "EventKind",
    "EventSpec",
    "Gone",
    "LiveContext",
    "ManagedResource",
    "NotRevertible",
    "ResourcePlugin",
]


#: Values CloudTrail exports put where an id was redacted.
REDACTED_IDS = frozenset({"...", "REDACTED", "HIDDEN_DUE_TO_SECURITY_REASONS"})


class EventKind(str, Enum):
    MODIFY = "modify"  # may change declared attributes: compare
    CREATE = "create"  # creates an object: unmanaged unless some state declares it
    DELETE = "delete"  # deletes an object: deleted when managed
    NOOP = "noop"  # never changes declared attributes (e.g. a reboot): skipped with a reason


@dataclass(frozen=True)
class EventSpec:
    """One CloudTrail call a plugin handles.

    ``ids`` is a JMESPath over the CloudTrail record (``requestParameters``, ``responseElements``,
    ...) that yields the object id or a list of ids. ``id_prefix`` keeps only ids that start with
    it (EC2 ``CreateTags`` names many resource kinds; each plugin claims its own prefix).
    """

    source: str
    name: str
    ids: str
    kind: EventKind = EventKind.MODIFY
    id_prefix: str | None = None
    note: str = ""
    #: Rewrites each extracted id into the index key (an ARN or mixed-case name → the state's id);
    #: ``None`` drops a value that names another kind of object. Redacted ids pass through unchanged.
    transform: Callable[[str, Mapping[str, Any]], str | None] | None = field(
        default=None, compare=False, hash=False, repr=False)

    @cached_property
    def compiled(self) -> Any:
        return jmespath.compile(self.ids)

    def extract(self, record: Mapping[str, Any]) -> list[str]:
        found = self.compiled.search(record)
        values = found if isinstance(found, list) else [found]
        out: list[str] = []
        for value in _flatten(values):
            if value is None or value == "" or not isinstance(value, (str, int)):
                continue
            text = str(value)
            if self.id_prefix and not text.startswith(self.id_prefix):
                continue
            if self.transform is not None and text not in REDACTED_IDS:
                new = self.transform(text, record)
                if not new:
                    continue
                text = new
            if text not in out:
                out.append(text)
        return out


def _flatten(values: Iterable[Any]) -> Iterable[Any]:
    for value in values:
        if isinstance(value, list):
            yield from _flatten(value)
        else:
            yield value


@dataclass(frozen=True)
class ManagedResource:
    """One managed resource instance from a Terraform state."""

    type: str
    address: str
    state_url: str
    attributes: Mapping[str, Any]
    sensitive_paths: frozenset[str] = frozenset()
    module: str | None = None
    account: str | None = None
    region: str | None = None


@dataclass
class Declared:
    """The declared side of one AWS object: the union of every managed resource describing it."""

    object_kind: str
    object_id: str
    resources: list[ManagedResource]
    model: dict[str, Any] = field(default_factory=dict)
    sensitive: set[str] = field(default_factory=set)
    #: address → what its .tf block configures and ignores (``state.source.ResourceSource``), when known
    sources: dict[str, Any] = field(default_factory=dict)

    def configures(self, address: str, attribute: str) -> bool | None:
        """Does the resource's .tf block set ``attribute``? ``None`` when no source is known."""
        src = self.sources.get(address)
        return None if src is None else attribute in src.configured

    def primary(self, owner_type: str) -> ManagedResource:
        """The resource a finding names: the owner type's resource when managed, else the first."""
        for res in self.resources:
            if res.type == owner_type:
                return res
        return self.resources[0]

    def owned_by(self, owner_type: str) -> bool:
        return any(r.type == owner_type for r in self.resources)


class LiveContext(Protocol):
    """What a plugin gets to read and act: clients for the event's account and region."""

    account: str | None
    region: str

    def client(self, service: str) -> Any: ...


class Gone(Exception):
    """Raised inside ``read_live`` helpers when AWS says the object does not exist."""


class NotRevertible(Exception):
    """Raised by ``plan_revert``: this finding cannot be reverted safely; the message says why and
    becomes the finding's ``not_revertible`` (shown in Slack instead of a Revert button)."""


_THROTTLE_CODES = {"Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException",
                   "SlowDown", "RequestThrottled", "ProvisionedThroughputExceededException"}


class ResourcePlugin:
    type: ClassVar[str]
    service: ClassVar[str]
    object_kind: ClassVar[str]
    owner: ClassVar[bool] = True
    id_attribute: ClassVar[str] = "id"
    events: ClassVar[tuple[EventSpec, ...]] = ()
    compared: ClassVar[dict[str, Severity]] = {}
    read_permissions: ClassVar[tuple[str, ...]] = ()
    revert_permissions: ClassVar[tuple[str, ...]] = ()
    not_revertible: ClassVar[str | None] = None
    gone_codes: ClassVar[frozenset[str]] = frozenset()
    #: Optional+Computed attributes (the provider takes AWS's value when the block does not set them):
    #: with the ``.tf`` source known, a difference in one the block does not set is not drift. An
    #: attribute with a schema default (``is_enabled = true``) is not computed: Terraform reports it.
    #: Security-relevant attributes (policies, rules, encryption, backups, public access) are never
    #: listed: Driftwarden judges them whether or not the block sets them.
    computed: ClassVar[frozenset[str]] = frozenset()
    #: Severity of a ``deleted`` finding (a managed data store or trail deleted is critical).
    deleted_severity: ClassVar[Severity] = Severity.HIGH
    global_service: ClassVar[bool] = False

    # --- declared side -------------------------------------------------------------------------
    def object_id(self, attrs: Mapping[str, Any]) -> str | None:
        """The id of the AWS object this resource describes (its key in the state index)."""
        value = attrs.get(self.id_attribute)
        return str(value) if value not in (None, "") else None

    def declare(self, resource: ManagedResource, declared: Declared) -> None:
        """Add what this resource declares to the object's declared model."""
        raise NotImplementedError(f"{self.type}.declare")

    # --- live side (owners) ----------------------------------------------------------------------
    def read_live(self, ctx: LiveContext, object_id: str) -> dict[str, Any] | None:
        """Read the object and normalize it into the declared vocabulary; ``None`` when gone."""
        raise NotImplementedError(f"{self.type}.read_live")

    def read_live_many(self, ctx: LiveContext, object_ids: list[str]) -> dict[str, dict[str, Any] | None]:
        """Batched read for the scan. Override where the API accepts many ids or a filter."""
        return {oid: self.read_live(ctx, oid) for oid in object_ids}

    # --- judgment ---------------------------------------------------------------------------------
    def severity(self, change: RawChange) -> tuple[Severity, str]:
        """Severity and the name of the rule that decided it. Override for value-based rules."""
        sev = self.compared.get(change.attribute, Severity.MEDIUM)
        return sev, f"{self.type}.{change.attribute}"

    def diff(self, declared: Declared, live: Mapping[str, Any]) -> list[Change]:
        out = []
        for raw in diff_models(declared.model, live):
            sev, rule = self.severity(raw)
            sensitive = raw.path in declared.sensitive or raw.attribute in declared.sensitive
            out.append(Change(raw.path, raw.declared, raw.live, sev, rule, sensitive))
        return out

    def plan_revert(
        self, object_id: str, changes: list[Change], declared: Declared, live: Mapping[str, Any]
    ) -> tuple[ApiCall, ...]:
        """The API calls that restore the declared values of exactly these changes."""
        return ()

    # --- helpers ---------------------------------------------------------------------------------
    def call(self, ctx: LiveContext, operation: str, **params: Any) -> Any:
        """Call ``operation`` (boto3 method name) on this plugin's service, translating errors:
        a not-found code raises ``Gone``; anything else becomes ``LiveReadError``."""
        return call_aws(ctx.client(self.service), operation, self.gone_codes, **params)

    @classmethod
    def revertible(cls) -> bool:
        return cls.owner and cls.not_revertible is None and bool(cls.revert_permissions)


def call_aws(client: Any, operation: str, gone_codes: Iterable[str] = (), **params: Any) -> Any:
    method: Callable[..., Any] = getattr(client, operation)
    try:
        return method(**params)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in set(gone_codes):
            raise Gone(code) from exc
        retryable = code in _THROTTLE_CODES or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) >= 500
        raise LiveReadError(f"{operation} failed: {code}: {exc.response.get('Error', {}).get('Message', '')}",
                            retryable=retryable) from exc
    except BotoCoreError as exc:
        raise LiveReadError(f"{operation} failed: {exc}") from exc
