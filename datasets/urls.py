"""Mounted at /w/<slug:workspace_slug>/datasets/ (config/urls.py)."""

from django.urls import path

from datasets import views

app_name = "datasets"
urlpatterns = [
    path("", views.dataset_list, name="list"),
    path("upload/", views.upload_page, name="upload"),
    # The chunked upload protocol (static/js/upload.js): start → PUT chunks → finish.
    path("uploads/", views.upload_history, name="uploads"),
    path("uploads/start/", views.upload_start, name="upload_start"),
    path("uploads/<int:upload_id>/", views.upload_detail, name="upload_detail"),
    path("uploads/<int:upload_id>/chunk/", views.upload_chunk, name="upload_chunk"),
    path("uploads/<int:upload_id>/finish/", views.upload_finish, name="upload_finish"),
    path("uploads/<int:upload_id>/progress.json", views.upload_progress, name="upload_progress"),
    path("uploads/<int:upload_id>/mapping/", views.upload_mapping, name="upload_mapping"),
    path("uploads/<int:upload_id>/resniff/", views.upload_resniff, name="upload_resniff"),
    path("uploads/<int:upload_id>/retry/", views.upload_retry, name="upload_retry"),
    path("uploads/<int:upload_id>/cancel/", views.upload_cancel, name="upload_cancel"),
    path("<int:dataset_id>/", views.dataset_detail, name="detail"),
    path("<int:dataset_id>/schema/", views.dataset_schema, name="schema"),
    path("<int:dataset_id>/receipt/", views.dataset_receipt, name="receipt"),
    path("<int:dataset_id>/versions/", views.dataset_versions, name="versions"),
    path("<int:dataset_id>/download/", views.dataset_download_original, name="download_original"),
    path("<int:dataset_id>/rejected.csv", views.dataset_download_rejected, name="download_rejected"),
    path("<int:dataset_id>/receipt.json", views.dataset_download_receipt, name="download_receipt"),
    path("<int:dataset_id>/rename/", views.dataset_rename, name="rename"),
    path("<int:dataset_id>/delete/", views.dataset_delete, name="delete"),
    path("<int:dataset_id>/remap/", views.dataset_remap, name="remap"),
    path(
        "<int:dataset_id>/versions/<int:version_id>/restore/",
        views.dataset_version_restore,
        name="version_restore",
    ),
    path(
        "<int:dataset_id>/versions/<int:version_id>/delete/",
        views.dataset_version_delete,
        name="version_delete",
    ),
]
