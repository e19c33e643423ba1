from collections.abc import Iterator
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db.models import QuerySet

from audit.models import AuditEvent
from audit.services import GENESIS_HASH, audit_event_hash, audit_event_payload
from workspaces.models import Workspace
from workspaces.selectors import workspace_list_owned_for_admin

REASON_PREV_HASH = "prev_hash does not match the previous event's hash"
REASON_HASH = "hash does not match the event's contents"
_VERIFY_CHUNK = 2000


@dataclass(frozen=True)
class ChainBreak:
    event_id: int
    workspace_id: int | None
    reason: str


@dataclass
class ChainReport:
    chains: int = 0
    events: int = 0
    breaks: list[ChainBreak] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.breaks


def _chain_ids() -> list[int | None]:
    ids = AuditEvent.objects.order_by().values_list("workspace_id", flat=True).distinct()
    return sorted(ids, key=lambda value: -1 if value is None else value)


def _chain_check(chain_id: int | None) -> tuple[int, ChainBreak | None]:
    """Walk one chain in id order; return how many events were checked and the first break, if any."""
    prev_hash = GENESIS_HASH
    checked = 0
    events = AuditEvent.objects.filter(workspace_id=chain_id).order_by("id").iterator(chunk_size=_VERIFY_CHUNK)
    for event in events:
        checked += 1
        if event.prev_hash != prev_hash:
            return checked, ChainBreak(event.id, chain_id, REASON_PREV_HASH)
        if audit_event_hash(prev_hash=prev_hash, payload=audit_event_payload(event)) != event.hash:
            return checked, ChainBreak(event.id, chain_id, REASON_HASH)
        prev_hash = event.hash
    return checked, None


def audit_chains_check(*, workspace_id: int | None = None, all_chains: bool = True) -> ChainReport:
    """Recompute every chain (or only `workspace_id`'s; None is the account chain).

    A deleted row shows as a prev_hash break at the row after it; an edited or forged row as
    a hash break at that row. Rows cut off the *end* of a chain leave no trace here: that is
    what shipping events to a separate sink is for.
    """
    report = ChainReport()
    for chain_id in _chain_ids() if all_chains else [workspace_id]:
        checked, chain_break = _chain_check(chain_id)
        report.chains += 1
        report.events += checked
        if chain_break is not None:
            report.breaks.append(chain_break)
    return report


def audit_chain_verify(*, workspace_id: int | None = None, all_chains: bool = True) -> Iterator[ChainBreak]:
    """The first broken event of each broken chain (see `audit_chains_check`)."""
    yield from audit_chains_check(workspace_id=workspace_id, all_chains=all_chains).breaks


def owned_workspaces(*, user) -> QuerySet[Workspace]:
    """The workspaces whose audit log `user` reads in the owner admin: the same set the owner admin
    lets them manage (owned, and meeting the workspace's 2FA requirement)."""
    return workspace_list_owned_for_admin(user=user).order_by("name")


def audit_event_list_for_owner(*, user) -> QuerySet[AuditEvent]:
    """The events of the workspaces `user` owns (see `owned_workspaces`), newest first.

    Account-level events (no workspace) never show here: only platform admins read those.
    """
    owned_ids = workspace_list_owned_for_admin(user=user).values("pk")
    return AuditEvent.objects.filter(workspace_id__in=owned_ids).order_by("-id")


def user_owns_workspace(*, user, workspace_id: int | None = None) -> bool:
    """True if `user` owns `workspace_id` (any workspace when it is None), as `owned_workspaces` counts."""
    owned = workspace_list_owned_for_admin(user=user)
    if workspace_id is not None:
        owned = owned.filter(pk=workspace_id)
    return owned.exists()


def audit_user_for_login(*, login: str):
    """The account a typed login (an email address) names, if any: the target of a failed login."""
    if not login:
        return None
    return get_user_model().objects.filter(email__iexact=login).first()
