"""SECURITY.md §3.1 T-IDOR-01 / T-INV-06: every URL that names an object is 404 for another tenant.

The test walks the URL configuration, so a new route that carries an object id (a kwarg ending
in `_id`, or `pk` / `token`) fails `test_every_object_route_has_a_factory` until someone adds an
entry to FACTORIES_BY_ROUTE below: a function that builds workspace B's object and returns the
URL kwargs (with B's slug when the URL has `workspace_slug`). Each route is then requested by
A's owner with GET, POST, PUT, PATCH and DELETE, both as given (B's slug + B's id) and with A's
slug + B's id, and must answer 404 without changing any of B's rows or sending mail.

Owner-admin (/owner/) object routes are generated from ADMIN_OBJECT_FACTORIES (one entry per
model registered on owner_admin_site). The platform admin (/admin/) is superusers only; it is
covered by `test_platform_admin_object_routes_are_closed_to_owners`.
"""

from collections.abc import Callable, Iterator

import pytest
from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.core import mail
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from analytics.models import ComboJob
from audit.services import audit_record
from datasets.models import UploadStatus
from datasets.tests.page_helpers import dataset_row, upload_failed, upload_needs_mapping, upload_row
from workspaces.admin import owner_admin_site
from workspaces.models import Workspace
from workspaces.tests.factories import InvitationFactory, MembershipFactory

ID_KWARG_NAMES = {"pk", "token"}
ID_KWARG_SUFFIX = "_id"
METHODS = ["get", "post", "put", "patch", "delete"]
# Namespaces walked by other tests: the platform admin only lets superusers in.
SKIPPED_NAMESPACES = {"admin"}
B_MARKER = "Globex"  # B's name (conftest.other_workspace); must never show up in A's responses


def iter_patterns(resolver, prefix: str = "", namespace: str = "") -> Iterator[tuple[str, str, URLPattern]]:
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            inner = ":".join(part for part in (namespace, pattern.namespace or "") if part)
            yield from iter_patterns(pattern, prefix + str(pattern.pattern), inner)
        elif isinstance(pattern, URLPattern) and pattern.name:
            name = f"{namespace}:{pattern.name}" if namespace else pattern.name
            yield prefix + str(pattern.pattern), name, pattern


def _kwargs_of(route_regex_groups: set[str]) -> bool:
    return any(k in ID_KWARG_NAMES or k.endswith(ID_KWARG_SUFFIX) for k in route_regex_groups)


OBJECT_ROUTES = sorted(
    {
        name
        for _, name, pattern in iter_patterns(get_resolver())
        if _kwargs_of(set(pattern.pattern.regex.groupindex)) and name.split(":")[0] not in SKIPPED_NAMESPACES
    }
)
# The slug may come from an include() prefix (w/<slug:workspace_slug>/datasets/), so look at the full route.
ROUTES_WITH_SLUG = {name for route, name, _ in iter_patterns(get_resolver()) if "<slug:workspace_slug>" in route}


# --- factories: build B's object, return the URL kwargs ---------------------------------------


def _invitation(b: Workspace):
    return InvitationFactory(workspace=b, email="invitee@globex.example")


def _upload(b: Workspace, status: str = UploadStatus.RECEIVING) -> dict:
    return {"workspace_slug": b.slug, "upload_id": upload_row(workspace=b, status=status).pk}


def _dataset(b: Workspace) -> dict:
    return {"workspace_slug": b.slug, "dataset_id": dataset_row(workspace=b, name="B data", files=False).pk}


def _dataset_version(b: Workspace) -> dict:
    dataset = dataset_row(workspace=b, name="B data", versions=2, files=False)
    old = dataset.versions.get(number=1)
    return {"workspace_slug": b.slug, "dataset_id": dataset.pk, "version_id": old.pk}


def _segment_row(b: Workspace):
    from segments.models import Segment

    dataset = dataset_row(workspace=b, name="B segment data", files=False)
    return Segment.objects.create(workspace=b, dataset=dataset, name="B segment", query="in.name=Alice")


def _segment(b: Workspace) -> dict:
    return {"workspace_slug": b.slug, "segment_id": _segment_row(b).pk}


def _filter_set(b: Workspace) -> dict:
    from segments.models import SavedFilterSet

    user = MembershipFactory(workspace=b).user
    saved = SavedFilterSet.objects.create(workspace=b, user=user, kind="visitors", name="B filters", query="")
    return {"workspace_slug": b.slug, "filter_set_id": saved.pk}


def _combo_job(b: Workspace) -> dict:
    version = dataset_row(workspace=b, name="B data", files=False).current_version
    job = ComboJob.objects.create(workspace=b, version=version, key="b-question", settings_query="attr=name")
    return {"workspace_slug": b.slug, "job_id": job.pk}


FACTORIES_BY_ROUTE: dict[str, Callable[[Workspace], dict]] = {
    "workspaces:member_role": lambda b: {"workspace_slug": b.slug, "member_id": MembershipFactory(workspace=b).pk},
    "workspaces:member_remove": lambda b: {"workspace_slug": b.slug, "member_id": MembershipFactory(workspace=b).pk},
    "workspaces:invitation_revoke": lambda b: {"workspace_slug": b.slug, "invitation_id": _invitation(b).pk},
    "workspaces:invitation_resend": lambda b: {"workspace_slug": b.slug, "invitation_id": _invitation(b).pk},
    # The token is the capability: A's owner holding B's link is not the invitee -> 404.
    "invitations:detail": lambda b: {"token": _invitation(b).token},
    "invitations:reject": lambda b: {"token": _invitation(b).token},
    "invitations:signup": lambda b: {"token": _invitation(b).token},
    "invitations:signin": lambda b: {"token": _invitation(b).token},
    # datasets: each upload in the state where the action would change it.
    "datasets:upload_detail": _upload,
    "datasets:upload_chunk": _upload,
    "datasets:upload_finish": _upload,
    "datasets:upload_progress": _upload,
    "datasets:upload_cancel": _upload,
    "datasets:upload_mapping": lambda b: {"workspace_slug": b.slug, "upload_id": upload_needs_mapping(workspace=b).pk},
    "datasets:upload_retry": lambda b: {"workspace_slug": b.slug, "upload_id": upload_failed(workspace=b).pk},
    "datasets:upload_resniff": lambda b: {"workspace_slug": b.slug, "upload_id": upload_needs_mapping(workspace=b).pk},
    "datasets:detail": _dataset,
    "datasets:schema": _dataset,
    "datasets:receipt": _dataset,
    "datasets:versions": _dataset,
    "datasets:download_original": _dataset,
    "datasets:download_rejected": _dataset,
    "datasets:download_receipt": _dataset,
    "datasets:rename": _dataset,
    "datasets:delete": _dataset,
    "datasets:remap": _dataset,
    "datasets:version_restore": _dataset_version,
    "datasets:version_delete": _dataset_version,
    "analytics:combo_job": _combo_job,
    "exports:detail": lambda b: _export_job(b),  # noqa: PLW0108 (defined below)
    "exports:progress": lambda b: _export_job(b),  # noqa: PLW0108
    "exports:download": lambda b: _export_job(b),  # noqa: PLW0108
    "segments:detail": _segment,
    "segments:edit": _segment,
    "segments:delete": _segment,
    "segments:filter_set_delete": _filter_set,
    "owner_admin:view_on_site": lambda b: {
        "content_type_id": ContentType.objects.get_for_model(Workspace).pk,
        "object_id": b.pk,
    },
}


def _export_job(b: Workspace) -> dict:
    from exports.tests.helpers import job_done

    return {"workspace_slug": b.slug, "export_id": job_done(workspace=b, user=MembershipFactory(workspace=b).user).pk}


# One entry per model registered on owner_admin_site: build B's row, return its pk.
ADMIN_OBJECT_FACTORIES: dict[str, Callable[[Workspace], int]] = {
    "workspaces.workspace": lambda b: b.pk,
    "workspaces.membership": lambda b: MembershipFactory(workspace=b).pk,
    "workspaces.invitation": lambda b: _invitation(b).pk,
    "audit.auditevent": lambda b: audit_record(action="workspace.renamed", workspace=b, details={"n": B_MARKER}).pk,
    "datasets.upload": lambda b: upload_row(workspace=b, name="b-upload.csv").pk,
    "segments.segment": lambda b: _segment_row(b).pk,
}
ADMIN_OBJECT_VIEWS = ["change", "delete", "history"]
for _model in owner_admin_site._registry:
    _label = _model._meta.label_lower
    if _label in ADMIN_OBJECT_FACTORIES:
        for _view in ADMIN_OBJECT_VIEWS:
            FACTORIES_BY_ROUTE[f"owner_admin:{_label.replace('.', '_')}_{_view}"] = lambda b, label=_label: {
                "object_id": ADMIN_OBJECT_FACTORIES[label](b)
            }


# --- what "unchanged" means ---------------------------------------------------------------------

# The audit trail may record the refused attempt (T-IDOR-01 asks for that); it is not B's data.
SNAPSHOT_EXCLUDE = {"audit.auditevent"}


def _tenant_models() -> list:
    return [
        model
        for model in apps.get_models()
        if model._meta.label_lower not in SNAPSHOT_EXCLUDE
        and any(f.name == "workspace" and f.is_relation for f in model._meta.concrete_fields)
    ]


def snapshot(b: Workspace) -> dict:
    """B's row and every tenant row of B (all columns), plus each tenant table's total row count."""
    state = {"workspace": list(Workspace.objects.filter(pk=b.pk).values())}
    for model in _tenant_models():
        label = model._meta.label_lower
        state[label] = list(model._default_manager.filter(workspace=b).order_by("pk").values())
        state[f"{label}#count"] = model._default_manager.count()
    state["mail"] = len(mail.outbox)
    return state


# How the URL names B's object: as the factory gave it (B's slug), or under A's slug.
VARIANTS: dict[str, Callable[[dict, Workspace], dict]] = {
    "as_given": lambda kwargs, a: kwargs,
    "b_slug": lambda kwargs, a: kwargs,
    "a_slug": lambda kwargs, a: {**kwargs, "workspace_slug": a.slug},
}


def _cases() -> list:
    cases = []
    for name in OBJECT_ROUTES:
        variants = ["b_slug", "a_slug"] if name in ROUTES_WITH_SLUG else ["as_given"]
        cases += [pytest.param(name, variant, id=f"{name}-{variant}") for variant in variants]
    return cases


def _expected_statuses(name: str) -> set[int]:
    # The owner admin answers a foreign id with a redirect to its index ("... doesn't exist"),
    # or 403 for a view owners may never use on that model (the same for every id).
    if name.startswith("owner_admin:"):
        return {302, 403, 404}
    return {404}


# --- tests --------------------------------------------------------------------------------------


def test_routes_were_found():
    assert "workspaces:member_role" in OBJECT_ROUTES
    assert "invitations:detail" in OBJECT_ROUTES
    assert "owner_admin:workspaces_membership_change" in OBJECT_ROUTES


def test_every_object_route_has_a_factory():
    missing = [name for name in OBJECT_ROUTES if name not in FACTORIES_BY_ROUTE]
    assert missing == [], f"add IDOR factories to tests/test_tenancy_routes.py for: {missing}"


@pytest.mark.parametrize(("name", "variant"), _cases())
@pytest.mark.parametrize("method", METHODS)
def test_cross_workspace_is_404(*, client, workspace, other_workspace, owner, other_owner, name, variant, method):
    kwargs = VARIANTS[variant](FACTORIES_BY_ROUTE[name](other_workspace), workspace)
    url = reverse(name, kwargs=kwargs)
    client.force_login(owner)
    before = snapshot(other_workspace)
    response = getattr(client, method)(url)
    status = response.status_code
    assert status in _expected_statuses(name) | {405}
    # 405 only for a method the view never allows: it answered before looking at the id.
    assert status != 405 or method.upper() not in response["Allow"].split(", ")
    assert response.get("Location", reverse("owner_admin:index")) == reverse("owner_admin:index")
    assert B_MARKER not in response.content.decode()
    assert snapshot(other_workspace) == before


def test_a_missing_id_and_a_foreign_id_answer_alike(client, workspace, other_workspace, owner):
    """T-IDOR-03: B's id and an id that exists nowhere give the same answer."""
    foreign = MembershipFactory(workspace=other_workspace)
    client.force_login(owner)
    foreign_response = client.post(reverse("workspaces:member_remove", args=[workspace.slug, foreign.pk]))
    missing_response = client.post(reverse("workspaces:member_remove", args=[workspace.slug, foreign.pk + 1000]))
    assert (foreign_response.status_code, missing_response.status_code) == (404, 404)
    assert foreign_response.content.count(b"<") == missing_response.content.count(b"<")


def test_platform_admin_object_routes_are_closed_to_owners(client, workspace, owner):
    routes = {
        name: dict.fromkeys(pattern.pattern.regex.groupindex, "1")
        for _, name, pattern in iter_patterns(get_resolver())
        if name.startswith("admin:") and _kwargs_of(set(pattern.pattern.regex.groupindex))
    }
    client.force_login(owner)
    responses = {name: client.get(reverse(name, kwargs=kwargs)) for name, kwargs in routes.items()}
    assert len(routes) > 3
    assert {name: r.status_code for name, r in responses.items()} == dict.fromkeys(routes, 302)
    assert all(r["Location"].startswith("/admin/login/") for r in responses.values())
