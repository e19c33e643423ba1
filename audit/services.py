"""The one way to write an audit event.

The hash must cover exactly what the database gives back, on SQLite and on PostgreSQL, or the
verifier would flag honest rows. So every value is put into its stored form *before* hashing:
- text: NUL and lone surrogates replaced (PostgreSQL text cannot hold them), cut to the column length;
- details: a JSON round trip (keys become strings, tuples lists), floats with an integral value
  become ints (jsonb prints 1e20 as 100000000000000000000), NaN/Infinity become strings (jsonb
  refuses them);
- ip: validated, IPv6 in Django's normal form (what `inet` prints back); anything else -> None;
- created_at: UTC with microseconds (both backends keep microseconds).
"""

import hashlib
import ipaddress
import json
import math
from datetime import UTC, datetime
from typing import Any

from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.db import connection, models, transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.ipv6 import clean_ipv6_address

from audit.models import AuditEvent

GENESIS_HASH = ""
_LOCK_NAMESPACE = 0x4C4E  # "LN": namespaces our advisory locks
_INT4_MAX = 2**31 - 1
# Set by audit.receivers on pre_delete: Django clears `pk` on a deleted instance, yet the
# "workspace.deleted" event must still name the workspace (and its chain).
DELETED_PK_ATTR = "_audit_deleted_pk"


def _clean_text(value: Any, max_length: int | None = None) -> str:
    text = "" if value is None else str(value)
    text = text.replace("\x00", "\ufffd").encode("utf-8", errors="replace").decode("utf-8")
    return text[:max_length] if max_length is not None else text


def _clean_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {_clean_text(key): _clean_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_clean_json(item) for item in value]
    if isinstance(value, str):
        return _clean_text(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if value.is_integer():
            return int(value)
    return value


def audit_details_normalize(details: dict[str, Any] | None) -> dict[str, Any]:
    """`details` as the database will hand them back (see the module docstring)."""
    return _clean_json(json.loads(json.dumps(details or {}, default=str)))


def audit_ip_normalize(value: str | None) -> str | None:
    if not value:
        return None
    text = str(value).strip().split("%", 1)[0]  # an IPv6 zone id is not storable in `inet`
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if address.version == 6:
        return clean_ipv6_address(text)
    return str(address)


def _canonical_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def audit_event_payload(event: AuditEvent) -> dict[str, Any]:
    """The fields that the hash covers, in a stable form. Everything but id, prev_hash and hash."""
    return {
        "workspace_id": event.workspace_id,
        "actor_id": event.actor_id,
        "actor_email": event.actor_email,
        "action": event.action,
        "target_type": event.target_type,
        "target_id": event.target_id,
        "details": event.details,
        "ip": event.ip,
        "user_agent": event.user_agent,
        "created_at": _canonical_time(event.created_at),
    }


def audit_event_hash(*, prev_hash: str, payload: dict[str, Any]) -> str:
    """sha256(prev_hash || canonical JSON of the payload): sorted keys, no spaces, ASCII only."""
    body = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()


def _client_ip(request: HttpRequest) -> str | None:
    # allauth's adapter knows how many proxies to trust (ALLAUTH_TRUSTED_PROXY_COUNT).
    from allauth.account.adapter import get_adapter

    try:
        return get_adapter(request).get_client_ip(request)
    except (PermissionDenied, ImproperlyConfigured):  # a bad header must never block the audit write
        return request.META.get("REMOTE_ADDR")


def _instance_pk(instance: models.Model | None) -> Any:
    if instance is None:
        return None
    return instance.pk if instance.pk is not None else getattr(instance, DELETED_PK_ATTR, None)


def _lock_chain(workspace_id: int | None) -> None:
    """Serialise writers of one chain until their transaction ends.

    PostgreSQL: an advisory lock per chain (the account chain is 0). SQLite: every transaction
    is BEGIN IMMEDIATE (config/settings/base.py), which already serialises all writers.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_LOCK_NAMESPACE, (workspace_id or 0) % _INT4_MAX])


def audit_record(
    *,
    action: str,
    actor=None,
    workspace=None,
    target: models.Model | None = None,
    target_type: str = "",
    target_id: str | int = "",
    details: dict[str, Any] | None = None,
    request: HttpRequest | None = None,
) -> AuditEvent:
    """Append one event to its workspace's chain (or the account chain when `workspace` is None).

    Runs in the caller's transaction when there is one: an action that rolls back takes its
    audit row with it. `workspace` and `target` may be instances deleted a moment ago.
    """
    if target is not None:
        target_type = target_type or target._meta.label_lower
        target_id = target_id if target_id != "" else (_instance_pk(target) or "")
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    ip, user_agent = None, ""
    if request is not None:
        ip = audit_ip_normalize(_client_ip(request))
        user_agent = _clean_text(request.META.get("HTTP_USER_AGENT", ""), 512)
    workspace_id = _instance_pk(workspace)
    with transaction.atomic():
        _lock_chain(workspace_id)
        last = AuditEvent.objects.filter(workspace_id=workspace_id).order_by("-id").values_list("hash", flat=True)
        prev_hash = last.first() or GENESIS_HASH
        event = AuditEvent(
            workspace_id=workspace_id,
            actor=actor,
            actor_email=_clean_text(actor.email if actor is not None else "", 254),
            action=_clean_text(action, 64),
            target_type=_clean_text(target_type, 64),
            target_id=_clean_text(target_id, 64),
            details=audit_details_normalize(details),
            ip=ip,
            user_agent=user_agent,
            created_at=timezone.now(),
            prev_hash=prev_hash,
        )
        event.hash = audit_event_hash(prev_hash=prev_hash, payload=audit_event_payload(event))
        event.save()
    return event
