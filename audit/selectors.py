from collections.abc import Iterator
from dataclasses import dataclass

from audit.models import AuditEvent
from audit.services import GENESIS_HASH, audit_event_hash, audit_event_payload


@dataclass(frozen=True)
class ChainBreak:
    event_id: int
    workspace_id: int | None
    reason: str


def audit_chain_verify(*, workspace_id: int | None = None, all_chains: bool = True) -> Iterator[ChainBreak]:
    """Recompute every chain (or one) and yield the first broken event of each broken chain."""
    if all_chains:
        chain_ids = AuditEvent.objects.order_by().values_list("workspace_id", flat=True).distinct()
    else:
        chain_ids = [workspace_id]
    for chain_id in sorted(chain_ids, key=lambda value: -1 if value is None else value):
        prev_hash = GENESIS_HASH
        for event in AuditEvent.objects.filter(workspace_id=chain_id).order_by("id").iterator():
            if event.prev_hash != prev_hash:
                yield ChainBreak(event.id, chain_id, "prev_hash does not match the previous event's hash")
                break
            expected = audit_event_hash(prev_hash=prev_hash, payload=audit_event_payload(event))
            if expected != event.hash:
                yield ChainBreak(event.id, chain_id, "hash does not match the event's contents")
                break
            prev_hash = event.hash
