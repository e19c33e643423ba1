"""The re-map page, the review page's "read it again" button and cancelling a failed upload: roles
(viewer 403; analysts only their own datasets, owners any), workspace scoping (404) and what they do."""

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from datasets import storage
from datasets.models import Upload, UploadMode, UploadStatus
from datasets.services import errors as service_errors

from .page_helpers import (
    dataset_remappable,
    dataset_row,
    remap_form_data,
    upload_failed,
    upload_needs_mapping,
)
from .pipeline_helpers import media_root  # noqa: F401

pytestmark = pytest.mark.usefixtures("media_root")


def _url(name, workspace, *args):
    return reverse(f"datasets:{name}", args=[workspace.slug, *args])


def _remaps():
    return Upload.objects.filter(options__has_key="remap_of")


# --- re-map -----------------------------------------------------------------------------------------


def test_remap_page_is_prefilled_with_the_current_versions_mapping(client, workspace, analyst):
    dataset = dataset_remappable(workspace=workspace, user=analyst, name="Orders")
    version = dataset.current_version
    version.mapping = {**version.mapping, "amount": {"field": "", "type": "integer"}, "signup": {"field": "__ignore__"}}
    version.save(update_fields=["mapping"])
    client.force_login(analyst)

    response = client.get(_url("remap", workspace, dataset.pk))

    form = response.context["form"]
    assert response.status_code == 200
    assert [form[f"col_{i}_type"].value() for i in range(3)] == ["text", "integer", "text"]
    assert form["col_2_field"].value() == "__ignore__"
    assert "encoding" not in form.fields  # how the file is read is fixed for a re-map
    assert "orders-v1.csv" in response.content.decode()


def test_remap_post_starts_a_new_load_and_shows_it(client, workspace, analyst):
    dataset = dataset_remappable(workspace=workspace, user=analyst)
    client.force_login(analyst)
    data = remap_form_data(kind="buyers", fields={"name": "buyer_key", "amount": "revenue"}, types={"amount": "money"})

    response = client.post(_url("remap", workspace, dataset.pk), data)

    remap = _remaps().get()
    assert response.status_code == 302
    assert response["Location"] == _url("upload_detail", workspace, remap.pk)
    assert (remap.mode, remap.dataset_id, remap.kind) == (UploadMode.REPLACE, dataset.pk, "buyers")
    assert remap.mapping == {
        "name": {"field": "buyer_key", "type": "text"},
        "amount": {"field": "revenue", "type": "money"},
        "signup": {"field": "", "type": "text"},
    }
    assert AuditEvent.objects.filter(action="dataset.remapped", actor=analyst, target_id=str(dataset.pk)).exists()


def test_owner_may_remap_any_dataset(client, workspace, owner, analyst):
    dataset = dataset_remappable(workspace=workspace, user=analyst)
    client.force_login(owner)

    response = client.post(_url("remap", workspace, dataset.pk), remap_form_data())

    assert (response.status_code, _remaps().get().created_by_id) == (302, owner.pk)


@pytest.mark.parametrize("method", ["get", "post"])
def test_viewer_and_other_analysts_may_not_remap(client, workspace, viewer, analyst, owner, method):  # noqa: PLR0917
    owners_dataset = dataset_remappable(workspace=workspace, user=owner)
    analysts_dataset = dataset_remappable(workspace=workspace, user=analyst)

    client.force_login(viewer)
    viewer_response = getattr(client, method)(_url("remap", workspace, analysts_dataset.pk), remap_form_data())
    client.force_login(analyst)
    analyst_response = getattr(client, method)(_url("remap", workspace, owners_dataset.pk), remap_form_data())

    assert (viewer_response.status_code, analyst_response.status_code) == (403, 403)
    assert not _remaps().exists()


def test_remap_of_another_workspaces_dataset_is_404(client, workspace, other_workspace, owner):
    theirs = dataset_remappable(workspace=other_workspace, name="Theirs")
    client.force_login(owner)

    get = client.get(_url("remap", workspace, theirs.pk))
    post = client.post(_url("remap", workspace, theirs.pk), remap_form_data())

    assert (get.status_code, post.status_code) == (404, 404)
    assert not _remaps().exists()


def test_remap_page_explains_when_the_original_is_gone(client, workspace, owner):
    dataset = dataset_remappable(workspace=workspace, user=owner)
    storage.key_delete(dataset.current_version.upload.storage_key)
    client.force_login(owner)

    page = client.get(_url("remap", workspace, dataset.pk))
    post = client.post(_url("remap", workspace, dataset.pk), remap_form_data())

    assert page.status_code == 200
    assert service_errors.ERROR_REMAP_NO_ORIGINAL in page.content.decode()
    assert post.status_code == 400
    assert not _remaps().exists()


def test_remap_link_is_shown_to_managers_only(client, workspace, owner, viewer):
    dataset = dataset_row(workspace=workspace, user=owner)
    remap_url = _url("remap", workspace, dataset.pk)

    client.force_login(owner)
    owner_page = client.get(_url("detail", workspace, dataset.pk)).content.decode()
    client.force_login(viewer)
    viewer_page = client.get(_url("detail", workspace, dataset.pk)).content.decode()

    assert (remap_url in owner_page, remap_url in viewer_page) == (True, False)


# --- read the file again from the review page -----------------------------------------------------


def test_review_page_offers_reading_again(client, workspace, analyst):
    upload = upload_needs_mapping(workspace=workspace, user=analyst)
    client.force_login(analyst)

    page = client.get(_url("upload_mapping", workspace, upload.pk)).content.decode()

    assert f'formaction="{_url("upload_resniff", workspace, upload.pk)}"' in page


def test_resniff_queues_detection_with_the_chosen_settings(client, workspace, analyst):
    upload = upload_needs_mapping(workspace=workspace, user=analyst)
    client.force_login(analyst)
    # The whole review form is posted (formaction); only the read settings matter.
    data = {"encoding": "cp1252", "delimiter": "semicolon", "has_header": "no", "kind": "custom", "col_0_field": "x"}

    response = client.post(_url("upload_resniff", workspace, upload.pk), data)

    upload.refresh_from_db()
    assert response.status_code == 302
    assert response["Location"] == _url("upload_detail", workspace, upload.pk)
    assert (upload.status, upload.sniff) == (UploadStatus.QUEUED, {})
    assert upload.options == {"encoding": "cp1252", "delimiter": ";", "has_header": False, "review_requested": True}


def test_resniff_of_an_upload_not_in_review_says_so(client, workspace, analyst):
    failed = upload_failed(workspace=workspace, user=analyst)
    client.force_login(analyst)

    response = client.post(_url("upload_resniff", workspace, failed.pk), {"delimiter": "tab"}, follow=True)

    assert service_errors.ERROR_NOT_RESNIFFABLE in response.content.decode()
    assert Upload.objects.get(pk=failed.pk).status == UploadStatus.FAILED


def test_resniff_roles_and_tenancy(client, workspace, other_workspace, viewer, owner):
    ours = upload_needs_mapping(workspace=workspace)
    theirs = upload_needs_mapping(workspace=other_workspace)

    client.force_login(viewer)
    viewer_response = client.post(_url("upload_resniff", workspace, ours.pk), {"delimiter": "tab"})
    client.force_login(owner)
    foreign_response = client.post(_url("upload_resniff", workspace, theirs.pk), {"delimiter": "tab"})
    get_response = client.get(_url("upload_resniff", workspace, ours.pk))

    assert (viewer_response.status_code, foreign_response.status_code, get_response.status_code) == (403, 404, 405)
    statuses = set(Upload.objects.filter(pk__in=[ours.pk, theirs.pk]).values_list("status", flat=True))
    assert statuses == {UploadStatus.NEEDS_MAPPING}


# --- cancel a failed upload -------------------------------------------------------------------------


def test_failed_page_offers_cancel_and_cancelling_deletes_the_file(client, workspace, analyst):
    failed = upload_failed(workspace=workspace, user=analyst)
    storage.part_create(failed.storage_key)
    client.force_login(analyst)

    page = client.get(_url("upload_detail", workspace, failed.pk)).content.decode()
    response = client.post(_url("upload_cancel", workspace, failed.pk))

    failed.refresh_from_db()
    assert _url("upload_cancel", workspace, failed.pk) in page
    assert (response.status_code, failed.status) == (302, UploadStatus.CANCELLED)
    assert AuditEvent.objects.filter(action="upload.cancelled", actor=analyst, target_id=str(failed.pk)).exists()


def test_viewer_sees_no_cancel_on_a_failed_upload_and_may_not_cancel(client, workspace, viewer):
    failed = upload_failed(workspace=workspace)
    client.force_login(viewer)

    page = client.get(_url("upload_detail", workspace, failed.pk)).content.decode()
    response = client.post(_url("upload_cancel", workspace, failed.pk))

    assert _url("upload_cancel", workspace, failed.pk) not in page
    assert (response.status_code, Upload.objects.get(pk=failed.pk).status) == (403, UploadStatus.FAILED)
