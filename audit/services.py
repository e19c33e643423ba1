"""The one way to write an audit event."""

import hashlib
import json
from datetime import datetime
from typing import Any

from django.db import connection, models, transaction
from django.http import HttpRequest
from django.utils import timezone

from audit.models import AuditEvent

GENESIS_HASH = ""
_LOCK_NAMESPACE = 0x4C4E  # "LN": namespaces our advisory locks


def _canonical(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def audit_event_payload(event: AuditEvent) -> dict[str, Any]:
    """The fields that the hash covers, in a stable form."""
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
        "created_at": _canonical(event.created_at),
    }


def audit_event_hash(*, prev_hash: str, payload: dict[str, Any]) -> str:
    body = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()


def _client_ip(request: HttpRequest) -> str | None:
    # allauth already knows how many proxies to trust (ALLAUTH_TRUSTED_PROXY_COUNT).
    from allauth.core.ratelimit import get_ip_address

    try:
        return get_ip_address(request) or None
    except Exception:  # a malformed header must never block the audit write
        return request.META.get("REMOTE_ADDR") or None


def _lock_chain(workspace_id: int | None) -> None:
    """Serialise writers of one chain. SQLite's IMMEDIATE transactions already serialise all writers."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_LOCK_NAMESPACE, workspace_id or 0])


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
    """Append one event to its workspace's chain (or the account chain when `workspace` is None)."""
    if target is not None:
        target_type = target_type or target._meta.label_lower
        target_id = target_id or target.pk
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    ip, user_agent = None, ""
    if request is not None:
        ip = _client_ip(request)
        user_agent = request.META.get("HTTP_USER_AGENT", "")[:512]
    workspace_id = workspace.pk if workspace is not None else None
    with transaction.atomic():
        _lock_chain(workspace_id)
        last = AuditEvent.objects.filter(workspace_id=workspace_id).order_by("-id").values_list("hash", flat=True)
        prev_hash = last.first() or GENESIS_HASH
        event = AuditEvent(
            workspace_id=workspace_id,
            actor=actor,
            actor_email=actor.email if actor is not None else "",
            action=action,
            target_type=target_type,
            target_id=str(target_id) if target_id != "" else "",
            details=details or {},
            ip=ip,
            user_agent=user_agent,
            created_at=timezone.now(),
            prev_hash=prev_hash,
        )
        # Round-trip the details through JSON so the hash covers what the database will return.
        event.details = json.loads(json.dumps(event.details, default=str))
        event.hash = audit_event_hash(prev_hash=prev_hash, payload=audit_event_payload(event))
        event.save()
    return event
