"""The datasets pages: rendering per role, the chunked upload protocol, preview sort/search safety,
downloads, escaping of user data, and workspace scoping (SECURITY.md T-SQL-01/03, T-XSS-01/08,
T-UP-03, T-IDOR-08)."""

import hashlib
import json

import pyarrow as pa
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from audit.models import AuditEvent
from datasets import selectors, storage, views
from datasets.forms import ERROR_FIELD_NOT_IN_KIND, ERROR_FIELD_TWICE
from datasets.models import ColumnMapping, Dataset, Upload, UploadStatus
from datasets.services import errors as service_errors

from .page_helpers import (
    PEOPLE_CSV,
    VISITORS_CSV,
    XSS_IMG,
    XSS_SCRIPT,
    dataset_loaded,
    dataset_row,
    upload_failed,
    upload_needs_mapping,
    upload_row,
)
from .pipeline_helpers import media_root  # noqa: F401

pytestmark = pytest.mark.usefixtures("media_root")

SQL_SORT_PAYLOADS = [
    "amount DESC; SELECT 1--",
    "(SELECT 1)",
    "workspace__owner__password",
    "-id",
    "amount DESC",
    '"amount"',
    "c0",
    "_rn",
]


def _url(name, workspace, *args):
    return reverse(f"datasets:{name}", args=[workspace.slug, *args])


def _login(client, user):
    client.force_login(user)
    return client


def _start(client, workspace, data: bytes, name="people.csv", fingerprint="people.csv:1:1", **extra):
    body = {"name": name, "size": len(data), "fingerprint": fingerprint, **extra}
    return client.post(_url("upload_start", workspace), json.dumps(body), content_type="application/json")


def _chunk(client, upload_id, workspace, offset: int, data: bytes):
    url = f"{_url('upload_chunk', workspace, upload_id)}?offset={offset}"
    return client.put(url, data, content_type="application/octet-stream")


# --- every page renders for every member; writes are closed to viewers ---------------------------


@pytest.mark.parametrize(
    "name", ["list", "uploads", "detail", "schema", "receipt", "versions", "upload_detail", "upload_progress"]
)
def test_read_pages_render_for_every_role(member_client, member, name):
    dataset = dataset_row(workspace=member.workspace, user=member.user, name="Orders")
    upload = Upload.objects.filter(dataset=dataset).get()
    object_id = {"detail": dataset.pk, "schema": dataset.pk, "receipt": dataset.pk, "versions": dataset.pk}
    object_id |= {"upload_detail": upload.pk, "upload_progress": upload.pk}
    args = [object_id[name]] if name in object_id else []
    response = member_client.get(_url(name, member.workspace, *args))
    assert response.status_code == 200
    assert "Orders" in response.content.decode() or name == "upload_progress"


@pytest.mark.parametrize(("role", "expected"), [("viewer", 403), ("analyst", 200), ("owner", 200)])
def test_upload_and_mapping_pages_need_an_analyst(client, workspace, request, role, expected):
    user = request.getfixturevalue(role)
    upload = upload_needs_mapping(workspace=workspace, user=user)
    _login(client, user)
    assert client.get(_url("upload", workspace)).status_code == expected
    assert client.get(_url("upload_mapping", workspace, upload.pk)).status_code == expected


def test_viewer_is_refused_every_write(client, workspace, viewer, analyst):
    dataset = dataset_row(workspace=workspace, user=analyst, versions=2)
    old = dataset.versions.get(number=1)
    receiving = upload_row(workspace=workspace, user=viewer)
    mapping = upload_needs_mapping(workspace=workspace, user=analyst)
    failed = upload_failed(workspace=workspace, user=analyst)
    _login(client, viewer)
    before = list(Upload.objects.order_by("pk").values("pk", "status", "received_bytes"))
    responses = [
        _start(client, workspace, PEOPLE_CSV),
        _chunk(client, receiving.pk, workspace, 0, PEOPLE_CSV),
        client.post(_url("upload_finish", workspace, receiving.pk)),
        client.post(_url("upload", workspace), {"file": SimpleUploadedFile("a.csv", PEOPLE_CSV), "mode": "new"}),
        client.post(_url("upload_mapping", workspace, mapping.pk), {"kind": "custom"}),
        client.post(_url("upload_retry", workspace, failed.pk)),
        client.post(_url("upload_cancel", workspace, receiving.pk)),
        client.post(_url("rename", workspace, dataset.pk), {"name": "Mine now"}),
        client.post(_url("delete", workspace, dataset.pk)),
        client.post(_url("version_restore", workspace, dataset.pk, old.pk)),
        client.post(_url("version_delete", workspace, dataset.pk, old.pk)),
    ]
    assert [r.status_code for r in responses] == [403] * len(responses)
    assert list(Upload.objects.order_by("pk").values("pk", "status", "received_bytes")) == before
    assert Dataset.objects.get(pk=dataset.pk).name == dataset.name
    assert dataset.versions.count() == 2


def test_analyst_manages_only_datasets_they_uploaded(client, workspace, analyst, owner):
    theirs = dataset_row(workspace=workspace, user=owner, name="Owner's")
    mine = dataset_row(workspace=workspace, user=analyst, name="Mine")
    _login(client, analyst)
    refused = client.post(_url("delete", workspace, theirs.pk))
    allowed = client.post(_url("rename", workspace, mine.pk), {"name": "Renamed"})
    page = client.get(_url("detail", workspace, theirs.pk)).content.decode()
    assert (refused.status_code, allowed.status_code) == (403, 302)
    assert Dataset.objects.filter(pk=theirs.pk).exists()
    assert Dataset.objects.get(pk=mine.pk).name == "Renamed"
    assert _url("delete", workspace, theirs.pk) not in page


def test_owner_deletes_anyones_dataset_after_confirming(client, workspace, analyst, owner):
    dataset = dataset_row(workspace=workspace, user=analyst, name="Analyst's")
    _login(client, owner)
    confirm = client.get(_url("delete", workspace, dataset.pk))
    response = client.post(_url("delete", workspace, dataset.pk))
    assert confirm.status_code == 200
    assert "cannot be undone" in confirm.content.decode()
    assert response.status_code == 302
    assert response["Location"] == _url("list", workspace)
    assert not Dataset.objects.filter(pk=dataset.pk).exists()
    assert AuditEvent.objects.filter(workspace=workspace, action="dataset.deleted").exists()


def test_versions_restore_and_delete(client, workspace, owner):
    dataset = dataset_row(workspace=workspace, user=owner, versions=3)
    v1, v2 = dataset.versions.get(number=1), dataset.versions.get(number=2)
    _login(client, owner)
    restore = client.post(_url("version_restore", workspace, dataset.pk, v1.pk))
    delete = client.post(_url("version_delete", workspace, dataset.pk, v2.pk))
    delete_current = client.post(_url("version_delete", workspace, dataset.pk, v1.pk), follow=True)
    dataset.refresh_from_db()
    assert (restore.status_code, delete.status_code) == (302, 302)
    assert dataset.current_version_id == v1.pk
    assert sorted(dataset.versions.values_list("number", flat=True)) == [1, 3]
    assert service_errors.ERROR_VERSION_IS_CURRENT in delete_current.content.decode()


# --- the chunked upload protocol -------------------------------------------------------------


def test_chunked_upload_end_to_end(client, workspace, analyst, settings, django_capture_on_commit_callbacks):
    settings.DATASETS_CHUNK_BYTES = 32
    _login(client, analyst)
    data = VISITORS_CSV
    started = _start(client, workspace, data)
    body = started.json()
    offsets = list(range(0, len(data), 32))
    replies = [_chunk(client, body["id"], workspace, o, data[o : o + 32]).json()["received_bytes"] for o in offsets]
    with django_capture_on_commit_callbacks(execute=True):
        finished = client.post(body["finish_url"])
    upload = Upload.objects.get(pk=body["id"])
    assert started.status_code == 201
    assert (body["received_bytes"], body["chunk_bytes"]) == (0, 32)
    assert replies == [min(o + 32, len(data)) for o in offsets]
    assert finished.json()["url"] == _url("upload_detail", workspace, upload.pk)
    assert finished.json()["duplicate_of_url"] == ""
    assert upload.sha256 == hashlib.sha256(data).hexdigest()
    assert upload.status == UploadStatus.READY
    assert upload.version.row_count == 3


def test_chunk_at_the_wrong_offset_is_409_with_the_expected_offset(client, workspace, analyst):
    _login(client, analyst)
    upload_id = _start(client, workspace, PEOPLE_CSV).json()["id"]
    _chunk(client, upload_id, workspace, 0, PEOPLE_CSV[:10])
    response = _chunk(client, upload_id, workspace, 4, PEOPLE_CSV[4:20])
    assert response.status_code == 409
    assert response.json()["expected"] == 10
    assert Upload.objects.get(pk=upload_id).received_bytes == 10


def test_chunk_larger_than_the_chunk_size_is_413(client, workspace, analyst, settings):
    settings.DATASETS_CHUNK_BYTES = 16
    _login(client, analyst)
    upload_id = _start(client, workspace, PEOPLE_CSV).json()["id"]
    response = _chunk(client, upload_id, workspace, 0, PEOPLE_CSV[:17])
    assert response.status_code == 413
    assert response.json()["chunk_bytes"] == 16
    assert Upload.objects.get(pk=upload_id).received_bytes == 0


def test_chunk_past_the_declared_size_and_bad_offsets_are_400(client, workspace, analyst):
    _login(client, analyst)
    upload_id = _start(client, workspace, b"a,b\n1,2\n").json()["id"]
    past_end = _chunk(client, upload_id, workspace, 0, b"a,b\n1,2\n3,4\n")
    bad_offset = client.put(f"{_url('upload_chunk', workspace, upload_id)}?offset=-1", b"a", "application/octet-stream")
    no_offset = client.put(_url("upload_chunk", workspace, upload_id), b"a", "application/octet-stream")
    assert [past_end.status_code, bad_offset.status_code, no_offset.status_code] == [400, 400, 400]
    assert past_end.json()["error"] == service_errors.ERROR_CHUNK_PAST_END
    assert bad_offset.json()["error"] == views.ERROR_BAD_OFFSET


def test_finish_before_every_byte_arrived_is_400(client, workspace, analyst):
    _login(client, analyst)
    upload_id = _start(client, workspace, PEOPLE_CSV).json()["id"]
    _chunk(client, upload_id, workspace, 0, PEOPLE_CSV[:20])
    response = client.post(_url("upload_finish", workspace, upload_id))
    assert response.status_code == 400
    assert response.json()["received_bytes"] == 20
    assert Upload.objects.get(pk=upload_id).status == UploadStatus.RECEIVING


def test_start_again_with_the_same_fingerprint_resumes(client, workspace, analyst):
    _login(client, analyst)
    first = _start(client, workspace, PEOPLE_CSV, fingerprint="people.csv:77:1700000000").json()
    _chunk(client, first["id"], workspace, 0, PEOPLE_CSV[:30])
    again = _start(client, workspace, PEOPLE_CSV, fingerprint="people.csv:77:1700000000").json()
    progress = client.get(_url("upload_progress", workspace, first["id"])).json()
    assert again["id"] == first["id"]
    assert again["received_bytes"] == 30
    assert progress["received_bytes"] == 30


def test_start_refuses_bad_input_with_a_message(client, workspace, analyst, other_workspace, settings):
    settings.DATASETS_MAX_UPLOAD_BYTES = 100
    foreign = dataset_row(workspace=other_workspace, name="Theirs")
    _login(client, analyst)
    not_json = client.post(_url("upload_start", workspace), "nope", content_type="application/json")
    too_big = _start(client, workspace, b"x" * 101)
    foreign_dataset = _start(client, workspace, PEOPLE_CSV, mode="replace", dataset=foreign.pk)
    assert [not_json.status_code, too_big.status_code, foreign_dataset.status_code] == [400, 400, 400]
    assert not_json.json()["error"] == views.ERROR_BAD_JSON
    assert "upload limit" in too_big.json()["error"]
    assert "dataset" in foreign_dataset.json()["errors"]
    assert not Upload.objects.filter(workspace=workspace).exists()


def test_same_bytes_again_offer_the_existing_dataset(client, workspace, analyst):
    first = dataset_loaded(workspace=workspace, user=analyst, data=VISITORS_CSV)
    _login(client, analyst)
    upload_id = _start(client, workspace, VISITORS_CSV, fingerprint="other").json()["id"]
    _chunk(client, upload_id, workspace, 0, VISITORS_CSV)
    finished = client.post(_url("upload_finish", workspace, upload_id)).json()
    page = client.get(_url("upload_detail", workspace, upload_id)).content.decode()
    assert finished["duplicate_of_url"] == _url("detail", workspace, first.dataset_id)
    assert finished["duplicate_of_name"] == first.dataset.name
    assert "This file is already here" in page
    assert _url("detail", workspace, first.dataset_id) in page


def test_plain_form_upload_without_javascript(client, workspace, analyst, django_capture_on_commit_callbacks):
    _login(client, analyst)
    data = {"file": SimpleUploadedFile("people.csv", VISITORS_CSV), "mode": "new", "dataset_name": "People"}
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(_url("upload", workspace), data)
    upload = Upload.objects.get(workspace=workspace)
    assert response.status_code == 302
    assert response["Location"] == _url("upload_detail", workspace, upload.pk)
    assert (upload.status, upload.original_name, upload.dataset.name) == (UploadStatus.READY, "people.csv", "People")


def test_plain_form_needs_a_file_and_a_dataset_for_a_new_version(client, workspace, analyst):
    _login(client, analyst)
    no_file = client.post(_url("upload", workspace), {"mode": "new"})
    no_dataset = client.post(
        _url("upload", workspace), {"file": SimpleUploadedFile("a.csv", b"a\n1\n"), "mode": "append"}
    )
    assert (no_file.status_code, no_dataset.status_code) == (400, 400)
    assert "Choose a file to upload." in no_file.content.decode()
    assert "Choose the dataset to add this file to." in no_dataset.content.decode()
    assert not Upload.objects.exists()


# --- progress, review, retry, cancel ---------------------------------------------------------


def test_progress_json_reports_numbers_for_the_poller(client, workspace, viewer):
    upload = upload_row(workspace=workspace, status=UploadStatus.LOADING, size_bytes=1000, step="reading")
    Upload.objects.filter(pk=upload.pk).update(bytes_processed=250, rows_processed=5000)
    _login(client, viewer)
    progress = client.get(_url("upload_progress", workspace, upload.pk)).json()
    assert (progress["status"], progress["step_label"], progress["percent"]) == ("loading", "Reading rows", 25.0)
    assert (progress["bytes_processed"], progress["rows_processed"]) == (250, 5000)
    assert progress["next_url"] == ""


def test_upload_detail_for_each_state(client, workspace, analyst):
    failed = upload_failed(workspace=workspace, user=analyst, message="The compressed file is cut short.")
    review = upload_needs_mapping(workspace=workspace, user=analyst)
    loading = upload_row(workspace=workspace, user=analyst, status=UploadStatus.LOADING, size_bytes=4096)
    _login(client, analyst)
    failed_page = client.get(_url("upload_detail", workspace, failed.pk)).content.decode()
    review_page = client.get(_url("upload_detail", workspace, review.pk)).content.decode()
    loading_page = client.get(_url("upload_detail", workspace, loading.pk)).content.decode()
    assert "The compressed file is cut short." in failed_page
    assert _url("upload_retry", workspace, failed.pk) in failed_page
    assert _url("upload_mapping", workspace, review.pk) in review_page
    assert "data-upload-progress" in loading_page
    assert _url("upload_progress", workspace, loading.pk) in loading_page


def test_retry_and_cancel(client, workspace, analyst):
    failed = upload_failed(workspace=workspace, user=analyst)
    receiving = upload_row(workspace=workspace, user=analyst)
    _login(client, analyst)
    retried = client.post(_url("upload_retry", workspace, failed.pk))
    cancelled = client.post(_url("upload_cancel", workspace, receiving.pk))
    cancelled_again = client.post(_url("upload_cancel", workspace, receiving.pk), follow=True)
    assert (retried.status_code, cancelled.status_code) == (302, 302)
    assert Upload.objects.get(pk=failed.pk).status in (UploadStatus.PENDING, UploadStatus.QUEUED)
    assert Upload.objects.get(pk=receiving.pk).status == UploadStatus.CANCELLED
    assert service_errors.ERROR_NOT_CANCELLABLE in cancelled_again.content.decode()


def test_mapping_review_confirms_the_columns(client, workspace, analyst):
    upload = upload_needs_mapping(workspace=workspace, user=analyst, columns=("Email", "Total", "Notes"))
    _login(client, analyst)
    page = client.get(_url("upload_mapping", workspace, upload.pk)).content.decode()
    data = {
        "kind": "buyers",
        "col_0_field": "buyer_key",
        "col_0_type": "text",
        "col_1_field": "revenue",
        "col_1_type": "money",
        "col_2_field": "__ignore__",
        "col_2_type": "text",
    }
    response = client.post(_url("upload_mapping", workspace, upload.pk), data)
    upload.refresh_from_db()
    assert "Keep as a custom attribute" in page
    assert '<option value="visitor_key">' not in page  # only the shown kind's fields are offered
    assert response.status_code == 302
    assert upload.status == UploadStatus.QUEUED
    assert upload.mapping["Total"] == {"field": "revenue", "type": "money"}
    assert upload.mapping["Notes"]["field"] == "__ignore__"
    assert ColumnMapping.objects.get(workspace=workspace, kind="buyers").mapping["total"]["field"] == "revenue"


def test_mapping_review_refuses_a_field_of_another_kind_or_twice(client, workspace, analyst):
    upload = upload_needs_mapping(workspace=workspace, user=analyst, columns=("a", "b"))
    _login(client, analyst)
    wrong_kind = {"kind": "leads", "col_0_field": "revenue", "col_0_type": "text", "col_1_type": "text"}
    twice = {"kind": "leads", "col_0_field": "lead_email", "col_0_type": "text"}
    twice |= {"col_1_field": "lead_email", "col_1_type": "text"}
    first = client.post(_url("upload_mapping", workspace, upload.pk), wrong_kind)
    second = client.post(_url("upload_mapping", workspace, upload.pk), twice)
    assert (first.status_code, second.status_code) == (400, 400)
    assert ERROR_FIELD_NOT_IN_KIND.format(field="revenue", kind="leads") in first.content.decode()
    assert ERROR_FIELD_TWICE.format(field="lead_email") in second.content.decode()
    assert Upload.objects.get(pk=upload.pk).status == UploadStatus.NEEDS_MAPPING


def test_mapping_page_of_an_upload_not_waiting_for_review_redirects(client, workspace, analyst):
    upload = upload_row(workspace=workspace, user=analyst, status=UploadStatus.LOADING)
    _login(client, analyst)
    response = client.get(_url("upload_mapping", workspace, upload.pk))
    assert response.status_code == 302
    assert response["Location"] == _url("upload_detail", workspace, upload.pk)


# --- preview: sort allowlist, literal search -------------------------------------------------


@pytest.mark.parametrize("payload", SQL_SORT_PAYLOADS)
def test_preview_sort_must_be_one_of_the_columns(client, workspace, viewer, payload):
    dataset = dataset_row(workspace=workspace, name="Orders")
    _login(client, viewer)
    response = client.get(_url("detail", workspace, dataset.pk), {"sort": payload})
    assert response.status_code == 400
    assert selectors.ERROR_SORT_UNKNOWN in response.content.decode()


def test_preview_sort_direction_must_be_asc_or_desc(client, workspace, viewer):
    dataset = dataset_row(workspace=workspace, name="Orders")
    _login(client, viewer)
    response = client.get(_url("detail", workspace, dataset.pk), {"sort": "amount", "dir": "desc; DROP TABLE x"})
    assert response.status_code == 400


def test_preview_sorts_by_a_column(client, workspace, viewer):
    table = pa.table({"name": ["b", "c", "a"], "amount": [2, 3, 1]})
    dataset = dataset_row(workspace=workspace, name="Orders", table=table)
    _login(client, viewer)
    desc = client.get(_url("detail", workspace, dataset.pk), {"sort": "amount", "dir": "desc"})
    preview = desc.context["preview"]
    assert desc.status_code == 200
    assert [cells[0][0] for _, cells in preview.rows] == ["c", "b", "a"]
    assert 'aria-sort="descending"' in desc.content.decode()


@pytest.mark.parametrize(
    ("query", "expected"),
    [("%", ["100%"]), ("_", ["a_b"]), ("' OR '1'='1", ["x' OR '1'='1"]), ("ALICE", ["alice"]), ("\\", ["back\\slash"])],
)
def test_preview_search_is_literal_and_case_insensitive(client, workspace, viewer, query, expected):
    names = ["alice", "100%", "a_b", "x' OR '1'='1", "back\\slash", "plain"]
    dataset = dataset_row(workspace=workspace, table=pa.table({"name": names, "n": list(range(6))}))
    _login(client, viewer)
    response = client.get(_url("detail", workspace, dataset.pk), {"q": query})
    preview = response.context["preview"]
    assert [cells[0][0] for _, cells in preview.rows] == expected
    assert (preview.matching_rows, preview.total_rows) == (1, 6)
    assert "1 matching row of 6" in " ".join(response.content.decode().split())


def test_preview_pages_through_rows(client, workspace, viewer):
    dataset = dataset_row(workspace=workspace, table=pa.table({"n": list(range(1, 61))}))
    _login(client, viewer)
    second = client.get(_url("detail", workspace, dataset.pk), {"page": "2", "per_page": "25"}).context["preview"]
    beyond = client.get(_url("detail", workspace, dataset.pk), {"page": "99", "per_page": "25"}).context["preview"]
    assert [cells[0][0] for _, cells in second.rows] == list(range(26, 51))
    assert (second.num_pages, beyond.page) == (3, 3)


# --- downloads ---------------------------------------------------------------------------------


def test_download_original_is_an_audited_attachment(client, workspace, viewer):
    dataset = dataset_row(workspace=workspace, name="Orders")
    _login(client, viewer)
    response = client.get(_url("download_original", workspace, dataset.pk))
    content = b"".join(response.streaming_content)
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="orders-v1.csv"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Type"] == "text/csv"
    assert content == PEOPLE_CSV
    event = AuditEvent.objects.get(workspace=workspace, action="dataset.downloaded")
    assert (event.actor_id, event.target_id, event.details["file"]) == (viewer.pk, str(dataset.pk), "original")


@pytest.mark.parametrize(
    ("stored_name", "header"),
    [
        ('"><img src=x onerror=alert(3)>.csv', 'attachment; filename="\\"><img src=x onerror=alert(3)>.csv"'),
        ("../../etc/passwd.csv", 'attachment; filename="passwd.csv"'),
        ("données été.csv", "attachment; filename*=utf-8''donn%C3%A9es%20%C3%A9t%C3%A9.csv"),
        (".htaccess", 'attachment; filename="htaccess"'),
    ],
)
def test_download_filename_is_safe(client, workspace, viewer, stored_name, header):
    dataset = dataset_row(workspace=workspace, name="Orders")
    Upload.objects.filter(dataset=dataset).update(original_name=stored_name)
    _login(client, viewer)
    response = client.get(_url("download_original", workspace, dataset.pk))
    assert response["Content-Disposition"] == header
    assert response["Content-Type"] == ("text/csv" if stored_name.endswith(".csv") else "application/octet-stream")


def test_download_of_a_purged_original_is_404(client, workspace, viewer):
    dataset = dataset_row(workspace=workspace, name="Orders")
    storage.key_delete(Upload.objects.get(dataset=dataset).storage_key)
    _login(client, viewer)
    assert client.get(_url("download_original", workspace, dataset.pk)).status_code == 404


def test_receipt_shows_rejections_and_offers_the_files(client, workspace, viewer, analyst):
    short, extra, twice = b"v4,2024-04-01\n", b"v6,2024-04-03,Email,no,extra\n", b"v5,2024-04-02,Email,no\n" * 2
    data = VISITORS_CSV + short + twice + extra
    upload = dataset_loaded(workspace=workspace, user=analyst, data=data, name="messy.csv")
    version = upload.version
    _login(client, viewer)
    page = client.get(_url("receipt", workspace, upload.dataset_id))
    rejected = client.get(f"{_url('download_rejected', workspace, upload.dataset_id)}?version={version.pk}")
    receipt = client.get(_url("download_receipt", workspace, upload.dataset_id))
    text = " ".join(page.content.decode().split())
    assert version.receipt["rows_rejected"] == 2
    assert "2 rows could not be read" in text
    assert all(f"<span>{n}</span>" in text for n in version.receipt["rejected_line_numbers"])
    assert rejected["Content-Disposition"].startswith("attachment;")
    assert rejected["X-Content-Type-Options"] == "nosniff"
    assert b"".join(rejected.streaming_content).count(b"\n") >= 2
    assert json.loads(receipt.content)["rows_loaded"] == version.receipt["rows_loaded"]
    assert receipt["Content-Disposition"] == f'attachment; filename="messy-v{version.number}-receipt.json"'
    assert AuditEvent.objects.filter(workspace=workspace, action="dataset.downloaded").count() == 2


# --- user data is escaped everywhere ---------------------------------------------------------


def test_xss_in_column_names_cells_and_file_names_renders_as_text(client, workspace, analyst):
    table = pa.table({XSS_SCRIPT: [XSS_IMG, "ok"], XSS_IMG: [XSS_SCRIPT, "fine"]})
    dataset = dataset_row(workspace=workspace, user=analyst, name=XSS_SCRIPT, table=table)
    Upload.objects.filter(dataset=dataset).update(original_name=f"{XSS_IMG}.csv")
    review = upload_needs_mapping(workspace=workspace, user=analyst, columns=(XSS_SCRIPT, XSS_IMG))
    _login(client, analyst)
    pages = [
        client.get(_url("detail", workspace, dataset.pk)),
        client.get(_url("detail", workspace, dataset.pk), {"sort": XSS_IMG, "q": XSS_SCRIPT}),
        client.get(_url("schema", workspace, dataset.pk)),
        client.get(_url("versions", workspace, dataset.pk)),
        client.get(_url("list", workspace)),
        client.get(_url("uploads", workspace), {"q": XSS_IMG}),
        client.get(_url("upload_mapping", workspace, review.pk)),
    ]
    bodies = [p.content.decode() for p in pages]
    assert [p.status_code for p in pages] == [200] * len(pages)
    assert all(XSS_SCRIPT not in body and "<img src=x" not in body for body in bodies)
    assert all("&lt;script&gt;alert(1)&lt;/script&gt;" in body for body in bodies[:3])
    assert "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in bodies[0]


# --- upload history ------------------------------------------------------------------------------


def test_upload_history_search_stays_in_the_workspace(client, workspace, other_workspace, viewer):
    upload_row(workspace=workspace, name="report-march.csv")
    upload_row(workspace=workspace, name="leads.csv")
    upload_row(workspace=other_workspace, name="report-globex.csv")
    _login(client, viewer)
    response = client.get(_url("uploads", workspace), {"q": "report"})
    names = [u.original_name for u in response.context["uploads"]]
    assert names == ["report-march.csv"]
    assert "globex" not in response.content.decode().lower()


def test_upload_history_search_is_literal(client, workspace, viewer):
    upload_row(workspace=workspace, name="100%_final.csv")
    upload_row(workspace=workspace, name="other.csv")
    _login(client, viewer)
    percent = [u.original_name for u in client.get(_url("uploads", workspace), {"q": "%"}).context["uploads"]]
    underscore = [u.original_name for u in client.get(_url("uploads", workspace), {"q": "_"}).context["uploads"]]
    injection = client.get(_url("uploads", workspace), {"q": "' OR '1'='1"}).context["uploads"]
    assert percent == underscore == ["100%_final.csv"]
    assert list(injection) == []


def test_upload_history_pages_and_keeps_its_query_count(client, workspace, analyst, django_assert_max_num_queries):
    for n in range(30):
        upload_row(workspace=workspace, user=analyst, name=f"file-{n:02d}.csv")
    _login(client, analyst)
    with django_assert_max_num_queries(12):
        first = client.get(_url("uploads", workspace))
    second = client.get(_url("uploads", workspace), {"page": "2"})
    assert len(first.context["uploads"]) == views.UPLOADS_PER_PAGE
    assert len(second.context["uploads"]) == 30 - views.UPLOADS_PER_PAGE
    assert "Page 2 of 2" in second.content.decode()


def test_sidebar_links_to_datasets_and_uploads_for_every_member(member_client, member):
    page = member_client.get(reverse("workspaces:detail", args=[member.workspace.slug])).content.decode()
    assert f'href="{_url("list", member.workspace)}"' in page
    assert f'href="{_url("uploads", member.workspace)}"' in page


def test_pages_of_another_workspace_are_404(client, workspace, other_workspace, owner):
    foreign = dataset_row(workspace=other_workspace, name="Globex data")
    foreign_upload = Upload.objects.get(dataset=foreign)
    _login(client, owner)
    responses = [
        client.get(_url("detail", workspace, foreign.pk)),
        client.get(_url("download_original", workspace, foreign.pk)),
        client.get(_url("upload_detail", workspace, foreign_upload.pk)),
        client.get(_url("upload_progress", workspace, foreign_upload.pk)),
        client.get(f"{_url('receipt', workspace, foreign.pk)}"),
    ]
    assert [r.status_code for r in responses] == [404] * len(responses)
