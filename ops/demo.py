"""The demo install `make run` seeds: one workspace, one user per role, a platform admin.

The passwords are fixed and printed on purpose: this data exists only so someone can click
around a fresh clone. `seed_demo` refuses to run under the production settings.
"""

import importlib
import importlib.util
from dataclasses import dataclass

from allauth.account.models import EmailAddress
from django.db import transaction

from accounts.models import User
from segments import demo as segments_demo
from workspaces.models import Membership, Role, Workspace

DEMO_WORKSPACE_NAME = "Demo Marketing"
DEMO_WORKSPACE_SLUG = "demo"


@dataclass(frozen=True)
class DemoAccount:
    email: str
    password: str
    name: str
    role: Role | None  # None: the platform admin, who is a superuser and no workspace member
    where: str


DEMO_ACCOUNTS = (
    DemoAccount("owner@demo.local", "demo-owner-pass-2026", "Olivia Owner", Role.OWNER, "/w/demo/"),
    DemoAccount("analyst@demo.local", "demo-analyst-pass-2026", "Arjun Analyst", Role.ANALYST, "/w/demo/"),
    DemoAccount("viewer@demo.local", "demo-viewer-pass-2026", "Vera Viewer", Role.VIEWER, "/w/demo/"),
    DemoAccount("admin@demo.local", "demo-admin-pass-2026", "Platform Admin", None, "/admin/"),
)

# Hook for demo datasets: when the datasets app ships `datasets/demo.py` with
# `demo_datasets_seed(*, workspace, uploaded_by) -> list[str]` (idempotent; returns lines to print),
# `seed_demo` calls it after the accounts exist.
DATASETS_DEMO_MODULE = "datasets.demo"


def _demo_user(account: DemoAccount) -> User:
    user = User.objects.filter(email=account.email).first() or User(email=account.email)
    user.name = account.name
    user.is_active = True
    user.is_approved = True
    user.is_staff = account.role is None
    user.is_superuser = account.role is None
    # Reset on every run, so the printed credentials always work.
    user.set_password(account.password)
    user.save()
    # A verified primary address: allauth's mandatory verification lets them straight in.
    EmailAddress.objects.filter(user=user).exclude(email__iexact=account.email).update(primary=False)
    EmailAddress.objects.update_or_create(user=user, email=account.email, defaults={"verified": True, "primary": True})
    return user


@transaction.atomic
def demo_seed() -> tuple[Workspace, list[DemoAccount]]:
    """Create or refresh the demo workspace and accounts; running it twice changes nothing more."""
    workspace, _ = Workspace.objects.get_or_create(slug=DEMO_WORKSPACE_SLUG, defaults={"name": DEMO_WORKSPACE_NAME})
    owner = None
    for account in DEMO_ACCOUNTS:
        user = _demo_user(account)
        if account.role is None:
            continue
        Membership.objects.update_or_create(
            workspace=workspace, user=user, defaults={"role": account.role, "is_default": True}
        )
        if account.role == Role.OWNER:
            owner = user
    if workspace.created_by_id is None:
        workspace.created_by = owner
        workspace.save(update_fields=["created_by", "updated_at"])
    return workspace, list(DEMO_ACCOUNTS)


def demo_datasets_seed(*, workspace: Workspace) -> list[str]:
    """Seed demo datasets through the datasets app's hook, when that app provides one."""
    if importlib.util.find_spec("datasets") is None or importlib.util.find_spec(DATASETS_DEMO_MODULE) is None:
        return []
    module = importlib.import_module(DATASETS_DEMO_MODULE)
    owner = Membership.objects.get(workspace=workspace, role=Role.OWNER, user__email=DEMO_ACCOUNTS[0].email).user
    return list(module.demo_datasets_seed(workspace=workspace, uploaded_by=owner))


def demo_segments_seed(*, workspace: Workspace) -> list[str]:
    """Two saved segments of the demo visitors dataset (segments/demo.py), once the datasets are in."""
    owner = Membership.objects.get(workspace=workspace, role=Role.OWNER, user__email=DEMO_ACCOUNTS[0].email).user
    return segments_demo.demo_segments_seed(workspace=workspace, user=owner)
