"""DESIGN.md §4 permission matrix, as one table (SECURITY.md §3.2 T-ROLE-01..05).

MATRIX lists every state-changing /w/<workspace_slug>/ URL and the status each role gets for a
POST with a valid CSRF token and valid data: the allowed roles succeed (302), a too-low role
gets 403, a non-member 404, and a refused request changes nothing. PUT / PATCH / DELETE are
refused the same way (405 for the allowed roles: those views only take POST).

API_MATRIX does the same for the JSON endpoints of the chunked upload (201/200 for the allowed
roles, 405 for any other method). `test_every_workspace_route_is_in_the_matrix` fails when a new
/w/ route is in none of MATRIX, API_MATRIX or READ_ONLY_ROUTES, so datasets / analytics routes
join the table as they are written.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.apps import apps
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from accounts.models import User
from accounts.tests.factories import UserFactory
from analytics.models import ComboJob
from datasets.tests.page_helpers import (
    VISITORS_CSV,
    dataset_remappable,
    dataset_row,
    remap_form_data,
    upload_complete,
    upload_failed,
    upload_needs_mapping,
    upload_row,
)
from workspaces import services
from workspaces.models import Invitation, Membership, Role, Workspace
from workspaces.tests.factories import InvitationFactory, MembershipFactory

ROLES = ["viewer", "analyst", "owner", "outsider"]


@dataclass
class Scene:
    """Workspace A with one user per role, a second owner (so "last owner" never interferes
    with the matrix), a member to act on, a pending invitation, and workspace B."""

    workspace: Workspace
    other_workspace: Workspace
    users: dict[str, User]
    target: Membership
    invitation: Invitation


@pytest.fixture
def scene(*, workspace, other_workspace, owner, analyst, viewer, outsider, other_owner) -> Scene:
    MembershipFactory(workspace=workspace, role=Role.OWNER)
    return Scene(
        workspace=workspace,
        other_workspace=other_workspace,
        users={"viewer": viewer, "analyst": analyst, "owner": owner, "outsider": outsider},
        target=MembershipFactory(workspace=workspace, role=Role.VIEWER),
        invitation=InvitationFactory(workspace=workspace, email="pending@example.com"),
    )


# name -> (URL kwargs, valid POST data), built from the scene.
ROUTES: dict[str, Callable[[Scene], tuple[dict, dict]]] = {
    "workspaces:set_default": lambda s: ({}, {}),
    "workspaces:leave": lambda s: ({}, {}),
    "workspaces:settings": lambda s: ({}, {"name": "Renamed"}),
    "workspaces:delete": lambda s: ({}, {"confirm_name": s.workspace.name}),
    "workspaces:member_role": lambda s: ({"member_id": s.target.pk}, {"role": "analyst"}),
    "workspaces:member_remove": lambda s: ({"member_id": s.target.pk}, {}),
    "workspaces:invitations": lambda s: ({}, {"email": "new@example.com", "role": "viewer"}),
    "workspaces:invitation_revoke": lambda s: ({"invitation_id": s.invitation.pk}, {}),
    "workspaces:invitation_resend": lambda s: ({"invitation_id": s.invitation.pk}, {}),
    # datasets: the no-JS upload form, the column review, retry / cancel, and the analyst's own dataset.
    "datasets:upload": lambda s: ({}, {"file": SimpleUploadedFile("v.csv", VISITORS_CSV), "mode": "new"}),
    "datasets:upload_mapping": lambda s: (
        {"upload_id": upload_needs_mapping(workspace=s.workspace, user=s.users["analyst"], columns=("a",)).pk},
        {"kind": "custom", "col_0_field": "", "col_0_type": "text"},
    ),
    "datasets:upload_retry": lambda s: ({"upload_id": upload_failed(workspace=s.workspace).pk}, {}),
    "datasets:upload_cancel": lambda s: ({"upload_id": upload_row(workspace=s.workspace).pk}, {}),
    "datasets:upload_resniff": lambda s: (
        {"upload_id": upload_needs_mapping(workspace=s.workspace, user=s.users["analyst"]).pk},
        {"delimiter": "semicolon"},
    ),
    "datasets:remap": lambda s: (
        {"dataset_id": dataset_remappable(workspace=s.workspace, user=s.users["analyst"]).pk},
        remap_form_data(),
    ),
    "datasets:rename": lambda s: ({"dataset_id": _analysts_dataset(s).pk}, {"name": "Renamed"}),
    "datasets:delete": lambda s: ({"dataset_id": _analysts_dataset(s).pk}, {}),
    # exports: any member; `background=1` makes a job (a streamed export would change no row).
    "exports:rows": lambda s: ({}, {"file": "csv", "background": "1", "dataset": _export_dataset(s, "buyers").pk}),
    "exports:report": lambda s: (
        {"kind": "buyers"},
        {"file": "json", "background": "1", "dataset": _export_dataset(s, "buyers").pk},
    ),
    "exports:combos": lambda s: (
        {},
        {
            "file": "xlsx",
            "background": "1",
            "dataset": _export_dataset(s, "visitors").pk,
            "attr": ["channel", "gender"],
        },
    ),
    "datasets:version_restore": lambda s: _analysts_old_version(s),  # noqa: PLW0108 (defined below)
    "datasets:version_delete": lambda s: _analysts_old_version(s),  # noqa: PLW0108
    # segments: analysts save; the author (here the analyst) or an owner edits / deletes; filter
    # sets are personal (the viewer's own: anyone else gets 404).
    "segments:new": lambda s: ({}, {"dataset": _segment_dataset(s).pk, "name": "New", "query": "in.channel=Email"}),
    "segments:edit": lambda s: ({"segment_id": _analysts_segment(s).pk}, {"name": "Renamed", "query": ""}),
    "segments:delete": lambda s: ({"segment_id": _analysts_segment(s).pk}, {}),
    "segments:filter_set_save": lambda s: ({}, {"kind": "visitors", "name": "Mine", "query": "in.channel=Email"}),
    "segments:filter_set_delete": lambda s: ({"filter_set_id": _viewers_filter_set(s).pk}, {}),
}


def _segment_dataset(s: Scene):
    from analytics.tests.dashboard_data import visitors_dataset

    return visitors_dataset(workspace=s.workspace)


def _analysts_segment(s: Scene):
    from segments.models import Segment

    dataset = _segment_dataset(s)
    return Segment.objects.create(
        workspace=s.workspace,
        dataset=dataset,
        name="Analyst's",
        query="in.channel=Email",
        created_by=s.users["analyst"],
    )


def _viewers_filter_set(s: Scene):
    from segments.models import SavedFilterSet

    return SavedFilterSet.objects.create(
        workspace=s.workspace, user=s.users["viewer"], kind="visitors", name="Viewer's"
    )


def _analysts_dataset(s: Scene):
    # An analyst may manage the datasets they uploaded; owners any dataset (DESIGN.md §4).
    return dataset_row(workspace=s.workspace, user=s.users["analyst"], name="Analyst's", files=False)


def _export_dataset(s: Scene, kind: str):
    from analytics.tests.dashboard_data import buyers_dataset, visitors_dataset

    return (buyers_dataset if kind == "buyers" else visitors_dataset)(workspace=s.workspace)


def _viewers_export(s: Scene) -> dict:
    from exports.tests.helpers import job_done

    return {"export_id": job_done(workspace=s.workspace, user=s.users["viewer"]).pk}


def _analysts_old_version(s: Scene) -> tuple[dict, dict]:
    dataset = dataset_row(workspace=s.workspace, user=s.users["analyst"], versions=2, files=False)
    return {"dataset_id": dataset.pk, "version_id": dataset.versions.get(number=1).pk}, {}


# fmt: off
MATRIX = [
    # url name                        viewer analyst owner outsider
    ("workspaces:set_default",         302,   302,    302,  404),
    ("workspaces:leave",               302,   302,    302,  404),
    ("workspaces:settings",            403,   403,    302,  404),
    ("workspaces:delete",              403,   403,    302,  404),
    ("workspaces:member_role",         403,   403,    302,  404),
    ("workspaces:member_remove",       403,   403,    302,  404),
    ("workspaces:invitations",         403,   403,    302,  404),
    ("workspaces:invitation_revoke",   403,   403,    302,  404),
    ("workspaces:invitation_resend",   403,   403,    302,  404),
    ("datasets:upload",                403,   302,    302,  404),
    ("datasets:upload_mapping",        403,   302,    302,  404),
    ("datasets:upload_retry",          403,   302,    302,  404),
    ("datasets:upload_cancel",         403,   302,    302,  404),
    ("datasets:upload_resniff",        403,   302,    302,  404),
    ("datasets:remap",                 403,   302,    302,  404),
    ("datasets:rename",                403,   302,    302,  404),
    ("datasets:delete",                403,   302,    302,  404),
    ("exports:rows",                   302,   302,    302,  404),
    ("exports:report",                 302,   302,    302,  404),
    ("exports:combos",                 302,   302,    302,  404),
    ("datasets:version_restore",       403,   302,    302,  404),
    ("datasets:version_delete",        403,   302,    302,  404),
    ("segments:new",                   403,   302,    302,  404),
    ("segments:edit",                  403,   302,    302,  404),
    ("segments:delete",                403,   302,    302,  404),
    ("segments:filter_set_save",       302,   302,    302,  404),
    ("segments:filter_set_delete",     302,   404,    404,  404),
]
# fmt: on

# The chunked-upload API answers JSON. name -> (URL kwargs, body kind, body): "json" bodies are
# JSON, "bytes" a raw chunk sent to ?offset=0.
API_ROUTES: dict[str, Callable[[Scene], tuple[dict, str, object]]] = {
    "datasets:upload_start": lambda s: ({}, "json", {"name": "v.csv", "size": len(VISITORS_CSV)}),
    "datasets:upload_chunk": lambda s: (
        {"upload_id": upload_row(workspace=s.workspace, size_bytes=len(VISITORS_CSV)).pk},
        "bytes",
        VISITORS_CSV,
    ),
    "datasets:upload_finish": lambda s: ({"upload_id": upload_complete(workspace=s.workspace).pk}, "json", {}),
}
# fmt: off
API_MATRIX = [
    # url name                        method  viewer analyst owner outsider
    ("datasets:upload_start",          "post",  403,   201,    201,  404),
    ("datasets:upload_chunk",          "put",   403,   200,    200,  404),
    ("datasets:upload_finish",         "post",  403,   200,    200,  404),
]
# fmt: on

# /w/ routes that change nothing (GET only): members read them, outsiders get 404.
READ_ONLY_ROUTES = {
    "workspaces:detail",
    "workspaces:members",
    "datasets:list",
    "datasets:uploads",
    "datasets:detail",
    "datasets:schema",
    "datasets:receipt",
    "datasets:versions",
    "datasets:download_original",
    "datasets:download_rejected",
    "datasets:download_receipt",
    "datasets:upload_detail",
    "datasets:upload_progress",
    # exports: the jobs list and a job's page, progress and file (the viewer's own job here).
    "exports:list",
    "exports:detail",
    "exports:progress",
    "exports:download",
    # analytics: GET-only dashboards (an empty workspace shows the "upload a file" state).
    "analytics:buyers",
    "analytics:visitors",
    # analytics: top combos, deep dive, a combos job's status (JSON) and the attribute explorer.
    "analytics:combos",
    "analytics:combo_deep_dive",
    "analytics:combo_job",
    "analytics:explorer",
    # segments: list, detail and compare are for every member.
    "segments:list",
    "segments:detail",
    "segments:compare",
    "analytics:search",
}


def _combo_job(s: Scene) -> ComboJob:
    version = dataset_row(workspace=s.workspace, files=False).current_version
    return ComboJob.objects.create(workspace=s.workspace, version=version, key="a-question", settings_query="attr=name")


def _readable_dataset(s: Scene) -> dict:
    return {"dataset_id": dataset_row(workspace=s.workspace, rejected=b"line,3\n").pk}


# URL kwargs (besides the slug) of the read-only routes that name an object.
READ_ONLY_KWARGS: dict[str, Callable[[Scene], dict]] = {
    "datasets:detail": _readable_dataset,
    "datasets:schema": _readable_dataset,
    "datasets:receipt": _readable_dataset,
    "datasets:versions": _readable_dataset,
    "datasets:download_original": _readable_dataset,
    "datasets:download_rejected": _readable_dataset,
    "datasets:download_receipt": _readable_dataset,
    "datasets:upload_detail": lambda s: {"upload_id": upload_row(workspace=s.workspace).pk},
    "datasets:upload_progress": lambda s: {"upload_id": upload_row(workspace=s.workspace).pk},
    "exports:detail": _viewers_export,
    "exports:progress": _viewers_export,
    "exports:download": _viewers_export,
    "segments:detail": lambda s: {"segment_id": _analysts_segment(s).pk},
    "analytics:combo_job": lambda s: {"job_id": _combo_job(s).pk},
}


def _cases(methods: list[str]) -> list:
    return [
        pytest.param(name, role, expected, method, id=f"{name}-{role}-{method}")
        for name, *statuses in MATRIX
        for role, expected in zip(ROLES, statuses, strict=True)
        for method in methods
    ]


def _csrf_client(user: User) -> Client:
    """A browser-like client: CSRF enforced, token taken from a page like a form would."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    client.get(reverse("workspaces:list"))
    return client


def _send(client: Client, method: str, url: str, data: dict):
    token = client.cookies["csrftoken"].value
    if method == "post":
        return client.post(url, data, HTTP_X_CSRFTOKEN=token)
    return getattr(client, method)(url, HTTP_X_CSRFTOKEN=token)


def snapshot() -> dict:
    """Every row of every tenant table (both workspaces), the users' flags, and the outbox."""
    state = {"workspaces": list(Workspace.objects.order_by("pk").values())}
    for model in apps.get_models():
        if model._meta.label_lower != "audit.auditevent" and any(
            f.name == "workspace" and f.is_relation for f in model._meta.concrete_fields
        ):
            state[model._meta.label_lower] = list(model._default_manager.order_by("pk").values())
    state["users"] = list(User.objects.order_by("pk").values("pk", "is_staff", "is_superuser"))
    state["mail"] = len(mail.outbox)
    return state


def _iter_names(resolver, namespace: str = "", under_slug: bool = False):
    for pattern in resolver.url_patterns:
        # The slug may sit in an include() prefix: w/<slug:workspace_slug>/datasets/...
        has_slug = under_slug or "workspace_slug" in pattern.pattern.regex.groupindex
        if isinstance(pattern, URLResolver):
            inner = ":".join(part for part in (namespace, pattern.namespace or "") if part)
            yield from _iter_names(pattern, inner, has_slug)
        elif isinstance(pattern, URLPattern) and has_slug:
            yield f"{namespace}:{pattern.name}" if namespace else pattern.name


# --- T-ROLE-01 / T-ROLE-05 --------------------------------------------------------------------


def test_every_workspace_route_is_in_the_matrix():
    matrix_names = {row[0] for row in MATRIX}
    api_names = {row[0] for row in API_MATRIX}
    unlisted = sorted(set(_iter_names(get_resolver())) - matrix_names - api_names - READ_ONLY_ROUTES)
    assert unlisted == [], (
        f"add these /w/ routes to MATRIX, API_MATRIX or READ_ONLY_ROUTES in tests/test_role_matrix.py: {unlisted}"
    )
    assert set(ROUTES) == matrix_names
    assert set(API_ROUTES) == api_names
    assert "datasets:upload_chunk" in set(_iter_names(get_resolver()))


@pytest.mark.parametrize(("name", "role", "expected", "method"), _cases(["post"]))
def test_post_matrix(scene, name, role, expected, method):
    kwargs, data = ROUTES[name](scene)
    url = reverse(name, kwargs={"workspace_slug": scene.workspace.slug, **kwargs})
    client = _csrf_client(scene.users[role])
    before = snapshot()
    response = _send(client, method, url, data)
    after = snapshot()
    assert response.status_code == expected
    # A refusal changes nothing; a success changes something.
    assert (after == before) is (expected != 302)


@pytest.mark.parametrize(("name", "role", "expected", "method"), _cases(["put", "patch", "delete"]))
def test_other_methods_matrix(scene, name, role, expected, method):
    kwargs, data = ROUTES[name](scene)
    url = reverse(name, kwargs={"workspace_slug": scene.workspace.slug, **kwargs})
    client = _csrf_client(scene.users[role])
    before = snapshot()
    response = _send(client, method, url, data)
    # Allowed roles reach the view, which only takes POST (or GET+POST for form pages).
    assert response.status_code == {302: 405}.get(expected, expected)
    assert snapshot() == before


def _api_cases(*, own_method: bool) -> list:
    return [
        pytest.param(name, method, role, expected, id=f"{name}-{role}-{method}")
        for name, route_method, *statuses in API_MATRIX
        for role, expected in zip(ROLES, statuses, strict=True)
        for method in ["get", "post", "put", "patch", "delete"]
        if (method == route_method) is own_method
    ]


def _api_send(client: Client, method: str, url: str, body_kind: str, body):
    token = client.cookies["csrftoken"].value
    if method == "get":
        return client.get(url)
    if body_kind == "json":
        data, content_type = json.dumps(body), "application/json"
    else:
        url, data, content_type = f"{url}?offset=0", body, "application/octet-stream"
    return getattr(client, method)(url, data, content_type=content_type, HTTP_X_CSRFTOKEN=token)


@pytest.mark.parametrize(("name", "method", "role", "expected"), _api_cases(own_method=True))
def test_api_matrix(scene, name, method, role, expected):
    kwargs, body_kind, body = API_ROUTES[name](scene)
    url = reverse(name, kwargs={"workspace_slug": scene.workspace.slug, **kwargs})
    client = _csrf_client(scene.users[role])
    before = snapshot()
    response = _api_send(client, method, url, body_kind, body)
    assert response.status_code == expected
    assert (snapshot() == before) is (expected >= 400)


@pytest.mark.parametrize(("name", "method", "role", "expected"), _api_cases(own_method=False))
def test_api_other_methods(scene, name, method, role, expected):
    kwargs, body_kind, body = API_ROUTES[name](scene)
    url = reverse(name, kwargs={"workspace_slug": scene.workspace.slug, **kwargs})
    client = _csrf_client(scene.users[role])
    before = snapshot()
    response = _api_send(client, method, url, body_kind, body)
    # Members reach the view, which takes only its own method; others are refused before that.
    assert response.status_code == (405 if expected < 400 else expected)
    assert snapshot() == before


@pytest.mark.parametrize("name", sorted(READ_ONLY_ROUTES))
@pytest.mark.parametrize(("role", "expected"), [("viewer", 200), ("analyst", 200), ("owner", 200), ("outsider", 404)])
def test_read_only_routes(scene, name, role, expected):
    client = _csrf_client(scene.users[role])
    kwargs = READ_ONLY_KWARGS.get(name, lambda s: {})(scene)
    url = reverse(name, kwargs={"workspace_slug": scene.workspace.slug, **kwargs})
    before = snapshot()
    get = client.get(url)
    post = _send(client, "post", url, {"name": "x"})
    assert get.status_code == expected
    assert post.status_code == {200: 405}.get(expected, expected)
    assert snapshot() == before


def test_post_without_csrf_token_is_refused(scene):
    client = Client(enforce_csrf_checks=True)
    client.force_login(scene.users["owner"])
    before = snapshot()
    response = client.post(reverse("workspaces:settings", args=[scene.workspace.slug]), {"name": "Renamed"})
    assert response.status_code == 403
    assert snapshot() == before


# --- T-ROLE-02: mass assignment -----------------------------------------------------------------


def test_analyst_extra_fields_are_ignored(scene):
    analyst = scene.users["analyst"]
    client = _csrf_client(analyst)
    extra = {"role": "owner", "workspace": scene.other_workspace.pk, "is_staff": "1", "is_superuser": "1"}
    response = _send(client, "post", reverse("workspaces:set_default", args=[scene.workspace.slug]), extra)
    analyst.refresh_from_db()
    membership = Membership.objects.get(user=analyst, workspace=scene.workspace)
    assert response.status_code == 302
    assert (membership.role, membership.is_default) == (Role.ANALYST, True)
    assert (analyst.is_staff, analyst.is_superuser) == (False, False)
    assert not Membership.objects.filter(user=analyst, workspace=scene.other_workspace).exists()


def test_settings_ignore_slug_creator_and_flags(scene):
    owner = scene.users["owner"]
    client = _csrf_client(owner)
    data = {
        "name": "Renamed",
        "slug": "stolen",
        "created_by": scene.users["outsider"].pk,
        "workspace": scene.other_workspace.pk,
        "is_staff": "1",
    }
    _send(client, "post", reverse("workspaces:settings", args=[scene.workspace.slug]), data)
    scene.workspace.refresh_from_db()
    scene.other_workspace.refresh_from_db()
    owner.refresh_from_db()
    assert (scene.workspace.name, scene.workspace.slug) == ("Renamed", "acme")
    assert scene.workspace.created_by_id is None
    assert scene.other_workspace.name == "Globex Growth"
    assert owner.is_staff is False


def test_invitation_form_ignores_workspace_and_inviter(scene):
    owner = scene.users["owner"]
    client = _csrf_client(owner)
    data = {
        "email": "new@example.com",
        "role": "viewer",
        "workspace": scene.other_workspace.pk,
        "invited_by": scene.users["outsider"].pk,
    }
    _send(client, "post", reverse("workspaces:invitations", args=[scene.workspace.slug]), data)
    invitation = Invitation.objects.get(email="new@example.com")
    assert (invitation.workspace, invitation.invited_by) == (scene.workspace, owner)
    assert not Invitation.objects.filter(workspace=scene.other_workspace).exists()


def test_role_form_ignores_user_and_workspace(scene):
    client = _csrf_client(scene.users["owner"])
    data = {"role": "analyst", "user": scene.users["outsider"].pk, "workspace": scene.other_workspace.pk}
    url = reverse("workspaces:member_role", args=[scene.workspace.slug, scene.target.pk])
    _send(client, "post", url, data)
    target = Membership.objects.get(pk=scene.target.pk)
    assert (target.role, target.workspace, target.user_id) == (Role.ANALYST, scene.workspace, scene.target.user_id)


# --- T-ROLE-03: owner-only invariants -> 400 with a clear message --------------------------------


def test_owner_cannot_change_own_role_over_http(scene):
    owner = scene.users["owner"]
    mine = Membership.objects.get(user=owner, workspace=scene.workspace)
    client = _csrf_client(owner)
    url = reverse("workspaces:member_role", args=[scene.workspace.slug, mine.pk])
    response = _send(client, "post", url, {"role": "viewer"})
    assert response.status_code == 400
    assert services.ERROR_OWN_ROLE in response.content.decode()
    assert Membership.objects.get(pk=mine.pk).role == Role.OWNER


def test_owner_cannot_remove_self_over_http(scene):
    owner = scene.users["owner"]
    mine = Membership.objects.get(user=owner, workspace=scene.workspace)
    client = _csrf_client(owner)
    response = _send(client, "post", reverse("workspaces:member_remove", args=[scene.workspace.slug, mine.pk]), {})
    assert response.status_code == 400
    assert services.ERROR_REMOVE_SELF in response.content.decode()
    assert Membership.objects.filter(pk=mine.pk).exists()


def test_last_owner_cannot_leave_over_http(workspace, owner):
    client = _csrf_client(owner)
    response = _send(client, "post", reverse("workspaces:leave", args=[workspace.slug]), {})
    assert response.status_code == 400
    assert services.ERROR_LAST_OWNER_LEAVE in response.content.decode()
    assert Membership.objects.filter(user=owner, workspace=workspace).exists()


def test_last_owner_cannot_be_demoted_by_the_platform(workspace, owner):
    operator = UserFactory(is_staff=True, is_superuser=True)
    mine = Membership.objects.get(user=owner, workspace=workspace)
    with pytest.raises(services.ValidationError) as excinfo:
        services.membership_change_role(membership=mine, actor=operator, role=Role.VIEWER)
    assert excinfo.value.messages == [services.ERROR_LAST_OWNER_DEMOTE]
    assert Membership.objects.get(pk=mine.pk).role == Role.OWNER


def test_invite_above_own_role_is_refused(workspace, analyst):
    with pytest.raises(services.ValidationError) as excinfo:
        services.invitation_send(workspace=workspace, inviter=analyst, email="x@example.com", role=Role.OWNER)
    assert excinfo.value.messages == [services.ERROR_ROLE_ABOVE_INVITER]
    assert Invitation.objects.count() == 0


# --- T-ROLE-04: a demotion takes effect on the very next request ---------------------------------


def test_demotion_applies_to_an_open_session(scene):
    co_owner = MembershipFactory(workspace=scene.workspace, role=Role.OWNER)
    their_session = _csrf_client(co_owner.user)
    settings_url = reverse("workspaces:settings", args=[scene.workspace.slug])
    allowed_before = their_session.get(settings_url).status_code
    owner_session = _csrf_client(scene.users["owner"])
    demote_url = reverse("workspaces:member_role", args=[scene.workspace.slug, co_owner.pk])
    _send(owner_session, "post", demote_url, {"role": "analyst"})
    response = _send(their_session, "post", settings_url, {"name": "Renamed"})
    scene.workspace.refresh_from_db()
    assert allowed_before == 200
    assert response.status_code == 403
    assert scene.workspace.name == "Acme Marketing"


def test_removal_applies_to_an_open_session(scene):
    their_session = _csrf_client(scene.target.user)
    detail_url = reverse("workspaces:detail", args=[scene.workspace.slug])
    allowed_before = their_session.get(detail_url).status_code
    owner_session = _csrf_client(scene.users["owner"])
    _send(owner_session, "post", reverse("workspaces:member_remove", args=[scene.workspace.slug, scene.target.pk]), {})
    assert allowed_before == 200
    assert their_session.get(detail_url).status_code == 404
